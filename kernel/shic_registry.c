/*  =========================================================================
    shic_registry - what the gateway knows: backends, instances, resolutions

    Records are kept by instance id and by bus routing id ("I<seq>"), so a
    message from an instance actor finds its record without a scan.
    =========================================================================
*/

#include "shic_registry.h"
#include "shic_sha256.h"
#include "shic_kernel.h"

//  What an ensure request resolved to: compatibility, the backend's pure
//  startup_plan and the truthfulness check are functions of the request,
//  the consumer and the registered backend, so a repeat of the same request
//  goes straight to its instance. Forgotten when any backend changes.
typedef struct {
    char *instance_id;              //  the plan's instance_key
    shic_val_t *compatibility;      //  the compatibility report
} s_resolved_t;

#define RESOLVED_MAX 1024           //  entries before the memo starts over
#define RESOLVED_MAX_BYTES (4 * 1024 * 1024)  //  bytes before it starts over

struct _shic_registry_t {
    shic_events_t *events;          //  where events go, borrowed
    zlistx_destructor_fn *waiter_destructor; //  for the waiters of a record
    zhashx_t *backends;             //  name -> shic_backend_entry_t
    zhashx_t *instances;            //  id -> shic_record_t
    zhashx_t *by_seq;               //  "I<seq>" -> shic_record_t (borrowed)
    zhashx_t *resolved;             //  memo key -> s_resolved_t
    size_t resolved_bytes;          //  what its entries hold, about
    int next_seq;                   //  instance numbers
    char *id_prefix;                //  "<node>." on a clustered node, or NULL
};

static const char *s_lifecycle_names [] = {
    SHIC_STATUS_STARTING, SHIC_STATUS_READY, SHIC_STATUS_RESTARTING,
    SHIC_STATUS_STOPPING, SHIC_STATUS_STOPPED, SHIC_STATUS_FAILED
};

const char *
shic_lifecycle_name (shic_lifecycle_t status)
{
    assert ((size_t) status < sizeof (s_lifecycle_names) / sizeof (s_lifecycle_names [0]));
    return s_lifecycle_names [status];
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
s_backend_destroy (shic_backend_entry_t **self_p)
{
    if (*self_p) {
        shic_backend_entry_t *self = *self_p;
        free (self->name);
        shic_val_destroy (&self->manifest);
        free (self);
        *self_p = NULL;
    }
}

static void
s_record_destroy (shic_record_t **self_p)
{
    if (*self_p) {
        shic_record_t *self = *self_p;
        free (self->id);
        free (self->backend);
        free (self->starter);
        shic_val_destroy (&self->plan);
        shic_val_destroy (&self->endpoint);
        shic_val_destroy (&self->last_exit);
        zlistx_destroy (&self->waiters);
        shic_error_clear (&self->error);
        free (self->pool);
        free (self->learn_key);
        free (self);
        *self_p = NULL;
    }
}

shic_registry_t *
shic_registry_new (shic_events_t *events, zlistx_destructor_fn *waiter_destructor)
{
    shic_registry_t *self = (shic_registry_t *) zmalloc (sizeof (shic_registry_t));
    self->events = events;
    self->waiter_destructor = waiter_destructor;
    self->backends = zhashx_new ();
    zhashx_set_destructor (self->backends, (zhashx_destructor_fn *) s_backend_destroy);
    self->instances = zhashx_new ();
    zhashx_set_destructor (self->instances, (zhashx_destructor_fn *) s_record_destroy);
    self->by_seq = zhashx_new ();
    self->resolved = zhashx_new ();
    zhashx_set_destructor (self->resolved, (zhashx_destructor_fn *) s_resolved_destroy);
    return self;
}

void
shic_registry_destroy (shic_registry_t **self_p)
{
    if (*self_p) {
        shic_registry_t *self = *self_p;
        zhashx_destroy (&self->resolved);
        zhashx_destroy (&self->by_seq);
        zhashx_destroy (&self->instances);
        zhashx_destroy (&self->backends);
        free (self->id_prefix);
        free (self);
        *self_p = NULL;
    }
}

void
shic_registry_set_id_prefix (shic_registry_t *self, const char *prefix)
{
    free (self->id_prefix);
    self->id_prefix = prefix? strdup (prefix): NULL;
}

//  --------------------------------------------------------------------------
//  Backends

void
shic_registry_backend_add (shic_registry_t *self, const char *name,
                           const shic_backend_ops_t *ops, void *state,
                           zconfig_t *config, shic_val_t **manifest_p)
{
    shic_backend_entry_t *backend = (shic_backend_entry_t *) zmalloc (sizeof (shic_backend_entry_t));
    backend->name = strdup (name);
    backend->ops = ops;
    backend->state = state;
    backend->config = config;
    backend->manifest = *manifest_p;
    *manifest_p = NULL;
    zhashx_update (self->backends, backend->name, backend);
    zhashx_purge (self->resolved);
    self->resolved_bytes = 0;
    shic_events_backend_registered (self->events, backend->name);
}

void
shic_registry_backend_remove (shic_registry_t *self, const char *name)
{
    zhashx_delete (self->backends, name);
    zhashx_purge (self->resolved);
    self->resolved_bytes = 0;
}

shic_backend_entry_t *
shic_registry_backend (shic_registry_t *self, const char *name)
{
    return (shic_backend_entry_t *) zhashx_lookup (self->backends, name);
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

shic_val_t *
shic_registry_manifests (shic_registry_t *self)
{
    size_t count;
    const char **names = s_sorted_keys (self->backends, &count);
    shic_val_t *list = shic_val_new_array ();
    for (size_t i = 0; i < count; i++) {
        shic_val_t *manifest = shic_val_dup (shic_registry_backend (self, names [i])->manifest);
        shic_val_push (list, &manifest);
    }
    free (names);
    return list;
}

//  --------------------------------------------------------------------------
//  Instances

shic_record_t *
shic_registry_add (shic_registry_t *self, shic_val_t **plan_p, const char *id)
{
    const char *backend = shic_val_str (shic_val_get (*plan_p, "backend"));
    shic_record_t *record = (shic_record_t *) zmalloc (sizeof (shic_record_t));
    record->seq = ++self->next_seq;
    record->id = strdup (id);
    record->backend = strdup (backend);
    record->plan = *plan_p;
    *plan_p = NULL;
    record->spawned = streq (shic_val_str (shic_val_get (record->plan, "startup_kind")),
                             SHIC_STARTUP_SPAWNED);
    record->actor_live = true;
    record->status = SHIC_LIFECYCLE_STARTING;
    record->health = SHIC_HEALTH_UNAVAILABLE;
    record->inserted_at_ms = shic_now_ms ();
    record->waiters = zlistx_new ();
    zlistx_set_destructor (record->waiters, self->waiter_destructor);
    zhashx_update (self->instances, record->id, record);
    char key [32];
    snprintf (key, sizeof (key), "I%d", record->seq);
    zhashx_update (self->by_seq, key, record);

    shic_val_t *event = shic_val_new_map ();
    shic_val_set_str (event, "backend", backend);
    shic_val_set_str (event, "lifecycle_status", SHIC_STATUS_STARTING);
    shic_events_instance (self->events, "instance.starting", record->id, &event);
    return record;
}

shic_record_t *
shic_registry_lookup (shic_registry_t *self, const char *id)
{
    return (shic_record_t *) zhashx_lookup (self->instances, id);
}

shic_record_t *
shic_registry_lookup_seq (shic_registry_t *self, const char *identity)
{
    return (shic_record_t *) zhashx_lookup (self->by_seq, identity);
}

void
shic_registry_forget (shic_registry_t *self, shic_record_t *record)
{
    char key [32];
    snprintf (key, sizeof (key), "I%d", record->seq);
    zhashx_delete (self->by_seq, key);
    zhashx_delete (self->instances, record->id);
}

shic_record_t *
shic_registry_first (shic_registry_t *self)
{
    return (shic_record_t *) zhashx_first (self->instances);
}

shic_record_t *
shic_registry_next (shic_registry_t *self)
{
    return (shic_record_t *) zhashx_next (self->instances);
}

size_t
shic_registry_live (shic_registry_t *self)
{
    size_t count = 0;
    for (shic_record_t *record = shic_registry_first (self); record;
         record = shic_registry_next (self))
        if (record->actor_live)
            count++;
    return count;
}

shic_val_t *
shic_registry_snapshots (shic_registry_t *self, const char *backend, const char *after,
                         size_t limit, char **next_p)
{
    size_t count;
    const char **ids = s_sorted_keys (self->instances, &count);
    shic_val_t *list = shic_val_new_array ();
    *next_p = NULL;
    const char *last = NULL;
    for (size_t i = 0; i < count && !*next_p; i++) {
        shic_record_t *record = shic_registry_lookup (self, ids [i]);
        if ((backend && !streq (backend, record->backend)) || (after && strcmp (ids [i], after) <= 0))
            continue;
        if (shic_val_size (list) == limit)
            *next_p = strdup (last);    //  more remain: the cursor
        else {
            shic_val_t *snap = shic_registry_snapshot (record);
            shic_val_push (list, &snap);
            last = ids [i];
        }
    }
    free (ids);
    return list;
}

zlistx_t *
shic_registry_tick (shic_registry_t *self, int64_t now, int64_t *next)
{
    zlistx_t *idle = NULL;
    zlistx_t *retire = NULL;
    for (shic_record_t *record = shic_registry_first (self); record;
         record = shic_registry_next (self)) {
        if (record->idle_at) {
            if (now >= record->idle_at && record->lease_count == 0
            &&  record->status == SHIC_LIFECYCLE_READY) {
                if (!idle)
                    idle = zlistx_new ();
                zlistx_add_end (idle, record);
            }
            else
            if (*next < 0 || record->idle_at < *next)
                *next = record->idle_at;
        }
        if (record->retire_at && !record->actor_live && zlistx_size (record->waiters) == 0) {
            if (now >= record->retire_at) {
                if (!retire)
                    retire = zlistx_new ();
                zlistx_add_end (retire, record);
            }
            else
            if (*next < 0 || record->retire_at < *next)
                *next = record->retire_at;
        }
    }
    shic_record_t *record;
    while (retire && (record = (shic_record_t *) zlistx_detach (retire, NULL)))
        shic_registry_forget (self, record);
    zlistx_destroy (&retire);
    return idle;
}

shic_val_t *
shic_registry_states (shic_registry_t *self, int64_t *restarts)
{
    shic_val_t *states = shic_val_new_map ();
    *restarts = 0;
    for (shic_record_t *record = shic_registry_first (self); record;
         record = shic_registry_next (self)) {
        const char *status = shic_lifecycle_name (record->status);
        shic_val_set_int (states, status, shic_val_int (shic_val_get (states, status)) + 1);
        *restarts += record->restarts;
    }
    return states;
}

shic_record_t *
shic_registry_claim (shic_registry_t *self, shic_val_t **plan_p, size_t max_instances,
                     bool *created, shic_error_t *err)
{
    const char *key = shic_val_str (shic_val_get (*plan_p, "instance_key"));
    shic_record_t *record = shic_registry_lookup (self, key);
    int64_t now = zclock_mono ();
    *created = false;
    if (record && record->status == SHIC_LIFECYCLE_FAILED) {
        if (now < record->retire_at) {
            //  A failed instance answers its failure until its retry time
            shic_error_t copy = { 0 };
            shic_val_t *details = shic_val_dup (record->error.details);
            if (streq (record->error.code, SHIC_E_INSTANCE_FAILED))
                shic_val_set_int (details, "retry_after_ms", record->retire_at - now);
            shic_error_set (&copy, record->error.code, &details, "%s",
                            record->error.message? record->error.message: "");
            shic_error_move (err, &copy);
            shic_val_destroy (plan_p);
            return NULL;
        }
        shic_registry_forget (self, record);
        record = NULL;
    }
    if (record && record->status == SHIC_LIFECYCLE_STOPPED) {
        shic_registry_forget (self, record);
        record = NULL;
    }
    if (!record) {
        if (shic_registry_live (self) >= max_instances) {
            shic_val_t *details = shic_val_new_map ();
            shic_val_set_str (details, "limit", "max_instances");
            shic_error_set (err, SHIC_E_CAPACITY, &details, "the instance limit (%zu) is reached",
                            max_instances);
        }
        else {
            char *id = strdup (key);
            record = shic_registry_add (self, plan_p, id);
            free (id);
            *created = true;
        }
    }
    shic_val_destroy (plan_p);
    return record;
}

void
shic_registry_set_status (shic_registry_t *self, shic_record_t *record,
                          shic_lifecycle_t status, shic_val_t **extra_p)
{
    record->status = status;
    switch (status) {
        case SHIC_LIFECYCLE_READY:
            record->health = SHIC_HEALTH_HEALTHY;
            record->ready_at_ms = shic_now_ms ();
            break;
        case SHIC_LIFECYCLE_STOPPING:
            record->idle_at = 0;
            break;
        case SHIC_LIFECYCLE_RESTARTING:
        case SHIC_LIFECYCLE_STOPPED:
        case SHIC_LIFECYCLE_FAILED:
            record->health = SHIC_HEALTH_UNAVAILABLE;
            record->pid = 0;
            record->idle_at = 0;
            break;
        case SHIC_LIFECYCLE_STARTING:
            break;
    }
    if (status == SHIC_LIFECYCLE_STOPPING || status == SHIC_LIFECYCLE_STARTING) {
        //  No event: stopping has none in wire.md, starting is published
        //  once, when the record is added
        if (extra_p)
            shic_val_destroy (extra_p);
        return;
    }
    //  {instance_id, lifecycle_status, reason?, <pairs of extra>, at_ms},
    //  built here once rather than copied again by shic_events_instance
    const char *name = shic_lifecycle_name (status);
    shic_val_t *event = shic_val_new_map ();
    shic_val_set_str (event, "instance_id", record->id);
    shic_val_set_str (event, "lifecycle_status", name);
    if (status == SHIC_LIFECYCLE_STOPPED)
        shic_val_set_str (event, "reason", record->stop_reason? record->stop_reason: "requested");
    shic_val_t *extra = extra_p? *extra_p: NULL;
    for (size_t i = 0; i < shic_val_size (extra); i++)
        shic_val_set_dup (event, shic_val_key_at (extra, i), shic_val_at (extra, i));
    if (extra_p)
        shic_val_destroy (extra_p);
    char topic [32];
    snprintf (topic, sizeof (topic), "instance.%s", name);
    shic_events_publish (self->events, topic, &event);
}

void
shic_registry_ready (shic_registry_t *self, shic_record_t *record, shic_val_t **endpoint_p,
                     int pid)
{
    shic_val_destroy (&record->endpoint);
    record->endpoint = *endpoint_p;
    *endpoint_p = NULL;
    record->pid = pid;
    shic_val_t *extra = shic_val_new_map ();
    shic_val_t *published = shic_endpoint_public (record->endpoint);
    shic_val_set (extra, "endpoint", &published);
    shic_registry_set_status (self, record, SHIC_LIFECYCLE_READY, &extra);
    if (record->lease_count == 0 && record->spawned)
        record->idle_at = zclock_mono ()
                        + shic_val_int (shic_val_get (record->plan, "idle_shutdown_ms"));
}

void
shic_registry_restarting (shic_registry_t *self, shic_record_t *record,
                          const shic_val_t *exit, int64_t delay_ms, int restarts)
{
    record->restarts = restarts;
    shic_registry_set_exit (record, exit);
    shic_val_t *extra = shic_val_new_map ();
    shic_val_set_dup (extra, "exit", record->last_exit);
    shic_val_set_int (extra, "delay_ms", delay_ms);
    shic_val_set_int (extra, "restarts", record->restarts);
    shic_registry_set_status (self, record, SHIC_LIFECYCLE_RESTARTING, &extra);
}

void
shic_registry_set_exit (shic_record_t *record, const shic_val_t *exit)
{
    shic_val_destroy (&record->last_exit);
    record->last_exit = exit? shic_val_dup (exit): NULL;
}

void
shic_registry_set_health (shic_registry_t *self, shic_record_t *record,
                          const char *health, const shic_val_t *details)
{
    record->health = streq (health, SHIC_HEALTH_HEALTHY)? SHIC_HEALTH_HEALTHY:
                     streq (health, SHIC_HEALTH_DEGRADED)? SHIC_HEALTH_DEGRADED:
                                                           SHIC_HEALTH_UNAVAILABLE;
    shic_val_t *event = shic_val_new_map ();
    shic_val_set_str (event, "health_status", record->health);
    shic_val_set_dup (event, "details", details);
    shic_events_instance (self->events, "instance.health", record->id, &event);
}

void
shic_registry_progress (shic_registry_t *self, shic_record_t *record, const shic_val_t *body)
{
    shic_val_t *event = shic_val_dup (body);
    shic_val_set_str (event, "instance_id", record->id);
    shic_val_set_str (event, "lifecycle_status", shic_lifecycle_name (record->status));
    shic_events_publish (self->events, "instance.progress", &event);
}

bool
shic_registry_lease_added (shic_registry_t *self, shic_record_t *record)
{
    (void) self;
    record->lease_count++;
    record->idle_at = 0;
    record->last_used = zclock_mono ();
    return record->lease_count == 1;
}

bool
shic_registry_lease_ended (shic_registry_t *self, const char *instance_id)
{
    shic_record_t *record = shic_registry_lookup (self, instance_id);
    if (!record || !record->lease_count)
        return false;
    record->lease_count--;
    record->last_used = zclock_mono ();
    if (record->lease_count == 0 && record->spawned
    &&  record->status == SHIC_LIFECYCLE_READY)
        record->idle_at = zclock_mono ()
                        + shic_val_int (shic_val_get (record->plan, "idle_shutdown_ms"));
    return record->lease_count == 0;
}

shic_val_t *
shic_endpoint_public (const shic_val_t *endpoint)
{
    if (!endpoint)
        return shic_val_new_nil ();
    shic_val_t *copy = shic_val_dup (endpoint);
    shic_val_t *headers = shic_val_get (copy, "headers");
    for (size_t i = 0; i < shic_val_size (headers); i++)
        shic_val_set_str (headers, shic_val_key_at (headers, i), "[redacted]");
    return copy;
}

shic_val_t *
shic_registry_snapshot (shic_record_t *record)
{
    shic_val_t *snap = shic_val_new_map ();
    shic_val_set_str (snap, "instance_id", record->id);
    shic_val_set_str (snap, "backend", record->backend);
    shic_val_set_dup (snap, "startup_kind", shic_val_get (record->plan, "startup_kind"));
    shic_val_set_dup (snap, "management_mode", shic_val_get (record->plan, "management_mode"));
    shic_val_set_str (snap, "lifecycle_status", shic_lifecycle_name (record->status));
    shic_val_set_str (snap, "health_status", record->health);
    shic_val_set_int (snap, "lease_count", (int64_t) record->lease_count);
    shic_val_t *endpoint = shic_endpoint_public (record->endpoint);
    shic_val_set (snap, "endpoint", &endpoint);
    shic_val_set_int (snap, "inserted_at_ms", record->inserted_at_ms);
    if (record->ready_at_ms)
        shic_val_set_int (snap, "ready_at_ms", record->ready_at_ms);
    else
        shic_val_set_nil (snap, "ready_at_ms");
    shic_val_set_int (snap, "restarts", record->restarts);
    shic_val_set_dup (snap, "last_exit", record->last_exit);
    if (record->spawned && record->pid)
        shic_val_set_int (snap, "pid", record->pid);
    else
        shic_val_set_nil (snap, "pid");
    shic_val_set_dup (snap, "metadata", shic_val_get (record->plan, "metadata"));
    if (record->pool) {
        shic_val_t *placement = shic_val_new_map ();
        shic_val_set_str (placement, "pool", record->pool);
        shic_val_set_int (placement, "footprint_bytes", (int64_t) record->footprint);
        shic_val_set_str (placement, "footprint_source", record->footprint_source);
        shic_val_set_bool (placement, "pinned", record->pinned);
        shic_val_set (snap, "placement", &placement);
    }
    return snap;
}

//  --------------------------------------------------------------------------
//  Resolutions

//  The timing keys of a backend's configuration section override its plans
static void
s_plan_overrides (shic_backend_entry_t *backend, shic_val_t *plan)
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

//  A table registered under another name than its own: instance keys start
//  with the registered name, so two registrations of one table never share
//  instances
static void
s_plan_rename (shic_backend_entry_t *backend, shic_val_t *plan)
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

shic_val_t *
shic_registry_resolve (shic_registry_t *self, const shic_val_t *consumer_in,
                       const shic_val_t *request, const shic_val_t *context, bool trusted,
                       shic_val_t **compatibility_p, shic_error_t *err)
{
    shic_val_t *plan = NULL;
    shic_val_t *raw = NULL;
    shic_val_t *consumer = shic_consumer_manifest_normalize (consumer_in, err);
    shic_val_t *spec = consumer? shic_ensure_spec_from_request (request, context, err): NULL;
    if (!spec)
        goto done;
    const char *name = shic_val_str (shic_val_get (spec, "backend"));
    shic_backend_entry_t *backend = shic_registry_backend (self, name);
    if (!backend) {
        shic_val_t *details = shic_val_new_map ();
        shic_val_set_str (details, "backend", name);
        shic_error_set (err, SHIC_E_UNKNOWN_BACKEND_ID, &details,
                        "no backend is registered as '%s'", name);
        goto done;
    }
    *compatibility_p = shic_compatibility (name, backend->manifest, consumer);
    if (!shic_val_bool (shic_val_get (*compatibility_p, "compatible?"))) {
        shic_val_t *details = shic_val_dup (*compatibility_p);
        shic_error_set (err, SHIC_E_INCOMPATIBLE, &details,
                        "backend '%s' cannot serve this consumer: %s", name,
                        shic_val_str (shic_val_get (*compatibility_p, "reason")));
        goto done;
    }
    raw = backend->ops->startup_plan (backend->state, spec, trusted, err);
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
    if (self->id_prefix) {
        shic_val_t *named = shic_val_new_printf ("%s%s", self->id_prefix,
                                                 shic_val_str (shic_val_get (plan, "instance_key")));
        shic_val_set (plan, "instance_key", &named);
    }
    shic_val_t *reasons = shic_truthfulness_check (spec, plan, backend->manifest);
    if (reasons) {
        char *text = shic_val_to_json (reasons);
        shic_error_set (err, SHIC_E_INVALID_STARTUP_PLAN, &reasons,
                        "backend '%s' built an untruthful plan: %s", name, text);
        free (text);
        shic_val_destroy (&plan);
    }
done:
    shic_val_destroy (&consumer);
    shic_val_destroy (&spec);
    shic_val_destroy (&raw);
    return plan;
}

char *
shic_registry_memo_key (bool trusted, const shic_val_t *consumer,
                        const shic_val_t *request, const shic_val_t *context)
{
    shic_val_writer_t *writer = shic_val_writer_new ();
    if (!writer)
        return NULL;
    shic_val_writer_array (writer, 4);
    shic_val_writer_bool (writer, trusted);
    shic_val_writer_val (writer, consumer);
    shic_val_writer_val (writer, request);
    shic_val_writer_val (writer, context);
    void *data = NULL;
    size_t size = 0;
    char *key = NULL;
    if (shic_val_writer_take (&writer, &data, &size) == 0) {
        //  The digest, not the bytes: a key costs 64 bytes however large
        //  the request
        uint8_t digest [32];
        shic_sha256 (data, size, digest);
        static const char hex [] = "0123456789abcdef";
        key = (char *) malloc (sizeof (digest) * 2 + 1);
        for (size_t i = 0; key && i < sizeof (digest); i++) {
            key [i * 2] = hex [digest [i] >> 4];
            key [i * 2 + 1] = hex [digest [i] & 15];
        }
        if (key)
            key [sizeof (digest) * 2] = 0;
        free (data);
    }
    return key;
}

size_t
shic_registry_memo_bytes (shic_registry_t *self)
{
    return self->resolved_bytes;
}

shic_record_t *
shic_registry_memo_lookup (shic_registry_t *self, const char *key,
                           const shic_val_t **compatibility_p)
{
    s_resolved_t *resolved = key? (s_resolved_t *) zhashx_lookup (self->resolved, key): NULL;
    if (!resolved)
        return NULL;
    *compatibility_p = resolved->compatibility;
    return shic_registry_lookup (self, resolved->instance_id);
}

const char *
shic_registry_memo_id (shic_registry_t *self, const char *key)
{
    s_resolved_t *resolved = key? (s_resolved_t *) zhashx_lookup (self->resolved, key): NULL;
    return resolved? resolved->instance_id: NULL;
}

void
shic_registry_memo_add (shic_registry_t *self, const char *key, const char *instance_id,
                        const shic_val_t *compatibility)
{
    //  What the entry holds: its key, id and report (as encoded)
    char *text = shic_val_to_json (compatibility);
    size_t bytes = sizeof (s_resolved_t) + 2 * strlen (key) + strlen (instance_id)
                 + (text? 2 * strlen (text): 0);
    free (text);
    if (zhashx_size (self->resolved) >= RESOLVED_MAX
    ||  self->resolved_bytes + bytes > RESOLVED_MAX_BYTES) {
        zhashx_purge (self->resolved);
        self->resolved_bytes = 0;
    }
    if (bytes > RESOLVED_MAX_BYTES)
        return;                     //  not worth remembering
    s_resolved_t *resolved = (s_resolved_t *) zmalloc (sizeof (s_resolved_t));
    resolved->instance_id = strdup (instance_id);
    resolved->compatibility = shic_val_dup (compatibility);
    if (!zhashx_lookup (self->resolved, key))
        self->resolved_bytes += bytes;
    zhashx_update (self->resolved, key, resolved);
}

//  --------------------------------------------------------------------------

static void
s_test_waiter_destroy (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

void
shic_registry_test (bool verbose)
{
    (void) verbose;
    printf (" * shic_registry: ");
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "inproc://shic-registry-test-%d", getpid ());
    shic_events_t *events = shic_events_new (endpoint);
    assert (events);
    shic_registry_t *registry = shic_registry_new (events, s_test_waiter_destroy);

    //  Backends: sorted names, lookups, removal
    shic_val_t *manifest = shic_val_new_map ();
    shic_registry_backend_add (registry, "zeta", NULL, NULL, NULL, &manifest);
    assert (manifest == NULL);
    manifest = shic_val_new_map ();
    shic_registry_backend_add (registry, "alpha", NULL, NULL, NULL, &manifest);
    shic_val_t *manifests = shic_registry_manifests (registry);
    assert (shic_val_size (manifests) == 2);
    shic_val_destroy (&manifests);
    assert (shic_registry_backend (registry, "zeta"));
    shic_registry_backend_remove (registry, "zeta");
    assert (shic_registry_backend (registry, "zeta") == NULL);

    //  Records: by id and by routing id, status setter and its effects
    shic_val_t *plan = shic_val_new_map ();
    shic_val_set_str (plan, "startup_kind", SHIC_STARTUP_SPAWNED);
    shic_val_set_int (plan, "idle_shutdown_ms", 1000);
    shic_val_set_str (plan, "backend", "alpha");
    shic_record_t *record = shic_registry_add (registry, &plan, "alpha-1");
    assert (plan == NULL);
    assert (record->spawned && record->status == SHIC_LIFECYCLE_STARTING);
    assert (shic_registry_lookup (registry, "alpha-1") == record);
    char identity [32];
    snprintf (identity, sizeof (identity), "I%d", record->seq);
    assert (shic_registry_lookup_seq (registry, identity) == record);
    assert (shic_registry_live (registry) == 1);
    zlistx_add_end (record->waiters, strdup ("a waiter"));

    shic_registry_set_status (registry, record, SHIC_LIFECYCLE_READY, NULL);
    assert (streq (record->health, SHIC_HEALTH_HEALTHY) && record->ready_at_ms > 0);
    //  Only the first lease and the last one move it between idle and leased
    bool moved = shic_registry_lease_added (registry, record);
    assert (moved && record->lease_count == 1 && record->idle_at == 0);
    moved = shic_registry_lease_added (registry, record);
    assert (!moved && record->lease_count == 2);
    moved = shic_registry_lease_ended (registry, "alpha-1");
    assert (!moved && record->lease_count == 1 && record->idle_at == 0);
    moved = shic_registry_lease_ended (registry, "alpha-1");
    assert (moved && record->lease_count == 0 && record->idle_at > 0);
    moved = shic_registry_lease_ended (registry, "nobody");
    assert (!moved);
    shic_val_t *snap = shic_registry_snapshot (record);
    assert (streq (shic_val_str (shic_val_get (snap, "lifecycle_status")), SHIC_STATUS_READY));
    shic_val_destroy (&snap);
    //  An unleased ready instance past its idle time is due to stop
    int64_t next = -1;
    zlistx_t *idle = shic_registry_tick (registry, zclock_mono (), &next);
    assert (idle == NULL && next == record->idle_at);
    idle = shic_registry_tick (registry, record->idle_at, &next);
    assert (idle && zlistx_first (idle) == record);
    zlistx_destroy (&idle);
    int64_t restarts = -1;
    shic_val_t *states = shic_registry_states (registry, &restarts);
    assert (restarts == 0 && shic_val_int (shic_val_get (states, SHIC_STATUS_READY)) == 1);
    shic_val_destroy (&states);
    shic_registry_set_status (registry, record, SHIC_LIFECYCLE_STOPPING, NULL);
    assert (record->idle_at == 0);
    record->pid = 42;
    shic_val_t *extra = shic_val_new_map ();
    shic_val_set_str (extra, "reason", "test");
    shic_registry_set_status (registry, record, SHIC_LIFECYCLE_FAILED, &extra);
    assert (extra == NULL);
    assert (record->pid == 0 && streq (record->health, SHIC_HEALTH_UNAVAILABLE));
    assert (streq (shic_lifecycle_name (record->status), SHIC_STATUS_FAILED));

    //  Endpoints in public: header values redacted
    shic_val_t *endpoint_val = shic_val_new_map ();
    shic_val_t *headers = shic_val_new_map ();
    shic_val_set_str (headers, "authorization", "Bearer secret");
    shic_val_set (endpoint_val, "headers", &headers);
    shic_val_t *published = shic_endpoint_public (endpoint_val);
    assert (streq (shic_val_str (shic_val_path (published, "headers/authorization")), "[redacted]"));
    shic_val_destroy (&published);
    shic_val_destroy (&endpoint_val);

    //  The memo: a key finds its record while the record lives
    shic_val_t *consumer = shic_val_new_str ("c");
    char *key = shic_registry_memo_key (true, consumer, NULL, NULL);
    char *other = shic_registry_memo_key (false, consumer, NULL, NULL);
    assert (key && other && !streq (key, other));
    shic_val_t *compatibility = shic_val_new_bool (true);
    shic_registry_memo_add (registry, key, "alpha-1", compatibility);
    const shic_val_t *remembered = NULL;
    assert (shic_registry_memo_lookup (registry, key, &remembered) == record);
    assert (shic_val_bool (remembered));
    assert (shic_registry_memo_lookup (registry, other, &remembered) == NULL);
    //  A key is a digest, however large the request; the memo is bounded
    //  in bytes (600 requests of 64 KB each hold no more than 4 MiB)
    assert (strlen (key) == 64);
    char *large = (char *) zmalloc (65536 + 1);
    memset (large, 'x', 65536);
    for (int i = 0; i < 600; i++) {
        large [0] = (char) ('a' + i % 26);
        large [1] = (char) ('a' + i / 26);
        shic_val_t *request = shic_val_new_str (large);
        char *big_key = shic_registry_memo_key (false, consumer, request, NULL);
        assert (big_key && strlen (big_key) == 64);
        shic_registry_memo_add (registry, big_key, large, compatibility);
        assert (shic_registry_memo_bytes (registry) <= 4 * 1024 * 1024);
        zstr_free (&big_key);
        shic_val_destroy (&request);
    }
    free (large);
    shic_registry_memo_add (registry, key, "alpha-1", compatibility);
    //  A claim of its plan finds the live record; a failed one past its
    //  hold is replaced by a fresh record
    shic_registry_set_status (registry, record, SHIC_LIFECYCLE_READY, NULL);
    plan = shic_val_dup (record->plan);
    shic_val_set_str (plan, "instance_key", "alpha-1");
    bool created = true;
    shic_error_t err = { 0 };
    assert (shic_registry_claim (registry, &plan, 10, &created, &err) == record);
    assert (!created && plan == NULL);
    shic_registry_set_status (registry, record, SHIC_LIFECYCLE_FAILED, NULL);
    record->retire_at = zclock_mono () - 1;
    plan = shic_val_dup (record->plan);
    shic_val_set_str (plan, "instance_key", "alpha-1");
    shic_record_t *fresh = shic_registry_claim (registry, &plan, 10, &created, &err);
    assert (fresh && fresh != record && created && fresh->status == SHIC_LIFECYCLE_STARTING);
    record = fresh;
    zlistx_add_end (record->waiters, strdup ("a waiter"));
    //  Past max_instances, a new instance is capacity
    plan = shic_val_dup (record->plan);
    shic_val_set_str (plan, "instance_key", "alpha-2");
    assert (shic_registry_claim (registry, &plan, 1, &created, &err) == NULL);
    assert (streq (err.code, SHIC_E_CAPACITY) && plan == NULL);
    shic_error_clear (&err);
    //  A record's actor ended past its retention: forgotten
    record->actor_live = false;
    record->retire_at = zclock_mono ();
    zlistx_purge (record->waiters);
    idle = shic_registry_tick (registry, record->retire_at, &next);
    assert (idle == NULL);
    assert (shic_registry_memo_lookup (registry, key, &remembered) == NULL);
    assert (shic_registry_lookup_seq (registry, identity) == NULL);
    //  A backend change forgets every resolution
    shic_registry_memo_add (registry, key, "alpha-1", compatibility);
    manifest = shic_val_new_map ();
    shic_registry_backend_add (registry, "beta", NULL, NULL, NULL, &manifest);
    remembered = NULL;
    shic_registry_memo_lookup (registry, key, &remembered);
    assert (remembered == NULL);
    free (key);
    free (other);
    shic_val_destroy (&compatibility);
    shic_val_destroy (&consumer);

    shic_registry_destroy (&registry);
    shic_events_destroy (&events);
    printf ("OK\n");
}
