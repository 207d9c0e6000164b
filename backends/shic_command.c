/*  =========================================================================
    shic_command - a spawned backend for any OpenAI-compatible server
    command written in the configuration

    The kernel starts, watches and restarts the process from the plan's
    transport exactly as for llama_cpp; this file only turns the
    configuration into plans and answers the probes. See shic_command.h
    for the configuration keys.
    =========================================================================
*/

#include "shic_command.h"
#include "shic_backend_options.h"
#include "shic_http.h"
#include <signal.h>

//  Probe timeout: probes run in the instance actor and must stay short
#define S_PROBE_TIMEOUT_MS  500

//  The backend state, read only after init
typedef struct {
    char *name;                     //  the backend id: the section's name
    char **argv;                    //  the argv template, NULL-terminated
    size_t argc;                    //  items in argv
    char *host;                     //  ${HOST}, as configured
    char *url_host;                 //  host as written in URLs (0.0.0.0 -> 127.0.0.1)
    int port;                       //  fixed port, or 0 = learned from the log
    char *health_path;              //  readiness and health path
    char *models_path;              //  model list path, for the endpoint metadata
    char *base_path;                //  base_url suffix
    char *ready_pattern;            //  log text that triggers a probe, or NULL
    char *port_pattern;             //  log text the port number follows
    int stop_signal;                //  the signal a stop sends first
    int64_t stop_timeout_ms;        //  configured stop timeout, or -1
    bool uses_model;                //  the template holds ${MODEL}
    shic_val_t *models;             //  map model name -> ${MODEL} value
    shic_val_t *env;                //  map name -> value for the process
    shic_val_t *capabilities;       //  manifest capabilities
    shic_val_t *resources;          //  placement: the plan's resources, or NULL
} s_state_t;


static void
s_state_destroy (s_state_t **self_p)
{
    s_state_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->argc; i++)
        free (self->argv [i]);
    free (self->argv);
    free (self->name);
    free (self->host);
    free (self->url_host);
    free (self->health_path);
    free (self->models_path);
    free (self->base_path);
    free (self->ready_pattern);
    free (self->port_pattern);
    shic_val_destroy (&self->models);
    shic_val_destroy (&self->env);
    shic_val_destroy (&self->capabilities);
    shic_val_destroy (&self->resources);
    free (self);
    *self_p = NULL;
}

//  A non-negative integer of at most max, or -1
static int64_t
s_number (const char *text, int64_t max)
{
    if (!text || !*text)
        return -1;
    char *end = NULL;
    errno = 0;
    long long value = strtoll (text, &end, 10);
    if (errno || !end || *end || value < 0 || value > max)
        return -1;
    return value;
}

//  A signal name (TERM, SIGTERM, INT, ...) or number; -1 when unknown
static int
s_signal_parse (const char *text)
{
    static const struct { const char *name; int signal; } names [] = {
        { "TERM", SIGTERM }, { "INT", SIGINT }, { "QUIT", SIGQUIT }, { "HUP", SIGHUP },
        { "KILL", SIGKILL }, { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 }, { NULL, 0 }
    };
    if (strncmp (text, "SIG", 3) == 0)
        text += 3;
    for (int i = 0; names [i].name; i++)
        if (streq (text, names [i].name))
            return names [i].signal;
    int64_t number = s_number (text, 64);
    return number > 0? (int) number: -1;
}

//  Replaces every occurrence of each name by its value; fresh string
static char *
s_substitute (const char *item, const char *names [], const char *values [])
{
    size_t size = strlen (item) + 1;
    char *result = (char *) zmalloc (size);
    size_t used = 0;
    const char *at = item;
    while (*at) {
        int match = -1;
        for (int i = 0; names [i]; i++)
            if (values [i] && strncmp (at, names [i], strlen (names [i])) == 0) {
                match = i;
                break;
            }
        const char *piece = match >= 0? values [match]: at;
        size_t piece_size = match >= 0? strlen (values [match]): 1;
        if (used + piece_size + 1 > size) {
            size = (used + piece_size + 1) * 2;
            result = (char *) realloc (result, size);
            assert (result);
        }
        memcpy (result + used, piece, piece_size);
        used += piece_size;
        at += match >= 0? strlen (names [match]): 1;
    }
    result [used] = 0;
    return result;
}

static void
s_argv_add (s_state_t *self, const char *item)
{
    self->argv = (char **) realloc (self->argv, (self->argc + 2) * sizeof (char *));
    assert (self->argv);
    self->argv [self->argc++] = strdup (item);
    self->argv [self->argc] = NULL;
}

typedef struct {
    long index;
    const char *value;
} s_numbered_t;

static int
s_numbered_compare (const void *a, const void *b)
{
    long ia = ((const s_numbered_t *) a)->index;
    long ib = ((const s_numbered_t *) b)->index;
    return ia < ib? -1: ia > ib? 1: 0;
}

//  Reads command (split on spaces) or the argv children; 0 / -1
static int
s_read_argv (s_state_t *self, zconfig_t *config, shic_error_t *err)
{
    const char *command = zconfig_get (config, "command", NULL);
    zconfig_t *argv = zconfig_locate (config, "argv");
    if (command && *command && argv)
        return shic_backend_config_error (err, self->name, "command", "command and argv exclude each other");
    if (command && *command) {
        char *copy = strdup (command);
        char *saved = NULL;
        for (char *item = strtok_r (copy, " \t", &saved); item;
                   item = strtok_r (NULL, " \t", &saved))
            s_argv_add (self, item);
        free (copy);
    }
    else
    if (argv) {
        size_t count = 0;
        for (zconfig_t *child = zconfig_child (argv); child; child = zconfig_next (child))
            count++;
        s_numbered_t *items = (s_numbered_t *) zmalloc ((count + 1) * sizeof (s_numbered_t));
        count = 0;
        for (zconfig_t *child = zconfig_child (argv); child; child = zconfig_next (child)) {
            int64_t index = s_number (zconfig_name (child), INT32_MAX);
            if (index < 0) {
                char *reason = zsys_sprintf ("argv/%s is not a number", zconfig_name (child));
                shic_backend_config_error (err, self->name, "argv", reason);
                zstr_free (&reason);
                free (items);
                return -1;
            }
            items [count].index = (long) index;
            items [count].value = zconfig_value (child)? zconfig_value (child): "";
            count++;
        }
        qsort (items, count, sizeof (s_numbered_t), s_numbered_compare);
        for (size_t i = 0; i < count; i++)
            s_argv_add (self, items [i].value);
        free (items);
    }
    if (self->argc == 0 || !*self->argv [0])
        return shic_backend_config_error (err, self->name, "command", "command or argv is required");
    for (size_t i = 0; i < self->argc; i++) {
        if (strstr (self->argv [i], "${MODEL}"))
            self->uses_model = true;
        if (!self->port && strstr (self->argv [i], "${PORT}") && !streq (self->argv [i], "${PORT}"))
            return shic_backend_config_error (err, self->name, "command",
                                   "${PORT} must be a whole argument unless port is set");
    }
    return 0;
}

//  Reads a section of name = value children into a fresh map
static shic_val_t *
s_read_map (zconfig_t *config, const char *path)
{
    shic_val_t *map = shic_val_new_map ();
    zconfig_t *section = zconfig_locate (config, path);
    for (zconfig_t *child = section? zconfig_child (section): NULL; child; child = zconfig_next (child))
        shic_val_set_str (map, zconfig_name (child), zconfig_value (child)? zconfig_value (child): "");
    return map;
}

//  Host as written in a URL: wildcard binds are reached on loopback, IPv6
//  literals are bracketed
static char *
s_url_host (const char *host)
{
    if (!*host || streq (host, "0.0.0.0"))
        return strdup ("127.0.0.1");
    if (streq (host, "::") || streq (host, "[::]"))
        return strdup ("[::1]");
    if (strchr (host, ':') && *host != '[')
        return zsys_sprintf ("[%s]", host);
    return strdup (host);
}

static int
s_init (zconfig_t *config, void **state_p, shic_error_t *err)
{
    s_state_t *self = (s_state_t *) zmalloc (sizeof (s_state_t));
    self->name = strdup (config? zconfig_name (config): shic_command_ops.name);
    if (!config) {
        shic_backend_config_error (err, self->name, "command", "command or argv is required");
        goto error;
    }
    const char *port = zconfig_get (config, "port", NULL);
    if (port && *port) {
        int64_t number = s_number (port, 65535);
        if (number <= 0) {
            shic_backend_config_error (err, self->name, "port", "port is not a port number");
            goto error;
        }
        self->port = (int) number;
    }
    if (s_read_argv (self, config, err))
        goto error;
    self->host = strdup (zconfig_get (config, "host", "127.0.0.1"));
    self->url_host = s_url_host (self->host);
    self->health_path = strdup (zconfig_get (config, "health_path", "/health"));
    self->models_path = strdup (zconfig_get (config, "models_path", "/v1/models"));
    self->base_path = strdup (zconfig_get (config, "base_path", "/v1"));
    if (!*self->health_path) {
        free (self->health_path);
        self->health_path = strdup (self->models_path);
    }
    if (*self->health_path != '/' || (*self->models_path && *self->models_path != '/')
    ||  (*self->base_path && *self->base_path != '/')) {
        shic_backend_config_error (err, self->name, "health_path", "paths start with '/'");
        goto error;
    }
    const char *ready = zconfig_get (config, "ready_pattern", NULL);
    if (ready && *ready)
        self->ready_pattern = strdup (ready);
    self->port_pattern = strdup (zconfig_get (config, "port_pattern", "port: "));
    if (!*self->port_pattern) {
        shic_backend_config_error (err, self->name, "port_pattern", "port_pattern is empty");
        goto error;
    }
    self->stop_signal = s_signal_parse (zconfig_get (config, "stop_signal", "TERM"));
    if (self->stop_signal <= 0) {
        shic_backend_config_error (err, self->name, "stop_signal", "stop_signal is not a signal");
        goto error;
    }
    self->stop_timeout_ms = -1;
    const char *stop_timeout = zconfig_get (config, "stop_timeout_ms", NULL);
    if (stop_timeout && *stop_timeout) {
        self->stop_timeout_ms = s_number (stop_timeout, INT32_MAX);
        if (self->stop_timeout_ms < 0) {
            shic_backend_config_error (err, self->name, "stop_timeout_ms", "stop_timeout_ms is not a number");
            goto error;
        }
    }
    self->models = s_read_map (config, "models");
    self->env = s_read_map (config, "env");
    self->capabilities = shic_val_new_map ();
    if (shic_backend_config_capabilities (config, self->name, self->capabilities, err))
        goto error;
    if (shic_backend_config_timings (config, self->name, err))
        goto error;
    if (shic_backend_config_resources (config, self->name, &self->resources, err))
        goto error;
    *state_p = self;
    return 0;
error:
    s_state_destroy (&self);
    return -1;
}

static void
s_destroy (void **state_p)
{
    s_state_destroy ((s_state_t **) state_p);
}

static shic_val_t *
s_manifest (void *state)
{
    s_state_t *self = (s_state_t *) state;
    shic_val_t *manifest = shic_backend_manifest_new (self->name, SHIC_STARTUP_SPAWNED,
                                                      SHIC_MODE_JIDO_MANAGED);
    shic_val_set_dup (manifest, "capabilities", self->capabilities);
    shic_val_t *metadata = shic_val_new_map ();
    shic_val_set_str (metadata, "kind", "command");
    shic_val_set_str (metadata, "executable", self->argv [0]);
    shic_val_t *models = shic_val_new_array ();
    for (size_t i = 0; i < shic_val_size (self->models); i++) {
        shic_val_t *name = shic_val_new_str (shic_val_key_at (self->models, i));
        shic_val_push (models, &name);
    }
    shic_val_set (metadata, "models", &models);
    shic_val_set (manifest, "metadata", &metadata);
    return manifest;
}

static shic_val_t *
s_startup_plan (void *state, const shic_val_t *spec, bool trusted, shic_error_t *err)
{
    s_state_t *self = (s_state_t *) state;
    const shic_val_t *options = shic_val_get (spec, "backend_options");
    //  Clients choose a model and nothing else; the host may set timings
    const char *model = NULL;
    if (!shic_backend_options_check (options, self->name, trusted, &model, err))
        return NULL;
    //  The model's ${MODEL} value
    const char *value = NULL;
    if (model && shic_val_get (self->models, model))
        value = shic_val_str (shic_val_get (self->models, model));
    else
    if (!model && shic_val_size (self->models) == 1) {
        model = shic_val_key_at (self->models, 0);
        value = shic_val_str (shic_val_at (self->models, 0));
    }
    else
    if (model && trusted && self->uses_model)
        value = model;
    else
    if (model && !self->uses_model && shic_val_size (self->models) == 0)
        value = model;
    else
    if (!model && !self->uses_model)
        model = self->name;
    else {
        shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, "model_identity",
                              model? "%s: model '%s' is not configured": "%s: name a model%s",
                              self->name, model? model: "");
        return NULL;
    }
    //  The argv: ${HOST} and ${MODEL} everywhere, ${PORT} when it is fixed
    char port [16];
    snprintf (port, sizeof (port), "%d", self->port);
    const char *names [] = { "${HOST}", "${MODEL}", "${PORT}", NULL };
    const char *values [] = { self->host, value? value: "", self->port? port: NULL };
    shic_val_t *argv = shic_val_new_array ();
    for (size_t i = 0; i < self->argc; i++) {
        char *item = s_substitute (self->argv [i], names, values);
        shic_val_t *item_val = shic_val_new_str (item);
        free (item);
        shic_val_push (argv, &item_val);
    }
    //  Every launch-relevant field, and nothing else
    shic_val_t *identity = shic_val_new_map ();
    shic_val_set_dup (identity, "argv", argv);
    shic_val_set_dup (identity, "env", self->env);
    shic_val_set_str (identity, "host", self->host);
    shic_val_set_str (identity, "health_path", self->health_path);
    shic_val_set_str (identity, "base_path", self->base_path);
    char *key = shic_instance_key (self->name, model, identity);
    shic_val_destroy (&identity);

    shic_val_t *plan = shic_val_new_map ();
    shic_val_set_str (plan, "instance_key", key);
    free (key);
    shic_val_set_str (plan, "startup_kind", SHIC_STARTUP_SPAWNED);
    shic_val_set_str (plan, "management_mode", SHIC_MODE_JIDO_MANAGED);
    shic_val_t *transport = shic_val_new_map ();
    shic_val_set (transport, "argv", &argv);
    shic_val_set_dup (transport, "env", self->env);
    if (self->ready_pattern)
        shic_val_set_str (transport, "ready_pattern", self->ready_pattern);
    shic_val_set_int (transport, "stop_signal", self->stop_signal);
    shic_val_set (plan, "transport", &transport);
    if (self->stop_timeout_ms >= 0)
        shic_val_set_int (plan, "stop_timeout_ms", self->stop_timeout_ms);
    shic_backend_options_timings (options, plan);
    shic_val_t *template_ = shic_val_new_map ();
    shic_val_set_str (template_, "model_identity", model);
    shic_val_set_str (template_, "source_runtime", self->name);
    shic_val_set (plan, "endpoint_template", &template_);
    shic_val_t *metadata = shic_val_new_map ();
    shic_val_set_str (metadata, "model", model);
    shic_val_set_int (metadata, "stop_signal", self->stop_signal);
    shic_val_set (plan, "metadata", &metadata);
    if (self->resources)
        shic_val_set_dup (plan, "resources", self->resources);
    return plan;
}

//  The service's port: fixed, or learned from the log
static int
s_port (shic_instance_ctx_t *ctx)
{
    s_state_t *self = (s_state_t *) ctx->backend;
    if (self->port)
        ctx->port = self->port;
    return ctx->port;
}

//  The number right after text in line, if it is a port; else 0
static int
s_port_after (const char *line, const char *text)
{
    const char *at = strstr (line, text);
    if (!at)
        return 0;
    at += strlen (text);
    long value = 0;
    int digits = 0;
    while (isdigit ((unsigned char) at [digits]) && digits < 6)
        value = value * 10 + (at [digits++] - '0');
    return digits > 0 && !isdigit ((unsigned char) at [digits]) && value > 0 && value <= 65535?
        (int) value: 0;
}

static int
s_output_line (shic_instance_ctx_t *ctx, int stream, const char *line)
{
    (void) stream;
    s_state_t *self = (s_state_t *) ctx->backend;
    if (s_port (ctx))
        return 0;
    int port = s_port_after (line, self->port_pattern);
    //  "... listening on http://host:PORT": the port after the host
    if (!port && strstr (line, "listening on ")) {
        const char *url = strstr (line, "://");
        if (url) {
            url += 3;
            const char *end = url + strcspn (url, "/ \t");
            const char *colon = url;
            for (const char *p = url; p < end; p++)
                if (*p == ':')
                    colon = p;
            if (colon > url)
                port = s_port_after (colon, ":");
        }
    }
    if (port) {
        ctx->port = port;
        if (ctx->verbose)
            zsys_debug ("%s: %s listens on port %d", self->name, ctx->instance_id, port);
    }
    return 0;
}

//  GET <health_path>; returns the HTTP status, 0 when unreachable
static long
s_get_health (shic_instance_ctx_t *ctx, char *url, size_t url_size)
{
    s_state_t *self = (s_state_t *) ctx->backend;
    snprintf (url, url_size, "http://%s:%d%s", self->url_host, ctx->port, self->health_path);
    shic_http_result_t result = { 0 };
    shic_http_request ("GET", url, NULL, NULL, S_PROBE_TIMEOUT_MS, &result);
    long status = result.status;
    shic_http_result_reset (&result);
    return status;
}

static int
s_probe_readiness (shic_instance_ctx_t *ctx, shic_val_t **fields_p, shic_error_t *err)
{
    (void) err;
    s_state_t *self = (s_state_t *) ctx->backend;
    *fields_p = shic_val_new_map ();
    if (s_port (ctx) <= 0) {
        shic_val_set_str (*fields_p, "seen", "port not known yet");
        return SHIC_PROBE_PENDING;
    }
    char url [512];
    long status = s_get_health (ctx, url, sizeof (url));
    if (status != 200) {
        shic_val_set_int (*fields_p, "http_status", status);
        shic_val_set_str (*fields_p, "url", url);
        return SHIC_PROBE_PENDING;
    }
    shic_val_t *base_url = shic_val_new_printf ("http://%s:%d%s", self->url_host, ctx->port,
                                                self->base_path);
    shic_val_set (*fields_p, "base_url", &base_url);
    shic_val_set_str (*fields_p, "health_ref", url);
    shic_val_t *root = shic_val_new_printf ("http://%s:%d", self->url_host, ctx->port);
    shic_val_set (*fields_p, "source_runtime_ref", &root);
    shic_val_t *metadata = shic_val_new_map ();
    shic_val_t *models = shic_val_new_printf ("http://%s:%d%s", self->url_host, ctx->port,
                                              self->models_path);
    shic_val_set (metadata, "models_url", &models);
    shic_val_set (*fields_p, "metadata", &metadata);
    return SHIC_PROBE_READY;
}

static int
s_health_check (shic_instance_ctx_t *ctx, shic_val_t **details_p)
{
    char url [512];
    long status = s_port (ctx) > 0? s_get_health (ctx, url, sizeof (url)): 0;
    *details_p = shic_val_new_map ();
    shic_val_set_int (*details_p, "http_status", status);
    return status == 200? SHIC_HEALTH_IS_HEALTHY:
           status == 503? SHIC_HEALTH_IS_DEGRADED: SHIC_HEALTH_IS_UNAVAILABLE;
}

//  The configured models and what ${MODEL} becomes for each
static shic_val_t *
s_models (void *state)
{
    s_state_t *self = (s_state_t *) state;
    shic_val_t *list = shic_val_new_array ();
    for (size_t i = 0; i < shic_val_size (self->models); i++) {
        shic_val_t *model = shic_val_new_map ();
        shic_val_set_str (model, "name", shic_val_key_at (self->models, i));
        shic_val_set_dup (model, "source", shic_val_at (self->models, i));
        shic_val_push (list, &model);
    }
    return list;
}

const shic_backend_ops_t shic_command_ops = {
    .name = "command",
    .init = s_init,
    .destroy = s_destroy,
    .manifest = s_manifest,
    .startup_plan = s_startup_plan,
    .probe_readiness = s_probe_readiness,
    .health_check = s_health_check,
    .on_output_line = s_output_line,
    .models = s_models,
};
