/*  =========================================================================
    shic_admission - what a start needs, and the starts waiting for memory

    Footprints, first of:
    - declared: the model's "needs" (bytes, or "6GiB"), as given;
    - learned: the buffers a server of the same file (path, size, mtime),
      context, slots, layers and pool reported when it was last ready,
      plus the pool's per-process overhead;
    - estimated: shic_footprint over the GGUF header, plus that overhead.
    A model whose file cannot be read is not counted (it starts as before
    placement, logged once per file).
    =========================================================================
*/

#include "shic_admission.h"
#include "shic_placement.h"
#include "shic_gguf.h"
#include "shic_footprint.h"
#include "shic_waiter.h"
#include <sys/stat.h>

#define SETTLE_POLL_MS 100          //  measured free re-read while starts wait

//  A revocation in its grace period
typedef struct {
    char *instance_id;              //  whose leases are revoked
    int64_t due;                    //  monotonic end of the grace
} s_revocation_t;

struct _shic_admission_t {
    shic_pools_t *pools;            //  memory pools, borrowed
    shic_registry_t *registry;      //  instance records, borrowed
    shic_events_t *events;          //  where events go, borrowed
    const shic_settings_t *settings; //  max_queue, preempt_grace_ms
    zlistx_destructor_fn *waiter_destructor; //  for waiters on pending starts
    const shic_admission_effects_t *effects; //  what the gateway does
    void *arg;                      //  its argument
    zlistx_t *queue;                //  shic_pending_t, in arrival order
    zhashx_t *learned;              //  learn key -> uint64_t bytes (malloc'd)
    zhashx_t *unreadable;           //  model files already logged as unreadable
    zlistx_t *revocations;          //  s_revocation_t
    uint64_t arrivals;              //  arrival counter
    int64_t next_settle;            //  monotonic; re-measure then, 0 = none
};

static void
s_pending_destroy (shic_pending_t **self_p)
{
    if (*self_p) {
        shic_pending_t *self = *self_p;
        free (self->key);
        shic_val_destroy (&self->plan);
        shic_need_reset (&self->need);
        zlistx_destroy (&self->waiters);
        shic_val_destroy (&self->evicted);
        free (self);
        *self_p = NULL;
    }
}

static void
s_revocation_destroy (s_revocation_t **self_p)
{
    if (*self_p) {
        free ((*self_p)->instance_id);
        free (*self_p);
        *self_p = NULL;
    }
}

shic_admission_t *
shic_admission_new (shic_pools_t *pools, shic_registry_t *registry, shic_events_t *events,
                    const shic_settings_t *settings, zlistx_destructor_fn *waiter_destructor,
                    const shic_admission_effects_t *effects, void *arg)
{
    shic_admission_t *self = (shic_admission_t *) zmalloc (sizeof (shic_admission_t));
    self->pools = pools;
    self->registry = registry;
    self->events = events;
    self->settings = settings;
    self->waiter_destructor = waiter_destructor;
    self->effects = effects;
    self->arg = arg;
    self->queue = zlistx_new ();
    zlistx_set_destructor (self->queue, (zlistx_destructor_fn *) s_pending_destroy);
    self->learned = zhashx_new ();
    zhashx_set_destructor (self->learned, (zhashx_destructor_fn *) zstr_free);
    self->unreadable = zhashx_new ();
    self->revocations = zlistx_new ();
    zlistx_set_destructor (self->revocations, (zlistx_destructor_fn *) s_revocation_destroy);
    return self;
}

void
shic_admission_destroy (shic_admission_t **self_p)
{
    if (*self_p) {
        shic_admission_t *self = *self_p;
        zlistx_destroy (&self->queue);
        zhashx_destroy (&self->learned);
        zhashx_destroy (&self->unreadable);
        zlistx_destroy (&self->revocations);
        free (self);
        *self_p = NULL;
    }
}

void
shic_need_reset (shic_need_t *need)
{
    free (need->learn_key);
    need->learn_key = NULL;
}

//  --------------------------------------------------------------------------
//  Footprints

//  An int, or a string of digits ("4096"); fallback when absent
static int64_t
s_resource_int (const shic_val_t *resources, const char *key, int64_t fallback)
{
    const shic_val_t *value = shic_val_get (resources, key);
    if (shic_val_type (value) == SHIC_VAL_INT)
        return shic_val_int (value);
    return fallback;
}

//  -ngl as the estimator takes it: "all" and "auto" offload everything
static int32_t
s_layers (const shic_val_t *resources)
{
    const shic_val_t *value = shic_val_get (resources, "gpu_layers");
    if (shic_val_type (value) == SHIC_VAL_INT)
        return (int32_t) (shic_val_int (value) > INT32_MAX? INT32_MAX: shic_val_int (value));
    return -1;
}

static bool
s_flash (const shic_val_t *resources)
{
    const shic_val_t *value = shic_val_get (resources, "flash_attn");
    if (shic_val_type (value) == SHIC_VAL_BOOL)
        return shic_val_bool (value);
    return streq (shic_val_str (value)? shic_val_str (value): "", "on");
}

int
shic_admission_need (shic_admission_t *self, const shic_val_t *plan, shic_need_t *need,
                     shic_error_t *err)
{
    memset (need, 0, sizeof (*need));
    const shic_val_t *resources = shic_val_get (plan, "resources");
    if (shic_val_type (resources) != SHIC_VAL_MAP || shic_val_size (resources) == 0)
        return 0;
    const char *pool = shic_val_str (shic_val_get (resources, "pool"));
    snprintf (need->pool, sizeof (need->pool), "%s", pool? pool: "ram");
    need->priority = (int) s_resource_int (resources, "priority", 0);
    need->pinned = shic_val_bool (shic_val_get (resources, "pinned"));
    if (!shic_pools_source (self->pools, need->pool)) {    //  no such pool on this node
        shic_val_t *details = shic_val_new_map ();
        shic_val_set_str (details, "pool", need->pool);
        shic_val_set_int (details, "need_bytes", 0);
        shic_val_set_int (details, "capacity_bytes", 0);
        shic_val_set_int (details, "pinned_bytes", 0);
        shic_error_set (err, SHIC_E_INSUFFICIENT_RESOURCES, &details,
                        "no memory pool '%s' on this node", need->pool);
        return -1;
    }
    //  Declared
    const shic_val_t *needs = shic_val_get (resources, "needs");
    if (needs && shic_val_type (needs) != SHIC_VAL_NIL) {
        uint64_t bytes = 0;
        const char *reason = "must be a size";
        if (shic_val_type (needs) == SHIC_VAL_INT && shic_val_int (needs) > 0)
            bytes = (uint64_t) shic_val_int (needs);
        else
        if (!shic_val_str (needs)
        ||  shic_pools_parse_size (shic_val_str (needs), &bytes, &reason) != 0 || bytes == 0) {
            shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, "needs",
                                  "needs %s (bytes, or a number with a unit: \"6GiB\")", reason);
            return -1;
        }
        need->bytes = bytes;
        need->source = "declared";
        return 0;
    }
    const char *path = shic_val_str (shic_val_get (resources, "model_path"));
    struct stat st;
    if (!path || stat (path, &st) != 0 || !S_ISREG (st.st_mode)) {
        if (path && !zhashx_lookup (self->unreadable, path)) {
            zhashx_insert (self->unreadable, path, (void *) 1);
            zsys_info ("placement: %s cannot be read; its memory is not counted", path);
        }
        return 0;
    }
    int64_t ctx = s_resource_int (resources, "ctx_size", 4096);
    int64_t parallel = s_resource_int (resources, "parallel", 1);
    int32_t layers = s_layers (resources);
    bool flash = s_flash (resources);
    bool gpu = strcmp (need->pool, "ram") != 0;
    uint64_t overhead = shic_pools_overhead (self->pools, need->pool);
    need->learn_key = zsys_sprintf ("%s|%lld|%lld|%lld|%lld|%d|%d|%s", path,
                                    (long long) st.st_size, (long long) st.st_mtime,
                                    (long long) ctx, (long long) parallel, (int) layers,
                                    flash? 1: 0, need->pool);
    //  Learned
    const char *learned = (const char *) zhashx_lookup (self->learned, need->learn_key);
    if (learned) {
        need->bytes = strtoull (learned, NULL, 10) + overhead;
        need->source = "learned";
        return 0;
    }
    //  Estimated
    shic_error_t gguf_err = { 0 };
    shic_gguf_t *gguf = shic_gguf_new (path, &gguf_err);
    shic_footprint_settings_t settings;
    shic_footprint_settings_default (&settings);
    settings.ctx_size = (uint32_t) (ctx < 0? 0: ctx > UINT32_MAX? UINT32_MAX: ctx);
    settings.parallel = (uint32_t) (parallel < 1? 1: parallel > 4096? 4096: parallel);
    settings.gpu_layers = layers;
    settings.gpu = gpu;
    settings.flash_attn = flash;
    shic_footprint_t footprint;
    if (gguf && shic_footprint_estimate (gguf, &settings, &footprint, &gguf_err) == 0) {
        need->bytes = (gpu? footprint.device.total_bytes: footprint.host.total_bytes) + overhead;
        need->source = "estimated";
    }
    else
    if (!zhashx_lookup (self->unreadable, path)) {
        zhashx_insert (self->unreadable, path, (void *) 1);
        zsys_warning ("placement: %s: %s; its memory is not counted", path,
                      gguf_err.message? gguf_err.message: "not a GGUF file");
    }
    shic_error_clear (&gguf_err);
    shic_gguf_destroy (&gguf);
    return 0;
}

uint64_t
shic_admission_estimate (shic_record_t *record)
{
    return record->footprint;
}

//  --------------------------------------------------------------------------
//  The queue

shic_pending_t *
shic_admission_pending (shic_admission_t *self, const char *key)
{
    for (shic_pending_t *pending = (shic_pending_t *) zlistx_first (self->queue); pending;
         pending = (shic_pending_t *) zlistx_next (self->queue))
        if (streq (pending->key, key))
            return pending;
    return NULL;
}

//  Waiters in the queue, all pending starts together
static size_t
s_queued_waiters (shic_admission_t *self)
{
    size_t count = 0;
    for (shic_pending_t *pending = (shic_pending_t *) zlistx_first (self->queue); pending;
         pending = (shic_pending_t *) zlistx_next (self->queue))
        count += zlistx_size (pending->waiters);
    return count;
}

//  Bytes pinned in a pool: pinned instances that hold memory there
static uint64_t
s_pinned (shic_admission_t *self, const char *pool)
{
    uint64_t bytes = 0;
    for (shic_record_t *record = shic_registry_first (self->registry); record;
         record = shic_registry_next (self->registry))
        if (record->pool && record->pinned && streq (record->pool, pool))
            bytes += record->footprint;
    return bytes;
}

//  insufficient_resources {need_bytes, pool, capacity_bytes, pinned_bytes}
static void
s_never_error (shic_admission_t *self, const shic_need_t *need, shic_error_t *err)
{
    uint64_t capacity = shic_pools_capacity (self->pools, need->pool)
                      - shic_pools_reserve (self->pools, need->pool);
    shic_val_t *details = shic_val_new_map ();
    shic_val_set_int (details, "need_bytes", (int64_t) need->bytes);
    shic_val_set_str (details, "pool", need->pool);
    shic_val_set_int (details, "capacity_bytes", (int64_t) capacity);
    shic_val_set_int (details, "pinned_bytes", (int64_t) s_pinned (self, need->pool));
    shic_error_set (err, SHIC_E_INSUFFICIENT_RESOURCES, &details,
                    "it needs %llu bytes of pool '%s', which has %llu, %llu of them pinned",
                    (unsigned long long) need->bytes, need->pool, (unsigned long long) capacity,
                    (unsigned long long) s_pinned (self, need->pool));
}

shic_pending_t *
shic_admission_enqueue (shic_admission_t *self, shic_val_t **plan_p, shic_need_t *need,
                        int priority, shic_error_t *err)
{
    uint64_t capacity = shic_pools_capacity (self->pools, need->pool)
                      - shic_pools_reserve (self->pools, need->pool);
    uint64_t pinned = s_pinned (self, need->pool);
    if (need->bytes > capacity || need->bytes > capacity - pinned) {
        s_never_error (self, need, err);
        return NULL;
    }
    if (shic_admission_full (self, err))
        return NULL;
    shic_pending_t *pending = (shic_pending_t *) zmalloc (sizeof (shic_pending_t));
    pending->key = strdup (shic_val_str (shic_val_get (*plan_p, "instance_key")));
    pending->plan = *plan_p;
    *plan_p = NULL;
    pending->need = *need;
    memset (need, 0, sizeof (*need));
    pending->priority = priority;
    pending->arrival = ++self->arrivals;
    pending->queued_at = zclock_mono ();
    pending->waiters = zlistx_new ();
    zlistx_set_destructor (pending->waiters, self->waiter_destructor);
    pending->evicted = shic_val_new_array ();
    zlistx_add_end (self->queue, pending);
    return pending;
}

bool
shic_admission_full (shic_admission_t *self, shic_error_t *err)
{
    if (s_queued_waiters (self) < self->settings->max_queue)
        return false;
    shic_val_t *details = shic_val_new_map ();
    shic_val_set_int (details, "max_queue", (int64_t) self->settings->max_queue);
    shic_error_set (err, SHIC_E_QUEUE_FULL, &details,
                    "%zu requests already wait for memory", self->settings->max_queue);
    return true;
}

void
shic_admission_joined (shic_admission_t *self, shic_pending_t *pending, int priority)
{
    (void) self;
    if (priority > pending->priority)
        pending->priority = priority;
}

//  --------------------------------------------------------------------------
//  Accounting

void
shic_admission_placed (shic_admission_t *self, shic_record_t *record, shic_need_t *need)
{
    if (!need->source || record->pool)
        return;
    record->pool = strdup (need->pool);
    record->footprint = need->bytes;
    record->footprint_source = need->source;
    record->priority = need->priority;
    record->pinned = need->pinned;
    record->learn_key = need->learn_key;
    need->learn_key = NULL;
    record->last_used = zclock_mono ();
    shic_pools_charge (self->pools, record->pool, record->footprint);
}

void
shic_admission_reaped (shic_admission_t *self, shic_record_t *record)
{
    if (!record->pool)
        return;
    shic_pools_uncharge (self->pools, record->pool, record->footprint);
    zstr_free (&record->pool);
    record->evicting = false;
}

void
shic_admission_measured (shic_admission_t *self, shic_record_t *record,
                         const shic_val_t *measured)
{
    if (shic_val_type (measured) != SHIC_VAL_MAP)
        return;
    int64_t device = shic_val_int (shic_val_get (measured, "device_bytes"));
    int64_t host = shic_val_int (shic_val_get (measured, "host_bytes"));
    if (!record->pool) {
        //  Memory its service reports holding (an attached Ollama's loaded
        //  model): counted as it is, in the first GPU when it is in VRAM and
        //  the node has one, else in ram
        bool gpu = device > 0 && streq (shic_pools_source (self->pools, "gpu0")? "gpu0": "", "gpu0");
        const char *pool = gpu? "gpu0": "ram";
        uint64_t bytes = (uint64_t) (gpu? device: device + host);
        if (device < 0 || host < 0 || bytes == 0 || !shic_pools_source (self->pools, pool))
            return;
        record->pool = strdup (pool);
        record->footprint = bytes;
        record->footprint_source = "reported";
        record->last_used = zclock_mono ();
        shic_pools_charge (self->pools, record->pool, bytes);
        return;
    }
    uint64_t bytes = (uint64_t) (streq (record->pool, "ram")? device + host: device);
    if (device < 0 || host < 0 || bytes == 0)
        return;
    if (record->learn_key)
        zhashx_update (self->learned, record->learn_key,
                       zsys_sprintf ("%llu", (unsigned long long) bytes));
    if (streq (record->footprint_source, "declared"))
        return;                     //  what the operator declared stands
    bytes += shic_pools_overhead (self->pools, record->pool);
    shic_pools_uncharge (self->pools, record->pool, record->footprint);
    shic_pools_charge (self->pools, record->pool, bytes);
    record->footprint = bytes;
    record->footprint_source = "learned";
}

//  --------------------------------------------------------------------------
//  Deciding

//  What evicting an idle instance costs: its load time, less the longer it
//  has been idle (recently used and slow to load stay longest)
static uint64_t
s_cost (shic_record_t *record, int64_t now)
{
    int64_t load_ms = record->ready_at_ms > record->inserted_at_ms
                    ? record->ready_at_ms - record->inserted_at_ms: 1;
    int64_t idle_ms = now > record->last_used? now - record->last_used: 0;
    return (uint64_t) ((load_ms + 1) * 1000000 / (1000 + idle_ms));
}

//  The blockers of a pending start: instances in its pool that hold leases
static shic_val_t *
s_blockers (shic_admission_t *self, const char *pool)
{
    shic_val_t *blockers = shic_val_new_array ();
    for (shic_record_t *record = shic_registry_first (self->registry); record;
         record = shic_registry_next (self->registry)) {
        if (!record->pool || !streq (record->pool, pool) || record->lease_count == 0)
            continue;
        shic_holders_t holders = { 0 };
        self->effects->holders (self->arg, record, true, &holders);
        shic_val_t *blocker = shic_val_new_map ();
        shic_val_set_str (blocker, "instance_id", record->id);
        shic_val_set_int (blocker, "lease_count", (int64_t) holders.leases);
        shic_val_set (blocker, "owners", &holders.owners);
        shic_val_set_bool (blocker, "preemptible",
                           holders.leases && holders.preemptible == holders.leases);
        if (holders.earliest_expiry_ms)
            shic_val_set_int (blocker, "earliest_expiry_ms", holders.earliest_expiry_ms);
        else
            shic_val_set_nil (blocker, "earliest_expiry_ms");
        shic_val_push (blockers, &blocker);
    }
    return blockers;
}

//  ensure.queued {instance_id, pool, need_bytes, free_bytes, position,
//  blockers}
static void
s_publish_queued (shic_admission_t *self, shic_pending_t *pending)
{
    shic_val_t *event = shic_val_new_map ();
    shic_val_set_str (event, "pool", pending->need.pool);
    shic_val_set_int (event, "need_bytes", (int64_t) pending->need.bytes);
    shic_val_set_int (event, "free_bytes",
                      (int64_t) shic_pools_free (self->pools, pending->need.pool));
    shic_val_set_int (event, "position", (int64_t) pending->position);
    shic_val_set_int (event, "priority", pending->priority);
    shic_val_set_int (event, "waiters", (int64_t) zlistx_size (pending->waiters));
    shic_val_t *blockers = s_blockers (self, pending->need.pool);
    shic_val_set (event, "blockers", &blockers);
    shic_events_instance (self->events, "ensure.queued", pending->key, &event);
}

//  instance.evicting {instance_id, reason, for}
static void
s_publish_evicting (shic_admission_t *self, shic_record_t *record, const char *reason,
                    const char *for_key)
{
    shic_val_t *event = shic_val_new_map ();
    shic_val_set_str (event, "reason", reason);
    if (for_key)
        shic_val_set_str (event, "for", for_key);
    shic_val_set_str (event, "pool", record->pool);
    shic_val_set_int (event, "footprint_bytes", (int64_t) record->footprint);
    shic_events_instance (self->events, "instance.evicting", record->id, &event);
}

//  Fails every waiter of pending with err, and forgets it
static void
s_pending_fail (shic_admission_t *self, shic_pending_t *pending, const shic_error_t *err)
{
    void *waiter;
    while ((waiter = zlistx_detach (pending->waiters, NULL)))
        self->effects->fail (self->arg, waiter, err);
    void *handle = zlistx_find (self->queue, pending);
    if (handle)
        zlistx_delete (self->queue, handle);
}

void
shic_admission_run (shic_admission_t *self)
{
    size_t waiting = zlistx_size (self->queue);
    if (waiting == 0)
        return;
    shic_pools_measure (self->pools, NULL);
    int64_t now = zclock_mono ();
    size_t pool_count = shic_pools_size (self->pools);
    shic_place_pool_t *pools = (shic_place_pool_t *) zmalloc ((pool_count + 1) * sizeof (*pools));
    for (size_t i = 0; i < pool_count; i++) {
        const char *name = shic_pools_name (self->pools, i);
        pools [i].name = name;
        pools [i].capacity = shic_pools_capacity (self->pools, name)
                           - shic_pools_reserve (self->pools, name);
        pools [i].free = shic_pools_free (self->pools, name);
    }
    //  The instances that hold memory
    size_t count = 0;
    for (shic_record_t *record = shic_registry_first (self->registry); record;
         record = shic_registry_next (self->registry))
        count += record->pool? 1: 0;
    shic_place_instance_t *instances = (shic_place_instance_t *)
        zmalloc ((count + 1) * sizeof (*instances));
    shic_record_t **records = (shic_record_t **) zmalloc ((count + 1) * sizeof (*records));
    size_t n = 0;
    for (shic_record_t *record = shic_registry_first (self->registry); record;
         record = shic_registry_next (self->registry)) {
        if (!record->pool)
            continue;
        shic_holders_t holders = { 0 };
        if (record->lease_count)
            self->effects->holders (self->arg, record, false, &holders);
        records [n] = record;
        instances [n] = (shic_place_instance_t) {
            record->id, record->pool, record->footprint, record->pinned,
            record->status == SHIC_LIFECYCLE_STARTING
            || record->status == SHIC_LIFECYCLE_RESTARTING,
            record->status == SHIC_LIFECYCLE_STOPPING || record->evicting,
            record->lease_count, holders.preemptible, holders.priority, s_cost (record, now) };
        n++;
    }
    shic_pending_t **pending = (shic_pending_t **) zmalloc ((waiting + 1) * sizeof (*pending));
    shic_place_waiter_t *waiters = (shic_place_waiter_t *) zmalloc ((waiting + 1) * sizeof (*waiters));
    shic_place_decision_t *decisions = (shic_place_decision_t *)
        zmalloc ((waiting + 1) * sizeof (*decisions));
    size_t w = 0;
    for (shic_pending_t *entry = (shic_pending_t *) zlistx_first (self->queue); entry;
         entry = (shic_pending_t *) zlistx_next (self->queue)) {
        pending [w] = entry;
        waiters [w] = (shic_place_waiter_t) { entry->need.pool, entry->need.bytes,
                                              entry->priority, entry->arrival };
        w++;
    }
    shic_placement_decide (pools, pool_count, instances, n, waiters, w, decisions);

    for (size_t i = 0; i < w; i++) {
        shic_pending_t *entry = pending [i];
        shic_place_decision_t *decision = &decisions [i];
        if (decision->action == SHIC_PLACE_START) {
            self->effects->start (self->arg, entry);
            void *handle = zlistx_find (self->queue, entry);
            if (handle)
                zlistx_delete (self->queue, handle);
            continue;
        }
        if (decision->action == SHIC_PLACE_NEVER) {
            shic_error_t err = { 0 };
            s_never_error (self, &entry->need, &err);
            s_pending_fail (self, entry, &err);
            shic_error_clear (&err);
            continue;
        }
        for (size_t k = 0; k < decision->victim_count; k++) {
            shic_record_t *record = records [decision->victims [k]];
            shic_val_push (entry->evicted, &(shic_val_t *) { shic_val_new_str (record->id) });
            record->evicting = true;
            if (record->lease_count) {
                //  Preempted: its holders have a grace period
                self->effects->revoking (self->arg, record, self->settings->preempt_grace_ms);
                s_revocation_t *revocation = (s_revocation_t *) zmalloc (sizeof (*revocation));
                revocation->instance_id = strdup (record->id);
                revocation->due = now + self->settings->preempt_grace_ms;
                zlistx_add_end (self->revocations, revocation);
            }
            else {
                s_publish_evicting (self, record,
                                    decision->action == SHIC_PLACE_PREEMPT? "preempted": "make_room",
                                    entry->key);
                self->effects->stop (self->arg, record);
            }
        }
        if (decision->position != entry->position) {
            entry->position = decision->position;
            s_publish_queued (self, entry);
        }
    }
    shic_placement_decisions_reset (decisions, w);
    //  While starts wait, memory that is freed elsewhere (measured) counts
    self->next_settle = zlistx_size (self->queue)? now + SETTLE_POLL_MS: 0;
    free (decisions);
    free (waiters);
    free (pending);
    free (records);
    free (instances);
    free (pools);
}

//  capacity {limit: memory, need_bytes, free_bytes, pool, position,
//  blockers} for a waiter whose wait_ms passed in the queue
static void
s_wait_error (shic_admission_t *self, shic_pending_t *pending, shic_error_t *err)
{
    shic_val_t *details = shic_val_new_map ();
    shic_val_set_str (details, "limit", "memory");
    shic_val_set_int (details, "need_bytes", (int64_t) pending->need.bytes);
    shic_val_set_int (details, "free_bytes",
                      (int64_t) shic_pools_free (self->pools, pending->need.pool));
    shic_val_set_str (details, "pool", pending->need.pool);
    shic_val_set_int (details, "position", (int64_t) pending->position);
    shic_val_t *blockers = s_blockers (self, pending->need.pool);
    shic_val_set (details, "blockers", &blockers);
    shic_error_set (err, SHIC_E_CAPACITY, &details,
                    "no room for it in pool '%s' within wait_ms", pending->need.pool);
}

int64_t
shic_admission_timers (shic_admission_t *self, int64_t now)
{
    int64_t next = -1;
    //  Revocations whose grace ended: the leases end, the instance goes
    s_revocation_t *revocation = (s_revocation_t *) zlistx_first (self->revocations);
    while (revocation) {
        if (now >= revocation->due) {
            shic_record_t *record = shic_registry_lookup (self->registry, revocation->instance_id);
            if (record && record->actor_live && record->status != SHIC_LIFECYCLE_STOPPING) {
                self->effects->revoke (self->arg, record);
                s_publish_evicting (self, record, "preempted", NULL);
                self->effects->stop (self->arg, record);
            }
            zlistx_delete (self->revocations, zlistx_cursor (self->revocations));
            revocation = (s_revocation_t *) zlistx_first (self->revocations);
        }
        else {
            if (next < 0 || revocation->due < next)
                next = revocation->due;
            revocation = (s_revocation_t *) zlistx_next (self->revocations);
        }
    }
    //  Waiters past their deadline; a pending start nobody waits for goes
    shic_pending_t *pending = (shic_pending_t *) zlistx_first (self->queue);
    while (pending) {
        void *waiter = zlistx_first (pending->waiters);
        while (waiter) {
            int64_t deadline = ((shic_waiter_t *) waiter)->deadline;
            if (now >= deadline) {
                zlistx_detach_cur (pending->waiters);
                shic_error_t err = { 0 };
                s_wait_error (self, pending, &err);
                self->effects->fail (self->arg, waiter, &err);
                shic_error_clear (&err);
                waiter = zlistx_first (pending->waiters);
            }
            else {
                if (next < 0 || deadline < next)
                    next = deadline;
                waiter = zlistx_next (pending->waiters);
            }
        }
        if (zlistx_size (pending->waiters) == 0) {
            zlistx_delete (self->queue, zlistx_cursor (self->queue));
            pending = (shic_pending_t *) zlistx_first (self->queue);
        }
        else
            pending = (shic_pending_t *) zlistx_next (self->queue);
    }
    if (self->next_settle) {
        if (now >= self->next_settle)
            shic_admission_run (self);
        if (self->next_settle && (next < 0 || self->next_settle < next))
            next = self->next_settle;
    }
    return next;
}

void
shic_admission_drain (shic_admission_t *self, const shic_error_t *err)
{
    shic_pending_t *pending;
    while ((pending = (shic_pending_t *) zlistx_first (self->queue)))
        s_pending_fail (self, pending, err);
}

size_t
shic_admission_client_gone (shic_admission_t *self, const char *client)
{
    size_t left = 0;
    shic_pending_t *pending = (shic_pending_t *) zlistx_first (self->queue);
    while (pending) {
        shic_waiter_t *waiter = (shic_waiter_t *) zlistx_first (pending->waiters);
        while (waiter) {
            if (waiter->client && streq (waiter->client, client)) {
                zlistx_delete (pending->waiters, zlistx_cursor (pending->waiters));
                left++;
                waiter = (shic_waiter_t *) zlistx_first (pending->waiters);
            }
            else
                waiter = (shic_waiter_t *) zlistx_next (pending->waiters);
        }
        if (zlistx_size (pending->waiters) == 0) {
            zlistx_delete (self->queue, zlistx_cursor (self->queue));
            pending = (shic_pending_t *) zlistx_first (self->queue);
        }
        else
            pending = (shic_pending_t *) zlistx_next (self->queue);
    }
    return left;
}

shic_val_t *
shic_admission_resources (shic_admission_t *self)
{
    shic_val_t *result = shic_val_new_map ();
    shic_val_t *pools = shic_pools_to_val (self->pools);
    shic_val_set (result, "pools", &pools);
    shic_val_t *instances = shic_val_new_array ();
    for (shic_record_t *record = shic_registry_first (self->registry); record;
         record = shic_registry_next (self->registry)) {
        if (!record->pool)
            continue;
        shic_val_t *item = shic_val_new_map ();
        shic_val_set_str (item, "instance_id", record->id);
        shic_val_set_str (item, "pool", record->pool);
        shic_val_set_int (item, "footprint_bytes", (int64_t) record->footprint);
        shic_val_set_str (item, "footprint_source", record->footprint_source);
        shic_val_set_str (item, "lifecycle_status", shic_lifecycle_name (record->status));
        shic_val_set_int (item, "lease_count", (int64_t) record->lease_count);
        shic_val_set_bool (item, "pinned", record->pinned);
        shic_val_push (instances, &item);
    }
    shic_val_set (result, "instances", &instances);
    shic_val_t *queue = shic_val_new_array ();
    int64_t now = zclock_mono ();
    for (shic_pending_t *pending = (shic_pending_t *) zlistx_first (self->queue); pending;
         pending = (shic_pending_t *) zlistx_next (self->queue)) {
        shic_val_t *item = shic_val_new_map ();
        shic_val_set_str (item, "instance_id", pending->key);
        shic_val_set_str (item, "pool", pending->need.pool);
        shic_val_set_int (item, "need_bytes", (int64_t) pending->need.bytes);
        shic_val_set_str (item, "footprint_source", pending->need.source);
        shic_val_set_int (item, "priority", pending->priority);
        shic_val_set_int (item, "position", (int64_t) pending->position);
        shic_val_set_int (item, "waiters", (int64_t) zlistx_size (pending->waiters));
        shic_val_set_int (item, "queued_ms", now - pending->queued_at);
        shic_val_push (queue, &item);
    }
    shic_val_set (result, "queue", &queue);
    return result;
}

//  --------------------------------------------------------------------------
//  Self test: the room with the gateway's effects faked

//  What placement had the fake gateway do
typedef struct {
    shic_admission_t *admission;    //  the room under test
    shic_registry_t *registry;      //  its records
    size_t started;                 //  starts made
    size_t stopped;                 //  instances stopped
    size_t revoking;                //  revocations announced
    size_t revoked;                 //  revocations carried out
    size_t failed;                  //  waiters answered with an error
    char failure [40];              //  the code of the last error
    size_t preemptible;             //  of the leases holders reports
    int priority;                   //  the priority holders reports
} s_fake_t;

static void
s_fake_start (void *arg, shic_pending_t *pending)
{
    s_fake_t *fake = (s_fake_t *) arg;
    bool created = false;
    shic_error_t err = { 0 };
    shic_record_t *record = shic_registry_claim (fake->registry, &pending->plan, 16, &created,
                                                 &err);
    assert (record && created);
    shic_admission_placed (fake->admission, record, &pending->need);
    shic_waiter_t *waiter;
    while ((waiter = (shic_waiter_t *) zlistx_detach (pending->waiters, NULL)))
        shic_waiter_destroy (&waiter);
    fake->started++;
}

static void
s_fake_stop (void *arg, shic_record_t *record)
{
    s_fake_t *fake = (s_fake_t *) arg;
    shic_registry_set_status (fake->registry, record, SHIC_LIFECYCLE_STOPPING, NULL);
    fake->stopped++;
}

static void
s_fake_revoking (void *arg, shic_record_t *record, int64_t grace_ms)
{
    (void) record; (void) grace_ms;
    ((s_fake_t *) arg)->revoking++;
}

static void
s_fake_revoke (void *arg, shic_record_t *record)
{
    record->lease_count = 0;
    ((s_fake_t *) arg)->revoked++;
}

static void
s_fake_holders (void *arg, shic_record_t *record, bool want_owners, shic_holders_t *out)
{
    s_fake_t *fake = (s_fake_t *) arg;
    out->leases = record->lease_count;
    out->preemptible = fake->preemptible;
    out->priority = fake->priority;
    out->earliest_expiry_ms = 0;
    out->owners = want_owners? shic_val_new_array (): NULL;
}

static void
s_fake_fail (void *arg, void *waiter, const shic_error_t *err)
{
    s_fake_t *fake = (s_fake_t *) arg;
    snprintf (fake->failure, sizeof (fake->failure), "%s", err->code);
    fake->failed++;
    shic_waiter_destroy ((shic_waiter_t **) &waiter);
}

static const shic_admission_effects_t s_fake_effects = {
    s_fake_start, s_fake_stop, s_fake_revoking, s_fake_revoke, s_fake_holders, s_fake_fail
};

//  A plan for instance key with resources (JSON)
static shic_val_t *
s_test_plan (const char *key, const char *resources)
{
    char *json = zsys_sprintf ("{\"instance_key\":\"%s\",\"backend\":\"fake\","
                               "\"startup_kind\":\"spawned\",\"resources\":%s}", key, resources);
    shic_val_t *plan = shic_val_from_json (json);
    zstr_free (&json);
    assert (plan);
    return plan;
}

//  What a plan with resources (JSON) needs: the rc of shic_admission_need
static int
s_test_need (shic_admission_t *self, const char *resources, shic_need_t *need, shic_error_t *err)
{
    shic_val_t *plan = s_test_plan ("any", resources);
    shic_error_clear (err);
    int rc = shic_admission_need (self, plan, need, err);
    shic_val_destroy (&plan);
    return rc;
}

//  A waiter that gives up after wait_ms
static shic_waiter_t *
s_test_waiter (int64_t wait_ms)
{
    zmsg_t *envelope = zmsg_new ();
    shic_val_t *compatibility = NULL;
    shic_waiter_t *waiter = shic_waiter_new (NULL, &envelope, NULL, NULL, true, NULL, 0,
                                             &compatibility);
    waiter->deadline = zclock_mono () + wait_ms;
    return waiter;
}

//  Queues a start of key needing 60 MiB of box with one waiter, and runs
static shic_pending_t *
s_test_enqueue (shic_admission_t *self, const char *key, int64_t wait_ms)
{
    shic_val_t *plan = s_test_plan (key, "{\"pool\":\"box\",\"needs\":\"60MiB\"}");
    shic_need_t need;
    shic_error_t err = { 0 };
    assert (shic_admission_need (self, plan, &need, &err) == 0);
    shic_pending_t *pending = shic_admission_enqueue (self, &plan, &need, 0, &err);
    assert (pending && !plan);
    zlistx_add_end (pending->waiters, s_test_waiter (wait_ms));
    shic_admission_run (self);
    return pending;
}

void
shic_admission_test (bool verbose)
{
    (void) verbose;
    printf (" * shic_admission: ");
    //  One pool of 100 MiB, 10 of them reserved; never measured
    zconfig_t *config = zconfig_str_load ("runtime\n    resources\n        box = 100MiB\n"
                                          "        reserve.box = 10MiB\n");
    shic_pools_t *pools = shic_pools_new ();
    shic_error_t err = { 0 };
    assert (shic_pools_load (pools, config, &err) == 0);
    zconfig_destroy (&config);
    char *endpoint = zsys_sprintf ("inproc://shic-admission-test-%d", getpid ());
    shic_events_t *events = shic_events_new (endpoint);
    zstr_free (&endpoint);
    assert (events);
    shic_registry_t *registry = shic_registry_new (events,
                                                   (zlistx_destructor_fn *) shic_waiter_destroy);
    shic_settings_t settings;
    memset (&settings, 0, sizeof (settings));
    settings.max_queue = 2;
    settings.preempt_grace_ms = 0;
    s_fake_t fake = { 0 };
    fake.registry = registry;
    shic_admission_t *self = shic_admission_new (pools, registry, events, &settings,
                                                 (zlistx_destructor_fn *) shic_waiter_destroy,
                                                 &s_fake_effects, &fake);
    fake.admission = self;
    const uint64_t mib = 1 << 20;

    //  What a plan needs: declared (a size or bytes), with its priority
    //  and pin; nothing counted without resources or a readable model
    shic_need_t need;
    assert (s_test_need (self, "{\"pool\":\"box\",\"needs\":\"60MiB\",\"priority\":2,"
                               "\"pinned\":true}", &need, &err) == 0);
    assert (streq (need.source, "declared") && need.bytes == 60 * mib);
    assert (streq (need.pool, "box") && need.priority == 2 && need.pinned);
    shic_need_reset (&need);
    assert (s_test_need (self, "{\"pool\":\"box\",\"needs\":1000}", &need, &err) == 0);
    assert (streq (need.source, "declared") && need.bytes == 1000);
    assert (s_test_need (self, "{}", &need, &err) == 0 && !need.source);
    assert (s_test_need (self, "{\"pool\":\"box\",\"model_path\":\"/nonexistent/m.gguf\"}",
                         &need, &err) == 0 && !need.source);
    //  An unknown pool never fits; a size that does not parse is refused
    assert (s_test_need (self, "{\"pool\":\"nope\",\"needs\":\"1GiB\"}", &need, &err) == -1);
    assert (streq (err.code, SHIC_E_INSUFFICIENT_RESOURCES));
    assert (streq (shic_val_str (shic_val_get (err.details, "pool")), "nope"));
    assert (s_test_need (self, "{\"pool\":\"box\",\"needs\":\"lots\"}", &need, &err) == -1);
    assert (streq (err.code, SHIC_E_INVALID_BACKEND_OPTIONS));
    assert (streq (shic_val_str (shic_val_get (err.details, "field")), "needs"));
    shic_error_clear (&err);

    //  More than the pool less its reserve: never, at once
    shic_val_t *plan = s_test_plan ("huge", "{\"pool\":\"box\",\"needs\":\"95MiB\"}");
    assert (shic_admission_need (self, plan, &need, &err) == 0);
    assert (!shic_admission_enqueue (self, &plan, &need, 0, &err));
    assert (streq (err.code, SHIC_E_INSUFFICIENT_RESOURCES));
    assert (shic_val_int (shic_val_get (err.details, "capacity_bytes")) == (int64_t) (90 * mib));
    shic_error_clear (&err);
    shic_need_reset (&need);
    shic_val_destroy (&plan);

    //  Fits: started and charged
    s_test_enqueue (self, "m1", 10000);
    assert (fake.started == 1 && !shic_admission_pending (self, "m1"));
    shic_record_t *m1 = shic_registry_lookup (registry, "m1");
    assert (m1 && streq (m1->pool, "box") && m1->footprint == 60 * mib);
    assert (shic_pools_reserved (pools, "box") == 60 * mib);

    //  Does not fit beside a starting instance: waits, first in line
    shic_pending_t *m2 = s_test_enqueue (self, "m2", 10000);
    assert (fake.started == 1 && fake.stopped == 0);
    assert (shic_admission_pending (self, "m2") == m2 && m2->position == 1);
    //  The queue's bound counts waiters
    zlistx_add_end (m2->waiters, s_test_waiter (10000));
    shic_admission_joined (self, m2, 0);
    plan = s_test_plan ("m3", "{\"pool\":\"box\",\"needs\":\"1MiB\"}");
    assert (shic_admission_need (self, plan, &need, &err) == 0);
    assert (!shic_admission_enqueue (self, &plan, &need, 0, &err));
    assert (streq (err.code, SHIC_E_QUEUE_FULL));
    assert (shic_val_int (shic_val_get (err.details, "max_queue")) == 2);
    shic_error_clear (&err);
    //  ... and a waiter that would join a pending start counts too
    assert (shic_admission_full (self, &err) && streq (err.code, SHIC_E_QUEUE_FULL));
    shic_error_clear (&err);
    shic_need_reset (&need);
    shic_val_destroy (&plan);

    //  Ready and leased: not evicted; a waiter past its deadline gets
    //  capacity (memory), the other waits on
    shic_registry_set_status (registry, m1, SHIC_LIFECYCLE_READY, NULL);
    m1->lease_count = 1;
    shic_admission_run (self);
    assert (fake.stopped == 0 && fake.revoking == 0);
    ((shic_waiter_t *) zlistx_first (m2->waiters))->deadline = 0;
    shic_admission_timers (self, zclock_mono ());
    assert (fake.failed == 1 && streq (fake.failure, SHIC_E_CAPACITY));
    assert (zlistx_size (m2->waiters) == 1);

    //  Preemptible leases of a lower priority are revoked (after a grace
    //  of 0 here), the instance stopped; once reaped, m2 starts
    fake.preemptible = 1;
    shic_admission_joined (self, m2, 5);
    shic_admission_run (self);
    assert (fake.revoking == 1 && fake.stopped == 0);
    shic_admission_timers (self, zclock_mono ());
    assert (fake.revoked == 1 && fake.stopped == 1 && m1->status == SHIC_LIFECYCLE_STOPPING);
    shic_admission_run (self);
    assert (fake.started == 1);     //  not before m1 is reaped
    shic_admission_reaped (self, m1);
    assert (!m1->pool && shic_pools_reserved (pools, "box") == 0);
    shic_admission_run (self);
    assert (fake.started == 2 && !shic_admission_pending (self, "m2"));

    //  An idle instance is evicted to make room
    shic_record_t *record = shic_registry_lookup (registry, "m2");
    shic_registry_set_status (registry, record, SHIC_LIFECYCLE_READY, NULL);
    s_test_enqueue (self, "m4", 10000);
    assert (fake.stopped == 2 && record->status == SHIC_LIFECYCLE_STOPPING);
    assert (fake.started == 2);
    shic_admission_reaped (self, record);
    shic_admission_run (self);
    assert (fake.started == 3);

    //  The server's buffers replace an estimate
    record = shic_registry_lookup (registry, "m4");
    record->footprint_source = "estimated";
    shic_val_t *measured = shic_val_from_json ("{\"device_bytes\":20971520,\"host_bytes\":0}");
    shic_admission_measured (self, record, measured);
    shic_val_destroy (&measured);
    assert (streq (record->footprint_source, "learned") && record->footprint == 20 * mib);
    assert (shic_pools_reserved (pools, "box") == 20 * mib);

    //  The resources op shows it; draining answers every waiter
    shic_val_t *resources = shic_admission_resources (self);
    assert (shic_val_size (shic_val_get (resources, "instances")) == 1);
    assert (shic_val_size (shic_val_get (resources, "queue")) == 0);
    shic_val_destroy (&resources);
    s_test_enqueue (self, "m5", 10000);
    assert (fake.started == 4);     //  fits beside m4's 20 MiB
    s_test_enqueue (self, "m6", 10000);
    assert (fake.started == 4 && shic_admission_pending (self, "m6"));
    shic_error_set (&err, SHIC_E_SHUTTING_DOWN, NULL, "stopping");
    shic_admission_drain (self, &err);
    shic_error_clear (&err);
    assert (fake.failed == 2 && streq (fake.failure, SHIC_E_SHUTTING_DOWN));
    assert (!shic_admission_pending (self, "m6"));

    shic_admission_destroy (&self);
    assert (self == NULL);
    shic_admission_destroy (&self);
    shic_registry_destroy (&registry);
    shic_events_destroy (&events);
    shic_pools_destroy (&pools);
    printf ("OK\n");
}
