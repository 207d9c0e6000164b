/*  =========================================================================
    shic_etcd - the one class that speaks to etcd (v3 JSON gateway, 3.4)

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

    The watch has its own multi handle and one connection: the gateway
    streams one JSON object per line, which the caller's poll loop reads
    without blocking (the socket and the timer come from curl's socket and
    timer callbacks). Memory stays bounded without pausing curl: the
    stream is read only when no whole line is waiting, and the line being
    received may not pass SHIC_ETCD_REPLY_MAX.
    =========================================================================
*/

#include <czmq.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>

#include "shic_json.h"
#include "shic_etcd.h"
#include "shic_etcd_int.h"

#define S_URLS_MAX 16               //  members in one list
#define S_URL_MAX 256               //  characters of one member's URL
#define S_PATH_MAX 32               //  characters of "/v3/..." (the longest is 20)
#define S_ID_MAX 20                 //  digits of a lease id (int64)
#define S_WATCH_CONNECT_MS 2000     //  a member that does not accept by then is skipped
#define S_WATCH_CREATE_MS 5000      //  nor one that has not confirmed the watch by then
#define S_WATCH_SOCKETS 4           //  sockets curl may hold while connecting
#define S_WATCH_CONNECTING_MS 10    //  how often to drive curl while it writes, not reads

//  curl_global_init, once per process (backends/shic_http.c does the same
//  for its handles; curl counts the calls)
static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static bool s_curl_ready = false;

static void
s_curl_setup (void)
{
    s_curl_ready = curl_global_init (CURL_GLOBAL_DEFAULT) == CURLE_OK;
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

//  A socket curl asked us to watch
typedef struct {
    curl_socket_t fd;               //  the socket
    int what;                       //  CURL_POLL_IN, _OUT or _INOUT
} s_socket_t;

struct _shic_etcd_watch_t {
    char **urls;                    //  the members; NULL when fed by hand
    size_t url_count;               //  how many
    size_t current;                 //  the member streaming now
    size_t tried;                   //  members tried before the watch was created
    char *request;                  //  the create_request, JSON
    CURLM *multi;                   //  the multi handle; NULL when fed by hand
    CURL *easy;                     //  the stream's transfer
    bool attached;                  //  easy is in multi
    struct curl_slist *headers;     //  Content-Type and an empty Expect:
    s_socket_t sockets [S_WATCH_SOCKETS];  //  what curl asked us to watch
    size_t socket_count;            //  how many
    int64_t timer_at;               //  when curl wants its timeout action; -1 none
    int64_t create_by;              //  a member not confirming by then is given up
    long status;                    //  HTTP status of the stream; 0 before it came
    bool overflow;                  //  a line passed SHIC_ETCD_REPLY_MAX
    char *buffer;                   //  stream bytes; unread ones from start to size
    size_t start;                   //  the first unread byte
    size_t size;                    //  bytes held
    size_t capacity;                //  bytes allocated
    size_t scan;                    //  no newline between start and scan
    size_t tail;                    //  bytes after the last newline received
    shic_val_t *events;             //  a response's events not handed out yet
    size_t next_event;              //  the first of them
    bool created;                   //  the member confirmed the watch
    bool ended;                     //  no more bytes will come
    bool finished;                  //  DOWN or COMPACTED handed out: nothing more
    shic_error_t error;             //  why the stream ended, for DOWN
    char errbuf [CURL_ERROR_SIZE];  //  curl's words for the last failure
};


//  --------------------------------------------------------------------------
//  Base64, as etcd's gateway has it (Go's StdEncoding: padded, strict)

static const char s_alphabet [] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
shic_etcd_base64_encode (const void *data, size_t size)
{
    const uint8_t *bytes = (const uint8_t *) data;
    if (size > (SIZE_MAX - 1) / 4 * 3 - 3)
        return NULL;
    char *text = (char *) malloc ((size + 2) / 3 * 4 + 1);
    if (!text)
        return NULL;
    char *out = text;
    size_t index;
    for (index = 0; index < size; index += 3) {
        uint32_t chunk = (uint32_t) bytes [index] << 16;
        if (index + 1 < size)
            chunk |= (uint32_t) bytes [index + 1] << 8;
        if (index + 2 < size)
            chunk |= bytes [index + 2];
        *out++ = s_alphabet [(chunk >> 18) & 63];
        *out++ = s_alphabet [(chunk >> 12) & 63];
        *out++ = index + 1 < size? s_alphabet [(chunk >> 6) & 63]: '=';
        *out++ = index + 2 < size? s_alphabet [chunk & 63]: '=';
    }
    *out = 0;
    return text;
}

//  The value of one base64 character, or -1
static int
s_sextet (char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int
shic_etcd_base64_decode (const char *text, size_t length, char **data_p, size_t *size_p)
{
    *data_p = NULL;
    *size_p = 0;
    if (!text || length % 4 != 0)
        return -1;
    char *data = (char *) malloc (length / 4 * 3 + 1);
    if (!data)
        return -1;
    size_t size = 0;
    size_t index;
    for (index = 0; index < length; index += 4) {
        bool last = index + 4 == length;
        int a = s_sextet (text [index]);
        int b = s_sextet (text [index + 1]);
        int c = s_sextet (text [index + 2]);
        int d = s_sextet (text [index + 3]);
        //  Padding only at the very end: "xx==" or "xxx="
        bool pad_c = last && text [index + 2] == '=' && text [index + 3] == '=';
        bool pad_d = last && text [index + 3] == '=';
        if (a < 0 || b < 0 || (c < 0 && !pad_c) || (d < 0 && !pad_d)) {
            free (data);
            return -1;
        }
        uint32_t chunk = (uint32_t) a << 18 | (uint32_t) b << 12;
        if (!pad_c)
            chunk |= (uint32_t) c << 6;
        if (!pad_d)
            chunk |= (uint32_t) d;
        //  Bits a padded encoding leaves out must be zero (Go is strict)
        if ((pad_c && (chunk & 0xffff)) || (pad_d && (chunk & 0xff))) {
            free (data);
            return -1;
        }
        data [size++] = (char) (chunk >> 16);
        if (!pad_c)
            data [size++] = (char) (chunk >> 8);
        if (!pad_d)
            data [size++] = (char) chunk;
    }
    data [size] = 0;
    *data_p = data;
    *size_p = size;
    return 0;
}


//  --------------------------------------------------------------------------
//  Fields of etcd's JSON

//  An int64 field: a decimal string (the gateway's way) or a number; an
//  absent field is 0 (the gateway leaves zeros out). -1 when malformed.
static int
s_int64 (const shic_val_t *val, int64_t *result)
{
    *result = 0;
    if (!val)
        return 0;
    if (shic_val_is (val, SHIC_VAL_INT)) {
        *result = shic_val_int (val);
        return 0;
    }
    const char *text = shic_val_str (val);
    if (!text || shic_val_len (val) != strlen (text) || shic_val_len (val) > 20)
        return -1;
    const char *digits = text [0] == '-'? text + 1: text;
    if (!*digits || strspn (digits, "0123456789") != strlen (digits))
        return -1;
    errno = 0;
    long long number = strtoll (text, NULL, 10);
    if (errno)
        return -1;
    *result = (int64_t) number;
    return 0;
}

//  A lease id field (decimal string) into id [24]; absent or "0" is ""
static int
s_lease_field (const shic_val_t *val, char *id)
{
    int64_t number;
    if (s_int64 (val, &number) || number < 0)
        return -1;
    if (number == 0)
        id [0] = 0;
    else
        snprintf (id, 24, "%" PRId64, number);
    return 0;
}

//  True when id is a lease id a caller may send: 1 to 20 digits
static bool
s_lease_valid (const char *id)
{
    size_t length = id? strlen (id): 0;
    return length > 0 && length <= S_ID_MAX && strspn (id, "0123456789") == length;
}

//  Frees what a pair holds, not the pair
static void
s_kv_clear (shic_etcd_kv_t *kv)
{
    free (kv->key);
    free (kv->value);
    memset (kv, 0, sizeof (shic_etcd_kv_t));
}

//  Reads a pair into *kv (zeroed first); -1 when it is not that shape
static int
s_kv_read (const shic_val_t *val, shic_etcd_kv_t *kv)
{
    memset (kv, 0, sizeof (shic_etcd_kv_t));
    if (!shic_val_is (val, SHIC_VAL_MAP))
        return -1;
    const shic_val_t *key = shic_val_get (val, "key");
    const shic_val_t *value = shic_val_get (val, "value");
    if (!shic_val_is (key, SHIC_VAL_STR) || (value && !shic_val_is (value, SHIC_VAL_STR)))
        return -1;
    size_t key_size;
    if (shic_etcd_base64_decode (shic_val_bin (key), shic_val_len (key), &kv->key, &key_size)
    ||  key_size == 0
    ||  shic_etcd_base64_decode (value? shic_val_bin (value): "", shic_val_len (value),
                                 &kv->value, &kv->size)
    ||  s_int64 (shic_val_get (val, "create_revision"), &kv->create_revision)
    ||  s_int64 (shic_val_get (val, "mod_revision"), &kv->mod_revision)
    ||  s_int64 (shic_val_get (val, "version"), &kv->version)
    ||  s_lease_field (shic_val_get (val, "lease"), kv->lease)
    ||  kv->create_revision < 0 || kv->mod_revision < 0 || kv->version < 0) {
        s_kv_clear (kv);
        return -1;
    }
    return 0;
}

shic_etcd_kv_t *
shic_etcd_kv_from_val (const shic_val_t *val)
{
    shic_etcd_kv_t *kv = (shic_etcd_kv_t *) malloc (sizeof (shic_etcd_kv_t));
    if (kv && s_kv_read (val, kv)) {
        free (kv);
        kv = NULL;
    }
    return kv;
}

void
shic_etcd_kv_free (shic_etcd_kv_t **kv_p)
{
    assert (kv_p);
    if (*kv_p) {
        s_kv_clear (*kv_p);
        free (*kv_p);
        *kv_p = NULL;
    }
}

//  The store revision of a reply's header; -1 when malformed
static int
s_revision (const shic_val_t *reply, int64_t *revision)
{
    return s_int64 (shic_val_path (reply, "header/revision"), revision);
}

shic_etcd_kvs_t *
shic_etcd_kvs_from_reply (const shic_val_t *reply)
{
    const shic_val_t *items = shic_val_get (reply, "kvs");
    if (items && !shic_val_is (items, SHIC_VAL_ARRAY))
        return NULL;
    shic_etcd_kvs_t *kvs = (shic_etcd_kvs_t *) calloc (1, sizeof (shic_etcd_kvs_t));
    if (!kvs)
        return NULL;
    size_t count = shic_val_size (items);
    kvs->kvs = (shic_etcd_kv_t *) calloc (count? count: 1, sizeof (shic_etcd_kv_t));
    bool ok = kvs->kvs && s_revision (reply, &kvs->revision) == 0;
    for (size_t index = 0; ok && index < count; index++) {
        ok = s_kv_read (shic_val_at (items, index), &kvs->kvs [index]) == 0;
        if (ok)
            kvs->count++;
    }
    if (!ok)
        shic_etcd_kvs_destroy (&kvs);
    return kvs;
}

void
shic_etcd_kvs_destroy (shic_etcd_kvs_t **kvs_p)
{
    assert (kvs_p);
    shic_etcd_kvs_t *kvs = *kvs_p;
    if (kvs) {
        for (size_t index = 0; index < kvs->count; index++)
            s_kv_clear (&kvs->kvs [index]);
        free (kvs->kvs);
        free (kvs);
        *kvs_p = NULL;
    }
}


//  --------------------------------------------------------------------------
//  Replies and errors

//  Sets err to the store's error (gRPC code and message), mapped onto the
//  codes of shic_error.h; *retry when another member may do better
static void
s_store_error (const char *url, int64_t code, const char *message, bool *retry,
               shic_error_t *err)
{
    const char *type = SHIC_E_INTERNAL;
    *retry = false;
    //  Unavailable, deadline exceeded (no leader), cancelled (the member's
    //  gateway closing its connection as it stops)
    if (code == 14 || code == 4 || code == 1) {
        type = SHIC_E_INSTANCE_UNAVAILABLE;
        *retry = true;
    }
    else
    if (code == 5)                  //  not found
        type = strstr (message, "lease")? SHIC_E_LEASE_NOT_FOUND: SHIC_E_NOT_FOUND;
    else
    if (code == 3 || code == 9 || code == 11)
        type = SHIC_E_INVALID_ARGS; //  invalid, failed precondition, out of range
    else
    if (code == 8)                  //  resource exhausted (no space, too many)
        type = SHIC_E_CAPACITY;
    else
    if (code == 7 || code == 16)    //  permission denied, unauthenticated
        type = SHIC_E_FORBIDDEN;
    shic_val_t *details = shic_val_new_map ();
    shic_val_set_str (details, "etcd", url);
    shic_val_set_int (details, "grpc_code", code);
    shic_val_set_str (details, "error", message);
    shic_error_set (err, type, &details, "etcd at %s: %.200s", url, message);
}

//  Sets err to SHIC_E_MALFORMED with details {etcd: url}
static void
s_malformed (shic_error_t *err, const char *url, const char *what)
{
    shic_val_t *details = shic_val_new_map ();
    shic_val_set_str (details, "etcd", url);
    shic_error_set (err, SHIC_E_MALFORMED, &details, "etcd at %s: %s", url, what);
}

//  Sets err to SHIC_E_INSTANCE_UNAVAILABLE with details {etcd: url}
static void
s_unavailable (shic_error_t *err, const char *url, const char *why)
{
    shic_val_t *details = shic_val_new_map ();
    shic_val_set_str (details, "etcd", url);
    shic_error_set (err, SHIC_E_INSTANCE_UNAVAILABLE, &details, "etcd at %s: %s", url, why);
}

int
shic_etcd_reply_parse (const char *body, size_t size, long status, const char *url,
                       shic_val_t **reply_p, bool *retry, shic_error_t *err)
{
    bool ignored;
    if (!retry)
        retry = &ignored;
    *reply_p = NULL;
    *retry = true;
    shic_val_t *tree = body? shic_val_from_json_bytes (body, size, SHIC_ETCD_REPLY_MAX): NULL;
    if (!shic_val_is (tree, SHIC_VAL_MAP)) {
        shic_val_destroy (&tree);
        char what [80];
        snprintf (what, sizeof (what), "HTTP %ld with a body that is not a JSON object", status);
        s_malformed (err, url, what);
        return -1;
    }
    //  The gateway's errors: {"error":"...","code":N} for a call,
    //  {"error":{"grpc_code":N,"message":"..."}} inside a stream
    const shic_val_t *error = shic_val_get (tree, "error");
    const shic_val_t *code = shic_val_get (tree, "code");
    const shic_val_t *message = NULL;
    if (shic_val_is (error, SHIC_VAL_MAP)) {
        code = shic_val_get (error, "grpc_code");
        message = shic_val_get (error, "message");
    }
    else
    if (code)
        message = error;
    if (shic_val_is (error, SHIC_VAL_MAP) || (error && code)) {
        int64_t number;
        if (!shic_val_is (code, SHIC_VAL_INT) || s_int64 (code, &number) || number <= 0
        ||  !shic_val_is (message, SHIC_VAL_STR))
            s_malformed (err, url, "an error that is not etcd's shape");
        else
            s_store_error (url, number, shic_val_str (message), retry, err);
        shic_val_destroy (&tree);
        return -1;
    }
    if (status != 200) {
        shic_val_destroy (&tree);
        char what [64];
        snprintf (what, sizeof (what), "HTTP %ld without etcd's error", status);
        s_malformed (err, url, what);
        return -1;
    }
    shic_val_t *reply = tree;
    if (shic_val_is (shic_val_get (tree, "result"), SHIC_VAL_MAP)) {
        reply = shic_val_take (tree, "result");
        shic_val_destroy (&tree);
    }
    int64_t revision;
    if (!shic_val_is (shic_val_get (reply, "header"), SHIC_VAL_MAP)
    ||  s_revision (reply, &revision)) {
        shic_val_destroy (&reply);
        s_malformed (err, url, "a reply without etcd's header");
        return -1;
    }
    *retry = false;
    *reply_p = reply;
    return 0;
}


//  --------------------------------------------------------------------------
//  Members

static void
s_urls_destroy (char ***urls_p, size_t count)
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
static int
s_urls_parse (const char *text, char ***urls_p, size_t *count_p, shic_error_t *err)
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
        ok = http && trimmed <= S_URL_MAX && count < S_URLS_MAX
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
        s_urls_destroy (&urls, count);
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
static struct curl_slist *
s_headers_new (void)
{
    struct curl_slist *list = curl_slist_append (NULL, "Content-Type: application/json");
    struct curl_slist *grown = list? curl_slist_append (list, "Expect:"): NULL;
    if (!grown)
        curl_slist_free_all (list);
    return grown;
}

//  Options both kinds of handle share
static void
s_easy_setup (CURL *curl, struct curl_slist *headers, char *errbuf)
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
    if (s_urls_parse (urls, &self->urls, &self->url_count, err)) {
        free (self);
        return NULL;
    }
    self->timeout_ms = timeout_ms;
    self->curl = s_curl_ready? curl_easy_init (): NULL;
    self->headers = s_headers_new ();
    if (!self->curl || !self->headers) {
        shic_etcd_destroy (&self);
        shic_error_set (err, SHIC_E_INTERNAL, NULL, "etcd: curl cannot be set up");
        return NULL;
    }
    s_easy_setup (self->curl, self->headers, self->errbuf);
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
        s_urls_destroy (&self->urls, self->url_count);
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
    char url [S_URL_MAX + S_PATH_MAX];
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
        s_malformed (err, member, "a reply over 4 MiB");
        return -1;
    }
    if (code != CURLE_OK) {
        s_unavailable (err, member, self->errbuf [0]? self->errbuf: curl_easy_strerror (code));
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
    if (reply) {
        shic_error_clear (&last);
        return reply;
    }
    if (!last.code)
        s_unavailable (&last, self->urls [self->current], "no time left to ask");
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
    char *text = shic_etcd_base64_encode (data, size);
    int rc = text? shic_val_set_str (request, key, text): -1;
    free (text);
    return rc;
}

//  Sets key to an int64 as the gateway writes it (a decimal string)
static int
s_set_int64 (shic_val_t *request, const char *key, int64_t value)
{
    char text [24];
    snprintf (text, sizeof (text), "%" PRId64, value);
    return shic_val_set_str (request, key, text);
}

//  Sets key and, for a prefix, range_end: the key with its last byte below
//  0xff raised by one and what follows dropped ("\0", every key, when
//  there is none)
static int
s_set_range (shic_val_t *request, const char *key, bool prefix)
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
    s_malformed (err, shic_etcd_url (self), what);
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
    s_set_int64 (request, "TTL", ttl_s);
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
    if (s_lease_field (shic_val_get (reply, "ID"), granted) || !*granted)
        return s_bad_reply (self, &reply, "a lease grant without an ID", err);
    snprintf (id, id_max, "%s", granted);
    shic_val_destroy (&reply);
    return 0;
}

int
shic_etcd_lease_keepalive (shic_etcd_t *self, const char *id, int64_t *ttl_left,
                           shic_error_t *err)
{
    assert (self);
    assert (ttl_left);
    *ttl_left = 0;
    if (s_lease_check (id, false, err))
        return -1;
    shic_val_t *request = s_request_new (err);
    if (!request)
        return -1;
    shic_val_set_str (request, "ID", id);
    shic_val_t *reply = s_call (self, "/v3/lease/keepalive", &request, err);
    if (!reply)
        return -1;
    //  A lease that is gone answers no TTL: 0
    if (s_int64 (shic_val_get (reply, "TTL"), ttl_left) || *ttl_left < 0)
        return s_bad_reply (self, &reply, "a keep-alive with a TTL that is no number", err);
    shic_val_destroy (&reply);
    return 0;
}

int
shic_etcd_lease_revoke (shic_etcd_t *self, const char *id, shic_error_t *err)
{
    assert (self);
    if (s_lease_check (id, false, err))
        return -1;
    shic_val_t *request = s_request_new (err);
    if (!request)
        return -1;
    shic_val_set_str (request, "ID", id);
    shic_val_t *reply = s_call (self, "/v3/lease/revoke", &request, err);
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

int
shic_etcd_delete (shic_etcd_t *self, const char *key, bool prefix, shic_error_t *err)
{
    assert (self);
    if (s_key_check (key, err))
        return -1;
    shic_val_t *request = s_request_new (err);
    if (!request)
        return -1;
    if (s_set_range (request, key, prefix)) {
        shic_val_destroy (&request);
        shic_error_set (err, SHIC_E_INTERNAL, NULL, "etcd: out of memory");
        return -1;
    }
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
    s_set_int64 (compare, streq (target, "CREATE")? "create_revision": "mod_revision", revision);
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
    shic_val_t *request = s_request_new (err);
    if (!request)
        return -1;
    if (s_set_range (request, key, prefix)) {
        shic_val_destroy (&request);
        shic_error_set (err, SHIC_E_INTERNAL, NULL, "etcd: out of memory");
        return -1;
    }
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
    s_set_int64 (request, "revision", revision);
    //  Physical: the reply comes when the old revisions are gone
    shic_val_set_bool (request, "physical", true);
    shic_val_t *reply = s_call (self, "/v3/kv/compaction", &request, err);
    if (!reply)
        return -1;
    shic_val_destroy (&reply);
    return 0;
}


//  --------------------------------------------------------------------------
//  The watch: a stream of lines

//  Appends bytes of the stream; a line over SHIC_ETCD_REPLY_MAX sets
//  overflow. Returns size, or 0 (which stops curl's transfer) when it
//  could not keep them.
static size_t
s_watch_append (shic_etcd_watch_t *self, const char *data, size_t size)
{
    if (self->overflow || self->ended || size == 0)
        return 0;
    const char *newline = (const char *) memrchr (data, '\n', size);
    size_t tail = newline? size - (size_t) (newline - data) - 1: self->tail + size;
    if (tail > SHIC_ETCD_REPLY_MAX) {
        //  The whole lines before it are still read
        self->overflow = true;
        self->size -= self->tail;
        self->tail = 0;
        if (self->scan > self->size)
            self->scan = self->size;
        return 0;
    }
    //  Move the unread bytes to the front before growing
    if (self->start > 0 && self->size + size > self->capacity) {
        memmove (self->buffer, self->buffer + self->start, self->size - self->start);
        self->size -= self->start;
        self->scan -= self->start;
        self->start = 0;
    }
    if (self->size + size > self->capacity) {
        size_t capacity = self->capacity? self->capacity: 16384;
        while (capacity < self->size + size)
            capacity *= 2;
        char *grown = (char *) realloc (self->buffer, capacity);
        if (!grown) {
            self->overflow = true;
            return 0;
        }
        self->buffer = grown;
        self->capacity = capacity;
    }
    memcpy (self->buffer + self->size, data, size);
    self->size += size;
    self->tail = tail;
    return size;
}

static size_t
s_watch_write (char *data, size_t size, size_t nmemb, void *arg)
{
    shic_etcd_watch_t *self = (shic_etcd_watch_t *) arg;
    if (self->status == 0)
        curl_easy_getinfo (self->easy, CURLINFO_RESPONSE_CODE, &self->status);
    return s_watch_append (self, data, size * nmemb);
}

//  The next whole line (without its newline) into *line and *length;
//  false when none is complete yet
static bool
s_watch_line_take (shic_etcd_watch_t *self, const char **line, size_t *length)
{
    if (self->scan < self->start)
        self->scan = self->start;
    const char *newline = self->size > self->scan
        ? (const char *) memchr (self->buffer + self->scan, '\n', self->size - self->scan)
        : NULL;
    if (!newline) {
        self->scan = self->size;
        return false;
    }
    size_t end = (size_t) (newline - self->buffer);
    *line = self->buffer + self->start;
    *length = end - self->start;
    self->start = end + 1;
    self->scan = self->start;
    return true;
}

//  Forgets what was received: bytes and events
static void
s_watch_forget (shic_etcd_watch_t *self)
{
    self->start = self->size = self->scan = self->tail = 0;
    shic_val_destroy (&self->events);
    self->next_event = 0;
}

//  Stops the transfer (its socket is closed) and forgets what it sent
static void
s_watch_stop (shic_etcd_watch_t *self)
{
    if (self->attached) {
        curl_multi_remove_handle (self->multi, self->easy);
        self->attached = false;
    }
    self->socket_count = 0;
    self->timer_at = -1;
    s_watch_forget (self);
}

//  Starts the stream at member index; -1 with err
static int
s_watch_start (shic_etcd_watch_t *self, size_t index, shic_error_t *err)
{
    char url [S_URL_MAX + S_PATH_MAX];
    snprintf (url, sizeof (url), "%s/v3/watch", self->urls [index]);
    self->current = index;
    self->tried++;
    self->ended = false;
    self->status = 0;
    self->overflow = false;
    self->errbuf [0] = 0;
    self->create_by = zclock_mono () + S_WATCH_CREATE_MS;
    curl_easy_setopt (self->easy, CURLOPT_URL, url);
    if (curl_multi_add_handle (self->multi, self->easy) != CURLM_OK) {
        shic_error_set (err, SHIC_E_INTERNAL, NULL, "etcd: curl cannot start the watch");
        return -1;
    }
    self->attached = true;
    return 0;
}

//  The stream failed with *err (taken): before the watch was created,
//  the next member untried gets its turn; otherwise the stream ends and
//  DOWN will say why
static void
s_watch_fail (shic_etcd_watch_t *self, shic_error_t *err)
{
    s_watch_stop (self);
    shic_error_move (&self->error, err);
    if (self->multi && !self->created && self->tried < self->url_count) {
        shic_error_t start_err = { NULL, NULL, NULL };
        if (s_watch_start (self, (self->current + 1) % self->url_count, &start_err) == 0)
            return;
        shic_error_move (&self->error, &start_err);
    }
    self->ended = true;
}

//  The URL of the member streaming now
static const char *
s_watch_member (shic_etcd_watch_t *self)
{
    return self->urls? self->urls [self->current]: "(fed)";
}

//  One event of the queued response
static shic_etcd_watch_event_t
s_watch_event (shic_etcd_watch_t *self, shic_etcd_kv_t **kv, int64_t *revision)
{
    //  Borrowed from the queue, which goes once its last pair is read
    const shic_val_t *event = shic_val_at (self->events, self->next_event++);
    const shic_val_t *type = shic_val_get (event, "type");
    shic_etcd_watch_event_t kind = SHIC_ETCD_WATCH_NONE;
    if (!type || (shic_val_str (type) && streq (shic_val_str (type), "PUT")))
        kind = SHIC_ETCD_WATCH_PUT;
    else
    if (shic_val_str (type) && streq (shic_val_str (type), "DELETE"))
        kind = SHIC_ETCD_WATCH_DELETE;
    shic_etcd_kv_t *pair = kind? shic_etcd_kv_from_val (shic_val_get (event, "kv")): NULL;
    if (self->next_event >= shic_val_size (self->events)) {
        shic_val_destroy (&self->events);
        self->next_event = 0;
    }
    if (!pair) {
        shic_error_t err = { NULL, NULL, NULL };
        s_malformed (&err, s_watch_member (self), "a watch event that is not etcd's shape");
        s_watch_fail (self, &err);
        return SHIC_ETCD_WATCH_NONE;
    }
    *revision = pair->mod_revision;
    if (kv)
        *kv = pair;
    else
        shic_etcd_kv_free (&pair);
    return kind;
}

//  What one line of the stream says; NONE for a blank line and when it
//  failed the stream (then DOWN or the next member follows)
static shic_etcd_watch_event_t
s_watch_line (shic_etcd_watch_t *self, const char *line, size_t length,
              shic_etcd_kv_t **kv, int64_t *revision)
{
    while (length > 0 && strchr (" \t\r", line [length - 1]))
        length--;
    if (length == 0)
        return SHIC_ETCD_WATCH_NONE;
    shic_val_t *response = NULL;
    shic_error_t err = { NULL, NULL, NULL };
    long status = self->multi? self->status: 200;
    if (shic_etcd_reply_parse (line, length, status, s_watch_member (self), &response,
                               NULL, &err)) {
        s_watch_fail (self, &err);
        return SHIC_ETCD_WATCH_NONE;
    }
    int64_t header_revision = 0;
    s_int64 (shic_val_path (response, "header/revision"), &header_revision);
    const shic_val_t *events = shic_val_get (response, "events");
    const shic_val_t *canceled = shic_val_get (response, "canceled");
    const shic_val_t *created = shic_val_get (response, "created");
    int64_t compact_revision;
    shic_etcd_watch_event_t kind = SHIC_ETCD_WATCH_NONE;
    if ((events && !shic_val_is (events, SHIC_VAL_ARRAY))
    ||  (canceled && !shic_val_is (canceled, SHIC_VAL_BOOL))
    ||  (created && !shic_val_is (created, SHIC_VAL_BOOL))
    ||  s_int64 (shic_val_get (response, "compact_revision"), &compact_revision)
    ||  compact_revision < 0)
        s_malformed (&err, s_watch_member (self), "a watch response that is not etcd's shape");
    else
    if (shic_val_bool (canceled) && compact_revision > 0) {
        //  Compacted past where the watch started: the caller reads again
        s_watch_stop (self);
        self->ended = true;
        self->finished = true;
        *revision = compact_revision;
        kind = SHIC_ETCD_WATCH_COMPACTED;
    }
    else
    if (shic_val_bool (canceled)) {
        const char *reason = shic_val_str (shic_val_get (response, "cancel_reason"));
        shic_val_t *details = shic_val_new_map ();
        shic_val_set_str (details, "etcd", s_watch_member (self));
        shic_error_set (&err, SHIC_E_INSTANCE_UNAVAILABLE, &details,
                        "etcd at %s cancelled the watch: %.200s", s_watch_member (self),
                        reason? reason: "no reason given");
    }
    else
    if (shic_val_bool (created)) {
        self->created = true;
        *revision = header_revision;
        kind = SHIC_ETCD_WATCH_CREATED;
    }
    else
    if (shic_val_size (events) > 0) {
        self->events = shic_val_take (response, "events");
        self->next_event = 0;
        kind = s_watch_event (self, kv, revision);
    }
    else {
        *revision = header_revision;
        kind = SHIC_ETCD_WATCH_PROGRESS;
    }
    shic_val_destroy (&response);
    if (err.code)
        s_watch_fail (self, &err);
    return kind;
}

//  Reads what curl has (ready sockets, a due timer) and learns whether the
//  transfer ended
static void
s_watch_drive (shic_etcd_watch_t *self)
{
    if (!self->multi || !self->attached)
        return;
    int running = 0;
    //  The sockets ready now (curl may change the list while it acts)
    struct pollfd items [S_WATCH_SOCKETS];
    size_t count = self->socket_count;
    for (size_t index = 0; index < count; index++) {
        items [index].fd = self->sockets [index].fd;
        items [index].events = (short) ((self->sockets [index].what & CURL_POLL_IN? POLLIN: 0)
                                      | (self->sockets [index].what & CURL_POLL_OUT? POLLOUT: 0));
        items [index].revents = 0;
    }
    if (count > 0 && poll (items, count, 0) > 0)
        for (size_t index = 0; index < count; index++)
            if (items [index].revents) {
                int mask = (items [index].revents & (POLLIN | POLLHUP)? CURL_CSELECT_IN: 0)
                         | (items [index].revents & POLLOUT? CURL_CSELECT_OUT: 0)
                         | (items [index].revents & POLLERR? CURL_CSELECT_ERR: 0);
                curl_multi_socket_action (self->multi, items [index].fd, mask, &running);
            }
    int64_t now = zclock_mono ();
    if (self->timer_at >= 0 && now >= self->timer_at) {
        self->timer_at = -1;
        curl_multi_socket_action (self->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    CURLMsg *message;
    int left;
    while (self->attached && (message = curl_multi_info_read (self->multi, &left)))
        if (message->msg == CURLMSG_DONE) {
            CURLcode code = message->data.result;
            shic_error_t err = { NULL, NULL, NULL };
            if (self->overflow)
                s_malformed (&err, s_watch_member (self), "a watch line over 4 MiB");
            else
            if (code != CURLE_OK)
                s_unavailable (&err, s_watch_member (self),
                               self->errbuf [0]? self->errbuf: curl_easy_strerror (code));
            else
                s_unavailable (&err, s_watch_member (self), "the watch stream ended");
            curl_multi_remove_handle (self->multi, self->easy);
            self->attached = false;
            self->socket_count = 0;
            self->timer_at = -1;
            //  What came before the end is read first; a member that
            //  never answered gives its turn to the next
            if (self->status == 0 && !self->created)
                s_watch_fail (self, &err);
            else {
                shic_error_move (&self->error, &err);
                self->ended = true;
            }
        }
    if (self->attached && !self->created && zclock_mono () >= self->create_by) {
        shic_error_t err = { NULL, NULL, NULL };
        s_unavailable (&err, s_watch_member (self), "the watch was not confirmed in time");
        s_watch_fail (self, &err);
    }
}

//  What is waiting to be handed out: an event, a line, or the end
static shic_etcd_watch_event_t
s_watch_take (shic_etcd_watch_t *self, shic_etcd_kv_t **kv, int64_t *revision,
              shic_error_t *err)
{
    while (!self->finished) {
        shic_etcd_watch_event_t kind = SHIC_ETCD_WATCH_NONE;
        const char *line;
        size_t length;
        if (self->events)
            kind = s_watch_event (self, kv, revision);
        else
        if (s_watch_line_take (self, &line, &length))
            kind = s_watch_line (self, line, length, kv, revision);
        else
        if (self->ended && self->start < self->size) {
            //  The last line may end without a newline
            line = self->buffer + self->start;
            length = self->size - self->start;
            self->start = self->scan = self->size;
            kind = s_watch_line (self, line, length, kv, revision);
        }
        else
        if (self->ended) {
            s_watch_stop (self);
            self->finished = true;
            if (!self->error.code)
                s_unavailable (&self->error, s_watch_member (self), "the watch stream ended");
            shic_error_move (err, &self->error);
            return SHIC_ETCD_WATCH_DOWN;
        }
        else
            return SHIC_ETCD_WATCH_NONE;
        if (kind != SHIC_ETCD_WATCH_NONE)
            return kind;
    }
    return SHIC_ETCD_WATCH_NONE;
}

shic_etcd_watch_event_t
shic_etcd_watch_next (shic_etcd_watch_t *self, shic_etcd_kv_t **kv, int64_t *revision,
                      shic_error_t *err)
{
    assert (self);
    int64_t ignored;
    if (!revision)
        revision = &ignored;
    if (kv)
        *kv = NULL;
    *revision = 0;
    shic_etcd_watch_event_t kind = s_watch_take (self, kv, revision, err);
    if (kind == SHIC_ETCD_WATCH_NONE && !self->finished) {
        s_watch_drive (self);
        kind = s_watch_take (self, kv, revision, err);
    }
    return kind;
}

int
shic_etcd_watch_fd (shic_etcd_watch_t *self)
{
    assert (self);
    if (self->ended || !self->attached)
        return -1;
    int fd = -1;
    for (size_t index = 0; index < self->socket_count; index++) {
        if (self->sockets [index].what & CURL_POLL_OUT)
            return -1;              //  still connecting or sending
        if (self->sockets [index].what & CURL_POLL_IN)
            fd = (int) self->sockets [index].fd;
    }
    return fd;
}

long
shic_etcd_watch_timeout (shic_etcd_watch_t *self)
{
    assert (self);
    if (self->finished)
        return -1;
    if (self->ended || self->events
    ||  (self->size > self->start
         && memchr (self->buffer + self->start, '\n', self->size - self->start)))
        return 0;
    int64_t wake = self->timer_at;
    if (!self->created && (wake < 0 || self->create_by < wake))
        wake = self->create_by;
    int64_t timeout = -1;
    if (wake >= 0) {
        timeout = wake - zclock_mono ();
        if (timeout < 0)
            timeout = 0;
    }
    if (shic_etcd_watch_fd (self) == -1 && (timeout < 0 || timeout > S_WATCH_CONNECTING_MS))
        timeout = S_WATCH_CONNECTING_MS;
    return (long) timeout;
}

//  curl's socket callback: which sockets to watch for what
static int
s_watch_socket (CURL *easy, curl_socket_t fd, int what, void *arg, void *socket_arg)
{
    (void) easy;
    (void) socket_arg;
    shic_etcd_watch_t *self = (shic_etcd_watch_t *) arg;
    size_t index;
    for (index = 0; index < self->socket_count; index++)
        if (self->sockets [index].fd == fd)
            break;
    if (what == CURL_POLL_REMOVE) {
        if (index < self->socket_count)
            self->sockets [index] = self->sockets [--self->socket_count];
        return 0;
    }
    if (index == self->socket_count) {
        if (self->socket_count == S_WATCH_SOCKETS)
            return -1;              //  curl ends the transfer
        self->socket_count++;
    }
    self->sockets [index].fd = fd;
    self->sockets [index].what = what;
    return 0;
}

//  curl's timer callback: when it wants its timeout action
static int
s_watch_timer (CURLM *multi, long timeout_ms, void *arg)
{
    (void) multi;
    shic_etcd_watch_t *self = (shic_etcd_watch_t *) arg;
    self->timer_at = timeout_ms < 0? -1: zclock_mono () + timeout_ms;
    return 0;
}

shic_etcd_watch_t *
shic_etcd_watch_new_fed (void)
{
    shic_etcd_watch_t *self = (shic_etcd_watch_t *) calloc (1, sizeof (shic_etcd_watch_t));
    if (self) {
        self->timer_at = -1;
        self->created = true;       //  no member to move on to
    }
    return self;
}

void
shic_etcd_watch_feed (shic_etcd_watch_t *self, const void *data, size_t size)
{
    assert (self && !self->multi);
    if (s_watch_append (self, (const char *) data, size) < size && !self->ended) {
        s_malformed (&self->error, s_watch_member (self), "a watch line over 4 MiB");
        self->ended = true;
    }
}

void
shic_etcd_watch_feed_end (shic_etcd_watch_t *self)
{
    assert (self && !self->multi);
    self->ended = true;
}

shic_etcd_watch_t *
shic_etcd_watch_new (const char *urls, const char *prefix, int64_t start_revision,
                     shic_error_t *err)
{
    if (!prefix || start_revision < 0) {
        shic_error_set_field (err, SHIC_E_INVALID_ARGS, prefix? "start_revision": "prefix",
                              "etcd: a watch needs a prefix and a revision from 0 on");
        return NULL;
    }
    pthread_once (&s_once, s_curl_setup);
    shic_etcd_watch_t *self = shic_etcd_watch_new_fed ();
    if (!self) {
        shic_error_set (err, SHIC_E_INTERNAL, NULL, "etcd: out of memory");
        return NULL;
    }
    self->created = false;
    if (s_urls_parse (urls, &self->urls, &self->url_count, err)) {
        free (self);
        return NULL;
    }
    //  The range of the prefix; from start_revision (0: now); a progress
    //  notice every 10 minutes while nothing changes
    shic_val_t *create = shic_val_new_map ();
    shic_val_t *request = shic_val_new_map ();
    bool ok = create && request
           && s_set_range (create, prefix, true) == 0
           && (start_revision == 0 || s_set_int64 (create, "start_revision", start_revision) == 0)
           && shic_val_set_bool (create, "progress_notify", true) == 0
           && shic_val_set (request, "create_request", &create) == 0;
    self->request = ok? shic_val_to_json (request): NULL;
    shic_val_destroy (&create);
    shic_val_destroy (&request);
    self->multi = s_curl_ready && self->request? curl_multi_init (): NULL;
    self->easy = self->multi? curl_easy_init (): NULL;
    self->headers = self->easy? s_headers_new (): NULL;
    if (!self->headers) {
        shic_etcd_watch_destroy (&self);
        shic_error_set (err, SHIC_E_INTERNAL, NULL, "etcd: curl cannot be set up");
        return NULL;
    }
    curl_multi_setopt (self->multi, CURLMOPT_SOCKETFUNCTION, s_watch_socket);
    curl_multi_setopt (self->multi, CURLMOPT_SOCKETDATA, self);
    curl_multi_setopt (self->multi, CURLMOPT_TIMERFUNCTION, s_watch_timer);
    curl_multi_setopt (self->multi, CURLMOPT_TIMERDATA, self);
    s_easy_setup (self->easy, self->headers, self->errbuf);
    curl_easy_setopt (self->easy, CURLOPT_CONNECTTIMEOUT_MS, (long) S_WATCH_CONNECT_MS);
    curl_easy_setopt (self->easy, CURLOPT_POSTFIELDS, self->request);
    curl_easy_setopt (self->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen (self->request));
    curl_easy_setopt (self->easy, CURLOPT_WRITEFUNCTION, s_watch_write);
    curl_easy_setopt (self->easy, CURLOPT_WRITEDATA, self);
    if (s_watch_start (self, 0, err)) {
        shic_etcd_watch_destroy (&self);
        return NULL;
    }
    return self;
}

void
shic_etcd_watch_destroy (shic_etcd_watch_t **self_p)
{
    assert (self_p);
    shic_etcd_watch_t *self = *self_p;
    if (self) {
        if (self->attached)
            curl_multi_remove_handle (self->multi, self->easy);
        if (self->easy)
            curl_easy_cleanup (self->easy);
        if (self->multi)
            curl_multi_cleanup (self->multi);
        curl_slist_free_all (self->headers);
        s_urls_destroy (&self->urls, self->url_count);
        free (self->request);
        free (self->buffer);
        shic_val_destroy (&self->events);
        shic_error_clear (&self->error);
        free (self);
        *self_p = NULL;
    }
}
