/*  =========================================================================
    shic_runtime - the embedding API: a runtime is a supervisor actor

    shic_runtime_new starts the supervisor, which starts the gateway and the
    lease pool; the facade talks to the supervisor over its pipe with a
    deadline on every wait.
    =========================================================================
*/

#include "shic_actors.h"
#include <sys/resource.h>
#include "shic_pools.h"
#include "shic_gguf.h"

struct _shic_runtime_t {
    zactor_t *supervisor;           //  the root actor
    shic_settings_t *settings;      //  read-only for every actor; freed last
};

//  Replies from the supervisor never take long: it never waits on a child
//  for more than a short, bounded time
#define FACADE_TIMEOUT_MS 30000

static size_t s_init_max_leases = 0;

//  Sends a request to the supervisor and waits for its REPLY. Returns its
//  rc, or -1 when none came; *message_p (when not NULL) gets a fresh copy
//  of its message, or of why there was none
static int
s_ask (shic_runtime_t *self, const shic_bus_t *request, char **message_p)
{
    shic_bus_t reply = { 0 };
    int rc = shic_bus_ask (self->supervisor, request, SHIC_BUS_ROLE_FACADE, &reply);
    if (message_p && (reply.message || reply.id != SHIC_BUS_REPLY))
        *message_p = strdup (reply.message? reply.message: "the supervisor did not answer");
    shic_bus_reset (&reply);
    return rc;
}

int
shic_poll (zmq_pollitem_t *items, int count, int64_t timeout_ms)
{
    long timeout = timeout_ms < 0? -1: timeout_ms > INT_MAX? INT_MAX: (long) timeout_ms;
    int rc = zmq_poll (items, count, timeout);
    if (rc == -1 && errno == EINTR) {
        for (int index = 0; index < count; index++)
            items [index].revents = 0;
        rc = 0;
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  Raise czmq's socket cap and the fd limit for max_leases lease actors
//  (3 sockets and 3 fds each). Only the first call can change the socket
//  cap: czmq allows it before any socket exists.

void
shic_init (size_t max_leases)
{
    static bool initialised = false;
    if (max_leases > s_init_max_leases)
        s_init_max_leases = max_leases;
    if (initialised)
        return;
    initialised = true;
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit (RLIMIT_NOFILE, &limit);
    }
    size_t wanted = 3 * (max_leases + 64) + 1024;
    size_t cap = zsys_socket_limit ();
    zsys_set_max_sockets (wanted < cap? wanted: cap);
    //  Actors only exit on $TERM; SIGINT handling is the host's business
    zsys_set_linger (0);
}

shic_runtime_t *
shic_runtime_new (zconfig_t *config)
{
    shic_runtime_t *self = (shic_runtime_t *) zmalloc (sizeof (shic_runtime_t));
    if (!self)
        return NULL;
    self->settings = (shic_settings_t *) zmalloc (sizeof (shic_settings_t));
    if (!self->settings) {
        free (self);
        return NULL;
    }
    shic_settings_load (self->settings, config);
    //  The memory pools: configured, or this machine's RAM and GPUs
    self->settings->pools = shic_pools_new ();
    shic_error_t err = { 0 };
    if (shic_pools_load (self->settings->pools, config, &err) != 0) {
        zsys_error ("runtime: %s", err.message? err.message: "bad memory pools");
        shic_error_clear (&err);
        shic_runtime_destroy (&self);
        return NULL;
    }
    shic_init (self->settings->max_leases);
    self->supervisor = zactor_new (shic_supervisor_actor, self->settings);
    if (self->supervisor) {
        //  The supervisor reports whether its children started
        zsock_set_rcvtimeo (self->supervisor, FACADE_TIMEOUT_MS);
        shic_bus_t startup = { 0 };
        bool ok = shic_bus_recv (&startup, self->supervisor, SHIC_BUS_ROLE_FACADE) == 0
               && startup.id == SHIC_BUS_STARTUP && startup.rc == 0;
        shic_bus_reset (&startup);
        if (ok)
            return self;
        zsys_error ("runtime: supervisor did not start");
    }
    shic_runtime_destroy (&self);
    return NULL;
}

int
shic_runtime_check_resources (zconfig_t *config, shic_error_t *err)
{
    shic_pools_t *pools = shic_pools_new ();
    int rc = shic_pools_load (pools, config, err);
    shic_pools_destroy (&pools);
    return rc;
}

int
shic_runtime_check_model (const char *path, shic_error_t *err)
{
    shic_gguf_t *gguf = shic_gguf_new (path, err);
    int rc = gguf? 0: -1;
    shic_gguf_destroy (&gguf);
    return rc;
}

void
shic_runtime_destroy (shic_runtime_t **self_p)
{
    assert (self_p);
    shic_runtime_t *self = *self_p;
    if (self) {
        zactor_destroy (&self->supervisor);
        shic_pools_destroy (&self->settings->pools);
        free (self->settings);
        free (self);
        *self_p = NULL;
    }
}

int
shic_runtime_register (shic_runtime_t *self, const shic_backend_ops_t *ops,
                       zconfig_t *config, shic_error_t *err)
{
    return shic_runtime_register_as (self, ops? ops->name: NULL, ops, config, err);
}

int
shic_runtime_register_as (shic_runtime_t *self, const char *name, const shic_backend_ops_t *ops,
                          zconfig_t *config, shic_error_t *err)
{
    assert (self);
    if (!name || !*name || !ops || !ops->name || !*ops->name || !ops->manifest
    ||  !ops->startup_plan) {
        if (err)
            shic_error_set (err, SHIC_E_INVALID_ARGS, NULL,
                            "a backend needs a name, manifest and startup_plan");
        return -1;
    }
    //  The name travels beside the table; the supervisor applies it to
    //  the manifest, the gateway to instance keys
    char *message = NULL;
    int rc = s_ask (self, &(shic_bus_t) { .id = SHIC_BUS_REGISTER, .name = name, .ops = ops,
                                          .config = config }, &message);
    if (rc != 0 && err)
        shic_error_set (err, SHIC_E_INTERNAL, NULL, "%s", message? message: "registration failed");
    zstr_free (&message);
    return rc == 0? 0: -1;
}

int
shic_runtime_unregister (shic_runtime_t *self, const char *backend)
{
    assert (self);
    return s_ask (self, &(shic_bus_t) { .id = SHIC_BUS_UNREGISTER, .name = backend? backend: "" },
                  NULL);
}

const char *
shic_runtime_endpoint (shic_runtime_t *self)
{
    return self->settings->gateway;
}

const char *
shic_runtime_events_endpoint (shic_runtime_t *self)
{
    return self->settings->events;
}

static int
s_bind (shic_runtime_t *self, shic_bus_id_t command, const char *endpoint)
{
    return s_ask (self, &(shic_bus_t) { .id = command, .endpoint = endpoint? endpoint: "" }, NULL);
}

int
shic_runtime_bind_gateway (shic_runtime_t *self, const char *endpoint)
{
    return s_bind (self, SHIC_BUS_BIND_GATEWAY, endpoint);
}

int
shic_runtime_set_curve (shic_runtime_t *self, const char *server_cert, const char *clients_dir)
{
    return s_ask (self, &(shic_bus_t) { .id = SHIC_BUS_SET_CURVE, .cert = server_cert? server_cert: "",
                                         .clients = clients_dir? clients_dir: "" }, NULL);
}

int
shic_runtime_bind_events (shic_runtime_t *self, const char *endpoint)
{
    return s_bind (self, SHIC_BUS_BIND_EVENTS, endpoint);
}
