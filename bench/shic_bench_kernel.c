/*  =========================================================================
    shic_bench_kernel - warm in-process ensure_endpoint against a bare echo

    Prints, for N calls (default 20000): the round trip of a bare inproc
    DEALER/ROUTER echo of a msgpack frame of the same size as an ensure
    request (the physical floor), the warm ensure_endpoint round trip, the
    release_lease round trip, and ensure+release, each as p50 / p99 /
    min / max in microseconds, with the ratios to the echo. A benchmark, not
    a test: it asserts nothing about time.

    Usage: shic_bench_kernel [calls] [--json FILE]
    =========================================================================
*/

#include "shic.h"
#include "shic_bench_util.h"
#include "shic_test_backends.h"

//  The echo: a ROUTER that sends every message back
static void
s_echo_actor (zsock_t *pipe, void *args)
{
    zsock_t *router = zsock_new_router ((const char *) args);
    zsock_signal (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, router, NULL);
    while (true) {
        void *which = zpoller_wait (poller, -1);
        if (which == router) {
            zmsg_t *msg = zmsg_recv (router);
            zmsg_send (&msg, router);
        }
        else
            break;
    }
    zpoller_destroy (&poller);
    zsock_destroy (&router);
}

static void
s_print (const char *name, shic_bench_stats_t f, shic_bench_stats_t base, FILE *json, bool last)
{
    printf ("%-28s p50 %8.1f us  p99 %8.1f us  min %7.1f  max %9.1f   p50 x%.2f  p99 x%.2f\n",
            name, f.p50, f.p99, f.min, f.max, f.p50 / base.p50, f.p99 / base.p99);
    if (json)
        fprintf (json, "  \"%s\": {\"p50_us\": %.2f, \"p99_us\": %.2f, \"min_us\": %.2f, "
                 "\"max_us\": %.2f, \"p50_ratio\": %.3f, \"p99_ratio\": %.3f}%s\n",
                 name, f.p50, f.p99, f.min, f.max, f.p50 / base.p50, f.p99 / base.p99,
                 last? "": ",");
}

int
main (int argc, char *argv [])
{
    int calls = 20000;
    const char *json_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (streq (argv [i], "--json") && i + 1 < argc)
            json_path = argv [++i];
        else
        if (streq (argv [i], "--help") || streq (argv [i], "-h")) {
            printf ("usage: %s [calls] [--json FILE]\n", argv [0]);
            return 0;
        }
        else
            calls = atoi (argv [i]);
    }
    if (calls < 100)
        calls = 100;
    shic_init (4096);
    zsys_set_logstream (stderr);
    shic_runtime_t *runtime = shic_runtime_new (NULL);
    shic_runtime_register (runtime, &shic_test_spawned_ops, NULL, NULL);
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));

    //  Warm the instance up, and measure the size of a request frame
    shic_val_t *args = shic_client_ensure_args ("test_spawned", "bench", NULL, 0, 10000);
    shic_val_t *id = shic_val_new_int (1);
    shic_val_t *copy = shic_val_dup (args);
    zframe_t *frame = shic_wire_request_encode (id, "ensure_endpoint", &copy);
    size_t request_size = zframe_size (frame);
    shic_val_destroy (&id);
    shic_val_t *result = shic_client_call (client, "ensure_endpoint", &(shic_val_t *) { shic_val_dup (args) });
    if (!result) {
        fprintf (stderr, "bench: cold start failed: %s\n", shic_client_error (client)->message);
        return 1;
    }
    char *warm_ref = strdup (shic_val_str (shic_val_path (result, "lease/lease_ref")));
    shic_val_destroy (&result);

    int64_t *echo = (int64_t *) malloc (calls * sizeof (int64_t));
    int64_t *ensure = (int64_t *) malloc (calls * sizeof (int64_t));
    int64_t *release = (int64_t *) malloc (calls * sizeof (int64_t));
    int64_t *both = (int64_t *) malloc (calls * sizeof (int64_t));

    //  Baseline: the bare echo of a frame of the same size
    zactor_t *echo_actor = zactor_new (s_echo_actor, "inproc://bench-echo");
    zsock_t *dealer = zsock_new_dealer ("inproc://bench-echo");
    for (int i = 0; i < calls + 1000; i++) {
        zframe_t *out = zframe_dup (frame);
        int64_t start = shic_bench_nanos ();
        zframe_send (&out, dealer, 0);
        zframe_t *in = zframe_recv (dealer);
        int64_t took = shic_bench_nanos () - start;
        zframe_destroy (&in);
        if (i >= 1000)
            echo [i - 1000] = took;
    }
    zsock_destroy (&dealer);
    zactor_destroy (&echo_actor);
    zframe_destroy (&frame);

    //  Warm ensure + release through the runtime
    for (int i = 0; i < calls + 1000; i++) {
        shic_val_t *call_args = shic_val_dup (args);
        int64_t start = shic_bench_nanos ();
        result = shic_client_call (client, "ensure_endpoint", &call_args);
        int64_t middle = shic_bench_nanos ();
        assert (result);
        shic_val_t *release_args = shic_val_new_map ();
        shic_val_set_dup (release_args, "lease_ref", shic_val_path (result, "lease/lease_ref"));
        shic_val_destroy (&result);
        int64_t middle2 = shic_bench_nanos ();
        result = shic_client_call (client, "release_lease", &release_args);
        int64_t end = shic_bench_nanos ();
        assert (result);
        shic_val_destroy (&result);
        if (i >= 1000) {
            ensure [i - 1000] = middle - start;
            release [i - 1000] = end - middle2;
            both [i - 1000] = (middle - start) + (end - middle2);
        }
    }
    shic_bench_stats_t base = shic_bench_stats (echo, calls, 1000.0);
    shic_bench_stats_t f_ensure = shic_bench_stats (ensure, calls, 1000.0);
    shic_bench_stats_t f_release = shic_bench_stats (release, calls, 1000.0);
    shic_bench_stats_t f_both = shic_bench_stats (both, calls, 1000.0);
    printf ("shic kernel benchmark: %d warm calls, request frame %zu bytes, %ld cores\n",
            calls, request_size, sysconf (_SC_NPROCESSORS_ONLN));
    FILE *json = json_path? fopen (json_path, "w"): NULL;
    if (json)
        fprintf (json, "{\n  \"calls\": %d,\n  \"request_bytes\": %zu,\n", calls, request_size);
    s_print ("inproc_echo (baseline)", base, base, json, false);
    s_print ("warm_ensure", f_ensure, base, json, false);
    s_print ("release", f_release, base, json, false);
    s_print ("ensure_plus_release", f_both, base, json, true);
    if (json) {
        fprintf (json, "}\n");
        fclose (json);
    }
    printf ("target: warm ensure p50 <= 3x echo p50: %s (x%.2f)\n",
            f_ensure.p50 <= 3 * base.p50? "met": "missed", f_ensure.p50 / base.p50);
    free (echo);
    free (ensure);
    free (release);
    free (both);
    shic_client_release (client, warm_ref);
    free (warm_ref);
    shic_val_destroy (&args);
    shic_client_destroy (&client);
    shic_runtime_destroy (&runtime);
    return 0;
}
