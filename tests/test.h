/* Test helpers: assertions that print both sides and stay in release
 * builds; exit 0 pass, 1 fail, 77 skip (liburing's convention). */
#ifndef URIO_TEST_H
#define URIO_TEST_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T_SKIP 77

#define ASSERT(c)                                                           \
	do {                                                                \
		if (!(c)) {                                                 \
			fprintf(stderr, "%s:%d: assertion failed: %s\n",   \
				__FILE__, __LINE__, #c);                    \
			exit(1);                                            \
		}                                                           \
	} while (0)

#define ASSERT_EQ(a, b)                                                     \
	do {                                                                \
		long long a_ = (long long)(a), b_ = (long long)(b);         \
		if (a_ != b_) {                                             \
			fprintf(stderr, "%s:%d: %s == %s: %lld != %lld\n", \
				__FILE__, __LINE__, #a, #b, a_, b_);        \
			exit(1);                                            \
		}                                                           \
	} while (0)

#define ASSERT_GE(a, b)                                                     \
	do {                                                                \
		long long a_ = (long long)(a), b_ = (long long)(b);         \
		if (a_ < b_) {                                              \
			fprintf(stderr, "%s:%d: %s >= %s: %lld < %lld\n",  \
				__FILE__, __LINE__, #a, #b, a_, b_);        \
			exit(1);                                            \
		}                                                           \
	} while (0)

/* Entries of a /proc directory: open fds, threads. */
static inline int test_count_dir(const char *path)
{
	DIR *d = opendir(path);
	ASSERT(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

#endif
