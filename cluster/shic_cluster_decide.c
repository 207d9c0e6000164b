/*  =========================================================================
    shic_cluster_decide - where the cluster actor sends what it is handed

    Part of the cluster actor (see shic_cluster.c for the loop and what it
    accepts, shic_cluster_int.h for what its files share). A HANDOFF from
    the gateway becomes a forward: an ensure is decided (joined where it
    runs or is claimed, claimed here, or sent to the best ranked node, the
    next one after a no_room), a cluster list fans out to every node and is
    merged. Here also the links to the other nodes' peer doors, the peer
    protocol, their replies (REP), a node that went and forwards or
    fan-outs past their deadlines.
    =========================================================================
*/

#include "shic_cluster_int.h"
#include "shic_peer.h"

#define HOP_MAX             2       //  forwards one request may take
#define FANOUT_TIMEOUT_MS   3000    //  a cluster list waits this long for nodes
#define ENSURE_GRACE_MS     2000    //  beyond wait_ms for a forwarded ensure


//  ---------------------------------------------------------------------------
//  Small things

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


//  ---------------------------------------------------------------------------
//  Links to the other nodes

static shic_cluster_link_t *
s_link (self_t *self, const char *name)
{
    shic_cluster_node_t *node = shic_cluster_view_node (self->view, name);
    shic_cluster_link_t *link = (shic_cluster_link_t *) zhashx_lookup (self->links, name);
    if (link && node && (!streq (link->endpoint, node->peer)
                     ||  (node->curve_key? !link->curve_key || !streq (node->curve_key, link->curve_key)
                                         : link->curve_key != NULL))) {
        zhashx_delete (self->links, name);
        link = NULL;
    }
    if (link || !node)
        return link;
    link = (shic_cluster_link_t *) zmalloc (sizeof (shic_cluster_link_t));
    link->name = strdup (name);
    link->endpoint = strdup (node->peer);
    link->curve_key = node->curve_key? strdup (node->curve_key): NULL;
    bool connected;
    link->dealer = shic_peer_link_new (link->endpoint, self->cert, link->curve_key,
                                       (int64_t) self->settings->max_frame * 4 + 65536, &connected);
    if (!connected)
        zsys_warning ("cluster: cannot connect to %s's peer %s", name, link->endpoint);
    zhashx_insert (self->links, name, link);
    return link;
}


//  ---------------------------------------------------------------------------
//  Forwarding (the peer protocol's header: messages/shic_peer)

static shic_cluster_forward_t *
s_forward_take (self_t *self, int64_t ticket)
{
    char key [24];
    s_ticket_key (ticket, key);
    return (shic_cluster_forward_t *)
        s_detach (self->outbound, key, (zhashx_destructor_fn *) shic_cluster_forward_destroy);
}

//  A wire error reply to the forward's request
static zframe_t *
s_error_frame (shic_cluster_forward_t *forward, const char *code, const char *node,
               const char *message)
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
s_answer (self_t *self, shic_cluster_forward_t **forward_p, zframe_t *reply)
{
    shic_cluster_forward_t *forward = *forward_p;
    if (streq (forward->kind, "part") && !forward->fanout) {
        shic_cluster_forward_destroy (forward_p);  //  its fan-out was answered already
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
        shic_cluster_decided (self, forward->gateway_ticket, "reply", zframe_data (reply),
                              zframe_size (reply), NULL);
    shic_cluster_forward_destroy (forward_p);
}

static void
s_answer_error (self_t *self, shic_cluster_forward_t **forward_p, const char *code,
                const char *node, const char *message)
{
    zframe_t *frame = s_error_frame (*forward_p, code, node, message);
    if (frame)
        s_answer (self, forward_p, frame);
    else
        shic_cluster_forward_destroy (forward_p);
    zframe_destroy (&frame);
}

//  Serve it here: the gateway starts or joins it
static void
s_local (self_t *self, shic_cluster_forward_t **forward_p)
{
    shic_cluster_decided (self, (*forward_p)->gateway_ticket, "local", NULL, 0, NULL);
    shic_cluster_forward_destroy (forward_p);
}

//  A forwarded request this node cannot take: the entry node tries the next
static void
s_no_room (self_t *self, shic_cluster_forward_t **forward_p)
{
    shic_cluster_decided (self, (*forward_p)->gateway_ticket, "no_room", NULL, 0, NULL);
    shic_cluster_forward_destroy (forward_p);
}

//  Sends the forward to node in mode; it waits in outbound for the REP
static void
s_send_forward (self_t *self, shic_cluster_forward_t **forward_p, const char *node,
                const char *mode)
{
    shic_cluster_forward_t *forward = *forward_p;
    *forward_p = NULL;
    shic_cluster_link_t *link = s_link (self, node);
    free (forward->target);
    forward->target = strdup (node);
    free (forward->mode);
    forward->mode = strdup (mode);
    forward->ticket = ++self->next_ticket;
    zframe_t *frame = shic_peer_req_header (forward->ticket, forward->hop + 1, mode,
                                            forward->holder, self->config->node);
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
s_tried (shic_cluster_forward_t *forward, const char *node)
{
    for (const char *name = (const char *) zlistx_first (forward->tried); name;
         name = (const char *) zlistx_next (forward->tried))
        if (streq (name, node))
            return true;
    return false;
}

static void
s_try_later (shic_cluster_forward_t *forward, const char *node)
{
    if (!s_tried (forward, node))
        zlistx_add_end (forward->tried, strdup (node));
}

//  The claim's recorded failure, answered as the start's own error
static void
s_answer_claim_failure (self_t *self, shic_cluster_forward_t **forward_p,
                        shic_cluster_claim_t *claim)
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

static void s_decide (self_t *self, shic_cluster_forward_t **forward_p);

//  Claims the start of the forward's model for this node: the gateway
//  starts it (local); another node's claim is joined there
static void
s_claim_here (self_t *self, shic_cluster_forward_t **forward_p)
{
    shic_cluster_forward_t *forward = *forward_p;
    shic_val_t *record = shic_val_new_map ();
    shic_val_set_str (record, "node", self->config->node);
    shic_val_set_str (record, "boot_id", self->boot_id);
    shic_val_set_str (record, "state", "loading");
    shic_val_set_str (record, "key", forward->key);
    char *json = shic_val_to_json (record);
    shic_val_destroy (&record);
    char *key = shic_cluster_key (self, "claims", forward->mkey, NULL);
    bool created = false;
    shic_etcd_kv_t *holder = NULL;
    shic_error_t err = { 0 };
    int rc = shic_etcd_create (self->etcd, key, json, strlen (json), self->lease, &created,
                               &holder, &err);
    free (json);
    free (key);
    if (rc != 0) {
        shic_cluster_degraded (self, &err, "claim");
        shic_error_clear (&err);
        if (forward->via)
            s_no_room (self, forward_p);    //  starts nothing for others when cut off
        else
            s_local (self, forward_p);
        return;
    }
    if (created) {
        shic_cluster_held_t *claim = (shic_cluster_held_t *) zmalloc (sizeof (shic_cluster_held_t));
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
s_decide (self_t *self, shic_cluster_forward_t **forward_p)
{
    shic_cluster_forward_t *forward = *forward_p;
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
s_decide_forwarded (self_t *self, shic_cluster_forward_t **forward_p)
{
    shic_cluster_forward_t *forward = *forward_p;
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
void
shic_cluster_on_handoff (self_t *self, shic_bus_t *msg)
{
    if (shic_val_type (msg->request) != SHIC_VAL_BIN) {
        shic_cluster_decided (self, msg->ticket, "local", NULL, 0, NULL);
        return;
    }
    shic_wire_request_t request = { 0 };
    shic_error_t err = { 0 };
    shic_wire_request_decode (shic_val_bin (msg->request), shic_val_len (msg->request),
                              self->settings->max_frame, &request, &err);
    shic_error_clear (&err);
    shic_cluster_forward_t *forward =
        (shic_cluster_forward_t *) zmalloc (sizeof (shic_cluster_forward_t));
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
        shic_cluster_fanout_t *fanout =
            (shic_cluster_fanout_t *) zmalloc (sizeof (shic_cluster_fanout_t));
        fanout->gateway_ticket = msg->ticket;
        fanout->replies = shic_val_new_array ();
        fanout->deadline = now + FANOUT_TIMEOUT_MS;
        zlistx_add_end (self->fanouts, fanout);
        zlistx_t *nodes = shic_cluster_view_node_list (self->view);
        for (shic_cluster_node_t *node = (shic_cluster_node_t *) zlistx_first (nodes); node;
             node = (shic_cluster_node_t *) zlistx_next (nodes)) {
            if (streq (node->name, self->config->node))
                continue;
            shic_cluster_forward_t *part =
                (shic_cluster_forward_t *) zmalloc (sizeof (shic_cluster_forward_t));
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
        shic_cluster_forward_destroy (&forward);
    }
    else {
        shic_cluster_decided (self, msg->ticket, "local", NULL, 0, NULL);
        shic_cluster_forward_destroy (&forward);
    }
}


//  ---------------------------------------------------------------------------
//  A node went (its records vanished with its etcd lease)

void
shic_cluster_node_lost (self_t *self, const char *node, const shic_val_t *ids)
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
    for (shic_cluster_forward_t *forward = (shic_cluster_forward_t *) zhashx_first (self->outbound);
         forward; forward = (shic_cluster_forward_t *) zhashx_next (self->outbound))
        if (forward->target && streq (forward->target, node))
            zlistx_add_end (retry, (void *) (intptr_t) forward->ticket);
    for (void *item = zlistx_first (retry); item; item = zlistx_next (retry)) {
        shic_cluster_forward_t *forward = s_forward_take (self, (int64_t) (intptr_t) item);
        if (!forward)
            continue;
        if (forward->fanout) {
            shic_val_t *entry = shic_val_new_map ();
            shic_val_set_str (entry, "node", node);
            shic_val_set_str (entry, "error", "node_lost");
            shic_val_push (forward->fanout->replies, &entry);
            forward->fanout->pending--;
            shic_cluster_forward_destroy (&forward);
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
    shic_cluster_summary (self);
}


//  ---------------------------------------------------------------------------
//  Replies from the other nodes

//  REP from another node
void
shic_cluster_handle_link (self_t *self, shic_cluster_link_t *link)
{
    zmsg_t *msg = zmsg_recv (link->dealer);
    if (!msg)
        return;
    char *command = zmsg_popstr (msg);
    zframe_t *frame = zmsg_pop (msg);
    zframe_t *body = zmsg_pop (msg);
    shic_val_t *header = shic_peer_header_read (frame);
    int64_t ticket = shic_val_int (shic_val_get (header, "ticket"));
    const char *outcome = shic_val_str (shic_val_get (header, "outcome"));
    shic_cluster_forward_t *forward = NULL;
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


//  ---------------------------------------------------------------------------
//  Deadlines

void
shic_cluster_expire (self_t *self, int64_t now)
{
    //  Forwards past their deadline
    zlistx_t *late = zlistx_new ();
    for (shic_cluster_forward_t *forward = (shic_cluster_forward_t *) zhashx_first (self->outbound);
         forward; forward = (shic_cluster_forward_t *) zhashx_next (self->outbound))
        if (now >= forward->deadline)
            zlistx_add_end (late, (void *) (intptr_t) forward->ticket);
    for (void *item = zlistx_first (late); item; item = zlistx_next (late)) {
        shic_cluster_forward_t *forward = s_forward_take (self, (int64_t) (intptr_t) item);
        if (!forward)
            continue;
        if (forward->fanout) {
            shic_cluster_forward_destroy (&forward);   //  the fan-out answers at its own deadline
            continue;
        }
        s_answer_error (self, &forward, streq (forward->kind, "ensure")? SHIC_E_AWAIT_TIMEOUT
                                                                     : SHIC_E_INSTANCE_UNAVAILABLE,
                        forward->target, "the node it was forwarded to did not answer in time");
    }
    zlistx_destroy (&late);
    //  Fan-outs: complete, or at their deadline
    shic_cluster_fanout_t *fanout = (shic_cluster_fanout_t *) zlistx_first (self->fanouts);
    while (fanout) {
        if (fanout->pending == 0 || now >= fanout->deadline) {
            shic_cluster_decided (self, fanout->gateway_ticket, "merge", NULL, 0, fanout->replies);
            //  Parts still out find no fan-out: they are dropped
            for (shic_cluster_forward_t *forward =
                     (shic_cluster_forward_t *) zhashx_first (self->outbound);
                 forward; forward = (shic_cluster_forward_t *) zhashx_next (self->outbound))
                if (forward->fanout == fanout)
                    forward->fanout = NULL, forward->deadline = now;
            zlistx_delete (self->fanouts, zlistx_cursor (self->fanouts));
            fanout = (shic_cluster_fanout_t *) zlistx_first (self->fanouts);
        }
        else
            fanout = (shic_cluster_fanout_t *) zlistx_next (self->fanouts);
    }
}
