/*  =========================================================================
    shic_etcd - the one class that speaks to etcd (v3 JSON gateway, 3.4)

    This file holds the blocking calls and their HTTP plumbing (the
    members, curl's options, the POSTs); shic_etcd_watch.c has the watch
    stream and shic_etcd_codec.c the parsers of replies and base64, with
    what the three share in shic_etcd_int.h.

    Blocking calls POST JSON to /v3/... through one easy handle per object,
    so consecutive calls (keep-alives every TTL/3) reuse one connection.
    Each call has timeout_ms in all: it tries the member that answered last,
    then the others in turn, while time is left. A member that cannot be
    reached, answers something that is not etcd's JSON, or says it cannot
    serve now (unavailable, no leader) passes the call to the next; the
    store's own answer (lease not found, a compacted revision) is final.
    A call sent to one member and timed out may still have been applied:
    puts are idempotent, a create that was applied shows its caller as the
    holder, and a granted lease nobody keeps alive expires.
    =========================================================================
*/

#include <czmq.h>
#include <curl/curl.h>
#include <pthread.h>

#include "shic_json.h"
#include "shic_etcd.h"
#include "shic_etcd_int.h"

#define S_URLS_MAX 16               //  members in one list
#define S_ID_MAX 20                 //  digits of a lease id (int64)

//  curl_global_init, once per process (backends/shic_http.c does the same
//  for its handles; curl counts the calls)
static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static bool s_curl_ready = false;

static void
s_curl_setup (void)
{
    s_curl_ready = curl_global_init (CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

//  Runs curl_global_init once per process, for the calls and the watch;
//  true when it succeeded
bool
shic_etcd_curl_ready (void)
{
    pthread_once (&s_once, s_curl_setup);
    return s_curl_ready;
}

//  A reply being received, bounded
typedef struct {
    char *data;                     //  bytes kept
    size_t size;                    //  how many
    size_t capacity;                //  bytes allocated
    bool too_large;                 //  over SHIC_ETCD_REPLY_MAX: the transfer stopped
    bool no_memory;                 //  growing failed: the transfer stopped
} s_body_t;

struct _shic_etcd_t {
    char **urls;                    //  the members, as "http://host:port"
    size_t url_count;               //  how many
    size_t current;                 //  the one that answered last, tried first
    int timeout_ms;                 //  what each call may take in all
    CURL *curl;                     //  easy handle, its connection kept alive
    struct curl_slist *headers;     //  Content-Type and an empty Expect:
    s_body_t body;                  //  the reply being received
    char errbuf [CURL_ERROR_SIZE];  //  curl's words for the last failure
};


//  --------------------------------------------------------------------------
//  Members

void
shic_etcd_urls_destroy (char ***urls_p, size_t count)
{
    char **urls = *urls_p;
    if (urls) {
        for (size_t index = 0; index < count; index++)
            free (urls [index]);
        free (urls);
        *urls_p = NULL;
    }
}

//  Splits "http://a:1, http://b:2" into a fresh list; -1 with err when a
//  member is not an http(s) URL
int
shic_etcd_urls_parse (const char *text, char ***urls_p, size_t *count_p, shic_error_t *err)
{
    *urls_p = NULL;
    *count_p = 0;
    char **urls = (char **) calloc (S_URLS_MAX, sizeof (char *));
    if (!urls) {
        shic_error_set (err, SHIC_E_INTERNAL, NULL, "etcd: out of memory");
        return -1;
    }
    size_t count = 0;
    const char *cursor = text? text: "";
    bool ok = true;
    while (ok) {
        cursor += strspn (cursor, " \t");
        size_t length = strcspn (cursor, ",");
        size_t trimmed = length;
        while (trimmed > 0 && strchr (" \t/", cursor [trimmed - 1]))
            trimmed--;
        bool http = (trimmed > 7 && strncmp (cursor, "http://", 7) == 0)
                 || (trimmed > 8 && strncmp (cursor, "https://", 8) == 0);
        ok = http && trimmed <= SHIC_ETCD_URL_MAX && count < S_URLS_MAX
          && strcspn (cursor, " \t\r\n") >= trimmed;
        if (ok) {
            urls [count] = strndup (cursor, trimmed);
            ok = urls [count++] != NULL;
        }
        if (!ok || cursor [length] != ',')
            break;
        cursor += length + 1;
    }
    if (!ok || count == 0) {
        shic_etcd_urls_destroy (&urls, count);
        shic_error_set_field (err, SHIC_E_INVALID_ARGS, "urls",
                              "etcd: '%.200s' is not a list of up to %d http:// URLs",
                              text? text: "", S_URLS_MAX);
        return -1;
    }
    *urls_p = urls;
    *count_p = count;
    return 0;
}

//  The headers of every POST: JSON, and no "Expect: 100-continue" round trip
struct curl_slist *
shic_etcd_headers_new (void)
{
    struct curl_slist *list = curl_slist_append (NULL, "Content-Type: application/json");
    struct curl_slist *grown = list? curl_slist_append (list, "Expect:"): NULL;
    if (!grown)
        curl_slist_free_all (list);
    return grown;
}

//  Options both kinds of handle share
void
shic_etcd_easy_setup (CURL *curl, struct curl_slist *headers, char *errbuf)
{
    curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt (curl, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt (curl, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt (curl, CURLOPT_USERAGENT, "shic");
    curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt (curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt (curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt (curl, CURLOPT_TCP_KEEPIDLE, 10L);
    curl_easy_setopt (curl, CURLOPT_TCP_KEEPINTVL, 5L);
}


//  --------------------------------------------------------------------------
//  The blocking object

//  curl write callback: keeps up to SHIC_ETCD_REPLY_MAX bytes; more ends
//  the transfer
static size_t
s_body_write (char *data, size_t size, size_t nmemb, void *arg)
{
    s_body_t *body = (s_body_t *) arg;
    size_t bytes = size * nmemb;
    if (bytes > SHIC_ETCD_REPLY_MAX - body->size) {
        body->too_large = true;
        return 0;
    }
    if (body->size + bytes > body->capacity) {
        size_t capacity = body->capacity? body->capacity: 4096;
        while (capacity < body->size + bytes)
            capacity *= 2;
        char *grown = (char *) realloc (body->data, capacity);
        if (!grown) {
            body->no_memory = true;
            return 0;
        }
        body->data = grown;
        body->capacity = capacity;
    }
    memcpy (body->data + body->size, data, bytes);
    body->size += bytes;
    return bytes;
}

shic_etcd_t *
shic_etcd_new (const char *urls, int timeout_ms, shic_error_t *err)
{
    if (timeout_ms <= 0) {
        shic_error_set_field (err, SHIC_E_INVALID_ARGS, "timeout_ms",
                              "etcd: timeout_ms must be positive, not %d", timeout_ms);
        return NULL;
    }
    pthread_once (&s_once, s_curl_setup);
    shic_etcd_t *self = (shic_etcd_t *) calloc (1, sizeof (shic_etcd_t));
    if (!self) {
        shic_error_set (err, SHIC_E_INTERNAL, NULL, "etcd: out of memory");
        return NULL;
    }
    if (shic_etcd_urls_parse (urls, &self->urls, &self->url_count, err)) {
        free (self);
        return NULL;
    }
    self->timeout_ms = timeout_ms;
    self->curl = s_curl_ready? curl_easy_init (): NULL;
    self->headers = shic_etcd_headers_new ();
    if (!self->curl || !self->headers) {
        shic_etcd_destroy (&self);
        shic_error_set (err, SHIC_E_INTERNAL, NULL, "etcd: curl cannot be set up");
        return NULL;
    }
    shic_etcd_easy_setup (self->curl, self->headers, self->errbuf);
    curl_easy_setopt (self->curl, CURLOPT_WRITEFUNCTION, s_body_write);
    curl_easy_setopt (self->curl, CURLOPT_WRITEDATA, &self->body);
    return self;
}

void
shic_etcd_destroy (shic_etcd_t **self_p)
{
    assert (self_p);
    shic_etcd_t *self = *self_p;
    if (self) {
        if (self->curl)
            curl_easy_cleanup (self->curl);
        curl_slist_free_all (self->headers);
        shic_etcd_urls_destroy (&self->urls, self->url_count);
        free (self->body.data);
        free (self);
        *self_p = NULL;
    }
}

const char *
shic_etcd_url (shic_etcd_t *self)
{
    assert (self);
    return self->urls [self->current];
}

//  One POST of json to member index, with left ms in all (connect within
//  connect_ms): 0 and *reply_p, or -1 and err (*retry: try another)
static int
s_post (shic_etcd_t *self, size_t index, const char *path, const char *json,
        int64_t left, int64_t connect_ms, shic_val_t **reply_p, bool *retry,
        shic_error_t *err)
{
    const char *member = self->urls [index];
    char url [SHIC_ETCD_URL_MAX + SHIC_ETCD_PATH_MAX];
    snprintf (url, sizeof (url), "%s%s", member, path);
    self->body.size = 0;
    self->body.too_large = false;
    self->body.no_memory = false;
    self->errbuf [0] = 0;
    curl_easy_setopt (self->curl, CURLOPT_URL, url);
    curl_easy_setopt (self->curl, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt (self->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen (json));
    curl_easy_setopt (self->curl, CURLOPT_TIMEOUT_MS, (long) left);
    curl_easy_setopt (self->curl, CURLOPT_CONNECTTIMEOUT_MS, (long) connect_ms);
    CURLcode code = curl_easy_perform (self->curl);
    *retry = true;
    if (self->body.no_memory) {
        *retry = false;
        shic_error_set (err, SHIC_E_INTERNAL, NULL, "etcd: out of memory for a reply");
        return -1;
    }
    if (self->body.too_large) {
        shic_etcd_malformed (err, member, "a reply over 4 MiB");
        return -1;
    }
    if (code != CURLE_OK) {
        shic_etcd_unavailable (err, member,
                               self->errbuf [0]? self->errbuf: curl_easy_strerror (code));
        return -1;
    }
    long status = 0;
    curl_easy_getinfo (self->curl, CURLINFO_RESPONSE_CODE, &status);
    return shic_etcd_reply_parse (self->body.data, self->body.size, status, member,
                                  reply_p, retry, err);
}

//  POSTs *request_p (taken) to path at the members in turn, until one
//  answers or the call's time is spent: the reply (fresh), or NULL and err
static shic_val_t *
s_call (shic_etcd_t *self, const char *path, shic_val_t **request_p, shic_error_t *err)
{
    char *json = shic_val_to_json (*request_p);
    shic_val_destroy (request_p);
    if (!json) {
        shic_error_set (err, SHIC_E_INTERNAL, NULL, "etcd: out of memory");
        return NULL;
    }
    int64_t deadline = zclock_mono () + self->timeout_ms;
    shic_error_t last = { NULL, NULL, NULL };
    shic_val_t *reply = NULL;
    for (size_t tried = 0; tried < self->url_count; tried++) {
        size_t index = (self->current + tried) % self->url_count;
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            break;
        //  A member that does not accept leaves time for the others
        int64_t connect_ms = left / (int64_t) (self->url_count - tried);
        if (connect_ms < 200)
            connect_ms = left < 200? left: 200;
        bool retry;
        int rc = s_post (self, index, path, json, left, connect_ms, &reply, &retry, &last);
        if (rc == 0 || !retry) {
            self->current = index;
            break;
        }
    }
    free (json);
    //  A large range leaves a large buffer: not kept for the keep-alives
    if (self->body.capacity > 65536) {
        free (self->body.data);
        memset (&self->body, 0, sizeof (s_body_t));
    }
    if (reply) {
        shic_error_clear (&last);
        return reply;
    }
    if (!last.code)
        shic_etcd_unavailable (&last, self->urls [self->current], "no time left to ask");
    if (err)
        shic_error_move (err, &last);
    else
        shic_error_clear (&last);
    return NULL;
}

//  Sets key to the base64 of size bytes; -1 when memory ran out
static int
s_set_base64 (shic_val_t *request, const char *key, const void *data, size_t size)
{
    char *text = shic_json_base64 (data, size);
    int rc = text? shic_val_set_str (request, key, text): -1;
    free (text);
    return rc;
}

//  Sets key to an int64 as the gateway writes it (a decimal string)
int
shic_etcd_set_int64 (shic_val_t *request, const char *key, int64_t value)
{
    char text [24];
    snprintf (text, sizeof (text), "%" PRId64, value);
    return shic_val_set_str (request, key, text);
}

//  Sets key and, for a prefix, range_end: the key with its last byte below
//  0xff raised by one and what follows dropped ("\0", every key, when
//  there is none)
int
shic_etcd_set_range (shic_val_t *request, const char *key, bool prefix)
{
    size_t size = strlen (key);
    if (s_set_base64 (request, "key", key, size))
        return -1;
    if (!prefix)
        return 0;
    char *end = (char *) malloc (size + 1);
    if (!end)
        return -1;
    memcpy (end, key, size);
    while (size > 0 && (uint8_t) end [size - 1] == 0xff)
        size--;
    if (size > 0)
        end [size - 1] = (char) ((uint8_t) end [size - 1] + 1);
    else
        end [size++] = 0;
    int rc = s_set_base64 (request, "range_end", end, size);
    free (end);
    return rc;
}

//  A fresh map, or NULL with err set
static shic_val_t *
s_request_new (shic_error_t *err)
{
    shic_val_t *request = shic_val_new_map ();
    if (!request)
        shic_error_set (err, SHIC_E_INTERNAL, NULL, "etcd: out of memory");
    return request;
}

//  Checks a key argument; -1 with err
static int
s_key_check (const char *key, shic_error_t *err)
{
    if (key && *key)
        return 0;
    shic_error_set_field (err, SHIC_E_INVALID_ARGS, "key", "etcd: a key must not be empty");
    return -1;
}

//  True when id is a lease id a caller may send: 1 to 20 digits
static bool
s_lease_valid (const char *id)
{
    size_t length = id? strlen (id): 0;
    return length > 0 && length <= S_ID_MAX && strspn (id, "0123456789") == length;
}

//  Checks a lease argument (NULL or "" for none when optional); -1 with err
static int
s_lease_check (const char *lease, bool optional, shic_error_t *err)
{
    if ((optional && (!lease || !*lease)) || s_lease_valid (lease))
        return 0;
    shic_error_set_field (err, SHIC_E_INVALID_ARGS, "lease",
                          "etcd: '%.40s' is not a lease id", lease? lease: "");
    return -1;
}

//  A put of key = value under lease, as a request of its own or inside a txn
static shic_val_t *
s_put_new (const char *key, const void *value, size_t size, const char *lease)
{
    shic_val_t *put = shic_val_new_map ();
    if (s_set_base64 (put, "key", key, strlen (key))
    ||  s_set_base64 (put, "value", value? value: "", value? size: 0)
    ||  (lease && *lease && shic_val_set_str (put, "lease", lease)))
        shic_val_destroy (&put);
    return put;
}

//  Malformed reply to a call: err, the reply destroyed, -1
static int
s_bad_reply (shic_etcd_t *self, shic_val_t **reply_p, const char *what, shic_error_t *err)
{
    shic_val_destroy (reply_p);
    shic_etcd_malformed (err, shic_etcd_url (self), what);
    return -1;
}

int
shic_etcd_lease_grant (shic_etcd_t *self, int64_t ttl_s, char *id, size_t id_max,
                       shic_error_t *err)
{
    assert (self);
    assert (id && id_max >= 24);
    id [0] = 0;
    if (ttl_s <= 0) {
        shic_error_set_field (err, SHIC_E_INVALID_ARGS, "ttl", "etcd: a lease needs a TTL");
        return -1;
    }
    shic_val_t *request = s_request_new (err);
    if (!request)
        return -1;
    shic_etcd_set_int64 (request, "TTL", ttl_s);
    shic_val_t *reply = s_call (self, "/v3/lease/grant", &request, err);
    if (!reply)
        return -1;
    const char *error = shic_val_str (shic_val_get (reply, "error"));
    if (error && *error) {
        shic_val_t *details = shic_val_new_map ();
        shic_val_set_str (details, "etcd", shic_etcd_url (self));
        shic_val_set_str (details, "error", error);
        shic_error_set (err, SHIC_E_INTERNAL, &details, "etcd at %s: %.200s",
                        shic_etcd_url (self), error);
        shic_val_destroy (&reply);
        return -1;
    }
    char granted [24];
    if (shic_etcd_lease_field (shic_val_get (reply, "ID"), granted) || !*granted)
        return s_bad_reply (self, &reply, "a lease grant without an ID", err);
    snprintf (id, id_max, "%s", granted);
    shic_val_destroy (&reply);
    return 0;
}

//  {ID: id} to one of the lease calls; its reply, or NULL (err set)
static shic_val_t *
s_lease_call (shic_etcd_t *self, const char *path, const char *id, shic_error_t *err)
{
    if (s_lease_check (id, false, err))
        return NULL;
    shic_val_t *request = s_request_new (err);
    if (!request)
        return NULL;
    shic_val_set_str (request, "ID", id);
    return s_call (self, path, &request, err);
}

int
shic_etcd_lease_keepalive (shic_etcd_t *self, const char *id, int64_t *ttl_left,
                           shic_error_t *err)
{
    assert (self);
    assert (ttl_left);
    *ttl_left = 0;
    shic_val_t *reply = s_lease_call (self, "/v3/lease/keepalive", id, err);
    if (!reply)
        return -1;
    //  A lease that is gone answers no TTL: 0
    if (shic_etcd_int64 (shic_val_get (reply, "TTL"), ttl_left) || *ttl_left < 0)
        return s_bad_reply (self, &reply, "a keep-alive with a TTL that is no number", err);
    shic_val_destroy (&reply);
    return 0;
}

int
shic_etcd_lease_revoke (shic_etcd_t *self, const char *id, shic_error_t *err)
{
    assert (self);
    shic_val_t *reply = s_lease_call (self, "/v3/lease/revoke", id, err);
    if (!reply)
        return -1;
    shic_val_destroy (&reply);
    return 0;
}

int
shic_etcd_put (shic_etcd_t *self, const char *key, const void *value, size_t size,
               const char *lease, shic_error_t *err)
{
    assert (self);
    if (s_key_check (key, err) || s_lease_check (lease, true, err))
        return -1;
    shic_val_t *request = s_put_new (key, value, size, lease);
    if (!request) {
        shic_error_set (err, SHIC_E_INTERNAL, NULL, "etcd: out of memory");
        return -1;
    }
    shic_val_t *reply = s_call (self, "/v3/kv/put", &request, err);
    if (!reply)
        return -1;
    shic_val_destroy (&reply);
    return 0;
}

//  A request naming key, or every key under it (prefix); NULL with err
static shic_val_t *
s_range_request (const char *key, bool prefix, shic_error_t *err)
{
    shic_val_t *request = s_request_new (err);
    if (request && shic_etcd_set_range (request, key, prefix)) {
        shic_val_destroy (&request);
        shic_error_set (err, SHIC_E_INTERNAL, NULL, "etcd: out of memory");
    }
    return request;
}

int
shic_etcd_delete (shic_etcd_t *self, const char *key, bool prefix, shic_error_t *err)
{
    assert (self);
    if (s_key_check (key, err))
        return -1;
    shic_val_t *request = s_range_request (key, prefix, err);
    if (!request)
        return -1;
    shic_val_t *reply = s_call (self, "/v3/kv/deleterange", &request, err);
    if (!reply)
        return -1;
    shic_val_destroy (&reply);
    return 0;
}

//  A transaction on one key: compare target (CREATE or MOD) with revision;
//  success is the operation (taken), failure a range of the key when
//  with_range. The reply (fresh) with *succeeded, or NULL with err.
static shic_val_t *
s_txn (shic_etcd_t *self, const char *key, const char *target, int64_t revision,
       shic_val_t **success_p, bool with_range, bool *succeeded, shic_error_t *err)
{
    *succeeded = false;
    shic_val_t *compare = shic_val_new_map ();
    s_set_base64 (compare, "key", key, strlen (key));
    shic_val_set_str (compare, "target", target);
    shic_val_set_str (compare, "result", "EQUAL");
    shic_etcd_set_int64 (compare, streq (target, "CREATE")? "create_revision": "mod_revision",
                         revision);
    shic_val_t *compares = shic_val_new_array ();
    shic_val_push (compares, &compare);
    shic_val_t *successes = shic_val_new_array ();
    shic_val_push (successes, success_p);
    shic_val_t *request = shic_val_new_map ();
    shic_val_set (request, "compare", &compares);
    shic_val_set (request, "success", &successes);
    if (with_range) {
        shic_val_t *range = shic_val_new_map ();
        s_set_base64 (range, "key", key, strlen (key));
        shic_val_t *operation = shic_val_new_map ();
        shic_val_set (operation, "request_range", &range);
        shic_val_t *failures = shic_val_new_array ();
        shic_val_push (failures, &operation);
        shic_val_set (request, "failure", &failures);
    }
    shic_val_t *reply = s_call (self, "/v3/kv/txn", &request, err);
    if (!reply)
        return NULL;
    //  A transaction that failed has no "succeeded" (false is left out)
    const shic_val_t *flag = shic_val_get (reply, "succeeded");
    if (flag && !shic_val_is (flag, SHIC_VAL_BOOL)) {
        s_bad_reply (self, &reply, "a transaction without a boolean outcome", err);
        return NULL;
    }
    *succeeded = shic_val_bool (flag);
    return reply;
}

//  The operation carrying key = value under lease for a txn, or NULL with err
static shic_val_t *
s_put_operation (const char *key, const void *value, size_t size, const char *lease,
                 shic_error_t *err)
{
    shic_val_t *put = s_put_new (key, value, size, lease);
    shic_val_t *operation = put? shic_val_new_map (): NULL;
    if (!operation || shic_val_set (operation, "request_put", &put)) {
        shic_val_destroy (&put);
        shic_val_destroy (&operation);
        shic_error_set (err, SHIC_E_INTERNAL, NULL, "etcd: out of memory");
    }
    return operation;
}

int
shic_etcd_create (shic_etcd_t *self, const char *key, const void *value, size_t size,
                  const char *lease, bool *created, shic_etcd_kv_t **holder,
                  shic_error_t *err)
{
    assert (self);
    assert (created);
    *created = false;
    if (holder)
        *holder = NULL;
    if (s_key_check (key, err) || s_lease_check (lease, true, err))
        return -1;
    shic_val_t *operation = s_put_operation (key, value, size, lease, err);
    if (!operation)
        return -1;
    shic_val_t *reply = s_txn (self, key, "CREATE", 0, &operation, holder != NULL, created, err);
    if (!reply)
        return -1;
    if (!*created && holder) {
        //  responses [0].response_range.kvs [0]: who holds it (gone since
        //  the compare: none)
        const shic_val_t *range = shic_val_path (shic_val_at (shic_val_get (reply, "responses"), 0),
                                                 "response_range");
        if (!shic_val_is (range, SHIC_VAL_MAP))
            return s_bad_reply (self, &reply, "a failed create without the range of its key", err);
        const shic_val_t *kvs = shic_val_get (range, "kvs");
        if (kvs && !shic_val_is (kvs, SHIC_VAL_ARRAY))
            return s_bad_reply (self, &reply, "a range whose kvs are not a list", err);
        if (shic_val_size (kvs) > 0) {
            *holder = shic_etcd_kv_from_val (shic_val_at (kvs, 0));
            if (!*holder)
                return s_bad_reply (self, &reply, "a pair that is not etcd's shape", err);
        }
    }
    shic_val_destroy (&reply);
    return 0;
}

int
shic_etcd_replace (shic_etcd_t *self, const char *key, int64_t mod_revision,
                   const void *value, size_t size, const char *lease, bool *done,
                   shic_error_t *err)
{
    assert (self);
    assert (done);
    *done = false;
    if (s_key_check (key, err) || s_lease_check (lease, true, err))
        return -1;
    shic_val_t *operation = s_put_operation (key, value, size, lease, err);
    if (!operation)
        return -1;
    shic_val_t *reply = s_txn (self, key, "MOD", mod_revision, &operation, false, done, err);
    if (!reply)
        return -1;
    shic_val_destroy (&reply);
    return 0;
}

int
shic_etcd_delete_if (shic_etcd_t *self, const char *key, int64_t mod_revision, bool *done,
                     shic_error_t *err)
{
    assert (self);
    assert (done);
    *done = false;
    if (s_key_check (key, err))
        return -1;
    shic_val_t *range = shic_val_new_map ();
    shic_val_t *operation = shic_val_new_map ();
    if (s_set_base64 (range, "key", key, strlen (key))
    ||  shic_val_set (operation, "request_delete_range", &range)) {
        shic_val_destroy (&range);
        shic_val_destroy (&operation);
        shic_error_set (err, SHIC_E_INTERNAL, NULL, "etcd: out of memory");
        return -1;
    }
    shic_val_t *reply = s_txn (self, key, "MOD", mod_revision, &operation, false, done, err);
    if (!reply)
        return -1;
    shic_val_destroy (&reply);
    return 0;
}

int
shic_etcd_range (shic_etcd_t *self, const char *key, bool prefix, shic_etcd_kvs_t **kvs,
                 shic_error_t *err)
{
    assert (self);
    assert (kvs);
    *kvs = NULL;
    if (s_key_check (key, err))
        return -1;
    shic_val_t *request = s_range_request (key, prefix, err);
    if (!request)
        return -1;
    shic_val_t *reply = s_call (self, "/v3/kv/range", &request, err);
    if (!reply)
        return -1;
    *kvs = shic_etcd_kvs_from_reply (reply);
    if (!*kvs)
        return s_bad_reply (self, &reply, "a range that is not etcd's shape", err);
    shic_val_destroy (&reply);
    return 0;
}

int
shic_etcd_compact (shic_etcd_t *self, int64_t revision, shic_error_t *err)
{
    assert (self);
    if (revision <= 0) {
        shic_error_set_field (err, SHIC_E_INVALID_ARGS, "revision",
                              "etcd: compact needs a revision");
        return -1;
    }
    shic_val_t *request = s_request_new (err);
    if (!request)
        return -1;
    shic_etcd_set_int64 (request, "revision", revision);
    //  Physical: the reply comes when the old revisions are gone
    shic_val_set_bool (request, "physical", true);
    shic_val_t *reply = s_call (self, "/v3/kv/compaction", &request, err);
    if (!reply)
        return -1;
    shic_val_destroy (&reply);
    return 0;
}
