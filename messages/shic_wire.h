/*  =========================================================================
    shic_wire - typed errors, the wire envelope of wire.md, and actor messages

    The wire body is one msgpack map {v, id, op, args} for a request and
    {v, id, ok, result | error} for a reply. Actor messages between our own
    threads are [command string][msgpack map] (two frames), optionally behind
    a routing id on ROUTER sockets.
    =========================================================================
*/

#ifndef SHIC_WIRE_H_INCLUDED
#define SHIC_WIRE_H_INCLUDED

#include <czmq.h>
#include "shic_val.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SHIC_WIRE_VERSION 1
#define SHIC_WIRE_ID_MAX  64        //  bytes of a string request id

//  Error codes of wire.md, in the order of its table
#define SHIC_E_MALFORMED                 "malformed"
#define SHIC_E_UNSUPPORTED_VERSION       "unsupported_version"
#define SHIC_E_UNKNOWN_OP                "unknown_op"
#define SHIC_E_INVALID_ARGS              "invalid_args"
#define SHIC_E_INVALID_REQUEST           "invalid_request"
#define SHIC_E_INVALID_CONSUMER_MANIFEST "invalid_consumer_manifest"
#define SHIC_E_MISSING_REQUEST_FIELD     "missing_request_field"
#define SHIC_E_INVALID_TARGET_PREFERENCE "invalid_target_preference"
#define SHIC_E_MISSING_TARGET_PREFERENCE "missing_target_preference"
#define SHIC_E_UNKNOWN_BACKEND_ID        "unknown_backend_id"
#define SHIC_E_INVALID_STARTUP_KIND      "invalid_startup_kind"
#define SHIC_E_INCOMPATIBLE              "incompatible"
#define SHIC_E_INVALID_STARTUP_PLAN      "invalid_startup_plan"
#define SHIC_E_INVALID_BACKEND_OPTIONS   "invalid_backend_options"
#define SHIC_E_FORBIDDEN                 "forbidden"
#define SHIC_E_READINESS_TIMEOUT         "readiness_timeout"
#define SHIC_E_AWAIT_TIMEOUT             "await_timeout"
#define SHIC_E_TRANSPORT_START_FAILED    "transport_start_failed"
#define SHIC_E_BACKEND_EXIT              "backend_exit"
#define SHIC_E_INSTANCE_UNAVAILABLE      "instance_unavailable"
#define SHIC_E_INSTANCE_FAILED           "instance_failed"
#define SHIC_E_CAPACITY                  "capacity"
#define SHIC_E_NOT_FOUND                 "not_found"
#define SHIC_E_LEASE_NOT_FOUND           "lease_not_found"
#define SHIC_E_SHUTTING_DOWN             "shutting_down"
#define SHIC_E_INTERNAL                  "internal"

//  A typed error: a code of the table above, one sentence, structured details
typedef struct {
    const char *code;               //  static string; NULL means "no error"
    char *message;                  //  fresh sentence for a person, or NULL
    shic_val_t *details;            //  owned; any shape, or NULL
} shic_error_t;

//  Sets err (clearing what it held). Takes ownership of *details_p when
//  details_p is not NULL. The message is formatted like printf.
void shic_error_set (shic_error_t *err, const char *code,
                     shic_val_t **details_p, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));
//  Sets err with details {field: field} (invalid_args, forbidden)
void shic_error_set_field (shic_error_t *err, const char *code,
                           const char *field, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));
//  Frees what err holds and zeroes it
void shic_error_clear (shic_error_t *err);
//  Moves src into dst (dst cleared first, src zeroed)
void shic_error_move (shic_error_t *dst, shic_error_t *src);
//  The error as a map {code, message, details}; fresh
shic_val_t *shic_error_to_val (const shic_error_t *err);
//  Reads a {code, message, details} map; the code is mapped onto the static
//  string of the table (unknown codes become "internal"). Returns 0 / -1.
int shic_error_from_val (shic_error_t *err, const shic_val_t *val);
//  The static string for a code, or NULL when it is not in the table
const char *shic_error_code_lookup (const char *code);
//  NULL-terminated list of every code, in table order
extern const char *shic_error_codes [];

//  ---------------------------------------------------------------------------
//  Requests (server side)

typedef struct {
    shic_val_t *body;               //  the decoded map, owned
    shic_val_t *id;                 //  borrowed from body; NULL when unreadable
    const char *op;                 //  borrowed from body
    shic_val_t *args;               //  borrowed from body; always a map
} shic_wire_request_t;

//  Decodes and checks a request body. Returns 0 with req filled, or -1 with
//  err set to malformed / unsupported_version / invalid_args (bad id, bad
//  op or args type). Even on -1, req->id is set when an id could be read,
//  so the error reply can echo it. Call shic_wire_request_reset after.
int shic_wire_request_decode (const void *data, size_t size, size_t max_bytes,
                              shic_wire_request_t *req, shic_error_t *err);
void shic_wire_request_reset (shic_wire_request_t *req);

//  Encodes a reply frame. id may be NULL (encoded as nil). The ok form takes
//  ownership of *result_p (NULL gives an empty map).
zframe_t *shic_wire_reply_ok (const shic_val_t *id, shic_val_t **result_p);
zframe_t *shic_wire_reply_error (const shic_val_t *id, const shic_error_t *err);
//  The same ok reply, streamed: returns a writer that has written the
//  envelope up to the result, which the caller writes (one value); then
//  shic_wire_frame_take turns it into the frame. NULL on out-of-memory.
shic_val_writer_t *shic_wire_reply_ok_begin (const shic_val_t *id);
//  The writer's bytes as a frame; destroys the writer. NULL on out-of-memory.
zframe_t *shic_wire_frame_take (shic_val_writer_t **writer_p);

//  ---------------------------------------------------------------------------
//  Requests and replies (client side)

//  Encodes a request frame; takes ownership of *args_p (NULL = no args)
zframe_t *shic_wire_request_encode (const shic_val_t *id, const char *op,
                                    shic_val_t **args_p);

typedef struct {
    shic_val_t *body;               //  the decoded map, owned
    shic_val_t *id;                 //  borrowed
    bool ok;
    shic_val_t *result;             //  borrowed; when ok
    shic_error_t error;             //  when not ok
} shic_wire_reply_t;

//  Decodes a reply frame; returns 0, or -2 when it is not a valid reply
int shic_wire_reply_decode (const void *data, size_t size, shic_wire_reply_t *reply);
void shic_wire_reply_reset (shic_wire_reply_t *reply);

//  ---------------------------------------------------------------------------
//  Actor messages: [command][msgpack map]

//  Builds a two-frame message; takes ownership of *body_p (NULL = empty map)
zmsg_t *shic_msg_new (const char *command, shic_val_t **body_p);
//  Sends it on sock (zsock_t, zactor_t or a raw socket); returns 0 / -1
int shic_msg_send (void *sock, const char *command, shic_val_t **body_p);
//  Pops [command][body] off msg (which stays owned by the caller). Sets
//  *command_p (fresh) and *body_p (fresh map). Returns 0, or -2 malformed.
int shic_msg_decode (zmsg_t *msg, char **command_p, shic_val_t **body_p);
//  Receives from sock and decodes; returns 0, -1 interrupted or timed out,
//  -2 malformed
int shic_msg_recv (void *sock, char **command_p, shic_val_t **body_p);

void shic_wire_test (bool verbose);

#ifdef __cplusplus
}
#endif

#endif
