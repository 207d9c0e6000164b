/*  =========================================================================
    shic_bench_cluster - the cluster (issue 13), measured: a real etcd
    (tests/shic_test_util's, on free loopback ports) and shicd nodes with
    the stand-in llama-server (a command backend)

    fig12   a warm ensure+release forwarded to another node against the
            same on the local node, in one run: nodes a and b, the model
            ready on a (a lease held so it stays warm); one client on a
            (local) and one on b (forwarded: b's gateway forwards the
            ensure to a by the route its cluster actor published, relays
            a's reply, and answers the release of that relayed lease itself,
            sending it on to a one-way), and a DEALER/ROUTER echo of the
            same two frames over TCP twice: inside this process (as in
            figure 1) and to a bare echo process of its own (this program
            with --echo-process), and the same through a bare relay process
            (--relay-process: a ROUTER that passes each message to the
            echo process over a DEALER and the answer back, as b's gateway
            does, with no shic code), alternating blocks so that drift hits
            all five. Target: forwarded p50 <= local p50 + the two-process
            echo's p50 (the extra hop of each message costs at most one
            round trip of a bare echo between two processes, as the nodes
            are); the in-process echo and the bare relay are reported
            beside it (what a hop through a third process costs here with
            ZeroMQ alone).
    fig13   failover: the model runs on b; b is SIGKILLed and an ensure is
            sent to a at once: the time until a answers it from a live node
            (the etcd lease of b expires, a sees b's records go, claims the
            start and starts the model itself), against the TTL plus the
            model's cold start measured alone on the same node. b dies at
            a random moment of its keep-alive period. Target: p50 <= TTL +
            cold start p50.

    A benchmark, not a test: it reports and asserts nothing. Exit 2 when
    etcd is not installed (the report says skipped).

    Usage: shic_bench_cluster [--build DIR] [--json FILE] [--samples DIR]
                              [--quick] [--only 12,13]
           shic_bench_cluster --echo-process   (the echo: its endpoint on
                              stdout, until SIGTERM)
           shic_bench_cluster --relay-process ENDPOINT   (the relay to the
                              echo at ENDPOINT: the same)
    =========================================================================
*/

#include "shic.h"
#include "shic_bench_util.h"
#include "shic_test_util.h"
#include <signal.h>
#include <sys/wait.h>

#define S_TTL_MS            2000        //  the nodes' etcd lease
#define S_WARM_CALLS        2000        //  figure 12: pairs per series
#define S_BLOCK             100         //  ... alternating in blocks
#define S_FAILOVER_ROUNDS   11          //  figure 13
#define S_LOAD_MS           500         //  the stand-in's load time
#define S_WAIT_MS           30000       //  an ensure's wait_ms

//  A node: a shicd with a cluster section on etcd
static int
s_node_start (shic_bench_daemon_t *node, const char *build, const char *dir, const char *etcd,
              const char *name, const char *prefix)
{
    char backends [2048];
    //  The cluster section is a top-level one: it follows the backends
    snprintf (backends, sizeof (backends),
              "    standin\n"
              "        type = command\n"
              "        command = %s/shic_stand_in -m ${MODEL} -a ${MODEL} --host ${HOST} "
              "--port ${PORT} --load-ms %d\n"
              "        ready_pattern = server is listening on http://\n"
              "        idle_shutdown_ms = 600000\n"
              "        models\n"
              "            tiny = tiny\n"
              "cluster\n"
              "    etcd = %s\n"
              "    node = %s\n"
              "    peer = tcp://127.0.0.1:%d\n"
              "    ttl_ms = %d\n"
              "    prefix = %s\n", build, S_LOAD_MS, etcd, name, shic_bench_free_port (),
              S_TTL_MS, prefix);
    if (shic_bench_daemon_start (node, build, dir, name, "    http =\n", backends))
        return -1;
    //  Registered once ping says so
    shic_client_t *client = shic_client_new (node->gateway);
    int64_t deadline = zclock_mono () + 10000;
    int rc = -1;
    while (rc && zclock_mono () < deadline) {
        shic_val_t *result = shic_client_call (client, "ping", &(shic_val_t *) { NULL });
        const char *state = shic_val_str (shic_val_path (result, "cluster/state"));
        if (state && streq (state, "ok"))
            rc = 0;
        else
            zclock_sleep (50);
        shic_val_destroy (&result);
    }
    shic_client_destroy (&client);
    if (rc)
        fprintf (stderr, "bench: node %s did not register with etcd\n", name);
    return rc;
}

//  Until client's node sees count nodes (its ping); 0 or -1
static int
s_wait_nodes (shic_client_t *client, int count, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (zclock_mono () < deadline) {
        shic_val_t *result = shic_client_call (client, "ping", &(shic_val_t *) { NULL });
        int64_t nodes = shic_val_int (shic_val_path (result, "cluster/nodes"));
        shic_val_destroy (&result);
        if (nodes == count)
            return 0;
        zclock_sleep (50);
    }
    return -1;
}

//  --echo-process: a ROUTER that sends back what it gets, its endpoint
//  on the first line of stdout; until a signal
static int
s_echo_process (void)
{
    zsock_t *router = zsock_new_router ("tcp://127.0.0.1:*");
    if (!router)
        return 1;
    printf ("%s\n", zsock_last_endpoint (router));
    fflush (stdout);
    zmsg_t *msg;
    while ((msg = zmsg_recv (router)))
        zmsg_send (&msg, router);
    zsock_destroy (&router);
    return 0;
}

//  --relay-process ENDPOINT: a ROUTER whose messages go on to ENDPOINT
//  over a DEALER, and the answers back (the envelope rides along); its
//  endpoint on the first line of stdout; until a signal
static int
s_relay_process (const char *endpoint)
{
    zsock_t *router = zsock_new_router ("tcp://127.0.0.1:*");
    zsock_t *dealer = zsock_new_dealer (endpoint);
    zpoller_t *poller = router && dealer? zpoller_new (router, dealer, NULL): NULL;
    if (poller) {
        printf ("%s\n", zsock_last_endpoint (router));
        fflush (stdout);
    }
    void *which;
    while (poller && (which = zpoller_wait (poller, -1))) {
        zmsg_t *msg = zmsg_recv (which);
        if (msg)
            zmsg_send (&msg, which == router? dealer: router);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&dealer);
    zsock_destroy (&router);
    return poller? 0: 1;
}

//  Starts this program with option (and its argument) and connects a
//  DEALER to the endpoint it prints (into endpoint, size 256); NULL when
//  it did not come up
static zsock_t *
s_helper_process (const char *dir, const char *option, const char *argument, pid_t *pid_p,
                  char *endpoint)
{
    char self_path [PATH_MAX] = "";
    ssize_t length = readlink ("/proc/self/exe", self_path, sizeof (self_path) - 1);
    *pid_p = -1;
    if (length <= 0)
        return NULL;
    self_path [length] = 0;
    char *argv [] = { self_path, (char *) option, (char *) argument, NULL };
    char *out = zsys_sprintf ("%s/%s.out", dir, option + 2);
    *pid_p = shic_bench_spawn (argv, out, "/dev/null");
    char *line = *pid_p > 0? shic_bench_wait_text (out, "tcp://", *pid_p, 5000): NULL;
    zstr_free (&out);
    if (!line)
        return NULL;
    line [strcspn (line, "\r\n")] = 0;
    snprintf (endpoint, 256, "%s", line);
    zsock_t *dealer = zsock_new_dealer (line);
    zstr_free (&line);
    return dealer;
}

//  One warm ensure+release through client: its time in ns, or -1; the
//  ensure's part into *ensure_ns
static int64_t
s_pair (shic_client_t *client, const shic_val_t *ensure_args, const char *want_node,
        int64_t *ensure_ns)
{
    int64_t start = shic_bench_nanos ();
    shic_val_t *result = shic_client_call (client, "ensure_endpoint",
                                           &(shic_val_t *) { shic_val_dup (ensure_args) });
    if (!result)
        return -1;
    *ensure_ns = shic_bench_nanos () - start;
    const char *id = shic_val_str (shic_val_get (result, "instance_id"));
    bool where = id && strncmp (id, want_node, strlen (want_node)) == 0
              && id [strlen (want_node)] == '.';
    shic_val_t *args = shic_val_new_map ();
    shic_val_set_dup (args, "lease_ref", shic_val_path (result, "lease/lease_ref"));
    shic_val_destroy (&result);
    result = shic_client_call (client, "release_lease", &args);
    int64_t took = shic_bench_nanos () - start;
    bool released = shic_val_bool (shic_val_get (result, "released"));
    shic_val_destroy (&result);
    return where && released? took: -1;
}

static int
s_fig12 (const char *build, const char *dir, const char *etcd, FILE *json, const char *samples_dir,
         int calls)
{
    shic_bench_daemon_t a = { 0 }, b = { 0 };
    if (s_node_start (&a, build, dir, etcd, "a", "/bench12")
    ||  s_node_start (&b, build, dir, etcd, "b", "/bench12")) {
        shic_bench_daemon_stop (&a);
        shic_bench_daemon_stop (&b);
        return -1;
    }
    shic_client_t *local = shic_client_new (a.gateway);
    shic_client_t *remote = shic_client_new (b.gateway);
    shic_val_t *ensure_args = shic_client_ensure_args ("standin", "tiny", NULL, 0, S_WAIT_MS);
    //  The model starts on a and stays warm: a lease held throughout
    shic_val_t *held = NULL;
    int rc = s_wait_nodes (remote, 2, 10000);
    if (rc == 0)
        held = shic_client_call (local, "ensure_endpoint",
                                 &(shic_val_t *) { shic_val_dup (ensure_args) });
    if (!held) {
        shic_bench_report_error (local, "fig12 ensure");
        rc = -1;
    }
    zactor_t *echo_actor = zactor_new (shic_bench_echo_actor, NULL);
    char *echo_endpoint = zstr_recv (echo_actor);
    zsock_t *echo = zsock_new_dealer (echo_endpoint);
    //  The same echo in a process of its own, and through a relay process
    pid_t echo_pid, relay_pid = -1;
    char echo_at [256], relay_at [256];
    zsock_t *echo_process = s_helper_process (dir, "--echo-process", NULL, &echo_pid, echo_at);
    zsock_t *relay_process = echo_process
        ? s_helper_process (dir, "--relay-process", echo_at, &relay_pid, relay_at)
        : NULL;
    if (!relay_process) {
        fprintf (stderr, "bench: fig12: the echo and relay processes did not start\n");
        rc = -1;
    }
    shic_val_t *release_args = shic_val_new_map ();
    shic_val_set_dup (release_args, "lease_ref", shic_val_path (held, "lease/lease_ref"));
    zframe_t *ensure_frame = shic_bench_request_frame ("ensure_endpoint", ensure_args);
    zframe_t *release_frame = shic_bench_request_frame ("release_lease", release_args);
    shic_val_destroy (&release_args);
    //  0 local, 1 forwarded, 2 echo, 3 echo process, 4 relay; 5 and 6:
    //  the ensures of 0 and 1 (the rest of each pair is its release)
    int64_t *series [7];
    for (int s = 0; s < 7; s++)
        series [s] = (int64_t *) calloc (calls, sizeof (int64_t));
    int done = 0, errors = 0;
    //  The CPU time the pairs took, in every thread of a, b and this
    //  process (the client), per path
    int64_t cpu [2][3] = { { 0 } };
    //  b learns where the model runs (its view), then every path is warmed
    //  (round -1) and the three alternate in blocks
    int64_t ensure_ns;
    if (rc == 0 && s_pair (remote, ensure_args, "a", &ensure_ns) < 0)
        zclock_sleep (500);
    for (int round = -1; rc == 0 && done < calls; round++) {
        int block = round < 0? S_BLOCK: (calls - done < S_BLOCK? calls - done: S_BLOCK);
        for (int which = 2; which < 5; which++)
            for (int i = 0; i < block; i++) {
                zsock_t *to = which == 2? echo: which == 3? echo_process: relay_process;
                int64_t took = shic_bench_echo_pair (to, ensure_frame, release_frame);
                if (round >= 0)
                    series [which][done + i] = took;
            }
        for (int path = 0; path < 2; path++) {
            int64_t before [3] = { shic_bench_cpu_ns (a.pid), shic_bench_cpu_ns (b.pid),
                                   shic_bench_cpu_ns (getpid ()) };
            for (int i = 0; i < block; i++) {
                int64_t took = s_pair (path? remote: local, ensure_args, "a", &ensure_ns);
                if (took < 0) {
                    errors++;
                    took = ensure_ns = 0;
                }
                if (round >= 0) {
                    series [path][done + i] = took;
                    series [5 + path][done + i] = ensure_ns;
                }
            }
            if (round >= 0) {
                cpu [path][0] += shic_bench_cpu_ns (a.pid) - before [0];
                cpu [path][1] += shic_bench_cpu_ns (b.pid) - before [1];
                cpu [path][2] += shic_bench_cpu_ns (getpid ()) - before [2];
            }
        }
        if (round >= 0)
            done += block;
        if (errors > calls / 10) {
            fprintf (stderr, "bench: fig12: %d errors\n", errors);
            shic_bench_report_error (remote, "fig12 forwarded pair");
            rc = -1;
        }
    }
    if (rc == 0) {
        shic_bench_write_samples (samples_dir, "fig12_local_us.txt", series [0], calls, 1000.0);
        shic_bench_write_samples (samples_dir, "fig12_forwarded_us.txt", series [1], calls, 1000.0);
        shic_bench_write_samples (samples_dir, "fig12_echo_us.txt", series [2], calls, 1000.0);
        shic_bench_write_samples (samples_dir, "fig12_echo_process_us.txt", series [3], calls,
                                  1000.0);
        //  The releases: each pair less its ensure (before the stats sort
        //  the series)
        int64_t *releases [2];
        for (int path = 0; path < 2; path++) {
            releases [path] = (int64_t *) calloc (calls, sizeof (int64_t));
            assert (releases [path]);
            for (int i = 0; i < calls; i++)
                releases [path][i] = series [path][i] - series [5 + path][i];
        }
        shic_bench_stats_t f_local = shic_bench_stats (series [0], calls, 1000.0);
        shic_bench_stats_t f_remote = shic_bench_stats (series [1], calls, 1000.0);
        shic_bench_stats_t f_echo = shic_bench_stats (series [2], calls, 1000.0);
        shic_bench_write_samples (samples_dir, "fig12_relay_process_us.txt", series [4], calls,
                                  1000.0);
        shic_bench_stats_t f_local_ensure = shic_bench_stats (series [5], calls, 1000.0);
        shic_bench_stats_t f_remote_ensure = shic_bench_stats (series [6], calls, 1000.0);
        shic_bench_stats_t f_local_release = shic_bench_stats (releases [0], calls, 1000.0);
        shic_bench_stats_t f_remote_release = shic_bench_stats (releases [1], calls, 1000.0);
        free (releases [0]);
        free (releases [1]);
        shic_bench_stats_t f_echo2 = shic_bench_stats (series [3], calls, 1000.0);
        shic_bench_stats_t f_relay = shic_bench_stats (series [4], calls, 1000.0);
        printf ("fig12 warm ensure+release, %d pairs each, model on node a:\n", calls);
        printf ("  local (client on a)      p50 %8.1f us  p99 %8.1f us  min %8.1f  max %9.1f\n",
                f_local.p50, f_local.p99, f_local.min, f_local.max);
        printf ("  forwarded (client on b)  p50 %8.1f us  p99 %8.1f us  min %8.1f  max %9.1f"
                "  (%d errors)\n", f_remote.p50, f_remote.p99, f_remote.min, f_remote.max, errors);
        printf ("    its ensure: local p50 %.1f us, forwarded %.1f us (+%.1f);"
                " its release: local %.1f us, forwarded %.1f us (+%.1f)\n",
                f_local_ensure.p50, f_remote_ensure.p50, f_remote_ensure.p50 - f_local_ensure.p50,
                f_local_release.p50, f_remote_release.p50,
                f_remote_release.p50 - f_local_release.p50);
        for (int path = 0; path < 2; path++)
            printf ("    CPU a pair took, %s: %.1f us on a, %.1f us on b, %.1f us in the client\n",
                    path? "forwarded": "local", cpu [path][0] / 1e3 / calls,
                    cpu [path][1] / 1e3 / calls, cpu [path][2] / 1e3 / calls);
        printf ("  echo, this process       p50 %8.1f us  p99 %8.1f us  min %8.1f  max %9.1f\n",
                f_echo.p50, f_echo.p99, f_echo.min, f_echo.max);
        printf ("  echo, another process    p50 %8.1f us  p99 %8.1f us  min %8.1f  max %9.1f\n",
                f_echo2.p50, f_echo2.p99, f_echo2.min, f_echo2.max);
        printf ("  echo via a bare relay    p50 %8.1f us  p99 %8.1f us  min %8.1f  max %9.1f"
                "  (the relay adds %.1f us)\n", f_relay.p50, f_relay.p99, f_relay.min, f_relay.max,
                f_relay.p50 - f_echo2.p50);
        printf ("  forwarded - local p50 %.1f us; target <= the two-process echo's p50 %.1f us:"
                " %s (the in-process echo's %.1f us: %s)\n",
                f_remote.p50 - f_local.p50, f_echo2.p50,
                f_remote.p50 <= f_local.p50 + f_echo2.p50? "met": "missed", f_echo.p50,
                f_remote.p50 <= f_local.p50 + f_echo.p50? "within": "beyond");
        if (json) {
            fprintf (json, "  \"fig12\": {\n    \"unit\": \"us\",\n    \"pairs\": %d,\n"
                     "    \"errors\": %d,\n    \"ttl_ms\": %d,\n", calls, errors, S_TTL_MS);
            shic_bench_json_stats (json, "local", f_local, false);
            shic_bench_json_stats (json, "forwarded", f_remote, false);
            shic_bench_json_stats (json, "local_ensure", f_local_ensure, false);
            shic_bench_json_stats (json, "forwarded_ensure", f_remote_ensure, false);
            shic_bench_json_stats (json, "local_release", f_local_release, false);
            shic_bench_json_stats (json, "forwarded_release", f_remote_release, false);
            for (int path = 0; path < 2; path++)
                fprintf (json, "    \"%s_cpu_us\": {\"a\": %.1f, \"b\": %.1f, \"client\": %.1f},\n",
                         path? "forwarded": "local", cpu [path][0] / 1e3 / calls,
                         cpu [path][1] / 1e3 / calls, cpu [path][2] / 1e3 / calls);
            shic_bench_json_stats (json, "echo", f_echo, false);
            shic_bench_json_stats (json, "echo_process", f_echo2, false);
            shic_bench_json_stats (json, "relay_process", f_relay, true);
            fprintf (json, "  },\n");
        }
    }
    for (int s = 0; s < 7; s++)
        free (series [s]);
    zframe_destroy (&ensure_frame);
    zframe_destroy (&release_frame);
    zsock_destroy (&echo);
    zsock_destroy (&echo_process);
    zsock_destroy (&relay_process);
    if (relay_pid > 0)
        shic_bench_stop_process (relay_pid, 2000);
    if (echo_pid > 0)
        shic_bench_stop_process (echo_pid, 2000);
    zstr_free (&echo_endpoint);
    zactor_destroy (&echo_actor);
    shic_val_destroy (&held);
    shic_val_destroy (&ensure_args);
    shic_client_destroy (&local);
    shic_client_destroy (&remote);
    shic_bench_daemon_stop (&b);
    shic_bench_daemon_stop (&a);
    return rc;
}

//  ---------------------------------------------------------------------------
//  Figure 13: failover

//  A cold ensure through client, timed; its instance id into id (size 256)
static int64_t
s_cold (shic_client_t *client, const shic_val_t *ensure_args, char *id)
{
    int64_t start = shic_bench_nanos ();
    shic_val_t *result = shic_client_call (client, "ensure_endpoint",
                                           &(shic_val_t *) { shic_val_dup (ensure_args) });
    int64_t took = shic_bench_nanos () - start;
    if (!result)
        return -1;
    snprintf (id, 256, "%s", shic_val_str (shic_val_get (result, "instance_id")));
    shic_val_destroy (&result);
    return took;
}

static int
s_fig13 (const char *build, const char *dir, const char *etcd, FILE *json, const char *samples_dir,
         int rounds)
{
    shic_bench_daemon_t a = { 0 }, b = { 0 };
    if (s_node_start (&a, build, dir, etcd, "a", "/bench13"))
        return -1;
    shic_client_t *client_a = shic_client_new (a.gateway);
    shic_val_t *ensure_args = shic_client_ensure_args ("standin", "tiny", NULL, 0, S_WAIT_MS);
    int64_t *failover = (int64_t *) calloc (rounds, sizeof (int64_t));
    int64_t *cold = (int64_t *) calloc (rounds, sizeof (int64_t));
    int done = 0, rc = 0;
    char id [256];
    for (int round = 0; rc == 0 && round < rounds; round++) {
        char name [16];
        snprintf (name, sizeof (name), "b%d", round);
        if (s_node_start (&b, build, dir, etcd, name, "/bench13")) {
            rc = -1;
            break;
        }
        shic_client_t *client_b = shic_client_new (b.gateway);
        //  The model starts on b (b ranks itself first), timed: its cold start
        //  alone; a must see it there
        cold [round] = s_cold (client_b, ensure_args, id);
        if (cold [round] < 0 || strncmp (id, name, strlen (name))
        ||  s_wait_nodes (client_a, 2, 10000)) {
            fprintf (stderr, "bench: fig13 round %d: the model did not start on %s (%s)\n",
                     round, name, id);
            shic_client_destroy (&client_b);
            rc = -1;
            break;
        }
        //  a's view has b's instance record; b dies at a random moment of
        //  its keep-alive period (when it dies after its last keep-alive
        //  decides how much of the TTL is left: a fixed pause would always
        //  hit the same phase)
        zclock_sleep (300 + (int) (random () % (S_TTL_MS / 3)));
        //  b dies; the next ensure at a is timed until it is answered
        int64_t start = shic_bench_nanos ();
        kill (b.pid, SIGKILL);
        waitpid (b.pid, NULL, 0);
        b.pid = 0;
        int64_t took = s_cold (client_a, ensure_args, id);
        shic_client_destroy (&client_b);
        if (took < 0 || strncmp (id, "a.", 2)) {
            fprintf (stderr, "bench: fig13 round %d: the ensure after the kill: %s\n", round,
                     took < 0? "no answer": id);
            rc = -1;
            break;
        }
        failover [round] = shic_bench_nanos () - start;
        done++;
        //  Stopped for the next round (a stands alone again)
        shic_val_t *args = shic_val_new_map ();
        shic_val_set_str (args, "instance_id", id);
        shic_val_t *result = shic_client_call (client_a, "stop_instance", &args);
        shic_val_destroy (&result);
        int64_t deadline = zclock_mono () + 10000;
        while (zclock_mono () < deadline) {
            args = shic_val_new_map ();
            shic_val_set_str (args, "instance_id", id);
            result = shic_client_call (client_a, "lookup_instance", &args);
            const char *status = shic_val_str (shic_val_get (result, "lifecycle_status"));
            bool stopped = !result || (status && streq (status, "stopped"));
            shic_val_destroy (&result);
            if (stopped)
                break;
            zclock_sleep (50);
        }
        s_wait_nodes (client_a, 1, 10000);
    }
    if (rc == 0) {
        shic_bench_write_samples (samples_dir, "fig13_failover_ms.txt", failover, done, 1e6);
        shic_bench_write_samples (samples_dir, "fig13_cold_ms.txt", cold, done, 1e6);
        shic_bench_stats_t f_failover = shic_bench_stats (failover, done, 1e6);
        shic_bench_stats_t f_cold = shic_bench_stats (cold, done, 1e6);
        double bound = S_TTL_MS + f_cold.p50;
        printf ("fig13 failover, %d rounds, TTL %d ms, stand-in load %d ms:\n", done, S_TTL_MS,
                S_LOAD_MS);
        printf ("  SIGKILL -> ensure answered  p50 %8.1f ms  p99 %8.1f ms  min %8.1f  max %8.1f\n",
                f_failover.p50, f_failover.p99, f_failover.min, f_failover.max);
        printf ("  cold start alone            p50 %8.1f ms  p99 %8.1f ms  min %8.1f  max %8.1f\n",
                f_cold.p50, f_cold.p99, f_cold.min, f_cold.max);
        printf ("  target p50 <= TTL + cold p50 = %.1f ms: %s\n", bound,
                f_failover.p50 <= bound? "met": "missed");
        if (json) {
            fprintf (json, "  \"fig13\": {\n    \"unit\": \"ms\",\n    \"rounds\": %d,\n"
                     "    \"ttl_ms\": %d,\n    \"load_ms\": %d,\n", done, S_TTL_MS, S_LOAD_MS);
            shic_bench_json_stats (json, "failover", f_failover, false);
            shic_bench_json_stats (json, "cold", f_cold, true);
            fprintf (json, "  },\n");
        }
    }
    free (failover);
    free (cold);
    shic_val_destroy (&ensure_args);
    shic_client_destroy (&client_a);
    shic_bench_daemon_stop (&a);
    return rc;
}

int
main (int argc, char *argv [])
{
    if (argc == 2 && streq (argv [1], "--echo-process"))
        return s_echo_process ();
    if (argc == 3 && streq (argv [1], "--relay-process"))
        return s_relay_process (argv [2]);
    shic_bench_run_t run;
    int code = shic_bench_run_start (&run, argc, argv, "cluster", "12,13");
    if (code >= 0)
        return code;
    srandom (13);
    shic_test_etcd_t etcd = { 0 };
    const char *url = shic_test_etcd_start (&etcd);
    if (!url) {
        printf ("bench: etcd is not installed: figures 12 and 13 skipped\n");
        shic_bench_run_end (&run, 0);
        return 2;
    }
    int rc = 0;
    if (shic_bench_want (run.only, 12)
    &&  s_fig12 (run.build, run.dir, url, run.json, run.samples_dir,
                 run.quick? 500: S_WARM_CALLS))
        rc = 1;
    if (rc == 0 && shic_bench_want (run.only, 13)
    &&  s_fig13 (run.build, run.dir, url, run.json, run.samples_dir,
                 run.quick? 3: S_FAILOVER_ROUNDS))
        rc = 1;
    shic_test_etcd_destroy (&etcd);
    return shic_bench_run_end (&run, rc);
}
