/*  =========================================================================
    shic_command - a spawned backend for any OpenAI-compatible server
    command written in the configuration

    The backend is named after its configuration section (zconfig_name), so
    one ops table serves any number of sections ("vllm", "tgi", ...):

        backends
            vllm
                type = command
                command = /usr/bin/vllm serve ${MODEL} --host ${HOST} --port ${PORT}
                port = 8000                     optional; else learned from the log
                host = 127.0.0.1                ${HOST}, and the probe address
                health_path = /health           readiness and health (empty: models_path)
                models_path = /v1/models        reported in the endpoint metadata
                base_path = /v1                 base_url = http://host:port<base_path>
                ready_pattern = Application startup complete
                port_pattern = port:            the port is the number after it
                stop_signal = TERM              sent first on stop (then SIGKILL after stop_timeout_ms)
                stop_timeout_ms = 5000
                models
                    qwen = Qwen/Qwen2.5-0.5B-Instruct   the ${MODEL} of model "qwen"
                env
                    CUDA_VISIBLE_DEVICES = 0
                capabilities
                    streaming = true            true | false | unknown ("streaming?")

    command is split on spaces, without a shell and without quoting: an
    argument with a space in it needs the argv form instead, child entries
    named 1, 2, 3 ... taken in numeric order:

                argv
                    1 = /opt/my server/bin/serve
                    2 = --port
                    3 = ${PORT}

    ${HOST} and ${MODEL} are replaced anywhere in an argument. ${PORT} is
    replaced anywhere when port is set; otherwise it must be a whole
    argument, which the kernel replaces with the port learned from the
    log (0, i.e. "any free port", until it is known; restarts reuse it).
    The port is learned from the first number after port_pattern, or from
    "listening on http://host:PORT" when the pattern is not in the line.

    Network clients may only name a configured model (unknown:
    invalid_backend_options); any other option from them is forbidden.
    The embedding host (trusted) may also name an unconfigured model,
    substituted as is, and set the plan timing keys.
    =========================================================================
*/

#ifndef SHIC_COMMAND_H_INCLUDED
#define SHIC_COMMAND_H_INCLUDED

#include "shic.h"

#ifdef __cplusplus
extern "C" {
#endif

//  name "command"; registered under its configuration section's name
SHIC_EXPORT extern const shic_backend_ops_t shic_command_ops;

#ifdef __cplusplus
}
#endif

#endif
