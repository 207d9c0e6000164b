/*  =========================================================================
    shic_openai_compat - attaches to any OpenAI-compatible server (vLLM,
    LM Studio, llamafile, a llama-server someone else runs)

    The backend is named after its configuration section (zconfig_name):

        backends
            lmstudio
                type = openai_compat
                base_url = http://127.0.0.1:1234/v1     required
                api_key = sk-...                        optional: Authorization: Bearer
                model = qwen2.5-7b-instruct             optional default model
                headers
                    X-Org = research                    sent on every probe
                capabilities
                    streaming = true                    true | false | unknown

    Readiness: GET <base_url>/models answers 200 and lists the model (any
    model when neither the client nor the configuration names one); the
    ids are read from data[].id, or models[].id / name / model. Health:
    GET <root>/health when the server has one (200 healthy, 503 degraded,
    else unavailable), where root is base_url without a trailing "/v1";
    otherwise GET <base_url>/models (200 with the model listed healthy,
    200 without it or 503 degraded, else unavailable). A 401 or 403 on
    the model list fails readiness at once: the key is wrong.

    The endpoint carries the configured headers and the Authorization
    header, so that its user can call the server. Clients may only name
    a model; the embedding host may also set the plan timing keys.
    =========================================================================
*/

#ifndef SHIC_OPENAI_COMPAT_H_INCLUDED
#define SHIC_OPENAI_COMPAT_H_INCLUDED

#include "shic.h"

#ifdef __cplusplus
extern "C" {
#endif

//  name "openai_compat"; registered under its configuration section's name
SHIC_EXPORT extern const shic_backend_ops_t shic_openai_compat_ops;

#ifdef __cplusplus
}
#endif

#endif
