/* liburio-http: requests out of bytes fed whole, byte by byte and
 * pipelined; chunked bodies; each limit and malformed input as its error. */
#include <errno.h>
#include <string.h>
#include <urio/http.h>

#include "test.h"

static bool hdr_is(const urio_http_header *h, const char *name,
		   const char *value)
{
	return h->name_len == strlen(name) &&
	       strncasecmp(h->name, name, h->name_len) == 0 &&
	       h->value_len == strlen(value) &&
	       memcmp(h->value, value, h->value_len) == 0;
}

static bool target_is(const urio_http_req *r, const char *t)
{
	return r->target_len == strlen(t) && memcmp(r->target, t, r->target_len) == 0;
}

static void whole_and_bytewise(void)
{
	static const char req[] = "GET /a/b?c=d HTTP/1.1\r\nHost: x\r\n"
				  "X-Long: some value\r\n\r\n";
	for (int bytewise = 0; bytewise < 2; bytewise++) {
		urio_http_parser *p = urio_http_parser_new(NULL);
		urio_http_req r;
		ASSERT(p);
		size_t n = strlen(req);
		if (bytewise) {
			for (size_t i = 0; i + 1 < n; i++) {
				/* through the receive-in-place pair */
				size_t room;
				char *at = urio_http_space(p, &room);
				ASSERT(room >= 1);
				*at = req[i];
				ASSERT_EQ(urio_http_commit(p, 1), 0);
				ASSERT_EQ(urio_http_next(p, &r), 0);
				ASSERT(urio_http_partial(p));
			}
			ASSERT_EQ(urio_http_feed(p, req + n - 1, 1), 0);
		} else {
			ASSERT_EQ(urio_http_feed(p, req, n), 0);
		}
		ASSERT_EQ(urio_http_next(p, &r), 1);
		ASSERT(strcmp(r.method, "GET") == 0);
		ASSERT(target_is(&r, "/a/b?c=d"));
		ASSERT_EQ(r.nheaders, 2);
		ASSERT(hdr_is(&r.headers[0], "Host", "x"));
		ASSERT(hdr_is(&r.headers[1], "x-long", "some value"));
		ASSERT(r.keep_alive);
		ASSERT(!r.head);
		ASSERT_EQ(r.version_minor, 1);
		ASSERT(r.body == NULL);
		ASSERT_EQ(urio_http_next(p, &r), 0);
		ASSERT(!urio_http_partial(p));
		urio_http_parser_free(p);
	}
}

static void pipelined(void)
{
	urio_http_parser *p = urio_http_parser_new(NULL);
	urio_http_req r;
	char buf[256];
	for (int round = 0; round < 300; round++) { /* compaction and reuse */
		int n = snprintf(buf, sizeof(buf),
				 "GET /%d HTTP/1.1\r\n\r\n"
				 "POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
				 "HEAD /h HTTP/1.0\r\n\r\nGET /part",
				 round);
		ASSERT_EQ(urio_http_feed(p, buf, (size_t)n), 0);
		char want[16];
		snprintf(want, sizeof(want), "/%d", round);
		ASSERT_EQ(urio_http_next(p, &r), 1);
		ASSERT(target_is(&r, want));
		ASSERT_EQ(urio_http_next(p, &r), 1);
		ASSERT(strcmp(r.method, "POST") == 0);
		ASSERT_EQ(r.body_len, 5);
		ASSERT(memcmp(r.body, "hello", 5) == 0);
		ASSERT_EQ(urio_http_next(p, &r), 1);
		ASSERT(r.head);
		ASSERT(!r.keep_alive); /* HTTP/1.0 without keep-alive */
		ASSERT_EQ(urio_http_next(p, &r), 0);
		ASSERT(urio_http_partial(p));
		ASSERT_EQ(urio_http_feed(p, " HTTP/1.1\r\n\r\n", 13), 0);
		ASSERT_EQ(urio_http_next(p, &r), 1);
		ASSERT(target_is(&r, "/part"));
	}
	urio_http_parser_free(p);
}

static void chunked(void)
{
	static const char req[] = "POST /u HTTP/1.1\r\n"
				  "Transfer-Encoding: chunked\r\n\r\n"
				  "3\r\nabc\r\n5\r\ndefgh\r\n1\r\ni\r\n0\r\n\r\n";
	urio_http_parser *p = urio_http_parser_new(NULL);
	urio_http_req r;
	for (size_t i = 0; i < sizeof(req) - 1; i++) {
		ASSERT_EQ(urio_http_feed(p, req + i, 1), 0);
		int k = urio_http_next(p, &r);
		ASSERT_EQ(k, i + 2 == sizeof(req));
	}
	ASSERT_EQ(r.body_len, 9);
	ASSERT(memcmp(r.body, "abcdefghi", 9) == 0);
	urio_http_parser_free(p);
}

static int parse_one(const urio_http_limits *lim, const char *s, size_t n)
{
	urio_http_parser *p = urio_http_parser_new(lim);
	urio_http_req r;
	int k = urio_http_feed(p, s, n);
	if (k == 0)
		k = urio_http_next(p, &r);
	/* errors are sticky */
	if (k < 0)
		ASSERT_EQ(urio_http_next(p, &r), k);
	urio_http_parser_free(p);
	return k;
}

static void limits_and_errors(void)
{
	static char big[20000];
	int n = snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nX: ");
	memset(big + n, 'a', sizeof(big) - (size_t)n);
	ASSERT_EQ(parse_one(NULL, big, sizeof(big)), -EMSGSIZE);
	ASSERT_EQ(urio_http_status(-EMSGSIZE), 431);

	char many[4096];
	size_t m = (size_t)snprintf(many, sizeof(many), "GET / HTTP/1.1\r\n");
	for (int i = 0; i < 10; i++)
		m += (size_t)snprintf(many + m, sizeof(many) - m, "H%d: v\r\n", i);
	m += (size_t)snprintf(many + m, sizeof(many) - m, "\r\n");
	urio_http_limits lim = { .max_headers = 9 };
	ASSERT_EQ(parse_one(&lim, many, m), -EMSGSIZE);
	lim.max_headers = 10;
	ASSERT_EQ(parse_one(&lim, many, m), 1);

	static const char body[] = "POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n";
	lim = (urio_http_limits){ .max_body_bytes = 99 };
	ASSERT_EQ(parse_one(&lim, body, sizeof(body) - 1), -EFBIG);
	ASSERT_EQ(urio_http_status(-EFBIG), 413);

	static const char *bad[] = {
		"BAD\r\n\r\n",
		"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
		"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
		"\x01\x02\x03\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse_one(NULL, bad[i], strlen(bad[i])) != -EBADMSG)
			fprintf(stderr, "bad[%zu]\n", i), exit(1);
	ASSERT_EQ(urio_http_status(-EBADMSG), 400);

	static const char v9[] = "GET / HTTP/9.1\r\n\r\n";
	ASSERT_EQ(parse_one(NULL, v9, sizeof(v9) - 1), -EPROTONOSUPPORT);
	ASSERT_EQ(urio_http_status(-EPROTONOSUPPORT), 505);

	static const char up[] = "GET / HTTP/1.1\r\nConnection: upgrade\r\n"
				 "Upgrade: websocket\r\n\r\n";
	ASSERT_EQ(parse_one(NULL, up, sizeof(up) - 1), -EOPNOTSUPP);
	static const char conn[] = "CONNECT a:443 HTTP/1.1\r\n\r\n";
	ASSERT_EQ(parse_one(NULL, conn, sizeof(conn) - 1), -EOPNOTSUPP);
	ASSERT_EQ(urio_http_status(-EOPNOTSUPP), 501);
	ASSERT(strcmp(urio_http_reason(404), "Not Found") == 0);
	ASSERT(strcmp(urio_http_reason(999), "") == 0);

	urio_http_parser *p = urio_http_parser_new(NULL);
	size_t room;
	urio_http_space(p, &room);
	ASSERT_EQ(urio_http_commit(p, room + 1), -EINVAL);
	urio_http_parser_free(p);
}

int main(void)
{
	whole_and_bytewise();
	pipelined();
	chunked();
	limits_and_errors();
	printf("http_parse: ok\n");
	return 0;
}
