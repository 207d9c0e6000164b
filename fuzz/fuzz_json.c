/*  =========================================================================
    fuzz_json - libFuzzer target: the JSON entry the backends use

    One input is one HTTP body as the backends hand it to
    shic_val_from_json (NUL-terminated, so a 0 byte ends it). A tree that
    parses is rendered with shic_val_to_json and parsed again: the trees
    must be equal and the second rendering the same text. It must also
    fit the msgpack decoder's limits, since backends put what they read
    into replies. Then the input's bytes go through the encoder as a
    string and as a map key: whatever they hold, the text must parse back,
    to the same bytes or, only when they were not all ASCII, to a repair
    holding U+FFFD. Nothing here may crash, leak or trip UBSan on any input.
    =========================================================================
*/

#include "shic.h"

//  Parses text, renders the tree and checks the properties above
static void
s_parse (const char *text)
{
    shic_val_t *val = shic_val_from_json (text);
    if (!val)
        return;
    char *json = shic_val_to_json (val);
    assert (json);
    shic_val_t *again = shic_val_from_json (json);
    assert (again);
    assert (shic_val_equal (val, again));
    char *second = shic_val_to_json (again);
    assert (second);
    assert (streq (json, second));
    free (second);
    free (json);
    shic_val_destroy (&again);

    void *data = NULL;
    size_t size = 0;
    assert (shic_val_encode (val, &data, &size) == 0);
    const char *reason = NULL;
    assert (shic_val_decode (data, size, NULL, &again, &reason) == 0);
    assert (shic_val_equal (val, again));
    shic_val_destroy (&again);
    free (data);
    shic_val_destroy (&val);
}

//  Renders *value_p (taken), parses the text back and returns the string
//  inside (the value itself, or its one key). It must be the original
//  bytes, or, only when they were not all ASCII, a repair holding U+FFFD.
static void
s_render (shic_val_t **value_p, const char *bytes, size_t size)
{
    char *json = shic_val_to_json (*value_p);
    assert (json);
    shic_val_destroy (value_p);
    shic_val_t *parsed = shic_val_from_json (json);
    assert (parsed);
    free (json);
    const char *found = NULL;
    size_t found_size = 0;
    if (shic_val_is (parsed, SHIC_VAL_MAP)) {
        assert (shic_val_size (parsed) == 1);
        found = shic_val_key_at (parsed, 0);
        found_size = strlen (found);
    }
    else {
        assert (shic_val_is (parsed, SHIC_VAL_STR));
        found = (const char *) shic_val_bin (parsed);
        found_size = shic_val_len (parsed);
    }
    if (found_size != size || (size > 0 && memcmp (found, bytes, size) != 0)) {
        bool ascii = true;
        for (size_t index = 0; index < size; index++)
            ascii = ascii && (uint8_t) bytes [index] < 0x80;
        assert (!ascii);
        assert (memmem (found, found_size, "\xef\xbf\xbd", 3));
    }
    shic_val_destroy (&parsed);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char *text = (char *) malloc (size + 1);
    assert (text);
    if (size > 0)
        memcpy (text, data, size);
    text [size] = 0;
    s_parse (text);

    //  The bytes as a string, and up to a 0 as a key
    shic_val_t *value = shic_val_new_strn ((const char *) data, size);
    s_render (&value, (const char *) data, size);
    value = shic_val_new_map ();
    assert (shic_val_set_int (value, text, 1) == 0);
    s_render (&value, text, strlen (text));
    free (text);
    return 0;
}
