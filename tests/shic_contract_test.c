/*  =========================================================================
    shic_contract_test - the self test of shic_contract: normalization,
    compatibility, ensure_endpoint shape checks, truthfulness, endpoints
    and instance keys, through the public functions only

    Kept out of the library: it was a third of the contract's lines and
    none of its behaviour.
    =========================================================================
*/

#include "shic.h"

//  Parses json (which must be valid)
static shic_val_t *
s_json (const char *json)
{
    shic_val_t *value = shic_val_from_json (json);
    if (!value)
        fprintf (stderr, "shic_contract_test: bad JSON in test: %s\n", json);
    assert (value);
    return value;
}

//  Asserts that value equals the JSON text (maps compare order-insensitive)
static void
s_check (const shic_val_t *value, const char *json, int line)
{
    shic_val_t *expected = s_json (json);
    if (!shic_val_equal (value, expected)) {
        char *text = shic_val_to_json (value);
        fprintf (stderr, "shic_contract_test:%d: expected %s\n    got %s\n",
                 line, json, text? text: "(NULL)");
        free (text);
        assert (false);
    }
    shic_val_destroy (&expected);
}
#define s_expect(value, json) s_check ((value), (json), __LINE__)

//  Asserts err holds code (and details.field == field when field is set)
static void
s_check_error (shic_error_t *err, const char *code, const char *field, int line)
{
    bool okay = err->code && streq (err->code, code);
    if (okay && field) {
        const char *actual = shic_val_str (shic_val_get (err->details, "field"));
        okay = actual && streq (actual, field);
    }
    if (!okay) {
        char *text = shic_val_to_json (err->details);
        fprintf (stderr, "shic_contract_test:%d: expected error %s {field: %s}\n"
                 "    got %s (%s) details %s\n", line, code, field? field: "-",
                 err->code? err->code: "(none)", err->message? err->message: "",
                 text? text: "(NULL)");
        free (text);
        assert (false);
    }
    shic_error_clear (err);
}
#define s_expect_error(err, code, field) s_check_error ((err), (code), (field), __LINE__)

//  Runs the compatibility of backend JSON vs consumer JSON against expected
static void
s_check_compat (const char *backend_json, const char *consumer_json,
                 const char *expected, int line)
{
    shic_error_t err = { NULL, NULL, NULL };
    shic_val_t *manifest = NULL;
    if (backend_json) {
        shic_val_t *in = s_json (backend_json);
        manifest = shic_backend_manifest_normalize (in, &err);
        shic_val_destroy (&in);
        assert (manifest);
    }
    shic_val_t *in = s_json (consumer_json);
    shic_val_t *consumer = shic_consumer_manifest_normalize (in, &err);
    shic_val_destroy (&in);
    assert (consumer);
    shic_val_t *result = shic_compatibility ("llama", manifest, consumer);
    s_check (result, expected, line);
    shic_val_destroy (&result);
    shic_val_destroy (&consumer);
    shic_val_destroy (&manifest);
}
#define s_expect_compat(b, c, e) s_check_compat ((b), (c), (e), __LINE__)

//  Runs truthfulness of spec/plan/manifest JSON; expected NULL = truthful
static void
s_check_truth (const char *spec_json, const char *plan_json,
                const char *manifest_json, const char *expected, int line)
{
    shic_error_t err = { NULL, NULL, NULL };
    shic_val_t *in = s_json (spec_json);
    shic_val_t *spec = shic_instance_spec_normalize (in, &err);
    shic_val_destroy (&in);
    assert (spec);
    in = s_json (plan_json);
    shic_val_t *plan = shic_startup_plan_normalize (in, &err);
    shic_val_destroy (&in);
    assert (plan);
    in = s_json (manifest_json);
    shic_val_t *manifest = shic_backend_manifest_normalize (in, &err);
    shic_val_destroy (&in);
    assert (manifest);
    shic_val_t *reason = shic_truthfulness_check (spec, plan, manifest);
    if (expected) {
        assert (reason);
        s_check (reason, expected, line);
    }
    else
    if (reason) {
        char *text = shic_val_to_json (reason);
        fprintf (stderr, "shic_contract_test:%d: expected truthful, got %s\n",
                 line, text);
        free (text);
        assert (false);
    }
    shic_val_destroy (&reason);
    shic_val_destroy (&spec);
    shic_val_destroy (&plan);
    shic_val_destroy (&manifest);
}
#define s_expect_truth(s, p, m, e) s_check_truth ((s), (p), (m), (e), __LINE__)

//  Runs ensure_spec_from_request; expected NULL means an error of code/field
static void
s_check_spec (const char *request_json, const char *context_json,
               const char *expected, const char *code, const char *field, int line)
{
    shic_error_t err = { NULL, NULL, NULL };
    shic_val_t *request = request_json? s_json (request_json): NULL;
    shic_val_t *context = context_json? s_json (context_json): NULL;
    shic_val_t *spec = shic_ensure_spec_from_request (request, context, &err);
    if (expected) {
        if (!spec)
            fprintf (stderr, "shic_contract_test:%d: unexpected error %s: %s\n",
                     line, err.code, err.message? err.message: "");
        assert (spec);
        assert (err.code == NULL);
        s_check (spec, expected, line);
    }
    else {
        assert (spec == NULL);
        s_check_error (&err, code, field, line);
    }
    shic_val_destroy (&spec);
    shic_val_destroy (&request);
    shic_val_destroy (&context);
}
#define s_expect_spec(r, c, e, code, field) \
    s_check_spec ((r), (c), (e), (code), (field), __LINE__)

//  Normalizes JSON with fn; expects failure with code/field
static void
s_check_normalize_error (shic_val_t *(*fn) (const shic_val_t *, shic_error_t *),
                          const char *json, const char *code, const char *field,
                          int line)
{
    shic_error_t err = { NULL, NULL, NULL };
    shic_val_t *in = s_json (json);
    shic_val_t *out = fn (in, &err);
    if (out) {
        char *text = shic_val_to_json (out);
        fprintf (stderr, "shic_contract_test:%d: expected %s, got %s\n",
                 line, code, text);
        free (text);
        assert (false);
    }
    s_check_error (&err, code, field, line);
    shic_val_destroy (&in);
}
#define s_expect_normalize_error(fn, json, code, field) \
    s_check_normalize_error ((fn), (json), (code), (field), __LINE__)

//  Normalizes JSON with fn; expects the result to equal expected
static void
s_check_normalize (shic_val_t *(*fn) (const shic_val_t *, shic_error_t *),
                    const char *json, const char *expected, int line)
{
    shic_error_t err = { NULL, NULL, NULL };
    shic_val_t *in = json? s_json (json): NULL;
    shic_val_t *out = fn (in, &err);
    if (!out)
        fprintf (stderr, "shic_contract_test:%d: unexpected error %s: %s\n",
                 line, err.code, err.message? err.message: "");
    assert (out);
    assert (err.code == NULL);
    s_check (out, expected, line);
    shic_val_destroy (&out);
    shic_val_destroy (&in);
}
#define s_expect_normalize(fn, json, expected) \
    s_check_normalize ((fn), (json), (expected), __LINE__)

void
shic_contract_test (bool verbose)
{
    printf (" * shic_contract: ");
    if (verbose)
        printf ("\n");

    //  @selftest
    //  Enumerations
    assert (shic_startup_kind_valid ("spawned"));
    assert (shic_startup_kind_valid ("attach_existing_service"));
    assert (!shic_startup_kind_valid ("attached"));
    assert (!shic_startup_kind_valid (NULL));
    assert (shic_startup_pair_legal ("spawned", "jido_managed"));
    assert (shic_startup_pair_legal ("attach_existing_service", "externally_managed"));
    assert (!shic_startup_pair_legal ("spawned", "externally_managed"));
    assert (!shic_startup_pair_legal ("attach_existing_service", "jido_managed"));
    assert (!shic_startup_pair_legal (NULL, "jido_managed"));
    assert (!shic_startup_pair_legal ("spawned", NULL));

    //  BackendManifest
    if (verbose)
        printf ("   backend manifest\n");
    s_expect_normalize (shic_backend_manifest_normalize, "{\"backend\":\"llama\"}",
        "{\"contract_version\":\"inference.v1\",\"backend\":\"llama\","
        "\"runtime_kind\":\"service\",\"management_modes\":[],\"startup_kind\":null,"
        "\"protocols\":[\"openai_chat_completions\"],\"capabilities\":{},"
        "\"supported_surfaces\":[],\"resource_profile\":{},\"metadata\":{}}");
    s_expect_normalize (shic_backend_manifest_normalize,
        "{\"backend\":\"ollama\",\"runtime_kind\":\"task\","
        "\"management_modes\":[\"externally_managed\"],"
        "\"startup_kind\":\"attach_existing_service\",\"protocols\":[\"a\",\"b\"],"
        "\"capabilities\":{\"streaming?\":true},\"supported_surfaces\":[\"local_subprocess\"],"
        "\"resource_profile\":{\"gpu\":1},\"metadata\":{\"x\":1},\"junk\":1,"
        "\"contract_version\":\"old\"}",
        "{\"contract_version\":\"inference.v1\",\"backend\":\"ollama\","
        "\"runtime_kind\":\"task\",\"management_modes\":[\"externally_managed\"],"
        "\"startup_kind\":\"attach_existing_service\",\"protocols\":[\"a\",\"b\"],"
        "\"capabilities\":{\"streaming?\":true},\"supported_surfaces\":[\"local_subprocess\"],"
        "\"resource_profile\":{\"gpu\":1},\"metadata\":{\"x\":1}}");
    {
        shic_error_t err = { NULL, NULL, NULL };
        assert (shic_backend_manifest_normalize (NULL, &err) == NULL);
        s_expect_error (&err, SHIC_E_INTERNAL, "backend");
        //  err may be NULL
        assert (shic_backend_manifest_normalize (NULL, NULL) == NULL);
    }
    s_expect_normalize_error (shic_backend_manifest_normalize, "[1]",
                              SHIC_E_INTERNAL, "manifest");
    s_expect_normalize_error (shic_backend_manifest_normalize, "{\"backend\":\"\"}",
                              SHIC_E_INTERNAL, "backend");
    s_expect_normalize_error (shic_backend_manifest_normalize, "{\"backend\":5}",
                              SHIC_E_INTERNAL, "backend");
    s_expect_normalize_error (shic_backend_manifest_normalize,
                              "{\"backend\":\"b\",\"runtime_kind\":1}",
                              SHIC_E_INTERNAL, "runtime_kind");
    s_expect_normalize_error (shic_backend_manifest_normalize,
                              "{\"backend\":\"b\",\"management_modes\":\"jido_managed\"}",
                              SHIC_E_INTERNAL, "management_modes");
    s_expect_normalize_error (shic_backend_manifest_normalize,
                              "{\"backend\":\"b\",\"protocols\":[1]}",
                              SHIC_E_INTERNAL, "protocols");
    s_expect_normalize_error (shic_backend_manifest_normalize,
                              "{\"backend\":\"b\",\"startup_kind\":true}",
                              SHIC_E_INTERNAL, "startup_kind");
    s_expect_normalize_error (shic_backend_manifest_normalize,
                              "{\"backend\":\"b\",\"capabilities\":[]}",
                              SHIC_E_INTERNAL, "capabilities");
    s_expect_normalize_error (shic_backend_manifest_normalize,
                              "{\"backend\":\"b\",\"supported_surfaces\":{}}",
                              SHIC_E_INTERNAL, "supported_surfaces");
    s_expect_normalize_error (shic_backend_manifest_normalize,
                              "{\"backend\":\"b\",\"resource_profile\":1}",
                              SHIC_E_INTERNAL, "resource_profile");
    s_expect_normalize_error (shic_backend_manifest_normalize,
                              "{\"backend\":\"b\",\"metadata\":\"x\"}",
                              SHIC_E_INTERNAL, "metadata");

    //  ConsumerManifest
    if (verbose)
        printf ("   consumer manifest\n");
    const char *consumer_defaults =
        "{\"contract_version\":\"inference.v1\",\"consumer\":null,"
        "\"accepted_runtime_kinds\":[\"service\"],\"accepted_management_modes\":[],"
        "\"accepted_protocols\":[\"openai_chat_completions\"],"
        "\"required_capabilities\":{},\"optional_capabilities\":{},"
        "\"constraints\":{},\"metadata\":{}}";
    s_expect_normalize (shic_consumer_manifest_normalize, NULL, consumer_defaults);
    s_expect_normalize (shic_consumer_manifest_normalize, "{}", consumer_defaults);
    s_expect_normalize (shic_consumer_manifest_normalize,
        "{\"consumer\":null,\"accepted_protocols\":null}", consumer_defaults);
    s_expect_normalize (shic_consumer_manifest_normalize,
        "{\"consumer\":\"req_llm\",\"accepted_management_modes\":[\"jido_managed\"],"
        "\"constraints\":{\"startup_kind\":\"spawned\"}}",
        "{\"contract_version\":\"inference.v1\",\"consumer\":\"req_llm\","
        "\"accepted_runtime_kinds\":[\"service\"],"
        "\"accepted_management_modes\":[\"jido_managed\"],"
        "\"accepted_protocols\":[\"openai_chat_completions\"],"
        "\"required_capabilities\":{},\"optional_capabilities\":{},"
        "\"constraints\":{\"startup_kind\":\"spawned\"},\"metadata\":{}}");
    s_expect_normalize_error (shic_consumer_manifest_normalize, "\"consumer\"",
                              SHIC_E_INVALID_CONSUMER_MANIFEST, "consumer");
    s_expect_normalize_error (shic_consumer_manifest_normalize, "{\"consumer\":1}",
                              SHIC_E_INVALID_CONSUMER_MANIFEST, "consumer");
    s_expect_normalize_error (shic_consumer_manifest_normalize,
                              "{\"accepted_runtime_kinds\":\"service\"}",
                              SHIC_E_INVALID_CONSUMER_MANIFEST, "accepted_runtime_kinds");
    s_expect_normalize_error (shic_consumer_manifest_normalize,
                              "{\"accepted_management_modes\":[null]}",
                              SHIC_E_INVALID_CONSUMER_MANIFEST, "accepted_management_modes");
    s_expect_normalize_error (shic_consumer_manifest_normalize,
                              "{\"accepted_protocols\":{}}",
                              SHIC_E_INVALID_CONSUMER_MANIFEST, "accepted_protocols");
    s_expect_normalize_error (shic_consumer_manifest_normalize,
                              "{\"required_capabilities\":[]}",
                              SHIC_E_INVALID_CONSUMER_MANIFEST, "required_capabilities");
    s_expect_normalize_error (shic_consumer_manifest_normalize,
                              "{\"optional_capabilities\":true}",
                              SHIC_E_INVALID_CONSUMER_MANIFEST, "optional_capabilities");
    s_expect_normalize_error (shic_consumer_manifest_normalize,
                              "{\"constraints\":\"spawned\"}",
                              SHIC_E_INVALID_CONSUMER_MANIFEST, "constraints");
    s_expect_normalize_error (shic_consumer_manifest_normalize,
                              "{\"constraints\":{\"startup_kind\":1}}",
                              SHIC_E_INVALID_CONSUMER_MANIFEST, "constraints.startup_kind");
    s_expect_normalize_error (shic_consumer_manifest_normalize,
                              "{\"metadata\":[]}",
                              SHIC_E_INVALID_CONSUMER_MANIFEST, "metadata");

    //  InstanceSpec
    if (verbose)
        printf ("   instance spec\n");
    s_expect_normalize (shic_instance_spec_normalize, "{\"backend\":\"llama\"}",
        "{\"contract_version\":\"inference.v1\",\"backend\":\"llama\","
        "\"startup_kind\":null,\"execution_surface\":null,"
        "\"backend_options\":{},\"metadata\":{}}");
    s_expect_normalize (shic_instance_spec_normalize,
        "{\"backend\":\"llama\",\"startup_kind\":\"spawned\","
        "\"execution_surface\":{\"surface_kind\":\"ssh_exec\"},"
        "\"backend_options\":{\"model\":\"m\"},\"metadata\":{\"k\":\"v\"}}",
        "{\"contract_version\":\"inference.v1\",\"backend\":\"llama\","
        "\"startup_kind\":\"spawned\",\"execution_surface\":{\"surface_kind\":\"ssh_exec\"},"
        "\"backend_options\":{\"model\":\"m\"},\"metadata\":{\"k\":\"v\"}}");
    s_expect_normalize (shic_instance_spec_normalize,
        "{\"backend\":\"llama\",\"execution_surface\":\"local_subprocess\"}",
        "{\"contract_version\":\"inference.v1\",\"backend\":\"llama\","
        "\"startup_kind\":null,\"execution_surface\":\"local_subprocess\","
        "\"backend_options\":{},\"metadata\":{}}");
    s_expect_normalize_error (shic_instance_spec_normalize, "7",
                              SHIC_E_INVALID_ARGS, "spec");
    s_expect_normalize_error (shic_instance_spec_normalize, "{}",
                              SHIC_E_INVALID_ARGS, "backend");
    s_expect_normalize_error (shic_instance_spec_normalize, "{\"backend\":1}",
                              SHIC_E_INVALID_ARGS, "backend");
    s_expect_normalize_error (shic_instance_spec_normalize,
                              "{\"backend\":\"b\",\"startup_kind\":\"attached\"}",
                              SHIC_E_INVALID_STARTUP_KIND, "startup_kind");
    s_expect_normalize_error (shic_instance_spec_normalize,
                              "{\"backend\":\"b\",\"startup_kind\":3}",
                              SHIC_E_INVALID_STARTUP_KIND, "startup_kind");
    s_expect_normalize_error (shic_instance_spec_normalize,
                              "{\"backend\":\"b\",\"execution_surface\":[1]}",
                              SHIC_E_INVALID_ARGS, "execution_surface");
    s_expect_normalize_error (shic_instance_spec_normalize,
                              "{\"backend\":\"b\",\"backend_options\":[]}",
                              SHIC_E_INVALID_ARGS, "backend_options");
    s_expect_normalize_error (shic_instance_spec_normalize,
                              "{\"backend\":\"b\",\"metadata\":1}",
                              SHIC_E_INVALID_ARGS, "metadata");

    //  StartupPlan
    if (verbose)
        printf ("   startup plan\n");
    s_expect_normalize (shic_startup_plan_normalize, "{\"instance_key\":\"k\"}",
        "{\"contract_version\":\"inference.v1\",\"instance_key\":\"k\","
        "\"backend\":null,\"startup_kind\":null,\"management_mode\":null,"
        "\"transport\":null,\"ready_timeout_ms\":120000,\"readiness_interval_ms\":100,"
        "\"health_interval_ms\":1000,\"idle_shutdown_ms\":300000,"
        "\"stop_timeout_ms\":5000,\"endpoint_template\":{},\"metadata\":{},\"resources\":{}}");
    s_expect_normalize (shic_startup_plan_normalize,
        "{\"instance_key\":\"k\",\"backend\":\"llama\",\"startup_kind\":\"spawned\","
        "\"management_mode\":\"jido_managed\",\"transport\":{\"argv\":[\"llama-server\","
        "\"--port\",\"0\"],\"junk\":1},\"ready_timeout_ms\":5,\"readiness_interval_ms\":1,"
        "\"health_interval_ms\":0,\"idle_shutdown_ms\":0,\"stop_timeout_ms\":0,"
        "\"endpoint_template\":{\"base_url\":\"http://x/v1\"},\"metadata\":{\"m\":1},\"resources\":{}}",
        "{\"contract_version\":\"inference.v1\",\"instance_key\":\"k\","
        "\"backend\":\"llama\",\"startup_kind\":\"spawned\","
        "\"management_mode\":\"jido_managed\",\"transport\":{\"argv\":[\"llama-server\","
        "\"--port\",\"0\"],\"env\":{},\"cwd\":null,\"ready_pattern\":null,"
        "\"execution_surface\":null},\"ready_timeout_ms\":5,\"readiness_interval_ms\":1,"
        "\"health_interval_ms\":0,\"idle_shutdown_ms\":0,\"stop_timeout_ms\":0,"
        "\"endpoint_template\":{\"base_url\":\"http://x/v1\"},\"metadata\":{\"m\":1},\"resources\":{}}");
    //  Kind and mode are copied as given, even when illegal
    s_expect_normalize (shic_startup_plan_normalize,
        "{\"instance_key\":\"k\",\"startup_kind\":\"bogus\",\"management_mode\":\"x\","
        "\"transport\":{\"argv\":[\"a\"],\"env\":{\"A\":\"1\"},\"cwd\":\"/tmp\","
        "\"ready_pattern\":\"listening\",\"execution_surface\":\"local_subprocess\"}}",
        "{\"contract_version\":\"inference.v1\",\"instance_key\":\"k\","
        "\"backend\":null,\"startup_kind\":\"bogus\",\"management_mode\":\"x\","
        "\"transport\":{\"argv\":[\"a\"],\"env\":{\"A\":\"1\"},\"cwd\":\"/tmp\","
        "\"ready_pattern\":\"listening\",\"execution_surface\":\"local_subprocess\"},"
        "\"ready_timeout_ms\":120000,\"readiness_interval_ms\":100,"
        "\"health_interval_ms\":1000,\"idle_shutdown_ms\":300000,"
        "\"stop_timeout_ms\":5000,\"endpoint_template\":{},\"metadata\":{},\"resources\":{}}");
    {
        shic_error_t err = { NULL, NULL, NULL };
        assert (shic_startup_plan_normalize (NULL, &err) == NULL);
        s_expect_error (&err, SHIC_E_INTERNAL, "instance_key");
    }
    const struct {
        const char *json;
        const char *field;
    } plan_errors [] = {
        { "[]", "plan" },
        { "{}", "instance_key" },
        { "{\"instance_key\":\"\"}", "instance_key" },
        { "{\"instance_key\":1}", "instance_key" },
        { "{\"instance_key\":\"k\",\"backend\":1}", "backend" },
        { "{\"instance_key\":\"k\",\"startup_kind\":1}", "startup_kind" },
        { "{\"instance_key\":\"k\",\"management_mode\":[]}", "management_mode" },
        { "{\"instance_key\":\"k\",\"transport\":\"argv\"}", "transport" },
        { "{\"instance_key\":\"k\",\"transport\":{}}", "transport.argv" },
        { "{\"instance_key\":\"k\",\"transport\":{\"argv\":[]}}", "transport.argv" },
        { "{\"instance_key\":\"k\",\"transport\":{\"argv\":[1]}}", "transport.argv" },
        { "{\"instance_key\":\"k\",\"transport\":{\"argv\":[\"a\"],\"env\":[]}}",
          "transport.env" },
        { "{\"instance_key\":\"k\",\"transport\":{\"argv\":[\"a\"],\"env\":{\"A\":1}}}",
          "transport.env" },
        { "{\"instance_key\":\"k\",\"transport\":{\"argv\":[\"a\"],\"cwd\":1}}",
          "transport.cwd" },
        { "{\"instance_key\":\"k\",\"transport\":{\"argv\":[\"a\"],\"ready_pattern\":{}}}",
          "transport.ready_pattern" },
        { "{\"instance_key\":\"k\",\"transport\":{\"argv\":[\"a\"],\"execution_surface\":1}}",
          "transport.execution_surface" },
        { "{\"instance_key\":\"k\",\"ready_timeout_ms\":0}", "ready_timeout_ms" },
        { "{\"instance_key\":\"k\",\"ready_timeout_ms\":\"1\"}", "ready_timeout_ms" },
        { "{\"instance_key\":\"k\",\"readiness_interval_ms\":0}", "readiness_interval_ms" },
        { "{\"instance_key\":\"k\",\"health_interval_ms\":-1}", "health_interval_ms" },
        { "{\"instance_key\":\"k\",\"idle_shutdown_ms\":1.5}", "idle_shutdown_ms" },
        { "{\"instance_key\":\"k\",\"stop_timeout_ms\":-5}", "stop_timeout_ms" },
        //  Durations have a range: a clock plus one never overflows
        { "{\"instance_key\":\"k\",\"ready_timeout_ms\":9223372036854775807}", "ready_timeout_ms" },
        { "{\"instance_key\":\"k\",\"idle_shutdown_ms\":1099511627777}", "idle_shutdown_ms" },
        { "{\"instance_key\":\"k\",\"stop_timeout_ms\":2147483648}", "stop_timeout_ms" },
        { "{\"instance_key\":\"k\",\"endpoint_template\":[]}", "endpoint_template" },
        { "{\"instance_key\":\"k\",\"metadata\":\"m\"}", "metadata" }
    };
    for (size_t index = 0; index < sizeof (plan_errors) / sizeof (plan_errors [0]); index++)
        s_expect_normalize_error (shic_startup_plan_normalize, plan_errors [index].json,
                                  SHIC_E_INTERNAL, plan_errors [index].field);

    //  LeaseRef
    if (verbose)
        printf ("   lease ref\n");
    {
        shic_val_t *owner = shic_val_new_str ("me");
        shic_val_t *lease = shic_lease_ref_new ("lease-1", owner, 1000, 5000, true, "i1");
        //  Streamed, it is the same bytes
        for (int64_t ttl = 0; ttl <= 1000; ttl += 1000) {
            shic_val_t *built = shic_lease_ref_new ("lease-1", owner, ttl, 5000, true, "i1");
            void *built_data = NULL, *streamed_data = NULL;
            size_t built_size = 0, streamed_size = 0;
            assert (shic_val_encode (built, &built_data, &built_size) == 0);
            shic_val_writer_t *writer = shic_val_writer_new ();
            shic_lease_ref_write (writer, 0, "lease-1", owner, ttl, 5000, true, "i1");
            assert (shic_val_writer_take (&writer, &streamed_data, &streamed_size) == 0);
            assert (built_size == streamed_size
                    && memcmp (built_data, streamed_data, built_size) == 0);
            free (built_data);
            free (streamed_data);
            shic_val_destroy (&built);
        }
        s_expect (lease,
            "{\"contract_version\":\"inference.v1\",\"lease_ref\":\"lease-1\","
            "\"owner_ref\":\"me\",\"ttl_ms\":1000,\"expires_at_ms\":5000,"
            "\"renewable?\":true,\"instance_id\":\"i1\"}");
        shic_val_destroy (&lease);
        lease = shic_lease_ref_new ("lease-2", NULL, 0, 5000, false, "i1");
        s_expect (lease,
            "{\"contract_version\":\"inference.v1\",\"lease_ref\":\"lease-2\","
            "\"owner_ref\":null,\"ttl_ms\":0,\"expires_at_ms\":null,"
            "\"renewable?\":false,\"instance_id\":\"i1\"}");
        shic_val_destroy (&lease);
        shic_val_destroy (&owner);
    }

    //  EndpointDescriptor
    if (verbose)
        printf ("   endpoint build\n");
    {
        shic_error_t err = { NULL, NULL, NULL };
        shic_val_t *in = s_json (
            "{\"instance_key\":\"llama:abc\",\"backend\":\"llama\","
            "\"startup_kind\":\"spawned\",\"management_mode\":\"jido_managed\","
            "\"transport\":{\"argv\":[\"x\"]},"
            "\"endpoint_template\":{\"base_url\":\"http://template/v1\","
            "\"metadata\":{\"from\":\"template\"},\"health_ref\":\"h\",\"junk\":1}}");
        shic_val_t *plan = shic_startup_plan_normalize (in, &err);
        shic_val_destroy (&in);
        assert (plan);

        //  Defaults from the plan alone
        shic_val_t *endpoint = shic_endpoint_build ("llama:abc", plan, NULL, &err);
        assert (endpoint);
        s_expect (endpoint,
            "{\"contract_version\":\"inference.v1\",\"endpoint_id\":\"llama:abc:endpoint\","
            "\"runtime_kind\":\"service\",\"management_mode\":\"jido_managed\","
            "\"target_class\":\"self_hosted_endpoint\","
            "\"protocol\":\"openai_chat_completions\",\"base_url\":\"http://template/v1\","
            "\"headers\":{},\"provider_identity\":\"llama\",\"model_identity\":\"llama:abc\","
            "\"source_runtime\":\"llama\",\"source_runtime_ref\":null,\"lease_ref\":null,"
            "\"health_ref\":\"h\",\"boundary_ref\":null,\"capabilities\":{},"
            "\"metadata\":{\"from\":\"template\"}}");
        shic_val_destroy (&endpoint);

        //  Fields win over the template; fixed fields stay fixed
        shic_val_t *fields = s_json (
            "{\"base_url\":\"http://127.0.0.1:8080/v1\",\"metadata\":{\"port\":8080},"
            "\"headers\":{\"authorization\":\"Bearer x\"},\"model_identity\":\"qwen\","
            "\"provider_identity\":\"llama.cpp\",\"source_runtime\":\"llama-server\","
            "\"source_runtime_ref\":\"http://127.0.0.1:8080\",\"boundary_ref\":\"b\","
            "\"capabilities\":{\"streaming?\":true},\"protocol\":\"openai_embeddings\","
            "\"runtime_kind\":\"task\",\"target_class\":\"cloud\",\"lease_ref\":\"l\","
            "\"endpoint_id\":\"x\",\"management_mode\":\"other\"}");
        endpoint = shic_endpoint_build ("llama:abc", plan, fields, &err);
        assert (endpoint);
        s_expect (endpoint,
            "{\"contract_version\":\"inference.v1\",\"endpoint_id\":\"llama:abc:endpoint\","
            "\"runtime_kind\":\"service\",\"management_mode\":\"jido_managed\","
            "\"target_class\":\"self_hosted_endpoint\","
            "\"protocol\":\"openai_embeddings\",\"base_url\":\"http://127.0.0.1:8080/v1\","
            "\"headers\":{\"authorization\":\"Bearer x\"},\"provider_identity\":\"llama.cpp\","
            "\"model_identity\":\"qwen\",\"source_runtime\":\"llama-server\","
            "\"source_runtime_ref\":\"http://127.0.0.1:8080\",\"lease_ref\":null,"
            "\"health_ref\":\"h\",\"boundary_ref\":\"b\","
            "\"capabilities\":{\"streaming?\":true},\"metadata\":{\"port\":8080}}");
        shic_val_destroy (&endpoint);
        shic_val_destroy (&fields);

        //  base_url missing or not a string
        in = s_json ("{\"instance_key\":\"k\",\"backend\":\"llama\"}");
        shic_val_t *bare = shic_startup_plan_normalize (in, &err);
        shic_val_destroy (&in);
        assert (bare);
        assert (shic_endpoint_build ("k", bare, NULL, &err) == NULL);
        assert (err.message && streq (err.message, "base_url missing"));
        s_expect_error (&err, SHIC_E_INTERNAL, "base_url");
        fields = s_json ("{\"base_url\":5}");
        assert (shic_endpoint_build ("k", bare, fields, &err) == NULL);
        assert (err.message && streq (err.message, "base_url missing"));
        s_expect_error (&err, SHIC_E_INTERNAL, "base_url");
        shic_val_destroy (&fields);
        //  Fields replace a template base_url with a wrong type
        fields = s_json ("{\"base_url\":null}");
        assert (shic_endpoint_build ("k", plan, fields, &err) == NULL);
        s_expect_error (&err, SHIC_E_INTERNAL, "base_url");
        shic_val_destroy (&fields);
        fields = s_json ("{\"base_url\":\"u\",\"headers\":{\"a\":1}}");
        assert (shic_endpoint_build ("k", bare, fields, &err) == NULL);
        s_expect_error (&err, SHIC_E_INTERNAL, "headers");
        shic_val_destroy (&fields);
        fields = s_json ("{\"base_url\":\"u\",\"protocol\":1}");
        assert (shic_endpoint_build ("k", bare, fields, &err) == NULL);
        s_expect_error (&err, SHIC_E_INTERNAL, "protocol");
        shic_val_destroy (&fields);
        fields = s_json ("{\"base_url\":\"u\",\"metadata\":[]}");
        assert (shic_endpoint_build ("k", bare, fields, &err) == NULL);
        s_expect_error (&err, SHIC_E_INTERNAL, "metadata");
        shic_val_destroy (&fields);
        fields = s_json ("{\"base_url\":\"u\",\"capabilities\":1}");
        assert (shic_endpoint_build ("k", bare, fields, &err) == NULL);
        s_expect_error (&err, SHIC_E_INTERNAL, "capabilities");
        shic_val_destroy (&fields);
        shic_val_destroy (&bare);
        shic_val_destroy (&plan);
    }

    //  Compatibility, every reason
    if (verbose)
        printf ("   compatibility\n");
    const char *spawned_backend =
        "{\"backend\":\"llama\",\"management_modes\":[\"jido_managed\"],"
        "\"startup_kind\":\"spawned\",\"protocols\":[\"ollama_native\","
        "\"openai_chat_completions\"],\"capabilities\":{\"streaming?\":true,"
        "\"tools?\":\"unknown\",\"json?\":false,\"vision?\":false},"
        "\"supported_surfaces\":[\"local_subprocess\"]}";
    s_expect_compat (NULL, "{}",
        "{\"contract_version\":\"inference.v1\",\"compatible?\":false,"
        "\"reason\":\"backend_unregistered\",\"resolved_runtime_kind\":null,"
        "\"resolved_management_mode\":null,\"resolved_protocol\":null,\"warnings\":[],"
        "\"missing_requirements\":[\"backend\"],"
        "\"metadata\":{\"reason\":\"backend_unregistered\"}}");
    s_expect_compat (spawned_backend,
        "{\"accepted_runtime_kinds\":[\"task\"],"
        "\"accepted_management_modes\":[\"jido_managed\"]}",
        "{\"contract_version\":\"inference.v1\",\"compatible?\":false,"
        "\"reason\":\"runtime_kind_mismatch\",\"resolved_runtime_kind\":null,"
        "\"resolved_management_mode\":null,\"resolved_protocol\":null,\"warnings\":[],"
        "\"missing_requirements\":[\"runtime_kind\"],\"metadata\":{}}");
    //  The default consumer accepts no management mode
    s_expect_compat (spawned_backend, "{}",
        "{\"contract_version\":\"inference.v1\",\"compatible?\":false,"
        "\"reason\":\"management_mode_mismatch\",\"resolved_runtime_kind\":null,"
        "\"resolved_management_mode\":null,\"resolved_protocol\":null,\"warnings\":[],"
        "\"missing_requirements\":[\"management_mode\"],\"metadata\":{}}");
    s_expect_compat (spawned_backend,
        "{\"accepted_management_modes\":[\"externally_managed\"]}",
        "{\"contract_version\":\"inference.v1\",\"compatible?\":false,"
        "\"reason\":\"management_mode_mismatch\",\"resolved_runtime_kind\":null,"
        "\"resolved_management_mode\":null,\"resolved_protocol\":null,\"warnings\":[],"
        "\"missing_requirements\":[\"management_mode\"],\"metadata\":{}}");
    s_expect_compat (spawned_backend,
        "{\"accepted_management_modes\":[\"jido_managed\"],"
        "\"accepted_protocols\":[\"openai_embeddings\"]}",
        "{\"contract_version\":\"inference.v1\",\"compatible?\":false,"
        "\"reason\":\"unsupported_protocol\",\"resolved_runtime_kind\":null,"
        "\"resolved_management_mode\":null,\"resolved_protocol\":null,\"warnings\":[],"
        "\"missing_requirements\":[\"protocol\"],\"metadata\":{}}");
    s_expect_compat (spawned_backend,
        "{\"accepted_management_modes\":[\"jido_managed\"],"
        "\"constraints\":{\"startup_kind\":\"attach_existing_service\"}}",
        "{\"contract_version\":\"inference.v1\",\"compatible?\":false,"
        "\"reason\":\"startup_kind_unsupported\",\"resolved_runtime_kind\":null,"
        "\"resolved_management_mode\":null,\"resolved_protocol\":null,\"warnings\":[],"
        "\"missing_requirements\":[\"startup_kind\"],\"metadata\":{}}");
    //  A backend without a startup kind fails any constraint
    s_expect_compat ("{\"backend\":\"llama\",\"management_modes\":[\"jido_managed\"]}",
        "{\"accepted_management_modes\":[\"jido_managed\"],"
        "\"constraints\":{\"startup_kind\":\"spawned\"}}",
        "{\"contract_version\":\"inference.v1\",\"compatible?\":false,"
        "\"reason\":\"startup_kind_unsupported\",\"resolved_runtime_kind\":null,"
        "\"resolved_management_mode\":null,\"resolved_protocol\":null,\"warnings\":[],"
        "\"missing_requirements\":[\"startup_kind\"],\"metadata\":{}}");
    s_expect_compat ("{\"backend\":\"llama\",\"management_modes\":[\"jido_managed\"],"
        "\"capabilities\":{\"streaming?\":\"unknown\"}}",
        "{\"accepted_management_modes\":[\"jido_managed\"],"
        "\"required_capabilities\":{\"streaming?\":true}}",
        "{\"contract_version\":\"inference.v1\",\"compatible?\":false,"
        "\"reason\":\"missing_streaming\",\"resolved_runtime_kind\":null,"
        "\"resolved_management_mode\":null,\"resolved_protocol\":null,\"warnings\":[],"
        "\"missing_requirements\":[\"streaming\"],\"metadata\":{}}");
    //  Required keys in sorted order: "json?" fails before "streaming?"
    s_expect_compat ("{\"backend\":\"llama\",\"management_modes\":[\"jido_managed\"]}",
        "{\"accepted_management_modes\":[\"jido_managed\"],"
        "\"required_capabilities\":{\"streaming?\":true,\"json?\":true}}",
        "{\"contract_version\":\"inference.v1\",\"compatible?\":false,"
        "\"reason\":\"missing_capability\",\"resolved_runtime_kind\":null,"
        "\"resolved_management_mode\":null,\"resolved_protocol\":null,\"warnings\":[],"
        "\"missing_requirements\":[\"json\"],\"metadata\":{}}");
    s_expect_compat (spawned_backend,
        "{\"accepted_management_modes\":[\"jido_managed\"],"
        "\"required_capabilities\":{\"streaming?\":true,\"tools?\":true}}",
        "{\"contract_version\":\"inference.v1\",\"compatible?\":false,"
        "\"reason\":\"missing_capability\",\"resolved_runtime_kind\":null,"
        "\"resolved_management_mode\":null,\"resolved_protocol\":null,\"warnings\":[],"
        "\"missing_requirements\":[\"tools\"],\"metadata\":{}}");
    //  A key without '?' is named as is
    s_expect_compat (spawned_backend,
        "{\"accepted_management_modes\":[\"jido_managed\"],"
        "\"required_capabilities\":{\"gpu\":true}}",
        "{\"contract_version\":\"inference.v1\",\"compatible?\":false,"
        "\"reason\":\"missing_capability\",\"resolved_runtime_kind\":null,"
        "\"resolved_management_mode\":null,\"resolved_protocol\":null,\"warnings\":[],"
        "\"missing_requirements\":[\"gpu\"],\"metadata\":{}}");
    //  Success: first backend protocol the consumer accepts, warnings sorted
    s_expect_compat (spawned_backend,
        "{\"consumer\":\"req_llm\","
        "\"accepted_management_modes\":[\"externally_managed\",\"jido_managed\"],"
        "\"accepted_protocols\":[\"openai_chat_completions\",\"ollama_native\"],"
        "\"constraints\":{\"startup_kind\":\"spawned\"},"
        "\"required_capabilities\":{\"streaming?\":true,\"tools?\":\"unknown\","
        "\"json?\":false},"
        "\"optional_capabilities\":{\"vision?\":true,\"embeddings?\":true,"
        "\"tools?\":\"unknown\",\"json?\":true,\"streaming?\":true}}",
        "{\"contract_version\":\"inference.v1\",\"compatible?\":true,"
        "\"reason\":\"protocol_match\",\"resolved_runtime_kind\":\"service\","
        "\"resolved_management_mode\":\"jido_managed\","
        "\"resolved_protocol\":\"ollama_native\","
        "\"warnings\":[\"embeddings\",\"json\",\"vision\"],"
        "\"missing_requirements\":[],"
        "\"metadata\":{\"backend\":\"llama\",\"consumer\":\"req_llm\"}}");
    //  Success with a nil consumer
    s_expect_compat (spawned_backend,
        "{\"accepted_management_modes\":[\"jido_managed\"]}",
        "{\"contract_version\":\"inference.v1\",\"compatible?\":true,"
        "\"reason\":\"protocol_match\",\"resolved_runtime_kind\":\"service\","
        "\"resolved_management_mode\":\"jido_managed\","
        "\"resolved_protocol\":\"openai_chat_completions\",\"warnings\":[],"
        "\"missing_requirements\":[],"
        "\"metadata\":{\"backend\":\"llama\",\"consumer\":null}}");

    //  ensure_endpoint shape checks
    if (verbose)
        printf ("   ensure spec from request\n");
    s_expect_spec (NULL, NULL, NULL, SHIC_E_INVALID_REQUEST, "request");
    s_expect_spec ("[1]", NULL, NULL, SHIC_E_INVALID_REQUEST, "request");
    s_expect_spec ("\"r\"", "{}", NULL, SHIC_E_INVALID_REQUEST, "request");
    s_expect_spec ("{\"target_preference\":{\"backend\":\"b\"}}", "[]",
                   NULL, SHIC_E_INVALID_ARGS, "context");
    s_expect_spec ("{\"target_preference\":{\"backend\":\"b\"}}", "5",
                   NULL, SHIC_E_INVALID_ARGS, "context");
    s_expect_spec ("{}", NULL, NULL,
                   SHIC_E_MISSING_REQUEST_FIELD, "request.target_preference");
    s_expect_spec ("{\"target_preference\":null}", "{}", NULL,
                   SHIC_E_MISSING_REQUEST_FIELD, "request.target_preference");
    s_expect_spec ("{\"target_preference\":\"llama\"}", NULL, NULL,
                   SHIC_E_INVALID_TARGET_PREFERENCE, "request.target_preference");
    s_expect_spec ("{\"target_preference\":{}}", NULL, NULL,
                   SHIC_E_MISSING_TARGET_PREFERENCE, "request.target_preference.backend");
    s_expect_spec ("{\"target_preference\":{\"backend\":1}}", NULL, NULL,
                   SHIC_E_INVALID_ARGS, "request.target_preference.backend");
    s_expect_spec ("{\"target_preference\":{\"backend\":\"b\",\"startup_kind\":\"x\"}}",
                   NULL, NULL, SHIC_E_INVALID_STARTUP_KIND,
                   "request.target_preference.startup_kind");
    s_expect_spec ("{\"target_preference\":{\"backend\":\"b\",\"startup_kind\":1}}",
                   NULL, NULL, SHIC_E_INVALID_STARTUP_KIND,
                   "request.target_preference.startup_kind");
    s_expect_spec ("{\"target_preference\":{\"backend\":\"b\",\"metadata\":[]}}",
                   NULL, NULL, SHIC_E_INVALID_ARGS,
                   "request.target_preference.metadata");
    s_expect_spec ("{\"target_preference\":{\"backend\":\"b\",\"backend_options\":\"o\"}}",
                   NULL, NULL, SHIC_E_INVALID_ARGS,
                   "request.target_preference.backend_options");
    s_expect_spec ("{\"target_preference\":{\"backend\":\"b\",\"execution_surface\":1}}",
                   NULL, NULL, SHIC_E_INVALID_ARGS,
                   "request.target_preference.execution_surface");
    //  Minimal request, nil context
    s_expect_spec ("{\"target_preference\":{\"backend\":\"llama\"}}", "null",
        "{\"contract_version\":\"inference.v1\",\"backend\":\"llama\","
        "\"startup_kind\":null,\"execution_surface\":null,"
        "\"backend_options\":{},\"metadata\":{}}", NULL, NULL);
    //  Full overlay: context wins, nil values are skipped, model from id
    s_expect_spec (
        "{\"request_id\":\"req-1\",\"model_preference\":{\"id\":\"qwen\",\"model\":\"m\"},"
        "\"target_preference\":{\"backend\":\"llama\",\"startup_kind\":\"spawned\","
        "\"execution_surface\":{\"surface_kind\":\"local_subprocess\"},"
        "\"boot_spec\":{\"model_path\":\"/m.gguf\"},\"target_class\":\"ignored\","
        "\"metadata\":{\"run_id\":\"old\",\"keep\":1,\"request_id\":\"old\"},"
        "\"backend_options\":{\"ctx\":4096}}}",
        "{\"run_id\":\"run-1\",\"attempt_id\":null,\"boundary_ref\":\"bnd\","
        "\"observability\":{\"trace_id\":\"t-1\"}}",
        "{\"contract_version\":\"inference.v1\",\"backend\":\"llama\","
        "\"startup_kind\":\"spawned\","
        "\"execution_surface\":{\"surface_kind\":\"local_subprocess\"},"
        "\"backend_options\":{\"ctx\":4096,\"boot_spec\":{\"model_path\":\"/m.gguf\"},"
        "\"model_identity\":\"qwen\"},"
        "\"metadata\":{\"run_id\":\"run-1\",\"keep\":1,\"request_id\":\"req-1\","
        "\"boundary_ref\":\"bnd\",\"trace_id\":\"t-1\"}}", NULL, NULL);
    //  attempt_id is copied too; model falls back to .model
    s_expect_spec (
        "{\"model_preference\":{\"id\":null,\"model\":\"llama3\"},"
        "\"target_preference\":{\"backend\":\"ollama\","
        "\"startup_kind\":\"attach_existing_service\"}}",
        "{\"attempt_id\":\"a-2\",\"observability\":\"not a map\"}",
        "{\"contract_version\":\"inference.v1\",\"backend\":\"ollama\","
        "\"startup_kind\":\"attach_existing_service\",\"execution_surface\":null,"
        "\"backend_options\":{\"model_identity\":\"llama3\"},"
        "\"metadata\":{\"attempt_id\":\"a-2\"}}", NULL, NULL);
    //  Existing boot_spec and model_identity are kept
    s_expect_spec (
        "{\"model_preference\":{\"id\":\"qwen\"},"
        "\"target_preference\":{\"backend\":\"llama\",\"boot_spec\":{\"b\":2},"
        "\"execution_surface\":\"local_subprocess\","
        "\"backend_options\":{\"boot_spec\":{\"b\":1},\"model_identity\":\"mine\"}}}",
        "{}",
        "{\"contract_version\":\"inference.v1\",\"backend\":\"llama\","
        "\"startup_kind\":null,\"execution_surface\":\"local_subprocess\","
        "\"backend_options\":{\"boot_spec\":{\"b\":1},\"model_identity\":\"mine\"},"
        "\"metadata\":{}}", NULL, NULL);

    //  Truthfulness, every reason
    if (verbose)
        printf ("   truthfulness\n");
    const char *llama_manifest =
        "{\"backend\":\"llama\",\"management_modes\":[\"jido_managed\"],"
        "\"startup_kind\":\"spawned\",\"supported_surfaces\":[\"local_subprocess\"]}";
    const char *llama_plan =
        "{\"instance_key\":\"llama:k\",\"backend\":\"llama\",\"startup_kind\":\"spawned\","
        "\"management_mode\":\"jido_managed\",\"transport\":{\"argv\":[\"llama-server\"]}}";
    s_expect_truth ("{\"backend\":\"llama\"}", llama_plan, llama_manifest, NULL);
    s_expect_truth ("{\"backend\":\"llama\",\"startup_kind\":\"spawned\"}",
                    llama_plan, llama_manifest, NULL);
    s_expect_truth ("{\"backend\":\"llama\",\"startup_kind\":\"attach_existing_service\"}",
                    llama_plan, llama_manifest,
                    "[\"requested_startup_kind_mismatch\",\"attach_existing_service\","
                    "\"spawned\"]");
    s_expect_truth ("{\"backend\":\"llama\",\"startup_kind\":\"spawned\"}",
                    "{\"instance_key\":\"k\",\"backend\":\"llama\"}", llama_manifest,
                    "[\"requested_startup_kind_mismatch\",\"spawned\",null]");
    s_expect_truth ("{\"backend\":\"llama\"}",
                    "{\"instance_key\":\"k\",\"backend\":\"llama\","
                    "\"startup_kind\":\"attach_existing_service\","
                    "\"management_mode\":\"externally_managed\"}", llama_manifest,
                    "[\"manifest_startup_kind_mismatch\",\"llama\",\"spawned\","
                    "\"attach_existing_service\"]");
    s_expect_truth ("{\"backend\":\"ollama\"}",
                    "{\"instance_key\":\"k\",\"backend\":\"ollama\","
                    "\"startup_kind\":\"attach_existing_service\","
                    "\"management_mode\":\"jido_managed\"}",
                    "{\"backend\":\"ollama\",\"management_modes\":[\"externally_managed\"],"
                    "\"startup_kind\":\"attach_existing_service\"}",
                    "[\"management_mode_mismatch\",\"attach_existing_service\","
                    "\"jido_managed\"]");
    s_expect_truth ("{\"backend\":\"x\"}",
                    "{\"instance_key\":\"k\",\"backend\":\"x\"}",
                    "{\"backend\":\"x\"}",
                    "[\"management_mode_mismatch\",null,null]");
    s_expect_truth ("{\"backend\":\"x\"}",
                    "{\"instance_key\":\"k\",\"backend\":\"x\",\"startup_kind\":\"bogus\","
                    "\"management_mode\":\"jido_managed\"}",
                    "{\"backend\":\"x\"}",
                    "[\"management_mode_mismatch\",\"bogus\",\"jido_managed\"]");
    s_expect_truth ("{\"backend\":\"llama\"}",
                    "{\"instance_key\":\"k\",\"backend\":\"llama\",\"startup_kind\":\"spawned\","
                    "\"management_mode\":\"jido_managed\"}", llama_manifest,
                    "[\"spawned_requires_transport\",\"llama\"]");
    s_expect_truth ("{\"backend\":\"ollama\"}",
                    "{\"instance_key\":\"k\",\"backend\":\"ollama\","
                    "\"startup_kind\":\"attach_existing_service\","
                    "\"management_mode\":\"externally_managed\","
                    "\"transport\":{\"argv\":[\"ollama\",\"serve\"]}}",
                    "{\"backend\":\"ollama\",\"management_modes\":[\"externally_managed\"],"
                    "\"supported_surfaces\":[\"local_subprocess\"]}",
                    "[\"attached_must_not_spawn\",\"ollama\"]");
    //  With a transport, the transport's surface decides (spec ignored)
    s_expect_truth ("{\"backend\":\"llama\",\"execution_surface\":\"local_subprocess\"}",
                    "{\"instance_key\":\"k\",\"backend\":\"llama\",\"startup_kind\":\"spawned\","
                    "\"management_mode\":\"jido_managed\",\"transport\":{\"argv\":[\"x\"],"
                    "\"execution_surface\":{\"surface_kind\":\"ssh_exec\"}}}", llama_manifest,
                    "[\"unsupported_execution_surface\",\"llama\",\"ssh_exec\","
                    "[\"local_subprocess\"]]");
    s_expect_truth ("{\"backend\":\"llama\",\"execution_surface\":\"guest_bridge\"}",
                    llama_plan, llama_manifest, NULL);
    s_expect_truth ("{\"backend\":\"llama\"}",
                    "{\"instance_key\":\"k\",\"backend\":\"llama\",\"startup_kind\":\"spawned\","
                    "\"management_mode\":\"jido_managed\",\"transport\":{\"argv\":[\"x\"],"
                    "\"execution_surface\":\"guest_bridge\"}}", llama_manifest,
                    "[\"unsupported_execution_surface\",\"llama\",\"guest_bridge\","
                    "[\"local_subprocess\"]]");
    //  Map without a surface_kind string resolves to local_subprocess
    s_expect_truth ("{\"backend\":\"llama\"}",
                    "{\"instance_key\":\"k\",\"backend\":\"llama\",\"startup_kind\":\"spawned\","
                    "\"management_mode\":\"jido_managed\",\"transport\":{\"argv\":[\"x\"],"
                    "\"execution_surface\":{\"surface_kind\":1}}}", llama_manifest, NULL);
    //  Without a transport, the spec's surface decides; nil is local
    const char *attach_plan =
        "{\"instance_key\":\"k\",\"backend\":\"ollama\","
        "\"startup_kind\":\"attach_existing_service\","
        "\"management_mode\":\"externally_managed\"}";
    s_expect_truth ("{\"backend\":\"ollama\",\"execution_surface\":{\"surface_kind\":"
                    "\"ssh_exec\",\"target\":\"h\"}}", attach_plan,
                    "{\"backend\":\"ollama\",\"management_modes\":[\"externally_managed\"],"
                    "\"supported_surfaces\":[\"local_subprocess\"]}",
                    "[\"unsupported_execution_surface\",\"ollama\",\"ssh_exec\","
                    "[\"local_subprocess\"]]");
    s_expect_truth ("{\"backend\":\"ollama\"}", attach_plan,
                    "{\"backend\":\"ollama\",\"management_modes\":[\"externally_managed\"]}",
                    "[\"unsupported_execution_surface\",\"ollama\",\"local_subprocess\",[]]");
    s_expect_truth ("{\"backend\":\"ollama\"}", attach_plan,
                    "{\"backend\":\"ollama\",\"management_modes\":[\"externally_managed\"],"
                    "\"supported_surfaces\":[\"local_subprocess\"]}", NULL);
    s_expect_truth ("{\"backend\":\"ollama\"}", attach_plan,
                    "{\"backend\":\"ollama\",\"management_modes\":[\"jido_managed\"],"
                    "\"supported_surfaces\":[\"local_subprocess\"]}",
                    "[\"manifest_management_mode_mismatch\",\"ollama\",[\"jido_managed\"],"
                    "\"externally_managed\"]");
    s_expect_truth ("{\"backend\":\"llama\"}", llama_plan,
                    "{\"backend\":\"llama\",\"supported_surfaces\":[\"local_subprocess\"]}",
                    "[\"manifest_management_mode_mismatch\",\"llama\",[],"
                    "\"jido_managed\"]");

    //  Instance keys
    if (verbose)
        printf ("   instance keys\n");
    {
        shic_val_t *first = s_json ("{\"a\":1,\"b\":\"x\"}");
        shic_val_t *second = s_json ("{\"b\":\"x\",\"a\":1}");
        shic_val_t *other = s_json ("{\"a\":2,\"b\":\"x\"}");
        char *key_first = shic_instance_key ("llama", "qwen", first);
        char *key_second = shic_instance_key ("llama", "qwen", second);
        char *key_other = shic_instance_key ("llama", "qwen", other);
        char *key_bare = shic_instance_key ("llama", NULL, first);
        char *key_empty = shic_instance_key ("llama", "", first);
        char *key_nil = shic_instance_key ("b", NULL, NULL);
        assert (key_first && key_second && key_other && key_bare && key_empty && key_nil);
        if (verbose)
            printf ("   key %s\n", key_first);
        assert (streq (key_first, key_second));
        assert (!streq (key_first, key_other));
        //  Known values: SHA-256 of the canonical bytes, base64url, no padding
        assert (streq (key_first, "llama:qwen:Ik2CYjGf4iZPCcjddnenQtSG0dJush0hlfQLLiYjIRE"));
        assert (streq (key_bare, "llama:Ik2CYjGf4iZPCcjddnenQtSG0dJush0hlfQLLiYjIRE"));
        assert (streq (key_empty, key_bare));
        assert (streq (key_nil, "b:5P9efXp_COmACj4ly3dFM8sgBA3zC2uhD5Vvms0Os_c"));
        free (key_first);
        free (key_second);
        free (key_other);
        free (key_bare);
        free (key_empty);
        free (key_nil);
        //  Nested maps in different order give the same key too
        shic_val_destroy (&first);
        shic_val_destroy (&second);
        first = s_json ("{\"opts\":{\"ctx\":1,\"gpu\":[1,2]},\"model\":\"m\"}");
        second = s_json ("{\"model\":\"m\",\"opts\":{\"gpu\":[1,2],\"ctx\":1}}");
        key_first = shic_instance_key ("llama", "m", first);
        key_second = shic_instance_key ("llama", "m", second);
        assert (key_first && key_second && streq (key_first, key_second));
        free (key_first);
        free (key_second);
        shic_val_destroy (&first);
        shic_val_destroy (&second);
        shic_val_destroy (&other);
    }
    //  @end

    printf ("OK\n");
}
