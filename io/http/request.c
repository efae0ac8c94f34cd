/* HTTP/1.1 requests: the URL taken apart by libhttp-parser, the head and
 * a small body written in one buffer (one send), a larger body sent from
 * the caller's buffer behind it, and a body from an iterator sent chunked
 * as its pieces come. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <urio/io.h>

#include "client.h"

#define INLINE_BODY 16384u /* bodies up to this go out with the head */

int urio__http_parse_url(const char *url, struct http_target *t)
{
	struct http_parser_url u;
	http_parser_url_init(&u);
	if (!url || http_parser_parse_url(url, strlen(url), 0, &u) != 0)
		return -EINVAL;
	if (!(u.field_set & (1 << UF_SCHEMA)) || !(u.field_set & (1 << UF_HOST)))
		return -EINVAL;
	if (u.field_data[UF_SCHEMA].len != 4 ||
	    strncasecmp(url + u.field_data[UF_SCHEMA].off, "http", 4))
		return -EPROTONOSUPPORT;
	if (u.field_set & (1 << UF_USERINFO))
		return -EINVAL;
	t->host = url + u.field_data[UF_HOST].off;
	t->host_len = u.field_data[UF_HOST].len;
	if (!t->host_len || t->host_len > 255)
		return -EINVAL;
	t->port = u.field_set & (1 << UF_PORT) ? u.port : 80;
	if (!t->port)
		return -EINVAL;
	if (u.field_set & (1 << UF_PATH)) {
		t->path = url + u.field_data[UF_PATH].off;
		/* the path and the query, without a fragment */
		size_t end = u.field_set & (1 << UF_QUERY) ?
			u.field_data[UF_QUERY].off + u.field_data[UF_QUERY].len :
			u.field_data[UF_PATH].off + u.field_data[UF_PATH].len;
		t->path_len = end - u.field_data[UF_PATH].off;
	} else {
		t->path = "/";
		t->path_len = 1;
	}
	return 0;
}

bool urio__http_token(const char *s, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] >= 127 || strchr("()<>@,;:\\\"/[]?={}",
							 s[i]))
			return false;
	return true;
}

/* "Name: value" with a token name and no CR, LF or NUL in the value;
 * Content-Length and Transfer-Encoding are the client's to write. */
static int check_header(const char *h, bool *has_host)
{
	const char *colon = strchr(h, ':');
	if (!colon || !urio__http_token(h, (size_t)(colon - h)) || strpbrk(h, "\r\n"))
		return -EINVAL;
	size_t n = (size_t)(colon - h);
	if ((n == 14 && !strncasecmp(h, "Content-Length", n)) ||
	    (n == 17 && !strncasecmp(h, "Transfer-Encoding", n)))
		return -EINVAL;
	if (n == 4 && !strncasecmp(h, "Host", n))
		*has_host = true;
	return 0;
}

bool urio__http_idempotent(const char *m)
{
	static const char *const ok[] = {"GET", "HEAD", "PUT", "DELETE",
					 "OPTIONS", "TRACE"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!strcmp(m, ok[i]))
			return true;
	return false;
}

static void put(urio_http_response *r, const void *p, size_t n)
{
	memcpy(r->buf + r->len, p, n);
	r->len += n;
}

int urio__http_build(urio_http_response *r, const urio_http_request *req,
		     const char *method, const struct http_target *t,
		     struct http_host *h)
{
	bool has_host = false;
	size_t need = strlen(method) + t->path_len + h->host_hdr_len + 64;
	for (const char *const *hp = req->headers; hp && *hp; hp++) {
		int err = check_header(*hp, &has_host);
		if (err < 0)
			return err;
		need += strlen(*hp) + 2;
	}
	bool inline_body = req->body_len <= INLINE_BODY;
	if (inline_body)
		need += req->body_len;
	if (urio__http_reserve(r, need) < 0)
		return -ENOMEM;
	r->len = 0;
	put(r, method, strlen(method));
	put(r, " ", 1);
	put(r, t->path, t->path_len);
	put(r, " HTTP/1.1\r\n", 11);
	if (!has_host)
		put(r, h->host_hdr, h->host_hdr_len);
	for (const char *const *hp = req->headers; hp && *hp; hp++) {
		put(r, *hp, strlen(*hp));
		put(r, "\r\n", 2);
	}
	if (req->body_iter)
		put(r, "Transfer-Encoding: chunked\r\n", 28);
	else if (req->body_len ||
		 (strcmp(method, "GET") && strcmp(method, "HEAD"))) {
		char cl[48];
		int n = snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n",
				 req->body_len);
		put(r, cl, (size_t)n);
	}
	put(r, "\r\n", 2);
	if (inline_body && req->body_len)
		put(r, req->body, req->body_len);
	return 0;
}

int urio__http_send_all(int fd, const char *p, size_t n, int flags)
{
	while (n) {
		ssize_t w = urio_send(fd, p, n, flags | MSG_NOSIGNAL);
		if (w < 0)
			return (int)w;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The chunked body from req->body_iter, its pieces as they come. */
static int write_chunks(int fd, urio_iter *it)
{
	for (;;) {
		void *item;
		int k = urio_iter_next(it, &item);
		if (k < 0)
			return k;
		if (k == 0)
			return urio__http_send_all(fd, "0\r\n\r\n", 5, 0);
		const urio_slice *c = item;
		if (!c || !c->len)
			continue; /* a chunk of 0 would end the body */
		char size[24];
		int n = snprintf(size, sizeof(size), "%zx\r\n", c->len);
		int err = urio__http_send_all(fd, size, (size_t)n, MSG_MORE);
		if (err == 0)
			err = urio__http_send_all(fd, c->ptr, c->len, MSG_MORE);
		if (err == 0)
			err = urio__http_send_all(fd, "\r\n", 2, 0);
		if (err < 0)
			return err;
	}
}

int urio__http_write(urio_http_response *r, const urio_http_request *req,
		     size_t head_len)
{
	int fd = r->c->fd;
	bool more = req->body_iter || req->body_len > INLINE_BODY;
	int err = urio__http_send_all(fd, r->buf, head_len, more ? MSG_MORE : 0);
	if (err == 0 && req->body_iter)
		err = write_chunks(fd, req->body_iter);
	else if (err == 0 && more)
		err = urio__http_send_all(fd, req->body, req->body_len, 0);
	return err;
}
