/*  =========================================================================
    shic_cli - the command line client of shicd (the program "shic")

    Tables for people, --json for scripts, a live progress line while an
    ensure waits for a cold start. Exit codes: 0 done, 1 the daemon answered
    an error, 2 usage, 3 no daemon answered, 130/143 SIGINT/SIGTERM.

    Every command first pings the daemon with a one-second deadline (see
    shic_client_probe), so a missing daemon is named at once rather than
    after an ensure's whole wait.
    =========================================================================
*/

#include "shic.h"
#include <getopt.h>
#include <signal.h>

#define EXIT_ERROR     1
#define EXIT_USAGE     2
#define EXIT_NO_DAEMON 3

static const char *s_help =
    "usage: shic [--endpoint E] [--events E] [--json] [--timeout D] COMMAND [ARGS]\n"
    "\n"
    "Commands:\n"
    "  ensure BACKEND MODEL [--ttl D] [--wait D] [--owner O]\n"
    "                      get an endpoint (starts the model when needed); the lease\n"
    "                      lives --ttl (default 10m; 0 = while this client is alive,\n"
    "                      which for a one-shot command means client_timeout_ms)\n"
    "  release LEASE       end a lease (idempotent)\n"
    "  renew LEASE [--ttl D]  extend a lease\n"
    "  ps [--backend B] [--wide]  runtime instances (--wide: full instance ids)\n"
    "  leases [--instance I] [--wide]  live leases (expiry relative to now); another\n"
    "                      client's lease shows LEASE - unless E is the control socket\n"
    "  backends            registered backends\n"
    "  stop INSTANCE       stop an instance (never stops an attached daemon); needs the\n"
    "                      daemon's control socket (-E ipc://PATH, shicd/control) or\n"
    "                      shicd/allow_network_stop = 1\n"
    "  watch [PREFIX]      print events as they come (Ctrl-C ends)\n"
    "  resources           memory pools, what each instance holds, the queue\n"
    "  stats               counters and gauges\n"
    "  ping                is the daemon there\n"
    "\n"
    "Options:\n"
    "  -E, --endpoint E    gateway (default $SHIC_ENDPOINT or tcp://127.0.0.1:5590)\n"
    "      --events E      events (default $SHIC_EVENTS or tcp://127.0.0.1:5591)\n"
    "  -j, --json          print the result as JSON\n"
    "  -t, --timeout D     how long to wait for the daemon beyond --wait (default 5s)\n"
    "      --server-key K  CURVE: the daemon's public key (or $SHIC_SERVER_KEY)\n"
    "      --client-cert F CURVE: this client's certificate (or $SHIC_CLIENT_CERT)\n"
    "  -w, --wide          full ids in tables\n"
    "      --version       print the version of this program\n"
    "  -h, --help          this text ('shic COMMAND --help' works too)\n"
    "\n"
    "Durations: 500ms, 30s, 10m, 1h, or a number of milliseconds.\n"
    "Exit codes: 0 done, 1 the daemon answered an error, 2 usage, 3 no daemon answered,\n"
    "130 interrupted (Ctrl-C), 143 terminated.\n"
    "The protocol and the contract: docs/wire.md and docs/contract.md.\n";

static const char *s_commands [] = {
    "ensure", "release", "renew", "ps", "leases", "backends", "stop", "watch", "resources",
    "stats", "ping",
    "help", NULL
};

//  Set while a progress line is on the terminal, so a signal clears it
static volatile sig_atomic_t s_progress_shown = 0;

//  SIGINT and SIGTERM end the program at once, whatever it waits for: a
//  lease an interrupted ensure may still get ends with its TTL (or at once
//  when untimed, as this client's connection is gone)
static void
s_on_signal (int signal_number)
{
    if (s_progress_shown) {
        const char clear [] = "\r\033[K";
        if (write (STDERR_FILENO, clear, sizeof (clear) - 1)) {}
    }
    const char *text = signal_number == SIGINT? "shic: interrupted\n": "shic: terminated\n";
    if (write (STDERR_FILENO, text, strlen (text))) {}
    _exit (128 + signal_number);
}

//  The edit distance of two short words, for "did you mean"
static size_t
s_distance (const char *a, const char *b)
{
    size_t la = strlen (a), lb = strlen (b);
    if (la > 32 || lb > 32)
        return 99;
    size_t row [33];
    for (size_t j = 0; j <= lb; j++)
        row [j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diagonal = row [0];
        row [0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t above = row [j];
            size_t best = diagonal + (a [i - 1] != b [j - 1]);
            if (row [j] + 1 < best) best = row [j] + 1;
            if (row [j - 1] + 1 < best) best = row [j - 1] + 1;
            row [j] = best;
            diagonal = above;
        }
    }
    return row [lb];
}

static int
s_unknown_command (const char *command)
{
    const char *nearest = NULL;
    size_t best = 3;
    for (int i = 0; s_commands [i]; i++) {
        size_t distance = s_distance (command, s_commands [i]);
        if (distance < best) {
            best = distance;
            nearest = s_commands [i];
        }
    }
    if (nearest)
        fprintf (stderr, "shic: unknown command '%s'; did you mean '%s'?\n", command, nearest);
    else
        fprintf (stderr, "shic: unknown command '%s'\n", command);
    fprintf (stderr, "Run 'shic --help' for the commands.\n");
    return EXIT_USAGE;
}

//  Parses a duration; -1 on error
static int64_t
s_duration (const char *text)
{
    char *end = NULL;
    double value = strtod (text, &end);
    if (end == text || value < 0)
        return -1;
    if (*end == 0 || streq (end, "ms"))
        return (int64_t) value;
    if (streq (end, "s"))
        return (int64_t) (value * 1000);
    if (streq (end, "m"))
        return (int64_t) (value * 60000);
    if (streq (end, "h"))
        return (int64_t) (value * 3600000);
    return -1;
}

static int
s_fail (shic_client_t *client, bool json)
{
    const shic_error_t *err = shic_client_error (client);
    bool no_daemon = streq (err->code, SHIC_E_NO_REPLY);
    if (json) {
        shic_val_t *val = shic_error_to_val (err);
        char *text = shic_val_to_json (val);
        printf ("{\"ok\":false,\"error\":%s}\n", text);
        free (text);
        shic_val_destroy (&val);
    }
    else
    if (no_daemon)
        fprintf (stderr, "shic: %s\n", err->message);
    else {
        fprintf (stderr, "shic: %s: %s\n", err->code, err->message? err->message: "");
        if (streq (err->code, SHIC_E_FORBIDDEN)
        &&  shic_val_str (shic_val_get (err->details, "setting")))
            fprintf (stderr, "  (use the daemon's control socket: shic -E ipc://PATH, the "
                     "PATH of shicd/control)\n");
        if (err->details) {
            char *text = shic_val_to_json (err->details);
            fprintf (stderr, "  details: %s\n", text);
            free (text);
        }
    }
    return no_daemon? EXIT_NO_DAEMON: EXIT_ERROR;
}

static void
s_print_json (const shic_val_t *val)
{
    char *text = shic_val_to_json (val);
    printf ("%s\n", text);
    free (text);
}

static const char *
s_str (const shic_val_t *val, const char *path)
{
    const char *str = shic_val_str (shic_val_path (val, path));
    return str? str: "-";
}

//  An instance id for a table: "backend:model:" and the first 8 characters
//  of the hash (full with --wide, --json, or when it has no such shape)
static void
s_short_id (const char *id, bool wide, char *buffer, size_t size)
{
    const char *hash = strrchr (id, ':');
    if (wide || !hash || strlen (hash + 1) <= 9)
        snprintf (buffer, size, "%s", id);
    else
        snprintf (buffer, size, "%.*s%.8s~", (int) (hash + 1 - id), id, hash + 1);
}

//  A Unix-ms instant relative to now: "in 9m", "3s ago", "-" for none
static void
s_relative (int64_t at_ms, char *buffer, size_t size)
{
    if (at_ms <= 0) {
        snprintf (buffer, size, "-");
        return;
    }
    int64_t delta = at_ms - zclock_time ();
    int64_t seconds = (delta < 0? -delta: delta) / 1000;
    char amount [32];
    if (seconds < 60)
        snprintf (amount, sizeof (amount), "%llds", (long long) seconds);
    else
    if (seconds < 3600)
        snprintf (amount, sizeof (amount), "%lldm", (long long) seconds / 60);
    else
    if (seconds < 86400)
        snprintf (amount, sizeof (amount), "%lldh%02lldm", (long long) seconds / 3600,
                  (long long) (seconds % 3600) / 60);
    else
        snprintf (amount, sizeof (amount), "%lldd", (long long) seconds / 86400);
    snprintf (buffer, size, delta >= 0? "in %s": "%s ago", amount);
}

//  A duration in ms as people write it: 600000 -> "10m"
static void
s_human_duration (int64_t ms, char *buffer, size_t size)
{
    if (ms <= 0)
        snprintf (buffer, size, "-");
    else
    if (ms % 3600000 == 0)
        snprintf (buffer, size, "%lldh", (long long) ms / 3600000);
    else
    if (ms % 60000 == 0)
        snprintf (buffer, size, "%lldm", (long long) ms / 60000);
    else
    if (ms % 1000 == 0)
        snprintf (buffer, size, "%llds", (long long) ms / 1000);
    else
        snprintf (buffer, size, "%lldms", (long long) ms);
}

//  A cell of a table: the text of item at path
typedef const char *(s_cell_fn) (const shic_val_t *item, const char *path);

//  The width of a column: its widest cell, at least minimum
static int
s_widest (const shic_val_t *list, s_cell_fn *cell, const char *path, int minimum)
{
    int width = minimum;
    for (size_t i = 0; i < shic_val_size (list); i++)
        width = MAX (width, (int) strlen (cell (shic_val_at (list, i), path)));
    return width;
}

//  The width of the instance id column, as s_short_id writes the ids
static int
s_widest_id (const shic_val_t *list, bool wide)
{
    int width = 8;
    char id [256];
    for (size_t i = 0; i < shic_val_size (list); i++) {
        s_short_id (s_str (shic_val_at (list, i), "instance_id"), wide, id, sizeof (id));
        width = MAX (width, (int) strlen (id));
    }
    return width;
}

//  The model of an instance snapshot: its plan's metadata, else its endpoint
static const char *
s_model_of (const shic_val_t *item, const char *path)
{
    (void) path;
    const char *model = shic_val_str (shic_val_path (item, "metadata/model"));
    if (!model)
        model = shic_val_str (shic_val_path (item, "endpoint/model_identity"));
    return model? model: "-";
}

//  Bytes for people: 512 B, 14.0 MiB, 23.5 GiB
static void
s_human_bytes (int64_t bytes, char *text, size_t size)
{
    const char *units [] = { "B", "KiB", "MiB", "GiB", "TiB" };
    double value = (double) bytes;
    int unit = 0;
    while (value >= 1024 && unit < 4) {
        value /= 1024;
        unit++;
    }
    if (unit == 0)
        snprintf (text, size, "%lld B", (long long) bytes);
    else
        snprintf (text, size, "%.1f %s", value, units [unit]);
}

//  The memory an instance holds, and its pool, or "-"
static void
s_memory_of (const shic_val_t *item, char *memory, size_t size, const char **pool)
{
    const shic_val_t *placement = shic_val_get (item, "placement");
    *pool = shic_val_str (shic_val_get (placement, "pool"));
    if (*pool)
        s_human_bytes (shic_val_int (shic_val_get (placement, "footprint_bytes")), memory, size);
    else {
        snprintf (memory, size, "-");
        *pool = "-";
    }
}

static void
s_print_instances (const shic_val_t *list, bool wide)
{
    size_t count = shic_val_size (list);
    if (count == 0) {
        printf ("no instances\n");
        return;
    }
    int id_width = s_widest_id (list, wide);
    int backend_width = s_widest (list, s_str, "backend", 7);
    int model_width = s_widest (list, s_model_of, NULL, 5);
    char id [256];
    printf ("%-*s  %-*s  %-*s  %-10s %-11s %6s %8s %7s %10s %-6s  %s\n", id_width, "INSTANCE",
            backend_width, "BACKEND", model_width, "MODEL", "STATUS", "HEALTH", "LEASES",
            "RESTARTS", "PID", "MEMORY", "POOL", "ENDPOINT");
    for (size_t i = 0; i < count; i++) {
        const shic_val_t *item = shic_val_at (list, i);
        s_short_id (s_str (item, "instance_id"), wide, id, sizeof (id));
        char pid [24] = "-";
        if (shic_val_type (shic_val_get (item, "pid")) == SHIC_VAL_INT)
            snprintf (pid, sizeof (pid), "%lld", (long long) shic_val_int (shic_val_get (item, "pid")));
        char memory [32];
        const char *pool;
        s_memory_of (item, memory, sizeof (memory), &pool);
        printf ("%-*s  %-*s  %-*s  %-10s %-11s %6lld %8lld %7s %10s %-6s  %s\n", id_width, id,
                backend_width, s_str (item, "backend"), model_width, s_model_of (item, NULL),
                s_str (item, "lifecycle_status"), s_str (item, "health_status"),
                (long long) shic_val_int (shic_val_get (item, "lease_count")),
                (long long) shic_val_int (shic_val_get (item, "restarts")), pid, memory, pool,
                s_str (item, "endpoint/base_url"));
    }
    if (!wide)
        printf ("(ids end in ~ where shortened: 'shic ps --wide' shows them whole)\n");
}

//  A list op page after page (wire.md: limit, after and next): one result
//  with every item under key, or NULL as shic_client_call
static shic_val_t *
s_call_pages (shic_client_t *client, const char *op, shic_val_t **args_p, const char *key)
{
    shic_val_t *args = *args_p? *args_p: shic_val_new_map ();
    *args_p = NULL;
    shic_val_set_int (args, "limit", 1000);
    shic_val_t *all = NULL;
    while (true) {
        shic_val_t *copy = shic_val_dup (args);
        shic_val_t *page = shic_client_call (client, op, &copy);
        if (!page) {
            shic_val_destroy (&all);
            break;
        }
        const char *next = shic_val_str (shic_val_get (page, "next"));
        bool more = next != NULL;
        if (more)
            shic_val_set_str (args, "after", next);
        if (!all)
            all = page;
        else {
            const shic_val_t *items = shic_val_get (page, key);
            for (size_t i = 0; i < shic_val_size (items); i++)
                shic_val_push (shic_val_get (all, key),
                               &(shic_val_t *) { shic_val_dup (shic_val_at (items, i)) });
            shic_val_destroy (&page);
        }
        if (!more) {
            shic_val_remove (all, "next");
            break;
        }
    }
    shic_val_destroy (&args);
    return all;
}

static void
s_print_leases (const shic_val_t *list, bool wide)
{
    size_t count = shic_val_size (list);
    if (count == 0) {
        printf ("no leases\n");
        return;
    }
    int lease_width = s_widest (list, s_str, "lease_ref", 5);
    int id_width = s_widest_id (list, wide);
    int owner_width = s_widest (list, s_str, "owner_ref", 5);
    char id [256];
    printf ("%-*s  %-*s  %-*s  %6s  %s\n", lease_width, "LEASE", id_width, "INSTANCE",
            owner_width, "OWNER", "TTL", "EXPIRES");
    for (size_t i = 0; i < count; i++) {
        const shic_val_t *item = shic_val_at (list, i);
        s_short_id (s_str (item, "instance_id"), wide, id, sizeof (id));
        char ttl [32], expires [48];
        int64_t ttl_ms = shic_val_int (shic_val_get (item, "ttl_ms"));
        s_human_duration (ttl_ms, ttl, sizeof (ttl));
        if (ttl_ms > 0)
            s_relative (shic_val_int (shic_val_get (item, "expires_at_ms")), expires, sizeof (expires));
        else
            snprintf (expires, sizeof (expires), "while its client is connected");
        printf ("%-*s  %-*s  %-*s  %6s  %s\n", lease_width, s_str (item, "lease_ref"), id_width, id,
                owner_width, s_str (item, "owner_ref"), ttl, expires);
    }
}

//  The resources op: pools, then what each instance holds, then the queue
static void
s_print_resources (const shic_val_t *result, bool wide)
{
    const shic_val_t *pools = shic_val_get (result, "pools");
    printf ("%-8s %-8s %10s %10s %10s %10s %10s\n", "POOL", "SOURCE", "CAPACITY", "RESERVE",
            "RESERVED", "USED", "FREE");
    for (size_t i = 0; i < shic_val_size (pools); i++) {
        const shic_val_t *pool = shic_val_at (pools, i);
        const char *keys [] = { "capacity_bytes", "reserve_bytes", "reserved_bytes", "used_bytes",
                                "free_bytes" };
        char cells [5][32];
        for (int k = 0; k < 5; k++)
            s_human_bytes (shic_val_int (shic_val_get (pool, keys [k])), cells [k], 32);
        printf ("%-8s %-8s %10s %10s %10s %10s %10s\n", s_str (pool, "pool"), s_str (pool, "source"),
                cells [0], cells [1], cells [2], cells [3], cells [4]);
    }
    const shic_val_t *instances = shic_val_get (result, "instances");
    char id [256], bytes [32];
    if (shic_val_size (instances)) {
        int id_width = s_widest_id (instances, wide);
        printf ("\n%-*s  %-6s %10s %-10s %-10s %6s\n", id_width, "INSTANCE", "POOL", "MEMORY",
                "SOURCE", "STATUS", "LEASES");
        for (size_t i = 0; i < shic_val_size (instances); i++) {
            const shic_val_t *item = shic_val_at (instances, i);
            s_short_id (s_str (item, "instance_id"), wide, id, sizeof (id));
            s_human_bytes (shic_val_int (shic_val_get (item, "footprint_bytes")), bytes, 32);
            printf ("%-*s  %-6s %10s %-10s %-10s %6lld%s\n", id_width, id, s_str (item, "pool"),
                    bytes, s_str (item, "footprint_source"), s_str (item, "lifecycle_status"),
                    (long long) shic_val_int (shic_val_get (item, "lease_count")),
                    shic_val_bool (shic_val_get (item, "pinned"))? "  pinned": "");
        }
    }
    const shic_val_t *queue = shic_val_get (result, "queue");
    if (shic_val_size (queue)) {
        int id_width = s_widest_id (queue, wide);
        printf ("\n%-*s  %-6s %10s %8s %8s %7s %8s\n", id_width, "WAITING", "POOL", "NEEDS",
                "PRIORITY", "POSITION", "CALLERS", "WAITED");
        for (size_t i = 0; i < shic_val_size (queue); i++) {
            const shic_val_t *item = shic_val_at (queue, i);
            s_short_id (s_str (item, "instance_id"), wide, id, sizeof (id));
            s_human_bytes (shic_val_int (shic_val_get (item, "need_bytes")), bytes, 32);
            char waited [32];
            s_human_duration (shic_val_int (shic_val_get (item, "queued_ms")), waited, 32);
            printf ("%-*s  %-6s %10s %8lld %8lld %7lld %8s\n", id_width, id, s_str (item, "pool"),
                    bytes, (long long) shic_val_int (shic_val_get (item, "priority")),
                    (long long) shic_val_int (shic_val_get (item, "position")),
                    (long long) shic_val_int (shic_val_get (item, "waiters")), waited);
        }
    }
    else
        printf ("\nno ensure waits for memory\n");
}

//  ensure with a live progress line fed by the events socket
static int
s_ensure (shic_client_t *client, const char *events_endpoint, const char *backend,
          const char *model, int64_t ttl, int64_t wait, const char *owner, bool json, int timeout)
{
    //  Learn first, within about a second, whether anybody listens
    if (shic_client_probe (client) != 0)
        return s_fail (client, json);
    shic_val_t *args = shic_client_ensure_args (backend, model, NULL, ttl, wait);
    if (owner)
        shic_val_set_str (args, "owner_ref", owner);
    zsock_t *events = zsock_new_sub (events_endpoint, "instance.");
    bool live = isatty (STDERR_FILENO) && !json;
    int64_t started = zclock_mono ();
    //  An id of its own: the probe's ids count up from 1
    const int64_t ensure_id = 1000000;
    if (shic_client_send (client, ensure_id, "ensure_endpoint", &args) != 0)
        return EXIT_NO_DAEMON;
    const char *state = "waiting";
    char state_buffer [64] = "";
    zpoller_t *poller = zpoller_new (shic_client_sock (client), events, NULL);
    int64_t deadline = started + (wait >= 0? wait: 120000) + timeout;
    int rc = EXIT_NO_DAEMON;
    while (zclock_mono () < deadline) {
        void *which = zpoller_wait (poller, 200);
        if (which == events) {
            zmsg_t *msg = zmsg_recv (events);
            char *topic = zmsg_popstr (msg);
            if (topic && strncmp (topic, "instance.", 9) == 0) {
                snprintf (state_buffer, sizeof (state_buffer), "%s", topic + 9);
                state = state_buffer;
            }
            zstr_free (&topic);
            zmsg_destroy (&msg);
        }
        else
        if (which == shic_client_sock (client)) {
            shic_wire_reply_t reply = { 0 };
            if (shic_client_recv (client, &reply, 0) != 0)
                continue;
            if (shic_val_int (reply.id) != ensure_id) {
                shic_wire_reply_reset (&reply);
                continue;
            }
            if (live)
                fprintf (stderr, "\r\033[K");
            s_progress_shown = 0;
            if (reply.ok) {
                const shic_val_t *result = reply.result;
                if (json)
                    s_print_json (result);
                else {
                    printf ("endpoint   %s\n", s_str (result, "endpoint/base_url"));
                    printf ("model      %s\n", s_str (result, "endpoint/model_identity"));
                    printf ("protocol   %s\n", s_str (result, "endpoint/protocol"));
                    const shic_val_t *headers = shic_val_path (result, "endpoint/headers");
                    for (size_t i = 0; i < shic_val_size (headers); i++)
                        printf ("header     %s: %s\n", shic_val_key_at (headers, i),
                                shic_val_str (shic_val_at (headers, i)));
                    printf ("lease      %s (ttl %lld ms)\n", s_str (result, "lease/lease_ref"),
                            (long long) shic_val_int (shic_val_path (result, "lease/ttl_ms")));
                    printf ("instance   %s (%s, %.1f s)\n", s_str (result, "instance_id"),
                            shic_val_bool (shic_val_get (result, "reused"))? "reused": "started",
                            (zclock_mono () - started) / 1000.0);
                }
                rc = 0;
            }
            else {
                shic_error_t *err = &reply.error;
                if (json) {
                    shic_val_t *val = shic_error_to_val (err);
                    char *text = shic_val_to_json (val);
                    printf ("{\"ok\":false,\"error\":%s}\n", text);
                    free (text);
                    shic_val_destroy (&val);
                }
                else {
                    fprintf (stderr, "shic: %s: %s\n", err->code, err->message? err->message: "");
                    if (err->details) {
                        char *text = shic_val_to_json (err->details);
                        fprintf (stderr, "  details: %s\n", text);
                        free (text);
                    }
                }
                rc = EXIT_ERROR;
            }
            shic_wire_reply_reset (&reply);
            break;
        }
        if (live) {
            fprintf (stderr, "\r\033[K  %s/%s: %s, %.1f s", backend, model, state,
                     (zclock_mono () - started) / 1000.0);
            s_progress_shown = 1;
        }
    }
    s_progress_shown = 0;
    if (rc == EXIT_NO_DAEMON)
        fprintf (stderr, "%sshic: no reply from %s within %.1f s (the daemon went away?)\n",
                 live? "\n": "", shic_client_endpoint (client), (zclock_mono () - started) / 1000.0);
    zpoller_destroy (&poller);
    zsock_destroy (&events);
    return rc;
}

static int
s_watch (const char *events_endpoint, const char *prefix, bool json)
{
    zsock_t *events = zsock_new_sub (events_endpoint, prefix? prefix: "");
    if (!events) {
        fprintf (stderr, "shic: cannot connect to %s\n", events_endpoint);
        return EXIT_USAGE;
    }
    while (!zsys_interrupted) {
        zmsg_t *msg = zmsg_recv (events);
        if (!msg)
            break;
        char *topic = zmsg_popstr (msg);
        zframe_t *frame = zmsg_pop (msg);
        shic_val_t *body = NULL;
        if (frame && shic_val_decode (zframe_data (frame), zframe_size (frame), NULL, &body, NULL) == 0) {
            char *text = shic_val_to_json (body);
            if (json)
                printf ("{\"topic\":\"%s\",\"event\":%s}\n", topic, text);
            else
                printf ("%-22s %s\n", topic, text);
            fflush (stdout);
            free (text);
        }
        shic_val_destroy (&body);
        zframe_destroy (&frame);
        zstr_free (&topic);
        zmsg_destroy (&msg);
    }
    zsock_destroy (&events);
    return 0;
}

int
main (int argc, char *argv [])
{
    const char *endpoint = getenv ("SHIC_ENDPOINT")? getenv ("SHIC_ENDPOINT"): "tcp://127.0.0.1:5590";
    const char *events = getenv ("SHIC_EVENTS")? getenv ("SHIC_EVENTS"): "tcp://127.0.0.1:5591";
    bool json = false, wide = false;
    int64_t timeout = 5000, ttl = 600000, wait = -1;
    const char *owner = NULL, *backend = NULL, *instance = NULL;
    const char *server_key = getenv ("SHIC_SERVER_KEY");
    const char *client_cert = getenv ("SHIC_CLIENT_CERT");
    static struct option options [] = {
        { "endpoint", required_argument, 0, 'E' }, { "events", required_argument, 0, 'N' },
        { "json", no_argument, 0, 'j' }, { "timeout", required_argument, 0, 't' },
        { "ttl", required_argument, 0, 'T' }, { "wait", required_argument, 0, 'A' },
        { "owner", required_argument, 0, 'o' }, { "backend", required_argument, 0, 'b' },
        { "instance", required_argument, 0, 'i' }, { "help", no_argument, 0, 'h' },
        { "server-key", required_argument, 0, 'K' }, { "client-cert", required_argument, 0, 'C' },
        { "wide", no_argument, 0, 'W' }, { "version", no_argument, 0, 'V' },
        { 0, 0, 0, 0 }
    };
    int option;
    while ((option = getopt_long (argc, argv, "E:jt:hw", options, NULL)) != -1) {
        int64_t value = 0;
        if (option == 'E') endpoint = optarg;
        else if (option == 'N') events = optarg;
        else if (option == 'j') json = true;
        else if (option == 'o') owner = optarg;
        else if (option == 'b') backend = optarg;
        else if (option == 'i') instance = optarg;
        else if (option == 'K') server_key = optarg;
        else if (option == 'C') client_cert = optarg;
        else if (option == 'W' || option == 'w') wide = true;
        else if (option == 'V') {
            printf ("shic %s\n", SHIC_VERSION);
            return 0;
        }
        else if (option == 'h') {
            printf ("%s", s_help);
            return 0;
        }
        else if (option == 't' || option == 'T' || option == 'A') {
            if ((value = s_duration (optarg)) < 0) {
                fprintf (stderr, "shic: '%s' is not a duration\n", optarg);
                return EXIT_USAGE;
            }
            if (option == 't') timeout = value;
            else if (option == 'T') ttl = value;
            else wait = value;
        }
        else {
            fprintf (stderr, "Run 'shic --help' for the commands and options.\n");
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf (stderr, "%s", s_help);
        return EXIT_USAGE;
    }
    const char *command = argv [optind];
    int rest = argc - optind - 1;
    char **args = argv + optind + 1;
    zsys_set_logstream (stderr);
    //  czmq's own handler only sets zsys_interrupted; ours ends the program
    zsys_init ();
    struct sigaction action = { .sa_handler = s_on_signal };
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    if (streq (command, "help")) {
        printf ("%s", s_help);
        return 0;
    }
    if (streq (command, "watch"))
        return s_watch (events, rest > 0? args [0]: NULL, json);

    shic_client_t *client = server_key || client_cert
                          ? shic_client_new_curve (endpoint, server_key, client_cert)
                          : shic_client_new (endpoint);
    if (!client) {
        fprintf (stderr, "shic: cannot connect to %s\n", endpoint);
        return EXIT_USAGE;
    }
    shic_client_set_timeout (client, (int) timeout);
    int rc = 0;
    shic_val_t *call = shic_val_new_map ();
    const char *op = NULL;
    if (streq (command, "ensure")) {
        if (rest != 2) {
            fprintf (stderr, "usage: shic ensure BACKEND MODEL [--ttl D] [--wait D] [--owner O] [--json]\n");
            rc = EXIT_USAGE;
        }
        else
            rc = s_ensure (client, events, args [0], args [1], ttl, wait, owner, json, (int) timeout);
    }
    else
    if (streq (command, "release") || streq (command, "renew")) {
        if (rest != 1) {
            fprintf (stderr, "usage: shic %s LEASE%s\n", command, streq (command, "renew")? " [--ttl D]": "");
            rc = EXIT_USAGE;
        }
        else {
            shic_val_set_str (call, "lease_ref", args [0]);
            if (streq (command, "renew"))
                shic_val_set_int (call, "ttl_ms", ttl);
            op = streq (command, "release")? "release_lease": "renew_lease";
        }
    }
    else
    if (streq (command, "stop")) {
        if (rest != 1) {
            fprintf (stderr, "usage: shic stop INSTANCE\n");
            rc = EXIT_USAGE;
        }
        else {
            shic_val_set_str (call, "instance_id", args [0]);
            op = "stop_instance";
        }
    }
    else
    if (streq (command, "ps")) {
        if (backend)
            shic_val_set_str (call, "backend", backend);
        op = "list_instances";
    }
    else
    if (streq (command, "leases")) {
        if (instance)
            shic_val_set_str (call, "instance_id", instance);
        op = "list_leases";
    }
    else
    if (streq (command, "backends"))
        op = "list_backends";
    else
    if (streq (command, "stats"))
        op = "stats";
    else
    if (streq (command, "resources"))
        op = "resources";
    else
    if (streq (command, "ping"))
        op = "ping";
    else
        rc = s_unknown_command (command);
    if (op && rc == 0) {
        shic_val_t *result = streq (op, "list_instances")? s_call_pages (client, op, &call, "instances")
                           : streq (op, "list_leases")? s_call_pages (client, op, &call, "leases")
                           : shic_client_call (client, op, &call);
        if (!result)
            rc = s_fail (client, json);
        else
        if (json)
            s_print_json (result);
        else
        if (streq (op, "ping"))
            printf ("shicd %s on %s, up %.1f s\n", s_str (result, "version"), s_str (result, "node"),
                    shic_val_int (shic_val_get (result, "uptime_ms")) / 1000.0);
        else
        if (streq (op, "list_instances"))
            s_print_instances (shic_val_get (result, "instances"), wide);
        else
        if (streq (op, "list_leases"))
            s_print_leases (shic_val_get (result, "leases"), wide);
        else
        if (streq (op, "resources"))
            s_print_resources (result, wide);
        else
        if (streq (op, "list_backends")) {
            const shic_val_t *list = shic_val_get (result, "backends");
            printf ("%-16s %-26s %s\n", "BACKEND", "STARTUP_KIND", "MANAGEMENT_MODES");
            for (size_t i = 0; i < shic_val_size (list); i++) {
                const shic_val_t *item = shic_val_at (list, i);
                char *modes = shic_val_to_json (shic_val_get (item, "management_modes"));
                printf ("%-16s %-26s %s\n", s_str (item, "backend"), s_str (item, "startup_kind"), modes);
                free (modes);
            }
        }
        else
        if (streq (op, "stats")) {
            for (size_t i = 0; i < shic_val_size (result); i++) {
                char *text = shic_val_to_json (shic_val_at (result, i));
                printf ("%-20s %s\n", shic_val_key_at (result, i), text);
                free (text);
            }
        }
        else
            printf ("ok\n");
        shic_val_destroy (&result);
    }
    shic_val_destroy (&call);
    shic_client_destroy (&client);
    return rc;
}
