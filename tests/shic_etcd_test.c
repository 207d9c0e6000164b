/*  =========================================================================
    shic_etcd_test - the etcd class against a real etcd, and against
    things that are not etcd

    First what needs no server: the base64 codec, replies and watch
    streams fed to the parsers directly (HTML, cut JSON, the gateway's
    errors, the stream cut at every byte), members that are not there or
    answer HTTP but not etcd (a tiny server in a thread). Then, when etcd
    is installed, one real member (tests/shic_test_util.c starts it):
    leases, put under a lease and its key gone when the lease expires,
    create-if-absent raced by two objects, replace and delete_if, range,
    the watch (created, puts, deletes, deletes by lease expiry, a forced
    compaction), and etcd stopped and started again.
    =========================================================================
*/

#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include "shic_test_util.h"
#include "shic_etcd.h"
#include "shic_etcd_int.h"

void shic_etcd_test (bool verbose);

static bool s_verbose = false;

//  Asserts that a call returned 0, printing its error when not
#define S_OK(call, err) s_expect_ok ((call), &(err), #call, __LINE__)

static void
s_expect_ok (int rc, shic_error_t *err, const char *what, int line)
{
    if (rc != 0) {
        char *details = shic_val_to_json (err->details);
        fprintf (stderr, "line %d: %s: %s %s %s\n", line, what, err->code, err->message,
                 details);
        free (details);
        assert (false);
    }
    assert (err->code == NULL);
}

//  Asserts that err holds code, then clears it
static void
s_expect_error (shic_error_t *err, const char *code, int line)
{
    if (!err->code || !streq (err->code, code)) {
        fprintf (stderr, "line %d: expected %s, got %s (%s)\n", line, code,
                 err->code? err->code: "no error", err->message? err->message: "");
        assert (false);
    }
    if (s_verbose)
        printf ("\n    %s: %s", err->code, err->message);
    shic_error_clear (err);
}
#define S_ERROR(err, code) s_expect_error (&(err), code, __LINE__)


//  ---------------------------------------------------------------------------
//  Parsers, fed directly

//  The events of a stream fed in pieces of cut bytes, written as letters
//  into a fresh string: C created, P put, D delete, R progress, X
//  compacted, ! down (with its error code after it)
static char *
s_stream (const char *stream, size_t size, size_t cut)
{
    shic_etcd_watch_t *watch = shic_etcd_watch_new_fed ();
    assert (watch);
    char *events = (char *) zmalloc (4096);
    size_t used = 0;
    size_t offset = 0;
    while (true) {
        size_t piece = size - offset < cut? size - offset: cut;
        shic_etcd_watch_feed (watch, stream + offset, piece);
        offset += piece;
        if (offset == size)
            shic_etcd_watch_feed_end (watch);
        shic_etcd_watch_event_t event;
        do {
            shic_etcd_kv_t *kv = NULL;
            int64_t revision = -1;
            shic_error_t err = { NULL, NULL, NULL };
            event = shic_etcd_watch_next (watch, &kv, &revision, &err);
            assert (shic_etcd_watch_fd (watch) == -1);
            const char letters [] = "_CPDRX!";
            if (event != SHIC_ETCD_WATCH_NONE)
                used += (size_t) snprintf (events + used, 4096 - used, "%c", letters [event]);
            if (event == SHIC_ETCD_WATCH_PUT || event == SHIC_ETCD_WATCH_DELETE) {
                assert (kv && kv->mod_revision == revision);
                used += (size_t) snprintf (events + used, 4096 - used, "(%s=%s@%" PRId64 ")",
                                           kv->key, kv->value, revision);
            }
            else
                assert (kv == NULL);
            if (event == SHIC_ETCD_WATCH_DOWN)
                used += (size_t) snprintf (events + used, 4096 - used, "%s", err.code);
            if (event == SHIC_ETCD_WATCH_COMPACTED || event == SHIC_ETCD_WATCH_CREATED)
                used += (size_t) snprintf (events + used, 4096 - used, "%" PRId64, revision);
            shic_etcd_kv_free (&kv);
            shic_error_clear (&err);
        } while (event != SHIC_ETCD_WATCH_NONE);
        if (offset == size)
            break;
    }
    //  Nothing after the end
    assert (shic_etcd_watch_next (watch, NULL, NULL, NULL) == SHIC_ETCD_WATCH_NONE);
    assert (shic_etcd_watch_timeout (watch) == -1);
    shic_etcd_watch_destroy (&watch);
    return events;
}

//  Checks that the stream reads as expected, whole and cut at every size
static void
s_assert_stream (const char *stream, const char *expected)
{
    size_t size = strlen (stream);
    size_t cuts [] = { size? size: 1, 1, 2, 3, 7, 64 };
    for (size_t index = 0; index < sizeof (cuts) / sizeof (cuts [0]); index++) {
        char *events = s_stream (stream, size, cuts [index]);
        if (!streq (events, expected)) {
            fprintf (stderr, "stream cut by %zu: expected %s, got %s\n%s\n", cuts [index],
                     expected, events, stream);
            assert (false);
        }
        free (events);
    }
}

static void
s_test_base64 (void)
{
    const char *plain [] = { "", "f", "fo", "foo", "foob", "fooba", "foobar", NULL };
    const char *coded [] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
    for (size_t index = 0; plain [index]; index++) {
        char *text = shic_json_base64 (plain [index], strlen (plain [index]));
        assert (text && streq (text, coded [index]));
        free (text);
        char *data;
        size_t size;
        assert (shic_etcd_base64_decode (coded [index], strlen (coded [index]), &data, &size) == 0);
        assert (size == strlen (plain [index]) && streq (data, plain [index]));
        free (data);
    }
    //  Every byte value, through and back
    char bytes [256];
    for (int index = 0; index < 256; index++)
        bytes [index] = (char) index;
    char *text = shic_json_base64 (bytes, sizeof (bytes));
    char *data;
    size_t size;
    assert (shic_etcd_base64_decode (text, strlen (text), &data, &size) == 0);
    assert (size == 256 && memcmp (data, bytes, 256) == 0 && data [256] == 0);
    free (data);
    free (text);
    //  Not padded base64: refused
    const char *bad [] = { "Zg", "Zg=", "Z===", "=Zg=", "Zg==Zg==", "Zm9v!A==", "Zh==", "Zm9=",
                           "Zg=a", "Zm 9v", "Zm9v\n", NULL };
    for (size_t index = 0; bad [index]; index++) {
        data = (char *) "untouched";
        assert (shic_etcd_base64_decode (bad [index], strlen (bad [index]), &data, &size) == -1);
        assert (data == NULL && size == 0);
    }
}

//  Parses body as a reply with status; returns the error code, or "ok"
static const char *
s_reply_code (const char *body, long status, bool *retry)
{
    shic_val_t *reply = NULL;
    shic_error_t err = { NULL, NULL, NULL };
    int rc = shic_etcd_reply_parse (body, strlen (body), status, "http://x", &reply, retry, &err);
    assert ((rc == 0) == (reply != NULL));
    assert ((rc == 0) == (err.code == NULL));
    const char *code = rc == 0? "ok": err.code;
    if (rc)
        assert (streq (shic_test_str (err.details, "etcd"), "http://x"));
    shic_val_destroy (&reply);
    shic_error_clear (&err);
    return code;
}

static void
s_test_replies (void)
{
    bool retry;
    const char *header = "\"header\":{\"cluster_id\":\"1\",\"revision\":\"9\"}";
    char *put = zsys_sprintf ("{%s}", header);
    assert (streq (s_reply_code (put, 200, &retry), "ok") && !retry);
    char *wrapped = zsys_sprintf ("{\"result\":{%s,\"ID\":\"5\"}}", header);
    assert (streq (s_reply_code (wrapped, 200, &retry), "ok"));
    //  What is not etcd: another member may do better
    const char *html = "<html><body><h1>404 Not Found</h1></body></html>";
    assert (streq (s_reply_code (html, 404, &retry), SHIC_E_MALFORMED) && retry);
    assert (streq (s_reply_code (html, 200, &retry), SHIC_E_MALFORMED) && retry);
    assert (streq (s_reply_code ("", 200, &retry), SHIC_E_MALFORMED));
    assert (streq (s_reply_code ("Not Found\n", 404, &retry), SHIC_E_MALFORMED));
    assert (streq (s_reply_code ("{\"header\":{\"revision\":\"9\"", 200, &retry), SHIC_E_MALFORMED));
    assert (streq (s_reply_code ("{\"header\":{\"revision\":\"9x\"}}", 200, &retry), SHIC_E_MALFORMED));
    assert (streq (s_reply_code ("{\"header\":[]}", 200, &retry), SHIC_E_MALFORMED));
    assert (streq (s_reply_code ("{}", 200, &retry), SHIC_E_MALFORMED));
    assert (streq (s_reply_code ("[]", 200, &retry), SHIC_E_MALFORMED));
    assert (streq (s_reply_code ("null", 200, &retry), SHIC_E_MALFORMED));
    assert (streq (s_reply_code (put, 500, &retry), SHIC_E_MALFORMED));
    assert (streq (s_reply_code ("{\"error\":\"x\",\"code\":\"5\"}", 404, &retry), SHIC_E_MALFORMED));
    assert (streq (s_reply_code ("{\"error\":7,\"code\":5}", 404, &retry), SHIC_E_MALFORMED));
    assert (streq (s_reply_code ("{\"error\":{\"grpc_code\":-1}}", 200, &retry), SHIC_E_MALFORMED));
    //  The store's own errors: final, typed
    assert (streq (s_reply_code ("{\"error\":\"etcdserver: requested lease not found\","
                                 "\"message\":\"etcdserver: requested lease not found\",\"code\":5}",
                                 404, &retry), SHIC_E_LEASE_NOT_FOUND) && !retry);
    assert (streq (s_reply_code ("{\"error\":\"etcdserver: mvcc: required revision has been compacted\","
                                 "\"code\":11}", 400, &retry), SHIC_E_INVALID_ARGS) && !retry);
    assert (streq (s_reply_code ("{\"error\":\"etcdserver: mvcc: database space exceeded\","
                                 "\"code\":8}", 429, &retry), SHIC_E_CAPACITY));
    assert (streq (s_reply_code ("{\"error\":\"etcdserver: no leader\",\"code\":14}", 503, &retry),
                   SHIC_E_INSTANCE_UNAVAILABLE) && retry);
    assert (streq (s_reply_code ("{\"error\":{\"grpc_code\":14,\"http_code\":503,\"message\":"
                                 "\"transport is closing\",\"http_status\":\"Service Unavailable\"}}",
                                 200, &retry), SHIC_E_INSTANCE_UNAVAILABLE) && retry);
    assert (streq (s_reply_code ("{\"error\":{\"grpc_code\":1,\"http_code\":408,\"message\":"
                                 "\"grpc: the client connection is closing\"}}", 200, &retry),
                   SHIC_E_INSTANCE_UNAVAILABLE) && retry);
    assert (streq (s_reply_code ("{\"error\":\"odd\",\"code\":2}", 500, &retry), SHIC_E_INTERNAL));
    //  A grant reply's own "error" field is not the gateway's error
    char *grant = zsys_sprintf ("{%s,\"ID\":\"7\",\"TTL\":\"2\",\"error\":\"\"}", header);
    assert (streq (s_reply_code (grant, 200, &retry), "ok"));
    //  Bytes after the object, a NUL inside: malformed
    char *trailing = zsys_sprintf ("%s{}", put);
    assert (streq (s_reply_code (trailing, 200, &retry), SHIC_E_MALFORMED));
    shic_val_t *reply = NULL;
    shic_error_t err = { NULL, NULL, NULL };
    assert (shic_etcd_reply_parse ("{}\0{}", 5, 200, "http://x", &reply, NULL, &err) == -1);
    S_ERROR (err, SHIC_E_MALFORMED);
    assert (shic_etcd_reply_parse (NULL, 0, 200, "http://x", &reply, NULL, &err) == -1);
    S_ERROR (err, SHIC_E_MALFORMED);
    zstr_free (&put);
    zstr_free (&wrapped);
    zstr_free (&grant);
    zstr_free (&trailing);

    //  Pairs
    shic_val_t *val = shic_val_from_json ("{\"key\":\"YQ==\",\"create_revision\":\"2\","
                                          "\"mod_revision\":\"3\",\"version\":\"2\","
                                          "\"value\":\"AGI=\",\"lease\":\"4111120343148670225\"}");
    shic_etcd_kv_t *kv = shic_etcd_kv_from_val (val);
    assert (kv && streq (kv->key, "a") && kv->size == 2 && kv->value [0] == 0
            && kv->value [1] == 'b' && kv->value [2] == 0);
    assert (kv->create_revision == 2 && kv->mod_revision == 3 && kv->version == 2);
    assert (streq (kv->lease, "4111120343148670225"));
    shic_etcd_kv_free (&kv);
    shic_etcd_kv_free (&kv);
    shic_val_destroy (&val);
    //  A delete: key and mod_revision only
    val = shic_val_from_json ("{\"key\":\"YQ==\",\"mod_revision\":\"7\"}");
    kv = shic_etcd_kv_from_val (val);
    assert (kv && kv->size == 0 && streq (kv->value, "") && streq (kv->lease, "")
            && kv->mod_revision == 7 && kv->create_revision == 0);
    shic_etcd_kv_free (&kv);
    shic_val_destroy (&val);
    const char *bad_kvs [] = {
        "{}", "[]", "{\"key\":\"\"}", "{\"key\":\"YQ\"}", "{\"key\":1}",
        "{\"key\":\"YQ==\",\"value\":5}", "{\"key\":\"YQ==\",\"mod_revision\":\"-1\"}",
        "{\"key\":\"YQ==\",\"mod_revision\":\"99999999999999999999\"}",
        "{\"key\":\"YQ==\",\"mod_revision\":\"1e3\"}", "{\"key\":\"YQ==\",\"lease\":\"x\"}",
        "{\"key\":\"YQ==\",\"version\":true}", "{\"key\":\"YQ==\",\"lease\":\"-5\"}", NULL };
    for (size_t index = 0; bad_kvs [index]; index++) {
        val = shic_val_from_json (bad_kvs [index]);
        assert (val);
        assert (shic_etcd_kv_from_val (val) == NULL);
        shic_val_destroy (&val);
    }
    assert (shic_etcd_kv_from_val (NULL) == NULL);

    //  Ranges
    val = shic_val_from_json ("{\"header\":{\"revision\":\"12\"},\"kvs\":["
                              "{\"key\":\"cDE=\",\"value\":\"eA==\",\"mod_revision\":\"5\"},"
                              "{\"key\":\"cDI=\",\"mod_revision\":\"6\"}],\"count\":\"2\"}");
    shic_etcd_kvs_t *kvs = shic_etcd_kvs_from_reply (val);
    assert (kvs && kvs->count == 2 && kvs->revision == 12);
    assert (streq (kvs->kvs [0].key, "p1") && streq (kvs->kvs [0].value, "x"));
    assert (streq (kvs->kvs [1].key, "p2") && kvs->kvs [1].size == 0);
    shic_etcd_kvs_destroy (&kvs);
    shic_etcd_kvs_destroy (&kvs);
    shic_val_destroy (&val);
    val = shic_val_from_json ("{\"header\":{\"revision\":\"12\"}}");
    kvs = shic_etcd_kvs_from_reply (val);
    assert (kvs && kvs->count == 0 && kvs->revision == 12);
    shic_etcd_kvs_destroy (&kvs);
    shic_val_destroy (&val);
    const char *bad_ranges [] = {
        "{\"header\":{\"revision\":\"12\"},\"kvs\":{}}",
        "{\"header\":{\"revision\":\"12\"},\"kvs\":[{\"key\":\"cDE=\"},{\"key\":\"!\"}]}",
        "{\"header\":{\"revision\":\"x\"}}", NULL };
    for (size_t index = 0; bad_ranges [index]; index++) {
        val = shic_val_from_json (bad_ranges [index]);
        assert (shic_etcd_kvs_from_reply (val) == NULL);
        shic_val_destroy (&val);
    }
}

static void
s_test_streams (void)
{
    //  What etcd 3.4.23 sent (tests/etcd_lib.sh, curl): created, two puts
    //  under a lease, both deleted at once when it expired, then a put and
    //  a delete, a progress notice
    const char *stream =
        "{\"result\":{\"header\":{\"cluster_id\":\"15118495548433857066\",\"member_id\":\"1\","
        "\"revision\":\"4\",\"raft_term\":\"2\"},\"created\":true}}\n"
        "{\"result\":{\"header\":{\"revision\":\"5\"},\"events\":[{\"kv\":{\"key\":\"cDE=\","
        "\"create_revision\":\"5\",\"mod_revision\":\"5\",\"version\":\"1\",\"value\":\"eA==\","
        "\"lease\":\"4111120343148670225\"}}]}}\n"
        "{\"result\":{\"header\":{\"revision\":\"6\"},\"events\":[{\"kv\":{\"key\":\"cDI=\","
        "\"create_revision\":\"6\",\"mod_revision\":\"6\",\"version\":\"1\","
        "\"lease\":\"4111120343148670225\"}}]}}\n"
        "{\"result\":{\"header\":{\"revision\":\"7\"},\"events\":[{\"type\":\"DELETE\",\"kv\":"
        "{\"key\":\"cDE=\",\"mod_revision\":\"7\"}},{\"type\":\"DELETE\",\"kv\":{\"key\":\"cDI=\","
        "\"mod_revision\":\"7\"}}]}}\n"
        "{\"result\":{\"header\":{\"revision\":\"8\"},\"events\":[{\"type\":\"PUT\",\"kv\":{\"key\":\"cDM=\","
        "\"create_revision\":\"8\",\"mod_revision\":\"8\",\"version\":\"1\",\"value\":\"eQ==\"}}]}}\n"
        "\r\n"
        "{\"result\":{\"header\":{\"revision\":\"9\"}}}\n";
    s_assert_stream (stream, "C4P(p1=x@5)P(p2=@6)D(p1=@7)D(p2=@7)P(p3=y@8)R!" SHIC_E_INSTANCE_UNAVAILABLE);
    //  Compacted: created, then cancelled with the compact revision;
    //  nothing after it is read
    s_assert_stream ("{\"result\":{\"header\":{\"revision\":\"9\"},\"created\":true}}\n"
                     "{\"result\":{\"header\":{\"raft_term\":\"2\"},\"canceled\":true,"
                     "\"compact_revision\":\"8\"}}\n"
                     "{\"result\":{\"header\":{\"revision\":\"10\"}}}\n",
                     "C9X8");
    //  The end of a stream, as etcd stopping sends it: no newline
    s_assert_stream ("{\"result\":{\"header\":{\"revision\":\"9\"},\"created\":true}}\n"
                     "{\"error\":{\"grpc_code\":14,\"http_code\":503,\"message\":\"transport is closing\","
                     "\"http_status\":\"Service Unavailable\"}}",
                     "C9!" SHIC_E_INSTANCE_UNAVAILABLE);
    //  A watch the gateway refused
    s_assert_stream ("{\"error\":\"illegal base64 data at input byte 0\",\"message\":"
                     "\"illegal base64 data at input byte 0\",\"code\":2}",
                     "!" SHIC_E_INTERNAL);
    //  Cancelled without a compaction
    s_assert_stream ("{\"result\":{\"header\":{\"revision\":\"3\"},\"canceled\":true,"
                     "\"cancel_reason\":\"permission denied\"}}\n",
                     "!" SHIC_E_INSTANCE_UNAVAILABLE);
    //  Not etcd: HTML, cut JSON, a bad event, a bad type; what came
    //  before is still handed out
    s_assert_stream ("<html><body>Not Found</body></html>\n", "!" SHIC_E_MALFORMED);
    s_assert_stream ("{\"result\":{\"header\":{\"revision\":\"9\"},\"created\":true}}\n"
                     "{\"result\":{\"header\":{\"revision\":\"9\"}", "C9!" SHIC_E_MALFORMED);
    s_assert_stream ("{\"result\":{\"header\":{\"revision\":\"5\"},\"events\":[{\"kv\":{\"key\":\"cDE=\","
                     "\"mod_revision\":\"5\"}},{\"kv\":{\"key\":\"***\"}}]}}\n"
                     "{\"result\":{\"header\":{\"revision\":\"6\"}}}\n",
                     "P(p1=@5)!" SHIC_E_MALFORMED);
    s_assert_stream ("{\"result\":{\"header\":{\"revision\":\"5\"},\"events\":[{\"type\":\"MOVE\","
                     "\"kv\":{\"key\":\"cDE=\"}}]}}\n", "!" SHIC_E_MALFORMED);
    s_assert_stream ("{\"result\":{\"header\":{\"revision\":\"5\"},\"events\":{}}}\n",
                     "!" SHIC_E_MALFORMED);
    s_assert_stream ("{\"result\":{\"header\":{\"revision\":\"5\"},\"canceled\":\"yes\"}}\n",
                     "!" SHIC_E_MALFORMED);
    s_assert_stream ("\n\n", "!" SHIC_E_INSTANCE_UNAVAILABLE);
    s_assert_stream ("", "!" SHIC_E_INSTANCE_UNAVAILABLE);

    //  A line over 4 MiB ends the stream; the lines before it are read
    shic_etcd_watch_t *watch = shic_etcd_watch_new_fed ();
    const char *created = "{\"result\":{\"header\":{\"revision\":\"9\"},\"created\":true}}\n";
    shic_etcd_watch_feed (watch, created, strlen (created));
    char *chunk = (char *) malloc (65536);
    memset (chunk, ' ', 65536);
    for (size_t fed = 0; fed <= SHIC_ETCD_REPLY_MAX; fed += 65536)
        shic_etcd_watch_feed (watch, chunk, 65536);
    free (chunk);
    shic_error_t err = { NULL, NULL, NULL };
    int64_t revision;
    assert (shic_etcd_watch_next (watch, NULL, &revision, &err) == SHIC_ETCD_WATCH_CREATED);
    assert (revision == 9);
    assert (shic_etcd_watch_next (watch, NULL, &revision, &err) == SHIC_ETCD_WATCH_DOWN);
    S_ERROR (err, SHIC_E_MALFORMED);
    assert (shic_etcd_watch_next (watch, NULL, &revision, &err) == SHIC_ETCD_WATCH_NONE);
    shic_etcd_watch_destroy (&watch);
    shic_etcd_watch_destroy (&watch);

    //  Many events at once, fed in one piece
    size_t count = 2000;
    char *many = (char *) malloc (count * 120 + 64);
    size_t used = 0;
    for (size_t index = 0; index < count; index++)
        used += (size_t) sprintf (many + used, "{\"result\":{\"header\":{\"revision\":\"%zu\"},"
                                  "\"events\":[{\"kv\":{\"key\":\"cDE=\",\"mod_revision\":\"%zu\"}}]}}\n",
                                  index + 1, index + 1);
    watch = shic_etcd_watch_new_fed ();
    shic_etcd_watch_feed (watch, many, used);
    free (many);
    for (size_t index = 0; index < count; index++) {
        shic_etcd_kv_t *kv;
        assert (shic_etcd_watch_next (watch, &kv, &revision, &err) == SHIC_ETCD_WATCH_PUT);
        assert (kv && revision == (int64_t) index + 1);
        shic_etcd_kv_free (&kv);
    }
    assert (shic_etcd_watch_timeout (watch) != 0);
    assert (shic_etcd_watch_next (watch, NULL, &revision, &err) == SHIC_ETCD_WATCH_NONE);
    shic_etcd_watch_feed_end (watch);
    assert (shic_etcd_watch_timeout (watch) == 0);
    assert (shic_etcd_watch_next (watch, NULL, &revision, &err) == SHIC_ETCD_WATCH_DOWN);
    S_ERROR (err, SHIC_E_INSTANCE_UNAVAILABLE);
    shic_etcd_watch_destroy (&watch);
}


//  ---------------------------------------------------------------------------
//  A member that answers HTTP but is not etcd

typedef struct {
    int listener;                   //  listening socket
    int port;                       //  its port
    const char *head;               //  the answer's status line and headers
    size_t body_size;               //  bytes of body to send after them
    char fill;                      //  ...all this byte, after body (when set)
    const char *body;               //  the first bytes of the body
    bool silent;                    //  answer nothing; hold the connection
    int stop [2];                   //  a pipe: written to stop
    pthread_t thread;               //  the server
} s_fake_t;

//  Reads one request (headers and Content-Length bytes) or gives up after 2 s
static void
s_fake_read (int fd)
{
    char buffer [8192];
    size_t used = 0;
    int64_t deadline = zclock_mono () + 2000;
    while (used < sizeof (buffer) - 1 && zclock_mono () < deadline) {
        struct pollfd item = { fd, POLLIN, 0 };
        if (poll (&item, 1, 100) <= 0)
            continue;
        ssize_t got = recv (fd, buffer + used, sizeof (buffer) - 1 - used, 0);
        if (got <= 0)
            return;
        used += (size_t) got;
        buffer [used] = 0;
        char *end = strstr (buffer, "\r\n\r\n");
        const char *length = strcasestr (buffer, "Content-Length:");
        if (end && (!length || used >= (size_t) (end + 4 - buffer) + (size_t) atoi (length + 15)))
            return;
    }
}

static void *
s_fake_run (void *arg)
{
    s_fake_t *self = (s_fake_t *) arg;
    while (true) {
        struct pollfd items [2] = { { self->listener, POLLIN, 0 }, { self->stop [0], POLLIN, 0 } };
        if (poll (items, 2, -1) <= 0)
            continue;
        if (items [1].revents)
            break;
        int fd = accept (self->listener, NULL, NULL);
        if (fd < 0)
            continue;
        s_fake_read (fd);
        if (self->silent) {
            struct pollfd item = { self->stop [0], POLLIN, 0 };
            poll (&item, 1, -1);
            close (fd);
            break;
        }
        char *head = zsys_sprintf ("%sContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                                   self->head, self->body_size, self->body);
        send (fd, head, strlen (head), MSG_NOSIGNAL);
        char chunk [65536];
        memset (chunk, self->fill, sizeof (chunk));
        for (size_t sent = strlen (self->body); sent < self->body_size; ) {
            size_t piece = self->body_size - sent < sizeof (chunk)? self->body_size - sent: sizeof (chunk);
            ssize_t done = send (fd, chunk, piece, MSG_NOSIGNAL);
            if (done <= 0)
                break;
            sent += (size_t) done;
        }
        zstr_free (&head);
        shutdown (fd, SHUT_WR);
        close (fd);
    }
    return NULL;
}

//  Starts a server that answers every request with head, then body and
//  fill up to body_size bytes (silent: never answers)
static s_fake_t *
s_fake_new (const char *head, const char *body, size_t body_size, char fill, bool silent)
{
    s_fake_t *self = (s_fake_t *) zmalloc (sizeof (s_fake_t));
    self->head = head;
    self->body = body;
    self->body_size = body_size? body_size: strlen (body);
    self->fill = fill;
    self->silent = silent;
    self->listener = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = { .sin_family = AF_INET };
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t size = sizeof (address);
    assert (bind (self->listener, (struct sockaddr *) &address, size) == 0);
    assert (listen (self->listener, 16) == 0);
    assert (getsockname (self->listener, (struct sockaddr *) &address, &size) == 0);
    self->port = ntohs (address.sin_port);
    assert (pipe2 (self->stop, O_CLOEXEC) == 0);
    assert (pthread_create (&self->thread, NULL, s_fake_run, self) == 0);
    return self;
}

static void
s_fake_destroy (s_fake_t **self_p)
{
    s_fake_t *self = *self_p;
    assert (write (self->stop [1], "x", 1) == 1);
    pthread_join (self->thread, NULL);
    close (self->listener);
    close (self->stop [0]);
    close (self->stop [1]);
    free (self);
    *self_p = NULL;
}

//  Waits up to timeout_ms for the watch's next event, as a poll loop
//  would: its descriptor and its timeout
static shic_etcd_watch_event_t
s_watch_wait (shic_etcd_watch_t *watch, int timeout_ms, shic_etcd_kv_t **kv, int64_t *revision,
              shic_error_t *err)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (true) {
        shic_etcd_watch_event_t event = shic_etcd_watch_next (watch, kv, revision, err);
        if (event != SHIC_ETCD_WATCH_NONE)
            return event;
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            return SHIC_ETCD_WATCH_NONE;
        long wait = shic_etcd_watch_timeout (watch);
        if (wait < 0 || wait > left)
            wait = (long) left;
        struct pollfd item = { shic_etcd_watch_fd (watch), POLLIN, 0 };
        if (item.fd >= 0)
            poll (&item, 1, (int) wait);
        else
            zclock_sleep ((int) wait);
    }
}

//  The events of a watch until it goes down (at most timeout_ms)
static shic_etcd_watch_event_t
s_watch_until_down (shic_etcd_watch_t *watch, int timeout_ms, shic_error_t *err)
{
    shic_etcd_watch_event_t event;
    do
        event = s_watch_wait (watch, timeout_ms, NULL, NULL, err);
    while (event != SHIC_ETCD_WATCH_DOWN && event != SHIC_ETCD_WATCH_NONE);
    return event;
}

static void
s_test_members (void)
{
    shic_error_t err = { NULL, NULL, NULL };
    //  Bad lists
    const char *bad_urls [] = { NULL, "", "127.0.0.1:2379", "http://", "http://a,", ",http://a",
                                "ftp://a", "http://a b", "http://a,,http://b", NULL };
    for (size_t index = 0; index == 0 || bad_urls [index]; index++) {
        assert (shic_etcd_new (bad_urls [index], 1000, &err) == NULL);
        S_ERROR (err, SHIC_E_INVALID_ARGS);
        assert (shic_etcd_watch_new (bad_urls [index], "p/", 0, &err) == NULL);
        S_ERROR (err, SHIC_E_INVALID_ARGS);
    }
    assert (shic_etcd_new ("http://127.0.0.1:1", 0, &err) == NULL);
    S_ERROR (err, SHIC_E_INVALID_ARGS);
    assert (shic_etcd_watch_new ("http://127.0.0.1:1", NULL, 0, &err) == NULL);
    S_ERROR (err, SHIC_E_INVALID_ARGS);
    shic_etcd_t *etcd = shic_etcd_new (" http://a:1/ ,https://b:2", 1000, &err);
    assert (etcd && streq (shic_etcd_url (etcd), "http://a:1"));
    shic_etcd_destroy (&etcd);
    shic_etcd_destroy (&etcd);

    //  Nobody at the port: unavailable, at once
    int port = 0;
    {
        s_fake_t *fake = s_fake_new ("", "", 1, 0, true);
        port = fake->port;
        s_fake_destroy (&fake);     //  closed: its port is free now
    }
    char *nobody = zsys_sprintf ("http://127.0.0.1:%d", port);
    etcd = shic_etcd_new (nobody, 2000, &err);
    assert (etcd);
    char id [24];
    int64_t start = zclock_mono ();
    assert (shic_etcd_lease_grant (etcd, 5, id, sizeof (id), &err) == -1);
    assert (zclock_mono () - start < 1000);
    assert (streq (shic_test_str (err.details, "etcd"), nobody));
    S_ERROR (err, SHIC_E_INSTANCE_UNAVAILABLE);
    shic_etcd_destroy (&etcd);
    shic_etcd_watch_t *watch = shic_etcd_watch_new (nobody, "p/", 0, &err);
    assert (watch);
    assert (s_watch_until_down (watch, 5000, &err) == SHIC_ETCD_WATCH_DOWN);
    S_ERROR (err, SHIC_E_INSTANCE_UNAVAILABLE);
    assert (shic_etcd_watch_fd (watch) == -1 && shic_etcd_watch_timeout (watch) == -1);
    shic_etcd_watch_destroy (&watch);

    //  An HTML page, cut JSON, 5 MiB: malformed, for calls and the watch
    struct {
        const char *head;
        const char *body;
        size_t size;
        char fill;
    } answers [] = {
        { "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\n",
          "<html><body><h1>Not Found</h1></body></html>", 0, 0 },
        { "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n",
          "{\"header\":{\"revision\":\"3\"},\"kvs\":[{\"key\":", 0, 0 },
        { "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n",
          "{\"header\":{\"revision\":\"3\"},\"kvs\":[], \"pad\":\"", 5 * 1024 * 1024, 'a' },
    };
    for (size_t index = 0; index < sizeof (answers) / sizeof (answers [0]); index++) {
        s_fake_t *fake = s_fake_new (answers [index].head, answers [index].body,
                                     answers [index].size, answers [index].fill, false);
        char *url = zsys_sprintf ("http://127.0.0.1:%d", fake->port);
        etcd = shic_etcd_new (url, 3000, &err);
        shic_etcd_kvs_t *kvs = NULL;
        assert (shic_etcd_range (etcd, "p/", true, &kvs, &err) == -1 && kvs == NULL);
        S_ERROR (err, SHIC_E_MALFORMED);
        assert (shic_etcd_put (etcd, "p/a", "x", 1, NULL, &err) == -1);
        S_ERROR (err, SHIC_E_MALFORMED);
        shic_etcd_destroy (&etcd);
        watch = shic_etcd_watch_new (url, "p/", 0, &err);
        assert (s_watch_until_down (watch, 5000, &err) == SHIC_ETCD_WATCH_DOWN);
        S_ERROR (err, SHIC_E_MALFORMED);
        shic_etcd_watch_destroy (&watch);
        zstr_free (&url);
        s_fake_destroy (&fake);
    }

    //  A member that never answers: the call ends at its timeout
    s_fake_t *fake = s_fake_new ("", "", 1, 0, true);
    char *silent = zsys_sprintf ("http://127.0.0.1:%d", fake->port);
    etcd = shic_etcd_new (silent, 500, &err);
    start = zclock_mono ();
    assert (shic_etcd_delete (etcd, "p/", true, &err) == -1);
    int64_t took = zclock_mono () - start;
    assert (took >= 400 && took < 2500);
    S_ERROR (err, SHIC_E_INSTANCE_UNAVAILABLE);
    shic_etcd_destroy (&etcd);
    s_fake_destroy (&fake);
    zstr_free (&silent);
    zstr_free (&nobody);
}


//  ---------------------------------------------------------------------------
//  Against a real etcd

//  Two objects race to create each key: exactly one wins every time
typedef struct {
    shic_etcd_t *etcd;              //  this racer's object
    const char *name;               //  what it writes
    int wins;                       //  keys it created
} s_racer_t;

#define S_RACE_KEYS 20

static void *
s_race (void *arg)
{
    s_racer_t *racer = (s_racer_t *) arg;
    for (int index = 0; index < S_RACE_KEYS; index++) {
        char key [32];
        snprintf (key, sizeof (key), "race/%d", index);
        bool created = false;
        shic_etcd_kv_t *holder = NULL;
        shic_error_t err = { NULL, NULL, NULL };
        S_OK (shic_etcd_create (racer->etcd, key, racer->name, strlen (racer->name), NULL,
                                &created, &holder, &err), err);
        if (created) {
            racer->wins++;
            assert (holder == NULL);
        }
        else
            assert (holder && !streq (holder->value, racer->name) && holder->version == 1);
        shic_etcd_kv_free (&holder);
    }
    return NULL;
}

static void
s_test_live (const char *url)
{
    shic_error_t err = { NULL, NULL, NULL };
    char *urls = zsys_sprintf ("http://127.0.0.1:1,%s", url);
    //  The first member is not there: the second answers, and is asked
    //  first from then on
    shic_etcd_t *etcd = shic_etcd_new (urls, 3000, &err);
    shic_etcd_t *other = shic_etcd_new (url, 3000, &err);
    assert (etcd && other);
    S_OK (shic_etcd_put (etcd, "hello", "world", 5, NULL, &err), err);
    assert (streq (shic_etcd_url (etcd), url));

    //  Watches from now: one on w/, one on the whole store
    shic_etcd_watch_t *watch = shic_etcd_watch_new (urls, "w/", 0, &err);
    assert (watch);
    shic_etcd_kv_t *kv = NULL;
    int64_t revision = 0;
    assert (s_watch_wait (watch, 5000, &kv, &revision, &err) == SHIC_ETCD_WATCH_CREATED);
    assert (revision > 0 && kv == NULL);
    shic_etcd_watch_t *everything = shic_etcd_watch_new (url, "", 0, &err);
    assert (s_watch_wait (everything, 5000, NULL, &revision, &err) == SHIC_ETCD_WATCH_CREATED);
    //  Nothing to read now: the poll loop may sleep on the socket
    assert (shic_etcd_watch_next (watch, &kv, &revision, &err) == SHIC_ETCD_WATCH_NONE);
    assert (shic_etcd_watch_fd (watch) >= 0);

    //  Leases: grant, keep alive, revoke; a gone lease keeps alive to 0
    char id [24];
    S_OK (shic_etcd_lease_grant (etcd, 30, id, sizeof (id), &err), err);
    assert (strlen (id) > 0 && strspn (id, "0123456789") == strlen (id));
    int64_t ttl = 0;
    S_OK (shic_etcd_lease_keepalive (etcd, id, &ttl, &err), err);
    assert (ttl > 25 && ttl <= 30);
    S_OK (shic_etcd_lease_revoke (etcd, id, &err), err);
    S_OK (shic_etcd_lease_keepalive (etcd, id, &ttl, &err), err);
    assert (ttl == 0);
    assert (shic_etcd_lease_revoke (etcd, id, &err) == -1);
    S_ERROR (err, SHIC_E_LEASE_NOT_FOUND);
    assert (shic_etcd_put (etcd, "w/x", "v", 1, id, &err) == -1);
    S_ERROR (err, SHIC_E_LEASE_NOT_FOUND);
    assert (shic_etcd_put (etcd, "w/x", "v", 1, "12ab", &err) == -1);
    S_ERROR (err, SHIC_E_INVALID_ARGS);
    assert (shic_etcd_put (etcd, "", "v", 1, NULL, &err) == -1);
    S_ERROR (err, SHIC_E_INVALID_ARGS);
    assert (shic_etcd_lease_grant (etcd, 0, id, sizeof (id), &err) == -1);
    S_ERROR (err, SHIC_E_INVALID_ARGS);

    //  Put and delete under the watch
    S_OK (shic_etcd_put (etcd, "w/a", "1", 1, NULL, &err), err);
    S_OK (shic_etcd_put (etcd, "v/not-watched", "1", 1, NULL, &err), err);
    S_OK (shic_etcd_delete (etcd, "w/a", false, &err), err);
    assert (s_watch_wait (watch, 5000, &kv, &revision, &err) == SHIC_ETCD_WATCH_PUT);
    assert (streq (kv->key, "w/a") && streq (kv->value, "1") && kv->version == 1);
    assert (revision == kv->mod_revision && kv->create_revision == kv->mod_revision);
    int64_t put_revision = revision;
    shic_etcd_kv_free (&kv);
    assert (s_watch_wait (watch, 5000, &kv, &revision, &err) == SHIC_ETCD_WATCH_DELETE);
    assert (streq (kv->key, "w/a") && kv->size == 0 && revision == put_revision + 2);
    shic_etcd_kv_free (&kv);

    //  A key under a lease of 2 s: gone when the lease expires, and the
    //  watch says so
    S_OK (shic_etcd_lease_grant (etcd, 2, id, sizeof (id), &err), err);
    const char binary [] = { 'b', 0, 'c' };
    S_OK (shic_etcd_put (etcd, "w/leased", binary, sizeof (binary), id, &err), err);
    S_OK (shic_etcd_put (etcd, "w/leased2", "", 0, id, &err), err);
    shic_etcd_kvs_t *kvs = NULL;
    S_OK (shic_etcd_range (etcd, "w/leased", false, &kvs, &err), err);
    assert (kvs->count == 1 && streq (kvs->kvs [0].lease, id) && kvs->kvs [0].size == 3
            && memcmp (kvs->kvs [0].value, binary, 3) == 0);
    shic_etcd_kvs_destroy (&kvs);
    assert (s_watch_wait (watch, 5000, &kv, &revision, &err) == SHIC_ETCD_WATCH_PUT);
    assert (streq (kv->key, "w/leased") && streq (kv->lease, id) && kv->size == 3);
    shic_etcd_kv_free (&kv);
    assert (s_watch_wait (watch, 5000, &kv, &revision, &err) == SHIC_ETCD_WATCH_PUT);
    assert (streq (kv->key, "w/leased2") && kv->size == 0);
    shic_etcd_kv_free (&kv);
    int64_t granted = zclock_mono ();
    //  Both deletes come in one response, one event each
    assert (s_watch_wait (watch, 8000, &kv, &revision, &err) == SHIC_ETCD_WATCH_DELETE);
    int64_t expired = zclock_mono () - granted;
    assert (streq (kv->key, "w/leased"));
    shic_etcd_kv_free (&kv);
    int64_t expiry_revision = revision;
    assert (s_watch_wait (watch, 1000, &kv, &revision, &err) == SHIC_ETCD_WATCH_DELETE);
    assert (streq (kv->key, "w/leased2") && revision == expiry_revision);
    shic_etcd_kv_free (&kv);
    if (s_verbose)
        printf ("\n    lease of 2 s: its keys deleted %" PRId64 " ms after the put", expired);
    assert (expired >= 1000);
    S_OK (shic_etcd_range (etcd, "w/leased", true, &kvs, &err), err);
    assert (kvs->count == 0 && kvs->revision >= expiry_revision);
    shic_etcd_kvs_destroy (&kvs);
    S_OK (shic_etcd_lease_keepalive (etcd, id, &ttl, &err), err);
    assert (ttl == 0);

    //  Create-if-absent: the second object sees the holder
    bool created = false;
    shic_etcd_kv_t *holder = NULL;
    S_OK (shic_etcd_create (etcd, "claim", "A", 1, NULL, &created, &holder, &err), err);
    assert (created && holder == NULL);
    S_OK (shic_etcd_create (other, "claim", "B", 1, NULL, &created, &holder, &err), err);
    assert (!created && holder && streq (holder->value, "A") && streq (holder->key, "claim"));
    shic_etcd_kv_free (&holder);
    S_OK (shic_etcd_create (other, "claim", "B", 1, NULL, &created, NULL, &err), err);
    assert (!created);
    //  ...raced from two threads: exactly one wins each key
    s_racer_t racers [2] = { { etcd, "first", 0 }, { other, "second", 0 } };
    pthread_t threads [2];
    for (int index = 0; index < 2; index++)
        assert (pthread_create (&threads [index], NULL, s_race, &racers [index]) == 0);
    for (int index = 0; index < 2; index++)
        pthread_join (threads [index], NULL);
    assert (racers [0].wins + racers [1].wins == S_RACE_KEYS);
    S_OK (shic_etcd_range (etcd, "race/", true, &kvs, &err), err);
    assert (kvs->count == S_RACE_KEYS);
    shic_etcd_kvs_destroy (&kvs);
    if (s_verbose)
        printf ("\n    race: %d and %d of %d keys", racers [0].wins, racers [1].wins, S_RACE_KEYS);

    //  Replace and delete_if compare mod_revision
    bool done = false;
    S_OK (shic_etcd_replace (etcd, "cas", 0, "1", 1, NULL, &done, &err), err);
    assert (done);
    S_OK (shic_etcd_replace (etcd, "cas", 0, "2", 1, NULL, &done, &err), err);
    assert (!done);
    S_OK (shic_etcd_range (etcd, "cas", false, &kvs, &err), err);
    int64_t mod = kvs->kvs [0].mod_revision;
    shic_etcd_kvs_destroy (&kvs);
    S_OK (shic_etcd_replace (etcd, "cas", mod, "3", 1, NULL, &done, &err), err);
    assert (done);
    S_OK (shic_etcd_replace (etcd, "cas", mod, "4", 1, NULL, &done, &err), err);
    assert (!done);
    S_OK (shic_etcd_range (etcd, "cas", false, &kvs, &err), err);
    assert (kvs->count == 1 && streq (kvs->kvs [0].value, "3") && kvs->kvs [0].version == 2);
    mod = kvs->kvs [0].mod_revision;
    shic_etcd_kvs_destroy (&kvs);
    S_OK (shic_etcd_delete_if (etcd, "cas", mod - 1, &done, &err), err);
    assert (!done);
    S_OK (shic_etcd_delete_if (etcd, "cas", mod, &done, &err), err);
    assert (done);
    S_OK (shic_etcd_delete_if (etcd, "cas", mod, &done, &err), err);
    assert (!done);
    S_OK (shic_etcd_range (etcd, "cas", false, &kvs, &err), err);
    assert (kvs->count == 0);
    shic_etcd_kvs_destroy (&kvs);

    //  Range of a prefix, in key order, with the store's revision; the
    //  prefix's neighbours stay out
    S_OK (shic_etcd_put (etcd, "q/b", "2", 1, NULL, &err), err);
    S_OK (shic_etcd_put (etcd, "q/a", "1", 1, NULL, &err), err);
    S_OK (shic_etcd_put (etcd, "q/c/d", "3", 1, NULL, &err), err);
    S_OK (shic_etcd_put (etcd, "q0", "no", 2, NULL, &err), err);
    S_OK (shic_etcd_put (etcd, "q", "no", 2, NULL, &err), err);
    S_OK (shic_etcd_range (etcd, "q/", true, &kvs, &err), err);
    assert (kvs->count == 3);
    assert (streq (kvs->kvs [0].key, "q/a") && streq (kvs->kvs [1].key, "q/b")
            && streq (kvs->kvs [2].key, "q/c/d"));
    assert (kvs->revision == kvs->kvs [2].mod_revision + 2);   //  q0 and q came after
    int64_t last = kvs->revision;
    shic_etcd_kvs_destroy (&kvs);
    S_OK (shic_etcd_delete (etcd, "q/", true, &err), err);
    S_OK (shic_etcd_range (etcd, "q", true, &kvs, &err), err);
    assert (kvs->count == 2 && kvs->revision == last + 1);
    shic_etcd_kvs_destroy (&kvs);

    //  The whole-store watch saw all of it, in order
    int puts = 0;
    int deletes = 0;
    shic_etcd_watch_event_t event;
    int64_t previous = 0;
    while ((event = s_watch_wait (everything, 500, &kv, &revision, &err)) != SHIC_ETCD_WATCH_NONE) {
        assert (event == SHIC_ETCD_WATCH_PUT || event == SHIC_ETCD_WATCH_DELETE);
        assert (revision >= previous);
        previous = revision;
        puts += event == SHIC_ETCD_WATCH_PUT;
        deletes += event == SHIC_ETCD_WATCH_DELETE;
        shic_etcd_kv_free (&kv);
    }
    assert (previous == last + 1);
    if (s_verbose)
        printf ("\n    the whole store: %d puts, %d deletes", puts, deletes);
    assert (deletes == 1 + 2 + 1 + 3);  //  w/a; the lease's two; cas; q/...

    //  A forced compaction: a watch from before it is cancelled; range
    //  again and watch from its revision + 1
    S_OK (shic_etcd_put (etcd, "w/c", "1", 1, NULL, &err), err);
    S_OK (shic_etcd_put (etcd, "w/c", "2", 1, NULL, &err), err);
    S_OK (shic_etcd_range (etcd, "w/", true, &kvs, &err), err);
    int64_t now = kvs->revision;
    shic_etcd_kvs_destroy (&kvs);
    S_OK (shic_etcd_compact (etcd, now, &err), err);
    assert (shic_etcd_compact (etcd, now - 1, &err) == -1);
    S_ERROR (err, SHIC_E_INVALID_ARGS);
    shic_etcd_watch_t *old = shic_etcd_watch_new (url, "w/", now - 2, &err);
    do
        event = s_watch_wait (old, 5000, &kv, &revision, &err);
    while (event == SHIC_ETCD_WATCH_CREATED);
    assert (event == SHIC_ETCD_WATCH_COMPACTED && revision == now);
    assert (shic_etcd_watch_next (old, &kv, &revision, &err) == SHIC_ETCD_WATCH_NONE);
    assert (shic_etcd_watch_fd (old) == -1 && shic_etcd_watch_timeout (old) == -1);
    shic_etcd_watch_destroy (&old);
    old = shic_etcd_watch_new (url, "w/", now, &err);
    assert (s_watch_wait (old, 5000, &kv, &revision, &err) == SHIC_ETCD_WATCH_CREATED);
    assert (s_watch_wait (old, 5000, &kv, &revision, &err) == SHIC_ETCD_WATCH_PUT);
    assert (revision == now && streq (kv->value, "2"));
    shic_etcd_kv_free (&kv);
    shic_etcd_watch_destroy (&old);
    //  The live watch goes on past the compaction
    for (int index = 0; index < 2; index++) {
        assert (s_watch_wait (watch, 5000, &kv, &revision, &err) == SHIC_ETCD_WATCH_PUT);
        assert (streq (kv->key, "w/c"));
        shic_etcd_kv_free (&kv);
    }
    //  A range over the 1 MiB a JSON text may have by default: 3 values
    //  of 512 KiB (etcd takes up to 1.5 MiB a request), 2 MiB of base64
    size_t big = 512 * 1024;
    char *value = (char *) malloc (big);
    for (size_t index = 0; index < big; index++)
        value [index] = (char) (index * 7);
    for (int index = 0; index < 3; index++) {
        char key [16];
        snprintf (key, sizeof (key), "big/%d", index);
        S_OK (shic_etcd_put (other, key, value, big, NULL, &err), err);
    }
    S_OK (shic_etcd_range (other, "big/", true, &kvs, &err), err);
    assert (kvs->count == 3);
    for (int index = 0; index < 3; index++)
        assert (kvs->kvs [index].size == big && memcmp (kvs->kvs [index].value, value, big) == 0);
    shic_etcd_kvs_destroy (&kvs);
    free (value);
    S_OK (shic_etcd_delete (other, "big/", true, &err), err);
    zstr_free (&urls);
    shic_etcd_destroy (&other);
    shic_etcd_destroy (&etcd);
    shic_etcd_watch_destroy (&watch);
    shic_etcd_watch_destroy (&everything);
}

//  etcd stopped and started again: typed errors, DOWN, then it works
static void
s_test_restart (shic_test_etcd_t *server)
{
    shic_error_t err = { NULL, NULL, NULL };
    shic_etcd_t *etcd = shic_etcd_new (server->url, 1000, &err);
    char id [24];
    S_OK (shic_etcd_lease_grant (etcd, 60, id, sizeof (id), &err), err);
    S_OK (shic_etcd_put (etcd, "kept", "yes", 3, id, &err), err);
    shic_etcd_watch_t *watch = shic_etcd_watch_new (server->url, "kept", 0, &err);
    assert (s_watch_wait (watch, 5000, NULL, NULL, &err) == SHIC_ETCD_WATCH_CREATED);

    shic_test_etcd_stop (server);
    assert (s_watch_until_down (watch, 5000, &err) == SHIC_ETCD_WATCH_DOWN);
    S_ERROR (err, SHIC_E_INSTANCE_UNAVAILABLE);
    assert (shic_etcd_watch_next (watch, NULL, NULL, &err) == SHIC_ETCD_WATCH_NONE);
    shic_etcd_watch_destroy (&watch);
    int64_t start = zclock_mono ();
    shic_etcd_kvs_t *kvs = NULL;
    assert (shic_etcd_range (etcd, "kept", false, &kvs, &err) == -1 && kvs == NULL);
    S_ERROR (err, SHIC_E_INSTANCE_UNAVAILABLE);
    int64_t ttl = -1;
    assert (shic_etcd_lease_keepalive (etcd, id, &ttl, &err) == -1 && ttl == 0);
    S_ERROR (err, SHIC_E_INSTANCE_UNAVAILABLE);
    assert (zclock_mono () - start < 2 * 1000 + 500);
    watch = shic_etcd_watch_new (server->url, "kept", 0, &err);
    assert (watch);
    assert (s_watch_until_down (watch, 5000, &err) == SHIC_ETCD_WATCH_DOWN);
    S_ERROR (err, SHIC_E_INSTANCE_UNAVAILABLE);
    shic_etcd_watch_destroy (&watch);

    //  Started again: the same object works, the lease survived
    shic_test_etcd_restart (server);
    S_OK (shic_etcd_lease_keepalive (etcd, id, &ttl, &err), err);
    assert (ttl > 0);
    S_OK (shic_etcd_range (etcd, "kept", false, &kvs, &err), err);
    assert (kvs->count == 1 && streq (kvs->kvs [0].value, "yes"));
    int64_t revision = kvs->revision;
    shic_etcd_kvs_destroy (&kvs);
    watch = shic_etcd_watch_new (server->url, "kept", revision + 1, &err);
    assert (s_watch_wait (watch, 5000, NULL, NULL, &err) == SHIC_ETCD_WATCH_CREATED);
    S_OK (shic_etcd_lease_revoke (etcd, id, &err), err);
    shic_etcd_kv_t *kv = NULL;
    assert (s_watch_wait (watch, 5000, &kv, &revision, &err) == SHIC_ETCD_WATCH_DELETE);
    assert (streq (kv->key, "kept"));
    shic_etcd_kv_free (&kv);
    shic_etcd_watch_destroy (&watch);
    shic_etcd_destroy (&etcd);
}

void
shic_etcd_test (bool verbose)
{
    s_verbose = verbose;
    printf (" * etcd: ");
    s_test_base64 ();
    s_test_replies ();
    s_test_streams ();
    s_test_members ();
    shic_test_etcd_t server;
    const char *url = shic_test_etcd_start (&server);
    if (!url) {
        printf ("what needs no server passed\n");
        shic_test_skip ("etcd", "no etcd installed: apt-get install etcd-server");
        return;
    }
    s_test_live (url);
    s_test_restart (&server);
    shic_test_etcd_destroy (&server);
    printf ("%sOK\n", verbose? "\n": "");
}
