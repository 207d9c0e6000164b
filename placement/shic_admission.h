/*  =========================================================================
    shic_admission - what a start needs, and the starts waiting for memory

    The placement room of a runtime, owned by the gateway and used from its
    thread. It knows the memory pools (shic_pools), works out what each
    start needs (its footprint: declared, learned from an earlier load, or
    estimated from the GGUF header), and keeps the starts that wait for
    memory. Whenever memory or leases change it asks the pure decision
    (shic_placement) what to do, and does it through the gateway's effects:
    start a waiting model, stop idle instances to make room, revoke
    preemptible leases after their grace, or answer waiters that can never
    fit or waited too long.

    Accounting: a start is charged to its pool when it is started and
    uncharged once its process is reaped (shic_admission_reaped); a ready
    server's own buffer lines replace the estimate and are remembered for
    the next load of the same file and settings.
    =========================================================================
*/

#ifndef SHIC_ADMISSION_H_INCLUDED
#define SHIC_ADMISSION_H_INCLUDED

#include "shic.h"
#include "shic_kernel.h"
#include "shic_events.h"
#include "shic_registry.h"
#include "shic_pools.h"

//  What one start needs
typedef struct {
    char pool [40];                 //  the pool it lives in
    uint64_t bytes;                 //  its footprint, 0 when not counted
    const char *source;             //  "declared", "learned", "estimated";
                                    //  NULL when its memory is not counted
    int priority;                   //  its default priority
    bool pinned;                    //  never evicted
    char *learn_key;                //  what its buffers are learned as, or NULL
} shic_need_t;

//  A start waiting for memory
typedef struct {
    char *key;                      //  the instance key it starts
    shic_val_t *plan;               //  its resolved plan, owned
    shic_need_t need;               //  what it needs
    int priority;                   //  the highest priority of its waiters
    uint64_t arrival;               //  order of arrival
    int64_t queued_at;              //  monotonic, when it began to wait
    zlistx_t *waiters;              //  the gateway's waiters on it, owned
    shic_val_t *evicted;            //  ids of the instances stopped for it
    size_t position;                //  its position when last published
} shic_pending_t;

//  The leases of an instance, as placement sees them
typedef struct {
    size_t leases;                  //  live leases
    size_t preemptible;             //  of which preemptible
    int priority;                   //  highest priority among the holders
    int64_t earliest_expiry_ms;     //  wall clock, 0 = none expires
    shic_val_t *owners;             //  owner_refs (fresh array), when asked
} shic_holders_t;

//  What the gateway does for placement
typedef struct {
    //  Start a pending model now: claim its record (charge it with
    //  shic_admission_placed), move its waiters there, spawn its actor.
    //  pending is removed after.
    void (*start) (void *arg, shic_pending_t *pending);
    //  Stop an instance (to make room)
    void (*stop) (void *arg, shic_record_t *record);
    //  Tell the holders of an instance's leases that they are revoked
    //  after grace_ms (lease.revoking), or end them now (preempted)
    void (*revoking) (void *arg, shic_record_t *record, int64_t grace_ms);
    void (*revoke) (void *arg, shic_record_t *record);
    //  The leases of an instance; owners only when want_owners
    void (*holders) (void *arg, shic_record_t *record, bool want_owners, shic_holders_t *out);
    //  Answer (and destroy) one waiter with err
    void (*fail) (void *arg, void *waiter, const shic_error_t *err);
} shic_admission_effects_t;

typedef struct _shic_admission_t shic_admission_t;

//  pools, registry and events are borrowed; waiters parked on pending
//  starts are destroyed with waiter_destructor
shic_admission_t *shic_admission_new (shic_pools_t *pools, shic_registry_t *registry,
                                      shic_events_t *events, const shic_settings_t *settings,
                                      zlistx_destructor_fn *waiter_destructor,
                                      const shic_admission_effects_t *effects, void *arg);
void shic_admission_destroy (shic_admission_t **self_p);

//  What a normalized plan needs (its "resources"). Returns 0 (need->source
//  NULL when its memory is not counted: no resources, or a model file that
//  cannot be read, logged once), or -1 with err (a declared size that does
//  not parse, an unknown pool). Free with shic_need_reset.
int shic_admission_need (shic_admission_t *self, const shic_val_t *plan, shic_need_t *need,
                         shic_error_t *err);
void shic_need_reset (shic_need_t *need);

//  The pending start of an instance key, or NULL
shic_pending_t *shic_admission_pending (shic_admission_t *self, const char *key);
//  A new pending start for a plan (taken) that needs need (taken); NULL
//  with err set when it can never fit (insufficient_resources) or the queue
//  is full (queue_full). The caller parks its waiter, then runs.
shic_pending_t *shic_admission_enqueue (shic_admission_t *self, shic_val_t **plan_p,
                                        shic_need_t *need, int priority, shic_error_t *err);
//  True with err set (queue_full) when max_queue ensures wait for memory
bool shic_admission_full (shic_admission_t *self, shic_error_t *err);
//  A waiter joined pending with priority
void shic_admission_joined (shic_admission_t *self, shic_pending_t *pending, int priority);

//  A record was started for need: it is charged to its pool
void shic_admission_placed (shic_admission_t *self, shic_record_t *record, shic_need_t *need);
//  The record's process is gone: its memory is free again
void shic_admission_reaped (shic_admission_t *self, shic_record_t *record);
//  A ready server reported its buffers {device_bytes, host_bytes}: they
//  replace the estimate and are remembered for the next load
void shic_admission_measured (shic_admission_t *self, shic_record_t *record,
                              const shic_val_t *measured);
//  The estimate a failed start was charged with, for its error
uint64_t shic_admission_estimate (shic_record_t *record);

//  Decides and acts: starts what fits, makes room, preempts, answers what
//  can never fit; publishes ensure.queued for positions that changed
void shic_admission_run (shic_admission_t *self);
//  Waiters past their deadline get capacity (limit memory); revocations
//  whose grace ended are carried out. Returns the monotonic time of the
//  next, or -1.
int64_t shic_admission_timers (shic_admission_t *self, int64_t now);
//  Ends every pending start (shutting down): its waiters get err
void shic_admission_drain (shic_admission_t *self, const shic_error_t *err);
//  A client is gone: its waiters leave the queue unanswered, and a
//  pending start nobody waits for any more goes. Returns how many left.
size_t shic_admission_client_gone (shic_admission_t *self, const char *client);

//  The resources op: {pools, instances: [{instance_id, pool,
//  footprint_bytes, footprint_source, pinned}], queue: [{instance_id,
//  pool, need_bytes, priority, position, waiters, queued_ms}]}; fresh
shic_val_t *shic_admission_resources (shic_admission_t *self);

void shic_admission_test (bool verbose);

#endif
