/* urio: an io_uring runtime for C servers. Umbrella header. */
#ifndef URIO_H
#define URIO_H
#include <urio/runtime.h>
#include <urio/scope.h>
#include <urio/group.h>
#include <urio/future.h>
#include <urio/offload.h>
#include <urio/io.h>
#include <urio/server.h>
#include <urio/signal.h>
#include <urio/introspect.h>
#include <urio/with.h>
#include <urio/sync.h>
#include <urio/gen.h>
#include <urio/iter.h>
#include <urio/lines.h>
#include <urio/txn.h>
#include <urio/timing.h>
#include <urio/pool.h>
#include <urio/tcp_pool.h>
#include <urio/watch.h>
#endif
