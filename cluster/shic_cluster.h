/*  =========================================================================
    shic_cluster - the cluster actor: one node of a cluster on etcd (issue 13)

    One more child of the supervisor, started when the configuration has a
    cluster section (guides/cluster.md). It keeps this node's records in
    etcd under one etcd lease, watches the prefix into a local view
    (shic_cluster_view), and answers what the gateway hands it (an ensure
    with no local instance, a ref of another node, a cluster list) by
    claiming a start, forwarding over the peer sockets, or merging.
    =========================================================================
*/

#ifndef SHIC_CLUSTER_H_INCLUDED
#define SHIC_CLUSTER_H_INCLUDED

#include "shic.h"
#include "shic_kernel.h"

#ifdef __cplusplus
extern "C" {
#endif

//  What the supervisor hands the actor (allocated; the actor frees it)
typedef struct {
    const shic_settings_t *settings; //  the runtime's
    int peer_port;                  //  the port of the gateway's peer door
} shic_cluster_args_t;

//  The actor (czmq zactor_fn); args is a shic_cluster_args_t
void shic_cluster_actor (zsock_t *pipe, void *args);

#ifdef __cplusplus
}
#endif

#endif
