/* A 2 GiB file streamed line by line in bounded memory: every line seen
 * (count and bytes checked), peak RSS under 64 MiB, on 1 and 2 workers.
 * The file is a 1 MiB block of lines written over and over (fast to make)
 * and unlinked at once, so it goes away however the test ends. Sanitizer
 * builds stream 512 MiB: the same code, in reasonable time. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <urio.h>

#include "test.h"

#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__) || \
	__has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define BLOCKS 512
#else
#define BLOCKS 2048
#endif
#define BLOCK (1u << 20)
#define RSS_LIMIT_KB (64u << 10)

static int fd;
static uint64_t block_lines, block_bytes; /* per block, line ends excluded */

static void make_file(void)
{
	char path[] = "/var/tmp/urio-big-XXXXXX";
	fd = mkstemp(path);
	ASSERT(fd >= 0);
	unlink(path);
	char *b = malloc(BLOCK);
	ASSERT(b);
	uint64_t s = 1;
	size_t at = 0, start = 0;
	while (at < BLOCK) {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		size_t len = (s >> 33) % 160;
		bool crlf = (s >> 20) % 5 == 0;
		if (at + len + 2 > BLOCK)
			len = BLOCK - at >= 2 ? BLOCK - at - 2 : 0, crlf = false;
		for (size_t k = 0; k < len; k++)
			b[at++] = (char)('a' + (s >> (k % 24)) % 26);
		block_bytes += len;
		if (crlf)
			b[at++] = '\r';
		b[at++] = '\n';
		block_lines++;
		(void)start;
		if (BLOCK - at < 2) {
			while (at < BLOCK) { /* pad with empty lines */
				b[at++] = '\n';
				block_lines++;
			}
		}
	}
	for (int i = 0; i < BLOCKS; i++)
		ASSERT_EQ(pwrite(fd, b, BLOCK, (off_t)i * BLOCK), BLOCK);
	free(b);
}

static long peak_rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	ASSERT(f);
	char line[256];
	long kb = -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static intptr_t stream(void *arg)
{
	urio_lines *ls = urio_lines_open_fd(fd, NULL);
	ASSERT(ls);
	uint64_t lines = 0, bytes = 0;
	urio_slice l;
	int r;
	while ((r = urio_lines_next(ls, &l)) == 1) {
		lines++;
		bytes += l.len;
	}
	ASSERT_EQ(r, 0);
	urio_lines_close(ls);
	ASSERT_EQ(lines, block_lines * BLOCKS);
	ASSERT_EQ(bytes, block_bytes * BLOCKS);
	return 0;
}

int main(void)
{
	make_file();
	for (unsigned workers = 1; workers <= 2; workers++) {
		urio_config cfg = {.workers = workers};
		intptr_t res = -1;
		ASSERT_EQ(urio_run(&cfg, stream, NULL, &res), 0);
		ASSERT_EQ(res, 0);
		long kb = peak_rss_kb();
		printf("ok stream %u MiB, %u worker(s): peak RSS %ld kB\n",
		       BLOCKS, workers, kb);
		ASSERT(kb > 0 && kb < RSS_LIMIT_KB);
	}
	close(fd);
	return 0;
}
