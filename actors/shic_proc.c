/*  =========================================================================
    shic_proc - one supervised child process (the process transport)

    =========================================================================
*/

/*
@header
    shic_proc forks and execs one program without a shell, in its own
    process group, and gives the owning actor three fds to poll: stdout,
    stderr and a pidfd. Output is split into lines; the last 4 KiB of
    stderr are kept for error reports.
@discuss
    The child is started with clone (CLONE_VM | CLONE_VFORK), like
    posix_spawn, and only makes async-signal-safe calls: the parent
    prepares everything (pipes, /dev/null, the PATH string) beforehand and
    blocks all signals around the clone so no handler of ours runs in the
    child.
    Exec failures come back through a CLOEXEC pipe: EOF means exec worked,
    a record means it failed and the child has exited.
@end
*/

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <czmq.h>

#include "shic_proc.h"

extern char **environ;

//  How long we wait for a SIGKILLed group leader before giving up on it
#define SHIC_PROC_KILL_WAIT_MS  5000
//  Most bytes one shic_proc_read call consumes, so a chatty child cannot
//  starve the actor; the fd stays readable and the poller comes back
#define SHIC_PROC_READ_BUDGET   (64 * 1024)

//  Where a child failed before or at exec
typedef enum {
    SHIC_PROC_STAGE_SETUP = 1,
    SHIC_PROC_STAGE_CHDIR = 2,
    SHIC_PROC_STAGE_EXEC = 3
} shic_proc_stage_t;

//  What the child writes on the error pipe when it cannot exec
typedef struct {
    int stage;                      //  shic_proc_stage_t
    int err;                        //  errno of the failed call
} s_report_t;

//  Structure of our class

struct _shic_proc_t {
    pid_t pid;                      //  Child pid == pgid, -1 if never started
    int pidfd;                      //  pidfd of the child, -1 if none
    int out_fd;                     //  Parent end of the stdout pipe, or -1
    int err_fd;                     //  Parent end of the stderr pipe, or -1
    bool exited;                    //  Child has been reaped
    bool group_killed;              //  Group got SIGKILL after leader exit
    int exit_code;                  //  Exit code, -1 if signalled
    int exit_signal;                //  Killing signal, 0 if exited normally
    int64_t exit_at_ms;             //  zclock_mono () when reaped
    char line [2][SHIC_PROC_LINE_MAX + 1];  //  Partial line per stream
    size_t line_len [2];            //  Bytes held in line [], per stream
    bool line_cut [2];              //  Dropping the rest of a long line
    char ring [SHIC_PROC_TAIL_MAX]; //  Last stderr bytes, circular
    size_t ring_pos;                //  Next write index in ring
    uint64_t ring_total;            //  Stderr bytes ever written to ring
    char tail [SHIC_PROC_TAIL_MAX + 1]; //  Cleaned copy for stderr_tail
    char *log [SHIC_PROC_LOG_LINES];    //  Output lines, line n at n % LINES
    uint64_t log_first;             //  Number of the oldest line held
    uint64_t log_next;              //  Number of the next line
    size_t log_bytes;               //  Bytes held in log []
};


//  --------------------------------------------------------------------------
//  Close an fd if open and mark it closed

static void
s_close (int *fd_p)
{
    if (*fd_p >= 0) {
        close (*fd_p);
        *fd_p = -1;
    }
}


//  --------------------------------------------------------------------------
//  Create a new, idle process object

shic_proc_t *
shic_proc_new (void)
{
    shic_proc_t *self = (shic_proc_t *) zmalloc (sizeof (shic_proc_t));
    if (!self)
        return NULL;
    self->pid = -1;
    self->pidfd = -1;
    self->out_fd = -1;
    self->err_fd = -1;
    self->exit_code = -1;
    return self;
}


//  --------------------------------------------------------------------------
//  Wait up to timeout_ms for the child to exit, reaping it. Returns true
//  once reaped. Polls the pidfd; without one, polls waitid every 10 msecs.

static bool
s_wait_exit (shic_proc_t *self, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (true) {
        if (shic_proc_reap (self))
            return true;
        int64_t remaining = deadline - zclock_mono ();
        if (remaining <= 0)
            return false;
        if (self->pidfd >= 0) {
            struct pollfd item = { .fd = self->pidfd, .events = POLLIN };
            if (poll (&item, 1, (int) remaining) == -1 && errno != EINTR)
                return false;
        }
        else
            poll (NULL, 0, remaining < 10? (int) remaining: 10);
    }
}


//  --------------------------------------------------------------------------
//  Kill the group of a reaped leader once, so grandchildren die too

static void
s_kill_orphans (shic_proc_t *self)
{
    if (self->pid > 0 && self->exited && !self->group_killed) {
        kill (-self->pid, SIGKILL);
        self->group_killed = true;
    }
}


//  --------------------------------------------------------------------------
//  Destroy the object, killing and reaping a child that still runs

void
shic_proc_destroy (shic_proc_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        shic_proc_t *self = *self_p;
        if (shic_proc_running (self)) {
            kill (-self->pid, SIGKILL);
            if (!s_wait_exit (self, SHIC_PROC_KILL_WAIT_MS))
                zsys_warning ("proc: pid %d survived SIGKILL for %d ms, "
                              "leaving it", (int) self->pid,
                              SHIC_PROC_KILL_WAIT_MS);
        }
        s_kill_orphans (self);
        s_close (&self->pidfd);
        s_close (&self->out_fd);
        s_close (&self->err_fd);
        for (uint64_t n = self->log_first; n < self->log_next; n++)
            free (self->log [n % SHIC_PROC_LOG_LINES]);
        free (self);
        *self_p = NULL;
    }
}


//  --------------------------------------------------------------------------
//  Make a CLOEXEC fd sit at 3 or above, so dup2 onto 0..2 in the child
//  cannot clobber it. Returns the (possibly new) fd, or -1.

static int
s_lift_fd (int fd)
{
    if (fd < 0 || fd > 2)
        return fd;
    int lifted = fcntl (fd, F_DUPFD_CLOEXEC, 3);
    close (fd);
    return lifted;
}


//  The child runs on a borrowed stack inside our memory: no AddressSanitizer
//  bookkeeping there (GCC and clang alike; a no-op without ASan). Clang's
//  scope poisoning of the child's frames outlived the borrowed stack and
//  was later reported in a thread whose stack reused its addresses.
#define S_CHILD_CODE __attribute__ ((no_sanitize ("address"), noinline))

//  Everything the child needs, prepared before the clone
typedef struct {
    char *const *argv;              //  Program and arguments
    char *const *envp;              //  Environment for the program
    const char *cwd;                //  Directory to change to, or NULL
    const char *path;               //  PATH to search when argv[0] has no /
    pid_t parent;                   //  Our pid, to detect an early orphan
    int null_fd;                    //  /dev/null, becomes stdin
    int out_w;                      //  Write end of stdout pipe
    int err_w;                      //  Write end of stderr pipe
    int report_w;                   //  Write end of the error pipe
} s_spawn_t;


//  --------------------------------------------------------------------------
//  In the child: report a failure to the parent and exit. Async-signal-safe.

S_CHILD_CODE static void
s_child_fail (int report_fd, int stage, int err)
{
    s_report_t report = { .stage = stage, .err = err };
    ssize_t rc;
    do
        rc = write (report_fd, &report, sizeof (report));
    while (rc == -1 && errno == EINTR);
    _exit (127);
}


//  --------------------------------------------------------------------------
//  In the child: execve argv[0], searching PATH like execvp when it has no
//  '/', but never falling back to a shell. Returns the errno to report.
//  Async-signal-safe: no malloc, only stack buffers.

S_CHILD_CODE static int
s_child_exec (const s_spawn_t *spawn)
{
    const char *name = spawn->argv [0];
    if (*name == 0)
        return ENOENT;
    if (strchr (name, '/')) {
        execve (name, spawn->argv, spawn->envp);
        return errno;
    }
    size_t name_len = strlen (name);
    if (name_len > NAME_MAX)
        return ENAMETOOLONG;
    char buffer [PATH_MAX];
    bool seen_eacces = false;
    int last_err = ENOENT;
    const char *dir = spawn->path;
    while (true) {
        const char *end = strchr (dir, ':');
        size_t dir_len = end? (size_t) (end - dir): strlen (dir);
        if (dir_len == 0) {
            //  An empty PATH element means the current directory
            dir = ".";
            dir_len = 1;
        }
        if (dir_len + 1 + name_len + 1 <= sizeof (buffer)) {
            memcpy (buffer, dir, dir_len);
            buffer [dir_len] = '/';
            memcpy (buffer + dir_len + 1, name, name_len + 1);
            execve (buffer, spawn->argv, spawn->envp);
            int err = errno;
            if (err == EACCES)
                seen_eacces = true;
            else
            if (err != ENOENT && err != ENOTDIR && err != ESTALE
            &&  err != ENODEV && err != ETIMEDOUT)
                return err;         //  Found but not runnable (ENOEXEC...)
            last_err = err;
        }
        if (!end)
            break;
        dir = end + 1;
    }
    return seen_eacces? EACCES: last_err;
}


//  --------------------------------------------------------------------------
//  In the child, between fork and exec. Async-signal-safe calls only.

S_CHILD_CODE static void
s_child (const s_spawn_t *spawn)
{
    int report_fd = spawn->report_w;

    //  Own process group, so signals reach the whole tree
    if (setpgid (0, 0) == -1)
        s_child_fail (report_fd, SHIC_PROC_STAGE_SETUP, errno);

    //  Die with the forking thread; if it already went, do not run at all
    if (prctl (PR_SET_PDEATHSIG, SIGKILL) == -1)
        s_child_fail (report_fd, SHIC_PROC_STAGE_SETUP, errno);
    if (getppid () != spawn->parent)
        _exit (127);

    //  Default dispositions for every signal; the mask is still full here
    struct sigaction action;
    memset (&action, 0, sizeof (action));
    action.sa_handler = SIG_DFL;
    sigemptyset (&action.sa_mask);
    int signum;
    for (signum = 1; signum < NSIG; signum++)
        if (signum != SIGKILL && signum != SIGSTOP)
            sigaction (signum, &action, NULL);

    //  stdin from /dev/null, stdout and stderr to our pipes; dup2 clears
    //  FD_CLOEXEC on the targets. All sources are >= 3 (s_lift_fd).
    if (dup2 (spawn->null_fd, 0) == -1
    ||  dup2 (spawn->out_w, 1) == -1
    ||  dup2 (spawn->err_w, 2) == -1)
        s_child_fail (report_fd, SHIC_PROC_STAGE_SETUP, errno);

    //  Keep only 0..2 plus the error pipe, moved to 3 and still CLOEXEC
    if (report_fd != 3) {
        if (dup3 (report_fd, 3, O_CLOEXEC) == -1)
            s_child_fail (report_fd, SHIC_PROC_STAGE_SETUP, errno);
        report_fd = 3;
    }
    if (syscall (SYS_close_range, 4U, ~0U, 0U) == -1) {
        struct rlimit limit;
        int max_fd = 1024;
        if (getrlimit (RLIMIT_NOFILE, &limit) == 0
        &&  limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < 65536)
            max_fd = (int) limit.rlim_cur;
        int fd;
        for (fd = 4; fd < max_fd; fd++)
            close (fd);
    }
    if (spawn->cwd && chdir (spawn->cwd) == -1)
        s_child_fail (report_fd, SHIC_PROC_STAGE_CHDIR, errno);

    sigset_t empty;
    sigemptyset (&empty);
    sigprocmask (SIG_SETMASK, &empty, NULL);

    int err = s_child_exec (spawn);
    s_child_fail (report_fd, SHIC_PROC_STAGE_EXEC, err);
}

//  clone's entry point
S_CHILD_CODE static int
s_child_main (void *spawn)
{
    s_child ((const s_spawn_t *) spawn);
    return 127;                     //  Not reached
}

//  The child's stack while it shares our memory, until it execs
#define S_CHILD_STACK (256 * 1024)


//  --------------------------------------------------------------------------
//  Forget everything about a previous child

static void
s_reset (shic_proc_t *self)
{
    s_close (&self->pidfd);
    s_close (&self->out_fd);
    s_close (&self->err_fd);
    self->pid = -1;
    self->exited = false;
    self->group_killed = false;
    self->exit_code = -1;
    self->exit_signal = 0;
    self->exit_at_ms = 0;
    self->line_len [0] = self->line_len [1] = 0;
    self->line_cut [0] = self->line_cut [1] = false;
    self->ring_pos = 0;
    self->ring_total = 0;
}


//  --------------------------------------------------------------------------
//  Store a fresh error message for the caller, if it wants one

static void
s_set_error (char **error, const char *format, const char *name, int err)
{
    if (error)
        *error = zsys_sprintf (format, name, strerror (err));
}


//  --------------------------------------------------------------------------
//  Start a program. Returns 0, or -1 with a fresh message in *error.

int
shic_proc_start (shic_proc_t *self, char *const argv[], char *const env[],
                 const char *cwd, char **error)
{
    assert (self);
    assert (argv && argv [0]);
    if (error)
        *error = NULL;
    if (shic_proc_running (self)) {
        if (error)
            *error = strdup ("a process is already running");
        return -1;
    }
    s_reset (self);

    int out_pipe [2] = { -1, -1 };
    int err_pipe [2] = { -1, -1 };
    int report_pipe [2] = { -1, -1 };
    int null_fd = -1;
    char *path = NULL;
    const char *name = argv [0];

    //  All fds CLOEXEC, so other threads forking now do not inherit them
    if (pipe2 (out_pipe, O_CLOEXEC) == -1
    ||  pipe2 (err_pipe, O_CLOEXEC) == -1
    ||  pipe2 (report_pipe, O_CLOEXEC) == -1
    ||  (null_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC)) == -1) {
        s_set_error (error, "cannot start %s: %s", name, errno);
        goto failed;
    }
    out_pipe [1] = s_lift_fd (out_pipe [1]);
    err_pipe [1] = s_lift_fd (err_pipe [1]);
    report_pipe [1] = s_lift_fd (report_pipe [1]);
    null_fd = s_lift_fd (null_fd);
    if (out_pipe [1] == -1 || err_pipe [1] == -1
    ||  report_pipe [1] == -1 || null_fd == -1
    ||  fcntl (out_pipe [0], F_SETFL, O_NONBLOCK) == -1
    ||  fcntl (err_pipe [0], F_SETFL, O_NONBLOCK) == -1) {
        s_set_error (error, "cannot start %s: %s", name, errno);
        goto failed;
    }
    const char *env_path = getenv ("PATH");
    path = strdup (env_path? env_path: "/bin:/usr/bin");
    if (!path) {
        s_set_error (error, "cannot start %s: %s", name, ENOMEM);
        goto failed;
    }
    s_spawn_t spawn = {
        .argv = argv,
        .envp = env? env: environ,
        .cwd = cwd,
        .path = path,
        .parent = getpid (),
        .null_fd = null_fd,
        .out_w = out_pipe [1],
        .err_w = err_pipe [1],
        .report_w = report_pipe [1]
    };
    //  The child shares our memory and runs on its own stack until it execs
    //  or exits, while this thread waits (vfork semantics, as posix_spawn
    //  does). A fork would copy the page tables of a daemon holding
    //  thousands of threads and make every page it writes afterwards
    //  fault once. The child touches nothing of ours but its own stack.
    void *stack = mmap (NULL, S_CHILD_STACK, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
        s_set_error (error, "cannot start %s: %s", name, errno);
        goto failed;
    }
    //  Block every signal across the clone, so no handler runs in the
    //  child before it resets dispositions; the child clears the mask itself
    sigset_t all, saved;
    sigfillset (&all);
    pthread_sigmask (SIG_SETMASK, &all, &saved);
    pid_t pid = clone (s_child_main, (char *) stack + S_CHILD_STACK,
                       CLONE_VM | CLONE_VFORK | SIGCHLD, &spawn);
    int fork_errno = errno;
    pthread_sigmask (SIG_SETMASK, &saved, NULL);
    munmap (stack, S_CHILD_STACK);
    if (pid == -1) {
        s_set_error (error, "cannot start %s: %s", name, fork_errno);
        goto failed;
    }
    //  Also set the group from here, so it exists before we signal it
    setpgid (pid, pid);
    s_close (&out_pipe [1]);
    s_close (&err_pipe [1]);
    s_close (&report_pipe [1]);
    s_close (&null_fd);
    zstr_free (&path);

    //  EOF on the error pipe means exec succeeded
    s_report_t report;
    ssize_t size;
    do
        size = read (report_pipe [0], &report, sizeof (report));
    while (size == -1 && errno == EINTR);
    s_close (&report_pipe [0]);
    if (size > 0) {
        int status;
        while (waitpid (pid, &status, 0) == -1 && errno == EINTR)
            ;
        if (size != (ssize_t) sizeof (report))
            s_set_error (error, "cannot execute %s: %s", name, EIO);
        else
        if (report.stage == SHIC_PROC_STAGE_CHDIR)
            s_set_error (error, "cannot chdir to %s: %s", cwd, report.err);
        else
        if (report.stage == SHIC_PROC_STAGE_SETUP)
            s_set_error (error, "cannot set up child for %s: %s", name,
                         report.err);
        else
            s_set_error (error, "cannot execute %s: %s", name, report.err);
        goto failed;
    }
    self->pid = pid;
    self->pidfd = (int) syscall (SYS_pidfd_open, pid, 0);
    if (self->pidfd == -1)
        zsys_warning ("proc: pidfd_open (%d) failed: %s; polling instead",
                      (int) pid, strerror (errno));
    self->out_fd = out_pipe [0];
    self->err_fd = err_pipe [0];
    return 0;

failed:
    s_close (&out_pipe [0]);
    s_close (&out_pipe [1]);
    s_close (&err_pipe [0]);
    s_close (&err_pipe [1]);
    s_close (&report_pipe [0]);
    s_close (&report_pipe [1]);
    s_close (&null_fd);
    zstr_free (&path);
    return -1;
}


//  --------------------------------------------------------------------------
//  Accessors for the child and its fds

int
shic_proc_pid (shic_proc_t *self)
{
    assert (self);
    return (int) self->pid;
}

int
shic_proc_pidfd (shic_proc_t *self)
{
    assert (self);
    return shic_proc_running (self)? self->pidfd: -1;
}

int
shic_proc_stdout_fd (shic_proc_t *self)
{
    assert (self);
    return self->out_fd;
}

int
shic_proc_stderr_fd (shic_proc_t *self)
{
    assert (self);
    return self->err_fd;
}


//  --------------------------------------------------------------------------
//  Append stderr bytes to the tail ring

static void
s_ring_append (shic_proc_t *self, const char *data, size_t size)
{
    self->ring_total += size;
    if (size >= SHIC_PROC_TAIL_MAX) {
        memcpy (self->ring, data + size - SHIC_PROC_TAIL_MAX,
                SHIC_PROC_TAIL_MAX);
        self->ring_pos = 0;
        return;
    }
    size_t first = SHIC_PROC_TAIL_MAX - self->ring_pos;
    if (first > size)
        first = size;
    memcpy (self->ring + self->ring_pos, data, first);
    memcpy (self->ring, data + first, size - first);
    self->ring_pos = (self->ring_pos + size) % SHIC_PROC_TAIL_MAX;
}


//  --------------------------------------------------------------------------
//  Keep a line in the output log, dropping the oldest past its bounds

static void
s_log_append (shic_proc_t *self, const char *line, size_t len)
{
    while (self->log_next > self->log_first
    &&    (self->log_next - self->log_first >= SHIC_PROC_LOG_LINES
    ||     self->log_bytes + len > SHIC_PROC_LOG_BYTES)) {
        char **oldest = &self->log [self->log_first++ % SHIC_PROC_LOG_LINES];
        self->log_bytes -= strlen (*oldest);
        zstr_free (oldest);
    }
    char *copy = (char *) malloc (len + 1);
    assert (copy);
    for (size_t index = 0; index < len; index++) {
        unsigned char byte = (unsigned char) line [index];
        copy [index] = byte < 0x20 && byte != '\t'? '?': byte == 0x7f? '?': (char) byte;
    }
    copy [len] = 0;
    self->log [self->log_next++ % SHIC_PROC_LOG_LINES] = copy;
    self->log_bytes += len;
}

uint64_t
shic_proc_log_first (shic_proc_t *self)
{
    assert (self);
    return self->log_first;
}

uint64_t
shic_proc_log_next (shic_proc_t *self)
{
    assert (self);
    return self->log_next;
}

const char *
shic_proc_log_line (shic_proc_t *self, uint64_t number)
{
    assert (self);
    if (number < self->log_first || number >= self->log_next)
        return NULL;
    return self->log [number % SHIC_PROC_LOG_LINES];
}


//  --------------------------------------------------------------------------
//  Hand the pending line of stream index s to fn and clear it

static void
s_line_deliver (shic_proc_t *self, int s, shic_proc_line_fn *fn, void *arg)
{
    size_t len = self->line_len [s];
    while (len > 0 && self->line [s][len - 1] == '\r')
        len--;
    self->line [s][len] = 0;
    self->line_len [s] = 0;
    s_log_append (self, self->line [s], len);
    if (fn)
        fn (arg, s + 1, self->line [s]);
}


//  --------------------------------------------------------------------------
//  Split bytes of stream index s into lines, cutting long ones

static void
s_line_feed (shic_proc_t *self, int s, const char *data, size_t size,
             shic_proc_line_fn *fn, void *arg)
{
    while (size > 0) {
        const char *newline = (const char *) memchr (data, '\n', size);
        size_t chunk = newline? (size_t) (newline - data): size;
        if (!self->line_cut [s]) {
            size_t room = SHIC_PROC_LINE_MAX - self->line_len [s];
            size_t copy = chunk < room? chunk: room;
            memcpy (self->line [s] + self->line_len [s], data, copy);
            self->line_len [s] += copy;
            if (copy < chunk) {
                //  Too long: deliver what fits, drop the rest of the line
                s_line_deliver (self, s, fn, arg);
                self->line_cut [s] = true;
            }
        }
        if (newline) {
            if (self->line_cut [s])
                self->line_cut [s] = false;
            else
                s_line_deliver (self, s, fn, arg);
            self->line_len [s] = 0;
            chunk++;                //  Consume the newline too
        }
        data += chunk;
        size -= chunk;
    }
}


//  --------------------------------------------------------------------------
//  Read up to budget bytes from one of our fds. Returns 1 on EOF (fd then
//  closed), 0 when the pipe is empty, 2 when the budget ran out first.

static int
s_read (shic_proc_t *self, int *fd_p, int s, shic_proc_line_fn *fn,
        void *arg, size_t budget)
{
    char buffer [8192];
    size_t total = 0;
    while (total < budget) {
        ssize_t size = read (*fd_p, buffer, sizeof (buffer));
        if (size > 0) {
            if (s == 1)
                s_ring_append (self, buffer, (size_t) size);
            s_line_feed (self, s, buffer, (size_t) size, fn, arg);
            total += (size_t) size;
        }
        else
        if (size == -1 && errno == EINTR)
            continue;
        else
        if (size == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        else {
            //  EOF, or an error that we treat as EOF
            if (size == -1)
                zsys_warning ("proc: pid %d: read: %s", (int) self->pid,
                              strerror (errno));
            if (self->line_len [s] > 0 && !self->line_cut [s])
                s_line_deliver (self, s, fn, arg);
            self->line_len [s] = 0;
            self->line_cut [s] = false;
            s_close (fd_p);
            return 1;
        }
    }
    return 2;
}


//  --------------------------------------------------------------------------
//  Read what is available on fd and deliver complete lines

int
shic_proc_read (shic_proc_t *self, int fd, shic_proc_line_fn *fn, void *arg)
{
    assert (self);
    int rc;
    if (fd >= 0 && fd == self->out_fd)
        rc = s_read (self, &self->out_fd, 0, fn, arg, SHIC_PROC_READ_BUDGET);
    else
    if (fd >= 0 && fd == self->err_fd)
        rc = s_read (self, &self->err_fd, 1, fn, arg, SHIC_PROC_READ_BUDGET);
    else
        return -1;
    return rc == 1? 1: 0;
}


//  --------------------------------------------------------------------------
//  Return the last stderr bytes, cleaned for printing

const char *
shic_proc_stderr_tail (shic_proc_t *self)
{
    assert (self);
    size_t size;
    if (self->ring_total <= SHIC_PROC_TAIL_MAX) {
        size = (size_t) self->ring_total;
        memcpy (self->tail, self->ring, size);
    }
    else {
        //  Ring is full: oldest byte sits at ring_pos
        size_t first = SHIC_PROC_TAIL_MAX - self->ring_pos;
        memcpy (self->tail, self->ring + self->ring_pos, first);
        memcpy (self->tail + first, self->ring, self->ring_pos);
        size = SHIC_PROC_TAIL_MAX;
        //  The first line is probably cut; drop it if more follows
        char *newline = (char *) memchr (self->tail, '\n', size);
        if (newline && (size_t) (newline - self->tail) + 1 < size) {
            size_t skip = (size_t) (newline - self->tail) + 1;
            memmove (self->tail, self->tail + skip, size - skip);
            size -= skip;
        }
    }
    size_t index;
    for (index = 0; index < size; index++) {
        unsigned char byte = (unsigned char) self->tail [index];
        if (byte != '\n' && byte != '\t' && (byte < 0x20 || byte > 0x7e))
            self->tail [index] = '?';
    }
    self->tail [size] = 0;
    return self->tail;
}


//  --------------------------------------------------------------------------
//  Non-blocking reap. Returns 1 if the child has exited, else 0.

int
shic_proc_reap (shic_proc_t *self)
{
    assert (self);
    if (self->pid <= 0)
        return 0;
    if (self->exited)
        return 1;
    siginfo_t info;
    memset (&info, 0, sizeof (info));
    int rc;
    do {
        if (self->pidfd >= 0)
            rc = waitid (P_PIDFD, (id_t) self->pidfd, &info, WEXITED | WNOHANG);
        else
            rc = waitid (P_PID, (id_t) self->pid, &info, WEXITED | WNOHANG);
    } while (rc == -1 && errno == EINTR);

    if (rc == -1) {
        if (errno != ECHILD)
            return 0;
        //  Someone else reaped our child; the status is lost
        zsys_warning ("proc: pid %d was reaped elsewhere", (int) self->pid);
        self->exit_code = -1;
        self->exit_signal = 0;
    }
    else
    if (info.si_pid == 0)
        return 0;                   //  Still running
    else
    if (info.si_code == CLD_EXITED) {
        self->exit_code = info.si_status;
        self->exit_signal = 0;
    }
    else {
        self->exit_code = -1;
        self->exit_signal = info.si_status;
    }
    self->exited = true;
    self->exit_at_ms = zclock_mono ();
    s_close (&self->pidfd);
    return 1;
}


//  --------------------------------------------------------------------------
//  State and exit status accessors

bool
shic_proc_running (shic_proc_t *self)
{
    assert (self);
    return self->pid > 0 && !self->exited;
}

bool
shic_proc_exited (shic_proc_t *self)
{
    assert (self);
    return self->exited;
}

int
shic_proc_exit_code (shic_proc_t *self)
{
    assert (self);
    return self->exited? self->exit_code: -1;
}

int
shic_proc_exit_signal (shic_proc_t *self)
{
    assert (self);
    return self->exited? self->exit_signal: 0;
}

int64_t
shic_proc_exit_at_ms (shic_proc_t *self)
{
    assert (self);
    return self->exit_at_ms;
}


//  --------------------------------------------------------------------------
//  Send a signal to the child's process group

int
shic_proc_signal (shic_proc_t *self, int sig)
{
    assert (self);
    if (!shic_proc_running (self)) {
        errno = ESRCH;
        return -1;
    }
    return kill (-self->pid, sig) == 0? 0: -1;
}


//  --------------------------------------------------------------------------
//  Stop the child: SIGTERM, wait, SIGKILL, reap, kill leftovers, drain

int
shic_proc_stop (shic_proc_t *self, int stop_timeout_ms)
{
    assert (self);
    if (self->pid <= 0)
        return 0;
    if (shic_proc_running (self)) {
        kill (-self->pid, SIGTERM);
        if (!s_wait_exit (self, stop_timeout_ms > 0? stop_timeout_ms: 0)) {
            kill (-self->pid, SIGKILL);
            if (!s_wait_exit (self, SHIC_PROC_KILL_WAIT_MS))
                zsys_warning ("proc: pid %d survived SIGKILL for %d ms",
                              (int) self->pid, SHIC_PROC_KILL_WAIT_MS);
        }
    }
    s_kill_orphans (self);
    //  Drop what is still buffered; the stderr tail still sees it
    if (self->out_fd >= 0)
        s_read (self, &self->out_fd, 0, NULL, NULL, 1024 * 1024);
    if (self->err_fd >= 0)
        s_read (self, &self->err_fd, 1, NULL, NULL, 1024 * 1024);
    s_close (&self->out_fd);
    s_close (&self->err_fd);
    return 0;
}


//  --------------------------------------------------------------------------
//  Selftest helpers

//  Lines collected by the test, as "<stream>:<text>"
typedef struct {
    zlist_t *lines;                 //  Collected lines, owned
    bool verbose;                   //  Print each line
} s_sink_t;

static void
s_sink_line (void *arg, int stream, const char *line)
{
    s_sink_t *sink = (s_sink_t *) arg;
    char *entry = zsys_sprintf ("%d:%s", stream, line);
    assert (entry);
    if (sink->verbose && strlen (entry) < 200)
        zsys_debug ("proc test: %s", entry);
    zlist_append (sink->lines, entry);
}

static bool
s_sink_has (s_sink_t *sink, const char *entry)
{
    char *line = (char *) zlist_first (sink->lines);
    while (line) {
        if (streq (line, entry))
            return true;
        line = (char *) zlist_next (sink->lines);
    }
    return false;
}

static void
s_sink_clear (s_sink_t *sink)
{
    char *line;
    while ((line = (char *) zlist_pop (sink->lines)))
        free (line);
}

//  Pump output (and the pidfd, when reap is set) until want is seen (if
//  not NULL) or, with want NULL, until both pipes closed and the child is
//  reaped. Returns true when reached before the deadline.
static bool
s_pump (shic_proc_t *proc, s_sink_t *sink, const char *want, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (true) {
        if (want && s_sink_has (sink, want))
            return true;
        struct pollfd items [3];
        int count = 0;
        if (shic_proc_stdout_fd (proc) >= 0)
            items [count++] = (struct pollfd) {
                .fd = shic_proc_stdout_fd (proc), .events = POLLIN };
        if (shic_proc_stderr_fd (proc) >= 0)
            items [count++] = (struct pollfd) {
                .fd = shic_proc_stderr_fd (proc), .events = POLLIN };
        if (!want && shic_proc_pidfd (proc) >= 0)
            items [count++] = (struct pollfd) {
                .fd = shic_proc_pidfd (proc), .events = POLLIN };
        if (!want && count == 0)
            return shic_proc_reap (proc) == 1;
        int64_t remaining = deadline - zclock_mono ();
        if (remaining <= 0 || count == 0)
            return false;
        int rc = poll (items, count, (int) remaining);
        assert (rc >= 0 || errno == EINTR);
        int index;
        for (index = 0; index < count && rc > 0; index++) {
            if (!items [index].revents)
                continue;
            if (items [index].fd == shic_proc_pidfd (proc))
                assert (shic_proc_reap (proc) == 1);
            else
                shic_proc_read (proc, items [index].fd, s_sink_line, sink);
        }
    }
}

//  Wait until a process that is not our child is gone (pidfd of any pid
//  becomes readable at exit). Returns true if gone before the deadline.
static bool
s_wait_gone (pid_t pid, int timeout_ms)
{
    int fd = (int) syscall (SYS_pidfd_open, pid, 0);
    if (fd == -1)
        return errno == ESRCH;
    struct pollfd item = { .fd = fd, .events = POLLIN };
    int rc;
    do
        rc = poll (&item, 1, timeout_ms);
    while (rc == -1 && errno == EINTR);
    close (fd);
    return rc == 1;
}

//  The pid printed on a "1:<pid>" line, or -1
static pid_t
s_sink_pid (s_sink_t *sink)
{
    char *line = (char *) zlist_first (sink->lines);
    while (line) {
        if (strncmp (line, "1:", 2) == 0 && line [2] >= '1' && line [2] <= '9')
            return (pid_t) atoi (line + 2);
        line = (char *) zlist_next (sink->lines);
    }
    return -1;
}


//  --------------------------------------------------------------------------
//  Selftest. Shell scripts appear here only; the product never uses one.

void
shic_proc_test (bool verbose)
{
    printf (" * shic_proc: ");
    if (verbose)
        printf ("\n");

    s_sink_t sink = { .lines = zlist_new (), .verbose = verbose };
    assert (sink.lines);
    pid_t pids [16];
    int pid_count = 0;
    char *error = NULL;

    //  Lines from both streams, CR stripped, partial last line, exit 3
    shic_proc_t *proc = shic_proc_new ();
    assert (proc);
    assert (!shic_proc_running (proc));
    assert (shic_proc_pidfd (proc) == -1);
    assert (shic_proc_reap (proc) == 0);
    char *const script1 [] = { "/bin/sh", "-c",
        "echo out1; echo err1 >&2; printf 'crlf\\r\\n'; printf partial; exit 3",
        NULL };
    int rc = shic_proc_start (proc, script1, NULL, NULL, &error);
    assert (rc == 0 && error == NULL);
    pids [pid_count++] = shic_proc_pid (proc);
    assert (shic_proc_running (proc));
    assert (shic_proc_pidfd (proc) >= 0);
    assert (shic_proc_stdout_fd (proc) >= 0);
    assert (shic_proc_stderr_fd (proc) >= 0);
    assert (s_pump (proc, &sink, NULL, 5000));
    assert (s_sink_has (&sink, "1:out1"));
    assert (s_sink_has (&sink, "2:err1"));
    assert (s_sink_has (&sink, "1:crlf"));
    assert (s_sink_has (&sink, "1:partial"));
    assert (zlist_size (sink.lines) == 4);
    assert (shic_proc_exited (proc));
    assert (!shic_proc_running (proc));
    assert (shic_proc_exit_code (proc) == 3);
    assert (shic_proc_exit_signal (proc) == 0);
    assert (shic_proc_exit_at_ms (proc) > 0);
    assert (shic_proc_pidfd (proc) == -1);
    assert (shic_proc_stdout_fd (proc) == -1);
    assert (shic_proc_stderr_fd (proc) == -1);
    assert (shic_proc_signal (proc, SIGTERM) == -1);
    assert (streq (shic_proc_stderr_tail (proc), "err1\n"));
    assert (shic_proc_stop (proc, 100) == 0);
    s_sink_clear (&sink);

    //  Restart on the same object: long line is cut, the rest survives;
    //  PATH lookup, explicit env and cwd
    char *const script2 [] = { "sh", "-c",
        "head -c 10000 /dev/zero | tr '\\000' a; printf '\\nafter\\n';"
        "echo \"$SHIC_FOO\"; pwd", NULL };
    char *const env2 [] = { "SHIC_FOO=bar", "PATH=/usr/bin:/bin", NULL };
    rc = shic_proc_start (proc, script2, env2, "/", &error);
    assert (rc == 0);
    pids [pid_count++] = shic_proc_pid (proc);
    assert (s_pump (proc, &sink, NULL, 5000));
    assert (zlist_size (sink.lines) == 4);
    char *line = (char *) zlist_first (sink.lines);
    assert (strlen (line) == 2 + SHIC_PROC_LINE_MAX);
    assert (line [2] == 'a' && line [2 + SHIC_PROC_LINE_MAX - 1] == 'a');
    assert (s_sink_has (&sink, "1:after"));
    assert (s_sink_has (&sink, "1:bar"));
    assert (s_sink_has (&sink, "1:/"));
    assert (shic_proc_exit_code (proc) == 0);
    s_sink_clear (&sink);
    shic_proc_destroy (&proc);
    assert (proc == NULL);
    shic_proc_destroy (&proc);

    //  Exec failures: missing path, missing in PATH, not executable, bad cwd
    proc = shic_proc_new ();
    assert (proc);
    char *const missing [] = { "/nonexistent/shic-nope", NULL };
    rc = shic_proc_start (proc, missing, NULL, NULL, &error);
    assert (rc == -1);
    assert (error);
    if (verbose)
        zsys_debug ("proc test: %s", error);
    assert (streq (error,
        "cannot execute /nonexistent/shic-nope: No such file or directory"));
    zstr_free (&error);
    assert (!shic_proc_running (proc));
    assert (shic_proc_pidfd (proc) == -1);
    assert (shic_proc_stdout_fd (proc) == -1);

    char *const unknown [] = { "shic-no-such-binary-xyz", NULL };
    rc = shic_proc_start (proc, unknown, NULL, NULL, &error);
    assert (rc == -1);
    assert (streq (error,
        "cannot execute shic-no-such-binary-xyz: No such file or directory"));
    zstr_free (&error);

    char *const not_exec [] = { "/dev/null", NULL };
    rc = shic_proc_start (proc, not_exec, NULL, NULL, &error);
    assert (rc == -1);
    assert (streq (error, "cannot execute /dev/null: Permission denied"));
    zstr_free (&error);

    char *const true_cmd [] = { "/bin/true", NULL };
    rc = shic_proc_start (proc, true_cmd, NULL, "/nonexistent-dir", &error);
    assert (rc == -1);
    assert (streq (error,
        "cannot chdir to /nonexistent-dir: No such file or directory"));
    zstr_free (&error);
    //  Failed starts leave no child behind: nothing to reap
    assert (waitpid (-1, NULL, WNOHANG) == -1 && errno == ECHILD);
    shic_proc_destroy (&proc);

    //  A child that ignores SIGTERM: stop escalates to SIGKILL in time
    proc = shic_proc_new ();
    assert (proc);
    char *const stubborn [] = { "/bin/sh", "-c",
        "trap '' TERM; echo ready; sleep 30", NULL };
    rc = shic_proc_start (proc, stubborn, NULL, NULL, &error);
    assert (rc == 0);
    pids [pid_count++] = shic_proc_pid (proc);
    assert (s_pump (proc, &sink, "1:ready", 5000));
    int64_t started = zclock_mono ();
    assert (shic_proc_stop (proc, 300) == 0);
    int64_t elapsed = zclock_mono () - started;
    if (verbose)
        zsys_debug ("proc test: stop escalated after %d ms", (int) elapsed);
    assert (elapsed >= 290 && elapsed < 300 + 2000);
    assert (shic_proc_exited (proc));
    assert (shic_proc_exit_signal (proc) == SIGKILL);
    assert (shic_proc_exit_code (proc) == -1);
    assert (shic_proc_stdout_fd (proc) == -1);
    assert (shic_proc_stderr_fd (proc) == -1);
    s_sink_clear (&sink);

    //  Grandchildren die with the group on stop (plain TERM case)
    char *const family [] = { "/bin/sh", "-c",
        "sleep 30 & echo $!; sleep 30", NULL };
    rc = shic_proc_start (proc, family, NULL, NULL, &error);
    assert (rc == 0);
    pids [pid_count++] = shic_proc_pid (proc);
    int64_t deadline = zclock_mono () + 5000;
    pid_t grandchild = -1;
    while (grandchild == -1 && zclock_mono () < deadline) {
        assert (s_pump (proc, &sink, NULL, 50) == false);
        grandchild = s_sink_pid (&sink);
    }
    assert (grandchild > 0);
    assert (kill (grandchild, 0) == 0);
    assert (shic_proc_signal (proc, 0) == 0);
    assert (shic_proc_stop (proc, 2000) == 0);
    assert (shic_proc_exit_signal (proc) == SIGTERM);
    assert (s_wait_gone (grandchild, 2000));
    s_sink_clear (&sink);

    //  A grandchild that ignores SIGTERM outlives its leader, and dies by
    //  the SIGKILL sent to the group after the leader exited
    char *const orphan [] = { "/bin/sh", "-c",
        "(trap '' TERM; echo gready; exec sleep 30) & echo $!; exec sleep 30",
        NULL };
    rc = shic_proc_start (proc, orphan, NULL, NULL, &error);
    assert (rc == 0);
    pids [pid_count++] = shic_proc_pid (proc);
    assert (s_pump (proc, &sink, "1:gready", 5000));
    grandchild = -1;
    deadline = zclock_mono () + 5000;
    while ((grandchild = s_sink_pid (&sink)) == -1 && zclock_mono () < deadline)
        s_pump (proc, &sink, NULL, 50);
    assert (grandchild > 0);
    started = zclock_mono ();
    assert (shic_proc_stop (proc, 2000) == 0);
    assert (zclock_mono () - started < 1500);   //  Leader died on TERM
    assert (shic_proc_exit_signal (proc) == SIGTERM);
    assert (s_wait_gone (grandchild, 2000));
    s_sink_clear (&sink);

    //  Stderr tail stays bounded after 100 KiB, starts at a line, is clean
    char *const chatty [] = { "/bin/sh", "-c",
        "printf '\\001bad\\033x\\n' >&2; i=0; while [ $i -lt 1024 ]; do "
        "printf 'line %04d %090d\\n' $i 0 >&2; i=$((i+1)); done", NULL };
    rc = shic_proc_start (proc, chatty, NULL, NULL, &error);
    assert (rc == 0);
    pids [pid_count++] = shic_proc_pid (proc);
    const char *tail = shic_proc_stderr_tail (proc);
    assert (streq (tail, ""));
    assert (s_pump (proc, &sink, NULL, 10000));
    assert (zlist_size (sink.lines) == 1025);
    assert (s_sink_has (&sink, "2:\001bad\033x"));
    tail = shic_proc_stderr_tail (proc);
    size_t tail_len = strlen (tail);
    assert (tail_len > 0 && tail_len <= SHIC_PROC_TAIL_MAX);
    assert (tail_len % 101 == 0);   //  Whole lines only
    assert (strncmp (tail, "line ", 5) == 0);
    assert (strncmp (tail + tail_len - 101, "line 1023 ", 10) == 0);
    assert (tail [tail_len - 1] == '\n');
    //  The output log keeps the last SHIC_PROC_LOG_LINES lines, clean
    assert (shic_proc_log_next (proc) >= 1025);
    assert (shic_proc_log_next (proc) - shic_proc_log_first (proc) == SHIC_PROC_LOG_LINES);
    const char *last = shic_proc_log_line (proc, shic_proc_log_next (proc) - 1);
    assert (last && strncmp (last, "line 1023 ", 10) == 0);
    assert (shic_proc_log_line (proc, shic_proc_log_first (proc) - 1) == NULL);
    assert (shic_proc_log_line (proc, shic_proc_log_next (proc)) == NULL);
    s_sink_clear (&sink);

    //  Non-printable bytes in the tail become '?'
    char *const dirty [] = { "/bin/sh", "-c",
        "printf '\\001bad\\033x\\tok\\n' >&2", NULL };
    rc = shic_proc_start (proc, dirty, NULL, NULL, &error);
    assert (rc == 0);
    pids [pid_count++] = shic_proc_pid (proc);
    assert (s_pump (proc, &sink, NULL, 5000));
    assert (streq (shic_proc_stderr_tail (proc), "?bad?x\tok\n"));
    assert (streq (shic_proc_log_line (proc, shic_proc_log_next (proc) - 1), "?bad?x\tok"));
    s_sink_clear (&sink);

    //  Destroy kills and reaps a running child
    char *const sleeper [] = { "sleep", "30", NULL };
    rc = shic_proc_start (proc, sleeper, NULL, NULL, &error);
    assert (rc == 0);
    pid_t sleeper_pid = shic_proc_pid (proc);
    pids [pid_count++] = sleeper_pid;
    rc = shic_proc_start (proc, sleeper, NULL, NULL, &error);
    assert (rc == -1 && error);
    zstr_free (&error);
    assert (shic_proc_reap (proc) == 0);
    shic_proc_destroy (&proc);

    //  No zombies and none of our children left
    assert (waitpid (-1, NULL, WNOHANG) == -1 && errno == ECHILD);
    int index;
    for (index = 0; index < pid_count; index++)
        assert (kill (pids [index], 0) == -1 && errno == ESRCH);

    zlist_destroy (&sink.lines);
    printf ("OK\n");
}
