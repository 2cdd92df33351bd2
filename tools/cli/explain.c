/* xcnn explain: placeholder until the explainers land. */
#include "cli.h"
int cli_explain(int argc, char **argv)
{
    (void)argc; (void)argv;
    return cli_error("explain: not implemented yet");
}
