/*  =========================================================================
    shic_ollama - the Ollama attach backend ("ollama")

    Attaches to an Ollama daemon that somebody else runs: it never starts,
    stops, loads or unloads anything on its own, except what the options
    ask for before the endpoint is handed out (preload, pull_missing).
    =========================================================================
*/

/*
@header
    Configuration (the backend's section, all optional):
        root_url = http://127.0.0.1:11434   else OLLAMA_HOST, else this
        api_key = KEY                       sent as authorization: Bearer KEY
        headers
            x-proxy-token = VALUE           sent on every probe and listed
                                            in the endpoint's headers
        preload = 0                         1 = load the model (keep-alive
                                            request) before it is ready
        keep_alive = 10m                    keep-alive of that request
        pull_missing = 0                    1 = pull a model not installed
        pull_timeout_ms = 30000             one pull round, per probe
        preload_timeout_ms = 30000          one preload request
    plus the kernel's timing keys (ready_timeout_ms, ...).

    backend_options of an InstanceSpec (or its attach_spec map):
        model_identity (or model)           required; "x" means "x:latest"
        preload, keep_alive                 any client
        root_url (or base_url), api_key,    the trusted embedding host only;
        headers, pull_missing, timings      network clients get forbidden
@discuss
    Readiness: /api/version answers and /api/show finds the model (after a
    pull and a preload when asked). Pending probes say why in their fields
    (reachable, model_found, http_status, error), which the kernel keeps
    as details.last_probe of a readiness_timeout.
    Health: healthy when the model is loaded, degraded when installed but
    not loaded, unavailable when the daemon is unreachable or the model is
    gone. Every instance of the backend attached to the same daemon (root
    URL and headers) reads one shared snapshot of /api/version, /api/tags
    and /api/ps, fetched once per round over a kept-alive connection and
    never older than one health interval; /api/show is asked only for a
    model the tags do not list. A thousand attached models cost three
    requests a round, not three thousand.
@end
*/

#ifndef SHIC_OLLAMA_H_INCLUDED
#define SHIC_OLLAMA_H_INCLUDED

#include "shic.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SHIC_OLLAMA_DEFAULT_ROOT "http://127.0.0.1:11434"

SHIC_EXPORT extern const shic_backend_ops_t shic_ollama_ops;

#ifdef __cplusplus
}
#endif

#endif
