/*  =========================================================================
    shic_cluster_view - what a node knows of the cluster: the prefix's records

    Every node watches the key prefix into one of these (guides/cluster.md):
    the node records (nodes/<n>), the instance records (instances/<mkey>/<n>)
    and the claims (claims/<mkey>), each parsed from its JSON value and
    checked. A value that is not what a node writes is refused (logged
    once) and the key is treated as absent: etcd is outside input.

    It answers the questions of an ensure (where does the model run, who
    claims its start, which node should start it) and says which nodes
    were lost: a node record that goes takes its instances with it (they
    share its etcd lease, so etcd deletes them in the same revision).
    A pure class: no sockets, no etcd; the cluster actor feeds it.
    =========================================================================
*/

#ifndef SHIC_CLUSTER_VIEW_H_INCLUDED
#define SHIC_CLUSTER_VIEW_H_INCLUDED

#include "shic.h"

//  A node, as its record says
typedef struct {
    char *name;                     //  its name (the key's last part)
    char *boot_id;                  //  changes whenever it registers anew
    char *peer;                     //  its peer ROUTER, connectable
    char *gateway;                  //  the gateway its clients use
    char *advertise;                //  the host it advertises
    char *curve_key;                //  its CURVE public key (z85), or NULL
    shic_val_t *pools;              //  {pool: {capacity, free, idle}}
    int64_t queue;                  //  starts waiting for memory there
    bool degraded;                  //  it says it lost etcd for a while
} shic_cluster_node_t;

//  An instance record
typedef struct {
    char *mkey;                     //  the model's key (hash of its instance key)
    char *node;                     //  the node it runs on
    char *instance_id;              //  its id there
    char *status;                   //  lifecycle status
    bool leased;                    //  it has leases
    shic_val_t *record;             //  the whole record, parsed
} shic_cluster_instance_t;

//  A claim on a cold start
typedef struct {
    char *mkey;                     //  the model's key
    char *node;                     //  the node that starts it
    char *boot_id;                  //  that node's boot when it claimed
    bool failed;                    //  the start failed (cooldown record)
    shic_val_t *error;              //  the failure {code, message, details}, or NULL
    int64_t mod_revision;           //  for compare-and-swap
} shic_cluster_claim_t;

typedef struct _shic_cluster_view_t shic_cluster_view_t;

//  A view of prefix (e.g. "/shic/v1", no trailing '/')
shic_cluster_view_t *shic_cluster_view_new (const char *prefix);
void shic_cluster_view_destroy (shic_cluster_view_t **self_p);

//  The key of a model across the cluster: 32 hex digits of the SHA-256 of
//  its instance key (without a node prefix); into mkey (size >= 33)
void shic_cluster_mkey (const char *instance_key, char *mkey);

//  A PUT of key = value (size bytes, NUL-terminated) at revision; returns
//  1 when applied, 0 when the key is not one of the view's, -1 when the
//  value is refused (the key is then absent)
int shic_cluster_view_put (shic_cluster_view_t *self, const char *key, const char *value,
                           size_t size, int64_t revision);
//  A DELETE of key at revision. When it is a node record, *lost_p (fresh
//  array of instance ids) is what that node ran: the instance records still
//  here and those deleted in the same revision. Returns 1 when it was the
//  view's, else 0.
int shic_cluster_view_delete (shic_cluster_view_t *self, const char *key, int64_t revision,
                              shic_val_t **lost_p);
//  Starts over from a range of the whole prefix: call _begin, _put every
//  pair, then _end, which returns the nodes that are gone since
//  {node: [instance ids]} (fresh map; empty when none)
void shic_cluster_view_begin (shic_cluster_view_t *self);
shic_val_t *shic_cluster_view_end (shic_cluster_view_t *self);

//  Lookups (borrowed; valid until the next change)
shic_cluster_node_t *shic_cluster_view_node (shic_cluster_view_t *self, const char *name);
size_t shic_cluster_view_nodes (shic_cluster_view_t *self);
//  Every node, in name order: a fresh list of borrowed nodes
zlistx_t *shic_cluster_view_node_list (shic_cluster_view_t *self);
shic_cluster_claim_t *shic_cluster_view_claim (shic_cluster_view_t *self, const char *mkey);
//  The instance of mkey on a live node other than me and not in skip (a
//  list of node names, may be NULL): a ready one first, else one starting
//  or restarting; NULL when none
shic_cluster_instance_t *shic_cluster_view_instance_elsewhere (shic_cluster_view_t *self,
                                                               const char *mkey, const char *me,
                                                               zlistx_t *skip);
//  Where each model runs ready on a live node other than me: {instance
//  key: node} (a fresh map; the first node by name when several)
shic_val_t *shic_cluster_view_routes (shic_cluster_view_t *self, const char *me);
//  The live nodes other than me: {node: {peer, curve_key?}} (fresh)
shic_val_t *shic_cluster_view_peers (shic_cluster_view_t *self, const char *me);

//  The instances of node (fresh list of borrowed instances)
zlistx_t *shic_cluster_view_instances_of (shic_cluster_view_t *self, const char *node);

//  Where a cold start of bytes in pool should go: the live nodes not in
//  skip, best first (fits now, this node first; then fits once idle
//  instances are evicted; then the rest that could ever hold it, shortest
//  queue first). my_fit is this node's own answer ("now", "evict", "no":
//  it would wait, "never": more than its pool holds), fresher than its
//  record. Fresh list of fresh strings "TIER:name" where
//  TIER is 0 (now), 1 (evict) or 2 (would wait).
zlistx_t *shic_cluster_view_rank (shic_cluster_view_t *self, const char *me, const char *my_fit,
                                  uint64_t bytes, const char *pool, zlistx_t *skip);

void shic_cluster_view_test (bool verbose);

#endif
