/*  =========================================================================
    shic_containment_test - services never outlive their manager

    Checks, in /proc: the whole process group of a service dies on stop
    (grandchildren too); a SIGKILL of the process that embeds the runtime
    leaves no service alive a second later; no zombie is left; a port that
    is already taken gives a clean backend_exit.
    =========================================================================
*/

#include "shic.h"
#include "shic_proc.h"
#include "shic_http.h"
#include "shic_command.h"
#include "shic_test_backends.h"
#include "shic_kernel_test.h"
#include <signal.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

//  State letter and process group of pid from /proc, or 0 when it is gone
static char
s_proc_state (int pid, int *pgrp, int *ppid)
{
    char path [64];
    snprintf (path, sizeof (path), "/proc/%d/stat", pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return 0;
    char buffer [1024];
    size_t size = fread (buffer, 1, sizeof (buffer) - 1, file);
    fclose (file);
    buffer [size] = 0;
    char *close = strrchr (buffer, ')');
    if (!close)
        return 0;
    char state = 0;
    int parent = 0, group = 0;
    if (sscanf (close + 2, "%c %d %d", &state, &parent, &group) != 3)
        return 0;
    if (pgrp)
        *pgrp = group;
    if (ppid)
        *ppid = parent;
    return state;
}

//  Alive means present and not a zombie
static bool
s_alive (int pid)
{
    char state = s_proc_state (pid, NULL, NULL);
    return state && state != 'Z' && state != 'X';
}

//  Pids whose process group is pgrp (at most max)
static int
s_group (int pgrp, int *pids, int max)
{
    DIR *dir = opendir ("/proc");
    int count = 0;
    struct dirent *entry;
    while (dir && (entry = readdir (dir)) && count < max) {
        int pid = atoi (entry->d_name);
        int group = 0;
        if (pid > 0 && s_proc_state (pid, &group, NULL) && group == pgrp && s_alive (pid))
            pids [count++] = pid;
    }
    if (dir)
        closedir (dir);
    return count;
}

//  Our own zombie children
static int
s_zombies (void)
{
    DIR *dir = opendir ("/proc");
    int count = 0;
    struct dirent *entry;
    while (dir && (entry = readdir (dir))) {
        int pid = atoi (entry->d_name);
        int parent = 0;
        if (pid > 0 && s_proc_state (pid, NULL, &parent) == 'Z' && parent == getpid ())
            count++;
    }
    if (dir)
        closedir (dir);
    return count;
}

//  Waits ms milliseconds on nothing, rather than a bare sleep
static void
s_pause (int ms)
{
    zsock_t *nothing = zsock_new_pair (NULL);
    zsock_set_rcvtimeo (nothing, ms);
    char *none = zstr_recv (nothing);
    zstr_free (&none);
    zsock_destroy (&nothing);
}

//  Waits until none of pids is alive, up to timeout_ms; true when so
static bool
s_wait_dead (int *pids, int count, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (true) {
        bool any = false;
        for (int i = 0; i < count; i++)
            any = any || s_alive (pids [i]);
        if (!any)
            return true;
        if (zclock_mono () >= deadline)
            return false;
        s_pause (10);
    }
}

static int
s_pid_of (shic_client_t *client, const char *instance_id)
{
    shic_val_t *args = shic_val_new_map ();
    shic_val_set_str (args, "instance_id", instance_id);
    shic_val_t *snap = shic_client_call (client, "lookup_instance", &args);
    int pid = (int) shic_val_int (shic_val_get (snap, "pid"));
    shic_val_destroy (&snap);
    return pid;
}

//  --------------------------------------------------------------------------
//  The victim: a process that embeds a runtime, prints its service's pid,
//  and waits to be killed. Run as "shic_selftest --victim".

int
shic_containment_victim (void)
{
    shic_init (64);
    zsys_set_logstream (stderr);
    shic_runtime_t *runtime = shic_runtime_new (NULL);
    shic_runtime_register (runtime, &shic_test_spawned_ops, NULL, NULL);
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));
    shic_val_t *result = shic_client_ensure (client, "test_spawned", "victim", NULL, 0, 10000);
    if (!result)
        return 1;
    printf ("service %d\n", s_pid_of (client, shic_val_str (shic_val_get (result, "instance_id"))));
    fflush (stdout);
    shic_val_destroy (&result);
    //  Wait for the SIGKILL (bounded: a minute)
    zsock_t *nothing = zsock_new_pair (NULL);
    zsock_set_rcvtimeo (nothing, 60000);
    char *none = zstr_recv (nothing);
    zstr_free (&none);
    zsock_destroy (&nothing);
    shic_client_destroy (&client);
    shic_runtime_destroy (&runtime);
    return 0;
}

static int s_victim_service = 0;

static void
s_victim_line (void *arg, int stream, const char *line)
{
    (void) arg;
    if (stream == 1 && strncmp (line, "service ", 8) == 0)
        s_victim_service = atoi (line + 8);
}

void
shic_containment_test (bool verbose)
{
    (void) verbose;
    printf (" * containment: ");
    shic_runtime_t *runtime = shic_runtime_new (NULL);
    shic_runtime_register (runtime, &shic_test_spawned_ops, NULL, NULL);
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));

    //  1. Stop kills the whole group, the grandchild too
    shic_val_t *options = shic_val_from_json ("{\"grandchild\":true}");
    shic_val_t *result = shic_client_ensure (client, "test_spawned", "family", options, 0, 10000);
    assert (result);
    shic_val_destroy (&options);
    char *id = strdup (shic_val_str (shic_val_get (result, "instance_id")));
    shic_val_destroy (&result);
    int pid = s_pid_of (client, id);
    assert (pid > 0);
    int family [16];
    int count = 0;
    int64_t deadline = zclock_mono () + 5000;
    while ((count = s_group (pid, family, 16)) < 2 && zclock_mono () < deadline)
        s_pause (10);
    assert (count >= 2);            //  the stand-in and its grandchild
    shic_val_t *args = shic_val_new_map ();
    shic_val_set_str (args, "instance_id", id);
    result = shic_client_call (client, "stop_instance", &args);
    assert (result);
    shic_val_destroy (&result);
    assert (s_wait_dead (family, count, 10000));
    free (id);

    //  2. A port that is taken: a clean backend_exit with the reason
    int sock = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = { 0 };
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    assert (bind (sock, (struct sockaddr *) &address, sizeof (address)) == 0);
    assert (listen (sock, 1) == 0);
    socklen_t size = sizeof (address);
    getsockname (sock, (struct sockaddr *) &address, &size);
    char *json = zsys_sprintf ("{\"args\":[\"--port\",\"%d\"]}", ntohs (address.sin_port));
    options = shic_val_from_json (json);
    zstr_free (&json);
    result = shic_client_ensure (client, "test_spawned", "collide", options, 0, 10000);
    shic_val_destroy (&options);
    assert (!result);
    assert (streq (shic_client_error (client)->code, SHIC_E_BACKEND_EXIT));
    assert (strstr (shic_val_str (shic_val_get (shic_client_error (client)->details, "stderr_tail")),
                    "couldn't bind"));
    close (sock);

    //  3. Shell metacharacters in a model name are passed literally: no
    //  shell ever runs, so the command inside never executes
    char marker [64];
    snprintf (marker, sizeof (marker), "/tmp/shic-pwned-%d", getpid ());
    char *evil = zsys_sprintf ("x; touch %s; $(touch %s) `touch %s`", marker, marker, marker);
    result = shic_client_ensure (client, "test_spawned", evil, NULL, 0, 10000);
    assert (result);
    const char *base = shic_val_str (shic_val_path (result, "endpoint/base_url"));
    char *url = zsys_sprintf ("%s/models", base);
    shic_http_result_t http = { 0 };
    assert (shic_http_request ("GET", url, NULL, NULL, 2000, &http) == 0 && http.status == 200);
    assert (strstr (http.body, "$(touch"));     //  the alias arrived as written
    shic_http_result_reset (&http);
    assert (access (marker, F_OK) != 0);
    free (url);
    free (evil);
    shic_val_destroy (&result);
    shic_client_destroy (&client);
    shic_runtime_destroy (&runtime);
    assert (s_zombies () == 0);

    //  4. A configured stop signal is what a stop sends first
    for (int round = 0; round < 2; round++) {
        char *text = zsys_sprintf ("command\n    command = %s --port ${PORT} -a ${MODEL}\n"
                                   "    ready_pattern = server is listening on http://\n"
                                   "    stop_signal = %s\n    models\n        m = m\n",
                                   shic_test_stand_in (), round? "KILL": "TERM");
        zconfig_t *config = zconfig_str_load (text);
        free (text);
        runtime = shic_runtime_new (NULL);
        shic_error_t err = { 0 };
        zconfig_t *section = zconfig_locate (config, "command");
        if (shic_runtime_register (runtime, &shic_command_ops, section, &err) != 0)
            fprintf (stderr, "register: %s\n", err.message);
        assert (!err.code);
        client = shic_client_new (shic_runtime_endpoint (runtime));
        result = shic_client_ensure (client, "command", "m", NULL, 0, 10000);
        assert (result);
        shic_val_t *args = shic_val_new_map ();
        shic_val_set_str (args, "instance_id", shic_val_str (shic_val_get (result, "instance_id")));
        shic_val_t *lookup = shic_val_dup (args);
        shic_val_destroy (&result);
        result = shic_client_call (client, "stop_instance", &args);
        shic_val_destroy (&result);
        int signal = 0;
        deadline = zclock_mono () + 10000;
        while (!signal && zclock_mono () < deadline) {
            shic_val_t *query = shic_val_dup (lookup);
            shic_val_t *snap = shic_client_call (client, "lookup_instance", &query);
            if (streq (shic_val_str (shic_val_get (snap, "lifecycle_status")), "stopped"))
                signal = (int) shic_val_int (shic_val_path (snap, "last_exit/signal"));
            shic_val_destroy (&snap);
            if (!signal)
                s_pause (10);
        }
        //  llama-server (and the stand-in) die by SIGABRT when asked with
        //  SIGTERM; SIGKILL is seen as itself
        assert (signal == (round? SIGKILL: SIGABRT));
        shic_val_destroy (&lookup);
        shic_client_destroy (&client);
        shic_runtime_destroy (&runtime);
        zconfig_destroy (&config);
    }

    //  5. SIGKILL of the embedding process: its service dies with it
    shic_proc_t *victim = shic_proc_new ();
    char self [1024];
    ssize_t length = readlink ("/proc/self/exe", self, sizeof (self) - 1);
    assert (length > 0);
    self [length] = 0;
    char *argv [] = { self, "--victim", NULL };
    char *error = NULL;
    assert (shic_proc_start (victim, argv, NULL, NULL, &error) == 0);
    s_victim_service = 0;
    deadline = zclock_mono () + 10000;
    while (!s_victim_service && zclock_mono () < deadline) {
        int fd = shic_proc_stdout_fd (victim);
        if (fd < 0)
            break;
        zmq_pollitem_t item = { NULL, fd, ZMQ_POLLIN, 0 };
        zmq_poll (&item, 1, 100);
        shic_proc_read (victim, fd, s_victim_line, NULL);
    }
    assert (s_victim_service > 0 && s_alive (s_victim_service));
    shic_proc_signal (victim, SIGKILL);
    //  The contract: no service alive 1 s later
    int service = s_victim_service;
    assert (s_wait_dead (&service, 1, 1000));
    shic_proc_stop (victim, 1000);
    shic_proc_destroy (&victim);
    assert (s_zombies () == 0);
    printf ("OK\n");
}
