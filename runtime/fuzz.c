/* Schedule fuzzing: with URIO_FUZZ_SEED=n in the environment, every
 * runtime of the process takes seeded random decisions where the
 * scheduler has a free choice: steal victims, the LIFO slot or the queue
 * for a wake, the local or the global queue for a push, the slot or the
 * queue for the next task, a direct switch or a scheduler pass, and a
 * yield after a task resumes from a wait. Each worker draws from its own
 * generator, seeded from n and its index, so one seed makes the same
 * decisions per worker on every run; threads still interleave as the OS
 * runs them, so a seed replays the decisions, not the timing. Off (no
 * seed), each hook costs one predictable branch on a worker field. */
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

void urio__fuzz_init(urio_rt *rt)
{
	const char *e = getenv("URIO_FUZZ_SEED");
	if (!e || !*e)
		return;
	uint64_t seed = strtoull(e, NULL, 0);
	static _Atomic bool said;
	if (!atomic_exchange(&said, true))
		fprintf(stderr, "urio: schedule fuzzing, URIO_FUZZ_SEED=%llu\n",
			(unsigned long long)seed);
	for (unsigned i = 0; i < rt->nworkers; i++) {
		struct urio__worker *w = &rt->workers[i];
		uint64_t x = seed * 0x100000001b3u + i;
		w->fuzz = true;
		w->fuzz_rng = splitmix(&x) | 1;
		w->rng = (uint32_t)splitmix(&x); /* the steal victims */
	}
}

/* xorshift64*: cheap, and per worker, so no decision is shared. */
static uint32_t next(struct urio__worker *w)
{
	uint64_t x = w->fuzz_rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	w->fuzz_rng = x;
	return (uint32_t)((x * 0x2545f4914f6cdd1du) >> 32);
}

bool urio__fuzz_coin(struct urio__worker *w, unsigned one_in)
{
	return next(w) % one_in == 0;
}

void urio__fuzz_after_wait(void)
{
	struct urio__worker *w = urio__cur_worker();
	if (w && urio__fuzz_coin(w, 4))
		urio_yield();
}
