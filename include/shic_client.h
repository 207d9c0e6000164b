/*  =========================================================================
    shic_client - a client of the wire protocol (wire.md)

    One client is one DEALER socket: use it from one thread at a time. It
    works the same on the runtime's inproc endpoint and on the daemon's tcp
    gateway, so embedded and remote callers share one code path.
    =========================================================================
*/

#ifndef SHIC_CLIENT_H_INCLUDED
#define SHIC_CLIENT_H_INCLUDED

#include "shic_val.h"
#include "shic_wire.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _shic_client_t shic_client_t;

//  Codes of errors the client makes itself (never sent by a daemon): no
//  reply came in time (or no daemon answered the first ping), or the call
//  was cut short by SIGINT/SIGTERM (czmq's zsys_interrupted)
#define SHIC_E_NO_REPLY     "no_reply"
#define SHIC_E_INTERRUPTED  "interrupted"

//  Connects to endpoint (inproc://... or tcp://...). NULL on failure.
SHIC_EXPORT shic_client_t *shic_client_new (const char *endpoint);
SHIC_EXPORT void shic_client_destroy (shic_client_t **self_p);

//  Connects with CURVE: server_key is the server's public key (Z85, 40
//  characters), client_cert a czmq certificate file with the client's
//  secret key. NULL on failure (logged).
SHIC_EXPORT shic_client_t *shic_client_new_curve (const char *endpoint, const char *server_key,
                                                  const char *client_cert);

//  How long a call waits for its reply beyond the request's own wait_ms
//  (default 10000 ms). A call that times out fails with error code
//  SHIC_E_NO_REPLY and a message naming the endpoint (the reply, if it
//  comes later, is discarded).
SHIC_EXPORT void shic_client_set_timeout (shic_client_t *self, int timeout_ms);

//  Until the daemon has answered once, a call first sends a ping that may
//  wait this long (default 1000 ms): with nobody listening the call fails
//  with SHIC_E_NO_REPLY "no daemon answers at ENDPOINT" within about a
//  second instead of after wait_ms. A call that later gets no reply arms
//  the probe again.
SHIC_EXPORT void shic_client_set_probe_timeout (shic_client_t *self, int probe_ms);

//  The probe by hand (for callers of shic_client_send/recv): 0 when the
//  daemon answered a ping within the probe timeout, else -1 with the error
SHIC_EXPORT int shic_client_probe (shic_client_t *self);

//  The endpoint this client connected to (borrowed)
SHIC_EXPORT const char *shic_client_endpoint (shic_client_t *self);

//  The underlying socket (for pollers and CURVE options)
SHIC_EXPORT zsock_t *shic_client_sock (shic_client_t *self);

//  Sends op with *args_p (ownership taken; NULL = {}) and waits for the
//  reply with the matching id. Returns the fresh result map, or NULL with
//  the error in shic_client_error.
SHIC_EXPORT shic_val_t *shic_client_call (shic_client_t *self, const char *op, shic_val_t **args_p);

//  The error of the last failed call (borrowed, valid until the next call)
SHIC_EXPORT const shic_error_t *shic_client_error (shic_client_t *self);

//  Pipelining: send a request with a chosen id without waiting...
SHIC_EXPORT int shic_client_send (shic_client_t *self, int64_t id, const char *op,
                                  shic_val_t **args_p);
//  ...and receive the next reply, whatever its id. Returns 0, -1 on
//  timeout, -2 on an undecodable reply. Reset reply afterwards.
SHIC_EXPORT int shic_client_recv (shic_client_t *self, shic_wire_reply_t *reply, int timeout_ms);

//  ---------------------------------------------------------------------------
//  Convenience wrappers over shic_client_call

//  The args of ensure_endpoint for backend / model with the default consumer
//  (accepts both management modes, openai_chat_completions). options (may be
//  NULL) is merged into target_preference.backend_options. ttl_ms 0 = no
//  TTL; wait_ms < 0 = the server's default. Fresh map.
SHIC_EXPORT shic_val_t *shic_client_ensure_args (const char *backend, const char *model,
                                                 const shic_val_t *options,
                                                 int64_t ttl_ms, int64_t wait_ms);

//  ensure_endpoint with shic_client_ensure_args; fresh result or NULL
SHIC_EXPORT shic_val_t *shic_client_ensure (shic_client_t *self, const char *backend,
                                            const char *model, const shic_val_t *options,
                                            int64_t ttl_ms, int64_t wait_ms);
//  release_lease; 0 / -1
SHIC_EXPORT int shic_client_release (shic_client_t *self, const char *lease_ref);
//  ping; 0 / -1
SHIC_EXPORT int shic_client_ping (shic_client_t *self);

//  ---------------------------------------------------------------------------
//  Typed results: an endpoint of ensure_endpoint, without walking value trees

typedef struct {
    char *base_url;                 //  OpenAI root of the service (ends in /v1)
    char **headers;                 //  "Name: value" lines to send with every
                                    //  request (libcurl's format), NULL-ended
    size_t header_count;            //  lines in headers
    char *model;                    //  the model identity to name in requests
    char *protocol;                 //  e.g. "openai_chat_completions"
    char *lease_ref;                //  the lease this endpoint is held by
    int64_t ttl_ms;                 //  the lease's time to live, 0 = untimed
    int64_t expires_at_ms;          //  Unix ms when the lease ends (0 = untimed)
    char *instance_id;              //  the instance serving it
    bool reused;                    //  the instance was already running
    shic_val_t *result;             //  the whole reply result (compatibility,
                                    //  lease, endpoint...), owned
} shic_endpoint_t;

//  ensure_endpoint for backend / model (as shic_client_ensure) and the
//  typed endpoint, or NULL with the error in shic_client_error
SHIC_EXPORT shic_endpoint_t *shic_client_ensure_endpoint (shic_client_t *self, const char *backend,
                                                          const char *model, int64_t ttl_ms,
                                                          int64_t wait_ms);
//  The typed endpoint of a result of ensure_endpoint (ownership of *result_p
//  taken); NULL when the result lacks endpoint/base_url or lease/lease_ref
SHIC_EXPORT shic_endpoint_t *shic_endpoint_from_result (shic_val_t **result_p);
//  Extends the endpoint's lease (ttl_ms 0 = its current ttl) and updates
//  expires_at_ms; 0 / -1
SHIC_EXPORT int shic_client_renew_endpoint (shic_client_t *self, shic_endpoint_t *endpoint,
                                            int64_t ttl_ms);
//  Releases the endpoint's lease and destroys it (NULL is a no-op); 0 / -1
SHIC_EXPORT int shic_client_release_endpoint (shic_client_t *self, shic_endpoint_t **endpoint_p);
SHIC_EXPORT void shic_endpoint_destroy (shic_endpoint_t **self_p);

#ifdef __cplusplus
}
#endif

#endif
