/*  =========================================================================
    fuzz_etcd - libFuzzer target: what the etcd class reads from a member

    One input is two bytes of settings and a body. The body goes through
    the reply parser as an answer with an HTTP status the second byte
    chooses; a reply that parses is read as a range and its pairs and a
    transaction's pairs are decoded. The same body is the watch stream,
    fed in pieces of a size the first byte chooses, and read to its end:
    every PUT and DELETE carries a pair whose mod_revision is the event's
    revision, DOWN carries a typed error, and after DOWN or COMPACTED
    nothing more comes. The body is also decoded as base64: what decodes
    encodes back to the same text. Nothing here may crash, leak or trip
    UBSan on any input.
    =========================================================================
*/

#include "shic.h"
#include "shic_etcd_int.h"

//  Reads a reply the way the calls do
static void
s_reply (const char *body, size_t size, long status)
{
    shic_val_t *reply = NULL;
    shic_error_t err = { NULL, NULL, NULL };
    bool retry = false;
    int rc = shic_etcd_reply_parse (body, size, status, "http://fuzz", &reply, &retry, &err);
    assert ((rc == 0) == (reply != NULL));
    assert ((rc == 0) == (err.code == NULL));
    if (rc) {
        assert (shic_error_code_lookup (err.code) == err.code);
        shic_error_clear (&err);
        return;
    }
    shic_etcd_kvs_t *kvs = shic_etcd_kvs_from_reply (reply);
    if (kvs) {
        for (size_t index = 0; index < kvs->count; index++) {
            assert (kvs->kvs [index].key && kvs->kvs [index].value);
            assert (kvs->kvs [index].value [kvs->kvs [index].size] == 0);
        }
        shic_etcd_kvs_destroy (&kvs);
    }
    //  A failed create's holder
    const shic_val_t *range = shic_val_path (shic_val_at (shic_val_get (reply, "responses"), 0),
                                             "response_range");
    shic_etcd_kv_t *kv = shic_etcd_kv_from_val (shic_val_at (shic_val_get (range, "kvs"), 0));
    if (kv)
        assert (kv->key && strlen (kv->lease) < sizeof (kv->lease));
    shic_etcd_kv_free (&kv);
    shic_val_destroy (&reply);
}

//  Reads the body as a watch stream fed in pieces of cut bytes
static void
s_stream (const char *body, size_t size, size_t cut)
{
    shic_etcd_watch_t *watch = shic_etcd_watch_new_fed ();
    assert (watch);
    size_t offset = 0;
    bool over = false;
    while (true) {
        size_t piece = size - offset < cut? size - offset: cut;
        shic_etcd_watch_feed (watch, body + offset, piece);
        offset += piece;
        if (offset == size)
            shic_etcd_watch_feed_end (watch);
        shic_etcd_watch_event_t event;
        do {
            shic_etcd_kv_t *kv = NULL;
            int64_t revision = -1;
            shic_error_t err = { NULL, NULL, NULL };
            event = shic_etcd_watch_next (watch, &kv, &revision, &err);
            assert (!over || event == SHIC_ETCD_WATCH_NONE);
            if (event == SHIC_ETCD_WATCH_PUT || event == SHIC_ETCD_WATCH_DELETE)
                assert (kv && kv->key && kv->value && kv->mod_revision == revision);
            else
                assert (kv == NULL);
            if (event == SHIC_ETCD_WATCH_DOWN)
                assert (err.code && shic_error_code_lookup (err.code) == err.code);
            else
                assert (err.code == NULL);
            over = over || event == SHIC_ETCD_WATCH_DOWN || event == SHIC_ETCD_WATCH_COMPACTED;
            shic_etcd_kv_free (&kv);
            shic_error_clear (&err);
        } while (event != SHIC_ETCD_WATCH_NONE);
        if (offset == size)
            break;
    }
    //  A stream that ended has said so
    assert (over);
    assert (shic_etcd_watch_timeout (watch) == -1);
    shic_etcd_watch_destroy (&watch);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    static const long statuses [] = { 200, 200, 200, 400, 404, 500, 503, 0 };
    size_t cut = data [0] == 0? size: (size_t) data [0] % 64 + 1;
    long status = statuses [data [1] % 8];
    const char *body = (const char *) data + 2;
    size -= 2;
    s_reply (body, size, status);
    s_stream (body, size, cut);

    char *decoded = NULL;
    size_t decoded_size = 0;
    if (shic_etcd_base64_decode (body, size, &decoded, &decoded_size) == 0) {
        assert (decoded [decoded_size] == 0);
        char *text = shic_json_base64 (decoded, decoded_size);
        assert (text && strlen (text) == size && memcmp (text, body, size) == 0);
        free (text);
        free (decoded);
    }
    else
        assert (decoded == NULL);
    return 0;
}
