/* urio-httpd's parts: the connection, output buffering, file serving. */
#ifndef URIO_HTTPD_H
#define URIO_HTTPD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <urio.h>
#include <urio/http.h>

#define HTTPD_FIXED_BODY "Hello, World!"
#define HTTPD_TIMEOUT_MS 10000
#define HTTPD_GRACE_MS 5000
#define HTTPD_LINGER_MS 1000
#define HTTPD_LINGER_BYTES (256u << 10)
#define HTTPD_BACKLOG 4096
#define HTTPD_OUT_INITIAL (16u << 10)
#define HTTPD_FILE_CHUNK (64u << 10)
#define HTTPD_STACK (64u << 10)
#define HTTPD_MAX_BODY (64u << 10) /* it serves GET: no use for more */

struct httpd_opts {
	const char *root;
	uint64_t timeout_ms, grace_ms;
};
extern struct httpd_opts httpd;

struct conn {
	struct conn *prev, *next; /* the live list, for drain */
	urio_task *task;
	int fd;
	atomic_int idle; /* waiting for a request's first byte */
	bool close;      /* answer with Connection: close, then close */
	bool http10;
	urio_http_parser *p;
	char *out;
	size_t out_len, out_cap;
};

int httpd_send_all(struct conn *c, const char *buf, size_t len);
int httpd_flush(struct conn *c);
int httpd_reserve(struct conn *c, size_t n);
void httpd_put(struct conn *c, const void *s, size_t n);
/* Appends a status line and headers; clen is the body's length. */
int httpd_head(struct conn *c, int status, const char *ctype, uint64_t clen,
	       const char *extra);
int httpd_simple(struct conn *c, int status, const char *body, bool head,
		 const char *extra);

/* --root: resolves DIR once (0 when there is no --root), serves a GET. */
int httpd_root_open(void);
void httpd_root_close(void);
int httpd_file(struct conn *c, const urio_http_req *req);

#endif
