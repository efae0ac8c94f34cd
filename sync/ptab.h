/* A table of records keyed by pointer (sync/ptab.c). Internal.
 *
 * A record's first member is its key, a void *: the pool's resource
 * records are found by the resource a caller hands back. Not locked. */
#ifndef URIO_SYNC_PTAB_H
#define URIO_SYNC_PTAB_H

#include <stddef.h>

struct urio__ptab {
	void **slot; /* records, or NULL */
	size_t cap, len;
};

/* 0 or -ENOMEM. */
int urio__ptab_init(struct urio__ptab *t);
void urio__ptab_fini(struct urio__ptab *t);
/* The record keyed key, or NULL. */
void *urio__ptab_get(const struct urio__ptab *t, const void *key);
/* Adds rec (its key not yet present): 0 or -ENOMEM. */
int urio__ptab_add(struct urio__ptab *t, void *rec);
/* Removes the record keyed key, which is present. */
void urio__ptab_del(struct urio__ptab *t, const void *key);

#endif
