/*  =========================================================================
    shic_bench_placement - placement by memory, measured against a real shicd

    Starts shicd with a pool "ram" of 100 MiB (overhead and margin 0) and
    stand-in llama-servers (the llama_cpp backend with tests/shic_stand_in
    as its binary) that each declare needs = 60 MiB, so that two never fit
    together:

    fig9    swap: model A idle fills the pool, ensure B. Per round, from
            the events (receive times on a SUB of this process) and the
            reply: total = ensure sent -> reply; A's stop-to-reap =
            instance.evicting -> instance.stopped of A; B alone = a cold
            ensure of B with nothing to evict (B stopped first), sent ->
            reply, in the same round; overhead = total - stop-to-reap -
            alone, what the swap costs beyond the two things it cannot
            avoid. Stand-ins load in 0 ms and write --ready-file, so the
            reply after B's ready moment is reported too, and the two steps
            that are the daemon's alone: ensure -> A evicting plus A stopped
            -> B starting ("decisions").
    fig10   contention: 4 models, room for 1, 40 client threads for 30 s,
            each looping: ensure a random model (ttl 60 s), hold it 1-20
            ms, release. Every request answered (replies against sends,
            errors by code), waits p50/p99/max, starts made (stats
            instances_started) against the minimum the order of the grants
            needed: 1 + the model changes in the sequence of lease.granted
            events (the daemon's order); room for 1 means each change is a
            start, so a start beyond that was wasted. The same count over
            the requests in the order they were sent says what a server
            that serves strictly in arrival order would have started.

    A benchmark, not a test: it reports and asserts nothing.

    Usage: shic_bench_placement [--build DIR] [--json FILE] [--samples DIR]
                                [--quick] [--only 9,10]
    =========================================================================
*/

#include "shic.h"
#include "shic_bench_util.h"
#include <pthread.h>

#define S_NEEDS_MIB         60          //  each model's declared needs
#define S_POOL_TEXT                     \
    "    resources\n"                   \
    "        ram = 100MiB\n"            \
    "        overhead.ram = 0\n"        \
    "        margin.ram = 0\n"
#define S_SWAP_ROUNDS       30
#define S_SWAP_LOAD_MS      0           //  stand-in load time of figure 9
#define S_EVENT_MS          2000        //  wait for an event after its reply
#define S_MODELS            4           //  figure 10
#define S_CLIENTS           40
#define S_CONTEND_MS        30000
#define S_CONTEND_LOAD_MS   50          //  stand-in load time of figure 10
#define S_HOLD_MAX_MS       20
#define S_CLIENT_REQUESTS   5000        //  at most per client
#define S_TTL_MS            60000
#define S_WAIT_MS           60000
#define S_ERROR_CODES       16

//  Starts shicd with the pool and a llama_cpp backend of models names
//  [0..count), each a stand-in that declares S_NEEDS_MIB and loads in
//  load_ms, with an empty model file and a ready file in dir; 0 or -1
static int
s_daemon_start (shic_bench_daemon_t *daemon, const char *build, const char *dir,
                const char *name, const char **names, int count, int load_ms)
{
    size_t max = 512 + (size_t) count * 1536;
    char *text = (char *) calloc (max, 1);
    assert (text);
    size_t used = snprintf (text, max,
                            "    llama_cpp\n"
                            "        binary = %s/shic_stand_in\n"
                            "        idle_shutdown_ms = 600000\n"
                            "        models\n", build);
    for (int i = 0; i < count; i++) {
        char path [512];
        snprintf (path, sizeof (path), "%s/%s.gguf", dir, names [i]);
        FILE *file = fopen (path, "w");
        if (file)
            fclose (file);
        used += snprintf (text + used, max - used,
                          "            %s\n"
                          "                path = %s\n"
                          "                needs = %dMiB\n"
                          "                extra_args = \"--load-ms %d --term-exit 0"
                          " --ready-file %s/%s.ready\"\n",
                          names [i], path, S_NEEDS_MIB, load_ms, dir, names [i]);
    }
    int rc = shic_bench_daemon_start (daemon, build, dir, name, S_POOL_TEXT, text);
    free (text);
    return rc;
}

//  ---------------------------------------------------------------------------
//  Figure 9: swap

//  What one ensure saw: receive times (ns, 0 = not seen) of its reply and
//  of the instance events around it
typedef struct {
    int64_t sent;                   //  ensure sent
    int64_t reply;                  //  reply received
    int64_t evicting;               //  instance.evicting (of the idle model)
    int64_t stopped;                //  instance.stopped of the evicted one
    int64_t starting;               //  instance.starting (of the model ensured)
    char *lease_ref;                //  granted lease, fresh
    char *instance_id;              //  of the reply, fresh
    char *evicted_id;               //  of instance.evicting, fresh
    int evicted;                    //  placement.evicted of the reply
} s_timed_t;

static void
s_timed_reset (s_timed_t *self)
{
    free (self->lease_ref);
    free (self->instance_id);
    free (self->evicted_id);
    memset (self, 0, sizeof (s_timed_t));
}

//  Notes one instance event in timed
static void
s_timed_event (s_timed_t *timed, const char *topic, shic_val_t *body, int64_t at)
{
    const char *id = shic_val_str (shic_val_get (body, "instance_id"));
    if (!topic || !id)
        return;
    if (streq (topic, "instance.evicting") && !timed->evicting) {
        timed->evicting = at;
        timed->evicted_id = strdup (id);
    }
    else
    if (streq (topic, "instance.stopped") && timed->evicted_id
    &&  streq (id, timed->evicted_id) && !timed->stopped)
        timed->stopped = at;
    else
    if (streq (topic, "instance.starting") && !timed->starting)
        timed->starting = at;
}

//  Sends one ensure of model and waits for its reply and for the events
//  it expects (starting; evicting and stopped with swap), each timed on
//  arrival; 0 or -1
static int
s_timed_ensure (shic_client_t *client, zsock_t *sub, const char *model, bool swap,
                s_timed_t *timed)
{
    s_timed_reset (timed);
    zpoller_t *poller = zpoller_new (shic_client_sock (client), sub, NULL);
    shic_val_t *args = shic_client_ensure_args ("llama_cpp", model, NULL, 0, 30000);
    timed->sent = shic_bench_nanos ();
    shic_client_send (client, 9, "ensure_endpoint", &args);
    int64_t deadline = zclock_mono () + 40000;
    int rc = -1;
    while (zclock_mono () < deadline) {
        bool events_done = timed->starting && (!swap || (timed->evicting && timed->stopped));
        if (timed->reply && events_done)
            break;
        zsock_t *which = (zsock_t *) zpoller_wait (poller, 200);
        if (which == sub) {
            char *topic = NULL;
            shic_val_t *body = NULL;
            int64_t at = 0;
            if (shic_bench_recv_event (sub, 0, &topic, &body, &at) == 0)
                s_timed_event (timed, topic, body, at);
            zstr_free (&topic);
            shic_val_destroy (&body);
        }
        else
        if (which) {
            shic_wire_reply_t reply = { 0 };
            if (shic_client_recv (client, &reply, 0) == 0) {
                timed->reply = shic_bench_nanos ();
                if (reply.ok) {
                    const shic_val_t *result = reply.result;
                    const char *lease = shic_val_str (shic_val_path (result, "lease/lease_ref"));
                    const char *id = shic_val_str (shic_val_get (result, "instance_id"));
                    timed->lease_ref = lease? strdup (lease): NULL;
                    timed->instance_id = id? strdup (id): NULL;
                    timed->evicted = (int) shic_val_size (shic_val_path (result, "placement/evicted"));
                    rc = 0;
                }
                else
                    fprintf (stderr, "bench: fig9 ensure %s: %s (%s)\n", model,
                             reply.error.code? reply.error.code: "?",
                             reply.error.message? reply.error.message: "");
                shic_wire_reply_reset (&reply);
                //  The events may trail the reply (another connection)
                if (deadline > zclock_mono () + S_EVENT_MS)
                    deadline = zclock_mono () + S_EVENT_MS;
                if (rc)
                    break;
            }
        }
    }
    zpoller_destroy (&poller);
    if (rc == 0 && !(timed->starting && (!swap || (timed->evicting && timed->stopped)))) {
        fprintf (stderr, "bench: fig9 ensure %s: events missing (evicting %d, stopped %d, "
                 "starting %d)\n", model, timed->evicting > 0, timed->stopped > 0,
                 timed->starting > 0);
        rc = -1;
    }
    if (rc == 0 && swap && timed->evicted != 1) {
        fprintf (stderr, "bench: fig9 ensure %s evicted %d instances, not 1\n", model,
                 timed->evicted);
        rc = -1;
    }
    return rc;
}

//  The series of figure 9, in ns, one sample per round
enum {
    S_OVERHEAD, S_TOTAL, S_STOP_REAP, S_ALONE, S_TO_EVICTING, S_REAP_TO_START,
    S_START_TO_REPLY, S_ALONE_START_TO_REPLY, S_READY_TO_REPLY, S_ALONE_READY_TO_REPLY,
    S_DECISIONS, S_SERIES
};
static const char *s_series_names [S_SERIES] = {
    "overhead", "total", "stop_to_reap", "alone", "ensure_to_evicting", "reap_to_starting",
    "starting_to_reply", "alone_starting_to_reply", "ready_to_reply", "alone_ready_to_reply",
    "decisions"
};

static int
s_release (shic_client_t *client, const char *lease_ref)
{
    if (shic_client_release (client, lease_ref) == 0)
        return 0;
    shic_bench_report_error (client, "release_lease");
    return -1;
}

static int
s_fig9 (const char *build, const char *dir, FILE *json, const char *samples_dir, int rounds)
{
    const char *names [] = { "a", "b" };
    shic_bench_daemon_t daemon = { 0 };
    if (s_daemon_start (&daemon, build, dir, "swap", names, 2, S_SWAP_LOAD_MS))
        return -1;
    shic_client_t *client = shic_client_new (daemon.gateway);
    zsock_t *sub = zsock_new_sub (daemon.events, "instance.");
    int64_t *series [S_SERIES];
    for (int s = 0; s < S_SERIES; s++)
        series [s] = (int64_t *) calloc (rounds, sizeof (int64_t));
    s_timed_t swap = { 0 }, alone = { 0 };
    int done = 0, rc = 0;
    //  The subscription settles, then A starts and is left idle
    shic_client_ping (client);
    zclock_sleep (300);
    if (s_timed_ensure (client, sub, names [0], false, &alone)
    ||  s_release (client, alone.lease_ref))
        rc = -1;
    //  Round r starts names [(r + 2) % 2] while the other is idle; round
    //  -1 warms up and is not counted
    for (int r = -1; rc == 0 && r < rounds; r++) {
        const char *model = names [(r + 2) % 2];
        char ready_path [512];
        snprintf (ready_path, sizeof (ready_path), "%s/%s.ready", dir, model);
        unlink (ready_path);
        if (s_timed_ensure (client, sub, model, true, &swap)
        ||  s_release (client, swap.lease_ref)) {
            rc = -1;
            break;
        }
        int64_t swap_ready = shic_bench_read_ready_file (ready_path);
        //  B alone: stopped, then cold with nothing to evict
        unlink (ready_path);
        if (shic_bench_stop_instance (client, sub, swap.instance_id)
        ||  s_timed_ensure (client, sub, model, false, &alone)
        ||  s_release (client, alone.lease_ref)) {
            rc = -1;
            break;
        }
        int64_t alone_ready = shic_bench_read_ready_file (ready_path);
        if (r < 0)
            continue;
        int64_t *v [S_SERIES];
        for (int s = 0; s < S_SERIES; s++)
            v [s] = &series [s][done];
        *v [S_TOTAL] = swap.reply - swap.sent;
        *v [S_STOP_REAP] = swap.stopped - swap.evicting;
        *v [S_ALONE] = alone.reply - alone.sent;
        *v [S_OVERHEAD] = *v [S_TOTAL] - *v [S_STOP_REAP] - *v [S_ALONE];
        *v [S_TO_EVICTING] = swap.evicting - swap.sent;
        *v [S_REAP_TO_START] = swap.starting - swap.stopped;
        *v [S_START_TO_REPLY] = swap.reply - swap.starting;
        *v [S_ALONE_START_TO_REPLY] = alone.reply - alone.starting;
        *v [S_READY_TO_REPLY] = swap_ready > 0? swap.reply - swap_ready: 0;
        *v [S_ALONE_READY_TO_REPLY] = alone_ready > 0? alone.reply - alone_ready: 0;
        //  The two steps of the swap that are shic's alone, free of the
        //  noise of the cold starts the overhead is a difference of
        *v [S_DECISIONS] = *v [S_TO_EVICTING] + *v [S_REAP_TO_START];
        done++;
    }
    s_timed_reset (&swap);
    s_timed_reset (&alone);
    printf ("fig9 swap (pool ram 100 MiB, two stand-ins of %d MiB declared, load %d ms), "
            "%d rounds:\n", S_NEEDS_MIB, S_SWAP_LOAD_MS, done);
    if (json)
        fprintf (json, "  \"fig9\": {\n    \"rounds\": %d,\n    \"pool_mib\": 100,\n"
                 "    \"needs_mib\": %d,\n    \"load_ms\": %d,\n    \"unit\": \"ms\",\n",
                 done, S_NEEDS_MIB, S_SWAP_LOAD_MS);
    for (int s = 0; s < S_SERIES; s++) {
        char name [80];
        snprintf (name, sizeof (name), "fig9_%s_ms.txt", s_series_names [s]);
        shic_bench_write_samples (samples_dir, name, series [s], done, 1e6);
        shic_bench_stats_t f = shic_bench_stats (series [s], done, 1e6);
        printf ("  %-24s p50 %8.3f ms  p99 %8.3f  min %8.3f  max %8.3f\n",
                s_series_names [s], f.p50, f.p99, f.min, f.max);
        if (s == S_OVERHEAD)
            printf ("  %-24s target p50 < 5 ms: %s (llama-swap polls at 1 s, Ollama's settle"
                    " poll is 250 ms)\n", "", f.p50 < 5? "met": "missed");
        shic_bench_json_stats (json, s_series_names [s], f, s == S_SERIES - 1);
        free (series [s]);
    }
    if (json)
        fprintf (json, "  },\n");
    zsock_destroy (&sub);
    shic_client_destroy (&client);
    shic_bench_daemon_stop (&daemon);
    return rc;
}

//  ---------------------------------------------------------------------------
//  Figure 10: contention

typedef struct {
    int64_t at;                     //  ns
    int model;                      //  index
} s_mark_t;

typedef struct {
    char code [48];                 //  error code
    int count;                      //  replies with it
} s_code_t;

//  One client thread: its settings, then what it saw
typedef struct {
    const char *gateway;            //  shicd's gateway
    int64_t end;                    //  ns: no request is sent after this
    unsigned seed;                  //  rand_r state
    int sent;                       //  ensures sent
    int granted;                    //  ok replies
    int refused;                    //  error replies
    int no_reply;                   //  no reply within wait_ms + 10 s
    int release_errors;             //  releases that failed
    s_mark_t *sends;                //  [sent]: when, which model
    int64_t *waits;                 //  [granted]: send -> reply
    s_code_t codes [S_ERROR_CODES]; //  error replies by code
    int *finished;                  //  shared count of finished threads
} s_contender_t;

static void
s_contender_error (s_contender_t *self, const char *code)
{
    code = code? code: "?";
    for (int i = 0; i < S_ERROR_CODES; i++) {
        if (!self->codes [i].count)
            snprintf (self->codes [i].code, sizeof (self->codes [i].code), "%s", code);
        if (streq (self->codes [i].code, code)) {
            self->codes [i].count++;
            return;
        }
    }
}

static void *
s_contender_run (void *args)
{
    s_contender_t *self = (s_contender_t *) args;
    shic_client_t *client = shic_client_new (self->gateway);
    while (shic_bench_nanos () < self->end && self->sent < S_CLIENT_REQUESTS) {
        int model = rand_r (&self->seed) % S_MODELS;
        char name [8];
        snprintf (name, sizeof (name), "c%d", model);
        int64_t start = shic_bench_nanos ();
        self->sends [self->sent++] = (s_mark_t) { start, model };
        shic_val_t *result = shic_client_ensure (client, "llama_cpp", name, NULL, S_TTL_MS,
                                                 S_WAIT_MS);
        int64_t now = shic_bench_nanos ();
        if (!result) {
            const char *code = shic_client_error (client)->code;
            if (code && streq (code, SHIC_E_NO_REPLY))
                self->no_reply++;
            else {
                self->refused++;
                s_contender_error (self, code);
            }
            continue;
        }
        self->waits [self->granted++] = now - start;
        zclock_sleep (1 + rand_r (&self->seed) % S_HOLD_MAX_MS);
        if (shic_client_release (client, shic_val_str (shic_val_path (result, "lease/lease_ref"))))
            self->release_errors++;
        shic_val_destroy (&result);
    }
    shic_client_destroy (&client);
    __atomic_add_fetch (self->finished, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static int
s_compare_marks (const void *a, const void *b)
{
    const s_mark_t *x = (const s_mark_t *) a, *y = (const s_mark_t *) b;
    return x->at < y->at? -1: x->at > y->at;
}

//  A stats counter of the daemon, or -1
static int64_t
s_stats_int (shic_client_t *client, const char *key)
{
    shic_val_t *stats = shic_client_call (client, "stats", NULL);
    int64_t value = stats? shic_val_int (shic_val_get (stats, key)): -1;
    shic_val_destroy (&stats);
    return value;
}

static int
s_fig10 (const char *build, const char *dir, FILE *json, const char *samples_dir, int run_ms)
{
    const char *names [S_MODELS] = { "c0", "c1", "c2", "c3" };
    shic_bench_daemon_t daemon = { 0 };
    if (s_daemon_start (&daemon, build, dir, "contend", names, S_MODELS, S_CONTEND_LOAD_MS))
        return -1;
    shic_client_t *client = shic_client_new (daemon.gateway);
    zsock_t *sub = zsock_new_sub (daemon.events, "lease.granted");
    zsock_set_subscribe (sub, "instance.starting");
    zsock_set_subscribe (sub, "instance.evicting");
    zsock_set_rcvhwm (sub, 0);
    shic_client_ping (client);
    zclock_sleep (300);
    int64_t started_before = s_stats_int (client, "instances_started");

    s_contender_t contenders [S_CLIENTS];
    pthread_t threads [S_CLIENTS];
    int finished = 0;
    int64_t begin = shic_bench_nanos ();
    for (int c = 0; c < S_CLIENTS; c++) {
        s_contender_t *self = &contenders [c];
        memset (self, 0, sizeof (s_contender_t));
        self->gateway = daemon.gateway;
        self->end = begin + (int64_t) run_ms * 1000000;
        self->seed = 0x5eed + (unsigned) c * 7919;
        self->sends = (s_mark_t *) calloc (S_CLIENT_REQUESTS, sizeof (s_mark_t));
        self->waits = (int64_t *) calloc (S_CLIENT_REQUESTS, sizeof (int64_t));
        self->finished = &finished;
        assert (self->sends && self->waits);
        pthread_create (&threads [c], NULL, s_contender_run, self);
    }
    //  The daemon's order of grants, and its starts and evictions, as they
    //  come: an instance id stands for its model (one key per model)
    int grants = 0, starts_seen = 0, evictions = 0, model_changes = 0;
    char *last_granted = NULL;
    int64_t quiet_until = 0;
    while (true) {
        bool all_done = __atomic_load_n (&finished, __ATOMIC_SEQ_CST) == S_CLIENTS;
        if (all_done && !quiet_until)
            quiet_until = zclock_mono () + 1000;
        if (quiet_until && zclock_mono () >= quiet_until)
            break;
        char *topic = NULL;
        shic_val_t *body = NULL;
        int64_t at = 0;
        if (shic_bench_recv_event (sub, 100, &topic, &body, &at) == 0 && topic) {
            const char *id = shic_val_str (shic_val_get (body, "instance_id"));
            if (streq (topic, "lease.granted") && id) {
                grants++;
                if (!last_granted || !streq (last_granted, id)) {
                    model_changes += last_granted != NULL;
                    free (last_granted);
                    last_granted = strdup (id);
                }
            }
            else
            if (streq (topic, "instance.starting"))
                starts_seen++;
            else
            if (streq (topic, "instance.evicting"))
                evictions++;
        }
        zstr_free (&topic);
        shic_val_destroy (&body);
    }
    free (last_granted);
    for (int c = 0; c < S_CLIENTS; c++)
        pthread_join (threads [c], NULL);
    double seconds = (shic_bench_nanos () - begin) / 1e9;
    int64_t started = s_stats_int (client, "instances_started") - started_before;

    //  Sums over the clients
    int sent = 0, granted = 0, refused = 0, no_reply = 0, release_errors = 0;
    for (int c = 0; c < S_CLIENTS; c++) {
        sent += contenders [c].sent;
        granted += contenders [c].granted;
        refused += contenders [c].refused;
        no_reply += contenders [c].no_reply;
        release_errors += contenders [c].release_errors;
    }
    int64_t *waits = (int64_t *) calloc (granted + 1, sizeof (int64_t));
    s_mark_t *sends = (s_mark_t *) calloc (sent + 1, sizeof (s_mark_t));
    s_code_t codes [S_ERROR_CODES] = { { "", 0 } };
    int wait_count = 0, send_count = 0;
    for (int c = 0; c < S_CLIENTS; c++) {
        s_contender_t *self = &contenders [c];
        memcpy (waits + wait_count, self->waits, self->granted * sizeof (int64_t));
        wait_count += self->granted;
        memcpy (sends + send_count, self->sends, self->sent * sizeof (s_mark_t));
        send_count += self->sent;
        for (int i = 0; i < S_ERROR_CODES && self->codes [i].count; i++)
            for (int k = 0; k < S_ERROR_CODES; k++) {
                if (!codes [k].count)
                    memcpy (codes [k].code, self->codes [i].code, sizeof (codes [k].code));
                if (streq (codes [k].code, self->codes [i].code)) {
                    codes [k].count += self->codes [i].count;
                    break;
                }
            }
        free (self->sends);
        free (self->waits);
    }
    //  What a server serving strictly in arrival order would have started
    qsort (sends, send_count, sizeof (s_mark_t), s_compare_marks);
    int arrival_changes = 0;
    for (int i = 1; i < send_count; i++)
        arrival_changes += sends [i].model != sends [i - 1].model;
    int minimum = grants? model_changes + 1: 0;
    int arrival = send_count? arrival_changes + 1: 0;
    shic_bench_write_samples (samples_dir, "fig10_wait_ms.txt", waits, wait_count, 1e6);
    shic_bench_stats_t w = shic_bench_stats (waits, wait_count, 1e6);

    printf ("fig10 contention: %d models of %d MiB, room for 1, %d clients for %.1f s "
            "(hold 1-%d ms, load %d ms):\n", S_MODELS, S_NEEDS_MIB, S_CLIENTS, seconds,
            S_HOLD_MAX_MS, S_CONTEND_LOAD_MS);
    printf ("  requests sent %d, answered %d (granted %d, refused %d), no reply %d, "
            "release errors %d\n", sent, granted + refused, granted, refused, no_reply,
            release_errors);
    for (int k = 0; k < S_ERROR_CODES && codes [k].count; k++)
        printf ("  error %-20s %d\n", codes [k].code, codes [k].count);
    printf ("  wait   p50 %8.3f ms  p99 %8.3f ms  min %8.3f  max %9.3f\n",
            w.p50, w.p99, w.min, w.max);
    printf ("  starts %lld (instance.starting seen %d, evictions %d); minimum for the order "
            "of the %d grants seen: %d; strict arrival order would need %d\n",
            (long long) started, starts_seen, evictions, grants, minimum, arrival);
    printf ("  every request answered: %s\n", sent == granted + refused? "met": "missed");
    if (json) {
        fprintf (json, "  \"fig10\": {\n    \"models\": %d,\n    \"clients\": %d,\n"
                 "    \"run_ms\": %d,\n    \"seconds\": %.2f,\n"
                 "    \"hold_ms_max\": %d,\n    \"load_ms\": %d,\n"
                 "    \"needs_mib\": %d,\n    \"pool_mib\": 100,\n    \"unit\": \"ms\",\n"
                 "    \"sent\": %d,\n    \"answered\": %d,\n    \"granted\": %d,\n"
                 "    \"refused\": %d,\n    \"no_reply\": %d,\n    \"release_errors\": %d,\n"
                 "    \"errors\": {", S_MODELS, S_CLIENTS, run_ms, seconds, S_HOLD_MAX_MS,
                 S_CONTEND_LOAD_MS, S_NEEDS_MIB, sent, granted + refused, granted, refused,
                 no_reply, release_errors);
        for (int k = 0; k < S_ERROR_CODES && codes [k].count; k++)
            fprintf (json, "%s\"%s\": %d", k? ", ": "", codes [k].code, codes [k].count);
        fprintf (json, "},\n    \"starts\": %lld,\n    \"starts_seen\": %d,\n"
                 "    \"evictions\": %d,\n    \"grant_events\": %d,\n"
                 "    \"minimum_starts\": %d,\n    \"arrival_order_starts\": %d,\n",
                 (long long) started, starts_seen, evictions, grants, minimum, arrival);
        shic_bench_json_stats (json, "wait", w, true);
        fprintf (json, "  },\n");
    }
    free (waits);
    free (sends);
    zsock_destroy (&sub);
    shic_client_destroy (&client);
    shic_bench_daemon_stop (&daemon);
    return 0;
}

//  ---------------------------------------------------------------------------

int
main (int argc, char *argv [])
{
    shic_bench_run_t run;
    int code = shic_bench_run_start (&run, argc, argv, "placement", "9,10");
    if (code >= 0)
        return code;
    int rc = 0;
    if (shic_bench_want (run.only, 9)
    &&  s_fig9 (run.build, run.dir, run.json, run.samples_dir, run.quick? 10: S_SWAP_ROUNDS))
        rc = 1;
    if (rc == 0 && shic_bench_want (run.only, 10)
    &&  s_fig10 (run.build, run.dir, run.json, run.samples_dir, run.quick? 5000: S_CONTEND_MS))
        rc = 1;
    return shic_bench_run_end (&run, rc);
}
