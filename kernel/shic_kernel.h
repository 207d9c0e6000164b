/*  =========================================================================
    shic_kernel - what the kernel's classes and actors share

    The settings of one runtime, read once from the configuration, and the
    wall clock. The gateway's rooms (registry, lease book, events) include
    this, never the actors' private header.
    =========================================================================
*/

#ifndef SHIC_KERNEL_H_INCLUDED
#define SHIC_KERNEL_H_INCLUDED

#include "shic.h"
#include "shic_restart_policy.h"

//  placement/shic_pools, which the kernel's settings carry but never read
typedef struct _shic_pools_t shic_pools_t;

//  The cluster section (issue 13, guides/cluster.md): present when
//  enabled; shicd has checked every key before the runtime reads them
typedef struct {
    bool enabled;                   //  a cluster section exists
    char etcd [1024];               //  etcd URLs, comma separated
    char node [64];                 //  this node's name ([A-Za-z0-9_-])
    char advertise [256];           //  the host others (and clients) reach us at
    char peer [256];                //  the node-to-node ROUTER's endpoint (tcp)
    int64_t ttl_ms;                 //  the node's etcd lease
    int64_t cooldown_ms;            //  a failed start's claim is kept this long
    char prefix [128];              //  the keys' prefix, no trailing '/'
    char public_gateway [256];      //  the gateway clients use (for the record)
    char curve_cert [512];          //  shicd/curve_server_cert, or ""
    char curve_clients [512];       //  shicd/curve_clients, or ""
} shic_cluster_settings_t;

//  Settings of one runtime, read once from the configuration; every actor
//  gets a read-only pointer. Lives as long as the runtime.
typedef struct {
    char bus [64];                  //  inproc endpoint of the bus ROUTER
    char gateway [64];              //  inproc endpoint of the trusted ROUTER
    char events [64];               //  inproc endpoint of the events PUB
    char control [256];             //  ipc:// endpoint also bound by the trusted
                                    //  ROUTER (the CLI's), "" = none
    bool allow_network_stop;        //  network clients may stop_instance
    int64_t max_lease_ttl_ms;       //  largest ttl_ms a network client may ask
    size_t max_leases_per_client;   //  live leases one network client may hold
    size_t max_instances_per_client; //  live instances one network client's
                                    //  ensures may have started
    size_t max_leases;              //  live lease cap
    size_t max_instances;           //  live instance cap
    size_t lease_spare;             //  idle lease actors kept ready
    int64_t lease_shrink_ms;        //  quiet time after which idle lease
                                    //  actors above lease_spare end
    int64_t client_timeout_ms;      //  silent remote client: untimed leases end
    bool inproc_client_timeout;     //  apply client_timeout_ms to inproc clients
    int64_t retention_ms;           //  stopped / failed instances stay listed
    int64_t start_failure_hold_ms;  //  start failures answer later callers
    size_t max_frame;               //  largest request body
    int liveness_failures;          //  unavailable health checks before restart
    shic_restart_settings_t restart; //  the supervisor's restart policy
    bool verbose;                   //  trace actors
    size_t max_queue;               //  ensures that may wait for memory
    int64_t preempt_grace_ms;       //  revoked leases end after it
    shic_pools_t *pools;            //  the memory pools (the gateway's alone;
                                    //  owned by the runtime)
    shic_cluster_settings_t cluster; //  the cluster section (issue 13)
} shic_settings_t;

//  Reads settings from config (may be NULL) into self; endpoints are made
//  unique per runtime.
void shic_settings_load (shic_settings_t *self, zconfig_t *config);
//  A key under "runtime/", else "shicd/", else default
int64_t shic_config_int (zconfig_t *config, const char *key, int64_t dflt);

//  The node of a cluster id ("<node>.<rest>": a lease_ref or instance_id
//  of a clustered node) into node (size >= 64); false when id has no such
//  prefix. *rest_p (may be NULL) points after the dot.
bool shic_cluster_id_node (const char *id, char *node, const char **rest_p);

//  id without node's prefix ("<node>.<rest>" -> rest), or id itself when
//  it has not that prefix (the key of an instance as every node knows it)
const char *shic_cluster_strip_node (const char *id, const char *node);
//  shic_cluster_node_valid (a node name's rule) is in shic.h: shicd checks
//  its configuration with it

//  Wall clock milliseconds
int64_t shic_now_ms (void);

//  A zhashx whose items destructor destroys (the cluster's tables)
zhashx_t *shic_hash_new (zhashx_destructor_fn *destructor);

//  One turn of a loop's wait (the gateway's, the cluster actor's) on
//  ZeroMQ sockets polled for input, for up to timeout_ms (-1: until
//  something comes), as zmq_poll but with fewer system calls: 0 events
//  when a signal interrupts, -1 only when the context is being
//  terminated. Each socket is asked for
//  ZMQ_EVENTS once, and when none has a message the wait is on their
//  descriptors, after which only the sockets whose descriptor fired are
//  asked again (zmq_poll asks every socket before it waits and after).
//  An item without a socket is a plain descriptor (fd, events), polled
//  as zmq_poll does, without waiting when a socket has a message.
int shic_poll_sockets (zmq_pollitem_t *items, int count, int64_t timeout_ms);

//  Whether a ZeroMQ socket has a message waiting (ZMQ_EVENTS, which also
//  processes its commands); *failed is set when the context is ending
bool shic_socket_has_input (void *socket, bool *failed);

#endif
