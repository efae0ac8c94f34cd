/* Lines of a chunk stream (chunks.c).
 *
 * The fast path is a memchr over the current chunk returning a view into
 * it: no copy. Only a line that crosses a chunk border is copied, into a
 * carry buffer of max_line (+ its line end) bytes, so memory stays bounded
 * whatever the file holds; a longer line is reported as -E2BIG when it is
 * found too long and skipped up to its newline. */
#include <errno.h>
#include <stdlib.h>
#ifdef __x86_64__
#include <immintrin.h>
#endif
#include <string.h>
#include <unistd.h>
#include <urio/lines.h>

#include "chunks.h"
#include "follow.h"

#define DEFAULT_MAX_LINE (1u << 20)

struct urio_lines {
	urio_chunks cs;
	urio_iter iter;
	urio_slice item;
	size_t max_line;
	const char *p, *end; /* the unscanned rest of the current chunk */
	char *carry;         /* the start of a line crossing a border */
	size_t ncarry;
	bool skipping;       /* inside a line already reported as too long */
	bool no_lineno;      /* opts.no_lineno: blocks are not counted */
	uint64_t lineno;
};

/* Strips the \r of a \r\n from a line whose \n is already gone. */
static size_t content_len(const char *s, size_t n)
{
	return n && s[n - 1] == '\r' ? n - 1 : n;
}

/* Appends a piece of a border line; -E2BIG once it cannot fit, and the
 * line is skipped from then on. cap: max_line plus the line end kept. */
static int carry_add(urio_lines *ls, const char *s, size_t n, size_t cap)
{
	if (ls->skipping)
		return 0;
	if (n > cap - ls->ncarry) {
		ls->ncarry = 0;
		ls->skipping = true;
		return -E2BIG;
	}
	memcpy(ls->carry + ls->ncarry, s, n);
	ls->ncarry += n;
	return 0;
}

/* Next chunk into p..end: 1, 0 at EOF, < 0 error. */
static int refill(urio_lines *ls)
{
	urio_slice c;
	int r = urio_chunks_next(&ls->cs, &c);
	if (r > 0) {
		ls->p = c.ptr;
		ls->end = c.ptr + c.len;
	}
	return r;
}

/* The end of a border line (its \n at nl) is in the chunk. */
static int finish_carry(urio_lines *ls, const char *nl, urio_slice *line)
{
	size_t seg = (size_t)(nl - ls->p);
	const char *start = ls->p;
	ls->p = nl + 1;
	if (ls->skipping) {
		ls->skipping = false;
		return 0;
	}
	int r = carry_add(ls, start, seg, ls->max_line + 1);
	if (r < 0) {
		ls->skipping = false; /* its newline is already behind us */
		return r;
	}
	size_t n = content_len(ls->carry, ls->ncarry);
	ls->ncarry = 0;
	if (n > ls->max_line)
		return -E2BIG;
	line->ptr = ls->carry;
	line->len = n;
	return 1;
}

int urio_lines_next(urio_lines *ls, urio_slice *line)
{
	if (!ls || !line)
		return -EINVAL;
	for (;;) {
		size_t avail = (size_t)(ls->end - ls->p);
		const char *nl = avail ? memchr(ls->p, '\n', avail) : NULL;
		if (nl && !ls->ncarry && !ls->skipping) {
			/* fast path: the whole line is in this chunk */
			size_t n = content_len(ls->p, (size_t)(nl - ls->p));
			line->ptr = ls->p;
			ls->p = nl + 1;
			ls->lineno++;
			if (n > ls->max_line)
				return -E2BIG;
			line->len = n;
			return 1;
		}
		if (nl) {
			int r = finish_carry(ls, nl, line);
			if (r != 0) {
				ls->lineno++;
				return r;
			}
			continue;
		}
		if (avail) {
			const char *s = ls->p;
			ls->p = ls->end;
			int r = carry_add(ls, s, avail, ls->max_line + 1);
			if (r < 0) {
				ls->lineno++;
				return r;
			}
		}
		int r = refill(ls);
		if (r < 0)
			return r;
		if (r == 0) {
			if (!ls->ncarry)
				return 0; /* a skipped last line was reported */
			/* a last line without its newline */
			size_t n = ls->ncarry;
			ls->ncarry = 0;
			ls->lineno++;
			if (n > ls->max_line)
				return -E2BIG;
			line->ptr = ls->carry;
			line->len = n;
			return 1;
		}
	}
}

/* Line ends in [s, s + n): vector compares whose matches (-1 each) are
 * summed in byte counters, emptied (vpsadbw) before they can wrap. */
#ifdef __x86_64__
__attribute__((target("avx2"))) static uint64_t count_nl_avx2(const char *s,
							      size_t n)
{
	const __m256i nl = _mm256_set1_epi8('\n'), z = _mm256_setzero_si256();
	uint64_t c = 0;
	size_t i = 0;
	while (n - i >= 64) {
		size_t k = (n - i) / 64;
		if (k > 255)
			k = 255;
		__m256i a = z, b = z;
		for (; k; k--, i += 64) {
			__m256i x = _mm256_loadu_si256((const void *)(s + i));
			__m256i y = _mm256_loadu_si256((const void *)(s + i + 32));
			a = _mm256_sub_epi8(a, _mm256_cmpeq_epi8(x, nl));
			b = _mm256_sub_epi8(b, _mm256_cmpeq_epi8(y, nl));
		}
		__m256i sum = _mm256_add_epi64(_mm256_sad_epu8(a, z),
					       _mm256_sad_epu8(b, z));
		__m128i h = _mm_add_epi64(_mm256_castsi256_si128(sum),
					  _mm256_extracti128_si256(sum, 1));
		c += (uint64_t)_mm_cvtsi128_si64(h) +
		     (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(h, h));
	}
	for (; i < n; i++)
		c += s[i] == '\n';
	return c;
}
#endif

/* Without AVX2 a plain loop, which the compiler vectorizes. */
static uint64_t count_nl(const char *s, size_t n)
{
#ifdef __x86_64__
	if (__builtin_cpu_supports("avx2"))
		return count_nl_avx2(s, n);
#endif
	uint64_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += s[i] == '\n';
	return c;
}

/* The first line of [s, e) (whole lines, s at a line start) longer than
 * max, or NULL. memrchr over the next max + 1 bytes finds the last line
 * end there, and every line ending by then fits; without one, only a
 * \r\n right after max bytes does. So each byte is looked at about once,
 * and a block shorter than max costs nothing. */
static const char *find_long(const char *s, const char *e, size_t max)
{
	while ((size_t)(e - s) > max) {
		const char *nl = memrchr(s, '\n', max + 1);
		if (nl) {
			s = nl + 1;
		} else if ((size_t)(e - s) > max + 1 && s[max + 1] == '\n' &&
			   s[max] == '\r') {
			s += max + 2;
		} else {
			return s;
		}
	}
	return NULL;
}

/* The whole lines at p up to last (a line end): a block, cut short before
 * a line longer than max_line, or -E2BIG when that line comes first. */
static int whole_lines(urio_lines *ls, const char *last, urio_slice *block)
{
	const char *s = ls->p, *e = last + 1;
	const char *bad = find_long(s, e, ls->max_line);
	if (bad == s) {
		ls->p = (const char *)memchr(s, '\n', (size_t)(e - s)) + 1;
		ls->lineno++;
		return -E2BIG;
	}
	if (bad)
		e = bad;
	block->ptr = s;
	block->len = (size_t)(e - s);
	ls->p = e;
	if (!ls->no_lineno)
		ls->lineno += count_nl(s, block->len);
	return 1;
}

/* A border line went on in this chunk (its start in the carry): 1 with it
 * complete, 0 to go on, -E2BIG. */
static int carry_block(urio_lines *ls, size_t avail, urio_slice *block)
{
	const char *nl = memchr(ls->p, '\n', avail);
	const char *s = ls->p;
	size_t n = nl ? (size_t)(nl + 1 - s) : avail;
	ls->p = s + n;
	bool was_skipping = ls->skipping;
	int r = carry_add(ls, s, n, ls->max_line + 2); /* + its \r\n */
	if (nl)
		ls->skipping = false;
	if (r < 0 || (nl && !was_skipping))
		ls->lineno++;
	if (r < 0 || !nl || was_skipping)
		return r;
	if (content_len(ls->carry, ls->ncarry - 1) > ls->max_line) {
		ls->ncarry = 0;
		return -E2BIG;
	}
	block->ptr = ls->carry;
	block->len = ls->ncarry;
	ls->ncarry = 0;
	return 1;
}

int urio_lines_next_block(urio_lines *ls, urio_slice *block)
{
	if (!ls || !block)
		return -EINVAL;
	for (;;) {
		size_t avail = (size_t)(ls->end - ls->p);
		if (avail && (ls->ncarry || ls->skipping)) {
			int r = carry_block(ls, avail, block);
			if (r != 0)
				return r;
			continue;
		}
		if (avail) {
			const char *last = memrchr(ls->p, '\n', avail);
			if (last)
				return whole_lines(ls, last, block);
			const char *s = ls->p;
			ls->p = ls->end;
			int r = carry_add(ls, s, avail, ls->max_line + 2);
			if (r < 0) {
				ls->lineno++;
				return r;
			}
		}
		int r = refill(ls);
		if (r < 0)
			return r;
		if (r == 0) {
			size_t n = ls->ncarry;
			ls->ncarry = 0;
			if (!n)
				return 0;
			ls->lineno++;
			if (n > ls->max_line)
				return -E2BIG;
			block->ptr = ls->carry;
			block->len = n;
			return 1;
		}
	}
}

uint64_t urio_lines_lineno(const urio_lines *ls)
{
	return ls && !ls->no_lineno ? ls->lineno : 0;
}

static int iter_next(urio_iter *it, void **item)
{
	urio_lines *ls = (urio_lines *)((char *)it - offsetof(urio_lines, iter));
	int r = urio_lines_next(ls, &ls->item);
	if (r > 0)
		*item = &ls->item;
	return r;
}

static void iter_close(urio_iter *it)
{
	urio_lines_close((urio_lines *)((char *)it -
					offsetof(urio_lines, iter)));
}

static const urio_iter_ops lines_iter_ops = {iter_next, iter_close};

static urio_lines *open_fd(int fd, bool own, const urio_lines_opts *opts)
{
	urio_lines *ls = urio__calloc(1, sizeof(*ls));
	int r = ls ? urio__chunks_init(&ls->cs, fd, opts) : -ENOMEM;
	if (r < 0)
		goto fail;
	ls->cs.own_fd = own;
	own = false;
	ls->max_line = opts && opts->max_line ? opts->max_line
					      : DEFAULT_MAX_LINE;
	ls->no_lineno = opts && opts->no_lineno;
	r = -EINVAL;
	if (ls->max_line > SIZE_MAX / 2)
		goto fail_cs;
	r = -ENOMEM;
	ls->carry = urio__malloc(ls->max_line + 2);
	if (!ls->carry)
		goto fail_cs;
	ls->iter.ops = &lines_iter_ops;
	return ls;
fail_cs:
	urio__chunks_fini(&ls->cs);
fail:
	if (own)
		close(fd);
	free(ls);
	urio__errno_set(-r);
	return NULL;
}

urio_lines *urio_lines_open(const char *path, const urio_lines_opts *opts)
{
	bool own;
	int fd = urio__chunks_open_path(path, opts, &own);
	if (fd < 0) {
		urio__errno_set(-fd);
		return NULL;
	}
	urio_lines *ls = open_fd(fd, own, opts);
	int r = ls ? urio__follow_opt(&ls->cs, opts, path) : 0;
	if (r < 0) {
		urio_lines_close(ls);
		urio__errno_set(-r);
		return NULL;
	}
	return ls;
}

urio_lines *urio_lines_open_fd(int fd, const urio_lines_opts *opts)
{
	if (!urio_self()) {
		urio__errno_set(EPERM);
		return NULL;
	}
	urio_lines *ls = open_fd(fd, false, opts);
	int r = ls ? urio__follow_opt(&ls->cs, opts, NULL) : 0;
	if (r < 0) {
		urio_lines_close(ls);
		urio__errno_set(-r);
		return NULL;
	}
	return ls;
}

void urio_lines_stop(urio_lines *ls)
{
	if (ls)
		urio__follow_stop(&ls->cs);
}

void urio_lines_close(urio_lines *ls)
{
	if (!ls)
		return;
	urio__chunks_fini(&ls->cs);
	free(ls->carry);
	free(ls);
}

urio_iter *urio_lines_iter(urio_lines *ls)
{
	if (!ls) {
		urio__errno_set(EINVAL);
		return NULL;
	}
	return &ls->iter;
}
