/*  =========================================================================
    shic_backend_options - the options policy of the generic backends
    =========================================================================
*/

#include "shic_backend_options.h"

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
        if (!s_is_timing (key) || shic_val_type (value) != SHIC_VAL_INT || shic_val_int (value) < 0) {
            shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, key,
                                  "%s has no option '%s' of that type", backend, key);
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
