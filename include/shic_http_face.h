/*  =========================================================================
    shic_http_face - what operators look at: Prometheus metrics, a JSON
    status, the events as server-sent events, and a dashboard page

    An actor of its own thread serves HTTP through libmicrohttpd (never a
    home-made server) and reads the runtime's state as any client does: the
    wire ops (stats, list_instances, list_leases, list_backends, resources)
    over a shic_client on a gateway endpoint, and a SUB on an events
    endpoint. It never holds up the gateway: a slow or hostile HTTP peer
    costs this thread only, under libmicrohttpd's connection, per-address,
    timeout and memory limits.

    GET /                          the dashboard (one page, built in)
    GET /metrics                   Prometheus text format 0.0.4
    GET /api/v1/status             JSON snapshot of the runtime
    GET /api/v1/events             server-sent events relaying the PUB
    POST /api/v1/instances/ID/stop stop_instance; only with a token set and
                                   sent as "Authorization: Bearer TOKEN"

    Idle, it blocks in one poll with no timeout: no timers run while no
    HTTP client is connected.
    =========================================================================
*/

#ifndef SHIC_HTTP_FACE_H_INCLUDED
#define SHIC_HTTP_FACE_H_INCLUDED

#include "shic_library.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _shic_http_face_t shic_http_face_t;

//  Default listen address of shicd (shicd/http)
#define SHIC_HTTP_FACE_DEFAULT "127.0.0.1:5593"

//  Starts serving on listen ("IPV4:PORT"; port 0 picks a free one) for the
//  gateway at endpoint (e.g. shic_runtime_endpoint) and the events PUB at
//  events (may be NULL: no event stream). token (may be NULL or empty)
//  enables the actions. Returns NULL (logged) when listen is not an
//  address or cannot be bound.
SHIC_EXPORT shic_http_face_t *shic_http_face_new (const char *listen, const char *endpoint,
                                                  const char *events, const char *token);

//  Stops serving, closes every connection; no-op on NULL; nulls *self_p
SHIC_EXPORT void shic_http_face_destroy (shic_http_face_t **self_p);

//  The bound TCP port
SHIC_EXPORT int shic_http_face_port (shic_http_face_t *self);

//  A reason (fresh string) why listen is not "IPV4:PORT", or NULL
SHIC_EXPORT char *shic_http_face_address_problem (const char *listen);

#ifdef __cplusplus
}
#endif

#endif
