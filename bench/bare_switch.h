#ifndef URIO_BENCH_BARE_SWITCH_H
#define URIO_BENCH_BARE_SWITCH_H
#ifdef __cplusplus
extern "C" {
#endif
#include <stdbool.h>
/* two_sites: each context runs a loop of its own (see bare_switch.c).
 * 0, or -1 without memory. */
int bare_switch_start(bool two_sites);
/* n one-way switches between the two contexts, then back to the caller */
void bare_switch_rounds(unsigned n);
void bare_switch_stop(void);
#ifdef __cplusplus
}
#endif
#endif
