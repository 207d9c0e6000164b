/*  =========================================================================
    shic_stats - the gateway's counters: requests, errors, ensure latency

    Cheap to keep (a few increments per request), read by the stats op.
    =========================================================================
*/

#ifndef SHIC_STATS_H_INCLUDED
#define SHIC_STATS_H_INCLUDED

#include "shic.h"

typedef struct _shic_stats_t shic_stats_t;

shic_stats_t *shic_stats_new (void);
void shic_stats_destroy (shic_stats_t **self_p);

//  A request was decoded; an ensure_endpoint came in; an instance actor
//  was asked for
void shic_stats_request (shic_stats_t *self);
void shic_stats_ensure (shic_stats_t *self);
void shic_stats_instance_started (shic_stats_t *self);
uint64_t shic_stats_instances_started (shic_stats_t *self);
//  An error reply with this code went out
void shic_stats_error (shic_stats_t *self, const char *code);
//  An ensure that began at started_us (zclock_usecs) was answered now
void shic_stats_latency (shic_stats_t *self, int64_t started_us);

//  A request for op was answered (op NULL: it had no known op), with the
//  error code of its reply (NULL: ok). Ops are counted by name, so pass
//  only names of the gateway's op table.
void shic_stats_answered (shic_stats_t *self, const char *op, const char *code);
//  {op: {answered, errors: {code: count}}} of every op answered; fresh
shic_val_t *shic_stats_by_op (shic_stats_t *self);

//  Adds {requests, ensures, errors: {code: count}} to map
void shic_stats_counts (shic_stats_t *self, shic_val_t *map);
//  The ensure latency histogram {le_<2^i>_us: count}; fresh
shic_val_t *shic_stats_histogram (shic_stats_t *self);

void shic_stats_test (bool verbose);

#endif
