/*  =========================================================================
    shic - the self-hosted inference core: public API for embedding hosts

    A runtime (shic_runtime_t) is a tree of czmq actors under a supervisor.
    Backends are registered through an ops table (shic_backend_ops_t). Every
    caller, in-process or remote, talks to the runtime through the wire
    protocol of wire.md; in-process callers use shic_client_t on the
    runtime's inproc endpoint (see shic_client.h).
    =========================================================================
*/

#ifndef SHIC_H_INCLUDED
#define SHIC_H_INCLUDED

#define SHIC_VERSION_MAJOR 0
#define SHIC_VERSION_MINOR 1
#define SHIC_VERSION_PATCH 0
#define SHIC_VERSION "0.1.0"

#include <czmq.h>
#if CZMQ_VERSION < 40200
#   error "shic needs czmq 4.2 or later"
#endif
#include "shic_val.h"
#include "shic_error.h"
#include "shic_json.h"
#include "shic_wire.h"
#include "shic_contract.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _shic_runtime_t shic_runtime_t;

//  ---------------------------------------------------------------------------
//  Backends

//  What a backend sees of one runtime instance. The kernel calls the probe
//  and output callbacks in that instance's own actor thread, one at a time.
typedef struct {
    const char *instance_id;        //  the instance id (= the plan's instance_key)
    const shic_val_t *plan;         //  the normalized StartupPlan, borrowed
    void *backend;                  //  the backend's state from init; read only here
    void *state;                    //  per-instance state the backend may set;
                                    //  the backend frees it in shutdown
    int port;                       //  spawned: the service's port when known
                                    //  (set by the backend, e.g. from a log line);
                                    //  kept across restarts
    int pid;                        //  spawned: the live process id, or 0
    int64_t started_at_ms;          //  monotonic time the current process started
    bool verbose;                   //  log probes
    //  Publishes an instance.progress event (e.g. bytes of a model pull)
    //  with body_p's map plus the instance id; takes ownership of *body_p.
    //  Set by the kernel; callable from the probe callbacks.
    void (*progress) (void *kernel, shic_val_t **body_p);
    void *kernel;                   //  the kernel's handle for progress
} shic_instance_ctx_t;

//  Results of probe_readiness
#define SHIC_PROBE_PENDING   0      //  not ready yet; probe again later
#define SHIC_PROBE_READY     1      //  ready; *fields_p holds endpoint fields
#define SHIC_PROBE_FAILED   -1      //  gave up; err says why

//  Results of health_check
#define SHIC_HEALTH_IS_HEALTHY      0
#define SHIC_HEALTH_IS_DEGRADED     1
#define SHIC_HEALTH_IS_UNAVAILABLE  2

//  Output streams for on_output_line
#define SHIC_STDOUT 1
#define SHIC_STDERR 2

//  The backend ops table. name, manifest and startup_plan are required; the
//  rest may be NULL. Functions that take the backend state alone (manifest,
//  startup_plan) may run in any kernel thread and must only read it.
typedef struct {
    const char *name;               //  backend id, e.g. "llama_cpp"

    //  Called once in the backend's actor at registration. config is the
    //  backend's configuration section (borrowed, may be NULL). Sets
    //  *state_p; returns 0, or -1 with err set (registration fails).
    int (*init) (zconfig_t *config, void **state_p, shic_error_t *err);

    //  Called once after every instance of the backend has ended.
    void (*destroy) (void **state_p);

    //  A fresh BackendManifest map (shic_backend_manifest_normalize fields).
    shic_val_t *(*manifest) (void *state);

    //  A fresh StartupPlan map built from a normalized InstanceSpec: pure,
    //  cheap and deterministic (same spec, same instance_key). trusted is
    //  true for the embedding host's own inproc clients and false for
    //  network clients, which may only choose what the configuration allows
    //  (SHIC_E_FORBIDDEN otherwise). On error returns NULL with err set
    //  (typically invalid_backend_options or forbidden).
    shic_val_t *(*startup_plan) (void *state, const shic_val_t *spec, bool trusted,
                                 shic_error_t *err);

    //  Readiness probe while starting: SHIC_PROBE_PENDING, or
    //  SHIC_PROBE_READY with *fields_p set to a fresh map of endpoint fields
    //  (at least base_url unless the plan's endpoint_template has it), or
    //  SHIC_PROBE_FAILED with err set. Must bound its own time (HTTP
    //  timeouts of a few hundred ms).
    int (*probe_readiness) (shic_instance_ctx_t *ctx, shic_val_t **fields_p,
                            shic_error_t *err);

    //  Health check while ready: a SHIC_HEALTH_IS_* value. *details_p may be
    //  set to a fresh map describing what was seen (published with
    //  instance.health events).
    int (*health_check) (shic_instance_ctx_t *ctx, shic_val_t **details_p);

    //  One line of the spawned service's output, without its newline.
    //  Return 1 to have readiness probed at once, else 0.
    int (*on_output_line) (shic_instance_ctx_t *ctx, int stream, const char *line);

    //  The instance is ending (stop, failure, runtime shutdown), called
    //  before the kernel stops its process: free ctx->state here.
    void (*shutdown) (shic_instance_ctx_t *ctx);

    //  The models it can serve (op list_models), a fresh array of maps
    //  {name, source? (a file path, an Ollama tag, a command's ${MODEL}),
    //  size_bytes? (on disk)}. Reads the state like manifest: a stat is
    //  fine, a request to a server is not. NULL when it cannot tell (the
    //  models are "unknown"). May be NULL.
    shic_val_t *(*models) (void *state);
} shic_backend_ops_t;

//  ---------------------------------------------------------------------------
//  Runtime

//  Creates a runtime and starts its supervisor, gateway and lease pool.
//  config is borrowed (NULL = defaults); keys are read from section
//  "runtime" and, failing that, "shicd":
//      max_leases = 4096           cap on live leases (capacity error past it)
//      max_instances = 256         cap on live instances
//      lease_spare = 32            lease actors kept ready ahead of demand
//      client_timeout_ms = 30000   untimed leases of a silent remote client end
//      inproc_client_timeout = 0   1 = apply client_timeout_ms to inproc clients too
//      retention_ms = 30000        how long stopped and failed instances stay listed
//      start_failure_hold_ms = 1000  a start failure answers later callers this long
//      max_frame = 1048576         largest request body
//  plus the restart policy keys (see shic_restart_policy.h).
//  Returns NULL on failure (logged), among them limits that do not fit
//  the descriptor limit (see shic_runtime_check_limits).
SHIC_EXPORT shic_runtime_t *shic_runtime_new (zconfig_t *config);

//  Stops every instance (spawned services are stopped), every lease and
//  backend, in reverse order of start; no-op on NULL; nulls *self_p.
SHIC_EXPORT void shic_runtime_destroy (shic_runtime_t **self_p);

//  Registers a backend under ops->name: shic_runtime_register_as with
//  that name.
SHIC_EXPORT int shic_runtime_register (shic_runtime_t *self, const shic_backend_ops_t *ops,
                                       zconfig_t *config, shic_error_t *err);

//  Registers a backend under name (any table under any name, e.g. one per
//  configuration section): starts its actor, which calls ops->init with
//  config (borrowed; may be NULL). The kernel renames what the table says
//  of itself: the manifest's backend (which must be ops->name) becomes
//  name, and plan instance keys that start with "<ops->name>:" start with
//  "<name>:" instead, so two registrations of one table never share
//  instances. ops and config must stay valid while registered. Returns 0,
//  or -1 with err (may be NULL) set.
SHIC_EXPORT int shic_runtime_register_as (shic_runtime_t *self, const char *name,
                                          const shic_backend_ops_t *ops, zconfig_t *config,
                                          shic_error_t *err);

//  Unregisters a backend: its instances are stopped first. Returns 0, or -1
//  when no such backend is registered.
SHIC_EXPORT int shic_runtime_unregister (shic_runtime_t *self, const char *backend);

//  Whether the runtime still uses the backend registered with config (the
//  pointer given to shic_runtime_register_as): registered, or unregistered
//  while its instances still end. Once it says 0, nothing of the runtime
//  reads that config or its ops table any more: the host may free them
//  (and unload a plugin). Returns 1 used, 0 not, -1 when the runtime did
//  not answer or config is NULL (then keep them).
SHIC_EXPORT int shic_runtime_backend_held (shic_runtime_t *self, zconfig_t *config);

//  The inproc endpoint of the trusted gateway socket (wire protocol)
SHIC_EXPORT const char *shic_runtime_endpoint (shic_runtime_t *self);

//  Reads the memory pools of config (runtime/resources, else
//  shicd/resources, else this machine's RAM and GPUs) as shic_runtime_new
//  will. Returns 0, or -1 with err set (details.field names the key).
SHIC_EXPORT int shic_runtime_check_resources (zconfig_t *config, shic_error_t *err);

//  Whether the control endpoint of config (runtime/control, else
//  shicd/control: ipc://PATH) can be bound: a socket file left at PATH by
//  a daemon that was killed is removed (nobody listens on it); a live
//  listener there (another daemon) or a file that is not a socket is
//  refused, -1 with err (details.field names the key). The runtime makes
//  the same check before it binds, so it never takes a live daemon's
//  socket; this one lets a host say why before it starts. 0 when free or
//  not configured.
SHIC_EXPORT int shic_runtime_check_control (zconfig_t *config, shic_error_t *err);

//  Whether the file at path is a GGUF model whose header placement can
//  read (as llama_cpp's footprint estimate will). Returns 0, or -1 with err
//  set (the file is missing, unreadable, not GGUF or cut short).
SHIC_EXPORT int shic_runtime_check_model (const char *path, shic_error_t *err);

//  Raises RLIMIT_NOFILE to its hard limit (shic_init) and checks that the
//  limits of config (max_leases, lease_spare, max_instances) fit it and
//  czmq's socket cap, as shic_runtime_new will (which returns NULL when
//  they do not; a max_leases left to its default is lowered to fit).
//  Returns 0, or -1 with err set (details.field names the key).
SHIC_EXPORT int shic_runtime_check_limits (zconfig_t *config, shic_error_t *err);

//  Whether name is a valid cluster node name: 1 to 63 of [A-Za-z0-9_-] (a
//  '.' would mix with the "<node>." of the ids a node gives out). One rule
//  for shicd's check of cluster/node and for what nodes read from etcd and
//  from each other.
SHIC_EXPORT bool shic_cluster_node_valid (const char *name);

//  The inproc endpoint of the events PUB socket
SHIC_EXPORT const char *shic_runtime_events_endpoint (shic_runtime_t *self);

//  Binds the untrusted (network) gateway and the events socket to extra
//  endpoints, e.g. "tcp://127.0.0.1:5590". Returns the bound port for tcp
//  endpoints with a wildcard port, 0 for others, -1 on error.
SHIC_EXPORT int shic_runtime_bind_gateway (shic_runtime_t *self, const char *endpoint);
SHIC_EXPORT int shic_runtime_bind_events (shic_runtime_t *self, const char *endpoint);

//  Requires CURVE (ZeroMQ's own encryption and authentication) on the
//  network gateway: server_cert is a czmq certificate file holding the
//  server's secret key; clients_dir holds the public certificates of the
//  clients allowed to connect (an allow-list; others get no answer). Call
//  before shic_runtime_bind_gateway. One CURVE runtime per process (ZAP is
//  process-wide). Returns 0, or -1 (logged) when a file cannot be loaded.
SHIC_EXPORT int shic_runtime_set_curve (shic_runtime_t *self, const char *server_cert,
                                        const char *clients_dir);

//  ---------------------------------------------------------------------------
//  Host calls: ops the host answers on its own thread

//  Has the host answer ops (a NULL-terminated list of wire op names; the
//  runtime knows "reload") rather than the runtime. A trusted client's
//  request for one (the host's inproc clients, shicd's control socket;
//  network clients are answered forbidden) then waits, holding up nothing
//  else, until the host answers it with shic_runtime_host_answer, or 120 s
//  (await_timeout). Without this call such an op is answered forbidden.
//  Once per runtime. Returns the socket to poll from the host's thread
//  (owned by the runtime; readable when a call waits), or NULL (logged).
SHIC_EXPORT zsock_t *shic_runtime_host_calls (shic_runtime_t *self, const char *const *ops);

//  The next waiting call, without waiting: 0 with *ticket, *op_p (fresh)
//  and *args_p (fresh map; {} when the request had none) set, or -1 when
//  none waits.
SHIC_EXPORT int shic_runtime_host_recv (shic_runtime_t *self, int64_t *ticket, char **op_p,
                                        shic_val_t **args_p);

//  Answers the call of ticket: with err when err->code is set, else with
//  *result_p (taken, a map; NULL for {}). Returns 0 / -1.
SHIC_EXPORT int shic_runtime_host_answer (shic_runtime_t *self, int64_t ticket,
                                          shic_val_t **result_p, const shic_error_t *err);

//  Raises process limits (czmq's socket cap, RLIMIT_NOFILE) for max_leases
//  lease actors. shic_runtime_new calls it; a host that creates czmq sockets
//  before its first runtime must call it earlier, before any socket exists.
SHIC_EXPORT void shic_init (size_t max_leases);

#ifdef __cplusplus
}
#endif

#include "shic_client.h"

#endif
