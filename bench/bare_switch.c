/* urio's context switch alone, without the scheduler: two contexts running
 * the same loop hand control back and forth, so every switch leaves from
 * and lands at one call site, as suspensions in urio do (all go through
 * urio__suspend). Set against the urio_yield row it shows what the run
 * queue adds. */
#include <stdlib.h>

#include "bare_switch.h"
#include "fiber.h"

enum { SIZE = 64 << 10 };

static void *main_sp, *sp[2];
static char *stacks[2];
static unsigned left; /* one-way switches still to make in this round */

static void player(urio_task *self)
{
	unsigned me = (unsigned)(uintptr_t)self;
	for (;;) {
		while (left) {
			left--;
			urio__ctx_switch(&sp[me], sp[!me]);
		}
		urio__ctx_switch(&sp[me], main_sp);
	}
}

int bare_switch_start(void)
{
	for (unsigned i = 0; i < 2; i++) {
		stacks[i] = malloc(SIZE);
		if (!stacks[i]) {
			bare_switch_stop();
			return -1;
		}
		sp[i] = urio__ctx_init(stacks[i] + SIZE, player,
				       (urio_task *)(uintptr_t)i);
	}
	return 0;
}

void bare_switch_rounds(unsigned n)
{
	left = n;
	urio__ctx_switch(&main_sp, sp[0]);
}

/* Both contexts are parked in player for good: their stacks are freed. */
void bare_switch_stop(void)
{
	for (unsigned i = 0; i < 2; i++) {
		free(stacks[i]);
		stacks[i] = NULL;
	}
}
