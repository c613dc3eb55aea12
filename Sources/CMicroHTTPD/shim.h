#ifndef CMICROHTTPD_SHIM_H
#define CMICROHTTPD_SHIM_H

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <string.h>
#include <microhttpd.h>

/// The daemon's tunables, gathered in a struct because MHD takes them as
/// variadic options, which Swift cannot pass.
typedef struct {
    unsigned int connection_limit;
    size_t connection_memory_limit;
    unsigned int listen_backlog;
    bool ipv6;
    /// PEM key and certificate: HTTPS through libmicrohttpd's GnuTLS when both are set.
    const char *tls_key_pem;
    const char *tls_cert_pem;
    /// Told when a connection opens and closes (for request deadlines); may be NULL.
    MHD_NotifyConnectionCallback notify_connection;
    void *notify_connection_context;
    /// A socket another daemon already listens on, shared (one daemon per loop); -1 for a
    /// socket of its own, bound to the address.
    int listen_fd;
} CMicroHTTPD_limits;

/// Most query arguments a request may carry. libmicrohttpd 0.9.75 keeps one record per
/// argument in the connection's memory pool and, when the pool runs out while it parses them,
/// queues its error but then waits for headers that never come: the client gets no answer
/// until the idle timeout (with a 12 KiB pool, from about 160 arguments).
#define CMICROHTTPD_MAX_QUERY_ARGUMENTS 64

/// The request context `CMicroHTTPD_refuse_long_queries` gives a request whose query it
/// dropped; never the address of an object.
static inline void *CMicroHTTPD_query_refused_mark(void) { return (void *)(uintptr_t)1; }

/// libmicrohttpd's URI log callback, called with the raw request target before the query is
/// parsed into the pool. A query with more arguments than the limit is cut at its `?` (the
/// target is the connection's own read buffer), so libmicrohttpd parses none, and the request
/// is marked for the access handler to answer 400.
static inline void *CMicroHTTPD_refuse_long_queries(void *context, const char *uri, struct MHD_Connection *connection)
{
    (void)context;
    (void)connection;
    char *query = strchr(uri, '?');
    if (query == NULL) return NULL;
    unsigned int arguments = 1;
    for (const char *cursor = query + 1; *cursor != '\0'; cursor++) {
        if (*cursor == '&') arguments++;
    }
    if (arguments <= CMICROHTTPD_MAX_QUERY_ARGUMENTS) return NULL;
    query[1] = '\0';
    return CMicroHTTPD_query_refused_mark();
}

/// Wraps the variadic MHD_start_daemon. The flags are fixed by the design: no thread of its
/// own (the caller's loop watches the daemon's epoll fd and calls MHD_run) and suspend/resume.
static inline struct MHD_Daemon *CMicroHTTPD_start_daemon(
    const struct sockaddr *bind_address,
    MHD_AccessHandlerCallback handler, void *handler_context,
    MHD_RequestCompletedCallback completed, void *completed_context,
    CMicroHTTPD_limits limits)
{
    struct MHD_OptionItem options[] = {
        { MHD_OPTION_CONNECTION_LIMIT, limits.connection_limit, NULL },
        /* No timeout of libmicrohttpd's own: the service gives each phase of a connection a
           deadline (ConnectionDeadlines), and without one libmicrohttpd reads no clock and
           keeps no timeout list per request. */
        { MHD_OPTION_CONNECTION_TIMEOUT, 0, NULL },
        { MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)limits.connection_memory_limit, NULL },
        { MHD_OPTION_LISTEN_BACKLOG_SIZE, limits.listen_backlog, NULL },
        { MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, completed_context },
        { MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)limits.notify_connection, limits.notify_connection_context },
        limits.listen_fd >= 0
            ? (struct MHD_OptionItem){ MHD_OPTION_LISTEN_SOCKET, limits.listen_fd, NULL }
            : (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, (void *)bind_address },
        { MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)CMicroHTTPD_refuse_long_queries, NULL },
        /* HTTP/1.1 without Host and spaces in the target are 400 (RFC 9112, 3.2 and 3.2.2). */
        { MHD_OPTION_STRICT_FOR_CLIENT, 1, NULL },
        { MHD_OPTION_END, 0, NULL },  /* HTTPS_MEM_KEY, when TLS is on */
        { MHD_OPTION_END, 0, NULL },  /* HTTPS_MEM_CERT, when TLS is on */
        { MHD_OPTION_END, 0, NULL },
    };
    unsigned int flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | (limits.ipv6 ? MHD_USE_IPv6 : 0);
    if (limits.tls_key_pem != NULL && limits.tls_cert_pem != NULL) {
        size_t count = sizeof options / sizeof options[0];
        options[count - 3] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)limits.tls_key_pem };
        options[count - 2] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)limits.tls_cert_pem };
        flags |= MHD_USE_TLS;
    }
    return MHD_start_daemon(flags, 0, NULL, NULL, handler, handler_context,
                            MHD_OPTION_ARRAY, options, MHD_OPTION_END);
}

/// The connection's socket (MHD_get_connection_info is variadic).
static inline int CMicroHTTPD_connection_fd(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    return info ? info->connect_fd : -1;
}

/// What the connection-notify callback stored for the connection.
static inline void *CMicroHTTPD_socket_context(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

/// Bytes of the request line and headers (MHD_get_connection_info is variadic).
static inline size_t CMicroHTTPD_header_size(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    return info ? info->header_size : 0;
}

/// The daemon that serves the connection.
static inline struct MHD_Daemon *CMicroHTTPD_connection_daemon(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_DAEMON);
    return info ? info->daemon : NULL;
}

/// The client's IP address bytes (4 for IPv4, 16 for IPv6) into `out`; returns their count, 0
/// when unknown. An IPv4-mapped IPv6 address counts as its IPv4 address.
static inline int CMicroHTTPD_client_address(struct MHD_Connection *connection, uint8_t out[16])
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (info == NULL || info->client_addr == NULL) return 0;
    if (info->client_addr->sa_family == AF_INET) {
        memcpy(out, &((const struct sockaddr_in *)info->client_addr)->sin_addr, 4);
        return 4;
    }
    if (info->client_addr->sa_family == AF_INET6) {
        const uint8_t *bytes = ((const struct sockaddr_in6 *)info->client_addr)->sin6_addr.s6_addr;
        static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        if (memcmp(bytes, mapped, 12) == 0) {
            memcpy(out, bytes + 12, 4);
            return 4;
        }
        memcpy(out, bytes, 16);
        return 16;
    }
    return 0;
}

/// The daemon's listening socket, to share with the other loops' daemons.
static inline int CMicroHTTPD_listen_fd(struct MHD_Daemon *daemon)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_LISTEN_FD);
    return info ? info->listen_fd : -1;
}

/// The daemon's own epoll fd, for a loop that runs it (MHD_get_daemon_info is variadic).
static inline int CMicroHTTPD_epoll_fd(struct MHD_Daemon *daemon)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_EPOLL_FD);
    return info ? info->epoll_fd : -1;
}

/// Milliseconds until the daemon must run again without input, or -1 for none.
static inline long long CMicroHTTPD_timeout_ms(struct MHD_Daemon *daemon)
{
    MHD_UNSIGNED_LONG_LONG timeout = 0;
    if (MHD_get_timeout(daemon, &timeout) != MHD_YES) return -1;
    return timeout > 60000 ? 60000 : (long long)timeout;
}

/// Wraps the variadic MHD_get_daemon_info for the port actually bound (port 0 picks one).
static inline uint16_t CMicroHTTPD_bound_port(struct MHD_Daemon *daemon)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}

#endif
