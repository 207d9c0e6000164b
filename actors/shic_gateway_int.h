/*  =========================================================================
    shic_gateway_int - what the gateway actor's three files share

    The gateway is one actor in three files: shic_gateway.c (the door: its
    loop, the ROUTER sockets and CURVE, the pipe, the table of operations
    and the dispatch), shic_gateway_ops.c (one small handler per op) and
    shic_gateway_instances.c (the waiters, what instance actors and the
    lease pool report, and the effects of placement). Not installed, and
    included by those three files alone.
    =========================================================================
*/

#ifndef SHIC_GATEWAY_INT_H_INCLUDED
#define SHIC_GATEWAY_INT_H_INCLUDED

#include "shic_actors.h"
#include "shic_args.h"
#include "shic_bus.h"
#include "shic_events.h"
#include "shic_registry.h"
#include "shic_lease_book.h"
#include "shic_stats.h"
#include "shic_waiter.h"
#include "shic_conns.h"
#include "shic_admission.h"

#define SEND_HWM 1000

//  The gateway's state
typedef struct {
    zsock_t *pipe;                  //  to the supervisor
    const shic_settings_t *settings; //  runtime settings
    zsock_t *trusted;               //  inproc ROUTER for the embedding host
    zsock_t *public_router;         //  network ROUTER, once bound
    zactor_t *auth;                 //  ZAP handler when CURVE is required
    zcert_t *cert;                  //  the server's CURVE certificate
    zsock_t *bus;                   //  ROUTER for our own actors
    shic_events_t *events;          //  the events PUB
    shic_registry_t *registry;      //  backends, instances, resolutions
    shic_lease_book_t *book;        //  leases and their clients
    shic_admission_t *admission;    //  memory: footprints, the queue
    int64_t started_at;             //  monotonic start time
    bool draining;                  //  shutting down
    bool placement_due;             //  memory or leases changed: decide again
    bool terminated;                //  $TERM seen
    shic_stats_t *stats;            //  counters for the stats op
    zhashx_t *log_calls;            //  instance_logs asked of an instance, by ticket
    int64_t log_ticket;             //  the last ticket given
    shic_conns_t *conns;            //  which client is on which connection
    zsock_t *trusted_monitor;       //  disconnects on the trusted ROUTER (ipc)
    zsock_t *public_monitor;        //  disconnects on the public ROUTER
    zlistx_t *host_ops;             //  the ops the host answers (HOST-CALLS)
    zhashx_t *host_calls;           //  requests waiting for the host, by ticket
    int64_t host_ticket;            //  the last host ticket given
    //  The cluster (issue 13; shic_gateway_cluster.c), when configured
    zsock_t *peer;                  //  ROUTER (tcp): the requests other nodes
                                    //  forward, served as from network clients
    zcert_t *peer_cert;             //  CURVE certificate of the peer sockets, or NULL
    zhashx_t *links;                //  node -> DEALER to its peer door
    zhashx_t *handoffs;             //  requests out at the cluster actor or at
                                    //  another node, by ticket
    int64_t handoff_ticket;         //  the last ticket given
    zhashx_t *relayed;              //  leases other nodes hold for our clients
    int64_t relayed_swept_at;       //  monotonic: when those past their TTL went
    shic_val_t *nodes;              //  {node: {peer, curve_key?}} (ROUTES)
    shic_val_t *routes;             //  {instance key: node} ready elsewhere (ROUTES)
    zmq_pollitem_t *items;          //  the poll set, when clustered
    size_t items_max;               //  its size
    size_t items_peer;              //  where the peer door is in it
    shic_val_t *cluster_summary;    //  the cluster actor's last CLUSTER, for ping
    //  The wait (shic_gateway.c, s_poll)
    bool poll_all;                  //  the next wait asks every socket first
    void *poll_read [SHIC_BUS_SENT_MAX];    //  the sockets read last turn
    size_t poll_read_count;         //  how many (SIZE_MAX: more than it holds)
    int poll_count;                 //  the size of the last poll set
    int64_t poll_active_at;         //  when a wait last found a message
} self_t;

//  One request being handled
typedef struct {
    zsock_t *router;                //  reply socket
    zmsg_t *envelope;               //  routing frames
    bool trusted;                   //  inproc socket
    char *client;                   //  client key
    shic_wire_request_t req;        //  the request
    shic_args_t args;               //  its arguments, decoded at the door
    zframe_t *body;                 //  the request's body frame, borrowed
    bool relayed;                   //  came through the peer door (another
                                    //  node forwarded it)
    int64_t via;                    //  its ticket here, when relayed
    const shic_val_t *peer;         //  when relayed: the forward's header
                                    //  {ticket, hop, mode, holder, from}
    bool oneway;                    //  relayed in mode release: no reply
                                    //  (router and envelope are NULL)
} shic_gateway_call_t;

//  An op: returns its result, or NULL with err set, or NULL without err
//  when it replied (or parked the request) itself
typedef shic_val_t *(shic_gateway_op_fn) (self_t *self, shic_gateway_call_t *call,
                                          shic_error_t *err);

//  shic_gateway_ops.c: the handlers of the table of operations
shic_val_t * shic_gateway_op_ensure (self_t *self, shic_gateway_call_t *call, shic_error_t
    *err);
shic_val_t * shic_gateway_op_ping (self_t *self, shic_gateway_call_t *call, shic_error_t *err);
shic_val_t * shic_gateway_op_list_backends (self_t *self, shic_gateway_call_t *call,
    shic_error_t *err);
shic_val_t * shic_gateway_op_compatibility (self_t *self, shic_gateway_call_t *call,
    shic_error_t *err);
shic_val_t * shic_gateway_op_renew_lease (self_t *self, shic_gateway_call_t *call, shic_error_t
    *err);
shic_val_t * shic_gateway_op_release_lease (self_t *self, shic_gateway_call_t *call,
    shic_error_t *err);
shic_val_t * shic_gateway_op_list_instances (self_t *self, shic_gateway_call_t *call,
    shic_error_t *err);
shic_val_t * shic_gateway_op_lookup_instance (self_t *self, shic_gateway_call_t *call,
    shic_error_t *err);
shic_val_t * shic_gateway_op_list_leases (self_t *self, shic_gateway_call_t *call, shic_error_t
    *err);
shic_val_t * shic_gateway_op_stop_instance (self_t *self, shic_gateway_call_t *call,
    shic_error_t *err);
shic_val_t * shic_gateway_op_instance_logs (self_t *self, shic_gateway_call_t *call,
    shic_error_t *err);
shic_val_t * shic_gateway_op_list_models (self_t *self, shic_gateway_call_t *call, shic_error_t
    *err);
shic_val_t * shic_gateway_op_resources (self_t *self, shic_gateway_call_t *call, shic_error_t
    *err);
shic_val_t * shic_gateway_op_stats (self_t *self, shic_gateway_call_t *call, shic_error_t
    *err);
shic_val_t * shic_gateway_op_reload (self_t *self, shic_gateway_call_t *call, shic_error_t
    *err);
//  ... and the calls the host answers (reload): what it says on the bus as
//  "H", their deadlines (all of them answered err when err is given)
void shic_gateway_handle_host (self_t *self, const shic_bus_t *msg);
void shic_gateway_host_calls_expire (self_t *self, int64_t now, int64_t *next, const
    shic_error_t *err);
void shic_gateway_host_call_destroy (void **item_p);

//  shic_gateway_instances.c: waiters, instances, placement's effects
shic_waiter_t * shic_gateway_waiter_new (shic_gateway_call_t *call, shic_record_t *instance,
    shic_val_t *compatibility, bool reused, int64_t started);
void shic_gateway_grant (self_t *self, shic_waiter_t **waiter_p);
void shic_gateway_waiters_fail (self_t *self, shic_record_t *instance, const shic_error_t
    *err);
void shic_gateway_waiters_expire (self_t *self, shic_record_t *instance, int64_t now, int64_t
    *next);
void shic_gateway_instance_send_stop (self_t *self, shic_record_t *instance);
void shic_gateway_instance_stop (self_t *self, shic_record_t *instance);
void shic_gateway_lease_ended (void *arg, const char *instance_id);
void shic_gateway_ensure_place (self_t *self, shic_val_t **plan_p, shic_waiter_t *waiter,
    shic_error_t *err);
void shic_gateway_log_calls_expire (self_t *self, int64_t now, int64_t *next);
void shic_gateway_handle_instance (self_t *self, shic_record_t *instance, const shic_bus_t
    *msg);
void shic_gateway_handle_pool (self_t *self, const shic_bus_t *msg);
void shic_gateway_client_gone (self_t *self, const char *client);
extern const shic_admission_effects_t shic_gateway_admission_effects;

//  shic_gateway.c: serves a call whose envelope and client are set
void shic_gateway_serve (self_t *self, shic_gateway_call_t *call, zmsg_t *msg);

//  shic_gateway_cluster.c: what the gateway does for the cluster
void shic_gateway_cluster_start (self_t *self);
int shic_gateway_cluster_bind (self_t *self, const char *endpoint);
zmq_pollitem_t *shic_gateway_cluster_items (self_t *self, zmq_pollitem_t *fixed, int *count);
void shic_gateway_cluster_handle (self_t *self, int count);
void shic_gateway_cluster_stop (self_t *self);
bool shic_gateway_cluster_ensure (self_t *self, shic_gateway_call_t *call, shic_val_t **plan_p,
    shic_waiter_t **waiter_p);
//  An instance got its first lease (leased) or lost its last: its record
//  in the cluster says so (the cluster actor hears LEASED)
void shic_gateway_cluster_leased (self_t *self, const char *instance_id, bool leased);
bool shic_gateway_cluster_forward_known (self_t *self, shic_gateway_call_t *call,
    const char *instance_id, const shic_val_t *compatibility, int64_t started);
bool shic_gateway_cluster_take (self_t *self, shic_gateway_call_t *call,
    shic_gateway_op_fn *handler, const char *op);
void shic_gateway_handle_cluster (self_t *self, shic_bus_t *msg);
void shic_gateway_handoffs_expire (self_t *self, int64_t now, int64_t *next);
void shic_gateway_handoffs_drain (self_t *self, const shic_error_t *err);
void shic_gateway_cluster_endpoint (self_t *self, shic_val_t *endpoint);
shic_val_t *shic_gateway_cluster_ping (self_t *self);

#endif
