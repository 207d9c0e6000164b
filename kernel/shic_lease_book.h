/*  =========================================================================
    shic_lease_book - the gateway's leases, their clients, their chores

    Every lease the gateway granted, by lease_ref; the clients that hold
    untimed leases (a client silent for client_timeout_ms loses them);
    and the lease pool's side of each lease. The pool binds every lease to
    a lease actor of its own (contract §7); the book tells the pool about
    new leases in batches, once requests and replies pause, so that a herd
    answered at once is not slowed by waking the pool's threads. A lease
    released before its batch went out never reaches the pool at all.
    =========================================================================
*/

#ifndef SHIC_LEASE_BOOK_H_INCLUDED
#define SHIC_LEASE_BOOK_H_INCLUDED

#include "shic.h"
#include "shic_events.h"
#include "shic_kernel.h"

//  A lease. The gateway reads its fields; the book changes them.
typedef struct {
    char *ref;                      //  lease_ref: a capability, random
                                    //  (128 bits), known to its holder
    shic_val_t *owner_ref;          //  opaque owner (str or nil)
    int64_t ttl_ms;                 //  0 = untimed
    int64_t expires_at_ms;          //  wall clock, 0 = never
    char *instance_id;              //  its instance
    char *actor;                    //  its lease actor ("L<n>") once the pool
                                    //  said so, else NULL
    char *client;                   //  client key when untimed and tracked
    char *holder;                   //  client key of the ensure that took it
                                    //  (NULL when none was given)
    bool pooled;                    //  the pool has heard of it
    bool preemptible;               //  may be revoked for a waiter of higher
                                    //  priority
    int priority;                   //  its holder's priority
    uint64_t seq;                   //  grant order: list_leases pages by it
} shic_lease_t;

//  Called when a lease ends, before its event is published (the gateway
//  counts the instance's leases)
typedef void (shic_lease_end_fn) (void *arg, const char *instance_id);

typedef struct _shic_lease_book_t shic_lease_book_t;

//  settings, events and bus (the gateway's bus ROUTER; the pool is "P" on
//  it) are borrowed
shic_lease_book_t *shic_lease_book_new (const shic_settings_t *settings, shic_events_t *events,
                                        zsock_t *bus, shic_lease_end_fn *on_end, void *arg);
void shic_lease_book_destroy (shic_lease_book_t **self_p);

//  Live leases, and whether max_leases is reached
size_t shic_lease_book_size (shic_lease_book_t *self);
bool shic_lease_book_full (shic_lease_book_t *self);
//  The live leases client (a client key) holds
size_t shic_lease_book_held_by (shic_lease_book_t *self, const char *client);
//  Leases granted since the start, lease actors idle (as the pool last said)
uint64_t shic_lease_book_granted (shic_lease_book_t *self);
size_t shic_lease_book_actors_idle (shic_lease_book_t *self);

//  A new lease on instance_id for ttl_ms (0 = untimed) held by owner_ref
//  (borrowed, may be NULL). client is the caller's key (its holder, whom
//  list shows the ref); an untimed lease of a tracked client ends when
//  that client falls silent. The ref is random: lease- and 32 hex digits.
shic_lease_t *shic_lease_book_grant (shic_lease_book_t *self, const char *instance_id,
                                     const shic_val_t *owner_ref, int64_t ttl_ms,
                                     const char *client, bool tracked);
//  The leases of an instance: how many, how many preemptible, the highest
//  priority among them, the earliest expiry (0 = none), and, when owners is
//  not NULL, their owner_refs pushed onto it
void shic_lease_book_holders (shic_lease_book_t *self, const char *instance_id,
                              size_t *leases, size_t *preemptible, int *priority,
                              int64_t *earliest_expiry_ms, shic_val_t *owners);
//  Tells the holders of an instance's leases that they are revoked after
//  grace_ms (lease.revoking {instance_id, lease_ref, owner_ref, grace_ms})
void shic_lease_book_revoking (shic_lease_book_t *self, const char *instance_id,
                               int64_t grace_ms);
//  The live lease of a ref, or NULL
shic_lease_t *shic_lease_book_lookup (shic_lease_book_t *self, const char *ref);
//  Gives a lease a new TTL from now (0 = untimed) and publishes lease.renewed
void shic_lease_book_renew (shic_lease_book_t *self, shic_lease_t *lease, int64_t ttl_ms);
//  Ends a lease: its actor is freed, on_end runs, the event topic is
//  published with reason, and the lease is gone
void shic_lease_book_end (shic_lease_book_t *self, shic_lease_t *lease, const char *topic,
                          const char *reason);
//  Ends every lease of an instance (lease.released with reason)
void shic_lease_book_end_instance (shic_lease_book_t *self, const char *instance_id,
                                   const char *reason);
//  The LeaseRefs of the leases (of instance_id when not NULL) in grant
//  order, after the cursor after (NULL: from the first), at most limit
//  (> 0); a fresh array. With a viewer (a client key), the lease_ref of a
//  lease another client holds is nil; NULL (the trusted host) sees every
//  ref. When more remain, *next_p is the next page's cursor (fresh).
shic_val_t *shic_lease_book_list (shic_lease_book_t *self, const char *instance_id,
                                  const char *viewer, const char *after, size_t limit,
                                  char **next_p);
//  A fresh random lease ref, "lease-" and 32 hex digits from getrandom(2)
char *shic_lease_book_new_ref (void);
//  Writes a lease's LeaseRef with its actor (one map) to writer
void shic_lease_book_write (shic_val_writer_t *writer, shic_lease_t *lease);
//  The LeaseRef of a lease with its actor; fresh
shic_val_t *shic_lease_book_val (shic_lease_t *lease);

//  Clients: a request from client key was seen now
void shic_lease_book_client_seen (shic_lease_book_t *self, const char *client);
//  Ends the untimed leases of clients silent past client_timeout_ms
//  (lease.expired, reason client_gone); lowers *next (monotonic, -1 =
//  none) to the next time this has work. Called more than a second after
//  that time, it takes the daemon to have been paused and forgives its
//  clients the lateness (their pings may still be queued).
void shic_lease_book_clients_expire (shic_lease_book_t *self, int64_t now, int64_t *next);
//  The client's connection was seen to close: its untimed leases end now
//  (lease.expired, reason client_gone) and it is forgotten
void shic_lease_book_client_gone (shic_lease_book_t *self, const char *client);

//  From the pool: the actor that holds a lease, a lease's timer fired
//  (ignored when a renewal crossed it), the pool's counts
void shic_lease_book_bound (shic_lease_book_t *self, const char *ref, const char *actor);
void shic_lease_book_expired (shic_lease_book_t *self, const char *ref, int64_t expires_at_ms);
void shic_lease_book_pool_counts (shic_lease_book_t *self, size_t idle, size_t actors,
                                  bool exhausted);
//  The pool can start no more lease actors (out of descriptors) and the
//  idle ones are spoken for: a new lease would wait for an actor
bool shic_lease_book_starved (shic_lease_book_t *self);

//  The runtime stops (the pool is destroyed before the gateway)
void shic_lease_book_drain (shic_lease_book_t *self);
//  Requests or replies are flowing: the pool's batch waits
void shic_lease_book_busy (shic_lease_book_t *self);
//  Tells the pool what waits for it once requests pause (or it waited long
//  enough); returns the monotonic time it is due, or -1 when nothing waits
int64_t shic_lease_book_chores (shic_lease_book_t *self, int64_t now);

void shic_lease_book_test (bool verbose);

#endif
