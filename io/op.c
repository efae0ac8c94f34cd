/* The op table (names for reports and urio-ps) and the submit-and-suspend
 * path every I/O call shares. */
#include <errno.h>
#include <unistd.h>
#include <urio/scope.h>

#include "fault.h"
#include "op.h"
#include "../runtime/probes.h"

static const char *const names[IORING_OP_LAST] = {
	[IORING_OP_NOP] = "nop",
	[IORING_OP_READV] = "readv",
	[IORING_OP_WRITEV] = "writev",
	[IORING_OP_FSYNC] = "fsync",
	[IORING_OP_POLL_ADD] = "poll",
	[IORING_OP_SENDMSG] = "sendmsg",
	[IORING_OP_RECVMSG] = "recvmsg",
	[IORING_OP_TIMEOUT] = "timeout",
	[IORING_OP_ACCEPT] = "accept",
	[IORING_OP_ASYNC_CANCEL] = "cancel",
	[IORING_OP_CONNECT] = "connect",
	[IORING_OP_OPENAT] = "open",
	[IORING_OP_CLOSE] = "close",
	[IORING_OP_STATX] = "statx",
	[IORING_OP_READ] = "read",
	[IORING_OP_WRITE] = "write",
	[IORING_OP_SEND] = "send",
	[IORING_OP_RECV] = "recv",
	[IORING_OP_SPLICE] = "splice",
	[IORING_OP_MSG_RING] = "msg_ring",
	[IORING_OP_SOCKET] = "socket",
	[IORING_OP_RENAMEAT] = "rename",
	[IORING_OP_UNLINKAT] = "unlink",
	[IORING_OP_SEND_ZC] = "send_zc",
};

const char *urio__op_name(int opcode)
{
	if (opcode < 0 || opcode >= IORING_OP_LAST || !names[opcode])
		return "op";
	return names[opcode];
}

static bool is_rw(int op)
{
	return op == IORING_OP_READ || op == IORING_OP_WRITE ||
	       op == IORING_OP_RECV || op == IORING_OP_SEND;
}

struct io_uring_sqe *urio__op_start(struct urio__wait *w, int opcode, int fd,
				    int32_t *err)
{
	w->what = urio__op_name(opcode);
	w->fd = fd;
	int r = urio__wait_begin(w, URIO__WAIT_IO);
	if (r < 0) {
		*err = r;
		return NULL;
	}
	return urio__sqe(w->owner);
}

int32_t urio__op_finish(struct urio__wait *w, struct io_uring_sqe *sqe)
{
	if (sqe->len > 1 && is_rw(sqe->opcode) &&
	    urio__fault(URIO__FAULT_SHORT_IO))
		sqe->len /= 2; /* a short transfer, as the kernel may make */
	io_uring_sqe_set_data(sqe, w);
	URIO_PROBE3(op_submit, w->owner->index, sqe->opcode, w->fd);
	w->owner->inflight++;
	return urio__wait_end(w, NULL, NULL);
}

int urio__fd_result(int r)
{
	if (r >= 0 && urio_cancelled()) {
		close(r);
		return -ECANCELED;
	}
	return r;
}
