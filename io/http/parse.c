/* HTTP/1.x request parsing over libhttp-parser.
 *
 * The parser owns one buffer per connection. Everything of the request being
 * parsed is kept contiguous from `msg`, and the callbacks record offsets
 * from there, so the buffer may move (compaction, growth) between calls and
 * a request's header, target and body slices need no copy. A chunked body
 * is de-chunked in place: each piece moves down over the chunk framing
 * already parsed. libhttp-parser is paused at every message's end, so
 * pipelined requests come out one at a time, in order. */
#include <errno.h>
#include <http_parser.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <urio/http.h>

#define DEF_MAX_HEADER_BYTES (8u << 10)
#define DEF_MAX_HEADERS 64u
#define DEF_MAX_BODY (1u << 20)
#define MIN_ROOM 2048u

struct hdr_off {
	uint32_t name, name_len, value, value_len;
};

struct urio_http_parser {
	http_parser hp;
	urio_http_limits lim;
	char *buf;
	size_t cap, max_cap;
	size_t msg;    /* where the current message starts */
	size_t parsed; /* bytes of buf given to libhttp-parser */
	size_t len;    /* bytes in buf */
	size_t done;   /* end of the last message returned; 0 when none */
	int err;       /* sticky */
	/* the message being parsed, offsets from msg */
	bool headers_done, complete, in_value, keep_alive;
	uint32_t target, target_len;
	size_t body, body_len;
	bool has_body;
	unsigned nhdr;
	struct hdr_off *hoff;
	urio_http_header *hdrs;
};

static urio_http_parser *of(http_parser *hp)
{
	return hp->data;
}

static size_t off_of(urio_http_parser *p, const char *at)
{
	return (size_t)(at - (p->buf + p->msg));
}

static int on_begin(http_parser *hp)
{
	urio_http_parser *p = of(hp);
	p->headers_done = p->complete = p->in_value = p->has_body = false;
	p->target = p->target_len = 0;
	p->body = p->body_len = 0;
	p->nhdr = 0;
	return 0;
}

static int on_url(http_parser *hp, const char *at, size_t n)
{
	urio_http_parser *p = of(hp);
	if (!p->target_len)
		p->target = (uint32_t)off_of(p, at);
	p->target_len += (uint32_t)n; /* pieces are contiguous in buf */
	return 0;
}

static int on_field(http_parser *hp, const char *at, size_t n)
{
	urio_http_parser *p = of(hp);
	if (p->in_value || !p->nhdr) {
		if (p->nhdr == p->lim.max_headers) {
			p->err = -EMSGSIZE;
			return 1;
		}
		struct hdr_off *h = &p->hoff[p->nhdr++];
		h->name = (uint32_t)off_of(p, at);
		h->name_len = 0;
		h->value = h->name;
		h->value_len = 0;
		p->in_value = false;
	}
	p->hoff[p->nhdr - 1].name_len += (uint32_t)n;
	return 0;
}

static int on_value(http_parser *hp, const char *at, size_t n)
{
	urio_http_parser *p = of(hp);
	struct hdr_off *h = &p->hoff[p->nhdr - 1];
	if (!p->in_value) {
		h->value = (uint32_t)off_of(p, at);
		p->in_value = true;
	}
	h->value_len += (uint32_t)n;
	return 0;
}

static int on_headers(http_parser *hp)
{
	urio_http_parser *p = of(hp);
	p->headers_done = true;
	if (hp->http_major != 1) {
		p->err = -EPROTONOSUPPORT;
		return -1;
	}
	if ((hp->flags & F_CONTENTLENGTH) &&
	    hp->content_length > p->lim.max_body_bytes) {
		p->err = -EFBIG;
		return -1; /* 1 and 2 mean "no body" to libhttp-parser */
	}
	return 0;
}

static int on_body(http_parser *hp, const char *at, size_t n)
{
	urio_http_parser *p = of(hp);
	if (p->body_len + n > p->lim.max_body_bytes) {
		p->err = -EFBIG;
		return 1;
	}
	size_t o = off_of(p, at);
	if (!p->has_body) {
		p->has_body = true;
		p->body = o;
	} else if (o != p->body + p->body_len) {
		/* after chunk framing: close the gap (moves down only) */
		memmove(p->buf + p->msg + p->body + p->body_len, at, n);
	}
	p->body_len += n;
	return 0;
}

static int on_complete(http_parser *hp)
{
	urio_http_parser *p = of(hp);
	p->complete = true;
	p->keep_alive = http_should_keep_alive(hp);
	http_parser_pause(hp, 1); /* one message per urio_http_next */
	return 0;
}

static const http_parser_settings settings = {
	.on_message_begin = on_begin,
	.on_url = on_url,
	.on_header_field = on_field,
	.on_header_value = on_value,
	.on_headers_complete = on_headers,
	.on_body = on_body,
	.on_message_complete = on_complete,
};

urio_http_parser *urio_http_parser_new(const urio_http_limits *lim)
{
	urio_http_parser *p = calloc(1, sizeof(*p));
	if (!p)
		goto fail;
	if (lim)
		p->lim = *lim;
	if (!p->lim.max_header_bytes)
		p->lim.max_header_bytes = DEF_MAX_HEADER_BYTES;
	if (!p->lim.max_headers)
		p->lim.max_headers = DEF_MAX_HEADERS;
	if (!p->lim.max_body_bytes)
		p->lim.max_body_bytes = DEF_MAX_BODY;
	/* headers and body, chunk framing as large again as the body, and
	 * the start of a pipelined request behind them */
	p->max_cap = p->lim.max_header_bytes + 2 * p->lim.max_body_bytes +
		     p->lim.max_header_bytes + MIN_ROOM;
	p->cap = p->lim.max_header_bytes + MIN_ROOM;
	p->buf = malloc(p->cap);
	p->hoff = calloc(p->lim.max_headers, sizeof(*p->hoff));
	p->hdrs = calloc(p->lim.max_headers, sizeof(*p->hdrs));
	if (!p->buf || !p->hoff || !p->hdrs)
		goto fail_free;
	http_parser_init(&p->hp, HTTP_REQUEST);
	p->hp.data = p;
	return p;
fail_free:
	urio_http_parser_free(p);
fail:
	errno = ENOMEM;
	return NULL;
}

void urio_http_parser_free(urio_http_parser *p)
{
	if (!p)
		return;
	free(p->hdrs);
	free(p->hoff);
	free(p->buf);
	free(p);
}

/* Drops the messages already returned: offsets are from msg, so only the
 * buffer-wide positions move. */
static void compact(urio_http_parser *p)
{
	if (p->done > p->msg)
		p->msg = p->done; /* the returned message is gone for good */
	p->done = 0;
	if (!p->msg)
		return;
	memmove(p->buf, p->buf + p->msg, p->len - p->msg);
	p->len -= p->msg;
	p->parsed -= p->msg;
	p->msg = 0;
}

void *urio_http_space(urio_http_parser *p, size_t *room)
{
	if (p->cap - p->len < MIN_ROOM)
		compact(p);
	if (p->cap - p->len < MIN_ROOM && p->cap < p->max_cap) {
		size_t cap = p->cap * 2 > p->max_cap ? p->max_cap : p->cap * 2;
		char *b = realloc(p->buf, cap);
		if (b) {
			p->buf = b;
			p->cap = cap;
		}
	}
	*room = p->cap - p->len;
	return p->buf + p->len;
}

int urio_http_commit(urio_http_parser *p, size_t n)
{
	if (n > p->cap - p->len)
		return -EINVAL;
	p->len += n;
	return 0;
}

int urio_http_feed(urio_http_parser *p, const void *data, size_t len)
{
	const char *d = data;
	while (len) {
		size_t room;
		char *at = urio_http_space(p, &room);
		if (!room)
			return p->headers_done ? -EFBIG : -EMSGSIZE;
		size_t n = len < room ? len : room;
		memcpy(at, d, n);
		p->len += n;
		d += n;
		len -= n;
	}
	return 0;
}

static int parse_error(urio_http_parser *p)
{
	if (p->err)
		return p->err;
	if (HTTP_PARSER_ERRNO(&p->hp) == HPE_HEADER_OVERFLOW)
		return -EMSGSIZE;
	return -EBADMSG;
}

static void fill(urio_http_parser *p, urio_http_req *req)
{
	char *m = p->buf + p->msg;
	for (unsigned i = 0; i < p->nhdr; i++) {
		p->hdrs[i].name = m + p->hoff[i].name;
		p->hdrs[i].name_len = p->hoff[i].name_len;
		p->hdrs[i].value = m + p->hoff[i].value;
		p->hdrs[i].value_len = p->hoff[i].value_len;
	}
	*req = (urio_http_req){
		.method = http_method_str(p->hp.method),
		.target = m + p->target,
		.target_len = p->target_len,
		.headers = p->hdrs,
		.nheaders = p->nhdr,
		.body = p->has_body ? m + p->body : NULL,
		.body_len = p->body_len,
		.version_major = (unsigned char)p->hp.http_major,
		.version_minor = (unsigned char)p->hp.http_minor,
		.keep_alive = p->keep_alive,
		.head = p->hp.method == HTTP_HEAD,
	};
}

int urio_http_next(urio_http_parser *p, urio_http_req *req)
{
	if (p->err)
		return p->err;
	if (p->done) { /* the last request's bytes are no longer needed */
		p->msg = p->done;
		p->done = 0;
	}
	p->complete = false;
	if (p->parsed < p->len) {
		http_parser_pause(&p->hp, 0);
		size_t n = http_parser_execute(&p->hp, &settings,
					       p->buf + p->parsed,
					       p->len - p->parsed);
		p->parsed += n;
		enum http_errno e = HTTP_PARSER_ERRNO(&p->hp);
		if (e != HPE_OK && e != HPE_PAUSED)
			return p->err = parse_error(p);
		if (p->hp.upgrade || p->hp.method == HTTP_CONNECT)
			return p->err = -EOPNOTSUPP;
	}
	if (p->complete) {
		fill(p, req);
		p->done = p->parsed;
		return 1;
	}
	if (!p->headers_done && p->len - p->msg > p->lim.max_header_bytes)
		return p->err = -EMSGSIZE;
	return 0;
}

bool urio_http_partial(const urio_http_parser *p)
{
	size_t start = p->done ? p->done : p->msg;
	return p->len > start;
}

int urio_http_status(int err)
{
	switch (err) {
	case -EBADMSG:
		return 400;
	case -EFBIG:
		return 413;
	case -EMSGSIZE:
		return 431;
	case -EOPNOTSUPP:
		return 501;
	case -EPROTONOSUPPORT:
		return 505;
	default:
		return 500;
	}
}

const char *urio_http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "";
	}
}
