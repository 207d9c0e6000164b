/*  =========================================================================
    shic_schema - field tables for the structures of contract.md §3

    One reader per type: it checks the value found (or its absence) and
    hands back the fresh value to store, so the engine stores in one place.
    Error messages name the field with its path ("transport.argv"), and the
    contract's callers and tests match them word for word.
    =========================================================================
*/

#include <czmq.h>
#include "shic_schema.h"
#include "shic_json.h"

bool
shic_schema_absent (const shic_val_t *value)
{
    return value == NULL || shic_val_is (value, SHIC_VAL_NIL);
}

bool
shic_schema_surface_valid (const shic_val_t *value)
{
    return shic_schema_absent (value)
        || shic_val_is (value, SHIC_VAL_STR)
        || shic_val_is (value, SHIC_VAL_MAP);
}

//  True when value is an array of strings, or a map of string values
static bool
s_all_strings (const shic_val_t *value)
{
    for (size_t index = 0; index < shic_val_size (value); index++)
        if (!shic_val_is (shic_val_at (value, index), SHIC_VAL_STR))
            return false;
    return true;
}

static int
s_read_str (const shic_val_t *value, const shic_schema_field_t *field,
            const char *name, const char *code, shic_error_t *err,
            shic_val_t **value_p)
{
    bool non_empty = (field->rules & SHIC_SCHEMA_NON_EMPTY) != 0;
    if (shic_schema_absent (value)) {
        if (field->required) {
            shic_error_set_field (err, code, name, "field %s is required", name);
            return -1;
        }
        *value_p = field->dflt? shic_val_new_str (field->dflt): shic_val_new_nil ();
        return 0;
    }
    if (!shic_val_is (value, SHIC_VAL_STR)
    ||  (non_empty && *shic_val_str (value) == 0)) {
        shic_error_set_field (err, code, name, "field %s must be a%s string, not %s",
                              name, non_empty? " non-empty": "",
                              shic_val_type_name (value));
        return -1;
    }
    *value_p = shic_val_dup (value);
    return 0;
}

static int
s_read_strs (const shic_val_t *value, const shic_schema_field_t *field,
             const char *name, const char *code, shic_error_t *err,
             shic_val_t **value_p)
{
    if ((field->rules & SHIC_SCHEMA_NON_EMPTY)
    &&  (!shic_val_is (value, SHIC_VAL_ARRAY) || shic_val_size (value) == 0)) {
        shic_error_set_field (err, code, name,
                              "field %s must be a non-empty array of strings", name);
        return -1;
    }
    if (shic_schema_absent (value)) {
        *value_p = shic_val_new_strings (field->dflt, NULL);
        return 0;
    }
    if (!shic_val_is (value, SHIC_VAL_ARRAY) || !s_all_strings (value)) {
        shic_error_set_field (err, code, name, "field %s must be an array of strings", name);
        return -1;
    }
    *value_p = shic_val_dup (value);
    return 0;
}

static int
s_read_map (const shic_val_t *value, const shic_schema_field_t *field,
            const char *name, const char *code, shic_error_t *err,
            shic_val_t **value_p)
{
    bool string_values = (field->rules & SHIC_SCHEMA_STRING_VALUES) != 0;
    if (shic_schema_absent (value)) {
        *value_p = shic_val_new_map ();
        return 0;
    }
    if (!shic_val_is (value, SHIC_VAL_MAP)
    ||  (string_values && !s_all_strings (value))) {
        shic_error_set_field (err, code, name, "field %s must be a map%s", name,
                              string_values? " of strings": "");
        return -1;
    }
    *value_p = shic_val_dup (value);
    return 0;
}

static int
s_read_surface (const shic_val_t *value, const char *name, const char *code,
                shic_error_t *err, shic_val_t **value_p)
{
    if (!shic_schema_surface_valid (value)) {
        shic_error_set_field (err, code, name,
                              "field %s must be nil, a string or a map", name);
        return -1;
    }
    *value_p = value? shic_val_dup (value): shic_val_new_nil ();
    return 0;
}

static int
s_read_ms (const shic_val_t *value, const shic_schema_field_t *field,
           const char *name, const char *code, shic_error_t *err,
           shic_val_t **value_p)
{
    bool positive = (field->rules & SHIC_SCHEMA_POSITIVE) != 0;
    int64_t max = field->max_ms > 0? field->max_ms: SHIC_SCHEMA_MS_MAX;
    if (shic_schema_absent (value)) {
        *value_p = shic_val_new_int (field->dflt_ms);
        return 0;
    }
    if (!shic_val_is (value, SHIC_VAL_INT)
    ||  shic_val_int (value) < (positive? 1: 0)
    ||  shic_val_int (value) > max) {
        shic_error_set_field (err, code, name, "field %s must be an integer from %d to %lld",
                              name, positive? 1: 0, (long long) max);
        return -1;
    }
    *value_p = shic_val_new_int (shic_val_int (value));
    return 0;
}

//  Absent leaves the field out: the stop then sends SIGTERM
static int
s_read_signal (const shic_val_t *value, const char *name, const char *code,
               shic_error_t *err, shic_val_t **value_p)
{
    if (shic_schema_absent (value))
        return 0;
    if (!shic_val_is (value, SHIC_VAL_INT)
    ||  shic_val_int (value) < 1 || shic_val_int (value) > 64) {
        shic_error_set_field (err, code, name, "field %s must be a signal number", name);
        return -1;
    }
    *value_p = shic_val_new_int (shic_val_int (value));
    return 0;
}

static int
s_read_struct (const shic_val_t *value, const shic_schema_field_t *field,
               const char *name, const char *code, shic_error_t *err,
               shic_val_t **value_p)
{
    if (shic_schema_absent (value)) {
        *value_p = shic_val_new_nil ();
        return 0;
    }
    if (!shic_val_is (value, SHIC_VAL_MAP)) {
        shic_error_set_field (err, code, name, "field %s must be nil or a map, not %s",
                              name, shic_val_type_name (value));
        return -1;
    }
    shic_val_t *nested = shic_val_new_map ();
    assert (nested);
    if (shic_schema_take (nested, value, field->fields, code, name, err)) {
        shic_val_destroy (&nested);
        return -1;
    }
    *value_p = nested;
    return 0;
}

int
shic_schema_take (shic_val_t *out, const shic_val_t *in,
                  const shic_schema_field_t *table, const char *code,
                  const char *prefix, shic_error_t *err)
{
    for (const shic_schema_field_t *field = table; field->name; field++) {
        char name [128];
        if (prefix)
            snprintf (name, sizeof (name), "%s.%s", prefix, field->name);
        else
            snprintf (name, sizeof (name), "%s", field->name);
        const shic_val_t *value = shic_val_get (in, field->name);
        shic_val_t *fresh = NULL;
        int rc = -1;
        switch (field->type) {
            case SHIC_SCHEMA_STR:
                rc = s_read_str (value, field, name, code, err, &fresh);
                break;
            case SHIC_SCHEMA_STRS:
                rc = s_read_strs (value, field, name, code, err, &fresh);
                break;
            case SHIC_SCHEMA_MAP:
                rc = s_read_map (value, field, name, code, err, &fresh);
                break;
            case SHIC_SCHEMA_SURFACE:
                rc = s_read_surface (value, name, code, err, &fresh);
                break;
            case SHIC_SCHEMA_MS:
                rc = s_read_ms (value, field, name, code, err, &fresh);
                break;
            case SHIC_SCHEMA_SIGNAL:
                rc = s_read_signal (value, name, code, err, &fresh);
                break;
            case SHIC_SCHEMA_STRUCT:
                rc = s_read_struct (value, field, name, code, err, &fresh);
                break;
        }
        if (rc)
            return -1;
        if (fresh) {
            rc = shic_val_set (out, field->name, &fresh);
            assert (rc == 0);
        }
    }
    return 0;
}


//  ---------------------------------------------------------------------------
//  Self test

//  A table with one field of every type, nested one level
static const shic_schema_field_t s_inner [] = {
    { .name = "argv", .type = SHIC_SCHEMA_STRS, .rules = SHIC_SCHEMA_NON_EMPTY },
    { .name = "signal", .type = SHIC_SCHEMA_SIGNAL },
    { .name = NULL }
};
static const shic_schema_field_t s_table [] = {
    { .name = "name", .type = SHIC_SCHEMA_STR, .required = true, .rules = SHIC_SCHEMA_NON_EMPTY },
    { .name = "kind", .type = SHIC_SCHEMA_STR, .dflt = "service" },
    { .name = "tags", .type = SHIC_SCHEMA_STRS, .dflt = "a" },
    { .name = "env", .type = SHIC_SCHEMA_MAP, .rules = SHIC_SCHEMA_STRING_VALUES },
    { .name = "surface", .type = SHIC_SCHEMA_SURFACE },
    { .name = "wait_ms", .type = SHIC_SCHEMA_MS, .dflt_ms = 100, .rules = SHIC_SCHEMA_POSITIVE },
    { .name = "grace_ms", .type = SHIC_SCHEMA_MS, .dflt_ms = 7, .max_ms = 1000 },
    { .name = "inner", .type = SHIC_SCHEMA_STRUCT, .fields = s_inner },
    { .name = NULL }
};

//  Takes json through s_table; returns the result as JSON text (fresh) or
//  NULL with err set
static char *
s_take_json (const char *json, shic_error_t *err)
{
    shic_val_t *in = shic_val_from_json (json);
    assert (in);
    shic_val_t *out = shic_val_new_map ();
    char *text = NULL;
    if (shic_schema_take (out, in, s_table, SHIC_E_INVALID_ARGS, NULL, err) == 0)
        text = shic_val_to_json (out);
    shic_val_destroy (&out);
    shic_val_destroy (&in);
    return text;
}

//  Asserts that json fails on field with exactly message
static void
s_expect_error (const char *json, const char *field, const char *message)
{
    shic_error_t err = { NULL, NULL, NULL };
    char *text = s_take_json (json, &err);
    assert (text == NULL);
    assert (err.code == shic_error_code_lookup ("invalid_args"));
    assert (streq (shic_val_str (shic_val_get (err.details, "field")), field));
    if (!streq (err.message, message)) {
        fprintf (stderr, "shic_schema_test: expected '%s'\n    got '%s'\n",
                 message, err.message);
        assert (false);
    }
    shic_error_clear (&err);
}

void
shic_schema_test (bool verbose)
{
    printf (" * shic_schema: ");
    if (verbose)
        printf ("\n");

    //  Defaults in table order; nil counts as absent; unknown keys dropped
    shic_error_t err = { NULL, NULL, NULL };
    char *text = s_take_json ("{\"name\":\"n\",\"kind\":null,\"extra\":1}", &err);
    assert (text);
    shic_val_t *got = shic_val_from_json (text);
    shic_val_t *expected = shic_val_from_json ("{\"name\":\"n\",\"kind\":\"service\","
        "\"tags\":[\"a\"],\"env\":{},\"surface\":null,\"wait_ms\":100,\"grace_ms\":7,\"inner\":null}");
    assert (shic_val_equal (got, expected));
    assert (streq (shic_val_key_at (got, 7), "inner"));
    shic_val_destroy (&got);
    shic_val_destroy (&expected);
    zstr_free (&text);

    //  Present values are copied; the nested table drops what it lacks
    text = s_take_json ("{\"name\":\"n\",\"tags\":[],\"env\":{\"A\":\"1\"},\"surface\":"
                        "{\"surface_kind\":\"x\"},\"wait_ms\":5,\"inner\":{\"argv\":[\"x\"],"
                        "\"signal\":9,\"other\":2}}", &err);
    assert (text);
    got = shic_val_from_json (text);
    assert (shic_val_size (shic_val_get (got, "tags")) == 0);
    assert (shic_val_int (shic_val_get (got, "wait_ms")) == 5);
    assert (shic_val_int (shic_val_path (got, "inner/signal")) == 9);
    assert (shic_val_size (shic_val_get (got, "inner")) == 2);
    shic_val_destroy (&got);
    zstr_free (&text);

    //  Every rule's message
    s_expect_error ("{}", "name", "field name is required");
    s_expect_error ("{\"name\":\"\"}", "name", "field name must be a non-empty string, not str");
    s_expect_error ("{\"name\":\"n\",\"kind\":1}", "kind", "field kind must be a string, not int");
    s_expect_error ("{\"name\":\"n\",\"tags\":[1]}", "tags", "field tags must be an array of strings");
    s_expect_error ("{\"name\":\"n\",\"env\":{\"A\":1}}", "env", "field env must be a map of strings");
    s_expect_error ("{\"name\":\"n\",\"surface\":1}", "surface",
                    "field surface must be nil, a string or a map");
    s_expect_error ("{\"name\":\"n\",\"wait_ms\":0}", "wait_ms",
                    "field wait_ms must be an integer from 1 to 1099511627776");
    //  Durations end at 2^40 ms, or at the field's own bound
    s_expect_error ("{\"name\":\"n\",\"wait_ms\":9223372036854775807}", "wait_ms",
                    "field wait_ms must be an integer from 1 to 1099511627776");
    s_expect_error ("{\"name\":\"n\",\"grace_ms\":1001}", "grace_ms",
                    "field grace_ms must be an integer from 0 to 1000");
    s_expect_error ("{\"name\":\"n\",\"inner\":[]}", "inner", "field inner must be nil or a map, not array");
    s_expect_error ("{\"name\":\"n\",\"inner\":{}}", "inner.argv",
                    "field inner.argv must be a non-empty array of strings");
    s_expect_error ("{\"name\":\"n\",\"inner\":{\"argv\":[\"x\"],\"signal\":65}}", "inner.signal",
                    "field inner.signal must be a signal number");

    //  Absent and nil are the same
    assert (shic_schema_absent (NULL));
    shic_val_t *nil = shic_val_new_nil ();
    assert (shic_schema_absent (nil));
    assert (shic_schema_surface_valid (nil));
    shic_val_destroy (&nil);

    printf ("OK\n");
}
