/*  =========================================================================
    fuzz_gateway - libFuzzer target: the gateway's request handling

    The gateway has no socket-free entry point, so this target goes through
    an inproc socket: one runtime (created on the first input, with the test
    backends of tests/shic_test_backends.c registered) lives for the whole
    run; each input is sent as one request body frame through a DEALER
    connected to shic_runtime_endpoint, and the reply frame must come back
    within 2 s and decode as a wire reply (shic_wire_reply_decode).

    Inputs naming the test_spawned option "binary" are skipped: they would
    let the fuzzer choose the program the runtime executes.

    SIGALRM (libFuzzer's per-input timer) is blocked in the runtime's
    threads and while an input runs, as in fuzz_config.c: an interrupted
    receive inside the runtime is not retried (reported with issue 7).
    =========================================================================
*/

#include "shic.h"
#include "shic_test_backends.h"
#include <signal.h>

#define REPLY_DEADLINE_MS 2000

static shic_runtime_t *s_runtime = NULL;
static zsock_t *s_dealer = NULL;
static int64_t s_no_reply = 0;

static void
s_teardown (void)
{
    zsock_destroy (&s_dealer);
    shic_runtime_destroy (&s_runtime);
    if (s_no_reply)
        fprintf (stderr, "fuzz_gateway: %lld input(s) got no reply within %d ms\n",
                 (long long) s_no_reply, REPLY_DEADLINE_MS);
}

static void
s_setup (void)
{
    zsys_init ();
    zsys_set_logstream (NULL);
    zsys_set_logsystem (false);
    //  Small caps: the fuzzer may start attached and spawned instances
    zconfig_t *config = zconfig_str_load (
        "runtime\n"
        "    max_instances = 4\n"
        "    max_leases = 64\n"
        "    lease_spare = 2\n"
        "    retention_ms = 1000\n"
        "    start_failure_hold_ms = 100\n");
    s_runtime = shic_runtime_new (config);
    zconfig_destroy (&config);
    assert (s_runtime);
    const shic_backend_ops_t *all [] = { &shic_test_spawned_ops, &shic_test_attached_ops,
                                         &shic_test_liar_ops, &shic_test_liar_nil_ops, NULL };
    for (int i = 0; all [i]; i++) {
        shic_error_t err = { 0 };
        int rc = shic_runtime_register (s_runtime, all [i], NULL, &err);
        assert (rc == 0);
        shic_error_clear (&err);
    }
    s_dealer = zsock_new_dealer (shic_runtime_endpoint (s_runtime));
    assert (s_dealer);
    atexit (s_teardown);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size >= 6 && memmem (data, size, "binary", 6))
        return 0;
    sigset_t alarm, saved;
    sigemptyset (&alarm);
    sigaddset (&alarm, SIGALRM);
    pthread_sigmask (SIG_BLOCK, &alarm, &saved);
    if (!s_runtime)
        s_setup ();
    zframe_t *frame = zframe_new (data, size);
    int rc = zframe_send (&frame, s_dealer, 0);
    assert (rc == 0);

    zpoller_t *poller = zpoller_new (s_dealer, NULL);
    int64_t deadline = zclock_mono () + REPLY_DEADLINE_MS;
    zframe_t *reply_frame = NULL;
    while (!reply_frame) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            break;
        if (zpoller_wait (poller, (int) left) != s_dealer)
            break;
        zmsg_t *msg = zmsg_recv (s_dealer);
        assert (msg);
        //  One body frame per reply on a DEALER (wire.md)
        assert (zmsg_size (msg) == 1);
        reply_frame = zmsg_pop (msg);
        zmsg_destroy (&msg);
    }
    zpoller_destroy (&poller);
    if (!reply_frame) {
        //  A request may legitimately wait longer (ensure_endpoint with a
        //  large wait_ms); start over on a fresh socket so that its late
        //  reply does not answer the next input
        s_no_reply++;
        shic_val_t *request = NULL;
        if (shic_val_decode (data, size, NULL, &request, NULL) == 0) {
            char *json = shic_val_to_json (request);
            fprintf (stderr, "fuzz_gateway: no reply within %d ms to %.1000s\n",
                     REPLY_DEADLINE_MS, json? json: "?");
            free (json);
        }
        else
            fprintf (stderr, "fuzz_gateway: no reply within %d ms to %zu undecodable bytes\n",
                     REPLY_DEADLINE_MS, size);
        shic_val_destroy (&request);
        zsock_destroy (&s_dealer);
        s_dealer = zsock_new_dealer (shic_runtime_endpoint (s_runtime));
        assert (s_dealer);
        pthread_sigmask (SIG_SETMASK, &saved, NULL);
        return 0;
    }
    shic_wire_reply_t reply = { 0 };
    rc = shic_wire_reply_decode (zframe_data (reply_frame), zframe_size (reply_frame), &reply);
    assert (rc == 0);
    //  A failed reply carries a code of the table
    assert (reply.ok || (reply.error.code && shic_error_code_lookup (reply.error.code)));
    shic_wire_reply_reset (&reply);
    zframe_destroy (&reply_frame);
    pthread_sigmask (SIG_SETMASK, &saved, NULL);
    return 0;
}
