/* urio's context switch alone, without the scheduler: two contexts handing
 * control back and forth, the same pattern as the boost.context row. Set
 * against the urio_yield row it shows what the run queue adds. */
#include <stdlib.h>

#include "bare_switch.h"
#include "fiber.h"

static void *main_sp, *co_sp;
static char *stack;

static void bounce(urio_task *unused)
{
	(void)unused;
	for (;;)
		urio__ctx_switch(&co_sp, main_sp);
}

int bare_switch_start(void)
{
	enum { SIZE = 64 << 10 };
	stack = malloc(SIZE);
	if (!stack)
		return -1;
	co_sp = urio__ctx_init(stack + SIZE, bounce, NULL);
	return 0;
}

void bare_switch_round(void)
{
	urio__ctx_switch(&main_sp, co_sp);
}

/* The context is parked in bounce for good: its stack is just freed. */
void bare_switch_stop(void)
{
	free(stack);
	stack = NULL;
}
