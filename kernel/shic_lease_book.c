/*  =========================================================================
    shic_lease_book - the gateway's leases, their clients, their chores

    To the pool ("P" on the gateway's bus):
        GRANT {lease_ref, ttl_ms, expires_at_ms}    bind a lease actor to it
        RENEW {lease_ref, ttl_ms, expires_at_ms}    its TTL changed
        RELEASE {lease_ref}                         it ended
    A GRANT waits for the batch (s_chores); RENEW and RELEASE of a lease
    the pool knows go at once, and those of a lease it does not know yet
    are folded into the GRANT or dropped with it.
    =========================================================================
*/

#include "shic_lease_book.h"
#include "shic_bus.h"
#include "shic_kernel.h"
#include <limits.h>
#include <sys/random.h>

//  The pool's batch waits until requests and replies pause for
//  CHORES_IDLE_MS, at most CHORES_MAX_MS: waking the pool's threads in
//  the middle of a burst of replies (a thundering herd answered at once)
//  would slow the replies down. A timed lease's actor thus hears of it up
//  to CHORES_MAX_MS late; its expiry time is absolute all the same, and a
//  lease with a TTL under CHORES_URGENT_TTL_MS goes out at once.
#define CHORES_IDLE_MS          20
#define CHORES_MAX_MS           200
#define CHORES_URGENT_TTL_MS    2000
//  Client expiry running this late means the daemon was paused
#define PAUSE_MS                1000

typedef struct {
    int64_t last_seen;              //  monotonic
    size_t untimed;                 //  untimed leases it holds
} s_client_t;

struct _shic_lease_book_t {
    bool draining;                  //  the runtime stops: the pool may be gone
    const shic_settings_t *settings; //  runtime settings
    shic_events_t *events;          //  where lease events go
    zsock_t *bus;                   //  the gateway's bus ROUTER
    shic_lease_end_fn *on_end;      //  told when a lease ends
    void *on_end_arg;               //  its argument
    zhashx_t *leases;               //  ref -> shic_lease_t
    zhashx_t *clients;              //  client key -> s_client_t
    zhashx_t *held;                 //  holder key -> live leases (size_t *)
    zlistx_t *to_pool;              //  refs of leases whose GRANT waits
    int64_t chores_since;           //  monotonic; a batch waits since, 0 = none
    bool chores_urgent;             //  a short lease waits for its actor
    int64_t last_busy;              //  monotonic; last request or reply burst
    uint64_t granted;               //  leases granted
    size_t actors_idle;             //  idle lease actors, as the pool said
    bool pool_exhausted;            //  the pool cannot start more actors
    int64_t clients_due;            //  monotonic: the next client expiry, -1
};

static void
s_lease_destroy (shic_lease_t **self_p)
{
    if (*self_p) {
        shic_lease_t *self = *self_p;
        free (self->ref);
        shic_val_destroy (&self->owner_ref);
        free (self->instance_id);
        free (self->actor);
        free (self->client);
        free (self->holder);
        free (self);
        *self_p = NULL;
    }
}

shic_lease_book_t *
shic_lease_book_new (const shic_settings_t *settings, shic_events_t *events, zsock_t *bus,
                     shic_lease_end_fn *on_end, void *arg)
{
    shic_lease_book_t *self = (shic_lease_book_t *) zmalloc (sizeof (shic_lease_book_t));
    self->settings = settings;
    self->events = events;
    self->bus = bus;
    self->on_end = on_end;
    self->on_end_arg = arg;
    self->leases = zhashx_new ();
    zhashx_set_destructor (self->leases, (zhashx_destructor_fn *) s_lease_destroy);
    self->clients = zhashx_new ();
    zhashx_set_destructor (self->clients, (zhashx_destructor_fn *) zstr_free);
    self->clients_due = -1;
    self->held = zhashx_new ();
    zhashx_set_destructor (self->held, (zhashx_destructor_fn *) zstr_free);
    self->to_pool = zlistx_new ();
    zlistx_set_destructor (self->to_pool, (zlistx_destructor_fn *) zstr_free);
    return self;
}

void
shic_lease_book_destroy (shic_lease_book_t **self_p)
{
    if (*self_p) {
        shic_lease_book_t *self = *self_p;
        zlistx_destroy (&self->to_pool);
        zhashx_destroy (&self->leases);
        zhashx_destroy (&self->clients);
        zhashx_destroy (&self->held);
        free (self);
        *self_p = NULL;
    }
}

size_t
shic_lease_book_size (shic_lease_book_t *self)
{
    return zhashx_size (self->leases);
}

bool
shic_lease_book_full (shic_lease_book_t *self)
{
    return zhashx_size (self->leases) >= self->settings->max_leases;
}

size_t
shic_lease_book_held_by (shic_lease_book_t *self, const char *client)
{
    size_t *held = (size_t *) zhashx_lookup (self->held, client);
    return held? *held: 0;
}

uint64_t
shic_lease_book_granted (shic_lease_book_t *self)
{
    return self->granted;
}

size_t
shic_lease_book_actors_idle (shic_lease_book_t *self)
{
    return self->actors_idle;
}

//  GRANT, RENEW or RELEASE of a lease to the pool ("P" on the bus)
static void
s_pool_send (shic_lease_book_t *self, shic_bus_id_t id, shic_lease_t *lease)
{
    shic_bus_t msg = { .id = id, .lease_ref = lease->ref, .ttl_ms = lease->ttl_ms,
                       .expires_at_ms = lease->expires_at_ms };
    //  (while the runtime stops, the pool is gone first: no news then)
    if (shic_bus_send_to (self->bus, "P", &msg) == -1 && !self->draining)
        zsys_warning ("gateway: cannot send %s to the lease pool", shic_bus_command (id));
}

shic_lease_t *
shic_lease_book_grant (shic_lease_book_t *self, const char *instance_id,
                       const shic_val_t *owner_ref, int64_t ttl_ms, const char *client,
                       bool tracked)
{
    shic_lease_t *lease = (shic_lease_t *) zmalloc (sizeof (shic_lease_t));
    lease->ref = shic_lease_book_new_ref ();
    //  A clustered node's refs name it ("<node>.lease-..."), so a renew or
    //  release sent to any node reaches this one (guides/cluster.md)
    if (self->settings->cluster.enabled) {
        char *named = zsys_sprintf ("%s.%s", self->settings->cluster.node, lease->ref);
        free (lease->ref);
        lease->ref = named;
    }
    //  Unguessable, and thus unique in practice; a repeat would be a broken
    //  random source, never to be hidden
    assert (!zhashx_lookup (self->leases, lease->ref));
    lease->holder = client? strdup (client): NULL;
    if (client) {
        size_t *held = (size_t *) zhashx_lookup (self->held, client);
        if (!held) {
            held = (size_t *) zmalloc (sizeof (size_t));
            zhashx_insert (self->held, client, held);
        }
        (*held)++;
    }
    lease->owner_ref = owner_ref? shic_val_dup (owner_ref): shic_val_new_nil ();
    lease->ttl_ms = ttl_ms;
    lease->expires_at_ms = ttl_ms > 0? shic_now_ms () + ttl_ms: 0;
    lease->instance_id = strdup (instance_id);
    if (ttl_ms == 0 && tracked && client) {
        lease->client = strdup (client);
        s_client_t *known = (s_client_t *) zhashx_lookup (self->clients, client);
        if (known)
            known->untimed++;
    }
    zhashx_insert (self->leases, lease->ref, lease);
    lease->seq = ++self->granted;
    zlistx_add_end (self->to_pool, strdup (lease->ref));
    if (!self->chores_since)
        self->chores_since = zclock_mono ();
    if (ttl_ms > 0 && ttl_ms < CHORES_URGENT_TTL_MS)
        self->chores_urgent = true;
    return lease;
}

void
shic_lease_book_holders (shic_lease_book_t *self, const char *instance_id, size_t *leases,
                         size_t *preemptible, int *priority, int64_t *earliest_expiry_ms,
                         shic_val_t *owners)
{
    *leases = *preemptible = 0;
    *priority = INT_MIN;
    *earliest_expiry_ms = 0;
    for (shic_lease_t *lease = (shic_lease_t *) zhashx_first (self->leases); lease;
         lease = (shic_lease_t *) zhashx_next (self->leases)) {
        if (!streq (lease->instance_id, instance_id))
            continue;
        (*leases)++;
        *preemptible += lease->preemptible? 1: 0;
        if (lease->priority > *priority)
            *priority = lease->priority;
        if (lease->expires_at_ms
        && (!*earliest_expiry_ms || lease->expires_at_ms < *earliest_expiry_ms))
            *earliest_expiry_ms = lease->expires_at_ms;
        if (owners)
            shic_val_push (owners, &(shic_val_t *) { shic_val_dup (lease->owner_ref) });
    }
}

void
shic_lease_book_revoking (shic_lease_book_t *self, const char *instance_id, int64_t grace_ms)
{
    for (shic_lease_t *lease = (shic_lease_t *) zhashx_first (self->leases); lease;
         lease = (shic_lease_t *) zhashx_next (self->leases)) {
        if (!streq (lease->instance_id, instance_id))
            continue;
        shic_val_t *event = shic_val_new_map ();
        shic_val_set_str (event, "instance_id", instance_id);
        shic_val_set_str (event, "lease_ref", lease->ref);
        shic_val_set_dup (event, "owner_ref", lease->owner_ref);
        shic_val_set_int (event, "grace_ms", grace_ms);
        shic_events_publish (self->events, "lease.revoking", &event);
    }
}

shic_lease_t *
shic_lease_book_lookup (shic_lease_book_t *self, const char *ref)
{
    return (shic_lease_t *) zhashx_lookup (self->leases, ref);
}

//  The client no longer pins a lease that ends or becomes timed
static void
s_client_unpin (shic_lease_book_t *self, shic_lease_t *lease)
{
    if (lease->client) {
        s_client_t *client = (s_client_t *) zhashx_lookup (self->clients, lease->client);
        if (client && client->untimed)
            client->untimed--;
        zstr_free (&lease->client);
    }
}

void
shic_lease_book_renew (shic_lease_book_t *self, shic_lease_t *lease, int64_t ttl_ms)
{
    if (ttl_ms > 0)
        s_client_unpin (self, lease);
    lease->ttl_ms = ttl_ms;
    lease->expires_at_ms = ttl_ms > 0? shic_now_ms () + ttl_ms: 0;
    if (lease->pooled)
        s_pool_send (self, SHIC_BUS_RENEW, lease);
    else
    if (ttl_ms > 0 && ttl_ms < CHORES_URGENT_TTL_MS)
        self->chores_urgent = true;     //  its GRANT, still to go, carries it
    shic_events_lease_renewed (self->events, lease->instance_id, lease->ref,
                               lease->expires_at_ms);
}

void
shic_lease_book_end (shic_lease_book_t *self, shic_lease_t *lease, const char *topic,
                     const char *reason)
{
    if (lease->pooled)
        s_pool_send (self, SHIC_BUS_RELEASE, lease);
    //  (a lease the pool never heard of leaves its ref in to_pool; it is
    //  skipped there once the lease is gone)
    s_client_unpin (self, lease);
    size_t *held = lease->holder? (size_t *) zhashx_lookup (self->held, lease->holder): NULL;
    if (held && --*held == 0)
        zhashx_delete (self->held, lease->holder);
    if (self->on_end)
        self->on_end (self->on_end_arg, lease->instance_id);
    shic_events_lease (self->events, topic, lease->instance_id, lease->ref, lease->owner_ref,
                       reason);
    zhashx_delete (self->leases, lease->ref);
}

//  Ends every lease that matches; instance_id or client names them
static void
s_end_matching (shic_lease_book_t *self, const char *instance_id, const char *client,
                const char *topic, const char *reason)
{
    zlistx_t *ending = zlistx_new ();
    for (shic_lease_t *lease = (shic_lease_t *) zhashx_first (self->leases); lease;
         lease = (shic_lease_t *) zhashx_next (self->leases))
        if ((instance_id && streq (lease->instance_id, instance_id))
        ||  (client && lease->client && streq (lease->client, client)))
            zlistx_add_end (ending, lease);
    shic_lease_t *lease;
    while ((lease = (shic_lease_t *) zlistx_detach (ending, NULL)))
        shic_lease_book_end (self, lease, topic, reason);
    zlistx_destroy (&ending);
}

void
shic_lease_book_end_instance (shic_lease_book_t *self, const char *instance_id,
                              const char *reason)
{
    s_end_matching (self, instance_id, NULL, "lease.released", reason);
}

void
shic_lease_book_write (shic_val_writer_t *writer, shic_lease_t *lease)
{
    shic_lease_ref_write (writer, 1, lease->ref, lease->owner_ref, lease->ttl_ms,
                          lease->expires_at_ms, true, lease->instance_id);
    shic_val_writer_str (writer, "actor");
    shic_val_writer_str (writer, lease->actor);
}

shic_val_t *
shic_lease_book_val (shic_lease_t *lease)
{
    shic_val_t *val = shic_lease_ref_new (lease->ref, lease->owner_ref, lease->ttl_ms,
                                          lease->expires_at_ms, true, lease->instance_id);
    if (lease->actor)
        shic_val_set_str (val, "actor", lease->actor);
    else
        shic_val_set_nil (val, "actor");
    return val;
}

//  Random bytes are drawn from the kernel a batch at a time (one getrandom
//  per 32 refs, per thread); each byte is used once
#define REF_BYTES       16
#define REF_BATCH       (32 * REF_BYTES)

char *
shic_lease_book_new_ref (void)
{
    static _Thread_local uint8_t batch [REF_BATCH];
    static _Thread_local size_t used = REF_BATCH;
    if (used == REF_BATCH) {
        size_t have = 0;
        while (have < REF_BATCH) {
            ssize_t got = getrandom (batch + have, REF_BATCH - have, 0);
            if (got < 0 && errno == EINTR)
                continue;
            //  A kernel without getrandom(2) (before 3.17) cannot run shic:
            //  a guessable ref would hand leases to anyone
            assert (got > 0);
            have += (size_t) got;
        }
        used = 0;
    }
    static const char hex [] = "0123456789abcdef";
    char *ref = (char *) malloc (6 + 2 * REF_BYTES + 1);
    assert (ref);
    memcpy (ref, "lease-", 6);
    for (size_t i = 0; i < REF_BYTES; i++) {
        uint8_t byte = batch [used + i];
        ref [6 + 2 * i] = hex [byte >> 4];
        ref [6 + 2 * i + 1] = hex [byte & 15];
    }
    ref [6 + 2 * REF_BYTES] = 0;
    //  Spent bytes are not kept where a later read could find them
    memset (batch + used, 0, REF_BYTES);
    used += REF_BYTES;
    return ref;
}

static int
s_compare_seq (const void *a, const void *b)
{
    uint64_t x = (*(shic_lease_t * const *) a)->seq, y = (*(shic_lease_t * const *) b)->seq;
    return x < y? -1: x > y? 1: 0;
}

shic_val_t *
shic_lease_book_list (shic_lease_book_t *self, const char *instance_id, const char *viewer,
                      const char *after, size_t limit, char **next_p)
{
    //  The cursor is a grant number: it says nothing of any ref
    uint64_t from = after? strtoull (after, NULL, 10): 0;
    size_t count = 0;
    shic_lease_t **leases = (shic_lease_t **)
        zmalloc ((zhashx_size (self->leases) + 1) * sizeof (shic_lease_t *));
    for (shic_lease_t *lease = (shic_lease_t *) zhashx_first (self->leases); lease;
         lease = (shic_lease_t *) zhashx_next (self->leases))
        if (lease->seq > from && (!instance_id || streq (instance_id, lease->instance_id)))
            leases [count++] = lease;
    qsort (leases, count, sizeof (shic_lease_t *), s_compare_seq);
    shic_val_t *list = shic_val_new_array ();
    *next_p = NULL;
    for (size_t i = 0; i < count && i < limit; i++) {
        shic_val_t *val = shic_lease_book_val (leases [i]);
        if (viewer && !(leases [i]->holder && streq (leases [i]->holder, viewer)))
            shic_val_set_nil (val, "lease_ref");
        shic_val_push (list, &val);
    }
    if (count > limit)
        *next_p = zsys_sprintf ("%" PRIu64, leases [limit - 1]->seq);
    free (leases);
    return list;
}

//  --------------------------------------------------------------------------
//  Clients

void
shic_lease_book_client_seen (shic_lease_book_t *self, const char *key)
{
    s_client_t *client = (s_client_t *) zhashx_lookup (self->clients, key);
    if (!client) {
        client = (s_client_t *) zmalloc (sizeof (s_client_t));
        zhashx_insert (self->clients, key, client);
    }
    client->last_seen = zclock_mono ();
}

void
shic_lease_book_clients_expire (shic_lease_book_t *self, int64_t now, int64_t *next)
{
    //  Run far later than due: the daemon was paused (SIGSTOP, a starved
    //  machine). Its clients' pings may still wait unread (in the sockets,
    //  in libzmq's I/O thread): the pause is not their silence. Each gets a
    //  whole client_timeout_ms from now, and the gateway reads meanwhile.
    if (self->clients_due >= 0 && now - self->clients_due > PAUSE_MS)
        for (s_client_t *client = (s_client_t *) zhashx_first (self->clients); client;
             client = (s_client_t *) zhashx_next (self->clients))
            client->last_seen = now;
    int64_t due = -1;
    zlistx_t *gone = NULL;
    for (s_client_t *client = (s_client_t *) zhashx_first (self->clients); client;
         client = (s_client_t *) zhashx_next (self->clients)) {
        int64_t expiry = client->last_seen + self->settings->client_timeout_ms;
        if (now >= expiry) {
            if (!gone)
                gone = zlistx_new ();
            zlistx_add_end (gone, (void *) zhashx_cursor (self->clients));
        }
        else
        if (client->untimed && (due < 0 || expiry < due))
            due = expiry;
    }
    self->clients_due = due;
    if (due >= 0 && (*next < 0 || due < *next))
        *next = due;
    if (gone) {
        const char *key;
        while ((key = (const char *) zlistx_detach (gone, NULL))) {
            s_client_t *client = (s_client_t *) zhashx_lookup (self->clients, key);
            if (client->untimed)
                s_end_matching (self, NULL, key, "lease.expired", "client_gone");
            zhashx_delete (self->clients, key);
        }
        zlistx_destroy (&gone);
    }
}

void
shic_lease_book_client_gone (shic_lease_book_t *self, const char *key)
{
    s_client_t *client = (s_client_t *) zhashx_lookup (self->clients, key);
    if (!client)
        return;
    if (client->untimed)
        s_end_matching (self, NULL, key, "lease.expired", "client_gone");
    zhashx_delete (self->clients, key);
}

//  --------------------------------------------------------------------------
//  The pool

void
shic_lease_book_bound (shic_lease_book_t *self, const char *ref, const char *actor)
{
    shic_lease_t *lease = shic_lease_book_lookup (self, ref);
    if (lease) {
        free (lease->actor);
        lease->actor = strdup (actor);
    }
}

void
shic_lease_book_expired (shic_lease_book_t *self, const char *ref, int64_t expires_at_ms)
{
    shic_lease_t *lease = shic_lease_book_lookup (self, ref);
    //  A renewal in flight wins over the expiry it crossed
    if (lease && lease->expires_at_ms && lease->expires_at_ms == expires_at_ms)
        shic_lease_book_end (self, lease, "lease.expired", "expired");
}

void
shic_lease_book_pool_counts (shic_lease_book_t *self, size_t idle, size_t actors,
                             bool exhausted)
{
    (void) actors;
    self->actors_idle = idle;
    self->pool_exhausted = exhausted;
}

bool
shic_lease_book_starved (shic_lease_book_t *self)
{
    if (!self->pool_exhausted)
        return false;
    size_t unbound = 0;
    for (shic_lease_t *lease = (shic_lease_t *) zhashx_first (self->leases); lease;
         lease = (shic_lease_t *) zhashx_next (self->leases))
        unbound += lease->actor? 0: 1;
    return unbound >= self->actors_idle;
}

void
shic_lease_book_drain (shic_lease_book_t *self)
{
    self->draining = true;
}

void
shic_lease_book_busy (shic_lease_book_t *self)
{
    self->last_busy = zclock_mono ();
}

int64_t
shic_lease_book_chores (shic_lease_book_t *self, int64_t now)
{
    if (!self->chores_since)
        return -1;
    int64_t due = self->last_busy + CHORES_IDLE_MS;
    if (due > self->chores_since + CHORES_MAX_MS)
        due = self->chores_since + CHORES_MAX_MS;
    if (self->chores_urgent)
        due = now;
    if (now < due)
        return due;
    char *ref;
    while ((ref = (char *) zlistx_detach (self->to_pool, NULL))) {
        shic_lease_t *lease = shic_lease_book_lookup (self, ref);
        zstr_free (&ref);
        if (lease && !lease->pooled) {
            s_pool_send (self, SHIC_BUS_GRANT, lease);
            lease->pooled = true;
        }
    }
    self->chores_since = 0;
    self->chores_urgent = false;
    return -1;
}

//  --------------------------------------------------------------------------

static void
s_test_on_end (void *arg, const char *instance_id)
{
    (void) instance_id;
    (*(int *) arg)++;
}

//  The next message the fake pool got, and its lease_ref
static shic_bus_id_t
s_test_recv (zsock_t *pool, char **ref_p)
{
    shic_bus_t msg = { 0 };
    shic_bus_id_t id = SHIC_BUS_NONE;
    if (shic_bus_recv (&msg, pool, SHIC_BUS_ROLE_POOL) == 0) {
        id = msg.id;
        *ref_p = strdup (msg.lease_ref);
    }
    shic_bus_reset (&msg);
    return id;
}

void
shic_lease_book_test (bool verbose)
{
    (void) verbose;
    printf (" * shic_lease_book: ");
    shic_settings_t settings = { 0 };
    settings.max_leases = 3;
    settings.client_timeout_ms = 50;
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "inproc://shic-lease-book-test-%d", getpid ());
    zsock_t *bus = zsock_new (ZMQ_ROUTER);
    zsock_set_router_mandatory (bus, 1);
    int rc = zsock_bind (bus, "%s", endpoint);
    assert (rc == 0);
    zsock_t *pool = zsock_new (ZMQ_DEALER);
    zsock_set_identity (pool, "P");
    rc = zsock_connect (pool, "%s", endpoint);
    assert (rc == 0);
    zsock_set_rcvtimeo (pool, 2000);
    snprintf (endpoint, sizeof (endpoint), "inproc://shic-lease-book-events-%d", getpid ());
    shic_events_t *events = shic_events_new (endpoint);
    int ended = 0;
    shic_lease_book_t *book = shic_lease_book_new (&settings, events, bus, s_test_on_end, &ended);
    //  The ROUTER knows "P" once it has heard from it
    zstr_send (pool, "hello");
    char *hello = zstr_recv (bus);
    zstr_free (&hello);
    hello = zstr_recv (bus);
    zstr_free (&hello);

    //  A lease released before its batch goes out never reaches the pool
    shic_lease_book_busy (book);
    shic_lease_t *lease = shic_lease_book_grant (book, "i-1", NULL, 0, "c1", true);
    assert (strncmp (lease->ref, "lease-", 6) == 0 && strlen (lease->ref) == 6 + 32
            && strspn (lease->ref + 6, "0123456789abcdef") == 32 && lease->expires_at_ms == 0);
    int64_t due = shic_lease_book_chores (book, zclock_mono ());
    assert (due > zclock_mono ());          //  requests are flowing: it waits
    shic_lease_book_end (book, lease, "lease.released", "released");
    assert (ended == 1 && shic_lease_book_size (book) == 0);

    //  A lease alive at the batch is granted to the pool; then renew and
    //  release go at once
    lease = shic_lease_book_grant (book, "i-1", NULL, 0, "c1", true);
    char *ref = strdup (lease->ref);
    assert (shic_lease_book_chores (book, zclock_mono () + 1000) == -1);
    char *got = NULL;
    char *page = NULL;
    shic_bus_id_t id = s_test_recv (pool, &got);
    assert (id == SHIC_BUS_GRANT && streq (got, ref));
    zstr_free (&got);
    assert (lease->pooled);
    shic_lease_book_bound (book, ref, "L7");
    assert (streq (lease->actor, "L7"));
    shic_val_t *list = shic_lease_book_list (book, "i-1", NULL, NULL, 10, &page);
    assert (shic_val_size (list) == 1);
    assert (streq (shic_val_str (shic_val_get (shic_val_at (list, 0), "actor")), "L7"));
    assert (streq (shic_val_str (shic_val_get (shic_val_at (list, 0), "lease_ref")), ref));
    shic_val_destroy (&list);
    //  Its holder sees its ref; another client sees the lease without it
    list = shic_lease_book_list (book, "i-1", "c1", NULL, 10, &page);
    assert (streq (shic_val_str (shic_val_get (shic_val_at (list, 0), "lease_ref")), ref));
    shic_val_destroy (&list);
    list = shic_lease_book_list (book, NULL, "c9", NULL, 10, &page);
    assert (shic_val_size (list) == 1);
    assert (shic_val_type (shic_val_get (shic_val_at (list, 0), "lease_ref")) == SHIC_VAL_NIL);
    assert (streq (shic_val_str (shic_val_get (shic_val_at (list, 0), "instance_id")), "i-1"));
    shic_val_destroy (&list);
    //  Refs do not repeat and are not sequential
    char *one = shic_lease_book_new_ref (), *two = shic_lease_book_new_ref ();
    assert (!streq (one, two) && !streq (one, ref));
    zstr_free (&one);
    zstr_free (&two);
    shic_lease_book_renew (book, lease, 60000);
    assert (lease->expires_at_ms > 0 && lease->client == NULL);
    id = s_test_recv (pool, &got);
    assert (id == SHIC_BUS_RENEW && streq (got, ref));
    zstr_free (&got);
    //  An expiry that a renewal crossed is ignored; the current one ends it
    shic_lease_book_expired (book, ref, lease->expires_at_ms - 1);
    assert (shic_lease_book_size (book) == 1);
    shic_lease_book_expired (book, ref, lease->expires_at_ms);
    assert (shic_lease_book_size (book) == 0 && ended == 2);
    id = s_test_recv (pool, &got);
    assert (id == SHIC_BUS_RELEASE && streq (got, ref));
    zstr_free (&got);
    free (ref);

    //  A short timed lease goes to the pool at once
    lease = shic_lease_book_grant (book, "i-2", NULL, 500, "c2", true);
    assert (shic_lease_book_chores (book, zclock_mono ()) == -1);
    id = s_test_recv (pool, &got);
    assert (id == SHIC_BUS_GRANT && streq (got, lease->ref));
    zstr_free (&got);

    //  The limit, and a silent client's untimed leases
    shic_lease_book_client_seen (book, "c3");
    shic_lease_book_grant (book, "i-3", NULL, 0, "c3", true);
    shic_lease_book_grant (book, "i-3", NULL, 0, "c3", true);
    assert (shic_lease_book_full (book));
    assert (shic_lease_book_held_by (book, "c3") == 2 && shic_lease_book_held_by (book, "c9") == 0);
    //  Pages in grant order; the cursor is no ref
    list = shic_lease_book_list (book, NULL, NULL, NULL, 2, &page);
    assert (shic_val_size (list) == 2 && page && !strstr (page, "lease-"));
    assert (streq (shic_val_str (shic_val_get (shic_val_at (list, 0), "instance_id")), "i-2"));
    shic_val_destroy (&list);
    char *cursor = page;
    list = shic_lease_book_list (book, NULL, NULL, cursor, 2, &page);
    zstr_free (&cursor);
    assert (shic_val_size (list) == 1 && page == NULL);
    assert (streq (shic_val_str (shic_val_get (shic_val_at (list, 0), "instance_id")), "i-3"));
    shic_val_destroy (&list);
    int64_t next = -1;
    shic_lease_book_clients_expire (book, zclock_mono (), &next);
    assert (next > 0 && shic_lease_book_size (book) == 3);
    shic_lease_book_clients_expire (book, zclock_mono () + 1000, &next);
    assert (shic_lease_book_size (book) == 1 && ended == 4);
    shic_lease_book_end_instance (book, "i-2", "instance_stopped");
    assert (shic_lease_book_size (book) == 0 && ended == 5);
    assert (shic_lease_book_granted (book) == 5);
    //  Run 5 s late (the daemon was paused): no client's silence, each
    //  gets a whole timeout from then; silent after that, it is gone
    shic_lease_book_client_seen (book, "c4");
    shic_lease_book_grant (book, "i-4", NULL, 0, "c4", true);
    int64_t now = zclock_mono ();
    next = -1;
    shic_lease_book_clients_expire (book, now, &next);
    assert (next > 0 && shic_lease_book_size (book) == 1);
    int64_t late = next + 5000;
    next = -1;
    shic_lease_book_clients_expire (book, late, &next);
    assert (shic_lease_book_size (book) == 1 && next == late + 50);
    shic_lease_book_clients_expire (book, next, &next);
    assert (shic_lease_book_size (book) == 0 && ended == 6);
    assert (shic_lease_book_held_by (book, "c3") == 0 && shic_lease_book_held_by (book, "c2") == 0);

    shic_lease_book_destroy (&book);
    shic_events_destroy (&events);
    zsock_destroy (&pool);
    zsock_destroy (&bus);
    printf ("OK\n");
}
