/*
 * Boot for a Cortex-M4 with no operating system: the vector table, and a
 * reset handler that turns the FPU on, lays out RAM as link.ld says
 * (.data copied from flash, .bss zeroed), paints the stack so main can
 * measure its high-water mark, and calls main. Faults print one line and
 * end the emulation with a failure.
 */
#include <stdint.h>
#include "semihost.h"

extern uint32_t __data_start[], __data_end[], __data_load[];
extern uint32_t __bss_start[], __bss_end[];
extern uint32_t __stack_limit[], __stack_top[];

int main(void);

#define STACK_PAINT 0xa5c3a5c3u

/* Bytes of the stack ever used: from the top down to the lowest word
 * that no longer holds the paint. */
uint32_t mcu_stack_peak(void)
{
    const uint32_t *p = __stack_limit;
    while (p < __stack_top && *p == STACK_PAINT) p++;
    return (uint32_t)((const char *)__stack_top - (const char *)p);
}

/* 1 if the lowest stack word was overwritten: the stack may have run
 * past its reserve into the heap or .bss. */
int mcu_stack_overflowed(void) { return __stack_limit[0] != STACK_PAINT; }

void Reset_Handler(void)
{
    /* CP10 and CP11 (the FPU) full access, before any float instruction. */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    for (uint32_t *s = __data_load, *d = __data_start; d < __data_end;) *d++ = *s++;
    for (uint32_t *d = __bss_start; d < __bss_end;) *d++ = 0;
    /* Paint from the stack's bottom to just below this frame. */
    uint32_t *sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    for (uint32_t *d = __stack_limit; d < sp - 16;) *d++ = STACK_PAINT;
    sh_exit(main());
}

static void fault(void)
{
    sh_write0("error: hard fault\n");
    sh_exit(1);
}

static void hang(void)
{
    sh_write0("error: unexpected exception\n");
    sh_exit(1);
}

/* The Cortex-M vector table: initial stack pointer, then the handlers. */
__attribute__((section(".isr_vector"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))__stack_top, Reset_Handler, hang, fault, fault, fault, fault,
    0, 0, 0, 0, hang, hang, 0, hang, hang,
};
