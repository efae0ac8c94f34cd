/* Live task introspection: urio_dump_tasks, urio_print_call_graph, and the
 * socket thread that serves them to urio-ps.
 *
 * Every runtime registers here for its lifetime. A dump first takes a
 * snapshot of every task of every runtime into memory of its own and only
 * then formats it, because the registry shards are spinlocks that spawns
 * and exits on the workers take: holding one while writing to a slow FILE
 * (a pipe, the urio-ps socket) would stall a worker. A snapshot holds each
 * shard only while it copies a few fields per task, and each task's lock
 * only while it copies what the task waits on (the wait record lives on the
 * task's stack and is valid while t->wait is set, under that lock).
 *
 * The remote side is a plain thread, not a task: it must answer when every
 * worker is stuck in a blocking call, which is exactly when one asks. It
 * sleeps in poll(2) on the listening socket and an eventfd that stops it,
 * answers one connection at a time (with send/receive timeouts, so a stuck
 * client cannot keep it from stopping), and exists while at least one
 * runtime does. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include <urio/introspect.h>

#include "internal.h"

#define NONE SIZE_MAX
#define CLIENT_TIMEOUT_S 10

/* --- the runtimes of the process ----------------------------------------- */

struct rt_node {
	urio_rt *rt;
	unsigned seq; /* 1, 2, ... in creation order, for the reports */
	struct rt_node *next;
};

/* Lock order: srv_mu, then list_mu, then a registry shard, then a task. */
static pthread_mutex_t list_mu = PTHREAD_MUTEX_INITIALIZER;
static struct rt_node *rts; /* oldest first */
static unsigned next_seq = 1;

/* --- snapshots ----------------------------------------------------------- */

enum { ST_RUNNABLE, ST_RUNNING, ST_WAITING };

struct row {
	const void *task; /* identity only, never dereferenced after the copy */
	uint64_t id, parent, join_id;
	uint64_t when, deadline;
	int fd, worker;
	short events;
	unsigned char state, kind;
	bool cancelled, shielded, has_deadline, self;
	char name[URIO__NAME_MAX];
	char what[24];
	size_t child, sibling; /* the tree, as row indices */
};

struct rt_snap {
	unsigned seq, nworkers;
	bool no_ring;
	const void **cur; /* per worker: the task it runs, then its row */
	bool *parked;
	uint64_t *stuck_since; /* per worker: the watchdog's finding, or 0 */
	uint64_t now;
	struct row *rows; /* sorted by id */
	size_t n;
};

struct snap {
	struct rt_snap *rts;
	unsigned nrts;
	size_t ntasks;
	uint64_t now;
};

/* Copies what t is doing; runs with t's registry shard held. */
static void copy_task(struct row *r, urio_task *t)
{
	memset(r, 0, sizeof(*r));
	r->task = t;
	r->id = t->id;
	r->parent = t->parent_id;
	r->fd = -1;
	r->worker = -1;
	r->cancelled = urio__task_cancelled(t);
	urio__task_lock(t);
	memcpy(r->name, t->name, sizeof(r->name) - 1);
	struct urio__wait *w = t->wait;
	if (w) {
		r->state = ST_WAITING;
		r->kind = (unsigned char)w->kind;
		r->fd = w->fd;
		r->events = w->events;
		if (w->kind == URIO__WAIT_TIMER)
			r->when = w->when;
		strncpy(r->what, w->what ? w->what : "", sizeof(r->what) - 1);
		/* a joiner's record points at the task it joins (task.c),
		 * a generator's consumer's at the generator (gen.c) */
		if (w->what && (!strcmp(w->what, "join") ||
				!strcmp(w->what, "gen")) && w->cancel_arg)
			r->join_id = ((urio_task *)w->cancel_arg)->id;
		/* The scope chain only changes while t runs (scope.c), and
		 * t is parked or about to be: find the nearest deadline. */
		for (urio_deadline *d = t->scopes; d; d = d->outer) {
			if (d->kind == URIO__SCOPE_SHIELD) {
				r->shielded = true;
				break;
			}
			if (d->kind != URIO__SCOPE_DEADLINE || !d->rec)
				continue;
			uint64_t when = d->when;
			if (!r->has_deadline || when < r->deadline)
				r->deadline = when;
			r->has_deadline = true;
		}
	}
	urio__task_unlock(t);
}

/* Copies every task of rt into rows; false when more than cap exist. */
static bool copy_tasks(urio_rt *rt, struct row *rows, size_t cap, size_t *n)
{
	*n = 0;
	for (unsigned i = 0; i < rt->nworkers; i++) {
		struct urio__worker *w = &rt->workers[i];
		bool full = false;
		urio__spin_lock(&w->reg_lock);
		for (uint32_t k = 0; k < w->nreg; k++) {
			urio_task *t = urio__reg_at(w, k);
			/* free, or finished and left for the shard's owner */
			if (!t || atomic_load_explicit(&t->jstate,
						 memory_order_relaxed) ==
			    URIO__J_DONE)
				continue;
			if (*n == cap) {
				full = true;
				break;
			}
			copy_task(&rows[(*n)++], t);
		}
		urio__spin_unlock(&w->reg_lock);
		if (full)
			return false;
	}
	return true;
}

static int cmp_id(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

static size_t find_id(const struct rt_snap *rs, uint64_t id)
{
	size_t lo = 0, hi = rs->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (rs->rows[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < rs->n && rs->rows[lo].id == id ? lo : NONE;
}

struct wcur {
	const void *task;
	unsigned worker;
};

static int cmp_wcur(const void *a, const void *b)
{
	const struct wcur *x = a, *y = b;
	return x->task < y->task ? -1 : x->task > y->task;
}

static int snap_rt(struct rt_snap *rs, struct rt_node *node, urio_task *self)
{
	urio_rt *rt = node->rt;
	rs->seq = node->seq;
	rs->nworkers = rt->nworkers;
	rs->no_ring = rt->no_ring;
	rs->cur = calloc(rt->nworkers, sizeof(*rs->cur));
	rs->parked = calloc(rt->nworkers, sizeof(*rs->parked));
	rs->stuck_since = calloc(rt->nworkers, sizeof(*rs->stuck_since));
	rs->now = urio__now_ns();
	if (!rs->cur || !rs->parked || !rs->stuck_since)
		return -ENOMEM;
	for (unsigned i = 0; i < rt->nworkers; i++) {
		/* relaxed: only compared, pairs with the owner's relaxed
		 * stores in sched.c and task.c */
		rs->cur[i] = atomic_load_explicit(&rt->workers[i].cur,
						  memory_order_relaxed);
		rs->parked[i] = atomic_load_explicit(&rt->workers[i].parked,
						     memory_order_relaxed);
		rs->stuck_since[i] = atomic_load_explicit(
			&rt->workers[i].stuck_since, memory_order_relaxed);
	}
	size_t cap = urio__live_tasks(rt);
	cap += cap / 8 + 64;
	for (;;) {
		rs->rows = malloc(cap * sizeof(*rs->rows));
		if (!rs->rows)
			return -ENOMEM;
		if (copy_tasks(rt, rs->rows, cap, &rs->n))
			break;
		free(rs->rows); /* it grew meanwhile: try again, larger */
		rs->rows = NULL;
		cap *= 2;
	}
	qsort(rs->rows, rs->n, sizeof(*rs->rows), cmp_id);
	/* which rows the workers run: the running pointers, sorted */
	struct wcur *wc = malloc(rs->nworkers * sizeof(*wc));
	if (!wc)
		return -ENOMEM;
	for (unsigned k = 0; k < rs->nworkers; k++)
		wc[k] = (struct wcur){rs->cur[k], k};
	qsort(wc, rs->nworkers, sizeof(*wc), cmp_wcur);
	for (size_t i = 0; i < rs->n; i++) {
		struct row *r = &rs->rows[i];
		struct wcur key = {r->task, 0};
		struct wcur *hit = bsearch(&key, wc, rs->nworkers, sizeof(*wc),
					   cmp_wcur);
		r->self = r->task == self;
		if (hit && r->state != ST_WAITING) {
			r->state = ST_RUNNING;
			r->worker = (int)hit->worker;
		}
	}
	free(wc);
	for (unsigned k = 0; k < rs->nworkers; k++)
		rs->cur[k] = NULL;
	for (size_t i = 0; i < rs->n; i++)
		if (rs->rows[i].state == ST_RUNNING)
			rs->cur[rs->rows[i].worker] = &rs->rows[i];
	return 0;
}

static void snap_free(struct snap *s)
{
	for (unsigned i = 0; i < s->nrts; i++) {
		free(s->rts[i].cur);
		free(s->rts[i].parked);
		free(s->rts[i].stuck_since);
		free(s->rts[i].rows);
	}
	free(s->rts);
}

static int snap_take(struct snap *s)
{
	memset(s, 0, sizeof(*s));
	urio_task *self = urio_self();
	int err = 0;
	pthread_mutex_lock(&list_mu);
	unsigned n = 0;
	for (struct rt_node *p = rts; p; p = p->next)
		n++;
	s->rts = calloc(n ? n : 1, sizeof(*s->rts));
	if (!s->rts) {
		err = -ENOMEM;
		goto out;
	}
	for (struct rt_node *p = rts; p && !err; p = p->next) {
		err = snap_rt(&s->rts[s->nrts++], p, self);
		s->ntasks += s->rts[s->nrts - 1].n;
	}
out:
	pthread_mutex_unlock(&list_mu);
	s->now = urio__now_ns();
	if (err)
		snap_free(s);
	return err;
}

/* --- formatting ---------------------------------------------------------- */

static unsigned long long ms_until(uint64_t when, uint64_t now)
{
	return when > now ? (when - now + 999999) / 1000000 : 0;
}

/* What r waits on: "read fd 5", "sleep 120 ms left", "join task 7" (or
 * "gen task 7": a consumer running generator 7). */
static void waiting_on(char *buf, size_t len, const struct row *r,
		       uint64_t now)
{
	const char *what = r->what[0] ? r->what : "suspended";
	if (r->join_id) { /* "join task 7", "gen task 9" */
		snprintf(buf, len, "%s task %llu", what,
			 (unsigned long long)r->join_id);
	} else if (r->kind == URIO__WAIT_TIMER) {
		snprintf(buf, len, "%s %llu ms left", what,
			 ms_until(r->when, now));
	} else if (r->fd >= 0) {
		const char *ev = "";
		if (r->events & POLLIN)
			ev = r->events & POLLOUT ? " (in|out)" : " (in)";
		else if (r->events & POLLOUT)
			ev = " (out)";
		snprintf(buf, len, "%s fd %d%s", what, r->fd, ev);
	} else {
		snprintf(buf, len, "%s", what);
	}
}

static void state_of(char *buf, size_t len, const struct row *r)
{
	if (r->state == ST_RUNNING)
		snprintf(buf, len, "running on w%d", r->worker);
	else
		snprintf(buf, len, "%s",
			 r->state == ST_WAITING ? "waiting" : "runnable");
}

static void deadline_of(char *buf, size_t len, const struct row *r,
			uint64_t now)
{
	if (!r->has_deadline)
		snprintf(buf, len, "-");
	else if (r->deadline <= now)
		snprintf(buf, len, "expired");
	else
		snprintf(buf, len, "in %llu ms", ms_until(r->deadline, now));
}

static void flags_of(char *buf, size_t len, const struct row *r)
{
	snprintf(buf, len, "%s%s%s", r->cancelled ? "cancelled " : "",
		 r->shielded ? "shielded " : "", r->self ? "caller" : "");
}

/* "runtime 1: 2 workers, io_uring, 9 tasks" and what each worker runs. */
static void print_rt_header(FILE *out, const struct rt_snap *rs,
			    bool workers)
{
	fprintf(out, "runtime %u: %u worker%s, %s, %zu task%s\n", rs->seq,
		rs->nworkers, rs->nworkers == 1 ? "" : "s",
		rs->no_ring ? "poll" : "io_uring", rs->n,
		rs->n == 1 ? "" : "s");
	for (unsigned k = 0; workers && k < rs->nworkers; k++) {
		const struct row *r = rs->cur[k];
		uint64_t since = rs->stuck_since[k];
		if (r && since && since < rs->now)
			fprintf(out, "  worker %u: running task %llu '%s', "
				     "STUCK for %llu ms (watchdog)\n",
				k, (unsigned long long)r->id, r->name,
				(unsigned long long)(rs->now - since) / 1000000);
		else if (r)
			fprintf(out, "  worker %u: running task %llu '%s'\n",
				k, (unsigned long long)r->id, r->name);
		else
			fprintf(out, "  worker %u: %s\n", k,
				rs->parked[k] ? "idle" : "scheduling");
	}
}

static int finish(FILE *out)
{
	fflush(out);
	return ferror(out) ? -EIO : 0;
}

static int print_failure(FILE *out, int err)
{
	fprintf(out, "urio: no task snapshot: %s\n", strerror(-err));
	return err;
}

/* Takes the snapshot a dump to *out (NULL: stdout) prints; a failure is
 * said there and returned. */
static int dump_begin(FILE **out, struct snap *s)
{
	if (!*out)
		*out = stdout;
	int err = snap_take(s);
	return err < 0 ? print_failure(*out, err) : 0;
}

/* One row of the table, without trailing blanks. */
static void print_line(FILE *out, const char *id, const char *parent,
		       const char *name, const char *state, const char *on,
		       const char *dl, const char *flags)
{
	char line[256];
	int n = snprintf(line, sizeof(line),
			 "%8s %8s  %-16s %-15s %-24s %-12s %s", id, parent,
			 name, state, on, dl, flags);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	while (n > 0 && line[n - 1] == ' ')
		n--;
	fprintf(out, "%.*s\n", n, line);
}

int urio_dump_tasks(FILE *out)
{
	struct snap s;
	int err = dump_begin(&out, &s);
	if (err < 0)
		return err;
	fprintf(out, "pid %d: %u runtime%s, %zu task%s\n", (int)getpid(),
		s.nrts, s.nrts == 1 ? "" : "s", s.ntasks,
		s.ntasks == 1 ? "" : "s");
	for (unsigned i = 0; i < s.nrts; i++) {
		const struct rt_snap *rs = &s.rts[i];
		fputc('\n', out);
		print_rt_header(out, rs, true);
		print_line(out, "ID", "PARENT", "NAME", "STATE", "WAITING ON",
			   "DEADLINE", "FLAGS");
		for (size_t j = 0; j < rs->n; j++) {
			const struct row *r = &rs->rows[j];
			char id[24], parent[24], state[24], on[64], dl[32];
			char fl[40];
			snprintf(id, sizeof(id), "%llu",
				 (unsigned long long)r->id);
			if (r->parent)
				snprintf(parent, sizeof(parent), "%llu",
					 (unsigned long long)r->parent);
			else
				snprintf(parent, sizeof(parent), "-");
			state_of(state, sizeof(state), r);
			if (r->state == ST_WAITING)
				waiting_on(on, sizeof(on), r, s.now);
			else
				snprintf(on, sizeof(on), "-");
			deadline_of(dl, sizeof(dl), r, s.now);
			flags_of(fl, sizeof(fl), r);
			print_line(out, id, parent, r->name[0] ? r->name : "-",
				   state, on, dl, fl);
		}
	}
	snap_free(&s);
	return finish(out);
}

static void print_node(FILE *out, const char *prefix, bool last,
		       const struct row *r, const struct rt_snap *rs,
		       uint64_t now)
{
	char on[64], dl[32];
	fprintf(out, "%s%s[%llu] %s", prefix, last ? "└── " : "├── ",
		(unsigned long long)r->id, r->name[0] ? r->name : "-");
	if (r->state == ST_RUNNING) {
		fprintf(out, ": running on worker %d", r->worker);
	} else if (r->state == ST_WAITING) {
		waiting_on(on, sizeof(on), r, now);
		fprintf(out, ": waiting on %s", on);
	} else {
		fprintf(out, ": runnable");
	}
	if (r->has_deadline) {
		deadline_of(dl, sizeof(dl), r, now);
		fprintf(out, ", deadline %s", dl);
	}
	if (r->parent && find_id(rs, r->parent) == NONE)
		fprintf(out, " (parent %llu gone)",
			(unsigned long long)r->parent);
	if (r->cancelled)
		fprintf(out, " [cancelled]");
	if (r->shielded)
		fprintf(out, " [shielded]");
	if (r->self)
		fprintf(out, " <- caller");
	fputc('\n', out);
}

struct frame {
	size_t row, plen; /* prefix length when the row is printed */
	bool last;
};

/* Pushes the sibling list from first so that first pops first. */
static void push_list(struct frame *st, size_t *top, const struct row *rows,
		      size_t first, size_t plen)
{
	size_t base = *top;
	for (size_t k = first; k != NONE; k = rows[k].sibling)
		st[(*top)++] = (struct frame){k, plen, false};
	if (*top == base)
		return;
	st[*top - 1].last = true;
	for (size_t a = base, b = *top - 1; a < b; a++, b--) {
		struct frame tmp = st[a];
		st[a] = st[b];
		st[b] = tmp;
	}
}

/* Depth-first, with a stack of its own: a chain of 100k nested spawns
 * must not overflow the caller's (perhaps small, coroutine) stack. */
static int print_tree(FILE *out, struct rt_snap *rs, uint64_t now)
{
	struct row *rows = rs->rows;
	size_t roots = NONE;
	for (size_t i = 0; i < rs->n; i++)
		rows[i].child = NONE;
	/* in descending id order, so prepending keeps children ascending */
	for (size_t i = rs->n; i-- > 0;) {
		size_t p = rows[i].parent ? find_id(rs, rows[i].parent) : NONE;
		size_t *head = p == NONE ? &roots : &rows[p].child;
		rows[i].sibling = *head;
		*head = i;
	}
	size_t pcap = 256, top = 0;
	struct frame *st = malloc((rs->n ? rs->n : 1) * sizeof(*st));
	char *prefix = malloc(pcap);
	int err = -ENOMEM;
	if (!st || !prefix)
		goto out;
	push_list(st, &top, rows, roots, 0);
	while (top) {
		struct frame f = st[--top];
		prefix[f.plen] = 0;
		print_node(out, prefix, f.last, &rows[f.row], rs, now);
		if (rows[f.row].child == NONE)
			continue;
		const char *seg = f.last ? "    " : "│   ";
		size_t plen = f.plen + strlen(seg);
		if (plen + 1 > pcap) {
			char *p = realloc(prefix, pcap = 2 * (plen + 1));
			if (!p)
				goto out;
			prefix = p;
		}
		memcpy(prefix + f.plen, seg, plen - f.plen);
		push_list(st, &top, rows, rows[f.row].child, plen);
	}
	err = 0;
out:
	free(st);
	free(prefix);
	return err;
}

int urio_print_call_graph(FILE *out)
{
	struct snap s;
	int err = dump_begin(&out, &s);
	if (err < 0)
		return err;
	for (unsigned i = 0; i < s.nrts && !err; i++) {
		if (i)
			fputc('\n', out);
		print_rt_header(out, &s.rts[i], false);
		err = print_tree(out, &s.rts[i], s.now);
	}
	if (!s.nrts)
		fprintf(out, "pid %d: no runtime\n", (int)getpid());
	snap_free(&s);
	if (err < 0)
		return print_failure(out, err);
	return finish(out);
}

/* --- the socket thread ------------------------------------------------ */

static pthread_mutex_t srv_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	bool running;
	pthread_t thread;
	int lfd, stop_fd;
} srv = {.lfd = -1, .stop_fd = -1};
/* The pid whose socket exists, for the exit handler; 0 when none. A forked
 * child inherits it but has another pid, so it never removes ours. */
static _Atomic pid_t bound_pid;

int urio_introspect_path(pid_t pid, char *buf, size_t len)
{
	if (pid <= 0 || !buf)
		return -EINVAL;
	int n = snprintf(buf, len, "/tmp/urio-%d.sock", (int)pid);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static void at_exit(void)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	pid_t me = getpid();
	/* acquire pairs with the release store in srv_start */
	if (atomic_load_explicit(&bound_pid, memory_order_acquire) == me &&
	    urio_introspect_path(me, path, sizeof(path)) == 0)
		unlink(path);
}

static void fork_prepare(void)
{
	pthread_mutex_lock(&srv_mu);
	pthread_mutex_lock(&list_mu);
}

static void fork_parent(void)
{
	pthread_mutex_unlock(&list_mu);
	pthread_mutex_unlock(&srv_mu);
}

/* The child has no socket thread: drop its fds so a runtime it starts
 * gets a socket of its own. */
static void fork_child(void)
{
	if (srv.running) {
		close(srv.lfd);
		close(srv.stop_fd);
		srv.lfd = srv.stop_fd = -1;
		srv.running = false;
	}
	pthread_mutex_unlock(&list_mu);
	pthread_mutex_unlock(&srv_mu);
}

static void init_once(void)
{
	atexit(at_exit);
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static void send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* gone or too slow (SO_SNDTIMEO): drop it */
		buf += n;
		len -= (size_t)n;
	}
}

static void reply_error(int fd, int err, const char *msg)
{
	char buf[160];
	int n = snprintf(buf, sizeof(buf), "error %d %s\n", err, msg);
	send_all(fd, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf));
}

static void set_timeouts(int fd, int recv_s, int send_s)
{
	struct timeval tv = {.tv_sec = recv_s};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	tv.tv_sec = send_s;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* One connection: a one-word command in, the report out. */
static void serve(int fd)
{
	struct ucred cr;
	socklen_t crlen = sizeof(cr);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) < 0 ||
	    (cr.uid != geteuid() && cr.uid != 0)) {
		reply_error(fd, EACCES, "permission denied");
		return;
	}
	set_timeouts(fd, 2, 5);
	char cmd[32];
	size_t n = 0;
	while (n < sizeof(cmd) - 1 && !memchr(cmd, '\n', n)) {
		ssize_t r = recv(fd, cmd + n, sizeof(cmd) - 1 - n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	cmd[n] = 0;
	cmd[strcspn(cmd, " \t\r\n")] = 0;

	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f) {
		reply_error(fd, ENOMEM, "out of memory");
		return;
	}
	int err = 0;
	if (!strcmp(cmd, "ps"))
		err = urio_dump_tasks(f);
	else if (!strcmp(cmd, "pstree"))
		err = urio_print_call_graph(f);
	else if (!strcmp(cmd, "features"))
		urio_print_features(f);
	else
		err = -EINVAL;
	fclose(f);
	if (err == -EINVAL)
		reply_error(fd, EINVAL,
			    "unknown command (ps, pstree, features)");
	else if (err < 0)
		reply_error(fd, -err, strerror(-err));
	else
		send_all(fd, buf, len);
	free(buf);
}

static void *srv_main(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "urio-introspect");
	/* written before pthread_create, constant until after the join */
	struct pollfd p[2] = {{.fd = srv.lfd, .events = POLLIN},
			      {.fd = srv.stop_fd, .events = POLLIN}};
	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		int c = accept4(p[0].fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue; /* the client gave up (EAGAIN), or EMFILE */
		serve(c);
		close(c);
	}
	return NULL;
}

/* A socket file left by a dead process of our pid (or our user) that
 * nobody listens on any more. */
static bool stale(const struct sockaddr_un *a)
{
	struct stat st;
	if (lstat(a->sun_path, &st) < 0 || !S_ISSOCK(st.st_mode) ||
	    st.st_uid != geteuid())
		return false;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	bool dead = connect(fd, (const struct sockaddr *)a, sizeof(*a)) < 0 &&
		    errno == ECONNREFUSED;
	close(fd);
	return dead;
}

static int srv_listen(struct sockaddr_un *a)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
			0);
	if (fd < 0)
		return -errno;
	int r = bind(fd, (struct sockaddr *)a, sizeof(*a));
	if (r < 0 && errno == EADDRINUSE && stale(a)) {
		unlink(a->sun_path);
		r = bind(fd, (struct sockaddr *)a, sizeof(*a));
	}
	if (r < 0 || chmod(a->sun_path, 0600) < 0 || listen(fd, 16) < 0) {
		int err = -errno;
		if (r == 0)
			unlink(a->sun_path);
		close(fd);
		return err;
	}
	return fd;
}

/* With srv_mu held. */
static int srv_start(void)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	pid_t me = getpid();
	int err = urio_introspect_path(me, a.sun_path, sizeof(a.sun_path));
	if (err < 0)
		return err;
	int lfd = srv_listen(&a);
	if (lfd < 0)
		return lfd;
	int efd = eventfd(0, EFD_CLOEXEC);
	if (efd < 0) {
		err = -errno;
		goto fail_listen;
	}
	srv.lfd = lfd;
	srv.stop_fd = efd;
	/* the thread takes no signal: they belong to the application */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = -pthread_create(&srv.thread, NULL, srv_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err < 0)
		goto fail_efd;
	srv.running = true;
	/* release pairs with the acquire load in at_exit */
	atomic_store_explicit(&bound_pid, me, memory_order_release);
	return 0;
fail_efd:
	close(efd);
	srv.lfd = srv.stop_fd = -1;
fail_listen:
	close(lfd);
	unlink(a.sun_path);
	return err;
}

/* With srv_mu held. */
static void srv_stop(void)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	uint64_t one = 1;
	atomic_store_explicit(&bound_pid, 0, memory_order_relaxed);
	if (urio_introspect_path(getpid(), path, sizeof(path)) == 0)
		unlink(path); /* first: no new client finds it */
	while (write(srv.stop_fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
	pthread_join(srv.thread, NULL);
	close(srv.lfd);
	close(srv.stop_fd);
	srv.lfd = srv.stop_fd = -1;
	srv.running = false;
}

static bool wanted(const urio_rt *rt)
{
	if (rt->cfg.flags & URIO_CFG_INTROSPECT)
		return true;
	const char *e = getenv("URIO_INTROSPECT");
	return e && *e && strcmp(e, "0") != 0;
}

void urio__introspect_rt_add(urio_rt *rt)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, init_once);
	struct rt_node *node = malloc(sizeof(*node));
	pthread_mutex_lock(&srv_mu);
	if (node) { /* without memory, rt is just left out of the reports */
		node->rt = rt;
		node->next = NULL;
		pthread_mutex_lock(&list_mu);
		node->seq = next_seq++;
		struct rt_node **pp = &rts;
		while (*pp)
			pp = &(*pp)->next;
		*pp = node;
		pthread_mutex_unlock(&list_mu);
	}
	if (!srv.running && wanted(rt)) {
		int err = srv_start();
		if (err < 0)
			fprintf(stderr, "urio: no introspection socket for "
					"urio-ps: %s\n", strerror(-err));
	}
	pthread_mutex_unlock(&srv_mu);
}

void urio__introspect_rt_del(urio_rt *rt)
{
	struct rt_node *node = NULL;
	pthread_mutex_lock(&srv_mu);
	pthread_mutex_lock(&list_mu);
	for (struct rt_node **pp = &rts; *pp; pp = &(*pp)->next)
		if ((*pp)->rt == rt) {
			node = *pp;
			*pp = node->next;
			break;
		}
	bool last = !rts;
	pthread_mutex_unlock(&list_mu);
	if (last && srv.running)
		srv_stop();
	pthread_mutex_unlock(&srv_mu);
	free(node);
}

/* --- the client side (urio-ps) ---------------------------------------- */

int urio_introspect_query(pid_t pid, const char *cmd, FILE *out)
{
	if (pid <= 0 || !cmd || !*cmd || strlen(cmd) > 16 ||
	    strcspn(cmd, " \t\r\n") != strlen(cmd))
		return -EINVAL;
	if (!out)
		out = stdout;
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int err = urio_introspect_path(pid, a.sun_path, sizeof(a.sun_path));
	if (err < 0)
		return err;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		err = -errno;
		close(fd);
		if ((err == -ENOENT || err == -ECONNREFUSED) &&
		    kill(pid, 0) < 0 && errno == ESRCH)
			return -ESRCH;
		return err;
	}
	set_timeouts(fd, CLIENT_TIMEOUT_S, CLIENT_TIMEOUT_S);
	char line[24];
	snprintf(line, sizeof(line), "%s\n", cmd);
	if (send(fd, line, strlen(line), MSG_NOSIGNAL) < 0) {
		err = errno == EAGAIN ? -ETIMEDOUT : -errno;
		goto out;
	}
	shutdown(fd, SHUT_WR);
	char *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (cap - len < 4096) {
			char *p = realloc(buf, cap = cap ? 2 * cap : 16384);
			if (!p) {
				err = -ENOMEM;
				break;
			}
			buf = p;
		}
		ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno == EAGAIN ? -ETIMEDOUT : -errno;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (!err && len > 6 && !memcmp(buf, "error ", 6)) {
		buf[len] = 0;
		int e = atoi(buf + 6);
		err = e > 0 ? -e : -EPROTO;
	} else if (!err && len == 0) {
		err = -EPROTO; /* closed without an answer */
	} else if (!err && (fwrite(buf, 1, len, out) != len || fflush(out))) {
		err = -EIO;
	}
	free(buf);
out:
	close(fd);
	return err;
}
