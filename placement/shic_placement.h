/*  =========================================================================
    shic_placement - what fits in memory: a pure decision

    Given the memory pools, the instances that hold memory in them and the
    ensures that wait for memory, decides what to do now: start a waiter,
    evict idle instances for it, revoke preemptible leases for it, keep it
    waiting, or refuse it because it can never fit. A pure function of its
    inputs (no clock, no sockets), so tests drive it without actors, and
    the gateway re-runs it whenever memory or leases change.

    The rules (issue 12, placement-and-cluster.md A4):
    - Waiters are served by priority, then arrival, per pool. The head of a
      pool may evict or preempt; a later waiter may start only in what is
      free beyond the head's need, so it never delays the head.
    - Only an instance with no live lease, not pinned and not starting or
      stopping is evicted; among those, the set with the lowest cost that
      covers the shortfall (up to 16 candidates exactly, greedily beyond).
    - Memory of an instance being stopped counts as free only once it is
      reaped (the caller takes it out of the instances then); until then a
      waiter that it would cover waits without evicting more.
    - Leases block. A waiter blocked only by preemptible leases whose
      holders it outranks revokes them (and the instance is evicted).
    - A waiter that needs more than its pool's capacity minus its reserve
      and the pinned instances never fits.
    =========================================================================
*/

#ifndef SHIC_PLACEMENT_H_INCLUDED
#define SHIC_PLACEMENT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  A memory pool
typedef struct {
    const char *name;               //  pool name ("gpu0", "ram")
    uint64_t capacity;              //  bytes usable: capacity minus reserve
    uint64_t free;                  //  free now, never optimistic (the
                                    //  footprints of every instance below
                                    //  already taken out)
} shic_place_pool_t;

//  An instance that holds memory in a pool
typedef struct {
    const char *id;                 //  instance id
    const char *pool;               //  the pool it lives in
    uint64_t footprint;             //  bytes it holds
    bool pinned;                    //  never evicted
    bool starting;                  //  loading: not evicted
    bool stopping;                  //  being stopped: its memory comes back
    size_t leases;                  //  live leases
    size_t preemptible;             //  of which preemptible
    int lease_priority;             //  highest priority among its holders
    uint64_t cost;                  //  what evicting it costs (reload time,
                                    //  recency); lower goes first
} shic_place_instance_t;

//  An ensure waiting for memory
typedef struct {
    const char *pool;               //  the pool it needs
    uint64_t need;                  //  bytes
    int priority;                   //  higher first
    uint64_t arrival;               //  order of arrival, lower first
} shic_place_waiter_t;

typedef enum {
    SHIC_PLACE_WAIT,                //  keep waiting (blocked by leases, or
                                    //  for memory being freed)
    SHIC_PLACE_START,               //  start it now (memory is reserved)
    SHIC_PLACE_EVICT,               //  stop the victims (no leases), then wait
    SHIC_PLACE_PREEMPT,             //  revoke the victims' leases, evict them
    SHIC_PLACE_NEVER                //  it cannot fit: answer at once
} shic_place_action_t;

#define SHIC_PLACE_EXACT 16         //  candidates searched exactly

//  What to do for one waiter
typedef struct {
    shic_place_action_t action;     //  what to do
    size_t *victims;                //  EVICT, PREEMPT: instance indexes (owned)
    size_t victim_count;            //  how many
    size_t position;                //  its place in its pool's queue, from 1
    uint64_t pinned;                //  bytes pinned in its pool (NEVER)
} shic_place_decision_t;

//  Decides for every waiter; decisions [i] is for waiters [i] (the caller
//  provides waiter_count of them and frees them with
//  shic_placement_decisions_reset). An instance appears in at most one
//  decision's victims. Pools named by no pool entry count as capacity 0.
void shic_placement_decide (const shic_place_pool_t *pools, size_t pool_count,
                            const shic_place_instance_t *instances, size_t instance_count,
                            const shic_place_waiter_t *waiters, size_t waiter_count,
                            shic_place_decision_t *decisions);
void shic_placement_decisions_reset (shic_place_decision_t *decisions, size_t count);

//  The name of an action
const char *shic_place_action_name (shic_place_action_t action);

void shic_placement_test (bool verbose);

#endif
