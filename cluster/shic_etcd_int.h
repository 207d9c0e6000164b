/*  =========================================================================
    shic_etcd_int - what shic_etcd's three files share, and lend its test

    shic_etcd is one class in three files: shic_etcd.c (the blocking calls,
    the members and curl's options), shic_etcd_watch.c (the watch stream)
    and shic_etcd_codec.c (the parsers of replies and pairs, and base64).
    The parsers, the base64 codec and the fed watch are here also so that
    tests/shic_etcd_test.c and fuzz/fuzz_etcd.c can feed them bytes without
    a server. The cluster actor uses shic_etcd.h only.
    =========================================================================
*/

#ifndef SHIC_ETCD_INT_H_INCLUDED
#define SHIC_ETCD_INT_H_INCLUDED

#include <curl/curl.h>
#include "shic_etcd.h"

//  The most a reply, or one line of the watch stream, may hold
#define SHIC_ETCD_REPLY_MAX (4 * 1024 * 1024)
#define SHIC_ETCD_URL_MAX 256       //  characters of one member's URL
#define SHIC_ETCD_PATH_MAX 32       //  characters of "/v3/..." (the longest is 20)

//  (Base64 of bytes, as etcd reads it: shic_json_base64)

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

//  --------------------------------------------------------------------------
//  What shic_etcd.c lends the other files of the class

//  Runs curl_global_init once per process, for the calls and the watch;
//  true when it succeeded
bool
    shic_etcd_curl_ready (void);

//  Splits "http://a:1, http://b:2" into a fresh list; -1 with err when a
//  member is not an http(s) URL
int
    shic_etcd_urls_parse (const char *text, char ***urls_p, size_t *count_p, shic_error_t *err);

//  Frees a list of count members and nulls *urls_p
void
    shic_etcd_urls_destroy (char ***urls_p, size_t count);

//  The headers of every POST: JSON, and no "Expect: 100-continue" round trip
struct curl_slist *
    shic_etcd_headers_new (void);

//  Options both kinds of handle share
void
    shic_etcd_easy_setup (CURL *curl, struct curl_slist *headers, char *errbuf);

//  Sets key to an int64 as the gateway writes it (a decimal string)
int
    shic_etcd_set_int64 (shic_val_t *request, const char *key, int64_t value);

//  Sets key and, for a prefix, range_end: the key with its last byte below
//  0xff raised by one and what follows dropped ("\0", every key, when
//  there is none)
int
    shic_etcd_set_range (shic_val_t *request, const char *key, bool prefix);

//  What shic_etcd_codec.c lends them

//  An int64 field: a decimal string (the gateway's way) or a number; an
//  absent field is 0 (the gateway leaves zeros out). -1 when malformed.
int
    shic_etcd_int64 (const shic_val_t *val, int64_t *result);

//  A lease id field (decimal string) into id [24]; absent or "0" is ""
int
    shic_etcd_lease_field (const shic_val_t *val, char *id);

//  Sets err to SHIC_E_MALFORMED with details {etcd: url}
void
    shic_etcd_malformed (shic_error_t *err, const char *url, const char *what);

//  Sets err to SHIC_E_INSTANCE_UNAVAILABLE with details {etcd: url}
void
    shic_etcd_unavailable (shic_error_t *err, const char *url, const char *why);

#endif
