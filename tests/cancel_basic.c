/* urio_cancel on a task blocked in each kind of wait (pipe read, accept,
 * recv, sleep, poll, join, future wait), issued from a task on the same worker, from a
 * task that may run on another worker, from one that surely does (placement
 * forced, see spawn_pinned), and from a foreign thread. The op returns
 * -ECANCELED inside the task, join reports -ECANCELED, later suspensions
 * fail at once (level-triggered), a cancel racing a completion yields
 * either the data or -ECANCELED, never something else, never a hang, and a
 * cancel message that arrives late never hits a shielded wait. */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <urio/future.h>
#include <urio/io.h>
#include <urio/runtime.h>
#include <urio/scope.h>

#include "test.h"

static int pipe_fds[2];  /* stays empty: reads and polls wait */
static int ready_fds[2]; /* holds one byte: reads and polls complete */
static int listen_fd, sock_pair[2];
static urio_rt *rt;      /* the runtime the cases run on */

/* Level-triggered: after the cancelled op, every suspension fails at once,
 * even ones that would complete at once (ready_fds has data), so a
 * regression fails here instead of hanging. */
static intptr_t then_level_triggered(intptr_t r)
{
	if (r != -ECANCELED)
		return r >= 0 ? -EPROTO : r;
	char c;
	if (urio_sleep_ms(1) != -ECANCELED || urio_nop() != -ECANCELED ||
	    urio_read(ready_fds[0], &c, 1, -1) != -ECANCELED ||
	    urio_poll(ready_fds[0], POLLIN) != -ECANCELED ||
	    urio_sleep_ms(0) != -ECANCELED)
		return -EPROTO;
	return -ECANCELED;
}

static intptr_t in_read(void *a)
{
	char c;
	return then_level_triggered(urio_read(pipe_fds[0], &c, 1, -1));
}

static intptr_t in_accept(void *a)
{
	return then_level_triggered(urio_accept(listen_fd, NULL, NULL, 0));
}

static intptr_t in_recv(void *a)
{
	char c;
	return then_level_triggered(urio_recv(sock_pair[0], &c, 1, 0));
}

static intptr_t in_sleep(void *a)
{
	return then_level_triggered(urio_sleep_ms(60000));
}

static intptr_t in_poll(void *a)
{
	return then_level_triggered(urio_poll(pipe_fds[0], POLLIN));
}

static intptr_t in_join(void *a)
{
	urio_task *child = urio_spawn(in_sleep, NULL);
	if (!child)
		return -ENOMEM;
	intptr_t r = 0;
	int j = urio_join(child, &r); /* cancels the child too */
	if (j != -ECANCELED || r != -ECANCELED)
		return -EPROTO;
	return then_level_triggered(j);
}

static urio_future *never; /* never completed: waits on it block */

static intptr_t in_future(void *a)
{
	intptr_t v = 0;
	return then_level_triggered(urio_future_wait(never, &v));
}

static const urio_fn waits[] = {in_read,  in_accept, in_recv, in_sleep,
				in_poll, in_join,   in_future};
enum { NWAITS = sizeof(waits) / sizeof(waits[0]) };

static void join_cancelled(urio_task *t)
{
	intptr_t r = 0;
	ASSERT_EQ(urio_join(t, &r), -ECANCELED);
	ASSERT_EQ(r, -ECANCELED);
}

/* --- from this task, a helper task, a foreign thread --------------------- */
struct foreign_cancel {
	urio_task *t;
	int res;
	atomic_int done;
};

static void *cancel_from_thread(void *arg)
{
	struct foreign_cancel *f = arg;
	usleep(QUICK(5000, 500)); /* usually after it blocked; either way */
	f->res = urio_cancel(f->t);
	atomic_store(&f->done, 1);
	return NULL;
}

static intptr_t canceller(void *arg)
{
	return urio_cancel(arg);
}

/* how: 0 from this task, 1 from a helper task, 2 from a foreign thread */
static void cancel_one(urio_fn fn, int how)
{
	urio_task *t = urio_spawn(fn, NULL);
	ASSERT(t);
	if (how == 2) {
		struct foreign_cancel f = {.t = t};
		pthread_t th;
		ASSERT_EQ(pthread_create(&th, NULL, cancel_from_thread, &f), 0);
		/* join frees t: not before the thread is done with it */
		while (!atomic_load(&f.done))
			urio_sleep_ms(1);
		pthread_join(th, NULL); /* returns at once */
		ASSERT_EQ(f.res, 0);
		join_cancelled(t);
		return;
	}
	urio_sleep_ms(QUICK(5, 1)); /* let it block; correct either way */
	if (how == 0) {
		ASSERT_EQ(urio_cancel(t), 0);
	} else {
		urio_task *c = urio_spawn(canceller, t);
		ASSERT(c);
		intptr_t cr = -1;
		ASSERT_EQ(urio_join(c, &cr), 0);
		ASSERT_EQ(cr, 0);
	}
	join_cancelled(t);
}

static intptr_t all_waits(void *arg)
{
	/* quick mode: one way per seed */
	int how0 = test_quick() ? (int)(test_fuzz_seed() % 3) : 0;
	for (int how = how0; how < (test_quick() ? how0 + 1 : 3); how++)
		for (int i = 0; i < NWAITS; i++)
			cancel_one(waits[i], how);
	/* the fds are still usable: cancelled ops consumed nothing */
	ASSERT_EQ(urio_write(pipe_fds[1], "k", 1, -1), 1);
	char c;
	ASSERT_EQ(urio_read(pipe_fds[0], &c, 1, -1), 1);
	ASSERT_EQ(c, 'k');
	ASSERT_EQ(urio_poll(ready_fds[0], POLLIN) & POLLIN, POLLIN);
	return 0;
}

/* --- from the other worker, placement forced ------------------------------
 * A task that spins without suspending keeps its worker busy, so the task
 * it spawns can only run on the other worker; cancelling it from here then
 * takes the cross-worker path (a message to the owner of its wait). The
 * spin bounds are liveness guards, not timing assertions. */
struct pinned {
	urio_fn fn;
	void *arg;
	int worker;
	atomic_int started;
};

static intptr_t pinned(void *arg)
{
	struct pinned *p = arg;
	p->worker = urio_worker_index();
	atomic_store(&p->started, 1);
	return p->fn(p->arg);
}

/* Spawns p's task, which can only start on the other worker. */
static uint64_t parks_before_spawn;
static urio_task *spawn_pinned(struct pinned *p)
{
	parks_before_spawn = parks_of(rt);
	urio_task *t = urio_spawn(pinned, p);
	ASSERT(t);
	spin_until(&p->started);
	ASSERT(p->worker != urio_worker_index());
	return t;
}

/* The count is taken before the spawn, as the park may precede our look. */
static void spin_until_other_parks(void)
{
	spin_until_parks_beyond(rt, parks_before_spawn);
}

static intptr_t from_other_worker(void *arg)
{
	if (urio_rt_workers(rt) < 2)
		return 0;
	for (int i = 0; i < NWAITS * QUICK(10, 1); i++) {
		struct pinned p = {.fn = waits[i % NWAITS]};
		urio_task *t = spawn_pinned(&p);
		spin_until_other_parks();
		ASSERT_EQ(urio_cancel(t), 0);
		join_cancelled(t);
	}
	return 0;
}

/* --- an fd made as the cancel lands is closed, not handed over ----------
 * The op (an accept whose client just connected, an open in flight) and
 * its cancel race in the kernel; whichever wins, the cancelled task gets
 * -ECANCELED, never an fd it would drop, and no fd stays open. On one
 * worker the task cannot run between our cancel and our join, so that is
 * exact; on two it may finish its op just before the cancel. */
static intptr_t in_open(void *a)
{
	return urio_open("/dev/null", O_RDONLY | O_CLOEXEC, 0);
}

static intptr_t in_accept_once(void *a)
{
	return urio_accept(listen_fd, NULL, NULL, SOCK_CLOEXEC);
}

/* A client connects: the waiting accept can complete at our next enter. */
static int connect_client(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	ASSERT_EQ(getsockname(listen_fd, (struct sockaddr *)&a, &len), 0);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT(c >= 0);
	ASSERT_EQ(connect(c, (struct sockaddr *)&a, len), 0);
	return c;
}

/* Connections the cancelled accepts left in the backlog. */
static void drain_backlog(void)
{
	int fd;
	while ((fd = accept4(listen_fd, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
		close(fd);
	ASSERT(errno == EAGAIN || errno == EWOULDBLOCK);
}

static intptr_t fd_vs_cancel(void *arg)
{
	int fds0 = test_count_dir("/proc/self/fd");
	int clients[40], nc = 0;
	ASSERT_EQ(fcntl(listen_fd, F_SETFL, O_NONBLOCK), 0);
	for (int i = 0; i < QUICK(80, 8); i++) {
		bool acc = i % 2;
		urio_task *t = urio_spawn(acc ? in_accept_once : in_open, NULL);
		ASSERT(t);
		urio_yield(); /* t submits its op and waits */
		if (acc)
			clients[nc++] = connect_client();
		int c = urio_cancel(t);
		intptr_t fd = -1;
		int j = urio_join(t, &fd);
		if (fd < 0) {
			ASSERT_EQ(c, 0);
			ASSERT_EQ(j, -ECANCELED);
			ASSERT_EQ(fd, -ECANCELED);
			continue;
		}
		/* An fd only for a task done before the cancel (the poll
		 * backend opens files with a blocking call), or, on two
		 * workers, one whose op returned as the cancel came. */
		ASSERT(c == -EALREADY || urio_rt_workers(rt) > 1);
		close((int)fd);
	}
	drain_backlog();
	for (int i = 0; i < nc; i++)
		close(clients[i]);
	ASSERT_EQ(fcntl(listen_fd, F_SETFL, 0), 0);
	ASSERT_EQ(test_count_dir("/proc/self/fd"), fds0);
	return 0;
}

/* --- edges ----------------------------------------------------------------- */
static intptr_t finished_quickly(void *a)
{
	return 5;
}

static intptr_t already_done(void *arg)
{
	urio_task *t = urio_spawn(finished_quickly, NULL);
	ASSERT(t);
	while (!urio_task_done(t))
		urio_yield();
	ASSERT_EQ(urio_cancel(t), -EALREADY);
	ASSERT_EQ(urio_cancel(t), -EALREADY);
	intptr_t r = 0;
	ASSERT_EQ(urio_join(t, &r), 0);
	ASSERT_EQ(r, 5);
	ASSERT_EQ(urio_cancel(NULL), -EINVAL);
	return 0;
}

/* Cancelled before it ever ran (surely so with one worker: the spawner
 * has not yielded), and twice: its first suspension already fails. */
static intptr_t before_start(void *arg)
{
	urio_task *t = urio_spawn(in_sleep, NULL);
	ASSERT(t);
	ASSERT_EQ(urio_cancel(t), 0);
	int again = urio_cancel(t);
	ASSERT(again == 0 || again == -EALREADY);
	join_cancelled(t);
	return 0;
}

/* --- races: cancel against a completion -----------------------------------
 * The reader's read returns the byte or -ECANCELED, nothing else; a
 * cancel that returned 0 makes join report -ECANCELED, one that returned
 * -EALREADY means the read had finished with the byte; a cancelled read
 * left the byte in the pipe; and the reader always finishes. */
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

static void race_check(struct race *r, int cancel_res)
{
	intptr_t res = 0;
	int j = urio_join(r->reader, &res);
	ASSERT(res == 1 || res == -ECANCELED);
	ASSERT(cancel_res == 0 || cancel_res == -EALREADY);
	if (cancel_res == 0)
		ASSERT_EQ(j, -ECANCELED);
	else
		ASSERT(j == 0 && res == 1);
	if (res == -ECANCELED) {
		char ch;
		ASSERT_EQ(read(r->p[0], &ch, 1), 1);
	}
	close(r->p[0]);
	close(r->p[1]);
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

/* A reader, a writer and a canceller task released together. */
static intptr_t race_tasks(void *arg)
{
	for (int i = 0; i < QUICK(2000, 50); i++) {
		struct race r = {.go = 0};
		ASSERT_EQ(pipe(r.p), 0);
		ASSERT((r.reader = urio_spawn(race_reader, &r)));
		urio_task *w = urio_spawn(race_writer, &r);
		urio_task *c = urio_spawn(race_canceller, &r);
		ASSERT(w && c);
		urio_yield();
		atomic_store(&r.go, 1);
		/* the canceller uses the reader's handle: join it first */
		intptr_t cr = 0, wr = 0;
		ASSERT_EQ(urio_join(c, &cr), 0);
		ASSERT_EQ(urio_join(w, &wr), 0);
		ASSERT_EQ(wr, 1);
		race_check(&r, (int)cr);
	}
	return 0;
}

/* A foreign thread writes and cancels back to back, in both orders. */
struct foreign_race {
	struct race *r;
	int order;
	int cancel_res;
	atomic_int done;
};

static void *write_and_cancel(void *arg)
{
	struct foreign_race *f = arg;
	if (f->order)
		ASSERT_EQ(write(f->r->p[1], "z", 1), 1);
	f->cancel_res = urio_cancel(f->r->reader);
	if (!f->order)
		ASSERT_EQ(write(f->r->p[1], "z", 1), 1);
	atomic_store(&f->done, 1);
	return NULL;
}

static intptr_t race_foreign(void *arg)
{
	for (int i = 0; i < QUICK(200, 20); i++) {
		struct race r = {.go = 1};
		ASSERT_EQ(pipe(r.p), 0);
		ASSERT((r.reader = urio_spawn(race_reader, &r)));
		/* mostly once it waits; every third time perhaps before it ran */
		if (i % 3)
			urio_yield();
		struct foreign_race f = {.r = &r, .order = i % 2};
		pthread_t th;
		ASSERT_EQ(pthread_create(&th, NULL, write_and_cancel, &f), 0);
		while (!atomic_load(&f.done)) { /* the handle stays valid */
			urio_yield();
			sched_yield(); /* on one worker, let the thread run */
		}
		pthread_join(th, NULL); /* returns at once: done is set */
		race_check(&r, f.cancel_res);
	}
	return 0;
}

/* The reader waits on the other worker; this one writes and cancels back
 * to back, so the completion and the cancel message meet over there
 * (half the time once the reader surely waits, half the time at once). */
static intptr_t race_other_worker(void *arg)
{
	if (urio_rt_workers(rt) < 2)
		return 0;
	for (int i = 0; i < QUICK(200, 20); i++) {
		struct race r = {.go = 1};
		ASSERT_EQ(pipe(r.p), 0);
		struct pinned p = {.fn = race_reader, .arg = &r};
		r.reader = spawn_pinned(&p);
		if (i % 4 < 2)
			spin_until_other_parks();
		int cr;
		if (i % 2) {
			ASSERT_EQ(write(r.p[1], "z", 1), 1);
			cr = urio_cancel(r.reader);
		} else {
			cr = urio_cancel(r.reader);
			ASSERT_EQ(write(r.p[1], "z", 1), 1);
		}
		race_check(&r, cr);
	}
	return 0;
}

/* A cancel sent to the other worker while the task waited unshielded must
 * not hit a shielded wait the task began before that worker drained the
 * message. Forced order: the reader's read completes and it is queued
 * behind a helper that holds the worker until the cancel is sent; the
 * reader then resumes with the byte, enters a shield and polls, and only
 * then is the message drained. The shielded poll must return its
 * readiness, never -ECANCELED. */
struct stale {
	int a[2], b[2], c[2]; /* reader's data, shielded poll, helper's wake */
	atomic_int helper_running, reader_queued, cancel_sent;
};

static uint64_t ops(void)
{
	urio_stats st;
	urio_rt_stats(rt, &st);
	return st.ops;
}

static intptr_t read_then_shielded_poll(void *arg)
{
	struct stale *s = arg;
	char c;
	ssize_t n = urio_read(s->a[0], &c, 1, -1);
	urio_shield sh;
	urio_shield_enter(&sh);
	int r = urio_poll(s->b[0], POLLIN);
	urio_shield_exit(&sh);
	if (n != 1)
		return -EPROTO; /* the byte came before the cancel */
	return r < 0 ? r : 0;
}

/* Yields (so its worker polls for completions) until the reader's is
 * reaped, which queues the reader behind it; then holds the worker. */
static intptr_t hold_worker(void *arg)
{
	struct stale *s = arg;
	char c;
	if (urio_read(s->c[0], &c, 1, -1) != 1)
		return -EPROTO;
	uint64_t o = ops(), end = now_ms() + 20000;
	atomic_store(&s->helper_running, 1);
	while (ops() == o) {
		ASSERT(now_ms() < end); /* the reader's completion never came */
		urio_yield();
	}
	atomic_store(&s->reader_queued, 1);
	spin_until(&s->cancel_sent);
	return 0;
}

static intptr_t stale_cancel_vs_shield(void *arg)
{
	if (urio_rt_workers(rt) < 2)
		return 0;
	for (int i = 0; i < QUICK(20, 2); i++) {
		struct stale s = {0};
		ASSERT(pipe(s.a) == 0 && pipe(s.b) == 0 && pipe(s.c) == 0);
		struct pinned pr = {.fn = read_then_shielded_poll, .arg = &s};
		struct pinned ph = {.fn = hold_worker, .arg = &s};
		urio_task *r = spawn_pinned(&pr);
		urio_task *h = spawn_pinned(&ph);
		spin_until_other_parks(); /* both wait */
		ASSERT_EQ(write(s.c[1], "c", 1), 1);
		spin_until(&s.helper_running);
		ASSERT_EQ(write(s.a[1], "a", 1), 1);
		spin_until(&s.reader_queued);
		ASSERT_EQ(urio_cancel(r), 0); /* a message: r waits over there */
		uint64_t p0 = parks_of(rt);
		atomic_store(&s.cancel_sent, 1);
		/* b stays empty until that worker went idle, so a wrongly
		 * cancelled poll cannot have completed first */
		spin_until_parks_beyond(rt, p0);
		ASSERT_EQ(write(s.b[1], "b", 1), 1);
		intptr_t res = -1;
		ASSERT_EQ(urio_join(r, &res), -ECANCELED);
		ASSERT_EQ(urio_join(h, NULL), 0);
		if (res == -ECANCELED) {
			fprintf(stderr, "round %d: a shielded poll returned "
				"-ECANCELED (a cancel message sent before the "
				"shield was drained after it)\n", i);
			exit(1);
		}
		ASSERT_EQ(res, 0);
		for (int k = 0; k < 2; k++) {
			close(s.a[k]);
			close(s.b[k]);
			close(s.c[k]);
		}
	}
	return 0;
}

/* A sleep that expires about when the cancel comes: 0 or -ECANCELED. */
static intptr_t short_sleep(void *arg)
{
	return urio_sleep_ns((uintptr_t)arg);
}

static intptr_t race_timer(void *arg)
{
	for (int i = 0; i < QUICK(500, 50); i++) {
		uintptr_t ns = (uintptr_t)(i % 10) * 1000;
		urio_task *t = urio_spawn(short_sleep, (void *)ns);
		ASSERT(t);
		for (int k = 0; k < i % 5; k++)
			urio_yield();
		int cr = urio_cancel(t);
		ASSERT(cr == 0 || cr == -EALREADY);
		intptr_t res = 1;
		int j = urio_join(t, &res);
		ASSERT(res == 0 || res == -ECANCELED);
		ASSERT_EQ(j, cr == 0 ? -ECANCELED : 0);
		if (cr == -EALREADY)
			ASSERT_EQ(res, 0);
	}
	return 0;
}

static void open_fds(void)
{
	ASSERT_EQ(pipe(pipe_fds), 0);
	ASSERT_EQ(pipe(ready_fds), 0);
	ASSERT_EQ(write(ready_fds[1], "r", 1), 1);
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sock_pair), 0);
	listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT(listen_fd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ASSERT_EQ(bind(listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ASSERT_EQ(listen(listen_fd, 64), 0);
}

static int suite(void *unused)
{
	open_fds();
	never = urio_future_new();
	ASSERT(never);
	urio_fn cases[] = {all_waits,  from_other_worker, already_done,
			   before_start, race_tasks, race_foreign,
			   race_other_worker, race_timer, stale_cancel_vs_shield,
			   fd_vs_cancel};
	/* one worker: cancels come from the same worker (or a foreign
	 * thread); two: also from the other one */
	for (unsigned w = test_quick() ? 2 : 1; w <= 2; w++) {
		urio_config cfg = {.workers = w};
		rt = urio_rt_new(&cfg);
		ASSERT(rt);
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			intptr_t r = -1;
			ASSERT_EQ(urio_rt_block_on(rt, cases[i], NULL, &r), 0);
			ASSERT_EQ(r, 0);
		}
		urio_rt_free(rt);
	}
	int fds[] = {pipe_fds[0], pipe_fds[1], ready_fds[0], ready_fds[1],
		     sock_pair[0], sock_pair[1], listen_fd};
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		close(fds[i]);
	urio_future_free(never);
	if (!test_quick())
		puts("cancel_basic: ok");
	return 0;
}

int main(void)
{
	return test_fuzz_seeds(suite, NULL);
}
