/*  =========================================================================
    shic_stats - the gateway's counters: requests, errors, ensure latency
    =========================================================================
*/

#include "shic_stats.h"

#define LATENCY_BUCKETS 24          //  powers of two of microseconds
#define ERROR_CODES     32          //  room for the error table

//  The answers of one op
typedef struct {
    uint64_t answered;              //  replies sent
    uint64_t errors [ERROR_CODES];  //  error replies by code index
} s_op_t;

struct _shic_stats_t {
    zhashx_t *ops;                  //  op name (or "-") -> s_op_t
    uint64_t requests;              //  requests decoded
    uint64_t ensures;               //  ensure_endpoint requests
    uint64_t instances_started;     //  instance actors asked for
    uint64_t errors [ERROR_CODES];  //  errors by index in shic_error_codes
    uint64_t latency [LATENCY_BUCKETS]; //  ensure latency histogram
};

shic_stats_t *
shic_stats_new (void)
{
    shic_stats_t *self = (shic_stats_t *) zmalloc (sizeof (shic_stats_t));
    self->ops = zhashx_new ();
    zhashx_set_destructor (self->ops, (zhashx_destructor_fn *) zstr_free);
    return self;
}

void
shic_stats_destroy (shic_stats_t **self_p)
{
    if (*self_p) {
        zhashx_destroy (&(*self_p)->ops);
        free (*self_p);
        *self_p = NULL;
    }
}

//  The index of a code in shic_error_codes, or -1
static int
s_code_index (const char *code)
{
    for (int i = 0; shic_error_codes [i] && i < ERROR_CODES; i++)
        if (streq (shic_error_codes [i], code))
            return i;
    return -1;
}

void
shic_stats_answered (shic_stats_t *self, const char *op, const char *code)
{
    const char *key = op? op: "-";
    s_op_t *counts = (s_op_t *) zhashx_lookup (self->ops, key);
    if (!counts) {
        counts = (s_op_t *) zmalloc (sizeof (s_op_t));
        zhashx_insert (self->ops, key, counts);
    }
    counts->answered++;
    int index = code? s_code_index (code): -1;
    if (index >= 0)
        counts->errors [index]++;
}

shic_val_t *
shic_stats_by_op (shic_stats_t *self)
{
    shic_val_t *by_op = shic_val_new_map ();
    for (s_op_t *counts = (s_op_t *) zhashx_first (self->ops); counts;
         counts = (s_op_t *) zhashx_next (self->ops)) {
        shic_val_t *item = shic_val_new_map ();
        shic_val_set_int (item, "answered", (int64_t) counts->answered);
        shic_val_t *errors = shic_val_new_map ();
        for (int i = 0; shic_error_codes [i] && i < ERROR_CODES; i++)
            if (counts->errors [i])
                shic_val_set_int (errors, shic_error_codes [i], (int64_t) counts->errors [i]);
        shic_val_set (item, "errors", &errors);
        shic_val_set (by_op, (const char *) zhashx_cursor (self->ops), &item);
    }
    return by_op;
}

void
shic_stats_request (shic_stats_t *self)
{
    self->requests++;
}

void
shic_stats_ensure (shic_stats_t *self)
{
    self->ensures++;
}

void
shic_stats_instance_started (shic_stats_t *self)
{
    self->instances_started++;
}

uint64_t
shic_stats_instances_started (shic_stats_t *self)
{
    return self->instances_started;
}

void
shic_stats_error (shic_stats_t *self, const char *code)
{
    int index = s_code_index (code);
    if (index >= 0)
        self->errors [index]++;
}

void
shic_stats_latency (shic_stats_t *self, int64_t started_us)
{
    int64_t us = zclock_usecs () - started_us;
    int bucket = 0;
    while (bucket < LATENCY_BUCKETS - 1 && (1LL << bucket) < us)
        bucket++;
    self->latency [bucket]++;
}

void
shic_stats_counts (shic_stats_t *self, shic_val_t *map)
{
    shic_val_set_int (map, "requests", (int64_t) self->requests);
    shic_val_set_int (map, "ensures", (int64_t) self->ensures);
    shic_val_t *errors = shic_val_new_map ();
    for (int i = 0; shic_error_codes [i] && i < ERROR_CODES; i++)
        if (self->errors [i])
            shic_val_set_int (errors, shic_error_codes [i], (int64_t) self->errors [i]);
    shic_val_set (map, "errors", &errors);
}

shic_val_t *
shic_stats_histogram (shic_stats_t *self)
{
    shic_val_t *histogram = shic_val_new_map ();
    for (int i = 0; i < LATENCY_BUCKETS; i++)
        if (self->latency [i]) {
            char key [32];
            snprintf (key, sizeof (key), "le_%lld_us", 1LL << i);
            shic_val_set_int (histogram, key, (int64_t) self->latency [i]);
        }
    return histogram;
}

//  --------------------------------------------------------------------------

void
shic_stats_test (bool verbose)
{
    (void) verbose;
    printf (" * shic_stats: ");
    shic_stats_t *stats = shic_stats_new ();
    shic_stats_request (stats);
    shic_stats_request (stats);
    shic_stats_ensure (stats);
    shic_stats_error (stats, SHIC_E_CAPACITY);
    shic_stats_error (stats, SHIC_E_CAPACITY);
    shic_stats_error (stats, "not a code");
    shic_stats_latency (stats, zclock_usecs () + 1000000);     //  clock skew: bucket 0
    shic_stats_instance_started (stats);
    assert (shic_stats_instances_started (stats) == 1);
    shic_val_t *map = shic_val_new_map ();
    shic_stats_counts (stats, map);
    assert (shic_val_int (shic_val_get (map, "requests")) == 2);
    assert (shic_val_int (shic_val_get (map, "ensures")) == 1);
    assert (shic_val_int (shic_val_path (map, "errors/capacity")) == 2);
    assert (shic_val_size (shic_val_get (map, "errors")) == 1);
    shic_val_destroy (&map);
    shic_val_t *histogram = shic_stats_histogram (stats);
    assert (shic_val_int (shic_val_get (histogram, "le_1_us")) == 1);
    shic_val_destroy (&histogram);
    //  By op: answers, and errors by code
    shic_stats_answered (stats, "ping", NULL);
    shic_stats_answered (stats, "ensure_endpoint", SHIC_E_CAPACITY);
    shic_stats_answered (stats, "ensure_endpoint", NULL);
    shic_stats_answered (stats, NULL, SHIC_E_MALFORMED);
    shic_val_t *by_op = shic_stats_by_op (stats);
    assert (shic_val_int (shic_val_path (by_op, "ensure_endpoint/answered")) == 2);
    assert (shic_val_int (shic_val_path (by_op, "ensure_endpoint/errors/capacity")) == 1);
    assert (shic_val_size (shic_val_path (by_op, "ping/errors")) == 0);
    assert (shic_val_int (shic_val_path (by_op, "-/errors/malformed")) == 1);
    shic_val_destroy (&by_op);
    shic_stats_destroy (&stats);
    assert (stats == NULL);
    printf ("OK\n");
}
