/*  =========================================================================
    fuzz_config - libFuzzer target: the configuration path of shicd

    One input is one ZPL text. It is loaded with zconfig_str_load, then goes
    through shicd's own key check (s_check_config: apps/shicd.c is included
    here with its main renamed), the runtime settings (shic_settings_load,
    shic_config_int) and shic_backends_configure on one static runtime;
    every backend named under "backends" is unregistered after each input.

    Inputs naming "plugin" are skipped: they would dlopen a fuzzer-chosen
    path. Configuring registers backends but spawns nothing.

    SIGALRM (libFuzzer's per-input timer) is blocked in the runtime's
    threads and around calls into the runtime: the runtime's facade treats
    an interrupted receive (EINTR) as a failed call while the supervisor
    goes on with it, so a register "fails", the caller frees the ops table
    and the backend actor reads freed memory (reported with issue 7; not
    fixed here). A pending alarm is taken when the call has returned.
    =========================================================================
*/

#define main shicd_main
#include "../apps/shicd.c"
#undef main
#include "shic_actors.h"

int shicd_main (int argc, char *argv []);

#include <signal.h>

static shic_runtime_t *s_runtime = NULL;

static void
s_teardown (void)
{
    shic_runtime_destroy (&s_runtime);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    sigset_t alarm, saved;
    sigemptyset (&alarm);
    sigaddset (&alarm, SIGALRM);
    pthread_sigmask (SIG_BLOCK, &alarm, &saved);
    if (!s_runtime) {
        zsys_init ();
        zsys_set_logstream (NULL);
        zsys_set_logsystem (false);
        s_runtime = shic_runtime_new (NULL);
        assert (s_runtime);
        atexit (s_teardown);
    }
    if (size > 8192 || (size >= 6 && memmem (data, size, "plugin", 6))) {
        pthread_sigmask (SIG_SETMASK, &saved, NULL);
        return 0;
    }
    char *text = (char *) malloc (size + 1);
    assert (text);
    memcpy (text, data, size);
    text [size] = 0;
    zconfig_t *config = zconfig_str_load (text);
    free (text);
    if (!config) {
        pthread_sigmask (SIG_SETMASK, &saved, NULL);
        return 0;
    }

    char *problem = NULL;
    const char *bad = s_check_config (config, &problem);
    assert ((bad == NULL) == (problem == NULL));
    free (problem);

    shic_settings_t settings;
    shic_settings_load (&settings, config);
    const char *keys [] = { "max_leases", "max_instances", "client_timeout_ms", "max_frame",
                            "retention_ms", "liveness_failures", "nope", NULL };
    for (int i = 0; keys [i]; i++)
        (void) shic_config_int (config, keys [i], 7);

    shic_error_t err = { 0 };
    shic_backends_t *backends = shic_backends_configure (s_runtime, config, &err);
    assert (backends || err.code);
    shic_error_clear (&err);
    zconfig_t *section = zconfig_locate (config, "backends");
    for (zconfig_t *item = section? zconfig_child (section): NULL; item; item = zconfig_next (item))
        if (zconfig_name (item))
            shic_runtime_unregister (s_runtime, zconfig_name (item));
    shic_backends_destroy (&backends);
    zconfig_destroy (&config);
    pthread_sigmask (SIG_SETMASK, &saved, NULL);
    return 0;
}
