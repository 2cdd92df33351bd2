/* STUB: xcnn visualize (to be written). */
#include "cli.h"
int cli_visualize(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_error("visualize: not written yet");
}
