/*  =========================================================================
    shic_placement - what fits in memory: a pure decision
    =========================================================================
*/

#include "shic_placement.h"
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  A leased instance costs more to take than any idle one: preemption
//  revokes leases only where idle instances do not cover the shortfall
#define LEASED_PENALTY ((uint64_t) 1 << 48)

typedef struct {
    uint64_t free;                  //  free for the waiters still to decide
    uint64_t incoming;              //  footprints of instances being stopped
    uint64_t pinned;                //  footprints of pinned instances
    size_t queued;                  //  waiters decided so far
    bool head_blocked;              //  a waiter ahead waits for memory
} s_pool_state_t;

typedef struct {
    size_t index;                   //  instance index
    uint64_t bytes;                 //  its footprint
    uint64_t cost;                  //  its cost (with the lease penalty)
} s_candidate_t;

const char *
shic_place_action_name (shic_place_action_t action)
{
    switch (action) {
        case SHIC_PLACE_WAIT:    return "wait";
        case SHIC_PLACE_START:   return "start";
        case SHIC_PLACE_EVICT:   return "evict";
        case SHIC_PLACE_PREEMPT: return "preempt";
        case SHIC_PLACE_NEVER:   return "never";
    }
    return "?";
}

static int
s_by_cost (const void *a, const void *b)
{
    const s_candidate_t *x = (const s_candidate_t *) a;
    const s_candidate_t *y = (const s_candidate_t *) b;
    if (x->cost != y->cost)
        return x->cost < y->cost? -1: 1;
    return x->index < y->index? -1: x->index > y->index;
}

//  The cheapest set of candidates whose bytes cover need: exact over the
//  SHIC_PLACE_EXACT cheapest, else greedily by cost. Returns the count
//  chosen into chosen (candidate positions), 0 when they cannot cover it.
static size_t
s_cover (s_candidate_t *candidates, size_t count, uint64_t need, size_t *chosen)
{
    uint64_t total = 0;
    for (size_t i = 0; i < count; i++)
        total += candidates [i].bytes;
    if (total < need || count == 0)
        return 0;
    qsort (candidates, count, sizeof (s_candidate_t), s_by_cost);
    if (count <= SHIC_PLACE_EXACT) {
        uint32_t best = 0;
        uint64_t best_cost = UINT64_MAX;
        int best_size = 0;
        for (uint32_t set = 1; set < (1u << count); set++) {
            uint64_t bytes = 0, cost = 0;
            int size = 0;
            for (size_t i = 0; i < count; i++)
                if (set & (1u << i)) {
                    bytes += candidates [i].bytes;
                    cost += candidates [i].cost;
                    size++;
                }
            if (bytes >= need
            && (cost < best_cost || (cost == best_cost && size < best_size))) {
                best = set;
                best_cost = cost;
                best_size = size;
            }
        }
        size_t n = 0;
        for (size_t i = 0; i < count; i++)
            if (best & (1u << i))
                chosen [n++] = i;
        return n;
    }
    size_t n = 0;
    uint64_t bytes = 0;
    for (size_t i = 0; i < count && bytes < need; i++) {
        chosen [n++] = i;
        bytes += candidates [i].bytes;
    }
    return n;
}

static size_t
s_pool_index (const shic_place_pool_t *pools, size_t pool_count, const char *name)
{
    for (size_t i = 0; i < pool_count; i++)
        if (name && pools [i].name && strcmp (pools [i].name, name) == 0)
            return i;
    return pool_count;
}

//  Waiter order: priority (higher first), then arrival
static const shic_place_waiter_t *s_sort_waiters;

static int
s_by_turn (const void *a, const void *b)
{
    const shic_place_waiter_t *x = &s_sort_waiters [*(const size_t *) a];
    const shic_place_waiter_t *y = &s_sort_waiters [*(const size_t *) b];
    if (x->priority != y->priority)
        return x->priority > y->priority? -1: 1;
    return x->arrival < y->arrival? -1: x->arrival > y->arrival;
}

//  The head of a pool does not fit: evict idle instances, or revoke
//  preemptible leases it outranks, or wait
static void
s_decide_head (const shic_place_instance_t *instances, size_t instance_count,
               const shic_place_waiter_t *waiter, size_t pool, const shic_place_pool_t *pools,
               size_t pool_count, s_pool_state_t *state, bool *taken,
               shic_place_decision_t *decision)
{
    uint64_t shortfall = waiter->need - state->free;
    state->free = 0;                //  what is free is the head's
    if (state->incoming >= shortfall) {
        state->incoming -= shortfall;
        return;                     //  memory being freed covers it: wait
    }
    shortfall -= state->incoming;
    state->incoming = 0;
    s_candidate_t *candidates = (s_candidate_t *) calloc (instance_count + 1, sizeof (s_candidate_t));
    size_t *chosen = (size_t *) calloc (instance_count + 1, sizeof (size_t));
    assert (candidates && chosen);
    for (int preempt = 0; preempt < 2 && decision->action == SHIC_PLACE_WAIT; preempt++) {
        size_t count = 0;
        for (size_t i = 0; i < instance_count; i++) {
            const shic_place_instance_t *instance = &instances [i];
            if (taken [i] || instance->pinned || instance->starting || instance->stopping
            ||  s_pool_index (pools, pool_count, instance->pool) != pool)
                continue;
            bool idle = instance->leases == 0;
            bool revocable = preempt && !idle && instance->preemptible == instance->leases
                          && instance->lease_priority < waiter->priority;
            if (idle || revocable)
                candidates [count++] = (s_candidate_t) {
                    i, instance->footprint, instance->cost + (idle? 0: LEASED_PENALTY) };
        }
        size_t n = s_cover (candidates, count, shortfall, chosen);
        if (n == 0)
            continue;
        decision->victims = (size_t *) calloc (n, sizeof (size_t));
        assert (decision->victims);
        bool revokes = false;
        for (size_t k = 0; k < n; k++) {
            size_t index = candidates [chosen [k]].index;
            decision->victims [k] = index;
            taken [index] = true;
            revokes |= instances [index].leases > 0;
        }
        decision->victim_count = n;
        decision->action = revokes? SHIC_PLACE_PREEMPT: SHIC_PLACE_EVICT;
    }
    free (candidates);
    free (chosen);
}

void
shic_placement_decide (const shic_place_pool_t *pools, size_t pool_count,
                       const shic_place_instance_t *instances, size_t instance_count,
                       const shic_place_waiter_t *waiters, size_t waiter_count,
                       shic_place_decision_t *decisions)
{
    s_pool_state_t *state = (s_pool_state_t *) calloc (pool_count + 1, sizeof (s_pool_state_t));
    bool *taken = (bool *) calloc (instance_count + 1, sizeof (bool));
    size_t *order = (size_t *) calloc (waiter_count + 1, sizeof (size_t));
    assert (state && taken && order);
    for (size_t p = 0; p < pool_count; p++)
        state [p].free = pools [p].free;
    for (size_t i = 0; i < instance_count; i++) {
        size_t p = s_pool_index (pools, pool_count, instances [i].pool);
        if (instances [i].pinned)
            state [p].pinned += instances [i].footprint;
        if (instances [i].stopping)
            state [p].incoming += instances [i].footprint;
    }
    for (size_t w = 0; w < waiter_count; w++) {
        order [w] = w;
        decisions [w] = (shic_place_decision_t) { SHIC_PLACE_WAIT, NULL, 0, 0, 0 };
    }
    s_sort_waiters = waiters;
    qsort (order, waiter_count, sizeof (size_t), s_by_turn);

    for (size_t k = 0; k < waiter_count; k++) {
        const shic_place_waiter_t *waiter = &waiters [order [k]];
        shic_place_decision_t *decision = &decisions [order [k]];
        size_t p = s_pool_index (pools, pool_count, waiter->pool);
        uint64_t capacity = p < pool_count? pools [p].capacity: 0;
        decision->pinned = state [p].pinned;
        decision->position = ++state [p].queued;
        if (waiter->need > capacity || waiter->need > capacity - state [p].pinned)
            decision->action = SHIC_PLACE_NEVER;
        else
        if (waiter->need <= state [p].free && !state [p].head_blocked) {
            decision->action = SHIC_PLACE_START;
            state [p].free -= waiter->need;
        }
        else
        if (!state [p].head_blocked) {
            state [p].head_blocked = true;
            s_decide_head (instances, instance_count, waiter, p, pools, pool_count,
                           &state [p], taken, decision);
        }
        //  else: behind a blocked head, it waits
    }
    free (state);
    free (taken);
    free (order);
}

void
shic_placement_decisions_reset (shic_place_decision_t *decisions, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free (decisions [i].victims);
        decisions [i].victims = NULL;
        decisions [i].victim_count = 0;
    }
}

//  --------------------------------------------------------------------------

#define GIB ((uint64_t) 1 << 30)

void
shic_placement_test (bool verbose)
{
    (void) verbose;
    printf (" * shic_placement: ");
    shic_place_pool_t pools [] = { { "gpu0", 24 * GIB, 4 * GIB }, { "ram", 64 * GIB, 64 * GIB } };
    shic_place_decision_t d [4];

    //  Fits: start, and what it takes is gone for the next
    shic_place_waiter_t fits [] = { { "gpu0", 3 * GIB, 0, 1 }, { "gpu0", 3 * GIB, 0, 2 } };
    shic_placement_decide (pools, 2, NULL, 0, fits, 2, d);
    assert (d [0].action == SHIC_PLACE_START && d [0].position == 1);
    assert (d [1].action == SHIC_PLACE_WAIT && d [1].position == 2);
    shic_placement_decisions_reset (d, 2);

    //  Evict the cheapest idle set that covers the shortfall; never a
    //  leased, pinned or starting one
    shic_place_instance_t held [] = {
        { "a", "gpu0", 6 * GIB, false, false, false, 0, 0, 0, 30 },   //  idle, dear
        { "b", "gpu0", 4 * GIB, false, false, false, 0, 0, 0, 10 },   //  idle, cheap
        { "c", "gpu0", 4 * GIB, false, false, false, 0, 0, 0, 12 },   //  idle, cheap
        { "d", "gpu0", 5 * GIB, false, false, false, 2, 0, 5, 1 },    //  leased
        { "e", "gpu0", 3 * GIB, true,  false, false, 0, 0, 0, 0 },    //  pinned
        { "f", "gpu0", 2 * GIB, false, true,  false, 0, 0, 0, 0 },    //  starting
        { "g", "ram",  9 * GIB, false, false, false, 0, 0, 0, 0 },    //  other pool
    };
    shic_place_waiter_t big [] = { { "gpu0", 12 * GIB, 0, 1 } };
    shic_placement_decide (pools, 2, held, 7, big, 1, d);
    //  shortfall 8 GiB: b+c (cost 22) beats a+b (40)
    assert (d [0].action == SHIC_PLACE_EVICT && d [0].victim_count == 2);
    assert ((d [0].victims [0] == 1 && d [0].victims [1] == 2)
         || (d [0].victims [0] == 2 && d [0].victims [1] == 1));
    shic_placement_decisions_reset (d, 1);

    //  Leases block: the shortfall is more than the idle ones cover
    shic_place_waiter_t huge [] = { { "gpu0", 19 * GIB, 0, 1 }, { "gpu0", 1 * GIB, 0, 2 } };
    shic_placement_decide (pools, 2, held, 7, huge, 2, d);
    assert (d [0].action == SHIC_PLACE_WAIT);
    //  ... and a later, smaller one does not take what the head needs
    assert (d [1].action == SHIC_PLACE_WAIT && d [1].position == 2);
    shic_placement_decisions_reset (d, 2);

    //  Preemptible leases the waiter outranks are revoked; idle ones go
    //  first
    held [3].preemptible = 2;
    //  (shortfall 15 GiB: d with a and b, the cheapest set that covers it)
    shic_place_waiter_t urgent [] = { { "gpu0", 19 * GIB, 9, 1 } };
    shic_placement_decide (pools, 2, held, 7, urgent, 1, d);
    assert (d [0].action == SHIC_PLACE_PREEMPT && d [0].victim_count == 3);
    shic_placement_decisions_reset (d, 1);
    //  ... but not by a waiter of lower or equal priority
    urgent [0].priority = 5;
    shic_placement_decide (pools, 2, held, 7, urgent, 1, d);
    assert (d [0].action == SHIC_PLACE_WAIT);
    shic_placement_decisions_reset (d, 1);

    //  Bigger than the pool minus the pinned: never
    shic_place_waiter_t never [] = { { "gpu0", 22 * GIB, 0, 1 }, { "nope", 1, 0, 2 } };
    shic_placement_decide (pools, 2, held, 7, never, 2, d);
    assert (d [0].action == SHIC_PLACE_NEVER && d [0].pinned == 3 * GIB);
    assert (d [1].action == SHIC_PLACE_NEVER);
    shic_placement_decisions_reset (d, 2);

    //  Memory being freed covers the head: it waits, evicting nothing more
    held [0].stopping = true;
    shic_place_waiter_t next [] = { { "gpu0", 9 * GIB, 0, 1 } };
    shic_placement_decide (pools, 2, held, 7, next, 1, d);
    assert (d [0].action == SHIC_PLACE_WAIT && d [0].victim_count == 0);
    held [0].stopping = false;
    shic_placement_decisions_reset (d, 1);

    //  Priority first, then arrival; each pool has its own queue
    shic_place_waiter_t queue [] = {
        { "gpu0", 3 * GIB, 0, 1 }, { "gpu0", 3 * GIB, 5, 2 }, { "ram", 1 * GIB, 0, 3 },
        { "gpu0", 1 * GIB, 0, 4 } };
    shic_placement_decide (pools, 2, NULL, 0, queue, 4, d);
    assert (d [1].action == SHIC_PLACE_START && d [1].position == 1);
    assert (d [0].action == SHIC_PLACE_WAIT && d [0].position == 2);
    assert (d [2].action == SHIC_PLACE_START && d [2].position == 1);
    assert (d [3].action == SHIC_PLACE_WAIT && d [3].position == 3);
    shic_placement_decisions_reset (d, 4);

    //  More than SHIC_PLACE_EXACT candidates: greedy by cost, still covers
    shic_place_instance_t many [40];
    for (int i = 0; i < 40; i++)
        many [i] = (shic_place_instance_t) { "x", "ram", GIB / 2, false, false, false, 0, 0, 0,
                                             (uint64_t) (40 - i) };
    shic_place_pool_t full [] = { { "ram", 20 * GIB, 0 } };
    shic_place_waiter_t ten [] = { { "ram", 3 * GIB, 0, 1 } };
    shic_placement_decide (full, 1, many, 40, ten, 1, d);
    assert (d [0].action == SHIC_PLACE_EVICT && d [0].victim_count == 6);
    for (size_t k = 0; k < 6; k++)
        assert (d [0].victims [k] >= 34);       //  the cheapest six
    shic_placement_decisions_reset (d, 1);
    assert (strcmp (shic_place_action_name (SHIC_PLACE_PREEMPT), "preempt") == 0);
    printf ("OK\n");
}
