/* The backend for when io_uring is missing: seccomp in containers,
 * kernel.io_uring_disabled, kernels before 5.1 (DESIGN.md). Sibling of
 * ring.c behind the urio__io_* interface (internal.h), picked per runtime
 * at start.
 *
 * A task that needs an fd to become ready parks in its worker's poll list;
 * the worker poll(2)s the whole list plus its wake eventfd when it runs out
 * of work (and, while busy, every URIO__POLL_EVERY ticks without blocking).
 * poll(2) rather than epoll: two tasks may wait on the same fd, and the
 * list is only as long as the tasks waiting on this worker. The I/O calls
 * wait for readiness this way and then make the plain syscall, so sockets
 * and pipes never block a worker; regular files are always "ready" and are
 * read inline, as the page cache usually makes them cheap. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static int grow(struct urio__worker *w)
{
	size_t cap = w->poll_cap ? w->poll_cap * 2 : 64;
	struct pollfd *fds = urio__realloc(w->pollfds, (cap + 1) * sizeof(*fds));
	if (!fds)
		return -ENOMEM;
	w->pollfds = fds;
	struct urio__wait **v = urio__realloc(w->pollv, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	w->pollv = v;
	w->poll_cap = cap;
	return 0;
}

int urio__pb_init(struct urio__worker *w)
{
	w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->efd < 0)
		return -errno;
	return grow(w);
}

void urio__pb_fini(struct urio__worker *w)
{
	free(w->pollfds);
	free(w->pollv);
	w->pollfds = NULL;
	w->pollv = NULL;
}

int urio__pb_add(struct urio__worker *w, struct urio__wait *op)
{
	if (w->npoll == w->poll_cap && grow(w) < 0)
		return -ENOMEM;
	op->heap_idx = w->npoll;
	w->pollv[w->npoll++] = op;
	return 0;
}

static void del(struct urio__worker *w, struct urio__wait *op)
{
	size_t i = op->heap_idx;
	struct urio__wait *last = w->pollv[--w->npoll];
	w->pollv[i] = last;
	last->heap_idx = i;
	op->heap_idx = SIZE_MAX;
}

/* One poll(2) over the wake eventfd and every waiting op. */
static void poll_once(struct urio__worker *w, int timeout_ms)
{
	w->pollfds[0] = (struct pollfd){.fd = w->efd, .events = POLLIN};
	for (size_t i = 0; i < w->npoll; i++)
		w->pollfds[i + 1] = (struct pollfd){
			.fd = w->pollv[i]->fd, .events = w->pollv[i]->events};
	URIO__STAT(w, submits, 1);
	int n = poll(w->pollfds, w->npoll + 1, timeout_ms);
	if (n <= 0)
		return; /* timeout, EINTR: the caller loops */
	if (w->pollfds[0].revents) {
		uint64_t v;
		ssize_t r = read(w->efd, &v, sizeof(v));
		(void)r;
	}
	/* walk backwards: del() moves the last entry into the hole */
	for (size_t i = w->npoll; i-- > 0;) {
		short re = w->pollfds[i + 1].revents;
		if (!re)
			continue;
		struct urio__wait *op = w->pollv[i];
		del(w, op);
		op->res = re & POLLNVAL ? -EBADF : re;
		URIO__STAT(w, ops, 1);
		urio__ready(op->task, false);
	}
}

void urio__pb_poll(struct urio__worker *w, bool busy)
{
	if (w->npoll)
		poll_once(w, 0);
}

void urio__pb_wait(struct urio__worker *w)
{
	uint64_t next = urio__timers_run(w);
	if (next == 0)
		return;
	/* round up so a sleep never ends early */
	int ms = next == UINT64_MAX ? -1
		 : next >= (uint64_t)INT32_MAX * 1000000 ? INT32_MAX
						       : (int)((next + 999999) / 1000000);
	poll_once(w, ms);
}

void urio__pb_cancel(struct urio__worker *w, struct urio__wait *op)
{
	if (op->heap_idx == SIZE_MAX)
		return; /* already readied */
	del(w, op);
	op->res = -ECANCELED;
	urio__ready(op->task, false);
}
