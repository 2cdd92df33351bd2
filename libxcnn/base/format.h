/*
 * Text formatting for the library's messages and the few text fields of
 * the files it writes (.npy headers, node names): snprintf, and on small
 * cores a printf of our own.
 *
 * Why: newlib, the C library of most microcontroller toolchains, has no
 * %zu, and newlib-nano (the small one) no %lld either. There an unknown
 * conversion is printed as text and its argument is not taken, so every
 * argument after it is read as the wrong type: a message with %lld before
 * a %s can crash on a bad input, the very case messages are for. With
 * -DXCNN_OWN_FORMAT (the Cortex-M4 build) xcnn_vformat below formats
 * everything the library uses itself: flags - 0 + space #, width,
 * precision (numbers or *), the length modifiers hh h l ll z j t, and
 * d i u x X o c s p % f e g E G. Integers and strings come out as C's
 * printf gives them (tests/test_format.c compares); floating point to the
 * precision asked, the last digit possibly rounded differently (messages
 * only: no file the library writes holds a formatted float). Without it,
 * xcnn_vformat is vsnprintf.
 */
#ifndef XCNN_BASE_FORMAT_H
#define XCNN_BASE_FORMAT_H

#include <stdarg.h>
#include <stddef.h>

#if defined(__GNUC__)
#define XCNN_PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define XCNN_PRINTF_LIKE(f, a)
#endif

/* As vsnprintf / snprintf: at most size bytes with the NUL, the length the
 * whole text would have. */
int xcnn_vformat(char *dst, size_t size, const char *fmt, va_list ap);
int xcnn_format(char *dst, size_t size, const char *fmt, ...) XCNN_PRINTF_LIKE(3, 4);

/* The formatter of our own, whatever the build (its test compares it with
 * the C library's on the host). */
int xcnn_vformat_own(char *dst, size_t size, const char *fmt, va_list ap);

#endif
