/*  =========================================================================
    shic_supervisor - the root actor of a runtime

    Starts the gateway and the lease pool, the cluster actor when the
    configuration has a cluster section (cluster/shic_cluster.c), one
    backend actor per registered backend and one instance actor per runtime
    instance (when the gateway asks for it), and owns the restart policy: an instance whose service
    exited unexpectedly asks here whether to restart it, and when.
    On $TERM it stops its children in reverse order of start: the cluster
    (its records go from etcd at once), leases, then
    instances (all asked to stop at once, then joined), then backends, then
    the gateway.

    Accepts on its pipe (from the runtime facade), messages/shic_bus.c:
        REGISTER {name} [ops][config] -> REPLY {rc, message?}
        UNREGISTER {name}         -> REPLY {rc}
        HELD {} [config]          -> REPLY {rc: 1 still used, 0 not}
        BIND-GATEWAY {endpoint}   -> REPLY {rc: port / 0 / -1}
        BIND-EVENTS {endpoint}    -> REPLY {rc: port / 0 / -1}
        SET-CURVE {cert, clients} -> REPLY {rc}
        $TERM
    Sends STARTUP {rc} on its pipe once its children started (or not).
    To the gateway:    BACKEND {manifest} [ops][state][config], UNREGISTER,
                       BIND-*, SET-CURVE (relayed) -> REPLY {rc}; DRAIN
    From the gateway:  STARTUP {rc} once; SPAWN {seq, instance_id, backend, plan}
    From instances:    EXITED {uptime_ms} -> RESTART {delay_ms, restarts}
                                           | FAIL {retry_after_ms, restarts}
                       DONE
    =========================================================================
*/

#include "shic_actors.h"
#include "shic_cluster.h"

//  The gateway answers its pipe at once; a longer silence means it is stuck
#define GATEWAY_TIMEOUT_MS 10000

void *shic_backend_args_new (const shic_backend_ops_t *ops, zconfig_t *config);

//  A registered backend
typedef struct {
    char *name;                     //  backend id
    zactor_t *actor;                //  its actor
    const shic_backend_ops_t *ops;  //  ops table
    void *state;                    //  state from init
    zconfig_t *config;              //  the host's section (compared only), or NULL
    int instances;                  //  live instance actors using it
    bool removed;                   //  unregistered; destroy when unused
} s_backend_t;

//  A running instance actor
typedef struct {
    int seq;                        //  instance number
    zactor_t *actor;                //  its actor
    s_backend_t *backend;           //  its backend
    shic_restart_policy_t *policy;  //  restart history
    void *handle;                   //  its place in self->children
} s_child_t;

typedef struct {
    zsock_t *pipe;                  //  to the runtime facade
    const shic_settings_t *settings; //  runtime settings
    zactor_t *gateway;              //  the gateway actor
    zactor_t *pool;                 //  the lease pool actor
    zactor_t *cluster;              //  the cluster actor, when configured
    zlistx_t *backends;             //  s_backend_t, in start order
    zlistx_t *children;             //  s_child_t, in start order
    zmq_pollitem_t *items;          //  poll set: pipe, gateway, then children
    s_child_t **polled;             //  the child of items [2 + i]
    size_t items_max;               //  items allocated
    bool terminated;                //  $TERM seen
} self_t;

static void
s_backend_destroy (s_backend_t **self_p)
{
    if (*self_p) {
        s_backend_t *self = *self_p;
        zactor_destroy (&self->actor);
        free (self->name);
        free (self);
        *self_p = NULL;
    }
}

static void
s_child_destroy (s_child_t **self_p)
{
    if (*self_p) {
        s_child_t *self = *self_p;
        zactor_destroy (&self->actor);
        self->backend->instances--;
        shic_restart_policy_destroy (&self->policy);
        free (self);
        *self_p = NULL;
    }
}

static self_t *
s_self_new (zsock_t *pipe, const shic_settings_t *settings)
{
    self_t *self = (self_t *) zmalloc (sizeof (self_t));
    assert (self);
    self->pipe = pipe;
    self->settings = settings;
    self->backends = zlistx_new ();
    self->children = zlistx_new ();
    assert (self->backends && self->children);
    return self;
}

//  Stops the children in reverse order of start, then frees
static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (!self)
        return;
    //  The cluster first: the node's records go, nothing is forwarded here
    zactor_destroy (&self->cluster);
    //  New requests are refused; waiting ones are told
    if (self->gateway)
        shic_bus_send (self->gateway, &(shic_bus_t) { .id = SHIC_BUS_DRAIN });
    zactor_destroy (&self->pool);
    //  Every instance stops its service at once; then each is joined
    s_child_t *child = (s_child_t *) zlistx_first (self->children);
    while (child) {
        shic_bus_send (child->actor, &(shic_bus_t) { .id = SHIC_BUS_STOP });
        child = (s_child_t *) zlistx_next (self->children);
    }
    while ((child = (s_child_t *) zlistx_last (self->children))) {
        zlistx_delete (self->children, child->handle);
        s_child_destroy (&child);
    }
    s_backend_t *backend;
    while ((backend = (s_backend_t *) zlistx_last (self->backends))) {
        zlistx_delete (self->backends, zlistx_cursor (self->backends));
        s_backend_destroy (&backend);
    }
    zactor_destroy (&self->gateway);
    zlistx_destroy (&self->backends);
    zlistx_destroy (&self->children);
    free (self->items);
    free (self->polled);
    free (self);
    *self_p = NULL;
}

static int s_ask_gateway (self_t *self, const shic_bus_t *request);

//  Starts the gateway, then the lease pool; returns 0, or -1 when the
//  gateway did not start
static int
s_self_start (self_t *self)
{
    self->gateway = zactor_new (shic_gateway_actor, (void *) self->settings);
    shic_bus_t startup = { 0 };
    if (self->gateway) {
        zsock_set_rcvtimeo (self->gateway, GATEWAY_TIMEOUT_MS);
        shic_bus_recv (&startup, self->gateway, SHIC_BUS_ROLE_SUPERVISOR);
    }
    bool ok = startup.id == SHIC_BUS_STARTUP && startup.rc == 0;
    shic_bus_reset (&startup);
    if (!ok) {
        zactor_destroy (&self->gateway);
        return -1;
    }
    self->pool = zactor_new (shic_lease_pool_actor, (void *) self->settings);
    assert (self->pool);
    //  The cluster actor, when the configuration has a cluster section: a
    //  peer endpoint it cannot bind fails the start (etcd may be away: it
    //  retries on its own)
    if (self->settings->cluster.enabled) {
        //  The gateway's peer door first: the cluster actor writes where it is
        int port = s_ask_gateway (self, &(shic_bus_t) { .id = SHIC_BUS_BIND_PEER,
                                                        .endpoint = self->settings->cluster.peer });
        if (port < 0)
            return -1;
        shic_cluster_args_t *args = (shic_cluster_args_t *) zmalloc (sizeof (shic_cluster_args_t));
        args->settings = self->settings;
        args->peer_port = port;
        self->cluster = zactor_new (shic_cluster_actor, args);
        shic_bus_t started = { 0 };
        if (self->cluster) {
            zsock_set_rcvtimeo (self->cluster, GATEWAY_TIMEOUT_MS);
            shic_bus_recv (&started, self->cluster, SHIC_BUS_ROLE_SUPERVISOR);
        }
        bool up = started.id == SHIC_BUS_STARTUP && started.rc == 0;
        shic_bus_reset (&started);
        if (!up) {
            zactor_destroy (&self->cluster);
            return -1;
        }
    }
    return 0;
}

static s_backend_t *
s_backend_find (self_t *self, const char *name)
{
    s_backend_t *backend = (s_backend_t *) zlistx_first (self->backends);
    while (backend) {
        if (!backend->removed && streq (backend->name, name))
            return backend;
        backend = (s_backend_t *) zlistx_next (self->backends);
    }
    return NULL;
}

//  Destroys backends that were unregistered and have no instance left
static void
s_backends_reap (self_t *self)
{
    s_backend_t *backend = (s_backend_t *) zlistx_first (self->backends);
    while (backend) {
        if (backend->removed && backend->instances == 0) {
            zlistx_delete (self->backends, zlistx_cursor (self->backends));
            s_backend_destroy (&backend);
            backend = (s_backend_t *) zlistx_first (self->backends);
        }
        else
            backend = (s_backend_t *) zlistx_next (self->backends);
    }
}

//  REPLY to the facade
static void
s_reply (self_t *self, int rc, const char *message)
{
    shic_bus_send (self->pipe, &(shic_bus_t) { .id = SHIC_BUS_REPLY, .rc = rc, .message = message });
}

//  A request to the gateway; returns its REPLY's rc, or -1 when none came
static int
s_ask_gateway (self_t *self, const shic_bus_t *request)
{
    shic_bus_t reply = { 0 };
    int rc = shic_bus_ask (self->gateway, request, SHIC_BUS_ROLE_SUPERVISOR, &reply);
    shic_bus_reset (&reply);
    return rc;
}

//  REGISTER: start the backend's actor and wait for its init
static void
s_register (self_t *self, const char *name, const shic_backend_ops_t *ops, zconfig_t *config)
{
    if (s_backend_find (self, name)) {
        s_reply (self, -1, "a backend with that name is registered");
        return;
    }
    zactor_t *actor = zactor_new (shic_backend_actor, shic_backend_args_new (ops, config));
    if (!actor) {
        s_reply (self, -1, "cannot start the backend actor");
        return;
    }
    shic_bus_t init = { 0 };
    zsock_set_rcvtimeo (actor, 30000);
    if (shic_bus_recv (&init, actor, SHIC_BUS_ROLE_SUPERVISOR) != 0 || init.id != SHIC_BUS_STATE)
        init.rc = -1;
    void *state = init.state;
    if (init.rc != 0) {
        s_reply (self, -1, init.message? init.message: "backend init timed out");
        shic_bus_reset (&init);
        zactor_destroy (&actor);
        return;
    }
    shic_bus_reset (&init);
    //  The manifest is checked here, before the gateway trusts it
    shic_val_t *raw = ops->manifest (state);
    //  Registered under a name of its own: the manifest says that name
    //  (and the gateway takes it from there)
    const char *said = shic_val_str (shic_val_get (raw, "backend"));
    if (said && streq (said, ops->name))
        shic_val_set_str (raw, "backend", name);
    shic_error_t err = { 0 };
    shic_val_t *manifest = shic_backend_manifest_normalize (raw, &err);
    shic_val_destroy (&raw);
    if (!manifest || !streq (shic_val_str (shic_val_get (manifest, "backend")), name)) {
        s_reply (self, -1, err.message? err.message: "the manifest's backend differs from the ops name");
        shic_error_clear (&err);
        shic_val_destroy (&manifest);
        zactor_destroy (&actor);
        return;
    }
    s_backend_t *backend = (s_backend_t *) zmalloc (sizeof (s_backend_t));
    backend->name = strdup (name);
    backend->actor = actor;
    backend->ops = ops;
    backend->state = state;
    backend->config = config;
    zlistx_add_end (self->backends, backend);
    //  The gateway learns of it before the caller does
    s_ask_gateway (self, &(shic_bus_t) { .id = SHIC_BUS_BACKEND, .manifest = manifest,
                                         .ops = ops, .state = state, .config = config });
    shic_val_destroy (&manifest);
    s_reply (self, 0, NULL);
}

//  UNREGISTER, relayed to the gateway
static void
s_unregister (self_t *self, const shic_bus_t *request)
{
    s_backend_t *backend = s_backend_find (self, request->name);
    if (!backend) {
        s_reply (self, -1, NULL);
        return;
    }
    backend->removed = true;
    s_ask_gateway (self, request);
    s_backends_reap (self);
    s_reply (self, 0, NULL);
}

//  SPAWN from the gateway: start an instance actor
static void
s_spawn (self_t *self, shic_bus_t *msg)
{
    s_backend_t *backend = s_backend_find (self, msg->backend);
    if (!backend) {
        //  Unregistered meanwhile: tell the gateway the start failed
        zsys_warning ("supervisor: SPAWN for unknown backend '%s'", msg->backend);
        return;
    }
    shic_instance_args_t *args = (shic_instance_args_t *) zmalloc (sizeof (shic_instance_args_t));
    args->settings = self->settings;
    args->seq = (int) msg->seq;
    args->instance_id = strdup (msg->instance_id);
    args->plan = shic_bus_take (msg, &msg->plan);
    args->ops = backend->ops;
    args->backend_state = backend->state;
    s_child_t *child = (s_child_t *) zmalloc (sizeof (s_child_t));
    child->seq = args->seq;
    child->backend = backend;
    child->policy = shic_restart_policy_new (&self->settings->restart);
    child->actor = zactor_new (shic_instance_actor, args);
    assert (child->actor);
    backend->instances++;
    child->handle = zlistx_add_end (self->children, child);
}

static void
s_handle_pipe (self_t *self)
{
    shic_bus_t msg = { 0 };
    if (shic_bus_recv (&msg, self->pipe, SHIC_BUS_ROLE_SUPERVISOR) != 0)
        return;
    if (msg.id == SHIC_BUS_TERM)
        self->terminated = true;
    else
    if (msg.id == SHIC_BUS_REGISTER)
        s_register (self, msg.name, (const shic_backend_ops_t *) msg.ops, msg.config);
    else
    if (msg.id == SHIC_BUS_UNREGISTER)
        s_unregister (self, &msg);
    else
    if (msg.id == SHIC_BUS_HELD) {
        //  A backend of that registration, live or unregistered with
        //  instances still ending, uses the host's ops and config
        bool held = false;
        for (s_backend_t *backend = (s_backend_t *) zlistx_first (self->backends);
             backend && !held; backend = (s_backend_t *) zlistx_next (self->backends))
            held = msg.config && backend->config == msg.config;
        s_reply (self, held? 1: 0, NULL);
    }
    else
    if (msg.id == SHIC_BUS_SET_CURVE
    ||  msg.id == SHIC_BUS_BIND_GATEWAY
    ||  msg.id == SHIC_BUS_BIND_EVENTS)
        s_reply (self, s_ask_gateway (self, &msg), NULL);
    else
        zsys_error ("supervisor: unexpected '%s' on its pipe", shic_bus_command (msg.id));
    shic_bus_reset (&msg);
}

static void
s_handle_gateway (self_t *self)
{
    shic_bus_t msg = { 0 };
    if (shic_bus_recv (&msg, self->gateway, SHIC_BUS_ROLE_SUPERVISOR) != 0)
        return;
    if (msg.id == SHIC_BUS_SPAWN)
        s_spawn (self, &msg);
    else
        zsys_error ("supervisor: unexpected '%s' from the gateway", shic_bus_command (msg.id));
    shic_bus_reset (&msg);
}

static void
s_handle_child (self_t *self, s_child_t *child)
{
    shic_bus_t msg = { 0 };
    if (shic_bus_recv (&msg, child->actor, SHIC_BUS_ROLE_SUPERVISOR) != 0)
        return;
    if (msg.id == SHIC_BUS_EXITED) {
        //  The restart policy decides
        int64_t retry_after = 0;
        int64_t delay = shic_restart_policy_on_exit (child->policy, zclock_mono (),
                                                     msg.uptime_ms, &retry_after);
        shic_bus_t reply = { .id = SHIC_BUS_RESTART, .delay_ms = delay,
                             .restarts = shic_restart_policy_restarts (child->policy) };
        if (delay < 0) {
            reply.id = SHIC_BUS_FAIL;
            reply.delay_ms = 0;
            reply.retry_after_ms = retry_after;
            shic_restart_policy_reset (child->policy);
        }
        shic_bus_send (child->actor, &reply);
    }
    else
    if (msg.id == SHIC_BUS_DONE) {
        zlistx_delete (self->children, child->handle);
        s_child_destroy (&child);
        s_backends_reap (self);
    }
    else
        zsys_error ("supervisor: unexpected '%s' from an instance", shic_bus_command (msg.id));
    shic_bus_reset (&msg);
}

//  The poll set: the pipe, the gateway, then every instance actor
static int
s_poll_set (self_t *self)
{
    size_t count = 2 + zlistx_size (self->children);
    if (count > self->items_max) {
        self->items_max = count * 2;
        self->items = (zmq_pollitem_t *) realloc (self->items, self->items_max * sizeof (zmq_pollitem_t));
        self->polled = (s_child_t **) realloc (self->polled, self->items_max * sizeof (s_child_t *));
        assert (self->items && self->polled);
    }
    self->items [0] = (zmq_pollitem_t) { zsock_resolve (self->pipe), 0, ZMQ_POLLIN, 0 };
    self->items [1] = (zmq_pollitem_t) { zsock_resolve (self->gateway), 0, ZMQ_POLLIN, 0 };
    size_t index = 2;
    s_child_t *child = (s_child_t *) zlistx_first (self->children);
    while (child) {
        self->polled [index - 2] = child;
        self->items [index++] = (zmq_pollitem_t) { zsock_resolve (child->actor), 0, ZMQ_POLLIN, 0 };
        child = (s_child_t *) zlistx_next (self->children);
    }
    return (int) count;
}

void
shic_supervisor_actor (zsock_t *pipe, void *args)
{
    self_t *self = s_self_new (pipe, (const shic_settings_t *) args);
    zsock_signal (pipe, 0);
#ifdef __linux__
    pthread_setname_np (pthread_self (), "shic-supervisor");
#endif
    //  Start-up happens after the handshake; its outcome reaches the facade
    int rc = s_self_start (self);
    shic_bus_send (pipe, &(shic_bus_t) { .id = SHIC_BUS_STARTUP, .rc = rc });
    if (rc != 0)
        //  Wait for $TERM so the facade's destroy completes
        shic_bus_wait_term (pipe, SHIC_BUS_ROLE_SUPERVISOR);

    while (rc == 0 && !self->terminated) {
        int count = s_poll_set (self);
        if (shic_poll (self->items, count, -1) == -1)
            break;
        if (self->items [0].revents & ZMQ_POLLIN)
            s_handle_pipe (self);
        if (self->terminated)
            break;
        if (self->items [1].revents & ZMQ_POLLIN)
            s_handle_gateway (self);
        for (int index = 2; index < count; index++)
            if (self->items [index].revents & ZMQ_POLLIN)
                s_handle_child (self, self->polled [index - 2]);
    }
    s_self_destroy (&self);
}
