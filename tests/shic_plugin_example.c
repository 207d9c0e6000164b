/*  =========================================================================
    shic_plugin_example - a backend package built as a shared library

    Built as a MODULE and loaded by shic_backends from a configuration:

        backends
            mine
                plugin = path/to/shic_plugin_example.so
                root_url = http://127.0.0.1:8080    default for the option
                greeting = hello                    shown in the manifest

    It attaches to any server with GET /health at root_url (the option
    root_url, else the configuration's), like test_attached. The library
    exports one symbol, "shic_backend_ops". It is not linked against
    libshic: the program that loads it provides shic_val, shic_contract
    and shic_http (shic_selftest exports its symbols for that).
    =========================================================================
*/

#include "shic.h"
#include "shic_http.h"

//  Tells a real state from anything else: the loader must hand per-
//  instance calls our own state, not its wrapper's
#define S_MAGIC  0x5eed1e55

typedef struct {
    int magic;                      //  S_MAGIC
    char *root_url;                 //  default root_url, or NULL
    char *greeting;                 //  from the configuration, or NULL
} s_state_t;

static int
s_init (zconfig_t *config, void **state_p, shic_error_t *err)
{
    (void) err;
    s_state_t *self = (s_state_t *) zmalloc (sizeof (s_state_t));
    self->magic = S_MAGIC;
    const char *root = config? zconfig_get (config, "root_url", NULL): NULL;
    const char *greeting = config? zconfig_get (config, "greeting", NULL): NULL;
    self->root_url = root? strdup (root): NULL;
    self->greeting = greeting? strdup (greeting): NULL;
    *state_p = self;
    return 0;
}

static void
s_destroy (void **state_p)
{
    s_state_t *self = (s_state_t *) *state_p;
    if (self) {
        assert (self->magic == S_MAGIC);
        free (self->root_url);
        free (self->greeting);
        free (self);
        *state_p = NULL;
    }
}

static shic_val_t *
s_manifest (void *state)
{
    s_state_t *self = (s_state_t *) state;
    assert (self->magic == S_MAGIC);
    shic_val_t *manifest = shic_backend_manifest_new ("plugin_example", SHIC_STARTUP_ATTACHED,
                                                      SHIC_MODE_EXTERNALLY_MANAGED);
    shic_val_t *metadata = shic_val_new_map ();
    shic_val_set_str (metadata, "package", "shic_plugin_example");
    if (self->greeting)
        shic_val_set_str (metadata, "greeting", self->greeting);
    shic_val_set (manifest, "metadata", &metadata);
    return manifest;
}

static shic_val_t *
s_startup_plan (void *state, const shic_val_t *spec, bool trusted, shic_error_t *err)
{
    s_state_t *self = (s_state_t *) state;
    const shic_val_t *options = shic_val_get (spec, "backend_options");
    const char *model = shic_val_str (shic_val_get (options, "model_identity"));
    const char *root = shic_val_str (shic_val_get (options, "root_url"));
    if (root && !trusted) {
        shic_error_set_field (err, SHIC_E_FORBIDDEN, "root_url",
                              "root_url may not be set through the gateway");
        return NULL;
    }
    if (!root)
        root = self->root_url;
    if (!model || !root) {
        shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, model? "root_url": "model_identity",
                              "plugin_example needs a root_url and a model_identity");
        return NULL;
    }
    shic_val_t *identity = shic_val_new_map ();
    shic_val_set_str (identity, "root_url", root);
    char *key = shic_instance_key ("plugin_example", model, identity);
    shic_val_destroy (&identity);
    shic_val_t *plan = shic_val_new_map ();
    shic_val_set_str (plan, "instance_key", key);
    free (key);
    shic_val_set_str (plan, "startup_kind", SHIC_STARTUP_ATTACHED);
    shic_val_set_str (plan, "management_mode", SHIC_MODE_EXTERNALLY_MANAGED);
    shic_val_t *template_ = shic_val_new_map ();
    shic_val_set_str (template_, "model_identity", model);
    shic_val_set (template_, "base_url", &(shic_val_t *) { shic_val_new_printf ("%s/v1", root) });
    shic_val_set (plan, "endpoint_template", &template_);
    shic_val_t *metadata = shic_val_new_map ();
    shic_val_set_str (metadata, "root_url", root);
    shic_val_set (plan, "metadata", &metadata);
    return plan;
}

//  GET <root_url>/health; the status, or 0. -1 when ctx->backend is not
//  our state.
static long
s_get_health (shic_instance_ctx_t *ctx)
{
    s_state_t *self = (s_state_t *) ctx->backend;
    if (!self || self->magic != S_MAGIC)
        return -1;
    const char *root = shic_val_str (shic_val_path (ctx->plan, "metadata/root_url"));
    char *url = zsys_sprintf ("%s/health", root? root: "");
    shic_http_result_t result = { 0 };
    shic_http_request ("GET", url, NULL, NULL, 500, &result);
    long status = result.status;
    shic_http_result_reset (&result);
    zstr_free (&url);
    //  Counts the probes in the per-instance state
    if (!ctx->state)
        ctx->state = zmalloc (sizeof (int));
    (*(int *) ctx->state)++;
    return status;
}

static int
s_probe (shic_instance_ctx_t *ctx, shic_val_t **fields_p, shic_error_t *err)
{
    long status = s_get_health (ctx);
    if (status == -1) {
        shic_error_set (err, SHIC_E_INTERNAL, NULL, "plugin_example: not given its own state");
        return SHIC_PROBE_FAILED;
    }
    *fields_p = shic_val_new_map ();
    if (status == 200) {
        shic_val_t *metadata = shic_val_new_map ();
        shic_val_set_int (metadata, "probes", *(int *) ctx->state);
        shic_val_set (*fields_p, "metadata", &metadata);
        return SHIC_PROBE_READY;
    }
    shic_val_set_int (*fields_p, "http_status", status);
    return SHIC_PROBE_PENDING;
}

static int
s_health (shic_instance_ctx_t *ctx, shic_val_t **details_p)
{
    long status = s_get_health (ctx);
    *details_p = shic_val_new_map ();
    shic_val_set_int (*details_p, "http_status", status);
    return status == 200? SHIC_HEALTH_IS_HEALTHY:
           status == 503? SHIC_HEALTH_IS_DEGRADED: SHIC_HEALTH_IS_UNAVAILABLE;
}

static void
s_shutdown (shic_instance_ctx_t *ctx)
{
    s_state_t *self = (s_state_t *) ctx->backend;
    assert (self && self->magic == S_MAGIC);
    free (ctx->state);
    ctx->state = NULL;
}

const shic_backend_ops_t shic_backend_ops = {
    .name = "plugin_example",
    .init = s_init,
    .destroy = s_destroy,
    .manifest = s_manifest,
    .startup_plan = s_startup_plan,
    .probe_readiness = s_probe,
    .health_check = s_health,
    .shutdown = s_shutdown,
};
