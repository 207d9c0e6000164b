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

#include "shic_contract.h"
#include "shic_json.h"

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
//  SHA-256, FIPS 180-4

static const uint32_t s_sha256_k [64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};

static uint32_t
s_rotr (uint32_t value, int bits)
{
    return (value >> bits) | (value << (32 - bits));
}

//  Compresses one 64-byte block into state
static void
s_sha256_block (uint32_t state [8], const uint8_t *block)
{
    uint32_t w [64];
    for (int index = 0; index < 16; index++)
        w [index] = (uint32_t) block [index * 4] << 24
                  | (uint32_t) block [index * 4 + 1] << 16
                  | (uint32_t) block [index * 4 + 2] << 8
                  | (uint32_t) block [index * 4 + 3];
    for (int index = 16; index < 64; index++) {
        uint32_t s0 = s_rotr (w [index - 15], 7) ^ s_rotr (w [index - 15], 18)
                    ^ (w [index - 15] >> 3);
        uint32_t s1 = s_rotr (w [index - 2], 17) ^ s_rotr (w [index - 2], 19)
                    ^ (w [index - 2] >> 10);
        w [index] = w [index - 16] + s0 + w [index - 7] + s1;
    }
    uint32_t a = state [0], b = state [1], c = state [2], d = state [3];
    uint32_t e = state [4], f = state [5], g = state [6], h = state [7];
    for (int index = 0; index < 64; index++) {
        uint32_t sum1 = s_rotr (e, 6) ^ s_rotr (e, 11) ^ s_rotr (e, 25);
        uint32_t choose = (e & f) ^ (~e & g);
        uint32_t temp1 = h + sum1 + choose + s_sha256_k [index] + w [index];
        uint32_t sum0 = s_rotr (a, 2) ^ s_rotr (a, 13) ^ s_rotr (a, 22);
        uint32_t majority = (a & b) ^ (a & c) ^ (b & c);
        uint32_t temp2 = sum0 + majority;
        h = g;
        g = f;
        f = e;
        e = d + temp1;
        d = c;
        c = b;
        b = a;
        a = temp1 + temp2;
    }
    state [0] += a; state [1] += b; state [2] += c; state [3] += d;
    state [4] += e; state [5] += f; state [6] += g; state [7] += h;
}

void
shic_sha256 (const void *data, size_t size, uint8_t digest [32])
{
    uint32_t state [8] = {
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
    };
    const uint8_t *bytes = (const uint8_t *) data;
    size_t left = size;
    while (left >= 64) {
        s_sha256_block (state, bytes);
        bytes += 64;
        left -= 64;
    }
    //  Padding: 0x80, zeros, then the length in bits, big-endian
    uint8_t tail [128];
    memset (tail, 0, sizeof (tail));
    if (left)
        memcpy (tail, bytes, left);
    tail [left] = 0x80;
    size_t tail_size = left < 56? 64: 128;
    uint64_t bits = (uint64_t) size * 8;
    for (int index = 0; index < 8; index++)
        tail [tail_size - 1 - index] = (uint8_t) (bits >> (8 * index));
    s_sha256_block (state, tail);
    if (tail_size == 128)
        s_sha256_block (state, tail + 64);
    for (int index = 0; index < 8; index++) {
        digest [index * 4] = (uint8_t) (state [index] >> 24);
        digest [index * 4 + 1] = (uint8_t) (state [index] >> 16);
        digest [index * 4 + 2] = (uint8_t) (state [index] >> 8);
        digest [index * 4 + 3] = (uint8_t) state [index];
    }
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


//  ---------------------------------------------------------------------------
//  Self test

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

static void
s_expect_sha256 (const char *input, size_t size, const char *hex)
{
    uint8_t digest [32];
    shic_sha256 (input, size, digest);
    char text [65];
    for (int index = 0; index < 32; index++)
        snprintf (text + index * 2, 3, "%02x", digest [index]);
    if (!streq (text, hex)) {
        fprintf (stderr, "shic_contract_test: sha256 expected %s\n    got %s\n", hex, text);
        assert (false);
    }
}

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

    //  SHA-256 vectors (FIPS 180-4 examples, one and two padding blocks)
    if (verbose)
        printf ("   sha256\n");
    s_expect_sha256 ("", 0,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    s_expect_sha256 ("abc", 3,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    s_expect_sha256 ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    {
        //  Multi-block input: one million times 'a'
        size_t size = 1000000;
        char *million = (char *) malloc (size);
        assert (million);
        memset (million, 'a', size);
        s_expect_sha256 (million, size,
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
        free (million);
    }

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
        "\"stop_timeout_ms\":5000,\"endpoint_template\":{},\"metadata\":{}}");
    s_expect_normalize (shic_startup_plan_normalize,
        "{\"instance_key\":\"k\",\"backend\":\"llama\",\"startup_kind\":\"spawned\","
        "\"management_mode\":\"jido_managed\",\"transport\":{\"argv\":[\"llama-server\","
        "\"--port\",\"0\"],\"junk\":1},\"ready_timeout_ms\":5,\"readiness_interval_ms\":1,"
        "\"health_interval_ms\":0,\"idle_shutdown_ms\":0,\"stop_timeout_ms\":0,"
        "\"endpoint_template\":{\"base_url\":\"http://x/v1\"},\"metadata\":{\"m\":1}}",
        "{\"contract_version\":\"inference.v1\",\"instance_key\":\"k\","
        "\"backend\":\"llama\",\"startup_kind\":\"spawned\","
        "\"management_mode\":\"jido_managed\",\"transport\":{\"argv\":[\"llama-server\","
        "\"--port\",\"0\"],\"env\":{},\"cwd\":null,\"ready_pattern\":null,"
        "\"execution_surface\":null},\"ready_timeout_ms\":5,\"readiness_interval_ms\":1,"
        "\"health_interval_ms\":0,\"idle_shutdown_ms\":0,\"stop_timeout_ms\":0,"
        "\"endpoint_template\":{\"base_url\":\"http://x/v1\"},\"metadata\":{\"m\":1}}");
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
        "\"stop_timeout_ms\":5000,\"endpoint_template\":{},\"metadata\":{}}");
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
