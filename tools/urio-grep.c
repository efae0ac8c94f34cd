/* urio-grep: a log scanner on urio's chunk and line iterators.
 *
 * Each file is read in blocks of whole lines (urio_lines_next_block) with
 * the next reads in flight; a block is searched as a whole and line bounds
 * are found only around a match. A fixed string is found by comparing two
 * of its rarest bytes at 32 (AVX2) or 16 (SSE2) positions at once and
 * checking the candidates; a regular expression is run over the block with
 * REG_NEWLINE, so ^, $ and . stop at line ends.
 *
 * Files are scanned by a few tasks on the runtime's workers, each taking
 * the next file in turn. Output keeps grep's order (file by file): a task
 * buffers its file's matches and writes them once the files before it are
 * done, writing straight through from then on. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <immintrin.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <urio.h>
#include <urio/lines.h>

#define MAX_LINE (64u << 20) /* longer lines are skipped with a warning */
#define OUT_HELD (1u << 20)  /* output held back before waiting our turn */

static const char usage[] =
	"Usage: urio-grep [OPTION]... PATTERN [FILE]...\n"
	"Search FILEs (\"-\" or none: standard input) for lines matching\n"
	"PATTERN. Like grep, PATTERN is a basic regular expression, searched\n"
	"as a plain string when it holds none of . [ ] * ^ $ \\.\n"
	"\n"
	"  -E, --extended-regexp  PATTERN is an extended regular expression\n"
	"  -G, --basic-regexp     PATTERN is a basic regular expression\n"
	"      --fixed            PATTERN is a plain string (grep's -F)\n"
	"  -i, --ignore-case      ignore case (regular expression search)\n"
	"  -c, --count            print the number of matching lines per file\n"
	"  -H, --with-filename    prefix matches with the file name (the default\n"
	"                         with several files)\n"
	"  -h, --no-filename      never prefix the file name\n"
	"  -F, --follow           follow the files as tail -F does: wait for\n"
	"                         new lines, across rotation (rename or\n"
	"                         copy + truncate); runs until interrupted\n"
	"  -j, --workers=N        worker threads (default: one per file, at\n"
	"                         most one per CPU)\n"
	"      --chunk=BYTES      read size (default 128 KiB)\n"
	"      --help             this text\n"
	"\n"
	"Exit status: 0 if a line matched, 1 if none did, 2 on an error.\n"
	"Note: -F follows here; grep's -F (fixed strings) is --fixed.\n";

/* --- fixed-string search ----------------------------------------------- */

/* How common a byte is in logs and text, roughly: the search keys on the
 * two rarest bytes of the pattern. */
static unsigned char freq(unsigned char c)
{
	if (c == ' ')
		return 255;
	if (strchr("etaoinsrlhdcu", c) && c)
		return 220;
	if (c >= 'a' && c <= 'z')
		return 160;
	if (c >= '0' && c <= '9')
		return 180;
	if (c >= 'A' && c <= 'Z')
		return 110;
	if (c && strchr(":-./_=,[]()\"'", c))
		return 150;
	if (c >= 0x21 && c < 0x7f)
		return 60;
	return c == '\t' ? 100 : 10;
}

struct finder {
	const char *s;
	size_t n;
	size_t i1, i2; /* positions of the two keys, i1 != i2 unless n == 1 */
};

static void finder_init(struct finder *f, const char *s, size_t n)
{
	f->s = s;
	f->n = n;
	f->i1 = 0;
	for (size_t i = 1; i < n; i++)
		if (freq((unsigned char)s[i]) < freq((unsigned char)s[f->i1]))
			f->i1 = i;
	f->i2 = f->i1 ? 0 : n - 1;
	for (size_t i = 0; i < n; i++)
		if (i != f->i1 &&
		    freq((unsigned char)s[i]) < freq((unsigned char)s[f->i2]))
			f->i2 = i;
}

static const char *find_tail(const struct finder *f, const char *p,
			     const char *end)
{
	size_t n = f->n;
	for (; p + n <= end; p++)
		if (p[f->i1] == f->s[f->i1] && p[f->i2] == f->s[f->i2] &&
		    !memcmp(p, f->s, n))
			return p;
	return NULL;
}

__attribute__((target("avx2"))) static const char *
find_avx2(const struct finder *f, const char *p, const char *end)
{
	size_t n = f->n;
	const __m256i k1 = _mm256_set1_epi8(f->s[f->i1]);
	const __m256i k2 = _mm256_set1_epi8(f->s[f->i2]);
	/* starts p .. p+31 are whole matches' starts while p+31+n <= end */
	while (end - p >= (ptrdiff_t)(n + 31)) {
		__m256i a = _mm256_loadu_si256((const void *)(p + f->i1));
		__m256i b = _mm256_loadu_si256((const void *)(p + f->i2));
		unsigned m = (unsigned)_mm256_movemask_epi8(_mm256_and_si256(
			_mm256_cmpeq_epi8(a, k1), _mm256_cmpeq_epi8(b, k2)));
		while (m) {
			const char *c = p + __builtin_ctz(m);
			if (!memcmp(c, f->s, n))
				return c;
			m &= m - 1;
		}
		p += 32;
	}
	return find_tail(f, p, end);
}

static const char *find_sse2(const struct finder *f, const char *p,
			     const char *end)
{
	size_t n = f->n;
	const __m128i k1 = _mm_set1_epi8(f->s[f->i1]);
	const __m128i k2 = _mm_set1_epi8(f->s[f->i2]);
	while (end - p >= (ptrdiff_t)(n + 15)) {
		__m128i a = _mm_loadu_si128((const void *)(p + f->i1));
		__m128i b = _mm_loadu_si128((const void *)(p + f->i2));
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_and_si128(
			_mm_cmpeq_epi8(a, k1), _mm_cmpeq_epi8(b, k2)));
		while (m) {
			const char *c = p + __builtin_ctz(m);
			if (!memcmp(c, f->s, n))
				return c;
			m &= m - 1;
		}
		p += 16;
	}
	return find_tail(f, p, end);
}

static const char *(*find_fast)(const struct finder *, const char *,
				const char *) = find_sse2;

/* --- the scan ------------------------------------------------------------ */

struct opts {
	const char *pattern;
	bool fixed, count, follow;
	int names; /* -1 default, 0 -h, 1 -H */
	int cflags;
	unsigned workers;
	size_t chunk;
};

static struct opts o = {.names = -1};
static struct finder fnd;
static regex_t re;

struct job {
	const char *path;
	const char *label; /* as printed */
	uint64_t count;
	bool error;
	urio_future *done; /* set once its output is written */
	char *out;
	size_t nout, cap;
	char *rx; /* regex search: the block, NUL-terminated */
	size_t rx_cap;
	bool front; /* the files before it are done: write through */
};

static struct job *jobs;
static size_t njobs;
static atomic_size_t next_job;
static atomic_int any_error, write_failed;

/* The next match in [p, end) as the line that holds it: its start and end
 * (the \n or end). false if none. */
static bool next_match(const char *p, const char *end, const char *base,
		       const char **ls, const char **le)
{
	const char *m;
	if (o.fixed) {
		m = find_fast(&fnd, p, end);
		if (!m)
			return false;
	} else {
		/* from p, which starts a line: ^ sees the \n before it */
		regmatch_t rm = {.rm_so = p - base, .rm_eo = end - base};
		if (regexec(&re, base, 1, &rm, REG_STARTEND))
			return false;
		m = base + rm.rm_so;
		if (m >= end)
			return false; /* an empty match at the very end */
	}
	const char *s = memrchr(p, '\n', (size_t)(m - p));
	*ls = s ? s + 1 : p;
	const char *e = memchr(m, '\n', (size_t)(end - m));
	*le = e ? e : end;
	return true;
}

static int write_all(const char *buf, size_t len)
{
	while (len) {
		ssize_t n = urio_write(1, buf, len, -1);
		if (n < 0)
			return (int)n;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static void flush(struct job *j)
{
	if (!j->nout)
		return;
	if (!atomic_load(&write_failed) && write_all(j->out, j->nout) < 0) {
		atomic_store(&write_failed, 1);
		atomic_store(&any_error, 1);
	}
	j->nout = 0;
}

/* Waits until every earlier file's output is written. */
static void take_turn(struct job *j)
{
	if (j->front)
		return;
	if (j > jobs)
		urio_future_wait(j[-1].done, NULL);
	j->front = true;
}

static void emit(struct job *j, const char *s, size_t n, bool prefix)
{
	size_t pl = prefix ? strlen(j->label) + 1 : 0;
	size_t need = j->nout + pl + n + 1;
	if (need > j->cap) {
		size_t cap = j->cap ? j->cap : 64 << 10;
		while (cap < need)
			cap *= 2;
		char *b = realloc(j->out, cap);
		if (!b) {
			fprintf(stderr, "urio-grep: out of memory\n");
			exit(2);
		}
		j->out = b;
		j->cap = cap;
	}
	char *d = j->out + j->nout;
	if (pl) {
		memcpy(d, j->label, pl - 1);
		d[pl - 1] = ':';
	}
	memcpy(d + pl, s, n);
	d[pl + n] = '\n';
	j->nout = need;
}

/* A NUL-terminated copy of the block for regexec. glibc honours
 * REG_STARTEND's end, but sanitizers' regexec interceptors (GCC 12) read
 * the string up to a NUL; the copy costs little next to the regex. */
static const char *terminated(struct job *j, const char *p, size_t len)
{
	if (len + 1 > j->rx_cap) {
		free(j->rx);
		j->rx_cap = len + 1 > (256u << 10) ? len + 1 : 256u << 10;
		j->rx = malloc(j->rx_cap);
		if (!j->rx) {
			fprintf(stderr, "urio-grep: out of memory\n");
			exit(2);
		}
	}
	memcpy(j->rx, p, len);
	j->rx[len] = 0;
	return j->rx;
}

static void scan_block(struct job *j, const char *p, size_t len,
		       bool prefix)
{
	if (!o.fixed)
		p = terminated(j, p, len);
	const char *end = p + len, *base = p, *ls, *le;
	/* the last line of the file may lack its \n: it is still a line */
	while (p < end && next_match(p, end, base, &ls, &le)) {
		j->count++;
		if (!o.count)
			emit(j, ls, (size_t)(le - ls), prefix);
		p = le + 1;
	}
	if (o.follow) {
		flush(j);
	} else if (j->nout >= OUT_HELD) {
		take_turn(j);
		flush(j);
	} else if (j->front) {
		flush(j);
	}
}

static void scan(struct job *j)
{
	urio_lines_opts lo = {.max_line = MAX_LINE, .follow = o.follow,
			      .chunk_size = o.chunk, .no_lineno = true};
	bool prefix = o.names == 1 || (o.names < 0 && njobs > 1);
	urio_lines *ls = urio_lines_open(j->path, &lo);
	if (!ls) {
		fprintf(stderr, "urio-grep: %s: %s\n", j->label, strerror(errno));
		j->error = true;
		return;
	}
	urio_slice b;
	int r;
	while ((r = urio_lines_next_block(ls, &b)) != 0) {
		if (r == -E2BIG) {
			fprintf(stderr, "urio-grep: %s: a line longer than %u "
				"bytes was skipped\n", j->label, MAX_LINE);
			j->error = true;
			continue;
		}
		if (r < 0) {
			fprintf(stderr, "urio-grep: %s: %s\n", j->label,
				strerror(-r));
			j->error = true;
			break;
		}
		scan_block(j, b.ptr, b.len, prefix);
	}
	urio_lines_close(ls);
}

static intptr_t scanner(void *arg)
{
	size_t i;
	while ((i = atomic_fetch_add(&next_job, 1)) < njobs) {
		struct job *j = &jobs[i];
		scan(j);
		take_turn(j);
		flush(j);
		if (j->error)
			atomic_store(&any_error, 1);
		urio_future_set(j->done, 0);
	}
	return 0;
}

static intptr_t run(void *arg)
{
	/* follow mode: a task per file, as none of them ends */
	size_t ntasks = o.follow ? njobs : (o.workers < njobs ? o.workers : njobs);
	urio_task **t = calloc(ntasks, sizeof(*t));
	if (!t)
		return -ENOMEM;
	size_t n = 0;
	for (; n < ntasks; n++)
		if (!(t[n] = urio_spawn(scanner, NULL)))
			break;
	if (!n)
		return -errno;
	for (size_t i = 0; i < n; i++)
		urio_join(t[i], NULL);
	free(t);
	if (o.count) {
		bool prefix = o.names == 1 || (o.names < 0 && njobs > 1);
		for (size_t i = 0; i < njobs; i++) {
			char line[64];
			int k = snprintf(line, sizeof(line), "%llu",
					 (unsigned long long)jobs[i].count);
			jobs[i].nout = 0;
			emit(&jobs[i], line, (size_t)k, prefix);
			flush(&jobs[i]);
		}
	}
	return 0;
}

/* --- options ------------------------------------------------------------- */

static bool has_meta(const char *s)
{
	return strpbrk(s, ".[]*^$\\") != NULL;
}

static void parse(int argc, char **argv)
{
	enum { FIXED = 256, CHUNK, HELP };
	static const struct option lo[] = {
		{"extended-regexp", no_argument, 0, 'E'},
		{"basic-regexp", no_argument, 0, 'G'},
		{"fixed", no_argument, 0, FIXED},
		{"ignore-case", no_argument, 0, 'i'},
		{"count", no_argument, 0, 'c'},
		{"with-filename", no_argument, 0, 'H'},
		{"no-filename", no_argument, 0, 'h'},
		{"follow", no_argument, 0, 'F'},
		{"workers", required_argument, 0, 'j'},
		{"chunk", required_argument, 0, CHUNK},
		{"help", no_argument, 0, HELP},
		{0, 0, 0, 0},
	};
	int mode = 0; /* 0 guess, 'E', 'G', FIXED */
	int c;
	while ((c = getopt_long(argc, argv, "EGicHhFj:", lo, NULL)) != -1) {
		switch (c) {
		case 'E': case 'G': case FIXED: mode = c; break;
		case 'i': o.cflags |= REG_ICASE; break;
		case 'c': o.count = true; break;
		case 'H': o.names = 1; break;
		case 'h': o.names = 0; break;
		case 'F': o.follow = true; break;
		case 'j': o.workers = (unsigned)atoi(optarg); break;
		case CHUNK: o.chunk = (size_t)strtoull(optarg, NULL, 0); break;
		case HELP: fputs(usage, stdout); exit(0);
		default: fputs(usage, stderr); exit(2);
		}
	}
	if (optind >= argc) {
		fputs(usage, stderr);
		exit(2);
	}
	o.pattern = argv[optind++];
	if (strchr(o.pattern, '\n')) {
		fprintf(stderr, "urio-grep: a pattern with a newline is not "
			"supported\n");
		exit(2);
	}
	/* -i goes to the regex engine, on the pattern taken literally */
	o.fixed = mode == FIXED ||
		  (mode == 0 && !has_meta(o.pattern) && !(o.cflags & REG_ICASE));
	if (!o.fixed) {
		const char *pat = o.pattern;
		char *quoted = NULL;
		if (mode == FIXED) { /* -i with --fixed: quote it as a BRE */
			quoted = malloc(strlen(pat) * 2 + 1);
			if (!quoted)
				exit(2);
			char *d = quoted;
			for (const char *s = pat; *s; s++) {
				if (strchr(".[]*^$\\", *s))
					*d++ = '\\';
				*d++ = *s;
			}
			*d = 0;
			pat = quoted;
		}
		int fl = o.cflags | REG_NEWLINE | (mode == 'E' ? REG_EXTENDED : 0);
		int r = regcomp(&re, pat, fl);
		free(quoted);
		if (r) {
			char msg[256];
			regerror(r, &re, msg, sizeof(msg));
			fprintf(stderr, "urio-grep: %s\n", msg);
			exit(2);
		}
	} else if (!*o.pattern) {
		/* the empty string matches every line: as a regex */
		o.fixed = false;
		regcomp(&re, "", REG_NEWLINE);
	} else {
		finder_init(&fnd, o.pattern, strlen(o.pattern));
		__builtin_cpu_init();
		if (__builtin_cpu_supports("avx2"))
			find_fast = find_avx2;
	}
	static char *dash[] = {"-"};
	char **files = optind < argc ? argv + optind : dash;
	njobs = optind < argc ? (size_t)(argc - optind) : 1;
	jobs = calloc(njobs, sizeof(*jobs));
	if (!jobs)
		exit(2);
	for (size_t i = 0; i < njobs; i++) {
		jobs[i].path = files[i];
		jobs[i].label = strcmp(files[i], "-") ? files[i] : "(standard input)";
		jobs[i].done = urio_future_new();
		if (!jobs[i].done)
			exit(2);
	}
	if (!o.chunk)
		o.chunk = 128 << 10;
}

int main(int argc, char **argv)
{
	parse(argc, argv);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (!o.workers)
		o.workers = (unsigned)(njobs < (size_t)cpus ? njobs : (size_t)cpus);
	if (!o.workers)
		o.workers = 1;
	urio_config cfg = {.workers = o.workers};
	intptr_t res = 0;
	int r = urio_run(&cfg, run, NULL, &res);
	if (r < 0 || res < 0) {
		fprintf(stderr, "urio-grep: %s\n", strerror(-(r < 0 ? r : (int)res)));
		return 2;
	}
	if (atomic_load(&any_error))
		return 2;
	for (size_t i = 0; i < njobs; i++)
		if (jobs[i].count)
			return 0;
	return 1;
}
