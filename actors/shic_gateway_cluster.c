/*  =========================================================================
    shic_gateway_cluster - what the gateway does for the cluster (issue 13)

    Part of the gateway actor (shic_gateway_int.h), used only when the
    configuration has a cluster section. The warm path of a local instance
    never comes here.

    The gateway talks to the other nodes' gateways itself, so that a
    forwarded control message costs one network round trip and no extra
    thread: it owns the peer door (a ROUTER on the cluster's peer endpoint,
    CURVE like the gateway when configured) and a DEALER to each other
    node's peer door. The cluster actor tells it (ROUTES) which nodes there
    are and which models are ready where; with that the gateway forwards
    an ensure of a model ready elsewhere, and a call naming another node's
    lease_ref or instance_id, straight to that node. Everything that needs
    a decision goes to the cluster actor as a HANDOFF (an ensure of a model
    with no route: a claim, a join, a placement; a list of the whole
    cluster), answered by one DECIDED: serve it here (the claim is ours),
    send this reply, merge these replies, say no_room, or drop it.

    The peer protocol, on the peer door (frames after the routing id):
        REQ [header {ticket, hop, mode, holder, from}] [wire request]
        REP [header {ticket, outcome}] [wire reply]   outcome: reply, no_room
    A REQ in mode "release" is one-way: a release_lease of a lease that the
    entry node relayed for the same client, which the entry node has
    answered itself ({released: true}); the receiving node ends the lease
    and sends no REP (anything but a release_lease in that mode is refused
    with one log line). It shares the link with the forwards, so it is
    served after the ensure that took the lease; it waits on the link for
    the next message to that node (RELEASE_HOLD_MS at most) and goes after
    it when that is an ensure, before it otherwise (a call may name its
    lease).
    A REQ is served as from a network client whose key is its holder (the
    entry node and its client): the restrictions of network clients hold
    on the node that starts a model. The leases other nodes hold for our
    clients are remembered here, so that when such a node goes its holders
    hear lease.released (node_lost) from this node's events.
    =========================================================================
*/

#include "shic_gateway_int.h"
#include "shic_peer.h"
#include "shic_pools.h"

#define HANDOFF_GRACE_MS 3000       //  beyond an ensure's wait_ms
#define CALL_TIMEOUT_MS  10000      //  a forwarded call, a cluster list
#define HOLDER_MAX       320        //  bytes of a holder
#define HOP_MAX          2          //  forwards one request may take
#define RELEASE_HOLD_MS  20         //  a one-way release waits for company

typedef enum {
    HANDOFF_ENSURE,                 //  an ensure with no local instance
    HANDOFF_ROUTE,                  //  a call naming another node's ref
    HANDOFF_FANOUT                  //  a list of the whole cluster
} s_kind_t;

//  A request out at the cluster actor, or at another node's peer door
typedef struct {
    s_kind_t kind;                  //  what it is
    const char *op;                 //  the op (a static name of the op table)
    shic_waiter_t *waiter;          //  how to answer it
    shic_val_t *plan;               //  ENSURE: its resolved plan
    char *key;                      //  ENSURE: the instance key, no node prefix
    shic_val_t *need;               //  ENSURE: {bytes, pool?, fit}
    zframe_t *body;                 //  the request (for a HANDOFF after a forward)
    char *holder;                   //  entry node / client
    char *ref;                      //  ROUTE: the lease_ref it names, or NULL
    char *node;                     //  the node it is out at, NULL: the cluster actor
    shic_val_t *local;              //  FANOUT: this node's own result
    shic_val_t *peer;               //  relayed: the forward's header, else NULL
    int64_t deadline;               //  monotonic: answered without them then
} s_handoff_t;

//  A DEALER to another node's peer door
typedef struct {
    char *name;                     //  the node
    char *endpoint;                 //  its peer door
    char *curve_key;                //  its CURVE key, or NULL
    zsock_t *dealer;                //  the socket
    zlist_t *held;                  //  one-way releases not sent yet (zmsg_t)
    int64_t flush_at;               //  monotonic: they go then at the latest
} s_link_t;

//  A lease another node holds for one of our clients
typedef struct {
    char *instance_id;              //  its instance
    shic_val_t *owner_ref;          //  its owner
    char *node;                     //  the node that holds it
    char *holder;                   //  the holder it was relayed for
                                    //  (this node / the client)
    int64_t expires_at_ms;          //  wall clock, 0 = untimed
} s_relayed_t;

static void
s_handoff_destroy (s_handoff_t **self_p)
{
    if (*self_p) {
        s_handoff_t *self = *self_p;
        shic_waiter_destroy (&self->waiter);
        shic_val_destroy (&self->plan);
        free (self->key);
        shic_val_destroy (&self->need);
        zframe_destroy (&self->body);
        free (self->holder);
        free (self->ref);
        free (self->node);
        shic_val_destroy (&self->local);
        shic_val_destroy (&self->peer);
        free (self);
        *self_p = NULL;
    }
}

static void
s_link_destroy (s_link_t **self_p)
{
    if (*self_p) {
        s_link_t *self = *self_p;
        zmsg_t *msg;
        while (self->held && (msg = (zmsg_t *) zlist_pop (self->held)))
            zmsg_destroy (&msg);
        zlist_destroy (&self->held);
        zsock_destroy (&self->dealer);
        free (self->name);
        free (self->endpoint);
        free (self->curve_key);
        free (self);
        *self_p = NULL;
    }
}

static void
s_relayed_destroy (s_relayed_t **self_p)
{
    if (*self_p) {
        s_relayed_t *self = *self_p;
        free (self->instance_id);
        shic_val_destroy (&self->owner_ref);
        free (self->node);
        free (self->holder);
        free (self);
        *self_p = NULL;
    }
}

static size_t s_link_flush (s_link_t *link);

void
shic_gateway_cluster_start (self_t *self)
{
    const shic_cluster_settings_t *config = &self->settings->cluster;
    self->handoffs = shic_hash_new ((zhashx_destructor_fn *) s_handoff_destroy);
    self->links = shic_hash_new ((zhashx_destructor_fn *) s_link_destroy);
    self->relayed = shic_hash_new ((zhashx_destructor_fn *) s_relayed_destroy);
    char prefix [80];
    snprintf (prefix, sizeof (prefix), "%s.", config->node);
    shic_registry_set_id_prefix (self->registry, prefix);
    //  CURVE like the gateway: the peer door is a server with this node's
    //  certificate (the gateway's ZAP handler, started by SET-CURVE, checks
    //  the others' keys against curve_clients), and the links present it
    if (*config->curve_cert) {
        self->peer_cert = zcert_load (config->curve_cert);
        if (self->peer_cert) {
            zcert_apply (self->peer_cert, self->peer);
            zsock_set_curve_server (self->peer, 1);
            zsock_set_zap_domain (self->peer, "shic");
        }
        else
            zsys_error ("gateway: cannot load the CURVE certificate %s for the peer door",
                        config->curve_cert);
    }
}

void
shic_gateway_cluster_stop (self_t *self)
{
    //  The releases held go now: their sockets linger a while for them
    for (s_link_t *link = self->links? (s_link_t *) zhashx_first (self->links): NULL; link;
         link = (s_link_t *) zhashx_next (self->links))
        if (s_link_flush (link))
            zsock_set_linger (link->dealer, 1000);
    zhashx_destroy (&self->handoffs);
    zhashx_destroy (&self->links);
    zhashx_destroy (&self->relayed);
    zsock_destroy (&self->peer);
    zcert_destroy (&self->peer_cert);
    shic_val_destroy (&self->nodes);
    shic_val_destroy (&self->routes);
    shic_val_destroy (&self->cluster_summary);
    free (self->items);
    self->items = NULL;
}

int
shic_gateway_cluster_bind (self_t *self, const char *endpoint)
{
    if (self->settings->cluster.curve_cert [0] && !self->peer_cert)
        return -1;
    int port = zsock_bind (self->peer, "%s", endpoint);
    if (port == -1)
        zsys_error ("gateway: cannot bind the peer door %s: %s", endpoint,
                    zmq_strerror (zmq_errno ()));
    return port;
}

//  ---------------------------------------------------------------------------
//  Small things

static const char *
s_me (self_t *self)
{
    return self->settings->cluster.node;
}

static char *
s_holder (self_t *self, shic_gateway_call_t *call)
{
    return zsys_sprintf ("%s/%s", s_me (self), call->client);
}

static void
s_ticket_key (int64_t ticket, char *key)
{
    snprintf (key, 24, "%lld", (long long) ticket);
}

static void
s_handoff_add (self_t *self, int64_t ticket, s_handoff_t *handoff)
{
    char key [24];
    s_ticket_key (ticket, key);
    zhashx_insert (self->handoffs, key, handoff);
}

//  Takes a handoff out of the table, not destroyed; NULL when none
static s_handoff_t *
s_handoff_take (self_t *self, int64_t ticket)
{
    char key [24];
    s_ticket_key (ticket, key);
    s_handoff_t *handoff = (s_handoff_t *) zhashx_lookup (self->handoffs, key);
    if (handoff) {
        zhashx_set_destructor (self->handoffs, NULL);
        zhashx_delete (self->handoffs, key);
        zhashx_set_destructor (self->handoffs, (zhashx_destructor_fn *) s_handoff_destroy);
    }
    return handoff;
}

//  Answers a handoff with an error of ours
static void
s_answer_error (self_t *self, s_handoff_t *handoff, const char *code, const char *node,
                const char *message)
{
    shic_error_t err = { 0 };
    shic_val_t *details = shic_val_new_map ();
    if (node)
        shic_val_set_str (details, "node", node);
    shic_error_set (&err, code, &details, "%s", message);
    shic_stats_error (self->stats, err.code);
    shic_stats_answered (self->stats, handoff->op, err.code);
    shic_waiter_reply_error (handoff->waiter, &err);
    shic_error_clear (&err);
}

//  ---------------------------------------------------------------------------
//  Links and forwards

//  The link to node (made on first use) from ROUTES' nodes; NULL when the
//  node is not known
static s_link_t *
s_link (self_t *self, const char *node)
{
    const shic_val_t *known = shic_val_get (self->nodes, node);
    const char *endpoint = shic_val_str (shic_val_get (known, "peer"));
    const char *curve_key = shic_val_str (shic_val_get (known, "curve_key"));
    if (!endpoint)
        return NULL;
    s_link_t *link = (s_link_t *) zhashx_lookup (self->links, node);
    if (link && streq (link->endpoint, endpoint)
    &&  (curve_key? link->curve_key && streq (link->curve_key, curve_key): !link->curve_key))
        return link;
    zhashx_delete (self->links, node);
    link = (s_link_t *) zmalloc (sizeof (s_link_t));
    link->name = strdup (node);
    link->endpoint = strdup (endpoint);
    link->curve_key = curve_key? strdup (curve_key): NULL;
    link->held = zlist_new ();
    bool connected;
    link->dealer = shic_peer_link_new (link->endpoint, self->peer_cert, link->curve_key,
                                       (int64_t) self->settings->max_frame + 65536, &connected);
    zsock_set_rcvhwm (link->dealer, 0);
    zsock_set_rcvtimeo (link->dealer, 0);  //  drained by reading until none waits
    if (!connected)
        zsys_warning ("gateway: cannot connect to node %s at %s", node, link->endpoint);
    zhashx_insert (self->links, node, link);
    self->poll_all = true;          //  a socket connected here (the gateway's s_poll)
    return link;
}

//  REQ [header {ticket, hop 1, mode, holder, from: this node}] [body]
static zmsg_t *
s_peer_request (self_t *self, int64_t ticket, const char *mode, const char *holder,
                zframe_t *body)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "REQ");
    zframe_t *frame = shic_peer_req_header (ticket, 1, mode, holder, s_me (self));
    zmsg_append (msg, &frame);
    zframe_t *copy = zframe_dup (body);
    zmsg_append (msg, &copy);
    return msg;
}

//  Sends the one-way releases held for link's node, in the order they were
//  answered; how many there were
static size_t
s_link_flush (s_link_t *link)
{
    size_t count = zlist_size (link->held);
    zmsg_t *msg;
    while ((msg = (zmsg_t *) zlist_pop (link->held))) {
        shic_bus_sent (link->dealer);
        if (zmsg_send (&msg, link->dealer) != 0) {
            //  Only when the link holds its send limit already (its node
            //  does not read): the lease ends there when its client is seen
            //  gone, its TTL passes, or the node is lost
            zsys_warning ("gateway: a release could not be sent to node %s", link->name);
            zmsg_destroy (&msg);
        }
    }
    link->flush_at = 0;
    return count;
}

//  Sends handoff (with a fresh ticket) to node's peer door in mode; it
//  waits in the table for the REP. 0, or -1 when the node is not known.
//  The releases held for that node go with it: after an ensure (mode
//  join, which they cannot change: that node answers it first and ends
//  them after), before a call (which may name one of their leases).
static int
s_forward (self_t *self, s_handoff_t *handoff, const char *node, const char *mode)
{
    s_link_t *link = s_link (self, node);
    if (!link)
        return -1;
    bool join = streq (mode, "join");
    if (!join)
        s_link_flush (link);
    int64_t ticket = ++self->handoff_ticket;
    zmsg_t *msg = s_peer_request (self, ticket, mode, handoff->holder, handoff->body);
    shic_bus_sent (link->dealer);
    if (zmsg_send (&msg, link->dealer) != 0)
        zmsg_destroy (&msg);        //  the deadline, or LOST, answers it
    if (join)
        s_link_flush (link);
    shic_bus_yield ();              //  (after the releases: one wake-up carries all)
    free (handoff->node);
    handoff->node = strdup (node);
    s_handoff_add (self, ticket, handoff);
    return 0;
}

//  A release_lease of a lease this node relayed for the same client: the
//  client is answered {released: true} at once, the release goes to its
//  node one-way (mode release, no REP) and the lease is forgotten here.
//  The release waits on the link (s_link_flush) for the next message to
//  that node, RELEASE_HOLD_MS at most: an agent that releases and ensures
//  again costs that node one message, not two.
//  false when this node cannot decide it (not relayed, another holder, a
//  lease near its expiry, an instance its view no longer places there, no
//  link to its node): then it is forwarded as any call.
static bool
s_release_at_entry (self_t *self, shic_gateway_call_t *call, const char *ref, const char *node)
{
    s_relayed_t *relayed = (s_relayed_t *) zhashx_lookup (self->relayed, ref);
    if (!relayed || !relayed->holder || !streq (relayed->node, node))
        return false;
    char *holder = s_holder (self, call);
    bool same = streq (holder, relayed->holder);
    free (holder);
    if (!same)
        return false;
    //  A timed lease that may have expired there: its node says
    if (relayed->expires_at_ms && relayed->expires_at_ms < shic_now_ms () + 1000)
        return false;
    //  Its instance still ready there, as this node sees it
    const char *bare = shic_cluster_strip_node (relayed->instance_id, node);
    const char *there = shic_val_str (shic_val_get (self->routes, bare));
    if (!there || !streq (there, node))
        return false;
    s_link_t *link = s_link (self, node);
    if (!link)
        return false;
    //  The client first; the release follows the ensure on the link
    shic_val_t *result = shic_val_new_map ();
    shic_val_set_bool (result, "released", true);
    shic_stats_answered (self->stats, "release_lease", NULL);
    zframe_t *frame = shic_wire_reply_ok (call->req.id, &result);
    shic_waiter_send (call->router, call->envelope, &frame);
    shic_bus_yield ();
    zmsg_t *msg = s_peer_request (self, ++self->handoff_ticket, "release", relayed->holder,
                                  call->body);
    zlist_append (link->held, msg);
    if (!link->flush_at)
        link->flush_at = zclock_mono () + RELEASE_HOLD_MS;
    zhashx_delete (self->relayed, ref);
    return true;
}

static shic_val_t *s_fit (self_t *self, const shic_val_t *plan);

//  A handoff forwarded without its plan (the memo knew where it runs) is
//  resolved now, from its request; 0, or -1 when it does not resolve (the
//  waiter is answered)
static int
s_handoff_resolve (self_t *self, s_handoff_t *handoff)
{
    shic_wire_request_t request = { 0 };
    shic_args_t args = { 0 };
    shic_error_t err = { 0 };
    shic_val_t *compatibility = NULL;
    if (shic_wire_request_decode (zframe_data (handoff->body), zframe_size (handoff->body),
                                  self->settings->max_frame, &request, &err) == 0
    &&  shic_args_decode (request.op, request.args, &args, &err) == 0)
        handoff->plan = shic_registry_resolve (self->registry, args.consumer, args.request,
                                               args.context, handoff->waiter->trusted,
                                               &compatibility, &err);
    shic_val_destroy (&compatibility);
    shic_wire_request_reset (&request);
    if (handoff->plan && !handoff->need)
        handoff->need = s_fit (self, handoff->plan);
    int rc = 0;
    if (!handoff->plan || !handoff->need) {
        if (!err.code)
            shic_error_set (&err, SHIC_E_INTERNAL, NULL, "the forwarded request does not resolve");
        shic_stats_error (self->stats, err.code);
        shic_stats_answered (self->stats, handoff->op, err.code);
        shic_waiter_reply_error (handoff->waiter, &err);
        rc = -1;
    }
    shic_error_clear (&err);
    return rc;
}

//  An ensure of a model with no route, or a cluster list: to the cluster
//  actor. 0 when it took it (or the ensure was answered: it does not
//  resolve; the handoff is then destroyed), -1 when it is not on the bus.
static int
s_to_cluster (self_t *self, s_handoff_t *handoff, const char *skip)
{
    if (handoff->kind == HANDOFF_ENSURE && !handoff->plan && s_handoff_resolve (self, handoff)) {
        s_handoff_destroy (&handoff);
        return 0;
    }
    int64_t ticket = ++self->handoff_ticket;
    shic_val_t *request = shic_val_new_bin (zframe_data (handoff->body), zframe_size (handoff->body));
    shic_val_t *need = handoff->need? shic_val_dup (handoff->need): NULL;
    if (need && skip) {
        shic_val_t *skipped = shic_val_new_array ();
        shic_val_t *name = shic_val_new_str (skip);
        shic_val_push (skipped, &name);
        shic_val_set (need, "skip", &skipped);
    }
    int64_t via = handoff->peer? shic_val_int (shic_val_get (handoff->peer, "via")): 0;
    int rc = shic_bus_send_to (self->bus, "C", &(shic_bus_t) {
        .id = SHIC_BUS_HANDOFF, .ticket = ticket,
        .kind = handoff->kind == HANDOFF_FANOUT? "fanout": "ensure", .op = handoff->op,
        .client = handoff->holder, .request = request, .key = handoff->key, .via = via,
        .need = need, .peer = handoff->peer });
    shic_val_destroy (&request);
    shic_val_destroy (&need);
    if (rc == 0) {
        free (handoff->node);
        handoff->node = NULL;
        s_handoff_add (self, ticket, handoff);
    }
    return rc;
}

//  A new handoff for a call (its envelope taken by the waiter, when given)
static s_handoff_t *
s_handoff_new (self_t *self, shic_gateway_call_t *call, s_kind_t kind, const char *op,
               shic_waiter_t **waiter_p)
{
    s_handoff_t *handoff = (s_handoff_t *) zmalloc (sizeof (s_handoff_t));
    handoff->kind = kind;
    handoff->op = op;
    if (waiter_p) {
        handoff->waiter = *waiter_p;
        *waiter_p = NULL;
    }
    else {
        shic_val_t *none = NULL;
        handoff->waiter = shic_waiter_new (call->router, &call->envelope, call->req.id,
                                           call->client, call->trusted, NULL, 0, &none);
    }
    handoff->body = zframe_dup (call->body);
    handoff->holder = call->relayed? strdup (shic_val_str (shic_val_get (call->peer, "holder")))
                                   : s_holder (self, call);
    if (call->relayed) {
        handoff->peer = shic_val_dup (call->peer);
        shic_val_set_int (handoff->peer, "via", call->via);
    }
    handoff->deadline = zclock_mono () + CALL_TIMEOUT_MS;
    return handoff;
}

//  ---------------------------------------------------------------------------
//  From our clients: ensures, refs, cluster lists

//  The bytes that idle instances (ready, no lease, not pinned) of pool hold
static uint64_t
s_idle_bytes (self_t *self, const char *pool)
{
    uint64_t bytes = 0;
    for (shic_record_t *record = shic_registry_first (self->registry); record;
         record = shic_registry_next (self->registry))
        if (record->pool && streq (record->pool, pool) && record->lease_count == 0
        &&  !record->pinned && record->status == SHIC_LIFECYCLE_READY)
            bytes += record->footprint;
    return bytes;
}

//  What a plan needs here: {bytes, pool?, fit} where fit is now, evict
//  (once idle instances go), no (it would wait) or never (more than the
//  pool holds); NULL when the need cannot be read (the local start says why)
static shic_val_t *
s_fit (self_t *self, const shic_val_t *plan)
{
    shic_need_t need = { 0 };
    shic_error_t err = { 0 };
    if (shic_admission_need (self->admission, plan, &need, &err) != 0) {
        shic_error_clear (&err);
        shic_need_reset (&need);
        return NULL;
    }
    shic_val_t *fit = shic_val_new_map ();
    if (need.source) {
        uint64_t free_bytes = shic_pools_free (self->settings->pools, need.pool);
        uint64_t idle = s_idle_bytes (self, need.pool);
        uint64_t room = shic_pools_capacity (self->settings->pools, need.pool);
        uint64_t reserve = shic_pools_reserve (self->settings->pools, need.pool);
        room = room > reserve? room - reserve: 0;
        shic_val_set_int (fit, "bytes", (int64_t) need.bytes);
        shic_val_set_str (fit, "pool", need.pool);
        shic_val_set_str (fit, "fit", free_bytes >= need.bytes? "now"
                                    : free_bytes + idle >= need.bytes? "evict"
                                    : room >= need.bytes? "no": "never");
    }
    else {
        shic_val_set_int (fit, "bytes", 0);
        shic_val_set_str (fit, "fit", "now");
    }
    shic_need_reset (&need);
    return fit;
}

bool
shic_gateway_cluster_ensure (self_t *self, shic_gateway_call_t *call, shic_val_t **plan_p,
                             shic_waiter_t **waiter_p)
{
    const char *key = shic_val_str (shic_val_get (*plan_p, "instance_key"));
    shic_record_t *instance = shic_registry_lookup (self->registry, key);
    if (instance && instance->status != SHIC_LIFECYCLE_STOPPED
    &&  instance->status != SHIC_LIFECYCLE_FAILED)
        return false;               //  live here: served here
    if (instance && instance->status == SHIC_LIFECYCLE_FAILED
    &&  zclock_mono () < instance->retire_at)
        return false;               //  its failure is answered here
    if (self->draining || shic_admission_pending (self->admission, key))
        return false;
    shic_val_t *need = s_fit (self, *plan_p);
    if (!need)
        return false;
    //  The key as every node knows it: without this node's prefix
    const char *bare = shic_cluster_strip_node (key, s_me (self));
    s_handoff_t *handoff = s_handoff_new (self, call, HANDOFF_ENSURE, "ensure_endpoint", waiter_p);
    handoff->plan = *plan_p;
    *plan_p = NULL;
    handoff->key = strdup (bare);
    handoff->need = need;
    handoff->deadline = handoff->waiter->deadline + HANDOFF_GRACE_MS;
    //  Ready on another node: straight there (one round trip); else the
    //  cluster actor decides
    const char *node = call->relayed? NULL: shic_val_str (shic_val_get (self->routes, bare));
    if (node && !streq (node, s_me (self)) && s_forward (self, handoff, node, "join") == 0)
        return true;
    if (s_to_cluster (self, handoff, NULL) == 0)
        return true;
    //  No cluster actor (yet): served here
    *waiter_p = handoff->waiter;
    handoff->waiter = NULL;
    *plan_p = handoff->plan;
    handoff->plan = NULL;
    s_handoff_destroy (&handoff);
    return false;
}

bool
shic_gateway_cluster_forward_known (self_t *self, shic_gateway_call_t *call,
                                    const char *instance_id, const shic_val_t *compatibility,
                                    int64_t started)
{
    if (!instance_id || self->draining)
        return false;
    const char *bare = shic_cluster_strip_node (instance_id, s_me (self));
    const char *node = shic_val_str (shic_val_get (self->routes, bare));
    if (!node || streq (node, s_me (self)) || !shic_val_get (self->nodes, node)
    ||  shic_admission_pending (self->admission, instance_id))
        return false;
    shic_waiter_t *waiter = shic_gateway_waiter_new (call, NULL, shic_val_dup (compatibility), true,
                                                     started);
    s_handoff_t *handoff = s_handoff_new (self, call, HANDOFF_ENSURE, "ensure_endpoint", &waiter);
    handoff->key = strdup (bare);
    handoff->deadline = handoff->waiter->deadline + HANDOFF_GRACE_MS;
    if (s_forward (self, handoff, node, "join") != 0)
        s_handoff_destroy (&handoff);   //  (s_link knows the node: not reached)
    return true;
}

void
shic_gateway_cluster_leased (self_t *self, const char *instance_id, bool leased)
{
    //  (none before the cluster actor is up: its first refresh reads the counts)
    shic_bus_send_to (self->bus, "C", &(shic_bus_t) {
        .id = SHIC_BUS_LEASED, .instance_id = instance_id, .rc = leased? 1: 0 });
}

//  The ref an op names, when it names one (lease_ref or instance_id)
static const char *
s_ref_of (shic_gateway_call_t *call, const char *op)
{
    if (streq (op, "renew_lease") || streq (op, "release_lease"))
        return call->args.lease_ref;
    if (streq (op, "lookup_instance") || streq (op, "stop_instance")
    ||  streq (op, "instance_logs"))
        return call->args.instance_id;
    if (streq (op, "list_leases") && !call->args.cluster)
        return call->args.instance_id;
    return NULL;
}

//  A ref of a node that is not in the cluster: answered here
static void
s_unknown_node (self_t *self, shic_gateway_call_t *call, const char *op, const char *node)
{
    zframe_t *frame = NULL;
    shic_error_t err = { 0 };
    if (streq (op, "release_lease")) {
        shic_val_t *result = shic_val_new_map ();
        shic_val_set_bool (result, "released", false);
        frame = shic_wire_reply_ok (call->req.id, &result);
    }
    else {
        shic_val_t *details = shic_val_new_map ();
        shic_val_set_str (details, "node", node);
        shic_error_set (&err, streq (op, "renew_lease")? SHIC_E_LEASE_NOT_FOUND: SHIC_E_NOT_FOUND,
                        &details, "node '%s' is not in the cluster (gone, or never was)", node);
        shic_stats_error (self->stats, err.code);
        frame = shic_wire_reply_error (call->req.id, &err);
    }
    shic_stats_answered (self->stats, op, err.code);
    shic_waiter_send (call->router, call->envelope, &frame);
    shic_error_clear (&err);
}

bool
shic_gateway_cluster_take (self_t *self, shic_gateway_call_t *call, shic_gateway_op_fn *handler,
                           const char *op)
{
    const char *ref = s_ref_of (call, op);
    char node [64];
    if (ref && shic_cluster_id_node (ref, node, NULL) && !streq (node, s_me (self))) {
        if (!shic_val_get (self->nodes, node)) {
            s_unknown_node (self, call, op, node);
            return true;
        }
        if (streq (op, "release_lease") && s_release_at_entry (self, call, ref, node))
            return true;
        s_handoff_t *handoff = s_handoff_new (self, call, HANDOFF_ROUTE, op, NULL);
        if (streq (op, "renew_lease") || streq (op, "release_lease"))
            handoff->ref = strdup (ref);
        if (s_forward (self, handoff, node, "call") != 0)
            s_handoff_destroy (&handoff);
        return true;
    }
    bool fanout = call->args.cluster
               && (streq (op, "list_instances") || streq (op, "list_leases")
               ||  streq (op, "resources"));
    if (!fanout)
        return false;
    shic_error_t err = { 0 };
    shic_val_t *local = handler (self, call, &err);
    if (!local) {
        shic_error_clear (&err);
        return false;               //  answered as one node's list
    }
    shic_val_t *none = NULL;
    s_handoff_t *handoff = (s_handoff_t *) zmalloc (sizeof (s_handoff_t));
    handoff->kind = HANDOFF_FANOUT;
    handoff->op = op;
    handoff->body = zframe_dup (call->body);
    handoff->holder = s_holder (self, call);
    handoff->local = local;
    handoff->deadline = zclock_mono () + CALL_TIMEOUT_MS;
    zmsg_t *envelope = zmsg_dup (call->envelope);
    handoff->waiter = shic_waiter_new (call->router, &envelope, call->req.id, call->client,
                                       call->trusted, NULL, 0, &none);
    if (s_to_cluster (self, handoff, NULL) != 0) {
        s_handoff_destroy (&handoff);
        return false;               //  no cluster actor: this node's list alone
    }
    return true;
}

//  ---------------------------------------------------------------------------
//  Replies

//  What a successful reply (data, size) from another node says of the
//  leases it holds for our clients: remembered, renewed, forgotten. Only
//  its lease and instance_id are decoded, not the whole reply.
static void
s_track_leases (self_t *self, s_handoff_t *handoff, const void *data, size_t size)
{
    if (handoff->peer)
        return;                     //  relayed: the entry node tracks it
    if (handoff->kind == HANDOFF_ROUTE && handoff->ref && streq (handoff->op, "release_lease")) {
        zhashx_delete (self->relayed, handoff->ref);
        return;
    }
    if (handoff->kind != HANDOFF_ENSURE && !(handoff->kind == HANDOFF_ROUTE && handoff->ref))
        return;
    static const char *lease_path [] = { "result", "lease", NULL };
    shic_val_t *lease = NULL;
    shic_val_decode_at (data, size, lease_path, &lease);
    const char *ref = shic_val_str (shic_val_get (lease, "lease_ref"));
    char node [64];
    if (handoff->kind == HANDOFF_ENSURE && ref && shic_cluster_id_node (ref, node, NULL)
    &&  !streq (node, s_me (self))) {
        s_relayed_t *relayed = (s_relayed_t *) zmalloc (sizeof (s_relayed_t));
        static const char *instance_path [] = { "result", "instance_id", NULL };
        shic_val_t *instance = NULL;
        shic_val_decode_at (data, size, instance_path, &instance);
        const char *instance_id = shic_val_str (instance);
        relayed->instance_id = strdup (instance_id? instance_id: "");
        shic_val_destroy (&instance);
        const shic_val_t *owner = shic_val_get (lease, "owner_ref");
        relayed->owner_ref = owner? shic_val_dup (owner): shic_val_new_nil ();
        relayed->node = strdup (node);
        relayed->holder = strdup (handoff->holder);
        relayed->expires_at_ms = shic_val_int (shic_val_get (lease, "expires_at_ms"));
        zhashx_update (self->relayed, ref, relayed);
    }
    else
    if (handoff->kind == HANDOFF_ROUTE) {
        s_relayed_t *relayed = (s_relayed_t *) zhashx_lookup (self->relayed, handoff->ref);
        if (relayed && ref)
            relayed->expires_at_ms = shic_val_int (shic_val_get (lease, "expires_at_ms"));
    }
    shic_val_destroy (&lease);
}

//  Sends a reply another node made, as it is; then reads it (the leases it
//  tells of, its code), which the client need not wait for. A reply is
//  decoded whole only when it failed (for its code): a success, by the
//  fields wanted.
static void
s_send_reply (self_t *self, s_handoff_t *handoff, const void *data, size_t size)
{
    int64_t started = handoff->waiter->started;
    zframe_t *frame = zframe_new (data, size);
    shic_waiter_send (handoff->waiter->router, handoff->waiter->envelope, &frame);
    shic_bus_yield ();
    static const char *ok_path [] = { "ok", NULL };
    shic_val_t *ok = NULL;
    shic_val_decode_at (data, size, ok_path, &ok);
    const char *code = NULL;
    shic_wire_reply_t decoded = { 0 };
    if (shic_val_is (ok, SHIC_VAL_BOOL) && shic_val_bool (ok))
        s_track_leases (self, handoff, data, size);
    else
    if (shic_wire_reply_decode (data, size, &decoded) == 0 && !decoded.ok)
        code = decoded.error.code;
    else
        code = shic_error_code_lookup ("internal");  //  not a reply: the client has it
    shic_val_destroy (&ok);
    if (code)
        shic_stats_error (self->stats, code);
    shic_stats_answered (self->stats, handoff->op, code);
    if (handoff->kind == HANDOFF_ENSURE && !code)
        shic_stats_latency (self->stats, started);
    shic_wire_reply_reset (&decoded);
}

//  Tells the node that forwarded a relayed ensure that there is no room here
static void
s_no_room (self_t *self, s_handoff_t *handoff)
{
    zframe_t *routing = zmsg_first (handoff->waiter->envelope);
    if (!handoff->peer || !routing)
        return;
    zframe_t *frame = shic_peer_rep_header (shic_val_int (shic_val_get (handoff->peer, "ticket")),
                                            "no_room");
    zmsg_t *msg = zmsg_new ();
    zframe_t *copy = zframe_dup (routing);
    zmsg_append (msg, &copy);
    zmsg_addstr (msg, "REP");
    zmsg_append (msg, &frame);
    zmsg_addmem (msg, NULL, 0);
    shic_bus_sent (self->peer);
    if (zmsg_send (&msg, self->peer) != 0)
        zmsg_destroy (&msg);
}

//  Every item of list with "node" added, appended to into
static void
s_append_items (shic_val_t *into, const shic_val_t *list, const char *node)
{
    for (size_t i = 0; i < shic_val_size (list); i++) {
        shic_val_t *item = shic_val_dup (shic_val_at (list, i));
        if (shic_val_type (item) == SHIC_VAL_MAP)
            shic_val_set_str (item, "node", node);
        shic_val_push (into, &item);
    }
}

//  A list of the whole cluster: this node's result and every other node's
//  reply [{node, reply (bin)} or {node, error}], item by item with their
//  node; the nodes that did not answer under unreachable
static shic_val_t *
s_merge (self_t *self, const char *op, const shic_val_t *local, const shic_val_t *replies)
{
    const char *lists_instances [] = { "instances", NULL };
    const char *lists_leases [] = { "leases", NULL };
    const char *lists_resources [] = { "pools", "instances", "queue", NULL };
    const char **lists = streq (op, "list_instances")? lists_instances
                       : streq (op, "list_leases")? lists_leases: lists_resources;
    shic_val_t *result = shic_val_new_map ();
    for (const char **key = lists; *key; key++) {
        shic_val_t *items = shic_val_new_array ();
        s_append_items (items, shic_val_get (local, *key), s_me (self));
        shic_val_set (result, *key, &items);
    }
    shic_val_t *nodes = shic_val_new_array ();
    shic_val_t *unreachable = shic_val_new_array ();
    shic_val_t *name = shic_val_new_str (s_me (self));
    shic_val_push (nodes, &name);
    for (size_t i = 0; i < shic_val_size (replies); i++) {
        const shic_val_t *entry = shic_val_at (replies, i);
        const char *node = shic_val_str (shic_val_get (entry, "node"));
        const shic_val_t *reply = shic_val_get (entry, "reply");
        if (!node)
            continue;
        shic_wire_reply_t decoded = { 0 };
        if (shic_val_type (reply) == SHIC_VAL_BIN
        &&  shic_wire_reply_decode (shic_val_bin (reply), shic_val_len (reply), &decoded) == 0
        &&  decoded.ok) {
            for (const char **key = lists; *key; key++)
                s_append_items (shic_val_get (result, *key), shic_val_get (decoded.result, *key),
                                node);
            name = shic_val_new_str (node);
            shic_val_push (nodes, &name);
        }
        else {
            shic_val_t *missing = shic_val_new_map ();
            shic_val_set_str (missing, "node", node);
            const char *why = decoded.error.code? decoded.error.code
                            : shic_val_str (shic_val_get (entry, "error"));
            shic_val_set_str (missing, "error", why? why: "no_reply");
            shic_val_push (unreachable, &missing);
        }
        shic_wire_reply_reset (&decoded);
    }
    shic_val_set (result, "nodes", &nodes);
    shic_val_set (result, "unreachable", &unreachable);
    return result;
}

static void
s_fanout_answer (self_t *self, s_handoff_t *handoff, const shic_val_t *replies)
{
    shic_val_t *result = s_merge (self, handoff->op, handoff->local, replies);
    shic_stats_answered (self->stats, handoff->op, NULL);
    zframe_t *frame = shic_wire_reply_ok (handoff->waiter->id, &result);
    shic_waiter_send (handoff->waiter->router, handoff->waiter->envelope, &frame);
}

//  DECIDED: the cluster actor's answer to a HANDOFF
static void
s_on_decided (self_t *self, shic_bus_t *msg)
{
    s_handoff_t *handoff = s_handoff_take (self, msg->ticket);
    if (!handoff)
        return;                     //  answered already, at its deadline
    if (streq (msg->action, "local") && handoff->kind == HANDOFF_ENSURE) {
        shic_error_t err = { 0 };
        shic_waiter_t *waiter = handoff->waiter;
        handoff->waiter = NULL;
        shic_gateway_ensure_place (self, &handoff->plan, waiter, &err);
        shic_error_clear (&err);
    }
    else
    if (streq (msg->action, "reply") && shic_val_type (msg->reply) == SHIC_VAL_BIN)
        s_send_reply (self, handoff, shic_val_bin (msg->reply), shic_val_len (msg->reply));
    else
    if (streq (msg->action, "merge") && handoff->kind == HANDOFF_FANOUT)
        s_fanout_answer (self, handoff, msg->replies);
    else
    if (streq (msg->action, "no_room"))
        s_no_room (self, handoff);
    else
    if (!streq (msg->action, "drop"))
        zsys_error ("gateway: DECIDED '%s' does not fit its request", msg->action);
    s_handoff_destroy (&handoff);
}

//  LOST: a node's records vanished with its etcd lease
static void
s_on_lost (self_t *self, const char *node, const shic_val_t *instances)
{
    for (size_t i = 0; i < shic_val_size (instances); i++) {
        const char *id = shic_val_str (shic_val_at (instances, i));
        if (!id)
            continue;
        shic_val_t *extra = shic_val_new_map ();
        shic_val_set_str (extra, "node", node);
        shic_val_set_str (extra, "reason", "node_lost");
        shic_events_instance (self->events, "instance.lost", id, &extra);
    }
    //  The leases it held for our clients end
    zlistx_t *ended = zlistx_new ();
    zlistx_set_destructor (ended, (zlistx_destructor_fn *) zstr_free);
    for (s_relayed_t *relayed = (s_relayed_t *) zhashx_first (self->relayed); relayed;
         relayed = (s_relayed_t *) zhashx_next (self->relayed))
        if (streq (relayed->node, node)) {
            const char *ref = (const char *) zhashx_cursor (self->relayed);
            shic_events_lease (self->events, "lease.released", relayed->instance_id, ref,
                               relayed->owner_ref, "node_lost");
            zlistx_add_end (ended, strdup (ref));
        }
    for (char *ref = (char *) zlistx_first (ended); ref; ref = (char *) zlistx_next (ended))
        zhashx_delete (self->relayed, ref);
    zlistx_destroy (&ended);
    //  What was out at it: ensures are decided again (its claim went with
    //  it), calls are answered
    zlistx_t *out = zlistx_new ();
    for (s_handoff_t *handoff = (s_handoff_t *) zhashx_first (self->handoffs); handoff;
         handoff = (s_handoff_t *) zhashx_next (self->handoffs))
        if (handoff->node && streq (handoff->node, node))
            zlistx_add_end (out, (void *) (intptr_t) strtoll (
                (const char *) zhashx_cursor (self->handoffs), NULL, 10));
    for (void *item = zlistx_first (out); item; item = zlistx_next (out)) {
        s_handoff_t *handoff = s_handoff_take (self, (int64_t) (intptr_t) item);
        if (handoff && handoff->kind == HANDOFF_ENSURE && s_to_cluster (self, handoff, node) == 0)
            continue;
        if (handoff)
            s_answer_error (self, handoff, SHIC_E_INSTANCE_UNAVAILABLE, node,
                            "the node that held it is gone");
        s_handoff_destroy (&handoff);
    }
    zlistx_destroy (&out);
    zhashx_delete (self->links, node);
}

//  ROUTES: the live nodes and the models ready on them
static void
s_on_routes (self_t *self, shic_bus_t *msg)
{
    shic_val_destroy (&self->nodes);
    shic_val_destroy (&self->routes);
    self->nodes = shic_bus_take (msg, &msg->nodes);
    self->routes = shic_bus_take (msg, &msg->routes);
    zlistx_t *gone = zlistx_new ();
    zlistx_set_destructor (gone, (zlistx_destructor_fn *) zstr_free);
    for (void *link = zhashx_first (self->links); link; link = zhashx_next (self->links))
        if (!shic_val_get (self->nodes, (const char *) zhashx_cursor (self->links)))
            zlistx_add_end (gone, strdup ((const char *) zhashx_cursor (self->links)));
    for (char *node = (char *) zlistx_first (gone); node; node = (char *) zlistx_next (gone))
        zhashx_delete (self->links, node);
    zlistx_destroy (&gone);
}

void
shic_gateway_handle_cluster (self_t *self, shic_bus_t *msg)
{
    if (msg->id == SHIC_BUS_DECIDED)
        s_on_decided (self, msg);
    else
    if (msg->id == SHIC_BUS_LOST)
        s_on_lost (self, msg->node, msg->instances);
    else
    if (msg->id == SHIC_BUS_ROUTES)
        s_on_routes (self, msg);
    else
    if (msg->id == SHIC_BUS_CLUSTER) {
        shic_val_destroy (&self->cluster_summary);
        self->cluster_summary = shic_bus_take (msg, &msg->summary);
    }
    else
        zsys_error ("gateway: unexpected '%s' from the cluster actor", shic_bus_command (msg->id));
}

//  ---------------------------------------------------------------------------
//  The peer door and the links

//  REQ from another node: served as from a network client, its holder;
//  false when nothing was waiting
static bool
s_handle_peer (self_t *self)
{
    zmsg_t *msg = zmsg_recv (self->peer);
    if (!msg)
        return false;
    shic_lease_book_busy (self->book);
    zframe_t *routing = zmsg_pop (msg);
    char *command = zmsg_popstr (msg);
    zframe_t *frame = zmsg_pop (msg);
    shic_val_t *header = shic_peer_header_read (frame);
    int64_t ticket = shic_val_int (shic_val_get (header, "ticket"));
    int64_t hop = shic_val_int (shic_val_get (header, "hop"));
    const char *mode = shic_val_str (shic_val_get (header, "mode"));
    const char *holder = shic_val_str (shic_val_get (header, "holder"));
    const char *from = shic_val_str (shic_val_get (header, "from"));
    bool valid = routing && command && streq (command, "REQ") && zmsg_size (msg) == 1
              && header && ticket > 0 && hop >= 1 && hop <= HOP_MAX && mode
              && (streq (mode, "place") || streq (mode, "join") || streq (mode, "queue")
                  || streq (mode, "call") || streq (mode, "release"))
              && holder && strlen (holder) <= HOLDER_MAX && strchr (holder, '/')
              && from && shic_cluster_node_valid (from);
    if (valid) {
        shic_gateway_call_t call = { 0 };
        call.relayed = true;
        call.via = ++self->handoff_ticket;
        call.peer = header;
        call.client = zsys_sprintf ("r%s", holder);
        if (streq (mode, "release"))
            call.oneway = true;     //  one-way: the entry node answered
        else {
            //  The reply goes back as REP {ticket, outcome: reply}
            call.router = self->peer;
            call.envelope = zmsg_new ();
            zmsg_append (call.envelope, &routing);
            zmsg_addstr (call.envelope, "REP");
            zframe_t *reply_frame = shic_peer_rep_header (ticket, "reply");
            zmsg_append (call.envelope, &reply_frame);
        }
        shic_gateway_serve (self, &call, msg);
        if (!call.oneway)
            shic_bus_yield ();      //  its REP goes before what follows it
    }
    else
        zsys_warning ("gateway: refused a malformed message on the peer door");
    shic_val_destroy (&header);
    zframe_destroy (&routing);
    zframe_destroy (&frame);
    zstr_free (&command);
    zmsg_destroy (&msg);
    return true;
}

//  REP from another node's peer door; false when nothing was waiting
static bool
s_handle_link (self_t *self, s_link_t *link)
{
    zmsg_t *msg = zmsg_recv (link->dealer);
    if (!msg)
        return false;
    char *command = zmsg_popstr (msg);
    zframe_t *frame = zmsg_pop (msg);
    zframe_t *body = zmsg_pop (msg);
    shic_val_t *header = shic_peer_header_read (frame);
    const char *outcome = shic_val_str (shic_val_get (header, "outcome"));
    s_handoff_t *handoff = NULL;
    if (command && streq (command, "REP") && header && outcome && body && zmsg_size (msg) == 0)
        handoff = s_handoff_take (self, shic_val_int (shic_val_get (header, "ticket")));
    if (handoff && (!handoff->node || !streq (handoff->node, link->name))) {
        //  Not the node it went to: it stays out
        s_handoff_add (self, shic_val_int (shic_val_get (header, "ticket")), handoff);
        handoff = NULL;
    }
    if (!handoff) {
        if (!command || !streq (command, "REP") || !header || !outcome || !body)
            zsys_warning ("gateway: refused a malformed reply from node %s", link->name);
    }
    else
    if (streq (outcome, "reply") && zframe_size (body) > 0) {
        s_send_reply (self, handoff, zframe_data (body), zframe_size (body));
        s_handoff_destroy (&handoff);
    }
    else
    if (handoff->kind == HANDOFF_ENSURE && s_to_cluster (self, handoff, link->name) == 0)
        handoff = NULL;             //  no room there after all: the cluster decides
    else {
        s_answer_error (self, handoff, SHIC_E_INSTANCE_UNAVAILABLE, link->name,
                        "the node did not serve it");
        s_handoff_destroy (&handoff);
    }
    shic_val_destroy (&header);
    zframe_destroy (&frame);
    zframe_destroy (&body);
    zstr_free (&command);
    zmsg_destroy (&msg);
    return true;
}

zmq_pollitem_t *
shic_gateway_cluster_items (self_t *self, zmq_pollitem_t *fixed, int *count)
{
    size_t needed = (size_t) *count + 1 + zhashx_size (self->links);
    if (needed > self->items_max) {
        self->items_max = needed * 2;
        self->items = (zmq_pollitem_t *) realloc (self->items,
                                                  self->items_max * sizeof (zmq_pollitem_t));
        assert (self->items);
    }
    memcpy (self->items, fixed, (size_t) *count * sizeof (zmq_pollitem_t));
    size_t index = (size_t) *count;
    self->items_peer = index;
    self->items [index++] = (zmq_pollitem_t) { zsock_resolve (self->peer), 0, ZMQ_POLLIN, 0 };
    for (s_link_t *link = (s_link_t *) zhashx_first (self->links); link;
         link = (s_link_t *) zhashx_next (self->links))
        self->items [index++] = (zmq_pollitem_t) { zsock_resolve (link->dealer), 0, ZMQ_POLLIN, 0 };
    *count = (int) index;
    return self->items;
}

//  The sockets the poll found readable (count: the poll set's size), each
//  drained by reading until a read finds none (asking ZMQ_EVENTS first
//  would cost a system call per message); the links in the poll set's
//  order, which is the table's as long as no link came or went meanwhile
void
shic_gateway_cluster_handle (self_t *self, int count)
{
    if (self->items [self->items_peer].revents & ZMQ_POLLIN)
        for (int i = 0; i < 64 && s_handle_peer (self); i++)
            ;
    //  Serving the peer door may have made a link: the set is as polled
    int index = (int) self->items_peer + 1;
    for (s_link_t *link = (s_link_t *) zhashx_first (self->links); link && index < count;
         link = (s_link_t *) zhashx_next (self->links), index++)
        if ((self->items [index].revents & ZMQ_POLLIN)
        &&  self->items [index].socket == zsock_resolve (link->dealer))
            for (int i = 0; i < 64 && s_handle_link (self, link); i++)
                ;
}

//  ---------------------------------------------------------------------------
//  Timers, shutdown

//  Answers a handoff that was not answered in time
static void
s_handoff_late (self_t *self, s_handoff_t *handoff)
{
    if (handoff->kind == HANDOFF_FANOUT)
        s_fanout_answer (self, handoff, NULL);
    else
    if (handoff->kind == HANDOFF_ENSURE)
        s_answer_error (self, handoff, SHIC_E_AWAIT_TIMEOUT, handoff->node? handoff->node: s_me (self),
                        "the cluster did not answer within wait_ms");
    else
        s_answer_error (self, handoff, SHIC_E_INSTANCE_UNAVAILABLE, handoff->node,
                        "the node that holds it did not answer in time");
}

//  Adds a copy of key to *late_p, made on the first
static void
s_late_add (zlistx_t **late_p, const char *key)
{
    if (!*late_p) {
        *late_p = zlistx_new ();
        zlistx_set_destructor (*late_p, (zlistx_destructor_fn *) zstr_free);
    }
    zlistx_add_end (*late_p, strdup (key));
}

void
shic_gateway_handoffs_expire (self_t *self, int64_t now, int64_t *next)
{
    zlistx_t *late = NULL;          //  keys, made when there are any
    for (s_handoff_t *handoff = (s_handoff_t *) zhashx_first (self->handoffs); handoff;
         handoff = (s_handoff_t *) zhashx_next (self->handoffs)) {
        if (now >= handoff->deadline) {
            s_handoff_late (self, handoff);
            s_late_add (&late, (const char *) zhashx_cursor (self->handoffs));
        }
        else
        if (*next < 0 || handoff->deadline < *next)
            *next = handoff->deadline;
    }
    for (char *key = late? (char *) zlistx_first (late): NULL; key; key = (char *) zlistx_next (late))
        zhashx_delete (self->handoffs, key);
    zlistx_destroy (&late);
    //  Leases past their TTL ended on their node: forgotten, looked for
    //  once a second (not every turn: there may be many)
    if (now - self->relayed_swept_at >= 1000) {
        self->relayed_swept_at = now;
        int64_t wall = shic_now_ms ();
        for (s_relayed_t *relayed = (s_relayed_t *) zhashx_first (self->relayed); relayed;
             relayed = (s_relayed_t *) zhashx_next (self->relayed))
            if (relayed->expires_at_ms && relayed->expires_at_ms < wall - 1000)
                s_late_add (&late, (const char *) zhashx_cursor (self->relayed));
        for (char *key = late? (char *) zlistx_first (late): NULL; key;
             key = (char *) zlistx_next (late))
            zhashx_delete (self->relayed, key);
        zlistx_destroy (&late);
    }
    //  Releases held long enough go alone
    for (s_link_t *link = (s_link_t *) zhashx_first (self->links); link;
         link = (s_link_t *) zhashx_next (self->links))
        if (link->flush_at && now >= link->flush_at)
            s_link_flush (link);
        else
        if (link->flush_at && (*next < 0 || link->flush_at < *next))
            *next = link->flush_at;
}

void
shic_gateway_handoffs_drain (self_t *self, const shic_error_t *err)
{
    if (!self->handoffs)
        return;
    for (s_handoff_t *handoff = (s_handoff_t *) zhashx_first (self->handoffs); handoff;
         handoff = (s_handoff_t *) zhashx_next (self->handoffs)) {
        shic_stats_error (self->stats, err->code);
        shic_stats_answered (self->stats, handoff->op, err->code);
        shic_waiter_reply_error (handoff->waiter, err);
    }
    zhashx_purge (self->handoffs);
}

//  A base_url on a wildcard address (0.0.0.0, [::]) names the node's
//  advertised host instead, so clients on other machines can reach it
void
shic_gateway_cluster_endpoint (self_t *self, shic_val_t *endpoint)
{
    const char *url = shic_val_str (shic_val_get (endpoint, "base_url"));
    const char *host = url? strstr (url, "://"): NULL;
    if (!host)
        return;
    host += 3;
    size_t length = *host == '['? strcspn (host, "]") + 1: strcspn (host, ":/");
    if ((length == 7 && strncmp (host, "0.0.0.0", 7) == 0)
    ||  (length == 4 && strncmp (host, "[::]", 4) == 0)) {
        shic_val_t *named = shic_val_new_printf ("%.*s%s%s", (int) (host - url), url,
                                                 self->settings->cluster.advertise,
                                                 host + length);
        shic_val_set (endpoint, "base_url", &named);
    }
}

shic_val_t *
shic_gateway_cluster_ping (self_t *self)
{
    if (self->cluster_summary)
        return shic_val_dup (self->cluster_summary);
    shic_val_t *summary = shic_val_new_map ();
    shic_val_set_str (summary, "node", s_me (self));
    shic_val_set_str (summary, "state", "starting");
    return summary;
}
