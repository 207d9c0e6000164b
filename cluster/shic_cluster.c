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

    The actor is three files: this one (the loop, the sockets and their
    handlers, the timers, what it tells the gateway), shic_cluster_records.c
    (the etcd session and this node's records and claims) and
    shic_cluster_decide.c (the HANDOFFs: forwards, decisions, fan-outs, the
    links to the other nodes, a node that went); shic_cluster_int.h has the
    state and the functions they lend one another.
    =========================================================================
*/

#include "shic_cluster_int.h"

#define LEASE_REFRESH_MS    1000    //  LEASED are gathered this long before a
                                    //  refresh (a record's leased flag may lag it)
#define REFRESH_PERIOD_MS   5000    //  and the records are checked this often anyway


//  ---------------------------------------------------------------------------
//  Small things

static void
s_link_destroy (shic_cluster_link_t **self_p)
{
    if (*self_p) {
        shic_cluster_link_t *self = *self_p;
        zsock_destroy (&self->dealer);
        free (self->name);
        free (self->endpoint);
        free (self->curve_key);
        free (self);
        *self_p = NULL;
    }
}

void
shic_cluster_forward_destroy (shic_cluster_forward_t **self_p)
{
    if (*self_p) {
        shic_cluster_forward_t *self = *self_p;
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
s_fanout_destroy (shic_cluster_fanout_t **self_p)
{
    if (*self_p) {
        shic_val_destroy (&(*self_p)->replies);
        free (*self_p);
        *self_p = NULL;
    }
}

static void
s_claim_destroy (shic_cluster_held_t **self_p)
{
    if (*self_p) {
        free ((*self_p)->key);
        free (*self_p);
        *self_p = NULL;
    }
}

static void
s_written_destroy (shic_cluster_written_t **self_p)
{
    if (*self_p) {
        free ((*self_p)->json);
        free (*self_p);
        *self_p = NULL;
    }
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

char *
shic_cluster_key (self_t *self, const char *kind, const char *a, const char *b)
{
    return b? zsys_sprintf ("%s/%s/%s/%s", self->config->prefix, kind, a, b)
            : zsys_sprintf ("%s/%s/%s", self->config->prefix, kind, a);
}


//  ---------------------------------------------------------------------------
//  Talking to the gateway

void
shic_cluster_decided (self_t *self, int64_t ticket, const char *action, const void *reply,
                      size_t size, shic_val_t *replies)
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
void
shic_cluster_summary (self_t *self)
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

void
shic_cluster_refresh_soon (self_t *self, int64_t delay)
{
    int64_t at = zclock_mono () + delay;
    if (!self->refresh_at || at < self->refresh_at)
        self->refresh_at = at;
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
            shic_cluster_on_handoff (self, &msg);
        else
        if (msg.id == SHIC_BUS_LEASED)
            //  Gathered: a record moves between leased and idle at most
            //  once a LEASE_REFRESH_MS
            shic_cluster_refresh_soon (self, LEASE_REFRESH_MS);
        else
            zsys_error ("cluster: unexpected '%s' on the bus", shic_bus_command (msg.id));
    }
    shic_bus_reset (&msg);
}

//  An event of this node: an instance changed
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
                shic_cluster_claim_failed (self, shic_cluster_bare (self, id),
                                           shic_val_get (body, "error"));
        }
        shic_val_destroy (&body);
    }
    //  Starts and ends at once. (Leases come as LEASED from the gateway,
    //  only when an instance gets its first or loses its last: lease
    //  events come with every ensure and release.)
    shic_cluster_refresh_soon (self, 0);
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
        shic_cluster_publish (self);
    }
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
                shic_cluster_node_lost (self, name, lost);
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
            shic_cluster_degraded (self, &err, "watch");
        }
        shic_etcd_kv_free (&kv);
        shic_error_clear (&err);
        if (resync)
            break;
    }
    free (nodes);
    if (resync)
        shic_cluster_resync (self);
    shic_cluster_summary (self);
}


//  ---------------------------------------------------------------------------
//  Timers

//  The next time something is due, and does what is due now
static int64_t
s_timers (self_t *self)
{
    int64_t now = zclock_mono ();
    if (self->retry_at && now >= self->retry_at) {
        self->retry_at = 0;
        if (!self->registered)
            shic_cluster_register (self);
        else
        if (!self->watch)
            shic_cluster_watch_again (self);
        if (self->degraded && !self->retry_at)
            self->retry_at = now + (self->config->ttl_ms / 4 < 1000? self->config->ttl_ms / 4: 1000);
    }
    if (self->registered && *self->lease && now >= self->keepalive_at)
        shic_cluster_keepalive (self);
    if (self->query && now >= self->query_deadline)
        self->query = 0;            //  the gateway did not answer: next time
    if (self->refresh_at && now >= self->refresh_at)
        shic_cluster_query (self);
    shic_cluster_expire (self, now);
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
    for (shic_cluster_forward_t *forward = (shic_cluster_forward_t *) zhashx_first (self->outbound);
         forward; forward = (shic_cluster_forward_t *) zhashx_next (self->outbound))
        if (forward->deadline < next)
            next = forward->deadline;
    for (shic_cluster_fanout_t *fanout = (shic_cluster_fanout_t *) zlistx_first (self->fanouts);
         fanout; fanout = (shic_cluster_fanout_t *) zlistx_next (self->fanouts))
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
    self->links = shic_hash_new ((zhashx_destructor_fn *) s_link_destroy);
    self->outbound = shic_hash_new ((zhashx_destructor_fn *) shic_cluster_forward_destroy);
    self->fanouts = zlistx_new ();
    zlistx_set_destructor (self->fanouts, (zlistx_destructor_fn *) s_fanout_destroy);
    self->claims = shic_hash_new ((zhashx_destructor_fn *) s_claim_destroy);
    self->written = shic_hash_new ((zhashx_destructor_fn *) s_written_destroy);
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
        shic_cluster_summary (self);
        shic_cluster_register (self);
    }
    else
        shic_bus_wait_term (pipe, SHIC_BUS_ROLE_CLUSTER);
    zmq_pollitem_t *items = NULL;
    shic_cluster_link_t **polled = NULL;
    size_t items_max = 0;
    while (rc == 0 && !self->terminated) {
        int64_t next = s_timers (self);
        //  The poll set: pipe, bus, sub, local, watch, links
        size_t count = 5 + zhashx_size (self->links);
        if (count > items_max) {
            items_max = count * 2;
            items = (zmq_pollitem_t *) realloc (items, items_max * sizeof (zmq_pollitem_t));
            polled = (shic_cluster_link_t **) realloc (polled,
                                                       items_max * sizeof (shic_cluster_link_t *));
            assert (items && polled);
        }
        items [0] = (zmq_pollitem_t) { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 };
        items [1] = (zmq_pollitem_t) { zsock_resolve (self->bus), 0, ZMQ_POLLIN, 0 };
        items [2] = (zmq_pollitem_t) { zsock_resolve (self->sub), 0, ZMQ_POLLIN, 0 };
        items [3] = (zmq_pollitem_t) { zsock_resolve (self->local), 0, ZMQ_POLLIN, 0 };
        int fd = self->watch? shic_etcd_watch_fd (self->watch): -1;
        items [4] = (zmq_pollitem_t) { NULL, fd, fd >= 0? ZMQ_POLLIN: 0, 0 };
        size_t index = 5;
        for (shic_cluster_link_t *link = (shic_cluster_link_t *) zhashx_first (self->links);
             link; link = (shic_cluster_link_t *) zhashx_next (self->links)) {
            polled [index - 5] = link;
            items [index++] = (zmq_pollitem_t) { zsock_resolve (link->dealer), 0, ZMQ_POLLIN, 0 };
        }
        int64_t now = zclock_mono ();
        long timeout = next <= now? 0: next - now > INT_MAX? INT_MAX: (long) (next - now);
        int events = shic_poll_sockets (items, (int) index, timeout);
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
        //  (the sockets the poll found readable, a bounded number each)
        for (int i = 0; (items [1].revents & ZMQ_POLLIN) && i < 256
                        && (zsock_events (self->bus) & ZMQ_POLLIN); i++)
            s_handle_bus (self);
        for (int i = 0; (items [2].revents & ZMQ_POLLIN) && i < 256
                        && (zsock_events (self->sub) & ZMQ_POLLIN); i++)
            s_handle_sub (self);
        for (int i = 0; (items [3].revents & ZMQ_POLLIN) && i < 64
                        && (zsock_events (self->local) & ZMQ_POLLIN); i++)
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
            shic_cluster_link_t *link = (shic_cluster_link_t *) zhashx_lookup (self->links, name);
            for (int i = 0; link && i < 256 && (zsock_events (link->dealer) & ZMQ_POLLIN); i++) {
                shic_cluster_handle_link (self, link);
                link = (shic_cluster_link_t *) zhashx_lookup (self->links, name);
            }
        }
        zlistx_destroy (&ready);
    }
    free (items);
    free (polled);
    s_self_destroy (&self);
}
