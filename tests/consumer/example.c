/* The README's example; built against the installed package by
 * tests/install.sh (pkg-config and find_package). */
#include <fcntl.h>
#include <stdio.h>
#include <urio.h>

static intptr_t cat(void *arg)
{
	int fd = urio_open(arg, O_RDONLY, 0);
	if (fd < 0)
		return fd;
	char buf[4096];
	ssize_t n;
	off_t off = 0;
	while ((n = urio_read(fd, buf, sizeof(buf), off)) > 0) {
		urio_write(1, buf, (size_t)n, -1);
		off += n;
	}
	urio_close(fd);
	return n; /* 0 at EOF, or -errno */
}

int main(int argc, char **argv)
{
	intptr_t res;
	int r = urio_run(NULL, cat, argc > 1 ? argv[1] : "/etc/hostname", &res);
	if (r < 0 || res < 0)
		fprintf(stderr, "cat failed: %d %ld\n", r, (long)res);
	return r < 0 || res < 0;
}
