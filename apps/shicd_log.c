/*  =========================================================================
    shicd_log - shicd's lifecycle log, from its own events

    Why events and not the gateway: the library is embedded in other hosts,
    which choose their own logging; shicd is the program whose operators
    want a line per lifecycle step by default. The events already carry
    every step (instance.stopped says why: idle, evicted, requested,
    backend_removed), so the daemon logs them from a SUB of its own inproc
    events socket, in a thread of its own, and the kernel stays quiet.
    =========================================================================
*/

#include "shicd_log.h"

static const char *
s_str (const shic_val_t *event, const char *path)
{
    const char *str = shic_val_str (shic_val_path (event, path));
    return str? str: "-";
}

//  "exit code 1", "signal 6", or the exit's status
static void
s_exit_text (const shic_val_t *exit, char *text, size_t size)
{
    const shic_val_t *code = shic_val_get (exit, "code");
    const shic_val_t *signal = shic_val_get (exit, "signal");
    if (shic_val_type (signal) == SHIC_VAL_INT && shic_val_int (signal) > 0)
        snprintf (text, size, "signal %lld", (long long) shic_val_int (signal));
    else
    if (shic_val_type (code) == SHIC_VAL_INT)
        snprintf (text, size, "exit code %lld", (long long) shic_val_int (code));
    else
        snprintf (text, size, "%s", s_str (exit, "status"));
}

char *
shicd_log_line (const char *topic, const shic_val_t *event)
{
    const char *id = s_str (event, "instance_id");
    char exit [64];
    s_exit_text (shic_val_get (event, "exit"), exit, sizeof (exit));
    if (streq (topic, "instance.starting"))
        return zsys_sprintf ("start: %s (backend %s)", id, s_str (event, "backend"));
    if (streq (topic, "instance.ready"))
        return zsys_sprintf ("ready: %s at %s", id, s_str (event, "endpoint/base_url"));
    if (streq (topic, "instance.restarting"))
        return zsys_sprintf ("crash: %s (%s); restart %lld in %lld ms", id, exit,
                             (long long) shic_val_int (shic_val_get (event, "restarts")),
                             (long long) shic_val_int (shic_val_get (event, "delay_ms")));
    if (streq (topic, "instance.failed"))
        return zsys_sprintf ("failed: %s: %s: %s", id, s_str (event, "reason"),
                             s_str (event, "error/message"));
    if (streq (topic, "instance.evicting"))
        return zsys_sprintf ("evict: %s (%s%s%s)", id, s_str (event, "reason"),
                             shic_val_str (shic_val_get (event, "for"))? ", for ": "",
                             shic_val_str (shic_val_get (event, "for"))? s_str (event, "for"): "");
    if (streq (topic, "instance.stopped")) {
        const char *reason = s_str (event, "reason");
        if (streq (reason, "idle"))
            return zsys_sprintf ("idle stop: %s", id);
        return zsys_sprintf ("stopped: %s (%s)", id, reason);
    }
    return NULL;
}

void
shicd_log_actor (zsock_t *pipe, void *args)
{
    zsock_t *events = zsock_new_sub ((const char *) args, "instance.");
    zsock_signal (pipe, events? 0: 1);
    if (!events)
        return;
    zpoller_t *poller = zpoller_new (pipe, events, NULL);
    while (true) {
        zsock_t *which = (zsock_t *) zpoller_wait (poller, -1);
        if (which != events)
            break;                  //  $TERM, or interrupted
        zmsg_t *msg = zmsg_recv (events);
        char *topic = msg? zmsg_popstr (msg): NULL;
        zframe_t *frame = msg? zmsg_pop (msg): NULL;
        shic_val_t *body = NULL;
        if (topic && frame
        &&  shic_val_decode (zframe_data (frame), zframe_size (frame), NULL, &body, NULL) == 0) {
            char *line = shicd_log_line (topic, body);
            if (line)
                zsys_info ("shicd: %s", line);
            zstr_free (&line);
        }
        shic_val_destroy (&body);
        zframe_destroy (&frame);
        zstr_free (&topic);
        zmsg_destroy (&msg);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&events);
}
