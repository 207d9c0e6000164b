/*  =========================================================================
    shic_lease - one actor per lease, and the pool that keeps them ready

    A lease actor owns one lease's TTL timer. It is started ahead of demand
    by the lease pool and then serves lease after lease: taking a lease
    never pays a thread start.

    A lease actor has no socket but its actor pipe: thousands of them are
    held at once, and a socket of its own to the bus would cost each one
    another inproc pipe (about 17 KB). The pool is the lease actors' door to
    the bus, with routing id "P"; lease messages carry the lease actor's id
    ("L<n>") as the frame after it.

    Lease actor, on its pipe (relayed by the pool from the gateway):
        GRANT {lease_ref, ttl_ms, expires_at_ms}   arm the timer (ttl 0: none)
        RENEW {expires_at_ms}                      re-arm
        RELEASE {}                                 back to idle
        $TERM
    and to the gateway (through the pool):
        EXPIRED {lease_ref, expires_at_ms}         the timer fired; the lease
                                                   stays held until the gateway
                                                   says RELEASE or RENEW
    after which it writes its number on the pool's doorbell (a pipe(2), so
    that the pool need not poll thousands of actor pipes).

    Lease pool, on the bus:
        GROW {n}                  from the gateway: start n more lease actors
        L<n> GRANT|RENEW|RELEASE  from the gateway: relayed to lease actor n
        L<n> HELLO                to the gateway: actor n is ready for a lease
        L<n> EXPIRED {...}        to the gateway: relayed from actor n
    Both accept $TERM on their pipe.
    =========================================================================
*/

#include "shic_actors.h"
#include "shic_msg.h"
#include <fcntl.h>

typedef struct {
    int number;                     //  routing id "L<number>"
    int doorbell;                   //  write end of the pool's doorbell
} s_lease_args_t;

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
    zmsg_t *msg = zmsg_recv (self->pipe);
    if (!msg)
        return false;
    if (zmsg_size (msg) == 1) {
        char *command = zmsg_popstr (msg);
        bool term = !command || streq (command, "$TERM");
        if (!term)
            zsys_error ("lease: unexpected '%s'", command);
        zstr_free (&command);
        zmsg_destroy (&msg);
        return !term;
    }
    char *command = NULL;
    shic_val_t *body = NULL;
    if (shic_msg_decode (msg, &command, &body) != 0)
        zsys_error ("lease: bad message from the pool");
    else
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
    zmsg_destroy (&msg);
    return true;
}

void
shic_lease_actor (zsock_t *pipe, void *args_)
{
    s_lease_args_t *args = (s_lease_args_t *) args_;
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
            shic_val_t *body = shic_val_new_map ();
            shic_val_set_str (body, "lease_ref", self.lease_ref);
            shic_val_set_int (body, "expires_at_ms", self.expires_at_ms);
            shic_msg_send (pipe, "EXPIRED", &body);
            //  Ring after the message is queued: the pool reads it then
            uint32_t number = (uint32_t) self.number;
            while (write (self.doorbell, &number, sizeof (number)) == -1 && errno == EINTR)
                ;
            self.fired = true;
        }
    }
    free (self.lease_ref);
}

//  --------------------------------------------------------------------------
//  The pool

typedef struct {
    const shic_settings_t *settings; //  runtime settings
    zsock_t *pipe;                  //  to the supervisor
    zsock_t *bus;                   //  DEALER "P" to the gateway
    zactor_t **leases;              //  lease actor n at [n - 1]
    size_t count;                   //  lease actors started
    size_t limit;                   //  most lease actors we start
    int doorbell [2];               //  pipe(2): read end, write end
} s_pool_t;

//  Sends [L<n>][command][body?] to the gateway
static void
s_pool_to_gateway (s_pool_t *self, size_t number, zmsg_t **msg_p)
{
    char identity [32];
    snprintf (identity, sizeof (identity), "L%zu", number);
    zmsg_pushstr (*msg_p, identity);
    if (zmsg_send (msg_p, self->bus) == -1)
        zmsg_destroy (msg_p);
}

static void
s_pool_start_one (s_pool_t *self)
{
    s_lease_args_t *args = (s_lease_args_t *) zmalloc (sizeof (s_lease_args_t));
    args->number = (int) self->count + 1;
    args->doorbell = self->doorbell [1];
    zactor_t *lease = zactor_new (shic_lease_actor, args);
    assert (lease);
    self->leases [self->count++] = lease;
    zmsg_t *hello = shic_msg_new ("HELLO", NULL);
    s_pool_to_gateway (self, self->count, &hello);
}

//  From the gateway: GROW {n}, or [L<n>][command][body] for a lease actor
static void
s_pool_handle_bus (s_pool_t *self, size_t *grow)
{
    zmsg_t *msg = zmsg_recv (self->bus);
    if (!msg)
        return;
    char *first = zmsg_popstr (msg);
    if (first && first [0] == 'L') {
        long number = strtol (first + 1, NULL, 10);
        if (number >= 1 && (size_t) number <= self->count && zmsg_size (msg) == 2) {
            if (zmsg_send (&msg, self->leases [number - 1]) == -1)
                zsys_warning ("lease pool: cannot reach %s", first);
        }
        else
            zsys_error ("lease pool: bad message for '%s'", first);
    }
    else
    if (first && streq (first, "GROW")) {
        zmsg_pushstr (msg, first);
        char *command = NULL;
        shic_val_t *body = NULL;
        if (shic_msg_decode (msg, &command, &body) == 0)
            *grow += (size_t) shic_val_int (shic_val_get (body, "n"));
        zstr_free (&command);
        shic_val_destroy (&body);
    }
    else
        zsys_error ("lease pool: unexpected '%s'", first? first: "");
    zstr_free (&first);
    zmsg_destroy (&msg);
}

//  The doorbell rang: relays what the actors it names have said
static void
s_pool_handle_doorbell (s_pool_t *self)
{
    uint32_t numbers [256];
    ssize_t size;
    while ((size = read (self->doorbell [0], numbers, sizeof (numbers))) > 0) {
        for (size_t i = 0; i < (size_t) size / sizeof (uint32_t); i++) {
            if (numbers [i] < 1 || numbers [i] > self->count)
                continue;
            zsock_t *pipe = zactor_sock (self->leases [numbers [i] - 1]);
            zmsg_t *msg;
            while ((zsock_events (pipe) & ZMQ_POLLIN) && (msg = zmsg_recv (pipe)))
                s_pool_to_gateway (self, numbers [i], &msg);
        }
        if ((size_t) size < sizeof (numbers))
            break;
    }
}

void
shic_lease_pool_actor (zsock_t *pipe, void *args)
{
    s_pool_t self = { 0 };
    self.settings = (const shic_settings_t *) args;
    self.pipe = pipe;
    self.bus = zsock_new (ZMQ_DEALER);
    zsock_set_identity (self.bus, "P");
    zsock_set_sndhwm (self.bus, 0);
    zsock_set_rcvhwm (self.bus, 0);
    int rc = zsock_connect (self.bus, "%s", self.settings->bus);
    assert (rc == 0);
    rc = pipe2 (self.doorbell, O_CLOEXEC);
    assert (rc == 0);
    //  The pool reads without blocking; actors write blocking
    fcntl (self.doorbell [0], F_SETFL, fcntl (self.doorbell [0], F_GETFL) | O_NONBLOCK);
    self.limit = self.settings->max_leases + self.settings->lease_spare;
    self.leases = (zactor_t **) zmalloc (sizeof (zactor_t *) * (self.limit + 1));
    zsock_signal (pipe, 0);
#ifdef __linux__
    pthread_setname_np (pthread_self (), "shic-lease-pool");
#endif
    size_t grow = self.settings->lease_spare;
    while (true) {
        //  Start actors one at a time, so that $TERM is never kept waiting
        //  long behind a large batch
        bool growing = grow > 0 && self.count < self.limit;
        if (growing) {
            s_pool_start_one (&self);
            grow--;
        }
        zmq_pollitem_t items [3] = {
            { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (self.bus), 0, ZMQ_POLLIN, 0 },
            { NULL, self.doorbell [0], ZMQ_POLLIN, 0 }
        };
        rc = zmq_poll (items, 3, growing? 0: -1);
        if (rc == -1) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (items [0].revents & ZMQ_POLLIN) {
            char *command = zstr_recv (pipe);
            bool term = !command || streq (command, "$TERM");
            zstr_free (&command);
            if (term)
                break;
        }
        for (int i = 0; i < 256 && (zsock_events (self.bus) & ZMQ_POLLIN); i++)
            s_pool_handle_bus (&self, &grow);
        if (items [2].revents & ZMQ_POLLIN)
            s_pool_handle_doorbell (&self);
    }
    while (self.count > 0)
        zactor_destroy (&self.leases [--self.count]);
    free (self.leases);
    close (self.doorbell [0]);
    close (self.doorbell [1]);
    zsock_destroy (&self.bus);
}
