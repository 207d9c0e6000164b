/*  =========================================================================
    shic_lease - one actor per lease

    A lease actor owns one lease's TTL timer. It is started ahead of demand
    by the lease pool (shic_lease_pool.c), which binds it to lease after
    lease: taking a lease never pays a thread start.

    A lease actor has no socket but its actor pipe: thousands of them are
    held at once, and a socket of its own to the bus would cost each one
    another inproc pipe (about 17 KB). The pool is its only peer.

    On its pipe, from the pool (as the gateway sent them to the pool; rows
    of messages/shic_bus.c):
        GRANT {lease_ref, ttl_ms, expires_at_ms}   arm the timer (a timed lease)
        RENEW {lease_ref, ttl_ms, expires_at_ms}   re-arm (expiry 0: disarm)
        RELEASE {lease_ref}                        back to idle
        $TERM
    To the pool, on its pipe:
        EXPIRED {lease_ref, expires_at_ms}  the timer fired; the lease stays
                                            held until RELEASE or RENEW
    after which it writes its number on the pool's doorbell (a pipe(2), so
    that the pool need not poll thousands of actor pipes).
    =========================================================================
*/

#include "shic_actors.h"

typedef struct {
    zsock_t *pipe;                  //  to the pool
    int number;                     //  our number
    int doorbell;                   //  the pool's doorbell
    char *lease_ref;                //  the lease held, or NULL when idle
    int64_t expires_at_ms;          //  wall clock expiry, 0 = none
    bool fired;                     //  EXPIRED sent for this expiry
    bool terminated;                //  $TERM seen
} self_t;

//  Takes the args
static self_t *
s_self_new (zsock_t *pipe, shic_lease_args_t *args)
{
    self_t *self = (self_t *) zmalloc (sizeof (self_t));
    assert (self);
    self->pipe = pipe;
    self->number = args->number;
    self->doorbell = args->doorbell;
    free (args);
    return self;
}

static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (self) {
        free (self->lease_ref);
        free (self);
        *self_p = NULL;
    }
}

//  Milliseconds until the timer fires, or -1 when none is armed
static int64_t
s_timeout (self_t *self)
{
    if (!self->lease_ref || !self->expires_at_ms || self->fired)
        return -1;
    int64_t left = self->expires_at_ms - shic_now_ms ();
    return left < 0? 0: left;
}

static void
s_handle_pipe (self_t *self)
{
    shic_bus_t msg = { 0 };
    int rc = shic_bus_recv (&msg, self->pipe, SHIC_BUS_ROLE_LEASE);
    if (rc == -1 || msg.id == SHIC_BUS_TERM)
        self->terminated = true;
    else
    if (msg.id == SHIC_BUS_GRANT) {
        free (self->lease_ref);
        self->lease_ref = strdup (msg.lease_ref);
        self->expires_at_ms = msg.expires_at_ms;
        self->fired = false;
    }
    else
    if (msg.id == SHIC_BUS_RENEW) {
        self->expires_at_ms = msg.expires_at_ms;
        self->fired = false;
    }
    else
    if (msg.id == SHIC_BUS_RELEASE) {
        zstr_free (&self->lease_ref);
        self->expires_at_ms = 0;
        self->fired = false;
    }
    shic_bus_reset (&msg);
}

//  The timer fired: EXPIRED to the pool, then the doorbell
static void
s_handle_timer (self_t *self)
{
    if (s_timeout (self) != 0)
        return;
    shic_bus_send (self->pipe, &(shic_bus_t) { .id = SHIC_BUS_EXPIRED, .lease_ref = self->lease_ref,
                                               .expires_at_ms = self->expires_at_ms });
    //  Ring after the message is queued: the pool reads it then
    uint32_t number = (uint32_t) self->number;
    while (write (self->doorbell, &number, sizeof (number)) == -1 && errno == EINTR)
        ;
    self->fired = true;
}

void
shic_lease_actor (zsock_t *pipe, void *args)
{
    self_t *self = s_self_new (pipe, (shic_lease_args_t *) args);
    zsock_signal (pipe, 0);

    while (!self->terminated) {
        zmq_pollitem_t items [] = { { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 } };
        int rc = shic_poll (items, 1, s_timeout (self));
        if (rc == -1)
            break;
        if (items [0].revents & ZMQ_POLLIN)
            s_handle_pipe (self);
        else
        if (rc == 0)
            s_handle_timer (self);
    }
    s_self_destroy (&self);
}
