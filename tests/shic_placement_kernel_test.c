/*  =========================================================================
    shic_placement_kernel_test - placement by memory, end to end

    A runtime with a small configured "ram" pool (no per-process overhead,
    no margin) and the llama_cpp backend over the stand-in llama-server,
    whose models declare what they need. Driven through shic_client with
    the wire ops and checked with the events (kept in the order they came,
    so that "evicted, then reaped, then started" is an assertion) and the
    resources op: fit, eviction of an idle instance, leased and pinned
    instances kept, the queue, wait_ms in the queue, priority order without
    starvation, preemption after a grace, insufficient_resources at once, a
    learned footprint replacing the estimate, an out-of-memory start
    reported once. Every wait is on an event or a reply, with a deadline.
    =========================================================================
*/

#include "shic.h"
#include <limits.h>
#include "shic_llama_cpp.h"
#include "shic_test_backends.h"
#include "shic_test_util.h"

void shic_placement_kernel_test (bool verbose);

#define MIB ((int64_t) 1 << 20)
#define DEADLINE 10000              //  ms for any event or reply that must come
#define GRACE_MS 300                //  the runtime's preempt_grace_ms
#define NO_PRIORITY INT_MIN         //  ensure without a priority argument

//  --------------------------------------------------------------------------
//  The events, in the order they came

typedef struct {
    zsock_t *sub;                   //  on the runtime's events
    char **topics;                  //  topic of each event
    shic_val_t **bodies;            //  body of each event, owned
    size_t size;                    //  events so far
    size_t max;                     //  room in the arrays
} s_log_t;

static s_log_t *
s_log_new (shic_runtime_t *runtime)
{
    s_log_t *self = (s_log_t *) zmalloc (sizeof (s_log_t));
    self->sub = zsock_new_sub (shic_runtime_events_endpoint (runtime), "");
    assert (self->sub);
    return self;
}

static void
s_log_destroy (s_log_t **self_p)
{
    s_log_t *self = *self_p;
    for (size_t i = 0; i < self->size; i++) {
        free (self->topics [i]);
        shic_val_destroy (&self->bodies [i]);
    }
    free (self->topics);
    free (self->bodies);
    zsock_destroy (&self->sub);
    free (self);
    *self_p = NULL;
}

//  Takes in one event within timeout_ms; false when none came
static bool
s_log_pump (s_log_t *self, int timeout_ms)
{
    zsock_set_rcvtimeo (self->sub, timeout_ms);
    zmsg_t *msg = zmsg_recv (self->sub);
    if (!msg)
        return false;
    if (self->size == self->max) {
        self->max = self->max? 2 * self->max: 64;
        self->topics = (char **) realloc (self->topics, self->max * sizeof (char *));
        self->bodies = (shic_val_t **) realloc (self->bodies, self->max * sizeof (shic_val_t *));
        assert (self->topics && self->bodies);
    }
    char *topic = zmsg_popstr (msg);
    zframe_t *frame = zmsg_pop (msg);
    shic_val_t *body = NULL;
    if (frame)
        shic_val_decode (zframe_data (frame), zframe_size (frame), NULL, &body, NULL);
    assert (topic && body);
    self->topics [self->size] = topic;
    self->bodies [self->size] = body;
    self->size++;
    zframe_destroy (&frame);
    zmsg_destroy (&msg);
    return true;
}

//  The id of an instance of model (llama_cpp's keys are "llama_cpp:MODEL:...")
static bool
s_is (const char *instance_id, const char *model)
{
    char prefix [64];
    snprintf (prefix, sizeof (prefix), "llama_cpp:%s:", model);
    return instance_id && strncmp (instance_id, prefix, strlen (prefix)) == 0;
}

static bool
s_log_match (s_log_t *self, size_t index, const char *topic, const char *model)
{
    return streq (self->topics [index], topic)
        && (!model || s_is (shic_val_str (shic_val_get (self->bodies [index], "instance_id")),
                            model));
}

//  The first event at or after from with topic about model (NULL: any);
//  waits for it until the deadline, and asserts it came
static size_t
s_log_wait (s_log_t *self, size_t from, const char *topic, const char *model)
{
    int64_t deadline = zclock_mono () + DEADLINE;
    for (size_t index = from; ; index++) {
        while (index >= self->size) {
            int64_t left = deadline - zclock_mono ();
            if (left <= 0 || !s_log_pump (self, (int) left)) {
                fprintf (stderr, "no event %s for %s\n", topic, model? model: "any");
                assert (false);
            }
        }
        if (s_log_match (self, index, topic, model))
            return index;
    }
}

//  How many events from from on (those taken in so far) have topic about model
static size_t
s_log_count (s_log_t *self, size_t from, const char *topic, const char *model)
{
    size_t count = 0;
    for (size_t index = from; index < self->size; index++)
        count += s_log_match (self, index, topic, model)? 1: 0;
    return count;
}

static const shic_val_t *
s_log_body (s_log_t *self, size_t index)
{
    return self->bodies [index];
}

//  --------------------------------------------------------------------------
//  Values

static const char *
s_str (const shic_val_t *val, const char *path)
{
    return shic_test_str (val, path);
}

static int64_t
s_int (const shic_val_t *val, const char *path)
{
    const shic_val_t *item = shic_val_path (val, path);
    assert (shic_val_type (item) == SHIC_VAL_INT);
    return shic_val_int (item);
}

//  The first item of the array at path in val whose instance_id is of model
static const shic_val_t *
s_item (const shic_val_t *val, const char *path, const char *model)
{
    const shic_val_t *list = shic_val_path (val, path);
    for (size_t i = 0; i < shic_val_size (list); i++)
        if (s_is (s_str (shic_val_at (list, i), "instance_id"), model))
            return shic_val_at (list, i);
    return NULL;
}

//  A reply's placement: in "ram", bytes from source, evicting the
//  instance of evicted (NULL: none)
static void
s_placement_is (const shic_val_t *result, int64_t bytes, const char *source, const char *evicted)
{
    const shic_val_t *placement = shic_val_get (result, "placement");
    assert (shic_val_type (placement) == SHIC_VAL_MAP);
    assert (streq (s_str (placement, "pool"), "ram"));
    if (s_int (placement, "footprint_bytes") != bytes
    ||  !streq (s_str (placement, "footprint_source"), source)) {
        fprintf (stderr, "placement: %lld bytes %s, expected %lld %s\n",
                 (long long) s_int (placement, "footprint_bytes"),
                 s_str (placement, "footprint_source"), (long long) bytes, source);
        assert (false);
    }
    const shic_val_t *list = shic_val_get (placement, "evicted");
    assert (shic_val_type (list) == SHIC_VAL_ARRAY);
    assert (shic_val_size (list) == (evicted? 1u: 0u));
    assert (!evicted || s_is (shic_val_str (shic_val_at (list, 0)), evicted));
    assert (s_int (placement, "queued_ms") >= 0);
}

//  --------------------------------------------------------------------------
//  The runtime and its clients

//  A runtime whose "ram" pool is 100 MiB, with llama_cpp over the stand-in
//  and models (configuration text under "models"); its events in *log_p,
//  the backend's configuration in *config_p (the kernel borrows it)
static shic_runtime_t *
s_runtime (const char *models, zconfig_t **config_p, s_log_t **log_p)
{
    char *text = zsys_sprintf ("runtime\n"
                               "    preempt_grace_ms = %d\n"
                               "    start_failure_hold_ms = 5000\n"
                               "    resources\n"
                               "        ram = 100MiB\n"
                               "        overhead.ram = 0\n"
                               "        margin.ram = 0\n", GRACE_MS);
    zconfig_t *settings = zconfig_str_load (text);
    zstr_free (&text);
    assert (settings);
    shic_runtime_t *runtime = shic_runtime_new (settings);
    zconfig_destroy (&settings);
    assert (runtime);
    //  Subscribed before the backend registers: its event proves it
    *log_p = s_log_new (runtime);
    text = zsys_sprintf ("binary = %s\nctx_size = 512\nextra_args = \"--load-ms 20\"\n"
                         "models\n%s", shic_test_stand_in (), models);
    *config_p = zconfig_str_load (text);
    zstr_free (&text);
    assert (*config_p);
    shic_error_t err = { 0 };
    if (shic_runtime_register (runtime, &shic_llama_cpp_ops, *config_p, &err)) {
        fprintf (stderr, "register: %s\n", err.message);
        assert (false);
    }
    s_log_wait (*log_p, 0, "backend.registered", NULL);
    return runtime;
}

static shic_val_t *
s_ensure_args (const char *model, int64_t wait_ms, int priority, bool preemptible)
{
    shic_val_t *args = shic_client_ensure_args ("llama_cpp", model, NULL, 0, wait_ms);
    if (priority != NO_PRIORITY)
        shic_val_set_int (args, "priority", priority);
    if (preemptible)
        shic_val_set_bool (args, "preemptible", true);
    return args;
}

//  An ensure that must succeed; its result (fresh)
static shic_val_t *
s_ensure_ok (shic_client_t *client, const char *model, int priority, bool preemptible)
{
    shic_val_t *args = s_ensure_args (model, DEADLINE, priority, preemptible);
    shic_val_t *result = shic_client_call (client, "ensure_endpoint", &args);
    char what [64];
    snprintf (what, sizeof (what), "ensure %s", model);
    shic_test_expect_ok (client, result, what);
    return result;
}

//  An ensure that must fail with code; its error details (fresh)
static shic_val_t *
s_ensure_fails (shic_client_t *client, const char *model, int64_t wait_ms, int priority,
                const char *code)
{
    shic_val_t *args = s_ensure_args (model, wait_ms, priority, false);
    shic_val_t *result = shic_client_call (client, "ensure_endpoint", &args);
    const shic_error_t *err = shic_client_error (client);
    if (result || !err->code || !streq (err->code, code)) {
        fprintf (stderr, "ensure %s: expected %s, got %s (%s)\n", model, code,
                 result? "a result": err->code? err->code: "nothing",
                 err->message? err->message: "");
        assert (false);
    }
    return shic_val_dup (err->details);
}

//  An ensure sent on client (one that waits for nothing else), answered later
static void
s_ensure_send (shic_client_t *client, const char *model, int priority, bool preemptible)
{
    static int64_t id = 1000;
    shic_val_t *args = s_ensure_args (model, 3 * DEADLINE, priority, preemptible);
    int rc = shic_client_send (client, ++id, "ensure_endpoint", &args);
    assert (rc == 0);
}

//  The reply to the ensure sent on client: its result (fresh)
static shic_val_t *
s_ensure_reply (shic_client_t *client)
{
    shic_wire_reply_t reply = { 0 };
    int rc = shic_client_recv (client, &reply, DEADLINE);
    if (rc != 0 || !reply.ok) {
        fprintf (stderr, "ensure reply: rc %d %s %s\n", rc, reply.error.code? reply.error.code: "",
                 reply.error.message? reply.error.message: "");
        assert (false);
    }
    shic_val_t *result = shic_val_dup (reply.result);
    shic_wire_reply_reset (&reply);
    return result;
}

//  Nothing came back on client yet
static bool
s_unanswered (shic_client_t *client)
{
    shic_wire_reply_t reply = { 0 };
    int rc = shic_client_recv (client, &reply, 0);
    shic_wire_reply_reset (&reply);
    return rc == -1;
}

//  Releases the lease of an ensure's result, and destroys the result
static void
s_release (shic_client_t *client, shic_val_t **result_p)
{
    int rc = shic_client_release (client, s_str (*result_p, "lease/lease_ref"));
    assert (rc == 0);
    shic_val_destroy (result_p);
}

static shic_val_t *
s_resources (shic_client_t *client)
{
    shic_val_t *resources = shic_client_call (client, "resources", NULL);
    assert (resources);
    return resources;
}

//  --------------------------------------------------------------------------
//  One pool, models of declared sizes: p (pinned) 40 MiB, a, b, c, d and
//  q (configured priority 3) 50 MiB each (one at a time beside p), big 70
//  MiB (fits the pool, not beside p), huge 200 MiB

static void
s_test_declared (bool verbose)
{
    zconfig_t *config = NULL;
    s_log_t *log = NULL;
    shic_runtime_t *runtime = s_runtime (
        "    p\n        path = /etc/hostname\n        needs = 40MiB\n        pinned = true\n"
        "    a\n        path = /etc/hostname\n        needs = 50MiB\n"
        "    b\n        path = /etc/hostname\n        needs = 50MiB\n"
        "    c\n        path = /etc/hostname\n        needs = 50MiB\n"
        "    d\n        path = /etc/hostname\n        needs = 50MiB\n"
        "    q\n        path = /etc/hostname\n        needs = 50MiB\n        priority = 3\n"
        "    big\n        path = /etc/hostname\n        needs = 70MiB\n"
        "    huge\n        path = /etc/hostname\n        needs = 200MiB\n",
        &config, &log);
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));
    shic_client_t *first = shic_client_new (shic_runtime_endpoint (runtime));
    shic_client_t *second = shic_client_new (shic_runtime_endpoint (runtime));

    //  1. Fit: p and a start at once, placed as declared
    shic_val_t *p = s_ensure_ok (client, "p", NO_PRIORITY, false);
    s_placement_is (p, 40 * MIB, "declared", NULL);
    s_release (client, &p);
    shic_val_t *a = s_ensure_ok (client, "a", NO_PRIORITY, false);
    s_placement_is (a, 50 * MIB, "declared", NULL);
    assert (!shic_val_bool (shic_val_get (a, "reused")));
    shic_val_t *resources = s_resources (client);
    const shic_val_t *pool = shic_val_at (shic_val_get (resources, "pools"), 0);
    assert (streq (s_str (pool, "pool"), "ram") && streq (s_str (pool, "source"), "config"));
    assert (s_int (pool, "capacity_bytes") == 100 * MIB);
    assert (s_int (pool, "reserved_bytes") == 90 * MIB);
    assert (s_int (pool, "free_bytes") == 10 * MIB);
    assert (shic_val_size (shic_val_get (resources, "instances")) == 2);
    assert (shic_val_bool (shic_val_get (s_item (resources, "instances", "p"), "pinned")));
    assert (s_int (s_item (resources, "instances", "a"), "lease_count") == 1);
    assert (streq (s_str (s_item (resources, "instances", "a"), "footprint_source"), "declared"));
    assert (shic_val_size (shic_val_get (resources, "queue")) == 0);
    shic_val_destroy (&resources);
    if (verbose)
        printf ("\n   fit: p 40 MiB pinned, a 50 MiB");

    //  8. Never fits: insufficient_resources at once, nothing started
    int64_t started = zclock_mono ();
    shic_val_t *details = s_ensure_fails (client, "huge", DEADLINE, NO_PRIORITY,
                                          SHIC_E_INSUFFICIENT_RESOURCES);
    assert (s_int (details, "need_bytes") == 200 * MIB);
    assert (streq (s_str (details, "pool"), "ram"));
    assert (s_int (details, "capacity_bytes") == 100 * MIB);
    assert (s_int (details, "pinned_bytes") == 40 * MIB);
    shic_val_destroy (&details);
    //  ... nor beside the pinned instance
    details = s_ensure_fails (client, "big", DEADLINE, NO_PRIORITY, SHIC_E_INSUFFICIENT_RESOURCES);
    assert (s_int (details, "need_bytes") == 70 * MIB);
    assert (s_int (details, "pinned_bytes") == 40 * MIB);
    shic_val_destroy (&details);
    assert (zclock_mono () - started < DEADLINE / 2);
    resources = s_resources (client);
    assert (shic_val_size (shic_val_get (resources, "instances")) == 2);
    assert (shic_val_size (shic_val_get (resources, "queue")) == 0);
    shic_val_destroy (&resources);

    //  2. Evict: a idle, b evicts it (not the pinned p) and starts once a
    //  is reaped
    size_t mark = log->size;
    s_release (client, &a);
    shic_val_t *b = s_ensure_ok (client, "b", NO_PRIORITY, false);
    s_placement_is (b, 50 * MIB, "declared", "a");
    size_t evicting = s_log_wait (log, mark, "instance.evicting", "a");
    assert (streq (s_str (s_log_body (log, evicting), "reason"), "make_room"));
    assert (s_is (s_str (s_log_body (log, evicting), "for"), "b"));
    assert (s_int (s_log_body (log, evicting), "footprint_bytes") == 50 * MIB);
    size_t stopped = s_log_wait (log, evicting, "instance.stopped", "a");
    assert (s_log_wait (log, mark, "instance.starting", "b") > stopped);
    assert (s_log_count (log, 0, "instance.evicting", "p") == 0);

    //  3. A leased instance (b) and a pinned one (p) are never evicted: c
    //  waits, and is told what blocks it
    mark = log->size;
    s_ensure_send (first, "c", NO_PRIORITY, false);
    size_t queued = s_log_wait (log, mark, "ensure.queued", "c");
    const shic_val_t *event = s_log_body (log, queued);
    assert (s_int (event, "position") == 1);
    assert (s_int (event, "need_bytes") == 50 * MIB);
    assert (s_int (event, "free_bytes") == 10 * MIB);
    assert (streq (s_str (event, "pool"), "ram"));
    const shic_val_t *blockers = shic_val_get (event, "blockers");
    assert (shic_val_size (blockers) == 1);
    assert (s_is (s_str (shic_val_at (blockers, 0), "instance_id"), "b"));
    assert (s_int (shic_val_at (blockers, 0), "lease_count") == 1);
    assert (!shic_val_bool (shic_val_get (shic_val_at (blockers, 0), "preemptible")));
    assert (s_log_count (log, mark, "instance.evicting", NULL) == 0);
    assert (s_unanswered (first));
    resources = s_resources (client);
    assert (shic_val_size (shic_val_get (resources, "queue")) == 1);
    const shic_val_t *waiting = s_item (resources, "queue", "c");
    assert (waiting && s_int (waiting, "position") == 1 && s_int (waiting, "waiters") == 1);
    assert (streq (s_str (waiting, "footprint_source"), "declared"));
    assert (streq (s_str (s_item (resources, "instances", "p"), "lifecycle_status"), "ready"));
    assert (streq (s_str (s_item (resources, "instances", "b"), "lifecycle_status"), "ready"));
    shic_val_destroy (&resources);

    //  5. wait_ms passes in the queue: capacity, limit memory, blockers named
    started = zclock_mono ();
    details = s_ensure_fails (client, "d", GRACE_MS, NO_PRIORITY, SHIC_E_CAPACITY);
    assert (zclock_mono () - started >= GRACE_MS - 5);
    assert (streq (s_str (details, "limit"), "memory"));
    assert (s_int (details, "need_bytes") == 50 * MIB);
    assert (s_int (details, "free_bytes") == 10 * MIB);
    assert (streq (s_str (details, "pool"), "ram"));
    assert (s_int (details, "position") == 2);
    blockers = shic_val_get (details, "blockers");
    assert (shic_val_size (blockers) == 1);
    assert (s_is (s_str (shic_val_at (blockers, 0), "instance_id"), "b"));
    assert (shic_val_size (shic_val_get (shic_val_at (blockers, 0), "owners")) == 1);
    shic_val_destroy (&details);

    //  4. The queue: c starts once b's lease is released (b is evicted)
    mark = log->size;
    s_release (client, &b);
    shic_val_t *c = s_ensure_reply (first);
    s_placement_is (c, 50 * MIB, "declared", "b");
    assert (s_int (c, "placement/queued_ms") >= GRACE_MS - 5);
    evicting = s_log_wait (log, mark, "instance.evicting", "b");
    assert (s_is (s_str (s_log_body (log, evicting), "for"), "c"));
    stopped = s_log_wait (log, evicting, "instance.stopped", "b");
    assert (s_log_wait (log, mark, "instance.starting", "c") > stopped);
    if (verbose)
        printf ("\n   queued: c waited %lld ms for b",
                (long long) s_int (c, "placement/queued_ms"));

    //  6. Priority order, no starvation: a (priority 1) then d (priority
    //  5) wait for c; d goes first, a once d is released
    mark = log->size;
    s_ensure_send (first, "a", 1, false);
    queued = s_log_wait (log, mark, "ensure.queued", "a");
    assert (s_int (s_log_body (log, queued), "position") == 1);
    s_ensure_send (second, "d", 5, false);
    size_t d_queued = s_log_wait (log, mark, "ensure.queued", "d");
    assert (s_int (s_log_body (log, d_queued), "position") == 1);
    assert (s_int (s_log_body (log, d_queued), "priority") == 5);
    queued = s_log_wait (log, queued + 1, "ensure.queued", "a");
    assert (s_int (s_log_body (log, queued), "position") == 2);
    s_release (client, &c);
    shic_val_t *d = s_ensure_reply (second);
    s_placement_is (d, 50 * MIB, "declared", "c");
    assert (s_unanswered (first));
    resources = s_resources (client);
    assert (shic_val_size (shic_val_get (resources, "queue")) == 1);
    assert (s_item (resources, "queue", "a"));
    shic_val_destroy (&resources);
    s_release (client, &d);
    a = s_ensure_reply (first);
    s_placement_is (a, 50 * MIB, "declared", "d");
    assert (s_log_wait (log, mark, "instance.starting", "a")
          > s_log_wait (log, mark, "instance.starting", "d"));

    //  7. Preemption: a held preemptible at priority 0; b at priority 0
    //  does not outrank it and times out, b at priority 5 revokes it after
    //  the grace, a is evicted, b starts
    s_release (client, &a);
    a = s_ensure_ok (client, "a", 0, true);
    assert (shic_val_bool (shic_val_get (a, "reused")));
    mark = log->size;
    details = s_ensure_fails (client, "b", GRACE_MS, 0, SHIC_E_CAPACITY);
    blockers = shic_val_get (details, "blockers");
    assert (s_is (s_str (shic_val_at (blockers, 0), "instance_id"), "a"));
    assert (shic_val_bool (shic_val_get (shic_val_at (blockers, 0), "preemptible")));
    shic_val_destroy (&details);
    s_ensure_send (second, "b", 5, false);
    size_t revoking = s_log_wait (log, mark, "lease.revoking", "a");
    event = s_log_body (log, revoking);
    assert (streq (s_str (event, "lease_ref"), s_str (a, "lease/lease_ref")));
    assert (s_int (event, "grace_ms") == GRACE_MS);
    size_t released = s_log_wait (log, revoking, "lease.released", "a");
    assert (streq (s_str (s_log_body (log, released), "reason"), "preempted"));
    assert (streq (s_str (s_log_body (log, released), "lease_ref"), s_str (a, "lease/lease_ref")));
    int64_t grace = s_int (s_log_body (log, released), "at_ms") - s_int (event, "at_ms");
    assert (grace >= GRACE_MS - 5);
    evicting = s_log_wait (log, revoking, "instance.evicting", "a");
    assert (evicting > released);
    assert (streq (s_str (s_log_body (log, evicting), "reason"), "preempted"));
    stopped = s_log_wait (log, evicting, "instance.stopped", "a");
    assert (s_log_wait (log, mark, "instance.starting", "b") > stopped);
    b = s_ensure_reply (second);
    s_placement_is (b, 50 * MIB, "declared", "a");
    assert (s_log_count (log, mark, "lease.revoking", NULL) == 1);
    shic_val_destroy (&a);
    s_release (client, &b);
    if (verbose)
        printf ("\n   preempted: a's lease ended %lld ms after lease.revoking", (long long) grace);

    //  A lease taken without a priority has the model's (q: 3), warm or
    //  cold: a waiter of priority 2 does not outrank it
    mark = log->size;
    shic_val_t *q = s_ensure_ok (client, "q", NO_PRIORITY, true);
    s_placement_is (q, 50 * MIB, "declared", "b");
    s_release (client, &q);
    q = s_ensure_ok (client, "q", NO_PRIORITY, true);
    assert (shic_val_bool (shic_val_get (q, "reused")));
    details = s_ensure_fails (client, "c", GRACE_MS, 2, SHIC_E_CAPACITY);
    assert (shic_val_bool (shic_val_get (shic_val_at (shic_val_get (details, "blockers"), 0),
                                         "preemptible")));
    shic_val_destroy (&details);
    char *q_lease = strdup (s_str (q, "lease/lease_ref"));
    s_release (client, &q);
    released = s_log_wait (log, mark, "lease.released", "q");
    while (!streq (s_str (s_log_body (log, released), "lease_ref"), q_lease))
        released = s_log_wait (log, released + 1, "lease.released", "q");
    assert (streq (s_str (s_log_body (log, released), "reason"), "released"));
    assert (s_log_count (log, mark, "lease.revoking", NULL) == 0);
    free (q_lease);

    //  The pinned instance stayed through it all
    assert (s_log_count (log, 0, "instance.evicting", "p") == 0);
    resources = s_resources (client);
    assert (streq (s_str (s_item (resources, "instances", "p"), "lifecycle_status"), "ready"));
    shic_val_destroy (&resources);

    shic_client_destroy (&second);
    shic_client_destroy (&first);
    shic_client_destroy (&client);
    shic_runtime_destroy (&runtime);
    zconfig_destroy (&config);
    s_log_destroy (&log);
}

//  --------------------------------------------------------------------------
//  Footprints found out: a model with no needs (estimated from its GGUF
//  header, then learned from the buffers its server reports), and an
//  out-of-memory start

//  tiny-a.gguf of the shared llama folder, when it is there
static const char *
s_tiny_model (void)
{
#ifdef SHIC_LLAMA_DIR
    if (zsys_file_exists (SHIC_LLAMA_DIR "/tiny-a.gguf"))
        return SHIC_LLAMA_DIR "/tiny-a.gguf";
#endif
    return NULL;
}

//  9. The estimate, then the server's own buffers (6 + 1 + 7 MiB), which
//  the next cold start of the same model is admitted with
static void
s_test_learned (shic_client_t *client, shic_client_t *waiter, s_log_t *log, bool verbose)
{
    //  x fills the pool: e waits, admitted with its estimate
    shic_val_t *x = s_ensure_ok (client, "x", NO_PRIORITY, false);
    s_placement_is (x, 95 * MIB, "declared", NULL);
    size_t mark = log->size;
    s_ensure_send (waiter, "e", NO_PRIORITY, false);
    size_t queued = s_log_wait (log, mark, "ensure.queued", "e");
    int64_t estimate = s_int (s_log_body (log, queued), "need_bytes");
    assert (estimate > 5 * MIB && estimate <= 100 * MIB && estimate != 14 * MIB);
    shic_val_t *resources = s_resources (client);
    const shic_val_t *waiting = s_item (resources, "queue", "e");
    assert (waiting && streq (s_str (waiting, "footprint_source"), "estimated"));
    assert (s_int (waiting, "need_bytes") == estimate);
    shic_val_destroy (&resources);
    //  Started: its server's buffers replace the estimate before the reply
    s_release (client, &x);
    shic_val_t *e = s_ensure_reply (waiter);
    s_placement_is (e, 14 * MIB, "learned", "x");
    resources = s_resources (client);
    const shic_val_t *instance = s_item (resources, "instances", "e");
    assert (instance && streq (s_str (instance, "footprint_source"), "learned"));
    assert (s_int (instance, "footprint_bytes") == 14 * MIB);
    assert (s_int (shic_val_at (shic_val_get (resources, "pools"), 0), "reserved_bytes")
            == 14 * MIB);
    shic_val_destroy (&resources);
    if (verbose)
        printf ("\n   e: estimated %lld bytes, learned %lld", (long long) estimate,
                (long long) (14 * MIB));

    //  Stopped; the next cold start waits as what was learned
    shic_val_t *args = shic_val_new_map ();
    shic_val_set_str (args, "instance_id", s_str (e, "instance_id"));
    s_release (client, &e);
    mark = log->size;
    shic_val_t *result = shic_client_call (client, "stop_instance", &args);
    assert (result);
    shic_val_destroy (&result);
    s_log_wait (log, mark, "instance.stopped", "e");
    x = s_ensure_ok (client, "x", NO_PRIORITY, false);
    s_placement_is (x, 95 * MIB, "declared", NULL);
    mark = log->size;
    s_ensure_send (waiter, "e", NO_PRIORITY, false);
    queued = s_log_wait (log, mark, "ensure.queued", "e");
    assert (s_int (s_log_body (log, queued), "need_bytes") == 14 * MIB);
    resources = s_resources (client);
    waiting = s_item (resources, "queue", "e");
    assert (waiting && streq (s_str (waiting, "footprint_source"), "learned"));
    shic_val_destroy (&resources);
    s_release (client, &x);
    e = s_ensure_reply (waiter);
    s_placement_is (e, 14 * MIB, "learned", "x");
    s_release (client, &e);
}

//  10. Out of memory: backend_exit {oom, requested_bytes, reserved_bytes},
//  one instance.failed, and no second start while the failure is held
static void
s_test_oom (shic_client_t *client, s_log_t *log, int64_t held_bytes, bool verbose)
{
    size_t mark = log->size;
    shic_val_t *details = s_ensure_fails (client, "o", DEADLINE, NO_PRIORITY,
                                          SHIC_E_BACKEND_EXIT);
    assert (shic_val_bool (shic_val_get (details, "oom")));
    assert (s_int (details, "requested_bytes") == 1024 * MIB);
    assert (s_int (details, "reserved_bytes") == 10 * MIB);
    shic_val_destroy (&details);
    size_t failed = s_log_wait (log, mark, "instance.failed", "o");
    assert (streq (s_str (s_log_body (log, failed), "reason"), SHIC_E_BACKEND_EXIT));
    assert (shic_val_bool (shic_val_path (s_log_body (log, failed), "error/details/oom")));
    //  Asked again within the hold: the same answer, from the held failure
    details = s_ensure_fails (client, "o", DEADLINE, NO_PRIORITY, SHIC_E_BACKEND_EXIT);
    assert (shic_val_bool (shic_val_get (details, "oom")));
    shic_val_destroy (&details);
    //  Its reservation is back (what is left is held_bytes of others)
    shic_val_t *resources = s_resources (client);
    assert (s_int (shic_val_at (shic_val_get (resources, "pools"), 0), "reserved_bytes")
            == held_bytes);
    assert (!s_item (resources, "instances", "o"));
    shic_val_destroy (&resources);
    //  Every event of the gateway's so far is in once a later one is
    shic_val_t *x = s_ensure_ok (client, "x", NO_PRIORITY, false);
    s_log_wait (log, failed, "lease.granted", "x");
    assert (s_log_count (log, mark, "instance.starting", "o") == 1);
    assert (s_log_count (log, mark, "instance.failed", "o") == 1);
    assert (s_log_count (log, mark, "instance.restarting", "o") == 0);
    s_release (client, &x);
    if (verbose)
        printf ("\n   oom: reported once");
}

static void
s_test_found_out (bool verbose)
{
    const char *tiny = s_tiny_model ();
    char *models = zsys_sprintf (
        "    x\n        path = /etc/hostname\n        needs = 95MiB\n"
        "    o\n        path = /etc/hostname\n        needs = 10MiB\n"
        "        extra_args = \"--oom\"\n"
        "%s%s%s",
        tiny? "    e\n        path = \"": "", tiny? tiny: "",
        tiny? "\"\n        extra_args = \"--buffers-mib 6,1,7\"\n": "");
    zconfig_t *config = NULL;
    s_log_t *log = NULL;
    shic_runtime_t *runtime = s_runtime (models, &config, &log);
    zstr_free (&models);
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));
    shic_client_t *waiter = shic_client_new (shic_runtime_endpoint (runtime));
    if (tiny)
        s_test_learned (client, waiter, log, verbose);
    else
        printf ("(learned footprint skipped: no tiny-a.gguf) ");
    s_test_oom (client, log, tiny? 14 * MIB: 0, verbose);
    shic_client_destroy (&waiter);
    shic_client_destroy (&client);
    shic_runtime_destroy (&runtime);
    zconfig_destroy (&config);
    s_log_destroy (&log);
}

void
shic_placement_kernel_test (bool verbose)
{
    printf (" * shic_placement_kernel: ");
    s_test_declared (verbose);
    s_test_found_out (verbose);
    printf ("OK\n");
}
