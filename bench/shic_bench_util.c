/*  =========================================================================
    shic_bench_util - what the benchmark programs share
    =========================================================================
*/

#include "shic_bench_util.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

int64_t
shic_bench_nanos (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int
shic_bench_compare_i64 (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y? -1: x > y;
}

int
shic_bench_compare_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y? -1: x > y;
}

shic_bench_stats_t
shic_bench_stats (int64_t *samples, int count, double unit_ns)
{
    shic_bench_stats_t s = { count, 0, 0, 0, 0 };
    if (count <= 0)
        return s;
    qsort (samples, count, sizeof (int64_t), shic_bench_compare_i64);
    s.p50 = samples [count / 2] / unit_ns;
    s.p99 = samples [(int) (count * 0.99)] / unit_ns;
    s.min = samples [0] / unit_ns;
    s.max = samples [count - 1] / unit_ns;
    return s;
}

void
shic_bench_write_samples (const char *dir, const char *name, const int64_t *samples,
                          int count, double unit_ns)
{
    if (!dir)
        return;
    char path [512];
    snprintf (path, sizeof (path), "%s/%s", dir, name);
    FILE *file = fopen (path, "w");
    if (!file) {
        fprintf (stderr, "bench: cannot write %s: %s\n", path, strerror (errno));
        return;
    }
    for (int i = 0; i < count; i++)
        fprintf (file, "%.4f\n", samples [i] / unit_ns);
    fclose (file);
}

void
shic_bench_remove_dir (const char *dir)
{
    DIR *handle = opendir (dir);
    if (handle) {
        struct dirent *entry;
        while ((entry = readdir (handle))) {
            if (strcmp (entry->d_name, ".") == 0 || strcmp (entry->d_name, "..") == 0)
                continue;
            char path [512];
            snprintf (path, sizeof (path), "%s/%s", dir, entry->d_name);
            unlink (path);
        }
        closedir (handle);
    }
    rmdir (dir);
}

int64_t
shic_bench_read_ready_file (const char *path)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return -1;
    long long value = -1;
    if (fscanf (file, "%lld", &value) != 1)
        value = -1;
    fclose (file);
    return (int64_t) value;
}

void
shic_bench_report_error (shic_client_t *client, const char *what)
{
    const shic_error_t *err = shic_client_error (client);
    fprintf (stderr, "bench: %s failed: %s (%s)\n", what,
             err->code? err->code: "?", err->message? err->message: "");
}

void
shic_bench_json_stats (FILE *json, const char *name, shic_bench_stats_t s, bool last)
{
    if (json)
        fprintf (json, "    \"%s\": {\"n\": %d, \"p50\": %.4f, \"p99\": %.4f, \"min\": %.4f, "
                 "\"max\": %.4f}%s\n", name, s.count, s.p50, s.p99, s.min, s.max,
                 last? "": ",");
}

bool
shic_bench_want (const char *only, int n)
{
    for (const char *at = only; at && *at; ) {
        if (atoi (at) == n)
            return true;
        at = strchr (at, ',');
        at = at? at + 1: NULL;
    }
    return false;
}

//  ---------------------------------------------------------------------------
//  A run

int
shic_bench_run_start (shic_bench_run_t *self, int argc, char *argv [], const char *name,
                      const char *figures)
{
    memset (self, 0, sizeof (shic_bench_run_t));
    self->only = figures;
    const char *json_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (streq (argv [i], "--build") && i + 1 < argc)
            self->build = argv [++i];
        else
        if (streq (argv [i], "--json") && i + 1 < argc)
            json_path = argv [++i];
        else
        if (streq (argv [i], "--samples") && i + 1 < argc)
            self->samples_dir = argv [++i];
        else
        if (streq (argv [i], "--quick"))
            self->quick = true;
        else
        if (streq (argv [i], "--only") && i + 1 < argc)
            self->only = argv [++i];
        else {
            printf ("usage: %s [--build DIR] [--json FILE] [--samples DIR] [--quick]"
                    " [--only %s]\n", argv [0], figures);
            return streq (argv [i], "--help") || streq (argv [i], "-h")? 0: 2;
        }
    }
    //  The binaries sit beside this one unless told otherwise
    if (!self->build) {
        ssize_t length = readlink ("/proc/self/exe", self->self_dir, sizeof (self->self_dir) - 1);
        self->self_dir [length > 0? length: 0] = 0;
        char *slash = strrchr (self->self_dir, '/');
        if (slash)
            *slash = 0;
        self->build = self->self_dir;
    }
    snprintf (self->dir, sizeof (self->dir), "/tmp/shic-bench-%s-XXXXXX", name);
    if (!mkdtemp (self->dir)) {
        fprintf (stderr, "bench: mkdtemp: %s\n", strerror (errno));
        return 1;
    }
    signal (SIGPIPE, SIG_IGN);
    shic_init (4096);
    zsys_set_logstream (stderr);
    self->json = json_path? fopen (json_path, "w"): NULL;
    if (json_path && !self->json)
        fprintf (stderr, "bench: cannot write %s: %s\n", json_path, strerror (errno));
    if (self->json)
        fprintf (self->json, "{\n  \"cores\": %ld,\n", sysconf (_SC_NPROCESSORS_ONLN));
    return -1;
}

int
shic_bench_run_end (shic_bench_run_t *self, int rc)
{
    if (self->json) {
        fprintf (self->json, "  \"complete\": %s\n}\n", rc == 0? "true": "false");
        fclose (self->json);
        self->json = NULL;
    }
    shic_bench_remove_dir (self->dir);
    return rc;
}

//  ---------------------------------------------------------------------------
//  Processes

int
shic_bench_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { 0 };
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t size = sizeof (addr);
    int port = 0;
    if (fd >= 0 && bind (fd, (struct sockaddr *) &addr, sizeof (addr)) == 0
    &&  getsockname (fd, (struct sockaddr *) &addr, &size) == 0)
        port = ntohs (addr.sin_port);
    if (fd >= 0)
        close (fd);
    return port;
}

pid_t
shic_bench_spawn (char **argv, const char *out_path, const char *err_path)
{
    pid_t pid = fork ();
    if (pid == 0) {
        int out = open (out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open (err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out >= 0)
            dup2 (out, 1);
        if (err >= 0)
            dup2 (err, 2);
        execv (argv [0], argv);
        _exit (127);
    }
    return pid;
}

char *
shic_bench_wait_text (const char *path, const char *text, pid_t pid, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (zclock_mono () < deadline) {
        FILE *file = fopen (path, "r");
        if (file) {
            char line [1024];
            while (fgets (line, sizeof (line), file)) {
                if (strstr (line, text)) {
                    fclose (file);
                    return strdup (line);
                }
            }
            fclose (file);
        }
        if (waitpid (pid, NULL, WNOHANG) == pid)
            return NULL;
        zclock_sleep (20);
    }
    return NULL;
}

int64_t
shic_bench_cpu_ns (pid_t pid)
{
    char path [64];
    snprintf (path, sizeof (path), "/proc/%d/task", (int) pid);
    DIR *tasks = opendir (path);
    if (!tasks)
        return 0;
    int64_t total = 0;
    struct dirent *entry;
    while ((entry = readdir (tasks))) {
        if (entry->d_name [0] == '.')
            continue;
        char stat_path [320];
        snprintf (stat_path, sizeof (stat_path), "/proc/%d/task/%s/schedstat", (int) pid,
                  entry->d_name);
        FILE *file = fopen (stat_path, "r");
        long long ran = 0;
        if (file && fscanf (file, "%lld", &ran) == 1)
            total += ran;
        if (file)
            fclose (file);
    }
    closedir (tasks);
    return total;
}

void
shic_bench_stop_process (pid_t pid, int timeout_ms)
{
    if (pid <= 0)
        return;
    kill (pid, SIGTERM);
    int64_t deadline = zclock_mono () + timeout_ms;
    while (zclock_mono () < deadline) {
        if (waitpid (pid, NULL, WNOHANG) == pid)
            return;
        zclock_sleep (20);
    }
    fprintf (stderr, "bench: %d did not stop within %d ms, SIGKILL\n", (int) pid, timeout_ms);
    kill (pid, SIGKILL);
    waitpid (pid, NULL, 0);
}

//  ---------------------------------------------------------------------------
//  A real shicd

int
shic_bench_daemon_start (shic_bench_daemon_t *self, const char *build, const char *dir,
                         const char *name, const char *shicd_extra, const char *backends)
{
    snprintf (self->gateway, sizeof (self->gateway), "tcp://127.0.0.1:%d", shic_bench_free_port ());
    snprintf (self->events, sizeof (self->events), "tcp://127.0.0.1:%d", shic_bench_free_port ());
    char config [512], out [512], err [512], binary [512];
    snprintf (config, sizeof (config), "%s/%s.cfg", dir, name);
    snprintf (out, sizeof (out), "%s/%s.out", dir, name);
    snprintf (err, sizeof (err), "%s/%s.err", dir, name);
    snprintf (binary, sizeof (binary), "%s/shicd", build);
    FILE *file = fopen (config, "w");
    if (!file)
        return -1;
    fprintf (file, "shicd\n"
             "    gateway = %s\n"
             "    events = %s\n"
             "    client_timeout_ms = 600000\n"
             "    max_instances = 1100\n"
             "    max_leases = 5000\n"
             "    allow_network_stop = 1\n"
             "    max_leases_per_client = 5000\n"
             "    max_instances_per_client = 1100\n"
             "%s"
             "backends\n%s", self->gateway, self->events, shicd_extra? shicd_extra: "", backends);
    fclose (file);
    char *argv [] = { binary, "--config", config, NULL };
    self->pid = shic_bench_spawn (argv, out, err);
    char *line = self->pid > 0? shic_bench_wait_text (out, "shicd ready", self->pid, 10000): NULL;
    if (!line) {
        fprintf (stderr, "bench: shicd did not get ready (see %s)\n", err);
        shic_bench_stop_process (self->pid, 5000);
        self->pid = 0;
        return -1;
    }
    free (line);
    return 0;
}

void
shic_bench_daemon_stop (shic_bench_daemon_t *self)
{
    shic_bench_stop_process (self->pid, 20000);
    self->pid = 0;
}

//  ---------------------------------------------------------------------------
//  Events

int
shic_bench_recv_event (zsock_t *sub, int timeout_ms, char **topic_p, shic_val_t **body_p,
                       int64_t *received_ns)
{
    zsock_set_rcvtimeo (sub, timeout_ms);
    zmsg_t *msg = zmsg_recv (sub);
    *received_ns = shic_bench_nanos ();
    *topic_p = NULL;
    *body_p = NULL;
    if (!msg)
        return -1;
    *topic_p = zmsg_popstr (msg);
    zframe_t *frame = zmsg_pop (msg);
    if (frame)
        shic_val_decode (zframe_data (frame), zframe_size (frame), NULL, body_p, NULL);
    zframe_destroy (&frame);
    zmsg_destroy (&msg);
    return 0;
}

shic_val_t *
shic_bench_wait_event (zsock_t *sub, const char *topic, const char *instance_id,
                       int timeout_ms, int64_t *received_ns)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (true) {
        int64_t left = deadline - zclock_mono ();
        char *got = NULL;
        shic_val_t *body = NULL;
        int64_t now = 0;
        if (left <= 0 || shic_bench_recv_event (sub, (int) left, &got, &body, &now))
            return NULL;
        bool match = got && streq (got, topic);
        zstr_free (&got);
        if (match && instance_id) {
            const char *id = shic_val_str (shic_val_get (body, "instance_id"));
            match = id && streq (id, instance_id);
        }
        if (match) {
            if (received_ns)
                *received_ns = now;
            return body;
        }
        shic_val_destroy (&body);
    }
}

int
shic_bench_stop_instance (shic_client_t *client, zsock_t *events, const char *instance_id)
{
    shic_val_t *args = shic_val_new_map ();
    shic_val_set_str (args, "instance_id", instance_id);
    shic_val_t *result = shic_client_call (client, "stop_instance", &args);
    if (!result) {
        shic_bench_report_error (client, "stop_instance");
        return -1;
    }
    shic_val_destroy (&result);
    shic_val_t *event = shic_bench_wait_event (events, "instance.stopped", instance_id, 10000,
                                               NULL);
    if (!event) {
        fprintf (stderr, "bench: %s did not stop within 10 s\n", instance_id);
        return -1;
    }
    shic_val_destroy (&event);
    return 0;
}

//  ---------------------------------------------------------------------------
//  The echo baseline: a ROUTER on TCP that sends every message back

void
shic_bench_echo_actor (zsock_t *pipe, void *args)
{
    (void) args;
    zsock_t *router = zsock_new_router ("tcp://127.0.0.1:*");
    zsock_signal (pipe, 0);
    zstr_send (pipe, zsock_last_endpoint (router));
    zpoller_t *poller = zpoller_new (pipe, router, NULL);
    while (true) {
        void *which = zpoller_wait (poller, -1);
        if (which == router) {
            zmsg_t *msg = zmsg_recv (router);
            if (msg)
                zmsg_send (&msg, router);
        }
        else
            break;
    }
    zpoller_destroy (&poller);
    zsock_destroy (&router);
}

zframe_t *
shic_bench_request_frame (const char *op, const shic_val_t *args)
{
    shic_val_t *id = shic_val_new_int (1000000);
    shic_val_t *copy = shic_val_dup (args);
    zframe_t *frame = shic_wire_request_encode (id, op, &copy);
    shic_val_destroy (&id);
    return frame;
}

int64_t
shic_bench_echo_pair (zsock_t *dealer, zframe_t *ensure, zframe_t *release)
{
    int64_t start = shic_bench_nanos ();
    zframe_t *frames [2] = { ensure, release };
    for (int index = 0; index < 2; index++) {
        zframe_t *out = zframe_dup (frames [index]);
        zframe_send (&out, dealer, 0);
        zframe_t *in = zframe_recv (dealer);
        zframe_destroy (&in);
    }
    return shic_bench_nanos () - start;
}
