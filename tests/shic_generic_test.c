/*  =========================================================================
    shic_generic_test - the generic backends, from a configuration only

    command        spawns the stand-in llama-server from a config-only
                   definition (command string and argv forms), restarts
                   it after SIGKILL on the same endpoint
    openai_compat  attaches to a stand-in this test starts itself, with an
                   API key and headers, /health and the /models fallback
    plugin         tests/shic_plugin_example.c built as a .so, loaded
                   from the configuration under two names
    plus the configuration errors of shic_backends_test.
    Waits are on events or replies with deadlines, never on sleeps.
    =========================================================================
*/

#include "shic.h"
#include "shic_proc.h"
#include "shic_http.h"
#include "shic_backends.h"
#include "shic_test_backends.h"
#include "shic_test_util.h"
#include "shic_selftest.h"
#include <signal.h>

static const char *
s_plugin_path (void)
{
    const char *path = getenv ("SHIC_PLUGIN_EXAMPLE");
#ifdef SHIC_PLUGIN_EXAMPLE
    if (!path)
        path = SHIC_PLUGIN_EXAMPLE;
#endif
    return path? path: "shic_plugin_example.so";
}

static const char *
s_str (const shic_val_t *val, const char *path)
{
    const char *str = shic_val_str (shic_val_path (val, path));
    return str? str: "";
}

static shic_val_t *
s_ensure (shic_client_t *client, const char *backend, const char *model,
          const char *options_json, int64_t wait_ms)
{
    shic_val_t *options = options_json? shic_val_from_json (options_json): NULL;
    shic_val_t *result = shic_client_ensure (client, backend, model, options, 0, wait_ms);
    shic_val_destroy (&options);
    if (!result && shic_client_error (client)->code && getenv ("SHIC_TEST_DEBUG"))
        fprintf (stderr, "ensure %s/%s: %s: %s\n", backend, model? model: "-",
                 shic_client_error (client)->code, shic_client_error (client)->message);
    return result;
}

static shic_val_t *
s_lookup (shic_client_t *client, const char *instance_id)
{
    shic_val_t *args = shic_val_new_map ();
    shic_val_set_str (args, "instance_id", instance_id);
    shic_val_t *snap = shic_client_call (client, "lookup_instance", &args);
    assert (snap);
    return snap;
}

static long
s_http_get (const char *url, const char *const *headers, const char *expect_in_body)
{
    shic_http_result_t http = { 0 };
    shic_http_request ("GET", url, headers, NULL, 2000, &http);
    long status = http.status;
    if (expect_in_body)
        assert (http.body && strstr (http.body, expect_in_body));
    shic_http_result_reset (&http);
    return status;
}

static bool
s_ends_with (const char *text, const char *tail)
{
    size_t size = strlen (text), tail_size = strlen (tail);
    return size >= tail_size && streq (text + size - tail_size, tail);
}

static shic_backends_t *
s_configure (shic_runtime_t *runtime, const char *text)
{
    zconfig_t *config = zconfig_str_load (text);
    assert (config);
    shic_error_t err = { 0 };
    shic_backends_t *backends = shic_backends_configure (runtime, config, &err);
    if (!backends) {
        fprintf (stderr, "configure: %s\n", err.message? err.message: "?");
        assert (false);
    }
    //  The backends keep their own copy of the configuration
    zconfig_destroy (&config);
    return backends;
}

//  --------------------------------------------------------------------------
//  A stand-in llama-server started by the test itself

static int s_server_port = 0;

static void
s_server_line (void *arg, int stream, const char *line)
{
    (void) arg;
    (void) stream;
    const char *at = strstr (line, "HTTP server is listening, hostname: ");
    if (at && strstr (at, "port: "))
        s_server_port = atoi (strstr (at, "port: ") + 6);
}

//  Starts the stand-in with extra flags (NULL-terminated); waits for its port
static shic_proc_t *
s_server_start (const char *alias, const char *flag, const char *value)
{
    shic_proc_t *proc = shic_proc_new ();
    char *argv [] = { (char *) shic_test_stand_in (), "--port", "0", "--load-ms", "0",
                      "-a", (char *) alias, (char *) flag, (char *) value, NULL };
    char *error = NULL;
    int rc = shic_proc_start (proc, argv, NULL, NULL, &error);
    assert (rc == 0);
    s_server_port = 0;
    int64_t deadline = zclock_mono () + 5000;
    while (!s_server_port && zclock_mono () < deadline) {
        zmq_pollitem_t item = { NULL, shic_proc_stderr_fd (proc), ZMQ_POLLIN, 0 };
        zmq_poll (&item, 1, 100);
        shic_proc_read (proc, shic_proc_stderr_fd (proc), s_server_line, NULL);
    }
    assert (s_server_port > 0);
    return proc;
}

static void
s_server_stop (shic_proc_t **proc_p)
{
    shic_proc_stop (*proc_p, 1000);
    shic_proc_destroy (proc_p);
}

//  --------------------------------------------------------------------------
//  command

static void
s_test_command (bool verbose)
{
    (void) verbose;
    zconfig_t *runtime_config = zconfig_str_load ("runtime\n    restart_backoff_ms = 50\n");
    shic_runtime_t *runtime = shic_runtime_new (runtime_config);
    zconfig_destroy (&runtime_config);
    assert (runtime);
    //  The string form, with a ready pattern; the argv form, by polling
    char *text = zsys_sprintf (
        "backends\n"
        "    standin\n"
        "        type = command\n"
        "        command = %s --port ${PORT} -a ${MODEL} --load-ms 50\n"
        "        ready_pattern = server is listening on http://\n"
        "        health_interval_ms = 100\n"
        "        stop_timeout_ms = 2000\n"
        "        models\n"
        "            tiny = tiny-alias\n"
        "            small = small-alias\n"
        "        capabilities\n"
        "            streaming = true\n"
        "        needs = 8MiB\n"
        "    standin_argv\n"
        "        type = command\n"
        "        host = 127.0.0.1\n"
        "        port_pattern = no such text\n"
        "        argv\n"
        "            1 = %s\n"
        "            2 = --host\n"
        "            3 = ${HOST}\n"
        "            10 = ${MODEL}\n"
        "            4 = --port\n"
        "            5 = ${PORT}\n"
        "            6 = --load-ms\n"
        "            7 = 0\n"
        "            9 = -a\n"
        "        models\n"
        "            only = only-alias\n",
        shic_test_stand_in (), shic_test_stand_in ());
    shic_backends_t *backends = s_configure (runtime, text);
    zstr_free (&text);
    assert (shic_backends_size (backends) == 2);
    zsock_t *events = zsock_new_sub (shic_runtime_events_endpoint (runtime), "instance.");
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));

    //  The manifest carries the section's name and configured capabilities
    shic_val_t *result = shic_client_call (client, "list_backends", NULL);
    assert (result);
    const shic_val_t *manifest = shic_val_at (shic_val_get (result, "backends"), 0);
    assert (streq (s_str (manifest, "backend"), "standin"));
    assert (streq (s_str (manifest, "startup_kind"), SHIC_STARTUP_SPAWNED));
    assert (shic_val_bool (shic_val_path (manifest, "capabilities/streaming?")));
    shic_val_destroy (&result);

    //  Network clients name configured models only, and nothing else
    int port = shic_runtime_bind_gateway (runtime, "tcp://127.0.0.1:*");
    assert (port > 0);
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", port);
    shic_client_t *remote = shic_client_new (endpoint);
    result = s_ensure (remote, "standin", "huge", NULL, 5000);
    shic_test_expect_error (remote, result, SHIC_E_INVALID_BACKEND_OPTIONS);
    result = s_ensure (remote, "standin", "tiny", "{\"args\":[\"--evil\"]}", 5000);
    shic_test_expect_error (remote, result, SHIC_E_FORBIDDEN);
    assert (streq (s_str (shic_client_error (remote)->details, "field"), "args"));
    result = s_ensure (remote, "standin", "tiny", "{\"ready_timeout_ms\":1}", 5000);
    shic_test_expect_error (remote, result, SHIC_E_FORBIDDEN);
    shic_client_destroy (&remote);
    //  The host gets invalid_backend_options for an unknown option
    result = s_ensure (client, "standin", "tiny", "{\"binary\":\"/bin/sh\"}", 5000);
    shic_test_expect_error (client, result, SHIC_E_INVALID_BACKEND_OPTIONS);

    //  Spawned, ready, serving the configured model
    result = s_ensure (client, "standin", "tiny", NULL, 10000);
    assert (result);
    char *instance_id = strdup (s_str (result, "instance_id"));
    char *base_url = strdup (s_str (result, "endpoint/base_url"));
    assert (strncmp (instance_id, "standin:tiny:", 13) == 0);
    assert (strncmp (base_url, "http://127.0.0.1:", 17) == 0 && s_ends_with (base_url, "/v1"));
    assert (streq (s_str (result, "endpoint/model_identity"), "tiny"));
    assert (s_ends_with (s_str (result, "endpoint/health_ref"), "/health"));
    //  Its declared needs are placed in the ram pool
    assert (streq (s_str (result, "placement/footprint_source"), "declared"));
    assert (streq (s_str (result, "placement/pool"), "ram"));
    assert (shic_val_int (shic_val_path (result, "placement/footprint_bytes")) == 8 << 20);
    shic_val_destroy (&result);
    char *url = zsys_sprintf ("%s/models", base_url);
    assert (s_http_get (url, NULL, "tiny-alias") == 200);
    zstr_free (&url);

    //  SIGKILL: restarted on the same port, so the same endpoint
    shic_val_t *snap = s_lookup (client, instance_id);
    int pid = (int) shic_val_int (shic_val_get (snap, "pid"));
    shic_val_destroy (&snap);
    assert (pid > 0);
    kill (pid, SIGKILL);
    shic_val_t *event = shic_test_wait_event (events, "instance.restarting", 5000);
    assert (event);
    assert (shic_val_int (shic_val_path (event, "exit/signal")) == SIGKILL);
    shic_val_destroy (&event);
    event = shic_test_wait_event (events, "instance.ready", 10000);
    assert (event);
    assert (streq (s_str (event, "endpoint/base_url"), base_url));
    shic_val_destroy (&event);
    snap = s_lookup (client, instance_id);
    assert (shic_val_int (shic_val_get (snap, "restarts")) == 1);
    int new_pid = (int) shic_val_int (shic_val_get (snap, "pid"));
    assert (new_pid > 0 && new_pid != pid);
    shic_val_destroy (&snap);
    url = zsys_sprintf ("%s/models", base_url);
    assert (s_http_get (url, NULL, "tiny-alias") == 200);
    zstr_free (&url);

    //  The argv form: sorted by number, ${HOST} substituted, the one
    //  configured model taken when none is named, the port learned from
    //  "listening on http://host:port" when port_pattern is not seen
    result = s_ensure (client, "standin_argv", NULL, NULL, 10000);
    assert (result);
    assert (strncmp (s_str (result, "instance_id"), "standin_argv:only:", 18) == 0);
    url = zsys_sprintf ("%s/models", s_str (result, "endpoint/base_url"));
    assert (s_http_get (url, NULL, "only-alias") == 200);
    zstr_free (&url);
    shic_val_destroy (&result);

    zsock_destroy (&events);
    shic_client_destroy (&client);
    shic_runtime_destroy (&runtime);
    shic_backends_destroy (&backends);
    //  Stopped with the runtime: nothing left behind
    assert (kill (new_pid, 0) == -1 && errno == ESRCH);
    free (instance_id);
    free (base_url);
}

//  --------------------------------------------------------------------------
//  openai_compat

static void
s_test_openai_compat (bool verbose)
{
    (void) verbose;
    //  One server with an API key, one whose routes all sit under /v1,
    //  so that it has no /health at its root
    shic_proc_t *keyed = s_server_start ("served", "--api-key", "secret");
    int keyed_port = s_server_port;
    shic_proc_t *prefixed = s_server_start ("other", "--api-prefix", "/v1");
    int prefixed_port = s_server_port;

    shic_runtime_t *runtime = shic_runtime_new (NULL);
    assert (runtime);
    char *text = zsys_sprintf (
        "backends\n"
        "    local\n"
        "        type = openai_compat\n"
        "        base_url = http://127.0.0.1:%d/v1/\n"
        "        api_key = secret\n"
        "        health_interval_ms = 50\n"
        "        ready_timeout_ms = 1000\n"
        "        headers\n"
        "            X-Test = yes\n"
        "    openai_compat\n"
        "        base_url = http://127.0.0.1:%d/v1\n"
        "        model = other\n"
        "    nobody\n"
        "        type = openai_compat\n"
        "        base_url = http://127.0.0.1:1/v1\n",
        keyed_port, prefixed_port);
    shic_backends_t *backends = s_configure (runtime, text);
    zstr_free (&text);
    assert (shic_backends_size (backends) == 3);
    zsock_t *events = zsock_new_sub (shic_runtime_events_endpoint (runtime), "instance.");
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));

    //  Nobody listens: refused after a few probes, not at the 120 s deadline
    int64_t asked = zclock_mono ();
    shic_val_t *result = s_ensure (client, "nobody", "m", NULL, 20000);
    shic_test_expect_error (client, result, SHIC_E_READINESS_TIMEOUT);
    assert (zclock_mono () - asked < 5000);
    assert (strstr (shic_client_error (client)->message, "http://127.0.0.1:1/v1/models"));
    assert (strstr (shic_client_error (client)->message, "refused"));

    //  Ready when /models lists the model; the endpoint carries the key
    result = s_ensure (client, "local", "served", NULL, 5000);
    assert (result);
    char *instance_id = strdup (s_str (result, "instance_id"));
    const char *base_url = s_str (result, "endpoint/base_url");
    assert (s_ends_with (base_url, "/v1"));
    assert (streq (s_str (result, "endpoint/management_mode"), SHIC_MODE_EXTERNALLY_MANAGED));
    assert (streq (s_str (result, "endpoint/headers/Authorization"), "Bearer secret"));
    assert (streq (s_str (result, "endpoint/headers/X-Test"), "yes"));
    assert (streq (s_str (result, "endpoint/model_identity"), "served"));
    char *health_url = zsys_sprintf ("http://127.0.0.1:%d/health", keyed_port);
    assert (streq (s_str (result, "endpoint/health_ref"), health_url));
    zstr_free (&health_url);
    //  ... and the key works where the server wants it
    char *props = zsys_sprintf ("http://127.0.0.1:%d/props", keyed_port);
    const char *headers [] = { "Authorization: Bearer secret", NULL };
    assert (s_http_get (props, NULL, NULL) == 401);
    assert (s_http_get (props, headers, NULL) == 200);
    zstr_free (&props);
    shic_val_destroy (&result);

    //  No model named: any listed model will do, and names the endpoint
    result = s_ensure (client, "local", NULL, NULL, 5000);
    assert (result);
    assert (streq (s_str (result, "endpoint/model_identity"), "served"));
    assert (strncmp (s_str (result, "instance_id"), "local:any:", 10) == 0);
    shic_val_destroy (&result);
    //  A model the server does not list: never ready
    result = s_ensure (client, "local", "missing", NULL, 5000);
    shic_test_expect_error (client, result, SHIC_E_READINESS_TIMEOUT);
    //  Clients name a model and nothing else
    result = s_ensure (client, "local", "served", "{\"base_url\":\"http://evil\"}", 5000);
    shic_test_expect_error (client, result, SHIC_E_INVALID_BACKEND_OPTIONS);

    //  No /health at the root: /models is the health check; the model
    //  comes from the configuration
    result = s_ensure (client, "openai_compat", NULL, NULL, 5000);
    assert (result);
    assert (streq (s_str (result, "endpoint/model_identity"), "other"));
    char *models_url = zsys_sprintf ("http://127.0.0.1:%d/v1/models", prefixed_port);
    assert (streq (s_str (result, "endpoint/health_ref"), models_url));
    zstr_free (&models_url);
    assert (!shic_val_get (shic_val_path (result, "endpoint/headers"), "Authorization"));
    shic_val_destroy (&result);

    //  The server goes away: unavailable
    s_server_stop (&keyed);
    int64_t deadline = zclock_mono () + 5000;
    bool unavailable = false;
    while (!unavailable && zclock_mono () < deadline) {
        shic_val_t *event = shic_test_wait_event (events, "instance.health", 1000);
        if (event && streq (s_str (event, "instance_id"), instance_id))
            unavailable = streq (s_str (event, "health_status"), SHIC_HEALTH_UNAVAILABLE);
        shic_val_destroy (&event);
    }
    assert (unavailable);

    zsock_destroy (&events);
    shic_client_destroy (&client);
    shic_runtime_destroy (&runtime);
    shic_backends_destroy (&backends);
    s_server_stop (&prefixed);
    free (instance_id);
}

//  --------------------------------------------------------------------------
//  A plugin from the configuration

static void
s_test_plugin (bool verbose)
{
    (void) verbose;
    shic_proc_t *server = s_server_start ("m", NULL, NULL);
    int port = s_server_port;
    shic_runtime_t *runtime = shic_runtime_new (NULL);
    assert (runtime);
    char *text = zsys_sprintf (
        "backends\n"
        "    mine\n"
        "        plugin = %s\n"
        "        root_url = http://127.0.0.1:%d\n"
        "        greeting = hello\n"
        "        health_interval_ms = 50\n"
        "    again\n"
        "        plugin = %s\n"
        "        root_url = http://127.0.0.1:%d\n",
        s_plugin_path (), port, s_plugin_path (), port);
    shic_backends_t *backends = s_configure (runtime, text);
    zstr_free (&text);
    assert (shic_backends_size (backends) == 2);
    zsock_t *events = zsock_new_sub (shic_runtime_events_endpoint (runtime), "instance.");
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));

    //  Registered under the section names; the plugin saw its section
    shic_val_t *result = shic_client_call (client, "list_backends", NULL);
    assert (result);
    const shic_val_t *list = shic_val_get (result, "backends");
    assert (shic_val_size (list) == 2);
    assert (streq (s_str (shic_val_at (list, 0), "backend"), "again"));
    assert (streq (s_str (shic_val_at (list, 1), "backend"), "mine"));
    assert (streq (s_str (shic_val_at (list, 1), "metadata/greeting"), "hello"));
    assert (streq (s_str (shic_val_at (list, 1), "metadata/package"), "shic_plugin_example"));
    shic_val_destroy (&result);

    //  Ready through the plugin's own probe, given its own state
    result = s_ensure (client, "mine", "m", NULL, 5000);
    assert (result);
    char *instance_id = strdup (s_str (result, "instance_id"));
    assert (strncmp (instance_id, "mine:m:", 7) == 0);
    assert (shic_val_int (shic_val_path (result, "endpoint/metadata/probes")) >= 1);
    char *url = zsys_sprintf ("%s/models", s_str (result, "endpoint/base_url"));
    assert (s_http_get (url, NULL, "\"m\"") == 200);
    zstr_free (&url);
    shic_val_destroy (&result);
    //  The same package under another name is another backend
    result = s_ensure (client, "again", "m", NULL, 5000);
    assert (result);
    assert (strncmp (s_str (result, "instance_id"), "again:m:", 8) == 0);
    shic_val_destroy (&result);

    //  Health through the plugin: the server goes away
    s_server_stop (&server);
    int64_t deadline = zclock_mono () + 5000;
    bool unavailable = false;
    while (!unavailable && zclock_mono () < deadline) {
        shic_val_t *event = shic_test_wait_event (events, "instance.health", 1000);
        if (event && streq (s_str (event, "instance_id"), instance_id))
            unavailable = streq (s_str (event, "health_status"), SHIC_HEALTH_UNAVAILABLE);
        shic_val_destroy (&event);
    }
    assert (unavailable);
    //  Stopping calls the plugin's shutdown with its own state
    shic_val_t *args = shic_val_new_map ();
    shic_val_set_str (args, "instance_id", instance_id);
    result = shic_client_call (client, "stop_instance", &args);
    assert (result);
    shic_val_destroy (&result);
    shic_val_t *event = shic_test_wait_event (events, "instance.stopped", 5000);
    assert (event);
    shic_val_destroy (&event);

    zsock_destroy (&events);
    shic_client_destroy (&client);
    shic_runtime_destroy (&runtime);
    shic_backends_destroy (&backends);
    free (instance_id);
}

void
shic_generic_test (bool verbose)
{
    shic_backends_test (verbose);
    printf (" * generic command: ");
    s_test_command (verbose);
    printf ("OK\n");
    printf (" * generic openai_compat: ");
    s_test_openai_compat (verbose);
    printf ("OK\n");
    printf (" * generic plugin: ");
    s_test_plugin (verbose);
    printf ("OK\n");
}
