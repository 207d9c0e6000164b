/*  =========================================================================
    shic_kernel_test - the kernel end to end, through the wire protocol

    Every test starts a runtime with the test backends of this repository
    (tests/shic_test_backends.c), talks to it with shic_client_t exactly as
    a host would, and waits on events or replies with deadlines, never on
    sleeps.
    =========================================================================
*/

#include "shic.h"
#include "shic_proc.h"
#include "shic_http.h"
#include "shic_test_backends.h"
#include "shic_test_util.h"
#include "shic_kernel_test.h"
#include "shic_selftest.h"
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

//  --------------------------------------------------------------------------
//  Helpers

static shic_runtime_t *
s_runtime (const char *config_text)
{
    zconfig_t *config = config_text? zconfig_str_load (config_text): NULL;
    shic_runtime_t *runtime = shic_runtime_new (config);
    assert (runtime);
    const shic_backend_ops_t *all [] = { &shic_test_spawned_ops, &shic_test_attached_ops,
                                         &shic_test_liar_ops, &shic_test_liar_nil_ops, NULL };
    for (int i = 0; all [i]; i++) {
        shic_error_t err = { 0 };
        int rc = shic_runtime_register (runtime, all [i], NULL, &err);
        assert (rc == 0);
    }
    zconfig_destroy (&config);
    return runtime;
}

static zsock_t *
s_events (shic_runtime_t *runtime, const char *prefix)
{
    zsock_t *sub = zsock_new_sub (shic_runtime_events_endpoint (runtime), prefix);
    assert (sub);
    return sub;
}

static shic_val_t *
s_json (const char *text)
{
    shic_val_t *val = shic_val_from_json (text);
    assert (val);
    return val;
}

static shic_val_t *
s_ensure (shic_client_t *client, const char *backend, const char *model,
          const char *options_json, int64_t ttl_ms, int64_t wait_ms)
{
    shic_val_t *options = options_json? s_json (options_json): NULL;
    shic_val_t *result = shic_client_ensure (client, backend, model, options, ttl_ms, wait_ms);
    shic_val_destroy (&options);
    return result;
}

static shic_val_t *
s_call_json (shic_client_t *client, const char *op, const char *args_json)
{
    shic_val_t *args = args_json? s_json (args_json): NULL;
    return shic_client_call (client, op, &args);
}

static shic_val_t *
s_stats (shic_client_t *client)
{
    shic_val_t *stats = shic_client_call (client, "stats", NULL);
    assert (stats);
    return stats;
}

static const char *
s_str (const shic_val_t *val, const char *path)
{
    const char *str = shic_val_str (shic_val_path (val, path));
    return str? str: "";
}

//  --------------------------------------------------------------------------

void
shic_runtime_test (bool verbose)
{
    (void) verbose;
    printf (" * shic_runtime: ");
    shic_runtime_t *runtime = s_runtime (NULL);
    //  A second registration under the same name fails; an unknown
    //  unregister fails; a real one works
    shic_error_t err = { 0 };
    assert (shic_runtime_register (runtime, &shic_test_spawned_ops, NULL, &err) == -1);
    assert (err.code);
    shic_error_clear (&err);
    assert (shic_runtime_unregister (runtime, "nope") == -1);
    assert (shic_runtime_unregister (runtime, "test_liar") == 0);
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));
    shic_val_t *result = shic_client_call (client, "list_backends", NULL);
    assert (result);
    shic_val_t *list = shic_val_get (result, "backends");
    assert (shic_val_size (list) == 3);
    assert (streq (s_str (shic_val_at (list, 0), "backend"), "test_attached"));
    assert (streq (s_str (shic_val_at (list, 2), "backend"), "test_spawned"));
    shic_val_destroy (&result);
    //  The same table under a name of its own: its manifest says that name
    assert (shic_runtime_register_as (runtime, "", &shic_test_spawned_ops, NULL, &err) == -1);
    shic_error_clear (&err);
    assert (shic_runtime_register_as (runtime, "spawned_too", &shic_test_spawned_ops, NULL,
                                      &err) == 0);
    result = shic_client_call (client, "list_backends", NULL);
    list = shic_val_get (result, "backends");
    assert (shic_val_size (list) == 4);
    assert (streq (s_str (shic_val_at (list, 0), "backend"), "spawned_too"));
    shic_val_destroy (&result);
    assert (shic_runtime_unregister (runtime, "spawned_too") == 0);
    //  A TCP gateway on a wildcard port answers too
    int port = shic_runtime_bind_gateway (runtime, "tcp://127.0.0.1:*");
    assert (port > 0);
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", port);
    shic_client_t *remote = shic_client_new (endpoint);
    assert (shic_client_ping (remote) == 0);
    shic_client_destroy (&remote);
    assert (shic_client_ping (client) == 0);
    shic_client_destroy (&client);
    shic_runtime_destroy (&runtime);
    shic_runtime_destroy (&runtime);
    printf ("OK\n");
}

void
shic_client_test (bool verbose)
{
    (void) verbose;
    printf (" * shic_client: ");
    shic_runtime_t *runtime = s_runtime (NULL);
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));
    assert (client);
    //  Pipelined requests come back with their ids
    for (int i = 1; i <= 10; i++)
        assert (shic_client_send (client, i, "ping", NULL) == 0);
    int seen = 0;
    for (int i = 1; i <= 10; i++) {
        shic_wire_reply_t reply = { 0 };
        assert (shic_client_recv (client, &reply, 5000) == 0);
        assert (reply.ok);
        seen += (int) shic_val_int (reply.id);
        shic_wire_reply_reset (&reply);
    }
    assert (seen == 55);
    shic_val_t *result = shic_client_call (client, "ping", NULL);
    assert (result);
    assert (shic_val_int (shic_val_get (result, "protocol")) == 1);
    assert (streq (s_str (result, "version"), SHIC_VERSION));
    shic_val_destroy (&result);
    //  A REQ client works as well: its delimiter is kept
    zsock_t *req = zsock_new_req (shic_runtime_endpoint (runtime));
    shic_val_t *id = shic_val_new_str ("req-1");
    zframe_t *frame = shic_wire_request_encode (id, "ping", NULL);
    zframe_send (&frame, req, 0);
    zsock_set_rcvtimeo (req, 5000);
    frame = zframe_recv (req);
    assert (frame);
    shic_wire_reply_t reply = { 0 };
    assert (shic_wire_reply_decode (zframe_data (frame), zframe_size (frame), &reply) == 0);
    assert (reply.ok && shic_val_equal (reply.id, id));
    shic_wire_reply_reset (&reply);
    zframe_destroy (&frame);
    shic_val_destroy (&id);
    zsock_destroy (&req);
    shic_client_destroy (&client);
    shic_runtime_destroy (&runtime);
    //  Nobody listens: an ensure fails within about a second (not after its
    //  wait) with the client's own code, naming the endpoint
    shic_client_t *nobody = shic_client_new ("tcp://127.0.0.1:1");
    int64_t started = zclock_mono ();
    shic_val_t *args = shic_client_ensure_args ("x", "y", NULL, 0, -1);
    assert (!shic_client_call (nobody, "ensure_endpoint", &args));
    assert (zclock_mono () - started < 3000);
    assert (streq (shic_client_error (nobody)->code, SHIC_E_NO_REPLY));
    assert (strstr (shic_client_error (nobody)->message, "tcp://127.0.0.1:1"));
    shic_client_destroy (&nobody);
    printf ("OK\n");
}

//  --------------------------------------------------------------------------

static void
s_compat (shic_client_t *client, const char *backend, const char *consumer,
          bool compatible, const char *reason, const char *missing_json, const char *warnings_json)
{
    char *args = zsys_sprintf ("{\"backend\":\"%s\",\"consumer\":%s}", backend, consumer);
    shic_val_t *result = s_call_json (client, "compatibility", args);
    zstr_free (&args);
    assert (result);
    assert (shic_val_bool (shic_val_get (result, "compatible?")) == compatible);
    if (!streq (s_str (result, "reason"), reason)) {
        fprintf (stderr, "expected %s, got %s\n", reason, s_str (result, "reason"));
        assert (false);
    }
    shic_val_t *missing = s_json (missing_json);
    assert (shic_val_equal (missing, shic_val_get (result, "missing_requirements")));
    shic_val_destroy (&missing);
    if (warnings_json) {
        shic_val_t *warnings = s_json (warnings_json);
        assert (shic_val_equal (warnings, shic_val_get (result, "warnings")));
        shic_val_destroy (&warnings);
    }
    shic_val_destroy (&result);
}

void
shic_kernel_test_compatibility (bool verbose)
{
    (void) verbose;
    printf (" * kernel compatibility: ");
    shic_runtime_t *runtime = s_runtime (NULL);
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));
    const char *both = "\"accepted_management_modes\":[\"jido_managed\",\"externally_managed\"]";
    char consumer [512];
    s_compat (client, "nope", "{}", false, "backend_unregistered", "[\"backend\"]", NULL);
    snprintf (consumer, sizeof (consumer), "{\"accepted_runtime_kinds\":[\"task\"],%s}", both);
    s_compat (client, "test_spawned", consumer, false, "runtime_kind_mismatch", "[\"runtime_kind\"]", NULL);
    s_compat (client, "test_spawned", "{}", false, "management_mode_mismatch", "[\"management_mode\"]", NULL);
    snprintf (consumer, sizeof (consumer), "{\"accepted_protocols\":[\"openai_embeddings\"],%s}", both);
    s_compat (client, "test_spawned", consumer, false, "unsupported_protocol", "[\"protocol\"]", NULL);
    snprintf (consumer, sizeof (consumer),
              "{\"constraints\":{\"startup_kind\":\"attach_existing_service\"},%s}", both);
    s_compat (client, "test_spawned", consumer, false, "startup_kind_unsupported", "[\"startup_kind\"]", NULL);
    snprintf (consumer, sizeof (consumer), "{\"required_capabilities\":{\"streaming?\":false},%s}", both);
    s_compat (client, "test_spawned", consumer, false, "missing_streaming", "[\"streaming\"]", NULL);
    snprintf (consumer, sizeof (consumer),
              "{\"required_capabilities\":{\"tool_calling?\":true,\"streaming?\":true},%s}", both);
    s_compat (client, "test_spawned", consumer, false, "missing_capability", "[\"tool_calling\"]", NULL);
    snprintf (consumer, sizeof (consumer),
              "{\"required_capabilities\":{\"embeddings?\":\"unknown\"},"
              "\"optional_capabilities\":{\"tool_calling?\":true,\"streaming?\":true},%s}", both);
    s_compat (client, "test_spawned", consumer, true, "protocol_match", "[]", "[\"tool_calling\"]");
    //  ensure_endpoint answers incompatible with the result in details
    shic_val_t *args = shic_client_ensure_args ("test_spawned", "m", NULL, 0, 1000);
    shic_val_t *bad = s_json ("{\"accepted_management_modes\":[\"externally_managed\"]}");
    shic_val_set (args, "consumer", &bad);
    shic_val_t *result = shic_client_call (client, "ensure_endpoint", &args);
    shic_test_expect_error (client, result, SHIC_E_INCOMPATIBLE);
    assert (streq (s_str (shic_client_error (client)->details, "reason"), "management_mode_mismatch"));
    shic_client_destroy (&client);
    shic_runtime_destroy (&runtime);
    printf ("OK\n");
}

static void
s_lie (shic_client_t *client, const char *backend, const char *options,
       const char *startup_kind, const char *expected_json)
{
    shic_val_t *opts = s_json (options);
    shic_val_t *args = shic_client_ensure_args (backend, "m", opts, 0, 1000);
    shic_val_destroy (&opts);
    if (startup_kind)
        shic_val_set_str (shic_val_path (args, "request/target_preference"), "startup_kind", startup_kind);
    shic_val_t *result = shic_client_call (client, "ensure_endpoint", &args);
    shic_test_expect_error (client, result, SHIC_E_INVALID_STARTUP_PLAN);
    shic_val_t *expected = s_json (expected_json);
    if (!shic_val_equal (expected, shic_client_error (client)->details)) {
        char *got = shic_val_to_json (shic_client_error (client)->details);
        fprintf (stderr, "expected %s, got %s\n", expected_json, got);
        assert (false);
    }
    shic_val_destroy (&expected);
}

void
shic_kernel_test_truthfulness (bool verbose)
{
    (void) verbose;
    printf (" * kernel truthfulness: ");
    shic_runtime_t *runtime = s_runtime (NULL);
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));
    s_lie (client, "test_liar", "{}", "attach_existing_service",
           "[\"requested_startup_kind_mismatch\",\"attach_existing_service\",\"spawned\"]");
    s_lie (client, "test_liar", "{\"plan_startup_kind\":\"attach_existing_service\","
           "\"plan_mode\":\"externally_managed\",\"no_transport\":true}", NULL,
           "[\"manifest_startup_kind_mismatch\",\"test_liar\",\"spawned\",\"attach_existing_service\"]");
    s_lie (client, "test_liar", "{\"plan_mode\":\"externally_managed\"}", NULL,
           "[\"management_mode_mismatch\",\"spawned\",\"externally_managed\"]");
    s_lie (client, "test_liar", "{\"no_transport\":true}", NULL,
           "[\"spawned_requires_transport\",\"test_liar\"]");
    s_lie (client, "test_liar_nil", "{\"plan_startup_kind\":\"attach_existing_service\","
           "\"plan_mode\":\"externally_managed\"}", NULL,
           "[\"attached_must_not_spawn\",\"test_liar_nil\"]");
    s_lie (client, "test_liar", "{\"surface\":\"ssh_exec\"}", NULL,
           "[\"unsupported_execution_surface\",\"test_liar\",\"ssh_exec\",[\"local_subprocess\"]]");
    s_lie (client, "test_liar_nil", "{\"plan_startup_kind\":\"attach_existing_service\","
           "\"plan_mode\":\"externally_managed\",\"no_transport\":true}", NULL,
           "[\"manifest_management_mode_mismatch\",\"test_liar_nil\",[\"jido_managed\"],\"externally_managed\"]");
    shic_client_destroy (&client);
    shic_runtime_destroy (&runtime);
    printf ("OK\n");
}

//  --------------------------------------------------------------------------

//  Sends raw frames on a DEALER and returns the reply's error code (fresh)
static char *
s_raw (zsock_t *dealer, const void *data, size_t size, bool two_bodies)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addmem (msg, data, size);
    if (two_bodies)
        zmsg_addmem (msg, data, size);
    zmsg_send (&msg, dealer);
    zsock_set_rcvtimeo (dealer, 5000);
    zframe_t *frame = zframe_recv (dealer);
    assert (frame);
    shic_wire_reply_t reply = { 0 };
    assert (shic_wire_reply_decode (zframe_data (frame), zframe_size (frame), &reply) == 0);
    zframe_destroy (&frame);
    char *code = strdup (reply.ok? "ok": reply.error.code);
    shic_wire_reply_reset (&reply);
    return code;
}

static void
s_raw_expect (zsock_t *dealer, const char *json, const char *code)
{
    shic_val_t *val = s_json (json);
    void *data;
    size_t size;
    shic_val_encode (val, &data, &size);
    char *got = s_raw (dealer, data, size, false);
    if (!streq (got, code)) {
        fprintf (stderr, "%s: expected %s, got %s\n", json, code, got);
        assert (false);
    }
    free (got);
    free (data);
    shic_val_destroy (&val);
}

static void
s_ensure_expect (shic_client_t *client, const char *args_json, const char *code)
{
    shic_val_t *result = s_call_json (client, "ensure_endpoint", args_json);
    shic_test_expect_error (client, result, code);
}

//  The envelope and request-shape errors, on any endpoint (inproc or tcp)
static void
s_protocol_errors (const char *endpoint)
{
    zsock_t *dealer = zsock_new_dealer (endpoint);
    //  Envelope and body
    char *code = s_raw (dealer, "\xc1garbage", 8, false);
    assert (streq (code, SHIC_E_MALFORMED));
    free (code);
    code = s_raw (dealer, "\x81\xa1v\x01", 4, true);
    assert (streq (code, SHIC_E_MALFORMED));
    free (code);
    s_raw_expect (dealer, "[1,2]", SHIC_E_MALFORMED);
    s_raw_expect (dealer, "{\"v\":2,\"id\":1,\"op\":\"ping\"}", SHIC_E_UNSUPPORTED_VERSION);
    s_raw_expect (dealer, "{\"v\":1,\"id\":1,\"op\":\"fly\"}", SHIC_E_UNKNOWN_OP);
    s_raw_expect (dealer, "{\"v\":1,\"id\":[1],\"op\":\"ping\"}", SHIC_E_INVALID_ARGS);
    s_raw_expect (dealer, "{\"v\":1,\"id\":1,\"op\":\"ping\",\"args\":3}", SHIC_E_INVALID_ARGS);
    //  The daemon keeps serving after all that
    s_raw_expect (dealer, "{\"v\":1,\"id\":1,\"op\":\"ping\"}", "ok");
    zsock_destroy (&dealer);

    shic_client_t *client = shic_client_new (endpoint);
    const char *consumer = "\"consumer\":{\"accepted_management_modes\":[\"jido_managed\",\"externally_managed\"]}";
    char args [1024];
    snprintf (args, sizeof (args), "{\"request\":5,%s}", consumer);
    s_ensure_expect (client, args, SHIC_E_INVALID_REQUEST);
    s_ensure_expect (client, "{\"request\":{},\"consumer\":\"me\"}", SHIC_E_INVALID_CONSUMER_MANIFEST);
    snprintf (args, sizeof (args), "{\"request\":{},%s}", consumer);
    s_ensure_expect (client, args, SHIC_E_MISSING_REQUEST_FIELD);
    snprintf (args, sizeof (args), "{\"request\":{\"target_preference\":3},%s}", consumer);
    s_ensure_expect (client, args, SHIC_E_INVALID_TARGET_PREFERENCE);
    snprintf (args, sizeof (args), "{\"request\":{\"target_preference\":{}},%s}", consumer);
    s_ensure_expect (client, args, SHIC_E_MISSING_TARGET_PREFERENCE);
    snprintf (args, sizeof (args), "{\"request\":{\"target_preference\":{\"backend\":\"nope\"}},%s}", consumer);
    s_ensure_expect (client, args, SHIC_E_UNKNOWN_BACKEND_ID);
    snprintf (args, sizeof (args), "{\"request\":{\"target_preference\":{\"backend\":\"test_spawned\","
              "\"startup_kind\":\"teleported\"}},%s}", consumer);
    s_ensure_expect (client, args, SHIC_E_INVALID_STARTUP_KIND);
    snprintf (args, sizeof (args), "{\"request\":{\"target_preference\":{\"backend\":\"test_spawned\"}},"
              "\"ttl_ms\":-5,%s}", consumer);
    s_ensure_expect (client, args, SHIC_E_INVALID_ARGS);
    assert (streq (s_str (shic_client_error (client)->details, "field"), "ttl_ms"));
    snprintf (args, sizeof (args), "{\"request\":{\"target_preference\":{\"backend\":\"test_spawned\"}},%s}",
              consumer);
    s_ensure_expect (client, args, SHIC_E_INVALID_BACKEND_OPTIONS);
    shic_val_t *result = s_ensure (client, "test_spawned", "m", "{\"colour\":\"red\"}", 0, 1000);
    shic_test_expect_error (client, result, SHIC_E_INVALID_BACKEND_OPTIONS);
    result = s_call_json (client, "lookup_instance", "{\"instance_id\":\"nope\"}");
    shic_test_expect_error (client, result, SHIC_E_NOT_FOUND);
    result = s_call_json (client, "renew_lease", "{\"lease_ref\":\"lease-999\"}");
    shic_test_expect_error (client, result, SHIC_E_LEASE_NOT_FOUND);
    result = s_call_json (client, "release_lease", "{\"lease_ref\":\"lease-999\"}");
    assert (result);
    shic_val_destroy (&result);
    //  stop_instance is the trusted socket's (network: allow_network_stop)
    result = s_call_json (client, "stop_instance", "{\"instance_id\":\"nope\"}");
    if (strncmp (endpoint, "inproc://", 9) == 0) {
        assert (result);
        shic_val_destroy (&result);
    }
    else
        shic_test_expect_error (client, result, SHIC_E_FORBIDDEN);
    result = s_call_json (client, "release_lease", "{}");
    shic_test_expect_error (client, result, SHIC_E_INVALID_ARGS);
    //  Every other op answers
    const char *ops [] = { "ping", "list_backends", "list_instances", "list_leases", "stats", NULL };
    for (int i = 0; ops [i]; i++) {
        result = shic_client_call (client, ops [i], NULL);
        assert (result);
        shic_val_destroy (&result);
    }
    result = s_call_json (client, "compatibility", "{\"backend\":\"test_spawned\",\"consumer\":{}}");
    assert (result);
    shic_val_destroy (&result);
    shic_client_destroy (&client);
}

void
shic_kernel_test_errors (bool verbose)
{
    (void) verbose;
    printf (" * kernel errors: ");
    shic_runtime_t *runtime = s_runtime (NULL);
    s_protocol_errors (shic_runtime_endpoint (runtime));
    //  The same over TCP
    int port = shic_runtime_bind_gateway (runtime, "tcp://127.0.0.1:*");
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", port);
    s_protocol_errors (endpoint);
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));
    shic_val_t *result = NULL;

    //  forbidden: a network client may not choose the binary
    shic_client_t *remote = shic_client_new (endpoint);
    result = s_ensure (remote, "test_spawned", "m", "{\"binary\":\"/bin/sh\"}", 0, 1000);
    shic_test_expect_error (remote, result, SHIC_E_FORBIDDEN);
    assert (streq (s_str (shic_client_error (remote)->details, "field"), "binary"));
    //  transport_start_failed: the trusted host may, but it does not exist
    result = s_ensure (client, "test_spawned", "m", "{\"binary\":\"/nonexistent/llama\"}", 0, 5000);
    shic_test_expect_error (client, result, SHIC_E_TRANSPORT_START_FAILED);
    //  stats counted the errors
    shic_val_t *stats = s_stats (client);
    assert (shic_val_int (shic_val_path (stats, "errors/malformed")) == 6);
    assert (shic_val_int (shic_val_path (stats, "errors/invalid_backend_options")) == 4);
    shic_val_destroy (&stats);
    shic_client_destroy (&remote);
    shic_client_destroy (&client);
    shic_runtime_destroy (&runtime);

    //  capacity: one lease and one instance at most
    runtime = s_runtime ("runtime\n    max_leases = 1\n    max_instances = 1\n    lease_spare = 2\n");
    client = shic_client_new (shic_runtime_endpoint (runtime));
    result = s_ensure (client, "test_spawned", "cap", NULL, 0, 10000);
    assert (result);
    shic_val_destroy (&result);
    result = s_ensure (client, "test_spawned", "cap", NULL, 0, 10000);
    shic_test_expect_error (client, result, SHIC_E_CAPACITY);
    assert (streq (s_str (shic_client_error (client)->details, "limit"), "max_leases"));
    result = s_ensure (client, "test_spawned", "other", NULL, 0, 10000);
    shic_test_expect_error (client, result, SHIC_E_CAPACITY);
    assert (streq (s_str (shic_client_error (client)->details, "limit"), "max_instances"));
    shic_client_destroy (&client);
    shic_runtime_destroy (&runtime);
    printf ("OK\n");
}

//  --------------------------------------------------------------------------
//  200 threads, one cold instance

#define HERD 200

typedef struct {
    const char *endpoint;           //  gateway
    pthread_barrier_t *barrier;     //  start together
    char *lease_ref;                //  result
    char *instance_id;              //  result
    bool reused;                    //  result
} s_herd_t;

static void *
s_herd_thread (void *arg)
{
    s_herd_t *self = (s_herd_t *) arg;
    shic_client_t *client = shic_client_new (self->endpoint);
    pthread_barrier_wait (self->barrier);
    shic_val_t *result = s_ensure (client, "test_spawned", "herd", "{\"load_ms\":300}", 0, 30000);
    if (result) {
        self->lease_ref = strdup (s_str (result, "lease/lease_ref"));
        self->instance_id = strdup (s_str (result, "instance_id"));
        self->reused = shic_val_bool (shic_val_get (result, "reused"));
    }
    shic_val_destroy (&result);
    shic_client_destroy (&client);
    return NULL;
}

void
shic_kernel_test_herd (bool verbose)
{
    (void) verbose;
    printf (" * kernel herd: ");
    shic_runtime_t *runtime = s_runtime (NULL);
    pthread_barrier_t barrier;
    pthread_barrier_init (&barrier, NULL, HERD);
    s_herd_t herd [HERD];
    pthread_t threads [HERD];
    for (int i = 0; i < HERD; i++) {
        herd [i] = (s_herd_t) { shic_runtime_endpoint (runtime), &barrier, NULL, NULL, false };
        pthread_create (&threads [i], NULL, s_herd_thread, &herd [i]);
    }
    for (int i = 0; i < HERD; i++)
        pthread_join (threads [i], NULL);
    pthread_barrier_destroy (&barrier);
    zhashx_t *refs = zhashx_new ();
    int fresh = 0;
    for (int i = 0; i < HERD; i++) {
        assert (herd [i].lease_ref);
        assert (streq (herd [i].instance_id, herd [0].instance_id));
        assert (zhashx_insert (refs, herd [i].lease_ref, herd [i].lease_ref) == 0);
        fresh += herd [i].reused? 0: 1;
    }
    assert (fresh == 1);
    zhashx_destroy (&refs);
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));
    shic_val_t *stats = s_stats (client);
    assert (shic_val_int (shic_val_get (stats, "instances_started")) == 1);
    shic_val_destroy (&stats);
    //  Each lease is held by its own lease actor (leases granted while the
    //  pool grew are bound as actors come up: wait for that, with a deadline)
    shic_val_t *leases = NULL;
    shic_val_t *list = NULL;
    int64_t deadline = zclock_mono () + 10000;
    while (true) {
        leases = s_call_json (client, "list_leases", NULL);
        list = shic_val_get (leases, "leases");
        size_t bound = 0;
        for (size_t i = 0; i < shic_val_size (list); i++)
            bound += shic_val_str (shic_val_get (shic_val_at (list, i), "actor"))? 1: 0;
        if (bound == HERD || zclock_mono () > deadline)
            break;
        shic_val_destroy (&leases);
        zclock_sleep (10);          //  polling a state, with the deadline above
    }
    assert (shic_val_size (list) == HERD);
    zhashx_t *actors = zhashx_new ();
    for (size_t i = 0; i < HERD; i++) {
        const char *actor = s_str (shic_val_at (list, i), "actor");
        assert (*actor);
        assert (zhashx_insert (actors, actor, (void *) actor) == 0);
    }
    zhashx_destroy (&actors);
    shic_val_destroy (&leases);
    for (int i = 0; i < HERD; i++) {
        assert (shic_client_release (client, herd [i].lease_ref) == 0);
        free (herd [i].lease_ref);
        free (herd [i].instance_id);
    }
    shic_val_t *snap = s_call_json (client, "list_instances", NULL);
    assert (shic_val_int (shic_val_get (shic_val_at (shic_val_get (snap, "instances"), 0), "lease_count")) == 0);
    shic_val_destroy (&snap);
    shic_client_destroy (&client);
    shic_runtime_destroy (&runtime);
    printf ("OK\n");
}

//  --------------------------------------------------------------------------

void
shic_kernel_test_leases (bool verbose)
{
    (void) verbose;
    printf (" * kernel leases: ");
    shic_runtime_t *runtime = s_runtime ("runtime\n    client_timeout_ms = 400\n");
    zsock_t *events = s_events (runtime, "lease.");
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));
    //  TTL expiry
    shic_val_t *result = s_ensure (client, "test_spawned", "lease", NULL, 200, 10000);
    assert (result);
    char *ref = strdup (s_str (result, "lease/lease_ref"));
    assert (streq (ref, s_str (result, "endpoint/lease_ref")));
    assert (shic_val_int (shic_val_path (result, "lease/expires_at_ms")) > 0);
    shic_val_destroy (&result);
    shic_val_t *event = shic_test_wait_event (events, "lease.expired", 5000);
    assert (event && streq (s_str (event, "lease_ref"), ref));
    shic_val_destroy (&event);
    result = s_call_json (client, "renew_lease", "{\"lease_ref\":\"lease-1\"}");
    shic_test_expect_error (client, result, SHIC_E_LEASE_NOT_FOUND);
    zstr_free (&ref);

    //  A longer lease's actor hears of it with the housekeeping, after the
    //  replies; it expires all the same, on its absolute time
    result = s_ensure (client, "test_spawned", "lease", NULL, 2100, 10000);
    assert (result);
    ref = strdup (s_str (result, "lease/lease_ref"));
    int64_t expires_at = shic_val_int (shic_val_path (result, "lease/expires_at_ms"));
    shic_val_destroy (&result);
    event = shic_test_wait_event (events, "lease.expired", 6000);
    assert (event && streq (s_str (event, "lease_ref"), ref));
    assert (shic_val_int (shic_val_get (event, "at_ms")) >= expires_at);
    shic_val_destroy (&event);
    zstr_free (&ref);

    //  Renewal keeps a lease alive past its first TTL
    result = s_ensure (client, "test_spawned", "lease", NULL, 300, 10000);
    ref = strdup (s_str (result, "lease/lease_ref"));
    assert (shic_val_bool (shic_val_get (result, "reused")));
    shic_val_destroy (&result);
    char *args = zsys_sprintf ("{\"lease_ref\":\"%s\",\"ttl_ms\":5000}", ref);
    result = s_call_json (client, "renew_lease", args);
    assert (result);
    assert (shic_val_int (shic_val_path (result, "lease/ttl_ms")) == 5000);
    shic_val_destroy (&result);
    zstr_free (&args);
    event = shic_test_wait_event (events, "lease.expired", 800);
    assert (event == NULL);
    //  Release is idempotent
    assert (shic_client_release (client, ref) == 0);
    assert (shic_client_release (client, ref) == 0);
    event = shic_test_wait_event (events, "lease.released", 2000);
    assert (event && streq (s_str (event, "reason"), "released"));
    shic_val_destroy (&event);
    zstr_free (&ref);

    //  An untimed lease of the host's own inproc client never ends by silence
    result = s_ensure (client, "test_spawned", "lease", NULL, 0, 10000);
    ref = strdup (s_str (result, "lease/lease_ref"));
    shic_val_destroy (&result);
    event = shic_test_wait_event (events, "lease.expired", 1000);
    assert (event == NULL);
    assert (shic_client_release (client, ref) == 0);
    zstr_free (&ref);

    //  ... but one of a network client ends when the client falls silent
    int port = shic_runtime_bind_gateway (runtime, "tcp://127.0.0.1:*");
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", port);
    shic_client_t *remote = shic_client_new (endpoint);
    shic_client_t *other = shic_client_new (endpoint);
    result = s_ensure (remote, "test_spawned", "lease", NULL, 0, 10000);
    ref = strdup (s_str (result, "lease/lease_ref"));
    shic_val_destroy (&result);
    result = s_ensure (other, "test_spawned", "lease", NULL, 0, 10000);
    char *other_ref = strdup (s_str (result, "lease/lease_ref"));
    shic_val_destroy (&result);
    //  The other client keeps pinging; the first one is silent
    int64_t deadline = zclock_mono () + 5000;
    bool ended = false;
    while (!ended && zclock_mono () < deadline) {
        assert (shic_client_ping (other) == 0);
        event = shic_test_wait_event (events, "lease.expired", 100);
        if (event) {
            assert (streq (s_str (event, "lease_ref"), ref));
            assert (streq (s_str (event, "reason"), "client_gone"));
            ended = true;
        }
        shic_val_destroy (&event);
    }
    assert (ended);
    char *renew = zsys_sprintf ("{\"lease_ref\":\"%s\"}", other_ref);
    result = s_call_json (other, "renew_lease", renew);
    assert (result);
    shic_val_destroy (&result);
    zstr_free (&renew);
    zstr_free (&ref);
    zstr_free (&other_ref);
    shic_client_destroy (&remote);
    shic_client_destroy (&other);
    zsock_destroy (&events);
    shic_client_destroy (&client);
    shic_runtime_destroy (&runtime);
    printf ("OK\n");
}

void
shic_kernel_test_idle (bool verbose)
{
    (void) verbose;
    printf (" * kernel idle: ");
    shic_runtime_t *runtime = s_runtime (NULL);
    zsock_t *events = s_events (runtime, "instance.");
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));
    shic_val_t *result = s_ensure (client, "test_spawned", "idle", "{\"idle_shutdown_ms\":300}", 0, 10000);
    assert (result);
    char *ref = strdup (s_str (result, "lease/lease_ref"));
    char *id = strdup (s_str (result, "instance_id"));
    shic_val_destroy (&result);
    char *args = zsys_sprintf ("{\"instance_id\":\"%s\"}", id);
    shic_val_t *snap = s_call_json (client, "lookup_instance", args);
    int pid = (int) shic_val_int (shic_val_get (snap, "pid"));
    assert (pid > 0 && kill (pid, 0) == 0);
    assert (streq (s_str (snap, "lifecycle_status"), "ready"));
    shic_val_destroy (&snap);
    //  A held lease keeps it running past the idle time
    shic_val_t *event = shic_test_wait_event (events, "instance.stopped", 700);
    assert (event == NULL);
    assert (shic_client_release (client, ref) == 0);
    event = shic_test_wait_event (events, "instance.stopped", 5000);
    assert (event && streq (s_str (event, "instance_id"), id));
    shic_val_destroy (&event);
    snap = s_call_json (client, "lookup_instance", args);
    assert (streq (s_str (snap, "lifecycle_status"), "stopped"));
    shic_val_destroy (&snap);
    //  The process is gone (reaped: kill fails)
    assert (kill (pid, 0) == -1);
    //  A new ensure starts it again
    result = s_ensure (client, "test_spawned", "idle", "{\"idle_shutdown_ms\":300}", 0, 10000);
    assert (result && !shic_val_bool (shic_val_get (result, "reused")));
    shic_val_destroy (&result);
    //  stop_instance is idempotent and never restarts
    result = s_call_json (client, "stop_instance", args);
    assert (result);
    shic_val_destroy (&result);
    result = s_call_json (client, "stop_instance", args);
    assert (result);
    shic_val_destroy (&result);
    event = shic_test_wait_event (events, "instance.stopped", 5000);
    assert (event);
    shic_val_destroy (&event);
    event = shic_test_wait_event (events, "instance.restarting", 500);
    assert (event == NULL);
    zstr_free (&args);
    zstr_free (&ref);
    zstr_free (&id);
    zsock_destroy (&events);
    shic_client_destroy (&client);
    shic_runtime_destroy (&runtime);
    printf ("OK\n");
}

void
shic_kernel_test_await (bool verbose)
{
    (void) verbose;
    printf (" * kernel await: ");
    shic_runtime_t *runtime = s_runtime (NULL);
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));
    //  The reply gives up; the instance keeps starting
    shic_val_t *result = s_ensure (client, "test_spawned", "slow", "{\"load_ms\":1500}", 0, 100);
    shic_test_expect_error (client, result, SHIC_E_AWAIT_TIMEOUT);
    char *id = strdup (s_str (shic_client_error (client)->details, "instance_id"));
    //  A ping sent meanwhile is answered at once (replies out of order)
    assert (shic_client_ping (client) == 0);
    result = s_ensure (client, "test_spawned", "slow", "{\"load_ms\":1500}", 0, 10000);
    assert (result);
    assert (streq (s_str (result, "instance_id"), id));
    assert (shic_val_bool (shic_val_get (result, "reused")));
    shic_val_destroy (&result);
    shic_val_t *stats = s_stats (client);
    assert (shic_val_int (shic_val_get (stats, "instances_started")) == 1);
    shic_val_destroy (&stats);
    zstr_free (&id);
    shic_client_destroy (&client);
    shic_runtime_destroy (&runtime);
    printf ("OK\n");
}

void
shic_kernel_test_readiness (bool verbose)
{
    (void) verbose;
    printf (" * kernel readiness: ");
    shic_runtime_t *runtime = s_runtime (NULL);
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));
    //  Never ready: readiness_timeout with the last probe
    shic_val_t *result = s_ensure (client, "test_spawned", "never",
                                   "{\"never_ready\":true,\"ready_timeout_ms\":400}", 0, 10000);
    shic_test_expect_error (client, result, SHIC_E_READINESS_TIMEOUT);
    assert (shic_val_get (shic_client_error (client)->details, "last_probe"));
    //  The port learned from the log is probed at once (the probe after the
    //  ready line then reuses its connection): a service still loading has
    //  answered 503 although the next poll would be a minute away
    result = s_ensure (client, "test_spawned", "bound",
                       "{\"never_ready\":true,\"ready_timeout_ms\":400,"
                       "\"readiness_interval_ms\":60000}", 0, 10000);
    shic_test_expect_error (client, result, SHIC_E_READINESS_TIMEOUT);
    assert (shic_val_int (shic_val_path (shic_client_error (client)->details,
                                         "last_probe/http_status")) == 503);
    //  Ready through the log line: polling alone would take a minute
    result = s_ensure (client, "test_spawned", "line", "{\"readiness_interval_ms\":60000}", 0, 10000);
    assert (result);
    assert (strncmp (s_str (result, "endpoint/base_url"), "http://127.0.0.1:", 17) == 0);
    shic_val_destroy (&result);
    //  Ready through polling alone
    result = s_ensure (client, "test_spawned", "poll",
                       "{\"poll_only\":true,\"readiness_interval_ms\":50}", 0, 10000);
    assert (result);
    const char *base_url = s_str (result, "endpoint/base_url");
    assert (strlen (base_url) > 20 && streq (base_url + strlen (base_url) - 3, "/v1"));
    //  The endpoint really answers
    char url [256];
    snprintf (url, sizeof (url), "%s/models", base_url);
    shic_http_result_t http = { 0 };
    assert (shic_http_request ("GET", url, NULL, NULL, 2000, &http) == 0);
    assert (http.status == 200 && strstr (http.body, "poll"));
    shic_http_result_reset (&http);
    shic_val_destroy (&result);
    shic_client_destroy (&client);
    shic_runtime_destroy (&runtime);
    printf ("OK\n");
}

void
shic_kernel_test_start_failure (bool verbose)
{
    (void) verbose;
    printf (" * kernel start_failure: ");
    shic_runtime_t *runtime = s_runtime ("runtime\n    start_failure_hold_ms = 5000\n");
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));
    shic_val_t *result = s_ensure (client, "test_spawned", "broken", "{\"exit_before_ready\":17}", 0, 10000);
    shic_test_expect_error (client, result, SHIC_E_BACKEND_EXIT);
    const shic_val_t *details = shic_client_error (client)->details;
    assert (shic_val_int (shic_val_get (details, "code")) == 17);
    assert (strstr (s_str (details, "stderr_tail"), "exiting due to model loading error"));
    //  A caller that comes after the failure still gets it, and nothing
    //  is started again meanwhile
    result = s_ensure (client, "test_spawned", "broken", "{\"exit_before_ready\":17}", 0, 10000);
    shic_test_expect_error (client, result, SHIC_E_BACKEND_EXIT);
    assert (shic_val_int (shic_val_get (shic_client_error (client)->details, "code")) == 17);
    shic_val_t *stats = s_stats (client);
    assert (shic_val_int (shic_val_get (stats, "instances_started")) == 1);
    assert (shic_val_int (shic_val_path (stats, "instances/failed")) == 1);
    shic_val_destroy (&stats);
    shic_client_destroy (&client);
    shic_runtime_destroy (&runtime);
    printf ("OK\n");
}

void
shic_kernel_test_health (bool verbose)
{
    (void) verbose;
    printf (" * kernel health: ");
    shic_runtime_t *runtime = s_runtime ("runtime\n    restart_backoff_ms = 50\n");
    zsock_t *events = s_events (runtime, "instance.");
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));
    //  503 after ready: degraded, and still handed out
    shic_val_t *result = s_ensure (client, "test_spawned", "sick",
                                   "{\"health_status\":503,\"health_interval_ms\":50}", 0, 10000);
    assert (result);
    shic_val_destroy (&result);
    shic_val_t *event = shic_test_wait_event (events, "instance.health", 5000);
    assert (event && streq (s_str (event, "health_status"), "degraded"));
    shic_val_destroy (&event);
    result = s_ensure (client, "test_spawned", "sick",
                       "{\"health_status\":503,\"health_interval_ms\":50}", 0, 10000);
    if (!result)
        fprintf (stderr, "%s: %s\n", shic_client_error (client)->code, shic_client_error (client)->message);
    assert (result);
    shic_val_destroy (&result);
    //  SIGKILL: restarted on the same endpoint, the lease survives
    result = s_ensure (client, "test_spawned", "crash", "{\"health_interval_ms\":100}", 0, 10000);
    assert (result);
    char *ref = strdup (s_str (result, "lease/lease_ref"));
    char *base_url = strdup (s_str (result, "endpoint/base_url"));
    char *args = zsys_sprintf ("{\"instance_id\":\"%s\"}", s_str (result, "instance_id"));
    shic_val_destroy (&result);
    shic_val_t *snap = s_call_json (client, "lookup_instance", args);
    int pid = (int) shic_val_int (shic_val_get (snap, "pid"));
    shic_val_destroy (&snap);
    assert (pid > 0);
    kill (pid, SIGKILL);
    event = shic_test_wait_event (events, "instance.restarting", 5000);
    assert (event);
    assert (shic_val_int (shic_val_path (event, "exit/signal")) == SIGKILL);
    shic_val_destroy (&event);
    event = shic_test_wait_event (events, "instance.ready", 5000);
    assert (event);
    assert (streq (s_str (event, "endpoint/base_url"), base_url));
    shic_val_destroy (&event);
    snap = s_call_json (client, "lookup_instance", args);
    assert (shic_val_int (shic_val_get (snap, "restarts")) == 1);
    assert (shic_val_int (shic_val_get (snap, "lease_count")) == 1);
    assert (shic_val_int (shic_val_get (snap, "pid")) != pid);
    shic_val_destroy (&snap);
    char *renew = zsys_sprintf ("{\"lease_ref\":\"%s\"}", ref);
    result = s_call_json (client, "renew_lease", renew);
    assert (result);
    shic_val_destroy (&result);
    zstr_free (&renew);
    zstr_free (&args);
    zstr_free (&ref);
    zstr_free (&base_url);
    zsock_destroy (&events);
    shic_client_destroy (&client);
    shic_runtime_destroy (&runtime);
    printf ("OK\n");
}

//  --------------------------------------------------------------------------

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

//  Starts the stand-in as an independent server; waits for its port
static shic_proc_t *
s_server_start (int port)
{
    shic_proc_t *proc = shic_proc_new ();
    char port_text [16];
    snprintf (port_text, sizeof (port_text), "%d", port);
    char *argv [] = { (char *) shic_test_stand_in (), "--port", port_text,
                      "--load-ms", "0", NULL };
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

void
shic_kernel_test_attached (bool verbose)
{
    (void) verbose;
    printf (" * kernel attached: ");
    shic_proc_t *server = s_server_start (0);
    int port = s_server_port;
    shic_runtime_t *runtime = s_runtime (NULL);
    zsock_t *events = s_events (runtime, "instance.");
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));
    char options [256];
    snprintf (options, sizeof (options),
              "{\"root_url\":\"http://127.0.0.1:%d\",\"health_interval_ms\":50}", port);
    shic_val_t *result = s_ensure (client, "test_attached", "m", options, 0, 10000);
    assert (result);
    char *args = zsys_sprintf ("{\"instance_id\":\"%s\"}", s_str (result, "instance_id"));
    assert (streq (s_str (result, "endpoint/management_mode"), "externally_managed"));
    shic_val_destroy (&result);
    //  The daemon goes away: unavailable, and ensure says so
    shic_proc_stop (server, 1000);
    shic_proc_destroy (&server);
    shic_val_t *event = shic_test_wait_event (events, "instance.health", 5000);
    assert (event && streq (s_str (event, "health_status"), "unavailable"));
    shic_val_destroy (&event);
    result = s_ensure (client, "test_attached", "m", options, 0, 200);
    shic_test_expect_error (client, result, SHIC_E_INSTANCE_UNAVAILABLE);
    //  It comes back on the same port: healthy again, nothing restarted
    server = s_server_start (port);
    event = shic_test_wait_event (events, "instance.health", 5000);
    assert (event && streq (s_str (event, "health_status"), "healthy"));
    shic_val_destroy (&event);
    result = s_ensure (client, "test_attached", "m", options, 0, 10000);
    assert (result && shic_val_bool (shic_val_get (result, "reused")));
    shic_val_destroy (&result);
    shic_val_t *snap = s_call_json (client, "lookup_instance", args);
    assert (shic_val_int (shic_val_get (snap, "restarts")) == 0);
    assert (shic_val_type (shic_val_get (snap, "pid")) == SHIC_VAL_NIL);
    shic_val_destroy (&snap);
    //  Stopping the attached instance leaves the daemon serving
    result = s_call_json (client, "stop_instance", args);
    assert (result);
    shic_val_destroy (&result);
    event = shic_test_wait_event (events, "instance.stopped", 5000);
    assert (event);
    shic_val_destroy (&event);
    char url [128];
    snprintf (url, sizeof (url), "http://127.0.0.1:%d/health", port);
    shic_http_result_t http = { 0 };
    assert (shic_http_request ("GET", url, NULL, NULL, 2000, &http) == 0 && http.status == 200);
    shic_http_result_reset (&http);
    zstr_free (&args);
    zsock_destroy (&events);
    shic_client_destroy (&client);
    shic_runtime_destroy (&runtime);
    shic_proc_stop (server, 1000);
    shic_proc_destroy (&server);
    printf ("OK\n");
}

//  --------------------------------------------------------------------------
//  A crash loop: restarts with backoff, then failed for the cooldown, then
//  a fresh start

void
shic_kernel_test_crash_loop (bool verbose)
{
    (void) verbose;
    printf (" * kernel crash_loop: ");
    shic_runtime_t *runtime = s_runtime ("runtime\n    restart_backoff_ms = 20\n"
                                         "    max_restarts = 2\n    failed_cooldown_ms = 1500\n");
    zsock_t *events = s_events (runtime, "instance.");
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));
    //  Ready, then dies after answering its first request (the probe)
    const char *options = "{\"crash_after\":1}";
    shic_val_t *result = s_ensure (client, "test_spawned", "loop", options, 0, 10000);
    assert (result);
    shic_val_destroy (&result);
    //  restarting, ready, restarting, ready, failed: in that order
    const char *order [] = { "instance.restarting", "instance.ready", "instance.restarting",
                             "instance.ready", "instance.failed", NULL };
    for (int i = 0; order [i]; i++) {
        shic_val_t *event = shic_test_wait_event (events, order [i], 5000);
        if (!event) {
            fprintf (stderr, "missing %s\n", order [i]);
            assert (false);
        }
        shic_val_destroy (&event);
    }
    result = s_ensure (client, "test_spawned", "loop", options, 0, 10000);
    shic_test_expect_error (client, result, SHIC_E_INSTANCE_FAILED);
    const shic_val_t *details = shic_client_error (client)->details;
    assert (shic_val_int (shic_val_get (details, "restarts")) == 2);
    assert (shic_val_int (shic_val_get (details, "retry_after_ms")) > 0);
    assert (shic_val_int (shic_val_path (details, "last_exit/signal")) == SIGABRT);
    //  After the cooldown the next ensure starts it again
    int64_t deadline = zclock_mono () + 10000;
    bool recovered = false;
    while (!recovered && zclock_mono () < deadline) {
        shic_val_t *event = shic_test_wait_event (events, "instance.nothing", 200);
        assert (!event);
        result = s_ensure (client, "test_spawned", "loop", options, 0, 10000);
        recovered = result != NULL;
        if (!recovered)
            shic_test_expect_error (client, result, SHIC_E_INSTANCE_FAILED);
        shic_val_destroy (&result);
    }
    assert (recovered);
    shic_val_t *stats = s_stats (client);
    assert (shic_val_int (shic_val_get (stats, "instances_started")) == 2);
    shic_val_destroy (&stats);
    zsock_destroy (&events);
    shic_client_destroy (&client);
    shic_runtime_destroy (&runtime);
    printf ("OK\n");
}

//  A request waiting on a cold start when the runtime stops

static void *
s_waiting_thread (void *arg)
{
    char **code = (char **) arg;
    const char *endpoint = code [0];
    shic_client_t *client = shic_client_new (endpoint);
    shic_val_t *result = s_ensure (client, "test_spawned", "slow", "{\"load_ms\":5000}", 0, 20000);
    code [1] = strdup (result? "ok": shic_client_error (client)->code);
    shic_val_destroy (&result);
    shic_client_destroy (&client);
    return NULL;
}

void
shic_kernel_test_shutdown (bool verbose)
{
    (void) verbose;
    printf (" * kernel shutdown: ");
    shic_runtime_t *runtime = s_runtime (NULL);
    char *shared [2] = { strdup (shic_runtime_endpoint (runtime)), NULL };
    pthread_t thread;
    pthread_create (&thread, NULL, s_waiting_thread, shared);
    //  Wait until the instance is starting (asked, with a deadline)
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));
    int64_t deadline = zclock_mono () + 5000;
    size_t seen = 0;
    while (!seen && zclock_mono () < deadline) {
        shic_val_t *list = s_call_json (client, "list_instances", NULL);
        seen = shic_val_size (shic_val_get (list, "instances"));
        shic_val_destroy (&list);
        if (!seen) {
            zsock_t *nothing = zsock_new_pair (NULL);
            zsock_set_rcvtimeo (nothing, 20);
            char *none = zstr_recv (nothing);
            assert (!none);
            zsock_destroy (&nothing);
        }
    }
    assert (seen);
    shic_client_destroy (&client);
    int64_t started = zclock_mono ();
    shic_runtime_destroy (&runtime);
    pthread_join (thread, NULL);
    assert (shared [1] && streq (shared [1], SHIC_E_SHUTTING_DOWN));
    //  The runtime did not wait for the slow service to finish loading
    assert (zclock_mono () - started < 4000);
    free (shared [0]);
    free (shared [1]);
    printf ("OK\n");
}

//  A live but hung service (SIGSTOP): health checks go unavailable, and
//  after liveness_failures of them the supervisor restarts it

void
shic_kernel_test_liveness (bool verbose)
{
    (void) verbose;
    printf (" * kernel liveness: ");
    shic_runtime_t *runtime = s_runtime ("runtime\n    restart_backoff_ms = 20\n    liveness_failures = 2\n");
    zsock_t *events = s_events (runtime, "instance.");
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));
    shic_val_t *result = s_ensure (client, "test_spawned", "hang", "{\"health_interval_ms\":100}", 0, 10000);
    assert (result);
    char *args = zsys_sprintf ("{\"instance_id\":\"%s\"}", s_str (result, "instance_id"));
    shic_val_destroy (&result);
    shic_val_t *snap = s_call_json (client, "lookup_instance", args);
    int pid = (int) shic_val_int (shic_val_get (snap, "pid"));
    shic_val_destroy (&snap);
    kill (pid, SIGSTOP);
    shic_val_t *event = shic_test_wait_event (events, "instance.health", 5000);
    assert (event && streq (s_str (event, "health_status"), "unavailable"));
    shic_val_destroy (&event);
    event = shic_test_wait_event (events, "instance.restarting", 5000);
    assert (event);
    assert (shic_val_int (shic_val_path (event, "exit/signal")) == SIGKILL);
    shic_val_destroy (&event);
    event = shic_test_wait_event (events, "instance.ready", 5000);
    assert (event);
    shic_val_destroy (&event);
    snap = s_call_json (client, "lookup_instance", args);
    assert (shic_val_int (shic_val_get (snap, "pid")) != pid);
    assert (streq (s_str (snap, "health_status"), "healthy"));
    shic_val_destroy (&snap);
    zstr_free (&args);
    zsock_destroy (&events);
    shic_client_destroy (&client);
    shic_runtime_destroy (&runtime);
    printf ("OK\n");
}

//  CURVE on the network gateway: a known client key is answered, an
//  unknown one and a plain client are not

void
shic_kernel_test_curve (bool verbose)
{
    (void) verbose;
    printf (" * kernel curve: ");
    char dir [] = "/tmp/shic-curve-XXXXXX";
    assert (mkdtemp (dir));
    char *clients = zsys_sprintf ("%s/clients", dir);
    zsys_dir_create (clients);
    char *server_path = zsys_sprintf ("%s/server.cert", dir);
    char *alice_path = zsys_sprintf ("%s/alice.cert", dir);
    char *mallory_path = zsys_sprintf ("%s/mallory.cert", dir);
    char *alice_public = zsys_sprintf ("%s/alice.cert", clients);
    zcert_t *server = zcert_new ();
    zcert_t *alice = zcert_new ();
    zcert_t *mallory = zcert_new ();
    assert (zcert_save (server, server_path) == 0);
    assert (zcert_save (alice, alice_path) == 0);
    assert (zcert_save (mallory, mallory_path) == 0);
    assert (zcert_save_public (alice, alice_public) == 0);
    char server_key [41];
    snprintf (server_key, sizeof (server_key), "%s", zcert_public_txt (server));

    shic_runtime_t *runtime = s_runtime (NULL);
    assert (shic_runtime_set_curve (runtime, "/nonexistent/cert", clients) == -1);
    assert (shic_runtime_set_curve (runtime, server_path, clients) == 0);
    int port = shic_runtime_bind_gateway (runtime, "tcp://127.0.0.1:*");
    assert (port > 0);
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", port);

    shic_client_t *good = shic_client_new_curve (endpoint, server_key, alice_path);
    assert (good);
    assert (shic_client_ping (good) == 0);
    shic_client_t *bad = shic_client_new_curve (endpoint, server_key, mallory_path);
    assert (bad);
    shic_client_set_timeout (bad, 500);
    assert (shic_client_ping (bad) == -1);
    shic_client_t *plain = shic_client_new (endpoint);
    shic_client_set_timeout (plain, 500);
    assert (shic_client_ping (plain) == -1);
    //  The trusted inproc socket needs no key
    shic_client_t *inproc = shic_client_new (shic_runtime_endpoint (runtime));
    assert (shic_client_ping (inproc) == 0);
    shic_client_destroy (&inproc);
    shic_client_destroy (&plain);
    shic_client_destroy (&bad);
    shic_client_destroy (&good);
    shic_runtime_destroy (&runtime);
    zcert_destroy (&server);
    zcert_destroy (&alice);
    zcert_destroy (&mallory);
    zsys_file_delete (alice_public);
    zsys_dir_delete (clients);
    char *files [] = { server_path, alice_path, mallory_path, NULL };
    for (int i = 0; files [i]; i++) {
        char *secret = zsys_sprintf ("%s_secret", files [i]);
        zsys_file_delete (files [i]);
        zsys_file_delete (secret);
        free (secret);
        free (files [i]);
    }
    zsys_dir_delete (dir);
    free (clients);
    free (alice_public);
    printf ("OK\n");
}

//  The network gateway's limits: a frame over max_frame is dropped and its
//  peer disconnected, one just under it is answered; a client that never
//  reads its replies does not hold up anyone else

void
shic_kernel_test_gateway_limits (bool verbose)
{
    (void) verbose;
    printf (" * kernel gateway_limits: ");
    shic_runtime_t *runtime = s_runtime ("runtime\n    max_frame = 65536\n");
    int port = shic_runtime_bind_gateway (runtime, "tcp://127.0.0.1:*");
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", port);
    //  Oversized: dropped by the socket, no reply
    zsock_t *big = zsock_new_dealer (endpoint);
    size_t size = 200 * 1024;
    char *junk = (char *) malloc (size);
    memset (junk, 'x', size);
    zframe_t *frame = zframe_new (junk, size);
    zframe_send (&frame, big, 0);
    zsock_set_rcvtimeo (big, 300);
    frame = zframe_recv (big);
    assert (frame == NULL);
    zsock_destroy (&big);
    free (junk);
    //  Just under the limit: a ping with a large argument is answered
    shic_client_t *client = shic_client_new (endpoint);
    shic_val_t *args = shic_val_new_map ();
    char *padding = (char *) malloc (60000);
    memset (padding, 'y', 59999);
    padding [59999] = 0;
    shic_val_set_str (args, "padding", padding);
    free (padding);
    shic_val_t *result = shic_client_call (client, "ping", &args);
    assert (result);
    shic_val_destroy (&result);
    //  A client that never reads: 20,000 requests queue up for it
    zsock_t *deaf = zsock_new_dealer (endpoint);
    zsock_set_sndtimeo (deaf, 1000);
    shic_val_t *id = shic_val_new_int (1);
    frame = shic_wire_request_encode (id, "ping", NULL);
    for (int i = 0; i < 20000; i++) {
        zframe_t *copy = zframe_dup (frame);
        if (zframe_send (&copy, deaf, 0) == -1) {
            zframe_destroy (&copy);
            break;
        }
    }
    zframe_destroy (&frame);
    shic_val_destroy (&id);
    //  ...and the others are still answered
    for (int i = 0; i < 10; i++) {
        int64_t started = zclock_mono ();
        assert (shic_client_ping (client) == 0);
        assert (zclock_mono () - started < 5000);
    }
    zsock_destroy (&deaf);
    assert (shic_client_ping (client) == 0);
    shic_client_destroy (&client);
    shic_runtime_destroy (&runtime);
    printf ("OK\n");
}

//  Issue 15 point 3: a lease ref is a capability (random, 128 bits); other
//  clients see a lease without it; network clients may not stop instances
//  unless configured, the host and a client of the control socket may
void
shic_kernel_test_ownership (bool verbose)
{
    (void) verbose;
    printf (" * kernel ownership: ");
    char control [128];
    snprintf (control, sizeof (control), "/tmp/shic-ownership-%d.sock", getpid ());
    char *config = zsys_sprintf ("shicd\n    control = \"ipc://%s\"\n", control);
    shic_runtime_t *runtime = s_runtime (config);
    zstr_free (&config);
    shic_client_t *host = shic_client_new (shic_runtime_endpoint (runtime));
    int port = shic_runtime_bind_gateway (runtime, "tcp://127.0.0.1:*");
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", port);
    shic_client_t *alice = shic_client_new (endpoint);
    shic_client_t *mallory = shic_client_new (endpoint);
    shic_val_t *result = s_ensure (alice, "test_spawned", "owned", NULL, 0, 10000);
    assert (result);
    char *ref = strdup (s_str (result, "lease/lease_ref"));
    char *instance = strdup (s_str (result, "instance_id"));
    shic_val_destroy (&result);
    assert (strlen (ref) == 6 + 32 && strncmp (ref, "lease-", 6) == 0
            && strspn (ref + 6, "0123456789abcdef") == 32);

    //  Its holder and the host see the ref; another client the lease only
    shic_client_t *viewers [] = { alice, host, mallory };
    for (int i = 0; i < 3; i++) {
        result = s_call_json (viewers [i], "list_leases", NULL);
        assert (result && shic_val_size (shic_val_get (result, "leases")) == 1);
        const shic_val_t *lease = shic_val_at (shic_val_get (result, "leases"), 0);
        assert (streq (s_str (lease, "instance_id"), instance));
        if (viewers [i] == mallory)
            assert (shic_val_type (shic_val_get (lease, "lease_ref")) == SHIC_VAL_NIL);
        else
            assert (streq (s_str (lease, "lease_ref"), ref));
        shic_val_destroy (&result);
    }
    //  A guessed ref names no lease
    result = s_call_json (mallory, "renew_lease", "{\"lease_ref\":\"lease-1\",\"ttl_ms\":1}");
    shic_test_expect_error (mallory, result, SHIC_E_LEASE_NOT_FOUND);
    result = s_call_json (mallory, "release_lease", "{\"lease_ref\":\"lease-1\"}");
    shic_val_destroy (&result);
    //  A network client may not stop the instance
    char *args = zsys_sprintf ("{\"instance_id\":\"%s\"}", instance);
    result = s_call_json (mallory, "stop_instance", args);
    shic_test_expect_error (mallory, result, SHIC_E_FORBIDDEN);
    result = s_call_json (host, "list_leases", NULL);
    assert (shic_val_size (shic_val_get (result, "leases")) == 1);
    shic_val_destroy (&result);
    //  The control socket is private and trusted: its client may
    struct stat status;
    assert (stat (control, &status) == 0 && (status.st_mode & 0777) == 0600);
    char *ipc = zsys_sprintf ("ipc://%s", control);
    shic_client_t *cli = shic_client_new (ipc);
    zstr_free (&ipc);
    result = s_call_json (cli, "stop_instance", args);
    assert (result);
    shic_val_destroy (&result);
    int64_t deadline = zclock_mono () + 5000;
    size_t leases = 1;
    while (leases && zclock_mono () < deadline) {
        result = s_call_json (host, "list_leases", NULL);
        leases = shic_val_size (shic_val_get (result, "leases"));
        shic_val_destroy (&result);
        if (leases)
            zclock_sleep (20);
    }
    assert (leases == 0);
    shic_client_destroy (&cli);
    shic_client_destroy (&alice);
    shic_client_destroy (&mallory);
    shic_client_destroy (&host);
    shic_runtime_destroy (&runtime);

    //  allow_network_stop = 1 lets network clients stop instances
    runtime = s_runtime ("shicd\n    allow_network_stop = 1\n");
    port = shic_runtime_bind_gateway (runtime, "tcp://127.0.0.1:*");
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", port);
    mallory = shic_client_new (endpoint);
    result = s_call_json (mallory, "stop_instance", args);
    zstr_free (&args);
    zstr_free (&ref);
    zstr_free (&instance);
    assert (result);
    shic_val_destroy (&result);
    shic_client_destroy (&mallory);
    shic_runtime_destroy (&runtime);
    printf ("OK\n");
}

//  Issue 15 point 1: out of descriptors, an ensure is answered capacity
//  (details.limit "descriptors") instead of aborting in zactor_new, and
//  ensures work again once descriptors are free
void
shic_kernel_test_descriptors (bool verbose)
{
    (void) verbose;
    printf (" * kernel descriptors: ");
    struct rlimit saved, low;
    int rc = getrlimit (RLIMIT_NOFILE, &saved);
    assert (rc == 0);
    shic_runtime_t *runtime = s_runtime ("runtime\n    lease_spare = 2\n    max_leases = 64\n");
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));
    shic_val_t *result = s_ensure (client, "test_spawned", "fds", NULL, 0, 10000);
    assert (result);
    shic_val_destroy (&result);
    //  Take every descriptor but 4 (fewer than a lease actor start wants)
    int highest = dup (0);
    assert (highest >= 0);
    close (highest);
    low = saved;
    low.rlim_cur = (rlim_t) highest + 256;
    rc = setrlimit (RLIMIT_NOFILE, &low);
    assert (rc == 0);
    int fillers [1024];
    int filled = 0;
    int fd;
    while (filled < 1024 && (fd = dup (0)) >= 0)
        fillers [filled++] = fd;
    assert (filled < 1024);
    for (int i = 0; i < 4; i++)
        close (fillers [--filled]);
    //  Leases take the idle actors, then capacity: descriptors
    //  (the pool hears of leases in batches, once requests pause)
    bool refused = false;
    int64_t deadline = zclock_mono () + 10000;
    while (!refused && zclock_mono () < deadline) {
        result = s_ensure (client, "test_spawned", "fds", NULL, 60000, 10000);
        if (!result) {
            const shic_error_t *err = shic_client_error (client);
            assert (streq (err->code, SHIC_E_CAPACITY));
            assert (streq (s_str (err->details, "limit"), "descriptors"));
            refused = true;
        }
        else
            zclock_sleep (100);
        shic_val_destroy (&result);
    }
    assert (refused);
    //  Descriptors free again: ensures are granted again
    while (filled > 0)
        close (fillers [--filled]);
    rc = setrlimit (RLIMIT_NOFILE, &saved);
    assert (rc == 0);
    deadline = zclock_mono () + 10000;
    result = NULL;
    while (!result && zclock_mono () < deadline) {
        result = s_ensure (client, "test_spawned", "fds", NULL, 60000, 10000);
        if (!result)
            zclock_sleep (100);
    }
    assert (result);
    shic_val_destroy (&result);
    shic_client_destroy (&client);
    shic_runtime_destroy (&runtime);
    printf ("OK\n");
}

//  Issue 15 point 2: a client that never reads makes the gateway hold at
//  most its send limit of replies; owner_ref is capped in bytes
void
shic_kernel_test_peer_memory (bool verbose)
{
    (void) verbose;
    printf (" * kernel peer_memory: ");
    zsock_t *deaf = zsock_new (ZMQ_DEALER);
    zsock_set_rcvhwm (deaf, 10);
    shic_runtime_t *runtime = s_runtime (NULL);
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));
    int rc = zsock_connect (deaf, "%s", shic_runtime_endpoint (runtime));
    assert (rc == 0);
    shic_val_t *id = shic_val_new_int (1);
    zframe_t *frame = shic_wire_request_encode (id, "ping", NULL);
    for (int i = 0; i < 5000; i++) {
        zframe_t *copy = zframe_dup (frame);
        rc = zframe_send (&copy, deaf, 0);
        assert (rc == 0);
    }
    zframe_destroy (&frame);
    shic_val_destroy (&id);
    //  Once the gateway has read them all, about its limit is queued (5000
    //  before the limit was lowered from 100000)
    int64_t deadline = zclock_mono () + 10000;
    int64_t requests = 0;
    while (requests < 5000 && zclock_mono () < deadline) {
        shic_val_t *stats = s_stats (client);
        requests = shic_val_int (shic_val_get (stats, "requests"));
        shic_val_destroy (&stats);
    }
    assert (requests >= 5000);
    zsock_set_rcvtimeo (deaf, 200);
    int replies = 0;
    while ((frame = zframe_recv (deaf))) {
        replies++;
        zframe_destroy (&frame);
    }
    //  (libzmq's pipe counts lag by up to half the limit: about 2000)
    assert (replies > 0 && replies <= 2500);
    zsock_destroy (&deaf);
    //  A large owner_ref is refused at the door
    char *args = zsys_sprintf ("{\"owner_ref\":\"%01000d\"}", 7);
    shic_test_expect_error (client, s_call_json (client, "ensure_endpoint", args),
                            SHIC_E_INVALID_ARGS);
    zstr_free (&args);
    assert (streq (s_str (shic_client_error (client)->details, "field"), "owner_ref"));
    shic_client_destroy (&client);
    shic_runtime_destroy (&runtime);
    printf ("OK\n");
}

//  Issue 15 point 2: after a quiet lease_shrink_ms the idle lease actors
//  above lease_spare end (their threads with them)
void
shic_kernel_test_pool_shrink (bool verbose)
{
    (void) verbose;
    printf (" * kernel pool_shrink: ");
    char *refs [60];
    shic_runtime_t *runtime = s_runtime ("runtime\n    lease_spare = 2\n    lease_shrink_ms = 300\n");
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));
    for (int i = 0; i < 60; i++) {
        shic_val_t *result = s_ensure (client, "test_spawned", "shrink", NULL, 60000, 10000);
        assert (result);
        refs [i] = strdup (s_str (result, "lease/lease_ref"));
        shic_val_destroy (&result);
    }
    //  Every lease has its actor
    int64_t deadline = zclock_mono () + 10000;
    size_t bound = 0;
    while (bound < 60 && zclock_mono () < deadline) {
        shic_val_t *leases = s_call_json (client, "list_leases", NULL);
        const shic_val_t *list = shic_val_get (leases, "leases");
        bound = 0;
        for (size_t i = 0; i < shic_val_size (list); i++)
            bound += shic_val_str (shic_val_get (shic_val_at (list, i), "actor"))? 1: 0;
        shic_val_destroy (&leases);
        zclock_sleep (20);
    }
    assert (bound == 60);
    //  list_leases in pages of 25: 25, 25, 10, each lease once
    zhashx_t *seen = zhashx_new ();
    char *after = NULL;
    int pages = 0;
    do {
        char *args = after? zsys_sprintf ("{\"limit\":25,\"after\":\"%s\"}", after)
                          : strdup ("{\"limit\":25}");
        shic_val_t *page = s_call_json (client, "list_leases", args);
        zstr_free (&args);
        zstr_free (&after);
        const shic_val_t *list = shic_val_get (page, "leases");
        assert (shic_val_size (list) == (pages < 2? 25: 10));
        for (size_t i = 0; i < shic_val_size (list); i++)
            assert (zhashx_insert (seen, s_str (shic_val_at (list, i), "lease_ref"), "") == 0);
        const char *next = shic_val_str (shic_val_get (page, "next"));
        after = next? strdup (next): NULL;
        shic_val_destroy (&page);
        pages++;
    } while (after);
    assert (pages == 3 && zhashx_size (seen) == 60);
    zhashx_destroy (&seen);
    for (int i = 0; i < 60; i++) {
        assert (shic_client_release (client, refs [i]) == 0);
        zstr_free (&refs [i]);
    }
    //  Idle actors first number at least the 60 leases; then the spare
    int64_t idle = 0, most = 0;
    deadline = zclock_mono () + 10000;
    while ((most < 60 || idle > 2) && zclock_mono () < deadline) {
        shic_val_t *stats = s_stats (client);
        idle = shic_val_int (shic_val_get (stats, "lease_actors_idle"));
        shic_val_destroy (&stats);
        most = idle > most? idle: most;
        zclock_sleep (20);
    }
    assert (most >= 60 && idle == 2);
    shic_client_destroy (&client);
    shic_runtime_destroy (&runtime);
    printf ("OK\n");
}

//  Issue 15 point 4: a network client's TTL is capped, and so are the
//  leases it holds and the instances its ensures start; the host is not
void
shic_kernel_test_fair_share (bool verbose)
{
    (void) verbose;
    printf (" * kernel fair_share: ");
    shic_runtime_t *runtime = s_runtime ("shicd\n    max_lease_ttl_ms = 60000\n"
                                         "    max_leases_per_client = 3\n"
                                         "    max_instances_per_client = 2\n");
    int port = shic_runtime_bind_gateway (runtime, "tcp://127.0.0.1:*");
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", port);
    shic_client_t *greedy = shic_client_new (endpoint);
    shic_client_t *other = shic_client_new (endpoint);
    shic_client_t *host = shic_client_new (shic_runtime_endpoint (runtime));
    //  35 years: refused, not clamped; the host may
    shic_val_t *result = s_ensure (greedy, "test_spawned", "fair", NULL, (int64_t) 1 << 40, 10000);
    shic_test_expect_error (greedy, result, SHIC_E_INVALID_ARGS);
    assert (streq (s_str (shic_client_error (greedy)->details, "field"), "ttl_ms"));
    result = s_ensure (host, "test_spawned", "fair", NULL, (int64_t) 1 << 40, 10000);
    assert (result);
    shic_val_destroy (&result);
    //  Three leases, then capacity; renewing past the cap is refused
    char *ref = NULL;
    for (int i = 0; i < 3; i++) {
        result = s_ensure (greedy, "test_spawned", "fair", NULL, 60000, 10000);
        assert (result);
        zstr_free (&ref);
        ref = strdup (s_str (result, "lease/lease_ref"));
        shic_val_destroy (&result);
    }
    result = s_ensure (greedy, "test_spawned", "fair", NULL, 60000, 10000);
    shic_test_expect_error (greedy, result, SHIC_E_CAPACITY);
    assert (streq (s_str (shic_client_error (greedy)->details, "limit"), "max_leases_per_client"));
    char *renew = zsys_sprintf ("{\"lease_ref\":\"%s\",\"ttl_ms\":60001}", ref);
    shic_test_expect_error (greedy, s_call_json (greedy, "renew_lease", renew), SHIC_E_INVALID_ARGS);
    zstr_free (&renew);
    //  ...which is this client's alone
    result = s_ensure (other, "test_spawned", "fair", NULL, 60000, 10000);
    assert (result);
    shic_val_destroy (&result);
    //  Releasing one makes room again
    assert (shic_client_release (greedy, ref) == 0);
    zstr_free (&ref);
    result = s_ensure (greedy, "test_spawned", "fair", NULL, 60000, 10000);
    assert (result);
    shic_val_destroy (&result);
    //  Instances: two new ones per client (the host started "fair")
    const char *models [] = { "fair-1", "fair-2", "fair-3" };
    for (int i = 0; i < 3; i++) {
        result = s_ensure (other, "test_spawned", models [i], NULL, 60000, 10000);
        if (i < 2)
            assert (result && !shic_val_bool (shic_val_get (result, "reused")));
        else {
            shic_test_expect_error (other, result, SHIC_E_CAPACITY);
            assert (streq (s_str (shic_client_error (other)->details, "limit"),
                           "max_instances_per_client"));
        }
        shic_val_destroy (&result);
    }
    shic_client_destroy (&greedy);
    shic_client_destroy (&other);
    shic_client_destroy (&host);
    shic_runtime_destroy (&runtime);
    printf ("OK\n");
}

//  The id of the only instance, once it is listed (with status when not
//  NULL; a service stopped while it loads may take its stop_timeout_ms);
//  fresh
static char *
s_wait_instance (shic_client_t *client, const char *status)
{
    int64_t deadline = zclock_mono () + 20000;
    char *id = NULL;
    while (!id && zclock_mono () < deadline) {
        shic_val_t *list = s_call_json (client, "list_instances", NULL);
        const shic_val_t *first = shic_val_at (shic_val_get (list, "instances"), 0);
        if (first && (!status || streq (s_str (first, "lifecycle_status"), status)))
            id = strdup (s_str (first, "instance_id"));
        shic_val_destroy (&list);
        if (!id)
            zclock_sleep (10);
    }
    assert (id);
    return id;
}

//  Issue 15 point 11: reused is true only when no start was made for the
//  ensure, and a stop_instance during a cold start answers its waiters
//  instance_stopped instead of starting the instance again for them
void
shic_kernel_test_stop_truth (bool verbose)
{
    shic_runtime_t *runtime = s_runtime (NULL);
    printf (" * kernel stop_truth%s: ", verbose? " (verbose)": "");
    shic_client_t *host = shic_client_new (shic_runtime_endpoint (runtime));
    shic_client_t *waiting = shic_client_new (shic_runtime_endpoint (runtime));
    assert (shic_client_ping (waiting) == 0);
    //  A cold start that takes a second; its waiter is told of the stop
    shic_val_t *options = s_json ("{\"load_ms\":1000}");
    shic_val_t *args = shic_client_ensure_args ("test_spawned", "truth", options, 0, 10000);
    int rc = shic_client_send (waiting, 1, "ensure_endpoint", &args);
    assert (rc == 0);
    char *instance = s_wait_instance (host, NULL);
    char *stop = zsys_sprintf ("{\"instance_id\":\"%s\"}", instance);
    shic_val_t *result = s_call_json (host, "stop_instance", stop);
    assert (result);
    shic_val_destroy (&result);
    shic_wire_reply_t reply = { 0 };
    rc = shic_client_recv (waiting, &reply, 5000);
    assert (rc == 0 && !reply.ok);
    assert (streq (reply.error.code, SHIC_E_INSTANCE_STOPPED));
    shic_wire_reply_reset (&reply);
    zstr_free (&instance);
    instance = s_wait_instance (host, SHIC_STATUS_STOPPED);
    //  ...and no start follows for it
    zclock_sleep (300);
    zstr_free (&instance);
    instance = s_wait_instance (host, SHIC_STATUS_STOPPED);
    zstr_free (&instance);
    //  A ready instance stopped, then an ensure while it stops: a fresh
    //  process, said as such
    result = s_ensure (host, "test_spawned", "truth", NULL, 0, 10000);
    assert (result && !shic_val_bool (shic_val_get (result, "reused")));
    zstr_free (&stop);
    stop = zsys_sprintf ("{\"instance_id\":\"%s\"}", s_str (result, "instance_id"));
    shic_val_destroy (&result);
    args = shic_client_ensure_args ("test_spawned", "truth", NULL, 0, 10000);
    shic_val_t *stop_args = s_json (stop);
    rc = shic_client_send (host, 2, "stop_instance", &stop_args);
    assert (rc == 0);
    shic_val_t *again = shic_val_dup (args);
    rc = shic_client_send (host, 3, "ensure_endpoint", &args);
    assert (rc == 0);
    rc = shic_client_send (host, 4, "ensure_endpoint", &again);
    assert (rc == 0);
    int ensured = 0;
    for (int i = 0; i < 3; i++) {
        rc = shic_client_recv (host, &reply, 5000);
        assert (rc == 0 && reply.ok);
        //  The first ensure after the stop starts it again: reused false.
        //  The second waited through the stop with it (false too), or,
        //  when the stop was done before it arrived, joined that start
        //  (true): the order of bus and client messages decides
        if (shic_val_int (reply.id) == 3)
            assert (!shic_val_bool (shic_val_get (reply.result, "reused")));
        ensured += shic_val_int (reply.id) >= 3? 1: 0;
        shic_wire_reply_reset (&reply);
    }
    assert (ensured == 2);
    zstr_free (&stop);
    shic_val_destroy (&options);
    shic_client_destroy (&waiting);
    shic_client_destroy (&host);
    shic_runtime_destroy (&runtime);
    printf ("OK\n");
}

//  Issue 16 point 7: the reload op is the host's to answer, on its own
//  thread (the gateway parks the request and goes on serving); only
//  trusted callers may ask; a host that did not take it answers forbidden;
//  a call still waiting when the runtime stops is answered shutting_down

//  Waits up to timeout_ms for a host call; 0 with it, or -1
static int
s_host_call_wait (shic_runtime_t *runtime, zsock_t *calls, int timeout_ms, int64_t *ticket,
                  char **op_p, shic_val_t **args_p)
{
    zmq_pollitem_t item = { zsock_resolve (calls), 0, ZMQ_POLLIN, 0 };
    if (zmq_poll (&item, 1, timeout_ms) != 1)
        return -1;
    return shic_runtime_host_recv (runtime, ticket, op_p, args_p);
}

static void *
s_reloading_thread (void *arg)
{
    char **shared = (char **) arg;
    shic_client_t *client = shic_client_new (shared [0]);
    shic_val_t *result = shic_client_call (client, "reload", NULL);
    shared [1] = strdup (result? "ok": shic_client_error (client)->code);
    shic_val_destroy (&result);
    shic_client_destroy (&client);
    return NULL;
}

void
shic_kernel_test_host_calls (bool verbose)
{
    (void) verbose;
    printf (" * kernel host_calls: ");
    shic_runtime_t *runtime = s_runtime (NULL);
    shic_client_t *host = shic_client_new (shic_runtime_endpoint (runtime));
    //  Not taken by the host: forbidden, saying so
    shic_val_t *result = s_call_json (host, "reload", NULL);
    shic_test_expect_error (host, result, SHIC_E_FORBIDDEN);
    const shic_error_t *err = shic_client_error (host);
    assert (shic_val_get (err->details, "host") && !shic_val_bool (shic_val_get (err->details, "host")));
    assert (strstr (err->message, "shic_runtime_host_calls"));

    const char *ops [] = { "reload", NULL };
    zsock_t *calls = shic_runtime_host_calls (runtime, ops);
    assert (calls);
    assert (shic_runtime_host_calls (runtime, ops) == NULL);     //  once
    int64_t ticket = 0;
    char *op = NULL;
    shic_val_t *args = NULL;
    assert (shic_runtime_host_recv (runtime, &ticket, &op, &args) == -1);

    //  A trusted call waits for the host; the gateway answers others meanwhile
    args = s_json ("{\"why\":\"test\"}");
    int rc = shic_client_send (host, 7, "reload", &args);
    assert (rc == 0);
    rc = s_host_call_wait (runtime, calls, 5000, &ticket, &op, &args);
    assert (rc == 0 && streq (op, "reload") && streq (s_str (args, "why"), "test"));
    zstr_free (&op);
    shic_val_destroy (&args);
    shic_client_t *other = shic_client_new (shic_runtime_endpoint (runtime));
    result = s_call_json (other, "ping", NULL);
    assert (result);
    shic_val_destroy (&result);
    shic_client_destroy (&other);
    shic_val_t *answer = s_json ("{\"reloaded\":true}");
    rc = shic_runtime_host_answer (runtime, ticket, &answer, NULL);
    assert (rc == 0 && answer == NULL);
    shic_wire_reply_t reply = { 0 };
    rc = shic_client_recv (host, &reply, 5000);
    assert (rc == 0 && reply.ok && shic_val_int (reply.id) == 7);
    assert (shic_val_bool (shic_val_get (reply.result, "reloaded")));
    shic_wire_reply_reset (&reply);
    //  An answer late for its ticket (answered already) is dropped
    answer = s_json ("{\"reloaded\":true}");
    rc = shic_runtime_host_answer (runtime, ticket, &answer, NULL);
    assert (rc == 0);
    //  The host's error is the caller's
    rc = shic_client_send (host, 8, "reload", NULL);
    assert (rc == 0);
    rc = s_host_call_wait (runtime, calls, 5000, &ticket, &op, &args);
    assert (rc == 0 && shic_val_size (args) == 0);
    zstr_free (&op);
    shic_val_destroy (&args);
    shic_error_t refused = { 0 };
    shic_error_set (&refused, SHIC_E_INVALID_ARGS, NULL, "not now");
    rc = shic_runtime_host_answer (runtime, ticket, NULL, &refused);
    assert (rc == 0);
    shic_error_clear (&refused);
    rc = shic_client_recv (host, &reply, 5000);
    assert (rc == 0 && !reply.ok && shic_val_int (reply.id) == 8);
    assert (streq (reply.error.code, SHIC_E_INVALID_ARGS) && streq (reply.error.message, "not now"));
    shic_wire_reply_reset (&reply);
    //  A network client may not, and nothing reaches the host
    int port = shic_runtime_bind_gateway (runtime, "tcp://127.0.0.1:*");
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", port);
    shic_client_t *remote = shic_client_new (endpoint);
    result = s_call_json (remote, "reload", NULL);
    shic_test_expect_error (remote, result, SHIC_E_FORBIDDEN);
    assert (shic_val_bool (shic_val_get (shic_client_error (remote)->details, "trusted_only")));
    shic_client_destroy (&remote);
    assert (s_host_call_wait (runtime, calls, 100, &ticket, &op, &args) == -1);
    //  Counted as the op it is
    shic_val_t *stats = s_stats (host);
    assert (shic_val_int (shic_val_path (stats, "by_op/reload/answered")) == 4);
    assert (shic_val_int (shic_val_path (stats, "by_op/reload/errors/forbidden")) == 2);
    shic_val_destroy (&stats);
    shic_client_destroy (&host);
    //  A call the host has not answered when the runtime stops
    char *shared [2] = { strdup (shic_runtime_endpoint (runtime)), NULL };
    pthread_t thread;
    pthread_create (&thread, NULL, s_reloading_thread, shared);
    rc = s_host_call_wait (runtime, calls, 5000, &ticket, &op, &args);
    assert (rc == 0);
    zstr_free (&op);
    shic_val_destroy (&args);
    shic_runtime_destroy (&runtime);
    pthread_join (thread, NULL);
    assert (shared [1] && streq (shared [1], SHIC_E_SHUTTING_DOWN));
    free (shared [0]);
    free (shared [1]);
    printf ("OK\n");
}

//  Issue 16: a host may free what it registered a backend with (its
//  configuration section, its plugin) once shic_runtime_backend_held says
//  the runtime is done with it: never while an instance of it still runs
void
shic_kernel_test_backend_held (bool verbose)
{
    (void) verbose;
    printf (" * kernel backend_held: ");
    shic_runtime_t *runtime = shic_runtime_new (NULL);
    assert (runtime);
    zconfig_t *idle = zconfig_new ("idle", NULL);
    zconfig_t *busy = zconfig_new ("busy", NULL);
    zconfig_t *never = zconfig_new ("never", NULL);
    int rc = shic_runtime_register_as (runtime, "idle", &shic_test_spawned_ops, idle, NULL);
    assert (rc == 0);
    rc = shic_runtime_register_as (runtime, "busy", &shic_test_spawned_ops, busy, NULL);
    assert (rc == 0);
    assert (shic_runtime_backend_held (runtime, idle) == 1);
    assert (shic_runtime_backend_held (runtime, never) == 0);
    assert (shic_runtime_backend_held (runtime, NULL) == -1);
    //  Unregistered with no instance: let go at once
    rc = shic_runtime_unregister (runtime, "idle");
    assert (rc == 0);
    assert (shic_runtime_backend_held (runtime, idle) == 0);
    //  With a running instance: held until that instance has ended
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));
    shic_val_t *result = s_ensure (client, "busy", "m", NULL, 0, 10000);
    assert (result);
    char *instance = strdup (s_str (result, "instance_id"));
    shic_val_destroy (&result);
    rc = shic_runtime_unregister (runtime, "busy");
    assert (rc == 0);
    int64_t deadline = zclock_mono () + 10000;
    while (shic_runtime_backend_held (runtime, busy) == 1 && zclock_mono () < deadline) {
        char *args = zsys_sprintf ("{\"instance_id\":\"%s\"}", instance);
        result = s_call_json (client, "lookup_instance", args);
        zstr_free (&args);
        assert (result);
        shic_val_destroy (&result);
        zclock_sleep (10);
    }
    assert (shic_runtime_backend_held (runtime, busy) == 0);
    char *args = zsys_sprintf ("{\"instance_id\":\"%s\"}", instance);
    result = s_call_json (client, "lookup_instance", args);
    zstr_free (&args);
    assert (result && streq (s_str (result, "lifecycle_status"), SHIC_STATUS_STOPPED));
    shic_val_destroy (&result);
    zstr_free (&instance);
    shic_client_destroy (&client);
    //  Freed before the runtime ends: nothing reads them any more
    zconfig_destroy (&idle);
    zconfig_destroy (&busy);
    zconfig_destroy (&never);
    shic_runtime_destroy (&runtime);
    printf ("OK\n");
}
