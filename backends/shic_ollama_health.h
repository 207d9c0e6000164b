/*  =========================================================================
    shic_ollama_health - the daemons one Ollama backend watches, and the
    snapshots of their state that its instances share

    A daemon is one root URL with one set of headers: instances of other
    roots or other headers never share. One round of GET /api/version,
    /api/tags and /api/ps makes a snapshot, fetched through the daemon's
    own kept-alive connection; every instance attached to the daemon reads
    it. A round serves every check while it is younger than half the
    checking instance's health interval (at most 500 ms), or than the whole
    interval while the next round is under way, so what a check reports is
    never older than one interval; one instance runs the round while the
    others wait for it.

    The backend's state owns the table (created in init, destroyed in
    destroy, after every instance gave its daemon back); instances call in
    from their own threads, so the table guards itself with its own lock.
    Not installed: private to the ollama backend.
    =========================================================================
*/

#ifndef SHIC_OLLAMA_HEALTH_H_INCLUDED
#define SHIC_OLLAMA_HEALTH_H_INCLUDED

#include "shic.h"
#include "shic_http.h"

#ifdef __cplusplus
extern "C" {
#endif

//  The table of daemons (opaque)
typedef struct _shic_ollama_health_t shic_ollama_health_t;
//  One daemon, counted by the instances that hold it (opaque)
typedef struct _shic_ollama_daemon_t shic_ollama_daemon_t;
//  One round, immutable once published, counted by its readers (opaque)
typedef struct _shic_ollama_snapshot_t shic_ollama_snapshot_t;

//  An empty table
shic_ollama_health_t *shic_ollama_health_new (void);

//  Frees the table, which must hold no daemon; no-op on NULL; nulls *self_p
void shic_ollama_health_destroy (shic_ollama_health_t **self_p);

//  The daemon of root and headers ("Name: value", NULL-terminated, in any
//  order; borrowed), shared with every holder of the same ones. Give it
//  back with shic_ollama_health_release.
shic_ollama_daemon_t *shic_ollama_health_acquire (shic_ollama_health_t *self, const char *root,
                                                  char **headers);

//  Gives a daemon back; the last holder frees it. Nulls *daemon_p.
void shic_ollama_health_release (shic_ollama_health_t *self, shic_ollama_daemon_t **daemon_p);

//  A snapshot of daemon for an instance checking every interval_ms: the
//  latest round while it is fresh enough, else a new one (or the one
//  another instance has under way). The caller holds it until
//  shic_ollama_snapshot_release.
shic_ollama_snapshot_t *shic_ollama_health_snapshot (shic_ollama_health_t *self,
                                                     shic_ollama_daemon_t *daemon,
                                                     int64_t interval_ms);

//  Drops the caller's hold; no-op on NULL; nulls *self_p
void shic_ollama_snapshot_release (shic_ollama_snapshot_t **self_p);

//  The fields of a failed /api/version (reachable, http_status, error),
//  or NULL when it answered; the other answers are then absent
const shic_val_t *shic_ollama_snapshot_failure (shic_ollama_snapshot_t *self);

//  The daemon's version, or NULL
const char *shic_ollama_snapshot_version (shic_ollama_snapshot_t *self);

//  True when /api/tags answered and lists key (a tagged model name in
//  lower case)
bool shic_ollama_snapshot_installed (shic_ollama_snapshot_t *self, const char *key);

//  The models /api/ps lists, as the daemon wrote them, or NULL when it
//  failed (see shic_ollama_snapshot_ps_failure)
const shic_val_t *shic_ollama_snapshot_running (shic_ollama_snapshot_t *self);

//  The fields of a failed /api/ps (step, http_status or reachable,
//  error), or NULL when it answered
const shic_val_t *shic_ollama_snapshot_ps_failure (shic_ollama_snapshot_t *self);

//  True when /api/ps answered and lists key (as for installed)
bool shic_ollama_snapshot_loaded (shic_ollama_snapshot_t *self, const char *key);
//  The memory a loaded model holds, from its /api/ps entry: a fresh map
//  {device_bytes: size_vram, host_bytes: size - size_vram}, or NULL when
//  it is not loaded or the entry does not say
shic_val_t *shic_ollama_snapshot_memory (shic_ollama_snapshot_t *self, const char *key);

//  --------------------------------------------------------------------------
//  The daemon's answers, read the same by a round and by the backend's own
//  requests

//  Fresh copy of text without surrounding white space; NULL for NULL
char *shic_ollama_trim (const char *text);

//  Sets fields' "error": the transport's error, the "error" text of a
//  JSON answer, or the first bytes of the body
void shic_ollama_answer_error (shic_val_t *fields, const shic_http_result_t *result);

//  Fills fields for a 200 answer of step that is not the shape Ollama
//  gives: step, http_status, and error "not an answer of Ollama: <the
//  first bytes>"
void shic_ollama_answer_foreign (shic_val_t *fields, const char *step,
                                 const shic_http_result_t *result);

//  The answer of GET /api/version (rc from shic_http): on success, a JSON
//  map with a non-empty "version" string, returns 0 and sets *version_p
//  (fresh); else (anything else answering 200 too) fills fields, -1
//  The memory of model key (lower-case, tagged) in an /api/ps answer's
//  body: {device_bytes: size_vram, host_bytes: size - size_vram} (fresh),
//  or NULL when it is not listed or its sizes do not make sense
shic_val_t *shic_ollama_answer_memory (const char *body, const char *key);
int shic_ollama_answer_version (int rc, const shic_http_result_t *result, shic_val_t *fields,
                                char **version_p);

//  The names the latest /api/tags answers of its daemons listed (fresh), or
//  NULL when no daemon has answered one yet; makes no request
shic_val_t *shic_ollama_health_installed (shic_ollama_health_t *self);

void shic_ollama_health_test (bool verbose);

#ifdef __cplusplus
}
#endif

#endif
