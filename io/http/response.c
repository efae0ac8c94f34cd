/* HTTP/1.1 responses read off a pooled connection, parsed by libhttp-parser
 * in HTTP_RESPONSE mode.
 *
 * One buffer per response: the status line and headers stay at its start
 * (recorded as offsets while the buffer may still grow, turned into
 * pointers once they are complete, after which it never moves), and each
 * round of body bytes is received behind them and de-chunked in place, so
 * a chunk handed to the caller is a slice of the buffer with no copy. The
 * parser is paused at the end of the headers and at the end of the
 * message: bytes past the message mean the connection is out of step, and
 * it is closed instead of pooled. Whatever is buffered when the headers
 * are in is parsed at once, so a small response gives its connection back
 * before the caller has read a byte of the body. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <urio/io.h>

#include "client.h"

#define MIN_ROOM 1024u
#define BODY_ROOM_MAX (64u << 10)

static urio_http_response *of(http_parser *hp)
{
	return hp->data;
}

static int on_begin(http_parser *hp)
{
	urio_http_response *r = of(hp);
	r->nhdr = 0;
	r->in_value = false;
	return 0;
}

static int on_field(http_parser *hp, const char *at, size_t n)
{
	urio_http_response *r = of(hp);
	if (r->headers_done)
		return 0; /* a chunked body's trailers: not kept */
	if (r->in_value || !r->nhdr) {
		if (r->nhdr == r->max_hdr) {
			r->err = -EMSGSIZE;
			return 1;
		}
		struct hdr_off *h = &r->hoff[r->nhdr++];
		h->name = (uint32_t)(at - r->buf);
		h->name_len = h->value_len = 0;
		h->value = h->name;
		r->in_value = false;
	}
	r->hoff[r->nhdr - 1].name_len += (uint32_t)n; /* contiguous pieces */
	return 0;
}

static int on_value(http_parser *hp, const char *at, size_t n)
{
	urio_http_response *r = of(hp);
	if (r->headers_done)
		return 0;
	struct hdr_off *h = &r->hoff[r->nhdr - 1];
	if (!r->in_value) {
		h->value = (uint32_t)(at - r->buf);
		r->in_value = true;
	}
	h->value_len += (uint32_t)n;
	return 0;
}

/* Returns 1 ("no body") for what has none whatever its headers say: the
 * answer to HEAD, 1xx, 204 and 304. */
static int on_headers(http_parser *hp)
{
	urio_http_response *r = of(hp);
	unsigned st = hp->status_code;
	if (st / 100 == 1) {
		if (st == 101) { /* never asked for */
			r->err = -EBADMSG;
			return -1;
		}
		return 1; /* interim: the real response follows */
	}
	r->status = (int)st;
	r->headers_done = true;
	r->length = (hp->flags & F_CONTENTLENGTH) && !(hp->flags & F_CHUNKED) ?
		(long long)hp->content_length : -1;
	r->nobody = r->head || st == 204 || st == 304;
	http_parser_pause(hp, 1);
	return r->nobody;
}

/* Moves each piece down behind the body bytes already in this round. */
static int on_body(http_parser *hp, const char *at, size_t n)
{
	urio_http_response *r = of(hp);
	char *to = r->buf + r->hend + r->out;
	if (at != to)
		memmove(to, at, n);
	r->out += n;
	return 0;
}

static int on_complete(http_parser *hp)
{
	urio_http_response *r = of(hp);
	if (!r->headers_done)
		return 0; /* the end of a 1xx */
	r->complete = true;
	r->keep_alive = http_should_keep_alive(hp);
	http_parser_pause(hp, 1);
	return 0;
}

static const http_parser_settings settings = {
	.on_message_begin = on_begin,
	.on_header_field = on_field,
	.on_header_value = on_value,
	.on_headers_complete = on_headers,
	.on_body = on_body,
	.on_message_complete = on_complete,
};

urio_http_response *urio__http_response_new(urio_http_session *s, size_t cap)
{
	urio_http_response *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->s = s;
	r->max_hdr = s->o.max_headers;
	r->length = -1;
	r->buf = malloc(cap);
	r->hoff = malloc(r->max_hdr * sizeof(*r->hoff));
	if (!r->buf || !r->hoff) {
		free(r->hoff);
		free(r->buf);
		free(r);
		return NULL;
	}
	r->cap = cap;
	return r;
}

int urio__http_reserve(urio_http_response *r, size_t n)
{
	if (n <= r->cap)
		return 0;
	size_t cap = r->cap * 2 > n ? r->cap * 2 : n;
	char *b = realloc(r->buf, cap);
	if (!b)
		return -ENOMEM;
	r->buf = b;
	r->cap = cap;
	return 0;
}

void urio__http_enter(urio_http_response *r, urio_deadline *d)
{
	if (r->deadline_ns)
		urio_timeout_enter_at(d, r->deadline_ns);
}

int urio__http_exit(urio_http_response *r, urio_deadline *d, int err)
{
	if (!r->deadline_ns)
		return err;
	int t = urio_timeout_exit(d);
	return err < 0 && t == -ETIMEDOUT ? -ETIMEDOUT : err;
}

/* Parses the bytes at p: how many were taken, or -errno. */
static ssize_t run(urio_http_response *r, const char *p, size_t n)
{
	http_parser_pause(&r->hp, 0);
	size_t k = http_parser_execute(&r->hp, &settings, p, n);
	enum http_errno e = HTTP_PARSER_ERRNO(&r->hp);
	if (e == HPE_OK || e == HPE_PAUSED)
		return (ssize_t)k;
	if (r->err)
		return r->err;
	if (e == HPE_HEADER_OVERFLOW)
		return -EMSGSIZE;
	if (e == HPE_INVALID_EOF_STATE)
		return -ECONNRESET;
	return -EBADMSG;
}

static int fail(urio_http_response *r, int err)
{
	if (!r->err)
		r->err = err;
	urio__http_release(r, false);
	return r->err;
}

/* Parses what is buffered past r->parsed (no I/O); gives the connection
 * back once the message is complete. */
static int parse_buffered(urio_http_response *r)
{
	ssize_t k = run(r, r->buf + r->parsed, r->len - r->parsed);
	if (k < 0)
		return fail(r, (int)k);
	r->parsed += (size_t)k;
	if (r->complete)
		urio__http_release(r, r->keep_alive && r->parsed == r->len);
	return 0;
}

/* Room behind the headers for the body's rounds, then the header pointers:
 * the buffer does not move after this. */
static int settle(urio_http_response *r)
{
	r->hend = r->parsed;
	/* a known length needs no more room than itself (a small answer
	 * costs no realloc); chunked or to-close bodies get the most */
	size_t room = BODY_ROOM_MAX;
	if (r->nobody)
		room = 0;
	else if (r->length >= 0 && r->length < BODY_ROOM_MAX)
		room = (size_t)r->length;
	size_t need = r->hend + room;
	if (need < r->len)
		need = r->len;
	if (urio__http_reserve(r, need) < 0)
		return -ENOMEM;
	r->hdrs = malloc((r->nhdr ? r->nhdr : 1) * sizeof(*r->hdrs));
	if (!r->hdrs)
		return -ENOMEM;
	for (unsigned i = 0; i < r->nhdr; i++)
		r->hdrs[i] = (urio_http_header){
			.name = r->buf + r->hoff[i].name,
			.name_len = r->hoff[i].name_len,
			.value = r->buf + r->hoff[i].value,
			.value_len = r->hoff[i].value_len,
		};
	return 0;
}

int urio__http_read_head(urio_http_response *r)
{
	size_t max = r->s->o.max_header_bytes;
	http_parser_init(&r->hp, HTTP_RESPONSE);
	r->hp.data = r;
	r->got = 0;
	for (;;) {
		if (r->parsed < r->len) {
			ssize_t k = run(r, r->buf + r->parsed,
					r->len - r->parsed);
			if (k < 0)
				return (int)k;
			r->parsed += (size_t)k;
			if (r->headers_done)
				break;
		}
		if (r->len >= max)
			return -EMSGSIZE;
		if (r->cap - r->len < MIN_ROOM &&
		    urio__http_reserve(r, r->len + MIN_ROOM) < 0)
			return -ENOMEM;
		size_t room = r->cap - r->len;
		if (room > max - r->len)
			room = max - r->len;
		ssize_t n = urio_recv(r->c->fd, r->buf + r->len, room, 0);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -ECONNRESET;
		r->len += (size_t)n;
		r->got += (size_t)n;
	}
	int err = settle(r);
	if (err == 0)
		err = parse_buffered(r);
	return err;
}

int urio_http_body_next(urio_http_response *r, urio_slice *chunk)
{
	if (!r || !chunk)
		return -EINVAL;
	if (r->err)
		return r->err;
	if (r->item.ptr == r->buf + r->hend) /* the last chunk is consumed */
		r->out = 0;
	r->item.ptr = NULL;
	for (;;) {
		if (r->out) {
			chunk->ptr = r->item.ptr = r->buf + r->hend;
			chunk->len = r->item.len = r->out;
			return 1;
		}
		if (r->complete)
			return 0;
		if (r->parsed < r->len) {
			int err = parse_buffered(r);
			if (err < 0)
				return err;
			continue;
		}
		r->len = r->parsed = r->hend; /* all taken: the next round */
		urio_deadline d;
		urio__http_enter(r, &d);
		ssize_t n = urio_recv(r->c->fd, r->buf + r->hend,
				      r->cap - r->hend, 0);
		n = urio__http_exit(r, &d, (int)n);
		if (n < 0)
			return fail(r, (int)n);
		if (n == 0) { /* a body that runs to the close ends here */
			ssize_t k = run(r, NULL, 0);
			if (k < 0)
				return fail(r, (int)k);
			if (!r->complete)
				return fail(r, -ECONNRESET);
			urio__http_release(r, false);
			continue;
		}
		r->len += (size_t)n;
		r->got += (size_t)n;
	}
}

static int append(urio_http_response *r, const urio_slice *c, size_t max)
{
	if (!c->len)
		return 0;
	if (c->len > max - r->all_len)
		return -E2BIG;
	if (r->all_len + c->len > r->all_cap) {
		size_t cap = r->all_cap ? r->all_cap * 2 : 16384;
		while (cap < r->all_len + c->len)
			cap *= 2;
		if (cap > max)
			cap = max;
		char *b = realloc(r->all, cap);
		if (!b)
			return -ENOMEM;
		r->all = b;
		r->all_cap = cap;
	}
	memcpy(r->all + r->all_len, c->ptr, c->len);
	r->all_len += c->len;
	return 0;
}

int urio_http_response_read_all(urio_http_response *r, size_t max,
				urio_slice *body)
{
	if (!r)
		return -EINVAL;
	if (r->have_whole) {
		if (body)
			*body = r->whole;
		return 0;
	}
	if (!r->nobody && r->length > 0 &&
	    (unsigned long long)r->length > max)
		return fail(r, -E2BIG);
	urio_slice c, whole = {"", 0};
	int k;
	bool copied = false;
	while ((k = urio_http_body_next(r, &c)) == 1) {
		if (!copied && !whole.len && r->complete) {
			whole = c; /* the buffer receives no more: no copy */
			continue;
		}
		int err = append(r, &whole, max);
		if (err == 0)
			err = append(r, &c, max);
		if (err < 0)
			return fail(r, err);
		copied = true;
		whole.len = 0;
	}
	if (k < 0)
		return k;
	if (copied)
		whole = (urio_slice){r->all, r->all_len};
	else if (whole.len > max)
		return fail(r, -E2BIG);
	r->whole = whole;
	r->have_whole = true;
	if (body)
		*body = whole;
	return 0;
}

static int iter_next(urio_iter *it, void **item)
{
	urio_http_response *r = (urio_http_response *)it;
	urio_slice c;
	int k = urio_http_body_next(r, &c);
	if (k == 1)
		*item = &r->item;
	return k;
}

static void iter_close(urio_iter *it)
{
	(void)it; /* the response's own: urio_http_response_free frees it */
}

static const urio_iter_ops body_ops = {iter_next, iter_close};

urio_iter *urio_http_response_body(urio_http_response *r)
{
	if (!r)
		return NULL;
	r->it.ops = &body_ops;
	return &r->it;
}

int urio_http_response_status(const urio_http_response *r)
{
	return r ? r->status : -EINVAL;
}

long long urio_http_response_length(const urio_http_response *r)
{
	return r ? r->length : -1;
}

unsigned urio_http_response_headers(const urio_http_response *r,
				    const urio_http_header **h)
{
	if (!r || !h)
		return 0;
	*h = r->hdrs;
	return r->nhdr;
}

const char *urio_http_response_header(const urio_http_response *r,
				      const char *name, size_t *len)
{
	if (!r || !name)
		return NULL;
	size_t n = strlen(name);
	for (unsigned i = 0; i < r->nhdr; i++)
		if (r->hdrs[i].name_len == n &&
		    !strncasecmp(r->hdrs[i].name, name, n)) {
			if (len)
				*len = r->hdrs[i].value_len;
			return r->hdrs[i].value;
		}
	return NULL;
}

void urio_http_response_free(urio_http_response *r)
{
	if (!r)
		return;
	urio__http_release(r, false); /* still held: the body was not read */
	free(r->all);
	free(r->hdrs);
	free(r->hoff);
	free(r->buf);
	free(r);
}
