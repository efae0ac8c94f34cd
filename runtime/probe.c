/* Kernel feature probe, once per process: which ring flags and ops the
 * running kernel has (Debian's liburing 2.3 headers know fewer than a 6.x
 * kernel, and older kernels fewer than the headers). Kept in one struct
 * that urio_print_features and urio-ps show. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "op.h"

struct urio__features urio__feat;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static int ring_with(struct io_uring *r, unsigned flags)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	p.flags = flags;
	return io_uring_queue_init_params(8, r, &p);
}

/* Does a MSG_RING from one of our rings reach another made with flags? */
static bool msg_ring_works(unsigned flags)
{
	struct io_uring a, b;
	bool ok = false;
	if (ring_with(&a, 0) < 0)
		return false;
	if (ring_with(&b, flags) < 0) {
		io_uring_queue_exit(&a);
		return false;
	}
	struct io_uring_sqe *sqe = io_uring_get_sqe(&a);
	io_uring_prep_msg_ring(sqe, b.ring_fd, 0, 0x55, 0);
	io_uring_submit(&a);
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = {.tv_sec = 1};
	if (io_uring_wait_cqe_timeout(&a, &cqe, &ts) == 0) {
		ok = cqe->res == 0;
		io_uring_cqe_seen(&a, cqe);
	}
	if (ok) {
		ok = io_uring_wait_cqe_timeout(&b, &cqe, &ts) == 0 &&
		     cqe->user_data == 0x55;
		if (ok)
			io_uring_cqe_seen(&b, cqe);
	}
	io_uring_queue_exit(&b);
	io_uring_queue_exit(&a);
	return ok;
}

/* URIO_DISABLE_OPS=open,close,... (urio-ps names) masks ops the way a
 * kernel without them would, so the fallbacks run (and are tested) on a
 * kernel that has every op. */
static void mask_ops(void)
{
	const char *env = getenv("URIO_DISABLE_OPS");
	for (int op = 0; env && op < IORING_OP_LAST; op++) {
		const char *name = urio__op_name(op);
		size_t n = strlen(name);
		for (const char *p = env; (p = strstr(p, name)); p += n)
			if ((p == env || p[-1] == ',') && (!p[n] || p[n] == ','))
				urio__feat.op[op] = false;
	}
}

static void probe(void)
{
	struct io_uring ring;
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	if (io_uring_queue_init_params(8, &ring, &p) < 0)
		return;
	urio__feat.features = p.features;
	struct io_uring_probe *pr = io_uring_get_probe_ring(&ring);
	if (pr) {
		for (int op = 0; op < IORING_OP_LAST && op <= pr->last_op;
		     op++)
			urio__feat.op[op] = io_uring_opcode_supported(pr, op);
		io_uring_free_probe(pr);
	}
	mask_ops();
	io_uring_queue_exit(&ring);
	unsigned defer = IORING_SETUP_SINGLE_ISSUER |
			 IORING_SETUP_DEFER_TASKRUN;
	struct io_uring t;
	if (ring_with(&t, defer) == 0) {
		urio__feat.ring_flags = defer;
		io_uring_queue_exit(&t);
	}
	urio__feat.msg_ring = urio__feat.op[IORING_OP_MSG_RING] &&
			      msg_ring_works(urio__feat.ring_flags);
	urio__feat.probed = true;
}

void urio__probe(void)
{
	pthread_once(&once, probe);
}

bool urio__op_supported(int op)
{
	urio__probe();
	return op >= 0 && op < IORING_OP_LAST && urio__feat.op[op];
}

void urio_print_features(FILE *out)
{
	urio__probe();
	if (!urio__feat.probed) {
		fprintf(out, "io_uring: unavailable\n");
		return;
	}
	fprintf(out, "io_uring features: 0x%x%s%s\n", urio__feat.features,
		urio__feat.features & IORING_FEAT_NODROP ? " NODROP" : "",
		urio__feat.features & IORING_FEAT_EXT_ARG ? " EXT_ARG" : "");
	fprintf(out, "ring flags: %s\n",
		urio__feat.ring_flags ? "SINGLE_ISSUER|DEFER_TASKRUN"
				      : "COOP_TASKRUN or plain");
	fprintf(out, "cross-worker wake: %s\n",
		urio__feat.msg_ring ? "MSG_RING" : "eventfd");
	fprintf(out, "stack guards: %s\n",
		urio__stack_guard_madvise() ? "MADV_GUARD_INSTALL"
					    : "mprotect (or not yet probed)");
	int n = 0;
	for (int op = 0; op < IORING_OP_LAST; op++)
		n += urio__feat.op[op];
	fprintf(out, "ops supported: %d of %d known to liburing headers\n", n,
		IORING_OP_LAST);
}
