/*  =========================================================================
    shic_ollama_test - the Ollama attach backend against the stand-in daemon
    (tests/shic_stand_in_ollama.c), and against a real one when
    SHIC_OLLAMA_URL and SHIC_OLLAMA_MODEL are set

    Waits on events and replies with deadlines, never on sleeps.
    =========================================================================
*/

#include "shic.h"
#include "shic_test_util.h"
#include "shic_proc.h"
#include "shic_http.h"
#include "shic_ollama.h"
#include "shic_ollama_names.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

void shic_ollama_test (bool verbose);
void shic_ollama_live_test (bool verbose);

static const char *
s_stand_in_path (void)
{
    const char *path = getenv ("SHIC_STAND_IN_OLLAMA");
#ifdef SHIC_STAND_IN_OLLAMA
    if (!path)
        path = SHIC_STAND_IN_OLLAMA;
#endif
    return path? path: "shic_stand_in_ollama";
}

//  --------------------------------------------------------------------------
//  Helpers

static const char *
s_str (const shic_val_t *val, const char *path)
{
    const char *str = shic_val_str (shic_val_path (val, path));
    return str? str: "";
}

static shic_val_t *
s_json (const char *text)
{
    shic_val_t *val = shic_val_from_json (text);
    assert (val);
    return val;
}

static void
s_check_str (const char *what, const char *got, const char *expected)
{
    if (!got || !expected || !streq (got, expected)) {
        fprintf (stderr, "%s: expected '%s', got '%s'\n", what,
                 expected? expected: "(null)", got? got: "(null)");
        assert (false);
    }
}

//  The stand-in daemon, started as an independent process
typedef struct {
    shic_proc_t *proc;              //  the process
    int port;                       //  its port
} s_daemon_t;

static void
s_daemon_line (void *arg, int stream, const char *line)
{
    (void) stream;
    s_daemon_t *self = (s_daemon_t *) arg;
    const char *marker = "ollama stand-in listening on port ";
    if (strstr (line, marker))
        self->port = atoi (strstr (line, marker) + strlen (marker));
}

//  Starts the stand-in on port (0 = ephemeral) with flags (NULL-terminated)
static s_daemon_t
s_daemon_start (int port, const char **flags)
{
    s_daemon_t self = { shic_proc_new (), 0 };
    char port_text [16];
    snprintf (port_text, sizeof (port_text), "%d", port);
    char *argv [64];
    int argc = 0;
    argv [argc++] = (char *) s_stand_in_path ();
    argv [argc++] = "--port";
    argv [argc++] = port_text;
    for (int i = 0; flags && flags [i] && argc < 63; i++)
        argv [argc++] = (char *) flags [i];
    argv [argc] = NULL;
    char *error = NULL;
    int rc = shic_proc_start (self.proc, argv, NULL, NULL, &error);
    if (rc != 0)
        fprintf (stderr, "cannot start %s: %s\n", argv [0], error? error: "?");
    assert (rc == 0);
    int64_t deadline = zclock_mono () + 5000;
    while (!self.port && zclock_mono () < deadline) {
        zmq_pollitem_t item = { NULL, shic_proc_stderr_fd (self.proc), ZMQ_POLLIN, 0 };
        zmq_poll (&item, 1, 100);
        shic_proc_read (self.proc, shic_proc_stderr_fd (self.proc), s_daemon_line, &self);
    }
    assert (self.port > 0);
    assert (port == 0 || self.port == port);
    return self;
}

static void
s_daemon_stop (s_daemon_t *self)
{
    shic_proc_stop (self->proc, 1000);
    shic_proc_destroy (&self->proc);
}

//  One request to the daemon from the test, with the required header
static long
s_daemon_call (int port, const char *method, const char *path, const char *body,
               char **answer_p)
{
    char url [128];
    snprintf (url, sizeof (url), "http://127.0.0.1:%d%s", port, path);
    const char *headers [] = { "Authorization: Bearer sekret", NULL };
    shic_http_result_t result = { 0 };
    shic_http_request (method, url, headers, body, 2000, &result);
    long status = result.status;
    if (answer_p)
        *answer_p = result.body? strdup (result.body): NULL;
    shic_http_result_reset (&result);
    return status;
}

//  A runtime with the ollama backend registered with config_text as its
//  section; the section lives in *config_p until the runtime is gone
static shic_runtime_t *
s_runtime (const char *config_text, zconfig_t **config_p)
{
    shic_runtime_t *runtime = shic_runtime_new (NULL);
    assert (runtime);
    *config_p = zconfig_str_load (config_text);
    assert (*config_p);
    shic_error_t err = { 0 };
    int rc = shic_runtime_register (runtime, &shic_ollama_ops,
                                    zconfig_locate (*config_p, "ollama"), &err);
    assert (rc == 0);
    return runtime;
}

static void
s_expect_health (zsock_t *events, const char *instance_id, const char *health)
{
    shic_val_t *event = shic_test_wait_event_for (events, "instance.health", instance_id, health, 5000);
    if (!event) {
        fprintf (stderr, "no instance.health %s for %s\n", health, instance_id);
        assert (false);
    }
    shic_val_destroy (&event);
}

static shic_val_t *
s_ensure (shic_client_t *client, const char *model, const char *options_json, int64_t wait_ms)
{
    shic_val_t *options = options_json? s_json (options_json): NULL;
    shic_val_t *result = shic_client_ensure (client, "ollama", model, options, 0, wait_ms);
    shic_val_destroy (&options);
    return result;
}

static shic_val_t *
s_call_id (shic_client_t *client, const char *op, const char *instance_id)
{
    shic_val_t *args = shic_val_new_map ();
    shic_val_set_str (args, "instance_id", instance_id);
    return shic_client_call (client, op, &args);
}

//  --------------------------------------------------------------------------
//  Unit checks: normalization and plans

static void
s_check_root (const char *text, bool from_env, const char *expected)
{
    char *root = shic_ollama_root_normalize (text, from_env);
    if (expected)
        s_check_str (text, root, expected);
    else
        assert (root == NULL);
    free (root);
}

static void
s_check_model (const char *name, const char *expected)
{
    char *model = shic_ollama_model_normalize (name);
    if (expected)
        s_check_str (name, model, expected);
    else
        assert (model == NULL);
    free (model);
}

//  The plan for options_json, or NULL with err set
static shic_val_t *
s_plan (void *state, const char *options_json, bool trusted, shic_error_t *err)
{
    shic_val_t *spec = shic_val_new_map ();
    shic_val_set_str (spec, "backend", "ollama");
    shic_val_t *options = s_json (options_json);
    shic_val_set (spec, "backend_options", &options);
    shic_val_t *plan = shic_ollama_ops.startup_plan (state, spec, trusted, err);
    shic_val_destroy (&spec);
    return plan;
}

static void
s_plan_fails (void *state, const char *options_json, bool trusted, const char *code,
              const char *field)
{
    shic_error_t err = { 0 };
    shic_val_t *plan = s_plan (state, options_json, trusted, &err);
    if (plan || !err.code || !streq (err.code, code)) {
        fprintf (stderr, "%s: expected %s, got %s\n", options_json, code,
                 plan? "a plan": err.code? err.code: "nothing");
        assert (false);
    }
    s_check_str (options_json, s_str (err.details, "field"), field);
    shic_error_clear (&err);
}

//  The instance key of the plan for options_json (fresh)
static char *
s_key (void *state, const char *options_json, bool trusted)
{
    shic_error_t err = { 0 };
    shic_val_t *plan = s_plan (state, options_json, trusted, &err);
    if (!plan)
        fprintf (stderr, "%s: %s\n", options_json, err.message? err.message: "?");
    assert (plan);
    char *key = strdup (s_str (plan, "instance_key"));
    shic_val_destroy (&plan);
    return key;
}

static void
s_unit_checks (void)
{
    s_check_root ("localhost:11434", false, "http://localhost:11434");
    s_check_root ("http://h:1/v1/", false, "http://h:1");
    s_check_root ("http://h/proxy/ollama/v1", false, "http://h/proxy/ollama");
    s_check_root ("http://h/v1x", false, "http://h/v1x");
    s_check_root ("  HTTPS://h:2//?q=1#frag ", false, "https://h:2");
    s_check_root ("", false, NULL);
    s_check_root ("   ", false, NULL);
    s_check_root ("http://", false, NULL);
    s_check_root ("example.com", true, "http://example.com:11434");
    s_check_root ("example.com", false, "http://example.com");
    s_check_root ("http://example.com", true, "http://example.com");
    s_check_root ("[::1]", true, "http://[::1]:11434");
    s_check_root ("0.0.0.0:9999", true, "http://0.0.0.0:9999");
    s_check_model ("llama3.2", "llama3.2:latest");
    s_check_model (" llama3.2:1b ", "llama3.2:1b");
    s_check_model ("hf.co/user/repo", "hf.co/user/repo:latest");
    s_check_model ("localhost:5000/m", "localhost:5000/m:latest");
    s_check_model (" ", NULL);
    assert (shic_ollama_model_match ("llama3.2", "llama3.2:latest"));
    assert (shic_ollama_model_match ("llama3.2:latest", "llama3.2"));
    assert (!shic_ollama_model_match ("qwen", "qwen:7b"));
    assert (!shic_ollama_model_match ("", ""));

    //  The default root: OLLAMA_HOST, else the standard one
    char *saved = getenv ("OLLAMA_HOST")? strdup (getenv ("OLLAMA_HOST")): NULL;
    setenv ("OLLAMA_HOST", "10.0.0.5", 1);
    char *root = shic_ollama_default_root ();
    s_check_str ("OLLAMA_HOST", root, "http://10.0.0.5:11434");
    free (root);
    void *state = NULL;
    shic_error_t err = { 0 };
    assert (shic_ollama_ops.init (NULL, &state, &err) == 0);
    shic_val_t *plan = s_plan (state, "{\"model_identity\":\"m\"}", true, &err);
    assert (plan);
    s_check_str ("env base_url", s_str (plan, "endpoint_template/base_url"), "http://10.0.0.5:11434/v1");
    shic_val_destroy (&plan);
    shic_ollama_ops.destroy (&state);
    unsetenv ("OLLAMA_HOST");
    root = shic_ollama_default_root ();
    s_check_str ("default root", root, SHIC_OLLAMA_DEFAULT_ROOT);
    free (root);
    if (saved)
        setenv ("OLLAMA_HOST", saved, 1);
    free (saved);

    //  A configured backend
    zconfig_t *config = zconfig_str_load ("ollama\n    root_url = \"http://cfg:1/v1/\"\n"
                                          "    api_key = \" sekret \"\n    headers\n"
                                          "        X-Proxy-Token = \"tok\"\n");
    assert (shic_ollama_ops.init (zconfig_locate (config, "ollama"), &state, &err) == 0);
    shic_val_t *manifest = shic_ollama_ops.manifest (state);
    shic_val_t *normal = shic_backend_manifest_normalize (manifest, &err);
    assert (normal);
    s_check_str ("manifest startup_kind", s_str (normal, "startup_kind"), SHIC_STARTUP_ATTACHED);
    assert (shic_val_contains_str (shic_val_get (normal, "management_modes"), SHIC_MODE_EXTERNALLY_MANAGED));
    shic_val_destroy (&normal);
    shic_val_destroy (&manifest);

    plan = s_plan (state, "{\"model_identity\":\" llama3.2 \"}", false, &err);
    assert (plan);
    assert (shic_val_get (plan, "transport") == NULL);
    s_check_str ("startup_kind", s_str (plan, "startup_kind"), SHIC_STARTUP_ATTACHED);
    s_check_str ("management_mode", s_str (plan, "management_mode"), SHIC_MODE_EXTERNALLY_MANAGED);
    s_check_str ("base_url", s_str (plan, "endpoint_template/base_url"), "http://cfg:1/v1");
    s_check_str ("model_identity", s_str (plan, "endpoint_template/model_identity"), "llama3.2");
    s_check_str ("provider_identity", s_str (plan, "endpoint_template/provider_identity"), "ollama");
    s_check_str ("source_runtime", s_str (plan, "endpoint_template/source_runtime"), "ollama");
    s_check_str ("source_runtime_ref", s_str (plan, "endpoint_template/source_runtime_ref"), "http://cfg:1");
    s_check_str ("health_ref", s_str (plan, "endpoint_template/health_ref"), "http://cfg:1/api/version");
    s_check_str ("authorization", s_str (plan, "endpoint_template/headers/authorization"), "Bearer sekret");
    s_check_str ("x-proxy-token", s_str (plan, "endpoint_template/headers/x-proxy-token"), "tok");
    s_check_str ("metadata root", s_str (plan, "metadata/root_url"), "http://cfg:1");
    const char *key = s_str (plan, "instance_key");
    assert (strncmp (key, "ollama:llama3.2:latest:", 23) == 0);
    assert (!strstr (key, "sekret") && !strstr (key, "tok"));
    char *text = shic_val_to_json (shic_val_get (plan, "metadata"));
    assert (!strstr (text, "sekret") && !strstr (text, "tok"));
    free (text);
    shic_val_destroy (&plan);

    //  Same model with or without :latest: same key; other inputs differ
    char *untagged = s_key (state, "{\"model_identity\":\"m\"}", false);
    char *tagged = s_key (state, "{\"model\":\"m:latest\"}", false);
    char *other_tag = s_key (state, "{\"model_identity\":\"m:7b\"}", false);
    char *other_root = s_key (state, "{\"model_identity\":\"m\",\"root_url\":\"http://other:1\"}", true);
    char *other_key = s_key (state, "{\"model_identity\":\"m\",\"api_key\":\"x\"}", true);
    char *same_root = s_key (state, "{\"model_identity\":\"m\",\"base_url\":\"cfg:1/v1\"}", true);
    char *attach = s_key (state, "{\"attach_spec\":{\"model\":\"m\"},\"preload\":true}", false);
    s_check_str ("tagged key", tagged, untagged);
    s_check_str ("same root key", same_root, untagged);
    s_check_str ("attach_spec key", attach, untagged);
    assert (!streq (other_tag, untagged));
    assert (!streq (other_root, untagged));
    assert (!streq (other_key, untagged));
    free (untagged);
    free (tagged);
    free (other_tag);
    free (other_root);
    free (other_key);
    free (same_root);
    free (attach);

    //  What a network client may not choose, and what nobody may
    s_plan_fails (state, "{}", true, SHIC_E_INVALID_BACKEND_OPTIONS, "model_identity");
    s_plan_fails (state, "{\"model_identity\":\"  \"}", true, SHIC_E_INVALID_BACKEND_OPTIONS, "model_identity");
    s_plan_fails (state, "{\"model_identity\":\"m\",\"colour\":1}", true, SHIC_E_INVALID_BACKEND_OPTIONS, "colour");
    //  Durations have ranges, also for the host
    s_plan_fails (state, "{\"model_identity\":\"m\",\"ready_timeout_ms\":9223372036854775807}", true,
                  SHIC_E_INVALID_BACKEND_OPTIONS, "ready_timeout_ms");
    s_plan_fails (state, "{\"model_identity\":\"m\",\"idle_shutdown_ms\":1099511627777}", true,
                  SHIC_E_INVALID_BACKEND_OPTIONS, "idle_shutdown_ms");
    s_plan_fails (state, "{\"model_identity\":\"m\",\"pull_timeout_ms\":2147483648}", true,
                  SHIC_E_INVALID_BACKEND_OPTIONS, "pull_timeout_ms");
    s_plan_fails (state, "{\"model_identity\":\"m\",\"preload\":\"yes\"}", false, SHIC_E_INVALID_BACKEND_OPTIONS, "preload");
    s_plan_fails (state, "{\"model_identity\":\"m\",\"headers\":{\"x\":\"a\\r\\nb: c\"}}", true,
                  SHIC_E_INVALID_BACKEND_OPTIONS, "headers");
    s_plan_fails (state, "{\"model_identity\":\"m\",\"root_url\":\"http://\"}", true,
                  SHIC_E_INVALID_BACKEND_OPTIONS, "root_url");
    const char *forbidden [] = { "root_url", "base_url", "api_key", "pull_missing", "ready_timeout_ms", NULL };
    const char *values [] = { "\"http://evil:1\"", "\"http://evil:1\"", "\"k\"", "true", "5", NULL };
    for (int i = 0; forbidden [i]; i++) {
        char options [256];
        snprintf (options, sizeof (options), "{\"model_identity\":\"m\",\"%s\":%s}", forbidden [i], values [i]);
        s_plan_fails (state, options, false, SHIC_E_FORBIDDEN, forbidden [i]);
    }
    s_plan_fails (state, "{\"model_identity\":\"m\",\"headers\":{}}", false, SHIC_E_FORBIDDEN, "headers");
    plan = s_plan (state, "{\"model_identity\":\"m\",\"preload\":true,\"keep_alive\":\"5m\"}", false, &err);
    assert (plan);
    assert (shic_val_bool (shic_val_path (plan, "metadata/preload")));
    shic_val_destroy (&plan);
    shic_ollama_ops.destroy (&state);
    assert (state == NULL);
    zconfig_destroy (&config);

    //  A configuration with a root without a host fails registration
    config = zconfig_str_load ("ollama\n    root_url = \"https://\"\n");
    assert (shic_ollama_ops.init (zconfig_locate (config, "ollama"), &state, &err) == -1);
    assert (err.code && state == NULL);
    shic_error_clear (&err);
    zconfig_destroy (&config);
}

//  --------------------------------------------------------------------------
//  Scenarios against the stand-in

//  True when every line of the header log carries value (any value when
//  NULL, but one), and each of the
//  requests named (NULL-terminated "METHOD /path") was seen
static bool
s_log_ok (const char *path, const char *value, const char **requests, bool *complete)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return false;
    char line [1024];
    bool ok = true;
    bool seen [16] = { false };
    while (fgets (line, sizeof (line), file)) {
        line [strcspn (line, "\n")] = 0;
        for (int i = 0; requests [i]; i++)
            if (strncmp (line, requests [i], strlen (requests [i])) == 0
            &&  line [strlen (requests [i])] == ' ')
                seen [i] = true;
        const char *sent = strchr (strchr (line, ' ') + 1, ' ') + 1;
        if (value? !streq (sent, value): streq (sent, "-")) {
            fprintf (stderr, "header log: '%s'\n", line);
            ok = false;
        }
    }
    fclose (file);
    *complete = true;
    for (int i = 0; requests [i]; i++)
        *complete &= seen [i];
    return ok;
}

static void
s_scenarios (void)
{
    char log_path [128];
    snprintf (log_path, sizeof (log_path), "/tmp/shic_ollama_headers.%d.log", (int) getpid ());
    unlink (log_path);
    const char *flags [] = { "--loaded", "llama3.2", "--model", "idle", "--model", "cold",
                             "--model", "qwen:7b", "--pullable", "fresh",
                             "--require-header", "Authorization: Bearer sekret",
                             "--header-log", log_path, NULL };
    s_daemon_t daemon = s_daemon_start (0, flags);
    int port = daemon.port;
    char config_text [512];
    snprintf (config_text, sizeof (config_text),
              "ollama\n    root_url = \"http://127.0.0.1:%d/v1\"\n    api_key = \"sekret\"\n"
              "    health_interval_ms = 50\n    readiness_interval_ms = 25\n"
              "    ready_timeout_ms = 1000\n", port);
    zconfig_t *config = NULL;
    shic_runtime_t *runtime = s_runtime (config_text, &config);
    zsock_t *events = zsock_new_sub (shic_runtime_events_endpoint (runtime), "instance.");
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));
    char root [64];
    snprintf (root, sizeof (root), "http://127.0.0.1:%d", port);

    //  Ready: the endpoint, with the headers the client must send
    shic_val_t *result = s_ensure (client, "llama3.2", NULL, 10000);
    assert (result);
    char *id = strdup (s_str (result, "instance_id"));
    assert (!strstr (id, "sekret"));
    const shic_val_t *endpoint = shic_val_get (result, "endpoint");
    char url [128];
    snprintf (url, sizeof (url), "%s/v1", root);
    s_check_str ("base_url", s_str (endpoint, "base_url"), url);
    s_check_str ("management_mode", s_str (endpoint, "management_mode"), SHIC_MODE_EXTERNALLY_MANAGED);
    s_check_str ("model_identity", s_str (endpoint, "model_identity"), "llama3.2");
    s_check_str ("provider_identity", s_str (endpoint, "provider_identity"), "ollama");
    s_check_str ("source_runtime_ref", s_str (endpoint, "source_runtime_ref"), root);
    s_check_str ("authorization", s_str (endpoint, "headers/authorization"), "Bearer sekret");
    s_check_str ("ollama_version", s_str (endpoint, "metadata/ollama_version"), "0.0.0-stand-in");
    assert (!shic_val_bool (shic_val_get (result, "reused")));
    shic_val_destroy (&result);

    //  Tagged and untagged names are one instance; loaded reads as healthy
    result = s_ensure (client, "llama3.2:latest", NULL, 10000);
    assert (result && shic_val_bool (shic_val_get (result, "reused")));
    s_check_str ("same instance", s_str (result, "instance_id"), id);
    shic_val_destroy (&result);
    shic_val_t *event = shic_test_wait_event_for (events, "instance.health", id, NULL, 400);
    assert (event == NULL);
    shic_val_t *snap = s_call_id (client, "lookup_instance", id);
    s_check_str ("health", s_str (snap, "health_status"), SHIC_HEALTH_HEALTHY);
    shic_val_destroy (&snap);

    //  "qwen" is qwen:latest, which is not qwen:7b: not found, at once,
    //  with the command that installs it
    int64_t asked = zclock_mono ();
    result = s_ensure (client, "qwen", NULL, 10000);
    shic_test_expect_error (client, result, SHIC_E_NOT_FOUND);
    assert (zclock_mono () - asked < 2000);
    assert (strstr (shic_client_error (client)->message, "ollama pull qwen"));
    const shic_val_t *probe = shic_client_error (client)->details;
    s_check_str ("hint", s_str (probe, "hint"), "ollama pull qwen");
    assert (shic_val_get (probe, "model_found") && !shic_val_bool (shic_val_get (probe, "model_found")));
    s_check_str ("missing model", s_str (probe, "model"), "qwen");
    assert (strstr (s_str (probe, "error"), "not found"));

    //  Installed but not loaded: degraded; loaded by somebody: healthy;
    //  deleted: unavailable
    result = s_ensure (client, "qwen:7b", NULL, 10000);
    assert (result);
    shic_val_destroy (&result);
    result = s_ensure (client, "idle", NULL, 10000);
    assert (result);
    char *idle_id = strdup (s_str (result, "instance_id"));
    shic_val_destroy (&result);
    s_expect_health (events, idle_id, SHIC_HEALTH_DEGRADED);
    assert (s_daemon_call (port, "POST", "/api/generate", "{\"model\":\"idle\",\"keep_alive\":\"5m\"}", NULL) == 200);
    s_expect_health (events, idle_id, SHIC_HEALTH_HEALTHY);
    assert (s_daemon_call (port, "DELETE", "/api/delete", "{\"model\":\"idle\"}", NULL) == 200);
    event = shic_test_wait_event_for (events, "instance.health", idle_id, SHIC_HEALTH_UNAVAILABLE, 5000);
    assert (event);
    assert (shic_val_bool (shic_val_path (event, "details/reachable")));
    assert (!shic_val_bool (shic_val_path (event, "details/model_found")));
    shic_val_destroy (&event);
    zstr_free (&idle_id);

    //  preload: loaded before the endpoint is handed out
    result = s_ensure (client, "cold", "{\"preload\":true,\"keep_alive\":\"5m\"}", 10000);
    assert (result);
    assert (shic_val_bool (shic_val_path (result, "endpoint/metadata/preloaded")));
    //  The loaded model's memory, as /api/ps reports it, is counted
    assert (streq (s_str (result, "placement/footprint_source"), "reported"));
    assert (shic_val_int (shic_val_path (result, "placement/footprint_bytes")) == 2019393189);
    shic_val_destroy (&result);
    result = shic_client_call (client, "resources", NULL);
    assert (result);
    const shic_val_t *counted = shic_val_get (result, "instances");
    bool reported = false;
    for (size_t i = 0; i < shic_val_size (counted); i++)
        reported |= streq (s_str (shic_val_at (counted, i), "footprint_source"), "reported");
    assert (reported);
    shic_val_destroy (&result);
    char *answer = NULL;
    assert (s_daemon_call (port, "GET", "/api/ps", NULL, &answer) == 200);
    assert (answer && strstr (answer, "\"cold:latest\""));
    zstr_free (&answer);

    //  pull_missing: pulled, with progress events
    zsock_t *progress = zsock_new_sub (shic_runtime_events_endpoint (runtime), "instance.progress");
    result = s_ensure (client, "fresh", "{\"pull_missing\":true}", 10000);
    assert (result);
    assert (shic_val_bool (shic_val_path (result, "endpoint/metadata/pulled")));
    char *fresh_id = strdup (s_str (result, "instance_id"));
    shic_val_destroy (&result);
    int64_t total = 0, completed = 0;
    int count = 0;
    while ((event = shic_test_wait_event_for (progress, "instance.progress", fresh_id, NULL, count? 200: 2000))) {
        s_check_str ("progress phase", s_str (event, "phase"), "pull");
        total = shic_val_int (shic_val_get (event, "total"));
        completed = shic_val_int (shic_val_get (event, "completed"));
        count++;
        shic_val_destroy (&event);
    }
    assert (count >= 3);
    assert (total > 0 && completed == total);
    zstr_free (&fresh_id);
    zsock_destroy (&progress);
    assert (s_daemon_call (port, "GET", "/api/tags", NULL, &answer) == 200);
    assert (answer && strstr (answer, "\"fresh:latest\""));
    zstr_free (&answer);

    //  Every probe carried the configured header
    const char *requests [] = { "GET /api/version", "POST /api/show", "GET /api/ps",
                                "POST /api/generate", "POST /api/pull", NULL };
    bool complete = false;
    int64_t deadline = zclock_mono () + 5000;
    while (zclock_mono () < deadline) {
        assert (s_log_ok (log_path, "Bearer sekret", requests, &complete));
        if (complete)
            break;
        event = shic_test_wait_event_for (events, "instance.nothing", NULL, NULL, 50);
        assert (!event);
    }
    assert (complete);

    //  A wrong key: the daemon answers, the timeout says so
    result = s_ensure (client, "llama3.2", "{\"api_key\":\"wrong\"}", 10000);
    shic_test_expect_error (client, result, SHIC_E_READINESS_TIMEOUT);
    probe = shic_val_get (shic_client_error (client)->details, "last_probe");
    assert (shic_val_bool (shic_val_get (probe, "reachable")));
    assert (shic_val_int (shic_val_get (probe, "http_status")) == 401);

    //  A network client may choose the model, not the daemon
    int gateway = shic_runtime_bind_gateway (runtime, "tcp://127.0.0.1:*");
    assert (gateway > 0);
    char endpoint_text [64];
    snprintf (endpoint_text, sizeof (endpoint_text), "tcp://127.0.0.1:%d", gateway);
    shic_client_t *remote = shic_client_new (endpoint_text);
    result = s_ensure (remote, "llama3.2", "{\"root_url\":\"http://10.1.1.1:11434\"}", 1000);
    shic_test_expect_error (remote, result, SHIC_E_FORBIDDEN);
    s_check_str ("forbidden field", s_str (shic_client_error (remote)->details, "field"), "root_url");
    result = s_ensure (remote, "llama3.2", NULL, 10000);
    assert (result && shic_val_bool (shic_val_get (result, "reused")));
    shic_val_destroy (&result);
    shic_client_destroy (&remote);

    //  The daemon goes down: unavailable, and ensure says so
    s_daemon_stop (&daemon);
    s_expect_health (events, id, SHIC_HEALTH_UNAVAILABLE);
    result = s_ensure (client, "llama3.2", NULL, 200);
    shic_test_expect_error (client, result, SHIC_E_INSTANCE_UNAVAILABLE);
    //  ... and comes back on the same port: healthy, nothing re-created
    const char *again [] = { "--loaded", "llama3.2", "--require-header", "Authorization: Bearer sekret",
                             "--header-log", log_path, NULL };
    daemon = s_daemon_start (port, again);
    s_expect_health (events, id, SHIC_HEALTH_HEALTHY);
    result = s_ensure (client, "llama3.2", NULL, 10000);
    assert (result && shic_val_bool (shic_val_get (result, "reused")));
    s_check_str ("same instance after outage", s_str (result, "instance_id"), id);
    shic_val_destroy (&result);
    snap = s_call_id (client, "lookup_instance", id);
    assert (shic_val_int (shic_val_get (snap, "restarts")) == 0);
    shic_val_destroy (&snap);

    //  stop_instance leaves the daemon serving, the model loaded
    result = s_call_id (client, "stop_instance", id);
    assert (result);
    shic_val_destroy (&result);
    event = shic_test_wait_event_for (events, "instance.stopped", id, NULL, 5000);
    assert (event);
    shic_val_destroy (&event);
    assert (s_daemon_call (port, "GET", "/api/version", NULL, NULL) == 200);
    assert (s_daemon_call (port, "GET", "/api/ps", NULL, &answer) == 200);
    assert (answer && strstr (answer, "\"llama3.2:latest\""));
    zstr_free (&answer);
    //  (the wrong key was sent too, as asked)
    assert (s_log_ok (log_path, NULL, requests, &complete));

    //  Daemon down at start: the timeout says unreachable
    s_daemon_stop (&daemon);
    result = s_ensure (client, "llama3.2", NULL, 10000);
    shic_test_expect_error (client, result, SHIC_E_READINESS_TIMEOUT);
    probe = shic_val_get (shic_client_error (client)->details, "last_probe");
    assert (shic_val_get (probe, "reachable") && !shic_val_bool (shic_val_get (probe, "reachable")));
    assert (*s_str (probe, "error"));
    assert (shic_val_get (probe, "model_found") == NULL);

    zstr_free (&id);
    shic_client_destroy (&client);
    zsock_destroy (&events);
    shic_runtime_destroy (&runtime);
    zconfig_destroy (&config);
    unlink (log_path);
}

//  Lines of the header log that start with request ("METHOD /path")
static int
s_log_count (const char *path, const char *request)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return 0;
    char line [1024];
    int count = 0;
    size_t size = strlen (request);
    while (fgets (line, sizeof (line), file))
        if (strncmp (line, request, size) == 0 && line [size] == ' ')
            count++;
    fclose (file);
    return count;
}

//  Waits until every instance of ids (count of them) published health;
//  an instance.health of any instance not in ids fails the test
static void
s_expect_health_all (zsock_t *events, char **ids, int count, const char *health)
{
    bool seen [64] = { false };
    int left = count;
    int64_t deadline = zclock_mono () + 10000;
    while (left > 0) {
        int64_t wait = deadline - zclock_mono ();
        shic_val_t *event = wait > 0? shic_test_wait_event_for (events, "instance.health", NULL, NULL, (int) wait): NULL;
        if (!event) {
            fprintf (stderr, "%d instances did not turn %s\n", left, health);
            assert (false);
        }
        const char *id = s_str (event, "instance_id");
        int index = -1;
        for (int i = 0; i < count; i++)
            if (streq (id, ids [i]))
                index = i;
        if (index < 0) {
            fprintf (stderr, "unexpected instance.health %s for %s\n",
                     s_str (event, "health_status"), id);
            assert (false);
        }
        if (streq (s_str (event, "health_status"), health) && !seen [index]) {
            if (streq (health, SHIC_HEALTH_UNAVAILABLE))
                assert (!shic_val_bool (shic_val_path (event, "details/reachable")));
            seen [index] = true;
            left--;
        }
        shic_val_destroy (&event);
    }
}

#define S_SHARED_MODELS     16      //  instances attached to one daemon
#define S_SHARED_INTERVAL   200     //  their health interval (ms)

//  Many instances attached to one daemon share its snapshots: far fewer
//  requests than health checks, no /api/show once ready, the configured
//  header on every request. An unloaded model, a deleted one and a dead
//  daemon still show; another daemon's instance shares nothing.
static void
s_shared_health (void)
{
    char log_path [128];
    snprintf (log_path, sizeof (log_path), "/tmp/shic_ollama_shared.%d.log", (int) getpid ());
    unlink (log_path);
    const char *flags [2 * S_SHARED_MODELS + 5];
    char names [S_SHARED_MODELS][8];
    int n = 0;
    for (int i = 0; i < S_SHARED_MODELS; i++) {
        snprintf (names [i], sizeof (names [i]), "s%d", i);
        flags [n++] = "--loaded";
        flags [n++] = names [i];
    }
    flags [n++] = "--require-header";
    flags [n++] = "Authorization: Bearer sekret";
    flags [n++] = "--header-log";
    flags [n++] = log_path;
    flags [n] = NULL;
    s_daemon_t daemon = s_daemon_start (0, flags);
    const char *other_flags [] = { "--loaded", "b0", NULL };
    s_daemon_t other = s_daemon_start (0, other_flags);
    char config_text [512];
    snprintf (config_text, sizeof (config_text),
              "ollama\n    root_url = \"http://127.0.0.1:%d\"\n    api_key = \"sekret\"\n"
              "    health_interval_ms = %d\n    readiness_interval_ms = 25\n"
              "    ready_timeout_ms = 5000\n", daemon.port, S_SHARED_INTERVAL);
    zconfig_t *config = NULL;
    shic_runtime_t *runtime = s_runtime (config_text, &config);
    zsock_t *events = zsock_new_sub (shic_runtime_events_endpoint (runtime), "instance.health");
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));

    char *ids [S_SHARED_MODELS];
    for (int i = 0; i < S_SHARED_MODELS; i++) {
        shic_val_t *result = s_ensure (client, names [i], NULL, 10000);
        assert (result);
        ids [i] = strdup (s_str (result, "instance_id"));
        shic_val_destroy (&result);
    }
    char options [128];
    snprintf (options, sizeof (options), "{\"root_url\":\"http://127.0.0.1:%d\"}", other.port);
    shic_val_t *result = s_ensure (client, "b0", options, 10000);
    assert (result);
    char *other_id = strdup (s_str (result, "instance_id"));
    shic_val_destroy (&result);

    //  A window of health checks: every instance checks about every
    //  interval, but one round serves all of them
    int64_t started = zclock_mono ();
    int shows = s_log_count (log_path, "POST /api/show");
    int tags = s_log_count (log_path, "GET /api/tags");
    int ps = s_log_count (log_path, "GET /api/ps");
    int versions = s_log_count (log_path, "GET /api/version");
    shic_val_t *event = shic_test_wait_event_for (events, "instance.health", NULL, NULL, 10 * S_SHARED_INTERVAL);
    assert (event == NULL);                 //  all healthy, no change
    int64_t elapsed = zclock_mono () - started;
    shows = s_log_count (log_path, "POST /api/show") - shows;
    tags = s_log_count (log_path, "GET /api/tags") - tags;
    ps = s_log_count (log_path, "GET /api/ps") - ps;
    versions = s_log_count (log_path, "GET /api/version") - versions;
    //  At most one round per half interval (without sharing: one per
    //  instance per interval, 8 times as many, and a show each)
    int rounds_max = (int) (elapsed / (S_SHARED_INTERVAL / 2)) + 2;
    if (shows != 0 || ps < 1 || ps > rounds_max || tags > rounds_max || versions > rounds_max)
        fprintf (stderr, "shared: %d ms, %d shows, %d tags, %d ps, %d versions (at most %d)\n",
                 (int) elapsed, shows, tags, ps, versions, rounds_max);
    assert (shows == 0);
    assert (ps >= 1 && ps <= rounds_max);
    assert (tags >= 1 && tags <= rounds_max);
    assert (versions >= 1 && versions <= rounds_max);
    const char *requests [] = { "GET /api/version", "GET /api/tags", "GET /api/ps",
                                "POST /api/show", NULL };
    bool complete = false;
    assert (s_log_ok (log_path, "Bearer sekret", requests, &complete));
    assert (complete);
    for (int i = 0; i < S_SHARED_MODELS; i++) {
        shic_val_t *snap = s_call_id (client, "lookup_instance", ids [i]);
        s_check_str ("shared health", s_str (snap, "health_status"), SHIC_HEALTH_HEALTHY);
        shic_val_destroy (&snap);
    }

    //  Unloaded: degraded; deleted: unavailable, the daemon reachable;
    //  the other instances of the daemon stay healthy
    assert (s_daemon_call (daemon.port, "POST", "/api/generate",
                           "{\"model\":\"s3\",\"keep_alive\":0}", NULL) == 200);
    event = shic_test_wait_event_for (events, "instance.health", NULL, NULL, 5000);
    assert (event);
    s_check_str ("unloaded", s_str (event, "instance_id"), ids [3]);
    s_check_str ("unloaded health", s_str (event, "health_status"), SHIC_HEALTH_DEGRADED);
    assert (!shic_val_bool (shic_val_path (event, "details/loaded")));
    assert (shic_val_size (shic_val_path (event, "details/running_models")) == S_SHARED_MODELS - 1);
    s_check_str ("unloaded version", s_str (event, "details/version"), "0.0.0-stand-in");
    shic_val_destroy (&event);
    assert (s_daemon_call (daemon.port, "DELETE", "/api/delete", "{\"model\":\"s5\"}", NULL) == 200);
    event = shic_test_wait_event_for (events, "instance.health", NULL, NULL, 5000);
    assert (event);
    s_check_str ("deleted", s_str (event, "instance_id"), ids [5]);
    s_check_str ("deleted health", s_str (event, "health_status"), SHIC_HEALTH_UNAVAILABLE);
    assert (shic_val_bool (shic_val_path (event, "details/reachable")));
    assert (!shic_val_bool (shic_val_path (event, "details/model_found")));
    assert (strstr (s_str (event, "details/error"), "not found"));
    shic_val_destroy (&event);

    //  The daemon dies: each of its instances says so; the other daemon's
    //  instance stays healthy
    s_daemon_stop (&daemon);
    char *alive [S_SHARED_MODELS];
    int alive_count = 0;
    for (int i = 0; i < S_SHARED_MODELS; i++)
        if (i != 5)
            alive [alive_count++] = ids [i];
    s_expect_health_all (events, alive, alive_count, SHIC_HEALTH_UNAVAILABLE);
    event = shic_test_wait_event_for (events, "instance.health", other_id, NULL, 2 * S_SHARED_INTERVAL);
    assert (event == NULL);
    shic_val_t *snap = s_call_id (client, "lookup_instance", other_id);
    s_check_str ("other daemon", s_str (snap, "health_status"), SHIC_HEALTH_HEALTHY);
    shic_val_destroy (&snap);

    for (int i = 0; i < S_SHARED_MODELS; i++)
        zstr_free (&ids [i]);
    zstr_free (&other_id);
    shic_client_destroy (&client);
    zsock_destroy (&events);
    shic_runtime_destroy (&runtime);
    zconfig_destroy (&config);
    s_daemon_stop (&other);
    unlink (log_path);
}

//  --------------------------------------------------------------------------
//  An address that is not Ollama but answers 200 to everything

typedef struct {
    int listener;                   //  bound, listening socket
    int port;                       //  its port
    const char *body;               //  the body of every answer
    size_t length;                  //  Content-Length announced (body repeated)
    atomic_bool stop;               //  the thread ends
    pthread_t thread;               //  accepts and answers
} s_liar_t;

//  Reads a request (headers, and a body by Content-Length) and answers it
static void
s_liar_answer (s_liar_t *self, int conn)
{
    char request [8192];
    size_t used = 0;
    char *end = NULL;
    while (used < sizeof (request) - 1 && !end) {
        ssize_t got = recv (conn, request + used, sizeof (request) - 1 - used, 0);
        if (got <= 0)
            return;
        used += (size_t) got;
        request [used] = 0;
        end = strstr (request, "\r\n\r\n");
    }
    if (!end)
        return;
    const char *length = strcasestr (request, "content-length:");
    size_t expected = (size_t) (end + 4 - request) + (length? (size_t) atol (length + 15): 0);
    while (used < expected && used < sizeof (request) - 1) {
        ssize_t got = recv (conn, request + used, sizeof (request) - 1 - used, 0);
        if (got <= 0)
            return;
        used += (size_t) got;
    }
    char head [256];
    snprintf (head, sizeof (head), "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
              "Content-Length: %zu\r\nConnection: close\r\n\r\n", self->length);
    if (send (conn, head, strlen (head), MSG_NOSIGNAL) < 0)
        return;
    size_t sent = 0;
    size_t size = strlen (self->body);
    while (sent < self->length) {
        size_t chunk = self->length - sent < size? self->length - sent: size;
        if (send (conn, self->body, chunk, MSG_NOSIGNAL) < 0)
            return;                 //  the client went away
        sent += chunk;
    }
}

static void *
s_liar_run (void *arg)
{
    s_liar_t *self = (s_liar_t *) arg;
    while (!atomic_load (&self->stop)) {
        struct pollfd item = { self->listener, POLLIN, 0 };
        if (poll (&item, 1, 50) <= 0)
            continue;
        int conn = accept (self->listener, NULL, NULL);
        if (conn < 0)
            continue;
        s_liar_answer (self, conn);
        close (conn);
    }
    return NULL;
}

//  Starts a liar whose answers have length bytes of body, repeated
static s_liar_t *
s_liar_start (const char *body, size_t length)
{
    s_liar_t *self = (s_liar_t *) zmalloc (sizeof (s_liar_t));
    self->body = body;
    self->length = length;
    atomic_init (&self->stop, false);
    self->listener = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = { 0 };
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    assert (bind (self->listener, (struct sockaddr *) &address, sizeof (address)) == 0);
    assert (listen (self->listener, 16) == 0);
    socklen_t size = sizeof (address);
    getsockname (self->listener, (struct sockaddr *) &address, &size);
    self->port = ntohs (address.sin_port);
    assert (pthread_create (&self->thread, NULL, s_liar_run, self) == 0);
    return self;
}

static void
s_liar_stop (s_liar_t **self_p)
{
    s_liar_t *self = *self_p;
    atomic_store (&self->stop, true);
    pthread_join (self->thread, NULL);
    close (self->listener);
    free (self);
    *self_p = NULL;
}

//  200 with HTML, with truncated JSON, or with a 100 MB body is no Ollama:
//  the ensure ends in readiness_timeout, naming what came back
static void
s_liars (void)
{
    struct {
        const char *body;           //  what every answer carries
        size_t length;              //  its announced length
        const char *error;          //  in details.last_probe.error
    } cases [] = {
        { "<html><body>It works!</body></html>", 0, "not an answer of Ollama: <html>" },
        { "{\"version\":\"0.5.", 0, "not an answer of Ollama: {\"version\"" },
        { "{\"models\":[],\"version\":\"1\",\"details\":{}}            ", 100 * 1024 * 1024,
          "larger than 1 MiB" },
    };
    for (size_t index = 0; index < sizeof (cases) / sizeof (cases [0]); index++) {
        size_t length = cases [index].length? cases [index].length: strlen (cases [index].body);
        s_liar_t *liar = s_liar_start (cases [index].body, length);
        char config_text [256];
        snprintf (config_text, sizeof (config_text),
                  "ollama\n    root_url = \"http://127.0.0.1:%d\"\n"
                  "    readiness_interval_ms = 50\n    ready_timeout_ms = 600\n", liar->port);
        zconfig_t *config = NULL;
        shic_runtime_t *runtime = s_runtime (config_text, &config);
        shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));
        shic_val_t *result = s_ensure (client, "any-model-at-all", NULL, 10000);
        if (result) {
            fprintf (stderr, "liar %zu: attached as ok\n", index);
            assert (false);
        }
        const shic_error_t *err = shic_client_error (client);
        const char *error = s_str (err->details, "last_probe/error");
        if (!streq (err->code, SHIC_E_READINESS_TIMEOUT) || !error
        ||  !strstr (error, cases [index].error)) {
            char *details = shic_val_to_json (err->details);
            fprintf (stderr, "liar %zu: %s %s\n", index, err->code, details);
            free (details);
            assert (false);
        }
        shic_client_destroy (&client);
        shic_runtime_destroy (&runtime);
        zconfig_destroy (&config);
        s_liar_stop (&liar);
    }
}

//  The next event of any topic on sub within timeout_ms: its body, and its
//  topic in *topic_p (fresh); NULL when none came
static shic_val_t *
s_next_event (zsock_t *sub, char **topic_p, int timeout_ms)
{
    zsock_set_rcvtimeo (sub, timeout_ms);
    zmsg_t *msg = zmsg_recv (sub);
    if (!msg)
        return NULL;
    *topic_p = zmsg_popstr (msg);
    zframe_t *frame = zmsg_pop (msg);
    shic_val_t *body = NULL;
    if (frame)
        shic_val_decode (zframe_data (frame), zframe_size (frame), NULL, &body, NULL);
    zframe_destroy (&frame);
    zmsg_destroy (&msg);
    return body;
}

//  Issue 16 point 5: a pull reports its progress while it runs, a line at
//  a time as Ollama writes them, not once its answer is whole. The
//  stand-in spreads the pull's 15 lines over 1.5 s.
static void
s_slow_pull (void)
{
    const char *flags [] = { "--pullable", "slow", "--pull-ms", "1500", "--pull-steps", "10",
                             NULL };
    s_daemon_t daemon = s_daemon_start (0, flags);
    char config_text [512];
    snprintf (config_text, sizeof (config_text),
              "ollama\n    root_url = \"http://127.0.0.1:%d\"\n    readiness_interval_ms = 25\n"
              "    ready_timeout_ms = 10000\n", daemon.port);
    zconfig_t *config = NULL;
    shic_runtime_t *runtime = s_runtime (config_text, &config);
    zsock_t *events = zsock_new_sub (shic_runtime_events_endpoint (runtime), "instance.");
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));
    shic_val_t *options = s_json ("{\"pull_missing\":true}");
    shic_val_t *args = shic_client_ensure_args ("ollama", "slow", options, 0, 10000);
    shic_val_destroy (&options);
    int rc = shic_client_send (client, 1, "ensure_endpoint", &args);
    assert (rc == 0);
    int partial = 0;                //  progress events before the pull ended
    int64_t first_at = 0, last_at = 0, ready_at = 0, completed = -1;
    bool answered = false;
    int64_t deadline = zclock_mono () + 10000;
    while ((!answered || !ready_at) && zclock_mono () < deadline) {
        zmq_pollitem_t items [2] = {
            { zsock_resolve (events), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (shic_client_sock (client)), 0, ZMQ_POLLIN, 0 }
        };
        zmq_poll (items, 2, 100);
        char *topic = NULL;
        shic_val_t *event = (items [0].revents & ZMQ_POLLIN)? s_next_event (events, &topic, 0): NULL;
        if (event && streq (topic, "instance.progress")) {
            s_check_str ("progress phase", s_str (event, "phase"), "pull");
            int64_t total = shic_val_int (shic_val_get (event, "total"));
            int64_t now = shic_val_int (shic_val_get (event, "completed"));
            assert (total == 2019393189 && now >= completed);     //  growing
            assert (!ready_at);     //  all before the ready event
            completed = now;
            if (now < total) {
                if (!partial++)
                    first_at = shic_val_int (shic_val_get (event, "at_ms"));
                last_at = shic_val_int (shic_val_get (event, "at_ms"));
            }
        }
        else
        if (event && streq (topic, "instance.ready"))
            ready_at = shic_val_int (shic_val_get (event, "at_ms"));
        shic_val_destroy (&event);
        zstr_free (&topic);
        if (items [1].revents & ZMQ_POLLIN) {
            shic_wire_reply_t reply = { 0 };
            rc = shic_client_recv (client, &reply, 0);
            assert (rc == 0 && reply.ok);
            assert (shic_val_bool (shic_val_path (reply.result, "endpoint/metadata/pulled")));
            shic_wire_reply_reset (&reply);
            answered = true;
        }
    }
    assert (answered && ready_at);
    //  Ten steps with completed < total, spread over the pull (a buffered
    //  body would publish them all within a few ms of the ready event)
    if (partial < 8 || last_at - first_at < 700 || ready_at - first_at < 900) {
        fprintf (stderr, "progress: %d events over %lld ms, %lld ms before ready\n", partial,
                 (long long) (last_at - first_at), (long long) (ready_at - first_at));
        assert (false);
    }
    assert (completed == 2019393189);
    shic_client_destroy (&client);
    zsock_destroy (&events);
    shic_runtime_destroy (&runtime);
    zconfig_destroy (&config);
    s_daemon_stop (&daemon);
}

void
shic_ollama_test (bool verbose)
{
    printf (" * shic_ollama: ");
    s_unit_checks ();
    (void) verbose;
    s_liars ();
    s_scenarios ();
    s_slow_pull ();
    s_shared_health ();
    printf ("OK\n");
}

//  --------------------------------------------------------------------------
//  Against a real daemon

void
shic_ollama_live_test (bool verbose)
{
    const char *url = getenv ("SHIC_OLLAMA_URL");
    const char *model = getenv ("SHIC_OLLAMA_MODEL");
    if (!url || !*url || !model || !*model) {
        shic_test_skip ("shic_ollama_live", "no Ollama: set SHIC_OLLAMA_URL and SHIC_OLLAMA_MODEL");
        return;
    }
    (void) verbose;
    printf (" * shic_ollama_live: ");
    char config_text [512];
    snprintf (config_text, sizeof (config_text),
              "ollama\n    root_url = \"%s\"\n    health_interval_ms = 200\n"
              "    ready_timeout_ms = 30000\n", url);
    zconfig_t *config = NULL;
    shic_runtime_t *runtime = s_runtime (config_text, &config);
    zsock_t *events = zsock_new_sub (shic_runtime_events_endpoint (runtime), "instance.");
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));
    char *root = shic_ollama_root_normalize (url, false);
    shic_val_t *result = s_ensure (client, model, "{\"preload\":true}", 120000);
    if (!result)
        fprintf (stderr, "%s: %s\n", shic_client_error (client)->code,
                 shic_client_error (client)->message);
    assert (result);
    char *id = strdup (s_str (result, "instance_id"));
    char base_url [512];
    snprintf (base_url, sizeof (base_url), "%s/v1", root);
    s_check_str ("base_url", s_str (result, "endpoint/base_url"), base_url);
    assert (*s_str (result, "endpoint/metadata/ollama_version"));
    shic_val_destroy (&result);
    //  Preloaded: it stays healthy over a few checks
    shic_val_t *event = shic_test_wait_event_for (events, "instance.health", id, NULL, 1000);
    if (event)
        s_check_str ("live health", s_str (event, "health_status"), SHIC_HEALTH_HEALTHY);
    shic_val_destroy (&event);
    //  The endpoint answers a chat completion
    char chat_url [600];
    snprintf (chat_url, sizeof (chat_url), "%s/chat/completions", base_url);
    char *body = zsys_sprintf ("{\"model\":\"%s\",\"max_tokens\":4,\"messages\":"
                               "[{\"role\":\"user\",\"content\":\"Say hi\"}]}", model);
    shic_http_result_t http = { 0 };
    assert (shic_http_request ("POST", chat_url, NULL, body, 120000, &http) == 0);
    assert (http.status == 200 && strstr (http.body, "choices"));
    shic_http_result_reset (&http);
    zstr_free (&body);
    //  Stopping leaves the daemon serving
    result = s_call_id (client, "stop_instance", id);
    assert (result);
    shic_val_destroy (&result);
    event = shic_test_wait_event_for (events, "instance.stopped", id, NULL, 5000);
    assert (event);
    shic_val_destroy (&event);
    char version_url [600];
    snprintf (version_url, sizeof (version_url), "%s/api/version", root);
    assert (shic_http_request ("GET", version_url, NULL, NULL, 2000, &http) == 0 && http.status == 200);
    shic_http_result_reset (&http);
    free (root);
    zstr_free (&id);
    shic_client_destroy (&client);
    zsock_destroy (&events);
    shic_runtime_destroy (&runtime);
    zconfig_destroy (&config);
    printf ("OK\n");
}
