/*  =========================================================================
    shic_etcd_int - what shic_etcd.c lends its test and its fuzz target

    The parsers of replies and of the watch stream, and the base64 codec,
    so that tests/shic_etcd_test.c and fuzz/fuzz_etcd.c can feed them bytes
    without a server. The cluster actor uses shic_etcd.h only.
    =========================================================================
*/

#ifndef SHIC_ETCD_INT_H_INCLUDED
#define SHIC_ETCD_INT_H_INCLUDED

#include "shic_etcd.h"

//  The most a reply, or one line of the watch stream, may hold
#define SHIC_ETCD_REPLY_MAX (4 * 1024 * 1024)

//  Base64 of size bytes (standard alphabet, padded, as etcd reads and
//  writes it): fresh, NUL-terminated; NULL when memory ran out
char *
    shic_etcd_base64_encode (const void *data, size_t size);

//  Decodes length characters of base64 into fresh bytes with a NUL after
//  them (*data_p, *size_p); -1 on anything that is not padded base64
int
    shic_etcd_base64_decode (const char *text, size_t length, char **data_p, size_t *size_p);

//  One reply body (size bytes; no NUL needed) that came with HTTP status
//  from url: 0 and *reply_p (fresh), the object unwrapped from
//  {"result":...}, which must hold a header; or -1 and err, SHIC_E_MALFORMED
//  or the store's own error. *retry (may be NULL) is set when another
//  member may answer where this one did not (malformed, unavailable).
int
    shic_etcd_reply_parse (const char *body, size_t size, long status, const char *url,
                           shic_val_t **reply_p, bool *retry, shic_error_t *err);

//  A pair as a reply or an event holds it ({key, value?, create_revision?,
//  mod_revision?, version?, lease?}, base64 and decimal strings): fresh,
//  or NULL when it is not that shape
shic_etcd_kv_t *
    shic_etcd_kv_from_val (const shic_val_t *val);

//  The pairs and the revision of a range reply: fresh, or NULL when it is
//  not that shape
shic_etcd_kvs_t *
    shic_etcd_kvs_from_reply (const shic_val_t *reply);

//  A watch with no connection, whose stream the caller feeds: bytes as
//  they would arrive (in any cuts), then the end of the stream.
//  shic_etcd_watch_next reads it as it reads a real one.
shic_etcd_watch_t *
    shic_etcd_watch_new_fed (void);

void
    shic_etcd_watch_feed (shic_etcd_watch_t *self, const void *data, size_t size);

void
    shic_etcd_watch_feed_end (shic_etcd_watch_t *self);

#endif
