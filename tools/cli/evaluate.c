/* STUB: xcnn evaluate (to be written). */
#include "cli.h"
int cli_evaluate(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_error("evaluate: not written yet");
}
