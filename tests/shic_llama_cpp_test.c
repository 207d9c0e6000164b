/*  =========================================================================
    shic_llama_cpp_test - the llama.cpp backend, alone and in a runtime

    shic_llama_cpp_test calls the ops directly (configuration, manifest,
    plans, trust, log lines), then runs the backend in a runtime against
    the stand-in llama-server. shic_llama_cpp_live_test does the same
    against a real llama-server when SHIC_LLAMA_SERVER and SHIC_TEST_MODEL
    are set.
    =========================================================================
*/

#include "shic.h"
#include <netinet/in.h>
#include <sys/socket.h>
#include "shic_http.h"
#include "shic_llama_cpp.h"
#include "shic_test_backends.h"
#include "shic_test_util.h"

void shic_llama_cpp_test (bool verbose);
void shic_llama_cpp_live_test (bool verbose);

//  --------------------------------------------------------------------------
//  Helpers

static const shic_backend_ops_t *ops = &shic_llama_cpp_ops;

#define S_KEY "sekrit-key-123"

static const char *s_config_text =
    "binary = /opt/llama/llama-server\n"
    "api_key = " S_KEY "\n"
    "ctx_size = 1024\n"
    "extra_args = \"--no-webui --metrics\"\n"
    "ready_timeout_ms = 60000\n"
    "env\n"
    "    OMP_NUM_THREADS = 2\n"
    "models\n"
    "    tiny = /models/tiny.gguf\n"
    "    big\n"
    "        path = /models/big.gguf\n"
    "        alias = big-chat\n"
    "        threads = 4\n"
    "        gpu_layers = all\n"
    "        flash_attn = on\n"
    "        jinja = true\n"
    "        extra_args = \"--pooling mean\"\n";

//  Inits the backend from configuration text (NULL = no configuration);
//  returns the init rc, the state in *state_p
static int
s_init (const char *text, void **state_p, shic_error_t *err)
{
    zconfig_t *config = text? zconfig_str_load (text): NULL;
    assert (!text || config);
    int rc = ops->init (config, state_p, err);
    zconfig_destroy (&config);
    return rc;
}

//  A plan for options (JSON) as a normalized spec would carry them
static shic_val_t *
s_plan (void *state, const char *options_json, bool trusted, shic_error_t *err)
{
    shic_val_t *spec = shic_val_new_map ();
    shic_val_set_str (spec, "backend", "llama_cpp");
    shic_val_t *options = shic_val_from_json (options_json);
    assert (options);
    shic_val_set (spec, "backend_options", &options);
    shic_error_clear (err);
    shic_val_t *plan = ops->startup_plan (state, spec, trusted, err);
    shic_val_destroy (&spec);
    assert (plan || err->code);
    return plan;
}

//  The instance key of a plan that must succeed; fresh
static char *
s_key (void *state, const char *options_json, bool trusted)
{
    shic_error_t err = { 0 };
    shic_val_t *plan = s_plan (state, options_json, trusted, &err);
    if (!plan)
        fprintf (stderr, "plan %s failed: %s %s\n", options_json, err.code, err.message);
    assert (plan);
    char *key = strdup (shic_val_str (shic_val_get (plan, "instance_key")));
    shic_val_destroy (&plan);
    return key;
}

//  Asserts that a plan fails with code and details.field
static void
s_plan_fails (void *state, const char *options_json, bool trusted,
              const char *code, const char *field)
{
    shic_error_t err = { 0 };
    shic_val_t *plan = s_plan (state, options_json, trusted, &err);
    const char *got = shic_val_str (shic_val_get (err.details, "field"));
    if (plan || !streq (err.code, code) || !got || !streq (got, field)) {
        fprintf (stderr, "plan %s: expected %s {field: %s}, got %s {field: %s}\n",
                 options_json, code, field, plan? "a plan": err.code, got? got: "-");
        assert (false);
    }
    shic_error_clear (&err);
}

//  Asserts the JSON rendering of val at path
static void
s_json_is (const shic_val_t *val, const char *path, const char *expected)
{
    char *json = shic_val_to_json (shic_val_path (val, path));
    if (!streq (json, expected)) {
        fprintf (stderr, "%s: expected %s\n          got %s\n", path, expected, json);
        assert (false);
    }
    free (json);
}

static const char *
s_str (const shic_val_t *val, const char *path)
{
    const char *str = shic_val_str (shic_val_path (val, path));
    return str? str: "";
}

static bool
s_ends_with (const char *text, const char *suffix)
{
    size_t length = strlen (text), suffix_length = strlen (suffix);
    return length >= suffix_length && streq (text + length - suffix_length, suffix);
}

//  --------------------------------------------------------------------------
//  The ops alone

static void
s_test_config (void)
{
    //  No configuration: defaults, no models
    void *state = NULL;
    shic_error_t err = { 0 };
    assert (s_init (NULL, &state, &err) == 0);
    shic_val_t *manifest = ops->manifest (state);
    shic_val_t *normal = shic_backend_manifest_normalize (manifest, &err);
    assert (normal);
    assert (streq (s_str (normal, "backend"), "llama_cpp"));
    assert (streq (ops->name, "llama_cpp"));
    assert (streq (s_str (normal, "runtime_kind"), "service"));
    assert (streq (s_str (normal, "startup_kind"), "spawned"));
    s_json_is (normal, "management_modes", "[\"jido_managed\"]");
    s_json_is (normal, "protocols", "[\"openai_chat_completions\"]");
    s_json_is (normal, "supported_surfaces", "[\"local_subprocess\"]");
    assert (shic_val_bool (shic_val_get (shic_val_get (normal, "capabilities"), "streaming?")));
    assert (streq (s_str (shic_val_get (normal, "capabilities"), "tool_calling?"), "unknown"));
    const shic_val_t *embeddings = shic_val_get (shic_val_get (normal, "capabilities"), "embeddings?");
    assert (shic_val_type (embeddings) == SHIC_VAL_BOOL && !shic_val_bool (embeddings));
    assert (streq (s_str (normal, "metadata/binary"), "llama-server"));
    shic_val_destroy (&normal);
    shic_val_destroy (&manifest);
    //  No model configured: the message says so
    shic_val_t *plan = s_plan (state, "{\"model_identity\":\"tiny\"}", false, &err);
    assert (!plan && streq (err.code, SHIC_E_INVALID_BACKEND_OPTIONS));
    assert (strstr (err.message, "none"));
    shic_error_clear (&err);
    ops->destroy (&state);
    assert (state == NULL);

    //  Bad configurations fail init with a reason
    const char *bad [] = {
        "host = /tmp/llama.sock\n",
        "host = unix:/tmp/x\n",
        "port_range = 9000-9100\n",
        "bogus = 1\n",
        "port = 8080\n",
        "ctx_size = lots\n",
        "parallel = 0\n",
        "embeddings = maybe\n",
        "api_key = \"two words\"\n",
        "models\n    nopath\n        ctx_size = 5\n",
        "models\n    tiny = /m.gguf\n    bad\n        path = /x.gguf\n        wat = 1\n",
        NULL
    };
    for (int i = 0; bad [i]; i++) {
        state = NULL;
        if (s_init (bad [i], &state, &err) != -1 || !err.message) {
            fprintf (stderr, "configuration should fail: %s", bad [i]);
            assert (false);
        }
        assert (state == NULL);
        shic_error_clear (&err);
    }
}

static void
s_test_plans (void)
{
    void *state = NULL;
    shic_error_t err = { 0 };
    assert (s_init (s_config_text, &state, &err) == 0);
    shic_val_t *manifest = ops->manifest (state);
    assert (streq (s_str (manifest, "metadata/binary"), "/opt/llama/llama-server"));
    shic_val_destroy (&manifest);

    //  A configured model, network client: argv in order, ${PORT}, key
    shic_val_t *plan = s_plan (state, "{\"model_identity\":\"tiny\"}", false, &err);
    assert (plan);
    s_json_is (plan, "transport/argv",
               "[\"/opt/llama/llama-server\",\"-m\",\"/models/tiny.gguf\",\"-a\",\"tiny\","
               "\"--host\",\"127.0.0.1\",\"--port\",\"${PORT}\",\"-c\",\"1024\",\"-np\",\"1\","
               "\"-ngl\",\"0\",\"-dev\",\"none\","
               "\"--api-key\",\"" S_KEY "\",\"--no-webui\",\"--metrics\"]");
    //  What placement reads: the pool, the file and the settings
    s_json_is (plan, "resources", "{\"pool\":\"ram\",\"model_path\":\"/models/tiny.gguf\","
               "\"ctx_size\":1024,\"parallel\":1,\"gpu_layers\":0}");
    s_json_is (plan, "transport/env", "{\"OMP_NUM_THREADS\":\"2\"}");
    assert (streq (s_str (plan, "transport/ready_pattern"), "server is listening on http://"));
    assert (streq (s_str (plan, "startup_kind"), "spawned"));
    assert (streq (s_str (plan, "management_mode"), "jido_managed"));
    const char *key = s_str (plan, "instance_key");
    assert (strncmp (key, "llama_cpp:tiny:", 15) == 0 && !strstr (key, S_KEY));
    assert (streq (s_str (plan, "endpoint_template/headers/authorization"), "Bearer " S_KEY));
    assert (streq (s_str (plan, "endpoint_template/model_identity"), "tiny"));
    assert (streq (s_str (plan, "endpoint_template/provider_identity"), "llama_cpp"));
    assert (streq (s_str (plan, "endpoint_template/source_runtime"), "llama_cpp"));
    assert (streq (s_str (plan, "metadata/model"), "tiny"));
    assert (streq (s_str (plan, "metadata/model_path"), "/models/tiny.gguf"));
    //  The key is in argv and the header only
    char *json = shic_val_to_json (shic_val_get (plan, "metadata"));
    assert (!strstr (json, S_KEY));
    free (json);
    //  The plan normalizes and is truthful
    shic_val_t *normal = shic_startup_plan_normalize (plan, &err);
    assert (normal);
    shic_val_t *spec_in = shic_val_from_json ("{\"backend\":\"llama_cpp\"}");
    shic_val_t *spec = shic_instance_spec_normalize (spec_in, &err);
    shic_val_t *raw = ops->manifest (state);
    manifest = shic_backend_manifest_normalize (raw, &err);
    shic_val_destroy (&raw);
    assert (spec && manifest);
    assert (shic_truthfulness_check (spec, normal, manifest) == NULL);
    shic_val_destroy (&spec_in);
    shic_val_destroy (&spec);
    shic_val_destroy (&manifest);
    shic_val_destroy (&normal);
    shic_val_destroy (&plan);

    //  A model section: knobs in table order, model args after the backend's
    plan = s_plan (state, "{\"model_identity\":\"big\",\"embeddings\":true,\"ready_timeout_ms\":5000}",
                   true, &err);
    assert (plan);
    s_json_is (plan, "transport/argv",
               "[\"/opt/llama/llama-server\",\"-m\",\"/models/big.gguf\",\"-a\",\"big-chat\","
               "\"--host\",\"127.0.0.1\",\"--port\",\"${PORT}\",\"-c\",\"1024\",\"-np\",\"1\","
               "\"-t\",\"4\",\"-ngl\",\"all\",\"-fa\",\"on\",\"--embeddings\",\"--jinja\","
               "\"-dev\",\"CUDA0\","
               "\"--api-key\",\"" S_KEY "\",\"--no-webui\",\"--metrics\",\"--pooling\",\"mean\"]");
    assert (streq (s_str (plan, "endpoint_template/model_identity"), "big-chat"));
    assert (shic_val_int (shic_val_get (plan, "ready_timeout_ms")) == 5000);
    assert (shic_val_bool (shic_val_path (plan, "endpoint_template/capabilities/embeddings?")));
    shic_val_destroy (&plan);

    //  Determinism: same spec, same key; a launch knob changes it; timings,
    //  metadata and nil options do not
    char *base = s_key (state, "{\"model_identity\":\"tiny\"}", false);
    char *again = s_key (state, "{\"model_identity\":\"tiny\"}", false);
    char *timed = s_key (state, "{\"model_identity\":\"tiny\",\"ready_timeout_ms\":1,"
                                "\"idle_shutdown_ms\":5,\"alias\":null}", true);
    char *ctx = s_key (state, "{\"model_identity\":\"tiny\",\"ctx_size\":2048}", false);
    char *ctx_boot = s_key (state, "{\"model_identity\":\"tiny\",\"boot_spec\":{\"ctx_size\":2048}}",
                            false);
    char *same_ctx = s_key (state, "{\"model_identity\":\"tiny\",\"ctx_size\":1024}", false);
    char *keyed = s_key (state, "{\"model_identity\":\"tiny\",\"api_key\":\"other\"}", true);
    char *ported = s_key (state, "{\"model_identity\":\"tiny\",\"port\":18080}", true);
    assert (streq (base, again) && streq (base, timed) && streq (base, same_ctx));
    assert (!streq (base, ctx) && streq (ctx, ctx_boot));
    assert (!streq (base, keyed) && !streq (base, ported));
    free (base); free (again); free (timed); free (ctx);
    free (ctx_boot); free (same_ctx); free (keyed); free (ported);
    shic_val_t *spec_meta = shic_val_from_json (
        "{\"backend\":\"llama_cpp\",\"metadata\":{\"request_id\":\"r1\"},"
        "\"backend_options\":{\"model_identity\":\"tiny\"}}");
    plan = ops->startup_plan (state, spec_meta, false, &err);
    shic_val_t *plan2 = s_plan (state, "{\"model_identity\":\"tiny\"}", false, &err);
    assert (plan && plan2);
    assert (streq (s_str (plan, "instance_key"), s_str (plan2, "instance_key")));
    shic_val_destroy (&plan);
    shic_val_destroy (&plan2);
    shic_val_destroy (&spec_meta);

    //  Unknown or missing models list what is configured
    plan = s_plan (state, "{\"model_identity\":\"huge\"}", false, &err);
    assert (!plan && streq (err.code, SHIC_E_INVALID_BACKEND_OPTIONS));
    assert (streq (shic_val_str (shic_val_get (err.details, "field")), "model_identity"));
    assert (strstr (err.message, "tiny") && strstr (err.message, "big"));
    shic_error_clear (&err);
    s_plan_fails (state, "{}", false, SHIC_E_INVALID_BACKEND_OPTIONS, "model_identity");
    s_plan_fails (state, "{\"model_identity\":7}", true, SHIC_E_INVALID_BACKEND_OPTIONS,
                  "model_identity");

    //  Network clients choose knobs only
    const char *forbidden [][2] = {
        { "{\"model_identity\":\"tiny\",\"binary\":\"/bin/sh\"}", "binary" },
        { "{\"model_identity\":\"tiny\",\"model_path\":\"/etc/passwd\"}", "model_path" },
        { "{\"model_identity\":\"tiny\",\"extra_args\":[\"--x\"]}", "extra_args" },
        { "{\"model_identity\":\"tiny\",\"args\":[\"--x\"]}", "args" },
        { "{\"model_identity\":\"tiny\",\"launcher_args\":[\"nice\"]}", "launcher_args" },
        { "{\"model_identity\":\"tiny\",\"env\":{\"A\":\"1\"}}", "env" },
        { "{\"model_identity\":\"tiny\",\"api_key\":\"k\"}", "api_key" },
        { "{\"model_identity\":\"tiny\",\"api_key_file\":\"/etc/passwd\"}", "api_key_file" },
        { "{\"model_identity\":\"tiny\",\"host\":\"0.0.0.0\"}", "host" },
        { "{\"model_identity\":\"tiny\",\"port\":8080}", "port" },
        { "{\"model_identity\":\"tiny\",\"stop_timeout_ms\":1}", "stop_timeout_ms" },
        //  Timings hold for every holder of the shared instance
        { "{\"model_identity\":\"tiny\",\"ready_timeout_ms\":1}", "ready_timeout_ms" },
        { "{\"model_identity\":\"tiny\",\"idle_shutdown_ms\":0}", "idle_shutdown_ms" },
        { "{\"model_identity\":\"tiny\",\"boot_spec\":{\"model_path\":\"/x.gguf\"}}",
          "boot_spec.model_path" },
        { "{\"model_identity\":\"tiny\",\"boot_spec\":{\"binary\":\"/bin/sh\"}}", "boot_spec.binary" },
        { NULL, NULL }
    };
    for (int i = 0; forbidden [i][0]; i++)
        s_plan_fails (state, forbidden [i][0], false, SHIC_E_FORBIDDEN, forbidden [i][1]);

    //  Unknown options and bad values
    const char *invalid [][2] = {
        { "{\"model_identity\":\"tiny\",\"bogus\":1}", "bogus" },
        { "{\"model_identity\":\"tiny\",\"boot_spec\":{\"bogus\":1}}", "boot_spec.bogus" },
        { "{\"model_identity\":\"tiny\",\"boot_spec\":5}", "boot_spec" },
        { "{\"model_identity\":\"tiny\",\"ctx_size\":\"big\"}", "ctx_size" },
        { "{\"model_identity\":\"tiny\",\"ctx_size\":-1}", "ctx_size" },
        { "{\"model_identity\":\"tiny\",\"ctx_size\":2048.5}", "ctx_size" },
        { "{\"model_identity\":\"tiny\",\"ctx_size\":1048577}", "ctx_size" },
        { "{\"model_identity\":\"tiny\",\"ctx_size\":2147483647}", "ctx_size" },
        { "{\"model_identity\":\"tiny\",\"parallel\":0}", "parallel" },
        { "{\"model_identity\":\"tiny\",\"threads\":0}", "threads" },
        { "{\"model_identity\":\"tiny\",\"threads_batch\":100000}", "threads_batch" },
        { "{\"model_identity\":\"tiny\",\"gpu_layers\":\"most\"}", "gpu_layers" },
        { "{\"model_identity\":\"tiny\",\"embeddings\":1}", "embeddings" },
        { "{\"model_identity\":\"tiny\",\"jinja\":\"yes\"}", "jinja" },
        { "{\"model_identity\":\"tiny\",\"flash_attn\":\"sometimes\"}", "flash_attn" },
        { "{\"model_identity\":\"tiny\",\"alias\":\"\"}", "alias" },
        { NULL, NULL }
    };
    for (int i = 0; invalid [i][0]; i++)
        s_plan_fails (state, invalid [i][0], false, SHIC_E_INVALID_BACKEND_OPTIONS, invalid [i][1]);
    const char *invalid_trusted [][2] = {
        { "{\"model_identity\":\"tiny\",\"extra_args\":[1]}", "extra_args" },
        { "{\"model_identity\":\"tiny\",\"extra_args\":\"--x\"}", "extra_args" },
        { "{\"model_identity\":\"tiny\",\"env\":{\"A=B\":\"1\"}}", "env" },
        { "{\"model_identity\":\"tiny\",\"env\":{\"A\":1}}", "env" },
        { "{\"model_identity\":\"tiny\",\"host\":\"/tmp/llama.sock\"}", "host" },
        { "{\"model_identity\":\"tiny\",\"api_key\":\"a\\r\\nX-Evil: 1\"}", "api_key" },
        { "{\"model_identity\":\"tiny\",\"port\":70000}", "port" },
        { "{\"model_identity\":\"tiny\",\"binary\":\"\"}", "binary" },
        { "{\"boot_spec\":{\"model_path\":5}}", "boot_spec.model_path" },
        { "{\"model_identity\":\"tiny\",\"ready_timeout_ms\":0}", "ready_timeout_ms" },
        { "{\"model_identity\":\"tiny\",\"idle_shutdown_ms\":-5}", "idle_shutdown_ms" },
        //  Every duration has its range: a clock plus it never overflows
        { "{\"model_identity\":\"tiny\",\"ready_timeout_ms\":9223372036854775807}",
          "ready_timeout_ms" },
        { "{\"model_identity\":\"tiny\",\"idle_shutdown_ms\":1099511627777}", "idle_shutdown_ms" },
        { "{\"model_identity\":\"tiny\",\"stop_timeout_ms\":2147483648}", "stop_timeout_ms" },
        { NULL, NULL }
    };
    for (int i = 0; invalid_trusted [i][0]; i++)
        s_plan_fails (state, invalid_trusted [i][0], true, SHIC_E_INVALID_BACKEND_OPTIONS,
                      invalid_trusted [i][1]);

    //  The embedding host may pass a whole boot spec, for an unconfigured
    //  model too (named after its file)
    plan = s_plan (state, "{\"boot_spec\":{\"model\":\"/srv/models/qwen-0.5b.gguf\","
                          "\"binary_path\":\"/usr/local/bin/llama-server\",\"args\":[\"--slots\"],"
                          "\"env\":{\"A\":\"1\"},\"launcher_args\":[\"nice\",\"-n\",\"5\"],"
                          "\"host\":\"::1\",\"port\":18080,\"parallel\":2,\"flash_attn\":true,"
                          "\"readiness_interval_ms\":50}}", true, &err);
    assert (plan);
    s_json_is (plan, "transport/argv",
               "[\"nice\",\"-n\",\"5\",\"/usr/local/bin/llama-server\","
               "\"-m\",\"/srv/models/qwen-0.5b.gguf\",\"-a\",\"qwen-0.5b\","
               "\"--host\",\"::1\",\"--port\",\"18080\",\"-c\",\"1024\",\"-np\",\"2\",\"-ngl\",\"0\","
               "\"-fa\",\"-dev\",\"none\","
               "\"--api-key\",\"" S_KEY "\",\"--slots\"]");
    s_json_is (plan, "transport/env", "{\"A\":\"1\"}");
    assert (strncmp (s_str (plan, "instance_key"), "llama_cpp:qwen-0.5b:", 20) == 0);
    assert (shic_val_int (shic_val_get (plan, "readiness_interval_ms")) == 50);
    shic_val_destroy (&plan);
    ops->destroy (&state);
}

static void
s_test_lines (void)
{
    void *state = NULL;
    shic_error_t err = { 0 };
    assert (s_init ("models\n    tiny = /m.gguf\n", &state, &err) == 0);
    shic_val_t *plan = s_plan (state, "{\"model_identity\":\"tiny\"}", false, &err);
    assert (plan);
    //  No api key: no authorization header, no --api-key
    s_json_is (plan, "endpoint_template/headers", "{}");
    char *json = shic_val_to_json (shic_val_path (plan, "transport/argv"));
    assert (!strstr (json, "--api-key"));
    free (json);
    shic_instance_ctx_t ctx = { .instance_id = "llama_cpp:tiny:x", .plan = plan, .backend = state };
    //  Port unknown: pending without a request
    shic_val_t *fields = NULL;
    assert (ops->probe_readiness (&ctx, &fields, &err) == SHIC_PROBE_PENDING);
    assert (fields == NULL);
    assert (ops->on_output_line (&ctx, SHIC_STDERR, "main: loading model") == 0);
    assert (ops->on_output_line (&ctx, SHIC_STDERR,
            "main: HTTP server is listening, hostname: 127.0.0.1, port: 18080, http threads: 3") == 1);
    assert (ctx.port == 18080);
    //  A bound line without a usable port asks for no probe
    ctx.port = 0;
    assert (ops->on_output_line (&ctx, SHIC_STDERR,
            "main: HTTP server is listening, hostname: 127.0.0.1, port: 99999, http threads: 3") == 0);
    assert (ctx.port == 0);
    ctx.port = 18080;
    assert (ops->on_output_line (&ctx, SHIC_STDERR,
            "main: server is listening on http://127.0.0.1:18080 - starting the main loop") == 1);
    //  The ready line alone carries the port too
    ctx.port = 0;
    assert (ops->on_output_line (&ctx, SHIC_STDERR,
            "main: server is listening on http://127.0.0.1:18081 - starting the main loop") == 1);
    assert (ctx.port == 18081);
    assert (ops->on_output_line (&ctx, SHIC_STDERR,
            "main: couldn't bind HTTP server socket, hostname: 127.0.0.1, port: 9") == 0);
    //  The port is learned once: a later bound line, or one of another
    //  prefix (a logged request path), never moves it
    assert (ops->on_output_line (&ctx, SHIC_STDERR,
            "main: HTTP server is listening, hostname: 127.0.0.1, port: 9, http threads: 3") == 1);
    assert (ctx.port == 18081);
    assert (ops->on_output_line (&ctx, SHIC_STDERR,
            "main: server is listening on http://127.0.0.1:9 - starting the main loop") == 1);
    assert (ctx.port == 18081);
    ctx.port = 0;
    assert (ops->on_output_line (&ctx, SHIC_STDERR,
            "srv  log_server_r: request: GET /main: HTTP server is listening, hostname: "
            "127.0.0.1, port: 9 127.0.0.1 404") == 0);
    assert (ops->on_output_line (&ctx, SHIC_STDERR,
            "srv  log_server_r: request: GET /main: server is listening on http://127.0.0.1:9 "
            "127.0.0.1 404") == 1);
    assert (ops->on_output_line (&ctx, SHIC_STDERR,
            "HTTP server is listening, hostname: 127.0.0.1, port: 9, http threads: 3") == 0);
    assert (ctx.port == 0);
    assert (ops->on_output_line (&ctx, SHIC_STDERR, "") == 0);
    //  Nothing listens on a port we just held: pending, unreachable
    //  (a plain socket: a ZeroMQ listener still closing could be reached)
    int holder = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = { 0 };
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    assert (bind (holder, (struct sockaddr *) &address, sizeof (address)) == 0);
    socklen_t size = sizeof (address);
    getsockname (holder, (struct sockaddr *) &address, &size);
    close (holder);
    ctx.port = ntohs (address.sin_port);
    assert (ops->probe_readiness (&ctx, &fields, &err) == SHIC_PROBE_PENDING);
    assert (fields && shic_val_get (fields, "reachable")
            && !shic_val_bool (shic_val_get (fields, "reachable")));
    shic_val_destroy (&fields);
    shic_val_t *details = NULL;
    assert (ops->health_check (&ctx, &details) == SHIC_HEALTH_IS_UNAVAILABLE);
    assert (shic_val_int (shic_val_get (details, "http_status")) == 0);
    shic_val_destroy (&details);
    shic_val_destroy (&plan);
    ops->destroy (&state);
}

//  --------------------------------------------------------------------------
//  In a runtime

//  Starts a runtime with llama_cpp configured by text (kept alive in
//  *config_p: the kernel borrows it)
static shic_runtime_t *
s_runtime (const char *text, zconfig_t **config_p)
{
    shic_runtime_t *runtime = shic_runtime_new (NULL);
    assert (runtime);
    *config_p = zconfig_str_load (text);
    assert (*config_p);
    shic_error_t err = { 0 };
    if (shic_runtime_register (runtime, ops, *config_p, &err)) {
        fprintf (stderr, "register: %s\n", err.message);
        assert (false);
    }
    return runtime;
}

//  GET or POST url with the endpoint's headers; returns the status, the
//  body in *body_p when body_p is not NULL
static long
s_request (const char *method, const char *url, const shic_val_t *endpoint,
           const char *body, int timeout_ms, char **body_p)
{
    const char *authorization = shic_val_str (shic_val_path (endpoint, "headers/authorization"));
    char header [512];
    const char *headers [2] = { NULL, NULL };
    if (authorization) {
        snprintf (header, sizeof (header), "Authorization: %s", authorization);
        headers [0] = header;
    }
    shic_http_result_t result = { 0 };
    shic_http_request (method, url, headers, body, timeout_ms, &result);
    long status = result.status;
    if (body_p)
        *body_p = result.body? strdup (result.body): NULL;
    shic_http_result_reset (&result);
    return status;
}

//  Ensures model on runtime, checks the endpoint answers, and returns the
//  ensure result
static shic_val_t *
s_ensure_checked (shic_client_t *client, const char *model, const char *alias,
                  int64_t wait_ms)
{
    shic_val_t *result = shic_client_ensure (client, "llama_cpp", model, NULL, 0, wait_ms);
    char what [64];
    snprintf (what, sizeof (what), "ensure %s", model);
    shic_test_expect_ok (client, result, what);
    const shic_val_t *endpoint = shic_val_get (result, "endpoint");
    const char *base_url = s_str (endpoint, "base_url");
    assert (strncmp (base_url, "http://127.0.0.1:", 17) == 0 && s_ends_with (base_url, "/v1"));
    assert (streq (s_str (endpoint, "model_identity"), alias));
    assert (streq (s_str (endpoint, "provider_identity"), "llama_cpp"));
    assert (s_ends_with (s_str (endpoint, "health_ref"), "/health"));
    char url [512];
    snprintf (url, sizeof (url), "%s/models", base_url);
    char *body = NULL;
    long status = s_request ("GET", url, endpoint, NULL, 5000, &body);
    assert (status == 200 && body && strstr (body, alias));
    free (body);
    return result;
}

static void
s_test_runtime (bool verbose)
{
    //  Without a key
    char *text = zsys_sprintf ("binary = %s\nctx_size = 512\nmodels\n    tiny = /etc/hostname\n",
                               shic_test_stand_in ());
    zconfig_t *config = NULL;
    shic_runtime_t *runtime = s_runtime (text, &config);
    zstr_free (&text);
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));
    shic_val_t *result = s_ensure_checked (client, "tiny", "tiny", 10000);
    s_json_is (result, "endpoint/headers", "{}");
    char *base_url = strdup (s_str (result, "endpoint/base_url"));
    if (verbose)
        printf ("\n   ready at %s ", base_url);
    //  Same request, same instance
    shic_val_t *again = s_ensure_checked (client, "tiny", "tiny", 10000);
    assert (streq (s_str (result, "instance_id"), s_str (again, "instance_id")));
    shic_val_destroy (&again);
    //  An unknown model is refused before anything starts
    shic_val_t *options = shic_val_from_json ("{}");
    again = shic_client_ensure (client, "llama_cpp", "huge", options, 0, 1000);
    assert (!again && streq (shic_client_error (client)->code, SHIC_E_INVALID_BACKEND_OPTIONS));
    shic_val_destroy (&options);
    shic_val_destroy (&result);
    shic_client_destroy (&client);
    shic_runtime_destroy (&runtime);
    zconfig_destroy (&config);
    //  The server was stopped with the runtime
    char url [512];
    snprintf (url, sizeof (url), "%s/models", base_url);
    assert (s_request ("GET", url, NULL, NULL, 500, NULL) == 0);
    free (base_url);

    //  With a key: the endpoint carries it, the instance id does not
    text = zsys_sprintf ("binary = %s\napi_key = %s\nmodels\n    tiny\n        path = /etc/hostname\n"
                         "        alias = tiny-chat\n", shic_test_stand_in (), S_KEY);
    runtime = s_runtime (text, &config);
    zstr_free (&text);
    client = shic_client_new (shic_runtime_endpoint (runtime));
    result = s_ensure_checked (client, "tiny", "tiny-chat", 10000);
    const shic_val_t *endpoint = shic_val_get (result, "endpoint");
    assert (streq (s_str (endpoint, "headers/authorization"), "Bearer " S_KEY));
    const char *instance_id = s_str (result, "instance_id");
    assert (strncmp (instance_id, "llama_cpp:tiny:", 15) == 0 && !strstr (instance_id, S_KEY));
    //  Snapshots never show the key: header values are redacted there
    shic_val_t *args = shic_val_new_map ();
    shic_val_set_str (args, "instance_id", instance_id);
    shic_val_t *snapshot = shic_client_call (client, "lookup_instance", &args);
    assert (snapshot);
    assert (streq (s_str (snapshot, "endpoint/headers/authorization"), "[redacted]"));
    char *json = shic_val_to_json (snapshot);
    assert (!strstr (json, S_KEY));
    free (json);
    shic_val_destroy (&snapshot);
    //  The server wants the key, and the endpoint's headers carry it
    snprintf (url, sizeof (url), "%s/chat/completions", s_str (endpoint, "base_url"));
    const char *chat = "{\"model\":\"tiny-chat\",\"max_tokens\":4,"
                       "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    assert (s_request ("POST", url, NULL, chat, 5000, NULL) == 401);
    assert (s_request ("POST", url, endpoint, chat, 5000, NULL) == 200);
    assert (shic_client_release (client, s_str (result, "lease/lease_ref")) == 0);
    shic_val_destroy (&result);
    shic_client_destroy (&client);
    shic_runtime_destroy (&runtime);
    zconfig_destroy (&config);

    //  With a key file: the server reads the key from it, so the key is not
    //  in its command line; the endpoint carries it all the same
    char key_path [] = "/tmp/shic-key-XXXXXX";
    int fd = mkstemp (key_path);
    assert (fd >= 0);
    assert (write (fd, S_KEY "\n", strlen (S_KEY) + 1) == (ssize_t) strlen (S_KEY) + 1);
    close (fd);
    text = zsys_sprintf ("binary = %s\napi_key_file = %s\nmodels\n    tiny\n"
                         "        path = /etc/hostname\n        alias = tiny-chat\n",
                         shic_test_stand_in (), key_path);
    runtime = s_runtime (text, &config);
    zstr_free (&text);
    client = shic_client_new (shic_runtime_endpoint (runtime));
    result = s_ensure_checked (client, "tiny", "tiny-chat", 10000);
    endpoint = shic_val_get (result, "endpoint");
    assert (streq (s_str (endpoint, "headers/authorization"), "Bearer " S_KEY));
    args = shic_val_new_map ();
    shic_val_set_str (args, "instance_id", s_str (result, "instance_id"));
    snapshot = shic_client_call (client, "lookup_instance", &args);
    assert (snapshot);
    char cmdline_path [64];
    snprintf (cmdline_path, sizeof (cmdline_path), "/proc/%d/cmdline",
              (int) shic_val_int (shic_val_get (snapshot, "pid")));
    shic_val_destroy (&snapshot);
    FILE *cmdline_file = fopen (cmdline_path, "r");
    assert (cmdline_file);
    char cmdline [4096];
    size_t cmdline_size = fread (cmdline, 1, sizeof (cmdline) - 1, cmdline_file);
    fclose (cmdline_file);
    for (size_t i = 0; i < cmdline_size; i++)
        if (cmdline [i] == 0)
            cmdline [i] = ' ';
    cmdline [cmdline_size] = 0;
    assert (strstr (cmdline, "--api-key-file"));
    assert (!strstr (cmdline, S_KEY));
    snprintf (url, sizeof (url), "%s/chat/completions", s_str (endpoint, "base_url"));
    assert (s_request ("POST", url, NULL, chat, 5000, NULL) == 401);
    assert (s_request ("POST", url, endpoint, chat, 5000, NULL) == 200);
    shic_val_destroy (&result);
    //  A key file that cannot be read is a typed error, nothing starts
    unlink (key_path);
    options = shic_val_from_json ("{\"ctx_size\":512}");
    result = shic_client_ensure (client, "llama_cpp", "tiny", options, 0, 2000);
    shic_val_destroy (&options);
    assert (!result);
    assert (streq (shic_client_error (client)->code, SHIC_E_INVALID_BACKEND_OPTIONS));
    assert (streq (shic_val_str (shic_val_get (shic_client_error (client)->details, "field")),
                   "api_key_file"));
    shic_client_destroy (&client);
    shic_runtime_destroy (&runtime);
    zconfig_destroy (&config);
}

//  What the server logs after ready (llama-server logs request paths, which
//  its HTTP clients choose) never moves the endpoint nor its health checks
static void
s_test_forged_port (void)
{
    char *text = zsys_sprintf ("binary = %s\nhealth_interval_ms = 50\nmodels\n"
                               "    tiny = /etc/hostname\n", shic_test_stand_in ());
    zconfig_t *config = NULL;
    shic_runtime_t *runtime = s_runtime (text, &config);
    zstr_free (&text);
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));
    shic_val_t *options = shic_val_from_json (
        "{\"extra_args\":[\"--echo-after-ready\","
        "\"main: HTTP server is listening, hostname: 127.0.0.1, port: 9, http threads: 1\","
        "\"--echo-after-ready\",\"main: server is listening on http://127.0.0.1:9 - starting "
        "the main loop\",\"--echo-after-ready\",\"srv  log_server_r: request: GET /main: HTTP "
        "server is listening, hostname: 127.0.0.1, port: 9 127.0.0.1 404\"]}");
    shic_val_t *result = shic_client_ensure (client, "llama_cpp", "tiny", options, 0, 10000);
    shic_val_destroy (&options);
    if (!result)
        fprintf (stderr, "ensure: %s\n", shic_client_error (client)->message);
    assert (result);
    char *base_url = strdup (s_str (result, "endpoint/base_url"));
    assert (!strstr (base_url, ":9/"));
    //  Health checks keep going to the learned port: healthy throughout
    //  many rounds, and the published endpoint stays
    for (int round = 0; round < 10; round++) {
        shic_val_t *args = shic_val_new_map ();
        shic_val_set_str (args, "instance_id", s_str (result, "instance_id"));
        shic_val_t *snapshot = shic_client_call (client, "lookup_instance", &args);
        assert (snapshot);
        assert (streq (s_str (snapshot, "health_status"), "healthy"));
        assert (streq (s_str (snapshot, "endpoint/base_url"), base_url));
        shic_val_destroy (&snapshot);
        zclock_sleep (50);
    }
    char url [512];
    snprintf (url, sizeof (url), "%s/models", base_url);
    assert (s_request ("GET", url, NULL, NULL, 5000, NULL) == 200);
    free (base_url);
    shic_val_destroy (&result);
    shic_client_destroy (&client);
    shic_runtime_destroy (&runtime);
    zconfig_destroy (&config);
}

void
shic_llama_cpp_test (bool verbose)
{
    printf (" * shic_llama_cpp: ");
    s_test_config ();
    s_test_plans ();
    s_test_lines ();
    s_test_runtime (verbose);
    s_test_forged_port ();
    printf ("OK\n");
}

//  --------------------------------------------------------------------------
//  Against a real llama-server

void
shic_llama_cpp_live_test (bool verbose)
{
    //  SHIC_LLAMA_SERVER and SHIC_TEST_MODEL, else the real server and a
    //  tiny model of ../shared/llama when they are there
    const char *binary = getenv ("SHIC_LLAMA_SERVER");
    const char *model = getenv ("SHIC_TEST_MODEL");
    char shared_binary [512], shared_model [512];
    snprintf (shared_binary, sizeof (shared_binary), "%s/llama-server", SHIC_LLAMA_DIR);
    snprintf (shared_model, sizeof (shared_model), "%s/tiny-a.gguf", SHIC_LLAMA_DIR);
    if ((!binary || !*binary) && access (shared_binary, X_OK) == 0
    &&  access (shared_model, R_OK) == 0) {
        binary = shared_binary;
        model = shared_model;
    }
    if (!binary || !*binary || !model || !*model) {
        shic_test_skip ("shic_llama_cpp_live",
                        "no llama-server: set SHIC_LLAMA_SERVER and SHIC_TEST_MODEL");
        return;
    }
    printf (" * shic_llama_cpp_live: ");
    char *text = zsys_sprintf ("binary = \"%s\"\napi_key = %s\nctx_size = 512\nthreads = 2\n"
                               "ready_timeout_ms = 120000\nmodels\n    tiny = \"%s\"\n",
                               binary, S_KEY, model);
    zconfig_t *config = NULL;
    shic_runtime_t *runtime = s_runtime (text, &config);
    zstr_free (&text);
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));
    shic_client_set_timeout (client, 20000);
    shic_val_t *result = s_ensure_checked (client, "tiny", "tiny", 125000);
    const shic_val_t *endpoint = shic_val_get (result, "endpoint");
    if (verbose)
        printf ("\n   ready at %s ", s_str (endpoint, "base_url"));
    assert (streq (s_str (endpoint, "headers/authorization"), "Bearer " S_KEY));
    assert (!strstr (s_str (result, "instance_id"), S_KEY));
    char url [512];
    snprintf (url, sizeof (url), "%s/chat/completions", s_str (endpoint, "base_url"));
    char *body = NULL;
    long status = s_request ("POST", url, endpoint,
                             "{\"model\":\"tiny\",\"max_tokens\":4,"
                             "\"messages\":[{\"role\":\"user\",\"content\":\"Say hi\"}]}",
                             60000, &body);
    if (status != 200)
        fprintf (stderr, "chat completion: %ld %s\n", status, body? body: "");
    assert (status == 200 && body && strstr (body, "choices"));
    free (body);
    shic_val_destroy (&result);
    shic_client_destroy (&client);
    shic_runtime_destroy (&runtime);
    zconfig_destroy (&config);
    printf ("OK\n");
}
