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
} s_lease_t;

//  Handles one message from the pool; returns false on $TERM
static bool
s_lease_handle_pipe (s_lease_t *self)
{
    shic_bus_t msg = { 0 };
    int rc = shic_bus_recv (&msg, self->pipe, SHIC_BUS_ROLE_LEASE);
    bool live = rc != -1 && msg.id != SHIC_BUS_TERM;
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
    return live;
}

void
shic_lease_actor (zsock_t *pipe, void *args_)
{
    shic_lease_args_t *args = (shic_lease_args_t *) args_;
    s_lease_t self = { 0 };
    self.pipe = pipe;
    self.number = args->number;
    self.doorbell = args->doorbell;
    free (args);
    zsock_signal (pipe, 0);

    while (true) {
        int timeout = -1;
        if (self.lease_ref && self.expires_at_ms && !self.fired) {
            int64_t left = self.expires_at_ms - shic_now_ms ();
            timeout = left < 0? 0: (int) (left > INT32_MAX? INT32_MAX: left);
        }
        zmq_pollitem_t item = { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 };
        int rc = zmq_poll (&item, 1, timeout);
        if (rc == -1 && errno != EINTR)
            break;
        if (rc > 0) {
            if (!s_lease_handle_pipe (&self))
                break;
        }
        else
        if (rc == 0 && self.lease_ref && !self.fired
        &&  shic_now_ms () >= self.expires_at_ms) {
            shic_bus_send (pipe, &(shic_bus_t) { .id = SHIC_BUS_EXPIRED, .lease_ref = self.lease_ref,
                                                 .expires_at_ms = self.expires_at_ms });
            //  Ring after the message is queued: the pool reads it then
            uint32_t number = (uint32_t) self.number;
            while (write (self.doorbell, &number, sizeof (number)) == -1 && errno == EINTR)
                ;
            self.fired = true;
        }
    }
    free (self.lease_ref);
}
