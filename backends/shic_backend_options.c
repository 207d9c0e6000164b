/*  =========================================================================
    shic_backend_options - the options policy of the generic backends
    =========================================================================
*/

#include "shic_backend_options.h"
#include <errno.h>

static const char *s_timings [] = {
    "ready_timeout_ms", "readiness_interval_ms", "health_interval_ms",
    "idle_shutdown_ms", "stop_timeout_ms", NULL
};

static bool
s_is_timing (const char *key)
{
    for (int i = 0; s_timings [i]; i++)
        if (streq (key, s_timings [i]))
            return true;
    return false;
}

int64_t
shic_backend_timing_min (const char *key)
{
    return streq (key, "ready_timeout_ms") || streq (key, "readiness_interval_ms")? 1: 0;
}

int64_t
shic_backend_timing_max (const char *key)
{
    return streq (key, "stop_timeout_ms")? SHIC_STOP_TIMEOUT_MAX_MS: SHIC_DURATION_MAX_MS;
}

//  True when value is an integer in key's range
static bool
s_timing_valid (const char *key, const shic_val_t *value)
{
    return shic_val_type (value) == SHIC_VAL_INT
        && shic_val_int (value) >= shic_backend_timing_min (key)
        && shic_val_int (value) <= shic_backend_timing_max (key);
}

bool
shic_backend_options_check (const shic_val_t *options, const char *backend, bool trusted,
                            const char **model_p, shic_error_t *err)
{
    for (size_t i = 0; i < shic_val_size (options); i++) {
        const char *key = shic_val_key_at (options, i);
        const shic_val_t *value = shic_val_at (options, i);
        if (streq (key, "model_identity") || shic_val_type (value) == SHIC_VAL_NIL)
            continue;
        if (!trusted) {
            shic_error_set_field (err, SHIC_E_FORBIDDEN, key,
                                  "%s: network clients may only name a model, not '%s'",
                                  backend, key);
            return false;
        }
        if (!s_is_timing (key)) {
            shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, key,
                                  "%s has no option '%s'", backend, key);
            return false;
        }
        if (!s_timing_valid (key, value)) {
            shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, key,
                                  "%s must be an integer from %lld to %lld", key,
                                  (long long) shic_backend_timing_min (key),
                                  (long long) shic_backend_timing_max (key));
            return false;
        }
    }
    const shic_val_t *model = shic_val_get (options, "model_identity");
    if (model && shic_val_type (model) != SHIC_VAL_STR && shic_val_type (model) != SHIC_VAL_NIL) {
        shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, "model_identity",
                              "model_identity must be a string");
        return false;
    }
    *model_p = shic_val_str (model);
    if (*model_p && !**model_p)
        *model_p = NULL;
    return true;
}

void
shic_backend_options_timings (const shic_val_t *options, shic_val_t *plan)
{
    for (size_t i = 0; i < shic_val_size (options); i++)
        if (s_is_timing (shic_val_key_at (options, i)))
            shic_val_set_dup (plan, shic_val_key_at (options, i), shic_val_at (options, i));
}

int
shic_backend_config_error (shic_error_t *err, const char *section, const char *key,
                           const char *reason)
{
    char *field = zsys_sprintf ("backends/%s/%s", section, key);
    shic_error_set_field (err, SHIC_E_INVALID_ARGS, field, "backends/%s: %s", section, reason);
    zstr_free (&field);
    return -1;
}

int
shic_backend_config_timings (zconfig_t *config, const char *section, shic_error_t *err)
{
    for (int i = 0; s_timings [i]; i++) {
        const char *text = config? zconfig_get (config, s_timings [i], NULL): NULL;
        if (!text)
            continue;
        char *end = NULL;
        errno = 0;
        long long number = strtoll (text, &end, 10);
        int64_t min = shic_backend_timing_min (s_timings [i]);
        int64_t max = shic_backend_timing_max (s_timings [i]);
        if (!*text || *end || errno || number < min || number > max) {
            char *reason = zsys_sprintf ("%s must be a whole number from %lld to %lld, not '%s'",
                                         s_timings [i], (long long) min, (long long) max, text);
            shic_backend_config_error (err, section, s_timings [i], reason);
            zstr_free (&reason);
            return -1;
        }
    }
    return 0;
}

int
shic_backend_config_capabilities (zconfig_t *config, const char *section,
                                  shic_val_t *capabilities, shic_error_t *err)
{
    zconfig_t *caps = zconfig_locate (config, "capabilities");
    for (zconfig_t *child = caps? zconfig_child (caps): NULL; child; child = zconfig_next (child)) {
        const char *value = zconfig_value (child)? zconfig_value (child): "";
        char *key = zsys_sprintf ("%s?", zconfig_name (child));
        bool known = streq (value, "true") || streq (value, "false") || streq (value, SHIC_CAP_UNKNOWN);
        if (streq (value, SHIC_CAP_UNKNOWN))
            shic_val_set_str (capabilities, key, SHIC_CAP_UNKNOWN);
        else
        if (known)
            shic_val_set_bool (capabilities, key, streq (value, "true"));
        zstr_free (&key);
        if (!known)
            return shic_backend_config_error (err, section, "capabilities",
                                              "capabilities are true, false or unknown");
    }
    return 0;
}

int
shic_backend_config_resources (zconfig_t *config, const char *section,
                               shic_val_t **resources_p, shic_error_t *err)
{
    *resources_p = NULL;
    const char *needs = zconfig_get (config, "needs", NULL);
    if (!needs)
        return 0;
    //  The size itself is read by placement (shic_pools_parse_size), which
    //  says at ensure time what is wrong with it; here, a number first
    if (!isdigit ((unsigned char) *needs) || strlen (needs) > 32)
        return shic_backend_config_error (err, section, "needs",
                                          "needs is a size: bytes, or a number with a unit "
                                          "(\"6GiB\")");
    const char *device = zconfig_get (config, "device", "ram");
    for (const char *c = device; *c; c++)
        if (!isalnum ((unsigned char) *c) && *c != '_')
            return shic_backend_config_error (err, section, "device",
                                              "device names a memory pool (\"gpu0\", \"ram\")");
    const char *priority = zconfig_get (config, "priority", "0");
    char *end = NULL;
    long long number = strtoll (priority, &end, 10);
    if (!*priority || *end || number < -1000 || number > 1000)
        return shic_backend_config_error (err, section, "priority",
                                          "priority is a whole number from -1000 to 1000");
    const char *pinned = zconfig_get (config, "pinned", "false");
    if (!streq (pinned, "true") && !streq (pinned, "false"))
        return shic_backend_config_error (err, section, "pinned", "pinned is true or false");
    shic_val_t *resources = shic_val_new_map ();
    shic_val_set_str (resources, "pool", device);
    shic_val_set_str (resources, "needs", needs);
    shic_val_set_int (resources, "priority", number);
    shic_val_set_bool (resources, "pinned", streq (pinned, "true"));
    *resources_p = resources;
    return 0;
}
