/*  =========================================================================
    shic_test_backends - backends of this repository's own, for tests
    =========================================================================
*/

#include "shic_test_backends.h"
#include "shic_http.h"

const char *
shic_test_stand_in (void)
{
    const char *path = getenv ("SHIC_STAND_IN");
#ifdef SHIC_STAND_IN
    if (!path)
        path = SHIC_STAND_IN;
#endif
    return path? path: "shic_stand_in";
}

static shic_val_t *
s_manifest (const char *backend, const char *startup_kind, const char *mode)
{
    shic_val_t *manifest = shic_backend_manifest_new (backend, startup_kind, mode);
    shic_val_t *caps = shic_val_new_map ();
    shic_val_set_bool (caps, "streaming?", true);
    shic_val_set_bool (caps, "tool_calling?", false);
    shic_val_set_str (caps, "embeddings?", SHIC_CAP_UNKNOWN);
    shic_val_set (manifest, "capabilities", &caps);
    return manifest;
}

//  GET url with a short timeout; returns the HTTP status or 0
static long
s_get (const char *url)
{
    shic_http_result_t result = { 0 };
    shic_http_request ("GET", url, NULL, NULL, 500, &result);
    long status = result.status;
    shic_http_result_reset (&result);
    return status;
}

//  --------------------------------------------------------------------------
//  test_spawned

static shic_val_t *
s_spawned_manifest (void *state)
{
    (void) state;
    return s_manifest ("test_spawned", SHIC_STARTUP_SPAWNED, SHIC_MODE_JIDO_MANAGED);
}

//  Options a client may set, and the stand-in flag each becomes
static const char *s_knobs [][2] = {
    { "load_ms", "--load-ms" },
    { "exit_before_ready", "--exit-before-ready" },
    { "crash_after", "--crash-after" },
    { "health_status", "--health-status" },
    { NULL, NULL }
};
static const char *s_flags [][2] = {
    { "never_ready", "--never-ready" },
    { "hang_health", "--hang-health" },
    { "grandchild", "--grandchild" },
    { NULL, NULL }
};
static const char *s_timings [] = {
    "ready_timeout_ms", "readiness_interval_ms", "health_interval_ms",
    "idle_shutdown_ms", "stop_timeout_ms", NULL
};

static shic_val_t *
s_spawned_plan (void *state, const shic_val_t *spec, bool trusted, shic_error_t *err)
{
    (void) state;
    const shic_val_t *options = shic_val_get (spec, "backend_options");
    const char *model = shic_val_str (shic_val_get (options, "model_identity"));
    if (!model || !*model) {
        shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, "model_identity",
                              "test_spawned needs a model_identity");
        return NULL;
    }
    shic_val_t *plan = shic_val_new_map ();
    shic_val_t *identity = shic_val_new_map ();
    shic_val_t *argv = shic_val_new_array ();
    const char *binary = shic_test_stand_in ();
    for (size_t i = 0; i < shic_val_size (options); i++) {
        const char *key = shic_val_key_at (options, i);
        const shic_val_t *value = shic_val_at (options, i);
        if (streq (key, "binary") || streq (key, "args")) {
            if (!trusted) {
                shic_error_set_field (err, SHIC_E_FORBIDDEN, key,
                                      "%s may not be set through the gateway", key);
                goto error;
            }
            if (streq (key, "binary"))
                binary = shic_val_str (value);
        }
        shic_val_set_dup (identity, key, value);
    }
    shic_val_t *item = shic_val_new_str (binary);
    shic_val_push (argv, &item);
    const char *fixed [] = { "--port", "${PORT}", "-a", model, NULL };
    for (int i = 0; fixed [i]; i++) {
        item = shic_val_new_str (fixed [i]);
        shic_val_push (argv, &item);
    }
    for (size_t i = 0; i < shic_val_size (options); i++) {
        const char *key = shic_val_key_at (options, i);
        const shic_val_t *value = shic_val_at (options, i);
        bool known = streq (key, "model_identity") || streq (key, "binary") || streq (key, "args")
                  || streq (key, "poll_only");
        for (int k = 0; s_knobs [k][0]; k++)
            if (streq (key, s_knobs [k][0])) {
                known = true;
                if (shic_val_type (value) != SHIC_VAL_INT) {
                    shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, key,
                                          "%s must be an integer", key);
                    goto error;
                }
                item = shic_val_new_str (s_knobs [k][1]);
                shic_val_push (argv, &item);
                item = shic_val_new_printf ("%lld", (long long) shic_val_int (value));
                shic_val_push (argv, &item);
            }
        for (int k = 0; s_flags [k][0]; k++)
            if (streq (key, s_flags [k][0])) {
                known = true;
                if (shic_val_bool (value)) {
                    item = shic_val_new_str (s_flags [k][1]);
                    shic_val_push (argv, &item);
                }
            }
        for (int k = 0; s_timings [k]; k++)
            if (streq (key, s_timings [k])) {
                known = true;
                shic_val_set_dup (plan, key, value);
            }
        if (streq (key, "args"))
            for (size_t a = 0; a < shic_val_size (value); a++) {
                item = shic_val_dup (shic_val_at (value, a));
                shic_val_push (argv, &item);
            }
        if (!known) {
            shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, key,
                                  "test_spawned has no option '%s'", key);
            goto error;
        }
    }
    char *key = shic_instance_key ("test_spawned", model, identity);
    shic_val_set_str (plan, "instance_key", key);
    free (key);
    shic_val_set_str (plan, "startup_kind", SHIC_STARTUP_SPAWNED);
    shic_val_set_str (plan, "management_mode", SHIC_MODE_JIDO_MANAGED);
    shic_val_t *transport = shic_val_new_map ();
    shic_val_set (transport, "argv", &argv);
    //  poll_only: readiness seen by polling alone
    if (!shic_val_bool (shic_val_get (options, "poll_only")))
        shic_val_set_str (transport, "ready_pattern", "server is listening on http://");
    shic_val_set (plan, "transport", &transport);
    shic_val_t *template_ = shic_val_new_map ();
    shic_val_set_str (template_, "model_identity", model);
    shic_val_set (plan, "endpoint_template", &template_);
    shic_val_destroy (&identity);
    return plan;
error:
    shic_val_destroy (&identity);
    shic_val_destroy (&argv);
    shic_val_destroy (&plan);
    return NULL;
}

static int
s_spawned_line (shic_instance_ctx_t *ctx, int stream, const char *line)
{
    (void) stream;
    const char *marker = "HTTP server is listening, hostname: ";
    const char *at = strstr (line, marker);
    if (at) {
        const char *port = strstr (at, "port: ");
        if (port)
            ctx->port = atoi (port + 6);
    }
    return 0;
}

static int
s_spawned_probe (shic_instance_ctx_t *ctx, shic_val_t **fields_p, shic_error_t *err)
{
    (void) err;
    if (ctx->port <= 0)
        return SHIC_PROBE_PENDING;
    char url [128];
    snprintf (url, sizeof (url), "http://127.0.0.1:%d/health", ctx->port);
    long status = s_get (url);
    if (status == 200) {
        *fields_p = shic_val_new_map ();
        shic_val_set (*fields_p, "base_url",
                      &(shic_val_t *) { shic_val_new_printf ("http://127.0.0.1:%d/v1", ctx->port) });
        shic_val_set_str (*fields_p, "health_ref", url);
        return SHIC_PROBE_READY;
    }
    *fields_p = shic_val_new_map ();
    shic_val_set_int (*fields_p, "http_status", status);
    return SHIC_PROBE_PENDING;
}

static int
s_spawned_health (shic_instance_ctx_t *ctx, shic_val_t **details_p)
{
    char url [128];
    snprintf (url, sizeof (url), "http://127.0.0.1:%d/health", ctx->port);
    long status = s_get (url);
    *details_p = shic_val_new_map ();
    shic_val_set_int (*details_p, "http_status", status);
    return status == 200? SHIC_HEALTH_IS_HEALTHY:
           status == 503? SHIC_HEALTH_IS_DEGRADED: SHIC_HEALTH_IS_UNAVAILABLE;
}

const shic_backend_ops_t shic_test_spawned_ops = {
    .name = "test_spawned",
    .manifest = s_spawned_manifest,
    .startup_plan = s_spawned_plan,
    .probe_readiness = s_spawned_probe,
    .health_check = s_spawned_health,
    .on_output_line = s_spawned_line,
};

//  --------------------------------------------------------------------------
//  test_attached

static shic_val_t *
s_attached_manifest (void *state)
{
    (void) state;
    return s_manifest ("test_attached", SHIC_STARTUP_ATTACHED, SHIC_MODE_EXTERNALLY_MANAGED);
}

static shic_val_t *
s_attached_plan (void *state, const shic_val_t *spec, bool trusted, shic_error_t *err)
{
    (void) state;
    (void) trusted;
    const shic_val_t *options = shic_val_get (spec, "backend_options");
    const char *model = shic_val_str (shic_val_get (options, "model_identity"));
    const char *root = shic_val_str (shic_val_get (options, "root_url"));
    if (!model || !root) {
        shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, model? "root_url": "model_identity",
                              "test_attached needs root_url and model_identity");
        return NULL;
    }
    //  A test backend reaches loopback only: no name is ever resolved (the
    //  gateway fuzzer's mangled URLs would send DNS queries, whose resolver
    //  threads outlive the run)
    if (strncmp (root, "http://127.0.0.1:", 17) != 0) {
        shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, "root_url",
                              "test_attached reaches http://127.0.0.1:PORT only");
        return NULL;
    }
    shic_val_t *identity = shic_val_new_map ();
    shic_val_set_str (identity, "root_url", root);
    shic_val_t *plan = shic_val_new_map ();
    char *key = shic_instance_key ("test_attached", model, identity);
    shic_val_destroy (&identity);
    shic_val_set_str (plan, "instance_key", key);
    free (key);
    shic_val_set_str (plan, "startup_kind", SHIC_STARTUP_ATTACHED);
    shic_val_set_str (plan, "management_mode", SHIC_MODE_EXTERNALLY_MANAGED);
    for (int k = 0; s_timings [k]; k++)
        if (shic_val_get (options, s_timings [k]))
            shic_val_set_dup (plan, s_timings [k], shic_val_get (options, s_timings [k]));
    shic_val_t *template_ = shic_val_new_map ();
    shic_val_set_str (template_, "model_identity", model);
    shic_val_set (template_, "base_url", &(shic_val_t *) { shic_val_new_printf ("%s/v1", root) });
    shic_val_set_str (template_, "source_runtime_ref", root);
    shic_val_set (plan, "endpoint_template", &template_);
    shic_val_t *metadata = shic_val_new_map ();
    shic_val_set_str (metadata, "root_url", root);
    shic_val_set (plan, "metadata", &metadata);
    return plan;
}

static long
s_attached_get_health (shic_instance_ctx_t *ctx)
{
    const char *root = shic_val_str (shic_val_path (ctx->plan, "metadata/root_url"));
    char url [512];
    snprintf (url, sizeof (url), "%s/health", root? root: "");
    return s_get (url);
}

static int
s_attached_probe (shic_instance_ctx_t *ctx, shic_val_t **fields_p, shic_error_t *err)
{
    (void) err;
    long status = s_attached_get_health (ctx);
    if (status == 200)
        return SHIC_PROBE_READY;
    *fields_p = shic_val_new_map ();
    shic_val_set_int (*fields_p, "http_status", status);
    shic_val_set_str (*fields_p, "seen", status? "not ready": "unreachable");
    return SHIC_PROBE_PENDING;
}

static int
s_attached_health (shic_instance_ctx_t *ctx, shic_val_t **details_p)
{
    long status = s_attached_get_health (ctx);
    *details_p = shic_val_new_map ();
    shic_val_set_int (*details_p, "http_status", status);
    return status == 200? SHIC_HEALTH_IS_HEALTHY:
           status == 503? SHIC_HEALTH_IS_DEGRADED: SHIC_HEALTH_IS_UNAVAILABLE;
}

const shic_backend_ops_t shic_test_attached_ops = {
    .name = "test_attached",
    .manifest = s_attached_manifest,
    .startup_plan = s_attached_plan,
    .probe_readiness = s_attached_probe,
    .health_check = s_attached_health,
};

//  --------------------------------------------------------------------------
//  test_liar: plan fields come from the options; the manifest declares
//  spawned (test_liar) or nothing (test_liar_nil), and jido_managed only

static shic_val_t *
s_liar_manifest (void *state)
{
    (void) state;
    return s_manifest ("test_liar", SHIC_STARTUP_SPAWNED, SHIC_MODE_JIDO_MANAGED);
}

static shic_val_t *
s_liar_nil_manifest (void *state)
{
    (void) state;
    return s_manifest ("test_liar_nil", NULL, SHIC_MODE_JIDO_MANAGED);
}

static shic_val_t *
s_liar_plan (void *state, const shic_val_t *spec, bool trusted, shic_error_t *err)
{
    (void) state;
    (void) trusted;
    (void) err;
    const shic_val_t *options = shic_val_get (spec, "backend_options");
    shic_val_t *plan = shic_val_new_map ();
    shic_val_set_str (plan, "instance_key", "test_liar:x");
    const char *kind = shic_val_str (shic_val_get (options, "plan_startup_kind"));
    const char *mode = shic_val_str (shic_val_get (options, "plan_mode"));
    shic_val_set_str (plan, "startup_kind", kind? kind: SHIC_STARTUP_SPAWNED);
    shic_val_set_str (plan, "management_mode", mode? mode: SHIC_MODE_JIDO_MANAGED);
    if (!shic_val_bool (shic_val_get (options, "no_transport"))) {
        shic_val_t *transport = shic_val_new_map ();
        shic_val_t *argv = shic_val_new_strings ("/bin/true", NULL);
        shic_val_set (transport, "argv", &argv);
        const char *surface = shic_val_str (shic_val_get (options, "surface"));
        if (surface)
            shic_val_set_str (transport, "execution_surface", surface);
        shic_val_set (plan, "transport", &transport);
    }
    return plan;
}

const shic_backend_ops_t shic_test_liar_ops = {
    .name = "test_liar",
    .manifest = s_liar_manifest,
    .startup_plan = s_liar_plan,
};

const shic_backend_ops_t shic_test_liar_nil_ops = {
    .name = "test_liar_nil",
    .manifest = s_liar_nil_manifest,
    .startup_plan = s_liar_plan,
};
