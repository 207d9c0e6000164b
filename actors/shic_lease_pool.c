/*  =========================================================================
    shic_lease_pool - keeps lease actors ready and binds leases to them

    Every lease is an actor of its own (contract §7). The pool starts lease
    actors ahead of demand (lease_spare, and more when leases wait), keeps
    the idle ones, binds each lease the gateway tells it of to one, and is
    its lease actors' door to the bus: they have no socket but their pipe.
    The gateway knows leases by lease_ref only; which actor holds which
    lease is the pool's business.

    On the bus (DEALER "P"), from the gateway:
        GRANT {lease_ref, ttl_ms, expires_at_ms}   bind an actor (ttl 0: the
                                                   actor is reserved, not woken)
        RENEW {lease_ref, ttl_ms, expires_at_ms}   re-arm its actor
        RELEASE {lease_ref}                        free its actor
    To the gateway:
        BOUND {lease_ref, actor}        actor "L<n>" now holds the lease
        EXPIRED {lease_ref, expires_at_ms}  relayed from the lease's actor
        POOL {idle, actors, rc}         its counts changed (for stats); rc -1
                                        while it cannot start more actors
    To a lease actor, on its pipe: GRANT, RENEW, RELEASE with the bodies
    above (a RENEW or RELEASE passes on the gateway's message unchanged).
    On its pipe: $TERM. Every message is a row of messages/shic_bus.c.
    =========================================================================
*/

#include "shic_actors.h"
#include <fcntl.h>

//  One lease actor
typedef struct {
    zactor_t *actor;                //  the lease actor
    char *lease_ref;                //  the lease it holds, or NULL when idle
    bool told;                      //  it was sent GRANT (it has a timer)
} s_slot_t;

//  A lease waiting for an actor
typedef struct {
    int64_t ttl_ms;                 //  its TTL, 0 = untimed
    int64_t expires_at_ms;          //  its expiry, 0 = none
} s_waiting_t;

typedef struct {
    const shic_settings_t *settings; //  runtime settings
    zsock_t *pipe;                  //  to the supervisor
    zsock_t *bus;                   //  DEALER "P" to the gateway
    s_slot_t *slots;                //  lease actor n at [n - 1]
    size_t count;                   //  lease actors started
    size_t limit;                   //  most lease actors we start
    size_t *idle;                   //  numbers of idle actors (a stack)
    size_t idle_count;              //  how many
    zhashx_t *bound;                //  lease_ref -> actor number (as a pointer)
    zhashx_t *waiting;              //  lease_ref -> s_waiting_t
    zlistx_t *queue;                //  refs of waiting leases, oldest first
    size_t grow;                    //  lease actors still to start
    size_t told_idle;               //  idle count the gateway last heard
    int doorbell [2];               //  pipe(2): read end, write end
    int64_t last_grant;             //  monotonic: the last GRANT
    bool exhausted;                 //  the last start found no descriptors
    bool told_exhausted;            //  what the gateway last heard of it
    int64_t retry_at;               //  monotonic: try to start again then
    bool terminated;                //  $TERM seen
} self_t;

static self_t *
s_self_new (zsock_t *pipe, const shic_settings_t *settings)
{
    self_t *self = (self_t *) zmalloc (sizeof (self_t));
    self->settings = settings;
    self->pipe = pipe;
    self->bus = zsock_new (ZMQ_DEALER);
    zsock_set_identity (self->bus, "P");
    zsock_set_sndhwm (self->bus, 0);
    zsock_set_rcvhwm (self->bus, 0);
    int rc = zsock_connect (self->bus, "%s", settings->bus);
    assert (rc == 0);
    rc = pipe2 (self->doorbell, O_CLOEXEC);
    assert (rc == 0);
    //  The pool reads without blocking; actors write blocking
    fcntl (self->doorbell [0], F_SETFL, fcntl (self->doorbell [0], F_GETFL) | O_NONBLOCK);
    self->limit = settings->max_leases + settings->lease_spare;
    self->slots = (s_slot_t *) zmalloc (sizeof (s_slot_t) * (self->limit + 1));
    self->idle = (size_t *) zmalloc (sizeof (size_t) * (self->limit + 1));
    self->bound = zhashx_new ();
    self->waiting = zhashx_new ();
    zhashx_set_destructor (self->waiting, (zhashx_destructor_fn *) zstr_free);
    self->queue = zlistx_new ();
    zlistx_set_destructor (self->queue, (zlistx_destructor_fn *) zstr_free);
    self->grow = settings->lease_spare;
    self->told_idle = SIZE_MAX;
    return self;
}

static void
s_self_destroy (self_t **self_p)
{
    if (*self_p) {
        self_t *self = *self_p;
        while (self->count > 0) {
            s_slot_t *slot = &self->slots [--self->count];
            zactor_destroy (&slot->actor);
            free (slot->lease_ref);
        }
        free (self->slots);
        free (self->idle);
        zhashx_destroy (&self->bound);
        zhashx_destroy (&self->waiting);
        zlistx_destroy (&self->queue);
        close (self->doorbell [0]);
        close (self->doorbell [1]);
        zsock_destroy (&self->bus);
        free (self);
        *self_p = NULL;
    }
}

static void
s_to_gateway (self_t *self, const shic_bus_t *msg)
{
    if (shic_bus_send (self->bus, msg) == -1)
        zsys_warning ("lease pool: cannot send %s", shic_bus_command (msg->id));
}

static void
s_to_actor (self_t *self, size_t number, const shic_bus_t *msg)
{
    if (shic_bus_send (self->slots [number - 1].actor, msg) == -1)
        zsys_warning ("lease pool: cannot reach L%zu", number);
}

//  Arms actor number's timer for its lease
static void
s_tell_grant (self_t *self, size_t number, int64_t ttl_ms, int64_t expires_at_ms)
{
    s_slot_t *slot = &self->slots [number - 1];
    s_to_actor (self, number, &(shic_bus_t) { .id = SHIC_BUS_GRANT, .lease_ref = slot->lease_ref,
                                              .ttl_ms = ttl_ms, .expires_at_ms = expires_at_ms });
    slot->told = true;
}

//  Binds a lease to actor number and tells the gateway; an untimed lease
//  gives the actor nothing to do, so it is not woken
static void
s_bind (self_t *self, size_t number, const char *ref, int64_t ttl_ms, int64_t expires_at_ms)
{
    s_slot_t *slot = &self->slots [number - 1];
    slot->lease_ref = strdup (ref);
    slot->told = false;
    zhashx_insert (self->bound, ref, (void *) (uintptr_t) number);
    if (expires_at_ms)
        s_tell_grant (self, number, ttl_ms, expires_at_ms);
    char actor [32];
    snprintf (actor, sizeof (actor), "L%zu", number);
    s_to_gateway (self, &(shic_bus_t) { .id = SHIC_BUS_BOUND, .lease_ref = ref, .actor = actor });
}

//  Actor number is free (new or released): it takes the oldest lease that
//  waits for one, else it goes on the idle stack
static void
s_actor_free (self_t *self, size_t number)
{
    char *ref;
    while ((ref = (char *) zlistx_detach (self->queue, NULL))) {
        s_waiting_t *waiting = (s_waiting_t *) zhashx_lookup (self->waiting, ref);
        if (waiting) {
            s_bind (self, number, ref, waiting->ttl_ms, waiting->expires_at_ms);
            zhashx_delete (self->waiting, ref);
            zstr_free (&ref);
            return;
        }
        zstr_free (&ref);           //  released while it waited
    }
    self->idle [self->idle_count++] = number;
}

//  Asks for more actors when the idle ones run low or leases wait: what
//  the waiting leases lack, and the spare on top
static void
s_plan_growth (self_t *self)
{
    size_t spare = self->settings->lease_spare;
    size_t have = self->idle_count + self->grow;
    size_t waiting = zhashx_size (self->waiting);
    if (have < spare / 2 + 1 || have < waiting)
        self->grow += spare + (waiting > have? waiting - have: 0);
}

//  czmq's zactor_new asserts when it cannot make its pipe's sockets: a
//  start needs FDS_PER_START descriptors and as much again to spare for the
//  other threads (the gateway answering, a client connecting), else it is
//  not tried. Counts what dup(2) can still open, up to that many.
#define FDS_PER_START   16
#define RETRY_MS        1000

static bool
s_descriptors_free (self_t *self)
{
    int fds [FDS_PER_START];
    int got = 0;
    while (got < FDS_PER_START) {
        int fd = fcntl (self->doorbell [0], F_DUPFD_CLOEXEC, 0);
        if (fd == -1)
            break;
        fds [got++] = fd;
    }
    for (int i = 0; i < got; i++)
        close (fds [i]);
    return got == FDS_PER_START;
}

//  Starts one lease actor; false when descriptors ran out (never aborts:
//  the leases that wait keep waiting, the gateway answers capacity)
static bool
s_start_one (self_t *self)
{
    if (!s_descriptors_free (self)) {
        if (!self->exhausted)
            zsys_warning ("lease pool: out of descriptors at %zu lease actors; "
                          "ensures get capacity until some are free", self->count);
        self->exhausted = true;
        self->retry_at = zclock_mono () + RETRY_MS;
        return false;
    }
    if (self->exhausted)
        zsys_info ("lease pool: descriptors free again at %zu lease actors", self->count);
    self->exhausted = false;
    shic_lease_args_t *args = (shic_lease_args_t *) zmalloc (sizeof (shic_lease_args_t));
    args->number = (int) self->count + 1;
    args->doorbell = self->doorbell [1];
    zactor_t *actor = zactor_new (shic_lease_actor, args);
    assert (actor);
    self->slots [self->count++].actor = actor;
    s_actor_free (self, self->count);
    return true;
}

static void
s_on_grant (self_t *self, const shic_bus_t *msg)
{
    self->last_grant = zclock_mono ();
    if (self->idle_count)
        s_bind (self, self->idle [--self->idle_count], msg->lease_ref, msg->ttl_ms,
                msg->expires_at_ms);
    else {
        s_waiting_t *waiting = (s_waiting_t *) zmalloc (sizeof (s_waiting_t));
        waiting->ttl_ms = msg->ttl_ms;
        waiting->expires_at_ms = msg->expires_at_ms;
        zhashx_update (self->waiting, msg->lease_ref, waiting);
        zlistx_add_end (self->queue, strdup (msg->lease_ref));
    }
    s_plan_growth (self);
}

//  An actor that holds the lease hears of it as the gateway said it
static void
s_on_renew (self_t *self, const shic_bus_t *msg)
{
    size_t number = (size_t) (uintptr_t) zhashx_lookup (self->bound, msg->lease_ref);
    if (number) {
        if (self->slots [number - 1].told)
            s_to_actor (self, number, msg);
        else
        if (msg->expires_at_ms)
            s_tell_grant (self, number, msg->ttl_ms, msg->expires_at_ms);
        return;
    }
    s_waiting_t *waiting = (s_waiting_t *) zhashx_lookup (self->waiting, msg->lease_ref);
    if (waiting) {
        waiting->ttl_ms = msg->ttl_ms;
        waiting->expires_at_ms = msg->expires_at_ms;
    }
}

static void
s_on_release (self_t *self, const shic_bus_t *msg)
{
    const char *ref = msg->lease_ref;
    size_t number = (size_t) (uintptr_t) zhashx_lookup (self->bound, ref);
    if (number) {
        s_slot_t *slot = &self->slots [number - 1];
        if (slot->told)
            s_to_actor (self, number, msg);
        zhashx_delete (self->bound, ref);
        zstr_free (&slot->lease_ref);
        slot->told = false;
        s_actor_free (self, number);
    }
    else
        zhashx_delete (self->waiting, ref);
}

//  After lease_shrink_ms without a GRANT, idle actors above lease_spare
//  end, SHRINK_BATCH at a time (the pool stays responsive), highest number
//  first: numbers stay dense, so an actor can end only when every higher
//  one has. Returns the monotonic time to look again, or -1.
#define SHRINK_BATCH 64

static int64_t
s_shrink (self_t *self)
{
    size_t spare = self->settings->lease_spare;
    if (self->idle_count <= spare || self->grow)
        return -1;
    int64_t due = self->last_grant + self->settings->lease_shrink_ms;
    if (zclock_mono () < due)
        return due;
    for (int ended = 0; ended < SHRINK_BATCH && self->idle_count > spare; ended++) {
        size_t at = self->idle_count;
        for (size_t i = 0; i < self->idle_count && at == self->idle_count; i++)
            if (self->idle [i] == self->count)
                at = i;
        if (at == self->idle_count)
            return -1;              //  the highest is bound: wait for a release
        self->idle [at] = self->idle [--self->idle_count];
        zactor_destroy (&self->slots [--self->count].actor);
    }
    return self->idle_count > spare? zclock_mono (): -1;
}

//  From the gateway: GRANT, RENEW or RELEASE {lease_ref, ...}
static void
s_handle_bus (self_t *self)
{
    shic_bus_t msg = { 0 };
    shic_bus_recv (&msg, self->bus, SHIC_BUS_ROLE_POOL);
    if (msg.id == SHIC_BUS_GRANT)
        s_on_grant (self, &msg);
    else
    if (msg.id == SHIC_BUS_RENEW)
        s_on_renew (self, &msg);
    else
    if (msg.id == SHIC_BUS_RELEASE)
        s_on_release (self, &msg);
    shic_bus_reset (&msg);
}

//  The doorbell rang: relays what the actors it names have said
static void
s_handle_doorbell (self_t *self)
{
    uint32_t numbers [256];
    ssize_t size;
    while ((size = read (self->doorbell [0], numbers, sizeof (numbers))) > 0) {
        for (size_t i = 0; i < (size_t) size / sizeof (uint32_t); i++) {
            if (numbers [i] < 1 || numbers [i] > self->count)
                continue;
            zsock_t *pipe = zactor_sock (self->slots [numbers [i] - 1].actor);
            zmsg_t *msg;
            while ((zsock_events (pipe) & ZMQ_POLLIN) && (msg = zmsg_recv (pipe)))
                if (zmsg_send (&msg, self->bus) == -1)
                    zmsg_destroy (&msg);
        }
        if ((size_t) size < sizeof (numbers))
            break;
    }
}

static void
s_handle_pipe (self_t *self)
{
    shic_bus_t msg = { 0 };
    int rc = shic_bus_recv (&msg, self->pipe, SHIC_BUS_ROLE_POOL);
    if (rc == -1 || msg.id == SHIC_BUS_TERM)
        self->terminated = true;
    else
    if (rc == 0)
        zsys_error ("lease pool: unexpected '%s' on its pipe", shic_bus_command (msg.id));
    shic_bus_reset (&msg);
}

//  Tells the gateway its counts once it is done growing
static void
s_report (self_t *self)
{
    if ((self->grow == 0 && self->idle_count != self->told_idle)
    ||  self->exhausted != self->told_exhausted) {
        s_to_gateway (self, &(shic_bus_t) { .id = SHIC_BUS_POOL, .idle = (int64_t) self->idle_count,
                                            .actors = (int64_t) self->count,
                                            .rc = self->exhausted? -1: 0 });
        self->told_idle = self->idle_count;
        self->told_exhausted = self->exhausted;
    }
}

void
shic_lease_pool_actor (zsock_t *pipe, void *args)
{
    self_t *self = s_self_new (pipe, (const shic_settings_t *) args);
    zsock_signal (pipe, 0);
#ifdef __linux__
    pthread_setname_np (pthread_self (), "shic-lease-pool");
#endif
    while (!self->terminated) {
        //  Start actors one at a time, so that $TERM is never kept waiting
        //  long behind a large batch
        //  Out of descriptors: growth stops, and is tried again every
        //  RETRY_MS (the gateway grants nothing meanwhile)
        if (self->exhausted && zclock_mono () >= self->retry_at) {
            s_plan_growth (self);
            if (self->grow == 0)
                self->grow = 1;
        }
        bool growing = self->grow > 0 && self->count < self->limit
                    && (!self->exhausted || zclock_mono () >= self->retry_at);
        if (growing) {
            if (s_start_one (self))
                self->grow--;
            else {
                self->grow = 0;
                growing = false;
            }
        }
        else
            self->grow = 0;
        int64_t shrink = growing? -1: s_shrink (self);
        s_report (self);
        int64_t timeout = growing? 0: -1;
        if (shrink >= 0)
            timeout = shrink - zclock_mono () > 0? shrink - zclock_mono (): 0;
        if (self->exhausted)
            timeout = self->retry_at - zclock_mono () > 0? self->retry_at - zclock_mono (): 0;
        zmq_pollitem_t items [3] = {
            { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (self->bus), 0, ZMQ_POLLIN, 0 },
            { NULL, self->doorbell [0], ZMQ_POLLIN, 0 }
        };
        if (shic_poll (items, 3, timeout) == -1)
            break;
        if (items [0].revents & ZMQ_POLLIN)
            s_handle_pipe (self);
        for (int i = 0; i < 256 && (zsock_events (self->bus) & ZMQ_POLLIN); i++)
            s_handle_bus (self);
        if (items [2].revents & ZMQ_POLLIN)
            s_handle_doorbell (self);
    }
    s_self_destroy (&self);
}
