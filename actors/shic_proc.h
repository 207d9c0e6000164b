/*  =========================================================================
    shic_proc - one supervised child process (the process transport)

    =========================================================================
*/

/*
@header
    shic_proc starts one program from an argv vector (execve semantics, PATH
    lookup only when argv[0] has no '/', never a shell) in its own process
    group, with stdin from /dev/null and stdout/stderr on two non-blocking
    pipes. The caller polls the output fds and the pidfd, hands readable fds
    to shic_proc_read, and calls shic_proc_reap when the pidfd fires.
@discuss
    The child asks for PR_SET_PDEATHSIG (SIGKILL), which Linux ties to the
    THREAD that forked, not to the process. Use an instance only from one
    thread that lives as long as the service (the process actor).
    An instance is not thread-safe. Signals always go to the whole process
    group, so grandchildren are covered; shic_proc_stop also SIGKILLs the
    group after the leader exited.
@end
*/

#ifndef SHIC_PROC_H_INCLUDED
#define SHIC_PROC_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _shic_proc_t shic_proc_t;

//  Called once per complete output line; stream is 1 (stdout) or 2
//  (stderr); line is NUL-terminated, without \n or trailing \r, at most
//  SHIC_PROC_LINE_MAX bytes, and only valid during the call.
typedef void (shic_proc_line_fn) (void *arg, int stream, const char *line);

//  Longest line delivered; longer lines are cut to this many bytes
#define SHIC_PROC_LINE_MAX      4096
//  Size of the stderr tail ring
#define SHIC_PROC_TAIL_MAX      4096

//  The output log: the last lines of both streams, kept across starts
#define SHIC_PROC_LOG_LINES     200
#define SHIC_PROC_LOG_BYTES     (64 * 1024)

//  Create a new, idle process object. Returns NULL on failure.
shic_proc_t *
    shic_proc_new (void);

//  Destroy the object: if the child still runs, SIGKILL its group and reap
//  it; close every fd. No-op on NULL; nulls the caller's pointer.
void
    shic_proc_destroy (shic_proc_t **self_p);

//  Start argv[0] with arguments argv (NULL-terminated). env is a
//  NULL-terminated "NAME=value" list, or NULL to inherit ours. cwd may be
//  NULL. Returns 0, or -1 with a fresh message in *error (if error is not
//  NULL), e.g. "cannot execute /x/y: No such file or directory"; a child
//  that failed to exec has been reaped by then. A previous child must have
//  been reaped (or stopped) first.
int
    shic_proc_start (shic_proc_t *self, char *const argv[], char *const env[],
                     const char *cwd, char **error);

//  Pid (and process group id) of the child, or -1 if never started.
int
    shic_proc_pid (shic_proc_t *self);

//  A pidfd that becomes readable when the child exits; -1 when not running
//  (or when the kernel has no pidfd_open). Owned by self.
int
    shic_proc_pidfd (shic_proc_t *self);

//  Parent end of the stdout / stderr pipe, -1 once closed. Owned by self;
//  remove it from any poller before shic_proc_read returns 1 or before
//  shic_proc_stop, both of which close it.
int
    shic_proc_stdout_fd (shic_proc_t *self);
int
    shic_proc_stderr_fd (shic_proc_t *self);

//  Read what is available on fd (stdout or stderr fd) without blocking,
//  call fn per complete line. Returns 1 on EOF (a pending partial line has
//  been delivered and fd is closed), 0 otherwise, -1 if fd is not one of
//  our open output fds.
int
    shic_proc_read (shic_proc_t *self, int fd, shic_proc_line_fn *fn, void *arg);

//  The last SHIC_PROC_TAIL_MAX bytes of stderr, cut at a line boundary
//  where possible, with non-printable bytes (except \n and \t) replaced by
//  '?'. Borrowed, valid until the next call on self; never NULL.
const char *
    shic_proc_stderr_tail (shic_proc_t *self);

//  The output log: lines of both streams, numbered from 0 in the order
//  read, the last SHIC_PROC_LOG_LINES of them and at most
//  SHIC_PROC_LOG_BYTES, non-printable bytes (but \t) replaced by '?'.
//  The number of the oldest line held, and of the next line to come.
uint64_t
    shic_proc_log_first (shic_proc_t *self);
uint64_t
    shic_proc_log_next (shic_proc_t *self);
//  Line number, borrowed until the next read; NULL when not held
const char *
    shic_proc_log_line (shic_proc_t *self, uint64_t number);

//  Non-blocking check for the child's exit. Returns 1 if it has exited
//  (now or before; status is then available and the pidfd closed), 0 if
//  it still runs or was never started.
int
    shic_proc_reap (shic_proc_t *self);

//  True when a child was started and has not been reaped yet.
bool
    shic_proc_running (shic_proc_t *self);

//  True once the child has been reaped.
bool
    shic_proc_exited (shic_proc_t *self);

//  Exit code, or -1 if the child was killed by a signal or has not exited.
int
    shic_proc_exit_code (shic_proc_t *self);

//  Signal that killed the child, 0 if it exited normally or still runs.
int
    shic_proc_exit_signal (shic_proc_t *self);

//  zclock_mono () time at which the child was reaped, 0 before.
int64_t
    shic_proc_exit_at_ms (shic_proc_t *self);

//  Send sig to the child's whole process group. Returns 0, or -1 if the
//  child is not running or kill failed.
int
    shic_proc_signal (shic_proc_t *self, int sig);

//  Stop the child: SIGTERM to the group, wait up to stop_timeout_ms for
//  the leader to exit, then SIGKILL the group and reap; SIGKILL the group
//  again after the leader exited so grandchildren die too. Drains and
//  drops pending output and closes the output fds. Returns 0.
int
    shic_proc_stop (shic_proc_t *self, int stop_timeout_ms);

//  Self test of this class.
void
    shic_proc_test (bool verbose);

#ifdef __cplusplus
}
#endif

#endif
