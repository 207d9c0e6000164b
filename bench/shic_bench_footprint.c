/*  =========================================================================
    shic_bench_footprint - figure 11: the footprint estimator's error

    For every model (*.gguf) of the llama folder and -c 512 and -c 4096,
    loads the model in the real llama-server once, reads the model, KV and
    compute buffers it reports on stderr, estimates the same three from the
    GGUF header alone, and prints estimate against actual with the error in
    MiB and %. The target (issue 12) is within 10% or 2 MiB of each buffer.

    Usage: shic_bench_footprint [--dir LLAMA_DIR] [--json FILE]
    LLAMA_DIR holds llama-server and the models (default: SHIC_LLAMA_DIR,
    ../shared/llama beside the checkout). Exits 0 when every row was
    measured and met the target, 1 otherwise, 2 when there is nothing to
    measure.
    =========================================================================
*/

#include "shic.h"
#include "shic_footprint.h"
#include "shic_llama_run.h"

#define MIB (1024.0 * 1024.0)

static int
s_compare_names (const void *a, const void *b)
{
    return strcmp (*(const char * const *) a, *(const char * const *) b);
}

//  One row of the table: prints it and adds it to rows (a JSON array)
static bool
s_row (shic_val_t *rows, const char *model, int ctx, const char *buffer,
       uint64_t estimate, uint64_t actual)
{
    double estimate_mib = estimate / MIB;
    double actual_mib = actual / MIB;
    double error_mib = estimate_mib - actual_mib;
    double error_pct = actual_mib > 0? 100.0 * error_mib / actual_mib: 0;
    bool met = fabs (error_mib) <= 2.0 || fabs (error_mib) <= 0.1 * actual_mib;
    printf ("%-22s %5d %-8s %10.2f %10.2f %+9.2f %+8.1f%% %s\n", model, ctx, buffer,
            estimate_mib, actual_mib, error_mib, error_pct, met? "ok": "MISSED");
    shic_val_t *row = shic_val_new_map ();
    shic_val_set_str (row, "model", model);
    shic_val_set_int (row, "ctx", ctx);
    shic_val_set_str (row, "buffer", buffer);
    shic_val_t *value = shic_val_new_float (estimate_mib);
    shic_val_set (row, "estimate_mib", &value);
    value = shic_val_new_float (actual_mib);
    shic_val_set (row, "actual_mib", &value);
    value = shic_val_new_float (error_mib);
    shic_val_set (row, "error_mib", &value);
    value = shic_val_new_float (error_pct);
    shic_val_set (row, "error_pct", &value);
    shic_val_set_bool (row, "target_met", met);
    shic_val_push (rows, &row);
    return met;
}

int
main (int argc, char *argv [])
{
    const char *dir = SHIC_LLAMA_DIR;
    const char *json_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (streq (argv [i], "--dir") && i + 1 < argc)
            dir = argv [++i];
        else
        if (streq (argv [i], "--json") && i + 1 < argc)
            json_path = argv [++i];
        else {
            printf ("usage: %s [--dir LLAMA_DIR] [--json FILE]\n", argv [0]);
            return 2;
        }
    }
    char server [1024];
    snprintf (server, sizeof (server), "%s/llama-server", dir);
    if (!zsys_file_exists (server)) {
        printf ("bench footprint: skipped (no %s)\n", server);
        return 2;
    }
    //  The models, in name order
    zdir_t *folder = zdir_new (dir, "-");
    if (!folder) {
        printf ("bench footprint: cannot read %s\n", dir);
        return 2;
    }
    zfile_t **files = zdir_flatten (folder);
    char *models [64];
    int model_count = 0;
    for (int index = 0; files [index] && model_count < 64; index++) {
        const char *name = zfile_filename (files [index], dir);
        size_t length = strlen (name);
        if (length > 5 && streq (name + length - 5, ".gguf") && !strchr (name, '/'))
            models [model_count++] = strdup (name);
    }
    zdir_flatten_free (&files);
    zdir_destroy (&folder);
    qsort (models, (size_t) model_count, sizeof (char *), s_compare_names);
    if (model_count == 0) {
        printf ("bench footprint: skipped (no models in %s)\n", dir);
        return 2;
    }

    printf ("figure 11: footprint estimate against llama-server's own buffers (CPU, -np 1)\n");
    printf ("%-22s %5s %-8s %10s %10s %9s %9s\n", "model", "-c", "buffer",
            "est MiB", "actual MiB", "err MiB", "err %");
    shic_val_t *rows = shic_val_new_array ();
    int missed = 0;
    int failed = 0;
    const int contexts [] = { 512, 4096 };
    for (int index = 0; index < model_count; index++) {
        char path [2048];
        snprintf (path, sizeof (path), "%s/%s", dir, models [index]);
        shic_error_t err = { 0 };
        shic_gguf_t *gguf = shic_gguf_new (path, &err);
        if (!gguf) {
            printf ("%-22s: %s\n", models [index], err.message);
            shic_error_clear (&err);
            failed++;
            continue;
        }
        for (int c = 0; c < 2; c++) {
            shic_footprint_settings_t settings;
            shic_footprint_settings_default (&settings);
            settings.ctx_size = (uint32_t) contexts [c];
            shic_footprint_t estimate, actual;
            if (shic_footprint_estimate (gguf, &settings, &estimate, &err)) {
                printf ("%-22s %5d: %s\n", models [index], contexts [c], err.message);
                shic_error_clear (&err);
                failed++;
                continue;
            }
            if (shic_llama_run_measure (server, path, contexts [c], 1, 120000, &actual)) {
                printf ("%-22s %5d: llama-server did not load it\n", models [index], contexts [c]);
                failed++;
                continue;
            }
            //  The CPU build puts every buffer on the host; a GPU build
            //  would split them, so compare the sums of both sides
            missed += !s_row (rows, models [index], contexts [c], "model",
                              estimate.host.weights_bytes + estimate.device.weights_bytes,
                              actual.host.weights_bytes + actual.device.weights_bytes);
            missed += !s_row (rows, models [index], contexts [c], "kv",
                              estimate.host.kv_bytes + estimate.device.kv_bytes,
                              actual.host.kv_bytes + actual.device.kv_bytes);
            missed += !s_row (rows, models [index], contexts [c], "compute",
                              estimate.host.compute_bytes + estimate.device.compute_bytes,
                              actual.host.compute_bytes + actual.device.compute_bytes);
        }
        shic_gguf_destroy (&gguf);
    }
    bool target_met = missed == 0 && failed == 0;
    printf ("target (within 10%% or 2 MiB of each buffer): %s (%zu rows, %d missed, %d failed)\n",
            target_met? "met": "NOT met", shic_val_size (rows), missed, failed);
    if (json_path) {
        shic_val_t *report = shic_val_new_map ();
        shic_val_set_str (report, "figure", "11");
        shic_val_set_str (report, "title", "footprint estimator error");
        shic_val_set_str (report, "target", "within 10% or 2 MiB of each buffer");
        shic_val_set_bool (report, "target_met", target_met);
        shic_val_set_int (report, "failed", failed);
        shic_val_set (report, "rows", &rows);
        char *json = shic_val_to_json (report);
        FILE *file = fopen (json_path, "w");
        if (file && json) {
            fprintf (file, "%s\n", json);
            fclose (file);
        }
        else {
            fprintf (stderr, "bench: cannot write %s: %s\n", json_path, strerror (errno));
            if (file)
                fclose (file);
        }
        free (json);
        shic_val_destroy (&report);
    }
    shic_val_destroy (&rows);
    for (int index = 0; index < model_count; index++)
        free (models [index]);
    return target_met? 0: 1;
}
