/* urio_with: enter, body, shielded exit. The exit is shielded because its
 * job is cleanup, and cleanup that may suspend (a rollback's write, an
 * fsync, returning a connection) must not fail with -ECANCELED just because
 * the body was cancelled. */
#include <errno.h>
#include <urio/scope.h>
#include <urio/with.h>

int urio_with(const urio_scope_ops *ops, void *res,
	      int (*body)(void *res, void *ctx), void *ctx)
{
	if (!ops || !body)
		return -EINVAL;
	int err = ops->enter ? ops->enter(res) : 0;
	if (err < 0)
		return err;
	err = body(res, ctx);
	if (err >= 0 && urio_cancelled())
		err = -ECANCELED;
	if (!ops->exit)
		return err;
	urio_shield sh;
	urio_shield_enter(&sh);
	err = ops->exit(res, err);
	urio_shield_exit(&sh);
	return err;
}
