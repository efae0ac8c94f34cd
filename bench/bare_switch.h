#ifndef URIO_BENCH_BARE_SWITCH_H
#define URIO_BENCH_BARE_SWITCH_H
#ifdef __cplusplus
extern "C" {
#endif
int bare_switch_start(void);  /* 0, or -1 without memory */
void bare_switch_round(void); /* there and back: two one-way switches */
void bare_switch_stop(void);
#ifdef __cplusplus
}
#endif
#endif
