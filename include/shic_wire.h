/*  =========================================================================
    shic_wire - the wire envelope of wire.md

    The wire body is one msgpack map {v, id, op, args} for a request and
    {v, id, ok, result | error} for a reply; errors are shic_error_t.
    =========================================================================
*/

#ifndef SHIC_WIRE_H_INCLUDED
#define SHIC_WIRE_H_INCLUDED

#include <czmq.h>
#include "shic_val.h"
#include "shic_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SHIC_WIRE_VERSION 1
#define SHIC_WIRE_ID_MAX  64        //  bytes of a string request id

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
SHIC_EXPORT int shic_wire_request_decode (const void *data, size_t size, size_t max_bytes,
                                          shic_wire_request_t *req, shic_error_t *err);
SHIC_EXPORT void shic_wire_request_reset (shic_wire_request_t *req);

//  Encodes a reply frame. id may be NULL (encoded as nil). The ok form takes
//  ownership of *result_p (NULL gives an empty map).
SHIC_EXPORT zframe_t *shic_wire_reply_ok (const shic_val_t *id, shic_val_t **result_p);
SHIC_EXPORT zframe_t *shic_wire_reply_error (const shic_val_t *id, const shic_error_t *err);
//  The same ok reply, streamed: returns a writer that has written the
//  envelope up to the result, which the caller writes (one value); then
//  shic_wire_frame_take turns it into the frame. NULL on out-of-memory.
SHIC_EXPORT shic_val_writer_t *shic_wire_reply_ok_begin (const shic_val_t *id);
//  The writer's bytes as a frame; destroys the writer. NULL on out-of-memory.
SHIC_EXPORT zframe_t *shic_wire_frame_take (shic_val_writer_t **writer_p);
//  A value encoded as one frame; destroys *val_p either way. NULL when
//  *val_p is NULL or on out-of-memory.
SHIC_EXPORT zframe_t *shic_wire_frame_new (shic_val_t **val_p);

//  ---------------------------------------------------------------------------
//  Requests and replies (client side)

//  Encodes a request frame; takes ownership of *args_p (NULL = no args)
SHIC_EXPORT zframe_t *shic_wire_request_encode (const shic_val_t *id, const char *op,
                                                shic_val_t **args_p);

typedef struct {
    shic_val_t *body;               //  the decoded map, owned
    shic_val_t *id;                 //  borrowed
    bool ok;                        //  the reply's ok flag
    shic_val_t *result;             //  borrowed; when ok
    shic_error_t error;             //  when not ok
} shic_wire_reply_t;

//  Decodes a reply frame; returns 0, or -2 when it is not a valid reply
SHIC_EXPORT int shic_wire_reply_decode (const void *data, size_t size, shic_wire_reply_t *reply);
SHIC_EXPORT void shic_wire_reply_reset (shic_wire_reply_t *reply);

#ifdef __cplusplus
}
#endif

#endif
