/*  =========================================================================
    shic_actors - private declarations shared by the actors of one runtime

    The actor tree (see guides/architecture.md):

        supervisor (root, owned by shic_runtime_t)
          +-- gateway      wire-protocol ROUTERs, the registry, events PUB,
          |                and the "bus" ROUTER every other actor talks on
          +-- backend[*]   one per registered backend: owns its state
          +-- instance[*]  one per runtime instance: owns its process,
          |                readiness and health probes
          +-- lease pool   keeps lease actors ready ahead of demand
                +-- lease[*]  one per lease: owns its TTL timer

    Pipes (zactor) carry lifecycle and requests: start, $TERM, the
    facade's requests, and the restart questions an instance asks its
    supervisor. Everything else travels over the bus: each actor's DEALER
    carries a routing id ("I<n>" instance, "P" pool) and the gateway's
    ROUTER addresses them by it. Every message on either is a row of
    messages/shic_bus.c, framed [command][msgpack map][pointer]*. Pointers
    (ops tables, backend state) are passed only on pipes, between threads
    of this process, never on a wire.
    =========================================================================
*/

#ifndef SHIC_ACTORS_H_INCLUDED
#define SHIC_ACTORS_H_INCLUDED

#include "shic.h"
#include "shic_bus.h"
#include "shic_proc.h"
#include "shic_restart_policy.h"
#include "shic_kernel.h"

//  What the supervisor hands an instance actor (ownership passes with it)
typedef struct {
    const shic_settings_t *settings; //  runtime settings
    int seq;                        //  instance number, routing id "I<seq>"
    char *instance_id;              //  fresh
    shic_val_t *plan;               //  normalized StartupPlan, owned
    const shic_backend_ops_t *ops;  //  the backend's ops
    void *backend_state;            //  the backend's state
} shic_instance_args_t;

//  Actors (czmq zactor_fn)
void shic_supervisor_actor (zsock_t *pipe, void *args);
void shic_gateway_actor (zsock_t *pipe, void *args);
void shic_backend_actor (zsock_t *pipe, void *args);
void shic_instance_actor (zsock_t *pipe, void *args);
void shic_lease_pool_actor (zsock_t *pipe, void *args);
void shic_lease_actor (zsock_t *pipe, void *args);

//  What the pool hands a lease actor (freed by the actor)
typedef struct {
    int number;                     //  the actor's number, "L<number>"
    int doorbell;                   //  write end of the pool's doorbell
} shic_lease_args_t;

//  One turn of an actor's loop: zmq_poll over items for up to timeout_ms
//  (-1 = until something comes; longer waits are cut to INT_MAX). A turn
//  a signal interrupts (EINTR) returns 0 events, so the loop goes round;
//  -1 only when the context is being terminated.
int shic_poll (zmq_pollitem_t *items, int count, int64_t timeout_ms);

//  (shic_poll_sockets, a leaner wait for ZeroMQ sockets: kernel/shic_kernel.h)

//  Claims the path of an ipc:// control endpoint before it is bound (see
//  shic_runtime_check_control): 0 when it is free or was a stale socket
//  (removed), -1 with err when a live process listens there or the path
//  is not a socket. Anything but ipc:// is -1; "" is 0.
int shic_control_claim (const char *endpoint, shic_error_t *err);

#endif
