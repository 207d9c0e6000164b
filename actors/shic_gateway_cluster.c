/*  =========================================================================
    shic_gateway_cluster - what the gateway does for the cluster (issue 13)

    Part of the gateway actor (shic_gateway_int.h), used only when the
    configuration has a cluster section. The warm path never comes here:
    an ensure is handed to the cluster actor ("C" on the bus) only when
    this node has no live instance, no held failure and no pending start
    for it; a request naming another node's lease_ref or instance_id, and
    the lists asked with cluster: true, are handed over too. The cluster
    actor answers each HANDOFF with one DECIDED: serve it here (its claim
    is ours), send this reply (another node answered), merge these
    replies (a list of the whole cluster), or drop it (answered elsewhere).

    The relay door (a third ROUTER, inproc) takes the requests other nodes
    forwarded to this one, [holder][ticket][body], and serves them as from
    network clients whose key is the holder (entry node / its client): the
    restrictions of network clients hold on the node that starts a model.
    =========================================================================
*/

#include "shic_gateway_int.h"
#include "shic_pools.h"

//  A grace beyond an ensure's wait_ms for the node that answers it
#define HANDOFF_GRACE_MS 3000
//  How long a routed call or a cluster list may take
#define ROUTE_TIMEOUT_MS 10000

typedef enum {
    HANDOFF_ENSURE,                 //  an ensure with no local instance
    HANDOFF_ROUTE,                  //  a call naming another node's ref
    HANDOFF_FANOUT                  //  a list of the whole cluster
} s_kind_t;

//  A request handed to the cluster actor
typedef struct {
    s_kind_t kind;                  //  what it is
    const char *op;                 //  the op (a static name of the op table)
    shic_waiter_t *waiter;          //  how to answer it
    shic_val_t *plan;               //  ENSURE: its resolved plan
    shic_val_t *local;              //  FANOUT: this node's own result
    int64_t deadline;               //  monotonic: answered without the cluster then
} s_handoff_t;

static void
s_handoff_destroy (s_handoff_t **self_p)
{
    if (*self_p) {
        s_handoff_t *self = *self_p;
        shic_waiter_destroy (&self->waiter);
        shic_val_destroy (&self->plan);
        shic_val_destroy (&self->local);
        free (self);
        *self_p = NULL;
    }
}

void
shic_gateway_cluster_start (self_t *self)
{
    self->handoffs = zhashx_new ();
    zhashx_set_destructor (self->handoffs, (zhashx_destructor_fn *) s_handoff_destroy);
    char prefix [80];
    snprintf (prefix, sizeof (prefix), "%s.", self->settings->cluster.node);
    shic_registry_set_id_prefix (self->registry, prefix);
}

void
shic_gateway_cluster_stop (self_t *self)
{
    zhashx_destroy (&self->handoffs);
    zsock_destroy (&self->relay);
    shic_val_destroy (&self->cluster_summary);
}

//  The holder of a request on the nodes it is forwarded to: this node and
//  its client
static char *
s_holder (self_t *self, shic_gateway_call_t *call)
{
    return zsys_sprintf ("%s/%s", self->settings->cluster.node, call->client);
}

//  Sends a HANDOFF; 0, or -1 when the cluster actor is not on the bus
static int
s_handoff_send (self_t *self, shic_gateway_call_t *call, int64_t ticket, const char *kind,
                const char *op, const char *key, const char *node, shic_val_t *need)
{
    char *holder = s_holder (self, call);
    shic_val_t *request = shic_val_new_bin (zframe_data (call->body), zframe_size (call->body));
    int rc = shic_bus_send_to (self->bus, "C", &(shic_bus_t) {
        .id = SHIC_BUS_HANDOFF, .ticket = ticket, .kind = kind, .op = op, .client = holder,
        .request = request, .key = key, .node = node, .via = call->via, .need = need });
    shic_val_destroy (&request);
    free (holder);
    return rc;
}

static void
s_handoff_add (self_t *self, int64_t ticket, s_handoff_t *handoff)
{
    char key [24];
    snprintf (key, sizeof (key), "%lld", (long long) ticket);
    zhashx_insert (self->handoffs, key, handoff);
}

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
    //  What it needs, and whether it fits here now, after evicting idle
    //  instances, or not at all
    shic_need_t need = { 0 };
    shic_error_t err = { 0 };
    if (shic_admission_need (self->admission, *plan_p, &need, &err) != 0) {
        shic_error_clear (&err);
        shic_need_reset (&need);
        return false;               //  the local start says what is wrong
    }
    shic_val_t *fit = shic_val_new_map ();
    if (need.source) {
        uint64_t free_bytes = shic_pools_free (self->settings->pools, need.pool);
        uint64_t idle = s_idle_bytes (self, need.pool);
        shic_val_set_int (fit, "bytes", (int64_t) need.bytes);
        shic_val_set_str (fit, "pool", need.pool);
        uint64_t room = shic_pools_capacity (self->settings->pools, need.pool);
        uint64_t reserve = shic_pools_reserve (self->settings->pools, need.pool);
        room = room > reserve? room - reserve: 0;
        shic_val_set_str (fit, "fit", free_bytes >= need.bytes? "now"
                                    : free_bytes + idle >= need.bytes? "evict"
                                    : room >= need.bytes? "no": "never");
    }
    else {
        shic_val_set_int (fit, "bytes", 0);
        shic_val_set_str (fit, "fit", "now");
    }
    shic_need_reset (&need);
    //  The key as every node knows it: without this node's prefix
    const char *bare = key;
    size_t prefix = strlen (self->settings->cluster.node);
    if (strncmp (key, self->settings->cluster.node, prefix) == 0 && key [prefix] == '.')
        bare = key + prefix + 1;
    int64_t ticket = ++self->handoff_ticket;
    int rc = s_handoff_send (self, call, ticket, "ensure", "ensure_endpoint", bare, NULL, fit);
    shic_val_destroy (&fit);
    if (rc != 0)
        return false;               //  no cluster actor (yet): serve it here
    s_handoff_t *handoff = (s_handoff_t *) zmalloc (sizeof (s_handoff_t));
    handoff->kind = HANDOFF_ENSURE;
    handoff->op = "ensure_endpoint";
    handoff->waiter = *waiter_p;
    *waiter_p = NULL;
    handoff->plan = *plan_p;
    *plan_p = NULL;
    handoff->deadline = handoff->waiter->deadline + HANDOFF_GRACE_MS;
    s_handoff_add (self, ticket, handoff);
    return true;
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

bool
shic_gateway_cluster_take (self_t *self, shic_gateway_call_t *call, shic_gateway_op_fn *handler,
                           const char *op)
{
    const char *ref = s_ref_of (call, op);
    char node [64];
    bool route = ref && shic_cluster_id_node (ref, node, NULL)
              && !streq (node, self->settings->cluster.node);
    bool fanout = call->args.cluster
               && (streq (op, "list_instances") || streq (op, "list_leases")
               ||  streq (op, "resources"));
    if (!route && !fanout)
        return false;
    shic_val_t *local = NULL;
    if (fanout) {
        shic_error_t err = { 0 };
        local = handler (self, call, &err);
        if (!local) {
            shic_error_clear (&err);
            return false;           //  answered as one node's list
        }
    }
    int64_t ticket = ++self->handoff_ticket;
    if (s_handoff_send (self, call, ticket, route? "route": "fanout", op, NULL,
                        route? node: NULL, NULL) != 0) {
        shic_val_destroy (&local);
        return false;               //  no cluster actor: answered here alone
    }
    s_handoff_t *handoff = (s_handoff_t *) zmalloc (sizeof (s_handoff_t));
    handoff->kind = route? HANDOFF_ROUTE: HANDOFF_FANOUT;
    handoff->op = op;
    shic_val_t *none = NULL;
    handoff->waiter = shic_waiter_new (call->router, &call->envelope, call->req.id, call->client,
                                       call->trusted, NULL, 0, &none);
    handoff->local = local;
    handoff->deadline = zclock_mono () + ROUTE_TIMEOUT_MS;
    s_handoff_add (self, ticket, handoff);
    return true;
}

//  Sends a reply body another node made, as it is; counts it
static void
s_send_reply (self_t *self, s_handoff_t *handoff, const shic_val_t *reply)
{
    shic_wire_reply_t decoded = { 0 };
    const char *code = NULL;
    if (shic_wire_reply_decode (shic_val_bin (reply), shic_val_len (reply), &decoded) == 0
    &&  !decoded.ok)
        code = decoded.error.code;
    if (code)
        shic_stats_error (self->stats, code);
    shic_stats_answered (self->stats, handoff->op, code);
    if (handoff->kind == HANDOFF_ENSURE && !code)
        shic_stats_latency (self->stats, handoff->waiter->started);
    shic_wire_reply_reset (&decoded);
    zframe_t *frame = zframe_new (shic_val_bin (reply), shic_val_len (reply));
    shic_waiter_send (handoff->waiter->router, handoff->waiter->envelope, &frame);
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
    const char *me = self->settings->cluster.node;
    shic_val_t *result = shic_val_new_map ();
    for (const char **key = lists; *key; key++) {
        shic_val_t *items = shic_val_new_array ();
        s_append_items (items, shic_val_get (local, *key), me);
        shic_val_set (result, *key, &items);
    }
    shic_val_t *nodes = shic_val_new_array ();
    shic_val_t *unreachable = shic_val_new_array ();
    shic_val_t *name = shic_val_new_str (me);
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

//  Answers a fan-out with what it has
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
    char key [24];
    snprintf (key, sizeof (key), "%lld", (long long) msg->ticket);
    s_handoff_t *handoff = (s_handoff_t *) zhashx_lookup (self->handoffs, key);
    if (!handoff)
        return;                     //  answered already, at its deadline
    //  Out of the table, not destroyed (that is done below)
    zhashx_set_destructor (self->handoffs, NULL);
    zhashx_delete (self->handoffs, key);
    zhashx_set_destructor (self->handoffs, (zhashx_destructor_fn *) s_handoff_destroy);
    if (streq (msg->action, "local") && handoff->kind == HANDOFF_ENSURE) {
        shic_error_t err = { 0 };
        shic_waiter_t *waiter = handoff->waiter;
        handoff->waiter = NULL;
        shic_gateway_ensure_place (self, &handoff->plan, waiter, &err);
        shic_error_clear (&err);
    }
    else
    if (streq (msg->action, "reply") && shic_val_type (msg->reply) == SHIC_VAL_BIN)
        s_send_reply (self, handoff, msg->reply);
    else
    if (streq (msg->action, "merge") && handoff->kind == HANDOFF_FANOUT)
        s_fanout_answer (self, handoff, msg->replies);
    else
    if (!streq (msg->action, "drop"))
        zsys_error ("gateway: DECIDED '%s' does not fit its request", msg->action);
    s_handoff_destroy (&handoff);
}

//  LOST: a node's records vanished with its etcd lease
static void
s_on_lost (self_t *self, shic_bus_t *msg)
{
    for (size_t i = 0; i < shic_val_size (msg->instances); i++) {
        const char *id = shic_val_str (shic_val_at (msg->instances, i));
        if (!id)
            continue;
        shic_val_t *extra = shic_val_new_map ();
        shic_val_set_str (extra, "node", msg->node);
        shic_val_set_str (extra, "reason", "node_lost");
        shic_events_instance (self->events, "instance.lost", id, &extra);
    }
    for (size_t i = 0; i < shic_val_size (msg->leases); i++) {
        const shic_val_t *lease = shic_val_at (msg->leases, i);
        const char *ref = shic_val_str (shic_val_get (lease, "lease_ref"));
        const char *instance_id = shic_val_str (shic_val_get (lease, "instance_id"));
        if (ref && instance_id)
            shic_events_lease (self->events, "lease.released", instance_id, ref,
                               shic_val_get (lease, "owner_ref"), "node_lost");
    }
}

void
shic_gateway_handle_cluster (self_t *self, shic_bus_t *msg)
{
    if (msg->id == SHIC_BUS_DECIDED)
        s_on_decided (self, msg);
    else
    if (msg->id == SHIC_BUS_LOST)
        s_on_lost (self, msg);
    else
    if (msg->id == SHIC_BUS_CLUSTER) {
        shic_val_destroy (&self->cluster_summary);
        self->cluster_summary = shic_bus_take (msg, &msg->summary);
    }
    else
        zsys_error ("gateway: unexpected '%s' from the cluster actor", shic_bus_command (msg->id));
}

//  Answers a handoff the cluster did not answer in time
static void
s_handoff_late (self_t *self, s_handoff_t *handoff)
{
    if (handoff->kind == HANDOFF_FANOUT) {
        s_fanout_answer (self, handoff, NULL);
        return;
    }
    shic_error_t err = { 0 };
    shic_val_t *details = shic_val_new_map ();
    shic_val_set_str (details, "node", self->settings->cluster.node);
    shic_val_set_bool (details, "cluster", true);
    if (handoff->kind == HANDOFF_ENSURE)
        shic_error_set (&err, SHIC_E_AWAIT_TIMEOUT, &details,
                        "the cluster did not answer within wait_ms");
    else
        shic_error_set (&err, SHIC_E_INSTANCE_UNAVAILABLE, &details,
                        "the node that holds it did not answer in time");
    shic_stats_error (self->stats, err.code);
    shic_stats_answered (self->stats, handoff->op, err.code);
    shic_waiter_reply_error (handoff->waiter, &err);
    shic_error_clear (&err);
}

void
shic_gateway_handoffs_expire (self_t *self, int64_t now, int64_t *next)
{
    zlistx_t *late = zlistx_new ();
    zlistx_set_destructor (late, (zlistx_destructor_fn *) zstr_free);
    for (s_handoff_t *handoff = (s_handoff_t *) zhashx_first (self->handoffs); handoff;
         handoff = (s_handoff_t *) zhashx_next (self->handoffs)) {
        if (now >= handoff->deadline) {
            s_handoff_late (self, handoff);
            zlistx_add_end (late, strdup ((const char *) zhashx_cursor (self->handoffs)));
        }
        else
        if (*next < 0 || handoff->deadline < *next)
            *next = handoff->deadline;
    }
    for (char *key = (char *) zlistx_first (late); key; key = (char *) zlistx_next (late))
        zhashx_delete (self->handoffs, key);
    zlistx_destroy (&late);
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
    shic_val_set_str (summary, "node", self->settings->cluster.node);
    shic_val_set_str (summary, "state", "starting");
    return summary;
}
