/*  =========================================================================
    flood_test - bad input at a real shicd's gateway, over TCP

    Starts shicd (with a command backend of the stand-in) on free ports and:
      1. floods it with random and mutated frames (random bytes, mutated
         valid requests, multi-frame messages) from several DEALER clients,
         each keeping a window of requests in flight and checking that
         every reply decodes as a wire reply, while a watcher pings every
         50 ms and records the worst ping latency;
      1b. a chaos check: one greedy client keeps 500 valid requests in
         flight for 5 s while another pings every 20 ms: no ping may
         starve (2 s deadline); p50/p99/max beside the same pings with
         the daemon quiet are printed;
      2. sends an oversized frame (2 MiB > max_frame): that peer is cut off,
         the daemon keeps serving;
      3. a client sends 10000 pings and never reads its replies;
      4. 1000 connect/disconnect cycles;
      5. then pings must answer (within a 2 s deadline; latencies are
         printed, not asserted), and the daemon's RSS must have grown by
         less than 2 MB since the warm-up, and its open file descriptors
         not beyond those of the lease actors the pool started meanwhile
         (leases granted by the flood are held until their clients time
         out); SIGTERM must stop it with exit 0.
    Prints the figures. Usage:
        shic_flood_test SHICD STAND_IN [FRAMES [CLIENTS]]
    =========================================================================
*/

#include "shic.h"
#include <sys/wait.h>
#include <signal.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define RSS_GROWTH_MAX_KB   2048
//  A deadline, not a latency target (the machine may be busy): a ping
//  later than this counts as starved. The worst latency is printed.
#define PING_MAX_MS         2000
//  Descriptors each lease actor the pool starts meanwhile may hold
#define FDS_PER_THREAD      4
#define WINDOW              64          //  requests in flight per client
#define REPLY_DEADLINE_MS   5000        //  a window that gets no reply this long fails

//  A client thread's orders and results
typedef struct {
    const char *endpoint;               //  the gateway
    int index;                          //  client number, seeds the generator
    int64_t frames;                     //  messages to send
    int64_t sent;                       //  messages sent
    int64_t replies;                    //  replies that decoded
    int64_t bad_replies;                //  replies that did not decode
    int64_t errors_by_kind [4];         //  ok, malformed, other error codes, lost
} flood_client_t;

//  The ping watcher's orders and results
typedef struct {
    const char *endpoint;               //  the gateway
    volatile bool stop;                 //  set by main to end the watcher
    int64_t pings;                      //  pings answered
    int64_t missed;                     //  pings not answered within 1 s
    int64_t worst_ms;                   //  worst latency seen
} flood_watcher_t;

//  xorshift64*: reproducible per client
static uint64_t
s_random (uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 2685821657736338717ULL;
}

//  A valid request body of a harmless kind (nothing that starts a service
//  or waits), encoded; fresh frame
static zframe_t *
s_valid_request (uint64_t *rng, int64_t id)
{
    static const char *ops [] = { "ping", "list_backends", "stats", "list_instances",
                                  "list_leases", "lookup_instance", "release_lease",
                                  "renew_lease", "stop_instance", "compatibility",
                                  "ensure_endpoint", "explode", NULL };
    int count = 0;
    while (ops [count])
        count++;
    const char *op = ops [s_random (rng) % (uint64_t) count];
    shic_val_t *args = shic_val_new_map ();
    if (streq (op, "lookup_instance") || streq (op, "stop_instance"))
        shic_val_set_str (args, "instance_id", "flood:nothing");
    else
    if (streq (op, "release_lease") || streq (op, "renew_lease"))
        shic_val_set_str (args, "lease_ref", "lease-flood");
    else
    if (streq (op, "compatibility")) {
        shic_val_set_str (args, "backend", "standin");
        shic_val_t *consumer = shic_val_new_map ();
        shic_val_set_str (consumer, "consumer", "flood");
        shic_val_set (args, "consumer", &consumer);
    }
    else
    if (streq (op, "ensure_endpoint")) {
        //  An unknown backend: answered at once, starts nothing
        shic_val_t *ensure = shic_client_ensure_args ("nope", "tiny", NULL, 1000, 0);
        shic_val_destroy (&args);
        args = ensure;
    }
    shic_val_t *idval = shic_val_new_int (id);
    zframe_t *frame = shic_wire_request_encode (idval, op, &args);
    shic_val_destroy (&idval);
    return frame;
}

//  One random message: 0 random bytes, 1 mutated valid request, 2 valid
//  request, 3 several frames
static zmsg_t *
s_random_message (uint64_t *rng, int64_t id)
{
    zmsg_t *msg = zmsg_new ();
    int kind = (int) (s_random (rng) % 10);
    if (kind < 3) {
        size_t size = (size_t) (s_random (rng) % 300);
        byte *data = (byte *) malloc (size + 1);
        assert (data);
        for (size_t i = 0; i < size; i++)
            data [i] = (byte) s_random (rng);
        zmsg_addmem (msg, data, size);
        free (data);
    }
    else
    if (kind < 8) {
        zframe_t *valid = s_valid_request (rng, id);
        size_t size = zframe_size (valid);
        byte *data = (byte *) malloc (size + 16);
        assert (data);
        memcpy (data, zframe_data (valid), size);
        zframe_destroy (&valid);
        int edits = 1 + (int) (s_random (rng) % 4);
        for (int e = 0; e < edits && size > 0; e++) {
            size_t at = (size_t) (s_random (rng) % size);
            int how = (int) (s_random (rng) % 4);
            if (how == 0)
                data [at] ^= (byte) (1 << (s_random (rng) % 8));
            else
            if (how == 1)
                data [at] = (byte) s_random (rng);
            else
            if (how == 2) {
                memmove (data + at, data + at + 1, size - at - 1);
                size--;
            }
            else {
                memmove (data + at + 1, data + at, size - at);
                data [at] = (byte) s_random (rng);
                size++;
            }
        }
        zmsg_addmem (msg, data, size);
        free (data);
    }
    else
    if (kind < 9) {
        zframe_t *valid = s_valid_request (rng, id);
        zmsg_append (msg, &valid);
    }
    else {
        int frames = 2 + (int) (s_random (rng) % 3);
        for (int f = 0; f < frames; f++) {
            zframe_t *frame = s_valid_request (rng, id);
            //  An empty first frame looks like a REQ delimiter
            if (f == 0 && s_random (rng) % 2)
                zmsg_addmem (msg, "", 0);
            else
                zmsg_append (msg, &frame);
            zframe_destroy (&frame);
        }
    }
    return msg;
}

//  Receives one reply (its last frame is the body) and classifies it;
//  returns false on timeout
static bool
s_recv_reply (zsock_t *dealer, zpoller_t *poller, int timeout_ms, flood_client_t *client)
{
    if (zpoller_wait (poller, timeout_ms) != dealer)
        return false;
    zmsg_t *msg = zmsg_recv (dealer);
    if (!msg)
        return false;
    zframe_t *body = zmsg_last (msg);
    shic_wire_reply_t reply = { 0 };
    if (body && shic_wire_reply_decode (zframe_data (body), zframe_size (body), &reply) == 0) {
        client->replies++;
        if (reply.ok)
            client->errors_by_kind [0]++;
        else
        if (streq (reply.error.code, SHIC_E_MALFORMED))
            client->errors_by_kind [1]++;
        else
            client->errors_by_kind [2]++;
    }
    else
        client->bad_replies++;
    shic_wire_reply_reset (&reply);
    zmsg_destroy (&msg);
    return true;
}

static void *
s_flood_thread (void *arg)
{
    flood_client_t *client = (flood_client_t *) arg;
    zsock_t *dealer = zsock_new_dealer (client->endpoint);
    assert (dealer);
    zpoller_t *poller = zpoller_new (dealer, NULL);
    uint64_t rng = 0x9E3779B97F4A7C15ULL * (uint64_t) (client->index + 1);
    int64_t in_flight = 0;
    while (client->sent < client->frames || in_flight > 0) {
        while (client->sent < client->frames && in_flight < WINDOW) {
            zmsg_t *msg = s_random_message (&rng, client->sent);
            int rc = zmsg_send (&msg, dealer);
            assert (rc == 0);
            client->sent++;
            in_flight++;
        }
        if (!s_recv_reply (dealer, poller, REPLY_DEADLINE_MS, client)) {
            //  Every request must be answered; count the window as lost
            client->errors_by_kind [3] += in_flight;
            in_flight = 0;
            continue;
        }
        in_flight--;
    }
    zpoller_destroy (&poller);
    zsock_set_linger (dealer, 0);
    zsock_destroy (&dealer);
    return NULL;
}

//  One ping on dealer; its latency in microseconds, or -1 when no reply
//  came within timeout_ms
static int64_t
s_ping_us (zsock_t *dealer, int timeout_ms)
{
    static int64_t id = 1000000000;
    shic_val_t *idval = shic_val_new_int (++id);
    zframe_t *frame = shic_wire_request_encode (idval, "ping", NULL);
    int64_t start = zclock_usecs ();
    zframe_send (&frame, dealer, 0);
    int64_t deadline = zclock_mono () + timeout_ms;
    zpoller_t *poller = zpoller_new (dealer, NULL);
    int64_t latency = -1;
    while (latency < 0) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0 || zpoller_wait (poller, (int) left) != dealer)
            break;
        zmsg_t *msg = zmsg_recv (dealer);
        zframe_t *body = msg? zmsg_last (msg): NULL;
        shic_wire_reply_t reply = { 0 };
        if (body && shic_wire_reply_decode (zframe_data (body), zframe_size (body), &reply) == 0
        &&  reply.ok && shic_val_equal (reply.id, idval))
            latency = zclock_usecs () - start;
        shic_wire_reply_reset (&reply);
        zmsg_destroy (&msg);
    }
    zpoller_destroy (&poller);
    shic_val_destroy (&idval);
    return latency;
}

//  The same in milliseconds
static int64_t
s_ping (zsock_t *dealer, int timeout_ms)
{
    int64_t latency = s_ping_us (dealer, timeout_ms);
    return latency < 0? -1: latency / 1000;
}

//  --------------------------------------------------------------------------
//  Chaos: one greedy client must not starve the others. It keeps GREEDY_WINDOW
//  valid requests in flight (list ops, stats, ensures refused for their
//  arguments) for GREEDY_MS, as fast as the daemon answers, while another
//  client pings every 20 ms. The same pings are first timed with the
//  daemon quiet. Every ping must be answered within PING_MAX_MS (a
//  starved client is a failure); p50, p99 and max are printed beside the
//  quiet ones (figures, not assertions).

#define GREEDY_WINDOW       500
#define GREEDY_MS           5000

typedef struct {
    const char *endpoint;
    volatile bool stop;
    int64_t answered;
} greedy_t;

static void *
s_greedy_thread (void *arg)
{
    greedy_t *greedy = (greedy_t *) arg;
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    assert (dealer);
    zsock_set_sndhwm (dealer, 0);
    zsock_set_rcvhwm (dealer, 0);
    zsock_connect (dealer, "%s", greedy->endpoint);
    const char *ops [] = { "list_instances", "list_backends", "list_models", "stats",
                           "list_leases", "resources", "ensure_endpoint" };
    int64_t in_flight = 0, sent = 0;
    zpoller_t *poller = zpoller_new (dealer, NULL);
    while (!greedy->stop) {
        while (in_flight < GREEDY_WINDOW) {
            const char *op = ops [sent % 7];
            shic_val_t *id = shic_val_new_int (sent);
            shic_val_t *args = shic_val_new_map ();
            if (streq (op, "ensure_endpoint"))
                shic_val_set_str (args, "backend", "nope");
            zframe_t *frame = shic_wire_request_encode (id, op, &args);
            shic_val_destroy (&id);
            if (zframe_send (&frame, dealer, 0) != 0) {
                zframe_destroy (&frame);
                break;
            }
            sent++;
            in_flight++;
        }
        if (zpoller_wait (poller, 100) == dealer) {
            zmsg_t *msg = zmsg_recv (dealer);
            if (msg) {
                greedy->answered++;
                in_flight--;
            }
            zmsg_destroy (&msg);
        }
    }
    zpoller_destroy (&poller);
    zsock_set_linger (dealer, 0);
    zsock_destroy (&dealer);
    return NULL;
}

static int
s_compare_int64 (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y? -1: x > y? 1: 0;
}

//  Pings every 20 ms for ms; fills latencies (us, -1 missed); the count
static int
s_ping_series (const char *endpoint, int64_t ms, int64_t *latencies, int max)
{
    zsock_t *dealer = zsock_new_dealer (endpoint);
    assert (dealer);
    int count = 0;
    for (int64_t end = zclock_mono () + ms; zclock_mono () < end && count < max; ) {
        latencies [count] = s_ping_us (dealer, PING_MAX_MS);
        if (latencies [count++] < 0) {
            zsock_set_linger (dealer, 0);
            zsock_destroy (&dealer);
            dealer = zsock_new_dealer (endpoint);
            assert (dealer);
        }
        zclock_sleep (20);
    }
    zsock_set_linger (dealer, 0);
    zsock_destroy (&dealer);
    return count;
}

//  "p50 X us p99 Y us max Z us (N pings, M missed)"; returns missed
static int
s_print_series (const char *name, int64_t *latencies, int count)
{
    int missed = 0;
    for (int i = 0; i < count; i++)
        missed += latencies [i] < 0;
    qsort (latencies, (size_t) count, sizeof (int64_t), s_compare_int64);
    int64_t *answered = latencies + missed;
    int n = count - missed;
    printf ("flood: %-26s p50 %7lld us  p99 %7lld us  max %7lld us  (%d pings, %d missed)\n",
            name, n? (long long) answered [n / 2]: -1LL,
            n? (long long) answered [(n * 99) / 100 < n? (n * 99) / 100: n - 1]: -1LL,
            n? (long long) answered [n - 1]: -1LL, count, missed);
    return missed;
}

static int
s_chaos (const char *endpoint)
{
    int max = (int) (GREEDY_MS / 20) + 10;
    int64_t *quiet = (int64_t *) calloc ((size_t) max, sizeof (int64_t));
    int64_t *loaded = (int64_t *) calloc ((size_t) max, sizeof (int64_t));
    int quiet_count = s_ping_series (endpoint, GREEDY_MS / 2, quiet, max);
    greedy_t greedy = { .endpoint = endpoint };
    pthread_t thread;
    pthread_create (&thread, NULL, s_greedy_thread, &greedy);
    zclock_sleep (200);                 //  the greedy window is full
    int loaded_count = s_ping_series (endpoint, GREEDY_MS, loaded, max);
    greedy.stop = true;
    pthread_join (thread, NULL);
    s_print_series ("pings, daemon quiet:", quiet, quiet_count);
    int missed = s_print_series ("pings beside a greedy one:", loaded, loaded_count);
    printf ("flood: the greedy client had %lld requests answered in %d ms (%d in flight): %s\n",
            (long long) greedy.answered, GREEDY_MS, GREEDY_WINDOW,
            missed == 0 && loaded_count > 0? "nobody starved, ok": "a ping STARVED: FAILED");
    free (quiet);
    free (loaded);
    return missed == 0 && loaded_count > 0? 0: 1;
}

static void *
s_watcher_thread (void *arg)
{
    flood_watcher_t *watcher = (flood_watcher_t *) arg;
    zsock_t *dealer = zsock_new_dealer (watcher->endpoint);
    assert (dealer);
    while (!watcher->stop) {
        int64_t latency = s_ping (dealer, 1000);
        if (latency < 0) {
            //  A late reply must not answer the next ping: new socket
            watcher->missed++;
            zsock_set_linger (dealer, 0);
            zsock_destroy (&dealer);
            dealer = zsock_new_dealer (watcher->endpoint);
            assert (dealer);
        }
        else {
            watcher->pings++;
            if (latency > watcher->worst_ms)
                watcher->worst_ms = latency;
        }
        zclock_sleep (50);
    }
    zsock_set_linger (dealer, 0);
    zsock_destroy (&dealer);
    return NULL;
}

//  A /proc/<pid>/status field in kB, or -1
static int64_t
s_status_kb (int pid, const char *field)
{
    char path [64];
    snprintf (path, sizeof (path), "/proc/%d/status", pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return -1;
    char line [256];
    int64_t value = -1;
    size_t length = strlen (field);
    while (fgets (line, sizeof (line), file))
        if (strncmp (line, field, length) == 0 && line [length] == ':') {
            value = atoll (line + length + 1);
            break;
        }
    fclose (file);
    return value;
}

//  Open file descriptors of pid, or -1
static int
s_fds (int pid)
{
    char path [64];
    snprintf (path, sizeof (path), "/proc/%d/fd", pid);
    DIR *dir = opendir (path);
    if (!dir)
        return -1;
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir (dir)))
        if (entry->d_name [0] != '.')
            count++;
    closedir (dir);
    return count;
}

//  Two distinct free TCP ports on 127.0.0.1: plain sockets bound together,
//  then closed (a ZeroMQ listener closes asynchronously and could still
//  hold its port when shicd binds it)
static void
s_free_ports (int *first, int *second)
{
    int socks [2];
    int *ports [2] = { first, second };
    for (int i = 0; i < 2; i++) {
        socks [i] = socket (AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in address = { 0 };
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
        socklen_t size = sizeof (address);
        if (bind (socks [i], (struct sockaddr *) &address, size) != 0
        ||  getsockname (socks [i], (struct sockaddr *) &address, &size) != 0)
            *ports [i] = -1;
        else
            *ports [i] = ntohs (address.sin_port);
    }
    close (socks [0]);
    close (socks [1]);
}

//  Waits up to timeout_ms for pid to exit; its wait status, or -1
static int
s_wait_exit (int pid, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (zclock_mono () < deadline) {
        int status = 0;
        if (waitpid (pid, &status, WNOHANG) == pid)
            return status;
        zclock_sleep (20);
    }
    return -1;
}

//  One flood phase of frames from clients; prints and checks its figures
static bool
s_flood (const char *endpoint, int64_t frames, int clients, bool quiet)
{
    flood_client_t *client = (flood_client_t *) zmalloc (sizeof (flood_client_t) * (size_t) clients);
    pthread_t *threads = (pthread_t *) zmalloc (sizeof (pthread_t) * (size_t) clients);
    flood_watcher_t watcher = { .endpoint = endpoint };
    pthread_t watcher_thread;
    pthread_create (&watcher_thread, NULL, s_watcher_thread, &watcher);
    int64_t start = zclock_mono ();
    for (int i = 0; i < clients; i++) {
        client [i].endpoint = endpoint;
        client [i].index = i + (quiet? 100: 0);
        client [i].frames = frames / clients + (i < frames % clients? 1: 0);
        pthread_create (&threads [i], NULL, s_flood_thread, &client [i]);
    }
    flood_client_t total = { 0 };
    for (int i = 0; i < clients; i++) {
        pthread_join (threads [i], NULL);
        total.sent += client [i].sent;
        total.replies += client [i].replies;
        total.bad_replies += client [i].bad_replies;
        for (int k = 0; k < 4; k++)
            total.errors_by_kind [k] += client [i].errors_by_kind [k];
    }
    int64_t elapsed = zclock_mono () - start;
    watcher.stop = true;
    pthread_join (watcher_thread, NULL);
    bool ok = total.bad_replies == 0 && total.errors_by_kind [3] == 0 && watcher.missed == 0
           && watcher.worst_ms <= PING_MAX_MS;
    printf ("flood%s: %lld messages from %d clients in %lld ms: %lld replies (%lld ok, "
            "%lld malformed, %lld other errors), %lld undecodable, %lld unanswered; "
            "pings during the flood: %lld answered, %lld missed, worst %lld ms: %s\n",
            quiet? " (warm-up)": "", (long long) total.sent, clients, (long long) elapsed,
            (long long) total.replies, (long long) total.errors_by_kind [0],
            (long long) total.errors_by_kind [1], (long long) total.errors_by_kind [2],
            (long long) total.bad_replies, (long long) total.errors_by_kind [3],
            (long long) watcher.pings, (long long) watcher.missed, (long long) watcher.worst_ms,
            ok? "ok": "FAILED");
    free (client);
    free (threads);
    return ok;
}

int
main (int argc, char *argv [])
{
    if (argc < 3) {
        fprintf (stderr, "usage: shic_flood_test SHICD STAND_IN [FRAMES [CLIENTS]]\n");
        return 2;
    }
    const char *shicd = argv [1];
    const char *stand_in = argv [2];
    int64_t frames = argc > 3? atoll (argv [3]): 100000;
    int clients = argc > 4? atoi (argv [4]): 4;
    if (frames < 1 || clients < 1)
        return 2;
    zsys_init ();
    zsys_set_linger (0);
    signal (SIGPIPE, SIG_IGN);

    char dir [] = "/tmp/shic-flood-XXXXXX";
    assert (mkdtemp (dir));
    char config_path [PATH_MAX], out_path [PATH_MAX];
    snprintf (config_path, sizeof (config_path), "%s/shicd.cfg", dir);
    snprintf (out_path, sizeof (out_path), "%s/out", dir);
    int gateway_port, events_port;
    s_free_ports (&gateway_port, &events_port);
    FILE *config = fopen (config_path, "w");
    assert (config);
    fprintf (config,
             "shicd\n"
             "    gateway = tcp://127.0.0.1:%d\n"
             "    events = tcp://127.0.0.1:%d\n"
             "    client_timeout_ms = 30000\n"
             "backends\n"
             "    standin\n"
             "        type = command\n"
             "        command = %s -m ${MODEL} -a ${MODEL} --host ${HOST} --port ${PORT}\n"
             "        ready_pattern = server is listening on http://\n"
             "        models\n"
             "            tiny = tiny\n",
             gateway_port, events_port, stand_in);
    fclose (config);
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", gateway_port);

    pid_t pid = fork ();
    assert (pid >= 0);
    if (pid == 0) {
        int out = open (out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (out >= 0) {
            dup2 (out, 1);
            dup2 (out, 2);
        }
        execl (shicd, shicd, "--config", config_path, (char *) NULL);
        _exit (127);
    }
    //  Ready when it says so (deadline 10 s)
    bool ready = false;
    for (int64_t deadline = zclock_mono () + 10000; !ready && zclock_mono () < deadline; ) {
        FILE *out = fopen (out_path, "r");
        if (out) {
            char line [512];
            while (fgets (line, sizeof (line), out))
                if (strstr (line, "shicd ready"))
                    ready = true;
            fclose (out);
        }
        if (!ready)
            zclock_sleep (20);
    }
    int failures = 0;
    if (!ready) {
        printf ("flood: shicd did not get ready within 10 s; its output:\n");
        FILE *out = fopen (out_path, "r");
        char line [512];
        while (out && fgets (line, sizeof (line), out))
            printf ("  %s", line);
        if (out)
            fclose (out);
        kill (pid, SIGKILL);
        s_wait_exit (pid, 5000);
        return 1;
    }
    int64_t rss_start = s_status_kb (pid, "VmRSS");

    //  Warm-up: a tenth of the flood, so that allocator pools and czmq's
    //  hash tables reach their working size before the baseline
    if (!s_flood (endpoint, frames / 10 + 1, clients, true))
        failures++;
    zsock_t *pinger = zsock_new_dealer (endpoint);
    assert (pinger);
    assert (s_ping (pinger, 2000) >= 0);
    int64_t rss_base = s_status_kb (pid, "VmRSS");
    int fds_base = s_fds (pid);
    int64_t threads_base = s_status_kb (pid, "Threads");

    //  1. The flood
    if (!s_flood (endpoint, frames, clients, false))
        failures++;

    //  1b. Chaos: one greedy client beside a pinging one
    failures += s_chaos (endpoint);

    //  2. An oversized frame: the peer is cut off, the daemon serves on
    {
        zsock_t *big = zsock_new_dealer (endpoint);
        assert (big);
        size_t size = 2 * 1024 * 1024;
        byte *data = (byte *) zmalloc (size);
        memset (data, 0x91, size);
        zframe_t *frame = zframe_new (data, size);
        free (data);
        zframe_send (&frame, big, 0);
        zpoller_t *poller = zpoller_new (big, NULL);
        bool answered = zpoller_wait (poller, 500) == big;
        zpoller_destroy (&poller);
        int64_t latency = s_ping (pinger, 1000);
        bool ok = !answered && latency >= 0 && latency <= PING_MAX_MS;
        printf ("flood: oversized frame (%zu bytes): %s; ping after it %lld ms: %s\n", size,
                answered? "answered": "no answer (peer cut off)", (long long) latency,
                ok? "ok": "FAILED");
        failures += ok? 0: 1;
        zsock_set_linger (big, 0);
        zsock_destroy (&big);
    }

    //  3. A client that sends 10000 pings and never reads
    {
        zsock_t *deaf = zsock_new (ZMQ_DEALER);
        assert (deaf);
        zsock_set_rcvhwm (deaf, 10);
        zsock_set_sndtimeo (deaf, 2000);
        zsock_connect (deaf, "%s", endpoint);
        int sent = 0;
        for (int i = 0; i < 10000; i++) {
            shic_val_t *idval = shic_val_new_int (i);
            zframe_t *frame = shic_wire_request_encode (idval, "ping", NULL);
            shic_val_destroy (&idval);
            if (zframe_send (&frame, deaf, 0) == 0)
                sent++;
            else
                zframe_destroy (&frame);
        }
        zclock_sleep (200);
        int64_t worst = 0;
        bool ok = true;
        for (int i = 0; i < 10; i++) {
            int64_t latency = s_ping (pinger, 1000);
            if (latency < 0 || latency > PING_MAX_MS)
                ok = false;
            if (latency > worst || latency < 0)
                worst = latency < 0? 1000: latency;
        }
        printf ("flood: a client that never reads sent %d pings; 10 pings beside it, worst %lld ms: %s\n",
                sent, (long long) worst, ok? "ok": "FAILED");
        failures += ok? 0: 1;
        zsock_set_linger (deaf, 0);
        zsock_destroy (&deaf);
    }

    //  4. 1000 connect/disconnect cycles, half of them with a request whose
    //  reply is never read
    {
        int64_t start = zclock_mono ();
        for (int i = 0; i < 1000; i++) {
            zsock_t *brief = zsock_new_dealer (endpoint);
            assert (brief);
            if (i % 2) {
                shic_val_t *idval = shic_val_new_int (i);
                zframe_t *frame = shic_wire_request_encode (idval, "ping", NULL);
                shic_val_destroy (&idval);
                zframe_send (&frame, brief, ZFRAME_DONTWAIT);
                zframe_destroy (&frame);
            }
            if (i % 4 == 1) {
                //  A quarter wait for their reply
                int64_t latency = s_ping (brief, 1000);
                if (latency < 0)
                    failures++;
            }
            zsock_set_linger (brief, i % 3 == 0? 0: 10);
            zsock_destroy (&brief);
        }
        printf ("flood: 1000 connect/disconnect cycles in %lld ms\n",
                (long long) (zclock_mono () - start));
    }

    //  5. At once afterwards: pings, RSS and descriptors
    zclock_sleep (500);
    int64_t worst = 0;
    bool pings_ok = true;
    for (int i = 0; i < 20; i++) {
        int64_t latency = s_ping (pinger, 1000);
        if (latency < 0 || latency > PING_MAX_MS)
            pings_ok = false;
        if (latency < 0)
            latency = 1000;
        if (latency > worst)
            worst = latency;
    }
    printf ("flood: 20 pings afterwards, worst %lld ms (limit %d): %s\n", (long long) worst,
            PING_MAX_MS, pings_ok? "ok": "FAILED");
    failures += pings_ok? 0: 1;
    int64_t rss_end = s_status_kb (pid, "VmRSS");
    int64_t rss_peak = s_status_kb (pid, "VmHWM");
    int fds_end = s_fds (pid);
    int64_t threads_end = s_status_kb (pid, "Threads");
    int fds_allowed = fds_base
                    + (threads_end > threads_base? (int) (threads_end - threads_base): 0)
                    * FDS_PER_THREAD;
    bool rss_ok = rss_end - rss_base < RSS_GROWTH_MAX_KB;
    printf ("flood: shicd RSS %lld kB at start, %lld kB after warm-up, %lld kB at the end "
            "(growth %+lld kB, limit %d; peak %lld kB): %s\n",
            (long long) rss_start, (long long) rss_base, (long long) rss_end,
            (long long) (rss_end - rss_base), RSS_GROWTH_MAX_KB, (long long) rss_peak,
            rss_ok? "ok": "FAILED");
    failures += rss_ok? 0: 1;
    printf ("flood: shicd open descriptors %d after warm-up, %d at the end, threads %lld -> %lld"
            " (allowed %d): %s\n", fds_base, fds_end, (long long) threads_base,
            (long long) threads_end, fds_allowed, fds_end <= fds_allowed? "ok": "FAILED");
    failures += fds_end <= fds_allowed? 0: 1;
    zsock_set_linger (pinger, 0);
    zsock_destroy (&pinger);

    kill (pid, SIGTERM);
    int status = s_wait_exit (pid, 15000);
    if (status == -1) {
        kill (pid, SIGKILL);
        s_wait_exit (pid, 5000);
    }
    bool clean = status != -1 && WIFEXITED (status) && WEXITSTATUS (status) == 0;
    //  czmq's "dangling socket" lines mean a socket was left open; a
    //  sanitizer build of shicd reports there too
    bool dangling = false;
    FILE *out = fopen (out_path, "r");
    if (out) {
        char line [1024];
        while (fgets (line, sizeof (line), out))
            if (strstr (line, "dangling") || strstr (line, "AddressSanitizer")
            ||  strstr (line, "LeakSanitizer") || strstr (line, "runtime error"))
                dangling = true;
        fclose (out);
    }
    printf ("flood: SIGTERM: %s%s\n", clean? "exit 0": "did not exit 0",
            dangling? ", dangling sockets or sanitizer reports in its output": "");
    failures += clean && !dangling? 0: 1;
    unlink (config_path);
    unlink (out_path);
    rmdir (dir);
    printf ("flood: %s\n", failures? "FAILED": "passed");
    return failures? 1: 0;
}
