/*  =========================================================================
    shic_wire - the wire envelope of wire.md

    Everything here is built on shic_val; msgpack itself stays inside
    shic_val.c. Request decoding follows wire.md: the body must be a map,
    the id is read first so that even an error reply can echo it, then the
    version, the id's presence and shape, op and args are checked in turn.
    =========================================================================
*/

#include <czmq.h>
#include "shic_wire.h"
#include "shic_json.h"


//  ---------------------------------------------------------------------------
//  Requests, server side

//  True when a string is what it claims: UTF-8, and no NUL inside (which
//  would cut it where C reads it)
static bool
s_text_valid (const char *text, size_t size)
{
    return strlen (text) == size && shic_json_utf8_prefix (text, size) == size;
}

//  An id is a uint or a string of at most SHIC_WIRE_ID_MAX bytes
static bool
s_id_valid (const shic_val_t *id)
{
    if (shic_val_is (id, SHIC_VAL_INT))
        return shic_val_int (id) >= 0;
    if (shic_val_is (id, SHIC_VAL_STR))
        return shic_val_len (id) <= SHIC_WIRE_ID_MAX
            && s_text_valid (shic_val_str (id), shic_val_len (id));
    return false;
}

//  Puts item and a dot before what path holds (a path is written from its
//  end, once a bad string is found)
static void
s_path_prepend (char *path, size_t size, const char *item)
{
    size_t length = strlen (path);
    size_t item_length = strlen (item);
    size_t head = item_length + (length? 1: 0);
    if (head > size - 1)
        head = size - 1;
    if (length > size - 1 - head)
        length = size - 1 - head;       //  too long: the end is cut
    memmove (path + head, path, length);
    path [head + length] = 0;
    if (item_length > head)
        item_length = head;
    memcpy (path, item, item_length);
    if (item_length < head)
        path [item_length] = '.';
}

//  Finds the first string (value or map key) under value that is not
//  valid text; false with its path below value ("b.0", "(key)" for a bad
//  key) in path. Valid input costs no formatting. The depth is bounded by
//  the decoder. Bins are bytes and are not looked at.
static bool
s_strings_valid (const shic_val_t *value, char *path, size_t size)
{
    if (shic_val_is (value, SHIC_VAL_STR)) {
        if (s_text_valid (shic_val_str (value), shic_val_len (value)))
            return true;
        *path = 0;
        return false;
    }
    bool map = shic_val_is (value, SHIC_VAL_MAP);
    if (!map && !shic_val_is (value, SHIC_VAL_ARRAY))
        return true;
    for (size_t index = 0; index < shic_val_size (value); index++) {
        const char *key = map? shic_val_key_at (value, index): NULL;
        if (key && !s_text_valid (key, strlen (key))) {
            snprintf (path, size, "(key)");
            return false;
        }
        if (!s_strings_valid (shic_val_at (value, index), path, size)) {
            char item [32];
            if (!key)
                snprintf (item, sizeof (item), "%zu", index);
            s_path_prepend (path, size, key? key: item);
            return false;
        }
    }
    return true;
}

int
shic_wire_request_decode (const void *data, size_t size, size_t max_bytes,
                          shic_wire_request_t *req, shic_error_t *err)
{
    assert (req);
    memset (req, 0, sizeof (shic_wire_request_t));
    shic_val_limits_t limits = { max_bytes, 0, 0 };
    shic_val_t *body = NULL;
    const char *reason = NULL;
    if (shic_val_decode (data, size, &limits, &body, &reason)) {
        shic_error_set (err, SHIC_E_MALFORMED, NULL,
                        "The request body is not valid msgpack (%s).", reason);
        return -1;
    }
    if (!shic_val_is (body, SHIC_VAL_MAP)) {
        shic_error_set (err, SHIC_E_MALFORMED, NULL,
                        "The request body is a %s, not a map.",
                        shic_val_type_name (body));
        shic_val_destroy (&body);
        return -1;
    }
    req->body = body;

    shic_val_t *id = shic_val_get (body, "id");
    if (s_id_valid (id))
        req->id = id;

    shic_val_t *version = shic_val_get (body, "v");
    if (!version) {
        shic_error_set (err, SHIC_E_MALFORMED, NULL,
                        "The request has no protocol version 'v'.");
        return -1;
    }
    if (!shic_val_is (version, SHIC_VAL_INT)
    ||  shic_val_int (version) != SHIC_WIRE_VERSION) {
        shic_val_t *details = shic_val_new_map ();
        if (details)
            shic_val_set_int (details, "supported", SHIC_WIRE_VERSION);
        shic_error_set (err, SHIC_E_UNSUPPORTED_VERSION, &details,
                        "Protocol version %s is not supported; use %d.",
                        shic_val_is (version, SHIC_VAL_INT)? "other than 1"
                                                           : "of this type",
                        SHIC_WIRE_VERSION);
        return -1;
    }
    if (!req->id) {
        if (id)
            shic_error_set_field (err, SHIC_E_INVALID_ARGS, "id",
                "The request id must be a uint or a UTF-8 string of at most %d bytes.",
                SHIC_WIRE_ID_MAX);
        else
            shic_error_set_field (err, SHIC_E_INVALID_ARGS, "id",
                                  "The request has no id.");
        return -1;
    }
    shic_val_t *op = shic_val_get (body, "op");
    req->op = shic_val_str (op);
    if (!req->op || !s_text_valid (req->op, shic_val_len (op))) {
        req->op = NULL;
        shic_error_set_field (err, SHIC_E_INVALID_ARGS, "op",
                              "The request op must be a UTF-8 string without NUL bytes.");
        return -1;
    }
    shic_val_t *args = shic_val_get (body, "args");
    if (!args || shic_val_is (args, SHIC_VAL_NIL)) {
        shic_val_t *empty = shic_val_new_map ();
        if (!empty || shic_val_set (body, "args", &empty)) {
            req->op = NULL;
            shic_error_set (err, SHIC_E_INTERNAL, NULL,
                            "Out of memory while decoding a request.");
            return -1;
        }
        args = shic_val_get (body, "args");
    }
    else
    if (!shic_val_is (args, SHIC_VAL_MAP)) {
        req->op = NULL;
        shic_error_set_field (err, SHIC_E_INVALID_ARGS, "args",
                              "The request args must be a map, not a %s.",
                              shic_val_type_name (args));
        return -1;
    }
    //  Strings are stored, echoed and published; a NUL would cut one
    //  ("tiny\0../x" read as "tiny"), bad UTF-8 breaks every client that
    //  reads them back. Refused here, once, for every op.
    char path [256];
    if (!s_strings_valid (args, path, sizeof (path))) {
        req->op = NULL;
        shic_error_set_field (err, SHIC_E_INVALID_ARGS, path,
                              "The string %s is not UTF-8 or holds a NUL byte.", path);
        return -1;
    }
    req->args = args;
    return 0;
}

void
shic_wire_request_reset (shic_wire_request_t *req)
{
    if (!req)
        return;
    shic_val_destroy (&req->body);
    memset (req, 0, sizeof (shic_wire_request_t));
}

zframe_t *
shic_wire_frame_new (shic_val_t **val_p)
{
    zframe_t *frame = NULL;
    void *data = NULL;
    size_t size = 0;
    if (*val_p && shic_val_encode (*val_p, &data, &size) == 0) {
        frame = zframe_new (data, size);
        free (data);
    }
    shic_val_destroy (val_p);
    return frame;
}

//  The reply envelope {v, id} without ok
static shic_val_t *
s_reply_new (const shic_val_t *id)
{
    shic_val_t *body = shic_val_new_map ();
    if (body
    && (shic_val_set_int (body, "v", SHIC_WIRE_VERSION)
    ||  shic_val_set_dup (body, "id", id)))
        shic_val_destroy (&body);
    return body;
}

zframe_t *
shic_wire_reply_ok (const shic_val_t *id, shic_val_t **result_p)
{
    shic_val_t *result = result_p? *result_p: NULL;
    shic_val_writer_t *writer = shic_wire_reply_ok_begin (id);
    if (writer) {
        if (result)
            shic_val_writer_val (writer, result);
        else
            shic_val_writer_map (writer, 0);
    }
    if (result_p)
        shic_val_destroy (result_p);
    return shic_wire_frame_take (&writer);
}

shic_val_writer_t *
shic_wire_reply_ok_begin (const shic_val_t *id)
{
    shic_val_writer_t *writer = shic_val_writer_new ();
    if (writer) {
        //  {v, id, ok, result}: the caller writes the result
        shic_val_writer_map (writer, 4);
        shic_val_writer_str (writer, "v");
        shic_val_writer_int (writer, SHIC_WIRE_VERSION);
        shic_val_writer_str (writer, "id");
        shic_val_writer_val (writer, id);
        shic_val_writer_str (writer, "ok");
        shic_val_writer_bool (writer, true);
        shic_val_writer_str (writer, "result");
    }
    return writer;
}

zframe_t *
shic_wire_frame_take (shic_val_writer_t **writer_p)
{
    void *data = NULL;
    size_t size = 0;
    if (shic_val_writer_take (writer_p, &data, &size) != 0)
        return NULL;
    zframe_t *frame = zframe_new (data, size);
    free (data);
    return frame;
}

zframe_t *
shic_wire_reply_error (const shic_val_t *id, const shic_error_t *err)
{
    shic_val_t *error = shic_error_to_val (err);
    shic_val_t *body = s_reply_new (id);
    if (!error || !body
    ||  shic_val_set_bool (body, "ok", false)
    ||  shic_val_set (body, "error", &error)) {
        shic_val_destroy (&error);
        shic_val_destroy (&body);
        return NULL;
    }
    return shic_wire_frame_new (&body);
}


//  ---------------------------------------------------------------------------
//  Requests and replies, client side

zframe_t *
shic_wire_request_encode (const shic_val_t *id, const char *op,
                          shic_val_t **args_p)
{
    shic_val_t *args = NULL;
    if (args_p) {
        args = *args_p;
        *args_p = NULL;
    }
    shic_val_t *body = shic_val_new_map ();
    if (!body || !op
    ||  shic_val_set_int (body, "v", SHIC_WIRE_VERSION)
    ||  shic_val_set_dup (body, "id", id)
    ||  shic_val_set_str (body, "op", op)
    || (args && shic_val_set (body, "args", &args))) {
        shic_val_destroy (&args);
        shic_val_destroy (&body);
        return NULL;
    }
    return shic_wire_frame_new (&body);
}

int
shic_wire_reply_decode (const void *data, size_t size, shic_wire_reply_t *reply)
{
    assert (reply);
    memset (reply, 0, sizeof (shic_wire_reply_t));
    if (shic_val_decode (data, size, NULL, &reply->body, NULL))
        return -2;
    shic_val_t *body = reply->body;
    shic_val_t *version = shic_val_get (body, "v");
    shic_val_t *ok = shic_val_get (body, "ok");
    if (!shic_val_is (body, SHIC_VAL_MAP)
    ||  !shic_val_is (version, SHIC_VAL_INT)
    ||  shic_val_int (version) != SHIC_WIRE_VERSION
    ||  !shic_val_is (ok, SHIC_VAL_BOOL)) {
        shic_wire_reply_reset (reply);
        return -2;
    }
    reply->id = shic_val_get (body, "id");
    reply->ok = shic_val_bool (ok);
    if (reply->ok) {
        reply->result = shic_val_get (body, "result");
        if (!shic_val_is (reply->result, SHIC_VAL_MAP)) {
            shic_wire_reply_reset (reply);
            return -2;
        }
    }
    else {
        shic_val_t *error = shic_val_get (body, "error");
        if (!shic_val_is (error, SHIC_VAL_MAP)
        ||  shic_error_from_val (&reply->error, error)) {
            shic_wire_reply_reset (reply);
            return -2;
        }
    }
    return 0;
}

void
shic_wire_reply_reset (shic_wire_reply_t *reply)
{
    if (!reply)
        return;
    shic_val_destroy (&reply->body);
    shic_error_clear (&reply->error);
    memset (reply, 0, sizeof (shic_wire_reply_t));
}


//  ---------------------------------------------------------------------------
//  Self test

//  Encodes body and runs the request decoder over it
static int
s_decode_request (shic_val_t **body_p, shic_wire_request_t *req,
                  shic_error_t *err)
{
    void *data;
    size_t size;
    int rc = shic_val_encode (*body_p, &data, &size);
    assert (rc == 0);
    shic_val_destroy (body_p);
    rc = shic_wire_request_decode (data, size, 0, req, err);
    free (data);
    return rc;
}

static shic_val_t *
s_request_body (const char *json)
{
    shic_val_t *body = shic_val_from_json (json);
    assert (body);
    return body;
}

//  Checks an error's code and, when field is given, its details.field
static void
s_assert_error (const shic_error_t *err, const char *code, const char *field)
{
    assert (err->code);
    assert (streq (err->code, code));
    assert (err->message);
    if (field)
        assert (streq (shic_val_str (shic_val_get (err->details, "field")), field));
}

void
shic_wire_test (bool verbose)
{
    printf (" * shic_wire: ");
    if (verbose)
        printf ("\n");

    //  The streamed ok reply is byte for byte the built one
    {
        shic_val_t *id = shic_val_new_int (42);
        shic_val_t *result = shic_val_from_json ("{\"a\":[1,\"two\",null],\"b\":{\"c\":true}}");
        shic_val_t *copy = shic_val_dup (result);
        zframe_t *built = shic_wire_reply_ok (id, &copy);
        shic_val_writer_t *writer = shic_wire_reply_ok_begin (id);
        shic_val_writer_map (writer, 2);
        shic_val_writer_str (writer, "a");
        shic_val_writer_val (writer, shic_val_get (result, "a"));
        shic_val_writer_str (writer, "b");
        shic_val_writer_map (writer, 1);
        assert (shic_val_writer_pairs (writer, shic_val_get (result, "b"), NULL, NULL) == 1);
        zframe_t *streamed = shic_wire_frame_take (&writer);
        assert (!writer);
        assert (built && streamed && zframe_eq (built, streamed));
        //  A pair's value replaced on the way
        writer = shic_val_writer_new ();
        shic_val_writer_map (writer, 2);
        shic_val_writer_pairs (writer, result, "b", "x");
        void *data = NULL;
        size_t size = 0;
        assert (shic_val_writer_take (&writer, &data, &size) == 0);
        shic_val_t *decoded = NULL;
        assert (shic_val_decode (data, size, NULL, &decoded, NULL) == 0);
        assert (streq (shic_val_str (shic_val_get (decoded, "b")), "x"));
        assert (shic_val_size (shic_val_get (decoded, "a")) == 3);
        free (data);
        shic_val_destroy (&decoded);
        zframe_destroy (&built);
        zframe_destroy (&streamed);
        shic_val_destroy (&result);
        shic_val_destroy (&id);
    }

    //  A good request, through the client encoder
    shic_error_t err = { NULL, NULL, NULL };
    shic_wire_request_t req;
    shic_val_t *id = shic_val_new_int (7);
    shic_val_t *args = shic_val_new_map ();
    shic_val_set_str (args, "instance_id", "abc");
    zframe_t *frame = shic_wire_request_encode (id, "lookup_instance", &args);
    assert (frame);
    assert (args == NULL);
    assert (shic_wire_request_decode (zframe_data (frame), zframe_size (frame),
                                      0, &req, &err) == 0);
    assert (err.code == NULL);
    assert (shic_val_equal (req.id, id));
    assert (streq (req.op, "lookup_instance"));
    assert (streq (shic_val_str (shic_val_get (req.args, "instance_id")), "abc"));
    shic_wire_request_reset (&req);
    assert (req.body == NULL);
    //  The same frame above a small size limit is malformed
    assert (shic_wire_request_decode (zframe_data (frame), zframe_size (frame),
                                      zframe_size (frame) - 1, &req, &err) == -1);
    s_assert_error (&err, SHIC_E_MALFORMED, NULL);
    assert (req.id == NULL);
    shic_wire_request_reset (&req);
    zframe_destroy (&frame);

    //  No args, nil args: an empty map is put in
    frame = shic_wire_request_encode (id, "ping", NULL);
    assert (shic_wire_request_decode (zframe_data (frame), zframe_size (frame),
                                      0, &req, &err) == 0);
    assert (shic_val_is (req.args, SHIC_VAL_MAP));
    assert (shic_val_size (req.args) == 0);
    assert (shic_val_get (req.body, "args") == req.args);
    shic_wire_request_reset (&req);
    zframe_destroy (&frame);
    shic_val_destroy (&id);

    shic_val_t *body = s_request_body ("{\"v\":1,\"id\":\"s-1\",\"op\":\"ping\",\"args\":null}");
    assert (s_decode_request (&body, &req, &err) == 0);
    assert (streq (shic_val_str (req.id), "s-1"));
    assert (shic_val_is (req.args, SHIC_VAL_MAP));
    shic_wire_request_reset (&req);

    //  Not msgpack, not a map
    assert (shic_wire_request_decode ("\xc1", 1, 0, &req, &err) == -1);
    s_assert_error (&err, SHIC_E_MALFORMED, NULL);
    assert (req.id == NULL && req.body == NULL);
    shic_wire_request_reset (&req);
    body = s_request_body ("[1,2]");
    assert (s_decode_request (&body, &req, &err) == -1);
    s_assert_error (&err, SHIC_E_MALFORMED, NULL);
    assert (req.id == NULL);
    shic_wire_request_reset (&req);

    //  Version missing, wrong, wrong type (id still echoed)
    body = s_request_body ("{\"id\":3,\"op\":\"ping\"}");
    assert (s_decode_request (&body, &req, &err) == -1);
    s_assert_error (&err, SHIC_E_MALFORMED, NULL);
    assert (shic_val_int (req.id) == 3);
    shic_wire_request_reset (&req);
    body = s_request_body ("{\"v\":2,\"id\":3,\"op\":\"ping\"}");
    assert (s_decode_request (&body, &req, &err) == -1);
    s_assert_error (&err, SHIC_E_UNSUPPORTED_VERSION, NULL);
    assert (shic_val_int (req.id) == 3);
    shic_wire_request_reset (&req);
    body = s_request_body ("{\"v\":\"1\",\"id\":\"x\",\"op\":\"ping\"}");
    assert (s_decode_request (&body, &req, &err) == -1);
    s_assert_error (&err, SHIC_E_UNSUPPORTED_VERSION, NULL);
    assert (streq (shic_val_str (req.id), "x"));
    shic_wire_request_reset (&req);

    //  Id missing, negative, too long, wrong type
    const char *bad_ids [] = {
        "{\"v\":1,\"op\":\"ping\"}",
        "{\"v\":1,\"id\":-1,\"op\":\"ping\"}",
        "{\"v\":1,\"id\":\"12345678901234567890123456789012"
            "345678901234567890123456789012345\",\"op\":\"ping\"}",
        "{\"v\":1,\"id\":1.5,\"op\":\"ping\"}",
        "{\"v\":1,\"id\":null,\"op\":\"ping\"}",
        "{\"v\":1,\"id\":[1],\"op\":\"ping\"}",
        NULL };
    size_t index;
    for (index = 0; bad_ids [index]; index++) {
        body = s_request_body (bad_ids [index]);
        assert (s_decode_request (&body, &req, &err) == -1);
        s_assert_error (&err, SHIC_E_INVALID_ARGS, "id");
        assert (req.id == NULL);
        shic_wire_request_reset (&req);
    }
    //  A 64-byte string id is fine
    body = s_request_body ("{\"v\":1,\"id\":\"12345678901234567890123456789012"
                           "34567890123456789012345678901234\",\"op\":\"ping\"}");
    assert (s_decode_request (&body, &req, &err) == 0);
    assert (shic_val_len (req.id) == 64);
    shic_wire_request_reset (&req);

    //  Op missing or not a string
    body = s_request_body ("{\"v\":1,\"id\":4}");
    assert (s_decode_request (&body, &req, &err) == -1);
    s_assert_error (&err, SHIC_E_INVALID_ARGS, "op");
    assert (shic_val_int (req.id) == 4);
    shic_wire_request_reset (&req);
    body = s_request_body ("{\"v\":1,\"id\":4,\"op\":5}");
    assert (s_decode_request (&body, &req, &err) == -1);
    s_assert_error (&err, SHIC_E_INVALID_ARGS, "op");
    shic_wire_request_reset (&req);

    //  Strings are what they claim: a NUL inside or bad UTF-8 anywhere in
    //  op, id or args is invalid_args naming the string (a bad id is not
    //  echoed; the others keep theirs)
    struct {
        const char *json;           //  the request around the string
        const char *map;            //  path of the map that gets it
        const char *key;            //  its key there
        const char *bytes;          //  the string
        size_t size;                //  its bytes
        const char *field;          //  the field of the error
    } bad_strings [] = {
        { "{\"v\":1,\"id\":4}", NULL, "op", "ping\0evil", 9, "op" },
        { "{\"v\":1,\"id\":4}", NULL, "op", "pi\xffng", 5, "op" },
        { "{\"v\":1,\"op\":\"ping\"}", NULL, "id", "\xc3\x28", 2, "id" },
        { "{\"v\":1,\"id\":4,\"op\":\"ensure_endpoint\",\"args\":"
          "{\"request\":{\"target_preference\":{\"backend_options\":{}}}}}",
          "args/request/target_preference/backend_options", "model_identity",
          "tiny\0../../etc/passwd", 21, "request.target_preference.backend_options.model_identity" },
        { "{\"v\":1,\"id\":4,\"op\":\"ensure_endpoint\",\"args\":{}}", "args", "owner_ref",
          "\xed\xa0\x80", 3, "owner_ref" },        //  a surrogate
    };
    for (index = 0; index < sizeof (bad_strings) / sizeof (bad_strings [0]); index++) {
        body = s_request_body (bad_strings [index].json);
        shic_val_t *map = bad_strings [index].map? shic_val_path (body, bad_strings [index].map): body;
        shic_val_set (map, bad_strings [index].key, &(shic_val_t *) {
            shic_val_new_strn (bad_strings [index].bytes, bad_strings [index].size) });
        assert (s_decode_request (&body, &req, &err) == -1);
        s_assert_error (&err, SHIC_E_INVALID_ARGS, bad_strings [index].field);
        assert (req.op == NULL);
        if (streq (bad_strings [index].field, "id"))
            assert (req.id == NULL);
        else
            assert (shic_val_int (req.id) == 4);
        shic_wire_request_reset (&req);
    }
    body = s_request_body ("{\"v\":1,\"id\":5,\"op\":\"x\",\"args\":{\"list\":[\"a\"]}}");
    shic_val_push (shic_val_get (shic_val_get (body, "args"), "list"),
                   &(shic_val_t *) { shic_val_new_strn ("b\0", 2) });
    assert (s_decode_request (&body, &req, &err) == -1);
    s_assert_error (&err, SHIC_E_INVALID_ARGS, "list.1");
    shic_wire_request_reset (&req);
    body = s_request_body ("{\"v\":1,\"id\":5,\"op\":\"x\",\"args\":{\"m\":{}}}");
    shic_val_set_int (shic_val_get (shic_val_get (body, "args"), "m"), "k\xc0\xaf", 1);
    assert (s_decode_request (&body, &req, &err) == -1);
    s_assert_error (&err, SHIC_E_INVALID_ARGS, "m.(key)");
    shic_wire_request_reset (&req);
    //  Valid UTF-8 beyond ASCII, and bins, pass
    body = s_request_body ("{\"v\":1,\"id\":\"\\u00e9\",\"op\":\"ping\","
                           "\"args\":{\"owner_ref\":\"\\u65e5\\u672c \\ud83d\\ude00\"}}");
    shic_val_set (shic_val_get (body, "args"), "blob",
                  &(shic_val_t *) { shic_val_new_bin ("\0\xff", 2) });
    assert (s_decode_request (&body, &req, &err) == 0);
    shic_wire_request_reset (&req);

    //  Args not a map
    body = s_request_body ("{\"v\":1,\"id\":4,\"op\":\"ping\",\"args\":[1]}");
    assert (s_decode_request (&body, &req, &err) == -1);
    s_assert_error (&err, SHIC_E_INVALID_ARGS, "args");
    assert (shic_val_int (req.id) == 4);
    shic_wire_request_reset (&req);
    shic_error_clear (&err);

    //  Replies: ok
    id = shic_val_new_str ("r-1");
    shic_val_t *result = shic_val_new_map ();
    shic_val_set_int (result, "protocol", 1);
    frame = shic_wire_reply_ok (id, &result);
    assert (frame);
    assert (result == NULL);
    shic_wire_reply_t reply;
    assert (shic_wire_reply_decode (zframe_data (frame), zframe_size (frame), &reply) == 0);
    assert (reply.ok);
    assert (shic_val_equal (reply.id, id));
    assert (shic_val_int (shic_val_get (reply.result, "protocol")) == 1);
    assert (reply.error.code == NULL);
    shic_wire_reply_reset (&reply);
    zframe_destroy (&frame);
    frame = shic_wire_reply_ok (NULL, NULL);
    assert (shic_wire_reply_decode (zframe_data (frame), zframe_size (frame), &reply) == 0);
    assert (reply.ok);
    assert (shic_val_is (reply.id, SHIC_VAL_NIL));
    assert (shic_val_size (reply.result) == 0);
    shic_wire_reply_reset (&reply);
    zframe_destroy (&frame);

    //  Replies: error
    shic_val_t *details = shic_val_new_map ();
    shic_val_set_int (details, "limit", 8);
    shic_error_set (&err, SHIC_E_CAPACITY, &details, "Too many instances.");
    frame = shic_wire_reply_error (id, &err);
    assert (frame);
    assert (shic_wire_reply_decode (zframe_data (frame), zframe_size (frame), &reply) == 0);
    assert (!reply.ok);
    assert (reply.result == NULL);
    assert (reply.error.code == shic_error_code_lookup ("capacity"));
    assert (streq (reply.error.message, "Too many instances."));
    assert (shic_val_int (shic_val_get (reply.error.details, "limit")) == 8);
    assert (shic_val_equal (reply.id, id));
    shic_wire_reply_reset (&reply);
    zframe_destroy (&frame);
    shic_error_clear (&err);
    shic_val_destroy (&id);

    //  Replies that are not
    const char *bad_replies [] = {
        "[]",
        "{\"id\":1,\"ok\":true,\"result\":{}}",
        "{\"v\":2,\"id\":1,\"ok\":true,\"result\":{}}",
        "{\"v\":1,\"id\":1,\"ok\":1,\"result\":{}}",
        "{\"v\":1,\"id\":1,\"ok\":true}",
        "{\"v\":1,\"id\":1,\"ok\":true,\"result\":[]}",
        "{\"v\":1,\"id\":1,\"ok\":false}",
        "{\"v\":1,\"id\":1,\"ok\":false,\"error\":\"boom\"}",
        "{\"v\":1,\"id\":1,\"ok\":false,\"error\":{\"message\":\"x\"}}",
        NULL };
    for (index = 0; bad_replies [index]; index++) {
        body = s_request_body (bad_replies [index]);
        void *data;
        size_t size;
        assert (shic_val_encode (body, &data, &size) == 0);
        shic_val_destroy (&body);
        assert (shic_wire_reply_decode (data, size, &reply) == -2);
        assert (reply.body == NULL);
        shic_wire_reply_reset (&reply);
        free (data);
    }
    assert (shic_wire_reply_decode ("\x80\x00", 2, &reply) == -2);
    shic_wire_reply_reset (&reply);

    printf ("OK\n");
}
