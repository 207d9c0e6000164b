/*  =========================================================================
    shic_outside - a program outside the tree, built against an installed
    shic (tests/install_test.sh): creates a runtime, pings it through
    shic_client on its inproc endpoint, destroys both
    =========================================================================
*/

#include <shic.h>

int
main (void)
{
    shic_runtime_t *runtime = shic_runtime_new (NULL);
    if (!runtime) {
        fprintf (stderr, "shic_outside: no runtime\n");
        return 1;
    }
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));
    int rc = client? shic_client_ping (client): -1;
    shic_client_destroy (&client);
    shic_runtime_destroy (&runtime);
    printf ("shic_outside %s: ping %s\n", SHIC_VERSION, rc == 0? "ok": "failed");
    return rc == 0? 0: 1;
}
