/*  =========================================================================
    shic_conns - which client spoke on which connection, to see it go

    Two maps kept in step: descriptor -> client key (an array indexed by
    descriptor, grown on demand) and client key -> descriptor. The warm
    path costs one array read and one string compare per message.
    =========================================================================
*/

#include "shic_conns.h"

struct _shic_conns_t {
    char **by_fd;                   //  client key on each descriptor, or NULL
    size_t slots;                   //  size of by_fd
    zhashx_t *fds;                  //  client key -> descriptor + 1 (as a pointer)
    size_t size;                    //  descriptors in use
};

shic_conns_t *
shic_conns_new (void)
{
    shic_conns_t *self = (shic_conns_t *) zmalloc (sizeof (shic_conns_t));
    self->fds = zhashx_new ();
    return self;
}

void
shic_conns_destroy (shic_conns_t **self_p)
{
    assert (self_p);
    shic_conns_t *self = *self_p;
    if (!self)
        return;
    for (size_t fd = 0; fd < self->slots; fd++)
        free (self->by_fd [fd]);
    free (self->by_fd);
    zhashx_destroy (&self->fds);
    free (self);
    *self_p = NULL;
}

const char *
shic_conns_on (shic_conns_t *self, int fd)
{
    return fd >= 0 && (size_t) fd < self->slots? self->by_fd [fd]: NULL;
}

//  Empties slot fd; returns its key (the caller's)
static char *
s_take (shic_conns_t *self, int fd)
{
    char *key = self->by_fd [fd];
    self->by_fd [fd] = NULL;
    if (key)
        self->size--;
    return key;
}

char *
shic_conns_seen (shic_conns_t *self, int fd, const char *client)
{
    if (fd < 0 || !client)
        return NULL;
    const char *there = shic_conns_on (self, fd);
    if (there && streq (there, client))
        return NULL;                //  the warm path
    if ((size_t) fd >= self->slots) {
        size_t slots = self->slots? self->slots: 64;
        while (slots <= (size_t) fd)
            slots *= 2;
        self->by_fd = (char **) realloc (self->by_fd, slots * sizeof (char *));
        assert (self->by_fd);
        memset (self->by_fd + self->slots, 0, (slots - self->slots) * sizeof (char *));
        self->slots = slots;
    }
    //  Someone else was on fd: that connection has closed
    char *gone = s_take (self, fd);
    if (gone && (intptr_t) zhashx_lookup (self->fds, gone) == fd + 1)
        zhashx_delete (self->fds, gone);
    else
        zstr_free (&gone);          //  it had moved to another connection
    //  The client may have come back on a new connection
    intptr_t before = (intptr_t) zhashx_lookup (self->fds, client);
    if (before) {
        char *old = s_take (self, (int) before - 1);
        zstr_free (&old);
    }
    zhashx_update (self->fds, client, (void *) (intptr_t) (fd + 1));
    self->by_fd [fd] = strdup (client);
    self->size++;
    return gone;
}

char *
shic_conns_closed (shic_conns_t *self, int fd)
{
    if (fd < 0 || (size_t) fd >= self->slots || !self->by_fd [fd])
        return NULL;
    char *gone = s_take (self, fd);
    if ((intptr_t) zhashx_lookup (self->fds, gone) == fd + 1) {
        zhashx_delete (self->fds, gone);
        return gone;
    }
    zstr_free (&gone);
    return NULL;
}

size_t
shic_conns_size (shic_conns_t *self)
{
    return self->size;
}

void
shic_conns_test (bool verbose)
{
    printf (" * shic_conns: ");
    if (verbose)
        printf ("\n");
    shic_conns_t *conns = shic_conns_new ();
    //  Untracked: inproc (no descriptor)
    assert (shic_conns_seen (conns, -1, "pA") == NULL && shic_conns_size (conns) == 0);
    //  A client, its second message, its disconnect
    assert (shic_conns_seen (conns, 7, "pA") == NULL);
    assert (shic_conns_seen (conns, 7, "pA") == NULL);
    assert (streq (shic_conns_on (conns, 7), "pA") && shic_conns_size (conns) == 1);
    char *gone = shic_conns_closed (conns, 7);
    assert (gone && streq (gone, "pA"));
    zstr_free (&gone);
    assert (shic_conns_closed (conns, 7) == NULL && shic_conns_size (conns) == 0);
    //  A descriptor reused before its disconnect was read: the old client
    //  is gone (the gateway reads the monitor first, so that a late
    //  disconnect of the old connection cannot name the new client)
    assert (shic_conns_seen (conns, 9, "pB") == NULL);
    gone = shic_conns_seen (conns, 9, "pC");
    assert (gone && streq (gone, "pB"));
    zstr_free (&gone);
    //  A client that reconnected (same key, new descriptor) is not gone
    //  when its old descriptor closes
    assert (shic_conns_seen (conns, 300, "pC") == NULL);
    assert (shic_conns_on (conns, 9) == NULL && streq (shic_conns_on (conns, 300), "pC"));
    assert (shic_conns_closed (conns, 9) == NULL);
    gone = shic_conns_closed (conns, 300);
    assert (gone && streq (gone, "pC"));
    zstr_free (&gone);
    //  A client whose descriptor another client took after it moved on
    assert (shic_conns_seen (conns, 4, "pD") == NULL);
    assert (shic_conns_seen (conns, 5, "pD") == NULL);
    assert (shic_conns_seen (conns, 4, "pE") == NULL);
    assert (shic_conns_size (conns) == 2);
    shic_conns_destroy (&conns);
    shic_conns_destroy (&conns);
    printf ("OK\n");
}
