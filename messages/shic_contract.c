/*  =========================================================================
    shic_contract - the structures of contract.md §3 and the pure kernel
    rules over them: compatibility (§4), the shape checks of ensure_endpoint
    (§5 steps 1-4), truthfulness of startup plans (§5 step 7), endpoint
    construction and instance keys.

    Every structure is built as a fresh map in the field order of the
    contract, so two normalizations of the same input give the same tree.
    A field that is present with a nil value is treated as absent (it gets
    its default) unless nil is one of its legal values. Keys that are not
    fields of the structure are dropped.
    =========================================================================
*/

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>
#include "shic_contract.h"
#include "shic_schema.h"
#include "shic_sha256.h"
#include "shic_json.h"

//  ---------------------------------------------------------------------------
//  Helpers

static void
s_set (shic_val_t *map, const char *key, shic_val_t *value)
{
    assert (value);
    int rc = shic_val_set (map, key, &value);
    assert (rc == 0);
}

static void
s_set_str_or_nil (shic_val_t *map, const char *key, const char *value)
{
    s_set (map, key, value? shic_val_new_str (value): shic_val_new_nil ());
}

static void
s_push_str (shic_val_t *array, const char *value)
{
    shic_val_t *item = value? shic_val_new_str (value): shic_val_new_nil ();
    assert (item);
    int rc = shic_val_push (array, &item);
    assert (rc == 0);
}

static void
s_push_dup (shic_val_t *array, const shic_val_t *value)
{
    shic_val_t *item = value? shic_val_dup (value): shic_val_new_nil ();
    assert (item);
    int rc = shic_val_push (array, &item);
    assert (rc == 0);
}


//  ---------------------------------------------------------------------------
//  Enumerations

bool
shic_startup_kind_valid (const char *value)
{
    return value
        && (streq (value, SHIC_STARTUP_SPAWNED)
        ||  streq (value, SHIC_STARTUP_ATTACHED));
}

bool
shic_startup_pair_legal (const char *startup_kind, const char *management_mode)
{
    if (!startup_kind || !management_mode)
        return false;
    return (streq (startup_kind, SHIC_STARTUP_SPAWNED)
        &&  streq (management_mode, SHIC_MODE_JIDO_MANAGED))
        || (streq (startup_kind, SHIC_STARTUP_ATTACHED)
        &&  streq (management_mode, SHIC_MODE_EXTERNALLY_MANAGED));
}


//  ---------------------------------------------------------------------------
//  The structures as field tables (contract.md §3), in contract order

static const shic_schema_field_t s_backend_manifest_fields [] = {
    { .name = "backend", .type = SHIC_SCHEMA_STR, .required = true,
      .rules = SHIC_SCHEMA_NON_EMPTY },
    { .name = "runtime_kind", .type = SHIC_SCHEMA_STR, .dflt = SHIC_RUNTIME_SERVICE },
    { .name = "management_modes", .type = SHIC_SCHEMA_STRS },
    { .name = "startup_kind", .type = SHIC_SCHEMA_STR },
    { .name = "protocols", .type = SHIC_SCHEMA_STRS, .dflt = SHIC_PROTOCOL_OPENAI_CHAT },
    { .name = "capabilities", .type = SHIC_SCHEMA_MAP },
    { .name = "supported_surfaces", .type = SHIC_SCHEMA_STRS },
    { .name = "resource_profile", .type = SHIC_SCHEMA_MAP },
    { .name = "metadata", .type = SHIC_SCHEMA_MAP },
    { .name = NULL }
};

static const shic_schema_field_t s_consumer_manifest_fields [] = {
    { .name = "consumer", .type = SHIC_SCHEMA_STR },
    { .name = "accepted_runtime_kinds", .type = SHIC_SCHEMA_STRS, .dflt = SHIC_RUNTIME_SERVICE },
    { .name = "accepted_management_modes", .type = SHIC_SCHEMA_STRS },
    { .name = "accepted_protocols", .type = SHIC_SCHEMA_STRS, .dflt = SHIC_PROTOCOL_OPENAI_CHAT },
    { .name = "required_capabilities", .type = SHIC_SCHEMA_MAP },
    { .name = "optional_capabilities", .type = SHIC_SCHEMA_MAP },
    { .name = "constraints", .type = SHIC_SCHEMA_MAP },
    { .name = "metadata", .type = SHIC_SCHEMA_MAP },
    { .name = NULL }
};

static const shic_schema_field_t s_instance_spec_fields [] = {
    { .name = "backend", .type = SHIC_SCHEMA_STR, .required = true },
    { .name = "startup_kind", .type = SHIC_SCHEMA_STR },
    { .name = "execution_surface", .type = SHIC_SCHEMA_SURFACE },
    { .name = "backend_options", .type = SHIC_SCHEMA_MAP },
    { .name = "metadata", .type = SHIC_SCHEMA_MAP },
    { .name = NULL }
};

//  argv is checked first: a transport without a command is no transport
static const shic_schema_field_t s_transport_fields [] = {
    { .name = "argv", .type = SHIC_SCHEMA_STRS, .rules = SHIC_SCHEMA_NON_EMPTY },
    { .name = "env", .type = SHIC_SCHEMA_MAP, .rules = SHIC_SCHEMA_STRING_VALUES },
    { .name = "cwd", .type = SHIC_SCHEMA_STR },
    { .name = "ready_pattern", .type = SHIC_SCHEMA_STR },
    { .name = "execution_surface", .type = SHIC_SCHEMA_SURFACE },
    { .name = "stop_signal", .type = SHIC_SCHEMA_SIGNAL },
    { .name = NULL }
};

//  startup_kind and management_mode are copied as given: truthfulness,
//  not normalization, judges them
static const shic_schema_field_t s_startup_plan_fields [] = {
    { .name = "instance_key", .type = SHIC_SCHEMA_STR, .required = true,
      .rules = SHIC_SCHEMA_NON_EMPTY },
    { .name = "backend", .type = SHIC_SCHEMA_STR },
    { .name = "startup_kind", .type = SHIC_SCHEMA_STR },
    { .name = "management_mode", .type = SHIC_SCHEMA_STR },
    { .name = "transport", .type = SHIC_SCHEMA_STRUCT, .fields = s_transport_fields },
    { .name = "ready_timeout_ms", .type = SHIC_SCHEMA_MS,
      .dflt_ms = SHIC_DEFAULT_READY_TIMEOUT_MS, .rules = SHIC_SCHEMA_POSITIVE },
    { .name = "readiness_interval_ms", .type = SHIC_SCHEMA_MS,
      .dflt_ms = SHIC_DEFAULT_READINESS_INTERVAL_MS, .rules = SHIC_SCHEMA_POSITIVE },
    { .name = "health_interval_ms", .type = SHIC_SCHEMA_MS,
      .dflt_ms = SHIC_DEFAULT_HEALTH_INTERVAL_MS },
    { .name = "idle_shutdown_ms", .type = SHIC_SCHEMA_MS,
      .dflt_ms = SHIC_DEFAULT_IDLE_SHUTDOWN_MS },
    { .name = "stop_timeout_ms", .type = SHIC_SCHEMA_MS,
      .dflt_ms = SHIC_DEFAULT_STOP_TIMEOUT_MS, .max_ms = SHIC_STOP_TIMEOUT_MAX_MS },
    { .name = "endpoint_template", .type = SHIC_SCHEMA_MAP },
    { .name = "metadata", .type = SHIC_SCHEMA_MAP },
    { .name = "resources", .type = SHIC_SCHEMA_MAP },
    { .name = NULL }
};

//  The map fields an endpoint takes from its template and fields
static const shic_schema_field_t s_endpoint_map_fields [] = {
    { .name = "headers", .type = SHIC_SCHEMA_MAP, .rules = SHIC_SCHEMA_STRING_VALUES },
    { .name = "capabilities", .type = SHIC_SCHEMA_MAP },
    { .name = "metadata", .type = SHIC_SCHEMA_MAP },
    { .name = NULL }
};

//  The map fields an ensure_endpoint request's target_preference passes on
static const shic_schema_field_t s_target_map_fields [] = {
    { .name = "metadata", .type = SHIC_SCHEMA_MAP },
    { .name = "backend_options", .type = SHIC_SCHEMA_MAP },
    { .name = NULL }
};

//  One structure: its table, its error code, and how errors name it
typedef struct {
    const char *what;               //  the structure, in "... must be a map"
    const char *field;              //  details.field when the input is not a map
    const char *code;               //  the code of every error
    const shic_schema_field_t *fields;  //  its field table
} s_structure_t;

static const s_structure_t s_backend_manifest =
    { "backend manifest", "manifest", SHIC_E_INTERNAL, s_backend_manifest_fields };
static const s_structure_t s_consumer_manifest =
    { "consumer manifest", "consumer", SHIC_E_INVALID_CONSUMER_MANIFEST,
      s_consumer_manifest_fields };
static const s_structure_t s_instance_spec =
    { "instance spec", "spec", SHIC_E_INVALID_ARGS, s_instance_spec_fields };
static const s_structure_t s_startup_plan =
    { "startup plan", "plan", SHIC_E_INTERNAL, s_startup_plan_fields };

//  Fresh {contract_version, fields...} of in (a map or NULL), or NULL with err
static shic_val_t *
s_normalize (const s_structure_t *structure, const shic_val_t *in, shic_error_t *err)
{
    if (in && !shic_val_is (in, SHIC_VAL_MAP)) {
        shic_error_set_field (err, structure->code, structure->field,
                              "%s must be a map, not %s", structure->what,
                              shic_val_type_name (in));
        return NULL;
    }
    shic_val_t *out = shic_val_new_map ();
    assert (out);
    shic_val_set_str (out, "contract_version", SHIC_CONTRACT_VERSION);
    if (shic_schema_take (out, in, structure->fields, structure->code, NULL, err))
        shic_val_destroy (&out);
    return out;
}

shic_val_t *
shic_backend_manifest_normalize (const shic_val_t *in, shic_error_t *err)
{
    return s_normalize (&s_backend_manifest, in, err);
}

shic_val_t *
shic_backend_manifest_new (const char *backend, const char *startup_kind,
                           const char *management_mode)
{
    shic_val_t *manifest = shic_val_new_map ();
    shic_val_set_str (manifest, "backend", backend);
    shic_val_set_str (manifest, "runtime_kind", SHIC_RUNTIME_SERVICE);
    shic_val_t *list = shic_val_new_strings (management_mode, NULL);
    shic_val_set (manifest, "management_modes", &list);
    if (startup_kind)
        shic_val_set_str (manifest, "startup_kind", startup_kind);
    else
        shic_val_set_nil (manifest, "startup_kind");
    list = shic_val_new_strings (SHIC_PROTOCOL_OPENAI_CHAT, NULL);
    shic_val_set (manifest, "protocols", &list);
    shic_val_t *map = shic_val_new_map ();
    shic_val_set (manifest, "capabilities", &map);
    list = shic_val_new_strings (SHIC_SURFACE_LOCAL, NULL);
    shic_val_set (manifest, "supported_surfaces", &list);
    map = shic_val_new_map ();
    shic_val_set (manifest, "metadata", &map);
    return manifest;
}

//  constraints keeps every key; only its startup_kind has a type
shic_val_t *
shic_consumer_manifest_normalize (const shic_val_t *in, shic_error_t *err)
{
    shic_val_t *out = s_normalize (&s_consumer_manifest, in, err);
    shic_val_t *startup_kind = shic_val_path (out, "constraints/startup_kind");
    if (!shic_schema_absent (startup_kind) && !shic_val_is (startup_kind, SHIC_VAL_STR)) {
        shic_error_set_field (err, SHIC_E_INVALID_CONSUMER_MANIFEST,
                              "constraints.startup_kind",
                              "field constraints.startup_kind must be a string, not %s",
                              shic_val_type_name (startup_kind));
        shic_val_destroy (&out);
    }
    return out;
}

//  A startup_kind that is no kind has its own code, checked before types
shic_val_t *
shic_instance_spec_normalize (const shic_val_t *in, shic_error_t *err)
{
    shic_val_t *startup_kind = shic_val_get (in, "startup_kind");
    if (!shic_schema_absent (startup_kind)
    &&  !shic_startup_kind_valid (shic_val_str (startup_kind))) {
        shic_error_set_field (err, SHIC_E_INVALID_STARTUP_KIND, "startup_kind",
                              "startup_kind must be \"spawned\" or \"attach_existing_service\"");
        return NULL;
    }
    return s_normalize (&s_instance_spec, in, err);
}

shic_val_t *
shic_startup_plan_normalize (const shic_val_t *in, shic_error_t *err)
{
    return s_normalize (&s_startup_plan, in, err);
}


//  ---------------------------------------------------------------------------
//  LeaseRef

shic_val_t *
shic_lease_ref_new (const char *lease_ref, const shic_val_t *owner_ref,
                    int64_t ttl_ms, int64_t expires_at_ms,
                    bool renewable, const char *instance_id)
{
    shic_val_t *self = shic_val_new_map ();
    assert (self);
    shic_val_set_str (self, "contract_version", SHIC_CONTRACT_VERSION);
    s_set_str_or_nil (self, "lease_ref", lease_ref);
    shic_val_set_dup (self, "owner_ref", owner_ref);
    shic_val_set_int (self, "ttl_ms", ttl_ms);
    if (ttl_ms == 0)
        shic_val_set_nil (self, "expires_at_ms");
    else
        shic_val_set_int (self, "expires_at_ms", expires_at_ms);
    shic_val_set_bool (self, "renewable?", renewable);
    s_set_str_or_nil (self, "instance_id", instance_id);
    return self;
}

void
shic_lease_ref_write (shic_val_writer_t *writer, size_t extra, const char *lease_ref,
                      const shic_val_t *owner_ref, int64_t ttl_ms,
                      int64_t expires_at_ms, bool renewable, const char *instance_id)
{
    //  Field for field as shic_lease_ref_new
    shic_val_writer_map (writer, 7 + extra);
    shic_val_writer_str (writer, "contract_version");
    shic_val_writer_str (writer, SHIC_CONTRACT_VERSION);
    shic_val_writer_str (writer, "lease_ref");
    shic_val_writer_str (writer, lease_ref);
    shic_val_writer_str (writer, "owner_ref");
    shic_val_writer_val (writer, owner_ref);
    shic_val_writer_str (writer, "ttl_ms");
    shic_val_writer_int (writer, ttl_ms);
    shic_val_writer_str (writer, "expires_at_ms");
    if (ttl_ms == 0)
        shic_val_writer_nil (writer);
    else
        shic_val_writer_int (writer, expires_at_ms);
    shic_val_writer_str (writer, "renewable?");
    shic_val_writer_bool (writer, renewable);
    shic_val_writer_str (writer, "instance_id");
    shic_val_writer_str (writer, instance_id);
}


//  ---------------------------------------------------------------------------
//  EndpointDescriptor

//  Copies merged[key] into out, or a copy of dflt (NULL gives nil) when it
//  is absent or nil
static void
s_copy_or (shic_val_t *out, const shic_val_t *merged, const char *key,
           const shic_val_t *dflt)
{
    const shic_val_t *value = shic_val_get (merged, key);
    if (shic_schema_absent (value))
        value = dflt;
    s_set (out, key, value? shic_val_dup (value): shic_val_new_nil ());
}

shic_val_t *
shic_endpoint_build (const char *instance_id, const shic_val_t *plan,
                     const shic_val_t *fields, shic_error_t *err)
{
    const char *code = SHIC_E_INTERNAL;
    shic_val_t *merged = shic_val_new_map ();
    assert (merged);
    const shic_val_t *sources [2] = { shic_val_get (plan, "endpoint_template"), fields };
    for (int source = 0; source < 2; source++)
        if (shic_val_is (sources [source], SHIC_VAL_MAP))
            for (size_t index = 0; index < shic_val_size (sources [source]); index++)
                shic_val_set_dup (merged, shic_val_key_at (sources [source], index),
                                  shic_val_at (sources [source], index));

    shic_val_t *out = shic_val_new_map ();
    assert (out);
    if (!shic_val_is (shic_val_get (merged, "base_url"), SHIC_VAL_STR)) {
        shic_error_set_field (err, code, "base_url", "base_url missing");
        goto failed;
    }
    shic_val_t *protocol = shic_val_get (merged, "protocol");
    if (!shic_schema_absent (protocol) && !shic_val_is (protocol, SHIC_VAL_STR)) {
        shic_error_set_field (err, code, "protocol", "endpoint protocol must be a string, not %s",
                              shic_val_type_name (protocol));
        goto failed;
    }
    shic_val_t *backend = shic_val_get (plan, "backend");
    shic_val_t *instance = shic_val_new_str (instance_id);
    assert (instance);

    shic_val_set_str (out, "contract_version", SHIC_CONTRACT_VERSION);
    s_set (out, "endpoint_id",
           shic_val_new_printf ("%s:endpoint", instance_id? instance_id: ""));
    shic_val_set_str (out, "runtime_kind", SHIC_RUNTIME_SERVICE);
    shic_val_set_dup (out, "management_mode", shic_val_get (plan, "management_mode"));
    shic_val_set_str (out, "target_class", SHIC_TARGET_SELF_HOSTED);
    if (shic_schema_absent (protocol))
        shic_val_set_str (out, "protocol", SHIC_PROTOCOL_OPENAI_CHAT);
    else
        shic_val_set_dup (out, "protocol", protocol);
    shic_val_set_dup (out, "base_url", shic_val_get (merged, "base_url"));
    s_copy_or (out, merged, "provider_identity", backend);
    s_copy_or (out, merged, "model_identity", instance);
    s_copy_or (out, merged, "source_runtime", backend);
    s_copy_or (out, merged, "source_runtime_ref", NULL);
    shic_val_set_nil (out, "lease_ref");
    s_copy_or (out, merged, "health_ref", NULL);
    s_copy_or (out, merged, "boundary_ref", NULL);
    shic_val_destroy (&instance);
    if (shic_schema_take (out, merged, s_endpoint_map_fields, code, NULL, err))
        goto failed;
    shic_val_destroy (&merged);
    return out;

failed:
    shic_val_destroy (&merged);
    shic_val_destroy (&out);
    return NULL;
}


//  ---------------------------------------------------------------------------
//  Compatibility

static int
s_compare_keys (const void *a, const void *b)
{
    return strcmp (*(const char * const *) a, *(const char * const *) b);
}

//  Returns the keys of a map sorted bytewise, borrowed; caller frees the
//  array (not the keys). Sets *count_p.
static const char **
s_sorted_keys (const shic_val_t *map, size_t *count_p)
{
    size_t count = shic_val_is (map, SHIC_VAL_MAP)? shic_val_size (map): 0;
    const char **keys = (const char **) calloc (count + 1, sizeof (char *));
    assert (keys);
    for (size_t index = 0; index < count; index++)
        keys [index] = shic_val_key_at (map, index);
    qsort (keys, count, sizeof (char *), s_compare_keys);
    *count_p = count;
    return keys;
}

//  Pushes key without its trailing '?'
static void
s_push_capability (shic_val_t *array, const char *key)
{
    size_t size = strlen (key);
    if (size > 0 && key [size - 1] == '?')
        size--;
    shic_val_t *item = shic_val_new_strn (key, size);
    assert (item);
    int rc = shic_val_push (array, &item);
    assert (rc == 0);
}

//  True when the backend's value of the capability equals expected; an
//  absent backend value never does
static bool
s_capability_matches (const shic_val_t *capabilities, const char *key,
                      const shic_val_t *expected)
{
    shic_val_t *actual = shic_val_get (capabilities, key);
    return actual && shic_val_equal (actual, expected);
}

//  Fresh incompatible result with missing = [requirement]
static shic_val_t *
s_compatibility_new (bool compatible, const char *reason)
{
    shic_val_t *self = shic_val_new_map ();
    assert (self);
    shic_val_set_str (self, "contract_version", SHIC_CONTRACT_VERSION);
    shic_val_set_bool (self, "compatible?", compatible);
    shic_val_set_str (self, "reason", reason);
    shic_val_set_nil (self, "resolved_runtime_kind");
    shic_val_set_nil (self, "resolved_management_mode");
    shic_val_set_nil (self, "resolved_protocol");
    s_set (self, "warnings", shic_val_new_array ());
    s_set (self, "missing_requirements", shic_val_new_array ());
    s_set (self, "metadata", shic_val_new_map ());
    return self;
}

static shic_val_t *
s_incompatible (const char *reason, const char *missing)
{
    shic_val_t *self = s_compatibility_new (false, reason);
    s_push_capability (shic_val_get (self, "missing_requirements"), missing);
    return self;
}

//  First item of backend_list that accepted also holds, or NULL
static shic_val_t *
s_first_common (const shic_val_t *backend_list, const shic_val_t *accepted)
{
    for (size_t index = 0; index < shic_val_size (backend_list); index++) {
        shic_val_t *item = shic_val_at (backend_list, index);
        if (shic_val_contains (accepted, item))
            return item;
    }
    return NULL;
}

shic_val_t *
shic_compatibility (const char *backend_id, const shic_val_t *manifest,
                    const shic_val_t *consumer)
{
    if (!manifest) {
        shic_val_t *self = s_incompatible ("backend_unregistered", "backend");
        shic_val_set_str (shic_val_get (self, "metadata"), "reason", "backend_unregistered");
        return self;
    }
    shic_val_t *runtime_kind = shic_val_get (manifest, "runtime_kind");
    shic_val_t *mode = s_first_common (shic_val_get (manifest, "management_modes"),
                                       shic_val_get (consumer, "accepted_management_modes"));
    shic_val_t *protocol = s_first_common (shic_val_get (manifest, "protocols"),
                                           shic_val_get (consumer, "accepted_protocols"));
    if (!runtime_kind
    ||  !shic_val_contains (shic_val_get (consumer, "accepted_runtime_kinds"), runtime_kind))
        return s_incompatible ("runtime_kind_mismatch", "runtime_kind");
    if (!mode)
        return s_incompatible ("management_mode_mismatch", "management_mode");
    if (!protocol)
        return s_incompatible ("unsupported_protocol", "protocol");

    shic_val_t *wanted_kind = shic_val_path (consumer, "constraints/startup_kind");
    if (!shic_schema_absent (wanted_kind)
    &&  !shic_val_equal (wanted_kind, shic_val_get (manifest, "startup_kind")))
        return s_incompatible ("startup_kind_unsupported", "startup_kind");

    shic_val_t *capabilities = shic_val_get (manifest, "capabilities");
    shic_val_t *required = shic_val_get (consumer, "required_capabilities");
    size_t count;
    const char **keys = s_sorted_keys (required, &count);
    for (size_t index = 0; index < count; index++) {
        if (s_capability_matches (capabilities, keys [index],
                                  shic_val_get (required, keys [index])))
            continue;
        shic_val_t *self = streq (keys [index], "streaming?")
            ? s_incompatible ("missing_streaming", "streaming")
            : s_incompatible ("missing_capability", keys [index]);
        free (keys);
        return self;
    }
    free (keys);

    shic_val_t *self = s_compatibility_new (true, "protocol_match");
    shic_val_set_dup (self, "resolved_runtime_kind", runtime_kind);
    shic_val_set_dup (self, "resolved_management_mode", mode);
    shic_val_set_dup (self, "resolved_protocol", protocol);
    shic_val_t *optional = shic_val_get (consumer, "optional_capabilities");
    shic_val_t *warnings = shic_val_get (self, "warnings");
    keys = s_sorted_keys (optional, &count);
    for (size_t index = 0; index < count; index++)
        if (!s_capability_matches (capabilities, keys [index],
                                   shic_val_get (optional, keys [index])))
            s_push_capability (warnings, keys [index]);
    free (keys);
    shic_val_t *metadata = shic_val_get (self, "metadata");
    s_set_str_or_nil (metadata, "backend", backend_id);
    shic_val_set_dup (metadata, "consumer", shic_val_get (consumer, "consumer"));
    return self;
}


//  ---------------------------------------------------------------------------
//  ensure_endpoint, steps 1-4

shic_val_t *
shic_ensure_spec_from_request (const shic_val_t *request,
                               const shic_val_t *context, shic_error_t *err)
{
    if (!shic_val_is (request, SHIC_VAL_MAP)) {
        shic_error_set_field (err, SHIC_E_INVALID_REQUEST, "request",
                              "request must be a map, not %s", shic_val_type_name (request));
        return NULL;
    }
    if (!shic_schema_absent (context) && !shic_val_is (context, SHIC_VAL_MAP)) {
        shic_error_set_field (err, SHIC_E_INVALID_ARGS, "context",
                              "context must be a map or nil, not %s", shic_val_type_name (context));
        return NULL;
    }
    shic_val_t *target = shic_val_get (request, "target_preference");
    if (shic_schema_absent (target)) {
        shic_error_set_field (err, SHIC_E_MISSING_REQUEST_FIELD, "request.target_preference",
                              "request.target_preference is required");
        return NULL;
    }
    if (!shic_val_is (target, SHIC_VAL_MAP)) {
        shic_error_set_field (err, SHIC_E_INVALID_TARGET_PREFERENCE, "request.target_preference",
                              "request.target_preference must be a map, not %s",
                              shic_val_type_name (target));
        return NULL;
    }
    shic_val_t *backend = shic_val_get (target, "backend");
    if (shic_schema_absent (backend)) {
        shic_error_set_field (err, SHIC_E_MISSING_TARGET_PREFERENCE,
                              "request.target_preference.backend",
                              "request.target_preference.backend is required");
        return NULL;
    }
    if (!shic_val_is (backend, SHIC_VAL_STR)) {
        shic_error_set_field (err, SHIC_E_INVALID_ARGS, "request.target_preference.backend",
                              "request.target_preference.backend must be a string, not %s",
                              shic_val_type_name (backend));
        return NULL;
    }
    shic_val_t *startup_kind = shic_val_get (target, "startup_kind");
    if (!shic_schema_absent (startup_kind)
    &&  !shic_startup_kind_valid (shic_val_str (startup_kind))) {
        shic_error_set_field (err, SHIC_E_INVALID_STARTUP_KIND,
                              "request.target_preference.startup_kind",
                              "startup_kind must be \"spawned\" or \"attach_existing_service\"");
        return NULL;
    }
    shic_val_t *surface = shic_val_get (target, "execution_surface");
    if (!shic_schema_surface_valid (surface)) {
        shic_error_set_field (err, SHIC_E_INVALID_ARGS,
                              "request.target_preference.execution_surface",
                              "request.target_preference.execution_surface must be nil, a string or a map");
        return NULL;
    }
    shic_val_t *spec = shic_val_new_map ();
    assert (spec);
    shic_val_set_dup (spec, "backend", backend);
    shic_val_set_dup (spec, "startup_kind", startup_kind);
    shic_val_set_dup (spec, "execution_surface", surface);
    if (shic_schema_take (spec, target, s_target_map_fields, SHIC_E_INVALID_ARGS,
                          "request.target_preference", err)) {
        shic_val_destroy (&spec);
        return NULL;
    }
    //  Metadata overlay: context wins over target_preference.metadata
    shic_val_t *metadata = shic_val_get (spec, "metadata");
    struct {
        const char *key;
        const shic_val_t *value;
    } overlay [] = {
        { "request_id", shic_val_get (request, "request_id") },
        { "run_id", shic_val_get (context, "run_id") },
        { "attempt_id", shic_val_get (context, "attempt_id") },
        { "boundary_ref", shic_val_get (context, "boundary_ref") },
        { "trace_id", shic_val_path (context, "observability/trace_id") }
    };
    for (size_t index = 0; index < sizeof (overlay) / sizeof (overlay [0]); index++)
        if (!shic_schema_absent (overlay [index].value))
            shic_val_set_dup (metadata, overlay [index].key, overlay [index].value);

    //  Backend options: boot_spec folded in, model_identity derived
    shic_val_t *options = shic_val_get (spec, "backend_options");
    shic_val_t *boot_spec = shic_val_get (target, "boot_spec");
    if (!shic_schema_absent (boot_spec) && !shic_val_get (options, "boot_spec"))
        shic_val_set_dup (options, "boot_spec", boot_spec);
    if (!shic_val_get (options, "model_identity")) {
        shic_val_t *model = shic_val_path (request, "model_preference/id");
        if (shic_schema_absent (model))
            model = shic_val_path (request, "model_preference/model");
        if (!shic_schema_absent (model))
            shic_val_set_dup (options, "model_identity", model);
    }
    shic_val_t *normal = shic_instance_spec_normalize (spec, err);
    shic_val_destroy (&spec);
    return normal;
}


//  ---------------------------------------------------------------------------
//  Truthfulness

//  The surface kind of one execution surface value, borrowed
static const char *
s_surface_kind (const shic_val_t *surface)
{
    if (shic_val_is (surface, SHIC_VAL_STR))
        return shic_val_str (surface);
    if (shic_val_is (shic_val_get (surface, "surface_kind"), SHIC_VAL_STR))
        return shic_val_str (shic_val_get (surface, "surface_kind"));
    return SHIC_SURFACE_LOCAL;
}

//  Fresh reason array [reason]
static shic_val_t *
s_reason_new (const char *reason)
{
    shic_val_t *self = shic_val_new_array ();
    assert (self);
    s_push_str (self, reason);
    return self;
}

shic_val_t *
shic_truthfulness_check (const shic_val_t *spec, const shic_val_t *plan,
                         const shic_val_t *manifest)
{
    shic_val_t *actual = shic_val_get (plan, "startup_kind");
    shic_val_t *mode = shic_val_get (plan, "management_mode");
    shic_val_t *transport = shic_val_get (plan, "transport");
    bool has_transport = !shic_schema_absent (transport);
    shic_val_t *backend = shic_val_get (manifest, "backend");
    shic_val_t *plan_backend = shic_val_get (plan, "backend");
    if (shic_schema_absent (plan_backend))
        plan_backend = backend;
    shic_val_t *reason = NULL;

    shic_val_t *requested = shic_val_get (spec, "startup_kind");
    if (!shic_schema_absent (requested) && !shic_val_equal (requested, actual)) {
        reason = s_reason_new ("requested_startup_kind_mismatch");
        s_push_dup (reason, requested);
        s_push_dup (reason, actual);
        return reason;
    }
    shic_val_t *declared = shic_val_get (manifest, "startup_kind");
    if (!shic_schema_absent (declared) && !shic_val_equal (declared, actual)) {
        reason = s_reason_new ("manifest_startup_kind_mismatch");
        s_push_dup (reason, backend);
        s_push_dup (reason, declared);
        s_push_dup (reason, actual);
        return reason;
    }
    const char *kind = shic_val_str (actual);
    if (!shic_startup_pair_legal (kind, shic_val_str (mode))) {
        reason = s_reason_new ("management_mode_mismatch");
        s_push_dup (reason, actual);
        s_push_dup (reason, mode);
        return reason;
    }
    if (streq (kind, SHIC_STARTUP_SPAWNED) && !has_transport) {
        reason = s_reason_new ("spawned_requires_transport");
        s_push_dup (reason, plan_backend);
        return reason;
    }
    if (streq (kind, SHIC_STARTUP_ATTACHED) && has_transport) {
        reason = s_reason_new ("attached_must_not_spawn");
        s_push_dup (reason, plan_backend);
        return reason;
    }
    const char *surface_kind = has_transport
        ? s_surface_kind (shic_val_get (transport, "execution_surface"))
        : s_surface_kind (shic_val_get (spec, "execution_surface"));
    shic_val_t *supported = shic_val_get (manifest, "supported_surfaces");
    if (!shic_val_contains_str (supported, surface_kind)) {
        reason = s_reason_new ("unsupported_execution_surface");
        s_push_dup (reason, backend);
        s_push_str (reason, surface_kind);
        if (supported)
            s_push_dup (reason, supported);
        else {
            shic_val_t *empty = shic_val_new_array ();
            assert (empty);
            shic_val_push (reason, &empty);
        }
        return reason;
    }
    shic_val_t *modes = shic_val_get (manifest, "management_modes");
    if (!shic_val_contains (modes, mode)) {
        reason = s_reason_new ("manifest_management_mode_mismatch");
        s_push_dup (reason, backend);
        if (modes)
            s_push_dup (reason, modes);
        else {
            shic_val_t *empty = shic_val_new_array ();
            assert (empty);
            shic_val_push (reason, &empty);
        }
        s_push_dup (reason, mode);
        return reason;
    }
    return NULL;
}


//  ---------------------------------------------------------------------------
//  Instance keys

//  base64url without padding of size bytes into text (room for
//  4 * ceil (size / 3) + 1 characters)
static void
s_base64url (const uint8_t *data, size_t size, char *text)
{
    static const char alphabet [] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t out = 0;
    for (size_t index = 0; index < size; index += 3) {
        uint32_t group = (uint32_t) data [index] << 16;
        if (index + 1 < size)
            group |= (uint32_t) data [index + 1] << 8;
        if (index + 2 < size)
            group |= data [index + 2];
        text [out++] = alphabet [(group >> 18) & 63];
        text [out++] = alphabet [(group >> 12) & 63];
        if (index + 1 < size)
            text [out++] = alphabet [(group >> 6) & 63];
        if (index + 2 < size)
            text [out++] = alphabet [group & 63];
    }
    text [out] = 0;
}

char *
shic_instance_key (const char *backend, const char *prefix,
                   const shic_val_t *identity)
{
    shic_val_t *nil = NULL;
    if (!identity)
        identity = nil = shic_val_new_nil ();
    void *data = NULL;
    size_t size = 0;
    int rc = shic_val_encode_canonical (identity, &data, &size);
    shic_val_destroy (&nil);
    if (rc != 0)
        return NULL;
    uint8_t digest [32];
    shic_sha256 (data, size, digest);
    free (data);
    char hash [48];
    s_base64url (digest, sizeof (digest), hash);

    if (!backend)
        backend = "";
    bool with_prefix = prefix && *prefix;
    size_t length = strlen (backend) + 1 + strlen (hash) + 1
                  + (with_prefix? strlen (prefix) + 1: 0);
    char *key = (char *) malloc (length);
    if (!key)
        return NULL;
    if (with_prefix)
        snprintf (key, length, "%s:%s:%s", backend, prefix, hash);
    else
        snprintf (key, length, "%s:%s", backend, hash);
    return key;
}
