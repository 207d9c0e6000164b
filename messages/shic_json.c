/*  =========================================================================
    shic_json - JSON text to and from the value tree, through jansson

    The one file of shic that includes <jansson.h>. jansson lexes, parses
    and renders; this file converts between its trees and shic_val_t, and
    adds what jansson does not bound: the size of a text before jansson
    reads it, and the nesting depth (jansson allows 2048 levels) while
    converting. Rendering keeps the exact text of the hand-written encoder
    that came before, because the command line prints it and error messages
    on the wire embed it.
    =========================================================================
*/

#include <jansson.h>
#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shic_json.h"

#ifndef streq
#   define streq(s1,s2) (!strcmp ((s1), (s2)))
#endif

_Static_assert (sizeof (json_int_t) == sizeof (int64_t),
                "jansson must hold every int64 of a tree");


//  ---------------------------------------------------------------------------
//  UTF-8. jansson renders only valid UTF-8, and strings of a tree need not
//  be: msgpack strings are not checked, and backends cut HTTP bodies at a
//  byte count.

//  Bytes of the valid UTF-8 sequence at data, or 0. The rules are jansson's:
//  no overlong forms, no surrogates, nothing above U+10FFFF.
static size_t
s_utf8_sequence (const uint8_t *data, size_t size)
{
    uint8_t first = data [0];
    size_t length;
    uint32_t code;
    uint32_t least;
    if (first < 0x80)
        return 1;
    if (first >= 0xc2 && first <= 0xdf) {
        length = 2;
        code = first & 0x1f;
        least = 0x80;
    }
    else
    if (first >= 0xe0 && first <= 0xef) {
        length = 3;
        code = first & 0x0f;
        least = 0x800;
    }
    else
    if (first >= 0xf0 && first <= 0xf4) {
        length = 4;
        code = first & 0x07;
        least = 0x10000;
    }
    else
        return 0;
    if (length > size)
        return 0;
    size_t index;
    for (index = 1; index < length; index++) {
        if ((data [index] & 0xc0) != 0x80)
            return 0;
        code = (code << 6) | (data [index] & 0x3f);
    }
    if (code < least || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))
        return 0;
    return length;
}

size_t
shic_json_utf8_prefix (const char *data, size_t size)
{
    size_t index = 0;
    while (index < size) {
        size_t step = s_utf8_sequence ((const uint8_t *) data + index, size - index);
        if (step == 0)
            break;
        index += step;
    }
    return index;
}

//  A copy of data where every byte that starts no valid sequence is U+FFFD.
//  Fresh and NUL-terminated, *size_p its length; NULL when memory ran out.
static char *
s_utf8_repair (const char *data, size_t size, size_t *size_p)
{
    //  At worst every byte becomes the three bytes of U+FFFD
    if (size > (SIZE_MAX - 1) / 3)
        return NULL;
    char *copy = (char *) malloc (size * 3 + 1);
    if (!copy)
        return NULL;
    size_t used = 0;
    size_t index = 0;
    while (index < size) {
        size_t step = shic_json_utf8_prefix (data + index, size - index);
        memcpy (copy + used, data + index, step);
        used += step;
        index += step;
        if (index < size) {
            memcpy (copy + used, "\xef\xbf\xbd", 3);
            used += 3;
            index++;
        }
    }
    copy [used] = 0;
    *size_p = used;
    return copy;
}


//  ---------------------------------------------------------------------------
//  Tree to text

//  A jansson string of size bytes (fresh reference); NULL when memory ran out
static json_t *
s_string_new (const char *data, size_t size)
{
    if (shic_json_utf8_prefix (data, size) == size)
        return json_stringn_nocheck (data, size);
    size_t repaired_size;
    char *repaired = s_utf8_repair (data, size, &repaired_size);
    json_t *string = repaired? json_stringn_nocheck (repaired, repaired_size): NULL;
    free (repaired);
    return string;
}

//  Sets key (made valid UTF-8) to value in object; takes the reference to
//  value. Returns 0 / -1. Repaired keys that meet keep the last value.
static int
s_object_set (json_t *object, const char *key, json_t *value)
{
    size_t size = strlen (key);
    if (shic_json_utf8_prefix (key, size) == size)
        return json_object_set_new_nocheck (object, key, value);
    char *repaired = s_utf8_repair (key, size, &size);
    int rc = repaired? json_object_set_new_nocheck (object, repaired, value): -1;
    if (!repaired)
        json_decref (value);
    free (repaired);
    return rc;
}

char *
shic_json_base64 (const void *data, size_t size)
{
    static const char alphabet [] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
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
        *out++ = alphabet [(chunk >> 18) & 63];
        *out++ = alphabet [(chunk >> 12) & 63];
        *out++ = index + 1 < size? alphabet [(chunk >> 6) & 63]: '=';
        *out++ = index + 2 < size? alphabet [chunk & 63]: '=';
    }
    *out = 0;
    return text;
}

//  A jansson string of the base64 of data (JSON has no bytes); fresh
//  reference, NULL when memory ran out
static json_t *
s_base64_new (const uint8_t *data, size_t size)
{
    char *text = shic_json_base64 (data, size);
    if (!text)
        return NULL;
    json_t *string = json_stringn_nocheck (text, (size + 2) / 3 * 4);
    free (text);
    return string;
}

//  A jansson tree of self (fresh reference); NULL when memory ran out
static json_t *
s_to_jansson (const shic_val_t *self)
{
    json_t *json = NULL;
    size_t index;
    switch (shic_val_type (self)) {
        case SHIC_VAL_NIL:
            return json_null ();
        case SHIC_VAL_BOOL:
            return json_boolean (shic_val_bool (self));
        case SHIC_VAL_INT:
            return json_integer ((json_int_t) shic_val_int (self));
        case SHIC_VAL_FLOAT:
            //  JSON has no NaN or infinity (and json_real refuses them)
            return isfinite (shic_val_float (self))? json_real (shic_val_float (self))
                                                   : json_null ();
        case SHIC_VAL_STR:
            return s_string_new ((const char *) shic_val_bin (self), shic_val_len (self));
        case SHIC_VAL_BIN:
            return s_base64_new ((const uint8_t *) shic_val_bin (self), shic_val_len (self));
        case SHIC_VAL_ARRAY:
            json = json_array ();
            for (index = 0; json && index < shic_val_size (self); index++)
                if (json_array_append_new (json, s_to_jansson (shic_val_at (self, index)))) {
                    json_decref (json);
                    json = NULL;
                }
            return json;
        case SHIC_VAL_MAP:
            json = json_object ();
            for (index = 0; json && index < shic_val_size (self); index++)
                if (s_object_set (json, shic_val_key_at (self, index),
                                  s_to_jansson (shic_val_at (self, index)))) {
                    json_decref (json);
                    json = NULL;
                }
            return json;
    }
    return NULL;
}

//  Appends count bytes at *size_p of out, or only counts when out is NULL
static void
s_put (char *out, size_t *size_p, const char *bytes, size_t count)
{
    if (out)
        memcpy (out + *size_p, bytes, count);
    *size_p += count;
}

//  jansson spells a few things unlike the encoder it replaced: \b and \f,
//  upper case hex in \u001F, DEL unescaped, exponents as e20 and e-5. This
//  pass over its compact output (valid JSON) writes them as before, since
//  the command line prints this text and wire error messages embed it:
//  control characters as \u00xx in lower case except \t \n \r, DEL as
//  \u007f, exponents with a sign and at least two digits as %g has them.
//  With out NULL it only counts. Returns the bytes written or counted.
static size_t
s_restyle (const char *text, char *out)
{
    size_t size = 0;
    bool in_string = false;
    const char *cursor = text;
    while (*cursor) {
        char c = *cursor++;
        if (in_string && c == '\\') {
            char escape = *cursor++;
            if (escape == 'b')
                s_put (out, &size, "\\u0008", 6);
            else
            if (escape == 'f')
                s_put (out, &size, "\\u000c", 6);
            else
            if (escape == 'u') {
                char code [6] = { '\\', 'u' };
                int index;
                for (index = 2; index < 6; index++)
                    code [index] = (char) tolower ((unsigned char) *cursor++);
                s_put (out, &size, code, 6);
            }
            else {
                char pair [2] = { '\\', escape };
                s_put (out, &size, pair, 2);
            }
        }
        else
        if (in_string && c == 0x7f)
            s_put (out, &size, "\\u007f", 6);
        else
        if (!in_string && c == 'e' && cursor - text >= 2 && isdigit ((unsigned char) cursor [-2])) {
            //  Only a number has a digit before an 'e' outside strings
            s_put (out, &size, "e", 1);
            if (*cursor == '-')
                s_put (out, &size, cursor++, 1);
            else
                s_put (out, &size, "+", 1);
            size_t digits = strspn (cursor, "0123456789");
            if (digits < 2)
                s_put (out, &size, "0", 1);
            s_put (out, &size, cursor, digits);
            cursor += digits;
        }
        else {
            if (c == '"')
                in_string = !in_string;
            s_put (out, &size, &c, 1);
        }
    }
    return size;
}

char *
shic_val_to_json (const shic_val_t *self)
{
    json_t *json = s_to_jansson (self);
    if (!json)
        return NULL;
    //  %.17g: every double reads back as itself
    char *text = json_dumps (json, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION (17));
    json_decref (json);
    if (!text)
        return NULL;
    size_t size = s_restyle (text, NULL);
    char *restyled = (char *) malloc (size + 1);
    if (restyled) {
        s_restyle (text, restyled);
        restyled [size] = 0;
    }
    free (text);                    //  json_dumps allocates with malloc
    return restyled;
}


//  ---------------------------------------------------------------------------
//  Text to tree

//  A tree of json (fresh), or NULL when it nests deeper than
//  SHIC_VAL_MAX_DEPTH or memory ran out. depth counts the containers
//  around json.
static shic_val_t *
s_from_jansson (json_t *json, int depth)
{
    shic_val_t *self = NULL;
    size_t index;
    switch (json_typeof (json)) {
        case JSON_OBJECT:
            if (depth >= SHIC_VAL_MAX_DEPTH)
                return NULL;
            self = shic_val_new_map ();
            for (void *iter = json_object_iter (json); self && iter;
                 iter = json_object_iter_next (json, iter)) {
                shic_val_t *value = s_from_jansson (json_object_iter_value (iter), depth + 1);
                //  jansson refused duplicate keys and keys holding NUL, so
                //  no search per key (which made a hostile object of 100k
                //  keys cost a minute)
                if (!value || shic_val_append (self, json_object_iter_key (iter), &value))
                    shic_val_destroy (&self);
            }
            return self;
        case JSON_ARRAY:
            if (depth >= SHIC_VAL_MAX_DEPTH)
                return NULL;
            self = shic_val_new_array ();
            for (index = 0; self && index < json_array_size (json); index++) {
                shic_val_t *item = s_from_jansson (json_array_get (json, index), depth + 1);
                if (!item || shic_val_push (self, &item))
                    shic_val_destroy (&self);
            }
            return self;
        case JSON_STRING:
            return shic_val_new_strn (json_string_value (json), json_string_length (json));
        case JSON_INTEGER:
            return shic_val_new_int ((int64_t) json_integer_value (json));
        case JSON_REAL:
            return shic_val_new_float (json_real_value (json));
        case JSON_TRUE:
            return shic_val_new_bool (true);
        case JSON_FALSE:
            return shic_val_new_bool (false);
        case JSON_NULL:
            return shic_val_new_nil ();
    }
    return NULL;
}

shic_val_t *
shic_val_from_json_bytes (const char *data, size_t size, size_t max_bytes)
{
    if (!data || size > (max_bytes? max_bytes: SHIC_VAL_MAX_BYTES))
        return NULL;
    //  jansson would read a raw NUL as the end of the text and report
    //  trailing bytes, but say so here rather than rely on it
    if (memchr (data, 0, size))
        return NULL;
    //  Any value at the top, as a bare number or string was before; a key
    //  twice is malformed, as in shic_val_decode; \u0000 stays in values
    //  (jansson refuses it in keys). Trailing bytes are an error.
    json_error_t error;
    json_t *json = json_loadb (data, size,
                               JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
                               &error);
    if (!json)
        return NULL;
    shic_val_t *self = s_from_jansson (json, 0);
    json_decref (json);
    return self;
}

shic_val_t *
shic_val_from_json (const char *text)
{
    if (!text)
        return NULL;
    //  Measure no further than the limit: text may be a whole HTTP body
    size_t size = strnlen (text, SHIC_VAL_MAX_BYTES + 1);
    if (size > SHIC_VAL_MAX_BYTES)
        return NULL;
    return shic_val_from_json_bytes (text, size, SHIC_VAL_MAX_BYTES);
}


//  ---------------------------------------------------------------------------
//  Self test

//  Renders *value_p, checks the text is expected, destroys the value
static void
s_assert_text (shic_val_t **value_p, const char *expected)
{
    char *text = shic_val_to_json (*value_p);
    assert (text);
    if (!streq (text, expected)) {
        fprintf (stderr, "shic_json: expected %s\n                got %s\n", expected, text);
        assert (false);
    }
    free (text);
    shic_val_destroy (value_p);
}

//  Parses text, checks it gives a value and renders it as expected
static void
s_assert_parse (const char *text, const char *expected)
{
    shic_val_t *value = shic_val_from_json (text);
    if (!value)
        fprintf (stderr, "shic_json: refused %s\n", text);
    assert (value);
    s_assert_text (&value, expected);
}

//  Parses text, renders the tree, parses that again: same tree, same text
static void
s_assert_round_trip (const char *text)
{
    shic_val_t *value = shic_val_from_json (text);
    assert (value);
    char *first = shic_val_to_json (value);
    assert (first);
    shic_val_t *again = shic_val_from_json (first);
    assert (shic_val_equal (value, again));
    char *second = shic_val_to_json (again);
    assert (second && streq (first, second));
    free (first);
    free (second);
    shic_val_destroy (&value);
    shic_val_destroy (&again);
}

//  An item pushed onto array (which takes it)
static void
s_push (shic_val_t *array, shic_val_t *item)
{
    assert (item);
    assert (shic_val_push (array, &item) == 0);
}

//  An Ollama /api/tags answer, as the backend reads it
#define S_OLLAMA_TAGS \
    "{\"models\":[{\"name\":\"qwen2.5:0.5b\",\"model\":\"qwen2.5:0.5b\"," \
    "\"modified_at\":\"2025-01-10T09:12:41.123456789+01:00\",\"size\":397821319," \
    "\"digest\":\"a8b0c51577010a279d933d14c2a8ab4b268079d44c5c8830c0a93900f1827c67\"," \
    "\"details\":{\"parent_model\":\"\",\"format\":\"gguf\",\"family\":\"qwen2\"," \
    "\"families\":[\"qwen2\"],\"parameter_size\":\"494.03M\"," \
    "\"quantization_level\":\"Q4_K_M\"}}]}"

void
shic_json_test (bool verbose)
{
    printf (" * shic_json: ");
    if (verbose)
        printf ("\n");

    //  The text of the encoder before jansson, value by value
    shic_val_t *value = shic_val_new_nil ();
    s_assert_text (&value, "null");
    value = shic_val_new_bool (true);
    s_assert_text (&value, "true");
    value = shic_val_new_bool (false);
    s_assert_text (&value, "false");
    struct {
        int64_t value;
        const char *text;
    } ints [] = {
        { 0, "0" }, { -1, "-1" }, { 42, "42" },
        { INT64_MAX, "9223372036854775807" }, { INT64_MIN, "-9223372036854775808" } };
    size_t index;
    for (index = 0; index < sizeof (ints) / sizeof (ints [0]); index++) {
        value = shic_val_new_int (ints [index].value);
        s_assert_text (&value, ints [index].text);
    }
    struct {
        double value;
        const char *text;
    } floats [] = {
        { 3.0, "3.0" }, { -0.0, "-0.0" }, { 0.0, "0.0" },
        { 0.1, "0.10000000000000001" }, { 2.5, "2.5" }, { -0.125, "-0.125" },
        { 1e20, "1e+20" }, { 1e-5, "1.0000000000000001e-05" },
        { 1.5e300, "1.5000000000000001e+300" },
        { -2.2250738585072014e-308, "-2.2250738585072014e-308" },
        { 4.9406564584124654e-324, "4.9406564584124654e-324" },
        { 123456789012345678.0, "1.2345678901234568e+17" },
        { 1e16, "10000000000000000.0" }, { 1e17, "1e+17" }, { 0.0001, "0.0001" },
        { 1.0 / 3, "0.33333333333333331" }, { 1e100, "1e+100" }, { -1e-100, "-1e-100" },
        { NAN, "null" }, { INFINITY, "null" }, { -INFINITY, "null" } };
    for (index = 0; index < sizeof (floats) / sizeof (floats [0]); index++) {
        value = shic_val_new_float (floats [index].value);
        s_assert_text (&value, floats [index].text);
    }
    value = shic_val_new_str ("");
    s_assert_text (&value, "\"\"");
    value = shic_val_new_str ("q\"b\\/");
    s_assert_text (&value, "\"q\\\"b\\\\/\"");
    char controls [34];
    for (index = 0; index < 32; index++)
        controls [index] = (char) index;
    controls [32] = 0x7f;
    controls [33] = '~';
    value = shic_val_new_strn (controls, sizeof (controls));
    s_assert_text (&value,
        "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\u0008\\t\\n"
        "\\u000b\\u000c\\r\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015"
        "\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f"
        "\\u007f~\"");
    value = shic_val_new_strn ("\x01\"\x1f", 3);
    s_assert_text (&value, "\"\\u0001\\\"\\u001f\"");
    //  Beyond ASCII stays as it is
    value = shic_val_new_str ("\xc3\xa9\xf0\x9f\x98\x80\xe2\x82\xac");
    s_assert_text (&value, "\"\xc3\xa9\xf0\x9f\x98\x80\xe2\x82\xac\"");
    value = shic_val_new_bin (NULL, 0);
    s_assert_text (&value, "\"\"");
    value = shic_val_new_bin ("a", 1);
    s_assert_text (&value, "\"YQ==\"");
    value = shic_val_new_bin ("ab", 2);
    s_assert_text (&value, "\"YWI=\"");
    value = shic_val_new_bin ("abc", 3);
    s_assert_text (&value, "\"YWJj\"");
    value = shic_val_new_bin ("\x00\x01\xff\xfe", 4);
    s_assert_text (&value, "\"AAH//g==\"");
    //  Pairs in their order, escaped keys, empty containers, nesting
    shic_val_t *tree = shic_val_new_map ();
    shic_val_set_int (tree, "b", 1);
    shic_val_set_str (tree, "a\t\"k", "");
    shic_val_set (tree, "e", &(shic_val_t *) { shic_val_new_array () });
    shic_val_set (tree, "o", &(shic_val_t *) { shic_val_new_map () });
    shic_val_t *list = shic_val_new_array ();
    s_push (list, shic_val_new_nil ());
    s_push (list, shic_val_new_float (1e21));
    s_push (list, shic_val_new_bin ("raw", 3));
    s_push (list, shic_val_new_strings ("x", "y", NULL));
    shic_val_set (tree, "list", &list);
    s_assert_text (&tree,
        "{\"b\":1,\"a\\t\\\"k\":\"\",\"e\":[],\"o\":{},"
        "\"list\":[null,1e+21,\"cmF3\",[\"x\",\"y\"]]}");

    //  Not UTF-8 (the old encoder wrote the raw bytes: invalid JSON):
    //  each byte that starts no valid sequence becomes U+FFFD
    value = shic_val_new_str ("a\xff" "b");
    s_assert_text (&value, "\"a\xef\xbf\xbd" "b\"");
    value = shic_val_new_str ("\xc0\xaf.\xed\xa0\x80.\xf4\x90\x80\x80.\xe2\x82");
    s_assert_text (&value, "\"\xef\xbf\xbd\xef\xbf\xbd.\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd."
                           "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd."
                           "\xef\xbf\xbd\xef\xbf\xbd\"");
    tree = shic_val_new_map ();
    shic_val_set_str (tree, "k\xfe", "v");
    s_assert_text (&tree, "{\"k\xef\xbf\xbd\":\"v\"}");
    //  Keys that meet once repaired: one pair, where the first was, last value
    tree = shic_val_new_map ();
    shic_val_set_int (tree, "k\xfe", 1);
    shic_val_set_int (tree, "x", 2);
    shic_val_set_int (tree, "k\xff", 3);
    s_assert_text (&tree, "{\"k\xef\xbf\xbd\":3,\"x\":2}");

    //  A tree of every type and back; the bin comes back as its base64
    tree = shic_val_new_map ();
    shic_val_set_str (tree, "name", "shic");
    shic_val_set_int (tree, "count", -7);
    shic_val_set_bool (tree, "flag", false);
    shic_val_set_nil (tree, "nothing");
    shic_val_set (tree, "ratio", &(shic_val_t *) { shic_val_new_float (-0.125) });
    shic_val_set (tree, "blob", &(shic_val_t *) { shic_val_new_bin ("raw", 3) });
    list = shic_val_new_array ();
    for (index = 0; index < 20; index++)
        s_push (list, shic_val_new_int ((int64_t) index));
    s_push (list, shic_val_new_str ("tail"));
    shic_val_set (tree, "list", &list);
    shic_val_t *inner = shic_val_new_map ();
    shic_val_set_str (inner, "backend", "llama_cpp");
    shic_val_set (tree, "request", &inner);
    char *json = shic_val_to_json (tree);
    assert (json);
    if (verbose)
        printf ("%s\n", json);
    shic_val_t *parsed = shic_val_from_json (json);
    assert (parsed);
    assert (streq (shic_val_str (shic_val_get (parsed, "blob")), "cmF3"));
    assert (streq (shic_val_key_at (parsed, 5), "blob"));
    shic_val_remove (parsed, "blob");
    shic_val_remove (tree, "blob");
    assert (shic_val_equal (parsed, tree));
    shic_val_destroy (&parsed);
    shic_val_destroy (&tree);
    free (json);

    //  Escapes, numbers, every type
    parsed = shic_val_from_json (
        " { \"s\" : \"q\\\"b\\\\n\\n\\t\\u00e9\\ud83d\\ude00\\u0000x\" ,"
        " \"big\": 9223372036854775807, \"small\": -9223372036854775808,"
        " \"neg\": -5, \"f\": 1.5e2, \"z\": -0, \"tiny\": 1e-400, \"e\": [], \"o\": {},"
        " \"t\": true, \"n\": null, \"slash\": \"\\/\\b\\f\\r\" } ");
    assert (parsed);
    const shic_val_t *text = shic_val_get (parsed, "s");
    assert (shic_val_len (text) == 15);
    assert (memcmp (shic_val_bin (text),
            "q\"b\\n\n\t\xc3\xa9\xf0\x9f\x98\x80\0x", 15) == 0);
    assert (shic_val_int (shic_val_get (parsed, "big")) == INT64_MAX);
    assert (shic_val_int (shic_val_get (parsed, "small")) == INT64_MIN);
    assert (shic_val_int (shic_val_get (parsed, "neg")) == -5);
    assert (shic_val_float (shic_val_get (parsed, "f")) == 150.0);
    assert (shic_val_is (shic_val_get (parsed, "f"), SHIC_VAL_FLOAT));
    assert (shic_val_is (shic_val_get (parsed, "z"), SHIC_VAL_INT));
    assert (shic_val_is (shic_val_get (parsed, "tiny"), SHIC_VAL_FLOAT));
    assert (shic_val_float (shic_val_get (parsed, "tiny")) == 0.0);
    assert (shic_val_size (shic_val_get (parsed, "e")) == 0);
    assert (shic_val_is (shic_val_get (parsed, "o"), SHIC_VAL_MAP));
    assert (shic_val_is (shic_val_get (parsed, "n"), SHIC_VAL_NIL));
    assert (streq (shic_val_str (shic_val_get (parsed, "slash")), "/\b\f\r"));
    assert (streq (shic_val_key_at (parsed, 0), "s"));
    assert (streq (shic_val_key_at (parsed, 11), "slash"));
    json = shic_val_to_json (parsed);
    shic_val_t *again = shic_val_from_json (json);
    assert (shic_val_equal (parsed, again));
    free (json);
    shic_val_destroy (&again);
    shic_val_destroy (&parsed);

    //  Any value at the top, whitespace around it
    s_assert_parse ("null", "null");
    s_assert_parse (" \t\r\n true \n", "true");
    s_assert_parse ("\"s\"", "\"s\"");
    s_assert_parse ("-0", "0");
    s_assert_parse ("-0.0", "-0.0");
    s_assert_parse ("1E5", "100000.0");
    s_assert_parse ("1e308", "1e+308");
    s_assert_parse ("123456789012345678901234567890.0", "1.2345678901234568e+29");
    s_assert_parse ("\"\\u007F\\u001F\"", "\"\\u007f\\u001f\"");
    s_assert_parse ("{\"b\":1,\"a\":[{},[]]}", "{\"b\":1,\"a\":[{},[]]}");
    s_assert_parse (S_OLLAMA_TAGS, S_OLLAMA_TAGS);
    s_assert_round_trip (S_OLLAMA_TAGS);
    s_assert_round_trip ("[0.1,1e-7,-1e300,5e-324,\"\\u0000\\u001f\\u007f\",{\"\":\"\"}]");
    parsed = shic_val_from_json (S_OLLAMA_TAGS);
    const shic_val_t *model = shic_val_at (shic_val_get (parsed, "models"), 0);
    assert (streq (shic_val_str (shic_val_get (model, "name")), "qwen2.5:0.5b"));
    assert (shic_val_int (shic_val_get (model, "size")) == 397821319);
    assert (streq (shic_val_str (shic_val_path (model, "details/format")), "gguf"));
    shic_val_destroy (&parsed);

    //  Every proper prefix of a body is refused (a cut connection)
    size_t size = strlen (S_OLLAMA_TAGS);
    for (index = 0; index < size; index++) {
        char *prefix = strndup (S_OLLAMA_TAGS, index);
        assert (prefix);
        assert (shic_val_from_json (prefix) == NULL);
        free (prefix);
    }

    //  Garbage, and what the old parser took that is refused now: numbers
    //  outside int64 or double (it made floats of them), duplicate keys
    //  (the last won), bytes that are not UTF-8 (kept as they were)
    const char *bad_json [] = {
        "", "   ", "{", "}", "[1,]", "[1 2]", "{\"a\"}", "{\"a\":}", "{a:1}",
        "\"open", "tru", "nul", "01", "-", "1.", "1e", ".5", "[1]x",
        "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"a\nb\"",
        "{\"a\\u0000b\":1}", "+1", "[\"a\",]", "{\"a\":1,}",
        "<html><head><title>502 Bad Gateway</title></head></html>",
        "502 Bad Gateway", "NaN", "Infinity", "-Infinity", "0x10", "1.5.2", "--1",
        "[-]", "{,}", "[,1]", "true false", "[1] [2]", "'a'", "// c\n1", "/* c */ 1",
        "\"\\u00\"", "\"tab\there\"", "\x01", "\x7f", "{\"a\" 1}", "[\"a\":1]",
        "9223372036854775808", "-9223372036854775809", "18446744073709551615",
        "1e309", "-1e400", "[1e999]",
        "{\"a\":1,\"a\":2}", "{\"m\":{\"x\":null,\"x\":null}}",
        "\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"",
        "\"\xe2\x82\"", "{\"k\xfe\":1}", "\xef\xbb\xbf{}", "\"\\ud83d\\u0041\"",
        NULL };
    for (index = 0; bad_json [index]; index++) {
        parsed = shic_val_from_json (bad_json [index]);
        if (parsed)
            fprintf (stderr, "shic_json: accepted bad JSON: %s\n", bad_json [index]);
        assert (parsed == NULL);
    }
    assert (shic_val_from_json (NULL) == NULL);
    //  A NUL byte ends the text: inside a string it cuts it open
    assert (shic_val_from_json ("\"a\0b\"") == NULL);
    s_assert_parse ("[1]\0garbage", "[1]");

    //  Depth 16 is fine, 17 is not, also for maps; 100000 does not crash
    char nest [64];
    memset (nest, 0, sizeof (nest));
    memset (nest, '[', 16);
    memset (nest + 16, ']', 16);
    parsed = shic_val_from_json (nest);
    assert (parsed);
    shic_val_destroy (&parsed);
    memset (nest, '[', 17);
    memset (nest + 17, ']', 17);
    assert (shic_val_from_json (nest) == NULL);
    const char *maps_16 =
        "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
        "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{}}}}}}}}}}}}}}}}";
    parsed = shic_val_from_json (maps_16);
    assert (parsed);
    shic_val_destroy (&parsed);
    const char *maps_17 =
        "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
        "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":[]}}}}}}}}}}}}}}}}";
    assert (shic_val_from_json (maps_17) == NULL);
    size_t deep = 100000;
    char *abyss = (char *) malloc (2 * deep + 1);
    assert (abyss);
    memset (abyss, '[', deep);
    memset (abyss + deep, ']', deep);
    abyss [2 * deep] = 0;
    assert (shic_val_from_json (abyss) == NULL);
    abyss [deep] = 0;
    assert (shic_val_from_json (abyss) == NULL);
    free (abyss);

    //  Size: SHIC_VAL_MAX_BYTES is fine, one byte more is not
    char *large = (char *) malloc (SHIC_VAL_MAX_BYTES + 2);
    assert (large);
    memset (large, ' ', SHIC_VAL_MAX_BYTES + 1);
    large [0] = '7';
    large [SHIC_VAL_MAX_BYTES] = 0;
    parsed = shic_val_from_json (large);
    assert (shic_val_int (parsed) == 7);
    shic_val_destroy (&parsed);
    large [SHIC_VAL_MAX_BYTES] = ' ';
    large [SHIC_VAL_MAX_BYTES + 1] = 0;
    assert (shic_val_from_json (large) == NULL);
    free (large);

    //  A hostile object of 100,000 keys (under 1 MiB) converts in linear
    //  time: pairs are appended, not searched for (jansson refused
    //  duplicates). The time is printed, the result asserted.
    {
        size_t count = 100000;
        char *big = (char *) malloc (count * 10 + 16);
        assert (big);
        size_t used = 0;
        big [used++] = '{';
        for (size_t index = 0; index < count; index++)
            used += (size_t) sprintf (big + used, "%s\"%zx\":1", index? ",": "", index);
        big [used++] = '}';
        big [used] = 0;
        assert (used < SHIC_VAL_MAX_BYTES);
        struct timespec start, end;
        clock_gettime (CLOCK_MONOTONIC, &start);
        shic_val_t *tree = shic_val_from_json (big);
        clock_gettime (CLOCK_MONOTONIC, &end);
        long long took = (end.tv_sec - start.tv_sec) * 1000000LL
                       + (end.tv_nsec - start.tv_nsec) / 1000;
        assert (tree && shic_val_size (tree) == count);
        assert (streq (shic_val_key_at (tree, 0), "0"));
        assert (shic_val_int (shic_val_get (tree, "1869f")) == 1);     //  the last, 99999
        printf ("(100k keys in %lld ms) ", took / 1000);
        shic_val_destroy (&tree);
        free (big);
    }
    //  shic_val_append appends; it refuses what is not a map
    {
        shic_val_t *map = shic_val_new_map ();
        shic_val_t *value = shic_val_new_int (1);
        assert (shic_val_append (map, "a", &value) == 0 && value == NULL);
        assert (shic_val_append (map, "b", NULL) == 0);
        assert (shic_val_size (map) == 2 && shic_val_type (shic_val_get (map, "b")) == SHIC_VAL_NIL);
        shic_val_t *array = shic_val_new_array ();
        value = shic_val_new_int (2);
        assert (shic_val_append (array, "a", &value) == -1 && value == NULL);
        shic_val_destroy (&array);
        shic_val_destroy (&map);
    }
    //  From a buffer: exactly size bytes, no NUL among them, its own limit
    {
        const char *line = "{\"a\":[1,\"x\"]}\n{\"b\":2}";
        parsed = shic_val_from_json_bytes (line, 13, 0);
        assert (parsed && shic_val_size (shic_val_get (parsed, "a")) == 2);
        shic_val_destroy (&parsed);
        assert (shic_val_from_json_bytes (line, 12, 0) == NULL);        //  cut short
        parsed = shic_val_from_json_bytes (line, 14, 0);                //  its newline too
        assert (parsed);
        shic_val_destroy (&parsed);
        assert (shic_val_from_json_bytes (line, strlen (line), 0) == NULL);
        assert (shic_val_from_json_bytes (line, 13, 12) == NULL);       //  over its limit
        assert (shic_val_from_json_bytes ("[1]\0", 4, 0) == NULL);
        assert (shic_val_from_json_bytes ("\"a\0b\"", 5, 0) == NULL);
        assert (shic_val_from_json_bytes (NULL, 0, 0) == NULL);
        assert (shic_val_from_json_bytes ("", 0, 0) == NULL);
        //  A text over the default limit, under its own
        size_t size = SHIC_VAL_MAX_BYTES + 10;
        char *wide = (char *) malloc (size);
        assert (wide);
        memset (wide, ' ', size);
        wide [0] = '[';
        wide [size - 1] = ']';
        parsed = shic_val_from_json_bytes (wide, size, 4 * SHIC_VAL_MAX_BYTES);
        assert (shic_val_is (parsed, SHIC_VAL_ARRAY) && shic_val_size (parsed) == 0);
        shic_val_destroy (&parsed);
        assert (shic_val_from_json_bytes (wide, size, 0) == NULL);
        free (wide);
    }
    printf ("OK\n");
}
