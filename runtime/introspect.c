/* Live task introspection: being written. */
#include "internal.h"

void urio__introspect_rt_add(urio_rt *rt)
{
	(void)rt;
}

void urio__introspect_rt_del(urio_rt *rt)
{
	(void)rt;
}
