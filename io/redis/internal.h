/* urio-redis internals shared by its files. */
#ifndef URIO_REDIS_INTERNAL_H
#define URIO_REDIS_INTERNAL_H

#include <pthread.h>
#include <urio/redis.h>

/* What the server thinks the connection is doing, beyond plain commands. */
enum {
	CONN_MULTI = 1 << 0,    /* MULTI sent or queued, no EXEC/DISCARD yet */
	CONN_WATCH = 1 << 1,    /* WATCH in force */
	CONN_SUBSCRIBED = 1 << 2,
};

#define RECV_SIZE 16384

struct urio_redis {
	int fd;
	int err;          /* < 0 once broken */
	unsigned pending; /* replies owed: appended and not yet read */
	unsigned state;   /* CONN_* */
	redisReader *reader;
	char *out;        /* appended, not yet sent */
	size_t out_len, out_cap;
	char in[RECV_SIZE];
};

/* Callers waiting for the pool's batched commands (mux.c). */
struct mreq;
typedef struct urio_redis_mux {
	pthread_mutex_t lock;      /* never held across a suspension */
	struct mreq *head, *tail;  /* queued, oldest first */
	unsigned combiners, max;   /* callers sending batches, and how many may */
} urio_redis_mux;

int urio__redis_mux_init(urio_redis_mux *m, unsigned max);
void urio__redis_mux_destroy(urio_redis_mux *m);
int urio__redis_mux_command(urio_redis_pool *p, urio_redis_mux *m,
			    redisReply **reply, int argc,
			    const char *const *argv, const size_t *lens);

/* Formats a command (hiredis) into *cmd (redisFreeCommand it): its length
 * or -EINVAL, -ENOMEM. */
int urio__redis_format(int argc, const char *const *argv, const size_t *lens,
		       char **cmd);
/* Appends a formatted command (len bytes) and counts its reply. */
int urio__redis_push(urio_redis *c, const char *cmd, size_t len);
/* Sends the output buffer (breaks c on failure): 0 or -errno. */
int urio__redis_send(urio_redis *c);
/* Reads one reply off the wire, whatever is owed (breaks c on failure). */
int urio__redis_read(urio_redis *c, redisReply **reply);
/* Formats a command (hiredis) and appends it: 0, -EINVAL, -ENOMEM. */
int urio__redis_append(urio_redis *c, int argc, const char *const *argv,
		       const size_t *lens);
int urio__redis_vappend(urio_redis *c, const char *fmt, va_list ap);
/* May c take a plain command now? 0, -EINVAL, -ENOTCONN, -EBUSY. */
int urio__redis_usable(const urio_redis *c);
/* Marks c broken with err (the first error sticks); returns err. */
int urio__redis_break(urio_redis *c, int err);

#endif
