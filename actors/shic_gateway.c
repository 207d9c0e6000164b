/*  =========================================================================
    shic_gateway - the wire protocol, the registry and the events

    Owns the ROUTER sockets of wire.md (a trusted one on inproc for the
    embedding host, an untrusted one for network clients once bound), the
    registry (backends, instances, leases), the events PUB socket, and the
    bus ROUTER on which every instance, lease and the lease pool talk to it.

    The hot path (a warm ensure_endpoint) never leaves this thread: decode,
    compatibility, the backend's pure startup_plan, truthfulness, lookup,
    and a lease actor taken from the idle list (the warm path also skips
    the resolution when the same request was resolved before). The actor
    is woken only when it has a timer to own: a timed lease's GRANT goes out
    with the housekeeping once requests pause (s_chores), an untimed
    lease's actor stays reserved and asleep. Cold starts park the request
    as a waiter; replies go out in whatever order outcomes arrive.

    Pipe (from the supervisor):
        BACKEND manifest ops state config -> "OK"
        UNREGISTER name                  -> "OK"
        BIND-GATEWAY endpoint / BIND-EVENTS endpoint -> "i" port
        DRAIN, $TERM
    Pipe (to the supervisor):  SPAWN seq instance_id backend plan
    Bus: see shic_instance.c and shic_lease.c.
    =========================================================================
*/

#include "shic_actors.h"

#define LATENCY_BUCKETS 24          //  powers of two of microseconds
//  Lease housekeeping (starting lease actors, telling them their timed
//  leases) waits until requests and replies pause for CHORES_IDLE_MS, at
//  most CHORES_MAX_MS: waking a thousand threads in the middle of a burst
//  of replies (a thundering herd answered at once) would slow the replies
//  down. A timed lease's actor thus hears of it up to CHORES_MAX_MS late;
//  its expiry time is absolute all the same, and a lease with a TTL under
//  CHORES_URGENT_TTL_MS is told at once.
#define CHORES_IDLE_MS          20
#define CHORES_MAX_MS           200
#define CHORES_URGENT_TTL_MS    2000

typedef struct {
    char *name;                     //  backend id
    const shic_backend_ops_t *ops;  //  ops table
    void *state;                    //  the backend's state
    shic_val_t *manifest;           //  normalized manifest
    zconfig_t *config;              //  its configuration section, or NULL
} s_backend_t;

typedef struct _s_instance_t s_instance_t;

//  A request waiting for an instance, a recovery, or a lease actor
typedef struct {
    zsock_t *router;                //  where the reply goes
    zmsg_t *envelope;               //  routing frames to send back
    char *client;                   //  client key for untimed leases
    bool trusted;                   //  came over the inproc socket
    shic_val_t *id;                 //  request id
    s_instance_t *instance;         //  what it waits for
    shic_val_t *owner_ref;          //  lease owner (str or nil)
    int64_t ttl_ms;                 //  lease TTL
    shic_val_t *compatibility;      //  for the reply
    bool reused;                    //  instance existed when asked
    bool want_healthy;              //  waits for an unavailable one to recover
    int64_t deadline;               //  monotonic; await_timeout after it
    int64_t started;                //  monotonic, for the latency histogram
} s_waiter_t;

struct _s_instance_t {
    int seq;                        //  number, bus routing id "I<seq>"
    char *id;                       //  instance id (= instance_key)
    char *backend;                  //  backend id
    shic_val_t *plan;               //  normalized plan
    bool spawned;                   //  startup kind is spawned
    bool actor_live;                //  its actor has not finished
    const char *status;             //  lifecycle status (static string)
    const char *health;             //  health status (static string)
    shic_val_t *endpoint;           //  published endpoint, once ready
    int64_t inserted_at_ms;         //  wall clock
    int64_t ready_at_ms;            //  wall clock, 0 before ready
    int restarts;                   //  restarts so far
    shic_val_t *last_exit;          //  last exit map, or NULL
    int pid;                        //  spawned process id, 0 when none
    size_t lease_count;             //  live leases
    zlistx_t *waiters;              //  s_waiter_t parked on it
    int64_t idle_at;                //  monotonic idle stop time, 0 = none
    int64_t retire_at;              //  monotonic time a tombstone goes, 0 = none
    shic_error_t error;             //  what a failed instance answers
};

typedef struct {
    char *ref;                      //  lease_ref
    shic_val_t *owner_ref;          //  opaque owner (str or nil)
    int64_t ttl_ms;                 //  0 = untimed
    int64_t expires_at_ms;          //  wall clock, 0 = never
    char *instance_id;              //  its instance
    char *actor;                    //  routing id of its lease actor; NULL
                                    //  until one is free (the pool is growing)
    bool told;                      //  the actor holds it (GRANT sent)
    char *client;                   //  client key when untimed and tracked
} s_lease_t;

typedef struct {
    int64_t last_seen;              //  monotonic
    size_t untimed;                 //  untimed leases it holds
} s_client_t;

//  What an ensure request resolved to: compatibility, the backend's pure
//  startup_plan and the truthfulness check are functions of the request,
//  the consumer and the registered backend, so a repeat of the same request
//  goes straight to its instance. Forgotten when any backend changes.
typedef struct {
    char *instance_id;              //  the plan's instance_key
    shic_val_t *compatibility;      //  the compatibility report
} s_resolved_t;

#define RESOLVED_MAX 1024           //  entries before the cache starts over

typedef struct {
    zsock_t *pipe;                  //  to the supervisor
    const shic_settings_t *settings; //  runtime settings
    zsock_t *trusted;               //  inproc ROUTER for the embedding host
    zsock_t *public_router;         //  network ROUTER, once bound
    zactor_t *auth;                 //  ZAP handler when CURVE is required
    zcert_t *cert;                  //  the server's CURVE certificate
    zsock_t *bus;                   //  ROUTER for our own actors
    zsock_t *events;                //  PUB
    zhashx_t *backends;             //  name -> s_backend_t
    zhashx_t *instances;            //  id -> s_instance_t
    zhashx_t *by_seq;               //  "I<seq>" -> s_instance_t (borrowed)
    zhashx_t *leases;               //  ref -> s_lease_t
    zhashx_t *clients;              //  client key -> s_client_t
    zlistx_t *idle_actors;          //  routing ids of idle lease actors
    zlistx_t *unbound;              //  refs of leases waiting for a lease actor
    zlistx_t *to_tell;              //  refs of timed leases whose GRANT is due
    zhashx_t *resolved;             //  warm path: request bytes -> s_resolved_t
    size_t growing;                 //  lease actors asked for, not yet arrived
    size_t grow_pending;            //  lease actors to ask for (housekeeping)
    int64_t chores_since;           //  monotonic; housekeeping queued, 0 = none
    bool chores_urgent;             //  a short lease waits for its actor
    int64_t last_busy;              //  monotonic; last request or reply burst
    int next_seq;                   //  instance numbers
    uint64_t next_lease;            //  lease numbers
    int64_t started_at;             //  monotonic start time
    bool draining;                  //  shutting down
    bool terminated;                //  $TERM seen
    //  stats
    uint64_t requests;              //  requests decoded
    uint64_t ensures;               //  ensure_endpoint requests
    uint64_t errors [32];           //  errors by code index
    uint64_t latency [LATENCY_BUCKETS]; //  ensure latency histogram
    uint64_t leases_granted;        //  leases granted
    uint64_t instances_started;     //  instance actors asked for
} self_t;

//  --------------------------------------------------------------------------
//  Small helpers

//  Sends [topic][body] on the events PUB; takes the frame
static void
s_publish_frame (self_t *self, const char *topic, zframe_t **frame_p)
{
    if (!*frame_p)
        return;
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, topic);
    zmsg_append (msg, frame_p);
    if (zmsg_send (&msg, self->events) == -1)
        zmsg_destroy (&msg);
}

static void
s_publish (self_t *self, const char *topic, shic_val_t **body_p)
{
    shic_val_t *body = *body_p;
    shic_val_set_int (body, "at_ms", shic_now_ms ());
    void *data = NULL;
    size_t size = 0;
    if (shic_val_encode (body, &data, &size) == 0) {
        zframe_t *frame = zframe_new (data, size);
        free (data);
        s_publish_frame (self, topic, &frame);
    }
    shic_val_destroy (body_p);
}

static shic_val_t *
s_event_body (const char *instance_id)
{
    shic_val_t *body = shic_val_new_map ();
    shic_val_set_str (body, "instance_id", instance_id);
    return body;
}

static void
s_count_error (self_t *self, const char *code)
{
    for (int i = 0; shic_error_codes [i] && i < 32; i++)
        if (streq (shic_error_codes [i], code)) {
            self->errors [i]++;
            return;
        }
}

static void
s_send_reply (self_t *self, zsock_t *router, zmsg_t *envelope, zframe_t **frame_p)
{
    (void) self;
    zmsg_t *reply = zmsg_dup (envelope);
    zmsg_append (reply, frame_p);
    //  A gone or stuck client never blocks us: the reply is dropped
    if (zmsg_send (&reply, router) == -1)
        zmsg_destroy (&reply);
}

static void
s_reply_ok (self_t *self, zsock_t *router, zmsg_t *envelope, const shic_val_t *id,
            shic_val_t **result_p)
{
    zframe_t *frame = shic_wire_reply_ok (id, result_p);
    s_send_reply (self, router, envelope, &frame);
}

static void
s_reply_error (self_t *self, zsock_t *router, zmsg_t *envelope, const shic_val_t *id,
               const shic_error_t *err)
{
    s_count_error (self, err->code);
    zframe_t *frame = shic_wire_reply_error (id, err);
    s_send_reply (self, router, envelope, &frame);
}

static void
s_resolved_destroy (s_resolved_t **self_p)
{
    if (*self_p) {
        s_resolved_t *self = *self_p;
        free (self->instance_id);
        shic_val_destroy (&self->compatibility);
        free (self);
        *self_p = NULL;
    }
}

static void
s_backend_destroy (s_backend_t **self_p)
{
    if (*self_p) {
        s_backend_t *self = *self_p;
        free (self->name);
        shic_val_destroy (&self->manifest);
        free (self);
        *self_p = NULL;
    }
}

static void
s_waiter_destroy (s_waiter_t **self_p)
{
    if (*self_p) {
        s_waiter_t *self = *self_p;
        zmsg_destroy (&self->envelope);
        free (self->client);
        shic_val_destroy (&self->id);
        shic_val_destroy (&self->owner_ref);
        shic_val_destroy (&self->compatibility);
        free (self);
        *self_p = NULL;
    }
}

static void
s_instance_destroy (s_instance_t **self_p)
{
    if (*self_p) {
        s_instance_t *self = *self_p;
        free (self->id);
        free (self->backend);
        shic_val_destroy (&self->plan);
        shic_val_destroy (&self->endpoint);
        shic_val_destroy (&self->last_exit);
        s_waiter_t *waiter;
        while ((waiter = (s_waiter_t *) zlistx_detach (self->waiters, NULL)))
            s_waiter_destroy (&waiter);
        zlistx_destroy (&self->waiters);
        shic_error_clear (&self->error);
        free (self);
        *self_p = NULL;
    }
}

static void
s_lease_destroy (s_lease_t **self_p)
{
    if (*self_p) {
        s_lease_t *self = *self_p;
        free (self->ref);
        shic_val_destroy (&self->owner_ref);
        free (self->instance_id);
        free (self->actor);
        free (self->client);
        free (self);
        *self_p = NULL;
    }
}

static void
s_bus_send (self_t *self, const char *identity, const char *command, shic_val_t **body_p)
{
    zmsg_t *msg = shic_msg_new (command, body_p);
    zmsg_pushstr (msg, identity);
    if (zmsg_send (&msg, self->bus) == -1) {
        if (!self->draining)
            zsys_warning ("gateway: cannot send %s to %s", command, identity);
        zmsg_destroy (&msg);
    }
}

//  To a lease actor, through the lease pool (its door to the bus)
static void
s_lease_send (self_t *self, const char *actor, const char *command, shic_val_t **body_p)
{
    zmsg_t *msg = shic_msg_new (command, body_p);
    zmsg_pushstr (msg, actor);
    zmsg_pushstr (msg, "P");
    if (zmsg_send (&msg, self->bus) == -1) {
        if (!self->draining)
            zsys_warning ("gateway: cannot send %s to %s", command, actor);
        zmsg_destroy (&msg);
    }
}

static void
s_instance_send (self_t *self, s_instance_t *instance, const char *command)
{
    char identity [32];
    snprintf (identity, sizeof (identity), "I%d", instance->seq);
    s_bus_send (self, identity, command, NULL);
}

//  The endpoint as published in snapshots and events: header values (an
//  authorization header carries a secret) are redacted; only ensure's reply
//  to the lease holder carries them
static shic_val_t *
s_endpoint_public (const shic_val_t *endpoint)
{
    if (!endpoint)
        return shic_val_new_nil ();
    shic_val_t *copy = shic_val_dup (endpoint);
    shic_val_t *headers = shic_val_get (copy, "headers");
    for (size_t i = 0; i < shic_val_size (headers); i++)
        shic_val_set_str (headers, shic_val_key_at (headers, i), "[redacted]");
    return copy;
}

static shic_val_t *
s_snapshot (s_instance_t *instance)
{
    shic_val_t *snap = shic_val_new_map ();
    shic_val_set_str (snap, "instance_id", instance->id);
    shic_val_set_str (snap, "backend", instance->backend);
    shic_val_set_dup (snap, "startup_kind", shic_val_get (instance->plan, "startup_kind"));
    shic_val_set_dup (snap, "management_mode", shic_val_get (instance->plan, "management_mode"));
    shic_val_set_str (snap, "lifecycle_status", instance->status);
    shic_val_set_str (snap, "health_status", instance->health);
    shic_val_set_int (snap, "lease_count", (int64_t) instance->lease_count);
    shic_val_t *endpoint = s_endpoint_public (instance->endpoint);
    shic_val_set (snap, "endpoint", &endpoint);
    shic_val_set_int (snap, "inserted_at_ms", instance->inserted_at_ms);
    if (instance->ready_at_ms)
        shic_val_set_int (snap, "ready_at_ms", instance->ready_at_ms);
    else
        shic_val_set_nil (snap, "ready_at_ms");
    shic_val_set_int (snap, "restarts", instance->restarts);
    shic_val_set_dup (snap, "last_exit", instance->last_exit);
    if (instance->spawned && instance->pid)
        shic_val_set_int (snap, "pid", instance->pid);
    else
        shic_val_set_nil (snap, "pid");
    shic_val_set_dup (snap, "metadata", shic_val_get (instance->plan, "metadata"));
    return snap;
}

static shic_val_t *
s_lease_val (s_lease_t *lease)
{
    shic_val_t *val = shic_lease_ref_new (lease->ref, lease->owner_ref, lease->ttl_ms,
                                          lease->expires_at_ms, true, lease->instance_id);
    if (lease->actor)
        shic_val_set_str (val, "actor", lease->actor);
    else
        shic_val_set_nil (val, "actor");
    return val;
}

//  The LeaseRef of a lease, streamed, with its actor
static void
s_lease_write (shic_val_writer_t *writer, s_lease_t *lease)
{
    shic_lease_ref_write (writer, 1, lease->ref, lease->owner_ref, lease->ttl_ms,
                          lease->expires_at_ms, true, lease->instance_id);
    shic_val_writer_str (writer, "actor");
    shic_val_writer_str (writer, lease->actor);
}

//  A lease event {instance_id, lease_ref, owner_ref, reason?, at_ms},
//  streamed
static void
s_publish_lease (self_t *self, const char *topic, s_lease_t *lease, const char *reason)
{
    shic_val_writer_t *writer = shic_val_writer_new ();
    if (!writer)
        return;
    shic_val_writer_map (writer, reason? 5: 4);
    shic_val_writer_str (writer, "instance_id");
    shic_val_writer_str (writer, lease->instance_id);
    shic_val_writer_str (writer, "lease_ref");
    shic_val_writer_str (writer, lease->ref);
    shic_val_writer_str (writer, "owner_ref");
    shic_val_writer_val (writer, lease->owner_ref);
    if (reason) {
        shic_val_writer_str (writer, "reason");
        shic_val_writer_str (writer, reason);
    }
    shic_val_writer_str (writer, "at_ms");
    shic_val_writer_int (writer, shic_now_ms ());
    zframe_t *frame = shic_wire_frame_take (&writer);
    s_publish_frame (self, topic, &frame);
}

//  --------------------------------------------------------------------------
//  Leases

static void
s_pool_grow (self_t *self)
{
    size_t spare = self->settings->lease_spare;
    size_t have = zlistx_size (self->idle_actors) + self->growing + self->grow_pending;
    size_t unbound = zlistx_size (self->unbound);
    if (have < spare / 2 + 1 || have < unbound) {
        //  What the waiting leases lack, and the spare on top
        self->grow_pending += spare + (unbound > have? unbound - have: 0);
        if (!self->chores_since)
            self->chores_since = zclock_mono ();
    }
}

static void
s_latency (self_t *self, int64_t started_us)
{
    int64_t us = zclock_usecs () - started_us;
    int bucket = 0;
    while (bucket < LATENCY_BUCKETS - 1 && (1LL << bucket) < us)
        bucket++;
    self->latency [bucket]++;
}

//  Queues a timed lease's GRANT for the housekeeping (an untimed lease
//  gives its actor nothing to do)
static void
s_tell_later (self_t *self, s_lease_t *lease)
{
    if (!lease->expires_at_ms)
        return;
    zlistx_add_end (self->to_tell, strdup (lease->ref));
    if (!self->chores_since)
        self->chores_since = zclock_mono ();
    if (lease->ttl_ms < CHORES_URGENT_TTL_MS)
        self->chores_urgent = true;
}

//  Reserves a lease actor for a lease. A timed lease's GRANT is queued and
//  sent with the housekeeping (s_chores), after the replies; an untimed
//  lease gives its actor nothing to do, so the actor is not woken
static void
s_lease_bind (self_t *self, s_lease_t *lease, char *actor)
{
    lease->actor = actor;
    lease->told = false;
    s_tell_later (self, lease);
}

//  Sends the GRANTs queued; a lease that ended meanwhile never woke its
//  actor
static void
s_tell (self_t *self)
{
    char *ref;
    while ((ref = (char *) zlistx_detach (self->to_tell, NULL))) {
        s_lease_t *lease = (s_lease_t *) zhashx_lookup (self->leases, ref);
        zstr_free (&ref);
        if (lease && lease->actor && !lease->told && lease->expires_at_ms) {
            shic_val_t *grant = shic_val_new_map ();
            shic_val_set_str (grant, "lease_ref", lease->ref);
            shic_val_set_int (grant, "ttl_ms", lease->ttl_ms);
            shic_val_set_int (grant, "expires_at_ms", lease->expires_at_ms);
            s_lease_send (self, lease->actor, "GRANT", &grant);
            lease->told = true;
        }
    }
}

//  Does the lease housekeeping once requests pause (or it has waited long
//  enough); returns the monotonic time it is due, or -1 when none waits
static int64_t
s_chores (self_t *self, int64_t now)
{
    if (!self->chores_since)
        return -1;
    int64_t due = self->last_busy + CHORES_IDLE_MS;
    if (due > self->chores_since + CHORES_MAX_MS)
        due = self->chores_since + CHORES_MAX_MS;
    if (self->chores_urgent)
        due = now;
    if (now < due)
        return due;
    if (self->grow_pending) {
        shic_val_t *body = shic_val_new_map ();
        shic_val_set_int (body, "n", (int64_t) self->grow_pending);
        s_bus_send (self, "P", "GROW", &body);
        self->growing += self->grow_pending;
        self->grow_pending = 0;
    }
    s_tell (self);
    self->chores_since = 0;
    self->chores_urgent = false;
    return -1;
}

//  A lease actor is free (new or released): it takes the oldest lease that
//  waits for one, else it goes on the idle list
static void
s_actor_free (self_t *self, const char *identity)
{
    char *ref;
    while ((ref = (char *) zlistx_detach (self->unbound, NULL))) {
        s_lease_t *lease = (s_lease_t *) zhashx_lookup (self->leases, ref);
        zstr_free (&ref);
        if (lease && !lease->actor) {
            s_lease_bind (self, lease, strdup (identity));
            return;
        }
    }
    zlistx_add_end (self->idle_actors, strdup (identity));
}

//  Grants a lease for a waiter whose instance is ready, and replies. When
//  no lease actor is idle (the pool is growing), the lease is granted at
//  once all the same and bound to the next actor that comes free: the
//  request never waits for a thread start. Returns 0.
static int
s_grant (self_t *self, s_waiter_t *waiter)
{
    s_instance_t *instance = waiter->instance;
    if (zhashx_size (self->leases) >= self->settings->max_leases) {
        shic_error_t err = { 0 };
        shic_val_t *details = shic_val_new_map ();
        shic_val_set_str (details, "limit", "max_leases");
        shic_val_set_int (details, "max_leases", (int64_t) self->settings->max_leases);
        shic_error_set (&err, SHIC_E_CAPACITY, &details, "the lease limit (%zu) is reached",
                        self->settings->max_leases);
        s_reply_error (self, waiter->router, waiter->envelope, waiter->id, &err);
        shic_error_clear (&err);
        return 0;
    }
    char *actor = (char *) zlistx_detach (self->idle_actors, NULL);
    s_lease_t *lease = (s_lease_t *) zmalloc (sizeof (s_lease_t));
    lease->ref = zsys_sprintf ("lease-%" PRIu64, ++self->next_lease);
    lease->owner_ref = waiter->owner_ref? shic_val_dup (waiter->owner_ref): shic_val_new_nil ();
    lease->ttl_ms = waiter->ttl_ms;
    lease->expires_at_ms = waiter->ttl_ms > 0? shic_now_ms () + waiter->ttl_ms: 0;
    lease->instance_id = strdup (instance->id);
    bool tracked = !waiter->trusted || self->settings->inproc_client_timeout;
    if (waiter->ttl_ms == 0 && tracked && waiter->client) {
        lease->client = strdup (waiter->client);
        s_client_t *client = (s_client_t *) zhashx_lookup (self->clients, waiter->client);
        if (client)
            client->untimed++;
    }
    zhashx_insert (self->leases, lease->ref, lease);
    instance->lease_count++;
    instance->idle_at = 0;
    self->leases_granted++;
    if (actor)
        s_lease_bind (self, lease, actor);
    else
        zlistx_add_end (self->unbound, strdup (lease->ref));
    s_pool_grow (self);

    //  The reply is streamed from the instance's endpoint and the waiter's
    //  compatibility as they are: no copy of either per grant
    //  {endpoint (with lease_ref), compatibility, lease, instance_id, reused}
    shic_val_writer_t *writer = shic_wire_reply_ok_begin (waiter->id);
    if (writer) {
        shic_val_writer_map (writer, 5);
        shic_val_writer_str (writer, "endpoint");
        bool has_ref = shic_val_get (instance->endpoint, "lease_ref") != NULL;
        shic_val_writer_map (writer, shic_val_size (instance->endpoint) + (has_ref? 0: 1));
        shic_val_writer_pairs (writer, instance->endpoint, "lease_ref", lease->ref);
        if (!has_ref) {
            shic_val_writer_str (writer, "lease_ref");
            shic_val_writer_str (writer, lease->ref);
        }
        shic_val_writer_str (writer, "compatibility");
        shic_val_writer_val (writer, waiter->compatibility);
        shic_val_writer_str (writer, "lease");
        s_lease_write (writer, lease);
        shic_val_writer_str (writer, "instance_id");
        shic_val_writer_str (writer, instance->id);
        shic_val_writer_str (writer, "reused");
        shic_val_writer_bool (writer, waiter->reused);
    }
    zframe_t *frame = shic_wire_frame_take (&writer);
    if (frame)
        s_send_reply (self, waiter->router, waiter->envelope, &frame);
    else
        zsys_error ("gateway: out of memory replying to a grant");
    s_latency (self, waiter->started);
    s_publish_lease (self, "lease.granted", lease, NULL);
    return 0;
}

//  Ends a lease: the actor goes back to the idle list
static void
s_lease_end (self_t *self, s_lease_t *lease, const char *topic, const char *reason)
{
    if (lease->actor) {
        if (lease->told)
            s_lease_send (self, lease->actor, "RELEASE", NULL);
        s_actor_free (self, lease->actor);
    }
    //  (an unbound lease's ref stays in the unbound list; it is skipped
    //  there once the lease is gone)
    if (lease->client) {
        s_client_t *client = (s_client_t *) zhashx_lookup (self->clients, lease->client);
        if (client && client->untimed)
            client->untimed--;
    }
    s_instance_t *instance = (s_instance_t *) zhashx_lookup (self->instances, lease->instance_id);
    if (instance && instance->lease_count) {
        instance->lease_count--;
        if (instance->lease_count == 0 && instance->spawned
        &&  streq (instance->status, SHIC_STATUS_READY))
            instance->idle_at = zclock_mono ()
                              + shic_val_int (shic_val_get (instance->plan, "idle_shutdown_ms"));
    }
    s_publish_lease (self, topic, lease, reason);
    zhashx_delete (self->leases, lease->ref);
}

//  Ends every lease of an instance
static void
s_instance_end_leases (self_t *self, s_instance_t *instance, const char *reason)
{
    zlistx_t *refs = zlistx_new ();
    s_lease_t *lease = (s_lease_t *) zhashx_first (self->leases);
    while (lease) {
        if (streq (lease->instance_id, instance->id))
            zlistx_add_end (refs, lease);
        lease = (s_lease_t *) zhashx_next (self->leases);
    }
    while ((lease = (s_lease_t *) zlistx_detach (refs, NULL)))
        s_lease_end (self, lease, "lease.released", reason);
    zlistx_destroy (&refs);
}

//  --------------------------------------------------------------------------
//  Waiters

//  Answers every waiter of instance with err
static void
s_waiters_fail (self_t *self, s_instance_t *instance, const shic_error_t *err)
{
    s_waiter_t *waiter;
    while ((waiter = (s_waiter_t *) zlistx_detach (instance->waiters, NULL))) {
        s_reply_error (self, waiter->router, waiter->envelope, waiter->id, err);
        s_waiter_destroy (&waiter);
    }
}

//  Grants leases to every waiter of a ready instance (those that wait for
//  a recovery only when it is not unavailable)
static void
s_waiters_grant (self_t *self, s_instance_t *instance)
{
    bool healthy = !streq (instance->health, SHIC_HEALTH_UNAVAILABLE);
    s_waiter_t *waiter = (s_waiter_t *) zlistx_first (instance->waiters);
    while (waiter) {
        if (!waiter->want_healthy || healthy) {
            zlistx_detach_cur (instance->waiters);
            if (s_grant (self, waiter) == 0)
                s_waiter_destroy (&waiter);
            waiter = (s_waiter_t *) zlistx_first (instance->waiters);
        }
        else
            waiter = (s_waiter_t *) zlistx_next (instance->waiters);
    }
    self->last_busy = zclock_mono ();
}

//  --------------------------------------------------------------------------
//  Instances

static s_instance_t *
s_instance_spawn (self_t *self, s_backend_t *backend, shic_val_t **plan_p, const char *id)
{
    s_instance_t *instance = (s_instance_t *) zmalloc (sizeof (s_instance_t));
    instance->seq = ++self->next_seq;
    instance->id = strdup (id);
    instance->backend = strdup (backend->name);
    instance->plan = *plan_p;
    *plan_p = NULL;
    instance->spawned = streq (shic_val_str (shic_val_get (instance->plan, "startup_kind")),
                               SHIC_STARTUP_SPAWNED);
    instance->actor_live = true;
    instance->status = SHIC_STATUS_STARTING;
    instance->health = SHIC_HEALTH_UNAVAILABLE;
    instance->inserted_at_ms = shic_now_ms ();
    instance->waiters = zlistx_new ();
    zhashx_update (self->instances, instance->id, instance);
    char key [32];
    snprintf (key, sizeof (key), "I%d", instance->seq);
    zhashx_update (self->by_seq, key, instance);
    self->instances_started++;

    void *data = NULL;
    size_t size = 0;
    int rc = shic_val_encode (instance->plan, &data, &size);
    assert (rc == 0);
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "SPAWN");
    zmsg_addstrf (msg, "%d", instance->seq);
    zmsg_addstr (msg, instance->id);
    zmsg_addstr (msg, backend->name);
    zmsg_addmem (msg, data, size);
    free (data);
    zmsg_send (&msg, self->pipe);

    shic_val_t *event = s_event_body (instance->id);
    shic_val_set_str (event, "backend", backend->name);
    shic_val_set_str (event, "lifecycle_status", SHIC_STATUS_STARTING);
    s_publish (self, "instance.starting", &event);
    return instance;
}

//  Forgets an instance record entirely
static void
s_instance_forget (self_t *self, s_instance_t *instance)
{
    char key [32];
    snprintf (key, sizeof (key), "I%d", instance->seq);
    zhashx_delete (self->by_seq, key);
    zhashx_delete (self->instances, instance->id);
}

static size_t
s_live_instances (self_t *self)
{
    size_t count = 0;
    s_instance_t *instance = (s_instance_t *) zhashx_first (self->instances);
    while (instance) {
        if (instance->actor_live)
            count++;
        instance = (s_instance_t *) zhashx_next (self->instances);
    }
    return count;
}

//  A table registered under another name than its own: instance keys start
//  with the registered name, so two registrations of one table never share
//  instances
static void
s_plan_rename (s_backend_t *backend, shic_val_t *plan)
{
    const char *own = backend->ops->name;
    const char *key = shic_val_str (shic_val_get (plan, "instance_key"));
    size_t size = strlen (own);
    if (key && strncmp (key, own, size) == 0 && key [size] == ':'
    &&  !streq (backend->name, own)) {
        shic_val_t *renamed = shic_val_new_printf ("%s%s", backend->name, key + size);
        shic_val_set (plan, "instance_key", &renamed);
    }
}

//  The timing keys of a backend's configuration section override its plans
static void
s_plan_overrides (s_backend_t *backend, shic_val_t *plan)
{
    if (!backend->config)
        return;
    const char *keys [] = { "ready_timeout_ms", "readiness_interval_ms", "health_interval_ms",
                            "idle_shutdown_ms", "stop_timeout_ms", NULL };
    for (int i = 0; keys [i]; i++) {
        char *value = zconfig_get (backend->config, keys [i], NULL);
        if (value && *value) {
            char *end = NULL;
            long long number = strtoll (value, &end, 10);
            if (end && *end == 0 && number >= 0)
                shic_val_set_int (plan, keys [i], number);
        }
    }
}

//  --------------------------------------------------------------------------
//  Operations

typedef struct {
    zsock_t *router;                //  reply socket
    zmsg_t *envelope;               //  routing frames
    bool trusted;                   //  inproc socket
    char *client;                   //  client key
    shic_wire_request_t req;        //  the request
} s_call_t;

static bool
s_arg_string (const shic_val_t *args, const char *key, bool required,
              const char **value, shic_error_t *err)
{
    shic_val_t *val = shic_val_get (args, key);
    if (!val || shic_val_type (val) == SHIC_VAL_NIL) {
        if (required) {
            shic_error_set_field (err, SHIC_E_INVALID_ARGS, key, "%s is required", key);
            return false;
        }
        *value = NULL;
        return true;
    }
    if (shic_val_type (val) != SHIC_VAL_STR) {
        shic_error_set_field (err, SHIC_E_INVALID_ARGS, key, "%s must be a string", key);
        return false;
    }
    *value = shic_val_str (val);
    return true;
}

static bool
s_arg_ms (const shic_val_t *args, const char *key, int64_t dflt, int64_t *value,
          shic_error_t *err)
{
    shic_val_t *val = shic_val_get (args, key);
    if (!val || shic_val_type (val) == SHIC_VAL_NIL) {
        *value = dflt;
        return true;
    }
    if (shic_val_type (val) != SHIC_VAL_INT || shic_val_int (val) < 0
    ||  shic_val_int (val) > (int64_t) 1 << 40) {
        shic_error_set_field (err, SHIC_E_INVALID_ARGS, key,
                              "%s must be a whole number of milliseconds >= 0", key);
        return false;
    }
    *value = shic_val_int (val);
    return true;
}

//  A parked or granted ensure; takes compatibility
static s_waiter_t *
s_waiter_new (s_call_t *call, s_instance_t *instance, const char *owner, int64_t ttl_ms,
              shic_val_t *compatibility, bool reused, int64_t deadline, int64_t started)
{
    s_waiter_t *waiter = (s_waiter_t *) zmalloc (sizeof (s_waiter_t));
    waiter->router = call->router;
    waiter->envelope = call->envelope;
    call->envelope = NULL;
    waiter->client = call->client? strdup (call->client): NULL;
    waiter->trusted = call->trusted;
    waiter->id = shic_val_dup (call->req.id);
    waiter->instance = instance;
    waiter->owner_ref = owner? shic_val_new_str (owner): NULL;
    waiter->ttl_ms = ttl_ms;
    waiter->compatibility = compatibility;
    waiter->reused = reused;
    waiter->deadline = deadline;
    waiter->started = started;
    return waiter;
}

//  The key of an ensure's resolution: what the plan depends on (consumer,
//  request, context, and whether the caller is trusted) as encoded bytes,
//  in hex. NULL if it cannot be encoded.
static char *
s_resolved_key (const shic_val_t *args, bool trusted)
{
    shic_val_writer_t *writer = shic_val_writer_new ();
    if (!writer)
        return NULL;
    shic_val_writer_array (writer, 4);
    shic_val_writer_bool (writer, trusted);
    shic_val_writer_val (writer, shic_val_get (args, "consumer"));
    shic_val_writer_val (writer, shic_val_get (args, "request"));
    shic_val_writer_val (writer, shic_val_get (args, "context"));
    void *data = NULL;
    size_t size = 0;
    char *key = NULL;
    if (shic_val_writer_take (&writer, &data, &size) == 0) {
        key = (char *) malloc (size * 2 + 1);
        static const char hex [] = "0123456789abcdef";
        for (size_t i = 0; key && i < size; i++) {
            key [i * 2] = hex [((const uint8_t *) data) [i] >> 4];
            key [i * 2 + 1] = hex [((const uint8_t *) data) [i] & 15];
        }
        if (key)
            key [size * 2] = 0;
        free (data);
    }
    return key;
}

static void
s_op_ensure (self_t *self, s_call_t *call, shic_error_t *err)
{
    int64_t started = zclock_usecs ();
    self->ensures++;
    const shic_val_t *args = call->req.args;
    int64_t ttl_ms, wait_ms;
    const char *owner;
    if (!s_arg_ms (args, "ttl_ms", 0, &ttl_ms, err)
    ||  !s_arg_ms (args, "wait_ms", 120000, &wait_ms, err)
    ||  !s_arg_string (args, "owner_ref", false, &owner, err))
        return;
    if (self->draining) {
        shic_error_set (err, SHIC_E_SHUTTING_DOWN, NULL, "the runtime is stopping");
        return;
    }
    //  The warm path: this very request was resolved before
    char *memo_key = s_resolved_key (args, call->trusted);
    s_resolved_t *memo = memo_key? (s_resolved_t *) zhashx_lookup (self->resolved, memo_key): NULL;
    if (memo) {
        s_instance_t *instance = (s_instance_t *) zhashx_lookup (self->instances, memo->instance_id);
        if (instance && streq (instance->status, SHIC_STATUS_READY)
        &&  !streq (instance->health, SHIC_HEALTH_UNAVAILABLE)) {
            s_waiter_t *waiter = s_waiter_new (call, instance, owner, ttl_ms,
                                               shic_val_dup (memo->compatibility), true,
                                               zclock_mono () + wait_ms, started);
            if (s_grant (self, waiter) == 0)
                s_waiter_destroy (&waiter);
            free (memo_key);
            return;
        }
    }
    shic_val_t *consumer = shic_consumer_manifest_normalize (shic_val_get (args, "consumer"), err);
    if (!consumer) {
        free (memo_key);
        return;
    }
    shic_val_t *spec = shic_ensure_spec_from_request (shic_val_get (args, "request"),
                                                      shic_val_get (args, "context"), err);
    shic_val_t *compatibility = NULL;
    shic_val_t *plan = NULL;
    shic_val_t *raw = NULL;
    if (!spec)
        goto done;
    const char *name = shic_val_str (shic_val_get (spec, "backend"));
    s_backend_t *backend = (s_backend_t *) zhashx_lookup (self->backends, name);
    if (!backend) {
        shic_val_t *details = shic_val_new_map ();
        shic_val_set_str (details, "backend", name);
        shic_error_set (err, SHIC_E_UNKNOWN_BACKEND_ID, &details,
                        "no backend is registered as '%s'", name);
        goto done;
    }
    compatibility = shic_compatibility (name, backend->manifest, consumer);
    if (!shic_val_bool (shic_val_get (compatibility, "compatible?"))) {
        shic_val_t *details = shic_val_dup (compatibility);
        shic_error_set (err, SHIC_E_INCOMPATIBLE, &details,
                        "backend '%s' cannot serve this consumer: %s", name,
                        shic_val_str (shic_val_get (compatibility, "reason")));
        goto done;
    }
    raw = backend->ops->startup_plan (backend->state, spec, call->trusted, err);
    if (!raw) {
        if (!err->code)
            shic_error_set (err, SHIC_E_INVALID_BACKEND_OPTIONS, NULL,
                            "backend '%s' built no startup plan", name);
        goto done;
    }
    shic_val_set_str (raw, "backend", name);
    s_plan_rename (backend, raw);
    plan = shic_startup_plan_normalize (raw, err);
    if (!plan) {
        zsys_error ("gateway: backend '%s' built an invalid plan: %s", name,
                    err->message? err->message: "?");
        goto done;
    }
    s_plan_overrides (backend, plan);
    shic_val_t *reasons = shic_truthfulness_check (spec, plan, backend->manifest);
    if (reasons) {
        char *text = shic_val_to_json (reasons);
        shic_error_set (err, SHIC_E_INVALID_STARTUP_PLAN, &reasons,
                        "backend '%s' built an untruthful plan: %s", name, text);
        free (text);
        goto done;
    }
    const char *key = shic_val_str (shic_val_get (plan, "instance_key"));
    s_instance_t *instance = (s_instance_t *) zhashx_lookup (self->instances, key);
    int64_t now = zclock_mono ();
    bool reused = true;
    if (instance && streq (instance->status, SHIC_STATUS_FAILED)) {
        if (now < instance->retire_at) {
            //  A failed instance answers its failure until its retry time
            shic_error_t copy = { 0 };
            shic_val_t *details = shic_val_dup (instance->error.details);
            if (streq (instance->error.code, SHIC_E_INSTANCE_FAILED))
                shic_val_set_int (details, "retry_after_ms", instance->retire_at - now);
            shic_error_set (&copy, instance->error.code, &details, "%s",
                            instance->error.message? instance->error.message: "");
            shic_error_move (err, &copy);
            goto done;
        }
        s_instance_forget (self, instance);
        instance = NULL;
    }
    if (instance && streq (instance->status, SHIC_STATUS_STOPPED)) {
        s_instance_forget (self, instance);
        instance = NULL;
    }
    if (!instance) {
        if (s_live_instances (self) >= self->settings->max_instances) {
            shic_val_t *details = shic_val_new_map ();
            shic_val_set_str (details, "limit", "max_instances");
            shic_error_set (err, SHIC_E_CAPACITY, &details, "the instance limit (%zu) is reached",
                            self->settings->max_instances);
            goto done;
        }
        instance = s_instance_spawn (self, backend, &plan, key);
        reused = false;
    }
    if (memo_key) {
        if (zhashx_size (self->resolved) >= RESOLVED_MAX)
            zhashx_purge (self->resolved);
        s_resolved_t *resolved = (s_resolved_t *) zmalloc (sizeof (s_resolved_t));
        resolved->instance_id = strdup (key);
        resolved->compatibility = shic_val_dup (compatibility);
        zhashx_update (self->resolved, memo_key, resolved);
    }
    //  Park or grant
    s_waiter_t *waiter = s_waiter_new (call, instance, owner, ttl_ms, compatibility, reused,
                                       now + wait_ms, started);
    compatibility = NULL;
    bool ready = streq (instance->status, SHIC_STATUS_READY);
    if (ready && streq (instance->health, SHIC_HEALTH_UNAVAILABLE))
        waiter->want_healthy = true;
    if (ready && !waiter->want_healthy) {
        if (s_grant (self, waiter) == 0)
            s_waiter_destroy (&waiter);
    }
    else
        zlistx_add_end (instance->waiters, waiter);
done:
    free (memo_key);
    shic_val_destroy (&consumer);
    shic_val_destroy (&spec);
    shic_val_destroy (&compatibility);
    shic_val_destroy (&plan);
    shic_val_destroy (&raw);
}

static int
s_compare_str (const void *a, const void *b)
{
    return strcmp (*(const char **) a, *(const char **) b);
}

//  Keys of a hash, sorted; fresh array of borrowed strings
static const char **
s_sorted_keys (zhashx_t *hash, size_t *count)
{
    *count = zhashx_size (hash);
    const char **keys = (const char **) zmalloc ((*count + 1) * sizeof (char *));
    size_t n = 0;
    for (void *item = zhashx_first (hash); item; item = zhashx_next (hash))
        keys [n++] = (const char *) zhashx_cursor (hash);
    qsort (keys, n, sizeof (char *), s_compare_str);
    return keys;
}

static shic_val_t *
s_op_stats (self_t *self)
{
    shic_val_t *result = shic_val_new_map ();
    shic_val_set_int (result, "requests", (int64_t) self->requests);
    shic_val_set_int (result, "ensures", (int64_t) self->ensures);
    shic_val_t *errors = shic_val_new_map ();
    for (int i = 0; shic_error_codes [i] && i < 32; i++)
        if (self->errors [i])
            shic_val_set_int (errors, shic_error_codes [i], (int64_t) self->errors [i]);
    shic_val_set (result, "errors", &errors);
    shic_val_t *states = shic_val_new_map ();
    for (s_instance_t *instance = (s_instance_t *) zhashx_first (self->instances); instance;
         instance = (s_instance_t *) zhashx_next (self->instances)) {
        int64_t count = shic_val_int (shic_val_get (states, instance->status));
        shic_val_set_int (states, instance->status, count + 1);
    }
    shic_val_set (result, "instances", &states);
    shic_val_set_int (result, "instances_started", (int64_t) self->instances_started);
    shic_val_set_int (result, "leases", (int64_t) zhashx_size (self->leases));
    shic_val_set_int (result, "leases_granted", (int64_t) self->leases_granted);
    shic_val_set_int (result, "lease_actors_idle", (int64_t) zlistx_size (self->idle_actors));
    int64_t restarts = 0;
    for (s_instance_t *instance = (s_instance_t *) zhashx_first (self->instances); instance;
         instance = (s_instance_t *) zhashx_next (self->instances))
        restarts += instance->restarts;
    shic_val_set_int (result, "restarts", restarts);
    shic_val_t *histogram = shic_val_new_map ();
    for (int i = 0; i < LATENCY_BUCKETS; i++)
        if (self->latency [i]) {
            char key [32];
            snprintf (key, sizeof (key), "le_%lld_us", 1LL << i);
            shic_val_set_int (histogram, key, (int64_t) self->latency [i]);
        }
    shic_val_set (result, "ensure_latency", &histogram);
    return result;
}

static void
s_dispatch (self_t *self, s_call_t *call)
{
    shic_error_t err = { 0 };
    const char *op = call->req.op;
    const shic_val_t *args = call->req.args;
    shic_val_t *result = NULL;
    if (streq (op, "ensure_endpoint")) {
        s_op_ensure (self, call, &err);
        if (!err.code)
            return;                 //  replied, or parked
    }
    else
    if (streq (op, "ping")) {
        result = shic_val_new_map ();
        shic_val_set_str (result, "version", SHIC_VERSION);
        shic_val_set_int (result, "protocol", SHIC_WIRE_VERSION);
        char host [256] = "";
        gethostname (host, sizeof (host) - 1);
        shic_val_set_str (result, "node", host);
        shic_val_set_int (result, "uptime_ms", zclock_mono () - self->started_at);
    }
    else
    if (streq (op, "list_backends")) {
        size_t count;
        const char **names = s_sorted_keys (self->backends, &count);
        shic_val_t *list = shic_val_new_array ();
        for (size_t i = 0; i < count; i++) {
            s_backend_t *backend = (s_backend_t *) zhashx_lookup (self->backends, names [i]);
            shic_val_t *manifest = shic_val_dup (backend->manifest);
            shic_val_push (list, &manifest);
        }
        free (names);
        result = shic_val_new_map ();
        shic_val_set (result, "backends", &list);
    }
    else
    if (streq (op, "compatibility")) {
        const char *name;
        if (s_arg_string (args, "backend", true, &name, &err)) {
            shic_val_t *consumer = shic_consumer_manifest_normalize (shic_val_get (args, "consumer"), &err);
            if (consumer) {
                s_backend_t *backend = (s_backend_t *) zhashx_lookup (self->backends, name);
                result = shic_compatibility (name, backend? backend->manifest: NULL, consumer);
                shic_val_destroy (&consumer);
            }
        }
    }
    else
    if (streq (op, "renew_lease")) {
        const char *ref;
        if (s_arg_string (args, "lease_ref", true, &ref, &err)) {
            s_lease_t *lease = (s_lease_t *) zhashx_lookup (self->leases, ref);
            int64_t ttl_ms = 0;
            if (!lease)
                shic_error_set (&err, SHIC_E_LEASE_NOT_FOUND, NULL,
                                "no live lease '%s'", ref);
            else
            if (s_arg_ms (args, "ttl_ms", lease->ttl_ms, &ttl_ms, &err)) {
                if (lease->client && ttl_ms > 0) {
                    //  It becomes timed: the client no longer pins it
                    s_client_t *client = (s_client_t *) zhashx_lookup (self->clients, lease->client);
                    if (client && client->untimed)
                        client->untimed--;
                    zstr_free (&lease->client);
                }
                lease->ttl_ms = ttl_ms;
                lease->expires_at_ms = ttl_ms > 0? shic_now_ms () + ttl_ms: 0;
                shic_val_t *renew = shic_val_new_map ();
                shic_val_set_int (renew, "expires_at_ms", lease->expires_at_ms);
                if (lease->told)
                    s_lease_send (self, lease->actor, "RENEW", &renew);
                else {
                    //  Its GRANT, queued or still to come, will carry it
                    shic_val_destroy (&renew);
                    if (lease->actor)
                        s_tell_later (self, lease);
                }
                result = shic_val_new_map ();
                shic_val_t *lease_val = s_lease_val (lease);
                shic_val_set (result, "lease", &lease_val);
                shic_val_t *event = s_event_body (lease->instance_id);
                shic_val_set_str (event, "lease_ref", lease->ref);
                shic_val_set_int (event, "expires_at_ms", lease->expires_at_ms);
                s_publish (self, "lease.renewed", &event);
            }
        }
    }
    else
    if (streq (op, "release_lease")) {
        const char *ref;
        if (s_arg_string (args, "lease_ref", true, &ref, &err)) {
            s_lease_t *lease = (s_lease_t *) zhashx_lookup (self->leases, ref);
            if (lease)
                s_lease_end (self, lease, "lease.released", "released");
            result = shic_val_new_map ();
        }
    }
    else
    if (streq (op, "list_instances")) {
        const char *backend;
        if (s_arg_string (args, "backend", false, &backend, &err)) {
            size_t count;
            const char **ids = s_sorted_keys (self->instances, &count);
            shic_val_t *list = shic_val_new_array ();
            for (size_t i = 0; i < count; i++) {
                s_instance_t *instance = (s_instance_t *) zhashx_lookup (self->instances, ids [i]);
                if (!backend || streq (backend, instance->backend)) {
                    shic_val_t *snap = s_snapshot (instance);
                    shic_val_push (list, &snap);
                }
            }
            free (ids);
            result = shic_val_new_map ();
            shic_val_set (result, "instances", &list);
        }
    }
    else
    if (streq (op, "lookup_instance")) {
        const char *id;
        if (s_arg_string (args, "instance_id", true, &id, &err)) {
            s_instance_t *instance = (s_instance_t *) zhashx_lookup (self->instances, id);
            if (instance)
                result = s_snapshot (instance);
            else
                shic_error_set_field (&err, SHIC_E_NOT_FOUND, "instance_id",
                                      "no instance '%s'", id);
        }
    }
    else
    if (streq (op, "list_leases")) {
        const char *id;
        if (s_arg_string (args, "instance_id", false, &id, &err)) {
            size_t count;
            const char **refs = s_sorted_keys (self->leases, &count);
            shic_val_t *list = shic_val_new_array ();
            for (size_t i = 0; i < count; i++) {
                s_lease_t *lease = (s_lease_t *) zhashx_lookup (self->leases, refs [i]);
                if (!id || streq (id, lease->instance_id)) {
                    shic_val_t *val = s_lease_val (lease);
                    shic_val_push (list, &val);
                }
            }
            free (refs);
            result = shic_val_new_map ();
            shic_val_set (result, "leases", &list);
        }
    }
    else
    if (streq (op, "stop_instance")) {
        const char *id;
        if (s_arg_string (args, "instance_id", true, &id, &err)) {
            s_instance_t *instance = (s_instance_t *) zhashx_lookup (self->instances, id);
            if (instance && instance->actor_live
            &&  !streq (instance->status, SHIC_STATUS_STOPPING)) {
                instance->status = SHIC_STATUS_STOPPING;
                instance->idle_at = 0;
                s_instance_send (self, instance, "STOP");
            }
            result = shic_val_new_map ();
        }
    }
    else
    if (streq (op, "stats"))
        result = s_op_stats (self);
    else {
        shic_val_t *details = shic_val_new_map ();
        shic_val_set_str (details, "op", op);
        shic_error_set (&err, SHIC_E_UNKNOWN_OP, &details, "unknown op '%s'", op);
    }
    if (err.code)
        s_reply_error (self, call->router, call->envelope, call->req.id, &err);
    else
        s_reply_ok (self, call->router, call->envelope, call->req.id, &result);
    shic_error_clear (&err);
    shic_val_destroy (&result);
}

//  One message from a client ROUTER
static void
s_handle_client (self_t *self, zsock_t *router, bool trusted)
{
    zmsg_t *msg = zmsg_recv (router);
    if (!msg)
        return;
    self->last_busy = zclock_mono ();
    s_call_t call = { 0 };
    call.router = router;
    call.trusted = trusted;
    call.envelope = zmsg_new ();
    zframe_t *routing = zmsg_pop (msg);
    if (!routing) {
        zmsg_destroy (&msg);
        zmsg_destroy (&call.envelope);
        return;
    }
    char *hex = zframe_strhex (routing);
    call.client = zsys_sprintf ("%c%s", trusted? 't': 'p', hex);
    free (hex);
    zmsg_append (call.envelope, &routing);
    //  A REQ client's empty delimiter stays in the envelope
    zframe_t *first = zmsg_first (msg);
    if (zmsg_size (msg) >= 2 && first && zframe_size (first) == 0) {
        zframe_t *delimiter = zmsg_pop (msg);
        zmsg_append (call.envelope, &delimiter);
    }
    //  The client is alive
    if (!trusted || self->settings->inproc_client_timeout) {
        s_client_t *client = (s_client_t *) zhashx_lookup (self->clients, call.client);
        if (!client) {
            client = (s_client_t *) zmalloc (sizeof (s_client_t));
            zhashx_insert (self->clients, call.client, client);
        }
        client->last_seen = zclock_mono ();
    }
    shic_error_t err = { 0 };
    if (zmsg_size (msg) != 1)
        shic_error_set (&err, SHIC_E_MALFORMED, NULL,
                        "a request is exactly one body frame after the envelope");
    else {
        zframe_t *body = zmsg_first (msg);
        self->requests++;
        if (shic_wire_request_decode (zframe_data (body), zframe_size (body),
                                      self->settings->max_frame, &call.req, &err) == 0)
            s_dispatch (self, &call);
    }
    if (err.code) {
        if (self->settings->verbose)
            zsys_debug ("gateway: %s: %s", err.code, err.message? err.message: "");
        s_reply_error (self, router, call.envelope, call.req.id, &err);
    }
    shic_error_clear (&err);
    shic_wire_request_reset (&call.req);
    zmsg_destroy (&call.envelope);
    zstr_free (&call.client);
    zmsg_destroy (&msg);
}

//  --------------------------------------------------------------------------
//  Bus: our own actors

static void
s_instance_failed (self_t *self, s_instance_t *instance, shic_error_t *err, int64_t hold_ms)
{
    instance->status = SHIC_STATUS_FAILED;
    instance->health = SHIC_HEALTH_UNAVAILABLE;
    instance->retire_at = zclock_mono () + hold_ms;
    instance->idle_at = 0;
    instance->pid = 0;
    shic_error_move (&instance->error, err);
    s_waiters_fail (self, instance, &instance->error);
    s_instance_end_leases (self, instance, "instance_failed");
    shic_val_t *event = s_event_body (instance->id);
    shic_val_set_str (event, "lifecycle_status", SHIC_STATUS_FAILED);
    shic_val_set_str (event, "reason", instance->error.code);
    shic_val_t *error = shic_error_to_val (&instance->error);
    shic_val_set (event, "error", &error);
    shic_val_set_dup (event, "exit", instance->last_exit);
    s_publish (self, "instance.failed", &event);
}

static void
s_handle_instance (self_t *self, s_instance_t *instance, const char *command, shic_val_t *body)
{
    if (streq (command, "STARTED"))
        instance->pid = (int) shic_val_int (shic_val_get (body, "pid"));
    else
    if (streq (command, "PROGRESS")) {
        shic_val_t *event = shic_val_dup (body);
        shic_val_set_str (event, "instance_id", instance->id);
        shic_val_set_str (event, "lifecycle_status", instance->status);
        s_publish (self, "instance.progress", &event);
    }
    else
    if (streq (command, "READY")) {
        if (streq (instance->status, SHIC_STATUS_STOPPING))
            return;
        shic_error_t err = { 0 };
        shic_val_t *endpoint = shic_endpoint_build (instance->id, instance->plan,
                                                    shic_val_get (body, "fields"), &err);
        if (!endpoint) {
            //  A readiness failure, not a crash
            s_instance_send (self, instance, "STOP");
            s_instance_failed (self, instance, &err, self->settings->start_failure_hold_ms);
            shic_error_clear (&err);
            return;
        }
        shic_val_destroy (&instance->endpoint);
        instance->endpoint = endpoint;
        instance->status = SHIC_STATUS_READY;
        instance->health = SHIC_HEALTH_HEALTHY;
        instance->ready_at_ms = shic_now_ms ();
        instance->pid = (int) shic_val_int (shic_val_get (body, "pid"));
        if (instance->lease_count == 0 && instance->spawned)
            instance->idle_at = zclock_mono ()
                              + shic_val_int (shic_val_get (instance->plan, "idle_shutdown_ms"));
        shic_val_t *event = s_event_body (instance->id);
        shic_val_set_str (event, "lifecycle_status", SHIC_STATUS_READY);
        shic_val_t *published = s_endpoint_public (instance->endpoint);
        shic_val_set (event, "endpoint", &published);
        s_publish (self, "instance.ready", &event);
        s_waiters_grant (self, instance);
    }
    else
    if (streq (command, "FAILED")) {
        shic_error_t err = { 0 };
        shic_error_from_val (&err, shic_val_get (body, "error"));
        instance->actor_live = false;
        if (streq (err.code, SHIC_E_BACKEND_EXIT)) {
            shic_val_destroy (&instance->last_exit);
            instance->last_exit = shic_val_dup (err.details);
        }
        s_instance_failed (self, instance, &err, self->settings->start_failure_hold_ms);
        shic_error_clear (&err);
    }
    else
    if (streq (command, "HEALTH")) {
        const char *health = shic_val_str (shic_val_get (body, "health_status"));
        instance->health = streq (health, SHIC_HEALTH_HEALTHY)? SHIC_HEALTH_HEALTHY:
                           streq (health, SHIC_HEALTH_DEGRADED)? SHIC_HEALTH_DEGRADED:
                                                                 SHIC_HEALTH_UNAVAILABLE;
        shic_val_t *event = s_event_body (instance->id);
        shic_val_set_str (event, "health_status", instance->health);
        shic_val_set_dup (event, "details", shic_val_get (body, "details"));
        s_publish (self, "instance.health", &event);
        if (streq (instance->status, SHIC_STATUS_READY))
            s_waiters_grant (self, instance);
    }
    else
    if (streq (command, "RESTARTING")) {
        if (streq (instance->status, SHIC_STATUS_STOPPING))
            return;
        instance->status = SHIC_STATUS_RESTARTING;
        instance->health = SHIC_HEALTH_UNAVAILABLE;
        instance->restarts = (int) shic_val_int (shic_val_get (body, "restarts"));
        instance->pid = 0;
        instance->idle_at = 0;
        shic_val_destroy (&instance->last_exit);
        instance->last_exit = shic_val_dup (shic_val_get (body, "exit"));
        shic_val_t *event = s_event_body (instance->id);
        shic_val_set_str (event, "lifecycle_status", SHIC_STATUS_RESTARTING);
        shic_val_set_dup (event, "exit", instance->last_exit);
        shic_val_set_dup (event, "delay_ms", shic_val_get (body, "delay_ms"));
        shic_val_set_int (event, "restarts", instance->restarts);
        s_publish (self, "instance.restarting", &event);
    }
    else
    if (streq (command, "GAVE_UP")) {
        instance->actor_live = false;
        instance->restarts = (int) shic_val_int (shic_val_get (body, "restarts"));
        shic_val_destroy (&instance->last_exit);
        instance->last_exit = shic_val_dup (shic_val_get (body, "exit"));
        int64_t retry_after = shic_val_int (shic_val_get (body, "retry_after_ms"));
        shic_error_t err = { 0 };
        shic_val_t *details = shic_val_new_map ();
        shic_val_set_dup (details, "last_exit", instance->last_exit);
        shic_val_set_int (details, "restarts", instance->restarts);
        shic_val_set_int (details, "retry_after_ms", retry_after);
        shic_error_set (&err, SHIC_E_INSTANCE_FAILED, &details,
                        "the service keeps crashing; restarts stopped for %lld ms",
                        (long long) retry_after);
        s_instance_failed (self, instance, &err, retry_after);
        shic_error_clear (&err);
    }
    else
    if (streq (command, "STOPPED")) {
        instance->actor_live = false;
        instance->status = SHIC_STATUS_STOPPED;
        instance->health = SHIC_HEALTH_UNAVAILABLE;
        instance->pid = 0;
        instance->idle_at = 0;
        instance->retire_at = zclock_mono () + self->settings->retention_ms;
        shic_val_t *exit = shic_val_get (body, "exit");
        if (exit && shic_val_type (exit) == SHIC_VAL_MAP) {
            shic_val_destroy (&instance->last_exit);
            instance->last_exit = shic_val_dup (exit);
        }
        s_instance_end_leases (self, instance, "instance_stopped");
        shic_val_t *event = s_event_body (instance->id);
        shic_val_set_str (event, "lifecycle_status", SHIC_STATUS_STOPPED);
        s_publish (self, "instance.stopped", &event);
        //  Requests that arrived while it stopped start it again
        if (zlistx_size (instance->waiters)) {
            s_backend_t *backend = (s_backend_t *) zhashx_lookup (self->backends, instance->backend);
            zlistx_t *waiters = instance->waiters;
            instance->waiters = zlistx_new ();
            if (backend) {
                shic_val_t *plan = shic_val_dup (instance->plan);
                char *id = strdup (instance->id);
                s_instance_forget (self, instance);
                s_instance_t *fresh = s_instance_spawn (self, backend, &plan, id);
                free (id);
                s_waiter_t *waiter;
                while ((waiter = (s_waiter_t *) zlistx_detach (waiters, NULL))) {
                    waiter->instance = fresh;
                    zlistx_add_end (fresh->waiters, waiter);
                }
            }
            else {
                shic_error_t err = { 0 };
                shic_error_set (&err, SHIC_E_UNKNOWN_BACKEND_ID, NULL,
                                "backend '%s' was unregistered", instance->backend);
                s_waiter_t *waiter;
                while ((waiter = (s_waiter_t *) zlistx_detach (waiters, NULL))) {
                    s_reply_error (self, waiter->router, waiter->envelope, waiter->id, &err);
                    s_waiter_destroy (&waiter);
                }
                shic_error_clear (&err);
            }
            zlistx_destroy (&waiters);
        }
    }
    else
        zsys_error ("gateway: unexpected '%s' from instance %s", command, instance->id);
}

static void
s_handle_bus (self_t *self)
{
    zmsg_t *msg = zmsg_recv (self->bus);
    if (!msg)
        return;
    char *identity = zmsg_popstr (msg);
    char *command = NULL;
    shic_val_t *body = NULL;
    //  Lease actors speak through the pool: [P][L<n>][command][body]
    if (identity && streq (identity, "P") && zmsg_size (msg) >= 1) {
        zstr_free (&identity);
        identity = zmsg_popstr (msg);
    }
    if (!identity || shic_msg_decode (msg, &command, &body) != 0) {
        zsys_error ("gateway: bad message on the bus");
        goto done;
    }
    if (identity [0] == 'L') {
        if (streq (command, "HELLO")) {
            if (self->growing)
                self->growing--;
            s_actor_free (self, identity);
        }
        else
        if (streq (command, "EXPIRED")) {
            const char *ref = shic_val_str (shic_val_get (body, "lease_ref"));
            s_lease_t *lease = ref? (s_lease_t *) zhashx_lookup (self->leases, ref): NULL;
            //  A renewal in flight wins over the expiry it crossed
            if (lease && lease->expires_at_ms
            &&  lease->expires_at_ms == shic_val_int (shic_val_get (body, "expires_at_ms")))
                s_lease_end (self, lease, "lease.expired", "expired");
        }
    }
    else
    if (identity [0] == 'I') {
        s_instance_t *instance = (s_instance_t *) zhashx_lookup (self->by_seq, identity);
        if (instance)
            s_handle_instance (self, instance, command, body);
    }
done:
    zstr_free (&identity);
    zstr_free (&command);
    shic_val_destroy (&body);
    zmsg_destroy (&msg);
}

//  --------------------------------------------------------------------------
//  Pipe

static int
s_bind (zsock_t *sock, const char *endpoint)
{
    int rc = zsock_bind (sock, "%s", endpoint);
    if (rc == -1)
        zsys_error ("gateway: cannot bind %s: %s", endpoint, zmq_strerror (zmq_errno ()));
    return rc;
}

static zsock_t *
s_router_new (size_t max_frame)
{
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    zsock_set_router_mandatory (router, 1);
    zsock_set_sndtimeo (router, 0);
    zsock_set_maxmsgsize (router, (int64_t) max_frame + 1024);
    zsock_set_sndhwm (router, 100000);
    zsock_set_rcvhwm (router, 100000);
    return router;
}

static void
s_handle_pipe (self_t *self)
{
    zmsg_t *msg = zmsg_recv (self->pipe);
    if (!msg) {
        self->terminated = true;
        return;
    }
    char *command = zmsg_popstr (msg);
    if (streq (command, "$TERM"))
        self->terminated = true;
    else
    if (streq (command, "DRAIN")) {
        self->draining = true;
        shic_error_t err = { 0 };
        shic_error_set (&err, SHIC_E_SHUTTING_DOWN, NULL, "the runtime is stopping");
        for (s_instance_t *instance = (s_instance_t *) zhashx_first (self->instances); instance;
             instance = (s_instance_t *) zhashx_next (self->instances))
            s_waiters_fail (self, instance, &err);
        shic_error_clear (&err);
    }
    else
    if (streq (command, "BACKEND")) {
        shic_val_t *manifest = NULL;
        char *unused = NULL;
        //  The command frame was popped; put it back for shic_msg_decode
        zmsg_pushstr (msg, "BACKEND");
        int rc = shic_msg_decode (msg, &unused, &manifest);
        assert (rc == 0);
        zstr_free (&unused);
        zframe_t *ops = zmsg_pop (msg);
        zframe_t *state = zmsg_pop (msg);
        zframe_t *config = zmsg_pop (msg);
        s_backend_t *backend = (s_backend_t *) zmalloc (sizeof (s_backend_t));
        backend->ops = *(const shic_backend_ops_t **) zframe_data (ops);
        backend->state = *(void **) zframe_data (state);
        backend->config = *(zconfig_t **) zframe_data (config);
        //  The registered name, which the supervisor wrote into the manifest
        backend->name = strdup (shic_val_str (shic_val_get (manifest, "backend")));
        backend->manifest = manifest;
        zhashx_update (self->backends, backend->name, backend);
        zhashx_purge (self->resolved);
        zframe_destroy (&ops);
        zframe_destroy (&state);
        zframe_destroy (&config);
        shic_val_t *event = shic_val_new_map ();
        shic_val_set_str (event, "backend", backend->name);
        s_publish (self, "backend.registered", &event);
        zstr_send (self->pipe, "OK");
    }
    else
    if (streq (command, "UNREGISTER")) {
        char *name = zmsg_popstr (msg);
        zhashx_delete (self->backends, name);
        zhashx_purge (self->resolved);
        for (s_instance_t *instance = (s_instance_t *) zhashx_first (self->instances); instance;
             instance = (s_instance_t *) zhashx_next (self->instances))
            if (streq (instance->backend, name) && instance->actor_live
            &&  !streq (instance->status, SHIC_STATUS_STOPPING)) {
                instance->status = SHIC_STATUS_STOPPING;
                s_instance_send (self, instance, "STOP");
            }
        zstr_free (&name);
        zstr_send (self->pipe, "OK");
    }
    else
    if (streq (command, "SET-CURVE")) {
        char *cert_path = zmsg_popstr (msg);
        char *clients = zmsg_popstr (msg);
        int rc = -1;
        if (self->public_router)
            zsys_error ("gateway: CURVE must be set before the gateway is bound");
        else
        if (!(self->cert = zcert_load (cert_path)))
            zsys_error ("gateway: cannot load the CURVE certificate %s", cert_path);
        else
        if (!zsys_file_exists (clients))
            zsys_error ("gateway: no directory of client certificates %s", clients);
        else {
            self->auth = zactor_new (zauth, NULL);
            zstr_sendx (self->auth, "CURVE", clients, NULL);
            zsock_wait (self->auth);
            self->public_router = s_router_new (self->settings->max_frame);
            zcert_apply (self->cert, self->public_router);
            zsock_set_curve_server (self->public_router, 1);
            zsock_set_zap_domain (self->public_router, "shic");
            rc = 0;
        }
        if (rc != 0)
            zcert_destroy (&self->cert);
        zsock_send (self->pipe, "i", rc);
        zstr_free (&cert_path);
        zstr_free (&clients);
    }
    else
    if (streq (command, "BIND-GATEWAY")) {
        char *endpoint = zmsg_popstr (msg);
        if (!self->public_router)
            self->public_router = s_router_new (self->settings->max_frame);
        zsock_send (self->pipe, "i", s_bind (self->public_router, endpoint));
        zstr_free (&endpoint);
    }
    else
    if (streq (command, "BIND-EVENTS")) {
        char *endpoint = zmsg_popstr (msg);
        zsock_send (self->pipe, "i", s_bind (self->events, endpoint));
        zstr_free (&endpoint);
    }
    else
        zsys_error ("gateway: invalid command '%s'", command);
    zstr_free (&command);
    zmsg_destroy (&msg);
}

//  --------------------------------------------------------------------------
//  Timers

static void
s_timers (self_t *self, int64_t now, int64_t *next)
{
    #define CONSIDER(t) do { if ((t) > 0 && (*next < 0 || (t) < *next)) *next = (t); } while (0)
    zlistx_t *retire = NULL;
    for (s_instance_t *instance = (s_instance_t *) zhashx_first (self->instances); instance;
         instance = (s_instance_t *) zhashx_next (self->instances)) {
        //  Waiters past their deadline
        s_waiter_t *waiter = (s_waiter_t *) zlistx_first (instance->waiters);
        while (waiter) {
            if (now >= waiter->deadline) {
                zlistx_detach_cur (instance->waiters);
                shic_error_t err = { 0 };
                shic_val_t *details = shic_val_new_map ();
                shic_val_set_str (details, "instance_id", instance->id);
                shic_val_set_str (details, "lifecycle_status", instance->status);
                shic_val_set_str (details, "health_status", instance->health);
                if (waiter->want_healthy)
                    shic_error_set (&err, SHIC_E_INSTANCE_UNAVAILABLE, &details,
                                    "instance '%s' is unavailable", instance->id);
                else
                    shic_error_set (&err, SHIC_E_AWAIT_TIMEOUT, &details,
                                    "instance '%s' is still %s; it keeps starting",
                                    instance->id, instance->status);
                s_reply_error (self, waiter->router, waiter->envelope, waiter->id, &err);
                shic_error_clear (&err);
                s_waiter_destroy (&waiter);
                waiter = (s_waiter_t *) zlistx_first (instance->waiters);
            }
            else {
                CONSIDER (waiter->deadline);
                waiter = (s_waiter_t *) zlistx_next (instance->waiters);
            }
        }
        if (instance->idle_at) {
            if (now >= instance->idle_at && instance->lease_count == 0
            &&  streq (instance->status, SHIC_STATUS_READY)) {
                instance->idle_at = 0;
                instance->status = SHIC_STATUS_STOPPING;
                if (self->settings->verbose)
                    zsys_info ("gateway: instance %s idle, stopping", instance->id);
                s_instance_send (self, instance, "STOP");
            }
            else
                CONSIDER (instance->idle_at);
        }
        if (instance->retire_at && !instance->actor_live
        &&  zlistx_size (instance->waiters) == 0) {
            if (now >= instance->retire_at) {
                if (!retire)
                    retire = zlistx_new ();
                zlistx_add_end (retire, instance);
            }
            else
                CONSIDER (instance->retire_at);
        }
    }
    if (retire) {
        s_instance_t *instance;
        while ((instance = (s_instance_t *) zlistx_detach (retire, NULL)))
            s_instance_forget (self, instance);
        zlistx_destroy (&retire);
    }
    //  Silent clients: their untimed leases end
    zlistx_t *gone = NULL;
    for (s_client_t *client = (s_client_t *) zhashx_first (self->clients); client;
         client = (s_client_t *) zhashx_next (self->clients)) {
        int64_t expiry = client->last_seen + self->settings->client_timeout_ms;
        if (now >= expiry) {
            if (!gone)
                gone = zlistx_new ();
            zlistx_add_end (gone, (void *) zhashx_cursor (self->clients));
        }
        else
        if (client->untimed)
            CONSIDER (expiry);
    }
    if (gone) {
        const char *key;
        while ((key = (const char *) zlistx_detach (gone, NULL))) {
            s_client_t *client = (s_client_t *) zhashx_lookup (self->clients, key);
            if (client->untimed) {
                zlistx_t *refs = zlistx_new ();
                for (s_lease_t *lease = (s_lease_t *) zhashx_first (self->leases); lease;
                     lease = (s_lease_t *) zhashx_next (self->leases))
                    if (lease->client && streq (lease->client, key))
                        zlistx_add_end (refs, lease);
                s_lease_t *lease;
                while ((lease = (s_lease_t *) zlistx_detach (refs, NULL)))
                    s_lease_end (self, lease, "lease.expired", "client_gone");
                zlistx_destroy (&refs);
            }
            zhashx_delete (self->clients, key);
        }
        zlistx_destroy (&gone);
    }
    #undef CONSIDER
}

//  --------------------------------------------------------------------------

void
shic_gateway_actor (zsock_t *pipe, void *args)
{
    self_t self = { 0 };
    self.pipe = pipe;
    self.settings = (const shic_settings_t *) args;
    self.started_at = zclock_mono ();
    self.backends = zhashx_new ();
    zhashx_set_destructor (self.backends, (zhashx_destructor_fn *) s_backend_destroy);
    self.instances = zhashx_new ();
    zhashx_set_destructor (self.instances, (zhashx_destructor_fn *) s_instance_destroy);
    self.by_seq = zhashx_new ();
    self.leases = zhashx_new ();
    zhashx_set_destructor (self.leases, (zhashx_destructor_fn *) s_lease_destroy);
    self.clients = zhashx_new ();
    zhashx_set_destructor (self.clients, (zhashx_destructor_fn *) zstr_free);
    self.idle_actors = zlistx_new ();
    zlistx_set_destructor (self.idle_actors, (zlistx_destructor_fn *) zstr_free);
    self.unbound = zlistx_new ();
    zlistx_set_destructor (self.unbound, (zlistx_destructor_fn *) zstr_free);
    self.resolved = zhashx_new ();
    zhashx_set_destructor (self.resolved, (zhashx_destructor_fn *) s_resolved_destroy);
    self.to_tell = zlistx_new ();
    zlistx_set_destructor (self.to_tell, (zlistx_destructor_fn *) zstr_free);
    zsock_signal (pipe, 0);
#ifdef __linux__
    pthread_setname_np (pthread_self (), "shic-gateway");
#endif
    self.trusted = s_router_new (self.settings->max_frame);
    self.bus = zsock_new (ZMQ_ROUTER);
    zsock_set_router_mandatory (self.bus, 1);
    zsock_set_sndhwm (self.bus, 0);
    zsock_set_rcvhwm (self.bus, 0);
    self.events = zsock_new (ZMQ_PUB);
    zsock_set_sndhwm (self.events, 100000);
    bool ok = s_bind (self.trusted, self.settings->gateway) == 0
           && s_bind (self.bus, self.settings->bus) == 0
           && s_bind (self.events, self.settings->events) == 0;
    zstr_send (pipe, ok? "READY": "FAILED");

    while (ok && !self.terminated) {
        int64_t next = -1;
        s_timers (&self, zclock_mono (), &next);
        int64_t chores = s_chores (&self, zclock_mono ());
        if (chores >= 0 && (next < 0 || chores < next))
            next = chores;
        int64_t timeout = next < 0? -1: next - zclock_mono ();
        if (next >= 0 && timeout < 0)
            timeout = 0;
        zmq_pollitem_t items [4] = {
            { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (self.bus), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (self.trusted), 0, ZMQ_POLLIN, 0 },
            { self.public_router? zsock_resolve (self.public_router): NULL, 0, ZMQ_POLLIN, 0 }
        };
        int count = self.public_router? 4: 3;
        int rc = zmq_poll (items, count, timeout > INT32_MAX? INT32_MAX: (long) timeout);
        if (rc == -1) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (items [0].revents & ZMQ_POLLIN)
            s_handle_pipe (&self);
        //  Drain each socket a bounded number of times per turn
        for (int i = 0; i < 256 && (zsock_events (self.bus) & ZMQ_POLLIN); i++)
            s_handle_bus (&self);
        for (int i = 0; i < 64 && (zsock_events (self.trusted) & ZMQ_POLLIN); i++)
            s_handle_client (&self, self.trusted, true);
        if (self.public_router)
            for (int i = 0; i < 64 && (zsock_events (self.public_router) & ZMQ_POLLIN); i++)
                s_handle_client (&self, self.public_router, false);
    }
    zlistx_destroy (&self.to_tell);
    zhashx_destroy (&self.resolved);
    zlistx_destroy (&self.unbound);
    zhashx_destroy (&self.leases);
    zhashx_destroy (&self.by_seq);
    zhashx_destroy (&self.instances);
    zhashx_destroy (&self.backends);
    zhashx_destroy (&self.clients);
    zlistx_destroy (&self.idle_actors);
    zsock_destroy (&self.trusted);
    zsock_destroy (&self.public_router);
    zactor_destroy (&self.auth);
    zcert_destroy (&self.cert);
    zsock_destroy (&self.bus);
    zsock_destroy (&self.events);
}
