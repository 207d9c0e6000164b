/*  =========================================================================
    shicd - the shic daemon

    Runs one runtime, registers the backends of its configuration, exposes
    the gateway (ROUTER) and the events (PUB) sockets of wire.md, and stops
    in order on SIGINT or SIGTERM: every spawned service stopped, nothing
    left running, exit 0.
    =========================================================================
*/

#include "shic.h"
#include "shic_backends.h"
#include <signal.h>
#include <getopt.h>
#include <sys/stat.h>
#include <dirent.h>

#define DEFAULT_GATEWAY "tcp://127.0.0.1:5590"
#define DEFAULT_EVENTS  "tcp://127.0.0.1:5591"

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: shicd [--config FILE] [--gateway ENDPOINT] [--events ENDPOINT] [--verbose]\n"
        "       shicd --version | --help\n"
        "\n"
        "Runs the shic daemon: a runtime whose gateway speaks the wire protocol on a\n"
        "ZeroMQ ROUTER and publishes lifecycle events on a PUB socket.\n"
        "\n"
        "  -c, --config FILE      ZPL configuration (guides/configuration.md)\n"
        "  -g, --gateway ENDPOINT gateway endpoint (default %s, or shicd/gateway)\n"
        "  -e, --events ENDPOINT  events endpoint (default %s, or shicd/events)\n"
        "  -v, --verbose          trace actors\n"
        "  -V, --version          print the version\n"
        "  -h, --help             this text\n"
        "\n"
        "With no configuration: ollama is registered at OLLAMA_HOST or\n"
        "http://127.0.0.1:11434, and llama_cpp when llama-server is on PATH, with every\n"
        "*.gguf of SHIC_MODELS_DIR (default ~/.cache/shic/models) as a model.\n"
        "SIGINT or SIGTERM stops the daemon and every service it started.\n",
        DEFAULT_GATEWAY, DEFAULT_EVENTS);
}

//  The line of path (e.g. "backends/ollama/root_url") in a ZPL file, or 0
static int
s_line_of (const char *file, const char *path)
{
    FILE *in = fopen (file, "r");
    if (!in)
        return 0;
    char *stack [16] = { 0 };
    char line [1024];
    int number = 0, found = 0;
    while (!found && fgets (line, sizeof (line), in)) {
        number++;
        int indent = 0;
        while (line [indent] == ' ')
            indent++;
        char *name = line + indent;
        if (*name == '#' || *name == '\n' || *name == 0)
            continue;
        size_t length = strcspn (name, " =\n#");
        int level = indent / 4;
        if (level >= 16)
            continue;
        free (stack [level]);
        stack [level] = strndup (name, length);
        for (int i = level + 1; i < 16; i++)
            zstr_free (&stack [i]);
        char joined [512] = "";
        for (int i = 0; i <= level; i++) {
            if (!stack [i])
                break;
            if (i)
                strcat (joined, "/");
            strncat (joined, stack [i], sizeof (joined) - strlen (joined) - 2);
        }
        if (streq (joined, path))
            found = number;
    }
    for (int i = 0; i < 16; i++)
        free (stack [i]);
    fclose (in);
    return found;
}

//  Checks the keys shicd knows; returns the bad key's path or NULL
static const char *
s_check_config (zconfig_t *config, char **problem)
{
    static char path [256];
    const char *numeric [] = { "client_timeout_ms", "max_leases", "max_instances", "lease_spare",
                               "retention_ms", "start_failure_hold_ms", "max_frame",
                               "liveness_failures", "restart_backoff_ms", "restart_backoff_max_ms",
                               "max_restarts", "restart_window_ms", "failed_cooldown_ms",
                               "healthy_reset_ms", "verbose", "inproc_client_timeout", "max_queue",
                               "preempt_grace_ms", NULL };
    const char *sections [] = { "shicd", "runtime", NULL };
    for (int s = 0; sections [s]; s++) {
        zconfig_t *section = zconfig_locate (config, sections [s]);
        for (zconfig_t *item = section? zconfig_child (section): NULL; item; item = zconfig_next (item)) {
            const char *name = zconfig_name (item);
            const char *value = zconfig_value (item);
            snprintf (path, sizeof (path), "%s/%s", sections [s], name);
            bool known = streq (name, "gateway") || streq (name, "events")
                      || streq (name, "curve_server_cert") || streq (name, "curve_clients")
                      || streq (name, "resources");     //  checked by shic_pools_load
            for (int i = 0; numeric [i]; i++)
                if (streq (name, numeric [i])) {
                    known = true;
                    char *end = NULL;
                    if (!value || !*value || (strtoll (value, &end, 10), *end)) {
                        *problem = zsys_sprintf ("'%s' is not a whole number", value? value: "");
                        return path;
                    }
                }
            if (!known) {
                *problem = strdup ("unknown key");
                return path;
            }
        }
    }
    for (zconfig_t *item = zconfig_child (config); item; item = zconfig_next (item)) {
        const char *name = zconfig_name (item);
        if (!streq (name, "shicd") && !streq (name, "runtime") && !streq (name, "backends")) {
            snprintf (path, sizeof (path), "%s", name);
            *problem = strdup ("unknown section");
            return path;
        }
    }
    return NULL;
}

//  The configuration used when none is given
static zconfig_t *
s_default_config (void)
{
    zconfig_t *config = zconfig_new ("root", NULL);
    const char *host = getenv ("OLLAMA_HOST");
    zconfig_t *ollama = zconfig_new ("ollama", zconfig_new ("backends", config));
    if (host && *host) {
        char *root = strstr (host, "://")? strdup (host): zsys_sprintf ("http://%s", host);
        zconfig_put (ollama, "root_url", root);
        free (root);
    }
    //  llama_cpp when llama-server is on PATH
    const char *path = getenv ("PATH");
    char *binary = NULL;
    if (path) {
        char *copy = strdup (path);
        for (char *dir = strtok (copy, ":"); dir && !binary; dir = strtok (NULL, ":")) {
            char *candidate = zsys_sprintf ("%s/llama-server", dir);
            if (access (candidate, X_OK) == 0)
                binary = candidate;
            else
                zstr_free (&candidate);
        }
        free (copy);
    }
    if (binary) {
        zconfig_t *backends = zconfig_locate (config, "backends");
        zconfig_t *llama = zconfig_new ("llama_cpp", backends);
        zconfig_put (llama, "binary", binary);
        zconfig_t *models = zconfig_new ("models", llama);
        const char *dir = getenv ("SHIC_MODELS_DIR");
        char *home_dir = zsys_sprintf ("%s/.cache/shic/models", getenv ("HOME")? getenv ("HOME"): "/root");
        DIR *scan = opendir (dir? dir: home_dir);
        struct dirent *entry;
        while (scan && (entry = readdir (scan))) {
            size_t length = strlen (entry->d_name);
            if (length > 5 && streq (entry->d_name + length - 5, ".gguf")) {
                char *name = strndup (entry->d_name, length - 5);
                char *full = zsys_sprintf ("%s/%s", dir? dir: home_dir, entry->d_name);
                zconfig_put (models, name, full);
                free (name);
                free (full);
            }
        }
        if (scan)
            closedir (scan);
        free (home_dir);
        free (binary);
    }
    return config;
}

int
main (int argc, char *argv [])
{
    const char *config_file = NULL;
    const char *gateway = NULL, *events = NULL;
    bool verbose = false;
    static struct option options [] = {
        { "config", required_argument, 0, 'c' }, { "gateway", required_argument, 0, 'g' },
        { "events", required_argument, 0, 'e' }, { "verbose", no_argument, 0, 'v' },
        { "version", no_argument, 0, 'V' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 }
    };
    int option;
    while ((option = getopt_long (argc, argv, "c:g:e:vVh", options, NULL)) != -1) {
        if (option == 'c')
            config_file = optarg;
        else if (option == 'g')
            gateway = optarg;
        else if (option == 'e')
            events = optarg;
        else if (option == 'v')
            verbose = true;
        else if (option == 'V') {
            printf ("shicd %s (wire protocol %d)\n", SHIC_VERSION, SHIC_WIRE_VERSION);
            return 0;
        }
        else if (option == 'h') {
            s_usage (stdout);
            return 0;
        }
        else {
            s_usage (stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "shicd: unexpected argument '%s'\n", argv [optind]);
        s_usage (stderr);
        return 2;
    }
    zsys_set_logident ("shicd");
    zsys_set_logstream (stderr);
    zconfig_t *config = NULL;
    if (config_file) {
        if (access (config_file, R_OK) != 0) {
            fprintf (stderr, "shicd: %s: cannot read: %s\n", config_file, strerror (errno));
            return 2;
        }
        config = zconfig_load (config_file);
        if (!config) {
            fprintf (stderr, "shicd: %s: not valid ZPL (indent by 4 spaces; 'key = value')\n", config_file);
            return 2;
        }
        char *problem = NULL;
        const char *bad = s_check_config (config, &problem);
        if (bad) {
            fprintf (stderr, "shicd: %s:%d: %s: %s\n", config_file, s_line_of (config_file, bad), bad, problem);
            free (problem);
            zconfig_destroy (&config);
            return 2;
        }
    }
    else
        config = s_default_config ();
    if (!gateway)
        gateway = zconfig_get (config, "shicd/gateway", DEFAULT_GATEWAY);
    if (!events)
        events = zconfig_get (config, "shicd/events", DEFAULT_EVENTS);
    if (verbose)
        zconfig_put (config, "runtime/verbose", "1");

    //  Signals are taken by this thread alone, with sigwait
    sigset_t signals;
    sigemptyset (&signals);
    sigaddset (&signals, SIGINT);
    sigaddset (&signals, SIGTERM);
    pthread_sigmask (SIG_BLOCK, &signals, NULL);
    shic_init ((size_t) atoll (zconfig_get (config, "shicd/max_leases",
                                            zconfig_get (config, "runtime/max_leases", "4096"))));
    zsys_handler_set (NULL);

    int rc = 0;
    shic_runtime_t *runtime = shic_runtime_new (config);
    shic_backends_t *backends = NULL;
    if (!runtime) {
        fprintf (stderr, "shicd: the runtime did not start\n");
        rc = 1;
        goto done;
    }
    shic_error_t err = { 0 };
    backends = shic_backends_configure (runtime, config, &err);
    if (!backends) {
        //  details.field is "backends/<section>/<key>"; a key that is
        //  missing points at its section's line
        const char *key = shic_val_str (shic_val_get (err.details, "field"));
        char named [256] = "";
        if (!key && err.message && strncmp (err.message, "backends/", 9) == 0) {
            //  "backends/<section>: ..." from a backend's own init
            snprintf (named, sizeof (named), "%.*s", (int) strcspn (err.message, ":"), err.message);
            key = named;
        }
        int line = config_file && key? s_line_of (config_file, key): 0;
        if (config_file && key && !line) {
            char *section = strdup (key);
            char *slash = strrchr (section, '/');
            if (slash)
                *slash = 0;
            line = s_line_of (config_file, section);
            free (section);
        }
        if (config_file && key && err.message && strncmp (err.message, key, strlen (key)) == 0)
            fprintf (stderr, "shicd: %s:%d: %s\n", config_file, line, err.message);
        else
        if (config_file && key)
            fprintf (stderr, "shicd: %s:%d: %s: %s\n", config_file, line, key,
                     err.message? err.message: "bad backend");
        else
            fprintf (stderr, "shicd: %s%s%s\n", config_file? config_file: "", config_file? ": ": "",
                     err.message? err.message: "bad backend");
        shic_error_clear (&err);
        rc = 2;
        goto done;
    }
    //  CURVE with an allow-list of client keys, when configured
    const char *curve_cert = zconfig_get (config, "shicd/curve_server_cert", NULL);
    const char *curve_clients = zconfig_get (config, "shicd/curve_clients", NULL);
    if ((curve_cert || curve_clients)
    &&  (!curve_cert || !curve_clients
    ||   shic_runtime_set_curve (runtime, curve_cert, curve_clients) != 0)) {
        fprintf (stderr, "shicd: %s:%d: shicd/curve_server_cert and shicd/curve_clients: "
                 "both are needed and must name a certificate and a directory\n",
                 config_file? config_file: "", config_file? s_line_of (config_file, "shicd/curve_server_cert"): 0);
        rc = 2;
        goto done;
    }
    if (shic_runtime_bind_gateway (runtime, gateway) < 0) {
        fprintf (stderr, "shicd: cannot bind the gateway to %s\n", gateway);
        rc = 1;
        goto done;
    }
    if (shic_runtime_bind_events (runtime, events) < 0) {
        fprintf (stderr, "shicd: cannot bind the events socket to %s\n", events);
        rc = 1;
        goto done;
    }
    zsys_info ("shicd %s: gateway %s, events %s, %zu backend(s)", SHIC_VERSION, gateway, events,
               shic_backends_size (backends));
    printf ("shicd ready: gateway %s events %s\n", gateway, events);
    fflush (stdout);
    int signal_number = 0;
    sigwait (&signals, &signal_number);
    zsys_info ("shicd: %s, stopping", signal_number == SIGINT? "SIGINT": "SIGTERM");
done:
    shic_runtime_destroy (&runtime);
    shic_backends_destroy (&backends);
    zconfig_destroy (&config);
    if (rc == 0)
        zsys_info ("shicd: stopped");
    return rc;
}
