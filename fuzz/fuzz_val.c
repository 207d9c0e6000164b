/*  =========================================================================
    fuzz_val - libFuzzer target: the msgpack decoder and the contract rules

    One input is one msgpack buffer. It goes through shic_val_decode; a tree
    that decodes is re-encoded (plain and canonical), decoded again and
    compared (canonical bytes must match), rendered as JSON and parsed back,
    then handed to every contract normalizer and kernel rule as each of the
    structures of contract.md, and to the wire request and reply decoders.
    Nothing here may crash, leak or trip UBSan on any input.
    =========================================================================
*/

#include "shic.h"

//  Canonical bytes of val; fresh chunk (NULL when encoding failed)
static zchunk_t *
s_canonical (const shic_val_t *val)
{
    void *data = NULL;
    size_t size = 0;
    if (shic_val_encode_canonical (val, &data, &size) != 0)
        return NULL;
    zchunk_t *chunk = zchunk_new (data, size);
    free (data);
    return chunk;
}

//  Round trips: encode, decode, canonical bytes equal; JSON out and back
static void
s_round_trip (const shic_val_t *val)
{
    void *data = NULL;
    size_t size = 0;
    assert (shic_val_encode (val, &data, &size) == 0);
    shic_val_t *again = NULL;
    const char *reason = NULL;
    int rc = shic_val_decode (data, size, NULL, &again, &reason);
    free (data);
    //  Re-encoding may widen float32 to float64; within the limits it
    //  must decode again
    assert (rc == 0);
    zchunk_t *first = s_canonical (val);
    zchunk_t *second = s_canonical (again);
    assert (first && second);
    assert (zchunk_size (first) == zchunk_size (second));
    assert (memcmp (zchunk_data (first), zchunk_data (second), zchunk_size (first)) == 0);
    zchunk_destroy (&first);
    zchunk_destroy (&second);
    shic_val_t *copy = shic_val_dup (again);
    (void) shic_val_equal (copy, again);
    shic_val_destroy (&copy);
    shic_val_destroy (&again);

    char *json = shic_val_to_json (val);
    assert (json);
    shic_val_t *parsed = shic_val_from_json (json);
    shic_val_destroy (&parsed);
    free (json);
}

//  Every contract rule with val as each of its structures
static void
s_contract (const shic_val_t *val)
{
    shic_error_t err = { 0 };
    shic_val_t *backend = shic_backend_manifest_normalize (val, &err);
    shic_error_clear (&err);
    shic_val_t *consumer = shic_consumer_manifest_normalize (shic_val_get (val, "consumer"), &err);
    shic_error_clear (&err);
    if (!consumer)
        consumer = shic_consumer_manifest_normalize (val, &err);
    shic_error_clear (&err);
    shic_val_t *spec = shic_instance_spec_normalize (val, &err);
    shic_error_clear (&err);
    shic_val_t *plan = shic_startup_plan_normalize (shic_val_get (val, "plan"), &err);
    shic_error_clear (&err);
    if (!plan)
        plan = shic_startup_plan_normalize (val, &err);
    shic_error_clear (&err);
    shic_val_t *request_spec = shic_ensure_spec_from_request (
        shic_val_get (val, "request"), shic_val_get (val, "context"), &err);
    shic_error_clear (&err);
    if (!request_spec)
        request_spec = shic_ensure_spec_from_request (val, NULL, &err);
    shic_error_clear (&err);

    if (consumer) {
        const char *name = shic_val_str (shic_val_get (backend, "backend"));
        shic_val_t *result = shic_compatibility (name? name: "x", backend, consumer);
        assert (result);
        shic_val_destroy (&result);
        result = shic_compatibility ("unregistered", NULL, consumer);
        assert (result);
        shic_val_destroy (&result);
    }
    if (plan && backend) {
        shic_val_t *reason = shic_truthfulness_check (spec? spec: request_spec, plan, backend);
        shic_val_destroy (&reason);
        if (request_spec && spec) {
            reason = shic_truthfulness_check (request_spec, plan, backend);
            shic_val_destroy (&reason);
        }
    }
    if (plan) {
        shic_val_t *endpoint = shic_endpoint_build ("fuzz:1", plan, shic_val_get (val, "fields"), &err);
        shic_error_clear (&err);
        shic_val_destroy (&endpoint);
        endpoint = shic_endpoint_build ("fuzz:1", plan, val, &err);
        shic_error_clear (&err);
        shic_val_destroy (&endpoint);
    }
    char *key = shic_instance_key ("fuzz", shic_val_str (shic_val_get (val, "prefix")), val);
    assert (key);
    free (key);
    shic_error_from_val (&err, val);
    shic_val_t *back = shic_error_to_val (&err);
    shic_val_destroy (&back);
    shic_error_clear (&err);

    shic_val_destroy (&backend);
    shic_val_destroy (&consumer);
    shic_val_destroy (&spec);
    shic_val_destroy (&plan);
    shic_val_destroy (&request_spec);
}

//  One field by its path (shic_val_decode_at), as the gateway reads a
//  relayed reply: never more than the decoder allows, and where the whole
//  decodes (val), exactly the tree's field, or absent from it
static void
s_fields (const uint8_t *data, size_t size, const shic_val_t *val)
{
    static const char *paths [][4] = {
        { "ok", NULL }, { "result", "lease", NULL }, { "result", "instance_id", NULL },
        { "op", NULL }, { NULL }
    };
    for (size_t index = 0; index < sizeof (paths) / sizeof (paths [0]); index++) {
        shic_val_t *field = NULL;
        int rc = shic_val_decode_at (data, size, paths [index], &field);
        assert (rc == 0 || rc == -1 || rc == -2);
        assert ((rc == 0) == (field != NULL));
        if (val) {
            const shic_val_t *there = val;
            for (size_t step = 0; there && paths [index][step]; step++)
                there = shic_val_is (there, SHIC_VAL_MAP)?
                        shic_val_get (there, paths [index][step]): NULL;
            assert (rc != -2);
            assert ((rc == 0) == (there != NULL));
            if (field) {
                //  (bytes, not shic_val_equal: a NaN is not equal to itself)
                zchunk_t *mine = s_canonical (field);
                zchunk_t *theirs = s_canonical (there);
                assert (mine && theirs && zchunk_size (mine) == zchunk_size (theirs));
                assert (memcmp (zchunk_data (mine), zchunk_data (theirs), zchunk_size (mine)) == 0);
                zchunk_destroy (&mine);
                zchunk_destroy (&theirs);
            }
        }
        shic_val_destroy (&field);
    }
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    shic_val_t *val = NULL;
    const char *reason = NULL;
    int rc = shic_val_decode (data, size, NULL, &val, &reason);
    assert (rc == 0 || rc == -2);
    assert ((rc == 0) == (val != NULL));
    if (rc != 0)
        assert (reason);
    s_fields (data, size, val);
    if (val) {
        s_round_trip (val);
        s_contract (val);
        shic_val_destroy (&val);
    }
    //  Tight limits must hold too
    shic_val_limits_t limits = { 256, 3, 8 };
    rc = shic_val_decode (data, size, &limits, &val, &reason);
    assert (rc == 0 || rc == -2);
    shic_val_destroy (&val);

    //  The wire decoders on the same bytes
    shic_wire_request_t request = { 0 };
    shic_error_t err = { 0 };
    rc = shic_wire_request_decode (data, size, SHIC_VAL_MAX_BYTES, &request, &err);
    assert (rc == 0 || err.code);
    shic_wire_request_reset (&request);
    shic_error_clear (&err);
    shic_wire_reply_t reply = { 0 };
    shic_wire_reply_decode (data, size, &reply);
    shic_wire_reply_reset (&reply);
    return 0;
}
