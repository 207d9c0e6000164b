/*  =========================================================================
    shic_contract - the structures of contract.md §3 and the pure kernel
    rules over them: compatibility (§4), the shape checks of ensure_endpoint
    (§5 steps 1-4), truthfulness of startup plans (§5 step 7), endpoint
    construction and instance keys.

    Structures are shic_val_t maps whose keys are exactly the field names of
    contract.md (capability keys keep their trailing '?'). A _normalize
    function takes a partial map (borrowed, may be NULL), checks the type of
    every field present, fills every absent field with its default, sets
    contract_version where the contract says so, and returns a fresh map; on a
    wrong type it returns NULL and sets err (details.field names the field).
    Everything here is pure: no sockets, no clocks, no globals.
    =========================================================================
*/

#ifndef SHIC_CONTRACT_H_INCLUDED
#define SHIC_CONTRACT_H_INCLUDED

#include "shic_val.h"
#include "shic_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SHIC_CONTRACT_VERSION       "inference.v1"

//  Enumerations (wire strings), contract.md §2
#define SHIC_RUNTIME_SERVICE        "service"
#define SHIC_RUNTIME_TASK           "task"
#define SHIC_MODE_JIDO_MANAGED      "jido_managed"
#define SHIC_MODE_EXTERNALLY_MANAGED "externally_managed"
#define SHIC_STARTUP_SPAWNED        "spawned"
#define SHIC_STARTUP_ATTACHED       "attach_existing_service"
#define SHIC_PROTOCOL_OPENAI_CHAT   "openai_chat_completions"
#define SHIC_TARGET_SELF_HOSTED     "self_hosted_endpoint"
#define SHIC_SURFACE_LOCAL          "local_subprocess"
#define SHIC_STATUS_STARTING        "starting"
#define SHIC_STATUS_READY           "ready"
#define SHIC_STATUS_RESTARTING      "restarting"
#define SHIC_STATUS_STOPPING        "stopping"
#define SHIC_STATUS_STOPPED         "stopped"
#define SHIC_STATUS_FAILED          "failed"
#define SHIC_HEALTH_HEALTHY         "healthy"
#define SHIC_HEALTH_DEGRADED        "degraded"
#define SHIC_HEALTH_UNAVAILABLE     "unavailable"
#define SHIC_CAP_UNKNOWN            "unknown"

//  Plan timing defaults (milliseconds)
#define SHIC_DEFAULT_READY_TIMEOUT_MS       120000
#define SHIC_DEFAULT_READINESS_INTERVAL_MS  100
#define SHIC_DEFAULT_HEALTH_INTERVAL_MS     1000
#define SHIC_DEFAULT_IDLE_SHUTDOWN_MS       300000
#define SHIC_DEFAULT_STOP_TIMEOUT_MS        5000
//  The largest plan duration (2^40 ms, about 35 years, as wire arguments):
//  a monotonic clock plus it never overflows
#define SHIC_DURATION_MAX_MS                ((int64_t) 1 << 40)
//  stop_timeout_ms is waited for in one poll (int milliseconds)
#define SHIC_STOP_TIMEOUT_MAX_MS            ((int64_t) INT32_MAX)

//  True when value is "spawned" or "attach_existing_service"
SHIC_EXPORT bool shic_startup_kind_valid (const char *value);
//  True when (kind, mode) is one of the two legal pairs
SHIC_EXPORT bool shic_startup_pair_legal (const char *startup_kind, const char *management_mode);

//  ---------------------------------------------------------------------------
//  Structures. Field lists and defaults:
//
//  BackendManifest {contract_version, backend: str, runtime_kind: str =
//    "service", management_modes: [str] = [], startup_kind: str|nil = nil,
//    protocols: [str] = ["openai_chat_completions"], capabilities: map = {},
//    supported_surfaces: [str] = [], resource_profile: map = {}, metadata:
//    map = {}}. backend is required (err code "internal": manifests come
//    from backend code, which we trust but check).
SHIC_EXPORT shic_val_t *shic_backend_manifest_normalize (const shic_val_t *in, shic_error_t *err);

//  The manifest of a backend with one management mode: {backend,
//  runtime_kind "service", management_modes [mode], startup_kind (nil when
//  NULL), protocols ["openai_chat_completions"], capabilities {},
//  supported_surfaces ["local_subprocess"], metadata {}}; callers fill in
//  capabilities and metadata. Fresh map.
SHIC_EXPORT shic_val_t *shic_backend_manifest_new (const char *backend, const char *startup_kind,
                                                   const char *management_mode);

//  ConsumerManifest {contract_version, consumer: str|nil, accepted_runtime_kinds:
//    [str] = ["service"], accepted_management_modes: [str] = [],
//    accepted_protocols: [str] = ["openai_chat_completions"],
//    required_capabilities: map = {}, optional_capabilities: map = {},
//    constraints: map = {} (startup_kind: str optional), metadata: map = {}}.
//    Not a map, or a field of the wrong type: err invalid_consumer_manifest
//    with details {field}.
SHIC_EXPORT shic_val_t *shic_consumer_manifest_normalize (const shic_val_t *in, shic_error_t *err);

//  InstanceSpec {contract_version, backend: str, startup_kind: str|nil,
//    execution_surface: nil|str|map, backend_options: map = {}, metadata: map = {}}
//    Wrong types: err invalid_args {field}; a startup_kind that is not one of
//    the two kinds: invalid_startup_kind.
SHIC_EXPORT shic_val_t *shic_instance_spec_normalize (const shic_val_t *in, shic_error_t *err);

//  StartupPlan {instance_key: str (required, non-empty), backend: str,
//    startup_kind: str, management_mode: str, transport: nil | {argv: [str]
//    (non-empty), env: map str->str = {}, cwd: str|nil, ready_pattern: str|nil,
//    execution_surface: nil|str|map, stop_signal: int (optional; a stop
//    sends it first, SIGTERM when absent)}, ready_timeout_ms = 120000,
//    readiness_interval_ms = 100, health_interval_ms = 1000 (0 = no health
//    polling), idle_shutdown_ms = 300000, stop_timeout_ms = 5000,
//    endpoint_template: map = {}, metadata: map = {}}. Every duration is an
//    int from 0 to SHIC_DURATION_MAX_MS (readiness_interval_ms and
//    ready_timeout_ms > 0; stop_timeout_ms at most SHIC_STOP_TIMEOUT_MAX_MS). startup_kind
//    and management_mode are copied as given (nil allowed): truthfulness,
//    not normalization, judges them. Wrong types: err internal {field}.
SHIC_EXPORT shic_val_t *shic_startup_plan_normalize (const shic_val_t *in, shic_error_t *err);

//  LeaseRef {contract_version, lease_ref, owner_ref (str or nil), ttl_ms,
//    expires_at_ms (nil when ttl_ms is 0), renewable?, instance_id}
SHIC_EXPORT shic_val_t *shic_lease_ref_new (const char *lease_ref, const shic_val_t *owner_ref,
                                            int64_t ttl_ms, int64_t expires_at_ms,
                                            bool renewable, const char *instance_id);
//  The same LeaseRef streamed into writer: a map header for its 7 pairs plus
//  extra pairs that the caller writes after it
SHIC_EXPORT void shic_lease_ref_write (shic_val_writer_t *writer, size_t extra,
                                       const char *lease_ref, const shic_val_t *owner_ref,
                                       int64_t ttl_ms, int64_t expires_at_ms, bool renewable,
                                       const char *instance_id);

//  EndpointDescriptor, contract.md §3 and original-behaviour §6.3: the
//  plan's endpoint_template shallow-merged with fields (fields win), then
//  endpoint_id = "<instance_id>:endpoint", runtime_kind "service",
//  management_mode = plan's, target_class "self_hosted_endpoint", protocol
//  (default "openai_chat_completions"), base_url (required: NULL + err
//  readiness failure code "internal" with message "base_url missing" when
//  absent or not a string), headers = {} default, provider_identity and
//  source_runtime default to the plan's backend, model_identity defaults to
//  the instance id, source_runtime_ref / health_ref / boundary_ref default
//  nil, lease_ref nil, capabilities {} and metadata {} defaults.
SHIC_EXPORT shic_val_t *shic_endpoint_build (const char *instance_id, const shic_val_t *plan,
                                             const shic_val_t *fields, shic_error_t *err);

//  ---------------------------------------------------------------------------
//  Compatibility, contract.md §4. manifest is a normalized BackendManifest,
//  or NULL when backend_id is not registered; consumer is a normalized
//  ConsumerManifest. Returns a fresh CompatibilityResult {contract_version,
//  compatible?, reason, resolved_runtime_kind, resolved_management_mode,
//  resolved_protocol, warnings [str], missing_requirements [str], metadata}.
//  Incompatible results carry nil resolved fields, no warnings and empty
//  metadata, except backend_unregistered whose metadata is
//  {reason: "backend_unregistered"}. Capability values compare with
//  shic_val_equal (true, false, "unknown"); required keys are checked in
//  sorted (bytewise) order; missing_capability names the key without its
//  trailing '?'. Success metadata is {backend, consumer}.
SHIC_EXPORT shic_val_t *shic_compatibility (const char *backend_id, const shic_val_t *manifest,
                                            const shic_val_t *consumer);

//  ---------------------------------------------------------------------------
//  ensure_endpoint shape checks, contract.md §5 steps 1-4 (step 2 only checks
//  that backend is a string; registration is the caller's business).
//  request must be a map (else invalid_request), context a map or nil (else
//  invalid_args {field: "context"}); request.target_preference absent or nil
//  -> missing_request_field, not a map -> invalid_target_preference;
//  target_preference.backend absent -> missing_target_preference, not a
//  string -> invalid_args {field: "request.target_preference.backend"};
//  startup_kind not nil and not a valid kind -> invalid_startup_kind;
//  metadata / backend_options not maps -> invalid_args {field}.
//  Returns a fresh normalized InstanceSpec whose metadata is
//  target_preference.metadata overlaid with request.request_id,
//  context.run_id, context.attempt_id, context.boundary_ref and
//  context.observability.trace_id when those are non-nil (context wins);
//  backend_options gains boot_spec (from target_preference.boot_spec, unless
//  already there) and model_identity (from request.model_preference.id, then
//  .model, unless already there); execution_surface from target_preference.
SHIC_EXPORT shic_val_t *shic_ensure_spec_from_request (const shic_val_t *request,
                                                       const shic_val_t *context,
                                                       shic_error_t *err);

//  ---------------------------------------------------------------------------
//  Truthfulness, contract.md §5 step 7. spec, plan and manifest are
//  normalized. Returns NULL when the plan is truthful, else the fresh reason
//  array, first failure wins, in this order:
//    ["requested_startup_kind_mismatch", requested, actual]
//    ["manifest_startup_kind_mismatch", backend, declared, actual]
//    ["management_mode_mismatch", kind, mode]           (nil shown as nil)
//    ["spawned_requires_transport", backend]
//    ["attached_must_not_spawn", backend]
//    ["unsupported_execution_surface", backend, kind, supported_surfaces]
//    ["manifest_management_mode_mismatch", backend, modes, mode]
//  The resolved surface kind: with a transport, the kind of
//  transport.execution_surface, else of spec.execution_surface; a string is
//  the kind itself, a map gives its "surface_kind" string, nil or any other
//  shape gives "local_subprocess".
SHIC_EXPORT shic_val_t *shic_truthfulness_check (const shic_val_t *spec, const shic_val_t *plan,
                                                 const shic_val_t *manifest);

//  ---------------------------------------------------------------------------
//  Instance keys: "<backend>:<prefix>:<base64url(SHA-256(canonical msgpack
//  of identity))>" without padding, or "<backend>:<hash>" when prefix is NULL
//  or empty. identity is any value (typically a map of every launch-relevant
//  field). Fresh string.
SHIC_EXPORT char *shic_instance_key (const char *backend, const char *prefix,
                                     const shic_val_t *identity);

#ifdef __cplusplus
}
#endif

#endif
