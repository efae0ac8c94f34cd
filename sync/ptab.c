/* Pointer-keyed table: open addressing, linear probing, deletion by
 * backward shift (no tombstones, so a table that churns stays short), half
 * full at most. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"
#include "ptab.h"

#define MIN_CAP 16

static const void *key_of(const void *rec)
{
	return *(void *const *)rec;
}

static size_t home(const struct urio__ptab *t, const void *key)
{
	uint64_t h = (uint64_t)(uintptr_t)key * 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> 17) & (t->cap - 1);
}

/* The slot holding key, or the empty slot where it would go. */
static size_t find(const struct urio__ptab *t, const void *key)
{
	size_t i = home(t, key);
	while (t->slot[i] && key_of(t->slot[i]) != key)
		i = (i + 1) & (t->cap - 1);
	return i;
}

int urio__ptab_init(struct urio__ptab *t)
{
	t->slot = urio__calloc(MIN_CAP, sizeof(*t->slot));
	t->cap = MIN_CAP;
	t->len = 0;
	return t->slot ? 0 : -ENOMEM;
}

void urio__ptab_fini(struct urio__ptab *t)
{
	free(t->slot);
	t->slot = NULL;
}

void *urio__ptab_get(const struct urio__ptab *t, const void *key)
{
	return t->slot[find(t, key)];
}

static int grow(struct urio__ptab *t)
{
	struct urio__ptab n = {urio__calloc(t->cap * 2, sizeof(void *)),
			       t->cap * 2, t->len};
	if (!n.slot)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++)
		if (t->slot[i])
			n.slot[find(&n, key_of(t->slot[i]))] = t->slot[i];
	free(t->slot);
	*t = n;
	return 0;
}

int urio__ptab_add(struct urio__ptab *t, void *rec)
{
	if ((t->len + 1) * 2 > t->cap && grow(t) < 0)
		return -ENOMEM;
	t->slot[find(t, key_of(rec))] = rec;
	t->len++;
	return 0;
}

void urio__ptab_del(struct urio__ptab *t, const void *key)
{
	size_t mask = t->cap - 1, i = find(t, key);
	t->slot[i] = NULL;
	t->len--;
	/* pull back the records after the hole that probed past it */
	for (size_t j = (i + 1) & mask; t->slot[j]; j = (j + 1) & mask) {
		size_t h = home(t, key_of(t->slot[j]));
		if (((j - h) & mask) >= ((j - i) & mask)) {
			t->slot[i] = t->slot[j];
			t->slot[j] = NULL;
			i = j;
		}
	}
}
