/*  =========================================================================
    shic_events - every publication of the events socket

    A slow subscriber never holds up the gateway: the PUB drops what it
    cannot queue (its high-water mark), as wire.md says events are best
    effort.

    The socket is an XPUB, so the subscriptions are known here: an event
    that no subscription's prefix matches is not even built (on the warm
    path, most lease events have nobody listening). The owner reads the
    subscriptions as they come (shic_events_handle, from its poll loop);
    a subscription is thus in force no later than with a PUB, which also
    drops what it sends before the subscription has reached it.
    =========================================================================
*/

#include "shic_events.h"
#include "shic_kernel.h"
#include "shic_bus.h"

#define S_SUBS_MAX  64                  //  distinct prefixes followed
#define S_PREFIX_MAX 255                //  longer than any topic

typedef struct {
    byte *prefix;
    size_t size;
} s_sub_t;

struct _shic_events_t {
    zsock_t *pub;                   //  the events XPUB
    s_sub_t subs [S_SUBS_MAX];      //  the distinct prefixes subscribed to
    size_t sub_count;
    bool everything;                //  more prefixes than that: build all
};

shic_events_t *
shic_events_new (const char *endpoint)
{
    shic_events_t *self = (shic_events_t *) zmalloc (sizeof (shic_events_t));
    self->pub = zsock_new (ZMQ_XPUB);
    if (self->pub) {
        //  Subscriptions are read without waiting (see shic_events_handle);
        //  a subscriber that sends more than a subscription's worth is
        //  disconnected
        zsock_set_rcvtimeo (self->pub, 0);
        zsock_set_maxmsgsize (self->pub, 4096);
        //  A subscriber that does not read holds at most this many events
        //  (each about 1 KB at most: client strings are capped at 256
        //  bytes), then loses what follows
        zsock_set_sndhwm (self->pub, 10000);
        if (shic_events_bind (self, endpoint) != -1)
            return self;
    }
    shic_events_destroy (&self);
    return NULL;
}

void
shic_events_destroy (shic_events_t **self_p)
{
    if (*self_p) {
        shic_events_t *self = *self_p;
        zsock_destroy (&self->pub);
        for (size_t i = 0; i < self->sub_count; i++)
            free (self->subs [i].prefix);
        free (self);
        *self_p = NULL;
    }
}

int
shic_events_bind (shic_events_t *self, const char *endpoint)
{
    int rc = zsock_bind (self->pub, "%s", endpoint);
    if (rc == -1)
        zsys_error ("events: cannot bind %s: %s", endpoint, zmq_strerror (zmq_errno ()));
    return rc;
}

zsock_t *
shic_events_sock (shic_events_t *self)
{
    return self->pub;
}

//  One (un)subscription: [1 or 0][prefix]. The XPUB passes on only the
//  first subscription to a prefix and the last unsubscription from it.
static void
s_subscription (shic_events_t *self, const byte *data, size_t size)
{
    if (size < 1 || (data [0] != 0 && data [0] != 1))
        return;
    const byte *prefix = data + 1;
    size--;
    //  No topic is that long: such a prefix matches nothing we publish
    if (size > S_PREFIX_MAX)
        return;
    size_t i = 0;
    while (i < self->sub_count
       && (self->subs [i].size != size || memcmp (self->subs [i].prefix, prefix, size)))
        i++;
    if (data [0] == 1 && i == self->sub_count) {
        if (self->sub_count == S_SUBS_MAX)
            self->everything = true;
        else {
            byte *copy = (byte *) malloc (size + 1);
            assert (copy);
            memcpy (copy, prefix, size);
            self->subs [self->sub_count++] = (s_sub_t) { copy, size };
        }
    }
    else
    if (data [0] == 0 && i < self->sub_count) {
        free (self->subs [i].prefix);
        self->subs [i] = self->subs [--self->sub_count];
    }
}

void
shic_events_handle (shic_events_t *self)
{
    zframe_t *frame;
    for (int i = 0; i < 1000 && (frame = zframe_recv (self->pub)); i++) {
        s_subscription (self, zframe_data (frame), zframe_size (frame));
        zframe_destroy (&frame);
    }
}

bool
shic_events_wanted (shic_events_t *self, const char *topic)
{
    if (self->everything)
        return true;
    size_t length = strlen (topic);
    for (size_t i = 0; i < self->sub_count; i++)
        if (self->subs [i].size <= length
        &&  memcmp (self->subs [i].prefix, topic, self->subs [i].size) == 0)
            return true;
    return false;
}

//  Sends [topic][frame]; takes the frame
static void
s_publish_frame (shic_events_t *self, const char *topic, zframe_t **frame_p)
{
    if (!*frame_p)
        return;
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, topic);
    zmsg_append (msg, frame_p);
    shic_bus_sent (self->pub);
    if (zmsg_send (&msg, self->pub) == -1)
        zmsg_destroy (&msg);
}

void
shic_events_publish (shic_events_t *self, const char *topic, shic_val_t **body_p)
{
    shic_val_t *body = *body_p;
    if (!shic_events_wanted (self, topic)) {
        shic_val_destroy (body_p);
        return;
    }
    shic_val_set_int (body, "at_ms", shic_now_ms ());
    void *data = NULL;
    size_t size = 0;
    if (shic_val_encode (body, &data, &size) == 0) {
        zframe_t *frame = zframe_new (data, size);
        free (data);
        s_publish_frame (self, topic, &frame);
    }
    shic_val_destroy (body_p);
}

void
shic_events_lease (shic_events_t *self, const char *topic, const char *instance_id,
                   const char *lease_ref, const shic_val_t *owner_ref, const char *reason)
{
    if (!shic_events_wanted (self, topic))
        return;
    shic_val_writer_t *writer = shic_val_writer_new ();
    if (!writer)
        return;
    shic_val_writer_map (writer, reason? 5: 4);
    shic_val_writer_str (writer, "instance_id");
    shic_val_writer_str (writer, instance_id);
    shic_val_writer_str (writer, "lease_ref");
    shic_val_writer_str (writer, lease_ref);
    shic_val_writer_str (writer, "owner_ref");
    shic_val_writer_val (writer, owner_ref);
    if (reason) {
        shic_val_writer_str (writer, "reason");
        shic_val_writer_str (writer, reason);
    }
    shic_val_writer_str (writer, "at_ms");
    shic_val_writer_int (writer, shic_now_ms ());
    zframe_t *frame = shic_wire_frame_take (&writer);
    s_publish_frame (self, topic, &frame);
}

void
shic_events_lease_renewed (shic_events_t *self, const char *instance_id,
                           const char *lease_ref, int64_t expires_at_ms)
{
    if (!shic_events_wanted (self, "lease.renewed"))
        return;
    shic_val_t *body = shic_val_new_map ();
    shic_val_set_str (body, "instance_id", instance_id);
    shic_val_set_str (body, "lease_ref", lease_ref);
    shic_val_set_int (body, "expires_at_ms", expires_at_ms);
    shic_events_publish (self, "lease.renewed", &body);
}

void
shic_events_backend_registered (shic_events_t *self, const char *backend)
{
    shic_val_t *body = shic_val_new_map ();
    shic_val_set_str (body, "backend", backend);
    shic_events_publish (self, "backend.registered", &body);
}

void
shic_events_instance (shic_events_t *self, const char *topic, const char *instance_id,
                      shic_val_t **extra_p)
{
    if (!shic_events_wanted (self, topic)) {
        if (extra_p)
            shic_val_destroy (extra_p);
        return;
    }
    shic_val_t *body = shic_val_new_map ();
    shic_val_set_str (body, "instance_id", instance_id);
    shic_val_t *extra = extra_p? *extra_p: NULL;
    for (size_t i = 0; i < shic_val_size (extra); i++)
        shic_val_set_dup (body, shic_val_key_at (extra, i), shic_val_at (extra, i));
    if (extra_p)
        shic_val_destroy (extra_p);
    shic_events_publish (self, topic, &body);
}

//  --------------------------------------------------------------------------

void
shic_events_test (bool verbose)
{
    (void) verbose;
    printf (" * shic_events: ");
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "inproc://shic-events-test-%d", getpid ());
    shic_events_t *events = shic_events_new (endpoint);
    assert (events);
    zsock_t *sub = zsock_new_sub (endpoint, "");
    assert (sub);
    zsock_set_rcvtimeo (sub, 2000);
    //  A PUB drops what it sends before the subscription arrives: publish
    //  until the first message is seen (bounded)
    zmsg_t *msg = NULL;
    for (int i = 0; i < 200 && !msg; i++) {
        shic_events_handle (events);
        shic_events_backend_registered (events, "probe");
        zsock_set_rcvtimeo (sub, 10);
        msg = zmsg_recv (sub);
    }
    assert (msg);
    zmsg_destroy (&msg);
    zsock_set_rcvtimeo (sub, 10);
    while ((msg = zmsg_recv (sub)))
        zmsg_destroy (&msg);
    zsock_set_rcvtimeo (sub, 2000);

    shic_val_t *owner = shic_val_new_str ("agent-1");
    shic_events_lease (events, "lease.released", "i-1", "lease-1", owner, "released");
    shic_val_t *extra = shic_val_new_map ();
    shic_val_set_str (extra, "lifecycle_status", "ready");
    shic_events_instance (events, "instance.ready", "i-1", &extra);
    assert (extra == NULL);
    shic_events_lease_renewed (events, "i-1", "lease-1", 42);

    const char *topics [] = { "lease.released", "instance.ready", "lease.renewed" };
    for (int i = 0; i < 3; i++) {
        msg = zmsg_recv (sub);
        assert (msg);
        char *topic = zmsg_popstr (msg);
        assert (streq (topic, topics [i]));
        zframe_t *frame = zmsg_pop (msg);
        shic_val_t *body = NULL;
        int rc = shic_val_decode (zframe_data (frame), zframe_size (frame), NULL, &body, NULL);
        assert (rc == 0);
        assert (streq (shic_val_str (shic_val_get (body, "instance_id")), "i-1"));
        assert (shic_val_int (shic_val_get (body, "at_ms")) > 0);
        //  at_ms comes last, after the event's own pairs
        assert (streq (shic_val_key_at (body, shic_val_size (body) - 1), "at_ms"));
        if (i == 0) {
            assert (streq (shic_val_str (shic_val_get (body, "owner_ref")), "agent-1"));
            assert (streq (shic_val_str (shic_val_get (body, "reason")), "released"));
        }
        if (i == 1)
            assert (streq (shic_val_key_at (body, 1), "lifecycle_status"));
        if (i == 2)
            assert (shic_val_int (shic_val_get (body, "expires_at_ms")) == 42);
        shic_val_destroy (&body);
        zframe_destroy (&frame);
        zstr_free (&topic);
        zmsg_destroy (&msg);
    }
    shic_val_destroy (&owner);
    //  Subscriptions are followed: a prefix covers its topics only, and
    //  when the last subscriber leaves nothing is wanted any more
    assert (shic_events_wanted (events, "backend.registered"));
    zsock_t *narrow = zsock_new_sub (endpoint, "lease.");
    assert (narrow);
    zsock_destroy (&sub);
    for (int i = 0; i < 200 && (shic_events_wanted (events, "instance.ready")
                            || !shic_events_wanted (events, "lease.granted")); i++) {
        zclock_sleep (5);
        shic_events_handle (events);
    }
    assert (!shic_events_wanted (events, "instance.ready"));
    assert (shic_events_wanted (events, "lease.granted"));
    assert (!shic_events_wanted (events, "lease"));
    zsock_destroy (&narrow);
    for (int i = 0; i < 200 && shic_events_wanted (events, "lease.granted"); i++) {
        zclock_sleep (5);
        shic_events_handle (events);
    }
    assert (!shic_events_wanted (events, "lease.granted"));
    shic_events_destroy (&events);
    //  A second bind of the same inproc endpoint fails cleanly
    snprintf (endpoint, sizeof (endpoint), "inproc://shic-events-test-%d-twice", getpid ());
    shic_events_t *first = shic_events_new (endpoint);
    assert (first);
    assert (shic_events_new (endpoint) == NULL);
    shic_events_destroy (&first);
    printf ("OK\n");
}
