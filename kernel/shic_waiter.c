/*  =========================================================================
    shic_waiter - a request parked until its instance can answer it
    =========================================================================
*/

#include "shic_waiter.h"
#include "shic_bus.h"

shic_waiter_t *
shic_waiter_new (zsock_t *router, zmsg_t **envelope_p, const shic_val_t *id, const char *client,
                 bool trusted, const char *owner_ref, int64_t ttl_ms,
                 shic_val_t **compatibility_p)
{
    shic_waiter_t *self = (shic_waiter_t *) zmalloc (sizeof (shic_waiter_t));
    self->router = router;
    self->envelope = *envelope_p;
    *envelope_p = NULL;
    self->client = client? strdup (client): NULL;
    self->trusted = trusted;
    self->id = shic_val_dup (id);
    self->owner_ref = owner_ref? shic_val_new_str (owner_ref): NULL;
    self->ttl_ms = ttl_ms;
    self->compatibility = *compatibility_p;
    *compatibility_p = NULL;
    return self;
}

void
shic_waiter_destroy (shic_waiter_t **self_p)
{
    if (*self_p) {
        shic_waiter_t *self = *self_p;
        zmsg_destroy (&self->envelope);
        free (self->client);
        shic_val_destroy (&self->id);
        shic_val_destroy (&self->owner_ref);
        if (!self->compatibility_borrowed)
            shic_val_destroy (&self->compatibility);
        shic_val_destroy (&self->evicted);
        free (self);
        *self_p = NULL;
    }
}

void
shic_waiter_send (zsock_t *router, zmsg_t *envelope, zframe_t **frame_p)
{
    zmsg_t *reply = zmsg_dup (envelope);
    shic_waiter_send_taking (router, &reply, frame_p);
}

void
shic_waiter_send_taking (zsock_t *router, zmsg_t **envelope_p, zframe_t **frame_p)
{
    zmsg_t *reply = *envelope_p;
    *envelope_p = NULL;
    if (!reply) {
        zframe_destroy (frame_p);
        return;
    }
    zmsg_append (reply, frame_p);
    shic_bus_sent (router);
    if (zmsg_send (&reply, router) == -1)
        zmsg_destroy (&reply);
}

void
shic_waiter_reply_error (shic_waiter_t *self, const shic_error_t *err)
{
    zframe_t *frame = shic_wire_reply_error (self->id, err);
    shic_waiter_send (self->router, self->envelope, &frame);
}

void
shic_waiter_timeout_error (shic_waiter_t *self, const char *instance_id,
                           const char *lifecycle_status, const char *health_status,
                           shic_error_t *err)
{
    shic_val_t *details = shic_val_new_map ();
    shic_val_set_str (details, "instance_id", instance_id);
    shic_val_set_str (details, "lifecycle_status", lifecycle_status);
    shic_val_set_str (details, "health_status", health_status);
    if (self->want_healthy)
        shic_error_set (err, SHIC_E_INSTANCE_UNAVAILABLE, &details,
                        "instance '%s' is unavailable", instance_id);
    else
        shic_error_set (err, SHIC_E_AWAIT_TIMEOUT, &details,
                        "instance '%s' is still %s; it keeps starting",
                        instance_id, lifecycle_status);
}

//  --------------------------------------------------------------------------

void
shic_waiter_test (bool verbose)
{
    (void) verbose;
    printf (" * shic_waiter: ");
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "inproc://shic-waiter-test-%d", getpid ());
    zsock_t *router = zsock_new_router (endpoint);
    zsock_t *dealer = zsock_new_dealer (endpoint);
    assert (router && dealer);
    zsock_set_rcvtimeo (router, 2000);
    zsock_set_rcvtimeo (dealer, 2000);
    //  The request arrives; its routing frame is the envelope
    zstr_send (dealer, "request");
    zmsg_t *request = zmsg_recv (router);
    assert (request);
    zmsg_t *envelope = zmsg_new ();
    zframe_t *routing = zmsg_pop (request);
    zmsg_append (envelope, &routing);
    zmsg_destroy (&request);

    shic_val_t *id = shic_val_new_str ("r-1");
    shic_val_t *compatibility = shic_val_new_map ();
    shic_waiter_t *waiter = shic_waiter_new (router, &envelope, id, "c", false, "me", 0,
                                             &compatibility);
    assert (envelope == NULL && compatibility == NULL);
    assert (streq (shic_val_str (waiter->owner_ref), "me"));
    shic_error_t err = { 0 };
    shic_waiter_timeout_error (waiter, "i-1", "starting", "unavailable", &err);
    assert (streq (err.code, SHIC_E_AWAIT_TIMEOUT));
    shic_waiter_reply_error (waiter, &err);
    shic_error_clear (&err);
    waiter->want_healthy = true;
    shic_waiter_timeout_error (waiter, "i-1", "ready", "unavailable", &err);
    assert (streq (err.code, SHIC_E_INSTANCE_UNAVAILABLE));
    shic_error_clear (&err);

    zframe_t *frame = zframe_recv (dealer);
    assert (frame);
    shic_wire_reply_t reply = { 0 };
    assert (shic_wire_reply_decode (zframe_data (frame), zframe_size (frame), &reply) == 0);
    assert (!reply.ok && streq (reply.error.code, SHIC_E_AWAIT_TIMEOUT));
    assert (streq (shic_val_str (reply.id), "r-1"));
    shic_wire_reply_reset (&reply);
    zframe_destroy (&frame);

    shic_waiter_destroy (&waiter);
    assert (waiter == NULL);
    shic_val_destroy (&id);
    zsock_destroy (&dealer);
    zsock_destroy (&router);
    printf ("OK\n");
}
