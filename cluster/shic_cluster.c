/*  =========================================================================
    shic_cluster - the cluster actor: one node of a cluster on etcd (issue 13)

    What it owns: the shic_etcd object and one etcd lease for the node
    (TTL = ttl_ms, kept alive every ttl/3 with one POST); the node record
    nodes/<n>, the instance records instances/<mkey>/<n> and the claims
    claims/<mkey> this node holds, every one on that lease; a watch of the
    prefix into the view (resumed after DOWN, read again with a range after
    COMPACTED); a DEALER to each other node's peer door for the forwards it
    decides (the peer door itself is the gateway's, which forwards warm
    ensures and refs straight to the node the ROUTES it is sent name). It
    learns what runs here from the node's own events (a SUB
    on the inproc events) and asks its own gateway (a DEALER on the trusted
    door) for resources and list_instances when they change; it never
    rewrites a record that did not change (no heartbeat writes).

    Pipe, from the supervisor: $TERM. To it: STARTUP {rc} once. The
    supervisor has the gateway bind the peer door (BIND-PEER) first and
    hands its port over (shic_cluster_args_t).
    Bus (DEALER "C" on the gateway's bus), from the gateway:
        HANDOFF {ticket, kind, op, client, request, key?, via, need?, peer?}
    To the gateway: DECIDED {ticket, action, reply?, replies?},
        LOST {node, instances}, ROUTES {nodes, routes}, CLUSTER {summary}
    Links (a DEALER to each other node's peer door, which its gateway owns;
    actors/shic_gateway_cluster.c has the protocol):
        REQ {ticket, hop, mode, holder, from} [wire request] out
            mode: place (claim and start it there, or say no_room), join
            (it runs or starts there), queue (start there even if it waits
            for memory), call (any other op)
        REP {ticket, outcome} [wire reply] back   outcome: reply or no_room

    An ensure handed over by the gateway (this node has nothing for it):
    a failed claim in its cooldown answers its failure; an instance ready
    or starting elsewhere, or a claim of another node, is joined there;
    else the nodes are ranked (shic_cluster_view_rank) and the best one
    claims it (create-if-absent on claims/<mkey>) and starts it, or says
    no_room and the next is tried. A request forwarded here (via) claims
    or says no_room; it is forwarded once more only to the claimant (at
    most 2 hops). Cut off from etcd, the node serves its own clients
    (joining what it knew ran elsewhere, else starting locally) and
    starts nothing for others.
    =========================================================================
*/

#include "shic_cluster.h"
#include "shic_bus.h"
#include "shic_kernel.h"
#include "shic_etcd.h"
#include "shic_cluster_view.h"
#include <sys/random.h>

#define HOP_MAX             2       //  forwards one request may take
#define FANOUT_TIMEOUT_MS   3000    //  a cluster list waits this long for nodes
#define ENSURE_GRACE_MS     2000    //  beyond wait_ms for a forwarded ensure
#define LEASE_REFRESH_MS    1000    //  lease events are gathered this long before a
                                    //  refresh (a record's leased flag may lag it)
#define REFRESH_PERIOD_MS   5000    //  and the records are checked this often anyway
#define CLAIM_STALE_MS      10000   //  a claim of ours with nothing here is dropped
#define FREE_GRANULE        ((int64_t) 64 << 20)    //  a node record's free memory, rounded
#define PEER_HEADER_MAX     4096    //  a peer header's bytes

//  A DEALER to another node's peer ROUTER
typedef struct {
    char *name;                     //  the node
    char *endpoint;                 //  its peer endpoint
    char *curve_key;                //  its CURVE key when it has one
    zsock_t *dealer;                //  the socket
} s_link_t;

//  A fan-out: one cluster list, waiting for every node's part
typedef struct {
    int64_t gateway_ticket;         //  the HANDOFF's ticket
    size_t pending;                 //  parts not answered
    shic_val_t *replies;            //  [{node, reply} or {node, error}]
    int64_t deadline;               //  monotonic: merged with what came then
} s_fanout_t;

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
    s_fanout_t *fanout;             //  part: its fan-out (borrowed)
} s_forward_t;

//  A claim this node holds
typedef struct {
    char *key;                      //  the instance key (no prefix)
    int64_t created_at;             //  monotonic
} s_claim_t;

//  What this node last wrote of one of its instances
typedef struct {
    char *json;                     //  the record as written
    bool leased;                    //  its leased flag then
    int64_t last_used;              //  wall clock of the last flip
} s_written_t;

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
    zhashx_t *links;                //  node -> s_link_t
    zhashx_t *outbound;             //  peer ticket -> s_forward_t
    zlistx_t *fanouts;              //  s_fanout_t
    zhashx_t *claims;               //  mkey -> s_claim_t (ours)
    zhashx_t *written;              //  mkey -> s_written_t (our instance records)
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

//  ---------------------------------------------------------------------------
//  Small things

static void
s_link_destroy (s_link_t **self_p)
{
    if (*self_p) {
        s_link_t *self = *self_p;
        zsock_destroy (&self->dealer);
        free (self->name);
        free (self->endpoint);
        free (self->curve_key);
        free (self);
        *self_p = NULL;
    }
}

static void
s_forward_destroy (s_forward_t **self_p)
{
    if (*self_p) {
        s_forward_t *self = *self_p;
        free (self->kind);
        free (self->op);
        free (self->holder);
        zframe_destroy (&self->body);
        shic_val_destroy (&self->request_id);
        free (self->key);
        shic_val_destroy (&self->need);
        zlistx_destroy (&self->tried);
        free (self->target);
        free (self->mode);
        free (self->from);
        free (self);
        *self_p = NULL;
    }
}

static void
s_fanout_destroy (s_fanout_t **self_p)
{
    if (*self_p) {
        shic_val_destroy (&(*self_p)->replies);
        free (*self_p);
        *self_p = NULL;
    }
}

static void
s_claim_destroy (s_claim_t **self_p)
{
    if (*self_p) {
        free ((*self_p)->key);
        free (*self_p);
        *self_p = NULL;
    }
}

static void
s_written_destroy (s_written_t **self_p)
{
    if (*self_p) {
        free ((*self_p)->json);
        free (*self_p);
        *self_p = NULL;
    }
}

static zhashx_t *
s_hash (zhashx_destructor_fn *destructor)
{
    zhashx_t *hash = zhashx_new ();
    zhashx_set_destructor (hash, destructor);
    return hash;
}

//  Takes the item of key out of hash, not destroyed (NULL when none)
static void *
s_detach (zhashx_t *hash, const char *key, zhashx_destructor_fn *destructor)
{
    void *item = zhashx_lookup (hash, key);
    if (item) {
        zhashx_set_destructor (hash, NULL);
        zhashx_delete (hash, key);
        zhashx_set_destructor (hash, destructor);
    }
    return item;
}

static void
s_ticket_key (int64_t ticket, char *key)
{
    snprintf (key, 24, "%lld", (long long) ticket);
}

static void
s_random_hex (char *text, size_t bytes)
{
    uint8_t data [16];
    size_t have = 0;
    if (bytes > sizeof (data))
        bytes = sizeof (data);
    while (have < bytes) {
        ssize_t got = getrandom (data + have, bytes - have, 0);
        if (got > 0)
            have += (size_t) got;
        else
        if (errno != EINTR) {
            for (; have < bytes; have++)
                data [have] = (uint8_t) (zclock_usecs () >> (have % 8));
        }
    }
    for (size_t i = 0; i < bytes; i++)
        snprintf (text + 2 * i, 3, "%02x", data [i]);
}

//  An endpoint as others reach it: a wildcard host becomes the advertised
//  one; port (when > 0) replaces a wildcard or ephemeral port
static void
s_reachable (const char *endpoint, const char *advertise, int port, char *out, size_t size)
{
    const char *host = strstr (endpoint, "://");
    host = host? host + 3: endpoint;
    const char *colon = strrchr (host, ':');
    size_t length = colon? (size_t) (colon - host): strlen (host);
    bool wildcard = (length == 1 && *host == '*') || (length == 7 && !strncmp (host, "0.0.0.0", 7))
                 || (length == 4 && !strncmp (host, "[::]", 4));
    char port_text [16];
    snprintf (port_text, sizeof (port_text), "%s", colon? colon + 1: "");
    if (port > 0)
        snprintf (port_text, sizeof (port_text), "%d", port);
    snprintf (out, size, "tcp://%.*s:%s", wildcard? (int) strlen (advertise): (int) length,
              wildcard? advertise: host, port_text);
}

static char *
s_key (self_t *self, const char *kind, const char *a, const char *b)
{
    return b? zsys_sprintf ("%s/%s/%s/%s", self->config->prefix, kind, a, b)
            : zsys_sprintf ("%s/%s/%s", self->config->prefix, kind, a);
}

//  ---------------------------------------------------------------------------
//  Talking to the gateway

static void
s_decided (self_t *self, int64_t ticket, const char *action, const void *reply, size_t size,
           shic_val_t *replies)
{
    shic_val_t *body = reply? shic_val_new_bin (reply, size): NULL;
    shic_bus_send (self->bus, &(shic_bus_t) { .id = SHIC_BUS_DECIDED, .ticket = ticket,
                                              .action = action, .reply = body,
                                              .replies = replies });
    shic_val_destroy (&body);
}

//  ROUTES: the live nodes' peer doors and where models are ready, sent
//  when they changed
static void
s_routes (self_t *self)
{
    shic_val_t *nodes = shic_cluster_view_peers (self->view, self->config->node);
    shic_val_t *routes = shic_cluster_view_routes (self->view, self->config->node);
    shic_val_t *both = shic_val_new_map ();
    shic_val_set_dup (both, "nodes", nodes);
    shic_val_set_dup (both, "routes", routes);
    char *json = shic_val_to_json (both);
    shic_val_destroy (&both);
    if (!self->routes_json || !streq (json, self->routes_json)) {
        shic_bus_send (self->bus, &(shic_bus_t) { .id = SHIC_BUS_ROUTES, .nodes = nodes,
                                                  .routes = routes });
        free (self->routes_json);
        self->routes_json = json;
    }
    else
        free (json);
    shic_val_destroy (&nodes);
    shic_val_destroy (&routes);
}

//  The state for ping (and the routes), sent when they changed
static void
s_summary (self_t *self)
{
    s_routes (self);
    shic_val_t *summary = shic_val_new_map ();
    shic_val_set_str (summary, "node", self->config->node);
    shic_val_set_str (summary, "state", self->registered && !self->degraded? "ok": "degraded");
    shic_val_set_bool (summary, "registered", self->registered);
    shic_val_set_int (summary, "nodes", (int64_t) shic_cluster_view_nodes (self->view));
    shic_val_set_str (summary, "etcd", self->etcd? shic_etcd_url (self->etcd): self->config->etcd);
    if (*self->boot_id)
        shic_val_set_str (summary, "boot_id", self->boot_id);
    char *json = shic_val_to_json (summary);
    if (!self->summary_json || !streq (json, self->summary_json)) {
        shic_bus_send (self->bus, &(shic_bus_t) { .id = SHIC_BUS_CLUSTER, .summary = summary });
        free (self->summary_json);
        self->summary_json = json;
    }
    else
        free (json);
    shic_val_destroy (&summary);
}

static void
s_refresh_soon (self_t *self, int64_t delay)
{
    int64_t at = zclock_mono () + delay;
    if (!self->refresh_at || at < self->refresh_at)
        self->refresh_at = at;
}

//  ---------------------------------------------------------------------------
//  etcd: registration, keep-alive, the watch

static void
s_degraded (self_t *self, const shic_error_t *err, const char *what)
{
    if (!self->degraded)
        zsys_warning ("cluster: etcd %s failed (%s): serving locally, retrying", what,
                      err && err->message? err->message: err && err->code? err->code: "?");
    self->degraded = true;
    int64_t retry = self->config->ttl_ms / 4 < 1000? self->config->ttl_ms / 4: 1000;
    if (!self->retry_at)
        self->retry_at = zclock_mono () + retry;
    s_summary (self);
}

static void s_node_lost (self_t *self, const char *node, const shic_val_t *ids);

//  A range of the whole prefix into the view, then a watch from after it
static int
s_resync (self_t *self)
{
    shic_etcd_watch_destroy (&self->watch);
    shic_error_t err = { 0 };
    shic_etcd_kvs_t *kvs = NULL;
    char *prefix = zsys_sprintf ("%s/", self->config->prefix);
    int rc = shic_etcd_range (self->etcd, prefix, true, &kvs, &err);
    if (rc == 0) {
        shic_cluster_view_begin (self->view);
        for (size_t i = 0; i < kvs->count; i++)
            shic_cluster_view_put (self->view, kvs->kvs [i].key, kvs->kvs [i].value,
                                   kvs->kvs [i].size, kvs->kvs [i].mod_revision);
        shic_val_t *lost = shic_cluster_view_end (self->view);
        for (size_t i = 0; i < shic_val_size (lost); i++)
            if (!streq (shic_val_key_at (lost, i), self->config->node))
                s_node_lost (self, shic_val_key_at (lost, i), shic_val_at (lost, i));
        shic_val_destroy (&lost);
        self->revision = kvs->revision;
        self->watch = shic_etcd_watch_new (self->config->etcd, prefix, kvs->revision + 1, &err);
        if (!self->watch)
            rc = -1;
    }
    shic_etcd_kvs_destroy (&kvs);
    free (prefix);
    if (rc != 0)
        s_degraded (self, &err, "range or watch");
    shic_error_clear (&err);
    return rc;
}

//  A watch that went down resumes after the last revision the view has
//  (no range: a compaction meanwhile answers COMPACTED, then a range)
static int
s_watch_again (self_t *self)
{
    if (self->watch)
        return 0;
    if (self->revision <= 0)
        return s_resync (self);
    shic_error_t err = { 0 };
    char *prefix = zsys_sprintf ("%s/", self->config->prefix);
    self->watch = shic_etcd_watch_new (self->config->etcd, prefix, self->revision + 1, &err);
    free (prefix);
    int rc = 0;
    if (!self->watch) {
        s_degraded (self, &err, "watch");
        rc = -1;
    }
    shic_error_clear (&err);
    return rc;
}

//  Our node record: written when it changed (never as a heartbeat)
static void
s_write_node (self_t *self, const shic_val_t *pools, int64_t queue)
{
    shic_val_t *record = shic_val_new_map ();
    shic_val_set_str (record, "boot_id", self->boot_id);
    shic_val_set_str (record, "peer", self->peer_endpoint);
    shic_val_set_str (record, "gateway", self->gateway_endpoint);
    shic_val_set_str (record, "advertise", self->config->advertise);
    if (self->cert)
        shic_val_set_str (record, "curve_key", zcert_public_txt (self->cert));
    if (pools)
        shic_val_set_dup (record, "pools", pools);
    else {
        shic_val_t *none = shic_val_new_map ();
        shic_val_set (record, "pools", &none);
    }
    shic_val_set_int (record, "queue", queue);
    char *json = shic_val_to_json (record);
    shic_val_destroy (&record);
    if (self->node_json && streq (json, self->node_json)) {
        free (json);
        return;
    }
    char *key = s_key (self, "nodes", self->config->node, NULL);
    shic_error_t err = { 0 };
    if (shic_etcd_put (self->etcd, key, json, strlen (json), self->lease, &err) == 0) {
        free (self->node_json);
        self->node_json = json;
    }
    else {
        free (json);
        s_degraded (self, &err, "put of the node record");
    }
    shic_error_clear (&err);
    free (key);
}

//  A new etcd lease and boot id, our records anew, the view from a range
static void
s_register (self_t *self)
{
    shic_error_t err = { 0 };
    self->retry_at = 0;
    if (!self->etcd) {
        self->etcd = shic_etcd_new (self->config->etcd, (int) self->etcd_timeout_ms, &err);
        if (!self->etcd) {
            zsys_error ("cluster: %s", err.message? err.message: "bad etcd URLs");
            s_degraded (self, &err, "set-up");
            shic_error_clear (&err);
            return;
        }
    }
    bool again = *self->boot_id != 0;
    if (*self->lease)
        shic_etcd_lease_revoke (self->etcd, self->lease, NULL);
    *self->lease = 0;
    int64_t ttl_s = (self->config->ttl_ms + 999) / 1000;
    if (shic_etcd_lease_grant (self->etcd, ttl_s, self->lease, sizeof (self->lease), &err) != 0) {
        *self->lease = 0;
        s_degraded (self, &err, "lease grant");
        shic_error_clear (&err);
        return;
    }
    s_random_hex (self->boot_id, 16);
    //  Everything is written anew on this lease
    free (self->node_json);
    self->node_json = NULL;
    zhashx_purge (self->written);
    zhashx_purge (self->claims);
    bool was_degraded = self->degraded;
    self->degraded = false;
    s_write_node (self, NULL, 0);
    if (self->degraded || s_resync (self) != 0) {
        self->degraded = true;
        return;
    }
    self->registered = true;
    self->alive_at = zclock_mono ();
    self->keepalive_at = self->alive_at + self->config->ttl_ms / 3;
    self->reconcile_due = again;
    zsys_info ("cluster: node %s registered%s (boot %s, lease %s, %zu node(s))",
               self->config->node, again? " anew": "", self->boot_id, self->lease,
               shic_cluster_view_nodes (self->view));
    (void) was_degraded;
    s_refresh_soon (self, 0);
    s_summary (self);
}

static void
s_keepalive (self_t *self)
{
    shic_error_t err = { 0 };
    int64_t ttl_left = 0;
    int64_t now = zclock_mono ();
    self->keepalive_at = now + self->config->ttl_ms / 3;
    if (shic_etcd_lease_keepalive (self->etcd, self->lease, &ttl_left, &err) != 0) {
        s_degraded (self, &err, "keep-alive");
        shic_error_clear (&err);
        //  Past the TTL the lease may be gone (a live etcd let it expire) or
        //  not (etcd restarted: leases survive it): the next keep-alive
        //  that is answered says which
        return;
    }
    if (ttl_left <= 0) {
        zsys_warning ("cluster: the node's etcd lease expired: registering anew");
        self->registered = false;
        s_register (self);
        return;
    }
    self->alive_at = now;
    if (self->degraded) {
        self->degraded = false;
        zsys_info ("cluster: etcd answers again");
        //  The watch resumes where it stopped; records that could not be
        //  written are written now
        s_watch_again (self);
        s_refresh_soon (self, 0);
        s_summary (self);
    }
}

//  ---------------------------------------------------------------------------
//  Links to the other nodes

static s_link_t *
s_link (self_t *self, const char *name)
{
    shic_cluster_node_t *node = shic_cluster_view_node (self->view, name);
    s_link_t *link = (s_link_t *) zhashx_lookup (self->links, name);
    if (link && node && (!streq (link->endpoint, node->peer)
                     ||  (node->curve_key? !link->curve_key || !streq (node->curve_key, link->curve_key)
                                         : link->curve_key != NULL))) {
        zhashx_delete (self->links, name);
        link = NULL;
    }
    if (link || !node)
        return link;
    link = (s_link_t *) zmalloc (sizeof (s_link_t));
    link->name = strdup (name);
    link->endpoint = strdup (node->peer);
    link->curve_key = node->curve_key? strdup (node->curve_key): NULL;
    link->dealer = zsock_new (ZMQ_DEALER);
    zsock_set_sndtimeo (link->dealer, 0);
    zsock_set_sndhwm (link->dealer, 10000);
    zsock_set_linger (link->dealer, 0);
    zsock_set_maxmsgsize (link->dealer, (int64_t) self->settings->max_frame * 4 + 65536);
    if (self->cert && link->curve_key) {
        zcert_apply (self->cert, link->dealer);
        zsock_set_curve_serverkey (link->dealer, link->curve_key);
    }
    if (zsock_connect (link->dealer, "%s", link->endpoint) != 0)
        zsys_warning ("cluster: cannot connect to %s's peer %s", name, link->endpoint);
    zhashx_insert (self->links, name, link);
    return link;
}

//  ---------------------------------------------------------------------------
//  The peer protocol

static zframe_t *
s_header_frame (shic_val_t **header_p)
{
    void *data = NULL;
    size_t size = 0;
    int rc = shic_val_encode (*header_p, &data, &size);
    shic_val_destroy (header_p);
    if (rc != 0)
        return NULL;
    zframe_t *frame = zframe_new (data, size);
    free (data);
    return frame;
}

//  A peer header, checked: a map of at most PEER_HEADER_MAX bytes
static shic_val_t *
s_header_read (zframe_t *frame)
{
    if (!frame || zframe_size (frame) > PEER_HEADER_MAX)
        return NULL;
    shic_val_limits_t limits = { .max_bytes = PEER_HEADER_MAX, .max_depth = 2, .max_items = 16 };
    shic_val_t *header = NULL;
    if (shic_val_decode (zframe_data (frame), zframe_size (frame), &limits, &header, NULL) != 0)
        return NULL;
    if (shic_val_type (header) != SHIC_VAL_MAP)
        shic_val_destroy (&header);
    return header;
}

//  ---------------------------------------------------------------------------
//  Forwarding

static s_forward_t *
s_forward_take (self_t *self, int64_t ticket)
{
    char key [24];
    s_ticket_key (ticket, key);
    return (s_forward_t *) s_detach (self->outbound, key, (zhashx_destructor_fn *) s_forward_destroy);
}

//  A wire error reply to the forward's request
static zframe_t *
s_error_frame (s_forward_t *forward, const char *code, const char *node, const char *message)
{
    shic_error_t err = { 0 };
    shic_val_t *details = shic_val_new_map ();
    if (node)
        shic_val_set_str (details, "node", node);
    shic_error_set (&err, code, &details, "%s", message);
    zframe_t *frame = shic_wire_reply_error (forward->request_id, &err);
    shic_error_clear (&err);
    return frame;
}


//  The forward is answered with reply (to the gateway, which holds the way
//  back to our client or to the node it came from). Destroys forward.
static void
s_answer (self_t *self, s_forward_t **forward_p, zframe_t *reply)
{
    s_forward_t *forward = *forward_p;
    if (streq (forward->kind, "part") && !forward->fanout) {
        s_forward_destroy (forward_p);  //  its fan-out was answered already
        return;
    }
    if (forward->fanout) {
        shic_val_t *entry = shic_val_new_map ();
        shic_val_set_str (entry, "node", forward->target);
        shic_val_t *bytes = shic_val_new_bin (zframe_data (reply), zframe_size (reply));
        shic_val_set (entry, "reply", &bytes);
        shic_val_push (forward->fanout->replies, &entry);
        forward->fanout->pending--;
    }
    else
        //  To our client, or (forwarded here) back to the node it came from:
        //  the gateway holds the way back
        s_decided (self, forward->gateway_ticket, "reply", zframe_data (reply),
                   zframe_size (reply), NULL);
    s_forward_destroy (forward_p);
}

static void
s_answer_error (self_t *self, s_forward_t **forward_p, const char *code, const char *node,
                const char *message)
{
    zframe_t *frame = s_error_frame (*forward_p, code, node, message);
    if (frame)
        s_answer (self, forward_p, frame);
    else
        s_forward_destroy (forward_p);
    zframe_destroy (&frame);
}

//  Serve it here: the gateway starts or joins it
static void
s_local (self_t *self, s_forward_t **forward_p)
{
    s_decided (self, (*forward_p)->gateway_ticket, "local", NULL, 0, NULL);
    s_forward_destroy (forward_p);
}

//  A forwarded request this node cannot take: the entry node tries the next
static void
s_no_room (self_t *self, s_forward_t **forward_p)
{
    s_decided (self, (*forward_p)->gateway_ticket, "no_room", NULL, 0, NULL);
    s_forward_destroy (forward_p);
}

//  Sends the forward to node in mode; it waits in outbound for the REP
static void
s_send_forward (self_t *self, s_forward_t **forward_p, const char *node, const char *mode)
{
    s_forward_t *forward = *forward_p;
    *forward_p = NULL;
    s_link_t *link = s_link (self, node);
    free (forward->target);
    forward->target = strdup (node);
    free (forward->mode);
    forward->mode = strdup (mode);
    forward->ticket = ++self->next_ticket;
    shic_val_t *header = shic_val_new_map ();
    shic_val_set_int (header, "ticket", forward->ticket);
    shic_val_set_int (header, "hop", forward->hop + 1);
    shic_val_set_str (header, "mode", mode);
    shic_val_set_str (header, "holder", forward->holder);
    shic_val_set_str (header, "from", self->config->node);
    zframe_t *frame = s_header_frame (&header);
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "REQ");
    zmsg_append (msg, &frame);
    zframe_t *body = zframe_dup (forward->body);
    zmsg_append (msg, &body);
    if (!link || zmsg_send (&msg, link->dealer) != 0) {
        zmsg_destroy (&msg);
        //  The answer comes at the deadline, or when the node is seen gone
        zsys_warning ("cluster: cannot send to node %s", node);
    }
    char key [24];
    s_ticket_key (forward->ticket, key);
    zhashx_insert (self->outbound, key, forward);
}

static bool
s_tried (s_forward_t *forward, const char *node)
{
    for (const char *name = (const char *) zlistx_first (forward->tried); name;
         name = (const char *) zlistx_next (forward->tried))
        if (streq (name, node))
            return true;
    return false;
}

static void
s_try_later (s_forward_t *forward, const char *node)
{
    if (!s_tried (forward, node))
        zlistx_add_end (forward->tried, strdup (node));
}

//  The claim's recorded failure, answered as the start's own error
static void
s_answer_claim_failure (self_t *self, s_forward_t **forward_p, shic_cluster_claim_t *claim)
{
    shic_error_t err = { 0 };
    if (claim->error)
        shic_error_from_val (&err, claim->error);
    if (!err.code)
        shic_error_set (&err, SHIC_E_INSTANCE_FAILED, NULL, "the start failed on node %s",
                        claim->node);
    if (shic_val_type (err.details) != SHIC_VAL_MAP) {
        shic_val_destroy (&err.details);
        err.details = shic_val_new_map ();
    }
    shic_val_set_str (err.details, "node", claim->node);
    shic_val_set_int (err.details, "cooldown_ms", self->config->cooldown_ms);
    zframe_t *frame = shic_wire_reply_error ((*forward_p)->request_id, &err);
    shic_error_clear (&err);
    s_answer (self, forward_p, frame);
    zframe_destroy (&frame);
}

static void s_decide (self_t *self, s_forward_t **forward_p);

//  Claims the start of the forward's model for this node: the gateway
//  starts it (local); another node's claim is joined there
static void
s_claim_here (self_t *self, s_forward_t **forward_p)
{
    s_forward_t *forward = *forward_p;
    shic_val_t *record = shic_val_new_map ();
    shic_val_set_str (record, "node", self->config->node);
    shic_val_set_str (record, "boot_id", self->boot_id);
    shic_val_set_str (record, "state", "loading");
    shic_val_set_str (record, "key", forward->key);
    char *json = shic_val_to_json (record);
    shic_val_destroy (&record);
    char *key = s_key (self, "claims", forward->mkey, NULL);
    bool created = false;
    shic_etcd_kv_t *holder = NULL;
    shic_error_t err = { 0 };
    int rc = shic_etcd_create (self->etcd, key, json, strlen (json), self->lease, &created,
                               &holder, &err);
    free (json);
    free (key);
    if (rc != 0) {
        s_degraded (self, &err, "claim");
        shic_error_clear (&err);
        if (forward->via)
            s_no_room (self, forward_p);    //  starts nothing for others when cut off
        else
            s_local (self, forward_p);
        return;
    }
    if (created) {
        s_claim_t *claim = (s_claim_t *) zmalloc (sizeof (s_claim_t));
        claim->key = strdup (forward->key);
        claim->created_at = zclock_mono ();
        zhashx_update (self->claims, forward->mkey, claim);
        s_local (self, forward_p);
        return;
    }
    //  Someone holds it: what the store says now goes into the view
    if (holder) {
        shic_cluster_view_put (self->view, holder->key, holder->value, holder->size,
                               holder->mod_revision);
        shic_etcd_kv_free (&holder);
    }
    shic_cluster_claim_t *claim = shic_cluster_view_claim (self->view, forward->mkey);
    if (claim && claim->failed)
        s_answer_claim_failure (self, forward_p, claim);
    else
    if (!claim || streq (claim->node, self->config->node) || s_tried (forward, claim->node)
    ||  forward->hop >= HOP_MAX)
        s_local (self, forward_p);
    else
        s_send_forward (self, forward_p, claim->node, "join");
}

//  Where an ensure of one of this node's clients goes (or again, after a
//  node said no_room or went)
static void
s_decide (self_t *self, s_forward_t **forward_p)
{
    s_forward_t *forward = *forward_p;
    const char *me = self->config->node;
    shic_cluster_instance_t *instance =
        shic_cluster_view_instance_elsewhere (self->view, forward->mkey, me, forward->tried);
    if (!self->registered || self->degraded) {
        //  Cut off: join what we knew ran elsewhere, else serve it here
        if (instance)
            s_send_forward (self, forward_p, instance->node, "join");
        else
            s_local (self, forward_p);
        return;
    }
    shic_cluster_claim_t *claim = shic_cluster_view_claim (self->view, forward->mkey);
    if (claim && claim->failed) {
        s_answer_claim_failure (self, forward_p, claim);
        return;
    }
    if (instance) {
        s_send_forward (self, forward_p, instance->node, "join");
        return;
    }
    if (claim && streq (claim->node, me)) {
        s_local (self, forward_p);
        return;
    }
    if (claim && shic_cluster_view_node (self->view, claim->node) && !s_tried (forward, claim->node)) {
        s_send_forward (self, forward_p, claim->node, "join");
        return;
    }
    //  Nowhere: the best node claims and starts it
    const char *fit = shic_val_str (shic_val_get (forward->need, "fit"));
    uint64_t bytes = (uint64_t) shic_val_int (shic_val_get (forward->need, "bytes"));
    const char *pool = shic_val_str (shic_val_get (forward->need, "pool"));
    zlistx_t *ranked = shic_cluster_view_rank (self->view, me, fit? fit: "now", bytes, pool,
                                               forward->tried);
    const char *best = (const char *) zlistx_first (ranked);
    if (!best) {
        zlistx_destroy (&ranked);
        s_local (self, forward_p);  //  nowhere at all: placement here says why
        return;
    }
    const char *name = best + 2;
    const char *mode = *best == '2'? "queue": "place";
    if (streq (name, me))
        s_claim_here (self, forward_p);
    else
        s_send_forward (self, forward_p, name, mode);
    zlistx_destroy (&ranked);
}

//  A request another node forwarded here found no instance here: claim it,
//  join the claimant (one hop more at most), or say no_room
static void
s_decide_forwarded (self_t *self, s_forward_t **forward_p)
{
    s_forward_t *forward = *forward_p;
    const char *me = self->config->node;
    if (!self->registered || self->degraded) {
        s_no_room (self, forward_p);
        return;
    }
    shic_cluster_claim_t *claim = shic_cluster_view_claim (self->view, forward->mkey);
    if (claim && claim->failed) {
        s_answer_claim_failure (self, forward_p, claim);
        return;
    }
    if (claim && streq (claim->node, me)) {
        s_local (self, forward_p);
        return;
    }
    if (claim && shic_cluster_view_node (self->view, claim->node)) {
        if (forward->hop < HOP_MAX && !streq (claim->node, forward->from))
            s_send_forward (self, forward_p, claim->node, "join");
        else
            s_local (self, forward_p);
        return;
    }
    const char *fit = shic_val_str (shic_val_get (forward->need, "fit"));
    bool never = fit && streq (fit, "never");
    if (never || (streq (forward->mode, "place") && fit && streq (fit, "no"))) {
        s_no_room (self, forward_p);
        return;
    }
    s_claim_here (self, forward_p);
}

//  HANDOFF from the gateway
static void
s_on_handoff (self_t *self, shic_bus_t *msg)
{
    if (shic_val_type (msg->request) != SHIC_VAL_BIN) {
        s_decided (self, msg->ticket, "local", NULL, 0, NULL);
        return;
    }
    shic_wire_request_t request = { 0 };
    shic_error_t err = { 0 };
    shic_wire_request_decode (shic_val_bin (msg->request), shic_val_len (msg->request),
                              self->settings->max_frame, &request, &err);
    shic_error_clear (&err);
    s_forward_t *forward = (s_forward_t *) zmalloc (sizeof (s_forward_t));
    forward->gateway_ticket = msg->ticket;
    forward->kind = strdup (msg->kind);
    forward->op = strdup (msg->op);
    forward->holder = strdup (msg->client);
    forward->body = zframe_new (shic_val_bin (msg->request), shic_val_len (msg->request));
    forward->request_id = request.id? shic_val_dup (request.id): shic_val_new_nil ();
    forward->tried = zlistx_new ();
    zlistx_set_destructor (forward->tried, (zlistx_destructor_fn *) zstr_free);
    const shic_val_t *wait = shic_val_get (request.args, "wait_ms");
    int64_t wait_ms = shic_val_type (wait) == SHIC_VAL_INT && shic_val_int (wait) >= 0
                    ? shic_val_int (wait): 120000;
    shic_wire_request_reset (&request);
    int64_t now = zclock_mono ();
    if (streq (msg->kind, "ensure") && msg->key) {
        forward->key = strdup (msg->key);
        shic_cluster_mkey (msg->key, forward->mkey);
        forward->need = msg->need? shic_bus_take (msg, &msg->need): shic_val_new_map ();
        forward->deadline = now + wait_ms + ENSURE_GRACE_MS;
        //  A node the gateway already found without room
        const shic_val_t *skip = shic_val_get (forward->need, "skip");
        for (size_t i = 0; i < shic_val_size (skip); i++)
            if (shic_val_str (shic_val_at (skip, i)))
                s_try_later (forward, shic_val_str (shic_val_at (skip, i)));
        const char *mode = shic_val_str (shic_val_get (msg->peer, "mode"));
        const char *from = shic_val_str (shic_val_get (msg->peer, "from"));
        if (msg->via && mode && from) {
            //  Another node forwarded it here
            forward->via = msg->via;
            forward->hop = (int) shic_val_int (shic_val_get (msg->peer, "hop"));
            forward->mode = strdup (mode);
            forward->from = strdup (from);
            s_decide_forwarded (self, &forward);
        }
        else
            s_decide (self, &forward);
    }
    else
    if (streq (msg->kind, "fanout")) {
        s_fanout_t *fanout = (s_fanout_t *) zmalloc (sizeof (s_fanout_t));
        fanout->gateway_ticket = msg->ticket;
        fanout->replies = shic_val_new_array ();
        fanout->deadline = now + FANOUT_TIMEOUT_MS;
        zlistx_add_end (self->fanouts, fanout);
        zlistx_t *nodes = shic_cluster_view_node_list (self->view);
        for (shic_cluster_node_t *node = (shic_cluster_node_t *) zlistx_first (nodes); node;
             node = (shic_cluster_node_t *) zlistx_next (nodes)) {
            if (streq (node->name, self->config->node))
                continue;
            s_forward_t *part = (s_forward_t *) zmalloc (sizeof (s_forward_t));
            part->kind = strdup ("part");
            part->op = strdup (forward->op);
            part->holder = strdup (forward->holder);
            part->body = zframe_dup (forward->body);
            part->request_id = shic_val_dup (forward->request_id);
            part->tried = zlistx_new ();
            part->deadline = fanout->deadline;
            part->fanout = fanout;
            fanout->pending++;
            s_send_forward (self, &part, node->name, "call");
        }
        zlistx_destroy (&nodes);
        s_forward_destroy (&forward);
    }
    else {
        s_decided (self, msg->ticket, "local", NULL, 0, NULL);
        s_forward_destroy (&forward);
    }
}

//  ---------------------------------------------------------------------------
//  A node went (its records vanished with its etcd lease)

static void
s_node_lost (self_t *self, const char *node, const shic_val_t *ids)
{
    zsys_warning ("cluster: node %s is gone (%zu instance(s) lost)", node, shic_val_size (ids));
    //  The gateway publishes instance.lost, ends the leases that node held
    //  for our clients and takes back what it forwarded there
    shic_val_t *instances = ids? shic_val_dup (ids): shic_val_new_array ();
    shic_bus_send (self->bus, &(shic_bus_t) { .id = SHIC_BUS_LOST, .node = node,
                                              .instances = instances });
    shic_val_destroy (&instances);
    zhashx_delete (self->links, node);
    //  What was out at it: ensures are decided again (its claim went with
    //  it), calls are answered
    zlistx_t *retry = zlistx_new ();
    for (s_forward_t *forward = (s_forward_t *) zhashx_first (self->outbound); forward;
         forward = (s_forward_t *) zhashx_next (self->outbound))
        if (forward->target && streq (forward->target, node))
            zlistx_add_end (retry, (void *) (intptr_t) forward->ticket);
    for (void *item = zlistx_first (retry); item; item = zlistx_next (retry)) {
        s_forward_t *forward = s_forward_take (self, (int64_t) (intptr_t) item);
        if (!forward)
            continue;
        if (forward->fanout) {
            shic_val_t *entry = shic_val_new_map ();
            shic_val_set_str (entry, "node", node);
            shic_val_set_str (entry, "error", "node_lost");
            shic_val_push (forward->fanout->replies, &entry);
            forward->fanout->pending--;
            s_forward_destroy (&forward);
        }
        else
        if (streq (forward->kind, "ensure")) {
            s_try_later (forward, node);
            if (forward->via)
                s_decide_forwarded (self, &forward);
            else
                s_decide (self, &forward);
        }
        else
            s_answer_error (self, &forward, SHIC_E_INSTANCE_UNAVAILABLE, node,
                            "the node that held it is gone");
    }
    zlistx_destroy (&retry);
    s_summary (self);
}

//  ---------------------------------------------------------------------------
//  What runs here: the records

static void
s_query (self_t *self)
{
    self->refresh_at = 0;
    if (self->query)
        return;
    self->query = ++self->next_ticket;
    self->query_deadline = zclock_mono () + 5000;
    shic_val_destroy (&self->resources);
    shic_val_destroy (&self->instances);
    char id [32];
    snprintf (id, sizeof (id), "res-%lld", (long long) self->query);
    shic_val_t *id_val = shic_val_new_str (id);
    zframe_t *frame = shic_wire_request_encode (id_val, "resources", NULL);
    zframe_send (&frame, self->local, 0);
    shic_val_destroy (&id_val);
    snprintf (id, sizeof (id), "list-%lld", (long long) self->query);
    id_val = shic_val_new_str (id);
    shic_val_t *args = shic_val_new_map ();
    shic_val_set_int (args, "limit", 1000);
    frame = shic_wire_request_encode (id_val, "list_instances", &args);
    zframe_send (&frame, self->local, 0);
    shic_val_destroy (&id_val);
}

//  The instance's key without our node prefix
static const char *
s_bare (self_t *self, const char *id)
{
    size_t length = strlen (self->config->node);
    if (id && strncmp (id, self->config->node, length) == 0 && id [length] == '.')
        return id + length + 1;
    return id;
}

//  A local instance of key in the list_instances answer, or NULL
static const shic_val_t *
s_local_instance (self_t *self, const char *bare)
{
    const shic_val_t *list = shic_val_get (self->instances, "instances");
    for (size_t i = 0; i < shic_val_size (list); i++) {
        const shic_val_t *item = shic_val_at (list, i);
        const char *id = shic_val_str (shic_val_get (item, "instance_id"));
        if (id && streq (s_bare (self, id), bare))
            return item;
    }
    return NULL;
}

//  Duplicates after registering anew: an idle instance of ours that runs
//  ready on another node too is stopped (the other one serves it)
static void
s_reconcile (self_t *self)
{
    const shic_val_t *list = shic_val_get (self->instances, "instances");
    for (size_t i = 0; i < shic_val_size (list); i++) {
        const shic_val_t *item = shic_val_at (list, i);
        const char *id = shic_val_str (shic_val_get (item, "instance_id"));
        const char *status = shic_val_str (shic_val_get (item, "lifecycle_status"));
        if (!id || !status || !streq (status, "ready")
        ||  shic_val_int (shic_val_get (item, "lease_count")) > 0)
            continue;
        char mkey [33];
        shic_cluster_mkey (s_bare (self, id), mkey);
        shic_cluster_instance_t *other =
            shic_cluster_view_instance_elsewhere (self->view, mkey, self->config->node, NULL);
        if (other && streq (other->status, "ready")) {
            zsys_info ("cluster: %s runs on node %s too: stopping this idle duplicate", id,
                       other->node);
            shic_val_t *args = shic_val_new_map ();
            shic_val_set_str (args, "instance_id", id);
            shic_val_t *request_id = shic_val_new_str ("stop");
            zframe_t *frame = shic_wire_request_encode (request_id, "stop_instance", &args);
            zframe_send (&frame, self->local, 0);
            shic_val_destroy (&request_id);
        }
    }
}

//  Both answers of a refresh are in: write what changed
static void
s_publish (self_t *self)
{
    if (!self->registered)
        return;
    //  The node record: pools {capacity, free, idle}, the queue
    const shic_val_t *pools_list = shic_val_get (self->resources, "pools");
    const shic_val_t *placed = shic_val_get (self->resources, "instances");
    shic_val_t *pools = shic_val_new_map ();
    for (size_t i = 0; i < shic_val_size (pools_list); i++) {
        const shic_val_t *pool = shic_val_at (pools_list, i);
        const char *name = shic_val_str (shic_val_get (pool, "pool"));
        if (!name)
            continue;
        int64_t idle = 0;
        for (size_t j = 0; j < shic_val_size (placed); j++) {
            const shic_val_t *item = shic_val_at (placed, j);
            const char *in = shic_val_str (shic_val_get (item, "pool"));
            const char *status = shic_val_str (shic_val_get (item, "lifecycle_status"));
            if (in && streq (in, name) && status && streq (status, "ready")
            &&  shic_val_int (shic_val_get (item, "lease_count")) == 0
            &&  !shic_val_bool (shic_val_get (item, "pinned")))
                idle += shic_val_int (shic_val_get (item, "footprint_bytes"));
        }
        //  Free memory is measured (MemAvailable, NVML) and moves all the
        //  time: written rounded down to 64 MiB, so that a record is not
        //  rewritten for noise (never rounded up: placement stays cautious)
        int64_t free_bytes = shic_val_int (shic_val_get (pool, "free_bytes"));
        free_bytes -= free_bytes % FREE_GRANULE;
        shic_val_t *stats = shic_val_new_map ();
        shic_val_set_int (stats, "capacity", shic_val_int (shic_val_get (pool, "capacity_bytes")));
        shic_val_set_int (stats, "free", free_bytes);
        shic_val_set_int (stats, "idle", idle);
        shic_val_set (pools, name, &stats);
    }
    s_write_node (self, pools, (int64_t) shic_val_size (shic_val_get (self->resources, "queue")));
    shic_val_destroy (&pools);
    if (!self->registered || self->degraded)
        return;

    //  The instance records: starting, ready or restarting ones
    zhashx_t *seen = zhashx_new ();
    const shic_val_t *list = shic_val_get (self->instances, "instances");
    for (size_t i = 0; i < shic_val_size (list); i++) {
        const shic_val_t *item = shic_val_at (list, i);
        const char *id = shic_val_str (shic_val_get (item, "instance_id"));
        const char *status = shic_val_str (shic_val_get (item, "lifecycle_status"));
        if (!id || !status || !(streq (status, "starting") || streq (status, "ready")
                                || streq (status, "restarting")))
            continue;
        char mkey [33];
        const char *bare = s_bare (self, id);
        shic_cluster_mkey (bare, mkey);
        zhashx_insert (seen, mkey, (void *) 1);
        bool leased = shic_val_int (shic_val_get (item, "lease_count")) > 0;
        s_written_t *written = (s_written_t *) zhashx_lookup (self->written, mkey);
        int64_t last_used = written? written->last_used: shic_now_ms ();
        if (written && written->leased != leased)
            last_used = shic_now_ms ();
        shic_val_t *record = shic_val_new_map ();
        shic_val_set_str (record, "instance_id", id);
        shic_val_set_str (record, "key", bare);
        shic_val_set_str (record, "status", status);
        shic_val_set_bool (record, "leased", leased);
        shic_val_set_dup (record, "endpoint", shic_val_get (item, "endpoint"));
        const shic_val_t *placement = shic_val_get (item, "placement");
        if (placement) {
            shic_val_set_dup (record, "pool", shic_val_get (placement, "pool"));
            shic_val_set_dup (record, "footprint", shic_val_get (placement, "footprint_bytes"));
        }
        else
            shic_val_set_int (record, "footprint", 0);
        shic_val_set_int (record, "last_used", last_used);
        char *json = shic_val_to_json (record);
        shic_val_destroy (&record);
        if (written && streq (written->json, json)) {
            free (json);
            continue;
        }
        char *key = s_key (self, "instances", mkey, self->config->node);
        shic_error_t err = { 0 };
        if (shic_etcd_put (self->etcd, key, json, strlen (json), self->lease, &err) == 0) {
            s_written_t *now = (s_written_t *) zmalloc (sizeof (s_written_t));
            now->json = json;
            now->leased = leased;
            now->last_used = last_used;
            zhashx_update (self->written, mkey, now);
        }
        else {
            free (json);
            s_degraded (self, &err, "put of an instance record");
        }
        shic_error_clear (&err);
        free (key);
    }
    //  Records of instances that ended go
    zlistx_t *ended = zlistx_new ();
    zlistx_set_destructor (ended, (zlistx_destructor_fn *) zstr_free);
    for (void *item = zhashx_first (self->written); item; item = zhashx_next (self->written)) {
        const char *mkey = (const char *) zhashx_cursor (self->written);
        if (!zhashx_lookup (seen, mkey))
            zlistx_add_end (ended, strdup (mkey));
    }
    for (char *mkey = (char *) zlistx_first (ended); mkey; mkey = (char *) zlistx_next (ended)) {
        char *key = s_key (self, "instances", mkey, self->config->node);
        shic_error_t err = { 0 };
        if (shic_etcd_delete (self->etcd, key, false, &err) == 0)
            zhashx_delete (self->written, mkey);
        else
            s_degraded (self, &err, "delete of an instance record");
        shic_error_clear (&err);
        free (key);
    }
    zlistx_destroy (&ended);
    zhashx_destroy (&seen);

    //  Our claims: a ready instance ends its claim (its record is written
    //  above); a claim with nothing here for long is stale
    zlistx_t *done = zlistx_new ();
    zlistx_set_destructor (done, (zlistx_destructor_fn *) zstr_free);
    const shic_val_t *queue = shic_val_get (self->resources, "queue");
    for (s_claim_t *claim = (s_claim_t *) zhashx_first (self->claims); claim;
         claim = (s_claim_t *) zhashx_next (self->claims)) {
        const shic_val_t *item = s_local_instance (self, claim->key);
        const char *status = shic_val_str (shic_val_get (item, "lifecycle_status"));
        bool queued = false;
        for (size_t i = 0; i < shic_val_size (queue); i++) {
            const char *id = shic_val_str (shic_val_get (shic_val_at (queue, i), "instance_id"));
            queued |= id && streq (s_bare (self, id), claim->key);
        }
        bool ready = status && streq (status, "ready");
        bool ended_here = status && (streq (status, "stopped") || streq (status, "stopping"));
        bool stale = !item && !queued && zclock_mono () - claim->created_at > CLAIM_STALE_MS;
        if (ready || ended_here || stale)
            zlistx_add_end (done, strdup ((const char *) zhashx_cursor (self->claims)));
    }
    for (char *mkey = (char *) zlistx_first (done); mkey; mkey = (char *) zlistx_next (done)) {
        char *key = s_key (self, "claims", mkey, NULL);
        shic_error_t err = { 0 };
        shic_etcd_delete (self->etcd, key, false, &err);
        shic_error_clear (&err);
        free (key);
        zhashx_delete (self->claims, mkey);
    }
    zlistx_destroy (&done);
    if (self->reconcile_due) {
        self->reconcile_due = false;
        s_reconcile (self);
    }
}

//  A failed start under our claim: the claim is rewritten as failed on a
//  lease of its own that lasts the cooldown, so no node retries at once
static void
s_claim_failed (self_t *self, const char *bare, const shic_val_t *error)
{
    char mkey [33];
    shic_cluster_mkey (bare, mkey);
    if (!zhashx_lookup (self->claims, mkey) || !self->registered)
        return;
    zhashx_delete (self->claims, mkey);
    shic_error_t err = { 0 };
    char cooldown [24];
    int64_t ttl_s = (self->config->cooldown_ms + 999) / 1000;
    if (shic_etcd_lease_grant (self->etcd, ttl_s, cooldown, sizeof (cooldown), &err) != 0) {
        s_degraded (self, &err, "cooldown lease");
        shic_error_clear (&err);
        return;
    }
    shic_val_t *record = shic_val_new_map ();
    shic_val_set_str (record, "node", self->config->node);
    shic_val_set_str (record, "boot_id", self->boot_id);
    shic_val_set_str (record, "state", "failed");
    shic_val_set_str (record, "key", bare);
    if (shic_val_type (error) == SHIC_VAL_MAP)
        shic_val_set_dup (record, "error", error);
    char *json = shic_val_to_json (record);
    shic_val_destroy (&record);
    char *key = s_key (self, "claims", mkey, NULL);
    if (shic_etcd_put (self->etcd, key, json, strlen (json), cooldown, &err) != 0)
        s_degraded (self, &err, "put of a failed claim");
    else
        zsys_info ("cluster: the start of %s failed: no node retries it for %lld ms", bare,
                   (long long) self->config->cooldown_ms);
    shic_error_clear (&err);
    free (key);
    free (json);
}

//  ---------------------------------------------------------------------------
//  Handlers

static void
s_handle_pipe (self_t *self)
{
    shic_bus_t msg = { 0 };
    int rc = shic_bus_recv (&msg, self->pipe, SHIC_BUS_ROLE_CLUSTER);
    if (rc == -1 || msg.id == SHIC_BUS_TERM)
        self->terminated = true;
    shic_bus_reset (&msg);
}

static void
s_handle_bus (self_t *self)
{
    shic_bus_t msg = { 0 };
    if (shic_bus_recv (&msg, self->bus, SHIC_BUS_ROLE_CLUSTER) == 0) {
        if (msg.id == SHIC_BUS_HANDOFF)
            s_on_handoff (self, &msg);
        else
            zsys_error ("cluster: unexpected '%s' on the bus", shic_bus_command (msg.id));
    }
    shic_bus_reset (&msg);
}

//  An event of this node: instances and leases changed
static void
s_handle_sub (self_t *self)
{
    zmsg_t *msg = zmsg_recv (self->sub);
    if (!msg)
        return;
    char *topic = zmsg_popstr (msg);
    zframe_t *frame = zmsg_first (msg);
    if (topic && frame && streq (topic, "instance.failed")) {
        shic_val_t *body = NULL;
        if (shic_val_decode (zframe_data (frame), zframe_size (frame), NULL, &body, NULL) == 0) {
            const char *id = shic_val_str (shic_val_get (body, "instance_id"));
            if (id)
                s_claim_failed (self, s_bare (self, id), shic_val_get (body, "error"));
        }
        shic_val_destroy (&body);
    }
    //  Starts and ends at once; leases are gathered (they come with every
    //  ensure and release, and move a record only between 0 and 1)
    bool lifecycle = topic && strncmp (topic, "instance.", 9) == 0;
    s_refresh_soon (self, lifecycle? 0: LEASE_REFRESH_MS);
    zstr_free (&topic);
    zmsg_destroy (&msg);
}

//  The gateway's answers to our refresh (and stops)
static void
s_handle_local (self_t *self)
{
    zframe_t *frame = zframe_recv (self->local);
    if (!frame)
        return;
    shic_wire_reply_t reply = { 0 };
    if (shic_wire_reply_decode (zframe_data (frame), zframe_size (frame), &reply) == 0) {
        const char *id = shic_val_str (reply.id);
        char want [32];
        if (id && reply.ok && self->query) {
            snprintf (want, sizeof (want), "res-%lld", (long long) self->query);
            if (streq (id, want))
                self->resources = shic_val_dup (reply.result);
            snprintf (want, sizeof (want), "list-%lld", (long long) self->query);
            if (streq (id, want))
                self->instances = shic_val_dup (reply.result);
        }
    }
    shic_wire_reply_reset (&reply);
    zframe_destroy (&frame);
    if (self->query && self->resources && self->instances) {
        self->query = 0;
        s_publish (self);
    }
}

//  REP from another node
static void
s_handle_link (self_t *self, s_link_t *link)
{
    zmsg_t *msg = zmsg_recv (link->dealer);
    if (!msg)
        return;
    char *command = zmsg_popstr (msg);
    zframe_t *frame = zmsg_pop (msg);
    zframe_t *body = zmsg_pop (msg);
    shic_val_t *header = s_header_read (frame);
    int64_t ticket = shic_val_int (shic_val_get (header, "ticket"));
    const char *outcome = shic_val_str (shic_val_get (header, "outcome"));
    s_forward_t *forward = NULL;
    if (command && streq (command, "REP") && header && outcome && body)
        forward = s_forward_take (self, ticket);
    if (forward && forward->target && !streq (forward->target, link->name)) {
        //  Not the node it went to: put it back
        char key [24];
        s_ticket_key (forward->ticket, key);
        zhashx_insert (self->outbound, key, forward);
        forward = NULL;
    }
    if (!forward) {
        if (!command || !streq (command, "REP") || !header || !outcome || !body)
            zsys_warning ("cluster: refused a malformed reply from node %s", link->name);
    }
    else
    if (streq (outcome, "reply") && zframe_size (body) > 0)
        s_answer (self, &forward, body);
    else
    if (streq (outcome, "no_room") && streq (forward->kind, "ensure")) {
        s_try_later (forward, link->name);
        if (forward->via)
            s_decide_forwarded (self, &forward);
        else
            s_decide (self, &forward);
    }
    else
        s_answer_error (self, &forward, SHIC_E_INSTANCE_UNAVAILABLE, link->name,
                        "the node answered what it should not");
    shic_val_destroy (&header);
    zframe_destroy (&frame);
    zframe_destroy (&body);
    zstr_free (&command);
    zmsg_destroy (&msg);
}

//  The watch: changes of the prefix
static void
s_handle_watch (self_t *self)
{
    char *nodes = zsys_sprintf ("%s/nodes/", self->config->prefix);
    size_t nodes_length = strlen (nodes);
    bool resync = false;
    for (int count = 0; count < 1000 && self->watch; count++) {
        shic_etcd_kv_t *kv = NULL;
        int64_t revision = 0;
        shic_error_t err = { 0 };
        shic_etcd_watch_event_t event = shic_etcd_watch_next (self->watch, &kv, &revision, &err);
        if (event == SHIC_ETCD_WATCH_NONE) {
            shic_error_clear (&err);
            break;
        }
        if (revision > self->revision && event != SHIC_ETCD_WATCH_COMPACTED)
            self->revision = revision;
        if (event == SHIC_ETCD_WATCH_PUT && kv)
            shic_cluster_view_put (self->view, kv->key, kv->value, kv->size, kv->mod_revision);
        else
        if (event == SHIC_ETCD_WATCH_DELETE && kv) {
            shic_val_t *lost = NULL;
            int64_t at = kv->mod_revision? kv->mod_revision: revision;
            shic_cluster_view_delete (self->view, kv->key, at, &lost);
            bool node_key = strncmp (kv->key, nodes, nodes_length) == 0;
            const char *name = kv->key + nodes_length;
            if (node_key && streq (name, self->config->node)) {
                if (self->registered) {
                    zsys_warning ("cluster: our node record is gone (the lease expired): "
                                  "registering anew");
                    self->registered = false;
                    self->retry_at = zclock_mono ();
                }
            }
            else
            if (node_key && lost)
                s_node_lost (self, name, lost);
            shic_val_destroy (&lost);
        }
        else
        if (event == SHIC_ETCD_WATCH_COMPACTED) {
            zsys_info ("cluster: the watch was compacted (revision %lld): reading the prefix "
                       "again", (long long) revision);
            resync = true;
        }
        else
        if (event == SHIC_ETCD_WATCH_DOWN) {
            shic_etcd_watch_destroy (&self->watch);
            s_degraded (self, &err, "watch");
        }
        shic_etcd_kv_free (&kv);
        shic_error_clear (&err);
        if (resync)
            break;
    }
    free (nodes);
    if (resync)
        s_resync (self);
    s_summary (self);
}

//  ---------------------------------------------------------------------------
//  Timers

static void
s_expire (self_t *self, int64_t now)
{
    //  Forwards past their deadline
    zlistx_t *late = zlistx_new ();
    for (s_forward_t *forward = (s_forward_t *) zhashx_first (self->outbound); forward;
         forward = (s_forward_t *) zhashx_next (self->outbound))
        if (now >= forward->deadline)
            zlistx_add_end (late, (void *) (intptr_t) forward->ticket);
    for (void *item = zlistx_first (late); item; item = zlistx_next (late)) {
        s_forward_t *forward = s_forward_take (self, (int64_t) (intptr_t) item);
        if (!forward)
            continue;
        if (forward->fanout) {
            s_forward_destroy (&forward);   //  the fan-out answers at its own deadline
            continue;
        }
        s_answer_error (self, &forward, streq (forward->kind, "ensure")? SHIC_E_AWAIT_TIMEOUT
                                                                     : SHIC_E_INSTANCE_UNAVAILABLE,
                        forward->target, "the node it was forwarded to did not answer in time");
    }
    zlistx_destroy (&late);
    //  Fan-outs: complete, or at their deadline
    s_fanout_t *fanout = (s_fanout_t *) zlistx_first (self->fanouts);
    while (fanout) {
        if (fanout->pending == 0 || now >= fanout->deadline) {
            s_decided (self, fanout->gateway_ticket, "merge", NULL, 0, fanout->replies);
            //  Parts still out find no fan-out: they are dropped
            for (s_forward_t *forward = (s_forward_t *) zhashx_first (self->outbound); forward;
                 forward = (s_forward_t *) zhashx_next (self->outbound))
                if (forward->fanout == fanout)
                    forward->fanout = NULL, forward->deadline = now;
            zlistx_delete (self->fanouts, zlistx_cursor (self->fanouts));
            fanout = (s_fanout_t *) zlistx_first (self->fanouts);
        }
        else
            fanout = (s_fanout_t *) zlistx_next (self->fanouts);
    }
}

//  The next time something is due, and does what is due now
static int64_t
s_timers (self_t *self)
{
    int64_t now = zclock_mono ();
    if (self->retry_at && now >= self->retry_at) {
        self->retry_at = 0;
        if (!self->registered)
            s_register (self);
        else
        if (!self->watch)
            s_watch_again (self);
        if (self->degraded && !self->retry_at)
            self->retry_at = now + (self->config->ttl_ms / 4 < 1000? self->config->ttl_ms / 4: 1000);
    }
    if (self->registered && *self->lease && now >= self->keepalive_at)
        s_keepalive (self);
    if (self->query && now >= self->query_deadline)
        self->query = 0;            //  the gateway did not answer: next time
    if (self->refresh_at && now >= self->refresh_at)
        s_query (self);
    s_expire (self, now);
    now = zclock_mono ();
    int64_t next = now + REFRESH_PERIOD_MS;
    if (!self->refresh_at)
        self->refresh_at = next;
    if (self->refresh_at < next)
        next = self->refresh_at;
    if (self->retry_at && self->retry_at < next)
        next = self->retry_at;
    if (self->registered && self->keepalive_at < next)
        next = self->keepalive_at;
    if (self->query && self->query_deadline < next)
        next = self->query_deadline;
    for (s_forward_t *forward = (s_forward_t *) zhashx_first (self->outbound); forward;
         forward = (s_forward_t *) zhashx_next (self->outbound))
        if (forward->deadline < next)
            next = forward->deadline;
    for (s_fanout_t *fanout = (s_fanout_t *) zlistx_first (self->fanouts); fanout;
         fanout = (s_fanout_t *) zlistx_next (self->fanouts))
        if (fanout->pending == 0)
            next = now;
        else
        if (fanout->deadline < next)
            next = fanout->deadline;
    if (self->watch) {
        long timeout = shic_etcd_watch_timeout (self->watch);
        if (timeout >= 0 && now + timeout < next)
            next = now + timeout;
    }
    return next;
}

//  ---------------------------------------------------------------------------
//  Life

static self_t *
s_self_new (zsock_t *pipe, const shic_settings_t *settings)
{
    self_t *self = (self_t *) zmalloc (sizeof (self_t));
    self->pipe = pipe;
    self->settings = settings;
    self->config = &settings->cluster;
    self->view = shic_cluster_view_new (self->config->prefix);
    int64_t timeout = self->config->ttl_ms / 4;
    self->etcd_timeout_ms = timeout < 250? 250: timeout > 2000? 2000: timeout;
    self->links = s_hash ((zhashx_destructor_fn *) s_link_destroy);
    self->outbound = s_hash ((zhashx_destructor_fn *) s_forward_destroy);
    self->fanouts = zlistx_new ();
    zlistx_set_destructor (self->fanouts, (zlistx_destructor_fn *) s_fanout_destroy);
    self->claims = s_hash ((zhashx_destructor_fn *) s_claim_destroy);
    self->written = s_hash ((zhashx_destructor_fn *) s_written_destroy);
    return self;
}

static void
s_self_destroy (self_t **self_p)
{
    if (*self_p) {
        self_t *self = *self_p;
        //  Leaving: our records go at once, not a TTL later
        if (self->etcd && *self->lease && self->registered)
            shic_etcd_lease_revoke (self->etcd, self->lease, NULL);
        shic_etcd_watch_destroy (&self->watch);
        shic_etcd_destroy (&self->etcd);
        zhashx_destroy (&self->outbound);
        zlistx_destroy (&self->fanouts);
        zhashx_destroy (&self->claims);
        zhashx_destroy (&self->written);
        zhashx_destroy (&self->links);
        shic_cluster_view_destroy (&self->view);
        shic_val_destroy (&self->resources);
        shic_val_destroy (&self->instances);
        zsock_destroy (&self->bus);
        zsock_destroy (&self->sub);
        zsock_destroy (&self->local);
        zcert_destroy (&self->cert);
        free (self->node_json);
        free (self->summary_json);
        free (self->routes_json);
        free (self);
        *self_p = NULL;
    }
}

//  The sockets; 0, or -1 (logged)
static int
s_self_start (self_t *self)
{
    const shic_settings_t *settings = self->settings;
    self->bus = zsock_new (ZMQ_DEALER);
    zsock_set_identity (self->bus, "C");
    zsock_set_sndhwm (self->bus, 0);
    zsock_set_rcvhwm (self->bus, 0);
    self->sub = zsock_new (ZMQ_SUB);
    zsock_set_subscribe (self->sub, "instance.");
    zsock_set_subscribe (self->sub, "lease.");
    self->local = zsock_new (ZMQ_DEALER);
    if (zsock_connect (self->bus, "%s", settings->bus)
    ||  zsock_connect (self->sub, "%s", settings->events)
    ||  zsock_connect (self->local, "%s", settings->gateway)) {
        zsys_error ("cluster: cannot reach the gateway");
        return -1;
    }
    //  Our links present our certificate to the other nodes' peer doors
    if (*self->config->curve_cert) {
        self->cert = zcert_load (self->config->curve_cert);
        if (!self->cert) {
            zsys_error ("cluster: cannot load the CURVE certificate %s", self->config->curve_cert);
            return -1;
        }
    }
    //  The gateway bound the peer door (BIND-PEER, before this actor started)
    s_reachable (self->config->peer, self->config->advertise, self->peer_port,
                 self->peer_endpoint, sizeof (self->peer_endpoint));
    s_reachable (self->config->public_gateway, self->config->advertise, 0,
                 self->gateway_endpoint, sizeof (self->gateway_endpoint));
    return 0;
}

void
shic_cluster_actor (zsock_t *pipe, void *args)
{
    shic_cluster_args_t *given = (shic_cluster_args_t *) args;
    self_t *self = s_self_new (pipe, given->settings);
    self->peer_port = given->peer_port;
    free (given);
    zsock_signal (pipe, 0);
#ifdef __linux__
    pthread_setname_np (pthread_self (), "shic-cluster");
#endif
    int rc = s_self_start (self);
    shic_bus_send (pipe, &(shic_bus_t) { .id = SHIC_BUS_STARTUP, .rc = rc });
    if (rc == 0) {
        zsys_info ("cluster: node %s, peer %s, etcd %s, prefix %s, ttl %lld ms",
                   self->config->node, self->peer_endpoint, self->config->etcd,
                   self->config->prefix, (long long) self->config->ttl_ms);
        s_summary (self);
        s_register (self);
    }
    else
        shic_bus_wait_term (pipe, SHIC_BUS_ROLE_CLUSTER);
    zmq_pollitem_t *items = NULL;
    s_link_t **polled = NULL;
    size_t items_max = 0;
    while (rc == 0 && !self->terminated) {
        int64_t next = s_timers (self);
        //  The poll set: pipe, bus, sub, local, watch, links
        size_t count = 5 + zhashx_size (self->links);
        if (count > items_max) {
            items_max = count * 2;
            items = (zmq_pollitem_t *) realloc (items, items_max * sizeof (zmq_pollitem_t));
            polled = (s_link_t **) realloc (polled, items_max * sizeof (s_link_t *));
            assert (items && polled);
        }
        items [0] = (zmq_pollitem_t) { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 };
        items [1] = (zmq_pollitem_t) { zsock_resolve (self->bus), 0, ZMQ_POLLIN, 0 };
        items [2] = (zmq_pollitem_t) { zsock_resolve (self->sub), 0, ZMQ_POLLIN, 0 };
        items [3] = (zmq_pollitem_t) { zsock_resolve (self->local), 0, ZMQ_POLLIN, 0 };
        int fd = self->watch? shic_etcd_watch_fd (self->watch): -1;
        items [4] = (zmq_pollitem_t) { NULL, fd, fd >= 0? ZMQ_POLLIN: 0, 0 };
        size_t index = 5;
        for (s_link_t *link = (s_link_t *) zhashx_first (self->links); link;
             link = (s_link_t *) zhashx_next (self->links)) {
            polled [index - 5] = link;
            items [index++] = (zmq_pollitem_t) { zsock_resolve (link->dealer), 0, ZMQ_POLLIN, 0 };
        }
        int64_t now = zclock_mono ();
        long timeout = next <= now? 0: next - now > INT_MAX? INT_MAX: (long) (next - now);
        int events = zmq_poll (items, (int) index, timeout);
        if (events == -1 && errno != EINTR)
            break;
        if (events <= 0) {
            if (self->watch)
                s_handle_watch (self);      //  curl's timers
            continue;
        }
        if (items [0].revents & ZMQ_POLLIN)
            s_handle_pipe (self);
        if (self->terminated)
            break;
        for (int i = 0; i < 256 && (zsock_events (self->bus) & ZMQ_POLLIN); i++)
            s_handle_bus (self);
        for (int i = 0; i < 256 && (zsock_events (self->sub) & ZMQ_POLLIN); i++)
            s_handle_sub (self);
        for (int i = 0; i < 64 && (zsock_events (self->local) & ZMQ_POLLIN); i++)
            s_handle_local (self);
        if (self->watch && (items [4].revents & ZMQ_POLLIN || fd < 0))
            s_handle_watch (self);
        //  Links may go while handled (a node lost): look each up again
        zlistx_t *ready = zlistx_new ();
        zlistx_set_destructor (ready, (zlistx_destructor_fn *) zstr_free);
        for (size_t i = 5; i < index; i++)
            if (items [i].revents & ZMQ_POLLIN)
                zlistx_add_end (ready, strdup (polled [i - 5]->name));
        for (char *name = (char *) zlistx_first (ready); name; name = (char *) zlistx_next (ready)) {
            s_link_t *link = (s_link_t *) zhashx_lookup (self->links, name);
            for (int i = 0; link && i < 256 && (zsock_events (link->dealer) & ZMQ_POLLIN); i++) {
                s_handle_link (self, link);
                link = (s_link_t *) zhashx_lookup (self->links, name);
            }
        }
        zlistx_destroy (&ready);
    }
    free (items);
    free (polled);
    s_self_destroy (&self);
}
