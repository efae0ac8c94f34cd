/* The iterator protocol's entry points and adapters (<urio/iter.h>). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <urio/gen.h>
#include <urio/iter.h>

int urio_iter_next(urio_iter *it, void **item)
{
	if (!it || !item)
		return -EINVAL;
	return it->ops->next(it, item);
}

void urio_iter_close(urio_iter *it)
{
	if (it)
		it->ops->close(it);
}
