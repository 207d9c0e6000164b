/*  =========================================================================
    shic_llama_run - runs a real llama-server once and reads back the
    buffers it reports

    The server's buffer lines come on stderr during the load, before
    "main: model loaded"; once that line is in, the server is stopped
    (SIGTERM, then SIGKILL after 5 s) and reaped, so nothing outlives a
    test or a bench run.
    =========================================================================
*/

#include <czmq.h>
#include <poll.h>
#include <sys/wait.h>
#include "shic_llama_run.h"

//  Stops the child and reaps it
static void
s_stop (pid_t pid)
{
    kill (pid, SIGTERM);
    for (int tries = 0; tries < 500; tries++) {
        if (waitpid (pid, NULL, WNOHANG) == pid)
            return;
        usleep (10000);
    }
    kill (pid, SIGKILL);
    waitpid (pid, NULL, 0);
}

int
shic_llama_run_measure (const char *server, const char *model, int ctx, int parallel,
                        int timeout_ms, shic_footprint_t *measured)
{
    assert (server && model && measured);
    memset (measured, 0, sizeof (*measured));
    int pipe_fds [2];
    if (pipe2 (pipe_fds, O_CLOEXEC))
        return -1;
    char ctx_text [16], parallel_text [16];
    snprintf (ctx_text, sizeof (ctx_text), "%d", ctx);
    snprintf (parallel_text, sizeof (parallel_text), "%d", parallel);
    char *argv [] = { (char *) server, "-m", (char *) model, "-c", ctx_text,
                      "-np", parallel_text, "--port", "0", "-t", "2", NULL };
    pid_t pid = fork ();
    if (pid < 0) {
        close (pipe_fds [0]);
        close (pipe_fds [1]);
        return -1;
    }
    if (pid == 0) {
        int null_fd = open ("/dev/null", O_RDWR);
        if (null_fd >= 0) {
            dup2 (null_fd, STDIN_FILENO);
            dup2 (null_fd, STDOUT_FILENO);
        }
        dup2 (pipe_fds [1], STDERR_FILENO);
        execv (server, argv);
        _exit (127);
    }
    close (pipe_fds [1]);
    int64_t deadline = zclock_mono () + timeout_ms;
    char buffer [8192];
    size_t have = 0;
    bool loaded = false;
    bool ended = false;
    while (!loaded && !ended) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            break;
        struct pollfd item = { pipe_fds [0], POLLIN, 0 };
        if (poll (&item, 1, (int) left) <= 0)
            continue;
        ssize_t got = read (pipe_fds [0], buffer + have, sizeof (buffer) - 1 - have);
        if (got <= 0) {
            ended = true;
            break;
        }
        have += (size_t) got;
        buffer [have] = 0;
        //  Whole lines only; a line longer than the buffer is dropped
        char *start = buffer;
        char *newline;
        while ((newline = strchr (start, '\n'))) {
            *newline = 0;
            shic_footprint_add_line (measured, start);
            if (strstr (start, "main: model loaded"))
                loaded = true;
            start = newline + 1;
        }
        have = (size_t) (buffer + have - start);
        memmove (buffer, start, have);
        if (have == sizeof (buffer) - 1)
            have = 0;
    }
    close (pipe_fds [0]);
    s_stop (pid);
    return loaded? 0: -1;
}
