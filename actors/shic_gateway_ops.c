/*  =========================================================================
    shic_gateway_ops - the gateway's operations, one small handler each

    Part of the gateway actor (see shic_gateway.c for the table that names
    them, shic_gateway_int.h for what the three files share). Each handler
    works on the arguments decoded at the door (shic_args) and on the
    gateway's rooms: the registry, the lease book, placement, the stats.
    =========================================================================
*/

#include "shic_gateway_int.h"

//  A network client's ttl_ms is at most max_lease_ttl_ms (invalid_args
//  beyond: a clamp would grant what was not asked); true when it is fine
static bool
s_ttl_allowed (self_t *self, shic_gateway_call_t *call, shic_error_t *err)
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

shic_val_t *
shic_gateway_op_ensure (self_t *self, shic_gateway_call_t *call, shic_error_t *err)
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
        //  Granted at once: the memo's compatibility is only borrowed
        shic_waiter_t *waiter = shic_gateway_waiter_new (call, instance, NULL, true, started);
        waiter->compatibility = (shic_val_t *) remembered;
        waiter->compatibility_borrowed = true;
        shic_gateway_grant (self, &waiter);
        free (memo_key);
        return NULL;
    }
    //  Clustered: a request resolved before, of a model ready on another
    //  node and not here, goes straight there (no resolution again)
    if (self->peer && !instance && !call->relayed && memo_key
    &&  shic_gateway_cluster_forward_known (self, call,
                                            shic_registry_memo_id (self->registry, memo_key),
                                            remembered, started)) {
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
        shic_waiter_t *waiter = shic_gateway_waiter_new (call, NULL, compatibility, true, started);
        compatibility = NULL;
        //  Clustered: no local instance, no start here: the cluster decides
        if (!self->peer || !shic_gateway_cluster_ensure (self, call, &plan, &waiter))
            shic_gateway_ensure_place (self, &plan, waiter, err);
    }
    free (memo_key);
    shic_val_destroy (&compatibility);
    return NULL;
}

shic_val_t *
shic_gateway_op_ping (self_t *self, shic_gateway_call_t *call, shic_error_t *err)
{
    (void) call; (void) err;
    shic_val_t *result = shic_val_new_map ();
    shic_val_set_str (result, "version", SHIC_VERSION);
    shic_val_set_int (result, "protocol", SHIC_WIRE_VERSION);
    char host [256] = "";
    gethostname (host, sizeof (host) - 1);
    shic_val_set_str (result, "node", host);
    shic_val_set_int (result, "uptime_ms", zclock_mono () - self->started_at);
    if (self->peer) {
        shic_val_t *cluster = shic_gateway_cluster_ping (self);
        shic_val_set (result, "cluster", &cluster);
    }
    return result;
}

shic_val_t *
shic_gateway_op_list_backends (self_t *self, shic_gateway_call_t *call, shic_error_t *err)
{
    (void) call; (void) err;
    shic_val_t *result = shic_val_new_map ();
    shic_val_t *list = shic_registry_manifests (self->registry);
    shic_val_set (result, "backends", &list);
    return result;
}

shic_val_t *
shic_gateway_op_compatibility (self_t *self, shic_gateway_call_t *call, shic_error_t *err)
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

shic_val_t *
shic_gateway_op_renew_lease (self_t *self, shic_gateway_call_t *call, shic_error_t *err)
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

shic_val_t *
shic_gateway_op_release_lease (self_t *self, shic_gateway_call_t *call, shic_error_t *err)
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

shic_val_t *
shic_gateway_op_list_instances (self_t *self, shic_gateway_call_t *call, shic_error_t *err)
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

shic_val_t *
shic_gateway_op_lookup_instance (self_t *self, shic_gateway_call_t *call, shic_error_t *err)
{
    shic_record_t *instance = shic_registry_lookup (self->registry, call->args.instance_id);
    if (instance)
        return shic_registry_snapshot (instance);
    shic_error_set_field (err, SHIC_E_NOT_FOUND, "instance_id", "no instance '%s'",
                          call->args.instance_id);
    return NULL;
}

shic_val_t *
shic_gateway_op_list_leases (self_t *self, shic_gateway_call_t *call, shic_error_t *err)
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

shic_val_t *
shic_gateway_op_stop_instance (self_t *self, shic_gateway_call_t *call, shic_error_t *err)
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
            shic_gateway_waiters_fail (self, instance, &stopped);
            shic_error_clear (&stopped);
        }
        shic_gateway_instance_stop (self, instance);
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
    //  The oldest go (zlistx_delete wants a handle, not an item)
    while (zlistx_size (split) > (size_t) max_lines) {
        char *oldest = (char *) zlistx_detach (split, NULL);
        zstr_free (&oldest);
    }
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
shic_val_t *
shic_gateway_op_instance_logs (self_t *self, shic_gateway_call_t *call, shic_error_t *err)
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
shic_val_t *
shic_gateway_op_list_models (self_t *self, shic_gateway_call_t *call, shic_error_t *err)
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

shic_val_t *
shic_gateway_op_resources (self_t *self, shic_gateway_call_t *call, shic_error_t *err)
{
    (void) call; (void) err;
    return shic_admission_resources (self->admission);
}

shic_val_t *
shic_gateway_op_stats (self_t *self, shic_gateway_call_t *call, shic_error_t *err)
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

//  --------------------------------------------------------------------------
//  Host calls: ops the host answers on its own thread (reload). The host
//  may call back into the runtime while it works (a reload registers and
//  unregisters backends through the supervisor and this gateway), so the
//  request is parked here and the host answers it on the bus as "H".

//  How long a host call may wait for the host's answer
#define HOST_CALL_TIMEOUT_MS 120000

//  A request the host answers
typedef struct {
    shic_waiter_t *waiter;          //  where the answer goes, and by when
    const char *op;                 //  its op (a static name of the table)
} s_host_call_t;

void
shic_gateway_host_call_destroy (void **item_p)
{
    s_host_call_t *self = (s_host_call_t *) *item_p;
    if (self) {
        shic_waiter_destroy (&self->waiter);
        free (self);
        *item_p = NULL;
    }
}

//  Hands call to the host, or says why not
static shic_val_t *
s_host_call (self_t *self, shic_gateway_call_t *call, const char *op, shic_error_t *err)
{
    bool taken = false;
    for (const char *name = (const char *) zlistx_first (self->host_ops); name && !taken;
         name = (const char *) zlistx_next (self->host_ops))
        taken = streq (name, op);
    if (!taken) {
        shic_val_t *details = shic_val_new_map ();
        shic_val_set_str (details, "op", op);
        shic_val_set_bool (details, "host", false);
        shic_error_set (err, SHIC_E_FORBIDDEN, &details, "the host of this runtime does not "
                        "answer '%s' (it did not ask for it with shic_runtime_host_calls)", op);
        return NULL;
    }
    int64_t ticket = ++self->host_ticket;
    shic_val_t *args = call->req.args? shic_val_dup (call->req.args): shic_val_new_map ();
    int rc = shic_bus_send_to (self->bus, "H", &(shic_bus_t) {
        .id = SHIC_BUS_CALL, .ticket = ticket, .op = op, .args = args });
    shic_val_destroy (&args);
    if (rc == -1) {
        shic_error_set (err, SHIC_E_INTERNAL, NULL, "the host's socket is gone");
        return NULL;
    }
    s_host_call_t *parked = (s_host_call_t *) zmalloc (sizeof (s_host_call_t));
    shic_val_t *no_compatibility = NULL;
    parked->waiter = shic_waiter_new (call->router, &call->envelope, call->req.id, NULL,
                                      call->trusted, NULL, 0, &no_compatibility);
    parked->waiter->deadline = zclock_mono () + HOST_CALL_TIMEOUT_MS;
    parked->op = op;
    char key [24];
    snprintf (key, sizeof (key), "%lld", (long long) ticket);
    zhashx_insert (self->host_calls, key, parked);
    return NULL;
}

shic_val_t *
shic_gateway_op_reload (self_t *self, shic_gateway_call_t *call, shic_error_t *err)
{
    //  A reload changes what every client may use: the embedding host and
    //  the control socket may, network clients never
    if (!call->trusted) {
        shic_val_t *details = shic_val_new_map ();
        shic_val_set_str (details, "op", "reload");
        shic_val_set_bool (details, "trusted_only", true);
        shic_error_set (err, SHIC_E_FORBIDDEN, &details, "network clients may not reload the "
                        "configuration: only the embedding host and the control socket may");
        return NULL;
    }
    return s_host_call (self, call, "reload", err);
}

//  Answers a parked host call with err
static void
s_host_call_fail (self_t *self, s_host_call_t *parked, const shic_error_t *err)
{
    shic_stats_error (self->stats, err->code);
    shic_stats_answered (self->stats, parked->op, err->code);
    shic_waiter_reply_error (parked->waiter, err);
}

//  What the host says on the bus: the ops it answers, and its answers
void
shic_gateway_handle_host (self_t *self, const shic_bus_t *msg)
{
    if (msg->id == SHIC_BUS_HOST_CALLS) {
        zlistx_purge (self->host_ops);
        for (size_t index = 0; index < shic_val_size (msg->calls); index++) {
            const char *name = shic_val_str (shic_val_at (msg->calls, index));
            if (name)
                zlistx_add_end (self->host_ops, strdup (name));
        }
        shic_bus_send_to (self->bus, "H", &(shic_bus_t) { .id = SHIC_BUS_REPLY, .rc = 0 });
    }
    else
    if (msg->id == SHIC_BUS_ANSWER) {
        char key [24];
        snprintf (key, sizeof (key), "%lld", (long long) msg->ticket);
        s_host_call_t *parked = (s_host_call_t *) zhashx_lookup (self->host_calls, key);
        if (!parked)
            return;                 //  answered already, at its deadline
        if (msg->error) {
            shic_error_t err = { 0 };
            if (shic_error_from_val (&err, msg->error) != 0)
                shic_error_set (&err, SHIC_E_INTERNAL, NULL, "the host's answer is not an error");
            s_host_call_fail (self, parked, &err);
            shic_error_clear (&err);
        }
        else {
            shic_val_t *result = msg->result? shic_val_dup (msg->result): shic_val_new_map ();
            shic_stats_answered (self->stats, parked->op, NULL);
            zframe_t *frame = shic_wire_reply_ok (parked->waiter->id, &result);
            shic_waiter_send (parked->waiter->router, parked->waiter->envelope, &frame);
        }
        zhashx_delete (self->host_calls, key);
    }
    else
        zsys_error ("gateway: unexpected '%s' from the host", shic_bus_command (msg->id));
}

//  Host calls past their deadline (await_timeout: the host may still be at
//  work), or all of them with err when err is given (shutting down)
void
shic_gateway_host_calls_expire (self_t *self, int64_t now, int64_t *next, const shic_error_t *err)
{
    zlistx_t *done = zlistx_new ();
    zlistx_set_destructor (done, (zlistx_destructor_fn *) zstr_free);
    for (s_host_call_t *parked = (s_host_call_t *) zhashx_first (self->host_calls); parked;
         parked = (s_host_call_t *) zhashx_next (self->host_calls)) {
        if (err || now >= parked->waiter->deadline) {
            shic_error_t late = { 0 };
            shic_val_t *details = shic_val_new_map ();
            shic_val_set_str (details, "op", parked->op);
            shic_error_set (&late, SHIC_E_AWAIT_TIMEOUT, &details, "the host did not answer '%s' "
                            "within %d s; it may still be at work", parked->op,
                            HOST_CALL_TIMEOUT_MS / 1000);
            s_host_call_fail (self, parked, err? err: &late);
            shic_error_clear (&late);
            zlistx_add_end (done, strdup ((const char *) zhashx_cursor (self->host_calls)));
        }
        else
        if (next && (*next < 0 || parked->waiter->deadline < *next))
            *next = parked->waiter->deadline;
    }
    for (char *key = (char *) zlistx_first (done); key; key = (char *) zlistx_next (done))
        zhashx_delete (self->host_calls, key);
    zlistx_destroy (&done);
}
