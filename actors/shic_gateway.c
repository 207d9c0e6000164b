/*  =========================================================================
    shic_gateway - the door of wire.md: sockets, waiters and the ops

    Owns the ROUTER sockets of wire.md (a trusted one on inproc for the
    embedding host, an untrusted one for network clients once bound, with
    CURVE when configured), the bus ROUTER on which every instance and the
    lease pool talk to it, the requests waiting for an instance, and the
    table of operations. What it knows lives in rooms of its own: the
    registry (backends, instances, resolutions; kernel/shic_registry), the
    lease book (leases, their clients, the pool's batches;
    kernel/shic_lease_book) and the events (every publication;
    kernel/shic_events).

    The hot path (a warm ensure_endpoint) never leaves this thread: the
    request is decoded once at the door into typed arguments (shic_args),
    the resolution memo finds its ready instance, the lease book grants a
    lease and the reply is streamed. Cold starts park the request as a
    waiter on its instance; replies go out in whatever order outcomes
    arrive.

    Pipe, from the supervisor (messages/shic_bus.c):
        BACKEND {manifest} [ops][state][config] -> REPLY {rc}
        UNREGISTER {name}                  -> REPLY {rc}
        SET-CURVE {cert, clients}          -> REPLY {rc}
        BIND-GATEWAY / BIND-EVENTS {endpoint} -> REPLY {rc: port}
        DRAIN {}, $TERM
    Pipe, to the supervisor:  STARTUP {rc} once;
        SPAWN {seq, instance_id, backend, plan}
    Bus, from instances ("I<n>"): STARTED, PROGRESS, READY, FAILED, HEALTH,
        RESTARTING, GAVE_UP, STOPPED, LOG_LINES (shic_instance.c); to them:
        STOP, LOGS
    Bus, from the lease pool ("P"): BOUND, EXPIRED, POOL; to it: GRANT,
        RENEW, RELEASE (shic_lease_pool.c, sent by the lease book)
    Every message is a row of messages/shic_bus.c, with its body.
    =========================================================================
*/

#include "shic_actors.h"
#include "shic_args.h"
#include "shic_events.h"
#include "shic_registry.h"
#include "shic_lease_book.h"
#include "shic_stats.h"
#include "shic_waiter.h"
#include "shic_admission.h"

typedef struct {
    zsock_t *pipe;                  //  to the supervisor
    const shic_settings_t *settings; //  runtime settings
    zsock_t *trusted;               //  inproc ROUTER for the embedding host
    zsock_t *public_router;         //  network ROUTER, once bound
    zactor_t *auth;                 //  ZAP handler when CURVE is required
    zcert_t *cert;                  //  the server's CURVE certificate
    zsock_t *bus;                   //  ROUTER for our own actors
    shic_events_t *events;          //  the events PUB
    shic_registry_t *registry;      //  backends, instances, resolutions
    shic_lease_book_t *book;        //  leases and their clients
    shic_admission_t *admission;    //  memory: footprints, the queue
    int64_t started_at;             //  monotonic start time
    bool draining;                  //  shutting down
    bool placement_due;             //  memory or leases changed: decide again
    bool terminated;                //  $TERM seen
    shic_stats_t *stats;            //  counters for the stats op
    zhashx_t *log_calls;            //  instance_logs asked of an instance, by ticket
    int64_t log_ticket;             //  the last ticket given
} self_t;

static zsock_t *s_router_new (size_t max_frame);
#define SEND_HWM 1000
static int s_bind (zsock_t *sock, const char *endpoint);
static void s_lease_ended (void *arg, const char *instance_id);
static const shic_admission_effects_t s_admission_effects;
static void s_park (self_t *self, shic_record_t *instance, shic_waiter_t *waiter);
static void s_ensure_place (self_t *self, shic_val_t **plan_p, shic_waiter_t *waiter,
                            shic_error_t *err);

static self_t *
s_self_new (zsock_t *pipe, const shic_settings_t *settings)
{
    self_t *self = (self_t *) zmalloc (sizeof (self_t));
    self->pipe = pipe;
    self->settings = settings;
    self->started_at = zclock_mono ();
    self->trusted = s_router_new (settings->max_frame);
    self->bus = zsock_new (ZMQ_ROUTER);
    zsock_set_router_mandatory (self->bus, 1);
    zsock_set_sndhwm (self->bus, 0);
    zsock_set_rcvhwm (self->bus, 0);
    self->events = shic_events_new (settings->events);
    self->registry = shic_registry_new (self->events, (zlistx_destructor_fn *) shic_waiter_destroy);
    self->book = shic_lease_book_new (settings, self->events, self->bus, s_lease_ended, self);
    self->stats = shic_stats_new ();
    self->log_calls = zhashx_new ();
    zhashx_set_destructor (self->log_calls, (zhashx_destructor_fn *) shic_waiter_destroy);
    self->admission = shic_admission_new (settings->pools, self->registry, self->events, settings,
                                          (zlistx_destructor_fn *) shic_waiter_destroy,
                                          &s_admission_effects, self);
    return self;
}

static void
s_self_destroy (self_t **self_p)
{
    if (*self_p) {
        self_t *self = *self_p;
        shic_stats_destroy (&self->stats);
        zhashx_destroy (&self->log_calls);
        shic_admission_destroy (&self->admission);
        shic_lease_book_destroy (&self->book);
        shic_registry_destroy (&self->registry);
        zsock_destroy (&self->trusted);
        zsock_destroy (&self->public_router);
        zactor_destroy (&self->auth);
        zcert_destroy (&self->cert);
        zsock_destroy (&self->bus);
        shic_events_destroy (&self->events);
        free (self);
        *self_p = NULL;
    }
}

//  One request being handled
typedef struct {
    zsock_t *router;                //  reply socket
    zmsg_t *envelope;               //  routing frames
    bool trusted;                   //  inproc socket
    char *client;                   //  client key
    shic_wire_request_t req;        //  the request
    shic_args_t args;               //  its arguments, decoded at the door
} s_call_t;

//  --------------------------------------------------------------------------
//  Replies

//  Answers a request of op (a name of the op table, or NULL) with err
static void
s_reply_error (self_t *self, const char *op, zsock_t *router, zmsg_t *envelope,
               const shic_val_t *id, const shic_error_t *err)
{
    shic_stats_error (self->stats, err->code);
    shic_stats_answered (self->stats, op, err->code);
    zframe_t *frame = shic_wire_reply_error (id, err);
    shic_waiter_send (router, envelope, &frame);
}

//  Answers a waiter (an ensure) with err, and counts the error
static void
s_waiter_fail (self_t *self, shic_waiter_t *waiter, const shic_error_t *err)
{
    shic_stats_error (self->stats, err->code);
    shic_stats_answered (self->stats, "ensure_endpoint", err->code);
    shic_waiter_reply_error (waiter, err);
}

//  --------------------------------------------------------------------------
//  Waiters

//  A parked or granted ensure; takes compatibility and the call's envelope
static shic_waiter_t *
s_waiter_new (s_call_t *call, shic_record_t *instance, shic_val_t *compatibility,
              bool reused, int64_t started)
{
    shic_waiter_t *waiter = shic_waiter_new (call->router, &call->envelope, call->req.id,
                                             call->client, call->trusted, call->args.owner_ref,
                                             call->args.ttl_ms, &compatibility);
    waiter->instance = instance;
    waiter->reused = reused;
    waiter->deadline = zclock_mono () + call->args.wait_ms;
    waiter->started = started;
    waiter->priority = (int) call->args.priority;
    waiter->has_priority = call->args.has_priority;
    waiter->preemptible = call->args.preemptible;
    return waiter;
}

//  The reply's placement {pool, footprint_bytes, footprint_source,
//  evicted, queued_ms}
static void
s_placement_write (shic_val_writer_t *writer, shic_record_t *instance, shic_waiter_t *waiter)
{
    shic_val_writer_str (writer, "placement");
    shic_val_writer_map (writer, 5);
    shic_val_writer_str (writer, "pool");
    shic_val_writer_str (writer, instance->pool);
    shic_val_writer_str (writer, "footprint_bytes");
    shic_val_writer_int (writer, (int64_t) instance->footprint);
    shic_val_writer_str (writer, "footprint_source");
    shic_val_writer_str (writer, instance->footprint_source);
    shic_val_writer_str (writer, "evicted");
    if (waiter->evicted)
        shic_val_writer_val (writer, waiter->evicted);
    else
        shic_val_writer_array (writer, 0);
    shic_val_writer_str (writer, "queued_ms");
    shic_val_writer_int (writer, waiter->queued_ms);
}

//  Grants a lease for a waiter whose instance is ready, replies, and
//  destroys the waiter. The lease book binds the lease to a lease actor
//  later, off the hot path: the request never waits for a thread.
static void
s_grant (self_t *self, shic_waiter_t **waiter_p)
{
    shic_waiter_t *waiter = *waiter_p;
    shic_record_t *instance = (shic_record_t *) waiter->instance;
    //  No lease past max_leases, nor when no lease actor can be made for
    //  it (out of descriptors)
    shic_error_t err = { 0 };
    if (shic_lease_book_full (self->book)) {
        shic_val_t *details = shic_val_new_map ();
        shic_val_set_str (details, "limit", "max_leases");
        shic_val_set_int (details, "max_leases", (int64_t) self->settings->max_leases);
        shic_error_set (&err, SHIC_E_CAPACITY, &details, "the lease limit (%zu) is reached",
                        self->settings->max_leases);
    }
    else
    if (!waiter->trusted && waiter->client
    &&  shic_lease_book_held_by (self->book, waiter->client)
        >= self->settings->max_leases_per_client) {
        shic_val_t *details = shic_val_new_map ();
        shic_val_set_str (details, "limit", "max_leases_per_client");
        shic_val_set_int (details, "max_leases_per_client",
                          (int64_t) self->settings->max_leases_per_client);
        shic_error_set (&err, SHIC_E_CAPACITY, &details,
                        "this client holds its limit of %zu leases",
                        self->settings->max_leases_per_client);
    }
    else
    if (shic_lease_book_starved (self->book)) {
        shic_val_t *details = shic_val_new_map ();
        shic_val_set_str (details, "limit", "descriptors");
        shic_error_set (&err, SHIC_E_CAPACITY, &details,
                        "out of file descriptors: no lease actor can be started");
    }
    if (err.code) {
        s_waiter_fail (self, waiter, &err);
        shic_error_clear (&err);
        shic_waiter_destroy (waiter_p);
        return;
    }
    bool tracked = !waiter->trusted || self->settings->inproc_client_timeout;
    shic_lease_t *lease = shic_lease_book_grant (self->book, instance->id, waiter->owner_ref,
                                                 waiter->ttl_ms, waiter->client, tracked);
    lease->preemptible = waiter->preemptible;
    //  Without a priority of its own, the lease has the model's (warm
    //  grants too: a waiter below it must not revoke it)
    lease->priority = waiter->has_priority? waiter->priority: instance->priority;
    shic_registry_lease_added (self->registry, instance);

    //  The reply is streamed from the instance's endpoint and the waiter's
    //  compatibility as they are: no copy of either per grant
    //  {endpoint (with lease_ref), compatibility, lease, instance_id, reused,
    //  placement (when its memory is counted)}
    shic_val_writer_t *writer = shic_wire_reply_ok_begin (waiter->id);
    if (writer) {
        shic_val_writer_map (writer, instance->pool? 6: 5);
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
        shic_lease_book_write (writer, lease);
        shic_val_writer_str (writer, "instance_id");
        shic_val_writer_str (writer, instance->id);
        shic_val_writer_str (writer, "reused");
        shic_val_writer_bool (writer, waiter->reused);
        if (instance->pool)
            s_placement_write (writer, instance, waiter);
    }
    zframe_t *frame = shic_wire_frame_take (&writer);
    if (frame)
        shic_waiter_send (waiter->router, waiter->envelope, &frame);
    else
        zsys_error ("gateway: out of memory replying to a grant");
    shic_stats_latency (self->stats, waiter->started);
    shic_stats_answered (self->stats, "ensure_endpoint", NULL);
    shic_events_lease (self->events, "lease.granted", lease->instance_id, lease->ref,
                       lease->owner_ref, NULL);
    shic_waiter_destroy (waiter_p);
}

//  Answers every waiter of instance with err
static void
s_waiters_fail (self_t *self, shic_record_t *instance, const shic_error_t *err)
{
    shic_waiter_t *waiter;
    while ((waiter = (shic_waiter_t *) zlistx_detach (instance->waiters, NULL))) {
        s_waiter_fail (self, waiter, err);
        shic_waiter_destroy (&waiter);
    }
}

//  Grants leases to every waiter of a ready instance (those that wait for
//  a recovery only when it is not unavailable)
static void
s_waiters_grant (self_t *self, shic_record_t *instance)
{
    bool healthy = !streq (instance->health, SHIC_HEALTH_UNAVAILABLE);
    shic_waiter_t *waiter = (shic_waiter_t *) zlistx_first (instance->waiters);
    while (waiter) {
        if (!waiter->want_healthy || healthy) {
            zlistx_detach_cur (instance->waiters);
            s_grant (self, &waiter);
            waiter = (shic_waiter_t *) zlistx_first (instance->waiters);
        }
        else
            waiter = (shic_waiter_t *) zlistx_next (instance->waiters);
    }
    shic_lease_book_busy (self->book);
}

//  Answers the waiters past their deadline; lowers *next to the next one
static void
s_waiters_expire (self_t *self, shic_record_t *instance, int64_t now, int64_t *next)
{
    shic_waiter_t *waiter = (shic_waiter_t *) zlistx_first (instance->waiters);
    while (waiter) {
        if (now >= waiter->deadline) {
            zlistx_detach_cur (instance->waiters);
            shic_error_t err = { 0 };
            shic_waiter_timeout_error (waiter, instance->id, shic_lifecycle_name (instance->status),
                                       instance->health, &err);
            s_waiter_fail (self, waiter, &err);
            shic_error_clear (&err);
            shic_waiter_destroy (&waiter);
            waiter = (shic_waiter_t *) zlistx_first (instance->waiters);
        }
        else {
            if (*next < 0 || waiter->deadline < *next)
                *next = waiter->deadline;
            waiter = (shic_waiter_t *) zlistx_next (instance->waiters);
        }
    }
}

//  --------------------------------------------------------------------------
//  Instances

//  STOP to an instance actor
static void
s_instance_send_stop (self_t *self, shic_record_t *instance)
{
    char identity [16];
    snprintf (identity, sizeof (identity), "I%d", instance->seq);
    //  An actor just spawned may not have connected to the bus yet (a stop
    //  during the first moments of a cold start): it gets the STOP when it
    //  first speaks
    instance->stop_owed = shic_bus_send_to (self->bus, identity,
                                            &(shic_bus_t) { .id = SHIC_BUS_STOP }) == -1;
}

//  Stops an instance whose actor still runs
static void
s_instance_stop (self_t *self, shic_record_t *instance)
{
    shic_registry_set_status (self->registry, instance, SHIC_LIFECYCLE_STOPPING, NULL);
    s_instance_send_stop (self, instance);
}

//  Asks the supervisor for a new record's instance actor
static void
s_instance_spawn (self_t *self, shic_record_t *instance)
{
    shic_stats_instance_started (self->stats);
    shic_bus_send (self->pipe, &(shic_bus_t) { .id = SHIC_BUS_SPAWN, .seq = instance->seq,
                                               .instance_id = instance->id,
                                               .backend = instance->backend,
                                               .plan = instance->plan });
}

//  A lease ended (the lease book tells us): its instance may become idle
static void
s_lease_ended (void *arg, const char *instance_id)
{
    self_t *self = (self_t *) arg;
    shic_registry_lease_ended (self->registry, instance_id);
    self->placement_due = true;
}

//  The instance failed: its waiters get err, its leases end
static void
s_instance_failed (self_t *self, shic_record_t *instance, shic_error_t *err, int64_t hold_ms)
{
    instance->retire_at = zclock_mono () + hold_ms;
    instance->idle_at = 0;
    shic_error_move (&instance->error, err);
    s_waiters_fail (self, instance, &instance->error);
    shic_lease_book_end_instance (self->book, instance->id, "instance_failed");
    shic_val_t *extra = shic_val_new_map ();
    shic_val_set_str (extra, "reason", instance->error.code);
    shic_val_t *error = shic_error_to_val (&instance->error);
    shic_val_set (extra, "error", &error);
    shic_val_set_dup (extra, "exit", instance->last_exit);
    shic_registry_set_status (self->registry, instance, SHIC_LIFECYCLE_FAILED, &extra);
}

//  --------------------------------------------------------------------------
//  What placement has the gateway do (shic_admission_effects_t)

//  A start that waited for memory fits now: its record, its waiters
static void
s_admit_start (void *arg, shic_pending_t *pending)
{
    self_t *self = (self_t *) arg;
    bool created = false;
    shic_error_t err = { 0 };
    shic_record_t *instance = shic_registry_claim (self->registry, &pending->plan,
                                                   self->settings->max_instances, &created, &err);
    shic_waiter_t *waiter;
    if (!instance) {
        while ((waiter = (shic_waiter_t *) zlistx_detach (pending->waiters, NULL))) {
            s_waiter_fail (self, waiter, &err);
            shic_waiter_destroy (&waiter);
        }
        shic_error_clear (&err);
        return;
    }
    shic_admission_placed (self->admission, instance, &pending->need);
    shic_waiter_t *first = (shic_waiter_t *) zlistx_first (pending->waiters);
    if (created && first && !first->trusted && first->client)
        instance->starter = strdup (first->client);
    if (created)
        s_instance_spawn (self, instance);
    int64_t queued_ms = zclock_mono () - pending->queued_at;
    while ((waiter = (shic_waiter_t *) zlistx_detach (pending->waiters, NULL))) {
        waiter->queued_ms = queued_ms;
        waiter->evicted = shic_val_dup (pending->evicted);
        waiter->reused = !created && !waiter->restarted;
        s_park (self, instance, waiter);
    }
}

static void
s_admit_stop (void *arg, shic_record_t *record)
{
    self_t *self = (self_t *) arg;
    if (record->actor_live && record->status != SHIC_LIFECYCLE_STOPPING) {
        record->stop_reason = "evicted";
        s_instance_stop (self, record);
    }
}

static void
s_admit_revoking (void *arg, shic_record_t *record, int64_t grace_ms)
{
    self_t *self = (self_t *) arg;
    shic_lease_book_revoking (self->book, record->id, grace_ms);
}

static void
s_admit_revoke (void *arg, shic_record_t *record)
{
    self_t *self = (self_t *) arg;
    shic_lease_book_end_instance (self->book, record->id, "preempted");
}

static void
s_admit_holders (void *arg, shic_record_t *record, bool want_owners, shic_holders_t *out)
{
    self_t *self = (self_t *) arg;
    out->owners = want_owners? shic_val_new_array (): NULL;
    shic_lease_book_holders (self->book, record->id, &out->leases, &out->preemptible,
                             &out->priority, &out->earliest_expiry_ms, out->owners);
}

static void
s_admit_fail (void *arg, void *waiter, const shic_error_t *err)
{
    self_t *self = (self_t *) arg;
    s_waiter_fail (self, (shic_waiter_t *) waiter, err);
    shic_waiter_destroy ((shic_waiter_t **) &waiter);
}

static const shic_admission_effects_t s_admission_effects = {
    s_admit_start, s_admit_stop, s_admit_revoking, s_admit_revoke, s_admit_holders, s_admit_fail
};

//  --------------------------------------------------------------------------
//  Operations: each returns its result, or NULL with err set, or NULL
//  without err when it replied (or parked the request) itself

typedef shic_val_t *(s_op_fn) (self_t *self, s_call_t *call, shic_error_t *err);

//  Parks a waiter on a live instance, or grants it a lease at once
static void
s_park (self_t *self, shic_record_t *instance, shic_waiter_t *waiter)
{
    waiter->instance = instance;
    bool ready = instance->status == SHIC_LIFECYCLE_READY;
    if (ready && streq (instance->health, SHIC_HEALTH_UNAVAILABLE))
        waiter->want_healthy = true;
    if (ready && !waiter->want_healthy)
        s_grant (self, &waiter);
    else
        zlistx_add_end (instance->waiters, waiter);
}

//  How many live instances the ensures of a network client started
static size_t
s_started_by (self_t *self, const char *client)
{
    size_t count = 0;
    for (shic_record_t *record = shic_registry_first (self->registry); record;
         record = shic_registry_next (self->registry))
        if (record->starter && streq (record->starter, client)
        &&  record->status != SHIC_LIFECYCLE_STOPPED && record->status != SHIC_LIFECYCLE_FAILED)
            count++;
    return count;
}

//  A resolved ensure (plan taken, waiter taken): joins the live instance or
//  the start waiting for memory, else starts it when its memory is not
//  counted, else queues it for placement (which starts it at once when it
//  fits). The waiter is answered on err.
static void
s_ensure_place (self_t *self, shic_val_t **plan_p, shic_waiter_t *waiter, shic_error_t *err)
{
    const char *key = shic_val_str (shic_val_get (*plan_p, "instance_key"));
    shic_record_t *instance = shic_registry_lookup (self->registry, key);
    bool live = instance && instance->status != SHIC_LIFECYCLE_STOPPED
             && instance->status != SHIC_LIFECYCLE_FAILED;
    //  A failed start answers its failure until its retry time (the claim)
    bool held = instance && instance->status == SHIC_LIFECYCLE_FAILED
             && zclock_mono () < instance->retire_at;
    shic_pending_t *pending = live || held? NULL: shic_admission_pending (self->admission, key);
    shic_need_t need = { 0 };
    //  A network client starts at most max_instances_per_client instances
    if (!live && !held && !pending && !waiter->trusted && waiter->client
    &&  s_started_by (self, waiter->client) >= self->settings->max_instances_per_client) {
        shic_val_t *details = shic_val_new_map ();
        shic_val_set_str (details, "limit", "max_instances_per_client");
        shic_val_set_int (details, "max_instances_per_client",
                          (int64_t) self->settings->max_instances_per_client);
        shic_error_set (err, SHIC_E_CAPACITY, &details,
                        "this client started its limit of %zu instances",
                        self->settings->max_instances_per_client);
        goto fail;
    }
    if (!live && !held && !pending && shic_admission_need (self->admission, *plan_p, &need, err) == 0
    &&  need.source) {
        if (!waiter->has_priority)
            waiter->priority = need.priority;
        pending = shic_admission_enqueue (self->admission, plan_p, &need, waiter->priority, err);
        if (!pending)
            goto fail;
        waiter->reused = false;
        zlistx_add_end (pending->waiters, waiter);
        shic_admission_run (self->admission);
        goto done;
    }
    if (err->code)
        goto fail;
    if (pending) {
        if (shic_admission_full (self->admission, err))
            goto fail;
        if (!waiter->has_priority)
            waiter->priority = pending->need.priority;
        waiter->reused = false;
        shic_admission_joined (self->admission, pending, waiter->priority);
        zlistx_add_end (pending->waiters, waiter);
        goto done;
    }
    bool created = false;
    instance = shic_registry_claim (self->registry, plan_p, self->settings->max_instances,
                                    &created, err);
    if (!instance)
        goto fail;
    if (created && !waiter->trusted && waiter->client)
        instance->starter = strdup (waiter->client);
    if (created)
        s_instance_spawn (self, instance);
    waiter->reused = !created && !waiter->restarted;
    s_park (self, instance, waiter);
    goto done;
fail:
    s_waiter_fail (self, waiter, err);
    shic_error_clear (err);
    shic_waiter_destroy (&waiter);
    //  (answered here: the op replies nothing more)
done:
    shic_need_reset (&need);
    shic_val_destroy (plan_p);
}

//  A network client's ttl_ms is at most max_lease_ttl_ms (invalid_args
//  beyond: a clamp would grant what was not asked); true when it is fine
static bool
s_ttl_allowed (self_t *self, s_call_t *call, shic_error_t *err)
{
    if (call->trusted || !call->args.has_ttl_ms
    ||  call->args.ttl_ms <= self->settings->max_lease_ttl_ms)
        return true;
    shic_val_t *details = shic_val_new_map ();
    shic_val_set_str (details, "field", "ttl_ms");
    shic_val_set_int (details, "max_lease_ttl_ms", self->settings->max_lease_ttl_ms);
    shic_error_set (err, SHIC_E_INVALID_ARGS, &details, "ttl_ms is above max_lease_ttl_ms (%lld)",
                    (long long) self->settings->max_lease_ttl_ms);
    return false;
}

static shic_val_t *
s_op_ensure (self_t *self, s_call_t *call, shic_error_t *err)
{
    int64_t started = zclock_usecs ();
    shic_stats_ensure (self->stats);
    if (self->draining) {
        shic_error_set (err, SHIC_E_SHUTTING_DOWN, NULL, "the runtime is stopping");
        return NULL;
    }
    const shic_args_t *args = &call->args;
    if (!s_ttl_allowed (self, call, err))
        return NULL;
    //  The warm path: this very request was resolved before
    char *memo_key = shic_registry_memo_key (call->trusted, args->consumer, args->request,
                                             args->context);
    const shic_val_t *remembered = NULL;
    shic_record_t *instance = shic_registry_memo_lookup (self->registry, memo_key, &remembered);
    if (instance && instance->status == SHIC_LIFECYCLE_READY
    &&  !streq (instance->health, SHIC_HEALTH_UNAVAILABLE)) {
        shic_waiter_t *waiter = s_waiter_new (call, instance, shic_val_dup (remembered), true,
                                           started);
        s_grant (self, &waiter);
        free (memo_key);
        return NULL;
    }
    shic_val_t *compatibility = NULL;
    shic_val_t *plan = shic_registry_resolve (self->registry, args->consumer, args->request,
                                              args->context, call->trusted, &compatibility, err);
    if (plan) {
        if (memo_key)
            shic_registry_memo_add (self->registry, memo_key,
                                    shic_val_str (shic_val_get (plan, "instance_key")),
                                    compatibility);
        shic_waiter_t *waiter = s_waiter_new (call, NULL, compatibility, true, started);
        compatibility = NULL;
        s_ensure_place (self, &plan, waiter, err);
    }
    free (memo_key);
    shic_val_destroy (&compatibility);
    return NULL;
}

static shic_val_t *
s_op_ping (self_t *self, s_call_t *call, shic_error_t *err)
{
    (void) call; (void) err;
    shic_val_t *result = shic_val_new_map ();
    shic_val_set_str (result, "version", SHIC_VERSION);
    shic_val_set_int (result, "protocol", SHIC_WIRE_VERSION);
    char host [256] = "";
    gethostname (host, sizeof (host) - 1);
    shic_val_set_str (result, "node", host);
    shic_val_set_int (result, "uptime_ms", zclock_mono () - self->started_at);
    return result;
}

static shic_val_t *
s_op_list_backends (self_t *self, s_call_t *call, shic_error_t *err)
{
    (void) call; (void) err;
    shic_val_t *result = shic_val_new_map ();
    shic_val_t *list = shic_registry_manifests (self->registry);
    shic_val_set (result, "backends", &list);
    return result;
}

static shic_val_t *
s_op_compatibility (self_t *self, s_call_t *call, shic_error_t *err)
{
    shic_val_t *consumer = shic_consumer_manifest_normalize (call->args.consumer, err);
    if (!consumer)
        return NULL;
    shic_backend_entry_t *backend = shic_registry_backend (self->registry, call->args.backend);
    shic_val_t *result = shic_compatibility (call->args.backend,
                                             backend? backend->manifest: NULL, consumer);
    shic_val_destroy (&consumer);
    return result;
}

static shic_val_t *
s_op_renew_lease (self_t *self, s_call_t *call, shic_error_t *err)
{
    shic_lease_t *lease = shic_lease_book_lookup (self->book, call->args.lease_ref);
    if (!lease) {
        shic_error_set (err, SHIC_E_LEASE_NOT_FOUND, NULL, "no live lease '%s'",
                        call->args.lease_ref);
        return NULL;
    }
    if (!s_ttl_allowed (self, call, err))
        return NULL;
    shic_lease_book_renew (self->book, lease,
                           call->args.has_ttl_ms? call->args.ttl_ms: lease->ttl_ms);
    shic_val_t *result = shic_val_new_map ();
    shic_val_t *lease_val = shic_lease_book_val (lease);
    shic_val_set (result, "lease", &lease_val);
    return result;
}

static shic_val_t *
s_op_release_lease (self_t *self, s_call_t *call, shic_error_t *err)
{
    (void) err;
    shic_lease_t *lease = shic_lease_book_lookup (self->book, call->args.lease_ref);
    if (lease)
        shic_lease_book_end (self->book, lease, "lease.released", "released");
    //  Idempotent, but the caller learns whether this call ended a lease
    shic_val_t *result = shic_val_new_map ();
    shic_val_set_bool (result, "released", lease != NULL);
    return result;
}

//  A list op's cursor for the next page, when more remain (taken)
static void
s_set_next (shic_val_t *result, char **next_p)
{
    if (*next_p)
        shic_val_set_str (result, "next", *next_p);
    zstr_free (next_p);
}

static shic_val_t *
s_op_list_instances (self_t *self, s_call_t *call, shic_error_t *err)
{
    (void) err;
    shic_val_t *result = shic_val_new_map ();
    char *next = NULL;
    shic_val_t *list = shic_registry_snapshots (self->registry, call->args.backend,
                                                call->args.after, (size_t) call->args.limit, &next);
    shic_val_set (result, "instances", &list);
    s_set_next (result, &next);
    return result;
}

static shic_val_t *
s_op_lookup_instance (self_t *self, s_call_t *call, shic_error_t *err)
{
    shic_record_t *instance = shic_registry_lookup (self->registry, call->args.instance_id);
    if (instance)
        return shic_registry_snapshot (instance);
    shic_error_set_field (err, SHIC_E_NOT_FOUND, "instance_id", "no instance '%s'",
                          call->args.instance_id);
    return NULL;
}

static shic_val_t *
s_op_list_leases (self_t *self, s_call_t *call, shic_error_t *err)
{
    (void) err;
    //  The refs are capabilities: a network client sees its own, the
    //  embedding host every one
    char *next = NULL;
    shic_val_t *list = shic_lease_book_list (self->book, call->args.instance_id,
                                             call->trusted? NULL: call->client, call->args.after,
                                             (size_t) call->args.limit, &next);
    shic_val_t *result = shic_val_new_map ();
    shic_val_set (result, "leases", &list);
    s_set_next (result, &next);
    return result;
}

static shic_val_t *
s_op_stop_instance (self_t *self, s_call_t *call, shic_error_t *err)
{
    //  A stop ends every holder's leases: the embedding host (and the CLI
    //  on a control socket) may, network clients only when configured
    if (!call->trusted && !self->settings->allow_network_stop) {
        shic_val_t *details = shic_val_new_map ();
        shic_val_set_str (details, "op", "stop_instance");
        shic_val_set_str (details, "setting", "allow_network_stop");
        shic_error_set (err, SHIC_E_FORBIDDEN, &details,
                        "network clients may not stop instances (allow_network_stop = 0)");
        return NULL;
    }
    shic_record_t *instance = shic_registry_lookup (self->registry, call->args.instance_id);
    if (instance && instance->actor_live && instance->status != SHIC_LIFECYCLE_STOPPING) {
        //  The ensures that wait for it (a cold start) learn of the stop;
        //  the instance is not started again for them. An ensure that
        //  arrives while it stops gets a new start, reused false.
        if (zlistx_size (instance->waiters)) {
            shic_error_t stopped = { 0 };
            shic_val_t *details = shic_val_new_map ();
            shic_val_set_str (details, "instance_id", instance->id);
            shic_error_set (&stopped, SHIC_E_INSTANCE_STOPPED, &details,
                            "instance '%s' was stopped (stop_instance) while this ensure "
                            "waited for it", instance->id);
            s_waiters_fail (self, instance, &stopped);
            shic_error_clear (&stopped);
        }
        s_instance_stop (self, instance);
    }
    return shic_val_new_map ();
}

//  An instance's output lines when its actor cannot be asked: the last
//  exit's stderr tail, as lines
static shic_val_t *
s_logs_of_exit (shic_record_t *instance, int64_t max_lines)
{
    shic_val_t *result = shic_val_new_map ();
    shic_val_set_str (result, "instance_id", instance->id);
    shic_val_t *lines = shic_val_new_array ();
    const char *tail = shic_val_str (shic_val_get (instance->last_exit, "stderr_tail"));
    zlistx_t *split = zlistx_new ();
    zlistx_set_destructor (split, (zlistx_destructor_fn *) zstr_free);
    for (const char *line = tail; line && *line; ) {
        size_t length = strcspn (line, "\n");
        zlistx_add_end (split, zsys_sprintf ("%.*s", (int) length, line));
        line += length + (line [length] == '\n');
    }
    while (zlistx_size (split) > (size_t) max_lines)
        zlistx_delete (split, zlistx_first (split));
    for (char *line = (char *) zlistx_first (split); line; line = (char *) zlistx_next (split)) {
        shic_val_t *item = shic_val_new_str (line);
        shic_val_push (lines, &item);
    }
    zlistx_destroy (&split);
    shic_val_set (result, "lines", &lines);
    shic_val_set_int (result, "next", 0);
    shic_val_set_str (result, "source", instance->spawned? "last_exit": "attached");
    return result;
}

//  instance_logs: the instance actor keeps its service's last lines; it is
//  asked over the bus and the call waits (at most a second) for LOG_LINES
static shic_val_t *
s_op_instance_logs (self_t *self, s_call_t *call, shic_error_t *err)
{
    shic_record_t *instance = shic_registry_lookup (self->registry, call->args.instance_id);
    if (!instance) {
        shic_error_set_field (err, SHIC_E_NOT_FOUND, "instance_id", "no instance '%s'",
                              call->args.instance_id);
        return NULL;
    }
    if (!instance->actor_live || !instance->spawned)
        return s_logs_of_exit (instance, call->args.lines);
    char identity [16];
    snprintf (identity, sizeof (identity), "I%d", instance->seq);
    int64_t ticket = ++self->log_ticket;
    if (shic_bus_send_to (self->bus, identity, &(shic_bus_t) {
            .id = SHIC_BUS_LOGS, .ticket = ticket, .max_lines = call->args.lines,
            .after = call->args.after_line }) == -1)
        return s_logs_of_exit (instance, call->args.lines);
    shic_val_t *no_compatibility = NULL;
    shic_waiter_t *waiter = shic_waiter_new (call->router, &call->envelope, call->req.id,
                                             NULL, call->trusted, NULL, 0, &no_compatibility);
    waiter->deadline = zclock_mono () + 1000;
    char key [24];
    snprintf (key, sizeof (key), "%lld", (long long) ticket);
    zhashx_insert (self->log_calls, key, waiter);
    return NULL;
}

//  LOG_LINES: answers the instance_logs call of its ticket
static void
s_on_log_lines (self_t *self, shic_record_t *instance, const shic_bus_t *msg)
{
    char key [24];
    snprintf (key, sizeof (key), "%lld", (long long) msg->ticket);
    shic_waiter_t *waiter = (shic_waiter_t *) zhashx_lookup (self->log_calls, key);
    if (!waiter)
        return;                     //  answered already, at its deadline
    shic_val_t *result = shic_val_new_map ();
    shic_val_set_str (result, "instance_id", instance->id);
    shic_val_set_dup (result, "lines", msg->lines);
    shic_val_set_int (result, "next", msg->next);
    shic_val_set_str (result, "source", "service");
    zframe_t *frame = shic_wire_reply_ok (waiter->id, &result);
    shic_waiter_send (waiter->router, waiter->envelope, &frame);
    zhashx_delete (self->log_calls, key);
}

//  instance_logs calls whose instance did not answer in time
static void
s_log_calls_expire (self_t *self, int64_t now, int64_t *next)
{
    zlistx_t *late = zlistx_new ();
    zlistx_set_destructor (late, (zlistx_destructor_fn *) zstr_free);
    for (shic_waiter_t *waiter = (shic_waiter_t *) zhashx_first (self->log_calls); waiter;
         waiter = (shic_waiter_t *) zhashx_next (self->log_calls)) {
        if (now >= waiter->deadline) {
            shic_error_t err = { 0 };
            shic_error_set (&err, SHIC_E_INSTANCE_UNAVAILABLE, NULL,
                            "the instance did not hand over its log in time");
            s_waiter_fail (self, waiter, &err);
            shic_error_clear (&err);
            zlistx_add_end (late, strdup ((const char *) zhashx_cursor (self->log_calls)));
        }
        else
        if (*next < 0 || waiter->deadline < *next)
            *next = waiter->deadline;
    }
    for (char *key = (char *) zlistx_first (late); key; key = (char *) zlistx_next (late))
        zhashx_delete (self->log_calls, key);
    zlistx_destroy (&late);
}

//  Where model name of backend would run: its footprint when placement
//  counts it, and its instance when one is live (resolved as a trusted
//  ensure would be, without starting anything)
static void
s_model_placement (self_t *self, const char *backend, shic_val_t *model)
{
    shic_val_t *args = shic_client_ensure_args (backend, shic_val_str (shic_val_get (model, "name")),
                                                NULL, 0, 0);
    shic_error_t err = { 0 };
    shic_val_t *compatibility = NULL;
    shic_val_t *plan = shic_registry_resolve (self->registry, shic_val_get (args, "consumer"),
                                              shic_val_get (args, "request"),
                                              shic_val_get (args, "context"), true,
                                              &compatibility, &err);
    shic_need_t need = { 0 };
    if (plan && shic_admission_need (self->admission, plan, &need, &err) == 0 && need.source) {
        shic_val_set_int (model, "footprint_bytes", (int64_t) need.bytes);
        shic_val_set_str (model, "footprint_source", need.source);
        shic_val_set_str (model, "pool", need.pool);
    }
    else {
        shic_val_set_nil (model, "footprint_bytes");
        shic_val_set_nil (model, "footprint_source");
    }
    shic_need_reset (&need);
    shic_record_t *instance = plan? shic_registry_lookup (self->registry,
                              shic_val_str (shic_val_get (plan, "instance_key"))): NULL;
    shic_val_set_bool (model, "loaded", instance && instance->status == SHIC_LIFECYCLE_READY);
    if (instance) {
        shic_val_t *where = shic_val_new_map ();
        shic_val_set_str (where, "instance_id", instance->id);
        shic_val_set_str (where, "lifecycle_status", shic_lifecycle_name (instance->status));
        shic_val_set_dup (where, "base_url", shic_val_get (instance->endpoint, "base_url"));
        shic_val_set (model, "instance", &where);
    }
    else
        shic_val_set_nil (model, "instance");
    if (err.code)
        shic_val_set_str (model, "problem", err.message? err.message: err.code);
    shic_error_clear (&err);
    shic_val_destroy (&plan);
    shic_val_destroy (&compatibility);
    shic_val_destroy (&args);
}

//  list_models: what each backend says it can serve (ops->models), with
//  footprints and where each is loaded; backends that cannot tell are
//  listed under unknown
static shic_val_t *
s_op_list_models (self_t *self, s_call_t *call, shic_error_t *err)
{
    if (call->args.backend && !shic_registry_backend (self->registry, call->args.backend)) {
        shic_error_set_field (err, SHIC_E_UNKNOWN_BACKEND_ID, "backend", "no backend '%s'",
                              call->args.backend);
        return NULL;
    }
    shic_val_t *models = shic_val_new_array ();
    shic_val_t *unknown = shic_val_new_array ();
    shic_val_t *manifests = shic_registry_manifests (self->registry);
    for (size_t i = 0; i < shic_val_size (manifests); i++) {
        const char *name = shic_val_str (shic_val_get (shic_val_at (manifests, i), "backend"));
        if (call->args.backend && !streq (name, call->args.backend))
            continue;
        shic_backend_entry_t *backend = shic_registry_backend (self->registry, name);
        shic_val_t *list = backend->ops->models? backend->ops->models (backend->state): NULL;
        if (!list) {
            shic_val_t *item = shic_val_new_str (name);
            shic_val_push (unknown, &item);
        }
        for (size_t j = 0; j < shic_val_size (list); j++) {
            shic_val_t *model = shic_val_new_map ();
            shic_val_set_str (model, "backend", name);
            const shic_val_t *given = shic_val_at (list, j);
            for (size_t k = 0; k < shic_val_size (given); k++)
                shic_val_set_dup (model, shic_val_key_at (given, k), shic_val_at (given, k));
            s_model_placement (self, name, model);
            shic_val_push (models, &model);
        }
        shic_val_destroy (&list);
    }
    shic_val_destroy (&manifests);
    shic_val_t *result = shic_val_new_map ();
    shic_val_set (result, "models", &models);
    shic_val_set (result, "unknown", &unknown);
    return result;
}

static shic_val_t *
s_op_resources (self_t *self, s_call_t *call, shic_error_t *err)
{
    (void) call; (void) err;
    return shic_admission_resources (self->admission);
}

static shic_val_t *
s_op_stats (self_t *self, s_call_t *call, shic_error_t *err)
{
    (void) call; (void) err;
    shic_val_t *result = shic_val_new_map ();
    shic_stats_counts (self->stats, result);
    int64_t restarts = 0;
    shic_val_t *states = shic_registry_states (self->registry, &restarts);
    shic_val_set (result, "instances", &states);
    shic_val_set_int (result, "instances_started", (int64_t) shic_stats_instances_started (self->stats));
    shic_val_set_int (result, "leases", (int64_t) shic_lease_book_size (self->book));
    shic_val_set_int (result, "leases_granted", (int64_t) shic_lease_book_granted (self->book));
    shic_val_set_int (result, "lease_actors_idle",
                      (int64_t) shic_lease_book_actors_idle (self->book));
    shic_val_set_int (result, "restarts", restarts);
    shic_val_t *histogram = shic_stats_histogram (self->stats);
    shic_val_set (result, "ensure_latency", &histogram);
    shic_val_t *by_op = shic_stats_by_op (self->stats);
    shic_val_set (result, "by_op", &by_op);
    return result;
}

//  The ops of wire.md; their arguments are in messages/shic_args.c
static const struct {
    const char *name;               //  op
    s_op_fn *handler;               //  what does it
} s_ops [] = {
    { "ensure_endpoint", s_op_ensure },
    { "ping", s_op_ping },
    { "list_backends", s_op_list_backends },
    { "compatibility", s_op_compatibility },
    { "renew_lease", s_op_renew_lease },
    { "release_lease", s_op_release_lease },
    { "list_instances", s_op_list_instances },
    { "lookup_instance", s_op_lookup_instance },
    { "list_leases", s_op_list_leases },
    { "stop_instance", s_op_stop_instance },
    { "stats", s_op_stats },
    { "resources", s_op_resources },
    { "instance_logs", s_op_instance_logs },
    { "list_models", s_op_list_models },
};

//  Decodes the op's arguments and runs it; replies unless it did
static void
s_dispatch (self_t *self, s_call_t *call)
{
    shic_error_t err = { 0 };
    shic_val_t *result = NULL;
    s_op_fn *handler = NULL;
    const char *op = NULL;          //  the table's name of the op, once known
    for (size_t i = 0; i < sizeof (s_ops) / sizeof (s_ops [0]) && !handler; i++)
        if (streq (s_ops [i].name, call->req.op)) {
            handler = s_ops [i].handler;
            op = s_ops [i].name;
        }
    if (!handler) {
        shic_val_t *details = shic_val_new_map ();
        shic_val_set_str (details, "op", call->req.op);
        shic_error_set (&err, SHIC_E_UNKNOWN_OP, &details, "unknown op '%s'", call->req.op);
    }
    else
    if (shic_args_decode (call->req.op, call->req.args, &call->args, &err) == 0) {
        result = handler (self, call, &err);
        if (!result && !err.code)
            return;                 //  replied, or parked
    }
    if (err.code)
        s_reply_error (self, op, call->router, call->envelope, call->req.id, &err);
    else {
        shic_stats_answered (self->stats, op, NULL);
        zframe_t *frame = shic_wire_reply_ok (call->req.id, &result);
        shic_waiter_send (call->router, call->envelope, &frame);
    }
    shic_error_clear (&err);
    shic_val_destroy (&result);
}

//  --------------------------------------------------------------------------
//  Socket handlers

//  One message from a client ROUTER
static void
s_handle_client (self_t *self, zsock_t *router, bool trusted)
{
    zmsg_t *msg = zmsg_recv (router);
    if (!msg)
        return;
    shic_lease_book_busy (self->book);
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
    if (!trusted || self->settings->inproc_client_timeout)
        shic_lease_book_client_seen (self->book, call.client);
    shic_error_t err = { 0 };
    if (zmsg_size (msg) != 1)
        shic_error_set (&err, SHIC_E_MALFORMED, NULL,
                        "a request is exactly one body frame after the envelope");
    else {
        zframe_t *body = zmsg_first (msg);
        shic_stats_request (self->stats);
        if (shic_wire_request_decode (zframe_data (body), zframe_size (body),
                                      self->settings->max_frame, &call.req, &err) == 0)
            s_dispatch (self, &call);
    }
    if (err.code) {
        if (self->settings->verbose)
            zsys_debug ("gateway: %s: %s", err.code, err.message? err.message: "");
        s_reply_error (self, NULL, router, call.envelope, call.req.id, &err);
    }
    shic_error_clear (&err);
    shic_wire_request_reset (&call.req);
    zmsg_destroy (&call.envelope);
    zstr_free (&call.client);
    zmsg_destroy (&msg);
}

//  A STOPPED instance that requests arrived for meanwhile starts again,
//  through placement like any start
static void
s_instance_restart_for_waiters (self_t *self, shic_record_t *instance)
{
    if (!shic_registry_backend (self->registry, instance->backend)) {
        shic_error_t err = { 0 };
        shic_error_set (&err, SHIC_E_UNKNOWN_BACKEND_ID, NULL,
                        "backend '%s' was unregistered", instance->backend);
        s_waiters_fail (self, instance, &err);
        shic_error_clear (&err);
        return;
    }
    zlistx_t *waiters = instance->waiters;
    instance->waiters = zlistx_new ();
    zlistx_set_destructor (instance->waiters, (zlistx_destructor_fn *) shic_waiter_destroy);
    shic_val_t *plan = shic_val_dup (instance->plan);
    shic_waiter_t *waiter;
    while ((waiter = (shic_waiter_t *) zlistx_detach (waiters, NULL))) {
        shic_val_t *copy = shic_val_dup (plan);
        shic_error_t err = { 0 };
        waiter->restarted = true;   //  the new start is for it too
        s_ensure_place (self, &copy, waiter, &err);
    }
    shic_val_destroy (&plan);
    zlistx_destroy (&waiters);
}

//  The instance's process is gone: its memory is free for the queue
static void
s_reaped (self_t *self, shic_record_t *instance)
{
    instance->actor_live = false;
    shic_admission_reaped (self->admission, instance);
    self->placement_due = true;
}

//  READY: the instance's endpoint is built from what its probe found
static void
s_on_ready (self_t *self, shic_record_t *instance, const shic_bus_t *msg)
{
    if (instance->status == SHIC_LIFECYCLE_STOPPING)
        return;
    shic_error_t err = { 0 };
    shic_val_t *endpoint = shic_endpoint_build (instance->id, instance->plan, msg->fields, &err);
    if (endpoint) {
        shic_registry_ready (self->registry, instance, &endpoint, (int) msg->pid);
        shic_admission_measured (self->admission, instance, msg->measured);
        s_waiters_grant (self, instance);
    }
    else {
        //  A readiness failure, not a crash
        s_instance_send_stop (self, instance);
        s_instance_failed (self, instance, &err, self->settings->start_failure_hold_ms);
    }
    shic_error_clear (&err);
}

//  GAVE_UP: the service keeps crashing; restarts stop for retry_after_ms
static void
s_on_gave_up (self_t *self, shic_record_t *instance, const shic_bus_t *msg)
{
    s_reaped (self, instance);
    instance->restarts = (int) msg->restarts;
    shic_registry_set_exit (instance, msg->exit);
    int64_t retry_after = msg->retry_after_ms;
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

//  STOPPED: stopped on request; its leases end; requests that arrived
//  while it stopped start it again
static void
s_on_stopped (self_t *self, shic_record_t *instance, const shic_bus_t *msg)
{
    s_reaped (self, instance);
    instance->retire_at = zclock_mono () + self->settings->retention_ms;
    if (shic_val_type (msg->exit) == SHIC_VAL_MAP)
        shic_registry_set_exit (instance, msg->exit);
    shic_lease_book_end_instance (self->book, instance->id, "instance_stopped");
    shic_registry_set_status (self->registry, instance, SHIC_LIFECYCLE_STOPPED, NULL);
    if (zlistx_size (instance->waiters))
        s_instance_restart_for_waiters (self, instance);
}

//  What an instance actor reports on the bus
static void
s_handle_instance (self_t *self, shic_record_t *instance, const shic_bus_t *msg)
{
    if (msg->id == SHIC_BUS_STARTED)
        instance->pid = (int) msg->pid;
    else
    if (msg->id == SHIC_BUS_PROGRESS)
        shic_registry_progress (self->registry, instance, msg->progress);
    else
    if (msg->id == SHIC_BUS_READY)
        s_on_ready (self, instance, msg);
    else
    if (msg->id == SHIC_BUS_FAILED) {
        shic_error_t err = { 0 };
        shic_error_from_val (&err, msg->error);
        //  Out of memory: the error says what was reserved for it
        if (shic_val_bool (shic_val_get (err.details, "oom")) && instance->pool)
            shic_val_set_int (err.details, "reserved_bytes", (int64_t) instance->footprint);
        s_reaped (self, instance);
        if (streq (err.code, SHIC_E_BACKEND_EXIT))
            shic_registry_set_exit (instance, err.details);
        s_instance_failed (self, instance, &err, self->settings->start_failure_hold_ms);
        shic_error_clear (&err);
    }
    else
    if (msg->id == SHIC_BUS_HEALTH) {
        shic_registry_set_health (self->registry, instance, msg->health_status, msg->details);
        if (instance->status == SHIC_LIFECYCLE_READY)
            s_waiters_grant (self, instance);
    }
    else
    if (msg->id == SHIC_BUS_RESTARTING) {
        if (instance->status != SHIC_LIFECYCLE_STOPPING)
            shic_registry_restarting (self->registry, instance, msg->exit, msg->delay_ms,
                                      (int) msg->restarts);
    }
    else
    if (msg->id == SHIC_BUS_GAVE_UP)
        s_on_gave_up (self, instance, msg);
    else
    if (msg->id == SHIC_BUS_STOPPED)
        s_on_stopped (self, instance, msg);
    else
    if (msg->id == SHIC_BUS_LOG_LINES)
        s_on_log_lines (self, instance, msg);
    else
        zsys_error ("gateway: unexpected '%s' from instance %s",
                    shic_bus_command (msg->id), instance->id);
}

//  What the lease pool reports on the bus
static void
s_handle_pool (self_t *self, const shic_bus_t *msg)
{
    if (msg->id == SHIC_BUS_BOUND)
        shic_lease_book_bound (self->book, msg->lease_ref, msg->actor);
    else
    if (msg->id == SHIC_BUS_EXPIRED)
        shic_lease_book_expired (self->book, msg->lease_ref, msg->expires_at_ms);
    else
    if (msg->id == SHIC_BUS_POOL)
        shic_lease_book_pool_counts (self->book, (size_t) msg->idle, (size_t) msg->actors,
                                     msg->rc == -1);
    else
        zsys_error ("gateway: unexpected '%s' from the lease pool", shic_bus_command (msg->id));
}

//  [routing id][command][body]: "P" is the lease pool, "I<n>" an instance
static void
s_handle_bus (self_t *self)
{
    zmsg_t *msg = zmsg_recv (self->bus);
    if (!msg)
        return;
    char *identity = zmsg_popstr (msg);
    shic_bus_t bus = { 0 };
    if (identity && shic_bus_decode (&bus, msg, SHIC_BUS_ROLE_GATEWAY) == 0) {
        if (streq (identity, "P"))
            s_handle_pool (self, &bus);
        else {
            shic_record_t *instance = shic_registry_lookup_seq (self->registry, identity);
            if (instance && instance->stop_owed)
                s_instance_send_stop (self, instance);
            if (instance)
                s_handle_instance (self, instance, &bus);
        }
    }
    shic_bus_reset (&bus);
    zstr_free (&identity);
    zmsg_destroy (&msg);
}

static int
s_bind (zsock_t *sock, const char *endpoint)
{
    int rc = zsock_bind (sock, "%s", endpoint);
    if (rc == -1)
        zsys_error ("gateway: cannot bind %s: %s", endpoint, zmq_strerror (zmq_errno ()));
    return rc;
}

//  The control endpoint: the trusted ROUTER on an ipc:// socket, which
//  only the daemon's user may connect to (the file is made 0600; the
//  directory it lies in should be the user's own)
static int
s_bind_control (self_t *self)
{
    const char *endpoint = self->settings->control;
    if (!*endpoint)
        return 0;
    if (strncmp (endpoint, "ipc://", 6) || !endpoint [6]) {
        zsys_error ("gateway: the control endpoint '%s' is not ipc://PATH", endpoint);
        return -1;
    }
    if (s_bind (self->trusted, endpoint) == -1)
        return -1;
    const char *path = endpoint + 6;
    if (*path != '@' && chmod (path, S_IRUSR | S_IWUSR) == -1) {
        zsys_error ("gateway: cannot make %s private: %s", path, strerror (errno));
        return -1;
    }
    return 0;
}

static zsock_t *
s_router_new (size_t max_frame)
{
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    zsock_set_router_mandatory (router, 1);
    zsock_set_sndtimeo (router, 0);
    zsock_set_maxmsgsize (router, (int64_t) max_frame + 1024);
    //  A peer that does not read holds at most this many replies (each
    //  bounded: strings are capped, lists paged), then its replies drop
    zsock_set_sndhwm (router, SEND_HWM);
    zsock_set_rcvhwm (router, 100000);
    return router;
}

//  SET-CURVE: the public ROUTER becomes a CURVE server with an allow-list
static int
s_set_curve (self_t *self, const char *cert_path, const char *clients)
{
    if (self->public_router) {
        zsys_error ("gateway: CURVE must be set before the gateway is bound");
        return -1;
    }
    if (!(self->cert = zcert_load (cert_path))) {
        zsys_error ("gateway: cannot load the CURVE certificate %s", cert_path);
        return -1;
    }
    if (!zsys_file_exists (clients)) {
        zsys_error ("gateway: no directory of client certificates %s", clients);
        zcert_destroy (&self->cert);
        return -1;
    }
    self->auth = zactor_new (zauth, NULL);
    zstr_sendx (self->auth, "CURVE", clients, NULL);
    zsock_wait (self->auth);
    self->public_router = s_router_new (self->settings->max_frame);
    zcert_apply (self->cert, self->public_router);
    zsock_set_curve_server (self->public_router, 1);
    zsock_set_zap_domain (self->public_router, "shic");
    return 0;
}

//  BACKEND: a registered backend (its manifest checked by the supervisor)
static void
s_add_backend (self_t *self, shic_bus_t *msg)
{
    const shic_backend_ops_t *ops = (const shic_backend_ops_t *) msg->ops;
    shic_val_t *manifest = shic_bus_take (msg, &msg->manifest);
    //  The registered name, which the supervisor wrote into the manifest
    char *name = strdup (shic_val_str (shic_val_get (manifest, "backend")));
    shic_registry_backend_add (self->registry, name, ops, msg->state, msg->config, &manifest);
    free (name);
}

//  REPLY to the supervisor
static void
s_reply (self_t *self, int rc)
{
    shic_bus_send (self->pipe, &(shic_bus_t) { .id = SHIC_BUS_REPLY, .rc = rc });
}

//  UNREGISTER: the backend goes; its instances stop
static void
s_remove_backend (self_t *self, const char *name)
{
    shic_registry_backend_remove (self->registry, name);
    for (shic_record_t *instance = shic_registry_first (self->registry); instance;
         instance = shic_registry_next (self->registry))
        if (streq (instance->backend, name) && instance->actor_live
        &&  instance->status != SHIC_LIFECYCLE_STOPPING) {
            instance->stop_reason = "backend_removed";
            s_instance_stop (self, instance);
        }
}

static void
s_handle_pipe (self_t *self)
{
    shic_bus_t msg = { 0 };
    int rc = shic_bus_recv (&msg, self->pipe, SHIC_BUS_ROLE_GATEWAY);
    if (rc == -1 || msg.id == SHIC_BUS_TERM)
        self->terminated = true;
    else
    if (msg.id == SHIC_BUS_DRAIN) {
        self->draining = true;
        shic_error_t err = { 0 };
        shic_error_set (&err, SHIC_E_SHUTTING_DOWN, NULL, "the runtime is stopping");
        for (shic_record_t *instance = shic_registry_first (self->registry); instance;
             instance = shic_registry_next (self->registry))
            s_waiters_fail (self, instance, &err);
        shic_admission_drain (self->admission, &err);
        shic_error_clear (&err);
    }
    else
    if (msg.id == SHIC_BUS_BACKEND) {
        s_add_backend (self, &msg);
        s_reply (self, 0);
    }
    else
    if (msg.id == SHIC_BUS_UNREGISTER) {
        s_remove_backend (self, msg.name);
        s_reply (self, 0);
    }
    else
    if (msg.id == SHIC_BUS_SET_CURVE)
        s_reply (self, s_set_curve (self, msg.cert, msg.clients));
    else
    if (msg.id == SHIC_BUS_BIND_GATEWAY) {
        if (!self->public_router)
            self->public_router = s_router_new (self->settings->max_frame);
        s_reply (self, s_bind (self->public_router, msg.endpoint));
    }
    else
    if (msg.id == SHIC_BUS_BIND_EVENTS)
        s_reply (self, shic_events_bind (self->events, msg.endpoint));
    else
    if (rc == 0)
        zsys_error ("gateway: unexpected '%s' on its pipe", shic_bus_command (msg.id));
    shic_bus_reset (&msg);
}

//  --------------------------------------------------------------------------
//  Timers: waiters past their deadline, idle instances, tombstones, silent
//  clients. Returns the monotonic time of the next one, or -1.

static int64_t
s_timers (self_t *self, int64_t now)
{
    int64_t next = -1;
    for (shic_record_t *instance = shic_registry_first (self->registry); instance;
         instance = shic_registry_next (self->registry))
        s_waiters_expire (self, instance, now, &next);
    zlistx_t *idle = shic_registry_tick (self->registry, now, &next);
    shic_record_t *instance;
    while (idle && (instance = (shic_record_t *) zlistx_detach (idle, NULL))) {
        if (self->settings->verbose)
            zsys_info ("gateway: instance %s idle, stopping", instance->id);
        instance->stop_reason = "idle";
        s_instance_stop (self, instance);
    }
    zlistx_destroy (&idle);
    shic_lease_book_clients_expire (self->book, now, &next);
    s_log_calls_expire (self, now, &next);
    if (self->placement_due) {
        self->placement_due = false;
        shic_admission_run (self->admission);
    }
    int64_t placement = shic_admission_timers (self->admission, now);
    if (placement >= 0 && (next < 0 || placement < next))
        next = placement;
    int64_t chores = shic_lease_book_chores (self->book, now);
    if (chores >= 0 && (next < 0 || chores < next))
        next = chores;
    return next;
}

//  --------------------------------------------------------------------------

void
shic_gateway_actor (zsock_t *pipe, void *args)
{
    self_t *self = s_self_new (pipe, (const shic_settings_t *) args);
    zsock_signal (pipe, 0);
#ifdef __linux__
    pthread_setname_np (pthread_self (), "shic-gateway");
#endif
    bool ok = self->events
           && s_bind (self->trusted, self->settings->gateway) == 0
           && s_bind (self->bus, self->settings->bus) == 0
           && s_bind_control (self) == 0;
    shic_bus_send (pipe, &(shic_bus_t) { .id = SHIC_BUS_STARTUP, .rc = ok? 0: -1 });

    while (ok && !self->terminated) {
        int64_t next = s_timers (self, zclock_mono ());
        int64_t now = zclock_mono ();
        zmq_pollitem_t items [4] = {
            { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (self->bus), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (self->trusted), 0, ZMQ_POLLIN, 0 },
            { self->public_router? zsock_resolve (self->public_router): NULL, 0, ZMQ_POLLIN, 0 }
        };
        int count = self->public_router? 4: 3;
        if (shic_poll (items, count, next < 0? -1: next > now? next - now: 0) == -1)
            break;
        if (items [0].revents & ZMQ_POLLIN)
            s_handle_pipe (self);
        //  Drain each socket a bounded number of times per turn
        for (int i = 0; i < 256 && (zsock_events (self->bus) & ZMQ_POLLIN); i++)
            s_handle_bus (self);
        for (int i = 0; i < 64 && (zsock_events (self->trusted) & ZMQ_POLLIN); i++)
            s_handle_client (self, self->trusted, true);
        if (self->public_router)
            for (int i = 0; i < 64 && (zsock_events (self->public_router) & ZMQ_POLLIN); i++)
                s_handle_client (self, self->public_router, false);
    }
    s_self_destroy (&self);
}
