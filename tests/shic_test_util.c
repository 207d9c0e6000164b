/*  =========================================================================
    shic_test_util - helpers the scenario tests share
    =========================================================================
*/

#include "shic_test_util.h"

shic_val_t *
shic_test_wait_event (zsock_t *sub, const char *topic, int timeout_ms)
{
    return shic_test_wait_event_for (sub, topic, NULL, NULL, timeout_ms);
}

shic_val_t *
shic_test_wait_event_for (zsock_t *sub, const char *topic, const char *instance_id,
                          const char *health, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (true) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            return NULL;
        zsock_set_rcvtimeo (sub, (int) left);
        zmsg_t *msg = zmsg_recv (sub);
        if (!msg)
            return NULL;
        char *got = zmsg_popstr (msg);
        zframe_t *frame = zmsg_pop (msg);
        shic_val_t *body = NULL;
        if (frame)
            shic_val_decode (zframe_data (frame), zframe_size (frame), NULL, &body, NULL);
        zframe_destroy (&frame);
        zmsg_destroy (&msg);
        const char *id = shic_val_str (shic_val_get (body, "instance_id"));
        const char *status = shic_val_str (shic_val_get (body, "health_status"));
        bool match = got && streq (got, topic)
                  && (!instance_id || (id && streq (id, instance_id)))
                  && (!health || (status && streq (status, health)));
        zstr_free (&got);
        if (match)
            return body;
        shic_val_destroy (&body);
    }
}

void
shic_test_expect_error (shic_client_t *client, shic_val_t *result, const char *code)
{
    const shic_error_t *err = shic_client_error (client);
    if (result || !err->code || !streq (err->code, code)) {
        fprintf (stderr, "expected error %s, got %s (%s)\n", code,
                 result? "a result": err->code? err->code: "nothing",
                 err->message? err->message: "");
        assert (false);
    }
}

const char *
shic_test_str (const shic_val_t *val, const char *path)
{
    const char *str = shic_val_str (shic_val_path (val, path));
    return str? str: "";
}

void
shic_test_expect_ok (shic_client_t *client, const shic_val_t *result, const char *what)
{
    if (!result) {
        const shic_error_t *err = shic_client_error (client);
        char *details = shic_val_to_json (err->details);
        fprintf (stderr, "%s: %s %s %s\n", what, err->code, err->message, details);
        free (details);
        assert (false);
    }
}

static bool s_skipped = false;

void
shic_test_skip (const char *test, const char *why)
{
    printf (" * %s: skipped (%s)\n", test, why);
    s_skipped = true;
}

bool
shic_test_skipped (void)
{
    return s_skipped;
}
