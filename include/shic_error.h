/*  =========================================================================
    shic_error - the typed error of wire.md: a code from its table, one
    sentence for a person, and structured details

    Every failure that reaches a caller (a wire reply, a client, the
    embedded API) travels as a shic_error_t, so the code table lives here
    once and both ends map a received code onto the same static string.
    =========================================================================
*/

#ifndef SHIC_ERROR_H_INCLUDED
#define SHIC_ERROR_H_INCLUDED

#include "shic_val.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Error codes of wire.md, in the order of its table
#define SHIC_E_MALFORMED                 "malformed"
#define SHIC_E_UNSUPPORTED_VERSION       "unsupported_version"
#define SHIC_E_UNKNOWN_OP                "unknown_op"
#define SHIC_E_INVALID_ARGS              "invalid_args"
#define SHIC_E_INVALID_REQUEST           "invalid_request"
#define SHIC_E_INVALID_CONSUMER_MANIFEST "invalid_consumer_manifest"
#define SHIC_E_MISSING_REQUEST_FIELD     "missing_request_field"
#define SHIC_E_INVALID_TARGET_PREFERENCE "invalid_target_preference"
#define SHIC_E_MISSING_TARGET_PREFERENCE "missing_target_preference"
#define SHIC_E_UNKNOWN_BACKEND_ID        "unknown_backend_id"
#define SHIC_E_INVALID_STARTUP_KIND      "invalid_startup_kind"
#define SHIC_E_INCOMPATIBLE              "incompatible"
#define SHIC_E_INVALID_STARTUP_PLAN      "invalid_startup_plan"
#define SHIC_E_INVALID_BACKEND_OPTIONS   "invalid_backend_options"
#define SHIC_E_FORBIDDEN                 "forbidden"
#define SHIC_E_READINESS_TIMEOUT         "readiness_timeout"
#define SHIC_E_AWAIT_TIMEOUT             "await_timeout"
#define SHIC_E_TRANSPORT_START_FAILED    "transport_start_failed"
#define SHIC_E_BACKEND_EXIT              "backend_exit"
#define SHIC_E_INSTANCE_UNAVAILABLE      "instance_unavailable"
#define SHIC_E_INSTANCE_FAILED           "instance_failed"
#define SHIC_E_INSTANCE_STOPPED          "instance_stopped"
#define SHIC_E_CAPACITY                  "capacity"
#define SHIC_E_NOT_FOUND                 "not_found"
#define SHIC_E_LEASE_NOT_FOUND           "lease_not_found"
#define SHIC_E_SHUTTING_DOWN             "shutting_down"
#define SHIC_E_INTERNAL                  "internal"
//  Placement (issue 12), added after the table of wire.md
#define SHIC_E_INSUFFICIENT_RESOURCES    "insufficient_resources"
#define SHIC_E_QUEUE_FULL                "queue_full"

//  A typed error: a code of the table above, one sentence, structured details
typedef struct {
    const char *code;               //  static string; NULL means "no error"
    char *message;                  //  fresh sentence for a person, or NULL
    shic_val_t *details;            //  owned; any shape, or NULL
} shic_error_t;

//  Sets err (clearing what it held). Takes ownership of *details_p when
//  details_p is not NULL. The message is formatted like printf.
SHIC_EXPORT void shic_error_set (shic_error_t *err, const char *code,
                                 shic_val_t **details_p, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));
//  Sets err with details {field: field} (invalid_args, forbidden)
SHIC_EXPORT void shic_error_set_field (shic_error_t *err, const char *code,
                                       const char *field, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));
//  Frees what err holds and zeroes it
SHIC_EXPORT void shic_error_clear (shic_error_t *err);
//  Moves src into dst (dst cleared first, src zeroed)
SHIC_EXPORT void shic_error_move (shic_error_t *dst, shic_error_t *src);
//  The error as a map {code, message, details}; fresh
SHIC_EXPORT shic_val_t *shic_error_to_val (const shic_error_t *err);
//  Reads a {code, message, details} map; the code is mapped onto the static
//  string of the table (unknown codes become "internal"). Returns 0 / -1.
SHIC_EXPORT int shic_error_from_val (shic_error_t *err, const shic_val_t *val);
//  The static string for a code, or NULL when it is not in the table
SHIC_EXPORT const char *shic_error_code_lookup (const char *code);
//  NULL-terminated list of every code, in table order
SHIC_EXPORT extern const char *shic_error_codes [];

#ifdef __cplusplus
}
#endif

#endif
