/*  =========================================================================
    shic_gateway - the door of wire.md: sockets, the pipe, the table of ops

    Owns the ROUTER sockets of wire.md (a trusted one on inproc for the
    embedding host, an untrusted one for network clients once bound, with
    CURVE when configured), the bus ROUTER on which every instance and the
    lease pool talk to it, and the table of operations; the handlers of
    the ops are in shic_gateway_ops.c, the waiters and what instances and
    the pool report in shic_gateway_instances.c (one actor, one self_t in
    shic_gateway_int.h). What it knows lives in rooms of its own: the
    registry (backends, instances, resolutions; kernel/shic_registry), the
    lease book (leases, their clients, the pool's batches;
    kernel/shic_lease_book) and the events (every publication;
    kernel/shic_events).

    The hot path (a warm ensure_endpoint) never leaves this thread: the
    request is decoded once at the door into typed arguments (shic_args),
    the resolution memo finds its ready instance, the lease book grants a
    lease and the reply is streamed. Cold starts park the request as a
    waiter on its instance; replies go out in whatever order outcomes
    arrive.

    Pipe, from the supervisor (messages/shic_bus.c):
        BACKEND {manifest} [ops][state][config] -> REPLY {rc}
        UNREGISTER {name}                  -> REPLY {rc}
        SET-CURVE {cert, clients}          -> REPLY {rc}
        BIND-GATEWAY / BIND-EVENTS {endpoint} -> REPLY {rc: port}
        DRAIN {}, $TERM
    Pipe, to the supervisor:  STARTUP {rc} once;
        SPAWN {seq, instance_id, backend, plan}
    Bus, from instances ("I<n>"): STARTED, PROGRESS, READY, FAILED, HEALTH,
        RESTARTING, GAVE_UP, STOPPED, LOG_LINES (shic_instance.c); to them:
        STOP, LOGS
    Bus, from the lease pool ("P"): BOUND, EXPIRED, POOL; to it: GRANT,
        RENEW, RELEASE (shic_lease_pool.c, sent by the lease book)
    Bus, from the host ("H", shic_runtime_host_calls): HOST-CALLS -> REPLY
        {rc}, ANSWER {ticket, result | error}; to it: CALL {ticket, op,
        args} (ops the host answers on its own thread: reload)
    Clustered (a cluster section; shic_gateway_cluster.c): BIND-PEER
    {endpoint} on the pipe binds the peer door, a third ROUTER whose
    requests (other nodes' forwards) are served as from network clients;
    bus from the cluster actor ("C"): DECIDED, LOST, ROUTES, CLUSTER; to
    it: HANDOFF.
    Every message is a row of messages/shic_bus.c, with its body.
    =========================================================================
*/

#include "shic_gateway_int.h"
#include <poll.h>

static zsock_t *s_router_new (size_t max_frame);
static int s_bind (zsock_t *sock, const char *endpoint);

//  A PAIR that hears router's disconnects (libzmq's socket monitor):
//  how the gateway sees a client go (shic_conns). NULL when it cannot.
static zsock_t *
s_monitor_new (zsock_t *router, const char *name)
{
    char endpoint [96];
    snprintf (endpoint, sizeof (endpoint), "inproc://shic-gateway-%s-%p", name, (void *) router);
    if (zmq_socket_monitor (zsock_resolve (router), endpoint, ZMQ_EVENT_DISCONNECTED) == -1) {
        zsys_warning ("gateway: no monitor on the %s ROUTER (%s): disconnects are not seen",
                      name, zmq_strerror (zmq_errno ()));
        return NULL;
    }
    zsock_t *monitor = zsock_new (ZMQ_PAIR);
    if (monitor && zsock_connect (monitor, "%s", endpoint) == -1)
        zsock_destroy (&monitor);
    return monitor;
}

static self_t *
s_self_new (zsock_t *pipe, const shic_settings_t *settings)
{
    self_t *self = (self_t *) zmalloc (sizeof (self_t));
    self->pipe = pipe;
    self->settings = settings;
    self->started_at = zclock_mono ();
    self->poll_all = true;
    self->trusted = s_router_new (settings->max_frame);
    self->bus = zsock_new (ZMQ_ROUTER);
    zsock_set_router_mandatory (self->bus, 1);
    zsock_set_sndhwm (self->bus, 0);
    zsock_set_rcvhwm (self->bus, 0);
    //  Drained without ZMQ_EVENTS (a system call each): a read finds
    //  the queue empty instead of waiting
    zsock_set_rcvtimeo (self->bus, 0);
    self->events = shic_events_new (settings->events);
    self->registry = shic_registry_new (self->events, (zlistx_destructor_fn *) shic_waiter_destroy);
    self->book = shic_lease_book_new (settings, self->events, self->bus, shic_gateway_lease_ended, self);
    self->stats = shic_stats_new ();
    self->log_calls = zhashx_new ();
    zhashx_set_destructor (self->log_calls, (zhashx_destructor_fn *) shic_waiter_destroy);
    self->host_ops = zlistx_new ();
    zlistx_set_destructor (self->host_ops, (zlistx_destructor_fn *) zstr_free);
    self->host_calls = zhashx_new ();
    zhashx_set_destructor (self->host_calls, shic_gateway_host_call_destroy);
    self->admission = shic_admission_new (settings->pools, self->registry, self->events, settings,
                                          (zlistx_destructor_fn *) shic_waiter_destroy,
                                          &shic_gateway_admission_effects, self);
    self->conns = shic_conns_new ();
    self->trusted_monitor = s_monitor_new (self->trusted, "trusted");
    if (settings->cluster.enabled) {
        self->peer = s_router_new (settings->max_frame);
        zsock_set_maxmsgsize (self->peer, (int64_t) settings->max_frame + 65536);
        zsock_set_rcvtimeo (self->peer, 0);     //  drained by reading until none waits
        shic_gateway_cluster_start (self);
    }
    return self;
}

static void
s_self_destroy (self_t **self_p)
{
    if (*self_p) {
        self_t *self = *self_p;
        shic_gateway_cluster_stop (self);
        shic_stats_destroy (&self->stats);
        zhashx_destroy (&self->log_calls);
        zhashx_destroy (&self->host_calls);
        zlistx_destroy (&self->host_ops);
        shic_admission_destroy (&self->admission);
        shic_lease_book_destroy (&self->book);
        shic_registry_destroy (&self->registry);
        zsock_destroy (&self->trusted_monitor);
        zsock_destroy (&self->public_monitor);
        shic_conns_destroy (&self->conns);
        zsock_destroy (&self->trusted);
        zsock_destroy (&self->public_router);
        zactor_destroy (&self->auth);
        zcert_destroy (&self->cert);
        zsock_destroy (&self->bus);
        shic_events_destroy (&self->events);
        free (self);
        *self_p = NULL;
    }
}

//  Answers a request of op (a name of the op table, or NULL) with err
static void
s_reply_error (self_t *self, const char *op, zsock_t *router, zmsg_t *envelope,
               const shic_val_t *id, const shic_error_t *err)
{
    shic_stats_error (self->stats, err->code);
    shic_stats_answered (self->stats, op, err->code);
    if (!router) {
        //  A one-way message from another node: nobody to answer
        zsys_warning ("gateway: refused a one-way message on the peer door: %s: %s", err->code,
                      err->message? err->message: "");
        return;
    }
    zframe_t *frame = shic_wire_reply_error (id, err);
    shic_waiter_send (router, envelope, &frame);
}

//  The ops of wire.md; their arguments are in messages/shic_args.c
static const struct {
    const char *name;               //  op
    shic_gateway_op_fn *handler;               //  what does it
} s_ops [] = {
    { "ensure_endpoint", shic_gateway_op_ensure },
    { "ping", shic_gateway_op_ping },
    { "list_backends", shic_gateway_op_list_backends },
    { "compatibility", shic_gateway_op_compatibility },
    { "renew_lease", shic_gateway_op_renew_lease },
    { "release_lease", shic_gateway_op_release_lease },
    { "list_instances", shic_gateway_op_list_instances },
    { "lookup_instance", shic_gateway_op_lookup_instance },
    { "list_leases", shic_gateway_op_list_leases },
    { "stop_instance", shic_gateway_op_stop_instance },
    { "stats", shic_gateway_op_stats },
    { "resources", shic_gateway_op_resources },
    { "instance_logs", shic_gateway_op_instance_logs },
    { "list_models", shic_gateway_op_list_models },
    { "reload", shic_gateway_op_reload },
};

//  Decodes the op's arguments and runs it; replies unless it did
static void
s_dispatch (self_t *self, shic_gateway_call_t *call)
{
    shic_error_t err = { 0 };
    shic_val_t *result = NULL;
    shic_gateway_op_fn *handler = NULL;
    const char *op = NULL;          //  the table's name of the op, once known
    for (size_t i = 0; i < sizeof (s_ops) / sizeof (s_ops [0]) && !handler; i++)
        if (streq (s_ops [i].name, call->req.op)) {
            handler = s_ops [i].handler;
            op = s_ops [i].name;
        }
    if (!handler) {
        shic_val_t *details = shic_val_new_map ();
        shic_val_set_str (details, "op", call->req.op);
        shic_error_set (&err, SHIC_E_UNKNOWN_OP, &details, "unknown op '%s'", call->req.op);
    }
    else
    if (call->oneway && !streq (op, "release_lease"))
        shic_error_set (&err, SHIC_E_MALFORMED, NULL,
                        "a one-way message of the peer door is a release_lease, not '%s'", op);
    else
    if (shic_args_decode (call->req.op, call->req.args, &call->args, &err) == 0) {
        //  A ref of another node, a list of the whole cluster: the cluster
        //  actor answers (shic_gateway_cluster.c)
        if (self->peer && !call->relayed && shic_gateway_cluster_take (self, call, handler, op))
            return;
        result = handler (self, call, &err);
        if (!result && !err.code)
            return;                 //  replied, or parked
    }
    if (err.code)
        s_reply_error (self, op, call->router, call->envelope, call->req.id, &err);
    else {
        shic_stats_answered (self->stats, op, NULL);
        if (call->router) {
            zframe_t *frame = shic_wire_reply_ok (call->req.id, &result);
            shic_waiter_send_taking (call->router, &call->envelope, &frame);
        }
    }
    shic_error_clear (&err);
    shic_val_destroy (&result);
}

//  Disconnects a monitor reported: their clients are gone
static void
s_handle_monitor (self_t *self, zsock_t *monitor)
{
    while (monitor && (zsock_events (monitor) & ZMQ_POLLIN)) {
        zmsg_t *msg = zmsg_recv (monitor);
        zframe_t *head = msg? zmsg_first (msg): NULL;
        if (head && zframe_size (head) == 6) {
            uint16_t event;
            uint32_t fd;
            memcpy (&event, zframe_data (head), 2);
            memcpy (&fd, zframe_data (head) + 2, 4);
            char *gone = event == ZMQ_EVENT_DISCONNECTED?
                         shic_conns_closed (self->conns, (int) fd): NULL;
            if (gone)
                shic_gateway_client_gone (self, gone);
            zstr_free (&gone);
        }
        zmsg_destroy (&msg);
    }
}

//  A message from client came in on descriptor fd: another client that
//  was on fd is gone. A disconnect the monitor already holds is read
//  first, so that it cannot later be taken for the new client's.
static void
s_client_on (self_t *self, int fd, const char *client)
{
    const char *there = shic_conns_on (self->conns, fd);
    if (fd < 0 || (there && streq (there, client)))
        return;
    if (there) {
        s_handle_monitor (self, self->trusted_monitor);
        s_handle_monitor (self, self->public_monitor);
    }
    char *gone = shic_conns_seen (self->conns, fd, client);
    if (gone)
        shic_gateway_client_gone (self, gone);
    zstr_free (&gone);
}

//  Serves a call whose envelope and client are set: msg holds what follows
//  the envelope (exactly one body frame); frees what the call holds
void
shic_gateway_serve (self_t *self, shic_gateway_call_t *call, zmsg_t *msg)
{
    //  The client is alive
    if (!call->trusted || self->settings->inproc_client_timeout)
        shic_lease_book_client_seen (self->book, call->client);
    shic_error_t err = { 0 };
    if (zmsg_size (msg) != 1)
        shic_error_set (&err, SHIC_E_MALFORMED, NULL,
                        "a request is exactly one body frame after the envelope");
    else {
        zframe_t *body = zmsg_first (msg);
        call->body = body;
        shic_stats_request (self->stats);
        if (shic_wire_request_decode (zframe_data (body), zframe_size (body),
                                      self->settings->max_frame, &call->req, &err) == 0)
            s_dispatch (self, call);
    }
    if (err.code) {
        if (self->settings->verbose)
            zsys_debug ("gateway: %s: %s", err.code, err.message? err.message: "");
        s_reply_error (self, NULL, call->router, call->envelope, call->req.id, &err);
    }
    shic_error_clear (&err);
    shic_wire_request_reset (&call->req);
    zmsg_destroy (&call->envelope);
    zstr_free (&call->client);
}

//  One message from a client ROUTER (trusted: the embedding host's inproc
//  and the control socket; else network clients); false when nothing was
//  waiting
static bool
s_handle_client (self_t *self, zsock_t *router, bool trusted)
{
    //  The routing frame and the first frame after it, read by hand for
    //  the descriptor the message came in on (ZMQ_SRCFD; -1 for inproc).
    //  Only a frame of the peer's carries it: after a poll, the routing
    //  frame the ROUTER makes up does not.
    zmq_msg_t parts [2];
    zmq_msg_init (&parts [0]);
    zmq_msg_init (&parts [1]);
    int got = 0, fd = -1;
    while (got < 2 && (got == 0 || zmq_msg_more (&parts [0]))
    &&     zmq_msg_recv (&parts [got], zsock_resolve (router), ZMQ_DONTWAIT) != -1)
        got++;
    if (got == 2)
        fd = zmq_msg_get (&parts [1], ZMQ_SRCFD);
    bool more = got == 2 && zmq_msg_more (&parts [1]);
    zframe_t *routing = got? zframe_new (zmq_msg_data (&parts [0]), zmq_msg_size (&parts [0])): NULL;
    zframe_t *first_frame = got == 2? zframe_new (zmq_msg_data (&parts [1]),
                                                  zmq_msg_size (&parts [1])): NULL;
    zmq_msg_close (&parts [0]);
    zmq_msg_close (&parts [1]);
    zmsg_t *msg = routing? (more? zmsg_recv (router): zmsg_new ()): NULL;
    if (!msg) {
        zframe_destroy (&routing);
        zframe_destroy (&first_frame);
        return got > 0;
    }
    if (first_frame)
        zmsg_prepend (msg, &first_frame);
    shic_lease_book_busy (self->book);
    shic_gateway_call_t call = { 0 };
    call.router = router;
    call.trusted = trusted;
    call.envelope = zmsg_new ();
    //  The client key: the door's letter, then the routing id in hex
    static const char hex [] = "0123456789ABCDEF";
    const byte *id = zframe_data (routing);
    size_t id_size = zframe_size (routing);
    call.client = (char *) malloc (2 * id_size + 2);
    assert (call.client);
    call.client [0] = trusted? 't': 'p';
    for (size_t i = 0; i < id_size; i++) {
        call.client [1 + 2 * i] = hex [id [i] >> 4];
        call.client [2 + 2 * i] = hex [id [i] & 15];
    }
    call.client [1 + 2 * id_size] = 0;
    zmsg_append (call.envelope, &routing);
    s_client_on (self, fd, call.client);
    //  A REQ client's empty delimiter stays in the envelope
    zframe_t *first = zmsg_first (msg);
    if (zmsg_size (msg) >= 2 && first && zframe_size (first) == 0) {
        zframe_t *delimiter = zmsg_pop (msg);
        zmsg_append (call.envelope, &delimiter);
    }
    shic_gateway_serve (self, &call, msg);
    zmsg_destroy (&msg);
    return true;
}

//  [routing id][command][body]: "P" is the lease pool, "I<n>" an instance;
//  false when nothing was waiting
static bool
s_handle_bus (self_t *self)
{
    zmsg_t *msg = zmsg_recv (self->bus);
    if (!msg)
        return false;
    char *identity = zmsg_popstr (msg);
    shic_bus_t bus = { 0 };
    if (identity && shic_bus_decode (&bus, msg, SHIC_BUS_ROLE_GATEWAY) == 0) {
        if (streq (identity, "P"))
            shic_gateway_handle_pool (self, &bus);
        else
        if (streq (identity, "H"))
            shic_gateway_handle_host (self, &bus);
        else
        if (streq (identity, "C"))
            shic_gateway_handle_cluster (self, &bus);
        else {
            shic_record_t *instance = shic_registry_lookup_seq (self->registry, identity);
            if (instance && instance->stop_owed)
                shic_gateway_instance_send_stop (self, instance);
            if (instance)
                shic_gateway_handle_instance (self, instance, &bus);
        }
    }
    shic_bus_reset (&bus);
    zstr_free (&identity);
    zmsg_destroy (&msg);
    return true;
}

static int
s_bind (zsock_t *sock, const char *endpoint)
{
    int rc = zsock_bind (sock, "%s", endpoint);
    if (rc == -1)
        zsys_error ("gateway: cannot bind %s: %s", endpoint, zmq_strerror (zmq_errno ()));
    return rc;
}

//  The control endpoint: the trusted ROUTER on an ipc:// socket, which
//  only the daemon's user may connect to (the file is made 0600; the
//  directory it lies in should be the user's own)
static int
s_bind_control (self_t *self)
{
    const char *endpoint = self->settings->control;
    if (!*endpoint)
        return 0;
    //  Never over a live daemon's socket; a stale file goes
    shic_error_t err = { 0 };
    if (shic_control_claim (endpoint, &err) != 0) {
        zsys_error ("gateway: control endpoint %s: %s", endpoint, err.message);
        shic_error_clear (&err);
        return -1;
    }
    if (s_bind (self->trusted, endpoint) == -1)
        return -1;
    const char *path = endpoint + 6;
    if (*path != '@' && chmod (path, S_IRUSR | S_IWUSR) == -1) {
        zsys_error ("gateway: cannot make %s private: %s", path, strerror (errno));
        return -1;
    }
    return 0;
}

static zsock_t *
s_router_new (size_t max_frame)
{
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    zsock_set_router_mandatory (router, 1);
    zsock_set_sndtimeo (router, 0);
    zsock_set_maxmsgsize (router, (int64_t) max_frame + 1024);
    //  A peer that does not read holds at most this many replies (each
    //  bounded: strings are capped, lists paged), then its replies drop
    zsock_set_sndhwm (router, SEND_HWM);
    zsock_set_rcvhwm (router, 100000);
    return router;
}

//  SET-CURVE: the public ROUTER becomes a CURVE server with an allow-list
static int
s_set_curve (self_t *self, const char *cert_path, const char *clients)
{
    if (self->public_router) {
        zsys_error ("gateway: CURVE must be set before the gateway is bound");
        return -1;
    }
    if (!(self->cert = zcert_load (cert_path))) {
        zsys_error ("gateway: cannot load the CURVE certificate %s", cert_path);
        return -1;
    }
    if (!zsys_file_exists (clients)) {
        zsys_error ("gateway: no directory of client certificates %s", clients);
        zcert_destroy (&self->cert);
        return -1;
    }
    self->auth = zactor_new (zauth, NULL);
    zstr_sendx (self->auth, "CURVE", clients, NULL);
    zsock_wait (self->auth);
    self->public_router = s_router_new (self->settings->max_frame);
    zcert_apply (self->cert, self->public_router);
    zsock_set_curve_server (self->public_router, 1);
    zsock_set_zap_domain (self->public_router, "shic");
    return 0;
}

//  BACKEND: a registered backend (its manifest checked by the supervisor)
static void
s_add_backend (self_t *self, shic_bus_t *msg)
{
    const shic_backend_ops_t *ops = (const shic_backend_ops_t *) msg->ops;
    shic_val_t *manifest = shic_bus_take (msg, &msg->manifest);
    //  The registered name, which the supervisor wrote into the manifest
    char *name = strdup (shic_val_str (shic_val_get (manifest, "backend")));
    shic_registry_backend_add (self->registry, name, ops, msg->state, msg->config, &manifest);
    free (name);
}

//  REPLY to the supervisor
static void
s_reply (self_t *self, int rc)
{
    shic_bus_send (self->pipe, &(shic_bus_t) { .id = SHIC_BUS_REPLY, .rc = rc });
}

//  UNREGISTER: the backend goes; its instances stop
static void
s_remove_backend (self_t *self, const char *name)
{
    shic_registry_backend_remove (self->registry, name);
    for (shic_record_t *instance = shic_registry_first (self->registry); instance;
         instance = shic_registry_next (self->registry))
        if (streq (instance->backend, name) && instance->actor_live
        &&  instance->status != SHIC_LIFECYCLE_STOPPING) {
            instance->stop_reason = "backend_removed";
            shic_gateway_instance_stop (self, instance);
        }
}

static void
s_handle_pipe (self_t *self)
{
    shic_bus_t msg = { 0 };
    int rc = shic_bus_recv (&msg, self->pipe, SHIC_BUS_ROLE_GATEWAY);
    if (rc == -1 || msg.id == SHIC_BUS_TERM)
        self->terminated = true;
    else
    if (msg.id == SHIC_BUS_DRAIN) {
        self->draining = true;
        shic_lease_book_drain (self->book);
        shic_error_t err = { 0 };
        shic_error_set (&err, SHIC_E_SHUTTING_DOWN, NULL, "the runtime is stopping");
        for (shic_record_t *instance = shic_registry_first (self->registry); instance;
             instance = shic_registry_next (self->registry))
            shic_gateway_waiters_fail (self, instance, &err);
        shic_admission_drain (self->admission, &err);
        shic_gateway_host_calls_expire (self, zclock_mono (), NULL, &err);
        shic_gateway_handoffs_drain (self, &err);
        shic_error_clear (&err);
    }
    else
    if (msg.id == SHIC_BUS_BACKEND) {
        s_add_backend (self, &msg);
        s_reply (self, 0);
    }
    else
    if (msg.id == SHIC_BUS_UNREGISTER) {
        s_remove_backend (self, msg.name);
        s_reply (self, 0);
    }
    else
    if (msg.id == SHIC_BUS_SET_CURVE)
        s_reply (self, s_set_curve (self, msg.cert, msg.clients));
    else
    if (msg.id == SHIC_BUS_BIND_GATEWAY) {
        if (!self->public_router)
            self->public_router = s_router_new (self->settings->max_frame);
        if (!self->public_monitor)
            self->public_monitor = s_monitor_new (self->public_router, "public");
        s_reply (self, s_bind (self->public_router, msg.endpoint));
    }
    else
    if (msg.id == SHIC_BUS_BIND_EVENTS)
        s_reply (self, shic_events_bind (self->events, msg.endpoint));
    else
    if (msg.id == SHIC_BUS_BIND_PEER)
        s_reply (self, self->peer? shic_gateway_cluster_bind (self, msg.endpoint): -1);
    else
    if (rc == 0)
        zsys_error ("gateway: unexpected '%s' on its pipe", shic_bus_command (msg.id));
    shic_bus_reset (&msg);
}

static int64_t
s_timers (self_t *self, int64_t now)
{
    int64_t next = -1;
    for (shic_record_t *instance = shic_registry_first (self->registry); instance;
         instance = shic_registry_next (self->registry))
        shic_gateway_waiters_expire (self, instance, now, &next);
    zlistx_t *idle = shic_registry_tick (self->registry, now, &next);
    shic_record_t *instance;
    while (idle && (instance = (shic_record_t *) zlistx_detach (idle, NULL))) {
        if (self->settings->verbose)
            zsys_info ("gateway: instance %s idle, stopping", instance->id);
        instance->stop_reason = "idle";
        shic_gateway_instance_stop (self, instance);
    }
    zlistx_destroy (&idle);
    shic_lease_book_clients_expire (self->book, now, &next);
    shic_gateway_log_calls_expire (self, now, &next);
    shic_gateway_host_calls_expire (self, now, &next, NULL);
    if (self->handoffs)
        shic_gateway_handoffs_expire (self, now, &next);
    if (self->placement_due) {
        self->placement_due = false;
        shic_admission_run (self->admission);
    }
    int64_t placement = shic_admission_timers (self->admission, now);
    if (placement >= 0 && (next < 0 || placement < next))
        next = placement;
    int64_t chores = shic_lease_book_chores (self->book, now);
    if (chores >= 0 && (next < 0 || chores < next))
        next = chores;
    return next;
}

//  The wait of a turn: shic_poll_sockets (kernel/shic_kernel.c) with fewer
//  questions still. A socket's descriptor (ZMQ_FD) signals a message that
//  comes once the socket has said it has none (a ZMQ_EVENTS or a read that
//  found nothing), as long as nothing else touches the socket. Sends do:
//  a send may process the command that announced a message, and the
//  descriptor then stays quiet. So before the wait only these sockets are
//  asked for ZMQ_EVENTS: those read last turn (a handler stops after so
//  many messages) and those this thread sent on since (shic_bus_sent
//  records every send of the gateway's thread: the bus, the waiters'
//  replies, events, the peer door and the links). Every socket is asked on
//  the first turn, after a pipe message (binds and connects touch
//  sockets), when the set changed or a link was made (poll_all; a pipe
//  attached by a connect here signals nothing for its first message until
//  the socket has once been asked), when more than SHIC_BUS_SENT_MAX were
//  sent on, and after a wait that found nothing. Within a second of the
//  last message the wait is at most POLL_RECHECK_MS, so that a case missed
//  here costs no more; an idle node sleeps until its timers. A socket
//  whose descriptor fired is marked readable (its handler reads until a
//  read finds none, and finds none when the signal was for something
//  else), but the pipe, whose handler waits for its message, is asked.
#define POLL_RECHECK_MS      50
#define POLL_RECHECK_FOR_MS  1000

static bool
s_poll_listed (void *const *list, size_t count, void *socket)
{
    for (size_t index = 0; index < count; index++)
        if (list [index] == socket)
            return true;
    return false;
}

static int
s_poll (self_t *self, zmq_pollitem_t *items, int count, int64_t timeout_ms)
{
    void *sent [SHIC_BUS_SENT_MAX];
    size_t sent_count = shic_bus_sent_take (sent, SHIC_BUS_SENT_MAX);
    if (count != self->poll_count)
        self->poll_all = true;      //  a socket came or went
    self->poll_count = count;
    bool all = self->poll_all || sent_count == SIZE_MAX || self->poll_read_count == SIZE_MAX;
    self->poll_all = false;
    int ready = 0;
    bool failed = false;
    bool yield = false;
    for (int index = 0; index < count; index++) {
        items [index].revents = 0;
        if ((all || s_poll_listed (self->poll_read, self->poll_read_count, items [index].socket)
                 || s_poll_listed (sent, sent_count, items [index].socket))
        &&  shic_socket_has_input (items [index].socket, &failed)) {
            items [index].revents = ZMQ_POLLIN;
            ready++;
        }
    }
    if (failed)
        return -1;
    //  (with no wait asked too: a socket not asked shows on its descriptor)
    if (!ready) {
        struct pollfd fds [count];
        for (int index = 0; index < count; index++) {
            size_t size = sizeof (fds [index].fd);
            if (zmq_getsockopt (items [index].socket, ZMQ_FD, &fds [index].fd, &size) == -1)
                fds [index].fd = -1;
            fds [index].events = POLLIN;
            fds [index].revents = 0;
        }
        int64_t recheck = zclock_mono () - self->poll_active_at < POLL_RECHECK_FOR_MS?
                          POLL_RECHECK_MS: -1;
        if (timeout_ms < 0 || (recheck >= 0 && timeout_ms > recheck))
            timeout_ms = recheck;
        int timeout = timeout_ms < 0? -1: timeout_ms > INT_MAX? INT_MAX: (int) timeout_ms;
        int rc = poll (fds, (nfds_t) count, timeout);
        if (rc == -1 && errno != EINTR)
            return -1;
        //  A quiet node: its answers go before its bookkeeping (shic_bus_yield)
        yield = rc == 1 && timeout != 0;
        if (rc <= 0)
            self->poll_all = rc == 0 && timeout != 0;   //  waited for nothing: ask all
        else
            for (int index = 0; index < count; index++)
                if (fds [index].revents
                &&  (index > 0 || shic_socket_has_input (items [index].socket, &failed))) {
                    items [index].revents = ZMQ_POLLIN;
                    ready++;
                }
    }
    //  The sockets read this turn are asked next turn
    self->poll_read_count = 0;
    for (int index = 0; index < count; index++)
        if (items [index].revents & ZMQ_POLLIN) {
            if (self->poll_read_count < SHIC_BUS_SENT_MAX)
                self->poll_read [self->poll_read_count++] = items [index].socket;
            else
                self->poll_read_count = SIZE_MAX;
        }
    if (ready)
        self->poll_active_at = zclock_mono ();
    shic_bus_yield_arm (yield);
    return failed? -1: ready;
}

void
shic_gateway_actor (zsock_t *pipe, void *args)
{
    self_t *self = s_self_new (pipe, (const shic_settings_t *) args);
    zsock_signal (pipe, 0);
#ifdef __linux__
    pthread_setname_np (pthread_self (), "shic-gateway");
#endif
    bool ok = self->events
           && s_bind (self->trusted, self->settings->gateway) == 0
           && s_bind (self->bus, self->settings->bus) == 0
           && s_bind_control (self) == 0;
    shic_bus_send (pipe, &(shic_bus_t) { .id = SHIC_BUS_STARTUP, .rc = ok? 0: -1 });

    while (ok && !self->terminated) {
        int64_t next = s_timers (self, zclock_mono ());
        int64_t now = zclock_mono ();
        zmq_pollitem_t fixed [7] = {
            { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (self->bus), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (self->trusted), 0, ZMQ_POLLIN, 0 }
        };
        //  Then the public ROUTER, the monitors and the events XPUB, those
        //  that exist
        int count = 3;
        zsock_t *sockets [4] = { self->public_router, self->trusted_monitor, self->public_monitor,
                                 shic_events_sock (self->events) };
        int at [4] = { -1, -1, -1, -1 };
        for (int i = 0; i < 4; i++)
            if (sockets [i]) {
                at [i] = count;
                fixed [count++] = (zmq_pollitem_t) { zsock_resolve (sockets [i]), 0, ZMQ_POLLIN, 0 };
            }
        //  Clustered: the peer door and the links to other nodes too
        zmq_pollitem_t *items = self->peer? shic_gateway_cluster_items (self, fixed, &count)
                                          : fixed;
        if (s_poll (self, items, count, next < 0? -1: next > now? next - now: 0) == -1)
            break;
        //  Subscriptions before everything else, so that one made before a
        //  request sees the events that request causes
        if (at [3] >= 0 && (items [at [3]].revents & ZMQ_POLLIN))
            shic_events_handle (self->events);
        if (items [0].revents & ZMQ_POLLIN) {
            s_handle_pipe (self);
            self->poll_all = true;  //  binds and connects touch sockets
        }
        for (int i = 1; i < 3; i++)
            if (at [i] >= 0 && (items [at [i]].revents & ZMQ_POLLIN))
                s_handle_monitor (self, sockets [i]);
        //  Drain each socket the poll found readable, a bounded number of
        //  messages per turn, by reading until a read finds none (asking
        //  ZMQ_EVENTS first would cost a system call per message)
        if (items [1].revents & ZMQ_POLLIN)
            for (int i = 0; i < 256 && s_handle_bus (self); i++)
                ;
        if (items [2].revents & ZMQ_POLLIN)
            for (int i = 0; i < 64 && s_handle_client (self, self->trusted, true); i++)
                ;
        if (self->peer)
            shic_gateway_cluster_handle (self, count);
        //  (at [0] is -1 in the turn whose BIND-GATEWAY made the router)
        if (at [0] >= 0 && (items [at [0]].revents & ZMQ_POLLIN))
            for (int i = 0; i < 64 && s_handle_client (self, self->public_router, false); i++)
                ;
    }
    s_self_destroy (&self);
}
