/*  =========================================================================
    eintr_register - reproduces the use-after-free fuzz_config found (issue 7)

    shic_runtime_register (actors/shic_runtime.c) answers -1 when its
    zsock_recv on the supervisor pipe is interrupted by a signal (EINTR),
    while the supervisor goes on registering: shic_backends_configure then
    frees the ops table and the backend actor reads it (shic_backend.c:40,
    ops->init): heap-use-after-free. Any host with a signal handler (here a
    SIGALRM timer, as libFuzzer's -timeout has) could hit it. Fixed: the
    facade and the supervisor now retry a receive a signal interrupted
    (shic_recv then, shic_bus_recv now). Kept as a regression check; not
    in CI.
    Build against an ASan build and run:
        clang -g -fsanitize=address,undefined -Iinclude -Imessages -Ibackends \
            fuzz/repro/eintr_register.c build-asan/libshic.a \
            -lczmq -lzmq -lcurl -lmsgpackc -lpthread -ldl -o /tmp/eintr_register
    =========================================================================
*/

#include "shic.h"
#include "shic_backends.h"
#include <signal.h>
#include <sys/time.h>
static void s_alarm (int sig) { (void) sig; }
int main (void)
{
    zsys_init ();
    shic_runtime_t *runtime = shic_runtime_new (NULL);
    struct sigaction action = { .sa_handler = s_alarm };
    sigaction (SIGALRM, &action, NULL);
    struct itimerval timer = { { 0, 300 }, { 0, 300 } };
    setitimer (ITIMER_REAL, &timer, NULL);
    int failures = 0;
    for (int i = 0; i < 3000; i++) {
        zconfig_t *config = zconfig_str_load (
            "backends\n    standin\n        type = command\n        command = /bin/true --port ${PORT}\n"
            "        models\n            tiny = tiny\n");
        shic_error_t err = { 0 };
        shic_backends_t *backends = shic_backends_configure (runtime, config, &err);
        if (!backends) {
            failures++;
            if (failures < 4)
                printf ("configure failed: %s\n", err.message);
        }
        shic_error_clear (&err);
        shic_runtime_unregister (runtime, "standin");
        shic_backends_destroy (&backends);
        zconfig_destroy (&config);
    }
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    setitimer (ITIMER_REAL, &off, NULL);
    printf ("%d failures\n", failures);
    shic_runtime_destroy (&runtime);
    return 0;
}
