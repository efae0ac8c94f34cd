/* urio-httpd --root DIR: static files, opened and read through urio.
 *
 * No request leaves DIR: a target is percent-decoded and split into
 * segments, and any ".." is refused (403) rather than resolved; then the
 * opened file's real path (from /proc/self/fd) must lie under DIR's real
 * path, which also stops symlinks that point out of it (403). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "httpd.h"

static char *root_real;
static size_t root_len;

int httpd_root_open(void)
{
	if (!httpd.root)
		return 0;
	root_real = realpath(httpd.root, NULL);
	if (!root_real)
		return -errno;
	struct stat st;
	if (stat(root_real, &st) < 0 || !S_ISDIR(st.st_mode)) {
		free(root_real);
		root_real = NULL;
		return -ENOTDIR;
	}
	root_len = strlen(root_real);
	if (root_len == 1) /* "/": every path is under it */
		root_len = 0;
	return 0;
}

void httpd_root_close(void)
{
	free(root_real);
	root_real = NULL;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Percent-decodes the target's path into out (NUL-terminated) and checks
 * its segments: 0, or the status to answer with. */
static int decode_path(const char *t, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	if (!n || t[0] != '/')
		return 400;
	for (size_t i = 0; i < n && t[i] != '?' && t[i] != '#'; i++) {
		char ch = t[i];
		if (ch == '%') {
			int hi = i + 2 < n ? hexval(t[i + 1]) : -1;
			int lo = hi >= 0 ? hexval(t[i + 2]) : -1;
			if (lo < 0)
				return 400;
			ch = (char)(hi << 4 | lo);
			i += 2;
		}
		if (ch == '\0')
			return 400;
		if (o + 1 >= cap)
			return 414;
		out[o++] = ch;
	}
	out[o] = 0;
	/* refuse any ".." segment; "." and empty ones are harmless */
	for (const char *s = out; *s;) {
		const char *e = strchr(s, '/');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		if (len == 2 && s[0] == '.' && s[1] == '.')
			return 403;
		s += len + (e != NULL);
	}
	return 0;
}

static const char *content_type(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{ ".html", "text/html; charset=utf-8" },
		{ ".htm", "text/html; charset=utf-8" },
		{ ".txt", "text/plain; charset=utf-8" },
		{ ".css", "text/css" },
		{ ".js", "text/javascript" },
		{ ".json", "application/json" },
		{ ".svg", "image/svg+xml" },
		{ ".png", "image/png" },
		{ ".jpg", "image/jpeg" },
		{ ".jpeg", "image/jpeg" },
		{ ".gif", "image/gif" },
		{ ".ico", "image/x-icon" },
		{ ".wasm", "application/wasm" },
		{ ".pdf", "application/pdf" },
	};
	const char *dot = strrchr(path, '.');
	if (dot && !strchr(dot, '/'))
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			if (strcasecmp(dot, types[i].ext) == 0)
				return types[i].type;
	return "application/octet-stream";
}

static int open_status(int err)
{
	switch (err) {
	case -ENOENT:
	case -ENOTDIR:
	case -ENAMETOOLONG:
		return 404;
	case -EACCES:
	case -EPERM:
	case -ELOOP:
		return 403;
	default:
		return 500;
	}
}

/* The file's real path must be DIR or under it. */
static bool beneath_root(int fd)
{
	char link[64], real[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, real, sizeof(real) - 1);
	if (n < 0)
		return false;
	real[n] = 0;
	return strncmp(real, root_real, root_len) == 0 &&
	       (real[root_len] == '/' || real[root_len] == 0);
}

/* Opens a regular file under DIR: the fd and *size, or -status. */
static int open_file(const char *path, uint64_t *size)
{
	int fd = urio_open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
			   0);
	if (fd < 0)
		return -open_status(fd);
	struct statx stx;
	int r = urio_statx(fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_SIZE,
			   &stx);
	if (r < 0) {
		close(fd);
		return -500;
	}
	if (!S_ISREG(stx.stx_mode) || !beneath_root(fd)) {
		close(fd);
		return S_ISDIR(stx.stx_mode) ? -EISDIR : -403;
	}
	*size = stx.stx_size;
	return fd;
}

/* Reads size bytes of fd into the output buffer, flushing it as it fills.
 * A file that shrank under us ends the connection (the length is sent). */
static int send_body(struct conn *c, int fd, uint64_t size)
{
	uint64_t off = 0;
	while (off < size) {
		uint64_t left = size - off;
		size_t want = left < HTTPD_FILE_CHUNK ? left : HTTPD_FILE_CHUNK;
		int r = httpd_reserve(c, want);
		if (r < 0)
			return r;
		ssize_t n = urio_read(fd, c->out + c->out_len, want,
				      (off_t)off);
		if (n <= 0) {
			c->close = true;
			return n < 0 ? (int)n : 0;
		}
		c->out_len += (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int httpd_file(struct conn *c, const urio_http_req *req)
{
	char rel[PATH_MAX], path[PATH_MAX + 16];
	int st = decode_path(req->target, req->target_len, rel, sizeof(rel));
	if (st) {
		c->close = c->close || st == 400;
		return httpd_simple(c, st, urio_http_reason(st), req->head,
				    NULL);
	}
	size_t rl = strlen(rel);
	const char *index = rel[rl - 1] == '/' ? "index.html" : "";
	int n = snprintf(path, sizeof(path), "%s%s%s", root_real, rel, index);
	if (n < 0 || (size_t)n >= sizeof(path))
		return httpd_simple(c, 414, "URI Too Long", req->head, NULL);
	uint64_t size = 0;
	int fd = open_file(path, &size);
	if (fd == -EISDIR && (size_t)n + 12 < sizeof(path)) {
		strcat(path, "/index.html");
		fd = open_file(path, &size);
		if (fd == -404)
			fd = -403; /* a directory without an index */
	}
	if (fd < 0) {
		st = fd == -EISDIR ? 403 : -fd;
		return httpd_simple(c, st, urio_http_reason(st), req->head,
				    NULL);
	}
	int r = httpd_head(c, 200, content_type(path), size, NULL);
	if (r == 0 && !req->head)
		r = send_body(c, fd, size);
	close(fd);
	return r;
}
