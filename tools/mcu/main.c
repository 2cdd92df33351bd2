/*
 * libxcnn on a Cortex-M4: classify the image linked into flash, explain
 * the class with Grad-CAM, and say how much RAM that took. Prints
 *   class=<k>
 *   logits=<v0,v1,...>      every output, %.9g
 *   cam=<...>               Grad-CAM at the model's default layer (h*w)
 *   ram_bytes=<n>           .data + .bss (the model's static buffer
 *                           included) + heap used (none when MCU_STATIC)
 *                           + the stack's high-water mark
 * and ends the emulation (semihosting SYS_EXIT): 0 on success.
 * MCU_EXPLAIN=0 builds inference only (no cam line, no explainers linked).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "../../include/xcnn.h"
#include "fmt.h"
#include "semihost.h"
#include "mcu_input.h" /* MCU_INPUT_NUMEL, MCU_OUTPUTS, MCU_CAM_NUMEL (mcu_prep) */

#ifndef MCU_EXPLAIN
#define MCU_EXPLAIN 1
#endif

extern const unsigned char mcu_model[], mcu_model_end[];
extern const unsigned char mcu_image[], mcu_image_end[];
extern char __data_start[], __data_end[], __bss_start[], __bss_end[], __heap_start[];
char *mcu_heap_top(void);
uint32_t mcu_stack_peak(void);
int mcu_stack_overflowed(void);

/* MCU_STATIC (mcu.mk's default): an .xcnn image loaded into one static
 * buffer, its weights read in place from flash, no heap. Else an ONNX
 * file loaded with malloc (the heap in link.ld). */
#ifndef MCU_STATIC
#define MCU_STATIC 1
#endif
#if MCU_STATIC
static unsigned char buffer[MCU_BUFFER_BYTES] __attribute__((aligned(64)));
#endif

static float logits[MCU_OUTPUTS];
#if MCU_EXPLAIN
static float cam[MCU_CAM_NUMEL];
#endif

static int fail(const char *what, const char *msg)
{
    sh_write0("error: ");
    sh_write0(what);
    sh_write0(": ");
    sh_write0(msg);
    sh_write0("\n");
    return 1;
}

/* "name=v0,v1,...\n", one value at a time (no line buffer). */
static void print_floats(const char *name, const float *v, size_t n)
{
    char num[FMT_G9_MAX + 2];
    sh_write0(name);
    sh_write0("=");
    for (size_t i = 0; i < n; i++) {
        int k = fmt_g9(num, v[i]);
        num[k] = i + 1 < n ? ',' : '\n';
        num[k + 1] = 0;
        sh_write0(num);
    }
}

static void print_uint(const char *name, unsigned long v)
{
    char line[48];
    snprintf(line, sizeof line, "%s=%lu\n", name, v);
    sh_write0(line);
}

int main(void)
{
    char err[256];
    if ((size_t)(mcu_image_end - mcu_image) != MCU_INPUT_NUMEL * sizeof(float))
        return fail("image", "not the size mcu_prep wrote");
    const float *input = (const float *)(const void *)mcu_image;

    xcnn_load_options lo;
    memset(&lo, 0, sizeof lo);
    lo.inference_only = !MCU_EXPLAIN;
    /* Gradients only from the default CAM layer on: what Grad-CAM needs. */
    if (MCU_EXPLAIN) lo.explain_layer = "";
    xcnn_model *m;
    size_t model_size = (size_t)(mcu_model_end - mcu_model);
#if MCU_STATIC
#ifdef MCU_CHECK_ERRORS
    /* A refusal whose message carries sizes (%zu), as newlib-nano's printf
     * could not print them: the library formats its own (base/format.c).
     * make mcu-run MCU_DEFS=-DMCU_CHECK_ERRORS MCU_DIR=build/mcu-check */
    if (xcnn_model_load_static(mcu_model, model_size, &lo, buffer, 1000, &m, err, sizeof err))
        sh_write0("refusal="), sh_write0(err), sh_write0("\n");
#endif
    if (xcnn_model_load_static(mcu_model, model_size, &lo, buffer, sizeof buffer, &m, err,
                               sizeof err))
        return fail("load", err);
#else
    if (xcnn_model_load_memory(mcu_model, model_size, &lo, &m, err, sizeof err))
        return fail("load", err);
#endif

    if (xcnn_forward(m, input, 1, logits)) return fail("forward", xcnn_model_error(m));
    int best = 0;
    for (int k = 1; k < MCU_OUTPUTS; k++)
        if (logits[k] > logits[best]) best = k;
    print_uint("class", (unsigned long)best);
    print_floats("logits", logits, MCU_OUTPUTS);

#if MCU_EXPLAIN
    xcnn_explain_options eo;
    xcnn_explain_options_init(&eo, XCNN_GRADCAM);
    eo.target = best;
    xcnn_explain_result r;
    if (xcnn_explain(m, input, &eo, cam, MCU_CAM_NUMEL, &r))
        return fail("grad-cam", xcnn_model_error(m));
    size_t n = 1;
    for (int i = 0; i < r.ndim; i++) n *= (size_t)r.dims[i];
    print_floats("cam", cam, n);
#endif

    if (mcu_stack_overflowed()) return fail("stack", "ran past its reserve (MCU_STACK_SIZE)");
    size_t ram = (size_t)(__data_end - __data_start) + (size_t)(__bss_end - __bss_start) +
                 (size_t)(mcu_heap_top() - __heap_start) + mcu_stack_peak();
#ifdef MCU_VERBOSE /* the parts of ram_bytes */
    print_uint("data_bss_bytes", (unsigned long)((size_t)(__data_end - __data_start) +
                                                 (size_t)(__bss_end - __bss_start)));
    print_uint("heap_bytes", (unsigned long)(mcu_heap_top() - __heap_start));
    print_uint("stack_bytes", (unsigned long)mcu_stack_peak());
#endif
    print_uint("ram_bytes", (unsigned long)ram);
    return 0;
}
