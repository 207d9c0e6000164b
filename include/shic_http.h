/*  =========================================================================
    shic_http - tiny blocking HTTP helper for backend probes

    =========================================================================
*/

/*
@header
    shic_http sends one HTTP request with libcurl and waits for the answer,
    bounded by a total timeout. It is meant for backends' health and model
    probes; an answer of lines that comes over time (a pull's progress) is
    read line by line as it arrives. No proxy, no redirects, no signals.
@discuss
    curl is initialized on first use (curl_global_init, once per process).
    Each thread keeps one easy handle for connection reuse, freed when the
    thread ends; the main thread, which ends with the process rather than
    as a thread, may free its own with shic_http_thread_cleanup. A
    shic_http_t is a handle
    of its own (its connections and DNS cache kept between requests) for
    a server that several threads take turns to query: one request at a
    time, from any thread.
@end
*/

#ifndef SHIC_HTTP_H_INCLUDED
#define SHIC_HTTP_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include "shic_library.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Most response body bytes: a longer answer ends the transfer and the
//  request fails (status 0, error "the answer is larger than 1 MiB")
#define SHIC_HTTP_BODY_MAX      (1024 * 1024)

//  A handle of its own (opaque)
typedef struct _shic_http_t shic_http_t;

typedef struct {
    long status;                    //  HTTP status, 0 when unreachable
    char *body;                     //  Fresh, NUL-terminated; NULL if none
    size_t body_size;               //  Bytes in body, at most BODY_MAX
    char error [256];               //  curl error text when status is 0
    bool refused;                   //  status 0 because nobody listens there
} shic_http_result_t;

//  Send one request and wait up to timeout_ms for the whole answer.
//  headers is a NULL-terminated list of "Name: value" strings, or NULL.
//  body, if not NULL, is sent as application/json. result is overwritten
//  (zero it or reset it first). Returns 0 when an HTTP status was received
//  (any status), -1 when the server was unreachable or too slow (status
//  0, error set, body NULL).
SHIC_EXPORT int
    shic_http_request (const char *method, const char *url,
                       const char *const *headers, const char *body,
                       int timeout_ms, shic_http_result_t *result);

//  Called with each line of a streamed answer as it arrives, without its
//  newline (NUL-terminated, borrowed for the call). Returns 0 to go on, or
//  non-zero to end the transfer.
typedef int (shic_http_line_fn) (void *arg, const char *line);

//  shic_http_request for an answer of lines that comes over time (NDJSON,
//  e.g. Ollama's /api/pull): the body of a 2xx answer is handed to line_fn
//  a line at a time as it arrives, and result->body stays NULL; any other
//  status keeps its body in result, as shic_http_request does. timeout_ms
//  bounds the whole transfer; a line longer than SHIC_HTTP_BODY_MAX fails
//  it. Returns as shic_http_request, or -1 with error "ended by the
//  reader" when line_fn ended it.
SHIC_EXPORT int
    shic_http_request_lines (const char *method, const char *url,
                             const char *const *headers, const char *body,
                             int timeout_ms, shic_http_line_fn *line_fn, void *arg,
                             shic_http_result_t *result);

//  A handle of its own, or NULL when curl cannot make one.
SHIC_EXPORT shic_http_t *
    shic_http_new (void);

//  Close the handle's connections and free it; no-op on NULL; nulls
//  *self_p.
SHIC_EXPORT void
    shic_http_destroy (shic_http_t **self_p);

//  shic_http_request through the handle self, which must not be in use by
//  another thread at the same time.
SHIC_EXPORT int
    shic_http_send (shic_http_t *self, const char *method, const char *url,
                    const char *const *headers, const char *body,
                    int timeout_ms, shic_http_result_t *result);

//  Free the body and clear the result. Safe on a zeroed result.
SHIC_EXPORT void
    shic_http_result_reset (shic_http_result_t *result);

//  Release this thread's cached curl handle now. Other threads' handles
//  are freed when they end; main calls this before it returns so that
//  leak checkers see nothing left.
SHIC_EXPORT void
    shic_http_thread_cleanup (void);

#ifdef __cplusplus
}
#endif

#endif
