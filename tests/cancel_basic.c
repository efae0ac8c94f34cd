/* urio_cancel on a task blocked in each kind of wait (pipe read, accept,
 * recv, sleep, poll, join), issued from a task on the same worker, from a
 * task that may run on another worker, and from a foreign thread. The op
 * returns -ECANCELED inside the task, join reports -ECANCELED, later
 * suspensions fail at once (level-triggered), and a cancel racing a
 * completion yields either the data or -ECANCELED, never both or neither. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>
#include <urio.h>

#include "test.h"

static int pipe_fds[2];
static int listen_fd, sock_pair[2];

static intptr_t blocked_op_then_more(intptr_t r)
{
	/* level-triggered: everything after the cancel fails at once */
	if (r != -ECANCELED)
		return r == 0 ? -EPROTO : r;
	if (urio_sleep_ms(1) != -ECANCELED || urio_nop() != -ECANCELED)
		return -EPROTO;
	return -ECANCELED;
}

static intptr_t in_read(void *a)
{
	char c;
	return blocked_op_then_more(urio_read(pipe_fds[0], &c, 1, -1));
}

static intptr_t in_accept(void *a)
{
	return blocked_op_then_more(urio_accept(listen_fd, NULL, NULL, 0));
}

static intptr_t in_recv(void *a)
{
	char c;
	return blocked_op_then_more(urio_recv(sock_pair[0], &c, 1, 0));
}

static intptr_t in_sleep(void *a)
{
	return blocked_op_then_more(urio_sleep_ms(60000));
}

static intptr_t in_poll(void *a)
{
	return blocked_op_then_more(urio_poll(pipe_fds[0], POLLIN));
}

static intptr_t in_join(void *a)
{
	urio_task *child = urio_spawn(in_sleep, NULL);
	intptr_t r = 0;
	int j = urio_join(child, &r); /* cancels the child too */
	if (j != -ECANCELED || r != -ECANCELED)
		return -EPROTO;
	return blocked_op_then_more(j);
}

static const urio_fn waits[] = {in_read, in_accept, in_recv,
				in_sleep, in_poll, in_join};

struct foreign {
	urio_task *t;
};

static void *cancel_from_thread(void *arg)
{
	usleep(5000);
	ASSERT_EQ(urio_cancel(((struct foreign *)arg)->t), 0);
	return NULL;
}

/* how: 0 from this task, 1 from a helper task, 2 from a foreign thread */
static intptr_t canceller(void *arg)
{
	return urio_cancel(arg);
}

static void cancel_one(urio_fn fn, int how)
{
	urio_task *t = urio_spawn(fn, NULL);
	ASSERT(t);
	if (how == 2) {
		struct foreign f = {t};
		pthread_t th;
		pthread_create(&th, NULL, cancel_from_thread, &f);
		intptr_t r = 0;
		ASSERT_EQ(urio_join(t, &r), -ECANCELED);
		ASSERT_EQ(r, -ECANCELED);
		pthread_join(th, NULL);
		return;
	}
	urio_sleep_ms(5); /* let it block */
	if (how == 0) {
		ASSERT_EQ(urio_cancel(t), 0);
	} else {
		urio_task *c = urio_spawn(canceller, t);
		intptr_t cr = -1;
		ASSERT_EQ(urio_join(c, &cr), 0);
		ASSERT_EQ(cr, 0);
	}
	intptr_t r = 0;
	ASSERT_EQ(urio_join(t, &r), -ECANCELED);
	ASSERT_EQ(r, -ECANCELED);
}

static intptr_t all_waits(void *arg)
{
	for (int how = 0; how < 3; how++)
		for (size_t i = 0; i < sizeof(waits) / sizeof(waits[0]); i++)
			cancel_one(waits[i], how);
	/* the fds are still usable: cancelled ops consumed nothing */
	ASSERT_EQ(urio_write(pipe_fds[1], "k", 1, -1), 1);
	char c;
	ASSERT_EQ(urio_read(pipe_fds[0], &c, 1, -1), 1);
	ASSERT_EQ(c, 'k');
	return 0;
}

static intptr_t finished_quickly(void *a)
{
	return 5;
}

static intptr_t already_done(void *arg)
{
	urio_task *t = urio_spawn(finished_quickly, NULL);
	while (!urio_task_done(t))
		urio_yield();
	ASSERT_EQ(urio_cancel(t), -EALREADY);
	intptr_t r = 0;
	ASSERT_EQ(urio_join(t, &r), 0);
	ASSERT_EQ(r, 5);
	ASSERT_EQ(urio_cancel(NULL), -EINVAL);
	return 0;
}

/* The race: a reader, a writer and a canceller released together. */
struct race {
	int p[2];
	urio_task *reader;
	atomic_int go;
};

static intptr_t race_reader(void *arg)
{
	struct race *r = arg;
	char c;
	return urio_read(r->p[0], &c, 1, -1);
}

static intptr_t race_writer(void *arg)
{
	struct race *r = arg;
	while (!atomic_load(&r->go))
		urio_yield();
	return urio_write(r->p[1], "z", 1, -1);
}

static intptr_t race_canceller(void *arg)
{
	struct race *r = arg;
	while (!atomic_load(&r->go))
		urio_yield();
	return urio_cancel(r->reader);
}

static intptr_t cancel_races_completion(void *arg)
{
	int got_data = 0, got_cancel = 0;
	for (int i = 0; i < 2000; i++) {
		struct race r = {.go = 0};
		ASSERT_EQ(pipe(r.p), 0);
		r.reader = urio_spawn(race_reader, &r);
		urio_task *w = urio_spawn(race_writer, &r);
		urio_task *c = urio_spawn(race_canceller, &r);
		urio_yield();
		atomic_store(&r.go, 1);
		/* the canceller uses the reader's handle: join it first */
		intptr_t cr = 0;
		ASSERT_EQ(urio_join(c, &cr), 0);
		ASSERT(cr == 0 || cr == -EALREADY);
		intptr_t res = 0;
		int j = urio_join(r.reader, &res);
		ASSERT(res == 1 || res == -ECANCELED);
		ASSERT(j == 0 || j == -ECANCELED);
		got_data += res == 1;
		got_cancel += res == -ECANCELED;
		intptr_t wr = 0;
		ASSERT_EQ(urio_join(w, &wr), 0);
		ASSERT_EQ(wr, 1);
		if (res == -ECANCELED) { /* the byte is still in the pipe */
			char ch;
			ASSERT_EQ(read(r.p[0], &ch, 1), 1);
		}
		close(r.p[0]);
		close(r.p[1]);
	}
	ASSERT_EQ(got_data + got_cancel, 2000);
	return 0;
}

int main(void)
{
	ASSERT_EQ(pipe(pipe_fds), 0);
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sock_pair), 0);
	listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ASSERT_EQ(bind(listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ASSERT_EQ(listen(listen_fd, 8), 0);

	urio_fn cases[] = {all_waits, already_done, cancel_races_completion};
	for (unsigned w = 1; w <= 2; w++) {
		urio_config cfg = {.workers = w};
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			intptr_t r = -1;
			ASSERT_EQ(urio_run(&cfg, cases[i], NULL, &r), 0);
			ASSERT_EQ(r, 0);
		}
	}
	close(pipe_fds[0]);
	close(pipe_fds[1]);
	close(sock_pair[0]);
	close(sock_pair[1]);
	close(listen_fd);
	puts("cancel_basic: ok");
	return 0;
}
