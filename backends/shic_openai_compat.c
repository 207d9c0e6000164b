/*  =========================================================================
    shic_openai_compat - attaches to any OpenAI-compatible server

    Nothing is spawned: the plan has no transport, and the backend only
    watches <base_url>/models and, when the server has one, /health. See
    shic_openai_compat.h for the configuration keys.
    =========================================================================
*/

#include "shic_openai_compat.h"
#include "shic_backend_options.h"
#include "shic_http.h"

//  Probes run in the instance actor and must stay short
#define S_PROBE_TIMEOUT_MS  500
#define S_REFUSALS_MAX      3       //  refused probes in a row: nobody is there

//  How an instance's health is checked
#define S_HEALTH_UNKNOWN    0       //  not found out yet
#define S_HEALTH_PATH       1       //  GET <root>/health
#define S_HEALTH_MODELS     2       //  GET <base_url>/models

//  The backend state, read only after init
typedef struct {
    char *name;                     //  the backend id: the section's name
    char *base_url;                 //  without a trailing '/'
    char *root_url;                 //  base_url without a trailing "/v1"
    char *model;                    //  default model, or NULL = any
    char **headers;                 //  "Name: value" list for shic_http, NULL-terminated
    shic_val_t *header_map;         //  the same headers, for the endpoint
    shic_val_t *capabilities;       //  manifest capabilities
    shic_val_t *resources;          //  placement: the plan's resources, or NULL
} s_state_t;

//  Per-instance state
typedef struct {
    int health_mode;                //  S_HEALTH_*
    int refusals;                   //  readiness probes refused in a row
} s_instance_t;


static void
s_state_destroy (s_state_t **self_p)
{
    s_state_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; self->headers && self->headers [i]; i++)
        free (self->headers [i]);
    free (self->headers);
    free (self->name);
    free (self->base_url);
    free (self->root_url);
    free (self->model);
    shic_val_destroy (&self->header_map);
    shic_val_destroy (&self->capabilities);
    shic_val_destroy (&self->resources);
    free (self);
    *self_p = NULL;
}

static void
s_header_add (s_state_t *self, const char *name, const char *value)
{
    size_t count = shic_val_size (self->header_map);
    shic_val_set_str (self->header_map, name, value);
    if (shic_val_size (self->header_map) == count)
        return;                     //  a repeated name keeps its first line
    self->headers = (char **) realloc (self->headers, (count + 2) * sizeof (char *));
    assert (self->headers);
    self->headers [count] = zsys_sprintf ("%s: %s", name, value);
    self->headers [count + 1] = NULL;
}

static int
s_init (zconfig_t *config, void **state_p, shic_error_t *err)
{
    s_state_t *self = (s_state_t *) zmalloc (sizeof (s_state_t));
    self->name = strdup (config? zconfig_name (config): shic_openai_compat_ops.name);
    self->header_map = shic_val_new_map ();
    self->capabilities = shic_val_new_map ();
    const char *base_url = config? zconfig_get (config, "base_url", NULL): NULL;
    if (!base_url || !*base_url) {
        shic_backend_config_error (err, self->name, "base_url", "base_url is required");
        goto error;
    }
    if (strncmp (base_url, "http://", 7) && strncmp (base_url, "https://", 8)) {
        shic_backend_config_error (err, self->name, "base_url", "base_url must start with http:// or https://");
        goto error;
    }
    self->base_url = strdup (base_url);
    size_t size = strlen (self->base_url);
    while (size > 8 && self->base_url [size - 1] == '/')
        self->base_url [--size] = 0;
    self->root_url = strdup (self->base_url);
    if (size > 3 && streq (self->root_url + size - 3, "/v1"))
        self->root_url [size - 3] = 0;
    const char *model = zconfig_get (config, "model", NULL);
    if (model && *model)
        self->model = strdup (model);
    zconfig_t *headers = zconfig_locate (config, "headers");
    for (zconfig_t *child = headers? zconfig_child (headers): NULL; child; child = zconfig_next (child)) {
        const char *value = zconfig_value (child)? zconfig_value (child): "";
        if (strchr (value, '\r') || strchr (value, '\n')) {
            shic_backend_config_error (err, self->name, "headers", "a header value holds a line break");
            goto error;
        }
        s_header_add (self, zconfig_name (child), value);
    }
    const char *api_key = zconfig_get (config, "api_key", NULL);
    if (api_key && *api_key) {
        if (strchr (api_key, '\r') || strchr (api_key, '\n')) {
            shic_backend_config_error (err, self->name, "api_key", "api_key holds a line break");
            goto error;
        }
        char *bearer = zsys_sprintf ("Bearer %s", api_key);
        s_header_add (self, "Authorization", bearer);
        zstr_free (&bearer);
    }
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
    shic_val_t *manifest = shic_backend_manifest_new (self->name, SHIC_STARTUP_ATTACHED,
                                                      SHIC_MODE_EXTERNALLY_MANAGED);
    shic_val_set_dup (manifest, "capabilities", self->capabilities);
    shic_val_t *metadata = shic_val_new_map ();
    shic_val_set_str (metadata, "kind", "openai_compat");
    shic_val_set_str (metadata, "base_url", self->base_url);
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
    if (!model)
        model = self->model;

    shic_val_t *identity = shic_val_new_map ();
    shic_val_set_str (identity, "base_url", self->base_url);
    if (model)
        shic_val_set_str (identity, "model", model);
    char *key = shic_instance_key (self->name, model? model: "any", identity);
    shic_val_destroy (&identity);

    shic_val_t *plan = shic_val_new_map ();
    shic_val_set_str (plan, "instance_key", key);
    free (key);
    shic_val_set_str (plan, "startup_kind", SHIC_STARTUP_ATTACHED);
    shic_val_set_str (plan, "management_mode", SHIC_MODE_EXTERNALLY_MANAGED);
    shic_backend_options_timings (options, plan);
    shic_val_t *template_ = shic_val_new_map ();
    shic_val_set_str (template_, "base_url", self->base_url);
    shic_val_set_str (template_, "source_runtime", self->name);
    shic_val_set_str (template_, "source_runtime_ref", self->root_url);
    if (model)
        shic_val_set_str (template_, "model_identity", model);
    shic_val_set (plan, "endpoint_template", &template_);
    shic_val_t *metadata = shic_val_new_map ();
    if (model)
        shic_val_set_str (metadata, "model", model);
    else
        shic_val_set_nil (metadata, "model");
    shic_val_set (plan, "metadata", &metadata);
    if (self->resources)
        shic_val_set_dup (plan, "resources", self->resources);
    return plan;
}

//  GET url with the configured headers; returns the status, 0 when
//  unreachable. When models_p is given and the answer is a 200 JSON model
//  list, sets it to a fresh array of the model ids.
static long
s_get (s_state_t *self, const char *url, shic_val_t **models_p, bool *refused)
{
    shic_http_result_t result = { 0 };
    shic_http_request ("GET", url, (const char *const *) self->headers, NULL,
                       S_PROBE_TIMEOUT_MS, &result);
    long status = result.status;
    if (refused)
        *refused = result.refused;
    if (models_p && status == 200 && result.body) {
        shic_val_t *body = shic_val_from_json (result.body);
        shic_val_t *ids = shic_val_new_array ();
        const char *lists [] = { "data", "models", NULL };
        const char *keys [] = { "id", "name", "model", NULL };
        for (int l = 0; lists [l]; l++) {
            const shic_val_t *list = shic_val_get (body, lists [l]);
            for (size_t i = 0; i < shic_val_size (list) && shic_val_is (list, SHIC_VAL_ARRAY); i++)
                for (int k = 0; keys [k]; k++) {
                    const char *id = shic_val_str (shic_val_get (shic_val_at (list, i), keys [k]));
                    if (id && !shic_val_contains_str (ids, id)) {
                        shic_val_t *item = shic_val_new_str (id);
                        shic_val_push (ids, &item);
                    }
                }
        }
        shic_val_destroy (&body);
        *models_p = ids;
    }
    shic_http_result_reset (&result);
    return status;
}

//  The instance's model, or NULL = any
static const char *
s_model (shic_instance_ctx_t *ctx)
{
    return shic_val_str (shic_val_path (ctx->plan, "metadata/model"));
}

static bool
s_listed (const shic_val_t *ids, const char *model)
{
    return model? shic_val_contains_str (ids, model): shic_val_size (ids) > 0;
}

//  Finds out whether the server has /health: S_HEALTH_*
static int
s_health_mode (s_state_t *self)
{
    char *url = zsys_sprintf ("%s/health", self->root_url);
    long status = s_get (self, url, NULL, NULL);
    zstr_free (&url);
    return status == 200 || status == 503? S_HEALTH_PATH:
           status == 0? S_HEALTH_UNKNOWN: S_HEALTH_MODELS;
}

static int
s_probe_readiness (shic_instance_ctx_t *ctx, shic_val_t **fields_p, shic_error_t *err)
{
    s_state_t *self = (s_state_t *) ctx->backend;
    const char *model = s_model (ctx);
    char *url = zsys_sprintf ("%s/models", self->base_url);
    shic_val_t *ids = NULL;
    bool refused = false;
    long status = s_get (self, url, &ids, &refused);
    *fields_p = shic_val_new_map ();
    if (!ctx->state)
        ctx->state = zmalloc (sizeof (s_instance_t));
    s_instance_t *instance = (s_instance_t *) ctx->state;
    //  An attached server is somebody else's to start: one that refuses
    //  every connection is not coming, so say so now rather than at the
    //  readiness deadline
    instance->refusals = refused? instance->refusals + 1: 0;
    if (instance->refusals >= S_REFUSALS_MAX) {
        shic_val_t *details = shic_val_new_map ();
        shic_val_set_str (details, "url", url);
        shic_val_set_int (details, "refusals", instance->refusals);
        shic_error_set (err, SHIC_E_READINESS_TIMEOUT, &details,
                        "nobody listens at %s: the connection was refused %d times in a row "
                        "(is the server running? is base_url right?)", url, instance->refusals);
        zstr_free (&url);
        shic_val_destroy (&ids);
        return SHIC_PROBE_FAILED;
    }
    if (status == 401 || status == 403) {
        shic_val_t *details = shic_val_new_map ();
        shic_val_set_int (details, "http_status", status);
        shic_val_set_str (details, "url", url);
        shic_error_set (err, SHIC_E_INSTANCE_FAILED, &details,
                        "%s refused the credentials (%ld): check api_key and headers",
                        url, status);
        zstr_free (&url);
        return SHIC_PROBE_FAILED;
    }
    if (status != 200 || !s_listed (ids, model)) {
        shic_val_set_int (*fields_p, "http_status", status);
        shic_val_set_str (*fields_p, "url", url);
        if (ids)
            shic_val_set (*fields_p, "models", &ids);
        shic_val_set_str (*fields_p, "seen", status == 200? "model not listed":
                                             status? "not ready": "unreachable");
        zstr_free (&url);
        return SHIC_PROBE_PENDING;
    }
    instance->health_mode = s_health_mode (self);
    shic_val_set_str (*fields_p, "base_url", self->base_url);
    shic_val_set_dup (*fields_p, "headers", self->header_map);
    if (!model)
        shic_val_set_str (*fields_p, "model_identity", shic_val_str (shic_val_at (ids, 0)));
    if (instance->health_mode == S_HEALTH_PATH) {
        shic_val_t *health = shic_val_new_printf ("%s/health", self->root_url);
        shic_val_set (*fields_p, "health_ref", &health);
    }
    else
        shic_val_set_str (*fields_p, "health_ref", url);
    shic_val_destroy (&ids);
    zstr_free (&url);
    return SHIC_PROBE_READY;
}

static int
s_health_check (shic_instance_ctx_t *ctx, shic_val_t **details_p)
{
    s_state_t *self = (s_state_t *) ctx->backend;
    if (!ctx->state)
        ctx->state = zmalloc (sizeof (s_instance_t));
    s_instance_t *instance = (s_instance_t *) ctx->state;
    if (instance->health_mode == S_HEALTH_UNKNOWN)
        instance->health_mode = s_health_mode (self);
    *details_p = shic_val_new_map ();
    int health;
    if (instance->health_mode == S_HEALTH_PATH) {
        char *url = zsys_sprintf ("%s/health", self->root_url);
        long status = s_get (self, url, NULL, NULL);
        shic_val_set_int (*details_p, "http_status", status);
        shic_val_set_str (*details_p, "url", url);
        zstr_free (&url);
        health = status == 200? SHIC_HEALTH_IS_HEALTHY:
                 status == 503? SHIC_HEALTH_IS_DEGRADED: SHIC_HEALTH_IS_UNAVAILABLE;
    }
    else {
        char *url = zsys_sprintf ("%s/models", self->base_url);
        shic_val_t *ids = NULL;
        long status = s_get (self, url, &ids, NULL);
        shic_val_set_int (*details_p, "http_status", status);
        shic_val_set_str (*details_p, "url", url);
        zstr_free (&url);
        if (status == 200 && !s_listed (ids, s_model (ctx)))
            shic_val_set_str (*details_p, "seen", "model not listed");
        health = status == 200 && s_listed (ids, s_model (ctx))? SHIC_HEALTH_IS_HEALTHY:
                 status == 200 || status == 503? SHIC_HEALTH_IS_DEGRADED: SHIC_HEALTH_IS_UNAVAILABLE;
        shic_val_destroy (&ids);
    }
    return health;
}

static void
s_shutdown (shic_instance_ctx_t *ctx)
{
    free (ctx->state);
    ctx->state = NULL;
}

const shic_backend_ops_t shic_openai_compat_ops = {
    .name = "openai_compat",
    .init = s_init,
    .destroy = s_destroy,
    .manifest = s_manifest,
    .startup_plan = s_startup_plan,
    .probe_readiness = s_probe_readiness,
    .health_check = s_health_check,
    .shutdown = s_shutdown,
};
