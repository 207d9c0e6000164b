/*  =========================================================================
    shic_test_util - helpers the scenario tests share
    =========================================================================
*/

#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include "shic_http.h"
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


//  ---------------------------------------------------------------------------
//  A real etcd

//  A free loopback port (there is a window before etcd binds it)
static int
s_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    assert (fd >= 0);
    struct sockaddr_in address = { .sin_family = AF_INET };
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t size = sizeof (address);
    assert (bind (fd, (struct sockaddr *) &address, size) == 0);
    assert (getsockname (fd, (struct sockaddr *) &address, &size) == 0);
    close (fd);
    return ntohs (address.sin_port);
}

//  The etcd program: SHIC_ETCD, else the first etcd on the PATH; NULL if none
static char *
s_etcd_binary (void)
{
    const char *chosen = getenv ("SHIC_ETCD");
    if (chosen)
        return access (chosen, X_OK) == 0? strdup (chosen): NULL;
    const char *path = getenv ("PATH");
    char *copy = strdup (path? path: "/usr/bin:/bin");
    char *binary = NULL;
    char *saved = NULL;
    for (char *dir = strtok_r (copy, ":", &saved); dir && !binary;
         dir = strtok_r (NULL, ":", &saved)) {
        char *candidate = zsys_sprintf ("%s/etcd", dir);
        if (access (candidate, X_OK) == 0)
            binary = candidate;
        else
            zstr_free (&candidate);
    }
    free (copy);
    return binary;
}

//  Prints the end of etcd's log to stderr
static void
s_etcd_log (shic_test_etcd_t *etcd)
{
    char *command = zsys_sprintf ("tail -20 %s/log >&2", etcd->dir);
    if (system (command) != 0)
        fprintf (stderr, "(no log of etcd in %s)\n", etcd->dir);
    zstr_free (&command);
}

//  Starts the process on etcd->dir and ports, and waits until it answers
static void
s_etcd_launch (shic_test_etcd_t *etcd, const char *binary)
{
    const char *timeout = access ("/usr/bin/timeout", X_OK) == 0? "/usr/bin/timeout": "/bin/timeout";
    char *data = zsys_sprintf ("%s/data", etcd->dir);
    char *log = zsys_sprintf ("%s/log", etcd->dir);
    char *peer = zsys_sprintf ("http://127.0.0.1:%d", etcd->peer_port);
    char *cluster = zsys_sprintf ("n0=%s", peer);
    //  Everything the child needs is made before fork: it only execs
    const char *argv [] = {
        timeout, "--signal=KILL", "600", binary, "--name", "n0", "--data-dir", data,
        "--listen-client-urls", etcd->url, "--advertise-client-urls", etcd->url,
        "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
        "--initial-cluster", cluster,
        "--heartbeat-interval", "50", "--election-timeout", "500", "--unsafe-no-fsync",
        "--auto-compaction-mode", "periodic", "--auto-compaction-retention", "1m",
        "--logger", "zap", "--log-level", "warn", NULL };
    pid_t parent = getpid ();
    pid_t pid = fork ();
    assert (pid >= 0);
    if (pid == 0) {
        //  timeout passes the TERM on to etcd when the test dies
        prctl (PR_SET_PDEATHSIG, SIGTERM);
        if (getppid () != parent)
            _exit (127);
        int fd = open (log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0) {
            dup2 (fd, STDOUT_FILENO);
            dup2 (fd, STDERR_FILENO);
        }
        close_range (3, ~0U, 0);
        execv (timeout, (char *const *) argv);
        _exit (127);
    }
    etcd->pid = pid;
    zstr_free (&data);
    zstr_free (&log);
    zstr_free (&peer);
    zstr_free (&cluster);

    char *health = zsys_sprintf ("%s/health", etcd->url);
    int64_t deadline = zclock_mono () + 20000;
    bool up = false;
    while (!up && zclock_mono () < deadline) {
        shic_http_result_t result;
        if (shic_http_request ("GET", health, NULL, NULL, 1000, &result) == 0)
            up = result.status == 200 && strstr (result.body, "\"health\":\"true\"");
        shic_http_result_reset (&result);
        int status;
        if (!up && waitpid (pid, &status, WNOHANG) == pid) {
            etcd->pid = 0;
            break;
        }
        if (!up)
            zclock_sleep (50);
    }
    zstr_free (&health);
    if (!up) {
        fprintf (stderr, "etcd did not come up at %s; its log:\n", etcd->url);
        s_etcd_log (etcd);
        shic_test_etcd_destroy (etcd);
        assert (false);
    }
}

const char *
shic_test_etcd_start (shic_test_etcd_t *etcd)
{
    memset (etcd, 0, sizeof (shic_test_etcd_t));
    char *binary = s_etcd_binary ();
    if (!binary)
        return NULL;
    const char *tmp = getenv ("TMPDIR");
    snprintf (etcd->dir, sizeof (etcd->dir), "%s/shic-etcd.XXXXXX", tmp? tmp: "/tmp");
    assert (mkdtemp (etcd->dir));
    etcd->client_port = s_free_port ();
    do
        etcd->peer_port = s_free_port ();
    while (etcd->peer_port == etcd->client_port);
    snprintf (etcd->url, sizeof (etcd->url), "http://127.0.0.1:%d", etcd->client_port);
    s_etcd_launch (etcd, binary);
    free (binary);
    return etcd->url;
}

void
shic_test_etcd_stop (shic_test_etcd_t *etcd)
{
    if (etcd->pid <= 0)
        return;
    kill (etcd->pid, SIGTERM);
    int64_t deadline = zclock_mono () + 5000;
    int status;
    while (waitpid (etcd->pid, &status, WNOHANG) == 0) {
        if (zclock_mono () > deadline) {
            kill (etcd->pid, SIGKILL);
            waitpid (etcd->pid, &status, 0);
            break;
        }
        zclock_sleep (20);
    }
    etcd->pid = 0;
}

void
shic_test_etcd_restart (shic_test_etcd_t *etcd)
{
    shic_test_etcd_stop (etcd);
    char *binary = s_etcd_binary ();
    assert (binary);
    s_etcd_launch (etcd, binary);
    free (binary);
}

void
shic_test_etcd_destroy (shic_test_etcd_t *etcd)
{
    shic_test_etcd_stop (etcd);
    if (*etcd->dir) {
        zdir_t *dir = zdir_new (etcd->dir, NULL);
        if (dir)
            zdir_remove (dir, true);
        zdir_destroy (&dir);
        rmdir (etcd->dir);
        etcd->dir [0] = 0;
    }
}
