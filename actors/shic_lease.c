/*  =========================================================================
    shic_lease - one actor per lease, and the pool that keeps them ready

    A lease actor owns one lease's TTL timer. It is started ahead of demand
    by the lease pool, says HELLO to the gateway over the bus, and then
    serves lease after lease: taking a lease never pays a thread start.

    Lease actor, on the bus (from the gateway):
        GRANT {lease_ref, ttl_ms, expires_at_ms}   arm the timer (ttl 0: none)
        RENEW {expires_at_ms}                      re-arm
        RELEASE {}                                 back to idle
    and to the gateway:
        HELLO {}                                   ready for a lease
        EXPIRED {lease_ref, expires_at_ms}         the timer fired; the lease
                                                   stays held until the gateway
                                                   says RELEASE or RENEW
    Lease pool, on the bus:  GROW {n}  start n more lease actors
    Both accept $TERM on their pipe.
    =========================================================================
*/

#include "shic_actors.h"

typedef struct {
    const shic_settings_t *settings; //  runtime settings
    int number;                     //  routing id "L<number>"
} s_lease_args_t;

typedef struct {
    zsock_t *pipe;                  //  to the pool
    zsock_t *bus;                   //  DEALER to the gateway
    char *lease_ref;                //  the lease held, or NULL when idle
    int64_t expires_at_ms;          //  wall clock expiry, 0 = none
    bool fired;                     //  EXPIRED sent for this expiry
} s_lease_t;

static void
s_lease_handle_bus (s_lease_t *self)
{
    char *command = NULL;
    shic_val_t *body = NULL;
    if (shic_msg_recv (self->bus, &command, &body) != 0)
        return;
    if (streq (command, "GRANT")) {
        free (self->lease_ref);
        self->lease_ref = strdup (shic_val_str (shic_val_get (body, "lease_ref")));
        self->expires_at_ms = shic_val_int (shic_val_get (body, "expires_at_ms"));
        self->fired = false;
    }
    else
    if (streq (command, "RENEW")) {
        self->expires_at_ms = shic_val_int (shic_val_get (body, "expires_at_ms"));
        self->fired = false;
    }
    else
    if (streq (command, "RELEASE")) {
        zstr_free (&self->lease_ref);
        self->expires_at_ms = 0;
        self->fired = false;
    }
    else
        zsys_error ("lease: unexpected '%s'", command);
    zstr_free (&command);
    shic_val_destroy (&body);
}

void
shic_lease_actor (zsock_t *pipe, void *args_)
{
    s_lease_args_t *args = (s_lease_args_t *) args_;
    s_lease_t self = { 0 };
    self.pipe = pipe;
    self.bus = zsock_new (ZMQ_DEALER);
    char identity [32];
    snprintf (identity, sizeof (identity), "L%d", args->number);
    zsock_set_identity (self.bus, identity);
    zsock_set_sndtimeo (self.bus, 1000);
    int rc = zsock_connect (self.bus, "%s", args->settings->bus);
    assert (rc == 0);
    free (args);
    zsock_signal (pipe, 0);
    shic_msg_send (self.bus, "HELLO", NULL);

    zpoller_t *poller = zpoller_new (pipe, self.bus, NULL);
    zpoller_set_nonstop (poller, true);
    while (true) {
        int timeout = -1;
        if (self.lease_ref && self.expires_at_ms && !self.fired) {
            int64_t left = self.expires_at_ms - shic_now_ms ();
            timeout = left < 0? 0: (int) (left > INT32_MAX? INT32_MAX: left);
        }
        void *which = zpoller_wait (poller, timeout);
        if (which == pipe) {
            char *command = zstr_recv (pipe);
            bool term = !command || streq (command, "$TERM");
            zstr_free (&command);
            if (term)
                break;
        }
        else
        if (which == self.bus)
            s_lease_handle_bus (&self);
        else
        if (zpoller_expired (poller) && self.lease_ref && !self.fired
        &&  shic_now_ms () >= self.expires_at_ms) {
            shic_val_t *body = shic_val_new_map ();
            shic_val_set_str (body, "lease_ref", self.lease_ref);
            shic_val_set_int (body, "expires_at_ms", self.expires_at_ms);
            shic_msg_send (self.bus, "EXPIRED", &body);
            self.fired = true;
        }
    }
    zpoller_destroy (&poller);
    zsock_destroy (&self.bus);
    free (self.lease_ref);
}

//  --------------------------------------------------------------------------
//  The pool

void
shic_lease_pool_actor (zsock_t *pipe, void *args)
{
    const shic_settings_t *settings = (const shic_settings_t *) args;
    zsock_t *bus = zsock_new (ZMQ_DEALER);
    zsock_set_identity (bus, "P");
    int rc = zsock_connect (bus, "%s", settings->bus);
    assert (rc == 0);
    zlistx_t *leases = zlistx_new ();
    zsock_signal (pipe, 0);
#ifdef __linux__
    pthread_setname_np (pthread_self (), "shic-lease-pool");
#endif
    size_t limit = settings->max_leases + settings->lease_spare;
    int number = 0;
    size_t grow = settings->lease_spare;
    zpoller_t *poller = zpoller_new (pipe, bus, NULL);
    zpoller_set_nonstop (poller, true);
    while (true) {
        //  Start actors one at a time, so that $TERM is never kept waiting
        //  long behind a large batch
        if (grow > 0 && zlistx_size (leases) < limit) {
            s_lease_args_t *lease_args = (s_lease_args_t *) zmalloc (sizeof (s_lease_args_t));
            lease_args->settings = settings;
            lease_args->number = ++number;
            zactor_t *lease = zactor_new (shic_lease_actor, lease_args);
            assert (lease);
            zlistx_add_end (leases, lease);
            grow--;
        }
        void *which = zpoller_wait (poller, grow > 0 && zlistx_size (leases) < limit? 0: -1);
        if (which == pipe) {
            char *command = zstr_recv (pipe);
            bool term = !command || streq (command, "$TERM");
            zstr_free (&command);
            if (term)
                break;
        }
        else
        if (which == bus) {
            char *command = NULL;
            shic_val_t *body = NULL;
            if (shic_msg_recv (bus, &command, &body) == 0 && streq (command, "GROW"))
                grow += (size_t) shic_val_int (shic_val_get (body, "n"));
            zstr_free (&command);
            shic_val_destroy (&body);
        }
    }
    zactor_t *lease;
    while ((lease = (zactor_t *) zlistx_last (leases))) {
        zlistx_delete (leases, zlistx_cursor (leases));
        zactor_destroy (&lease);
    }
    zlistx_destroy (&leases);
    zpoller_destroy (&poller);
    zsock_destroy (&bus);
}
