/*  =========================================================================
    shic_bench_util - what the benchmark programs share: a monotonic clock,
    sample summaries, sample files for the plots, the stand-in's ready
    file, error reports, a scratch directory, a shicd process started on
    a generated configuration, and its events
    =========================================================================
*/

#ifndef SHIC_BENCH_UTIL_H_INCLUDED
#define SHIC_BENCH_UTIL_H_INCLUDED

#include "shic.h"
#include <stdint.h>

//  Monotonic nanoseconds
int64_t shic_bench_nanos (void);

//  qsort comparators
int shic_bench_compare_i64 (const void *a, const void *b);
int shic_bench_compare_double (const void *a, const void *b);

typedef struct {
    int count;                      //  samples
    double p50, p99, min, max;      //  in the unit asked for
} shic_bench_stats_t;

//  Sorts samples (ns) and summarises them in unit_ns units (1e3: us, 1e6: ms)
shic_bench_stats_t shic_bench_stats (int64_t *samples, int count, double unit_ns);

//  Writes samples (ns) in unit_ns units, one a line, to dir/name; nothing
//  when dir is NULL
void shic_bench_write_samples (const char *dir, const char *name, const int64_t *samples,
                               int count, double unit_ns);

//  The stand-in's --ready-file: its CLOCK_MONOTONIC ns, or -1
int64_t shic_bench_read_ready_file (const char *path);

//  Prints "bench: WHAT failed: CODE (MESSAGE)" for the client's last error
void shic_bench_report_error (shic_client_t *client, const char *what);

//  Removes a scratch directory and the files a run left in it
void shic_bench_remove_dir (const char *dir);

//  Writes one summary as a JSON member "name": {n, p50, p99, min, max};
//  nothing when json is NULL
void shic_bench_json_stats (FILE *json, const char *name, shic_bench_stats_t s, bool last);

//  Whether figure n is in a comma-separated list like "1,2,5"
bool shic_bench_want (const char *only, int n);

//  ---------------------------------------------------------------------------
//  A run of a program that drives shicd: its command line, scratch
//  directory and JSON file

typedef struct {
    const char *build;              //  --build: where shicd and the stand-ins are
                                    //  (default: this program's directory)
    const char *samples_dir;        //  --samples: sample files, or NULL
    bool quick;                     //  --quick: fewer rounds
    const char *only;               //  --only: the figures to run
    FILE *json;                     //  --json FILE, open, or NULL
    char dir [64];                  //  scratch directory
    char self_dir [512];            //  this program's directory
} shic_bench_run_t;

//  Parses [--build DIR] [--json FILE] [--samples DIR] [--quick] [--only
//  LIST] (LIST defaults to figures), makes the scratch directory
//  /tmp/shic-bench-NAME-XXXXXX, ignores SIGPIPE, initialises shic and
//  starts the JSON object with "cores". Returns -1 when main goes on, else
//  the code main exits with (0 after --help, 1 on failure, 2 on bad usage).
int shic_bench_run_start (shic_bench_run_t *self, int argc, char *argv [], const char *name,
                          const char *figures);

//  Ends the JSON object with "complete" (rc 0), closes it, removes the
//  scratch directory; returns rc
int shic_bench_run_end (shic_bench_run_t *self, int rc);

//  ---------------------------------------------------------------------------
//  Processes

//  A free TCP port on the loopback (the usual small race is accepted)
int shic_bench_free_port (void);

//  Starts argv with stdout and stderr to files; the pid or -1
pid_t shic_bench_spawn (char **argv, const char *out_path, const char *err_path);

//  Waits until path holds text; a fresh copy of the line holding it, or
//  NULL past the deadline or when pid has died
char *shic_bench_wait_text (const char *path, const char *text, pid_t pid, int timeout_ms);

//  The CPU time every thread of pid has run so far (the first field of
//  /proc/<pid>/task/*/schedstat), in ns; 0 when pid cannot be read
int64_t shic_bench_cpu_ns (pid_t pid);

//  SIGTERM, then SIGKILL after timeout_ms; reaps the process
void shic_bench_stop_process (pid_t pid, int timeout_ms);

//  ---------------------------------------------------------------------------
//  A real shicd

typedef struct {
    pid_t pid;                      //  shicd
    char gateway [64];              //  tcp://127.0.0.1:P
    char events [64];               //  tcp://127.0.0.1:P
} shic_bench_daemon_t;

//  Writes dir/name.cfg (a shicd section with shicd_extra, indented by the
//  caller, then backends), starts build/shicd on it and waits for "shicd
//  ready"; 0 or -1
int shic_bench_daemon_start (shic_bench_daemon_t *self, const char *build, const char *dir,
                             const char *name, const char *shicd_extra, const char *backends);
void shic_bench_daemon_stop (shic_bench_daemon_t *self);

//  ---------------------------------------------------------------------------
//  Events

//  Receives one event from sub within timeout_ms: 0 with a fresh *topic_p,
//  the decoded body in *body_p (NULL when it did not decode) and the
//  receive time in *received_ns; -1 past the deadline
int shic_bench_recv_event (zsock_t *sub, int timeout_ms, char **topic_p, shic_val_t **body_p,
                           int64_t *received_ns);

//  Waits for an event with topic on sub, for instance_id when not NULL.
//  Returns its body or NULL past the deadline; *received_ns (may be NULL)
//  is the time the matching message was received.
shic_val_t *shic_bench_wait_event (zsock_t *sub, const char *topic, const char *instance_id,
                                   int timeout_ms, int64_t *received_ns);

//  Stops an instance and waits for its instance.stopped; 0 or -1
int shic_bench_stop_instance (shic_client_t *client, zsock_t *events, const char *instance_id);

//  The echo baseline of figures 1, 2 and 12: an actor whose ROUTER on TCP
//  sends every message back; it sends its endpoint on the pipe first
void shic_bench_echo_actor (zsock_t *pipe, void *args);
//  A wire request of op with a copy of args (id 1000000); fresh
zframe_t *shic_bench_request_frame (const char *op, const shic_val_t *args);
//  One echo pair: copies of ensure and release sent on dealer, each
//  answer awaited; its time in ns
int64_t shic_bench_echo_pair (zsock_t *dealer, zframe_t *ensure, zframe_t *release);

#endif
