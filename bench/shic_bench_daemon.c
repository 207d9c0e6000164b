/*  =========================================================================
    shic_bench_daemon - a real shicd, measured from the outside

    Starts shicd (and the stand-ins it needs) with generated configurations
    and measures, over its TCP gateway and from /proc/<pid>:

    fig1    warm ensure+release round trip, 1 client, against a bare
            DEALER/ROUTER echo (a thread of this process) of frames of the
            same two sizes over TCP, in interleaved blocks
    fig2    warm ensure+release throughput, 16 clients pipelining (4 chains
            each, one polling thread), against the same echo
    fig5    thundering herd: 1000 ensures of one cold model from 50 clients,
            all sent before the stand-in is ready; spawns counted from the
            instance.starting events, reply times against the stand-in's
            ready moment (--ready-file)
    fig6    attached Ollama instances (stand-ins with 50 models each), health
            every 1 s: daemon CPU, RSS, threads and wake-ups at 250, 500 and
            1000 instances against the same daemon idle
    fig7    4000 concurrent leases (ttl 10 min, 4 clients): RSS per lease,
            grant and release rates, two rounds (the first grows the lease
            pool, the second reuses it)
    fig8    idle daemon: CPU, RSS, threads, wake-ups per second

    CPU is utime + stime of /proc/<pid>/stat over a window, RSS is VmRSS,
    wake-ups are the voluntary + involuntary context switches of every
    task. A benchmark, not a test: it reports and asserts nothing.

    Usage: shic_bench_daemon [--build DIR] [--json FILE] [--samples DIR]
                             [--quick] [--only 1,2,5,6,7,8]
    --only runs just the figures listed (the report wants them all).
    =========================================================================
*/

#include "shic.h"
#include "shic_bench_util.h"
#include <signal.h>
#include <dirent.h>

#define S_WINDOW_MS         10000       //  measuring window of figs 6 and 8
#define S_FIG1_CALLS        5000        //  round trips of fig 1 (each side)
#define S_FIG1_BLOCK        500         //  interleaving block of fig 1
#define S_FIG2_CLIENTS      16
#define S_FIG2_DEPTH        4           //  ensure+release chains per client
#define S_FIG2_RUNS         3
#define S_FIG2_MS           2000
#define S_HERD_CLIENTS      50
#define S_HERD_REQUESTS     1000
#define S_HERD_TRIALS       3
#define S_HERD_LOAD_MS      400         //  stand-in load time of the herd model
#define S_OLLAMA_MODELS     50          //  models per Ollama stand-in (it keeps 64)
#define S_ATTACH_MAX        1000
#define S_LEASES            4000
#define S_LEASE_CLIENTS     4
#define S_INFLIGHT          100         //  requests in flight per client

//  ---------------------------------------------------------------------------
//  /proc sampling

typedef struct {
    int64_t at_ns;                  //  when sampled
    int64_t cpu_ticks;              //  utime + stime
    int64_t rss_kb;                 //  VmRSS
    int threads;                    //  Threads
    int64_t switches;               //  voluntary + involuntary, every task
} s_sample_t;

//  A number after "key:" in a /proc status file, or -1
static int64_t
s_status_field (const char *path, const char *key)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return -1;
    char line [256];
    int64_t value = -1;
    size_t size = strlen (key);
    while (fgets (line, sizeof (line), file))
        if (strncmp (line, key, size) == 0 && line [size] == ':') {
            value = atoll (line + size + 1);
            break;
        }
    fclose (file);
    return value;
}

static s_sample_t
s_sample (pid_t pid)
{
    s_sample_t s = { shic_bench_nanos (), 0, 0, 0, 0 };
    char path [128];
    snprintf (path, sizeof (path), "/proc/%d/stat", (int) pid);
    FILE *file = fopen (path, "r");
    if (file) {
        char line [2048];
        if (fgets (line, sizeof (line), file)) {
            //  fields after the command: state is field 3, utime 14, stime 15
            char *rest = strrchr (line, ')');
            long long utime = 0, stime = 0;
            if (rest && sscanf (rest + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld",
                                &utime, &stime) == 2)
                s.cpu_ticks = utime + stime;
        }
        fclose (file);
    }
    snprintf (path, sizeof (path), "/proc/%d/status", (int) pid);
    s.rss_kb = s_status_field (path, "VmRSS");
    s.threads = (int) s_status_field (path, "Threads");
    snprintf (path, sizeof (path), "/proc/%d/task", (int) pid);
    DIR *dir = opendir (path);
    if (dir) {
        struct dirent *entry;
        while ((entry = readdir (dir))) {
            if (entry->d_name [0] == '.')
                continue;
            char status [300];
            snprintf (status, sizeof (status), "/proc/%d/task/%s/status", (int) pid, entry->d_name);
            int64_t voluntary = s_status_field (status, "voluntary_ctxt_switches");
            int64_t involuntary = s_status_field (status, "nonvoluntary_ctxt_switches");
            if (voluntary > 0)
                s.switches += voluntary;
            if (involuntary > 0)
                s.switches += involuntary;
        }
        closedir (dir);
    }
    return s;
}

typedef struct {
    double seconds;                 //  window length
    double cpu_pct;                 //  of one core
    int64_t rss_kb;                 //  at the end
    int threads;                    //  at the end
    double wakeups;                 //  context switches per second
} s_window_t;

static s_window_t
s_measure_window (pid_t pid, int window_ms)
{
    s_sample_t a = s_sample (pid);
    zclock_sleep (window_ms);
    s_sample_t b = s_sample (pid);
    s_window_t w;
    w.seconds = (b.at_ns - a.at_ns) / 1e9;
    w.cpu_pct = 100.0 * (b.cpu_ticks - a.cpu_ticks) / (double) sysconf (_SC_CLK_TCK) / w.seconds;
    w.rss_kb = b.rss_kb;
    w.threads = b.threads;
    w.wakeups = (b.switches - a.switches) / w.seconds;
    return w;
}

static void
s_json_window (FILE *json, const char *indent, const char *name, s_window_t w, const char *tail)
{
    if (json)
        fprintf (json, "%s\"%s\": {\"seconds\": %.2f, \"cpu_pct\": %.3f, \"rss_kb\": %lld, "
                 "\"threads\": %d, \"wakeups_per_s\": %.1f}%s\n", indent, name, w.seconds,
                 w.cpu_pct, (long long) w.rss_kb, w.threads, w.wakeups, tail);
}

static void
s_print_window (const char *name, s_window_t w)
{
    printf ("  %-26s cpu %6.2f%%  rss %7lld KB  threads %5d  wake-ups %8.1f/s\n",
            name, w.cpu_pct, (long long) w.rss_kb, w.threads, w.wakeups);
}

//  The release args of an ensure result; fresh map
static shic_val_t *
s_release_args (const shic_val_t *result)
{
    shic_val_t *args = shic_val_new_map ();
    shic_val_set_dup (args, "lease_ref", shic_val_path (result, "lease/lease_ref"));
    return args;
}

//  ---------------------------------------------------------------------------
//  Figure 1: one client, round trips

static int
s_fig1 (shic_bench_daemon_t *daemon, const char *echo_endpoint, FILE *json, const char *samples_dir,
        int calls)
{
    shic_client_t *client = shic_client_new (daemon->gateway);
    zsock_t *dealer = zsock_new_dealer (echo_endpoint);
    shic_val_t *ensure_args = shic_client_ensure_args ("standin", "tiny", NULL, 0, 10000);
    shic_val_t *result = shic_client_call (client, "ensure_endpoint",
                                           &(shic_val_t *) { shic_val_dup (ensure_args) });
    if (!result) {
        shic_bench_report_error (client, "fig1 ensure");
        shic_val_destroy (&ensure_args);
        zsock_destroy (&dealer);
        shic_client_destroy (&client);
        return -1;
    }
    shic_val_t *release_args = s_release_args (result);
    zframe_t *ensure_frame = shic_bench_request_frame ("ensure_endpoint", ensure_args);
    zframe_t *release_frame = shic_bench_request_frame ("release_lease", release_args);
    shic_val_destroy (&release_args);
    shic_val_destroy (&result);

    int64_t *shic = (int64_t *) calloc (calls, sizeof (int64_t));
    int64_t *echo = (int64_t *) calloc (calls, sizeof (int64_t));
    assert (shic && echo);
    int done = 0, errors = 0;
    //  Warm both paths, then alternate blocks so that drift hits both
    for (int round = -1; done < calls; round++) {
        int block = round < 0? S_FIG1_BLOCK: (calls - done < S_FIG1_BLOCK? calls - done: S_FIG1_BLOCK);
        for (int i = 0; i < block; i++) {
            int64_t took = shic_bench_echo_pair (dealer, ensure_frame, release_frame);
            if (round >= 0)
                echo [done + i] = took;
        }
        for (int i = 0; i < block; i++) {
            int64_t start = shic_bench_nanos ();
            result = shic_client_call (client, "ensure_endpoint",
                                       &(shic_val_t *) { shic_val_dup (ensure_args) });
            if (!result) {
                errors++;
                continue;
            }
            shic_val_t *args = s_release_args (result);
            shic_val_destroy (&result);
            result = shic_client_call (client, "release_lease", &args);
            if (!result)
                errors++;
            shic_val_destroy (&result);
            if (round >= 0)
                shic [done + i] = shic_bench_nanos () - start;
        }
        if (round >= 0)
            done += block;
    }
    shic_bench_write_samples (samples_dir, "fig1_echo_us.txt", echo, calls, 1000.0);
    shic_bench_write_samples (samples_dir, "fig1_shic_us.txt", shic, calls, 1000.0);
    shic_bench_stats_t f_shic = shic_bench_stats (shic, calls, 1000.0);
    shic_bench_stats_t f_echo = shic_bench_stats (echo, calls, 1000.0);
    printf ("fig1 warm ensure+release over TCP, 1 client, %d round trips (%zu + %zu bytes):\n",
            calls, zframe_size (ensure_frame), zframe_size (release_frame));
    printf ("  shic  p50 %8.1f us  p99 %8.1f us  min %8.1f  max %9.1f  (%d errors)\n",
            f_shic.p50, f_shic.p99, f_shic.min, f_shic.max, errors);
    printf ("  echo  p50 %8.1f us  p99 %8.1f us  min %8.1f  max %9.1f\n",
            f_echo.p50, f_echo.p99, f_echo.min, f_echo.max);
    printf ("  ratio p50 x%.2f (target <= 2: %s)  p99 x%.2f (target <= 3: %s)\n",
            f_shic.p50 / f_echo.p50, f_shic.p50 <= 2 * f_echo.p50? "met": "missed",
            f_shic.p99 / f_echo.p99, f_shic.p99 <= 3 * f_echo.p99? "met": "missed");
    if (json) {
        fprintf (json, "  \"fig1\": {\n    \"unit\": \"us\",\n    \"ensure_bytes\": %zu,\n"
                 "    \"release_bytes\": %zu,\n    \"errors\": %d,\n",
                 zframe_size (ensure_frame), zframe_size (release_frame), errors);
        shic_bench_json_stats (json, "shic", f_shic, false);
        shic_bench_json_stats (json, "echo", f_echo, true);
        fprintf (json, "  },\n");
    }
    free (shic);
    free (echo);
    zframe_destroy (&ensure_frame);
    zframe_destroy (&release_frame);
    shic_val_destroy (&ensure_args);
    zsock_destroy (&dealer);
    shic_client_destroy (&client);
    return 0;
}

//  ---------------------------------------------------------------------------
//  Figure 2: 16 clients pipelining, one polling thread

//  Pairs (ensure+release) per second over ms, after a warm-up of ms / 4
static double
s_fig2_shic_run (const char *gateway, int ms, int *errors)
{
    shic_client_t *clients [S_FIG2_CLIENTS];
    zpoller_t *poller = zpoller_new (NULL);
    shic_val_t *ensure_args = shic_client_ensure_args ("standin", "tiny", NULL, 0, 10000);
    for (int c = 0; c < S_FIG2_CLIENTS; c++) {
        clients [c] = shic_client_new (gateway);
        zpoller_add (poller, shic_client_sock (clients [c]));
        for (int d = 0; d < S_FIG2_DEPTH; d++)
            shic_client_send (clients [c], 1, "ensure_endpoint",
                              &(shic_val_t *) { shic_val_dup (ensure_args) });
    }
    int64_t start = zclock_mono ();
    int64_t counting = start + ms / 4, end = counting + ms;
    int64_t begun = 0, pairs = 0;
    while (true) {
        int64_t now = zclock_mono ();
        if (now >= end)
            break;
        zsock_t *which = (zsock_t *) zpoller_wait (poller, (int) (end - now));
        if (!which)
            continue;
        int c = 0;
        while (c < S_FIG2_CLIENTS && shic_client_sock (clients [c]) != which)
            c++;
        assert (c < S_FIG2_CLIENTS);
        shic_wire_reply_t reply = { 0 };
        while (shic_client_recv (clients [c], &reply, 0) != -1) {
            shic_val_t *lease = reply.ok? shic_val_path (reply.result, "lease/lease_ref"): NULL;
            if (!reply.ok)
                (*errors)++;
            if (lease) {
                shic_val_t *args = shic_val_new_map ();
                shic_val_set_dup (args, "lease_ref", lease);
                shic_client_send (clients [c], 2, "release_lease", &args);
            }
            else {
                if (begun == 0 && zclock_mono () >= counting)
                    begun = shic_bench_nanos ();
                if (begun)
                    pairs++;
                shic_client_send (clients [c], 1, "ensure_endpoint",
                                  &(shic_val_t *) { shic_val_dup (ensure_args) });
            }
            shic_wire_reply_reset (&reply);
        }
    }
    double rate = begun? pairs / ((shic_bench_nanos () - begun) / 1e9): 0;
    //  Drain what is in flight: leases still held are released
    int64_t deadline = zclock_mono () + 5000;
    int pending = S_FIG2_CLIENTS * S_FIG2_DEPTH;
    while (pending > 0 && zclock_mono () < deadline) {
        zsock_t *which = (zsock_t *) zpoller_wait (poller, 200);
        if (!which)
            continue;
        for (int c = 0; c < S_FIG2_CLIENTS; c++) {
            if (shic_client_sock (clients [c]) != which)
                continue;
            shic_wire_reply_t reply = { 0 };
            while (shic_client_recv (clients [c], &reply, 0) != -1) {
                shic_val_t *lease = reply.ok? shic_val_path (reply.result, "lease/lease_ref"): NULL;
                if (lease) {
                    shic_val_t *args = shic_val_new_map ();
                    shic_val_set_dup (args, "lease_ref", lease);
                    shic_client_send (clients [c], 2, "release_lease", &args);
                }
                else
                    pending--;
                shic_wire_reply_reset (&reply);
            }
        }
    }
    zpoller_destroy (&poller);
    for (int c = 0; c < S_FIG2_CLIENTS; c++)
        shic_client_destroy (&clients [c]);
    shic_val_destroy (&ensure_args);
    return rate;
}

//  The same with the echo and fixed frames
static double
s_fig2_echo_run (const char *endpoint, zframe_t *ensure_frame, zframe_t *release_frame, int ms)
{
    zsock_t *dealers [S_FIG2_CLIENTS];
    zpoller_t *poller = zpoller_new (NULL);
    for (int c = 0; c < S_FIG2_CLIENTS; c++) {
        dealers [c] = zsock_new_dealer (endpoint);
        zpoller_add (poller, dealers [c]);
        for (int d = 0; d < S_FIG2_DEPTH; d++) {
            zframe_t *out = zframe_dup (ensure_frame);
            zframe_send (&out, dealers [c], 0);
        }
    }
    int64_t start = zclock_mono ();
    int64_t counting = start + ms / 4, end = counting + ms;
    int64_t begun = 0, pairs = 0;
    while (true) {
        int64_t now = zclock_mono ();
        if (now >= end)
            break;
        zsock_t *which = (zsock_t *) zpoller_wait (poller, (int) (end - now));
        if (!which)
            continue;
        zframe_t *in;
        while ((in = zframe_recv_nowait (which))) {
            bool was_ensure = zframe_size (in) == zframe_size (ensure_frame);
            zframe_destroy (&in);
            zframe_t *out = zframe_dup (was_ensure? release_frame: ensure_frame);
            if (!was_ensure) {
                if (begun == 0 && zclock_mono () >= counting)
                    begun = shic_bench_nanos ();
                if (begun)
                    pairs++;
            }
            zframe_send (&out, which, 0);
        }
    }
    double rate = begun? pairs / ((shic_bench_nanos () - begun) / 1e9): 0;
    zpoller_destroy (&poller);
    for (int c = 0; c < S_FIG2_CLIENTS; c++)
        zsock_destroy (&dealers [c]);
    return rate;
}

static void
s_json_runs (FILE *json, const char *name, double *runs, int count, bool last)
{
    qsort (runs, count, sizeof (double), shic_bench_compare_double);
    if (json) {
        fprintf (json, "    \"%s\": {\"median\": %.1f, \"min\": %.1f, \"max\": %.1f, \"runs\": [",
                 name, runs [count / 2], runs [0], runs [count - 1]);
        for (int i = 0; i < count; i++)
            fprintf (json, "%s%.1f", i? ", ": "", runs [i]);
        fprintf (json, "]}%s\n", last? "": ",");
    }
}

static int
s_fig2 (shic_bench_daemon_t *daemon, const char *echo_endpoint, FILE *json, int runs)
{
    shic_val_t *ensure_args = shic_client_ensure_args ("standin", "tiny", NULL, 0, 10000);
    shic_val_t *release_args = shic_val_new_map ();
    shic_val_set_str (release_args, "lease_ref", "L-0123456789abcdef0123456789abcdef");
    zframe_t *ensure_frame = shic_bench_request_frame ("ensure_endpoint", ensure_args);
    zframe_t *release_frame = shic_bench_request_frame ("release_lease", release_args);
    //  The echo tells the two apart by size
    assert (zframe_size (ensure_frame) != zframe_size (release_frame));
    double shic [S_FIG2_RUNS], echo [S_FIG2_RUNS];
    int errors = 0;
    for (int r = 0; r < runs; r++) {
        echo [r] = s_fig2_echo_run (echo_endpoint, ensure_frame, release_frame, S_FIG2_MS);
        shic [r] = s_fig2_shic_run (daemon->gateway, S_FIG2_MS, &errors);
        fprintf (stderr, "bench: fig2 run %d: shic %.0f/s echo %.0f/s\n", r + 1, shic [r], echo [r]);
    }
    qsort (shic, runs, sizeof (double), shic_bench_compare_double);
    qsort (echo, runs, sizeof (double), shic_bench_compare_double);
    double ratio = shic [runs / 2] / echo [runs / 2];
    printf ("fig2 warm ensure+release throughput, %d clients x %d in flight, %d runs of %d ms:\n",
            S_FIG2_CLIENTS, S_FIG2_DEPTH, runs, S_FIG2_MS);
    printf ("  shic  median %8.0f pairs/s  min %8.0f  max %8.0f  (%d errors)\n",
            shic [runs / 2], shic [0], shic [runs - 1], errors);
    printf ("  echo  median %8.0f pairs/s  min %8.0f  max %8.0f\n",
            echo [runs / 2], echo [0], echo [runs - 1]);
    printf ("  ratio %.1f%% (target >= 40%%: %s)\n", 100 * ratio, ratio >= 0.4? "met": "missed");
    if (json) {
        fprintf (json, "  \"fig2\": {\n    \"clients\": %d,\n    \"depth\": %d,\n"
                 "    \"run_ms\": %d,\n    \"errors\": %d,\n",
                 S_FIG2_CLIENTS, S_FIG2_DEPTH, S_FIG2_MS, errors);
        s_json_runs (json, "shic", shic, runs, false);
        s_json_runs (json, "echo", echo, runs, true);
        fprintf (json, "  },\n");
    }
    zframe_destroy (&ensure_frame);
    zframe_destroy (&release_frame);
    shic_val_destroy (&ensure_args);
    shic_val_destroy (&release_args);
    return 0;
}

//  ---------------------------------------------------------------------------
//  Pipelined ensures from several clients

typedef struct {
    int count;                      //  replies received
    int errors;                     //  error replies
    char **leases;                  //  lease refs granted, fresh
    int64_t *received_ns;           //  receive time of each reply
    char *instance_id;              //  the first instance id seen, fresh
    int instances;                  //  distinct instance ids seen (up to 2)
    const char *first_error;        //  code of the first error
} s_batch_t;

typedef shic_val_t *(s_args_fn) (int index, void *hint);

//  Sends total ensures (args from fn) over clients, at most inflight per
//  client outstanding (0 = all at once), and collects the replies until
//  timeout_ms. Fills batch; returns elapsed ns from first send to last reply.
static int64_t
s_ensure_batch (shic_client_t **clients, int nclients, int total, int inflight,
                s_args_fn *fn, void *hint, s_batch_t *batch, int timeout_ms)
{
    batch->leases = (char **) calloc (total, sizeof (char *));
    batch->received_ns = (int64_t *) calloc (total, sizeof (int64_t));
    assert (batch->leases && batch->received_ns);
    zpoller_t *poller = zpoller_new (NULL);
    int *outstanding = (int *) calloc (nclients, sizeof (int));
    int sent = 0;
    int64_t start = shic_bench_nanos ();
    for (int c = 0; c < nclients; c++)
        zpoller_add (poller, shic_client_sock (clients [c]));
    //  Round robin over clients, like many callers at once
    bool more = true;
    while (more && sent < total) {
        more = false;
        for (int c = 0; c < nclients && sent < total; c++) {
            if (inflight && outstanding [c] >= inflight)
                continue;
            shic_val_t *args = fn (sent, hint);
            shic_client_send (clients [c], sent, "ensure_endpoint", &args);
            outstanding [c]++;
            sent++;
            more = true;
        }
    }
    int64_t deadline = zclock_mono () + timeout_ms;
    while (batch->count < total && zclock_mono () < deadline) {
        zsock_t *which = (zsock_t *) zpoller_wait (poller, 200);
        if (!which)
            continue;
        int c = 0;
        while (c < nclients && shic_client_sock (clients [c]) != which)
            c++;
        assert (c < nclients);
        shic_wire_reply_t reply = { 0 };
        while (shic_client_recv (clients [c], &reply, 0) != -1) {
            int64_t now = shic_bench_nanos ();
            if (batch->count < total)
                batch->received_ns [batch->count] = now;
            const char *lease = reply.ok? shic_val_str (shic_val_path (reply.result, "lease/lease_ref")): NULL;
            const char *id = reply.ok? shic_val_str (shic_val_get (reply.result, "instance_id")): NULL;
            if (lease && batch->count < total)
                batch->leases [batch->count] = strdup (lease);
            if (id && !batch->instance_id) {
                batch->instance_id = strdup (id);
                batch->instances = 1;
            }
            else
            if (id && !streq (id, batch->instance_id))
                batch->instances = 2;
            if (!reply.ok) {
                batch->errors++;
                if (!batch->first_error)
                    batch->first_error = reply.error.code;
            }
            batch->count++;
            outstanding [c]--;
            shic_wire_reply_reset (&reply);
            if (sent < total) {
                shic_val_t *args = fn (sent, hint);
                shic_client_send (clients [c], sent, "ensure_endpoint", &args);
                outstanding [c]++;
                sent++;
            }
        }
    }
    int64_t elapsed = (batch->count? batch->received_ns [batch->count - 1]: shic_bench_nanos ()) - start;
    if (batch->count < total)
        fprintf (stderr, "bench: %d of %d ensures answered within %d ms\n",
                 batch->count, total, timeout_ms);
    free (outstanding);
    zpoller_destroy (&poller);
    return elapsed;
}

//  Releases every lease of the batch, pipelined; elapsed ns
static int64_t
s_release_batch (shic_client_t **clients, int nclients, s_batch_t *batch, int timeout_ms)
{
    zpoller_t *poller = zpoller_new (NULL);
    int *outstanding = (int *) calloc (nclients, sizeof (int));
    for (int c = 0; c < nclients; c++)
        zpoller_add (poller, shic_client_sock (clients [c]));
    int next = 0, pending = 0;
    int64_t start = shic_bench_nanos ();
    int64_t deadline = zclock_mono () + timeout_ms;
    while (zclock_mono () < deadline) {
        for (int c = 0; c < nclients; c++)
            while (outstanding [c] < S_INFLIGHT && next < batch->count) {
                char *ref = batch->leases [next++];
                if (!ref)
                    continue;
                shic_val_t *args = shic_val_new_map ();
                shic_val_set_str (args, "lease_ref", ref);
                shic_client_send (clients [c], next, "release_lease", &args);
                outstanding [c]++;
                pending++;
            }
        if (pending == 0 && next >= batch->count)
            break;
        zsock_t *which = (zsock_t *) zpoller_wait (poller, 200);
        for (int c = 0; which && c < nclients; c++) {
            if (shic_client_sock (clients [c]) != which)
                continue;
            shic_wire_reply_t reply = { 0 };
            while (shic_client_recv (clients [c], &reply, 0) != -1) {
                outstanding [c]--;
                pending--;
                shic_wire_reply_reset (&reply);
            }
        }
    }
    int64_t elapsed = shic_bench_nanos () - start;
    free (outstanding);
    zpoller_destroy (&poller);
    return elapsed;
}

static void
s_batch_reset (s_batch_t *batch, int total)
{
    for (int i = 0; batch->leases && i < total; i++)
        free (batch->leases [i]);
    free (batch->leases);
    free (batch->received_ns);
    free (batch->instance_id);
    memset (batch, 0, sizeof (s_batch_t));
}

//  ---------------------------------------------------------------------------
//  Figure 5: thundering herd

static shic_val_t *
s_herd_args (int index, void *hint)
{
    (void) index;
    return shic_client_ensure_args ("herd", (const char *) hint, NULL, 600000, 30000);
}

//  Counts instance.starting events on sub until it is quiet for quiet_ms
static int
s_count_starting (zsock_t *sub, int quiet_ms)
{
    int count = 0;
    zsock_set_rcvtimeo (sub, quiet_ms);
    zmsg_t *msg;
    while ((msg = zmsg_recv (sub))) {
        char *topic = zmsg_popstr (msg);
        if (topic && streq (topic, "instance.starting"))
            count++;
        zstr_free (&topic);
        zmsg_destroy (&msg);
    }
    return count;
}

static int
s_fig5 (shic_bench_daemon_t *daemon, const char *dir, FILE *json, int trials)
{
    zsock_t *sub = zsock_new_sub (daemon->events, "instance.starting");
    shic_client_t *clients [S_HERD_CLIENTS];
    for (int c = 0; c < S_HERD_CLIENTS; c++)
        clients [c] = shic_client_new (daemon->gateway);
    //  Let the subscription and the connections settle
    for (int c = 0; c < S_HERD_CLIENTS; c++)
        shic_client_ping (clients [c]);
    s_count_starting (sub, 300);
    int64_t *all = (int64_t *) calloc (trials * S_HERD_REQUESTS, sizeof (int64_t));
    int all_count = 0;
    int spawns [S_HERD_TRIALS], instances [S_HERD_TRIALS], errors [S_HERD_TRIALS];
    double last_ms [S_HERD_TRIALS], sent_before_ms [S_HERD_TRIALS];
    for (int t = 0; t < trials; t++) {
        char model [16], path [512];
        snprintf (model, sizeof (model), "h%d", t);
        snprintf (path, sizeof (path), "%s/%s.ready", dir, model);
        s_batch_t batch = { 0 };
        int64_t first_send = shic_bench_nanos ();
        //  All 1000 go out at once (ZeroMQ's HWM of 1000 per socket is
        //  far above 20 per client)
        s_ensure_batch (clients, S_HERD_CLIENTS, S_HERD_REQUESTS, 0, s_herd_args, model,
                        &batch, 30000);
        int64_t ready = shic_bench_read_ready_file (path);
        spawns [t] = s_count_starting (sub, 500);
        instances [t] = batch.instances;
        errors [t] = batch.errors + (S_HERD_REQUESTS - batch.count);
        last_ms [t] = batch.count && ready > 0?
                      (batch.received_ns [batch.count - 1] - ready) / 1e6: -1;
        sent_before_ms [t] = ready > 0? (ready - first_send) / 1e6: -1;
        for (int i = 0; i < batch.count && ready > 0; i++)
            all [all_count++] = batch.received_ns [i] - ready;
        printf ("  herd trial %d: %d replies, %d errors%s%s, %d spawn(s), %d instance(s), "
                "ready %.1f ms after the first send, last reply %.2f ms after ready\n",
                t + 1, batch.count, batch.errors, batch.first_error? " first ": "",
                batch.first_error? batch.first_error: "", spawns [t], instances [t],
                sent_before_ms [t], last_ms [t]);
        s_release_batch (clients, S_HERD_CLIENTS, &batch, 30000);
        if (batch.instance_id) {
            shic_val_t *args = shic_val_new_map ();
            shic_val_set_str (args, "instance_id", batch.instance_id);
            shic_val_t *result = shic_client_call (clients [0], "stop_instance", &args);
            shic_val_destroy (&result);
        }
        s_batch_reset (&batch, S_HERD_REQUESTS);
        unlink (path);
    }
    shic_bench_stats_t f = shic_bench_stats (all, all_count, 1e6);
    double sorted [S_HERD_TRIALS];
    memcpy (sorted, last_ms, sizeof (double) * trials);
    qsort (sorted, trials, sizeof (double), shic_bench_compare_double);
    bool one_spawn = true;
    for (int t = 0; t < trials; t++)
        one_spawn = one_spawn && spawns [t] == 1 && instances [t] == 1;
    printf ("fig5 thundering herd: %d ensures of one cold model from %d clients, %d trials:\n",
            S_HERD_REQUESTS, S_HERD_CLIENTS, trials);
    printf ("  reply after ready  p50 %.2f ms  p99 %.2f ms  min %.2f  max %.2f\n",
            f.p50, f.p99, f.min, f.max);
    printf ("  last reply after ready: median %.2f ms (min %.2f, max %.2f); target <= 50 ms: %s;"
            " exactly 1 spawn: %s\n", sorted [trials / 2], sorted [0], sorted [trials - 1],
            sorted [trials - 1] <= 50? "met": "missed", one_spawn? "met": "missed");
    if (json) {
        fprintf (json, "  \"fig5\": {\n    \"requests\": %d,\n    \"clients\": %d,\n"
                 "    \"load_ms\": %d,\n    \"unit\": \"ms\",\n",
                 S_HERD_REQUESTS, S_HERD_CLIENTS, S_HERD_LOAD_MS);
        fprintf (json, "    \"trials\": [");
        for (int t = 0; t < trials; t++)
            fprintf (json, "%s{\"spawns\": %d, \"instances\": %d, \"errors\": %d, "
                     "\"last_after_ready_ms\": %.3f, \"ready_after_first_send_ms\": %.3f}",
                     t? ", ": "", spawns [t], instances [t], errors [t], last_ms [t],
                     sent_before_ms [t]);
        fprintf (json, "],\n");
        shic_bench_json_stats (json, "reply_after_ready", f, true);
        fprintf (json, "  },\n");
    }
    free (all);
    for (int c = 0; c < S_HERD_CLIENTS; c++)
        shic_client_destroy (&clients [c]);
    zsock_destroy (&sub);
    return 0;
}

//  ---------------------------------------------------------------------------
//  Figure 7: 4000 concurrent leases

static shic_val_t *
s_lease_args (int index, void *hint)
{
    (void) index;
    (void) hint;
    return shic_client_ensure_args ("standin", "tiny", NULL, 600000, 10000);
}

//  Waits until the daemon's thread count has not changed for a second (the
//  lease pool binds actors to leases granted ahead of them), at most
//  max_ms; returns the ms waited
static int64_t
s_settle (pid_t pid, int max_ms)
{
    int64_t start = zclock_mono ();
    int last = -1, same = 0;
    while (zclock_mono () - start < max_ms && same < 4) {
        int threads = s_sample (pid).threads;
        same = threads == last? same + 1: 0;
        last = threads;
        zclock_sleep (250);
    }
    return zclock_mono () - start;
}

static int
s_fig7 (shic_bench_daemon_t *daemon, FILE *json, int leases)
{
    shic_client_t *clients [S_LEASE_CLIENTS];
    for (int c = 0; c < S_LEASE_CLIENTS; c++)
        clients [c] = shic_client_new (daemon->gateway);
    //  The warm instance, without a lease of its own
    shic_val_t *result = shic_client_ensure (clients [0], "standin", "tiny", NULL, 0, 10000);
    if (!result) {
        shic_bench_report_error (clients [0], "fig7 warm ensure");
        for (int c = 0; c < S_LEASE_CLIENTS; c++)
            shic_client_destroy (&clients [c]);
        return -1;
    }
    shic_val_t *args = s_release_args (result);
    shic_val_destroy (&result);
    result = shic_client_call (clients [0], "release_lease", &args);
    shic_val_destroy (&result);
    zclock_sleep (1000);
    s_sample_t base = s_sample (daemon->pid);
    printf ("fig7 %d concurrent leases from %d clients (ttl 10 min):\n", leases, S_LEASE_CLIENTS);
    printf ("  baseline (1 warm instance, no lease): rss %lld KB, threads %d\n",
            (long long) base.rss_kb, base.threads);
    if (json)
        fprintf (json, "  \"fig7\": {\n    \"leases\": %d,\n    \"clients\": %d,\n"
                 "    \"baseline\": {\"rss_kb\": %lld, \"threads\": %d},\n    \"rounds\": [",
                 leases, S_LEASE_CLIENTS, (long long) base.rss_kb, base.threads);
    for (int round = 0; round < 2; round++) {
        s_batch_t batch = { 0 };
        int64_t grant_ns = s_ensure_batch (clients, S_LEASE_CLIENTS, leases, S_INFLIGHT,
                                           s_lease_args, NULL, &batch, 120000);
        int64_t settle_ms = s_settle (daemon->pid, 60000);
        s_sample_t held = s_sample (daemon->pid);
        int granted = batch.count - batch.errors;
        int64_t release_ns = s_release_batch (clients, S_LEASE_CLIENTS, &batch, 120000);
        zclock_sleep (1000);
        s_sample_t after = s_sample (daemon->pid);
        double per_lease = granted? (held.rss_kb - base.rss_kb) / (double) granted: 0;
        double grant_rate = granted / (grant_ns / 1e9);
        double release_rate = granted / (release_ns / 1e9);
        printf ("  round %d (%s): %d granted, %d errors%s%s; grant %.0f/s, release %.0f/s; "
                "held rss %lld KB threads %d (settled %.1f s after the last grant)"
                " -> %.1f KB per lease; after release rss %lld KB\n",
                round + 1, round? "lease actors reused": "lease pool grows", granted,
                batch.errors, batch.first_error? " first ": "",
                batch.first_error? batch.first_error: "", grant_rate, release_rate,
                (long long) held.rss_kb, held.threads, settle_ms / 1000.0, per_lease,
                (long long) after.rss_kb);
        if (json)
            fprintf (json, "%s\n      {\"granted\": %d, \"errors\": %d, \"grant_per_s\": %.1f, "
                     "\"release_per_s\": %.1f, \"rss_held_kb\": %lld, \"threads_held\": %d, "
                     "\"kb_per_lease\": %.2f, \"rss_after_kb\": %lld, \"threads_after\": %d, "
                     "\"settle_ms\": %lld}",
                     round? ",": "", granted, batch.errors, grant_rate, release_rate,
                     (long long) held.rss_kb, held.threads, per_lease,
                     (long long) after.rss_kb, after.threads, (long long) settle_ms);
        s_batch_reset (&batch, leases);
    }
    if (json)
        fprintf (json, "\n    ]\n  },\n");
    for (int c = 0; c < S_LEASE_CLIENTS; c++)
        shic_client_destroy (&clients [c]);
    return 0;
}

//  ---------------------------------------------------------------------------
//  Figure 6: attached instances

static int64_t s_settle (pid_t pid, int max_ms);

static shic_val_t *
s_attach_args (int index, void *hint)
{
    int base = *(int *) hint;
    char backend [16], model [16];
    snprintf (backend, sizeof (backend), "o%d", (base + index) / S_OLLAMA_MODELS);
    snprintf (model, sizeof (model), "m%d", base + index);
    return shic_client_ensure_args (backend, model, NULL, 600000, 30000);
}

static int
s_fig6 (const char *build, const char *dir, FILE *json, int steps_max)
{
    int standins = (steps_max + S_OLLAMA_MODELS - 1) / S_OLLAMA_MODELS;
    pid_t *pids = (pid_t *) calloc (standins, sizeof (pid_t));
    size_t text_max = (size_t) standins * 160 + 1;
    char *backends = (char *) calloc (text_max, 1);
    size_t used = 0;
    int rc = -1;
    shic_bench_daemon_t daemon = { 0 };
    //  The stand-ins, each with its models installed and loaded
    for (int s = 0; s < standins; s++) {
        char binary [512], out [512], err [512];
        snprintf (binary, sizeof (binary), "%.480s/shic_stand_in_ollama", build);
        snprintf (out, sizeof (out), "%s/ollama%d.out", dir, s);
        snprintf (err, sizeof (err), "%s/ollama%d.err", dir, s);
        char **argv = (char **) calloc (4 + 2 * S_OLLAMA_MODELS + 1, sizeof (char *));
        int argc = 0;
        argv [argc++] = binary;
        argv [argc++] = "--port";
        argv [argc++] = "0";
        for (int m = 0; m < S_OLLAMA_MODELS; m++) {
            argv [argc++] = "--loaded";
            argv [argc++] = zsys_sprintf ("m%d", s * S_OLLAMA_MODELS + m);
        }
        pids [s] = shic_bench_spawn (argv, out, err);
        for (int m = 0; m < S_OLLAMA_MODELS; m++)
            zstr_free (&argv [4 + 2 * m]);
        free (argv);
        char *line = pids [s] > 0?
                     shic_bench_wait_text (err, "listening on port", pids [s], 10000): NULL;
        if (!line) {
            fprintf (stderr, "bench: Ollama stand-in %d did not start\n", s);
            goto done;
        }
        used += snprintf (backends + used, text_max - used,
                          "    o%d\n        type = ollama\n        root_url = http://127.0.0.1:%d\n"
                          "        health_interval_ms = 1000\n", s,
                          atoi (strstr (line, "listening on port") + 17));
        free (line);
    }
    //  The window measures the steady state: the lease actors the attach
    //  burst grew end (lease_shrink_ms) before it, not inside it
    if (shic_bench_daemon_start (&daemon, build, dir, "fig6", "    lease_shrink_ms = 500\n",
                                 backends))
        goto done;
    zclock_sleep (1000);
    s_window_t idle = s_measure_window (daemon.pid, S_WINDOW_MS);
    printf ("fig6 attached Ollama instances (%d stand-ins, %d models each), health every 1 s:\n",
            standins, S_OLLAMA_MODELS);
    s_print_window ("idle daemon", idle);
    if (json) {
        fprintf (json, "  \"fig6\": {\n    \"standins\": %d,\n", standins);
        s_json_window (json, "    ", "idle", idle, ",");
        fprintf (json, "    \"steps\": [\n");
    }
    shic_client_t *clients [S_LEASE_CLIENTS];
    for (int c = 0; c < S_LEASE_CLIENTS; c++)
        clients [c] = shic_client_new (daemon.gateway);
    int attached = 0;
    int targets [] = { 250, 500, 1000 };
    bool first = true;
    for (int k = 0; k < 3; k++) {
        int target = targets [k] < steps_max? targets [k]: steps_max;
        if (target <= attached)
            continue;
        s_batch_t batch = { 0 };
        int base = attached;
        int64_t attach_ns = s_ensure_batch (clients, S_LEASE_CLIENTS, target - attached, 25,
                                            s_attach_args, &base, &batch, 120000);
        int ok = batch.count - batch.errors;
        if (batch.errors)
            fprintf (stderr, "bench: fig6: %d attach errors (first %s)\n", batch.errors,
                     batch.first_error? batch.first_error: "?");
        //  The instances stay: attached instances have no idle shutdown
        s_release_batch (clients, S_LEASE_CLIENTS, &batch, 60000);
        s_batch_reset (&batch, target - attached);
        attached += ok;
        zclock_sleep (2000);
        s_settle (daemon.pid, 30000);
        s_window_t w = s_measure_window (daemon.pid, S_WINDOW_MS);
        double per_instance = attached? (w.rss_kb - idle.rss_kb) / (double) attached: 0;
        char name [64];
        snprintf (name, sizeof (name), "%d instances", attached);
        s_print_window (name, w);
        printf ("  %-26s attach %.0f/s, %.1f KB RSS per instance\n", "",
                ok / (attach_ns / 1e9), per_instance);
        if (json) {
            fprintf (json, "%s      {\"instances\": %d, \"attach_per_s\": %.1f, "
                     "\"kb_per_instance\": %.2f, ", first? "": ",\n", attached,
                     ok / (attach_ns / 1e9), per_instance);
            s_json_window (json, "", "window", w, "}");
            first = false;
        }
    }
    if (json)
        fprintf (json, "\n    ]\n  },\n");
    for (int c = 0; c < S_LEASE_CLIENTS; c++)
        shic_client_destroy (&clients [c]);
    rc = 0;
done:
    if (daemon.pid)
        shic_bench_daemon_stop (&daemon);
    for (int s = 0; s < standins; s++)
        shic_bench_stop_process (pids [s], 5000);
    free (pids);
    free (backends);
    return rc;
}

//  ---------------------------------------------------------------------------

int
main (int argc, char *argv [])
{
    shic_bench_run_t run;
    int code = shic_bench_run_start (&run, argc, argv, "daemon", "1,2,5,6,7,8");
    if (code >= 0)
        return code;
    const char *build = run.build, *dir = run.dir, *samples_dir = run.samples_dir;
    const char *only = run.only;
    bool quick = run.quick;
    FILE *json = run.json;
    if (json)
        fprintf (json, "  \"window_ms\": %d,\n", S_WINDOW_MS);
    printf ("shic daemon benchmark: %ld cores, windows of %d ms\n",
            sysconf (_SC_NPROCESSORS_ONLN), S_WINDOW_MS);
    int rc = 0;

    //  The configuration of figures 1, 2, 5, 7 and 8
    char backends [2048];
    snprintf (backends, sizeof (backends),
              "    standin\n"
              "        type = command\n"
              "        command = %s/shic_stand_in -m ${MODEL} -a ${MODEL} --host ${HOST} --port ${PORT}\n"
              "        ready_pattern = server is listening on http://\n"
              "        idle_shutdown_ms = 600000\n"
              "        models\n"
              "            tiny = tiny\n"
              "    herd\n"
              "        type = command\n"
              "        command = %s/shic_stand_in -m ${MODEL} -a ${MODEL} --host ${HOST} --port ${PORT}"
              " --load-ms %d --ready-file %s/${MODEL}.ready\n"
              "        ready_pattern = server is listening on http://\n"
              "        readiness_interval_ms = 1000\n"
              "        models\n"
              "            h0 = h0\n"
              "            h1 = h1\n"
              "            h2 = h2\n",
              build, build, S_HERD_LOAD_MS, dir);

    //  Figure 8, then 1, 2 and 5 on the same daemon
    shic_bench_daemon_t daemon = { 0 };
    if (!(shic_bench_want (only, 1) || shic_bench_want (only, 2)
    ||    shic_bench_want (only, 5) || shic_bench_want (only, 8)))
        ;
    else
    if (shic_bench_daemon_start (&daemon, build, dir, "main", NULL, backends) == 0) {
        if (shic_bench_want (only, 8)) {
            zclock_sleep (1000);
            s_window_t idle = s_measure_window (daemon.pid, S_WINDOW_MS);
            printf ("fig8 idle daemon (%d backends configured, nothing started):\n", 2);
            s_print_window ("idle", idle);
            s_json_window (json, "  ", "fig8", idle, ",");
        }

        zactor_t *echo = zactor_new (shic_bench_echo_actor, NULL);
        char *echo_endpoint = zstr_recv (echo);
        if (shic_bench_want (only, 1)
        &&  s_fig1 (&daemon, echo_endpoint, json, samples_dir, quick? 1000: S_FIG1_CALLS))
            rc = 1;
        if (rc == 0 && shic_bench_want (only, 2))
            s_fig2 (&daemon, echo_endpoint, json, quick? 1: S_FIG2_RUNS);
        zstr_free (&echo_endpoint);
        zactor_destroy (&echo);
        if (rc == 0 && shic_bench_want (only, 5))
            s_fig5 (&daemon, dir, json, quick? 1: S_HERD_TRIALS);
        shic_bench_daemon_stop (&daemon);
    }
    else
        rc = 1;

    //  Figure 7 on a fresh daemon: the lease pool starts small
    if (rc == 0 && shic_bench_want (only, 7)
    &&  shic_bench_daemon_start (&daemon, build, dir, "leases", NULL, backends) == 0) {
        s_fig7 (&daemon, json, quick? 1000: S_LEASES);
        shic_bench_daemon_stop (&daemon);
    }

    //  Figure 6 with its own daemon and stand-ins
    if (rc == 0 && shic_bench_want (only, 6) && s_fig6 (build, dir, json, quick? 250: S_ATTACH_MAX))
        rc = 1;

    return shic_bench_run_end (&run, rc);
}
