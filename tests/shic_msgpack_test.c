/*  =========================================================================
    shic_msgpack_test - the self test of messages/shic_msgpack.c: round
    trips, the streaming writer, canonical bytes, and garbage, truncated,
    oversized and too deeply nested input to the decoder, through the
    public functions of shic_val.h only

    Kept out of the library like shic_contract_test; the tree's own test is
    shic_val_test, in messages/shic_val.c.
    =========================================================================
*/

#include "shic.h"

//  Encodes, decodes and checks the result equals the input
static void
s_assert_round_trip (const shic_val_t *self)
{
    void *data;
    size_t size;
    int rc = shic_val_encode (self, &data, &size);
    assert (rc == 0);
    shic_val_t *copy;
    const char *error;
    rc = shic_val_decode (data, size, NULL, &copy, &error);
    assert (rc == 0);
    assert (shic_val_equal (self, copy));
    shic_val_destroy (&copy);
    free (data);
}

static int
s_decode_bytes (const void *data, size_t size, const shic_val_limits_t *limits)
{
    shic_val_t *out = (shic_val_t *) &out;  //  must be nulled on failure
    const char *error = NULL;
    int rc = shic_val_decode (data, size, limits, &out, &error);
    if (rc == 0) {
        assert (out);
        shic_val_destroy (&out);
    }
    else {
        assert (out == NULL);
        assert (error);
    }
    return rc;
}

void
shic_msgpack_test (bool verbose)
{
    printf (" * shic_msgpack: ");
    if (verbose)
        printf ("\n");

    //  Scalars, across msgpack's integer, string and bin formats
    int64_t ints [] = { 0, 1, -1, 127, 128, -32, -33, 255, 65536,
                        INT64_MAX, INT64_MIN, 4294967296LL };
    size_t index;
    shic_val_t *value;
    for (index = 0; index < sizeof (ints) / sizeof (ints [0]); index++) {
        value = shic_val_new_int (ints [index]);
        s_assert_round_trip (value);
        shic_val_destroy (&value);
    }
    shic_val_t *scalars [] = {
        shic_val_new_nil (), shic_val_new_bool (true), shic_val_new_float (2.5),
        shic_val_new_str ("hello"), shic_val_new_strn ("a\0b", 3),
        shic_val_new_printf ("%300s", ""), shic_val_new_bin ("\x00\x01\xff", 3),
        shic_val_new_bin (NULL, 0), shic_val_new_bin (NULL, 300)
    };
    for (index = 0; index < sizeof (scalars) / sizeof (scalars [0]); index++) {
        s_assert_round_trip (scalars [index]);
        shic_val_destroy (&scalars [index]);
    }

    //  A tree of every type, written by the streaming writer: decoded and
    //  encoded again, it gives the writer's bytes back
    shic_val_writer_t *writer = shic_val_writer_new ();
    assert (writer);
    shic_val_writer_map (writer, 8);
    shic_val_writer_str (writer, "name");
    shic_val_writer_str (writer, "shic");
    shic_val_writer_str (writer, "count");
    shic_val_writer_int (writer, -7);
    shic_val_writer_str (writer, "flag");
    shic_val_writer_bool (writer, false);
    shic_val_writer_str (writer, "nothing");
    shic_val_writer_str (writer, NULL);
    shic_val_writer_str (writer, "ratio");
    value = shic_val_new_float (-0.125);
    shic_val_writer_val (writer, value);
    shic_val_destroy (&value);
    shic_val_writer_str (writer, "blob");
    value = shic_val_new_bin ("raw", 3);
    shic_val_writer_val (writer, value);
    shic_val_destroy (&value);
    shic_val_writer_str (writer, "list");
    shic_val_writer_array (writer, 21);
    for (index = 0; index < 20; index++)
        shic_val_writer_int (writer, (int64_t) index);
    shic_val_writer_str (writer, "tail");
    shic_val_writer_str (writer, "request");
    shic_val_writer_map (writer, 1);
    shic_val_writer_str (writer, "target_preference");
    shic_val_writer_map (writer, 1);
    shic_val_writer_str (writer, "backend");
    shic_val_writer_str (writer, "llama_cpp");
    void *data;
    size_t size;
    assert (shic_val_writer_take (&writer, &data, &size) == 0);
    assert (writer == NULL);
    shic_val_t *tree;
    assert (shic_val_decode (data, size, NULL, &tree, NULL) == 0);
    assert (shic_val_size (tree) == 8);
    assert (shic_val_is (shic_val_get (tree, "nothing"), SHIC_VAL_NIL));
    assert (shic_val_float (shic_val_get (tree, "ratio")) == -0.125);
    assert (shic_val_size (shic_val_get (tree, "list")) == 21);
    assert (streq (shic_val_str (shic_val_path (tree, "request/target_preference/backend")),
                   "llama_cpp"));
    void *bytes_a, *bytes_b;
    size_t size_a, size_b;
    assert (shic_val_encode (tree, &bytes_a, &size_a) == 0);
    assert (size_a == size && memcmp (bytes_a, data, size) == 0);
    free (bytes_a);
    s_assert_round_trip (tree);

    //  The writer: the pairs of a map with one value replaced; a NULL tree
    //  and nil write the same byte
    writer = shic_val_writer_new ();
    shic_val_writer_map (writer, shic_val_size (tree));
    assert (shic_val_writer_pairs (writer, tree, "name", "other") == 8);
    assert (shic_val_writer_pairs (writer, shic_val_get (tree, "list"), NULL, NULL) == 0);
    assert (shic_val_writer_take (&writer, &bytes_a, &size_a) == 0);
    shic_val_t *copy;
    assert (shic_val_decode (bytes_a, size_a, NULL, &copy, NULL) == 0);
    free (bytes_a);
    assert (streq (shic_val_str (shic_val_get (copy, "name")), "other"));
    assert (!shic_val_equal (tree, copy));
    shic_val_set_str (copy, "name", "shic");
    assert (shic_val_equal (tree, copy));
    shic_val_destroy (&copy);
    writer = shic_val_writer_new ();
    shic_val_writer_array (writer, 3);
    shic_val_writer_val (writer, NULL);
    shic_val_writer_nil (writer);
    shic_val_writer_bool (writer, true);
    assert (shic_val_writer_take (&writer, &bytes_a, &size_a) == 0);
    assert (size_a == 4 && memcmp (bytes_a, "\x93\xc0\xc0\xc3", 4) == 0);
    free (bytes_a);
    writer = shic_val_writer_new ();
    shic_val_writer_destroy (&writer);
    assert (writer == NULL);
    shic_val_writer_destroy (&writer);

    //  One field: by its path, decoded alone; keys that are not there, a
    //  step into a value that is not a map, and broken bytes
    shic_val_t *field;
    const char *path_backend [] = { "request", "target_preference", "backend", NULL };
    assert (shic_val_decode_at (data, size, path_backend, &field) == 0);
    assert (streq (shic_val_str (field), "llama_cpp"));
    shic_val_destroy (&field);
    const char *path_request [] = { "request", NULL };
    assert (shic_val_decode_at (data, size, path_request, &field) == 0);
    assert (shic_val_equal (field, shic_val_get (tree, "request")));
    shic_val_destroy (&field);
    const char *path_list [] = { "list", NULL };
    assert (shic_val_decode_at (data, size, path_list, &field) == 0);
    assert (shic_val_equal (field, shic_val_get (tree, "list")));
    shic_val_destroy (&field);
    const char *path_ratio [] = { "ratio", NULL };
    assert (shic_val_decode_at (data, size, path_ratio, &field) == 0);
    assert (shic_val_float (field) == -0.125);
    shic_val_destroy (&field);
    const char *path_root [] = { NULL };
    assert (shic_val_decode_at (data, size, path_root, &field) == 0);
    assert (shic_val_equal (field, tree));
    shic_val_destroy (&field);
    const char *path_missing [] = { "request", "nothing", NULL };
    field = tree;
    assert (shic_val_decode_at (data, size, path_missing, &field) == -1 && !field);
    const char *path_into [] = { "name", "x", NULL };
    assert (shic_val_decode_at (data, size, path_into, &field) == -1 && !field);
    const char *path_prefix [] = { "nam", NULL };
    assert (shic_val_decode_at (data, size, path_prefix, &field) == -1);
    assert (shic_val_decode_at (data, size - 1, path_request, &field) == -2 && !field);
    assert (shic_val_decode_at (data, 0, path_request, &field) == -2);
    assert (shic_val_decode_at (data, size, NULL, &field) == -2);
    //  A map key that is itself a container is stepped over
    const uint8_t odd_key [] = { 0x82, 0x91, 0x01, 0x02, 0xa1, 'k', 0xa1, 'v' };
    const char *path_k [] = { "k", NULL };
    assert (shic_val_decode_at (odd_key, sizeof (odd_key), path_k, &field) == 0);
    assert (streq (shic_val_str (field), "v"));
    shic_val_destroy (&field);

    //  Canonical encoding: equal trees give equal bytes
    shic_val_t *reordered = shic_val_new_map ();
    for (index = shic_val_size (tree); index > 0; index--)
        shic_val_set_dup (reordered, shic_val_key_at (tree, index - 1),
                          shic_val_at (tree, index - 1));
    assert (shic_val_encode_canonical (tree, &bytes_a, &size_a) == 0);
    assert (shic_val_encode_canonical (reordered, &bytes_b, &size_b) == 0);
    assert (size_a == size_b && memcmp (bytes_a, bytes_b, size_a) == 0);
    free (bytes_b);
    assert (shic_val_encode (reordered, &bytes_b, &size_b) == 0);
    assert (size_a == size_b && memcmp (bytes_a, bytes_b, size_a) != 0);
    free (bytes_a);
    free (bytes_b);
    shic_val_destroy (&reordered);
    //  {"b":1,"ab":2,"a":{"z":1,"y":2}}
    shic_val_t *small = shic_val_new_map ();
    shic_val_set_int (small, "b", 1);
    shic_val_set_int (small, "ab", 2);
    shic_val_t *pairs = shic_val_new_map ();
    shic_val_set_int (pairs, "z", 1);
    shic_val_set_int (pairs, "y", 2);
    shic_val_set (small, "a", &pairs);
    assert (shic_val_encode_canonical (small, &bytes_a, &size_a) == 0);
    const uint8_t expected [] = {
        0x83, 0xa1, 'a', 0x82, 0xa1, 'y', 0x02, 0xa1, 'z', 0x01,
        0xa2, 'a', 'b', 0x02, 0xa1, 'b', 0x01 };
    assert (size_a == sizeof (expected));
    assert (memcmp (bytes_a, expected, size_a) == 0);
    free (bytes_a);
    shic_val_destroy (&small);

    //  Decoding garbage: every prefix of the tree's bytes, a trailing byte,
    //  and the size and item limits either side of the tree
    for (index = 0; index < size; index++)
        assert (s_decode_bytes (data, index, NULL) == -2);
    uint8_t *longer = (uint8_t *) malloc (size + 1);
    memcpy (longer, data, size);
    longer [size] = 0xc0;
    assert (s_decode_bytes (longer, size + 1, NULL) == -2);
    assert (s_decode_bytes (longer, size, NULL) == 0);
    shic_val_limits_t limits = { size - 1, 0, 0 };
    assert (s_decode_bytes (data, size, &limits) == -2);
    limits.max_bytes = size;
    assert (s_decode_bytes (data, size, &limits) == 0);
    limits.max_bytes = 0;
    limits.max_items = 20;
    assert (s_decode_bytes (data, size, &limits) == -2);
    limits.max_items = 21;
    assert (s_decode_bytes (data, size, &limits) == 0);
    free (longer);
    free (data);

    //  The reserved byte, alone and inside
    const uint8_t reserved [] = { 0xc1 };
    assert (s_decode_bytes (reserved, 1, NULL) == -2);
    const uint8_t reserved_inside [] = { 0x92, 0x01, 0xc1 };
    assert (s_decode_bytes (reserved_inside, 3, NULL) == -2);
    //  Ext types
    const uint8_t ext [] = { 0xd4, 0x01, 0x00 };
    assert (s_decode_bytes (ext, 3, NULL) == -2);
    //  An array claiming 2^32-1 items in five bytes dies before allocating
    const uint8_t huge_array [] = { 0xdd, 0xff, 0xff, 0xff, 0xff };
    assert (s_decode_bytes (huge_array, 5, NULL) == -2);
    const uint8_t huge_map [] = { 0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0 };
    assert (s_decode_bytes (huge_map, 6, NULL) == -2);
    //  Declared sizes beyond the buffer
    const uint8_t short_str [] = { 0xdb, 0x00, 0x00, 0x10, 0x00, 'a', 'b' };
    assert (s_decode_bytes (short_str, sizeof (short_str), NULL) == -2);
    const uint8_t short_fixstr [] = { 0xa5, 'a', 'b' };
    assert (s_decode_bytes (short_fixstr, 3, NULL) == -2);
    const uint8_t short_bin [] = { 0xc4, 0x04, 'a' };
    assert (s_decode_bytes (short_bin, 3, NULL) == -2);
    const uint8_t short_array [] = { 0x93, 0x01, 0x02 };
    assert (s_decode_bytes (short_array, 3, NULL) == -2);
    const uint8_t short_int [] = { 0xcd, 0x01 };
    assert (s_decode_bytes (short_int, 2, NULL) == -2);
    //  Map keys must be strings, unique, without NUL
    const uint8_t int_key [] = { 0x81, 0x01, 0x02 };
    assert (s_decode_bytes (int_key, 3, NULL) == -2);
    const uint8_t dup_key [] = { 0x82, 0xa1, 'a', 0x01, 0xa1, 'a', 0x02 };
    assert (s_decode_bytes (dup_key, sizeof (dup_key), NULL) == -2);
    const uint8_t nul_key [] = { 0x81, 0xa2, 'a', 0x00, 0x01 };
    assert (s_decode_bytes (nul_key, sizeof (nul_key), NULL) == -2);
    const uint8_t good_map [] = { 0x82, 0xa1, 'a', 0x01, 0xa1, 'b', 0x02 };
    assert (s_decode_bytes (good_map, sizeof (good_map), NULL) == 0);
    //  uint64: INT64_MAX fits, above does not
    const uint8_t u64_max [] = { 0xcf, 0xff, 0xff, 0xff, 0xff,
                                 0xff, 0xff, 0xff, 0xff };
    assert (s_decode_bytes (u64_max, 9, NULL) == -2);
    const uint8_t i64_max [] = { 0xcf, 0x7f, 0xff, 0xff, 0xff,
                                 0xff, 0xff, 0xff, 0xff };
    shic_val_t *out;
    assert (shic_val_decode (i64_max, 9, NULL, &out, NULL) == 0);
    assert (shic_val_int (out) == INT64_MAX);
    shic_val_destroy (&out);
    //  float32 widens
    const uint8_t float32 [] = { 0xca, 0x3f, 0xc0, 0x00, 0x00 };
    assert (shic_val_decode (float32, 5, NULL, &out, NULL) == 0);
    assert (shic_val_is (out, SHIC_VAL_FLOAT) && shic_val_float (out) == 1.5);
    shic_val_destroy (&out);
    //  Empty and oversize buffers
    assert (s_decode_bytes ("", 0, NULL) == -2);
    size_t oversize = SHIC_VAL_MAX_BYTES + 1;
    uint8_t *big = (uint8_t *) calloc (1, oversize);
    assert (s_decode_bytes (big, oversize, NULL) == -2);
    free (big);

    //  Nesting: 16 arrays decode, 17 do not (also when the last is empty)
    uint8_t nested [32];
    memset (nested, 0x91, sizeof (nested));
    nested [15] = 0x90;
    assert (s_decode_bytes (nested, 16, NULL) == 0);
    nested [15] = 0x91;
    nested [16] = 0x90;
    assert (s_decode_bytes (nested, 17, NULL) == -2);
    nested [16] = 0x91;
    nested [17] = 0x01;
    assert (s_decode_bytes (nested, 18, NULL) == -2);
    limits.max_items = 0;
    limits.max_depth = 17;
    assert (s_decode_bytes (nested, 18, &limits) == 0);
    //  A nested tree through the API hits the same limit
    shic_val_t *root = shic_val_new_array ();
    shic_val_t *cursor = root;
    shic_val_t *item;
    for (index = 1; index < 16; index++) {
        item = shic_val_new_array ();
        shic_val_t *next = item;
        shic_val_push (cursor, &item);
        cursor = next;
    }
    s_assert_round_trip (root);
    item = shic_val_new_array ();
    shic_val_push (cursor, &item);
    assert (shic_val_encode (root, &data, &size) == 0);
    assert (s_decode_bytes (data, size, NULL) == -2);
    free (data);
    shic_val_destroy (&root);

    shic_val_destroy (&tree);
    printf ("OK\n");
}
