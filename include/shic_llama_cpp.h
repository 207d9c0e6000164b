/*  =========================================================================
    shic_llama_cpp - the llama.cpp backend: spawns and probes llama-server

    =========================================================================
*/

/*
@header
    shic_llama_cpp_ops is a spawned, jido_managed backend named "llama_cpp"
    that starts one llama-server per distinct launch (model, flags, key,
    environment) and publishes its OpenAI-compatible endpoint. Register it
    with shic_runtime_register (runtime, &shic_llama_cpp_ops, section, &err),
    where section is its configuration (borrowed; it must outlive the
    registration, since the kernel reads the timing keys from it):

        binary = llama-server           executable (default "llama-server")
        host = 127.0.0.1                address to bind; no '/' (no unix sockets)
        api_key = secret                optional: --api-key, and the endpoint's
                                        "authorization: Bearer <key>" header
        api_key_file = /etc/shic/key    optional, better: --api-key-file, so the
                                        key stays out of the server's command
                                        line; its first line is the endpoint's
                                        key (read when a request is resolved;
                                        an unreadable file is
                                        invalid_backend_options, field
                                        api_key_file)
        launcher_args = "taskset -c 0-3"   optional, before the binary
        extra_args = "--no-webui --metrics"  optional, after every flag
                                        (either may also be a list of children)
        env                             optional environment for the server
            OMP_NUM_THREADS = 4
        ctx_size, parallel, threads, threads_batch, gpu_layers, embeddings,
        jinja, flash_attn               optional defaults for every model
        models
            tiny = /models/tiny.gguf    a model by name...
            big                         ...or a section with path and knobs
                path = /models/big.gguf
                alias = big-chat
                ctx_size = 8192
                extra_args = "--pooling mean"   (appended to the backend's;
                                        a model section takes any key above
                                        but port, env merged into the backend's)
        ready_timeout_ms, readiness_interval_ms, health_interval_ms,
        idle_shutdown_ms, stop_timeout_ms   override every plan (kernel)

    Timing ranges (milliseconds; outside is an error at init, or
    invalid_backend_options {field} from the host): ready_timeout_ms and
    readiness_interval_ms 1 .. 2^40, health_interval_ms and
    idle_shutdown_ms 0 .. 2^40, stop_timeout_ms 0 .. 2^31-1.

    Backend options of ensure_endpoint: model_identity (a configured model
    name; required unless a trusted caller gives model_path) and the knobs
    ctx_size (int >= 0), parallel (1..1024), threads (1..1024),
    threads_batch (1..1024), gpu_layers (int >= 0, "auto" or "all"),
    embeddings (bool), jinja (bool), flash_attn (true = bare -fa for older
    builds, or "on" / "off" / "auto" for newer ones), alias (string).
    Those are all a network (untrusted) client may set. The timings are
    not: they are not part of the instance key, so one client's choice
    would hold for every holder of the shared instance (a 1 ms readiness
    deadline failing their start, an idle stop at once); they are
    reserved to the configuration and the embedding host (forbidden
    {field} from the network). The embedding host (trusted) may
    also set binary, model_path, host, port (0 = chosen by llama-server),
    launcher_args, extra_args (alias args), env, api_key, api_key_file,
    ready_timeout_ms, idle_shutdown_ms, readiness_interval_ms,
    health_interval_ms, stop_timeout_ms, and pass any
    of these inside a boot_spec map (which wins over the top level; the
    names binary_path, model and environment are accepted there too).

    Ports: the server is started with --port ${PORT}, i.e. --port 0 the
    first time; the real port is read from its "main: HTTP server is
    listening, hostname: H, port: P" log line (or, failing that, its
    "main: server is listening on http://H:P" ready line) and the kernel
    reuses it on restarts. The port is learned once, before ready, and only
    from lines that start with the server's own "main: " prefix: the server
    logs request paths, which its HTTP clients choose, so no later line can
    move the endpoint or its health checks. A configured port_range
    is rejected at init: it is not supported yet, because llama-server sets
    SO_REUSEPORT and two servers handed the same port would silently share
    it.
@discuss
    The argv is rendered without a shell, in this order: launcher_args,
    binary, -m PATH, -a ALIAS, --host H, --port P, -c, -np, -t, -tb, -ngl,
    -fa, --embeddings, --jinja, --api-key KEY, extra_args (knobs only when
    set). The instance key is "llama_cpp:<model>:<hash>" over every
    launch-relevant field with the API key replaced by its SHA-256; never
    over timings or metadata. Note that llama-server's argv, and so the key
    given with --api-key, is readable by local users through /proc.
@end
*/

#ifndef SHIC_LLAMA_CPP_H_INCLUDED
#define SHIC_LLAMA_CPP_H_INCLUDED

#include "shic.h"

#ifdef __cplusplus
extern "C" {
#endif

//  The backend's ops table; its name is "llama_cpp"
SHIC_EXPORT extern const shic_backend_ops_t shic_llama_cpp_ops;

#ifdef __cplusplus
}
#endif

#endif
