/*  =========================================================================
    shic_gateway_instances - waiters, instances and placement, for the gateway

    Part of the gateway actor (shic_gateway_int.h): the requests that wait
    for an instance, the grants that answer them, what instance actors and
    the lease pool report on the bus, and what placement has the gateway do
    (the effects of placement/shic_admission).
    =========================================================================
*/

#include "shic_gateway_int.h"

static void s_park (self_t *self, shic_record_t *instance, shic_waiter_t *waiter);

//  Answers a waiter (an ensure) with err, and counts the error
static void
s_waiter_fail (self_t *self, shic_waiter_t *waiter, const shic_error_t *err)
{
    shic_stats_error (self->stats, err->code);
    shic_stats_answered (self->stats, "ensure_endpoint", err->code);
    shic_waiter_reply_error (waiter, err);
}

//  A parked or granted ensure; takes compatibility and the call's envelope
shic_waiter_t *
shic_gateway_waiter_new (shic_gateway_call_t *call, shic_record_t *instance, shic_val_t *compatibility,
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
void
shic_gateway_grant (self_t *self, shic_waiter_t **waiter_p)
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
    if (shic_registry_lease_added (self->registry, instance) && self->peer)
        shic_gateway_cluster_leased (self, instance->id, true);

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
        shic_waiter_send_taking (waiter->router, &waiter->envelope, &frame);
    else
        zsys_error ("gateway: out of memory replying to a grant");
    shic_stats_latency (self->stats, waiter->started);
    shic_stats_answered (self->stats, "ensure_endpoint", NULL);
    shic_events_lease (self->events, "lease.granted", lease->instance_id, lease->ref,
                       lease->owner_ref, NULL);
    shic_waiter_destroy (waiter_p);
}

//  Answers every waiter of instance with err
void
shic_gateway_waiters_fail (self_t *self, shic_record_t *instance, const shic_error_t *err)
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
            shic_gateway_grant (self, &waiter);
            waiter = (shic_waiter_t *) zlistx_first (instance->waiters);
        }
        else
            waiter = (shic_waiter_t *) zlistx_next (instance->waiters);
    }
    shic_lease_book_busy (self->book);
}

//  Answers the waiters past their deadline; lowers *next to the next one
void
shic_gateway_waiters_expire (self_t *self, shic_record_t *instance, int64_t now, int64_t *next)
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

//  STOP to an instance actor
void
shic_gateway_instance_send_stop (self_t *self, shic_record_t *instance)
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
void
shic_gateway_instance_stop (self_t *self, shic_record_t *instance)
{
    shic_registry_set_status (self->registry, instance, SHIC_LIFECYCLE_STOPPING, NULL);
    shic_gateway_instance_send_stop (self, instance);
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
void
shic_gateway_lease_ended (void *arg, const char *instance_id)
{
    self_t *self = (self_t *) arg;
    if (shic_registry_lease_ended (self->registry, instance_id) && self->peer)
        shic_gateway_cluster_leased (self, instance_id, false);
    self->placement_due = true;
}

//  The instance failed: its waiters get err, its leases end
static void
s_instance_failed (self_t *self, shic_record_t *instance, shic_error_t *err, int64_t hold_ms)
{
    instance->retire_at = zclock_mono () + hold_ms;
    instance->idle_at = 0;
    shic_error_move (&instance->error, err);
    shic_gateway_waiters_fail (self, instance, &instance->error);
    shic_lease_book_end_instance (self->book, instance->id, "instance_failed");
    shic_val_t *extra = shic_val_new_map ();
    shic_val_set_str (extra, "reason", instance->error.code);
    shic_val_t *error = shic_error_to_val (&instance->error);
    shic_val_set (extra, "error", &error);
    shic_val_set_dup (extra, "exit", instance->last_exit);
    shic_registry_set_status (self->registry, instance, SHIC_LIFECYCLE_FAILED, &extra);
}

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
        shic_val_destroy (&waiter->evicted);     //  (a waiter placed a second time)
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
        shic_gateway_instance_stop (self, record);
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

//  Parks a waiter on a live instance, or grants it a lease at once
static void
s_park (self_t *self, shic_record_t *instance, shic_waiter_t *waiter)
{
    waiter->instance = instance;
    bool ready = instance->status == SHIC_LIFECYCLE_READY;
    if (ready && streq (instance->health, SHIC_HEALTH_UNAVAILABLE))
        waiter->want_healthy = true;
    if (ready && !waiter->want_healthy)
        shic_gateway_grant (self, &waiter);
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
void
shic_gateway_ensure_place (self_t *self, shic_val_t **plan_p, shic_waiter_t *waiter, shic_error_t *err)
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
void
shic_gateway_log_calls_expire (self_t *self, int64_t now, int64_t *next)
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

//  A STOPPED instance that requests arrived for meanwhile starts again,
//  through placement like any start
static void
s_instance_restart_for_waiters (self_t *self, shic_record_t *instance)
{
    if (!shic_registry_backend (self->registry, instance->backend)) {
        shic_error_t err = { 0 };
        shic_error_set (&err, SHIC_E_UNKNOWN_BACKEND_ID, NULL,
                        "backend '%s' was unregistered", instance->backend);
        shic_gateway_waiters_fail (self, instance, &err);
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
        shic_gateway_ensure_place (self, &copy, waiter, &err);
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
    if (endpoint && self->peer)
        shic_gateway_cluster_endpoint (self, endpoint);
    if (endpoint) {
        shic_registry_ready (self->registry, instance, &endpoint, (int) msg->pid);
        shic_admission_measured (self->admission, instance, msg->measured);
        s_waiters_grant (self, instance);
    }
    else {
        //  A readiness failure, not a crash
        shic_gateway_instance_send_stop (self, instance);
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
void
shic_gateway_handle_instance (self_t *self, shic_record_t *instance, const shic_bus_t *msg)
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
void
shic_gateway_handle_pool (self_t *self, const shic_bus_t *msg)
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

const shic_admission_effects_t shic_gateway_admission_effects = {
    s_admit_start, s_admit_stop, s_admit_revoking, s_admit_revoke, s_admit_holders, s_admit_fail
};

//  A client's connection closed (the door saw it): its untimed leases end,
//  its requests leave the memory queue and the starts they waited for,
//  and placement decides again without them
void
shic_gateway_client_gone (self_t *self, const char *client)
{
    if (self->settings->verbose)
        zsys_info ("gateway: client %s disconnected", client);
    shic_lease_book_client_gone (self->book, client);
    size_t left = shic_admission_client_gone (self->admission, client);
    for (shic_record_t *instance = shic_registry_first (self->registry); instance;
         instance = shic_registry_next (self->registry)) {
        shic_waiter_t *waiter = (shic_waiter_t *) zlistx_first (instance->waiters);
        while (waiter) {
            if (waiter->client && streq (waiter->client, client)) {
                zlistx_delete (instance->waiters, zlistx_cursor (instance->waiters));
                waiter = (shic_waiter_t *) zlistx_first (instance->waiters);
            }
            else
                waiter = (shic_waiter_t *) zlistx_next (instance->waiters);
        }
    }
    if (left)
        self->placement_due = true;
}
