/* ARM semihosting (the debugger's, here QEMU's, services through `bkpt
 * 0xab`): console output and exit. Run with `qemu-system-arm -semihosting`. */
#ifndef MCU_SEMIHOST_H
#define MCU_SEMIHOST_H

/* Print a NUL-terminated string on the host's console. */
void sh_write0(const char *s);
/* End the emulation: status 0 exits QEMU with 0, anything else with 1
 * (32-bit semihosting has no exit code: the reason says success or not). */
void sh_exit(int status) __attribute__((noreturn));

#endif
