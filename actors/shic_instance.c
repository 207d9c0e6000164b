/*  =========================================================================
    shic_instance - one actor per runtime instance

    Owns the instance's service process (spawned) or nothing (attached),
    runs the backend's readiness probes and health checks in its own thread,
    turns log lines matching the plan's ready_pattern into an immediate
    probe, sees the process exit at once through its pidfd, and asks the
    supervisor what to do after an unexpected exit.

    On the bus, to the gateway:
        STARTED {pid}                     the service process is running
        PROGRESS {progress}               a backend's progress (instance.progress)
        READY {fields, pid}               ready; fields for the endpoint
        FAILED {error}                    start failure before the first ready
        HEALTH {health_status, details?}  health changed
        RESTARTING {exit, delay_ms, restarts}
        GAVE_UP {exit, restarts, retry_after_ms}
        STOPPED {exit}                    stopped on request
    From the gateway:  STOP {}, LOGS {ticket, max_lines, after}
                       -> LOG_LINES {ticket, lines, next}
    To the supervisor (pipe): EXITED {uptime_ms}, DONE {}
    From the supervisor:      RESTART {delay_ms, restarts},
                              FAIL {retry_after_ms, restarts}, STOP {}, $TERM
    Every message is a row of messages/shic_bus.c.
    =========================================================================
*/

#include "shic_actors.h"
#include "shic_footprint.h"
#include <poll.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <limits.h>

#define BLIND_EXIT_POLL_MS 50       //  exit checks when there is no pidfd

typedef enum {
    PHASE_STARTING,                 //  waiting for the first (or next) ready
    PHASE_READY,                    //  ready; health checks run
    PHASE_DECIDING,                 //  exited; waiting for the supervisor
    PHASE_BACKOFF,                  //  restart scheduled
    PHASE_DONE                      //  finished; waiting for $TERM
} phase_t;

typedef struct {
    zsock_t *pipe;                  //  to the supervisor
    zsock_t *bus;                   //  DEALER to the gateway
    shic_instance_args_t *args;     //  what the supervisor gave us, owned
    const shic_backend_ops_t *ops;  //  the backend's ops
    shic_instance_ctx_t ctx;        //  what the backend sees
    shic_proc_t *proc;              //  the service process, or NULL
    const shic_val_t *transport;    //  the plan's transport, or NULL
    const char *ready_pattern;      //  log text that triggers a probe, or NULL
    phase_t phase;                  //  where we are
    bool ever_ready;                //  was ready at least once
    bool shut;                      //  ops->shutdown called
    bool probe_now;                 //  a log line asked for a probe
    int64_t next_probe;             //  monotonic time of the next readiness probe
    int64_t ready_deadline;         //  monotonic readiness deadline
    int64_t next_health;            //  monotonic time of the next health check
    int64_t restart_at;             //  monotonic time of the restart
    int health;                     //  last SHIC_HEALTH_IS_* value
    int unavailable_count;          //  consecutive unavailable checks
    shic_val_t *last_probe;         //  what the last readiness probe said
    shic_val_t *last_exit;          //  the last exit, as a map
    char identity [16];             //  routing id on the bus, "I<seq>"
    bool terminated;                //  $TERM seen
    bool placed;                    //  the plan has resources: its memory counts
    shic_footprint_t measured;      //  buffers the service reported loading
    bool measured_any;              //  it reported at least one
    bool ever_ready_reported;       //  the measured buffers went out
    bool oom;                       //  it said it ran out of memory
    int64_t oom_bytes;              //  what it failed to allocate, 0 unknown
} self_t;

static void s_progress (void *kernel, shic_val_t **body_p);
static void s_stop_process (self_t *self);

//  Takes the args
static self_t *
s_self_new (zsock_t *pipe, shic_instance_args_t *args)
{
    self_t *self = (self_t *) zmalloc (sizeof (self_t));
    assert (self);
    self->pipe = pipe;
    self->args = args;
    self->ops = args->ops;
    self->ctx.instance_id = args->instance_id;
    self->ctx.plan = args->plan;
    self->ctx.backend = args->backend_state;
    self->ctx.verbose = args->settings->verbose;
    self->ctx.progress = s_progress;
    self->ctx.kernel = self;
    self->transport = shic_val_get (args->plan, "transport");
    self->placed = shic_val_size (shic_val_get (args->plan, "resources")) > 0;
    if (shic_val_type (self->transport) != SHIC_VAL_MAP)
        self->transport = NULL;
    self->ready_pattern = self->transport? shic_val_str (shic_val_get (self->transport, "ready_pattern")): NULL;
    snprintf (self->identity, sizeof (self->identity), "I%d", args->seq);
    self->bus = zsock_new (ZMQ_DEALER);
    assert (self->bus);
    zsock_set_identity (self->bus, self->identity);
    zsock_set_sndtimeo (self->bus, 1000);
    int rc = zsock_connect (self->bus, "%s", args->settings->bus);
    assert (rc == 0);
    return self;
}

//  Whatever still runs is stopped
static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (!self)
        return;
    if (self->phase != PHASE_DONE) {
        if (!self->shut && self->ops->shutdown)
            self->ops->shutdown (&self->ctx);
        s_stop_process (self);
    }
    shic_proc_destroy (&self->proc);
    zsock_destroy (&self->bus);
    shic_val_destroy (&self->last_probe);
    shic_val_destroy (&self->last_exit);
    shic_val_destroy (&self->args->plan);
    free (self->args->instance_id);
    free (self->args);
    free (self);
    *self_p = NULL;
}

static int64_t
s_plan_int (self_t *self, const char *key)
{
    return shic_val_int (shic_val_get (self->args->plan, key));
}

//  The exit of the process as a map {status, code, signal, stderr_tail}
static shic_val_t *
s_exit_map (self_t *self)
{
    shic_val_t *exit = shic_val_new_map ();
    if (!self->proc)
        return exit;
    int signal = shic_proc_exit_signal (self->proc);
    shic_val_set_str (exit, "status", signal? "signal": "exit");
    if (signal) {
        shic_val_set_nil (exit, "code");
        shic_val_set_int (exit, "signal", signal);
    }
    else {
        shic_val_set_int (exit, "code", shic_proc_exit_code (self->proc));
        shic_val_set_nil (exit, "signal");
    }
    shic_val_set_str (exit, "stderr_tail", shic_proc_stderr_tail (self->proc));
    shic_val_set_int (exit, "at_ms", shic_now_ms ());
    return exit;
}

//  ctx->progress: the backend reports progress of a long start
static void
s_progress (void *kernel, shic_val_t **body_p)
{
    self_t *self = (self_t *) kernel;
    if (shic_val_type (*body_p) == SHIC_VAL_MAP)
        shic_bus_send (self->bus, &(shic_bus_t) { .id = SHIC_BUS_PROGRESS, .progress = *body_p });
    shic_val_destroy (body_p);
}

//  What a loading service says about memory: its buffers (llama-server's
//  "... buffer size = N MiB" lines), and that an allocation failed
static void
s_memory_line (self_t *self, const char *line)
{
    if (shic_footprint_add_line (&self->measured, line) != SHIC_FOOTPRINT_NONE)
        self->measured_any = true;
    if (strstr (line, "failed to allocate") || strstr (line, "out of memory")
    ||  strstr (line, "cudaMalloc failed")) {
        self->oom = true;
        const char *size = strstr (line, "of size ");
        if (size && !self->oom_bytes)
            self->oom_bytes = strtoll (size + 8, NULL, 10);
    }
}

static void
s_on_line (void *arg, int stream, const char *line)
{
    self_t *self = (self_t *) arg;
    if (self->placed && !self->ever_ready)
        s_memory_line (self, line);
    int port = self->ctx.port;
    if (self->ops->on_output_line && self->ops->on_output_line (&self->ctx, stream, line) == 1)
        self->probe_now = true;
    //  The backend just learned the port: the service is bound, so probe at
    //  once. A loading service says "not yet", and the probe that follows
    //  the ready line reuses the connection this one opened
    if (self->ctx.port > 0 && self->ctx.port != port)
        self->probe_now = true;
    if (self->ready_pattern && strstr (line, self->ready_pattern))
        self->probe_now = true;
    if (self->ctx.verbose)
        zsys_debug ("instance[%s]: %s", self->ctx.instance_id, line);
}

//  Reads what the process wrote; returns nothing
static void
s_drain_output (self_t *self)
{
    if (!self->proc)
        return;
    int fd;
    while ((fd = shic_proc_stdout_fd (self->proc)) >= 0
       &&  shic_proc_read (self->proc, fd, s_on_line, self) == 0) {
        struct pollfd item = { fd, POLLIN, 0 };
        if (poll (&item, 1, 0) <= 0)
            break;
    }
    while ((fd = shic_proc_stderr_fd (self->proc)) >= 0
       &&  shic_proc_read (self->proc, fd, s_on_line, self) == 0) {
        struct pollfd item = { fd, POLLIN, 0 };
        if (poll (&item, 1, 0) <= 0)
            break;
    }
}

//  Stops the process: the plan's stop signal (SIGTERM by default) to the
//  group, up to stop_timeout_ms for the exit, then SIGKILL to the group
static void
s_stop_process (self_t *self)
{
    if (!self->proc || !shic_proc_running (self->proc))
        return;
    int timeout = (int) s_plan_int (self, "stop_timeout_ms");
    int signal = (int) shic_val_int (shic_val_get (self->transport, "stop_signal"));
    if (signal > 0 && signal != SIGTERM) {
        //  A signal of the backend's choice first; then the usual sequence
        //  with what is left of the timeout
        int64_t deadline = zclock_mono () + timeout;
        shic_proc_signal (self->proc, signal);
        int pidfd = shic_proc_pidfd (self->proc);
        while (pidfd >= 0 && zclock_mono () < deadline && !shic_proc_reap (self->proc)) {
            struct pollfd item = { pidfd, POLLIN, 0 };
            poll (&item, 1, (int) (deadline - zclock_mono ()));
        }
        timeout = (int) (deadline - zclock_mono ());
        if (timeout < 0)
            timeout = 0;
    }
    if (shic_proc_running (self->proc))
        shic_proc_stop (self->proc, timeout);
}

//  Ends the instance: backend shutdown, then the process
static void
s_finish (self_t *self)
{
    if (!self->shut && self->ops->shutdown)
        self->ops->shutdown (&self->ctx);
    self->shut = true;
    s_stop_process (self);
    self->ctx.pid = 0;
    if (self->phase != PHASE_DONE) {
        self->phase = PHASE_DONE;
        shic_bus_send (self->pipe, &(shic_bus_t) { .id = SHIC_BUS_DONE });
    }
}

static void
s_fail (self_t *self, shic_error_t *err)
{
    shic_val_t *error = shic_error_to_val (err);
    shic_bus_send (self->bus, &(shic_bus_t) { .id = SHIC_BUS_FAILED, .error = error });
    shic_val_destroy (&error);
    s_finish (self);
}

//  Starts (or restarts) the service process; argv items "${PORT}" become
//  the known port (or 0 when none is known yet)
static int
s_start (self_t *self)
{
    self->phase = PHASE_STARTING;
    //  The contract bounds every plan duration (SHIC_DURATION_MAX_MS), so
    //  the sum cannot overflow
    self->ready_deadline = zclock_mono () + s_plan_int (self, "ready_timeout_ms");
    self->next_probe = zclock_mono ();
    self->ctx.started_at_ms = zclock_mono ();
    if (!self->transport)
        return 0;
    const shic_val_t *argv_val = shic_val_get (self->transport, "argv");
    size_t argc = shic_val_size (argv_val);
    char **argv = (char **) zmalloc ((argc + 1) * sizeof (char *));
    char port [16];
    snprintf (port, sizeof (port), "%d", self->ctx.port);
    for (size_t i = 0; i < argc; i++) {
        const char *item = shic_val_str (shic_val_at (argv_val, i));
        argv [i] = strdup (streq (item, "${PORT}")? port: item);
    }
    //  The environment: ours plus the plan's
    const shic_val_t *env_val = shic_val_get (self->transport, "env");
    char **env = NULL;
    if (shic_val_size (env_val) > 0) {
        extern char **environ;
        size_t count = 0;
        while (environ [count])
            count++;
        env = (char **) zmalloc ((count + shic_val_size (env_val) + 1) * sizeof (char *));
        size_t n = 0;
        for (size_t i = 0; i < count; i++)
            env [n++] = strdup (environ [i]);
        for (size_t i = 0; i < shic_val_size (env_val); i++) {
            const char *value = shic_val_str (shic_val_at (env_val, i));
            env [n++] = zsys_sprintf ("%s=%s", shic_val_key_at (env_val, i), value? value: "");
        }
    }
    const char *cwd = shic_val_str (shic_val_get (self->transport, "cwd"));
    if (!self->proc)
        self->proc = shic_proc_new ();
    char *error = NULL;
    int rc = shic_proc_start (self->proc, argv, env, cwd, &error);
    for (size_t i = 0; i < argc; i++)
        free (argv [i]);
    free (argv);
    if (env) {
        for (size_t i = 0; env [i]; i++)
            free (env [i]);
        free (env);
    }
    if (rc != 0) {
        shic_error_t err = { 0 };
        shic_val_t *details = shic_val_new_map ();
        shic_val_set_str (details, "reason", error? error: "start failed");
        shic_error_set (&err, SHIC_E_TRANSPORT_START_FAILED, &details,
                        "the service could not be started: %s", error? error: "?");
        free (error);
        s_fail (self, &err);
        shic_error_clear (&err);
        return -1;
    }
    self->ctx.pid = shic_proc_pid (self->proc);
    shic_bus_send (self->bus, &(shic_bus_t) { .id = SHIC_BUS_STARTED, .pid = self->ctx.pid });
    return 0;
}

//  An exit or breakage we did not ask for, after the first ready: ask the
//  supervisor what to do
static void
s_crashed (self_t *self)
{
    if (self->proc && shic_proc_running (self->proc))
        shic_proc_stop (self->proc, 0);
    shic_val_destroy (&self->last_exit);
    self->last_exit = s_exit_map (self);
    self->ctx.pid = 0;
    self->phase = PHASE_DECIDING;
    shic_bus_send (self->pipe, &(shic_bus_t) { .id = SHIC_BUS_EXITED,
                                               .uptime_ms = zclock_mono () - self->ctx.started_at_ms });
}

static void
s_probe (self_t *self)
{
    self->probe_now = false;
    shic_val_t *fields = NULL;
    shic_error_t err = { 0 };
    int rc = self->ops->probe_readiness
           ? self->ops->probe_readiness (&self->ctx, &fields, &err)
           : SHIC_PROBE_READY;
    if (rc == SHIC_PROBE_READY) {
        self->phase = PHASE_READY;
        self->ever_ready = true;
        self->health = SHIC_HEALTH_IS_HEALTHY;
        self->unavailable_count = 0;
        int64_t interval = s_plan_int (self, "health_interval_ms");
        self->next_health = interval > 0 && self->ops->health_check? zclock_mono () + interval: 0;
        //  Fields that are not a map have nothing for the endpoint
        if (!shic_val_is (fields, SHIC_VAL_MAP)) {
            shic_val_destroy (&fields);
            fields = shic_val_new_map ();
        }
        //  What an attached daemon reports its model holds, or the buffers
        //  a spawned server logged while loading
        shic_val_t *measured = shic_val_take (fields, "memory");
        if (shic_val_type (measured) != SHIC_VAL_MAP)
            shic_val_destroy (&measured);
        if (!measured && self->measured_any && !self->ever_ready_reported) {
            measured = shic_val_new_map ();
            shic_val_set_int (measured, "device_bytes",
                              (int64_t) self->measured.device.total_bytes);
            shic_val_set_int (measured, "host_bytes", (int64_t) self->measured.host.total_bytes);
            self->ever_ready_reported = true;
        }
        shic_bus_send (self->bus, &(shic_bus_t) { .id = SHIC_BUS_READY, .fields = fields,
                                                  .pid = self->ctx.pid, .measured = measured });
        shic_val_destroy (&measured);
#ifdef __GLIBC__
        //  The probe's answers (JSON through jansson and the value tree)
        //  were parsed in this thread's malloc arena; give back what they
        //  left free, or a thousand attached instances each keep it
        malloc_trim (0);
#endif
    }
    else
    if (rc == SHIC_PROBE_FAILED) {
        if (!err.code)
            shic_error_set (&err, SHIC_E_INTERNAL, NULL, "the readiness probe failed");
        if (self->ever_ready)
            s_crashed (self);
        else
            s_fail (self, &err);
    }
    else {
        shic_val_destroy (&self->last_probe);
        self->last_probe = fields? fields: shic_val_new_str ("pending");
        fields = NULL;
        self->next_probe = zclock_mono () + s_plan_int (self, "readiness_interval_ms");
    }
    shic_val_destroy (&fields);
    shic_error_clear (&err);
}

static void
s_health (self_t *self)
{
    shic_val_t *details = NULL;
    int health = self->ops->health_check (&self->ctx, &details);
    self->next_health = zclock_mono () + s_plan_int (self, "health_interval_ms");
    if (health != self->health) {
        self->health = health;
        shic_bus_send (self->bus, &(shic_bus_t) {
            .id = SHIC_BUS_HEALTH, .details = details,
            .health_status = health == SHIC_HEALTH_IS_HEALTHY? SHIC_HEALTH_HEALTHY:
                             health == SHIC_HEALTH_IS_DEGRADED? SHIC_HEALTH_DEGRADED:
                                                                SHIC_HEALTH_UNAVAILABLE });
    }
    shic_val_destroy (&details);
    //  A live but broken spawned service is restarted (contract §6)
    if (health == SHIC_HEALTH_IS_UNAVAILABLE && self->proc) {
        if (++self->unavailable_count >= self->args->settings->liveness_failures) {
            zsys_warning ("instance[%s]: %d unavailable health checks, restarting",
                          self->ctx.instance_id, self->unavailable_count);
            shic_proc_signal (self->proc, SIGKILL);
            self->next_health = 0;
        }
    }
    else
        self->unavailable_count = 0;
}

static void
s_stop (self_t *self)
{
    if (self->phase == PHASE_DONE)
        return;
    if (!self->shut && self->ops->shutdown)
        self->ops->shutdown (&self->ctx);
    self->shut = true;
    s_stop_process (self);
    //  A process that never ran has no exit: nil
    shic_val_t *exit = self->proc && shic_proc_exited (self->proc)? s_exit_map (self): NULL;
    shic_bus_send (self->bus, &(shic_bus_t) { .id = SHIC_BUS_STOPPED, .exit = exit });
    shic_val_destroy (&exit);
    s_finish (self);
}

//  No ready within ready_timeout_ms
static void
s_readiness_timeout (self_t *self)
{
    if (self->ever_ready) {
        s_crashed (self);
        return;
    }
    shic_error_t error = { 0 };
    shic_val_t *details = shic_val_new_map ();
    shic_val_set_dup (details, "last_probe", self->last_probe);
    shic_val_set_int (details, "ready_timeout_ms", s_plan_int (self, "ready_timeout_ms"));
    shic_error_set (&error, SHIC_E_READINESS_TIMEOUT, &details,
                    "the instance was not ready within %lld ms",
                    (long long) s_plan_int (self, "ready_timeout_ms"));
    s_fail (self, &error);
    shic_error_clear (&error);
}

static int
s_timeout (self_t *self)
{
    int64_t now = zclock_mono ();
    int64_t next = -1;
    #define CONSIDER(t) do { if ((t) > 0 && (next < 0 || (t) < next)) next = (t); } while (0)
    if (self->phase == PHASE_STARTING) {
        CONSIDER (self->next_probe);
        CONSIDER (self->ready_deadline);
    }
    else
    if (self->phase == PHASE_READY)
        CONSIDER (self->next_health);
    else
    if (self->phase == PHASE_BACKOFF)
        CONSIDER (self->restart_at);
    #undef CONSIDER
    if (self->probe_now && self->phase == PHASE_STARTING)
        return 0;
    if (next < 0)
        return -1;
    //  A deadline may lie years ahead; poll waits an int of milliseconds
    return next <= now? 0: next - now > INT_MAX? INT_MAX: (int) (next - now);
}

static void
s_handle_pipe (self_t *self)
{
    shic_bus_t msg = { 0 };
    int rc = shic_bus_recv (&msg, self->pipe, SHIC_BUS_ROLE_INSTANCE);
    if (rc == -1 || msg.id == SHIC_BUS_TERM)
        self->terminated = true;
    else
    if (msg.id == SHIC_BUS_STOP)
        s_stop (self);
    else
    if (msg.id == SHIC_BUS_RESTART && self->phase == PHASE_DECIDING) {
        shic_bus_send (self->bus, &(shic_bus_t) { .id = SHIC_BUS_RESTARTING, .exit = self->last_exit,
                                                  .delay_ms = msg.delay_ms,
                                                  .restarts = msg.restarts });
        self->phase = PHASE_BACKOFF;
        self->restart_at = zclock_mono () + msg.delay_ms;
    }
    else
    if (msg.id == SHIC_BUS_FAIL && self->phase == PHASE_DECIDING) {
        shic_bus_send (self->bus, &(shic_bus_t) { .id = SHIC_BUS_GAVE_UP, .exit = self->last_exit,
                                                  .restarts = msg.restarts,
                                                  .retry_after_ms = msg.retry_after_ms });
        s_finish (self);
    }
    shic_bus_reset (&msg);
}

//  LOGS: the service's last output lines (the process keeps them)
static void
s_logs (self_t *self, const shic_bus_t *msg)
{
    shic_val_t *lines = shic_val_new_array ();
    uint64_t next = self->proc? shic_proc_log_next (self->proc): 0;
    uint64_t from = self->proc? shic_proc_log_first (self->proc): 0;
    if (msg->after > 0 && (uint64_t) msg->after > from)
        from = (uint64_t) msg->after;
    if (msg->max_lines >= 0 && next - from > (uint64_t) msg->max_lines)
        from = next - (uint64_t) msg->max_lines;
    for (uint64_t number = from; number < next; number++) {
        shic_val_t *line = shic_val_new_str (shic_proc_log_line (self->proc, number));
        shic_val_push (lines, &line);
    }
    shic_bus_send (self->bus, &(shic_bus_t) { .id = SHIC_BUS_LOG_LINES, .ticket = msg->ticket,
                                              .lines = lines, .next = (int64_t) next });
    shic_val_destroy (&lines);
}

//  From the gateway
static void
s_handle_bus (self_t *self)
{
    shic_bus_t msg = { 0 };
    shic_bus_recv (&msg, self->bus, SHIC_BUS_ROLE_INSTANCE);
    if (msg.id == SHIC_BUS_STOP)
        s_stop (self);
    else
    if (msg.id == SHIC_BUS_LOGS)
        s_logs (self, &msg);
    shic_bus_reset (&msg);
}

//  The process wrote to stdout or stderr
static void
s_handle_output (self_t *self, int fd)
{
    shic_proc_read (self->proc, fd, s_on_line, self);
}

//  The process exited (pidfd readable)
static void
s_handle_exit (self_t *self)
{
    if (!shic_proc_reap (self->proc))
        return;
    s_drain_output (self);
    self->ctx.pid = 0;
    if (self->phase == PHASE_STARTING && !self->ever_ready) {
        shic_val_t *details = s_exit_map (self);
        int code = (int) shic_val_int (shic_val_get (details, "code"));
        int signal = (int) shic_val_int (shic_val_get (details, "signal"));
        if (self->oom) {
            //  Out of memory: said once, with what it tried to take
            shic_val_set_bool (details, "oom", true);
            if (self->oom_bytes > 0)
                shic_val_set_int (details, "requested_bytes", self->oom_bytes);
            else
                shic_val_set_nil (details, "requested_bytes");
        }
        shic_error_t err = { 0 };
        shic_error_set (&err, SHIC_E_BACKEND_EXIT, &details,
                        signal? "the service died by signal %d before it was ready":
                                "the service exited with code %d before it was ready",
                        signal? signal: code);
        s_fail (self, &err);
        shic_error_clear (&err);
    }
    else
    if (self->phase == PHASE_STARTING || self->phase == PHASE_READY)
        s_crashed (self);
}

//  Readiness probes and deadline, health checks, the restart after backoff
static void
s_handle_timers (self_t *self)
{
    int64_t now = zclock_mono ();
    if (self->phase == PHASE_STARTING) {
        if (self->probe_now || now >= self->next_probe)
            s_probe (self);
        if (self->phase == PHASE_STARTING && now >= self->ready_deadline)
            s_readiness_timeout (self);
    }
    else
    if (self->phase == PHASE_READY && self->next_health && now >= self->next_health)
        s_health (self);
    else
    if (self->phase == PHASE_BACKOFF && now >= self->restart_at)
        s_start (self);
}

void
shic_instance_actor (zsock_t *pipe, void *args)
{
    self_t *self = s_self_new (pipe, (shic_instance_args_t *) args);
    zsock_signal (pipe, 0);
#ifdef __linux__
    pthread_setname_np (pthread_self (), self->identity);
#endif
    //  Forked from this thread, which lives as long as the service should:
    //  the parent-death signal is tied to it
    s_start (self);

    while (!self->terminated) {
        //  The pipe, the bus, then the process's output and its pidfd
        zmq_pollitem_t items [5] = {
            { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (self->bus), 0, ZMQ_POLLIN, 0 }
        };
        int count = 2;
        bool watched = self->proc && self->phase != PHASE_DONE;
        //  Without a pidfd (no pidfd_open: Linux before 5.3, valgrind) the
        //  exit wakes nothing: it is looked for every turn, and that often
        bool blind = watched && shic_proc_running (self->proc) && shic_proc_pidfd (self->proc) < 0;
        int fds [3] = {
            watched? shic_proc_stdout_fd (self->proc): -1,
            watched? shic_proc_stderr_fd (self->proc): -1,
            watched? shic_proc_pidfd (self->proc): -1
        };
        for (int index = 0; index < 3; index++)
            if (fds [index] >= 0)
                items [count++] = (zmq_pollitem_t) { NULL, fds [index], ZMQ_POLLIN, 0 };
        int timeout = self->phase == PHASE_DONE? -1: s_timeout (self);
        if (blind && (timeout < 0 || timeout > BLIND_EXIT_POLL_MS))
            timeout = BLIND_EXIT_POLL_MS;
        if (shic_poll (items, count, timeout) == -1)
            break;
        if (items [0].revents & ZMQ_POLLIN)
            s_handle_pipe (self);
        if (self->terminated)
            break;
        if (items [1].revents & ZMQ_POLLIN)
            s_handle_bus (self);
        for (int index = 2; index < count; index++) {
            if (!(items [index].revents & (ZMQ_POLLIN | ZMQ_POLLERR)))
                continue;
            if (items [index].fd != fds [2])
                s_handle_output (self, items [index].fd);
            else
            if (self->phase != PHASE_DONE)
                s_handle_exit (self);
        }
        if (blind && self->phase != PHASE_DONE)
            s_handle_exit (self);
        s_handle_timers (self);
    }
    s_self_destroy (&self);
}
