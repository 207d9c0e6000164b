/*  =========================================================================
    shic_demo - the embedding path end to end, in one process

    Starts a runtime, registers the spawned test backend (it runs the
    stand-in llama-server of tests/, or the binary named by
    SHIC_LLAMA_SERVER_STAND_IN), ensures an endpoint, sends one chat
    completion to it, releases the lease and stops everything.

    Usage: shic_demo [-v]
    =========================================================================
*/

#include "shic.h"
#include "shic_http.h"
#include "shic_test_backends.h"

int
main (int argc, char *argv [])
{
    bool verbose = argc > 1 && streq (argv [1], "-v");
    shic_init (4096);
    zsys_set_logstream (stderr);
    printf ("shic demo: starting a runtime (shic %s)\n", SHIC_VERSION);
    shic_runtime_t *runtime = shic_runtime_new (NULL);
    if (!runtime)
        return 1;
    shic_error_t err = { 0 };
    if (shic_runtime_register (runtime, &shic_test_spawned_ops, NULL, &err)) {
        fprintf (stderr, "shic demo: %s\n", err.message);
        return 1;
    }
    zsock_t *events = zsock_new_sub (shic_runtime_events_endpoint (runtime), "");
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));

    printf ("shic demo: ensure_endpoint test_spawned/tiny (cold start of %s)\n",
            shic_test_stand_in ());
    int64_t started = zclock_mono ();
    shic_val_t *result = shic_client_ensure (client, "test_spawned", "tiny", NULL, 0, 30000);
    if (!result) {
        const shic_error_t *e = shic_client_error (client);
        fprintf (stderr, "shic demo: ensure failed: %s: %s\n", e->code, e->message);
        return 1;
    }
    const char *base_url = shic_val_str (shic_val_path (result, "endpoint/base_url"));
    const char *lease = shic_val_str (shic_val_path (result, "lease/lease_ref"));
    printf ("shic demo: ready in %lld ms: %s (instance %s, %s)\n",
            (long long) (zclock_mono () - started), base_url,
            shic_val_str (shic_val_get (result, "instance_id")), lease);
    if (verbose) {
        char *json = shic_val_to_json (result);
        printf ("%s\n", json);
        free (json);
    }
    //  The client talks to the endpoint itself; shic never sees this traffic
    char url [512];
    snprintf (url, sizeof (url), "%s/chat/completions", base_url);
    shic_http_result_t http = { 0 };
    const char *headers [] = { "Content-Type: application/json", NULL };
    int rc = shic_http_request ("POST", url, headers,
        "{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}],\"max_tokens\":8}",
        5000, &http);
    printf ("shic demo: POST %s -> %ld\n%s\n", url, http.status, http.body? http.body: "");
    bool answered = rc == 0 && http.status == 200;
    shic_http_result_reset (&http);
    shic_http_thread_cleanup ();

    shic_client_release (client, lease);
    printf ("shic demo: lease released\n");
    shic_val_destroy (&result);
    //  Show what the events socket said
    zsock_set_rcvtimeo (events, 100);
    char *topic;
    while ((topic = zstr_recv (events))) {
        printf ("  event %s\n", topic);
        zstr_free (&topic);
        zframe_t *body = zframe_recv (events);
        zframe_destroy (&body);
    }
    zsock_destroy (&events);
    shic_client_destroy (&client);
    shic_runtime_destroy (&runtime);
    printf ("shic demo: runtime stopped, service stopped: %s\n", answered? "OK": "FAILED");
    return answered? 0: 1;
}
