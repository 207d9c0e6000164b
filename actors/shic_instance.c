/*  =========================================================================
    shic_instance - one actor per runtime instance

    Owns the instance's service process (spawned) or nothing (attached),
    runs the backend's readiness probes and health checks in its own thread,
    turns log lines matching the plan's ready_pattern into an immediate
    probe, sees the process exit at once through its pidfd, and asks the
    supervisor what to do after an unexpected exit.

    On the bus, to the gateway:
        STARTED {pid}                     the service process is running
        PROGRESS {...}                    a backend's progress (instance.progress)
        READY {fields, pid}               ready; fields for the endpoint
        FAILED {error}                    start failure before the first ready
        HEALTH {health_status, details}   health changed
        RESTARTING {exit, delay_ms, restarts}
        GAVE_UP {exit, restarts, retry_after_ms}
        STOPPED {exit}                    stopped on request
    From the gateway:  STOP {}
    To the supervisor (pipe): EXITED {uptime_ms}, DONE
    From the supervisor:      RESTART {delay_ms}, FAIL {retry_after_ms},
                              STOP, $TERM
    =========================================================================
*/

#include "shic_actors.h"
#include "shic_msg.h"
#include <poll.h>
#include <limits.h>

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
} self_t;

static int64_t
s_plan_int (self_t *self, const char *key)
{
    return shic_val_int (shic_val_get (self->args->plan, key));
}

static void
s_send (self_t *self, const char *command, shic_val_t **body_p)
{
    shic_msg_send (self->bus, command, body_p);
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
    if (!*body_p || shic_val_type (*body_p) != SHIC_VAL_MAP) {
        shic_val_destroy (body_p);
        return;
    }
    s_send (self, "PROGRESS", body_p);
}

static void
s_on_line (void *arg, int stream, const char *line)
{
    self_t *self = (self_t *) arg;
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
        zstr_send (self->pipe, "DONE");
    }
}

static void
s_fail (self_t *self, shic_error_t *err)
{
    shic_val_t *body = shic_val_new_map ();
    shic_val_t *error = shic_error_to_val (err);
    shic_val_set (body, "error", &error);
    s_send (self, "FAILED", &body);
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
    shic_val_t *body = shic_val_new_map ();
    shic_val_set_int (body, "pid", self->ctx.pid);
    s_send (self, "STARTED", &body);
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
    shic_val_t *body = shic_val_new_map ();
    shic_val_set_int (body, "uptime_ms", zclock_mono () - self->ctx.started_at_ms);
    shic_msg_send (self->pipe, "EXITED", &body);
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
        shic_val_t *body = shic_val_new_map ();
        if (!fields)
            fields = shic_val_new_map ();
        shic_val_set (body, "fields", &fields);
        shic_val_set_int (body, "pid", self->ctx.pid);
        s_send (self, "READY", &body);
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
        shic_val_t *body = shic_val_new_map ();
        shic_val_set_str (body, "health_status",
                          health == SHIC_HEALTH_IS_HEALTHY? SHIC_HEALTH_HEALTHY:
                          health == SHIC_HEALTH_IS_DEGRADED? SHIC_HEALTH_DEGRADED:
                                                             SHIC_HEALTH_UNAVAILABLE);
        if (details)
            shic_val_set (body, "details", &details);
        s_send (self, "HEALTH", &body);
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

static void
s_stop (self_t *self)
{
    if (self->phase == PHASE_DONE)
        return;
    if (!self->shut && self->ops->shutdown)
        self->ops->shutdown (&self->ctx);
    self->shut = true;
    s_stop_process (self);
    shic_val_t *body = shic_val_new_map ();
    shic_val_t *exit = self->proc && shic_proc_exited (self->proc)? s_exit_map (self): shic_val_new_nil ();
    shic_val_set (body, "exit", &exit);
    s_send (self, "STOPPED", &body);
    s_finish (self);
}

static void
s_handle_pipe (self_t *self, bool *terminated)
{
    char *command = NULL;
    shic_val_t *body = NULL;
    zmsg_t *msg = zmsg_recv (self->pipe);
    if (!msg) {
        *terminated = true;
        return;
    }
    //  $TERM and STOP come as one frame; the others as [command][body]
    if (zmsg_size (msg) == 1) {
        command = zmsg_popstr (msg);
        if (streq (command, "$TERM"))
            *terminated = true;
        else
        if (streq (command, "STOP"))
            s_stop (self);
    }
    else
    if (shic_msg_decode (msg, &command, &body) == 0) {
        if (streq (command, "RESTART") && self->phase == PHASE_DECIDING) {
            int64_t delay = shic_val_int (shic_val_get (body, "delay_ms"));
            shic_val_t *event = shic_val_new_map ();
            shic_val_set_dup (event, "exit", self->last_exit);
            shic_val_set_int (event, "delay_ms", delay);
            shic_val_set_int (event, "restarts", shic_val_int (shic_val_get (body, "restarts")));
            s_send (self, "RESTARTING", &event);
            self->phase = PHASE_BACKOFF;
            self->restart_at = zclock_mono () + delay;
        }
        else
        if (streq (command, "FAIL") && self->phase == PHASE_DECIDING) {
            shic_val_t *event = shic_val_new_map ();
            shic_val_set_dup (event, "exit", self->last_exit);
            shic_val_set_int (event, "restarts", shic_val_int (shic_val_get (body, "restarts")));
            shic_val_set_int (event, "retry_after_ms", shic_val_int (shic_val_get (body, "retry_after_ms")));
            s_send (self, "GAVE_UP", &event);
            s_finish (self);
        }
    }
    zstr_free (&command);
    shic_val_destroy (&body);
    zmsg_destroy (&msg);
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

void
shic_instance_actor (zsock_t *pipe, void *args_)
{
    self_t self = { 0 };
    self.pipe = pipe;
    self.args = (shic_instance_args_t *) args_;
    self.ops = self.args->ops;
    self.ctx.instance_id = self.args->instance_id;
    self.ctx.plan = self.args->plan;
    self.ctx.backend = self.args->backend_state;
    self.ctx.verbose = self.args->settings->verbose;
    self.ctx.progress = s_progress;
    self.ctx.kernel = &self;
    self.transport = shic_val_get (self.args->plan, "transport");
    if (shic_val_type (self.transport) != SHIC_VAL_MAP)
        self.transport = NULL;
    self.ready_pattern = self.transport? shic_val_str (shic_val_get (self.transport, "ready_pattern")): NULL;
    self.bus = zsock_new (ZMQ_DEALER);
    char identity [32];
    snprintf (identity, sizeof (identity), "I%d", self.args->seq);
    zsock_set_identity (self.bus, identity);
    zsock_set_sndtimeo (self.bus, 1000);
    int rc = zsock_connect (self.bus, "%s", self.args->settings->bus);
    assert (rc == 0);
    zsock_signal (pipe, 0);
#ifdef __linux__
    pthread_setname_np (pthread_self (), identity);
#endif
    //  Forked from this thread, which lives as long as the service should:
    //  the parent-death signal is tied to it
    s_start (&self);

    bool terminated = false;
    while (!terminated) {
        zmq_pollitem_t items [5];
        int count = 0;
        items [count++] = (zmq_pollitem_t) { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 };
        items [count++] = (zmq_pollitem_t) { zsock_resolve (self.bus), 0, ZMQ_POLLIN, 0 };
        int pidfd = -1, out = -1, err = -1;
        if (self.proc && self.phase != PHASE_DONE) {
            pidfd = shic_proc_pidfd (self.proc);
            out = shic_proc_stdout_fd (self.proc);
            err = shic_proc_stderr_fd (self.proc);
        }
        int first_fd = count;
        if (out >= 0)
            items [count++] = (zmq_pollitem_t) { NULL, out, ZMQ_POLLIN, 0 };
        if (err >= 0)
            items [count++] = (zmq_pollitem_t) { NULL, err, ZMQ_POLLIN, 0 };
        int pid_item = -1;
        if (pidfd >= 0) {
            pid_item = count;
            items [count++] = (zmq_pollitem_t) { NULL, pidfd, ZMQ_POLLIN, 0 };
        }
        int timeout = self.phase == PHASE_DONE? -1: s_timeout (&self);
        rc = zmq_poll (items, count, timeout);
        if (rc == -1 && errno != EINTR)
            break;
        if (items [0].revents & ZMQ_POLLIN)
            s_handle_pipe (&self, &terminated);
        if (terminated)
            break;
        if (items [1].revents & ZMQ_POLLIN) {
            char *command = NULL;
            shic_val_t *body = NULL;
            if (shic_msg_recv (self.bus, &command, &body) == 0 && streq (command, "STOP"))
                s_stop (&self);
            zstr_free (&command);
            shic_val_destroy (&body);
        }
        for (int i = first_fd; i < count; i++) {
            if (i == pid_item || !(items [i].revents & (ZMQ_POLLIN | ZMQ_POLLERR)))
                continue;
            shic_proc_read (self.proc, items [i].fd, s_on_line, &self);
        }
        if (pid_item >= 0 && (items [pid_item].revents & ZMQ_POLLIN) && self.phase != PHASE_DONE)
            s_handle_exit (&self);

        int64_t now = zclock_mono ();
        if (self.phase == PHASE_STARTING) {
            if (self.probe_now || now >= self.next_probe)
                s_probe (&self);
            if (self.phase == PHASE_STARTING && now >= self.ready_deadline) {
                if (self.ever_ready)
                    s_crashed (&self);
                else {
                    shic_error_t error = { 0 };
                    shic_val_t *details = shic_val_new_map ();
                    shic_val_set_dup (details, "last_probe", self.last_probe);
                    shic_val_set_int (details, "ready_timeout_ms", s_plan_int (&self, "ready_timeout_ms"));
                    shic_error_set (&error, SHIC_E_READINESS_TIMEOUT, &details,
                                    "the instance was not ready within %lld ms",
                                    (long long) s_plan_int (&self, "ready_timeout_ms"));
                    s_fail (&self, &error);
                    shic_error_clear (&error);
                }
            }
        }
        else
        if (self.phase == PHASE_READY && self.next_health && now >= self.next_health)
            s_health (&self);
        else
        if (self.phase == PHASE_BACKOFF && now >= self.restart_at)
            s_start (&self);
    }
    //  $TERM: whatever runs is stopped
    if (self.phase != PHASE_DONE) {
        if (!self.shut && self.ops->shutdown)
            self.ops->shutdown (&self.ctx);
        s_stop_process (&self);
    }
    shic_proc_destroy (&self.proc);
    zsock_destroy (&self.bus);
    shic_val_destroy (&self.last_probe);
    shic_val_destroy (&self.last_exit);
    shic_val_destroy (&self.args->plan);
    free (self.args->instance_id);
    free (self.args);
}
