/*  =========================================================================
    shic_etcd_codec - etcd's JSON read and written: replies, pairs, base64

    Part of shic_etcd (see shic_etcd.c for the calls, shic_etcd_int.h for
    what the files share). Pure functions on bytes and values, no curl:
    the fields of etcd's JSON (int64 as decimal strings, lease ids, pairs),
    a reply's body checked and unwrapped or turned into a typed error, and
    base64 as the gateway has it. tests/shic_etcd_test.c and
    fuzz/fuzz_etcd.c feed them bytes without a server.
    =========================================================================
*/

#include <czmq.h>
#include <errno.h>
#include <inttypes.h>

#include "shic_json.h"
#include "shic_etcd.h"
#include "shic_etcd_int.h"

//  --------------------------------------------------------------------------
//  Base64, as etcd's gateway has it (Go's StdEncoding: padded, strict)

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
int
shic_etcd_int64 (const shic_val_t *val, int64_t *result)
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
int
shic_etcd_lease_field (const shic_val_t *val, char *id)
{
    int64_t number;
    if (shic_etcd_int64 (val, &number) || number < 0)
        return -1;
    if (number == 0)
        id [0] = 0;
    else
        snprintf (id, 24, "%" PRId64, number);
    return 0;
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
    ||  shic_etcd_int64 (shic_val_get (val, "create_revision"), &kv->create_revision)
    ||  shic_etcd_int64 (shic_val_get (val, "mod_revision"), &kv->mod_revision)
    ||  shic_etcd_int64 (shic_val_get (val, "version"), &kv->version)
    ||  shic_etcd_lease_field (shic_val_get (val, "lease"), kv->lease)
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
    return shic_etcd_int64 (shic_val_path (reply, "header/revision"), revision);
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
void
shic_etcd_malformed (shic_error_t *err, const char *url, const char *what)
{
    shic_val_t *details = shic_val_new_map ();
    shic_val_set_str (details, "etcd", url);
    shic_error_set (err, SHIC_E_MALFORMED, &details, "etcd at %s: %s", url, what);
}

//  Sets err to SHIC_E_INSTANCE_UNAVAILABLE with details {etcd: url}
void
shic_etcd_unavailable (shic_error_t *err, const char *url, const char *why)
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
        shic_etcd_malformed (err, url, what);
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
        if (!shic_val_is (code, SHIC_VAL_INT) || shic_etcd_int64 (code, &number) || number <= 0
        ||  !shic_val_is (message, SHIC_VAL_STR))
            shic_etcd_malformed (err, url, "an error that is not etcd's shape");
        else
            s_store_error (url, number, shic_val_str (message), retry, err);
        shic_val_destroy (&tree);
        return -1;
    }
    if (status != 200) {
        shic_val_destroy (&tree);
        char what [64];
        snprintf (what, sizeof (what), "HTTP %ld without etcd's error", status);
        shic_etcd_malformed (err, url, what);
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
        shic_etcd_malformed (err, url, "a reply without etcd's header");
        return -1;
    }
    *retry = false;
    *reply_p = reply;
    return 0;
}
