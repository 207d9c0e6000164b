/*  =========================================================================
    shic_ollama - the Ollama attach backend ("ollama")

    attach_existing_service / externally_managed, no transport. Every HTTP
    call goes through shic_http with a bounded timeout and carries the
    configured headers (a proxy in front of Ollama may require them).
    Stopping an instance never touches the daemon.

    Health reads a snapshot shared by every instance of the backend
    attached to the same daemon (same root, same headers): one GET
    /api/version, /api/tags and /api/ps per round, kept by the backend's
    shic_ollama_health table (see there). POST /api/show is asked only
    when /api/tags does not list the model (or does not answer).
    =========================================================================
*/

#include "shic_ollama.h"
#include "shic_ollama_names.h"
#include "shic_sha256.h"
#include "shic_ollama_health.h"
#include "shic_backend_options.h"
#include <ctype.h>
#include <errno.h>

//  Timeouts of single requests (milliseconds)
#define S_PROBE_TIMEOUT     500     //  version, show
#define S_SHOW_TIMEOUT      1000    //  show while starting (can be slower)

//  The backend's state: its configuration, read once in init, and the
//  daemons its instances share
typedef struct {
    char *root;                     //  normalized daemon root
    char *api_key;                  //  trimmed key, or NULL
    shic_val_t *headers;            //  configured headers, lower-case names
    bool preload;                   //  load the model before ready
    bool pull_missing;              //  pull a missing model
    char *keep_alive;               //  keep_alive of the preload, or NULL
    int64_t pull_timeout_ms;        //  one pull round
    int64_t preload_timeout_ms;     //  one preload request
    shic_ollama_health_t *health;   //  the daemons' shared snapshots
} s_backend_t;

//  What one instance keeps between probes (ctx->state)
typedef struct {
    char *root;                     //  daemon root, from the plan
    char *model;                    //  model as the client named it
    char *model_tagged;             //  the same with its tag
    char *model_key;                //  the same in lower case
    shic_ollama_health_t *health;   //  the backend's table, once health ran
    shic_ollama_daemon_t *daemon;   //  our daemon in it, once health ran
    int last_health;                //  the last health check's result, -1 when
                                    //  none since the last readiness probe
    char **headers;                 //  "Name: value" list, NULL-terminated
    bool preload;                   //  from the plan
    bool pull_missing;              //  from the plan
    shic_val_t *keep_alive;         //  keep_alive value of the preload
    int64_t pull_timeout_ms;        //  from the plan
    int64_t preload_timeout_ms;     //  from the plan
    bool preloaded;                 //  the preload answered 200
    bool pulled;                    //  a pull of ours succeeded
    shic_val_t *pull;               //  last pull progress {status, total, completed}
} s_instance_t;

//  An HTTP request's own timeout is an int of milliseconds
#define S_REQUEST_MS_MAX ((int64_t) INT32_MAX)

static const char *s_timings [] = {
    "ready_timeout_ms", "readiness_interval_ms", "health_interval_ms",
    "idle_shutdown_ms", "stop_timeout_ms", NULL
};

//  --------------------------------------------------------------------------
//  Names and roots

char *
shic_ollama_root_normalize (const char *text, bool from_env)
{
    char *trimmed = shic_ollama_trim (text);
    if (!trimmed || !*trimmed) {
        free (trimmed);
        return NULL;
    }
    const char *scheme = "http";
    const char *rest = trimmed;
    bool had_scheme = false;
    if (strncasecmp (rest, "http://", 7) == 0) {
        rest += 7;
        had_scheme = true;
    }
    else
    if (strncasecmp (rest, "https://", 8) == 0) {
        scheme = "https";
        rest += 8;
        had_scheme = true;
    }
    //  Authority, then path; query and fragment are dropped
    size_t authority_size = strcspn (rest, "/?#");
    size_t path_size = strcspn (rest + authority_size, "?#");
    if (authority_size == 0) {
        free (trimmed);
        return NULL;
    }
    char *authority = strndup (rest, authority_size);
    char *path = strndup (rest + authority_size, path_size);
    size_t size = strlen (path);
    while (size && path [size - 1] == '/')
        path [--size] = 0;
    if (size >= 3 && streq (path + size - 3, "/v1"))
        path [size -= 3] = 0;
    while (size && path [size - 1] == '/')
        path [--size] = 0;
    //  OLLAMA_HOST "host" alone means host:11434, as Ollama's client reads it
    bool has_port = authority [0] == '['? strstr (authority, "]:") != NULL
                                        : strchr (authority, ':') != NULL;
    char *root = zsys_sprintf ("%s://%s%s%s", scheme, authority,
                               from_env && !had_scheme && !has_port? ":11434": "", path);
    free (authority);
    free (path);
    free (trimmed);
    return root;
}

char *
shic_ollama_default_root (void)
{
    char *root = shic_ollama_root_normalize (getenv ("OLLAMA_HOST"), true);
    return root? root: strdup (SHIC_OLLAMA_DEFAULT_ROOT);
}

char *
shic_ollama_model_normalize (const char *name)
{
    char *trimmed = shic_ollama_trim (name);
    if (!trimmed || !*trimmed) {
        free (trimmed);
        return NULL;
    }
    const char *slash = strrchr (trimmed, '/');
    if (strchr (slash? slash: trimmed, ':'))
        return trimmed;
    char *tagged = zsys_sprintf ("%s:latest", trimmed);
    free (trimmed);
    return tagged;
}

bool
shic_ollama_model_match (const char *a, const char *b)
{
    char *left = shic_ollama_model_normalize (a);
    char *right = shic_ollama_model_normalize (b);
    bool match = left && right && strcasecmp (left, right) == 0;
    free (left);
    free (right);
    return match;
}

//  A header name is an HTTP token; a value has no line breaks
static bool
s_header_ok (const char *name, const char *value)
{
    if (!name || !*name || !value)
        return false;
    for (const char *ch = name; *ch; ch++)
        if (!isalnum ((unsigned char) *ch) && !strchr ("!#$%&'*+-.^_`|~", *ch))
            return false;
    return strpbrk (value, "\r\n") == NULL;
}

//  Sets a header with a lower-cased name; false when it is not valid
static bool
s_header_set (shic_val_t *headers, const char *name, const char *value)
{
    if (!s_header_ok (name, value))
        return false;
    char *lower = strdup (name);
    for (char *ch = lower; *ch; ch++)
        *ch = (char) tolower ((unsigned char) *ch);
    shic_val_set_str (headers, lower, value);
    free (lower);
    return true;
}

static int
s_compare_str (const void *a, const void *b)
{
    return strcmp (*(const char **) a, *(const char **) b);
}

//  SHA-256 hex of the sorted "name: value" lines: the headers' identity,
//  which never shows their values. Fresh string, NULL when there are none.
static char *
s_headers_fingerprint (const shic_val_t *headers)
{
    size_t count = shic_val_size (headers);
    if (count == 0)
        return NULL;
    const char **names = (const char **) zmalloc (count * sizeof (char *));
    for (size_t i = 0; i < count; i++)
        names [i] = shic_val_key_at (headers, i);
    qsort (names, count, sizeof (char *), s_compare_str);
    char *text = strdup ("");
    for (size_t i = 0; i < count; i++) {
        const char *value = shic_val_str (shic_val_get (headers, names [i]));
        char *grown = zsys_sprintf ("%s%s: %s\n", text, names [i], value? value: "");
        free (text);
        text = grown;
    }
    free (names);
    uint8_t digest [32];
    shic_sha256 (text, strlen (text), digest);
    free (text);
    char *hex = (char *) zmalloc (65);
    for (int i = 0; i < 32; i++)
        snprintf (hex + 2 * i, 3, "%02x", digest [i]);
    return hex;
}

//  --------------------------------------------------------------------------
//  init, destroy, manifest

static bool
s_config_bool (zconfig_t *config, const char *key)
{
    char *value = config? zconfig_get (config, key, NULL): NULL;
    return value && (streq (value, "1") || streq (value, "true") || streq (value, "yes"));
}

//  Reads an HTTP request's timeout (1 .. S_REQUEST_MS_MAX) into *ms, or
//  leaves the default; -1 with err set for anything else
static int
s_config_ms (zconfig_t *config, const char *key, int64_t *ms, shic_error_t *err)
{
    char *value = config? zconfig_get (config, key, NULL): NULL;
    if (!value)
        return 0;
    char *end = NULL;
    errno = 0;
    long long number = strtoll (value, &end, 10);
    if (!*value || *end || errno || number < 1 || number > S_REQUEST_MS_MAX) {
        shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, key,
                              "ollama: %s must be a whole number from 1 to %lld, not '%s'",
                              key, (long long) S_REQUEST_MS_MAX, value);
        return -1;
    }
    *ms = number;
    return 0;
}

static void
s_destroy (void **state_p)
{
    s_backend_t *self = (s_backend_t *) *state_p;
    if (self) {
        free (self->root);
        free (self->api_key);
        free (self->keep_alive);
        shic_val_destroy (&self->headers);
        shic_ollama_health_destroy (&self->health);
        free (self);
        *state_p = NULL;
    }
}

static bool s_in (const char *key, const char **list);

static int
s_init (zconfig_t *config, void **state_p, shic_error_t *err)
{
    s_backend_t *self = (s_backend_t *) zmalloc (sizeof (s_backend_t));
    self->headers = shic_val_new_map ();
    self->health = shic_ollama_health_new ();
    //  Every key of the section is known: a typo (rooturl) would silently
    //  use the default address
    const char *keys [] = { "type", "root_url", "api_key", "headers", "preload", "keep_alive",
                            "pull_missing", "pull_timeout_ms", "preload_timeout_ms", NULL };
    for (zconfig_t *item = config? zconfig_child (config): NULL; item; item = zconfig_next (item)) {
        const char *name = zconfig_name (item);
        if (!s_in (name, keys) && !s_in (name, s_timings)) {
            shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, name,
                                  "ollama: unknown configuration key '%s'", name);
            goto error;
        }
    }
    char *root = config? zconfig_get (config, "root_url", NULL): NULL;
    if (root && *root && strstr (root, "://")
    &&  strncasecmp (root, "http://", 7) && strncasecmp (root, "https://", 8)) {
        shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, "root_url",
                              "ollama: root_url '%s' is not http:// or https://", root);
        goto error;
    }
    if (root && *root) {
        self->root = shic_ollama_root_normalize (root, false);
        if (!self->root) {
            shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, "root_url",
                                  "ollama: root_url '%s' has no host", root);
            goto error;
        }
    }
    else
        self->root = shic_ollama_default_root ();
    self->api_key = shic_ollama_trim (config? zconfig_get (config, "api_key", NULL): NULL);
    if (self->api_key && !*self->api_key)
        zstr_free (&self->api_key);
    zconfig_t *headers = config? zconfig_locate (config, "headers"): NULL;
    for (zconfig_t *item = headers? zconfig_child (headers): NULL; item; item = zconfig_next (item))
        if (!s_header_set (self->headers, zconfig_name (item), zconfig_value (item))) {
            shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, "headers",
                                  "ollama: header '%s' is not valid", zconfig_name (item));
            goto error;
        }
    self->preload = s_config_bool (config, "preload");
    self->pull_missing = s_config_bool (config, "pull_missing");
    char *keep_alive = config? zconfig_get (config, "keep_alive", NULL): NULL;
    self->keep_alive = keep_alive && *keep_alive? strdup (keep_alive): NULL;
    self->pull_timeout_ms = 30000;
    self->preload_timeout_ms = 30000;
    if (s_config_ms (config, "pull_timeout_ms", &self->pull_timeout_ms, err)
    ||  s_config_ms (config, "preload_timeout_ms", &self->preload_timeout_ms, err)
    ||  shic_backend_config_timings (config, config? zconfig_name (config): "ollama", err))
        goto error;
    *state_p = self;
    return 0;
error:
    s_destroy ((void **) &self);
    return -1;
}

static shic_val_t *
s_capabilities (void)
{
    shic_val_t *caps = shic_val_new_map ();
    shic_val_set_bool (caps, "streaming?", true);
    shic_val_set_str (caps, "tool_calling?", SHIC_CAP_UNKNOWN);
    shic_val_set_str (caps, "embeddings?", SHIC_CAP_UNKNOWN);
    return caps;
}

static shic_val_t *
s_manifest (void *state)
{
    (void) state;
    shic_val_t *manifest = shic_backend_manifest_new ("ollama", SHIC_STARTUP_ATTACHED,
                                                      SHIC_MODE_EXTERNALLY_MANAGED);
    shic_val_t *caps = s_capabilities ();
    shic_val_set (manifest, "capabilities", &caps);
    shic_val_t *profile = shic_val_new_map ();
    shic_val_set_str (profile, "scheduler", "externally_managed");
    shic_val_set_str (profile, "placement", "existing_service");
    shic_val_set_str (profile, "gpu", "provider_managed");
    shic_val_set (manifest, "resource_profile", &profile);
    shic_val_t *metadata = shic_val_new_map ();
    shic_val_set_str (metadata, "package", "shic");
    shic_val_set_str (metadata, "adapter", "builtin");
    shic_val_set (manifest, "metadata", &metadata);
    return manifest;
}

//  --------------------------------------------------------------------------
//  startup_plan

//  Options only the trusted embedding host may set
static const char *s_trusted_only [] = {
    "root_url", "base_url", "api_key", "headers", "pull_missing",
    "pull_timeout_ms", "preload_timeout_ms", NULL
};

static bool
s_in (const char *key, const char **list)
{
    for (int i = 0; list [i]; i++)
        if (streq (key, list [i]))
            return true;
    return false;
}

//  A boolean option: bool, or int 0/1
static bool
s_option_bool (const shic_val_t *value, bool *out)
{
    if (shic_val_type (value) == SHIC_VAL_BOOL)
        *out = shic_val_bool (value);
    else
    if (shic_val_type (value) == SHIC_VAL_INT
    && (shic_val_int (value) == 0 || shic_val_int (value) == 1))
        *out = shic_val_int (value) == 1;
    else
        return false;
    return true;
}

static shic_val_t *
s_plan (void *state, const shic_val_t *spec, bool trusted, shic_error_t *err)
{
    s_backend_t *backend = (s_backend_t *) state;
    //  The options: backend_options, overlaid with its attach_spec map
    shic_val_t *options = shic_val_dup (shic_val_get (spec, "backend_options"));
    if (shic_val_type (options) != SHIC_VAL_MAP) {
        shic_val_destroy (&options);
        options = shic_val_new_map ();
    }
    shic_val_t *attach = shic_val_take (options, "attach_spec");
    if (shic_val_type (attach) == SHIC_VAL_MAP)
        for (size_t i = 0; i < shic_val_size (attach); i++)
            shic_val_set_dup (options, shic_val_key_at (attach, i), shic_val_at (attach, i));
    else
    if (attach && shic_val_type (attach) != SHIC_VAL_NIL) {
        shic_val_destroy (&attach);
        shic_val_destroy (&options);
        shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, "attach_spec",
                              "attach_spec must be a map");
        return NULL;
    }
    shic_val_destroy (&attach);

    shic_val_t *plan = shic_val_new_map ();
    shic_val_t *headers = shic_val_dup (backend->headers);
    const char *model_given = NULL;
    const char *root_given = NULL;
    const char *api_key_given = NULL;
    bool preload = backend->preload;
    bool pull_missing = backend->pull_missing;
    int64_t pull_timeout_ms = backend->pull_timeout_ms;
    int64_t preload_timeout_ms = backend->preload_timeout_ms;
    const shic_val_t *keep_alive = NULL;
    char *root = NULL, *api_key = NULL, *model = NULL, *tagged = NULL;
    for (size_t i = 0; i < shic_val_size (options); i++) {
        const char *key = shic_val_key_at (options, i);
        const shic_val_t *value = shic_val_at (options, i);
        if (shic_val_type (value) == SHIC_VAL_NIL)
            continue;
        if (!trusted && (s_in (key, s_trusted_only) || s_in (key, s_timings))) {
            shic_error_set_field (err, SHIC_E_FORBIDDEN, key,
                                  "ollama: %s may not be set through the gateway", key);
            goto error;
        }
        bool bad = false;
        if (streq (key, "model_identity") || streq (key, "model")) {
            if (!model_given || streq (key, "model_identity"))
                model_given = shic_val_str (value);
            bad = !shic_val_str (value);
        }
        else
        if (streq (key, "root_url") || streq (key, "base_url")) {
            if (!root_given || streq (key, "root_url"))
                root_given = shic_val_str (value);
            bad = !shic_val_str (value);
        }
        else
        if (streq (key, "api_key"))
            bad = !(api_key_given = shic_val_str (value));
        else
        if (streq (key, "headers")) {
            bad = shic_val_type (value) != SHIC_VAL_MAP;
            for (size_t h = 0; !bad && h < shic_val_size (value); h++)
                bad = !s_header_set (headers, shic_val_key_at (value, h),
                                     shic_val_str (shic_val_at (value, h)));
        }
        else
        if (streq (key, "preload"))
            bad = !s_option_bool (value, &preload);
        else
        if (streq (key, "pull_missing"))
            bad = !s_option_bool (value, &pull_missing);
        else
        if (streq (key, "keep_alive")) {
            keep_alive = value;
            bad = shic_val_type (value) != SHIC_VAL_STR && shic_val_type (value) != SHIC_VAL_INT;
        }
        else
        if (streq (key, "pull_timeout_ms") || streq (key, "preload_timeout_ms")
        ||  s_in (key, s_timings)) {
            bool own = !s_in (key, s_timings);
            int64_t min = own? 1: shic_backend_timing_min (key);
            int64_t max = own? S_REQUEST_MS_MAX: shic_backend_timing_max (key);
            bad = shic_val_type (value) != SHIC_VAL_INT
               || shic_val_int (value) < min || shic_val_int (value) > max;
            if (!bad && streq (key, "pull_timeout_ms"))
                pull_timeout_ms = shic_val_int (value);
            else
            if (!bad && streq (key, "preload_timeout_ms"))
                preload_timeout_ms = shic_val_int (value);
            else
            if (!bad)
                shic_val_set_dup (plan, key, value);
        }
        else {
            shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, key,
                                  "ollama has no option '%s'", key);
            goto error;
        }
        if (bad) {
            shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, key,
                                  "ollama: option '%s' has the wrong type or value", key);
            goto error;
        }
    }
    model = shic_ollama_trim (model_given);
    tagged = shic_ollama_model_normalize (model);
    if (!tagged) {
        shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, "model_identity",
                              "model_identity is required");
        goto error;
    }
    root = root_given? shic_ollama_root_normalize (root_given, false): strdup (backend->root);
    if (!root) {
        shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, "root_url",
                              "ollama: root_url has no host");
        goto error;
    }
    api_key = api_key_given? shic_ollama_trim (api_key_given): backend->api_key? strdup (backend->api_key): NULL;
    if (api_key && *api_key) {
        char *bearer = zsys_sprintf ("Bearer %s", api_key);
        shic_val_set_str (headers, "authorization", bearer);
        free (bearer);
    }

    //  Identity: every launch-relevant field, and never a header value
    shic_val_t *identity = shic_val_new_map ();
    shic_val_set_str (identity, "root_url", root);
    shic_val_set_str (identity, "model", tagged);
    char *fingerprint = s_headers_fingerprint (headers);
    shic_val_set_str (identity, "headers", fingerprint);
    free (fingerprint);
    char *key = shic_instance_key ("ollama", tagged, identity);
    shic_val_destroy (&identity);
    shic_val_set_str (plan, "instance_key", key);
    free (key);
    shic_val_set_str (plan, "startup_kind", SHIC_STARTUP_ATTACHED);
    shic_val_set_str (plan, "management_mode", SHIC_MODE_EXTERNALLY_MANAGED);
    //  The reference's attach default is 5 s; a preload or a pull needs more
    if (!shic_val_get (plan, "ready_timeout_ms"))
        shic_val_set_int (plan, "ready_timeout_ms",
                          pull_missing? 3600000: preload? 120000: 5000);

    shic_val_t *template_ = shic_val_new_map ();
    shic_val_set_str (template_, "protocol", SHIC_PROTOCOL_OPENAI_CHAT);
    shic_val_set (template_, "base_url", &(shic_val_t *) { shic_val_new_printf ("%s/v1", root) });
    shic_val_set_str (template_, "model_identity", model);
    shic_val_set_str (template_, "provider_identity", "ollama");
    shic_val_set_str (template_, "source_runtime", "ollama");
    shic_val_set_str (template_, "source_runtime_ref", root);
    shic_val_set (template_, "health_ref", &(shic_val_t *) { shic_val_new_printf ("%s/api/version", root) });
    shic_val_set (template_, "headers", &headers);
    shic_val_t *caps = s_capabilities ();
    shic_val_set (template_, "capabilities", &caps);
    shic_val_t *metadata = shic_val_new_map ();
    shic_val_set_str (metadata, "root_url", root);
    shic_val_set_str (metadata, "model", model);
    shic_val_t *endpoint_metadata = shic_val_dup (metadata);
    shic_val_set (template_, "metadata", &endpoint_metadata);
    shic_val_set (plan, "endpoint_template", &template_);
    //  What the probes need besides the template (no secrets)
    shic_val_set_bool (metadata, "preload", preload);
    shic_val_set_bool (metadata, "pull_missing", pull_missing);
    if (keep_alive)
        shic_val_set_dup (metadata, "keep_alive", keep_alive);
    else
    if (backend->keep_alive)
        shic_val_set_str (metadata, "keep_alive", backend->keep_alive);
    shic_val_set_int (metadata, "pull_timeout_ms", pull_timeout_ms);
    shic_val_set_int (metadata, "preload_timeout_ms", preload_timeout_ms);
    shic_val_set (plan, "metadata", &metadata);
    free (root);
    free (api_key);
    free (model);
    free (tagged);
    shic_val_destroy (&options);
    return plan;
error:
    free (root);
    free (api_key);
    free (model);
    free (tagged);
    shic_val_destroy (&headers);
    shic_val_destroy (&options);
    shic_val_destroy (&plan);
    return NULL;
}

//  --------------------------------------------------------------------------
//  Per-instance state and HTTP

static void
s_instance_destroy (s_instance_t **self_p)
{
    s_instance_t *self = *self_p;
    if (self) {
        if (self->daemon)
            shic_ollama_health_release (self->health, &self->daemon);
        free (self->root);
        free (self->model);
        free (self->model_tagged);
        free (self->model_key);
        for (size_t i = 0; self->headers && self->headers [i]; i++)
            free (self->headers [i]);
        free (self->headers);
        shic_val_destroy (&self->keep_alive);
        shic_val_destroy (&self->pull);
        free (self);
        *self_p = NULL;
    }
}

//  The instance's state, built from the plan on first use
static s_instance_t *
s_instance (shic_instance_ctx_t *ctx)
{
    if (ctx->state)
        return (s_instance_t *) ctx->state;
    s_instance_t *self = (s_instance_t *) zmalloc (sizeof (s_instance_t));
    const shic_val_t *metadata = shic_val_get (ctx->plan, "metadata");
    const char *root = shic_val_str (shic_val_get (metadata, "root_url"));
    const char *model = shic_val_str (shic_val_get (metadata, "model"));
    self->root = strdup (root? root: SHIC_OLLAMA_DEFAULT_ROOT);
    self->model = strdup (model? model: "");
    self->model_tagged = shic_ollama_model_normalize (self->model);
    if (!self->model_tagged)
        self->model_tagged = strdup ("");
    self->last_health = -1;
    self->model_key = strdup (self->model_tagged);
    for (char *ch = self->model_key; *ch; ch++)
        *ch = (char) tolower ((unsigned char) *ch);
    const shic_val_t *headers = shic_val_path (ctx->plan, "endpoint_template/headers");
    size_t count = shic_val_size (headers);
    self->headers = (char **) zmalloc ((count + 1) * sizeof (char *));
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        const char *value = shic_val_str (shic_val_at (headers, i));
        if (value)
            self->headers [n++] = zsys_sprintf ("%s: %s", shic_val_key_at (headers, i), value);
    }
    self->preload = shic_val_bool (shic_val_get (metadata, "preload"));
    self->pull_missing = shic_val_bool (shic_val_get (metadata, "pull_missing"));
    self->keep_alive = shic_val_dup (shic_val_get (metadata, "keep_alive"));
    self->pull_timeout_ms = shic_val_int (shic_val_get (metadata, "pull_timeout_ms"));
    self->preload_timeout_ms = shic_val_int (shic_val_get (metadata, "preload_timeout_ms"));
    if (self->pull_timeout_ms <= 0)
        self->pull_timeout_ms = 30000;
    if (self->preload_timeout_ms <= 0)
        self->preload_timeout_ms = 30000;
    ctx->state = self;
    return self;
}

//  One request to the daemon with the configured headers; body (borrowed,
//  may be NULL) is sent as JSON. Returns shic_http_request's code.
static int
s_call (s_instance_t *self, const char *method, const char *path,
        const shic_val_t *body, int64_t timeout_ms, shic_http_result_t *result)
{
    char *url = zsys_sprintf ("%s%s", self->root, path);
    char *json = body? shic_val_to_json (body): NULL;
    int rc = shic_http_request (method, url, (const char *const *) self->headers, json,
                                (int) (timeout_ms > 0? timeout_ms: S_PROBE_TIMEOUT), result);
    free (json);
    free (url);
    return rc;
}

//  {"model": model} (fresh)
static shic_val_t *
s_model_body (s_instance_t *self)
{
    shic_val_t *body = shic_val_new_map ();
    shic_val_set_str (body, "model", self->model);
    return body;
}

//  GET /api/version; on success returns 0 and sets *version_p (fresh, may be
//  NULL); else fills fields and returns -1
static int
s_version (s_instance_t *self, shic_val_t *fields, char **version_p)
{
    shic_http_result_t result = { 0 };
    int rc = s_call (self, "GET", "/api/version", NULL, S_PROBE_TIMEOUT, &result);
    rc = shic_ollama_answer_version (rc, &result, fields, version_p);
    shic_http_result_reset (&result);
    return rc;
}

//  The instance's share of the backend's health snapshots (its daemon)
static void
s_daemon (shic_instance_ctx_t *ctx, s_instance_t *self)
{
    if (!self->daemon) {
        self->health = ((s_backend_t *) ctx->backend)->health;
        self->daemon = shic_ollama_health_acquire (self->health, self->root, self->headers);
    }
}

//  What the daemon holds for our model when it is loaded, for placement:
//  from the shared snapshot of /api/ps, or, right after a preload (which
//  the snapshot may predate), from /api/ps itself
static shic_val_t *
s_memory (shic_instance_ctx_t *ctx, s_instance_t *self, bool fresh)
{
    if (fresh) {
        shic_http_result_t result = { 0 };
        shic_val_t *memory = NULL;
        if (s_call (self, "GET", "/api/ps", NULL, S_PROBE_TIMEOUT, &result) == 0
        &&  result.status == 200)
            memory = shic_ollama_answer_memory (result.body, self->model_key);
        shic_http_result_reset (&result);
        return memory;
    }
    s_daemon (ctx, self);
    shic_ollama_snapshot_t *snapshot = shic_ollama_health_snapshot (self->health, self->daemon,
        shic_val_int (shic_val_get (ctx->plan, "health_interval_ms")));
    shic_val_t *memory = shic_ollama_snapshot_memory (snapshot, self->model_key);
    shic_ollama_snapshot_release (&snapshot);
    return memory;
}

//  POST /api/show: 1 found, 0 not installed, -1 other failure; fields say
static int
s_show (s_instance_t *self, shic_val_t *fields, int64_t timeout_ms)
{
    shic_http_result_t result = { 0 };
    shic_val_t *body = s_model_body (self);
    int rc = s_call (self, "POST", "/api/show", body, timeout_ms, &result);
    shic_val_destroy (&body);
    int found = -1;
    if (rc == 0 && result.status == 200) {
        //  Ollama describes the model: a map with its details or
        //  modelfile. An HTML page or a cut body is not that
        shic_val_t *json = shic_val_from_json (result.body);
        if (shic_val_is (shic_val_get (json, "details"), SHIC_VAL_MAP)
        ||  shic_val_is (shic_val_get (json, "modelfile"), SHIC_VAL_STR))
            found = 1;
        else {
            shic_ollama_answer_foreign (fields, "show", &result);
            shic_val_set_str (fields, "model", self->model);
        }
        shic_val_destroy (&json);
        shic_http_result_reset (&result);
        return found;
    }
    else
    if (rc == 0 && result.status == 404)
        found = 0;
    if (rc != 0)
        shic_val_set_bool (fields, "reachable", false);
    if (found >= 0)
        shic_val_set_bool (fields, "model_found", found == 1);
    if (found != 1) {
        shic_val_set_str (fields, "model", self->model);
        if (rc == 0 && found < 0) {
            shic_val_set_str (fields, "step", "show");
            shic_val_set_int (fields, "http_status", result.status);
        }
        shic_ollama_answer_error (fields, &result);
    }
    shic_http_result_reset (&result);
    return found;
}

//  --------------------------------------------------------------------------
//  Pull and preload

//  Publishes an instance.progress event when the kernel offers the hook
static void
s_progress (shic_instance_ctx_t *ctx, const char *phase, const shic_val_t *pull)
{
    if (!ctx->progress)
        return;
    shic_val_t *body = shic_val_new_map ();
    shic_val_set_str (body, "phase", phase);
    shic_val_set_str (body, "backend", "ollama");
    shic_val_set_dup (body, "status", shic_val_get (pull, "status"));
    shic_val_set_int (body, "total", shic_val_int (shic_val_get (pull, "total")));
    shic_val_set_int (body, "completed", shic_val_int (shic_val_get (pull, "completed")));
    ctx->progress (ctx->kernel, &body);
}

//  A pull being read: what its lines said so far
typedef struct {
    shic_instance_ctx_t *ctx;       //  the instance, for its progress events
    s_instance_t *self;             //  its state (self->pull: the last progress)
    shic_val_t *fields;             //  the failure's fields
    int outcome;                    //  0 once "success" came, -1 before
    int64_t published;              //  completed bytes last published, or -1
    char *status;                   //  the status last published, or NULL
} s_pulling_t;

//  One line of /api/pull's answer, as it arrives: progress is published as
//  the pull goes (when the status changes, or completed moved by 1% of the
//  total since the last event: Ollama writes a line per chunk it stores)
static int
s_pull_line (void *arg, const char *line)
{
    s_pulling_t *pulling = (s_pulling_t *) arg;
    s_instance_t *self = pulling->self;
    if (!*line)
        return 0;
    shic_val_t *json = shic_val_from_json (line);
    const char *error = shic_val_str (shic_val_get (json, "error"));
    const char *status = shic_val_str (shic_val_get (json, "status"));
    if (error) {
        shic_val_set_str (pulling->fields, "error", error);
        pulling->outcome = -1;
    }
    else
    if (status) {
        if (!self->pull)
            self->pull = shic_val_new_map ();
        shic_val_set_str (self->pull, "status", status);
        if (shic_val_get (json, "total")) {
            int64_t total = shic_val_int (shic_val_get (json, "total"));
            int64_t completed = shic_val_int (shic_val_get (json, "completed"));
            shic_val_set_int (self->pull, "total", total);
            shic_val_set_int (self->pull, "completed", completed);
            bool changed = !pulling->status || !streq (pulling->status, status);
            int64_t step = total > 100? total / 100: 1;
            if (changed || completed == total || pulling->published < 0
            ||  completed - pulling->published >= step || completed < pulling->published) {
                s_progress (pulling->ctx, "pull", self->pull);
                pulling->published = completed;
                zstr_free (&pulling->status);
                pulling->status = strdup (status);
            }
        }
        if (streq (status, "success"))
            pulling->outcome = 0;
    }
    shic_val_destroy (&json);
    return 0;
}

//  POST /api/pull with streamed progress lines, read as they come and
//  bounded by pull_timeout_ms. Returns 0 when it succeeded, else -1 with
//  fields set.
static int
s_pull (shic_instance_ctx_t *ctx, s_instance_t *self, shic_val_t *fields)
{
    shic_http_result_t result = { 0 };
    shic_val_t *body = s_model_body (self);
    shic_val_set_bool (body, "stream", true);
    char *url = zsys_sprintf ("%s/api/pull", self->root);
    char *json = shic_val_to_json (body);
    shic_val_destroy (&body);
    s_pulling_t pulling = { ctx, self, fields, -1, -1, NULL };
    int rc = shic_http_request_lines ("POST", url, (const char *const *) self->headers, json,
                                      (int) self->pull_timeout_ms, s_pull_line, &pulling,
                                      &result);
    free (json);
    free (url);
    zstr_free (&pulling.status);
    int outcome = rc == 0 && result.status == 200? pulling.outcome: -1;
    if (rc != 0 || result.status != 200) {
        shic_val_set_bool (fields, "reachable", rc == 0 || self->pull != NULL);
        if (rc == 0)
            shic_val_set_int (fields, "http_status", result.status);
        shic_ollama_answer_error (fields, &result);
    }
    shic_val_set_str (fields, "step", "pull");
    if (self->pull)
        shic_val_set_dup (fields, "pull", self->pull);
    if (outcome == 0) {
        self->pulled = true;
        s_progress (ctx, "pull", self->pull);
    }
    shic_http_result_reset (&result);
    return outcome;
}

//  POST /api/generate {model, keep_alive}: loads the model. 0 / -1
static int
s_preload (s_instance_t *self, shic_val_t *fields)
{
    shic_http_result_t result = { 0 };
    shic_val_t *body = s_model_body (self);
    if (self->keep_alive)
        shic_val_set_dup (body, "keep_alive", self->keep_alive);
    shic_val_set_bool (body, "stream", false);
    int rc = s_call (self, "POST", "/api/generate", body, self->preload_timeout_ms, &result);
    shic_val_destroy (&body);
    if (rc == 0 && result.status == 200) {
        self->preloaded = true;
        shic_http_result_reset (&result);
        return 0;
    }
    shic_val_set_str (fields, "step", "preload");
    shic_val_set_bool (fields, "reachable", rc == 0);
    if (rc == 0)
        shic_val_set_int (fields, "http_status", result.status);
    shic_ollama_answer_error (fields, &result);
    shic_http_result_reset (&result);
    return -1;
}

//  --------------------------------------------------------------------------
//  Readiness and health

static int
s_probe (shic_instance_ctx_t *ctx, shic_val_t **fields_p, shic_error_t *err)
{
    s_instance_t *self = s_instance (ctx);
    //  Ready anew: the kernel's health starts over
    self->last_health = -1;
    shic_val_t *fields = shic_val_new_map ();
    shic_val_set_str (fields, "root_url", self->root);
    char *version = NULL;
    if (s_version (self, fields, &version) != 0)
        goto pending;
    int found = s_show (self, fields, S_SHOW_TIMEOUT);
    if (found == 0 && self->pull_missing) {
        if (s_pull (ctx, self, fields) != 0)
            goto pending;
        shic_val_remove (fields, "error");
        found = s_show (self, fields, S_SHOW_TIMEOUT);
    }
    //  Not installed, and not ours to pull: waiting would not change that
    if (found == 0 && !self->pull_missing) {
        char *hint = zsys_sprintf ("ollama pull %s", self->model);
        shic_val_set_str (fields, "hint", hint);
        shic_error_set (err, SHIC_E_NOT_FOUND, &fields,
                        "the Ollama at %s has no model '%s': run '%s' (or ask with "
                        "pull_missing)", self->root, self->model, hint);
        zstr_free (&hint);
        free (version);
        return SHIC_PROBE_FAILED;
    }
    if (found != 1)
        goto pending;
    if (self->preload && !self->preloaded && s_preload (self, fields) != 0)
        goto pending;

    shic_val_destroy (&fields);
    *fields_p = shic_val_new_map ();
    shic_val_t *metadata = shic_val_new_map ();
    shic_val_set_str (metadata, "root_url", self->root);
    shic_val_set_str (metadata, "model", self->model);
    shic_val_set_str (metadata, "ollama_version", version);
    if (self->preload)
        shic_val_set_bool (metadata, "preloaded", self->preloaded);
    if (self->pulled) {
        shic_val_set_bool (metadata, "pulled", true);
        shic_val_set_dup (metadata, "pull", self->pull);
    }
    shic_val_set (*fields_p, "metadata", &metadata);
    //  A loaded model's memory, for placement
    shic_val_t *memory = s_memory (ctx, self, self->preload);
    if (memory)
        shic_val_set (*fields_p, "memory", &memory);
    free (version);
    return SHIC_PROBE_READY;
pending:
    if (ctx->verbose) {
        char *text = shic_val_to_json (fields);
        zsys_debug ("ollama[%s]: pending %s", ctx->instance_id, text);
        free (text);
    }
    free (version);
    *fields_p = fields;
    return SHIC_PROBE_PENDING;
}

//  Copies every field of a failure map into details
static void
s_fields_copy (shic_val_t *details, const shic_val_t *fields)
{
    for (size_t i = 0; i < shic_val_size (fields); i++)
        shic_val_set_dup (details, shic_val_key_at (fields, i), shic_val_at (fields, i));
}

static int
s_health (shic_instance_ctx_t *ctx, shic_val_t **details_p)
{
    s_instance_t *self = s_instance (ctx);
    shic_val_t *details = shic_val_new_map ();
    *details_p = details;
    shic_val_set_str (details, "root_url", self->root);
    shic_val_set_str (details, "model", self->model);
    s_daemon (ctx, self);
    shic_ollama_snapshot_t *snapshot = shic_ollama_health_snapshot (self->health, self->daemon,
        shic_val_int (shic_val_get (ctx->plan, "health_interval_ms")));
    int health = SHIC_HEALTH_IS_UNAVAILABLE;
    const shic_val_t *failure = shic_ollama_snapshot_failure (snapshot);
    if (failure) {
        s_fields_copy (details, failure);
        goto done;
    }
    shic_val_set_bool (details, "reachable", true);
    shic_val_set_str (details, "version", shic_ollama_snapshot_version (snapshot));
    //  Not listed (or no list): /api/show knows aliases and says why
    if (shic_ollama_snapshot_installed (snapshot, self->model_key))
        shic_val_set_bool (details, "model_found", true);
    else
    if (s_show (self, details, S_PROBE_TIMEOUT) != 1)
        goto done;
    const shic_val_t *running = shic_ollama_snapshot_running (snapshot);
    if (!running) {
        s_fields_copy (details, shic_ollama_snapshot_ps_failure (snapshot));
        goto done;
    }
    bool loaded = shic_ollama_snapshot_loaded (snapshot, self->model_key);
    health = loaded? SHIC_HEALTH_IS_HEALTHY: SHIC_HEALTH_IS_DEGRADED;
    //  The kernel publishes details when the health changes; the list is
    //  the one costly field of a daemon with many models, so it is built
    //  for those checks alone
    if (health != self->last_health)
        shic_val_set_dup (details, "running_models", running);
    shic_val_set_bool (details, "loaded", loaded);
done:
    shic_ollama_snapshot_release (&snapshot);
    self->last_health = health;
    return health;
}

//  Attached: the daemon is somebody else's; only our own state goes
static void
s_shutdown (shic_instance_ctx_t *ctx)
{
    s_instance_t *self = (s_instance_t *) ctx->state;
    s_instance_destroy (&self);
    ctx->state = NULL;
}

//  The installed models the last /api/tags answer listed (no request: the
//  health rounds of live instances read it), else unknown
static shic_val_t *
s_models (void *state)
{
    s_backend_t *self = (s_backend_t *) state;
    shic_val_t *names = shic_ollama_health_installed (self->health);
    if (!names)
        return NULL;
    shic_val_t *list = shic_val_new_array ();
    for (size_t i = 0; i < shic_val_size (names); i++) {
        shic_val_t *model = shic_val_new_map ();
        shic_val_set_dup (model, "name", shic_val_at (names, i));
        shic_val_set_dup (model, "source", shic_val_at (names, i));
        shic_val_set_bool (model, "installed", true);
        shic_val_push (list, &model);
    }
    shic_val_destroy (&names);
    return list;
}

const shic_backend_ops_t shic_ollama_ops = {
    .name = "ollama",
    .init = s_init,
    .destroy = s_destroy,
    .manifest = s_manifest,
    .startup_plan = s_plan,
    .probe_readiness = s_probe,
    .health_check = s_health,
    .shutdown = s_shutdown,
    .models = s_models,
};
