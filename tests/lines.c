#define _GNU_SOURCE /* pipe2 */
/* The chunk and line iterators: lines against a reference splitter on
 * generated files (random line lengths, chunk sizes, CR/LF placement,
 * final newline or not, O_DIRECT or not), blocks of whole lines, over-long
 * lines as -E2BIG items with iteration going on, empty files, pipes and
 * stdin, closing with reads in flight (also in a cancelled task), bad
 * arguments. Each case on 1 and 2 workers; the *_poll ctest entry runs it
 * all on the poll(2) backend. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>
#include <urio.h>

#include "test.h"

#ifndef SEEDS
#define SEEDS 300
#endif

static char dir[64];
static unsigned workers;

static uint32_t rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(*s >> 33);
}

struct buf {
	char *p;
	size_t n, cap;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (!n)
		return;
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2;
		b->p = realloc(b->p, b->cap);
		ASSERT(b->p);
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
}

/* Random text: lines of random length (some far past any chunk), \r\n
 * or \n endings, lone \r inside lines, final newline or not. */
static struct buf gen_text(uint64_t *s, size_t max_len)
{
	struct buf b = {0};
	unsigned nlines = rnd(s) % 40;
	char tmp[8192];
	for (unsigned i = 0; i < nlines; i++) {
		size_t len = rnd(s) % 4 == 0 ? rnd(s) % max_len : rnd(s) % 12;
		if (len > sizeof(tmp))
			len = sizeof(tmp);
		for (size_t k = 0; k < len; k++) {
			unsigned c = rnd(s) % 20;
			tmp[k] = c == 0 ? '\r' : (char)('a' + c);
		}
		put(&b, tmp, len);
		unsigned e = rnd(s) % 8;
		if (i + 1 == nlines && e == 0)
			break; /* no final newline */
		put(&b, e == 1 ? "\r\n" : "\n", e == 1 ? 2 : 1);
	}
	return b;
}

/* The reference: split at \n, drop the \r of a \r\n; a trailing piece
 * without \n is a line; longer than max_line is -E2BIG. Calls each(r, s,
 * n) in order. */
struct item {
	int r;
	const char *s;
	size_t n;
};

static size_t reference(const struct buf *b, size_t max_line,
			struct item *out)
{
	size_t k = 0, start = 0;
	for (size_t i = 0; i <= b->n; i++) {
		bool eol = i < b->n && b->p[i] == '\n';
		if (!eol && !(i == b->n && start < b->n))
			continue;
		size_t n = i - start;
		if (eol && n && b->p[i - 1] == '\r')
			n--;
		out[k++] = n > max_line ? (struct item){-E2BIG, NULL, 0}
				       : (struct item){1, b->p + start, n};
		start = i + 1;
	}
	return k;
}

static void write_file(const char *path, const struct buf *b)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT(fd >= 0);
	ASSERT_EQ(write(fd, b->p, b->n), (long long)b->n);
	close(fd);
}

static void check_lines(urio_lines *ls, const struct buf *b, size_t max_line)
{
	struct item *exp = malloc((b->n + 2) * sizeof(*exp));
	ASSERT(exp);
	size_t n = reference(b, max_line, exp);
	urio_slice line;
	for (size_t i = 0; i < n; i++) {
		int r = urio_lines_next(ls, &line);
		if (r != exp[i].r)
			fprintf(stderr, "line %zu of %zu\n", i, n);
		ASSERT_EQ(r, exp[i].r);
		ASSERT_EQ(urio_lines_lineno(ls), i + 1);
		if (r == 1) {
			ASSERT_EQ(line.len, exp[i].n);
			ASSERT(!line.len ||
			       memcmp(line.ptr, exp[i].s, line.len) == 0);
		}
	}
	ASSERT_EQ(urio_lines_next(ls, &line), 0);
	ASSERT_EQ(urio_lines_next(ls, &line), 0);
	free(exp);
}

/* Blocks against the reference: each block split at its \n (a \r before
 * one dropped; a last piece without one, at the end of the file only, kept
 * whole) gives the next reference lines, an -E2BIG return the next
 * reference -E2BIG; lineno is the number of the last line returned. */
static void check_blocks(urio_lines *ls, const struct buf *b, size_t max_line)
{
	struct item *exp = malloc((b->n + 2) * sizeof(*exp));
	ASSERT(exp);
	size_t n = reference(b, max_line, exp), i = 0;
	urio_slice blk;
	int r;
	while ((r = urio_lines_next_block(ls, &blk)) != 0) {
		ASSERT(i < n);
		if (r < 0) {
			ASSERT_EQ(r, -E2BIG);
			ASSERT_EQ(exp[i].r, -E2BIG);
			ASSERT_EQ(urio_lines_lineno(ls), ++i);
			continue;
		}
		ASSERT_EQ(r, 1);
		ASSERT(blk.len > 0);
		for (const char *p = blk.ptr, *e = blk.ptr + blk.len; p < e;) {
			const char *nl = memchr(p, '\n', (size_t)(e - p));
			size_t len = nl ? (size_t)(nl - p) : (size_t)(e - p);
			if (nl && len && p[len - 1] == '\r')
				len--;
			ASSERT(i < n);
			if (exp[i].r != 1)
				fprintf(stderr, "line %zu of %zu\n", i, n);
			ASSERT_EQ(exp[i].r, 1);
			ASSERT_EQ(len, exp[i].n);
			ASSERT(!len || memcmp(p, exp[i].s, len) == 0);
			i++;
			p = nl ? nl + 1 : e;
		}
		ASSERT_EQ(urio_lines_lineno(ls), i);
	}
	ASSERT_EQ(i, n);
	ASSERT_EQ(urio_lines_next_block(ls, &blk), 0);
	free(exp);
}

/* --- property: lines and blocks against the reference ------------------ */

static intptr_t property(void *arg)
{
	char path[96];
	snprintf(path, sizeof(path), "%s/prop", dir);
	for (uint64_t seed = 1; seed <= SEEDS; seed++) {
		uint64_t s = seed * 7919 + workers;
		size_t chunk = 1 + rnd(&s) % (rnd(&s) % 2 ? 64 : 5000);
		struct buf b = gen_text(&s, 3 * chunk + 8);
		write_file(path, &b);
		urio_lines_opts o = {.chunk_size = chunk,
				     .max_line = 1 + rnd(&s) % (2 * chunk + 4),
				     .readahead = rnd(&s) % 3,
				     .direct = rnd(&s) % 4 == 0};
		urio_lines *ls = urio_lines_open(path, &o);
		ASSERT(ls);
		check_lines(ls, &b, o.max_line);
		urio_lines_close(ls);

		/* blocks: whole lines, concatenating to the file */
		ls = urio_lines_open(path, &o);
		ASSERT(ls);
		check_blocks(ls, &b, o.max_line);
		urio_lines_close(ls);
		o.max_line = b.n + 2; /* no line too long: the whole file */
		ls = urio_lines_open(path, &o);
		ASSERT(ls);
		urio_slice blk;
		size_t at = 0;
		int r;
		while ((r = urio_lines_next_block(ls, &blk)) == 1) {
			ASSERT(blk.len > 0);
			ASSERT(at + blk.len <= b.n);
			ASSERT(memcmp(blk.ptr, b.p + at, blk.len) == 0);
			at += blk.len;
			ASSERT(blk.ptr[blk.len - 1] == '\n' || at == b.n);
		}
		ASSERT_EQ(r, 0);
		ASSERT_EQ(at, b.n);
		urio_lines_close(ls);
		free(b.p);
	}
	unlink(path);
	return 0;
}

/* Chunks: the file back in order, from an offset, O_DIRECT or not. */
static intptr_t chunks(void *arg)
{
	char path[96];
	snprintf(path, sizeof(path), "%s/chunks", dir);
	uint64_t s = 42 + workers;
	struct buf b = {0};
	for (int i = 0; i < 300000; i++) {
		char c = (char)('a' + rnd(&s) % 26);
		put(&b, &c, 1);
	}
	write_file(path, &b);
	for (int mode = 0; mode < 4; mode++) {
		urio_lines_opts o = {.chunk_size = mode & 1 ? 4096 : 1000,
				     .direct = mode & 2,
				     .start = 777 * mode};
		urio_chunks *cs = urio_chunks_open(path, &o);
		ASSERT(cs);
		size_t at = (size_t)o.start;
		urio_slice c;
		int r;
		while ((r = urio_chunks_next(cs, &c)) == 1) {
			ASSERT(c.len > 0 && at + c.len <= b.n);
			ASSERT(memcmp(c.ptr, b.p + at, c.len) == 0);
			at += c.len;
			ASSERT_EQ(urio_chunks_offset(cs), at);
		}
		ASSERT_EQ(r, 0);
		ASSERT_EQ(at, b.n);
		ASSERT_EQ(urio_chunks_next(cs, &c), 0);
		urio_chunks_close(cs);
	}
	/* closed at once, with its reads in flight */
	urio_chunks *cs = urio_chunks_open(path, NULL);
	ASSERT(cs);
	urio_chunks_close(cs);
	urio_slice c;
	cs = urio_chunks_open(path, NULL);
	ASSERT_EQ(urio_chunks_next(cs, &c), 1);
	urio_chunks_close(cs);
	free(b.p);
	unlink(path);
	return 0;
}

/* Over-long lines are -E2BIG items; the lines after them still come. */
static intptr_t too_long(void *arg)
{
	char path[96];
	snprintf(path, sizeof(path), "%s/long", dir);
	struct buf b = {0};
	char big[3000];
	memset(big, 'x', sizeof(big));
	put(&b, "short\n", 6);
	put(&b, big, sizeof(big)); /* crosses several chunks */
	put(&b, "\nok\r\n", 5);
	put(&b, big, 100); /* inside one chunk */
	put(&b, "\nend", 4);
	put(&b, big, 200); /* the last line, too long, no newline */
	write_file(path, &b);
	urio_lines_opts o = {.chunk_size = 512, .max_line = 64};
	urio_lines *ls = urio_lines_open(path, &o);
	ASSERT(ls);
	urio_slice l;
	ASSERT_EQ(urio_lines_next(ls, &l), 1);
	ASSERT(l.len == 5 && memcmp(l.ptr, "short", 5) == 0);
	ASSERT_EQ(urio_lines_next(ls, &l), -E2BIG);
	ASSERT_EQ(urio_lines_next(ls, &l), 1);
	ASSERT(l.len == 2 && memcmp(l.ptr, "ok", 2) == 0);
	ASSERT_EQ(urio_lines_next(ls, &l), -E2BIG);
	ASSERT_EQ(urio_lines_next(ls, &l), -E2BIG);
	ASSERT_EQ(urio_lines_next(ls, &l), 0);
	ASSERT_EQ(urio_lines_lineno(ls), 5);
	urio_lines_close(ls);

	/* the same in blocks: a block ends before a line too long, which is
	 * an item of its own, and every line is counted */
	ls = urio_lines_open(path, &o);
	ASSERT(ls);
	ASSERT_EQ(urio_lines_next_block(ls, &l), 1);
	ASSERT(l.len == 6 && memcmp(l.ptr, "short\n", 6) == 0);
	ASSERT_EQ(urio_lines_lineno(ls), 1);
	ASSERT_EQ(urio_lines_next_block(ls, &l), -E2BIG);
	ASSERT_EQ(urio_lines_lineno(ls), 2);
	ASSERT_EQ(urio_lines_next_block(ls, &l), 1);
	ASSERT(l.len == 4 && memcmp(l.ptr, "ok\r\n", 4) == 0);
	ASSERT_EQ(urio_lines_lineno(ls), 3);
	ASSERT_EQ(urio_lines_next_block(ls, &l), -E2BIG);
	ASSERT_EQ(urio_lines_lineno(ls), 4);
	ASSERT_EQ(urio_lines_next_block(ls, &l), -E2BIG);
	ASSERT_EQ(urio_lines_lineno(ls), 5);
	ASSERT_EQ(urio_lines_next_block(ls, &l), 0);
	urio_lines_close(ls);
	o.no_lineno = true; /* not kept */
	ls = urio_lines_open(path, &o);
	ASSERT_EQ(urio_lines_next_block(ls, &l), 1);
	ASSERT_EQ(urio_lines_lineno(ls), 0);
	urio_lines_close(ls);
	free(b.p);

	/* the same through the iterator protocol */
	ls = urio_lines_open(path, &o);
	int r, n = 0, errs = 0;
	urio_slice *line;
	URIO_FOREACH(r, line, urio_lines_iter(ls))
	{
		if (r < 0) {
			ASSERT_EQ(r, -E2BIG);
			errs++;
			continue;
		}
		ASSERT(line->len <= 64);
		n++;
	}
	ASSERT_EQ(n, 2);
	ASSERT_EQ(errs, 3);
	unlink(path);
	return 0;
}

static intptr_t empty(void *arg)
{
	char path[96];
	snprintf(path, sizeof(path), "%s/empty", dir);
	struct buf b = {0};
	write_file(path, &b);
	urio_slice l;
	for (int direct = 0; direct < 2; direct++) {
		urio_lines_opts o = {.direct = direct};
		urio_lines *ls = urio_lines_open(path, &o);
		ASSERT(ls);
		ASSERT_EQ(urio_lines_next(ls, &l), 0);
		ASSERT_EQ(urio_lines_next_block(ls, &l), 0);
		urio_lines_close(ls);
	}
	/* "\n" alone is one empty line; "\r\n" too */
	b.p = (char *)"\r\n\n";
	b.n = 3;
	write_file(path, &b);
	urio_lines *ls = urio_lines_open(path, NULL);
	ASSERT_EQ(urio_lines_next(ls, &l), 1);
	ASSERT_EQ(l.len, 0);
	ASSERT_EQ(urio_lines_next(ls, &l), 1);
	ASSERT_EQ(l.len, 0);
	ASSERT_EQ(urio_lines_next(ls, &l), 0);
	urio_lines_close(ls);
	unlink(path);
	return 0;
}

/* --- pipes and stdin ------------------------------------------------------ */

struct feed {
	int fd;
	struct buf *b;
	uint64_t seed;
};

/* Writes b into a pipe in random pieces, with yields between, then
 * closes it. */
static intptr_t feeder(void *arg)
{
	struct feed *f = arg;
	uint64_t s = f->seed;
	size_t at = 0;
	while (at < f->b->n) {
		size_t n = 1 + rnd(&s) % 700;
		if (n > f->b->n - at)
			n = f->b->n - at;
		ssize_t w = urio_write(f->fd, f->b->p + at, n, -1);
		ASSERT(w > 0);
		at += (size_t)w;
		if (rnd(&s) % 3 == 0)
			urio_yield();
	}
	ASSERT_EQ(urio_close(f->fd), 0);
	return 0;
}

static intptr_t pipes(void *arg)
{
	for (uint64_t seed = 1; seed <= 30; seed++) {
		uint64_t s = seed;
		struct buf b = gen_text(&s, 3000);
		int p[2];
		ASSERT_EQ(pipe2(p, O_CLOEXEC | (seed % 2 ? O_NONBLOCK : 0)), 0);
		struct feed f = {p[1], &b, seed};
		urio_task *t = urio_spawn(feeder, &f);
		ASSERT(t);
		urio_lines_opts o = {.chunk_size = 1 + seed * 37 % 2000,
				     .max_line = 4000};
		urio_lines *ls;
		if (seed % 3 == 0) {
			/* stdin: the pipe as fd 0 */
			ASSERT_EQ(dup2(p[0], STDIN_FILENO), STDIN_FILENO);
			ls = urio_lines_open("-", &o);
		} else {
			ls = urio_lines_open_fd(p[0], &o);
		}
		ASSERT(ls);
		check_lines(ls, &b, o.max_line);
		urio_lines_close(ls);
		ASSERT_EQ(urio_join(t, NULL), 0);
		close(p[0]);
		free(b.p);
	}
	return 0;
}

/* A read in flight on a pipe that never gets data: closing cancels it;
 * a cancelled reader gets -ECANCELED and can still close. */
static atomic_int reading;

static intptr_t stuck_reader(void *arg)
{
	urio_lines *ls = arg;
	urio_slice l;
	atomic_store(&reading, 1);
	int r = urio_lines_next(ls, &l);
	ASSERT_EQ(r, -ECANCELED);
	ASSERT_EQ(urio_lines_next(ls, &l), -ECANCELED);
	urio_lines_close(ls);
	return 0;
}

static intptr_t close_inflight(void *arg)
{
	int p[2];
	ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
	urio_lines *ls = urio_lines_open_fd(p[0], NULL);
	ASSERT(ls);
	urio_lines_close(ls); /* nothing read yet */
	ls = urio_lines_open_fd(p[0], NULL);
	ASSERT_EQ(urio_write(p[1], "a\nb", 3, -1), 3);
	urio_slice l;
	ASSERT_EQ(urio_lines_next(ls, &l), 1);
	ASSERT_EQ(l.len, 1);
	urio_lines_close(ls); /* a read of the rest in flight */

	ls = urio_lines_open_fd(p[0], NULL);
	atomic_store(&reading, 0);
	urio_task *t = urio_spawn(stuck_reader, ls);
	ASSERT(t);
	POLL(atomic_load(&reading));
	urio_sleep_ms(5); /* best effort: let it park in the read */
	ASSERT_EQ(urio_cancel(t), 0);
	ASSERT_EQ(urio_join(t, NULL), -ECANCELED);
	close(p[0]);
	close(p[1]);
	return 0;
}

/* errno cleared afresh (read with urio_errno): the open suspended and may
 * have resumed on another worker, and the compiler may keep the errno
 * address of the thread the calling function started on (glibc's
 * __errno_location is a const function). */
static __attribute__((noinline)) void err_clear(void)
{
	__asm__ volatile("" ::: "memory");
	errno = 0;
}

static intptr_t bad_args(void *arg)
{
	urio_slice l;
	ASSERT(!urio_lines_open(NULL, NULL) && urio_errno() == EFAULT);
	ASSERT(!urio_lines_open("/nonexistent/x", NULL));
	ASSERT_EQ(urio_errno(), ENOENT);
	urio_lines_opts o = {.readahead = 3};
	ASSERT(!urio_lines_open("/dev/null", &o) && urio_errno() == EINVAL);
	o = (urio_lines_opts){.follow = true}; /* no end to wait at */
	ASSERT(!urio_lines_open("/dev/null", &o) && urio_errno() == ESPIPE);
	ASSERT(!urio_chunks_open("/dev/null", &o) && urio_errno() == ESPIPE);
	o = (urio_lines_opts){.start = -1};
	ASSERT(!urio_chunks_open("/dev/null", &o) && urio_errno() == EINVAL);
	ASSERT(!urio_lines_open_fd(-1, NULL) && urio_errno() == EBADF);
	ASSERT(!urio_chunks_open_fd(12345, NULL) && urio_errno() == EBADF);
	ASSERT_EQ(urio_lines_next(NULL, &l), -EINVAL);
	ASSERT_EQ(urio_lines_next_block(NULL, &l), -EINVAL);
	ASSERT_EQ(urio_chunks_next(NULL, &l), -EINVAL);
	urio_lines_close(NULL);
	urio_chunks_close(NULL);
	/* a directory: the read fails, once, then the end */
	urio_lines *ls = urio_lines_open(dir, NULL);
	ASSERT(ls);
	ASSERT_EQ(urio_lines_next(ls, &l), -EISDIR);
	ASSERT_EQ(urio_lines_next(ls, &l), 0);
	urio_lines_close(ls);
	return 0;
}

/* Failing opens that suspend (the open goes through the ring) in two
 * tasks at once, so they resume on either worker: errno, cleared on the
 * thread before each call, must hold the error on the thread after it. */
static intptr_t failing_opens(void *arg)
{
	urio_lines_opts o = {.follow = true};
	for (int i = 0; i < 300; i++) {
		err_clear();
		ASSERT(!urio_lines_open("/nonexistent/x", NULL));
		ASSERT_EQ(urio_errno(), ENOENT);
		err_clear();
		ASSERT(!urio_chunks_open("/dev/null", &o)); /* opened, then refused */
		ASSERT_EQ(urio_errno(), ESPIPE);
		if (i % 7 == 0)
			urio_yield();
	}
	return 0;
}

static intptr_t errno_migrating(void *arg)
{
	urio_task *t[2];
	for (int i = 0; i < 2; i++)
		ASSERT(t[i] = urio_spawn(failing_opens, NULL));
	for (int i = 0; i < 2; i++)
		ASSERT_EQ(urio_join(t[i], NULL), 0);
	return 0;
}

static void run(const char *name, urio_fn fn)
{
	for (workers = 1; workers <= 2; workers++) {
		urio_config cfg = {.workers = workers};
		intptr_t res = -1;
		ASSERT_EQ(urio_run(&cfg, fn, NULL, &res), 0);
		ASSERT_EQ(res, 0);
	}
	printf("ok %s\n", name);
}

int main(void)
{
	strcpy(dir, "/var/tmp/urio-lines-XXXXXX");
	ASSERT(mkdtemp(dir));
	/* outside a task: EPERM */
	ASSERT(!urio_lines_open("/dev/null", NULL) && errno == EPERM);
	ASSERT(!urio_chunks_open_fd(0, NULL) && errno == EPERM);
	run("property", property);
	run("chunks", chunks);
	run("too_long", too_long);
	run("empty", empty);
	run("pipes", pipes);
	run("close_inflight", close_inflight);
	run("bad_args", bad_args);
	run("errno_migrating", errno_migrating);
	rmdir(dir);
	return 0;
}
