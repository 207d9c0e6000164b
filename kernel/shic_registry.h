/*  =========================================================================
    shic_registry - what the gateway knows: backends, instances, resolutions

    The registry of a runtime, owned by the gateway and used from its
    thread only. It holds the registered backends (ops, state, manifest),
    a record per runtime instance (status, health, endpoint, leases,
    parked waiters), and the warm-path memo of resolved requests. An
    instance's lifecycle status changes only through
    shic_registry_set_status, which also publishes the event of the new
    status, so a status and its event cannot drift apart.
    =========================================================================
*/

#ifndef SHIC_REGISTRY_H_INCLUDED
#define SHIC_REGISTRY_H_INCLUDED

#include "shic.h"
#include "shic_events.h"

//  Lifecycle of an instance (contract.md §6)
typedef enum {
    SHIC_LIFECYCLE_STARTING,
    SHIC_LIFECYCLE_READY,
    SHIC_LIFECYCLE_RESTARTING,
    SHIC_LIFECYCLE_STOPPING,
    SHIC_LIFECYCLE_STOPPED,
    SHIC_LIFECYCLE_FAILED
} shic_lifecycle_t;

//  The wire string of a status (SHIC_STATUS_*)
const char *shic_lifecycle_name (shic_lifecycle_t status);

//  A registered backend
typedef struct {
    char *name;                     //  backend id
    const shic_backend_ops_t *ops;  //  ops table, borrowed
    void *state;                    //  the backend's state, borrowed
    shic_val_t *manifest;           //  normalized manifest, owned
    zconfig_t *config;              //  its configuration section, borrowed, or NULL
} shic_backend_entry_t;

//  The record of one runtime instance. The gateway reads and writes its
//  fields; the status only through shic_registry_set_status.
typedef struct {
    int seq;                        //  number, bus routing id "I<seq>"
    char *id;                       //  instance id (= instance_key)
    char *backend;                  //  backend id
    char *starter;                  //  client key of the network ensure that
                                    //  created it, or NULL (the host's)
    shic_val_t *plan;               //  normalized plan
    bool spawned;                   //  startup kind is spawned
    bool actor_live;                //  its actor has not finished
    bool stop_owed;                 //  a STOP found its actor not yet on the
                                    //  bus: sent when it first speaks
    shic_lifecycle_t status;        //  lifecycle status
    const char *health;             //  health status (static SHIC_HEALTH_* string)
    shic_val_t *endpoint;           //  endpoint, once ready
    int64_t inserted_at_ms;         //  wall clock
    int64_t ready_at_ms;            //  wall clock, 0 before ready
    int restarts;                   //  restarts so far
    shic_val_t *last_exit;          //  last exit map, or NULL
    int pid;                        //  spawned process id, 0 when none
    size_t lease_count;             //  live leases
    zlistx_t *waiters;              //  the gateway's waiters parked on it (owned)
    int64_t idle_at;                //  monotonic idle stop time, 0 = none
    int64_t retire_at;              //  monotonic time a tombstone goes, 0 = none
    shic_error_t error;             //  what a failed instance answers
    //  Placement (placement/shic_admission), when its memory is counted
    char *pool;                     //  the memory pool it is charged to, or NULL
    uint64_t footprint;             //  bytes charged to the pool
    const char *footprint_source;   //  "declared", "learned" or "estimated"
    char *learn_key;                //  what its measured buffers are learned as
    int priority;                   //  its default priority
    bool pinned;                    //  never evicted
    bool evicting;                  //  being evicted or preempted
    int64_t last_used;              //  monotonic; its last lease began or ended
    const char *stop_reason;        //  static: why it was asked to stop, NULL = requested
} shic_record_t;

typedef struct _shic_registry_t shic_registry_t;

//  events is borrowed; waiters parked on records are destroyed with
//  waiter_destructor when a record goes
shic_registry_t *shic_registry_new (shic_events_t *events,
                                    zlistx_destructor_fn *waiter_destructor);
void shic_registry_destroy (shic_registry_t **self_p);
//  Instance ids (the plans' instance keys) start with prefix from now on
//  (a clustered node's "<node>.", guides/cluster.md); NULL: none
void shic_registry_set_id_prefix (shic_registry_t *self, const char *prefix);

//  Backends

//  Registers a backend (replacing one of the same name), publishes
//  backend.registered; takes *manifest_p. ops, state and config are
//  borrowed. Forgets every resolution.
void shic_registry_backend_add (shic_registry_t *self, const char *name,
                                const shic_backend_ops_t *ops, void *state,
                                zconfig_t *config, shic_val_t **manifest_p);
//  Forgets a backend and every resolution
void shic_registry_backend_remove (shic_registry_t *self, const char *name);
//  The backend registered as name, or NULL
shic_backend_entry_t *shic_registry_backend (shic_registry_t *self, const char *name);
//  The manifests of every backend, by name; a fresh array
shic_val_t *shic_registry_manifests (shic_registry_t *self);

//  Instances

//  A record for a new instance of a normalized plan (its backend is the
//  plan's), status starting, health unavailable, published as
//  instance.starting; takes *plan_p
shic_record_t *shic_registry_add (shic_registry_t *self, shic_val_t **plan_p, const char *id);
//  The record that serves a resolved plan (its instance_key): the live one,
//  or a new record (*created set; the caller starts its actor) in place of
//  none, a stopped one, or a failed one past its retry time. NULL with err
//  set when a failed instance still answers its failure, or a new one
//  would pass max_instances (capacity). Takes *plan_p.
shic_record_t *shic_registry_claim (shic_registry_t *self, shic_val_t **plan_p,
                                    size_t max_instances, bool *created, shic_error_t *err);
//  The record of an instance id, or of a bus routing id "I<seq>"; NULL
shic_record_t *shic_registry_lookup (shic_registry_t *self, const char *id);
shic_record_t *shic_registry_lookup_seq (shic_registry_t *self, const char *identity);
//  Forgets a record (its waiters are destroyed)
void shic_registry_forget (shic_registry_t *self, shic_record_t *record);
//  Iteration over every record (no add or forget meanwhile)
shic_record_t *shic_registry_first (shic_registry_t *self);
shic_record_t *shic_registry_next (shic_registry_t *self);
//  Records whose actor has not finished
size_t shic_registry_live (shic_registry_t *self);
//  The snapshots of the instances (of backend when not NULL), by id, after
//  the id after (NULL: from the first), at most limit (> 0); fresh. When
//  more remain, *next_p is the cursor of the next page (fresh), else NULL
shic_val_t *shic_registry_snapshots (shic_registry_t *self, const char *backend,
                                     const char *after, size_t limit, char **next_p);

//  The registry's timers at now: records past their retention are
//  forgotten (once their actor ended and nobody waits on them); returns the
//  unleased ready instances past their idle time (a fresh list of borrowed
//  records, or NULL when none) for the caller to stop. Lowers *next
//  (monotonic, -1 = none) to the next time this has work.
zlistx_t *shic_registry_tick (shic_registry_t *self, int64_t now, int64_t *next);
//  Instances by lifecycle status {status: count}, fresh; sets *restarts to
//  the restarts of them all
shic_val_t *shic_registry_states (shic_registry_t *self, int64_t *restarts);

//  Sets the lifecycle status and publishes instance.<status> {instance_id,
//  lifecycle_status, <pairs of extra>} (stopping has no event). Also sets
//  what every such change implies: ready is healthy since now; stopping
//  cancels an idle stop; restarting, stopped and failed are unavailable,
//  have no process and no idle stop. Takes *extra_p (may be NULL).
void shic_registry_set_status (shic_registry_t *self, shic_record_t *record,
                               shic_lifecycle_t status, shic_val_t **extra_p);
//  The instance is ready at endpoint (taken) with process pid: published
//  as instance.ready with the endpoint redacted; an unleased spawned
//  instance is due to stop after its idle_shutdown_ms
void shic_registry_ready (shic_registry_t *self, shic_record_t *record,
                          shic_val_t **endpoint_p, int pid);
//  The instance's service exited and restarts after delay_ms: published as
//  instance.restarting {exit, delay_ms, restarts}; exit borrowed
void shic_registry_restarting (shic_registry_t *self, shic_record_t *record,
                               const shic_val_t *exit, int64_t delay_ms, int restarts);
//  Remembers the last exit of the instance's service (copied; NULL forgets)
void shic_registry_set_exit (shic_record_t *record, const shic_val_t *exit);
//  Sets the health and publishes instance.health {health_status, details}
void shic_registry_set_health (shic_registry_t *self, shic_record_t *record,
                               const char *health, const shic_val_t *details);
//  Publishes instance.progress: the pairs of the backend's report (body),
//  instance_id, lifecycle_status
void shic_registry_progress (shic_registry_t *self, shic_record_t *record,
                             const shic_val_t *body);
//  A lease of the instance began, or ended (an idle spawned instance is
//  then due to stop after its idle_shutdown_ms); true when that moved the
//  instance between no lease and some (its first lease, its last)
bool shic_registry_lease_added (shic_registry_t *self, shic_record_t *record);
bool shic_registry_lease_ended (shic_registry_t *self, const char *instance_id);

//  The InstanceSnapshot of a record (header values redacted); fresh
shic_val_t *shic_registry_snapshot (shic_record_t *record);
//  An endpoint as published in snapshots and events: header values (an
//  authorization header carries a secret) redacted; fresh (nil for NULL)
shic_val_t *shic_endpoint_public (const shic_val_t *endpoint);

//  Resolutions

//  What an ensure resolves to: the consumer normalized and checked for
//  compatibility with the backend its request names, that backend's pure
//  startup_plan, normalized, with the overrides of the backend's
//  configuration section, and checked for truthfulness. Returns the plan
//  (fresh; its instance_key names the instance), or NULL with err set.
//  Sets *compatibility_p (fresh) once the backend is known.
shic_val_t *shic_registry_resolve (shic_registry_t *self, const shic_val_t *consumer,
                                   const shic_val_t *request, const shic_val_t *context,
                                   bool trusted, shic_val_t **compatibility_p,
                                   shic_error_t *err);

//  The warm path remembers resolutions by request

//  The key of an ensure's resolution: what the plan depends on (whether
//  the caller is trusted, consumer, request, context): the SHA-256 of their
//  encoded bytes in hex (64 characters); fresh, or NULL if they cannot be
//  encoded
char *shic_registry_memo_key (bool trusted, const shic_val_t *consumer,
                              const shic_val_t *request, const shic_val_t *context);
//  The instance a key resolved to, and the compatibility report of that
//  resolution (borrowed); NULL when the key is unknown or its instance gone
shic_record_t *shic_registry_memo_lookup (shic_registry_t *self, const char *key,
                                          const shic_val_t **compatibility_p);
//  The instance id a key resolved to, whether or not that instance lives
//  here (borrowed), or NULL when the key is unknown
const char *shic_registry_memo_id (shic_registry_t *self, const char *key);
//  What the memo holds, about, in bytes (it starts over past 4 MiB)
size_t shic_registry_memo_bytes (shic_registry_t *self);
//  Remembers a resolution (compatibility is copied)
void shic_registry_memo_add (shic_registry_t *self, const char *key, const char *instance_id,
                             const shic_val_t *compatibility);

void shic_registry_test (bool verbose);

#endif
