/*  =========================================================================
    shic_error - the typed error of wire.md

    The codes are static strings in the order of wire.md's table; an error
    holds one of them (or a caller's own static string), so codes compare
    by pointer after shic_error_code_lookup.
    =========================================================================
*/

#include <czmq.h>
#include "shic_error.h"

const char *shic_error_codes [] = {
    SHIC_E_MALFORMED,
    SHIC_E_UNSUPPORTED_VERSION,
    SHIC_E_UNKNOWN_OP,
    SHIC_E_INVALID_ARGS,
    SHIC_E_INVALID_REQUEST,
    SHIC_E_INVALID_CONSUMER_MANIFEST,
    SHIC_E_MISSING_REQUEST_FIELD,
    SHIC_E_INVALID_TARGET_PREFERENCE,
    SHIC_E_MISSING_TARGET_PREFERENCE,
    SHIC_E_UNKNOWN_BACKEND_ID,
    SHIC_E_INVALID_STARTUP_KIND,
    SHIC_E_INCOMPATIBLE,
    SHIC_E_INVALID_STARTUP_PLAN,
    SHIC_E_INVALID_BACKEND_OPTIONS,
    SHIC_E_FORBIDDEN,
    SHIC_E_READINESS_TIMEOUT,
    SHIC_E_AWAIT_TIMEOUT,
    SHIC_E_TRANSPORT_START_FAILED,
    SHIC_E_BACKEND_EXIT,
    SHIC_E_INSTANCE_UNAVAILABLE,
    SHIC_E_INSTANCE_FAILED,
    SHIC_E_CAPACITY,
    SHIC_E_NOT_FOUND,
    SHIC_E_LEASE_NOT_FOUND,
    SHIC_E_SHUTTING_DOWN,
    SHIC_E_INTERNAL,
    SHIC_E_INSUFFICIENT_RESOURCES,
    SHIC_E_QUEUE_FULL,
    SHIC_E_INSTANCE_STOPPED,        //  issue 15: added at the end
    NULL
};


const char *
shic_error_code_lookup (const char *code)
{
    if (!code)
        return NULL;
    size_t index;
    for (index = 0; shic_error_codes [index]; index++)
        if (streq (shic_error_codes [index], code))
            return shic_error_codes [index];
    return NULL;
}

void
shic_error_clear (shic_error_t *err)
{
    if (!err)
        return;
    free (err->message);
    shic_val_destroy (&err->details);
    memset (err, 0, sizeof (shic_error_t));
}

static void
s_error_vset (shic_error_t *err, const char *code, shic_val_t *details,
              const char *format, va_list args)
{
    if (!err) {
        shic_val_destroy (&details);
        return;
    }
    shic_error_clear (err);
    const char *known = shic_error_code_lookup (code);
    err->code = known? known: code;
    err->message = format? zsys_vprintf (format, args): NULL;
    err->details = details;
}

void
shic_error_set (shic_error_t *err, const char *code,
                shic_val_t **details_p, const char *format, ...)
{
    shic_val_t *details = NULL;
    if (details_p) {
        details = *details_p;
        *details_p = NULL;
    }
    va_list args;
    va_start (args, format);
    s_error_vset (err, code, details, format, args);
    va_end (args);
}

void
shic_error_set_field (shic_error_t *err, const char *code,
                      const char *field, const char *format, ...)
{
    shic_val_t *details = shic_val_new_map ();
    if (details)
        shic_val_set_str (details, "field", field);
    va_list args;
    va_start (args, format);
    s_error_vset (err, code, details, format, args);
    va_end (args);
}

void
shic_error_move (shic_error_t *dst, shic_error_t *src)
{
    if (!dst || dst == src)
        return;
    shic_error_clear (dst);
    if (src) {
        *dst = *src;
        memset (src, 0, sizeof (shic_error_t));
    }
}

shic_val_t *
shic_error_to_val (const shic_error_t *err)
{
    shic_val_t *self = shic_val_new_map ();
    if (!self)
        return NULL;
    const char *code = err && err->code? err->code: SHIC_E_INTERNAL;
    const char *message = err && err->message? err->message: "";
    if (shic_val_set_str (self, "code", code)
    ||  shic_val_set_str (self, "message", message)
    ||  shic_val_set_dup (self, "details", err? err->details: NULL)) {
        shic_val_destroy (&self);
        return NULL;
    }
    return self;
}

int
shic_error_from_val (shic_error_t *err, const shic_val_t *val)
{
    if (!err)
        return -1;
    shic_error_clear (err);
    const char *code = shic_val_str (shic_val_get (val, "code"));
    if (!code)
        return -1;
    const char *known = shic_error_code_lookup (code);
    err->code = known? known: SHIC_E_INTERNAL;
    const char *message = shic_val_str (shic_val_get (val, "message"));
    if (message) {
        err->message = strdup (message);
        if (!err->message) {
            shic_error_clear (err);
            return -1;
        }
    }
    const shic_val_t *details = shic_val_get (val, "details");
    if (details && !shic_val_is (details, SHIC_VAL_NIL)) {
        err->details = shic_val_dup (details);
        if (!err->details) {
            shic_error_clear (err);
            return -1;
        }
    }
    return 0;
}


//  ---------------------------------------------------------------------------
//  Self test

void
shic_error_test (bool verbose)
{
    printf (" * shic_error: ");
    if (verbose)
        printf ("\n");

    //  The code table
    size_t count = 0;
    while (shic_error_codes [count])
        count++;
    assert (count == 29);
    assert (streq (shic_error_codes [28], SHIC_E_INSTANCE_STOPPED));
    assert (streq (shic_error_codes [26], SHIC_E_INSUFFICIENT_RESOURCES));
    assert (streq (shic_error_codes [0], SHIC_E_MALFORMED));
    assert (streq (shic_error_codes [25], SHIC_E_INTERNAL));
    assert (shic_error_code_lookup ("capacity") == shic_error_codes [21]);
    assert (shic_error_code_lookup ("nope") == NULL);

    //  Errors
    shic_error_t err = { NULL, NULL, NULL };
    shic_error_set_field (&err, SHIC_E_FORBIDDEN, "binary", "No %s here.", "binaries");
    assert (err.code == shic_error_code_lookup ("forbidden"));
    assert (streq (shic_val_str (shic_val_get (err.details, "field")), "binary"));
    assert (streq (err.message, "No binaries here."));
    shic_val_t *as_val = shic_error_to_val (&err);
    shic_error_t back = { NULL, NULL, NULL };
    assert (shic_error_from_val (&back, as_val) == 0);
    assert (back.code == err.code);
    assert (streq (back.message, err.message));
    assert (shic_val_equal (back.details, err.details));
    shic_val_destroy (&as_val);
    shic_error_t moved = { NULL, NULL, NULL };
    shic_error_move (&moved, &back);
    assert (back.code == NULL && back.message == NULL && back.details == NULL);
    assert (moved.code == err.code);
    shic_error_clear (&moved);
    shic_val_t *details = shic_val_new_int (3);
    shic_error_set (&err, SHIC_E_CAPACITY, &details, "Full.");
    assert (details == NULL);
    assert (shic_val_int (err.details) == 3);
    shic_error_clear (&err);
    assert (err.code == NULL);
    //  A message longer than any fixed buffer
    shic_error_set (&err, SHIC_E_INTERNAL, NULL, "%0300d", 7);
    assert (strlen (err.message) == 300);
    assert (err.message [299] == '7');
    shic_error_clear (&err);
    //  Empty error: code internal, message "", details nil
    as_val = shic_error_to_val (&err);
    assert (streq (shic_val_str (shic_val_get (as_val, "code")), "internal"));
    assert (streq (shic_val_str (shic_val_get (as_val, "message")), ""));
    assert (shic_val_is (shic_val_get (as_val, "details"), SHIC_VAL_NIL));
    shic_val_set_str (as_val, "code", "brand_new_code");
    assert (shic_error_from_val (&err, as_val) == 0);
    assert (streq (err.code, SHIC_E_INTERNAL));
    assert (err.details == NULL);
    shic_val_set_int (as_val, "code", 1);
    assert (shic_error_from_val (&err, as_val) == -1);
    shic_val_destroy (&as_val);
    shic_error_clear (&err);

    printf ("OK\n");
}
