/*  =========================================================================
    shic_cli - the command line client of shicd (the program "shic")

    Tables for people, --json for scripts, a live progress line while an
    ensure waits for a cold start. Exit codes: 0 done, 1 the daemon answered
    an error, 2 usage, 3 no daemon answered.
    =========================================================================
*/

#include "shic.h"
#include <getopt.h>

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
    "  ps [--backend B]    runtime instances\n"
    "  leases [--instance I]  live leases\n"
    "  backends            registered backends\n"
    "  stop INSTANCE       stop an instance (never stops an attached daemon)\n"
    "  watch [PREFIX]      print events as they come (Ctrl-C ends)\n"
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
    "  -h, --help          this text ('shic COMMAND --help' works too)\n"
    "\n"
    "Durations: 500ms, 30s, 10m, 1h, or a number of milliseconds.\n"
    "Exit codes: 0 done, 1 the daemon answered an error, 2 usage, 3 no daemon answered.\n";

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
    bool no_daemon = streq (err->code, SHIC_E_INTERNAL) && err->message
                  && strstr (err->message, "no reply");
    if (json) {
        shic_val_t *val = shic_error_to_val (err);
        char *text = shic_val_to_json (val);
        printf ("{\"ok\":false,\"error\":%s}\n", text);
        free (text);
        shic_val_destroy (&val);
    }
    else
    if (no_daemon)
        fprintf (stderr, "shic: no answer from the daemon (is shicd running?)\n");
    else {
        fprintf (stderr, "shic: %s: %s\n", err->code, err->message? err->message: "");
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

//  ensure with a live progress line fed by the events socket
static int
s_ensure (shic_client_t *client, const char *events_endpoint, const char *backend,
          const char *model, int64_t ttl, int64_t wait, const char *owner, bool json, int timeout)
{
    shic_val_t *args = shic_client_ensure_args (backend, model, NULL, ttl, wait);
    if (owner)
        shic_val_set_str (args, "owner_ref", owner);
    zsock_t *events = zsock_new_sub (events_endpoint, "instance.");
    bool live = isatty (STDERR_FILENO) && !json;
    int64_t started = zclock_mono ();
    if (shic_client_send (client, 1, "ensure_endpoint", &args) != 0)
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
            if (live)
                fprintf (stderr, "\r\033[K");
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
        if (live)
            fprintf (stderr, "\r\033[K  %s/%s: %s, %.1f s", backend, model, state,
                     (zclock_mono () - started) / 1000.0);
    }
    if (rc == EXIT_NO_DAEMON)
        fprintf (stderr, "%sshic: no answer from the daemon (is shicd running?)\n", live? "\n": "");
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
    bool json = false;
    int64_t timeout = 5000, ttl = 600000, wait = -1;
    const char *owner = NULL, *backend = NULL, *instance = NULL;
    const char *server_key = getenv ("SHIC_SERVER_KEY");
    const char *client_cert = getenv ("SHIC_CLIENT_CERT");
    static struct option options [] = {
        { "endpoint", required_argument, 0, 'E' }, { "events", required_argument, 0, 'N' },
        { "json", no_argument, 0, 'j' }, { "timeout", required_argument, 0, 't' },
        { "ttl", required_argument, 0, 'T' }, { "wait", required_argument, 0, 'w' },
        { "owner", required_argument, 0, 'o' }, { "backend", required_argument, 0, 'b' },
        { "instance", required_argument, 0, 'i' }, { "help", no_argument, 0, 'h' },
        { "server-key", required_argument, 0, 'K' }, { "client-cert", required_argument, 0, 'C' },
        { 0, 0, 0, 0 }
    };
    int option;
    while ((option = getopt_long (argc, argv, "E:jt:h", options, NULL)) != -1) {
        int64_t value = 0;
        if (option == 'E') endpoint = optarg;
        else if (option == 'N') events = optarg;
        else if (option == 'j') json = true;
        else if (option == 'o') owner = optarg;
        else if (option == 'b') backend = optarg;
        else if (option == 'i') instance = optarg;
        else if (option == 'K') server_key = optarg;
        else if (option == 'C') client_cert = optarg;
        else if (option == 'h') {
            printf ("%s", s_help);
            return 0;
        }
        else if (option == 't' || option == 'T' || option == 'w') {
            if ((value = s_duration (optarg)) < 0) {
                fprintf (stderr, "shic: '%s' is not a duration\n", optarg);
                return EXIT_USAGE;
            }
            if (option == 't') timeout = value;
            else if (option == 'T') ttl = value;
            else wait = value;
        }
        else {
            fprintf (stderr, "%s", s_help);
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
    if (streq (command, "ping"))
        op = "ping";
    else {
        fprintf (stderr, "shic: unknown command '%s'\n%s", command, s_help);
        rc = EXIT_USAGE;
    }
    if (op && rc == 0) {
        shic_val_t *result = shic_client_call (client, op, &call);
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
        if (streq (op, "list_instances")) {
            const shic_val_t *list = shic_val_get (result, "instances");
            printf ("%-12s %-10s %-11s %6s %8s %7s  %s\n", "BACKEND", "STATUS", "HEALTH", "LEASES",
                    "RESTARTS", "PID", "INSTANCE / ENDPOINT");
            for (size_t i = 0; i < shic_val_size (list); i++) {
                const shic_val_t *item = shic_val_at (list, i);
                printf ("%-12s %-10s %-11s %6lld %8lld %7lld  %s\n    %s\n", s_str (item, "backend"),
                        s_str (item, "lifecycle_status"), s_str (item, "health_status"),
                        (long long) shic_val_int (shic_val_get (item, "lease_count")),
                        (long long) shic_val_int (shic_val_get (item, "restarts")),
                        (long long) shic_val_int (shic_val_get (item, "pid")),
                        s_str (item, "instance_id"), s_str (item, "endpoint/base_url"));
            }
        }
        else
        if (streq (op, "list_leases")) {
            const shic_val_t *list = shic_val_get (result, "leases");
            printf ("%-14s %10s %16s  %s\n", "LEASE", "TTL_MS", "EXPIRES_AT_MS", "INSTANCE");
            for (size_t i = 0; i < shic_val_size (list); i++) {
                const shic_val_t *item = shic_val_at (list, i);
                printf ("%-14s %10lld %16lld  %s\n", s_str (item, "lease_ref"),
                        (long long) shic_val_int (shic_val_get (item, "ttl_ms")),
                        (long long) shic_val_int (shic_val_get (item, "expires_at_ms")),
                        s_str (item, "instance_id"));
            }
        }
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
