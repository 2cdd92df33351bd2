/* printf("%.9g", (double)value) for a float, with no heap and no float
 * printf (fmt.c). out needs FMT_G9_MAX bytes; returns the length. */
#ifndef MCU_FMT_H
#define MCU_FMT_H

#define FMT_G9_MAX 20

int fmt_g9(char *out, float value);

#endif
