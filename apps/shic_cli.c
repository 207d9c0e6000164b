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
#include <sys/ioctl.h>

#define EXIT_ERROR     1
#define EXIT_USAGE     2
#define EXIT_NO_DAEMON 3

static const char *s_help =
    "usage: shic [--endpoint E] [--events E] [--json] [--timeout D] COMMAND [ARGS]\n"
    "\n"
    "Commands:\n"
    "  ensure BACKEND MODEL [--ttl D] [--wait D] [--owner O]\n"
    "                      get an endpoint (starts the model when needed); the lease\n"
    "                      lives --ttl (default 10m; 0 = while this client is\n"
    "                      connected: for this one-shot command, it ends when the\n"
    "                      command exits)\n"
    "  release LEASE       end a lease (idempotent: says whether one was live)\n"
    "  renew LEASE [--ttl D]  extend a lease\n"
    "  ps [--backend B] [--wide] [--cluster]  runtime instances (--wide: full\n"
    "                      instance ids; --cluster: of every node of the cluster)\n"
    "  leases [--instance I] [--wide] [--cluster]  live leases (expiry relative to\n"
    "                      now); another client's lease shows LEASE - unless E is the\n"
    "                      control socket\n"
    "  backends            registered backends and their models\n"
    "  models [--backend B]  the models one may ask for: size, footprint, where loaded\n"
    "  stop INSTANCE|MODEL|PREFIX | --all\n"
    "                      stop instances (an id, a model, an unambiguous id prefix;\n"
    "                      never stops an attached daemon); needs the daemon's control\n"
    "                      socket (-E ipc://PATH, shicd/control) or\n"
    "                      shicd/allow_network_stop = 1\n"
    "  logs INSTANCE|MODEL [-f] [--lines N]\n"
    "                      the service's last output lines (-f: follow; Ctrl-C ends)\n"
    "  watch [PREFIX]      print events as they come (Ctrl-C ends)\n"
    "  resources [--cluster]  memory pools, what each instance holds, the queue\n"
    "  stats               counters and gauges\n"
    "  ping                is the daemon there\n"
    "  reload              the daemon reads its configuration file again (as on\n"
    "                      SIGHUP) and says what changed: backends added, removed\n"
    "                      (their instances stop) and changed; unchanged ones keep\n"
    "                      running; a bad file changes nothing and is shown (exit 1);\n"
    "                      needs the daemon's control socket (-E ipc://PATH,\n"
    "                      shicd/control)\n"
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
    "ensure", "release", "renew", "ps", "leases", "backends", "stop", "logs", "models", "watch",
    "resources",
    "stats", "ping", "reload",
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

//  An error for people: its code and message, then its details, with the
//  service's own last lines (a stderr_tail) printed as lines
static void
s_print_error (const shic_error_t *err)
{
    fprintf (stderr, "shic: %s: %s\n", err->code, err->message? err->message: "");
    if (streq (err->code, SHIC_E_FORBIDDEN) && (shic_val_str (shic_val_get (err->details, "setting"))
                                            || shic_val_bool (shic_val_get (err->details, "trusted_only"))))
        fprintf (stderr, "  (use the daemon's control socket: shic -E ipc://PATH, the "
                 "PATH of shicd/control)\n");
    if (!err->details)
        return;
    shic_val_t *details = shic_val_dup (err->details);
    char *tail = NULL;
    const char *paths [] = { "stderr_tail", "exit/stderr_tail", "last_exit/stderr_tail" };
    for (size_t i = 0; i < 3 && !tail; i++)
        if (shic_val_str (shic_val_path (details, paths [i]))) {
            tail = strdup (shic_val_str (shic_val_path (details, paths [i])));
            char *slash = strrchr (paths [i], '/');
            shic_val_t *parent = slash? shic_val_get (details, i == 1? "exit": "last_exit"): details;
            shic_val_remove (parent, "stderr_tail");
        }
    char *text = shic_val_to_json (details);
    fprintf (stderr, "  details: %s\n", text);
    free (text);
    if (tail && *tail) {
        fprintf (stderr, "  the service's last lines:\n");
        for (char *line = strtok (tail, "\n"); line; line = strtok (NULL, "\n"))
            fprintf (stderr, "    | %s\n", line);
    }
    free (tail);
    shic_val_destroy (&details);
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
    else
        s_print_error (err);
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
    //  A cluster's list names each item's node
    bool nodes = shic_val_get (shic_val_at (list, 0), "node") != NULL;
    int node_width = nodes? s_widest (list, s_str, "node", 4): 0;
    char id [256];
    if (nodes)
        printf ("%-*s  ", node_width, "NODE");
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
        if (nodes)
            printf ("%-*s  ", node_width, s_str (item, "node"));
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
    bool nodes = shic_val_get (shic_val_at (list, 0), "node") != NULL;
    int node_width = nodes? s_widest (list, s_str, "node", 4): 0;
    char id [256];
    if (nodes)
        printf ("%-*s  ", node_width, "NODE");
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
        if (nodes)
            printf ("%-*s  ", node_width, s_str (item, "node"));
        printf ("%-*s  %-*s  %-*s  %6s  %s\n", lease_width, s_str (item, "lease_ref"), id_width, id,
                owner_width, s_str (item, "owner_ref"), ttl, expires);
    }
}

//  The resources op: pools, then what each instance holds, then the queue
static void
s_print_resources (const shic_val_t *result, bool wide)
{
    const shic_val_t *pools = shic_val_get (result, "pools");
    bool nodes = shic_val_get (shic_val_at (pools, 0), "node") != NULL;
    int node_width = nodes? s_widest (pools, s_str, "node", 4): 0;
    if (nodes)
        printf ("%-*s ", node_width, "NODE");
    printf ("%-8s %-8s %10s %10s %10s %10s %10s\n", "POOL", "SOURCE", "CAPACITY", "RESERVE",
            "RESERVED", "USED", "FREE");
    for (size_t i = 0; i < shic_val_size (pools); i++) {
        const shic_val_t *pool = shic_val_at (pools, i);
        const char *keys [] = { "capacity_bytes", "reserve_bytes", "reserved_bytes", "used_bytes",
                                "free_bytes" };
        char cells [5][32];
        for (int k = 0; k < 5; k++)
            s_human_bytes (shic_val_int (shic_val_get (pool, keys [k])), cells [k], 32);
        if (nodes)
            printf ("%-*s ", node_width, s_str (pool, "node"));
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

//  The nodes of a cluster list that did not answer
static void
s_print_unreachable (const shic_val_t *result)
{
    const shic_val_t *unreachable = shic_val_get (result, "unreachable");
    for (size_t i = 0; i < shic_val_size (unreachable); i++) {
        const shic_val_t *item = shic_val_at (unreachable, i);
        printf ("(node %s did not answer: %s)\n", s_str (item, "node"), s_str (item, "error"));
    }
}

//  Whether an instance can still be stopped (not stopped or failed already)
static bool
s_instance_live (const shic_val_t *item)
{
    const char *status = s_str (item, "lifecycle_status");
    return !streq (status, "stopped") && !streq (status, "failed");
}

//  What an ensure's progress line shows: the requested instance alone
typedef struct {
    char prefix [256];              //  "backend:model:", the ids it may have
    char key [512];                 //  its instance key, once an event named it
    char phase [160];               //  queued (position), evicting, loading, ...
    char last_line [120];           //  the service's last output line
} s_progress_t;

//  Whether id starts with prefix, or does after a cluster node's "<node>."
static bool
s_id_has_prefix (const char *id, const char *prefix)
{
    if (strncmp (id, prefix, strlen (prefix)) == 0)
        return true;
    const char *dot = strchr (id, '.');
    const char *colon = strchr (id, ':');
    return dot && (!colon || dot < colon) && strncmp (dot + 1, prefix, strlen (prefix)) == 0;
}

//  One event: the phase of the requested instance, when it is about it
static void
s_progress_event (s_progress_t *self, const char *topic, const shic_val_t *event)
{
    const char *id = shic_val_str (shic_val_get (event, "instance_id"));
    const char *target = shic_val_str (shic_val_get (event, "for"));
    bool ours = id && (*self->key? streq (id, self->key)
                                 : s_id_has_prefix (id, self->prefix));
    if (streq (topic, "instance.evicting") && target
    &&  (*self->key? streq (target, self->key)
                   : s_id_has_prefix (target, self->prefix))) {
        snprintf (self->phase, sizeof (self->phase), "evicting %.60s to make room", id? id: "?");
        return;
    }
    if (!ours)
        return;
    if (!*self->key)
        snprintf (self->key, sizeof (self->key), "%s", id);
    if (streq (topic, "ensure.queued"))
        snprintf (self->phase, sizeof (self->phase), "queued for memory (position %lld)",
                  (long long) shic_val_int (shic_val_get (event, "position")));
    else
    if (streq (topic, "instance.starting"))
        snprintf (self->phase, sizeof (self->phase), "loading");
    else
    if (streq (topic, "instance.progress") && shic_val_get (event, "total")) {
        int64_t total = shic_val_int (shic_val_get (event, "total"));
        int64_t done = shic_val_int (shic_val_get (event, "completed"));
        char have [32], all [32];
        s_human_bytes (done, have, sizeof (have));
        s_human_bytes (total, all, sizeof (all));
        snprintf (self->phase, sizeof (self->phase), "pulling %s of %s (%lld%%)", have, all,
                  (long long) (total > 0? done * 100 / total: 0));
    }
    else
    if (streq (topic, "instance.progress"))
        snprintf (self->phase, sizeof (self->phase), "%.150s",
                  shic_val_str (shic_val_get (event, "status"))
                  ? shic_val_str (shic_val_get (event, "status")): "loading");
    else
    if (strncmp (topic, "instance.", 9) == 0)
        snprintf (self->phase, sizeof (self->phase), "%s", topic + 9);
}

//  ensure with a live progress line fed by the events socket
static int
s_ensure (shic_client_t *client, const char *events_endpoint, const char *backend,
          const char *model, int64_t ttl, int64_t wait, const char *owner, bool json, int timeout)
{
    //  The events first: a SUB hears only what is published once its
    //  subscription has reached the daemon, and the probe's round trip below
    //  gives it that time before the ensure can start anything
    zsock_t *events = zsock_new_sub (events_endpoint, "instance.");
    zsock_set_subscribe (events, "ensure.");
    //  Learn first, within about a second, whether anybody listens
    if (shic_client_probe (client) != 0) {
        zsock_destroy (&events);
        return s_fail (client, json);
    }
    shic_val_t *args = shic_client_ensure_args (backend, model, NULL, ttl, wait);
    if (owner)
        shic_val_set_str (args, "owner_ref", owner);
    bool live = isatty (STDERR_FILENO) && !json;
    s_progress_t progress = { .phase = "waiting" };
    snprintf (progress.prefix, sizeof (progress.prefix), "%s:%s:", backend, model);
    //  An instance already under way sends no instance.starting: its state
    //  comes from the list
    shic_val_t *listing = shic_val_new_map ();
    shic_val_set_str (listing, "backend", backend);
    shic_val_t *instances = live? shic_client_call (client, "list_instances", &listing): NULL;
    shic_val_destroy (&listing);
    const shic_val_t *list = shic_val_get (instances, "instances");
    for (size_t i = 0; i < shic_val_size (list); i++) {
        const shic_val_t *item = shic_val_at (list, i);
        const char *status = s_str (item, "lifecycle_status");
        if (s_id_has_prefix (s_str (item, "instance_id"), progress.prefix)
        &&  s_instance_live (item)) {
            snprintf (progress.key, sizeof (progress.key), "%s", s_str (item, "instance_id"));
            snprintf (progress.phase, sizeof (progress.phase), "%s",
                      streq (status, "starting")? "loading": status);
        }
    }
    shic_val_destroy (&instances);
    //  The last log line is asked for once a second while it loads
    const int64_t logs_id = 2000000;
    int64_t logs_at = 0;
    bool logs_asked = false;
    int64_t started = zclock_mono ();
    //  An id of its own: the probe's ids count up from 1
    const int64_t ensure_id = 1000000;
    if (shic_client_send (client, ensure_id, "ensure_endpoint", &args) != 0)
        return EXIT_NO_DAEMON;
    zpoller_t *poller = zpoller_new (shic_client_sock (client), events, NULL);
    int64_t deadline = started + (wait >= 0? wait: 120000) + timeout;
    int rc = EXIT_NO_DAEMON;
    while (zclock_mono () < deadline) {
        void *which = zpoller_wait (poller, 200);
        if (which == events) {
            zmsg_t *msg = zmsg_recv (events);
            char *topic = msg? zmsg_popstr (msg): NULL;
            zframe_t *frame = msg? zmsg_pop (msg): NULL;
            shic_val_t *event = NULL;
            if (topic && frame && shic_val_decode (zframe_data (frame), zframe_size (frame),
                                                   NULL, &event, NULL) == 0)
                s_progress_event (&progress, topic, event);
            shic_val_destroy (&event);
            zframe_destroy (&frame);
            zstr_free (&topic);
            zmsg_destroy (&msg);
        }
        else
        if (which == shic_client_sock (client)) {
            shic_wire_reply_t reply = { 0 };
            if (shic_client_recv (client, &reply, 0) != 0)
                continue;
            if (shic_val_int (reply.id) == logs_id) {
                const shic_val_t *lines = reply.ok? shic_val_get (reply.result, "lines"): NULL;
                if (shic_val_size (lines))
                    snprintf (progress.last_line, sizeof (progress.last_line), "%s",
                              shic_val_str (shic_val_at (lines, shic_val_size (lines) - 1)));
                logs_asked = false;
            }
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
                else
                    s_print_error (err);
                rc = EXIT_ERROR;
            }
            shic_wire_reply_reset (&reply);
            break;
        }
        if (live && *progress.key && !logs_asked && zclock_mono () >= logs_at) {
            shic_val_t *logs = shic_val_new_map ();
            shic_val_set_str (logs, "instance_id", progress.key);
            shic_val_set_int (logs, "lines", 1);
            logs_asked = shic_client_send (client, logs_id, "instance_logs", &logs) == 0;
            logs_at = zclock_mono () + 1000;
        }
        if (live) {
            //  One terminal line: the phase, the time, the service's last words
            struct winsize size = { 0 };
            int columns = ioctl (STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col
                        ? size.ws_col: 100;
            char line [512];
            int used = snprintf (line, sizeof (line), "  %s/%s: %s, %.1f s", backend, model,
                                 progress.phase, (zclock_mono () - started) / 1000.0);
            if (*progress.last_line && used > 0 && used < (int) sizeof (line))
                snprintf (line + used, sizeof (line) - (size_t) used, " | %s",
                          progress.last_line);
            fprintf (stderr, "\r\033[K%.*s", columns - 1, line);
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

//  The instances TARGET names: an instance id, a table's short id (with its
//  "~"), a model name or an unambiguous id prefix; --all: every live one.
//  Returns a list the caller destroys, or NULL after printing why (rc set).
static shic_val_t *
s_match (const shic_val_t *list, const char *target, bool all, int *rc)
{
    shic_val_t *exact = shic_val_new_array ();
    shic_val_t *models = shic_val_new_array ();
    shic_val_t *prefixed = shic_val_new_array ();
    shic_val_t *ended = shic_val_new_array ();   //  named, but stopped or failed
    char prefix [256] = "";
    if (target) {
        snprintf (prefix, sizeof (prefix), "%s", target);
        size_t length = strlen (prefix);
        if (length && prefix [length - 1] == '~')
            prefix [length - 1] = 0;
    }
    for (size_t i = 0; i < shic_val_size (list); i++) {
        const shic_val_t *item = shic_val_at (list, i);
        const char *id = s_str (item, "instance_id");
        shic_val_t *copy = shic_val_dup (item);
        if (all? s_instance_live (item): streq (id, target))
            shic_val_push (exact, &copy);
        else
        if (!all && streq (s_model_of (item, NULL), target) && s_instance_live (item))
            shic_val_push (models, &copy);
        else
        if (!all && streq (s_model_of (item, NULL), target))
            shic_val_push (ended, &copy);
        else
        if (!all && *prefix && strncmp (id, prefix, strlen (prefix)) == 0
        &&  s_instance_live (item))
            shic_val_push (prefixed, &copy);
        else
        if (!all && *prefix && strncmp (id, prefix, strlen (prefix)) == 0)
            shic_val_push (ended, &copy);
        else
            shic_val_destroy (&copy);
    }
    shic_val_t *chosen = shic_val_size (exact)? exact
                       : shic_val_size (models)? models
                       : shic_val_size (prefixed)? prefixed: ended;
    shic_val_t *found = shic_val_dup (chosen);
    shic_val_destroy (&exact);
    shic_val_destroy (&models);
    shic_val_destroy (&prefixed);
    shic_val_destroy (&ended);
    if (shic_val_size (found) == 0 && !all) {
        fprintf (stderr, "shic: not_found: no instance is '%s' (an instance id, a model or an "
                         "id prefix; 'shic ps' lists them)\n", target);
        *rc = EXIT_ERROR;
        shic_val_destroy (&found);
    }
    else
    if (shic_val_size (found) > 1 && !all) {
        fprintf (stderr, "shic: ambiguous: '%s' names %zu instances; say which:\n",
                 target, shic_val_size (found));
        for (size_t i = 0; i < shic_val_size (found); i++) {
            const shic_val_t *item = shic_val_at (found, i);
            fprintf (stderr, "  %s  (%s %s, %s)\n", s_str (item, "instance_id"),
                     s_str (item, "backend"), s_model_of (item, NULL),
                     s_str (item, "lifecycle_status"));
        }
        *rc = EXIT_ERROR;
        shic_val_destroy (&found);
    }
    return found;
}

//  The instances TARGET names in the daemon's list, or NULL with *rc set
static shic_val_t *
s_targets (shic_client_t *client, const char *target, bool all, bool json, int *rc)
{
    shic_val_t *call = shic_val_new_map ();
    //  A named instance may run on any node of a cluster (a daemon that is
    //  not clustered ignores the flag); --all is this node's alone
    if (!all)
        shic_val_set_bool (call, "cluster", true);
    shic_val_t *result = shic_client_call (client, "list_instances", &call);
    if (!result) {
        *rc = s_fail (client, json);
        return NULL;
    }
    shic_val_t *targets = s_match (shic_val_get (result, "instances"), target, all, rc);
    shic_val_destroy (&result);
    return targets;
}

//  shic stop TARGET | --all: says what it stopped, and what it did not
static int
s_stop (shic_client_t *client, const char *target, bool all, bool json)
{
    int rc = 0;
    shic_val_t *targets = s_targets (client, target, all, json, &rc);
    if (!targets)
        return rc;
    shic_val_t *call = NULL;
    shic_val_t *report = shic_val_new_array ();
    for (size_t i = 0; i < shic_val_size (targets) && rc == 0; i++) {
        const shic_val_t *item = shic_val_at (targets, i);
        const char *id = s_str (item, "instance_id");
        const char *outcome = "stopping";
        if (streq (s_str (item, "management_mode"), "externally_managed"))
            outcome = "attached (an external daemon: not stopped)";
        else
        if (!s_instance_live (item))
            outcome = "already ended";
        else {
            call = shic_val_new_map ();
            shic_val_set_str (call, "instance_id", id);
            shic_val_t *reply = shic_client_call (client, "stop_instance", &call);
            if (!reply)
                rc = s_fail (client, json);
            shic_val_destroy (&reply);
        }
        if (rc)
            break;
        shic_val_t *entry = shic_val_new_map ();
        shic_val_set_str (entry, "instance_id", id);
        shic_val_set_str (entry, "outcome", outcome);
        shic_val_push (report, &entry);
        if (!json)
            printf ("%s  %s %s: %s\n", id, s_str (item, "backend"), s_model_of (item, NULL),
                    outcome);
    }
    if (rc == 0 && json) {
        shic_val_t *wrapper = shic_val_new_map ();
        shic_val_set (wrapper, "stopped", &report);
        s_print_json (wrapper);
        shic_val_destroy (&wrapper);
    }
    else
    if (rc == 0 && shic_val_size (targets) == 0)
        printf ("no instances to stop\n");
    shic_val_destroy (&report);
    shic_val_destroy (&targets);
    return rc;
}

//  shic models [--backend B]: what each backend can serve, its size and
//  footprint, and where it is loaded
static void
s_print_models (const shic_val_t *result)
{
    const shic_val_t *list = shic_val_get (result, "models");
    int backend_width = s_widest (list, s_str, "backend", 7);
    int name_width = s_widest (list, s_str, "name", 5);
    printf ("%-*s  %-*s  %10s  %-20s  %-8s  %s\n", backend_width, "BACKEND", name_width, "MODEL",
            "SIZE", "FOOTPRINT", "LOADED", "SOURCE");
    for (size_t i = 0; i < shic_val_size (list); i++) {
        const shic_val_t *item = shic_val_at (list, i);
        char size [32] = "-", footprint [64] = "-", bytes [32];
        if (shic_val_type (shic_val_get (item, "size_bytes")) == SHIC_VAL_INT)
            s_human_bytes (shic_val_int (shic_val_get (item, "size_bytes")), size, sizeof (size));
        if (shic_val_type (shic_val_get (item, "footprint_bytes")) == SHIC_VAL_INT) {
            s_human_bytes (shic_val_int (shic_val_get (item, "footprint_bytes")), bytes,
                           sizeof (bytes));
            snprintf (footprint, sizeof (footprint), "%s (%s)", bytes,
                      s_str (item, "footprint_source"));
        }
        const char *loaded = shic_val_bool (shic_val_get (item, "loaded"))? "yes"
                           : shic_val_str (shic_val_path (item, "instance/lifecycle_status"))
                           ? s_str (item, "instance/lifecycle_status"): "no";
        printf ("%-*s  %-*s  %10s  %-20s  %-8s  %s\n", backend_width, s_str (item, "backend"),
                name_width, s_str (item, "name"), size, footprint, loaded, s_str (item, "source"));
    }
    const shic_val_t *unknown = shic_val_get (result, "unknown");
    for (size_t i = 0; i < shic_val_size (unknown); i++)
        printf ("(%s: its models are not known until it is asked; an attached server lists "
                "them once an instance of it runs)\n", shic_val_str (shic_val_at (unknown, i)));
}

//  The model names of backend in a list_models result, comma-separated
static void
s_models_of (const shic_val_t *models, const char *backend, char *text, size_t size)
{
    snprintf (text, size, "?");
    bool unknown = false;
    const shic_val_t *names = shic_val_get (models, "unknown");
    for (size_t i = 0; i < shic_val_size (names); i++)
        unknown |= streq (shic_val_str (shic_val_at (names, i)), backend);
    if (unknown || !models)
        return;
    *text = 0;
    const shic_val_t *list = shic_val_get (models, "models");
    for (size_t i = 0; i < shic_val_size (list); i++)
        if (streq (s_str (shic_val_at (list, i), "backend"), backend)) {
            size_t used = strlen (text);
            snprintf (text + used, size - used, "%s%s", used? ",": "",
                      s_str (shic_val_at (list, i), "name"));
        }
}

//  shic logs TARGET [-f]: the service's last lines; -f polls for new ones
//  every half second (bounded: at most 200 lines a poll) until the
//  instance's actor ends or Ctrl-C
static int
s_logs (shic_client_t *client, const char *target, int64_t count, bool follow, bool json)
{
    int rc = 0;
    shic_val_t *targets = s_targets (client, target, false, json, &rc);
    if (!targets)
        return rc;
    shic_val_t *call = NULL, *result = NULL;
    char *id = strdup (s_str (shic_val_at (targets, 0), "instance_id"));
    shic_val_destroy (&targets);
    int64_t after = 0;
    while (rc == 0) {
        call = shic_val_new_map ();
        shic_val_set_str (call, "instance_id", id);
        shic_val_set_int (call, "lines", count);
        shic_val_set_int (call, "after", after);
        result = shic_client_call (client, "instance_logs", &call);
        if (!result) {
            rc = s_fail (client, json);
            break;
        }
        const shic_val_t *lines = shic_val_get (result, "lines");
        if (json)
            s_print_json (result);
        else
            for (size_t i = 0; i < shic_val_size (lines); i++)
                printf ("%s\n", shic_val_str (shic_val_at (lines, i)));
        fflush (stdout);
        bool live = streq (s_str (result, "source"), "service");
        after = shic_val_int (shic_val_get (result, "next"));
        count = 200;
        if (!json && !live && shic_val_size (lines) == 0 && !follow)
            printf ("(no lines: %s)\n", streq (s_str (result, "source"), "attached")
                    ? "an attached service's output is not ours to read"
                    : "the instance has ended and left no output");
        shic_val_destroy (&result);
        if (!follow)
            break;
        if (!live) {
            fprintf (stderr, "shic: %s has ended\n", id);
            break;
        }
        zclock_sleep (500);
    }
    free (id);
    return rc;
}

//  The names of a reload's list at key, comma-separated, or "-"
static void
s_names (const shic_val_t *result, const char *key, char *text, size_t size)
{
    const shic_val_t *list = shic_val_get (result, key);
    snprintf (text, size, "%s", shic_val_size (list)? "": "-");
    for (size_t i = 0; i < shic_val_size (list); i++) {
        size_t used = strlen (text);
        snprintf (text + used, size - used, "%s%s", i? ", ": "",
                  shic_val_str (shic_val_at (list, i))? shic_val_str (shic_val_at (list, i)): "?");
    }
}

//  shic reload: the daemon reads its configuration file again. A reload
//  may take a while (each new backend is tried, then registered): the
//  daemon answers within 120 s
static int
s_reload (shic_client_t *client, bool json, int64_t timeout)
{
    shic_client_set_timeout (client, (int) (120000 + timeout));
    shic_val_t *call = shic_val_new_map ();
    shic_val_t *result = shic_client_call (client, "reload", &call);
    if (!result)
        return s_fail (client, json);
    bool reloaded = shic_val_bool (shic_val_get (result, "reloaded"));
    if (json)
        s_print_json (result);
    else
    if (reloaded) {
        printf ("reloaded %s\n", s_str (result, "file"));
        const char *keys [] = { "added", "removed", "changed", "unchanged", NULL };
        for (int i = 0; keys [i]; i++) {
            char names [1024];
            s_names (result, keys [i], names, sizeof (names));
            printf ("  %-10s %s\n", keys [i], names);
        }
        if (shic_val_bool (shic_val_get (result, "restart_needed")))
            printf ("  (the shicd and runtime sections changed: they take effect at the next "
                    "start)\n");
    }
    else
        fprintf (stderr, "shic: reload refused: %s\n  the running configuration stays as it "
                 "was\n", s_str (result, "problem"));
    shic_val_destroy (&result);
    return reloaded? 0: EXIT_ERROR;
}

int
main (int argc, char *argv [])
{
    const char *endpoint = getenv ("SHIC_ENDPOINT")? getenv ("SHIC_ENDPOINT"): "tcp://127.0.0.1:5590";
    const char *events = getenv ("SHIC_EVENTS")? getenv ("SHIC_EVENTS"): "tcp://127.0.0.1:5591";
    bool json = false, wide = false, all = false, follow = false, cluster = false;
    int64_t lines = 50;
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
        { "all", no_argument, 0, 'a' }, { "follow", no_argument, 0, 'f' },
        { "lines", required_argument, 0, 'n' }, { "cluster", no_argument, 0, 'c' },
        { 0, 0, 0, 0 }
    };
    int option;
    while ((option = getopt_long (argc, argv, "E:jt:hwfn:", options, NULL)) != -1) {
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
        else if (option == 'a') all = true;
        else if (option == 'c') cluster = true;
        else if (option == 'f') follow = true;
        else if (option == 'n') {
            char *end = NULL;
            lines = strtoll (optarg, &end, 10);
            if (!*optarg || *end || lines < 1 || lines > 200) {
                fprintf (stderr, "shic: --lines takes a number from 1 to 200\n");
                return EXIT_USAGE;
            }
        }
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
        if ((rest != 1 || all) && !(rest == 0 && all)) {
            fprintf (stderr, "usage: shic stop INSTANCE|MODEL|PREFIX, or shic stop --all\n");
            rc = EXIT_USAGE;
        }
        else
            rc = s_stop (client, all? NULL: args [0], all, json);
    }
    else
    if (streq (command, "logs")) {
        if (rest != 1) {
            fprintf (stderr, "usage: shic logs INSTANCE|MODEL [-f] [--lines N]\n");
            rc = EXIT_USAGE;
        }
        else
            rc = s_logs (client, args [0], lines, follow, json);
    }
    else
    if (streq (command, "reload")) {
        if (rest != 0) {
            fprintf (stderr, "usage: shic -E ipc://PATH reload [--json]\n");
            rc = EXIT_USAGE;
        }
        else
            rc = s_reload (client, json, timeout);
    }
    else
    if (streq (command, "ps")) {
        if (backend)
            shic_val_set_str (call, "backend", backend);
        if (cluster)
            shic_val_set_bool (call, "cluster", true);
        op = "list_instances";
    }
    else
    if (streq (command, "leases")) {
        if (instance)
            shic_val_set_str (call, "instance_id", instance);
        if (cluster)
            shic_val_set_bool (call, "cluster", true);
        op = "list_leases";
    }
    else
    if (streq (command, "backends"))
        op = "list_backends";
    else
    if (streq (command, "models")) {
        if (backend)
            shic_val_set_str (call, "backend", backend);
        op = "list_models";
    }
    else
    if (streq (command, "stats"))
        op = "stats";
    else
    if (streq (command, "resources")) {
        if (cluster)
            shic_val_set_bool (call, "cluster", true);
        op = "resources";
    }
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
        if (streq (op, "ping")) {
            printf ("shicd %s on %s, up %.1f s", s_str (result, "version"), s_str (result, "node"),
                    shic_val_int (shic_val_get (result, "uptime_ms")) / 1000.0);
            //  A clustered node says which, and how its cluster is
            if (shic_val_get (result, "cluster"))
                printf ("; cluster node %s: %s, %lld node(s) seen", s_str (result, "cluster/node"),
                        s_str (result, "cluster/state"),
                        (long long) shic_val_int (shic_val_path (result, "cluster/nodes")));
            printf ("\n");
        }
        else
        if (streq (op, "list_instances") || streq (op, "list_leases") || streq (op, "resources")) {
            if (streq (op, "list_instances"))
                s_print_instances (shic_val_get (result, "instances"), wide);
            else
            if (streq (op, "list_leases"))
                s_print_leases (shic_val_get (result, "leases"), wide);
            else
                s_print_resources (result, wide);
            s_print_unreachable (result);
        }
        else
        if (streq (op, "list_models"))
            s_print_models (result);
        else
        if (streq (op, "release_lease")) {
            if (shic_val_bool (shic_val_get (result, "released")))
                printf ("released %s\n", args [0]);
            else
                printf ("no live lease %s (already released or expired): nothing to do\n",
                        args [0]);
        }
        else
        if (streq (op, "list_backends")) {
            const shic_val_t *list = shic_val_get (result, "backends");
            shic_val_t *models_call = shic_val_new_map ();
            shic_val_t *models = shic_client_call (client, "list_models", &models_call);
            printf ("%-16s %-26s %-24s %s\n", "BACKEND", "STARTUP_KIND", "MANAGEMENT_MODES",
                    "MODELS");
            for (size_t i = 0; i < shic_val_size (list); i++) {
                const shic_val_t *item = shic_val_at (list, i);
                char *modes = shic_val_to_json (shic_val_get (item, "management_modes"));
                char names [512];
                s_models_of (models, s_str (item, "backend"), names, sizeof (names));
                printf ("%-16s %-26s %-24s %s\n", s_str (item, "backend"),
                        s_str (item, "startup_kind"), modes, names);
                free (modes);
            }
            shic_val_destroy (&models);
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
