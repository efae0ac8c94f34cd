/* urio's context switch alone, without the scheduler. Two contexts hand
 * control back and forth through one function, hand_off(), as tasks do
 * through urio_yield. Either both run the same loop, so every switch
 * returns to the call site the CPU's return stack predicts (as when tasks
 * suspend at one place in the code), or each runs a loop of its own, so
 * the return from hand_off() lands in the other loop and is mispredicted
 * on every switch (as in the urio_yield ping-pong, whose two tasks are two
 * functions). Set against the urio_yield row they split its time into the
 * switch, that misprediction and the run queue. */
#include <stdbool.h>
#include <stdlib.h>

#include "bare_switch.h"
#include "fiber.h"

enum { SIZE = 64 << 10 };

static void *main_sp, *sp[2];
static char *stacks[2];
static unsigned left; /* one-way switches still to make in this round */
static unsigned turn; /* the context running now */

static __attribute__((noinline)) void hand_off(void)
{
	unsigned me = turn;
	turn = !me;
	urio__ctx_switch(&sp[me], sp[!me]);
}

static void back_to_main(void)
{
	urio__ctx_switch(&sp[turn], main_sp);
}

static void player(urio_task *unused)
{
	(void)unused;
	for (;;) {
		while (left) {
			left--;
			hand_off();
		}
		back_to_main();
	}
}

/* player's loop again, as a function of its own */
static void other_player(urio_task *unused)
{
	(void)unused;
	for (;;) {
		while (left) {
			left--;
			hand_off();
			__asm__ volatile("" ::: "memory"); /* not merged with player */
		}
		back_to_main();
	}
}

int bare_switch_start(bool two_sites)
{
	for (unsigned i = 0; i < 2; i++) {
		stacks[i] = malloc(SIZE);
		if (!stacks[i]) {
			bare_switch_stop();
			return -1;
		}
		sp[i] = urio__ctx_init(stacks[i] + SIZE,
				       i && two_sites ? other_player : player,
				       NULL);
	}
	turn = 0;
	return 0;
}

void bare_switch_rounds(unsigned n)
{
	left = n;
	urio__ctx_switch(&main_sp, sp[turn]);
}

/* Both contexts are parked for good: their stacks are freed. */
void bare_switch_stop(void)
{
	for (unsigned i = 0; i < 2; i++) {
		free(stacks[i]);
		stacks[i] = NULL;
	}
}
