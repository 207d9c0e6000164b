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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>
#include "shic_contract.h"
#include "shic_sha256.h"

//  ---------------------------------------------------------------------------
//  Error helpers: err may be NULL, and every error carries {field}

static void
s_fail (shic_error_t *err, const char *code, const char *field,
        const char *format, ...) __attribute__ ((format (printf, 4, 5)));

static void
s_fail (shic_error_t *err, const char *code, const char *field,
        const char *format, ...)
{
    if (!err)
        return;
    char message [256];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof (message), format, args);
    va_end (args);
    shic_error_set_field (err, code, field, "%s", message);
}

//  True when the value is absent or nil
static bool
s_absent (const shic_val_t *value)
{
    return value == NULL || shic_val_is (value, SHIC_VAL_NIL);
}

//  Builds "prefix.name", or just name when prefix is NULL, into buffer
static const char *
s_field_name (char *buffer, size_t size, const char *prefix, const char *name)
{
    if (prefix)
        snprintf (buffer, size, "%s.%s", prefix, name);
    else
        snprintf (buffer, size, "%s", name);
    return buffer;
}

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
//  Field copiers for the normalizers. Each reads field `name` of `in`,
//  checks its type, writes it or its default into `out`, and returns 0, or
//  -1 with err set to code {field: prefix.name}.

//  String; dflt NULL means nil; required means absent is an error
static int
s_take_str (shic_val_t *out, const shic_val_t *in, const char *name,
            const char *dflt, bool required, bool non_empty,
            const char *code, const char *prefix, shic_error_t *err)
{
    char field [128];
    shic_val_t *value = shic_val_get (in, name);
    if (s_absent (value)) {
        if (required) {
            s_fail (err, code, s_field_name (field, sizeof (field), prefix, name),
                    "field %s is required", field);
            return -1;
        }
        s_set_str_or_nil (out, name, dflt);
        return 0;
    }
    if (!shic_val_is (value, SHIC_VAL_STR)
    ||  (non_empty && *shic_val_str (value) == 0)) {
        s_fail (err, code, s_field_name (field, sizeof (field), prefix, name),
                "field %s must be a%s string, not %s", field,
                non_empty? " non-empty": "", shic_val_type_name (value));
        return -1;
    }
    s_set (out, name, shic_val_dup (value));
    return 0;
}

//  Array of strings; dflt_item NULL means an empty array by default
static int
s_take_strs (shic_val_t *out, const shic_val_t *in, const char *name,
             const char *dflt_item, const char *code, const char *prefix,
             shic_error_t *err)
{
    char field [128];
    shic_val_t *value = shic_val_get (in, name);
    if (s_absent (value)) {
        shic_val_t *array = shic_val_new_array ();
        assert (array);
        if (dflt_item)
            s_push_str (array, dflt_item);
        s_set (out, name, array);
        return 0;
    }
    bool valid = shic_val_is (value, SHIC_VAL_ARRAY);
    for (size_t index = 0; valid && index < shic_val_size (value); index++)
        if (!shic_val_is (shic_val_at (value, index), SHIC_VAL_STR))
            valid = false;
    if (!valid) {
        s_fail (err, code, s_field_name (field, sizeof (field), prefix, name),
                "field %s must be an array of strings", field);
        return -1;
    }
    s_set (out, name, shic_val_dup (value));
    return 0;
}

//  Map, {} by default; string_values requires every value to be a string
static int
s_take_map (shic_val_t *out, const shic_val_t *in, const char *name,
            bool string_values, const char *code, const char *prefix,
            shic_error_t *err)
{
    char field [128];
    shic_val_t *value = shic_val_get (in, name);
    if (s_absent (value)) {
        s_set (out, name, shic_val_new_map ());
        return 0;
    }
    bool valid = shic_val_is (value, SHIC_VAL_MAP);
    for (size_t index = 0; valid && string_values && index < shic_val_size (value); index++)
        if (!shic_val_is (shic_val_at (value, index), SHIC_VAL_STR))
            valid = false;
    if (!valid) {
        s_fail (err, code, s_field_name (field, sizeof (field), prefix, name),
                "field %s must be a map%s", field,
                string_values? " of strings": "");
        return -1;
    }
    s_set (out, name, shic_val_dup (value));
    return 0;
}

//  True when value is a legal execution surface: nil, a string or a map
static bool
s_surface_valid (const shic_val_t *value)
{
    return s_absent (value)
        || shic_val_is (value, SHIC_VAL_STR)
        || shic_val_is (value, SHIC_VAL_MAP);
}

//  Execution surface: nil, string or map; nil by default
static int
s_take_surface (shic_val_t *out, const shic_val_t *in, const char *name,
                const char *code, const char *prefix, shic_error_t *err)
{
    char field [128];
    shic_val_t *value = shic_val_get (in, name);
    if (!s_surface_valid (value)) {
        s_fail (err, code, s_field_name (field, sizeof (field), prefix, name),
                "field %s must be nil, a string or a map", field);
        return -1;
    }
    s_set (out, name, value? shic_val_dup (value): shic_val_new_nil ());
    return 0;
}

//  Duration in milliseconds: int >= 0, or > 0 when positive
static int
s_take_duration (shic_val_t *out, const shic_val_t *in, const char *name,
                 int64_t dflt, bool positive, const char *code,
                 shic_error_t *err)
{
    shic_val_t *value = shic_val_get (in, name);
    if (s_absent (value)) {
        s_set (out, name, shic_val_new_int (dflt));
        return 0;
    }
    if (!shic_val_is (value, SHIC_VAL_INT)
    ||  shic_val_int (value) < 0
    ||  (positive && shic_val_int (value) == 0)) {
        s_fail (err, code, name, "field %s must be an integer %s 0",
                name, positive? ">": ">=");
        return -1;
    }
    s_set (out, name, shic_val_new_int (shic_val_int (value)));
    return 0;
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
//  BackendManifest; every error is "internal"

shic_val_t *
shic_backend_manifest_normalize (const shic_val_t *in, shic_error_t *err)
{
    const char *code = SHIC_E_INTERNAL;
    if (in && !shic_val_is (in, SHIC_VAL_MAP)) {
        s_fail (err, code, "manifest", "backend manifest must be a map, not %s",
                shic_val_type_name (in));
        return NULL;
    }
    shic_val_t *out = shic_val_new_map ();
    assert (out);
    shic_val_set_str (out, "contract_version", SHIC_CONTRACT_VERSION);
    if (s_take_str (out, in, "backend", NULL, true, true, code, NULL, err)
    ||  s_take_str (out, in, "runtime_kind", SHIC_RUNTIME_SERVICE, false, false, code, NULL, err)
    ||  s_take_strs (out, in, "management_modes", NULL, code, NULL, err)
    ||  s_take_str (out, in, "startup_kind", NULL, false, false, code, NULL, err)
    ||  s_take_strs (out, in, "protocols", SHIC_PROTOCOL_OPENAI_CHAT, code, NULL, err)
    ||  s_take_map (out, in, "capabilities", false, code, NULL, err)
    ||  s_take_strs (out, in, "supported_surfaces", NULL, code, NULL, err)
    ||  s_take_map (out, in, "resource_profile", false, code, NULL, err)
    ||  s_take_map (out, in, "metadata", false, code, NULL, err))
        shic_val_destroy (&out);
    return out;
}


//  ---------------------------------------------------------------------------
//  ConsumerManifest; every error is "invalid_consumer_manifest"

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

shic_val_t *
shic_consumer_manifest_normalize (const shic_val_t *in, shic_error_t *err)
{
    const char *code = SHIC_E_INVALID_CONSUMER_MANIFEST;
    if (in && !shic_val_is (in, SHIC_VAL_MAP)) {
        s_fail (err, code, "consumer", "consumer manifest must be a map, not %s",
                shic_val_type_name (in));
        return NULL;
    }
    shic_val_t *out = shic_val_new_map ();
    assert (out);
    shic_val_set_str (out, "contract_version", SHIC_CONTRACT_VERSION);
    if (s_take_str (out, in, "consumer", NULL, false, false, code, NULL, err)
    ||  s_take_strs (out, in, "accepted_runtime_kinds", SHIC_RUNTIME_SERVICE, code, NULL, err)
    ||  s_take_strs (out, in, "accepted_management_modes", NULL, code, NULL, err)
    ||  s_take_strs (out, in, "accepted_protocols", SHIC_PROTOCOL_OPENAI_CHAT, code, NULL, err)
    ||  s_take_map (out, in, "required_capabilities", false, code, NULL, err)
    ||  s_take_map (out, in, "optional_capabilities", false, code, NULL, err)
    ||  s_take_map (out, in, "constraints", false, code, NULL, err)
    ||  s_take_map (out, in, "metadata", false, code, NULL, err)) {
        shic_val_destroy (&out);
        return NULL;
    }
    shic_val_t *startup_kind = shic_val_path (out, "constraints/startup_kind");
    if (!s_absent (startup_kind) && !shic_val_is (startup_kind, SHIC_VAL_STR)) {
        s_fail (err, code, "constraints.startup_kind",
                "field constraints.startup_kind must be a string, not %s",
                shic_val_type_name (startup_kind));
        shic_val_destroy (&out);
    }
    return out;
}


//  ---------------------------------------------------------------------------
//  InstanceSpec; type errors are "invalid_args", a bad kind is
//  "invalid_startup_kind"

shic_val_t *
shic_instance_spec_normalize (const shic_val_t *in, shic_error_t *err)
{
    const char *code = SHIC_E_INVALID_ARGS;
    if (in && !shic_val_is (in, SHIC_VAL_MAP)) {
        s_fail (err, code, "spec", "instance spec must be a map, not %s",
                shic_val_type_name (in));
        return NULL;
    }
    shic_val_t *startup_kind = shic_val_get (in, "startup_kind");
    if (!s_absent (startup_kind)
    &&  !shic_startup_kind_valid (shic_val_str (startup_kind))) {
        s_fail (err, SHIC_E_INVALID_STARTUP_KIND, "startup_kind",
                "startup_kind must be \"spawned\" or \"attach_existing_service\"");
        return NULL;
    }
    shic_val_t *out = shic_val_new_map ();
    assert (out);
    shic_val_set_str (out, "contract_version", SHIC_CONTRACT_VERSION);
    if (s_take_str (out, in, "backend", NULL, true, false, code, NULL, err)
    ||  s_take_str (out, in, "startup_kind", NULL, false, false, code, NULL, err)
    ||  s_take_surface (out, in, "execution_surface", code, NULL, err)
    ||  s_take_map (out, in, "backend_options", false, code, NULL, err)
    ||  s_take_map (out, in, "metadata", false, code, NULL, err))
        shic_val_destroy (&out);
    return out;
}


//  ---------------------------------------------------------------------------
//  StartupPlan; every error is "internal"

static shic_val_t *
s_transport_normalize (const shic_val_t *in, shic_error_t *err)
{
    const char *code = SHIC_E_INTERNAL;
    if (!shic_val_is (in, SHIC_VAL_MAP)) {
        s_fail (err, code, "transport", "field transport must be nil or a map, not %s",
                shic_val_type_name (in));
        return NULL;
    }
    shic_val_t *argv = shic_val_get (in, "argv");
    if (!shic_val_is (argv, SHIC_VAL_ARRAY) || shic_val_size (argv) == 0) {
        s_fail (err, code, "transport.argv",
                "field transport.argv must be a non-empty array of strings");
        return NULL;
    }
    shic_val_t *out = shic_val_new_map ();
    assert (out);
    if (s_take_strs (out, in, "argv", NULL, code, "transport", err)
    ||  s_take_map (out, in, "env", true, code, "transport", err)
    ||  s_take_str (out, in, "cwd", NULL, false, false, code, "transport", err)
    ||  s_take_str (out, in, "ready_pattern", NULL, false, false, code, "transport", err)
    ||  s_take_surface (out, in, "execution_surface", code, "transport", err))
        shic_val_destroy (&out);
    //  stop_signal: the signal a stop sends first (default SIGTERM)
    const shic_val_t *signal = shic_val_get (in, "stop_signal");
    if (out && signal && shic_val_type (signal) != SHIC_VAL_NIL) {
        if (shic_val_type (signal) != SHIC_VAL_INT || shic_val_int (signal) < 1
        ||  shic_val_int (signal) > 64) {
            s_fail (err, code, "transport.stop_signal",
                    "field transport.stop_signal must be a signal number");
            shic_val_destroy (&out);
        }
        else
            shic_val_set_int (out, "stop_signal", shic_val_int (signal));
    }
    return out;
}

shic_val_t *
shic_startup_plan_normalize (const shic_val_t *in, shic_error_t *err)
{
    const char *code = SHIC_E_INTERNAL;
    if (in && !shic_val_is (in, SHIC_VAL_MAP)) {
        s_fail (err, code, "plan", "startup plan must be a map, not %s",
                shic_val_type_name (in));
        return NULL;
    }
    shic_val_t *out = shic_val_new_map ();
    assert (out);
    shic_val_set_str (out, "contract_version", SHIC_CONTRACT_VERSION);
    if (s_take_str (out, in, "instance_key", NULL, true, true, code, NULL, err)
    ||  s_take_str (out, in, "backend", NULL, false, false, code, NULL, err)
    ||  s_take_str (out, in, "startup_kind", NULL, false, false, code, NULL, err)
    ||  s_take_str (out, in, "management_mode", NULL, false, false, code, NULL, err))
        goto failed;

    shic_val_t *transport = shic_val_get (in, "transport");
    if (s_absent (transport))
        s_set (out, "transport", shic_val_new_nil ());
    else {
        shic_val_t *normal = s_transport_normalize (transport, err);
        if (!normal)
            goto failed;
        s_set (out, "transport", normal);
    }
    if (s_take_duration (out, in, "ready_timeout_ms",
                         SHIC_DEFAULT_READY_TIMEOUT_MS, true, code, err)
    ||  s_take_duration (out, in, "readiness_interval_ms",
                         SHIC_DEFAULT_READINESS_INTERVAL_MS, true, code, err)
    ||  s_take_duration (out, in, "health_interval_ms",
                         SHIC_DEFAULT_HEALTH_INTERVAL_MS, false, code, err)
    ||  s_take_duration (out, in, "idle_shutdown_ms",
                         SHIC_DEFAULT_IDLE_SHUTDOWN_MS, false, code, err)
    ||  s_take_duration (out, in, "stop_timeout_ms",
                         SHIC_DEFAULT_STOP_TIMEOUT_MS, false, code, err)
    ||  s_take_map (out, in, "endpoint_template", false, code, NULL, err)
    ||  s_take_map (out, in, "metadata", false, code, NULL, err))
        goto failed;
    return out;

failed:
    shic_val_destroy (&out);
    return NULL;
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
    if (s_absent (value))
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
        s_fail (err, code, "base_url", "base_url missing");
        goto failed;
    }
    shic_val_t *protocol = shic_val_get (merged, "protocol");
    if (!s_absent (protocol) && !shic_val_is (protocol, SHIC_VAL_STR)) {
        s_fail (err, code, "protocol", "endpoint protocol must be a string, not %s",
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
    if (s_absent (protocol))
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
    if (s_take_map (out, merged, "headers", true, code, NULL, err)
    ||  s_take_map (out, merged, "capabilities", false, code, NULL, err)
    ||  s_take_map (out, merged, "metadata", false, code, NULL, err))
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
    if (!s_absent (wanted_kind)
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
        s_fail (err, SHIC_E_INVALID_REQUEST, "request",
                "request must be a map, not %s", shic_val_type_name (request));
        return NULL;
    }
    if (!s_absent (context) && !shic_val_is (context, SHIC_VAL_MAP)) {
        s_fail (err, SHIC_E_INVALID_ARGS, "context",
                "context must be a map or nil, not %s", shic_val_type_name (context));
        return NULL;
    }
    shic_val_t *target = shic_val_get (request, "target_preference");
    if (s_absent (target)) {
        s_fail (err, SHIC_E_MISSING_REQUEST_FIELD, "request.target_preference",
                "request.target_preference is required");
        return NULL;
    }
    if (!shic_val_is (target, SHIC_VAL_MAP)) {
        s_fail (err, SHIC_E_INVALID_TARGET_PREFERENCE, "request.target_preference",
                "request.target_preference must be a map, not %s",
                shic_val_type_name (target));
        return NULL;
    }
    shic_val_t *backend = shic_val_get (target, "backend");
    if (s_absent (backend)) {
        s_fail (err, SHIC_E_MISSING_TARGET_PREFERENCE, "request.target_preference.backend",
                "request.target_preference.backend is required");
        return NULL;
    }
    if (!shic_val_is (backend, SHIC_VAL_STR)) {
        s_fail (err, SHIC_E_INVALID_ARGS, "request.target_preference.backend",
                "request.target_preference.backend must be a string, not %s",
                shic_val_type_name (backend));
        return NULL;
    }
    shic_val_t *startup_kind = shic_val_get (target, "startup_kind");
    if (!s_absent (startup_kind)
    &&  !shic_startup_kind_valid (shic_val_str (startup_kind))) {
        s_fail (err, SHIC_E_INVALID_STARTUP_KIND, "request.target_preference.startup_kind",
                "startup_kind must be \"spawned\" or \"attach_existing_service\"");
        return NULL;
    }
    shic_val_t *surface = shic_val_get (target, "execution_surface");
    if (!s_surface_valid (surface)) {
        s_fail (err, SHIC_E_INVALID_ARGS, "request.target_preference.execution_surface",
                "request.target_preference.execution_surface must be nil, a string or a map");
        return NULL;
    }
    shic_val_t *spec = shic_val_new_map ();
    assert (spec);
    shic_val_set_dup (spec, "backend", backend);
    shic_val_set_dup (spec, "startup_kind", startup_kind);
    shic_val_set_dup (spec, "execution_surface", surface);
    if (s_take_map (spec, target, "metadata", false, SHIC_E_INVALID_ARGS,
                    "request.target_preference", err)
    ||  s_take_map (spec, target, "backend_options", false, SHIC_E_INVALID_ARGS,
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
        if (!s_absent (overlay [index].value))
            shic_val_set_dup (metadata, overlay [index].key, overlay [index].value);

    //  Backend options: boot_spec folded in, model_identity derived
    shic_val_t *options = shic_val_get (spec, "backend_options");
    shic_val_t *boot_spec = shic_val_get (target, "boot_spec");
    if (!s_absent (boot_spec) && !shic_val_get (options, "boot_spec"))
        shic_val_set_dup (options, "boot_spec", boot_spec);
    if (!shic_val_get (options, "model_identity")) {
        shic_val_t *model = shic_val_path (request, "model_preference/id");
        if (s_absent (model))
            model = shic_val_path (request, "model_preference/model");
        if (!s_absent (model))
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
    bool has_transport = !s_absent (transport);
    shic_val_t *backend = shic_val_get (manifest, "backend");
    shic_val_t *plan_backend = shic_val_get (plan, "backend");
    if (s_absent (plan_backend))
        plan_backend = backend;
    shic_val_t *reason = NULL;

    shic_val_t *requested = shic_val_get (spec, "startup_kind");
    if (!s_absent (requested) && !shic_val_equal (requested, actual)) {
        reason = s_reason_new ("requested_startup_kind_mismatch");
        s_push_dup (reason, requested);
        s_push_dup (reason, actual);
        return reason;
    }
    shic_val_t *declared = shic_val_get (manifest, "startup_kind");
    if (!s_absent (declared) && !shic_val_equal (declared, actual)) {
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
