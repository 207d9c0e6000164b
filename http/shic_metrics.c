/*  =========================================================================
    shic_metrics - the Prometheus text of a runtime's state (shic_metrics.h)

    Every family has # HELP and # TYPE; names end in _total (counters),
    _bytes and _seconds (units). Labels are escaped (backslash, quote,
    newline). The ensure histogram's buckets are the stats op's powers of
    two of microseconds, made cumulative; the stats op keeps no sum, so the
    family has no _sum line.
    =========================================================================
*/

#include "shic.h"
#include "shic_metrics.h"

//  The stats op's last bucket also holds everything slower
#define LATENCY_BUCKETS 24

static void
s_label (FILE *out, const char *name, const char *value)
{
    fprintf (out, "%s=\"", name);
    for (const char *c = value? value: ""; *c; c++) {
        if (*c == '\\' || *c == '"')
            fprintf (out, "\\%c", *c);
        else
        if (*c == '\n')
            fputs ("\\n", out);
        else
            fputc (*c, out);
    }
    fputc ('"', out);
}

static void
s_family (FILE *out, const char *name, const char *type, const char *help)
{
    fprintf (out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

//  One sample: name{label=value,...} number; labels is a NULL-ended list
//  of name, value pairs
static void
s_sample (FILE *out, const char *name, const char **labels, double value)
{
    fputs (name, out);
    if (labels && labels [0]) {
        fputc ('{', out);
        for (int i = 0; labels [i]; i += 2) {
            if (i)
                fputc (',', out);
            s_label (out, labels [i], labels [i + 1]);
        }
        fputc ('}', out);
    }
    fprintf (out, " %.17g\n", value);
}

static void
s_scalar (FILE *out, const char *name, const char *type, const char *help, double value)
{
    s_family (out, name, type, help);
    s_sample (out, name, NULL, value);
}

static bool
s_same_kind (const shic_val_t *a, const shic_val_t *b)
{
    const char *fields [] = { "backend", "lifecycle_status" };
    for (int f = 0; f < 2; f++) {
        const char *x = shic_val_str (shic_val_get (a, fields [f]));
        const char *y = shic_val_str (shic_val_get (b, fields [f]));
        if (!streq (x? x: "", y? y: ""))
            return false;
    }
    return true;
}

//  Instances by backend and lifecycle status, counted from list_instances
//  (a few hundred at most: quadratic is fine)
static void
s_instances (FILE *out, const shic_val_t *instances)
{
    s_family (out, "shic_instances", "gauge", "Instances by backend and lifecycle status.");
    size_t size = shic_val_size (instances);
    for (size_t i = 0; i < size; i++) {
        const shic_val_t *instance = shic_val_at (instances, i);
        bool counted = false;
        for (size_t j = 0; j < i && !counted; j++)
            counted = s_same_kind (shic_val_at (instances, j), instance);
        if (counted)
            continue;
        size_t count = 0;
        for (size_t j = i; j < size; j++)
            count += s_same_kind (shic_val_at (instances, j), instance);
        const char *labels [] = {
            "backend", shic_val_str (shic_val_get (instance, "backend")),
            "status", shic_val_str (shic_val_get (instance, "lifecycle_status")), NULL };
        s_sample (out, "shic_instances", labels, (double) count);
    }
}

static void
s_latency (FILE *out, const shic_val_t *histogram)
{
    const char *name = "shic_ensure_duration_seconds";
    s_family (out, name, "histogram", "Time to answer ensure_endpoint.");
    int64_t cumulative = 0;
    for (int i = 0; i < LATENCY_BUCKETS; i++) {
        char key [40], le [40];
        snprintf (key, sizeof (key), "le_%lld_us", 1LL << i);
        cumulative += shic_val_int (shic_val_get (histogram, key));
        if (i == LATENCY_BUCKETS - 1)
            break;                  //  the overflow bucket: only in +Inf
        //  Exact decimal seconds of 2^i microseconds, trailing zeros cut
        long long us = 1LL << i;
        snprintf (le, sizeof (le), "%lld.%06lld", us / 1000000, us % 1000000);
        size_t end = strlen (le);
        while (le [end - 1] == '0')
            le [--end] = 0;
        if (le [end - 1] == '.')
            le [--end] = 0;
        const char *labels [] = { "le", le, NULL };
        s_sample (out, "shic_ensure_duration_seconds_bucket", labels, (double) cumulative);
    }
    const char *labels [] = { "le", "+Inf", NULL };
    s_sample (out, "shic_ensure_duration_seconds_bucket", labels, (double) cumulative);
    s_sample (out, "shic_ensure_duration_seconds_count", NULL, (double) cumulative);
}

static void
s_pools (FILE *out, const shic_val_t *pools)
{
    static const struct {
        const char *field;          //  key of a pool in the resources op
        const char *name;           //  metric
        const char *help;           //  its help
    } s_fields [] = {
        { "capacity_bytes", "shic_pool_capacity_bytes", "Memory of the pool." },
        { "reserve_bytes", "shic_pool_reserve_bytes", "Memory of the pool kept for others." },
        { "reserved_bytes", "shic_pool_reserved_bytes", "Memory charged to instances that are starting." },
        { "used_bytes", "shic_pool_used_bytes", "Memory charged to running instances." },
        { "free_bytes", "shic_pool_free_bytes", "Memory placement may still give out." },
        { "measured_free_bytes", "shic_pool_measured_free_bytes", "Free memory as last measured." },
        { NULL, NULL, NULL }
    };
    for (int f = 0; s_fields [f].field; f++) {
        s_family (out, s_fields [f].name, "gauge", s_fields [f].help);
        for (size_t i = 0; i < shic_val_size (pools); i++) {
            const shic_val_t *pool = shic_val_at (pools, i);
            const shic_val_t *value = shic_val_get (pool, s_fields [f].field);
            if (!shic_val_is (value, SHIC_VAL_INT) && !shic_val_is (value, SHIC_VAL_FLOAT))
                continue;
            const char *labels [] = { "pool", shic_val_str (shic_val_get (pool, "pool")), NULL };
            s_sample (out, s_fields [f].name, labels, shic_val_float (value));
        }
    }
}

char *
shic_metrics_render (const shic_val_t *state, uint64_t evictions, size_t streams)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    if (!out)
        return NULL;
    const shic_val_t *stats = shic_val_get (state, "stats");
    const shic_val_t *resources = shic_val_get (state, "resources");

    s_scalar (out, "shic_requests_total", "counter", "Requests the gateway answered.",
              shic_val_float (shic_val_get (stats, "requests")));
    s_scalar (out, "shic_ensures_total", "counter", "ensure_endpoint requests.",
              shic_val_float (shic_val_get (stats, "ensures")));
    s_family (out, "shic_errors_total", "counter", "Error replies by error code.");
    const shic_val_t *errors = shic_val_get (stats, "errors");
    for (size_t i = 0; i < shic_val_size (errors); i++) {
        const char *labels [] = { "code", shic_val_key_at (errors, i), NULL };
        s_sample (out, "shic_errors_total", labels, shic_val_float (shic_val_at (errors, i)));
    }
    //  By op: the answers, and the errors by code
    const shic_val_t *by_op = shic_val_get (stats, "by_op");
    s_family (out, "shic_op_requests_total", "counter",
              "Requests answered, by op (\"-\": no readable op).");
    for (size_t i = 0; i < shic_val_size (by_op); i++) {
        const char *labels [] = { "op", shic_val_key_at (by_op, i), NULL };
        s_sample (out, "shic_op_requests_total", labels,
                  shic_val_float (shic_val_get (shic_val_at (by_op, i), "answered")));
    }
    s_family (out, "shic_op_errors_total", "counter", "Error replies by op and error code.");
    for (size_t i = 0; i < shic_val_size (by_op); i++) {
        const shic_val_t *op_errors = shic_val_get (shic_val_at (by_op, i), "errors");
        for (size_t k = 0; k < shic_val_size (op_errors); k++) {
            const char *labels [] = { "op", shic_val_key_at (by_op, i),
                                      "code", shic_val_key_at (op_errors, k), NULL };
            s_sample (out, "shic_op_errors_total", labels,
                      shic_val_float (shic_val_at (op_errors, k)));
        }
    }
    s_latency (out, shic_val_get (stats, "ensure_latency"));

    s_instances (out, shic_val_path (state, "instances/instances"));
    s_scalar (out, "shic_instances_started_total", "counter", "Instances started.",
              shic_val_float (shic_val_get (stats, "instances_started")));
    s_scalar (out, "shic_restarts_total", "counter", "Restarts of crashed instances.",
              shic_val_float (shic_val_get (stats, "restarts")));
    s_scalar (out, "shic_evictions_total", "counter",
              "Instances evicted for memory, as seen by this HTTP face since it started.",
              (double) evictions);

    s_scalar (out, "shic_leases", "gauge", "Leases held.",
              shic_val_float (shic_val_get (stats, "leases")));
    s_scalar (out, "shic_leases_granted_total", "counter", "Leases granted.",
              shic_val_float (shic_val_get (stats, "leases_granted")));
    s_scalar (out, "shic_lease_actors_idle", "gauge", "Lease actors ready for a lease.",
              shic_val_float (shic_val_get (stats, "lease_actors_idle")));

    s_pools (out, shic_val_get (resources, "pools"));
    const shic_val_t *placed = shic_val_get (resources, "instances");
    s_family (out, "shic_instance_footprint_bytes", "gauge",
              "Memory an instance is charged in its pool.");
    for (size_t i = 0; i < shic_val_size (placed); i++) {
        const shic_val_t *instance = shic_val_at (placed, i);
        const char *labels [] = {
            "instance_id", shic_val_str (shic_val_get (instance, "instance_id")),
            "pool", shic_val_str (shic_val_get (instance, "pool")),
            "source", shic_val_str (shic_val_get (instance, "footprint_source")), NULL };
        s_sample (out, "shic_instance_footprint_bytes", labels,
                  shic_val_float (shic_val_get (instance, "footprint_bytes")));
    }
    const shic_val_t *queue = shic_val_get (resources, "queue");
    s_scalar (out, "shic_queue_length", "gauge", "Starts waiting for memory.",
              (double) shic_val_size (queue));
    s_family (out, "shic_queue_wait_seconds", "gauge", "How long each queued start has waited.");
    for (size_t i = 0; i < shic_val_size (queue); i++) {
        const shic_val_t *item = shic_val_at (queue, i);
        const char *labels [] = {
            "instance_id", shic_val_str (shic_val_get (item, "instance_id")),
            "pool", shic_val_str (shic_val_get (item, "pool")), NULL };
        s_sample (out, "shic_queue_wait_seconds", labels,
                  shic_val_float (shic_val_get (item, "queued_ms")) / 1000.0);
    }
    s_scalar (out, "shic_http_event_streams", "gauge", "Server-sent event streams open.",
              (double) streams);
    if (fclose (out) != 0) {
        free (text);
        return NULL;
    }
    return text;
}
