/*  =========================================================================
    shicd - the shic daemon

    Runs one runtime, registers the backends of its configuration, exposes
    the gateway (ROUTER) and the events (PUB) sockets of wire.md, and stops
    in order on SIGINT or SIGTERM: every spawned service stopped, nothing
    left running, exit 0. SIGHUP reloads the configuration file
    (apps/shicd_reload.c), and so does the reload op of a trusted client
    (the control socket): the runtime hands the op to this program's main
    thread, which waits for it and the signals together.
    =========================================================================
*/

#include "shic.h"
#include "shic_backends.h"
#include "shic_http_face.h"
#include "shicd_log.h"
#include "shicd_check.h"
#include "shicd_reload.h"
#include <signal.h>
#include <sys/signalfd.h>
#include <getopt.h>
#include <sys/stat.h>
#include <dirent.h>
#include <ctype.h>

#define DEFAULT_GATEWAY "tcp://127.0.0.1:5590"
#define DEFAULT_EVENTS  "tcp://127.0.0.1:5591"

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: shicd [--config FILE] [--gateway ENDPOINT] [--events ENDPOINT] [--verbose]\n"
        "       shicd --check [--config FILE]\n"
        "       shicd --version | --help\n"
        "\n"
        "Runs the shic daemon: a runtime whose gateway speaks the wire protocol on a\n"
        "ZeroMQ ROUTER and publishes lifecycle events on a PUB socket.\n"
        "\n"
        "  -c, --config FILE      ZPL configuration (guides/configuration.md)\n"
        "  -g, --gateway ENDPOINT gateway endpoint (default %s, or shicd/gateway)\n"
        "  -e, --events ENDPOINT  events endpoint (default %s, or shicd/events)\n"
        "  -v, --verbose          trace actors\n"
        "                         (HTTP: shicd/http, default %s, empty for none)\n"
        "      --check            check the configuration and exit: its keys, that each\n"
        "                         llama_cpp binary runs --version, that each model is a\n"
        "                         GGUF file, that each command exists (0 ok, 2 problems)\n"
        "  -V, --version          print the version\n"
        "  -h, --help             this text\n"
        "\n"
        "With no configuration: ollama is registered at OLLAMA_HOST or\n"
        "http://127.0.0.1:11434, and llama_cpp when llama-server is on PATH, with every\n"
        "*.gguf of SHIC_MODELS_DIR (default ~/.cache/shic/models) as a model.\n"
        "SIGINT or SIGTERM stops the daemon and every service it started; SIGHUP,\n"
        "or 'shic -E ipc://PATH reload' on the control socket (shicd/control),\n"
        "reloads the configuration file: backends added, removed and changed, the\n"
        "unchanged ones left running; a bad file changes nothing and says why.\n"
        "A control socket file left by a shicd that was killed is removed at start;\n"
        "a live shicd's is refused (exit 1).\n",
        DEFAULT_GATEWAY, DEFAULT_EVENTS, SHIC_HTTP_FACE_DEFAULT);
}

//  The line of the nth item at path (e.g. "backends/ollama/root_url") in a
//  ZPL file, or 0
static int
s_line_of_nth (const char *file, const char *path, int nth)
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
        if (streq (joined, path) && --nth == 0)
            found = number;
    }
    for (int i = 0; i < 16; i++)
        free (stack [i]);
    fclose (in);
    return found;
}

static int
s_line_of (const char *file, const char *path)
{
    return s_line_of_nth (file, path, 1);
}

//  "shicd: FILE:LINE: KEY: reason" of a configuration a runtime check
//  refused (err.details.field names the key, else default_key); clears err
static void
s_refused (const char *config_file, shic_error_t *err, const char *default_key)
{
    const char *key = shic_val_str (shic_val_get (err->details, "field"));
    fprintf (stderr, "shicd: %s:%d: %s: %s\n", config_file? config_file: "(defaults)",
             config_file && key? s_line_of (config_file, key): 0, key? key: default_key,
             err->message);
    shic_error_clear (err);
}

//  The numeric keys of shicd and runtime, with their ranges
static const struct {
    const char *name;               //  the key
    int64_t min;                    //  smallest value
    int64_t max;                    //  largest value
} s_numbers [] = {
    { "client_timeout_ms",      1,      SHIC_DURATION_MAX_MS },
    { "max_leases",             1,      1000000 },
    { "max_instances",          1,      65536 },
    { "lease_spare",            0,      65536 },
    { "lease_shrink_ms",        0,      SHIC_DURATION_MAX_MS },
    { "retention_ms",           0,      SHIC_DURATION_MAX_MS },
    { "start_failure_hold_ms",  0,      SHIC_DURATION_MAX_MS },
    { "max_frame",              1024,   (int64_t) 1 << 30 },
    { "liveness_failures",      1,      1000 },
    { "restart_backoff_ms",     0,      SHIC_DURATION_MAX_MS },
    { "restart_backoff_max_ms", 0,      SHIC_DURATION_MAX_MS },
    { "max_restarts",           0,      1000000 },
    { "restart_window_ms",      0,      SHIC_DURATION_MAX_MS },
    { "failed_cooldown_ms",     0,      SHIC_DURATION_MAX_MS },
    { "healthy_reset_ms",       0,      SHIC_DURATION_MAX_MS },
    { "verbose",                0,      1 },
    { "inproc_client_timeout",  0,      1 },
    { "max_queue",              0,      1000000 },
    { "preempt_grace_ms",       0,      SHIC_DURATION_MAX_MS },
    { "allow_network_stop",     0,      1 },
    { "max_lease_ttl_ms",       1,      SHIC_DURATION_MAX_MS },
    { "max_leases_per_client",  1,      1000000 },
    { "max_instances_per_client", 1,    65536 },
    { NULL, 0, 0 }
};

//  A reason why endpoint cannot be bound as written, or NULL: a tcp
//  endpoint needs a port of 0 .. 65535 or * (libzmq takes 99999 as another
//  port)
static char *
s_endpoint_problem (const char *endpoint)
{
    if (!endpoint || !*endpoint)
        return strdup ("an endpoint is required");
    if (strncmp (endpoint, "tcp://", 6))
        return strstr (endpoint, "://")? NULL
             : zsys_sprintf ("'%s' is not an endpoint (tcp://HOST:PORT)", endpoint);
    const char *colon = strrchr (endpoint + 6, ':');
    if (!colon)
        return zsys_sprintf ("'%s' has no port", endpoint);
    const char *port = colon + 1;
    if (streq (port, "*"))
        return NULL;
    char *end = NULL;
    errno = 0;
    long number = strtol (port, &end, 10);
    if (!*port || *end || errno || number < 0 || number > 65535)
        return zsys_sprintf ("port '%s' is not 0 .. 65535 or *", port);
    return NULL;
}

//  Finds a name given twice among the children of item, at any depth;
//  its path into path
static bool
s_duplicate (zconfig_t *item, const char *prefix, char *path, size_t size)
{
    for (zconfig_t *child = zconfig_child (item); child; child = zconfig_next (child)) {
        char here [256];
        snprintf (here, sizeof (here), "%s%s%s", prefix, *prefix? "/": "", zconfig_name (child));
        for (zconfig_t *later = zconfig_next (child); later; later = zconfig_next (later))
            if (streq (zconfig_name (later), zconfig_name (child))) {
                snprintf (path, size, "%s", here);
                return true;
            }
        if (s_duplicate (child, here, path, size))
            return true;
    }
    return false;
}

//  A reason why the etcd URLs (comma separated) are not http(s)://HOST:PORT
//  each, or NULL
static char *
s_etcd_problem (const char *urls)
{
    if (!urls || !*urls)
        return strdup ("one or more etcd URLs are required (http://HOST:PORT, comma separated)");
    char *copy = strdup (urls);
    char *problem = NULL;
    int count = 0;
    for (char *url = strtok (copy, ","); url && !problem; url = strtok (NULL, ",")) {
        while (*url == ' ')
            url++;
        size_t length = strlen (url);
        while (length && url [length - 1] == ' ')
            url [--length] = 0;
        const char *host = !strncmp (url, "http://", 7)? url + 7
                         : !strncmp (url, "https://", 8)? url + 8: NULL;
        if (!host || !*host || strchr (host, ' ') || strchr (host, '/'))
            problem = zsys_sprintf ("'%s' is not an etcd URL (http://HOST:PORT)", url);
        count++;
    }
    free (copy);
    if (!problem && count == 0)
        problem = strdup ("one or more etcd URLs are required (http://HOST:PORT, comma separated)");
    return problem;
}

//  The cluster section (guides/cluster.md); the bad key's path or NULL
static const char *
s_check_cluster (zconfig_t *config, char *path, size_t size, char **problem)
{
    zconfig_t *section = zconfig_locate (config, "cluster");
    if (!section)
        return NULL;
    snprintf (path, size, "cluster");
    if (!zconfig_locate (section, "etcd")) {
        *problem = strdup ("etcd is required: its URLs (http://HOST:PORT, comma separated)");
        return path;
    }
    for (zconfig_t *item = zconfig_child (section); item; item = zconfig_next (item)) {
        const char *name = zconfig_name (item);
        const char *value = zconfig_value (item);
        snprintf (path, size, "cluster/%s", name);
        if (streq (name, "etcd"))
            *problem = s_etcd_problem (value);
        else
        if (streq (name, "node")) {
            if (!shic_cluster_node_valid (value))
                *problem = zsys_sprintf ("'%s' is not a node name (1 to 63 letters, digits, "
                                         "'_' and '-')", value? value: "");
        }
        else
        if (streq (name, "advertise")) {
            size_t length = value? strlen (value): 0;
            if (length < 1 || length > 200 || strcspn (value, " /\t@") != length)
                *problem = zsys_sprintf ("'%s' is not a host name or address", value? value: "");
        }
        else
        if (streq (name, "peer")) {
            if (!value || strncmp (value, "tcp://", 6))
                *problem = zsys_sprintf ("'%s' is not a tcp endpoint (tcp://HOST:PORT)",
                                         value? value: "");
            else
                *problem = s_endpoint_problem (value);
        }
        else
        if (streq (name, "ttl_ms") || streq (name, "cooldown_ms")) {
            int64_t max = streq (name, "ttl_ms")? 600000: 3600000;
            char *end = NULL;
            errno = 0;
            long long number = value? strtoll (value, &end, 10): 0;
            if (!value || !*value || *end || errno || number < 1000 || number > max)
                *problem = zsys_sprintf ("'%s' is not a whole number from 1000 to %lld",
                                         value? value: "", (long long) max);
        }
        else
        if (streq (name, "prefix")) {
            size_t length = value? strlen (value): 0;
            if (length < 2 || length > 100 || *value != '/' || value [length - 1] == '/'
            ||  strstr (value, "//") || strcspn (value, " \t\n") != length)
                *problem = zsys_sprintf ("'%s' is not a key prefix (/name/..., no trailing '/')",
                                         value? value: "");
        }
        else
            *problem = strdup ("unknown key");
        if (*problem)
            return path;
    }
    return NULL;
}

//  Checks the keys shicd knows; returns the bad key's path or NULL
static const char *
s_check_config (zconfig_t *config, char **problem)
{
    static char path [256];
    if (s_duplicate (config, "", path, sizeof (path))) {
        *problem = strdup ("given twice (each key once per section)");
        return path;
    }
    const char *sections [] = { "shicd", "runtime", NULL };
    for (int s = 0; sections [s]; s++) {
        zconfig_t *section = zconfig_locate (config, sections [s]);
        for (zconfig_t *item = section? zconfig_child (section): NULL; item; item = zconfig_next (item)) {
            const char *name = zconfig_name (item);
            const char *value = zconfig_value (item);
            snprintf (path, sizeof (path), "%s/%s", sections [s], name);
            //  The HTTP face: IPV4:PORT, or empty for none
            if (streq (name, "http")) {
                if (value && *value && (*problem = shic_http_face_address_problem (value)))
                    return path;
                continue;
            }
            if (streq (name, "http_token")) {
                if (value && strlen (value) < 16) {
                    *problem = strdup ("a token of at least 16 characters (or none)");
                    return path;
                }
                continue;
            }
            if (streq (name, "gateway") || streq (name, "events")) {
                if ((*problem = s_endpoint_problem (value)))
                    return path;
                continue;
            }
            //  The CLI's trusted socket: ipc only (its file's mode guards it)
            if (streq (name, "control")) {
                if (!value || strncmp (value, "ipc://", 6) || !value [6]) {
                    *problem = zsys_sprintf ("'%s' is not ipc://PATH (the trusted control "
                                             "socket is local only)", value? value: "");
                    return path;
                }
                continue;
            }
            //  Memory pools: checked by shic_pools_load (s_check_resources)
            bool known = streq (name, "resources")
                      || streq (name, "curve_server_cert") || streq (name, "curve_clients");
            for (int i = 0; s_numbers [i].name; i++)
                if (streq (name, s_numbers [i].name)) {
                    known = true;
                    char *end = NULL;
                    errno = 0;
                    long long number = value? strtoll (value, &end, 10): 0;
                    if (!value || !*value || *end || errno
                    ||  number < s_numbers [i].min || number > s_numbers [i].max) {
                        *problem = zsys_sprintf ("'%s' is not a whole number from %lld to %lld",
                                                 value? value: "", (long long) s_numbers [i].min,
                                                 (long long) s_numbers [i].max);
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
        if (!streq (name, "shicd") && !streq (name, "runtime") && !streq (name, "backends")
        &&  !streq (name, "cluster")) {
            snprintf (path, sizeof (path), "%s", name);
            *problem = strdup ("unknown section");
            return path;
        }
    }
    return s_check_cluster (config, path, sizeof (path), problem);
}

//  The memory pools of shicd/resources (or runtime/resources), read as the
//  runtime will; the bad key's path with *problem, or NULL
static const char *
s_check_resources (zconfig_t *config, char **problem)
{
    static char path [256];
    if (!zconfig_locate (config, "runtime/resources") && !zconfig_locate (config, "shicd/resources"))
        return NULL;
    shic_error_t err = { 0 };
    const char *bad = NULL;
    if (shic_runtime_check_resources (config, &err)) {
        const char *field = shic_val_str (shic_val_get (err.details, "field"));
        snprintf (path, sizeof (path), "%s", field? field: "shicd/resources");
        *problem = strdup (err.message? err.message: "invalid");
        bad = path;
    }
    shic_error_clear (&err);
    return bad;
}

//  The model files of the llama_cpp backends (by name or type) must be
//  there: the bad model's path with *problem, or NULL
static const char *
s_check_models (zconfig_t *config, char **problem)
{
    static char path [512];
    zconfig_t *backends = zconfig_locate (config, "backends");
    for (zconfig_t *section = backends? zconfig_child (backends): NULL; section;
                    section = zconfig_next (section)) {
        const char *type = zconfig_get (section, "type", NULL);
        if (zconfig_get (section, "plugin", NULL)
        ||  !streq (type && *type? type: zconfig_name (section), "llama_cpp"))
            continue;
        zconfig_t *models = zconfig_locate (section, "models");
        for (zconfig_t *model = models? zconfig_child (models): NULL; model;
                        model = zconfig_next (model)) {
            const char *file = zconfig_value (model);
            snprintf (path, sizeof (path), "backends/%s/models/%s", zconfig_name (section),
                      zconfig_name (model));
            zconfig_t *child = zconfig_locate (model, "path");
            if (child) {
                file = zconfig_value (child);
                strncat (path, "/path", sizeof (path) - strlen (path) - 1);
            }
            if (!file || !*file)
                continue;           //  the backend says "has no path"
            struct stat info;
            if (stat (file, &info) != 0 || access (file, R_OK) != 0) {
                *problem = zsys_sprintf ("model file %s: %s", file, strerror (errno));
                return path;
            }
            if (!S_ISREG (info.st_mode)) {
                *problem = zsys_sprintf ("model file %s is not a file", file);
                return path;
            }
        }
    }
    return NULL;
}

//  Loads a ZPL file; NULL with *line and *problem (fresh) set when it is
//  not ZPL. czmq's parser reports the line of a syntax error only on
//  stdout (zclock_log), so stdout is caught while it reads.
static zconfig_t *
s_config_load (const char *file, int *line, char **problem)
{
    fflush (stdout);
    FILE *caught = tmpfile ();
    int saved = caught? dup (STDOUT_FILENO): -1;
    if (saved >= 0)
        dup2 (fileno (caught), STDOUT_FILENO);
    //  zconfig_load leaks its file handle when the text is not ZPL (a
    //  refused reload each time): the file is read here, then parsed
    zchunk_t *chunk = zchunk_slurp (file, 0);
    zconfig_t *config = chunk? zconfig_chunk_load (chunk): NULL;
    zchunk_destroy (&chunk);
    fflush (stdout);
    if (saved >= 0) {
        dup2 (saved, STDOUT_FILENO);
        close (saved);
    }
    *line = 0;
    *problem = NULL;
    char text [1024] = "";
    if (caught) {
        rewind (caught);
        size_t size = fread (text, 1, sizeof (text) - 1, caught);
        text [size] = 0;
        fclose (caught);
    }
    //  "... E (zconfig): (LINE) REASON"
    const char *where = config? NULL: strstr (text, "(zconfig): (");
    if (where) {
        where += strlen ("(zconfig): (");
        *line = atoi (where);
        const char *reason = strstr (where, ") ");
        if (reason)
            *problem = strndup (reason + 2, strcspn (reason + 2, "\n"));
    }
    else
    if (*text)
        fputs (text, stdout);       //  not ours to keep
    return config;
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

//  Loads and checks file: the configuration, or NULL with *why (fresh,
//  "FILE:LINE: key: problem")
static zconfig_t *
s_config_read (const char *file, char **why)
{
    int line = 0;
    char *problem = NULL;
    zconfig_t *config = s_config_load (file, &line, &problem);
    if (!config) {
        *why = zsys_sprintf ("%s:%d: ZPL: %s (indent by 4 spaces; 'key = value')", file, line,
                             problem? problem: "not valid ZPL");
        free (problem);
        return NULL;
    }
    const char *bad = s_check_config (config, &problem);
    bool twice = bad && strstr (problem, "given twice");
    if (!bad)
        bad = s_check_resources (config, &problem);
    if (!bad)
        bad = s_check_models (config, &problem);
    if (bad) {
        *why = zsys_sprintf ("%s:%d: %s: %s", file, s_line_of_nth (file, bad, twice? 2: 1), bad,
                             problem);
        free (problem);
        zconfig_destroy (&config);
    }
    return config;
}

//  A reload, by SIGHUP or by the reload op: the configuration file again;
//  a bad one changes nothing. The outcome, as the op answers it (fresh):
//  {reloaded, file, added, removed, changed, unchanged, restart_needed}, or
//  {reloaded: false, file, problem}
static shic_val_t *
s_reload (shic_runtime_t *runtime, const char *file, zconfig_t **config_p, zlistx_t *kept,
          const char *cause)
{
    shic_val_t *outcome = shic_val_new_map ();
    shic_val_set_bool (outcome, "reloaded", false);
    if (!file) {
        zsys_warning ("shicd: %s: no --config file to reload", cause);
        shic_val_set_nil (outcome, "file");
        shic_val_set_str (outcome, "problem", "shicd runs without --config: there is no file "
                          "to reload");
        return outcome;
    }
    shic_val_set_str (outcome, "file", file);
    zsys_info ("shicd: reload (%s) of %s", cause, file);
    char *why = NULL;
    shic_val_t *summary = shic_val_new_map ();
    zconfig_t *next = s_config_read (file, &why);
    if (next && shicd_reload (runtime, config_p, &next, kept, summary, &why) == 0) {
        shic_val_set_bool (outcome, "reloaded", true);
        for (size_t i = 0; i < shic_val_size (summary); i++)
            shic_val_set_dup (outcome, shic_val_key_at (summary, i), shic_val_at (summary, i));
    }
    else {
        zsys_error ("shicd: reload refused, keeping the configuration running: %s", why);
        shic_val_set_str (outcome, "problem", why? why: "refused");
    }
    shic_val_destroy (&summary);
    zconfig_destroy (&next);
    free (why);
    return outcome;
}

//  The calls the host answers (the reload op), on this thread
static void
s_host_calls (shic_runtime_t *runtime, const char *file, zconfig_t **config_p, zlistx_t *kept)
{
    int64_t ticket = 0;
    char *op = NULL;
    shic_val_t *args = NULL;
    while (shic_runtime_host_recv (runtime, &ticket, &op, &args) == 0) {
        shic_error_t err = { 0 };
        shic_val_t *result = NULL;
        if (streq (op, "reload"))
            result = s_reload (runtime, file, config_p, kept, "reload op");
        else
            shic_error_set (&err, SHIC_E_FORBIDDEN, NULL, "shicd does not answer '%s'", op);
        shic_runtime_host_answer (runtime, ticket, &result, &err);
        shic_error_clear (&err);
        shic_val_destroy (&args);
        zstr_free (&op);
    }
}

int
main (int argc, char *argv [])
{
    const char *config_file = NULL;
    const char *gateway = NULL, *events = NULL;
    bool verbose = false, check = false;
    static struct option options [] = {
        { "check", no_argument, 0, 'k' },
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
        else if (option == 'k')
            check = true;
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
    const char *endpoints [][2] = { { "--gateway", gateway }, { "--events", events } };
    for (int i = 0; i < 2; i++) {
        char *problem = endpoints [i][1]? s_endpoint_problem (endpoints [i][1]): NULL;
        if (problem) {
            fprintf (stderr, "shicd: %s: %s\n", endpoints [i][0], problem);
            free (problem);
            return 2;
        }
    }
    zconfig_t *config = NULL;
    if (config_file) {
        struct stat info;
        if (access (config_file, R_OK) != 0 || stat (config_file, &info) != 0) {
            fprintf (stderr, "shicd: %s:0: --config: cannot read: %s\n", config_file, strerror (errno));
            return 2;
        }
        if (!S_ISREG (info.st_mode)) {
            fprintf (stderr, "shicd: %s:0: --config: not a file%s\n", config_file,
                     S_ISDIR (info.st_mode)? " (a directory)": "");
            return 2;
        }
        char *why = NULL;
        config = s_config_read (config_file, &why);
        if (!config) {
            fprintf (stderr, "shicd: %s\n", why);
            free (why);
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
    //  The cluster's node record names the gateway as bound (the value is
    //  copied first: gateway may point into the configuration)
    char *bound = strdup (gateway);
    zconfig_put (config, "shicd/gateway", bound);
    free (bound);
    gateway = zconfig_get (config, "shicd/gateway", DEFAULT_GATEWAY);

    //  Signals are taken by this thread alone, from a signalfd: blocked
    //  here, before any thread starts, so that every thread inherits it
    sigset_t signals;
    sigemptyset (&signals);
    sigaddset (&signals, SIGINT);
    sigaddset (&signals, SIGTERM);
    sigaddset (&signals, SIGHUP);
    pthread_sigmask (SIG_BLOCK, &signals, NULL);
    //  Raises the descriptor limit to the hard one; limits that cannot fit
    //  it would end in an abort under load: refused now
    shic_error_t limits = { 0 };
    if (shic_runtime_check_limits (config, &limits) != 0) {
        s_refused (config_file, &limits, "max_leases");
        zconfig_destroy (&config);
        return 2;
    }
    zsys_handler_set (NULL);
    if (check) {
        //  A check binds nothing of the daemon's: the control socket may
        //  be a running shicd's
        zconfig_put (config, "shicd/control", "");
        zconfig_put (config, "runtime/control", "");
    }
    //  The control socket: a stale file (a shicd that was killed) goes; a
    //  live shicd's is refused, not taken
    shic_error_t control = { 0 };
    if (shic_runtime_check_control (config, &control) != 0) {
        s_refused (config_file, &control, "shicd/control");
        zconfig_destroy (&config);
        return 1;
    }

    int rc = 0;
    int signals_fd = -1;
    //  A check does not join the cluster (nor bind its peer door): the
    //  section, checked already, is renamed out of the runtime's sight
    zconfig_t *cluster = check? zconfig_locate (config, "cluster"): NULL;
    if (cluster)
        zconfig_set_name (cluster, "cluster (checked)");
    shic_runtime_t *runtime = shic_runtime_new (config);
    shic_backends_t *backends = NULL;
    shic_http_face_t *http_face = NULL;
    zactor_t *logger = NULL;
    //  The tables of the backends registered (at start, then by reloads):
    //  what a reload unregisters is freed once its instances have ended
    zlistx_t *kept = NULL;
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
    if (check) {
        rc = shicd_check (config, config_file)? 2: 0;
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
    //  The HTTP face after the runtime, as one more client of it. An address
    //  written in the configuration must be served; the default one is
    //  served when it is free.
    const char *http = zconfig_get (config, "shicd/http", NULL);
    bool http_default = http == NULL;
    if (http_default)
        http = SHIC_HTTP_FACE_DEFAULT;
    if (*http) {
        http_face = shic_http_face_new (http, shic_runtime_endpoint (runtime),
                                        shic_runtime_events_endpoint (runtime),
                                        zconfig_get (config, "shicd/http_token", NULL));
        if (!http_face && !http_default) {
            fprintf (stderr, "shicd: cannot serve HTTP on %s\n", http);
            rc = 1;
            goto done;
        }
        if (!http_face)
            zsys_warning ("shicd: the default HTTP address %s is taken: no HTTP face", http);
    }
    char http_port [16] = "off";
    if (http_face)
        snprintf (http_port, sizeof (http_port), "%d", shic_http_face_port (http_face));
    //  Signals come as reads of a descriptor, polled with the socket on
    //  which the runtime hands this thread the reload op
    signals_fd = signalfd (-1, &signals, SFD_CLOEXEC);
    const char *host_ops [] = { "reload", NULL };
    zsock_t *host = signals_fd == -1? NULL: shic_runtime_host_calls (runtime, host_ops);
    if (!host) {
        fprintf (stderr, "shicd: cannot wait for signals and the reload op: %s\n",
                 signals_fd == -1? strerror (errno): "the runtime did not take them");
        rc = 1;
        goto done;
    }
    //  One line per lifecycle step, from the events (apps/shicd_log.c)
    logger = zactor_new (shicd_log_actor, (void *) shic_runtime_events_endpoint (runtime));
    zsys_info ("shicd %s: gateway %s, events %s, http %s, %zu backend(s)", SHIC_VERSION, gateway,
               events, http_port, shic_backends_size (backends));
    printf ("shicd ready: gateway %s events %s http %s\n", gateway, events, http_port);
    fflush (stdout);
    //  This thread waits for the signals and for the reload op together:
    //  a reload calls into the runtime (the supervisor and the gateway
    //  answer it), so it runs here, never on the gateway's thread
    kept = shicd_reload_kept_new (&backends);
    size_t waiting = 0;             //  unregistered backends whose instances still end
    int signal_number = 0;
    while (!signal_number) {
        zmq_pollitem_t items [2] = {
            { NULL, signals_fd, ZMQ_POLLIN, 0 },
            { zsock_resolve (host), 0, ZMQ_POLLIN, 0 }
        };
        if (zmq_poll (items, 2, waiting? 1000: -1) == -1) {
            if (errno == EINTR)
                continue;
            zsys_error ("shicd: poll: %s", zmq_strerror (zmq_errno ()));
            rc = 1;
            break;
        }
        if (items [0].revents & ZMQ_POLLIN) {
            struct signalfd_siginfo info;
            if (read (signals_fd, &info, sizeof (info)) == (ssize_t) sizeof (info)) {
                if (info.ssi_signo == SIGHUP) {
                    shic_val_t *outcome = s_reload (runtime, config_file, &config, kept, "SIGHUP");
                    shic_val_destroy (&outcome);
                }
                else
                    signal_number = (int) info.ssi_signo;
            }
        }
        if (items [1].revents & ZMQ_POLLIN)
            s_host_calls (runtime, config_file, &config, kept);
        //  After a reload, and every second while some are still ending
        waiting = shicd_reload_sweep (runtime, kept);
    }
    if (signal_number)
        zsys_info ("shicd: %s, stopping", signal_number == SIGINT? "SIGINT": "SIGTERM");
done:
    if (signals_fd != -1)
        close (signals_fd);
    shic_http_face_destroy (&http_face);
    shic_runtime_destroy (&runtime);
    zactor_destroy (&logger);       //  after the runtime: the stops at shutdown are logged
    shic_backends_destroy (&backends);
    zconfig_destroy (&config);
    shicd_reload_forget (&kept);
    if (rc == 0)
        zsys_info ("shicd: stopped");
    return rc;
}
