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

//  Connects to endpoint (inproc://... or tcp://...). NULL on failure.
shic_client_t *shic_client_new (const char *endpoint);
void shic_client_destroy (shic_client_t **self_p);

//  Connects with CURVE: server_key is the server's public key (Z85, 40
//  characters), client_cert a czmq certificate file with the client's
//  secret key. NULL on failure (logged).
shic_client_t *shic_client_new_curve (const char *endpoint, const char *server_key,
                                      const char *client_cert);

//  How long a call waits for its reply beyond the request's own wait_ms
//  (default 10000 ms). A call that times out fails with error code
//  "internal" and message "no reply within ..." (the reply, if it comes
//  later, is discarded).
void shic_client_set_timeout (shic_client_t *self, int timeout_ms);

//  The underlying socket (for pollers and CURVE options)
zsock_t *shic_client_sock (shic_client_t *self);

//  Sends op with *args_p (ownership taken; NULL = {}) and waits for the
//  reply with the matching id. Returns the fresh result map, or NULL with
//  the error in shic_client_error.
shic_val_t *shic_client_call (shic_client_t *self, const char *op, shic_val_t **args_p);

//  The error of the last failed call (borrowed, valid until the next call)
const shic_error_t *shic_client_error (shic_client_t *self);

//  Pipelining: send a request with a chosen id without waiting...
int shic_client_send (shic_client_t *self, int64_t id, const char *op,
                      shic_val_t **args_p);
//  ...and receive the next reply, whatever its id. Returns 0, -1 on
//  timeout, -2 on an undecodable reply. Reset reply afterwards.
int shic_client_recv (shic_client_t *self, shic_wire_reply_t *reply, int timeout_ms);

//  ---------------------------------------------------------------------------
//  Convenience wrappers over shic_client_call

//  The args of ensure_endpoint for backend / model with the default consumer
//  (accepts both management modes, openai_chat_completions). options (may be
//  NULL) is merged into target_preference.backend_options. ttl_ms 0 = no
//  TTL; wait_ms < 0 = the server's default. Fresh map.
shic_val_t *shic_client_ensure_args (const char *backend, const char *model,
                                     const shic_val_t *options,
                                     int64_t ttl_ms, int64_t wait_ms);

//  ensure_endpoint with shic_client_ensure_args; fresh result or NULL
shic_val_t *shic_client_ensure (shic_client_t *self, const char *backend,
                                const char *model, const shic_val_t *options,
                                int64_t ttl_ms, int64_t wait_ms);
//  release_lease; 0 / -1
int shic_client_release (shic_client_t *self, const char *lease_ref);
//  ping; 0 / -1
int shic_client_ping (shic_client_t *self);

void shic_client_test (bool verbose);

#ifdef __cplusplus
}
#endif

#endif
