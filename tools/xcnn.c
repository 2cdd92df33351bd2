/* placeholder CLI */
#include <stdio.h>
int main(void) { fprintf(stderr, "xcnn: not built yet\n"); return 1; }
