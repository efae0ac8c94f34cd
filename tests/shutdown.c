/* Shutdown: urio_run returns when main returns although detached tasks are
 * still blocked in sleeps, pipe reads and accepts (they are cancelled and
 * waited for), and runtimes leave no fd, thread or memory behind across
 * cycles (fds and threads are counted here; memory by ASan/LSan in the
 * sanitizer build and by valgrind in the shutdown_valgrind test). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>
#include <urio.h>

#include "test.h"

static int fds[2], lfd;
static atomic_int cancelled;

static int count_dir(const char *path)
{
	DIR *d = opendir(path);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static intptr_t stuck_sleep(void *a)
{
	int r = urio_sleep_ms(600000);
	atomic_fetch_add(&cancelled, r == -ECANCELED);
	return r;
}

static intptr_t stuck_read(void *a)
{
	char c;
	ssize_t r = urio_read(fds[0], &c, 1, -1);
	atomic_fetch_add(&cancelled, r == -ECANCELED);
	return r;
}

static intptr_t stuck_accept(void *a)
{
	int r = urio_accept(lfd, NULL, NULL, 0);
	atomic_fetch_add(&cancelled, r == -ECANCELED);
	return r;
}

static intptr_t main_leaves_tasks(void *arg)
{
	urio_fn fns[] = {stuck_sleep, stuck_read, stuck_accept};
	for (int i = 0; i < 30; i++)
		urio_detach(urio_spawn(fns[i % 3], NULL));
	urio_sleep_ms(10); /* let them block */
	return 42;
}

int main(void)
{
	ASSERT_EQ(pipe(fds), 0);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ASSERT_EQ(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	ASSERT_EQ(listen(lfd, 8), 0);

	/* the first runtime probes the kernel once; count after it */
	intptr_t r = 0;
	ASSERT_EQ(urio_run(NULL, main_leaves_tasks, NULL, &r), 0);
	int fd0 = count_dir("/proc/self/fd");
	int th0 = count_dir("/proc/self/task");

	for (unsigned w = 1; w <= 3; w++) {
		atomic_store(&cancelled, 0);
		urio_config cfg = {.workers = w};
		r = 0;
		ASSERT_EQ(urio_run(&cfg, main_leaves_tasks, NULL, &r), 0);
		ASSERT_EQ(r, 42);
		ASSERT_EQ(atomic_load(&cancelled), 30);
		urio_rt *rt = urio_rt_new(&cfg);
		ASSERT(rt);
		ASSERT_EQ(urio_rt_block_on(rt, main_leaves_tasks, NULL, &r), 0);
		urio_rt_free(rt);
		ASSERT_EQ(count_dir("/proc/self/fd"), fd0);
		ASSERT_EQ(count_dir("/proc/self/task"), th0);
	}
	/* the pipe and listener still work: cancelled ops consumed nothing */
	ASSERT_EQ(write(fds[1], "x", 1), 1);
	char c;
	ASSERT_EQ(read(fds[0], &c, 1), 1);
	close(fds[0]);
	close(fds[1]);
	close(lfd);
	puts("shutdown: ok");
	return 0;
}
