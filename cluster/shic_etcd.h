/*  =========================================================================
    shic_etcd - the one class that speaks to etcd (v3 JSON gateway, 3.4)

    Through libcurl (one kept-alive connection per object, so a keep-alive
    is one POST on a reused connection) and messages/ JSON (shic_val_from_json:
    the only JSON parser of the library). Keys and values travel base64
    encoded; int64 fields are strings; zero, false and empty fields are
    left out by the gateway (a keep-alive of an expired lease answers no
    TTL: that is ttl 0, not an error). Lease ids exceed 2^53: kept as
    strings.

    Every call is bounded by the object's timeout_ms and tries the
    configured URLs in turn. Every failure is a typed error (shic_error_t):
    SHIC_E_INSTANCE_UNAVAILABLE with details {etcd: url} when no endpoint
    answers, SHIC_E_MALFORMED when a reply is not the shape etcd gives
    (bounded: a reply over 4 MiB is refused), and the store's own error
    otherwise (details.grpc_code). Nothing aborts.

    The watch is a separate object with its own connection: a stream of
    one JSON object per line, read incrementally without blocking, driven
    by the caller's poll loop (shic_etcd_watch_fd / _timeout / _next), so
    it fits a czmq actor. A compaction that cancels the watch is reported as
    SHIC_ETCD_WATCH_COMPACTED: read the prefix again (range) and watch
    from its revision + 1.
    =========================================================================
*/

#ifndef SHIC_ETCD_H_INCLUDED
#define SHIC_ETCD_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "shic_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _shic_etcd_t shic_etcd_t;
typedef struct _shic_etcd_watch_t shic_etcd_watch_t;

//  One key-value pair as etcd holds it. Value bytes are NUL-terminated
//  for convenience (value [size] == 0); lease is "" when none.
typedef struct {
    char *key;
    char *value;
    size_t size;
    int64_t create_revision;
    int64_t mod_revision;
    int64_t version;
    char lease [24];
} shic_etcd_kv_t;

//  A list of pairs (range) and the store's revision at the time
typedef struct {
    shic_etcd_kv_t *kvs;
    size_t count;
    int64_t revision;
} shic_etcd_kvs_t;

//  urls: one or more "http://host:port", comma separated; timeout_ms
//  bounds each call. NULL on bad input (err says why).
shic_etcd_t *
    shic_etcd_new (const char *urls, int timeout_ms, shic_error_t *err);

void
    shic_etcd_destroy (shic_etcd_t **self_p);

//  The URL that answered last (for logs and errors)
const char *
    shic_etcd_url (shic_etcd_t *self);

//  Lease: grant with ttl_s seconds (id: decimal string, id_max >= 24),
//  keep alive (ttl_left 0: the lease is gone, take a new one), revoke.
//  0 on success, -1 with err.
int
    shic_etcd_lease_grant (shic_etcd_t *self, int64_t ttl_s, char *id, size_t id_max,
                           shic_error_t *err);
int
    shic_etcd_lease_keepalive (shic_etcd_t *self, const char *id, int64_t *ttl_left,
                               shic_error_t *err);
int
    shic_etcd_lease_revoke (shic_etcd_t *self, const char *id, shic_error_t *err);

//  Put key = value (size bytes), bound to lease (NULL or "": none)
int
    shic_etcd_put (shic_etcd_t *self, const char *key, const void *value, size_t size,
                   const char *lease, shic_error_t *err);

//  Delete one key, or every key under a prefix (prefix true)
int
    shic_etcd_delete (shic_etcd_t *self, const char *key, bool prefix, shic_error_t *err);

//  Create-if-absent (txn on create_revision == 0): *created true when this
//  call wrote it; otherwise, when holder is not NULL, *holder is the pair
//  that is there (free with shic_etcd_kv_free)
int
    shic_etcd_create (shic_etcd_t *self, const char *key, const void *value, size_t size,
                      const char *lease, bool *created, shic_etcd_kv_t **holder,
                      shic_error_t *err);

//  Compare-and-swap on mod_revision: put when the key's mod_revision is
//  still mod_revision (0: the key must not exist); *done says whether
int
    shic_etcd_replace (shic_etcd_t *self, const char *key, int64_t mod_revision,
                       const void *value, size_t size, const char *lease, bool *done,
                       shic_error_t *err);

//  Compare-and-delete on mod_revision; *done says whether it was deleted
int
    shic_etcd_delete_if (shic_etcd_t *self, const char *key, int64_t mod_revision, bool *done,
                         shic_error_t *err);

//  Every pair under prefix (or the one key when prefix is false), with the
//  store's revision; *kvs NULL on error. Free with shic_etcd_kvs_destroy.
int
    shic_etcd_range (shic_etcd_t *self, const char *key, bool prefix, shic_etcd_kvs_t **kvs,
                     shic_error_t *err);

void
    shic_etcd_kvs_destroy (shic_etcd_kvs_t **kvs_p);

void
    shic_etcd_kv_free (shic_etcd_kv_t **kv_p);

//  Ask etcd to compact up to revision (tests use it to force a resync)
int
    shic_etcd_compact (shic_etcd_t *self, int64_t revision, shic_error_t *err);

//  --------------------------------------------------------------------------
//  The watch: a stream of changes under prefix from start_revision on
//  (0: from now). Non-blocking: poll shic_etcd_watch_fd for reading (and
//  at least every shic_etcd_watch_timeout ms), then call
//  shic_etcd_watch_next until it returns SHIC_ETCD_WATCH_NONE.

typedef enum {
    SHIC_ETCD_WATCH_NONE = 0,       //  nothing (more) to read now
    SHIC_ETCD_WATCH_CREATED,        //  the stream is open
    SHIC_ETCD_WATCH_PUT,            //  kv: the new pair
    SHIC_ETCD_WATCH_DELETE,         //  kv: key, mod_revision (value empty)
    SHIC_ETCD_WATCH_PROGRESS,       //  a header only; revision moved
    SHIC_ETCD_WATCH_COMPACTED,      //  cancelled: range again, watch from revision + 1
    SHIC_ETCD_WATCH_DOWN            //  the stream ended or failed (err); make a new watch
} shic_etcd_watch_event_t;

shic_etcd_watch_t *
    shic_etcd_watch_new (const char *urls, const char *prefix, int64_t start_revision,
                         shic_error_t *err);

void
    shic_etcd_watch_destroy (shic_etcd_watch_t **self_p);

//  A descriptor to poll for reading (-1 while connecting: use the timeout).
//  Ask again every turn: until the watch is created it moves on to the
//  next URL when a member does not answer, and the descriptor changes.
int
    shic_etcd_watch_fd (shic_etcd_watch_t *self);

//  How long the caller may sleep before calling shic_etcd_watch_next again
//  (ms; curl's own timers; 0: call it now; -1: no timer, wait on the
//  descriptor alone)
long
    shic_etcd_watch_timeout (shic_etcd_watch_t *self);

//  The next event; *kv (for PUT and DELETE) is the caller's to free with
//  shic_etcd_kv_free; *revision is the store revision the event carries
//  (for COMPACTED: the compact revision)
shic_etcd_watch_event_t
    shic_etcd_watch_next (shic_etcd_watch_t *self, shic_etcd_kv_t **kv, int64_t *revision,
                          shic_error_t *err);

#ifdef __cplusplus
}
#endif

#endif
