/* Live task introspection: what every task of every runtime in the process
 * is doing (asyncio's print_call_graph and `python -m asyncio ps|pstree`).
 *
 * Remote: with URIO_INTROSPECT=1 in the environment, or URIO_CFG_INTROSPECT
 * in a runtime's config, the process answers on the Unix socket
 * /tmp/urio-<pid>.sock from a thread of its own, so `urio-ps PID` works even
 * when every worker is stuck in a blocking call. Only the same user (or
 * root) may connect. The socket goes away with the last runtime. */
#ifndef URIO_INTROSPECT_H
#define URIO_INTROSPECT_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>
#include <urio/runtime.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Writes a table of every live task (id, parent, name, running / runnable /
 * waiting, on what, deadline, cancelled) to out (NULL: stdout). Callable
 * from any thread, tasks included. Returns 0, -ENOMEM or -EIO. */
URIO_API int urio_dump_tasks(FILE *out);
/* Writes the task tree: each task under the task that spawned it (a group's
 * children under the group's owner). Returns as urio_dump_tasks. */
URIO_API int urio_print_call_graph(FILE *out);

/* Writes the introspection socket path of process pid into buf.
 * Returns 0, or -ENAMETOOLONG if buf is too small. */
URIO_API int urio_introspect_path(pid_t pid, char *buf, size_t len);
/* Asks process pid for cmd ("ps", "pstree" or "features") and copies the
 * answer to out. Blocks the calling thread (at most ~10 s). Returns 0, or
 * -ESRCH (no such process), -ENOENT (it does not serve introspection),
 * -ECONNREFUSED (a stale socket), -EACCES, -ETIMEDOUT, -EINVAL (unknown
 * command), or another -errno. */
URIO_API int urio_introspect_query(pid_t pid, const char *cmd, FILE *out);

#ifdef __cplusplus
}
#endif
#endif
