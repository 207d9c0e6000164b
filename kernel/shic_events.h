/*  =========================================================================
    shic_events - every publication of the events socket

    The events PUB of wire.md: [topic][msgpack map], each map stamped with
    at_ms. The gateway owns one; the registry and the lease book publish
    through it, so the events a subscriber can see are all written here.
    =========================================================================
*/

#ifndef SHIC_EVENTS_H_INCLUDED
#define SHIC_EVENTS_H_INCLUDED

#include "shic.h"

typedef struct _shic_events_t shic_events_t;

//  A PUB bound to endpoint (inproc); NULL (logged) when it cannot bind
shic_events_t *shic_events_new (const char *endpoint);
void shic_events_destroy (shic_events_t **self_p);

//  The XPUB, for the owner's poll: when it is readable, call
//  shic_events_handle, which reads the subscriptions that came in
zsock_t *shic_events_sock (shic_events_t *self);
void shic_events_handle (shic_events_t *self);

//  True when some subscription would receive an event of this topic;
//  every publication below checks it first and builds nothing otherwise
bool shic_events_wanted (shic_events_t *self, const char *topic);

//  Binds one more endpoint (tcp for network subscribers); zsock_bind's
//  result (the port of an ephemeral tcp endpoint, or -1, logged)
int shic_events_bind (shic_events_t *self, const char *endpoint);

//  Publishes [topic][body], with at_ms added; takes the body
void shic_events_publish (shic_events_t *self, const char *topic, shic_val_t **body_p);

//  A lease event {instance_id, lease_ref, owner_ref, reason?, at_ms},
//  streamed from the lease's own fields (owner_ref borrowed; reason may be
//  NULL)
void shic_events_lease (shic_events_t *self, const char *topic, const char *instance_id,
                        const char *lease_ref, const shic_val_t *owner_ref, const char *reason);

//  lease.renewed {instance_id, lease_ref, expires_at_ms, at_ms}
void shic_events_lease_renewed (shic_events_t *self, const char *instance_id,
                                const char *lease_ref, int64_t expires_at_ms);

//  backend.registered {backend, at_ms}
void shic_events_backend_registered (shic_events_t *self, const char *backend);

//  An instance event {instance_id, <the pairs of extra, in order>, at_ms};
//  takes *extra_p (NULL: none)
void shic_events_instance (shic_events_t *self, const char *topic, const char *instance_id,
                           shic_val_t **extra_p);

void shic_events_test (bool verbose);

#endif
