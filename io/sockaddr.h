/* Numeric host:port to a socket address (listen.c). Internal. */
#ifndef URIO_IO_SOCKADDR_H
#define URIO_IO_SOCKADDR_H

#include <stdint.h>
#include <sys/socket.h>

/* host: a numeric IPv4 or IPv6 address ("::1" or "[::1]"), NULL or "" for
 * 0.0.0.0. Returns 0 or -EINVAL. */
int urio__sockaddr(const char *host, uint16_t port,
		   struct sockaddr_storage *ss, socklen_t *len);

#endif
