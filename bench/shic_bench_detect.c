/*  =========================================================================
    shic_bench_detect - how fast the kernel sees a service become ready or die

    Two figures, each over N runs (default 50), with the stand-in server of
    tests/ (the test_spawned backend):

    readiness   a cold instance per run (load_ms 50, readiness_interval_ms
                1000, so only the log-line trigger can make it fast): from
                the stand-in's ready moment (CLOCK_MONOTONIC it writes to
                --ready-file just before its ready log line) to the receipt
                of the ensure_endpoint reply by the client.
    crash       one warm instance killed N times: from kill (SIGKILL) to the
                receipt of the instance.restarting event on the events
                socket; instance.ready is awaited before the next kill.

    Baselines from the same run: a poller of period P (1 s, llama-swap
    style; 250 ms, Ollama style) whose phase is uniformly random relative
    to the event sees it after uniform [0, P) plus the cost of one probe.
    They are simulated with a seeded PRNG over N samples, the probe cost
    being the median of 50 GET /health to the stand-in measured here with
    shic_http_request. A benchmark, not a test: the target lines say met or
    missed and the exit code does not depend on them.

    Usage: shic_bench_detect [runs] [--json FILE] [--samples DIR]
    (--samples writes every sample and baseline sample, in ms, one a line,
    to DIR/<figure>_<series>_ms.txt)
    =========================================================================
*/

#include "shic.h"
#include "shic_bench_util.h"
#include "shic_http.h"
#include "shic_test_backends.h"
#include <signal.h>
#include <dirent.h>

#define S_PROBE_SAMPLES     50          //  GET /health calls timed for the probe cost
#define S_TARGET_MS         2.0         //  the p50 target of both figures
#define S_SEED              0x5eedbe7cULL

//  Runtime configuration: restart at once, and often enough for N kills
static const char *s_config_text =
    "runtime\n"
    "    restart_backoff_ms = 10\n"
    "    restart_backoff_max_ms = 10\n"
    "    max_restarts = 1000\n";

//  splitmix64: a small seeded PRNG, so that baselines repeat run to run
static uint64_t
s_random (uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

//  count samples of a poller of period_ns: uniform [0, period) + probe_ns
static void
s_simulate_poller (int64_t *samples, int count, int64_t period_ns, int64_t probe_ns,
                   uint64_t *state)
{
    for (int i = 0; i < count; i++) {
        double phase = (s_random (state) >> 11) * (1.0 / 9007199254740992.0);
        samples [i] = (int64_t) (phase * period_ns) + probe_ns;
    }
}

//  Figure 1: ready moment to ensure reply, one cold instance per run
static int
s_measure_readiness (shic_client_t *client, zsock_t *events, const char *dir,
                     int64_t *samples, int runs)
{
    for (int i = 0; i < runs; i++) {
        char model [32], path [256];
        snprintf (model, sizeof (model), "r%d", i);
        snprintf (path, sizeof (path), "%s/r%d", dir, i);
        shic_val_t *options = shic_val_new_map ();
        shic_val_set_int (options, "load_ms", 50);
        shic_val_set_int (options, "readiness_interval_ms", 1000);
        shic_val_t *argv = shic_val_new_array ();
        shic_val_t *item = shic_val_new_str ("--ready-file");
        shic_val_push (argv, &item);
        item = shic_val_new_str (path);
        shic_val_push (argv, &item);
        shic_val_set (options, "args", &argv);
        shic_val_t *result = shic_client_ensure (client, "test_spawned", model, options, 0, 10000);
        int64_t received = shic_bench_nanos ();
        shic_val_destroy (&options);
        if (!result) {
            shic_bench_report_error (client, "cold ensure_endpoint");
            return -1;
        }
        int64_t ready = shic_bench_read_ready_file (path);
        unlink (path);
        char *instance_id = strdup (shic_val_str (shic_val_get (result, "instance_id")));
        int rc = shic_client_release (client,
                                      shic_val_str (shic_val_path (result, "lease/lease_ref")));
        shic_val_destroy (&result);
        if (rc == 0)
            rc = shic_bench_stop_instance (client, events, instance_id);
        free (instance_id);
        if (rc)
            return -1;
        if (ready <= 0) {
            fprintf (stderr, "bench: no ready file at %s\n", path);
            return -1;
        }
        samples [i] = received - ready;
        if ((i + 1) % 10 == 0 || i + 1 == runs)
            fprintf (stderr, "bench: readiness %d/%d (last %.3f ms)\n",
                     i + 1, runs, samples [i] / 1e6);
    }
    return 0;
}

//  The pid of a ready instance, or 0
static int
s_ready_pid (shic_client_t *client, const char *instance_id)
{
    shic_val_t *args = shic_val_new_map ();
    shic_val_set_str (args, "instance_id", instance_id);
    shic_val_t *snap = shic_client_call (client, "lookup_instance", &args);
    if (!snap) {
        shic_bench_report_error (client, "lookup_instance");
        return 0;
    }
    const char *status = shic_val_str (shic_val_get (snap, "lifecycle_status"));
    int pid = status && streq (status, "ready")? (int) shic_val_int (shic_val_get (snap, "pid")): 0;
    shic_val_destroy (&snap);
    return pid;
}

//  Figure 2: kill (SIGKILL) to instance.restarting, on one warm instance
static int
s_measure_crash (shic_client_t *client, zsock_t *events, const char *instance_id,
                 int64_t *samples, int runs)
{
    for (int i = 0; i < runs; i++) {
        int pid = s_ready_pid (client, instance_id);
        if (pid <= 0) {
            fprintf (stderr, "bench: %s has no live pid\n", instance_id);
            return -1;
        }
        int64_t killed = shic_bench_nanos ();
        if (kill (pid, SIGKILL)) {
            fprintf (stderr, "bench: kill %d: %s\n", pid, strerror (errno));
            return -1;
        }
        int64_t received = 0;
        shic_val_t *event = shic_bench_wait_event (events, "instance.restarting", instance_id, 5000,
                                          &received);
        if (!event) {
            fprintf (stderr, "bench: no instance.restarting within 5 s of kill %d\n", pid);
            return -1;
        }
        shic_val_destroy (&event);
        samples [i] = received - killed;
        event = shic_bench_wait_event (events, "instance.ready", instance_id, 10000, NULL);
        if (!event) {
            fprintf (stderr, "bench: %s not ready again within 10 s\n", instance_id);
            return -1;
        }
        shic_val_destroy (&event);
        if ((i + 1) % 10 == 0 || i + 1 == runs)
            fprintf (stderr, "bench: crash %d/%d (last %.3f ms)\n",
                     i + 1, runs, samples [i] / 1e6);
    }
    return 0;
}

//  The median cost of one GET url, in ns; -1 when it does not answer 200
static int64_t
s_measure_probe (const char *url)
{
    int64_t samples [S_PROBE_SAMPLES];
    for (int i = -1; i < S_PROBE_SAMPLES; i++) {
        shic_http_result_t result = { 0 };
        int64_t start = shic_bench_nanos ();
        shic_http_request ("GET", url, NULL, NULL, 1000, &result);
        int64_t took = shic_bench_nanos () - start;
        long status = result.status;
        shic_http_result_reset (&result);
        if (status != 200) {
            fprintf (stderr, "bench: GET %s answered %ld\n", url, status);
            return -1;
        }
        if (i >= 0)                 //  the first call only opens the connection
            samples [i] = took;
    }
    qsort (samples, S_PROBE_SAMPLES, sizeof (int64_t), shic_bench_compare_i64);
    return samples [S_PROBE_SAMPLES / 2];
}

static void
s_print_line (const char *name, shic_bench_stats_t f, const shic_bench_stats_t *shic)
{
    printf ("  %-22s p50 %9.3f ms  p99 %9.3f ms  min %9.3f  max %9.3f",
            name, f.p50, f.p99, f.min, f.max);
    if (shic)
        printf ("   p50 x%.1f  p99 x%.1f", f.p50 / shic->p50, f.p99 / shic->p99);
    printf ("\n");
}

static void
s_json_line (FILE *json, const char *name, shic_bench_stats_t f, const shic_bench_stats_t *shic, bool last)
{
    fprintf (json, "    \"%s\": {\"p50_ms\": %.4f, \"p99_ms\": %.4f, \"min_ms\": %.4f, "
             "\"max_ms\": %.4f", name, f.p50, f.p99, f.min, f.max);
    if (shic)
        fprintf (json, ", \"p50_ratio\": %.3f, \"p99_ratio\": %.3f",
                 f.p50 / shic->p50, f.p99 / shic->p99);
    fprintf (json, "}%s\n", last? "": ",");
}

//  Writes samples (ns) in ms, one a line, to dir/<name>_<series>_ms.txt
static void
s_write_samples (const char *dir, const char *name, const char *series,
                 int64_t *samples, int count)
{
    char file [256];
    snprintf (file, sizeof (file), "%s_%s_ms.txt", name, series);
    shic_bench_write_samples (dir, file, samples, count, 1e6);
}

//  Prints one figure with its two baselines, and its JSON object
static void
s_report (const char *name, const char *what, int64_t *samples, int runs,
          int64_t probe_ns, uint64_t *state, FILE *json, bool last, const char *samples_dir)
{
    int64_t *slow = (int64_t *) malloc (runs * sizeof (int64_t));
    int64_t *fast = (int64_t *) malloc (runs * sizeof (int64_t));
    assert (slow && fast);
    s_simulate_poller (slow, runs, 1000000000LL, probe_ns, state);
    s_simulate_poller (fast, runs, 250000000LL, probe_ns, state);
    shic_bench_stats_t f_shic = shic_bench_stats (samples, runs, 1e6);
    shic_bench_stats_t f_slow = shic_bench_stats (slow, runs, 1e6);
    shic_bench_stats_t f_fast = shic_bench_stats (fast, runs, 1e6);
    s_write_samples (samples_dir, name, "shic", samples, runs);
    s_write_samples (samples_dir, name, "poll_1s", slow, runs);
    s_write_samples (samples_dir, name, "poll_250ms", fast, runs);
    bool met = f_shic.p50 <= S_TARGET_MS;
    printf ("%s (%s), %d runs:\n", name, what, runs);
    s_print_line ("shic", f_shic, NULL);
    s_print_line ("poll 1 s (llama-swap)", f_slow, &f_shic);
    s_print_line ("poll 250 ms (Ollama)", f_fast, &f_shic);
    printf ("target: p50 <= %.0f ms: %s (%s p50 %.3f ms)\n",
            S_TARGET_MS, met? "met": "missed", name, f_shic.p50);
    if (json) {
        fprintf (json, "  \"%s\": {\n    \"runs\": %d,\n", name, runs);
        s_json_line (json, "shic", f_shic, NULL, false);
        s_json_line (json, "poll_1s", f_slow, &f_shic, false);
        s_json_line (json, "poll_250ms", f_fast, &f_shic, false);
        fprintf (json, "    \"target_p50_ms\": %.1f,\n    \"target_met\": %s\n  }%s\n",
                 S_TARGET_MS, met? "true": "false", last? "": ",");
    }
    free (slow);
    free (fast);
}

int
main (int argc, char *argv [])
{
    int runs = 50;
    const char *json_path = NULL;
    const char *samples_dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (streq (argv [i], "--json") && i + 1 < argc)
            json_path = argv [++i];
        else
        if (streq (argv [i], "--samples") && i + 1 < argc)
            samples_dir = argv [++i];
        else
        if (streq (argv [i], "--help") || streq (argv [i], "-h")) {
            printf ("usage: %s [runs] [--json FILE] [--samples DIR]\n", argv [0]);
            return 0;
        }
        else
            runs = atoi (argv [i]);
    }
    if (runs < 1)
        runs = 50;
    char dir [] = "/tmp/shic-bench-detect-XXXXXX";
    if (!mkdtemp (dir)) {
        fprintf (stderr, "bench: mkdtemp: %s\n", strerror (errno));
        return 1;
    }
    shic_init (4096);
    zsys_set_logstream (stderr);
    zconfig_t *config = zconfig_str_load (s_config_text);
    shic_runtime_t *runtime = shic_runtime_new (config);
    zconfig_destroy (&config);
    if (!runtime) {
        rmdir (dir);
        return 1;
    }
    shic_error_t err = { 0 };
    if (shic_runtime_register (runtime, &shic_test_spawned_ops, NULL, &err)) {
        fprintf (stderr, "bench: register: %s\n", err.message? err.message: "?");
        shic_error_clear (&err);
        shic_runtime_destroy (&runtime);
        rmdir (dir);
        return 1;
    }
    zsock_t *events = zsock_new_sub (shic_runtime_events_endpoint (runtime), "instance.");
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));
    assert (events && client);
    int64_t *readiness = (int64_t *) calloc (runs, sizeof (int64_t));
    int64_t *crash = (int64_t *) calloc (runs, sizeof (int64_t));
    assert (readiness && crash);
    char *warm_ref = NULL;
    char *warm_id = NULL;
    int64_t probe_ns = -1;
    int rc = 1;

    if (s_measure_readiness (client, events, dir, readiness, runs))
        goto cleanup;

    //  The warm instance: no health checks to speak of during the kills
    shic_val_t *options = shic_val_new_map ();
    shic_val_set_int (options, "health_interval_ms", 600000);
    shic_val_t *result = shic_client_ensure (client, "test_spawned", "crash", options, 0, 10000);
    shic_val_destroy (&options);
    if (!result) {
        shic_bench_report_error (client, "warm ensure_endpoint");
        goto cleanup;
    }
    warm_ref = strdup (shic_val_str (shic_val_path (result, "lease/lease_ref")));
    warm_id = strdup (shic_val_str (shic_val_get (result, "instance_id")));
    const char *base_url = shic_val_str (shic_val_path (result, "endpoint/base_url"));
    //  base_url is http://127.0.0.1:P/v1; /health sits at the root
    char url [256];
    snprintf (url, sizeof (url), "%s", base_url? base_url: "");
    char *v1 = strstr (url, "/v1");
    if (v1)
        strcpy (v1, "/health");
    shic_val_destroy (&result);
    probe_ns = s_measure_probe (url);
    if (probe_ns < 0)
        goto cleanup;
    if (s_measure_crash (client, events, warm_id, crash, runs))
        goto cleanup;

    printf ("shic detection benchmark: %d runs, probe GET /health median %.3f ms "
            "(%d calls), %ld cores\n", runs, probe_ns / 1e6, S_PROBE_SAMPLES,
            sysconf (_SC_NPROCESSORS_ONLN));
    FILE *json = json_path? fopen (json_path, "w"): NULL;
    if (json_path && !json)
        fprintf (stderr, "bench: cannot write %s: %s\n", json_path, strerror (errno));
    if (json)
        fprintf (json, "{\n  \"runs\": %d,\n  \"probe_get_ms\": %.4f,\n  \"seed\": %llu,\n",
                 runs, probe_ns / 1e6, (unsigned long long) S_SEED);
    uint64_t state = S_SEED;
    s_report ("readiness", "ready moment to ensure reply", readiness, runs,
              probe_ns, &state, json, false, samples_dir);
    s_report ("crash", "SIGKILL to instance.restarting", crash, runs,
              probe_ns, &state, json, true, samples_dir);
    if (json) {
        fprintf (json, "}\n");
        fclose (json);
    }
    rc = 0;

cleanup:
    if (warm_ref)
        shic_client_release (client, warm_ref);
    free (warm_ref);
    free (warm_id);
    free (readiness);
    free (crash);
    shic_http_thread_cleanup ();
    shic_client_destroy (&client);
    zsock_destroy (&events);
    //  Stops every instance and its process
    shic_runtime_destroy (&runtime);
    shic_bench_remove_dir (dir);
    return rc;
}
