/*  =========================================================================
    shic_backend_options - the options policy of the generic backends

    A network client may name a model (model_identity) and nothing else;
    the trusted embedding host may also set the plan's timing keys. Also
    the configuration helpers of those backends. Shared by the command and
    openai_compat backends.
    =========================================================================
*/

#ifndef SHIC_BACKEND_OPTIONS_H_INCLUDED
#define SHIC_BACKEND_OPTIONS_H_INCLUDED

#include "shic.h"

//  Checks a spec's backend_options against the policy. Returns true and
//  sets *model_p (borrowed; NULL when absent or empty), or false with err
//  set: forbidden {field} for a network client's option other than
//  model_identity, invalid_backend_options {field} for an unknown option,
//  a timing that is not an integer in its range, or a model that is not a
//  string.
bool shic_backend_options_check (const shic_val_t *options, const char *backend, bool trusted,
                                 const char **model_p, shic_error_t *err);

//  The range of a plan timing key (ready_timeout_ms and
//  readiness_interval_ms 1 .. 2^40, health_interval_ms and idle_shutdown_ms
//  0 .. 2^40, stop_timeout_ms 0 .. 2^31-1), in milliseconds
int64_t shic_backend_timing_min (const char *key);
int64_t shic_backend_timing_max (const char *key);

//  Checks the timing keys of a backend's configuration section (the kernel
//  applies them to every plan): each a whole number in its range. Returns
//  0, or -1 with err set (shic_backend_config_error).
int shic_backend_config_timings (zconfig_t *config, const char *section, shic_error_t *err);

//  Copies the timing keys present in options into plan
void shic_backend_options_timings (const shic_val_t *options, shic_val_t *plan);

//  Sets err to an invalid_args error whose details.field is
//  backends/<section>/<key> and whose message starts "backends/<section>: ".
//  Returns -1.
int shic_backend_config_error (shic_error_t *err, const char *section, const char *key,
                               const char *reason);

//  Reads capabilities/<name> = true | false | unknown from a backend's
//  configuration into capabilities as "<name>?" keys. Returns 0, or -1
//  with err set (shic_backend_config_error) for any other value.
int shic_backend_config_capabilities (zconfig_t *config, const char *section,
                                      shic_val_t *capabilities, shic_error_t *err);

//  Reads a backend's placement keys: needs (bytes, or a size like "6GiB"),
//  device (the memory pool, default "ram"), priority (-1000 .. 1000) and
//  pinned (true | false). Sets *resources_p to the plan's resources map,
//  or NULL when needs is absent (the backend's memory is then not
//  counted). Returns 0, or -1 with err set (shic_backend_config_error).
int shic_backend_config_resources (zconfig_t *config, const char *section,
                                   shic_val_t **resources_p, shic_error_t *err);

#endif
