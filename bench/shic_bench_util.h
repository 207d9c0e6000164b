/*  =========================================================================
    shic_bench_util - what the benchmark programs share: a monotonic clock,
    sample summaries, sample files for the plots, the stand-in's ready
    file, error reports, a scratch directory
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

#endif
