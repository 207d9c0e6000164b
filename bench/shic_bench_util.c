/*  =========================================================================
    shic_bench_util - what the benchmark programs share
    =========================================================================
*/

#include "shic_bench_util.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int64_t
shic_bench_nanos (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int
shic_bench_compare_i64 (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y? -1: x > y;
}

int
shic_bench_compare_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y? -1: x > y;
}

shic_bench_stats_t
shic_bench_stats (int64_t *samples, int count, double unit_ns)
{
    shic_bench_stats_t s = { count, 0, 0, 0, 0 };
    if (count <= 0)
        return s;
    qsort (samples, count, sizeof (int64_t), shic_bench_compare_i64);
    s.p50 = samples [count / 2] / unit_ns;
    s.p99 = samples [(int) (count * 0.99)] / unit_ns;
    s.min = samples [0] / unit_ns;
    s.max = samples [count - 1] / unit_ns;
    return s;
}

void
shic_bench_write_samples (const char *dir, const char *name, const int64_t *samples,
                          int count, double unit_ns)
{
    if (!dir)
        return;
    char path [512];
    snprintf (path, sizeof (path), "%s/%s", dir, name);
    FILE *file = fopen (path, "w");
    if (!file) {
        fprintf (stderr, "bench: cannot write %s: %s\n", path, strerror (errno));
        return;
    }
    for (int i = 0; i < count; i++)
        fprintf (file, "%.4f\n", samples [i] / unit_ns);
    fclose (file);
}

void
shic_bench_remove_dir (const char *dir)
{
    DIR *handle = opendir (dir);
    if (handle) {
        struct dirent *entry;
        while ((entry = readdir (handle))) {
            if (strcmp (entry->d_name, ".") == 0 || strcmp (entry->d_name, "..") == 0)
                continue;
            char path [512];
            snprintf (path, sizeof (path), "%s/%s", dir, entry->d_name);
            unlink (path);
        }
        closedir (handle);
    }
    rmdir (dir);
}

int64_t
shic_bench_read_ready_file (const char *path)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return -1;
    long long value = -1;
    if (fscanf (file, "%lld", &value) != 1)
        value = -1;
    fclose (file);
    return (int64_t) value;
}

void
shic_bench_report_error (shic_client_t *client, const char *what)
{
    const shic_error_t *err = shic_client_error (client);
    fprintf (stderr, "bench: %s failed: %s (%s)\n", what,
             err->code? err->code: "?", err->message? err->message: "");
}
