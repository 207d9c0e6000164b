/*  =========================================================================
    shic_runtime - the embedding API: a runtime is a supervisor actor

    shic_runtime_new starts the supervisor, which starts the gateway and the
    lease pool; the facade talks to the supervisor over its pipe with a
    deadline on every wait.
    =========================================================================
*/

#include "shic_actors.h"
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include "shic_pools.h"
#include "shic_gguf.h"

struct _shic_runtime_t {
    zactor_t *supervisor;           //  the root actor
    shic_settings_t *settings;      //  read-only for every actor; freed last
    zsock_t *host;                  //  DEALER "H" on the bus: the calls the
                                    //  host answers (host thread), or NULL
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

//  --------------------------------------------------------------------------
//  Do the configured limits fit the descriptors and sockets we may have?
//  Measured: a lease actor costs 2 descriptors (its pipe's two mailboxes)
//  and 2 sockets; an instance about 8 descriptors (its actor's pipe and
//  bus socket, the service's stdout, stderr and pidfd, health checks);
//  the runtime itself about 20, and network clients, backends' HTTP and
//  the CLI need room beyond that.

#define FDS_BASE            320     //  the runtime, clients, HTTP: headroom
#define FDS_PER_LEASE       2
#define FDS_PER_INSTANCE    8
#define SOCKETS_BASE        256
#define SOCKETS_PER_LEASE   2
#define SOCKETS_PER_INSTANCE 4

static size_t
s_fds_needed (size_t max_leases, size_t lease_spare, size_t max_instances)
{
    return FDS_BASE + FDS_PER_LEASE * (max_leases + lease_spare)
         + FDS_PER_INSTANCE * max_instances;
}

//  The key a limit was configured under ("runtime/KEY" or "shicd/KEY"),
//  or NULL when it was left to its default
static const char *
s_configured (zconfig_t *config, const char *key)
{
    static char path [64];
    const char *sections [] = { "runtime", "shicd" };
    for (int i = 0; i < 2 && config; i++) {
        snprintf (path, sizeof (path), "%s/%s", sections [i], key);
        if (zconfig_locate (config, path))
            return path;
    }
    return NULL;
}

//  Checks settings against RLIMIT_NOFILE (raised to the hard limit by
//  shic_init) and czmq's socket cap. A default max_leases that does not
//  fit is lowered to what fits (logged); a configured one is refused:
//  -1 with err naming the key (details.field)
static int
s_check_limits (shic_settings_t *settings, zconfig_t *config, shic_error_t *err)
{
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit) != 0)
        return 0;
    size_t fds = limit.rlim_cur == RLIM_INFINITY? SIZE_MAX: (size_t) limit.rlim_cur;
    int max_sockets = zmq_ctx_get (zsys_init (), ZMQ_MAX_SOCKETS);
    size_t sockets = max_sockets > 0? (size_t) max_sockets: SIZE_MAX;
    size_t spare = settings->lease_spare, instances = settings->max_instances;
    size_t fixed_fds = FDS_BASE + FDS_PER_INSTANCE * instances + FDS_PER_LEASE * spare;
    size_t fixed_sockets = SOCKETS_BASE + SOCKETS_PER_INSTANCE * instances
                         + SOCKETS_PER_LEASE * spare;
    size_t fit_fds = fds > fixed_fds? (fds - fixed_fds) / FDS_PER_LEASE: 0;
    size_t fit_sockets = sockets > fixed_sockets? (sockets - fixed_sockets) / SOCKETS_PER_LEASE: 0;
    size_t fit = fit_fds < fit_sockets? fit_fds: fit_sockets;
    if (settings->max_leases <= fit)
        return 0;
    const char *key = s_configured (config, "max_leases");
    if (!key && fit >= 1) {
        zsys_warning ("runtime: max_leases lowered from %zu to %zu: the descriptor limit is %zu "
                      "and czmq's socket cap %zu", settings->max_leases, fit, fds, sockets);
        settings->max_leases = fit;
        return 0;
    }
    if (!key)
        key = s_configured (config, "lease_spare");
    if (!key)
        key = s_configured (config, "max_instances");
    if (!key)
        key = "max_leases";
    shic_val_t *details = shic_val_new_map ();
    shic_val_set_str (details, "field", key);
    shic_val_set_int (details, "descriptors", (int64_t) s_fds_needed (settings->max_leases, spare,
                                                                     instances));
    shic_val_set_int (details, "descriptor_limit", fds == SIZE_MAX? -1: (int64_t) fds);
    shic_error_set (err, SHIC_E_INVALID_ARGS, &details,
                    "max_leases %zu, lease_spare %zu and max_instances %zu need %zu descriptors "
                    "and %zu sockets; the limit is %zu descriptors (RLIMIT_NOFILE, raised to "
                    "its hard limit) and %zu sockets: at most %zu leases fit",
                    settings->max_leases, spare, instances,
                    s_fds_needed (settings->max_leases, spare, instances),
                    fixed_sockets + SOCKETS_PER_LEASE * settings->max_leases, fds, sockets, fit);
    return -1;
}

int
shic_runtime_check_limits (zconfig_t *config, shic_error_t *err)
{
    shic_settings_t settings;
    shic_settings_load (&settings, config);
    shic_init (settings.max_leases + settings.lease_spare);
    return s_check_limits (&settings, config, err);
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
    shic_init (self->settings->max_leases + self->settings->lease_spare);
    if (s_check_limits (self->settings, config, &err) != 0) {
        zsys_error ("runtime: %s: %s", shic_val_str (shic_val_get (err.details, "field")),
                    err.message);
        shic_error_clear (&err);
        shic_runtime_destroy (&self);
        return NULL;
    }
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

//  --------------------------------------------------------------------------
//  The control socket's file. libzmq's ipc bind unlinks whatever lies at
//  its path first, so a second daemon given the same path would take the
//  socket from a live one (left running and unreachable) and remove the
//  file when it ends. The path is claimed before the bind: a socket file
//  nobody listens on (its daemon was killed before it could remove it) is
//  removed; a live listener, or a file that is not a socket, is refused.

int
shic_control_claim (const char *endpoint, shic_error_t *err)
{
    if (!endpoint || !*endpoint)
        return 0;
    if (strncmp (endpoint, "ipc://", 6) || !endpoint [6]) {
        shic_error_set (err, SHIC_E_INVALID_ARGS, NULL, "'%s' is not ipc://PATH", endpoint);
        return -1;
    }
    const char *path = endpoint + 6;
    if (*path == '@')
        return 0;                   //  abstract: no file; a live name fails the bind
    struct sockaddr_un address;
    memset (&address, 0, sizeof (address));
    address.sun_family = AF_UNIX;
    if (strlen (path) >= sizeof (address.sun_path)) {
        shic_error_set (err, SHIC_E_INVALID_ARGS, NULL, "the path %s is longer than %zu bytes",
                        path, sizeof (address.sun_path) - 1);
        return -1;
    }
    memcpy (address.sun_path, path, strlen (path));
    struct stat info;
    if (lstat (path, &info) != 0) {
        if (errno == ENOENT)
            return 0;
        shic_error_set (err, SHIC_E_INVALID_ARGS, NULL, "%s: %s", path, strerror (errno));
        return -1;
    }
    if (!S_ISSOCK (info.st_mode)) {
        shic_error_set (err, SHIC_E_INVALID_ARGS, NULL,
                        "%s exists and is not a socket (left as it is)", path);
        return -1;
    }
    //  Non-blocking: a listener whose backlog is full answers EAGAIN
    int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        shic_error_set (err, SHIC_E_INTERNAL, NULL, "socket: %s", strerror (errno));
        return -1;
    }
    int rc = connect (fd, (struct sockaddr *) &address, sizeof (address));
    int error = rc == 0? 0: errno;
    close (fd);
    if (rc == 0 || error == EAGAIN || error == EINPROGRESS) {
        shic_error_set (err, SHIC_E_INVALID_ARGS, NULL,
                        "%s is in use: a live process listens on it (another shicd?); stop "
                        "it, or give this one another control path", path);
        return -1;
    }
    if (error != ECONNREFUSED) {
        shic_error_set (err, SHIC_E_INVALID_ARGS, NULL, "cannot tell whether %s is in use: %s",
                        path, strerror (error));
        return -1;
    }
    if (unlink (path) != 0 && errno != ENOENT) {
        shic_error_set (err, SHIC_E_INVALID_ARGS, NULL, "cannot remove the stale socket %s: %s",
                        path, strerror (errno));
        return -1;
    }
    zsys_info ("runtime: removed the stale control socket %s (nobody listened on it)", path);
    return 0;
}

int
shic_runtime_check_control (zconfig_t *config, shic_error_t *err)
{
    const char *key = config && zconfig_locate (config, "runtime/control")? "runtime/control"
                                                                          : "shicd/control";
    const char *endpoint = config? zconfig_get (config, key, ""): "";
    if (shic_control_claim (endpoint, err) == 0)
        return 0;
    shic_val_t *details = shic_val_new_map ();
    shic_val_set_str (details, "field", key);
    shic_val_set_str (details, "endpoint", endpoint);
    shic_val_destroy (&err->details);
    err->details = details;
    return -1;
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
        zsock_destroy (&self->host);
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
shic_runtime_backend_held (shic_runtime_t *self, zconfig_t *config)
{
    assert (self);
    if (!config)
        return -1;
    return s_ask (self, &(shic_bus_t) { .id = SHIC_BUS_HELD, .config = config }, NULL);
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

//  --------------------------------------------------------------------------
//  Host calls: the ops the host answers on its own thread. The host's
//  DEALER talks to the gateway on the bus as "H"; the gateway parks the
//  client's request and sends CALL, the host answers with ANSWER.

zsock_t *
shic_runtime_host_calls (shic_runtime_t *self, const char *const *ops)
{
    assert (self);
    if (self->host) {
        zsys_error ("runtime: the host takes its calls once per runtime");
        return NULL;
    }
    zsock_t *host = zsock_new (ZMQ_DEALER);
    if (!host)
        return NULL;
    zsock_set_identity (host, "H");
    zsock_set_rcvtimeo (host, FACADE_TIMEOUT_MS);
    zsock_set_sndtimeo (host, FACADE_TIMEOUT_MS);
    shic_val_t *calls = shic_val_new_array ();
    for (size_t index = 0; ops && ops [index]; index++) {
        shic_val_t *name = shic_val_new_str (ops [index]);
        shic_val_push (calls, &name);
    }
    int rc = zsock_connect (host, "%s", self->settings->bus);
    shic_bus_t reply = { 0 };
    if (rc == 0)
        rc = shic_bus_ask (host, &(shic_bus_t) { .id = SHIC_BUS_HOST_CALLS, .calls = calls },
                           SHIC_BUS_ROLE_FACADE, &reply);
    shic_bus_reset (&reply);
    shic_val_destroy (&calls);
    if (rc != 0) {
        zsys_error ("runtime: the gateway did not take the host's calls");
        zsock_destroy (&host);
        return NULL;
    }
    //  From now on a receive never waits: the host polls the socket
    zsock_set_rcvtimeo (host, 0);
    self->host = host;
    return host;
}

int
shic_runtime_host_recv (shic_runtime_t *self, int64_t *ticket, char **op_p, shic_val_t **args_p)
{
    assert (self);
    assert (ticket && op_p && args_p);
    if (!self->host)
        return -1;
    shic_bus_t msg = { 0 };
    int rc;
    //  Nothing but CALL comes to the host (a refused message is logged)
    while ((rc = shic_bus_recv (&msg, self->host, SHIC_BUS_ROLE_FACADE)) == -2)
        ;
    if (rc == 0 && msg.id == SHIC_BUS_CALL) {
        *ticket = msg.ticket;
        *op_p = strdup (msg.op);
        *args_p = shic_bus_take (&msg, &msg.args);
        shic_bus_reset (&msg);
        return 0;
    }
    shic_bus_reset (&msg);
    return -1;
}

int
shic_runtime_host_answer (shic_runtime_t *self, int64_t ticket, shic_val_t **result_p,
                          const shic_error_t *err)
{
    assert (self);
    shic_val_t *result = result_p? *result_p: NULL;
    if (result_p)
        *result_p = NULL;
    if (!self->host) {
        shic_val_destroy (&result);
        return -1;
    }
    shic_val_t *error = err && err->code? shic_error_to_val (err): NULL;
    if (!error && !result)
        result = shic_val_new_map ();
    int rc = shic_bus_send (self->host, &(shic_bus_t) { .id = SHIC_BUS_ANSWER, .ticket = ticket,
                                                        .result = error? NULL: result,
                                                        .error = error });
    shic_val_destroy (&error);
    shic_val_destroy (&result);
    return rc;
}
