/*  =========================================================================
    shic_cluster_int - what the cluster actor's three files share

    The cluster actor is one actor in three files: shic_cluster.c (the
    loop, the sockets, the handlers, the timers and what it tells the
    gateway), shic_cluster_records.c (the etcd session: lease, keep-alive,
    the watch, and the node's records and claims) and
    shic_cluster_decide.c (the HANDOFFs: forwards, decisions, fan-outs,
    the links to the other nodes and a node that went). Not installed, and
    included by those three files alone.
    =========================================================================
*/

#ifndef SHIC_CLUSTER_INT_H_INCLUDED
#define SHIC_CLUSTER_INT_H_INCLUDED

#include "shic_cluster.h"
#include "shic_bus.h"
#include "shic_kernel.h"
#include "shic_etcd.h"
#include "shic_cluster_view.h"

//  A DEALER to another node's peer ROUTER
typedef struct {
    char *name;                     //  the node
    char *endpoint;                 //  its peer endpoint
    char *curve_key;                //  its CURVE key when it has one
    zsock_t *dealer;                //  the socket
} shic_cluster_link_t;

//  A fan-out: one cluster list, waiting for every node's part
typedef struct {
    int64_t gateway_ticket;         //  the HANDOFF's ticket
    size_t pending;                 //  parts not answered
    shic_val_t *replies;            //  [{node, reply} or {node, error}]
    int64_t deadline;               //  monotonic: merged with what came then
} shic_cluster_fanout_t;

//  A request this node forwards (or decides): an ensure of its own client,
//  one another node forwarded here (decided, or passed on: hop 2), a part of
//  a fan-out
typedef struct {
    int64_t ticket;                 //  the peer ticket while it is out
    int64_t gateway_ticket;         //  the HANDOFF's ticket
    int64_t via;                    //  forwarded here: its ticket at our gateway, else 0
    char *from;                     //  forwarded here: the node it came from
    char *kind;                     //  ensure, or part (of a fan-out)
    char *op;                       //  the wire op
    char *holder;                   //  entry node / client
    zframe_t *body;                 //  the wire request
    shic_val_t *request_id;         //  its id, for the errors made here
    char *key;                      //  ensure: the instance key (no node prefix)
    char mkey [33];                 //  ensure: the model's key
    shic_val_t *need;               //  ensure: {bytes, pool?, fit}
    zlistx_t *tried;                //  nodes that said no_room (or went)
    char *target;                   //  the node it is out at, or NULL
    char *mode;                     //  place, join, queue, call
    int hop;                        //  hops before this node's
    int64_t deadline;               //  monotonic
    shic_cluster_fanout_t *fanout;             //  part: its fan-out (borrowed)
} shic_cluster_forward_t;

//  A claim this node holds
typedef struct {
    char *key;                      //  the instance key (no prefix)
    int64_t created_at;             //  monotonic
} shic_cluster_held_t;

//  What this node last wrote of one of its instances
typedef struct {
    char *json;                     //  the record as written
    bool leased;                    //  its leased flag then
    int64_t last_used;              //  wall clock of the last flip
} shic_cluster_written_t;

//  The cluster actor's state
typedef struct {
    zsock_t *pipe;                  //  to the supervisor
    const shic_settings_t *settings; //  the runtime's
    const shic_cluster_settings_t *config; //  its cluster section
    shic_etcd_t *etcd;              //  the store
    shic_etcd_watch_t *watch;       //  the prefix's changes, or NULL
    int64_t revision;               //  the store revision the view is at
    shic_cluster_view_t *view;      //  what we know of the cluster
    char lease [24];                //  the node's etcd lease, "" = none
    char boot_id [33];              //  changes with every registration
    bool registered;                //  node record written on a live lease
    bool degraded;                  //  etcd did not answer lately
    bool reconcile_due;             //  look for duplicates after the next refresh
    int64_t keepalive_at;           //  monotonic: next keep-alive
    int64_t alive_at;               //  monotonic: the last keep-alive answered
    int64_t retry_at;               //  monotonic: next try to register or watch, 0 none
    int64_t etcd_timeout_ms;        //  each call's deadline
    zsock_t *bus;                   //  DEALER "C" on the gateway's bus
    zsock_t *sub;                   //  the node's events
    zsock_t *local;                 //  DEALER on the gateway's trusted door
    zcert_t *cert;                  //  CURVE certificate, when configured
    int peer_port;                  //  the port of our gateway's peer door
    char peer_endpoint [300];       //  our peer door as others reach it
    char gateway_endpoint [300];    //  our gateway as clients reach it
    zhashx_t *links;                //  node -> shic_cluster_link_t
    zhashx_t *outbound;             //  peer ticket -> shic_cluster_forward_t
    zlistx_t *fanouts;              //  shic_cluster_fanout_t
    zhashx_t *claims;               //  mkey -> shic_cluster_held_t (ours)
    zhashx_t *written;              //  mkey -> shic_cluster_written_t (our instance records)
    char *node_json;                //  our node record as last written
    int64_t next_ticket;            //  peer tickets and refresh numbers
    int64_t query;                  //  the refresh in flight (its number), 0 none
    shic_val_t *resources;          //  the refresh's resources answer
    shic_val_t *instances;          //  the refresh's list_instances answer
    int64_t refresh_at;             //  monotonic: next refresh, 0 none due
    int64_t query_deadline;         //  monotonic: a refresh in flight is given up
    char *summary_json;             //  the last CLUSTER sent
    char *routes_json;              //  the last ROUTES sent
    bool terminated;                //  $TERM seen
} self_t;

//  shic_cluster.c: small things, and what the actor tells the gateway
void shic_cluster_forward_destroy (shic_cluster_forward_t **self_p);
char *shic_cluster_key (self_t *self, const char *kind, const char *a, const char *b);
void shic_cluster_decided (self_t *self, int64_t ticket, const char *action, const void *reply,
    size_t size, shic_val_t *replies);
void shic_cluster_summary (self_t *self);
void shic_cluster_refresh_soon (self_t *self, int64_t delay);

//  shic_cluster_records.c: the etcd session and this node's records
void shic_cluster_degraded (self_t *self, const shic_error_t *err, const char *what);
int shic_cluster_resync (self_t *self);
int shic_cluster_watch_again (self_t *self);
void shic_cluster_register (self_t *self);
void shic_cluster_keepalive (self_t *self);
void shic_cluster_query (self_t *self);
const char *shic_cluster_bare (self_t *self, const char *id);
void shic_cluster_publish (self_t *self);
void shic_cluster_claim_failed (self_t *self, const char *bare, const shic_val_t *error);

//  shic_cluster_decide.c: HANDOFFs, forwards, the links, a node that went
void shic_cluster_on_handoff (self_t *self, shic_bus_t *msg);
void shic_cluster_node_lost (self_t *self, const char *node, const shic_val_t *ids);
void shic_cluster_handle_link (self_t *self, shic_cluster_link_t *link);
void shic_cluster_expire (self_t *self, int64_t now);

#endif
