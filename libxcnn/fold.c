/* placeholder: replaced by the folder */
#include "fold.h"
xcnn_status xcnn_fold_node(xcnn_graph *g, xcnn_node *n, int *folded, xcnn_err *err)
{
    (void)g; (void)n; (void)err; *folded = 0;
    return XCNN_OK;
}
