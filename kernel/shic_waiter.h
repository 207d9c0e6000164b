/*  =========================================================================
    shic_waiter - a request parked until its instance can answer it

    An ensure_endpoint whose instance is starting, restarting or
    unavailable waits as a waiter on the instance's record, with the
    routing envelope it must be answered on and a deadline. The gateway
    parks, grants and expires waiters; a waiter knows how to answer itself.
    =========================================================================
*/

#ifndef SHIC_WAITER_H_INCLUDED
#define SHIC_WAITER_H_INCLUDED

#include "shic.h"

typedef struct {
    zsock_t *router;                //  where the reply goes, borrowed
    zmsg_t *envelope;               //  routing frames to send back
    char *client;                   //  client key for untimed leases, or NULL
    bool trusted;                   //  came over the inproc socket
    bool restarted;                 //  it waited through a stop: the new
                                    //  start is for it (reused false)
    shic_val_t *id;                 //  request id
    void *instance;                 //  the record it waits for, borrowed
    shic_val_t *owner_ref;          //  lease owner (str), or NULL
    int64_t ttl_ms;                 //  lease TTL
    shic_val_t *compatibility;      //  for the reply
    bool compatibility_borrowed;    //  not the waiter's: not destroyed with it
    bool reused;                    //  no start was made for it
    bool want_healthy;              //  waits for an unavailable one to recover
    int64_t deadline;               //  monotonic; await_timeout after it
    int64_t started;                //  microseconds, for the latency histogram
    int priority;                   //  its place in the memory queue
    bool has_priority;              //  priority was given (else the model's)
    bool preemptible;               //  its lease may be revoked
    int64_t queued_ms;              //  how long it waited for memory
    shic_val_t *evicted;            //  instances stopped to make room for it
} shic_waiter_t;

//  A waiter for request id (copied) on router; takes *envelope_p and
//  *compatibility_p; client and owner_ref are copied (may be NULL)
shic_waiter_t *shic_waiter_new (zsock_t *router, zmsg_t **envelope_p, const shic_val_t *id,
                                const char *client, bool trusted, const char *owner_ref,
                                int64_t ttl_ms, shic_val_t **compatibility_p);
void shic_waiter_destroy (shic_waiter_t **self_p);

//  Sends frame (taken) after the envelope; a gone or stuck client never
//  blocks: the reply is dropped
void shic_waiter_send (zsock_t *router, zmsg_t *envelope, zframe_t **frame_p);

//  The same, sending the envelope itself (no copy): takes both
void shic_waiter_send_taking (zsock_t *router, zmsg_t **envelope_p, zframe_t **frame_p);
//  Answers the waiter with err
void shic_waiter_reply_error (shic_waiter_t *self, const shic_error_t *err);
//  The error of a waiter past its deadline: instance_unavailable when it
//  waited for a recovery, else await_timeout (the instance keeps starting)
void shic_waiter_timeout_error (shic_waiter_t *self, const char *instance_id,
                                const char *lifecycle_status, const char *health_status,
                                shic_error_t *err);

void shic_waiter_test (bool verbose);

#endif
