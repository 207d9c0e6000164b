/*  =========================================================================
    shic_pools_test - the self test of shic_pools: sizes, the resources
    section (good and every bad kind), /proc/meminfo from fixture files,
    NVML through the fake library, the never-optimistic free memory and
    the charges

    Lives beside the test programs rather than in the class because it
    loads the fake NVML library that CMake builds for it (SHIC_FAKE_NVML).
    =========================================================================
*/

#include "shic.h"
#include "shic_pools.h"

#define MIB (1024ULL * 1024)
#define GIB (1024ULL * MIB)
#define NO_NVML "/nonexistent/libnvidia-ml.so.1"

static char s_dir [] = "/tmp/shic-pools-XXXXXX";

//  Writes text to the fixture file name under the test's folder; returns
//  its path (static)
static const char *
s_fixture (const char *name, const char *text)
{
    static char path [128];
    snprintf (path, sizeof (path), "%s/%s", s_dir, name);
    FILE *file = fopen (path, "w");
    assert (file);
    fputs (text, file);
    fclose (file);
    return path;
}

//  Asserts that err is invalid_args naming field, and clears it
static void
s_expect_field (shic_error_t *err, const char *field)
{
    assert (err->code && streq (err->code, SHIC_E_INVALID_ARGS));
    assert (streq (shic_val_str (shic_val_get (err->details, "field")), field));
    shic_error_clear (err);
}

//  Pools from a ZPL text (NULL: no configuration), or NULL with err set
static shic_pools_t *
s_load (const char *zpl, const char *meminfo, const char *nvml, shic_error_t *err)
{
    zconfig_t *config = zpl? zconfig_str_load (zpl): NULL;
    assert (!zpl || config);
    shic_pools_t *pools = shic_pools_new ();
    assert (pools);
    shic_pools_set_meminfo (pools, meminfo);
    shic_pools_set_nvml_library (pools, nvml);
    int rc = shic_pools_load (pools, config, err);
    zconfig_destroy (&config);
    if (rc) {
        assert (err->code);
        shic_pools_destroy (&pools);
    }
    return pools;
}

//  The section's lines under shicd/resources, in ZPL
static char *
s_section (const char *lines)
{
    return zsys_sprintf ("shicd\n    resources\n%s", lines);
}

//  Asserts that the section is refused with invalid_args naming field
static void
s_expect_bad (const char *lines, const char *field, bool verbose)
{
    char *zpl = s_section (lines);
    shic_error_t err = { NULL, NULL, NULL };
    shic_pools_t *pools = s_load (zpl, "/nonexistent/meminfo", NO_NVML, &err);
    if (pools || !err.code || !streq (err.code, SHIC_E_INVALID_ARGS)
    ||  !streq (shic_val_str (shic_val_get (err.details, "field")), field)) {
        char *details = shic_val_to_json (err.details);
        fprintf (stderr, "shic_pools_test: expected invalid_args {field: %s} for\n%s\n"
                 "    got %s: %s %s\n", field, zpl, err.code? err.code: "success",
                 err.message? err.message: "", details? details: "");
        assert (false);
    }
    if (verbose)
        printf ("    %s\n", err.message);
    shic_pools_destroy (&pools);
    shic_error_clear (&err);
    free (zpl);
}

static void
s_test_sizes (void)
{
    struct {
        const char *text;
        uint64_t bytes;
    } good [] = {
        { "0", 0 }, { "1", 1 }, { "512B", 512 }, { "1KiB", 1024 }, { "3MiB", 3 * MIB },
        { "24GiB", 24 * GIB }, { "24 GiB", 24 * GIB }, { "1.5GiB", GIB + GIB / 2 },
        { "0.25 MiB", MIB / 4 }, { "2TiB", 2048 * GIB }, { "2kB", 2000 }, { "2KB", 2000 },
        { "3MB", 3000000 }, { "24GB", 24000000000ULL }, { "1TB", 1000000000000ULL },
        { "1.000001GB", 1000001000ULL }, { "9223372036854775807", INT64_MAX },
        { "8388607TiB", 8388607ULL << 40 }
    };
    for (size_t i = 0; i < sizeof (good) / sizeof (good [0]); i++) {
        uint64_t bytes = 1;
        const char *reason = NULL;
        if (shic_pools_parse_size (good [i].text, &bytes, &reason) || bytes != good [i].bytes) {
            fprintf (stderr, "shic_pools_test: '%s' gave %llu (%s), expected %llu\n",
                     good [i].text, (unsigned long long) bytes, reason? reason: "ok",
                     (unsigned long long) good [i].bytes);
            assert (false);
        }
    }
    struct {
        const char *text;
        const char *reason;         //  a word of the expected reason
    } bad [] = {
        { "", "empty" }, { NULL, "empty" }, { "-1", "negative" }, { "-1GiB", "negative" },
        { "abc", "not a size" }, { "+1", "not a size" }, { "1.", "not a size" },
        { ".5GiB", "not a size" }, { "1XB", "unknown unit" }, { "24gib", "unknown unit" },
        { "1e9", "unknown unit" }, { "24  GiB", "unknown unit" }, { "24GiB ", "unknown unit" },
        { "1.5", "fraction of a byte" }, { "1.5B", "fraction of a byte" },
        { "1.1234567GiB", "6 decimals" }, { "1.1234567890123456789012GiB", "6 decimals" },
        { "9223372036854775808", "too large" }, { "8388608TiB", "too large" },
        { "99999999999999999999999", "too large" }, { "9223372036854775807.5KiB", "too large" }
    };
    for (size_t i = 0; i < sizeof (bad) / sizeof (bad [0]); i++) {
        uint64_t bytes = 7;
        const char *reason = NULL;
        if (shic_pools_parse_size (bad [i].text, &bytes, &reason) == 0
        ||  !reason || !strstr (reason, bad [i].reason) || bytes != 7) {
            fprintf (stderr, "shic_pools_test: '%s' should fail with '%s', got %s\n",
                     bad [i].text? bad [i].text: "(null)", bad [i].reason,
                     reason? reason: "success");
            assert (false);
        }
    }
}

static void
s_test_config (bool verbose)
{
    shic_error_t err = { NULL, NULL, NULL };
    //  Dotted keys may come before their pool; sizes take any unit
    char *zpl = s_section (
        "        reserve.gpu0 = 1GiB\n"
        "        gpu0 = 24GiB\n"
        "        overhead.gpu0 = 400MiB\n"
        "        margin.gpu0 = 512MiB\n"
        "        ram = \"64 GiB\"\n"
        "        npu = 16GB\n"
        "        overhead.npu = 0\n");
    shic_pools_t *pools = s_load (zpl, "/nonexistent/meminfo", NO_NVML, &err);
    free (zpl);
    assert (pools && !err.code);
    assert (shic_pools_size (pools) == 3);
    assert (streq (shic_pools_name (pools, 0), "gpu0"));
    assert (streq (shic_pools_name (pools, 1), "ram"));
    assert (streq (shic_pools_name (pools, 2), "npu"));
    assert (shic_pools_name (pools, 3) == NULL);
    assert (streq (shic_pools_source (pools, "gpu0"), "config"));
    assert (shic_pools_capacity (pools, "gpu0") == 24 * GIB);
    assert (shic_pools_reserve (pools, "gpu0") == GIB);
    assert (shic_pools_overhead (pools, "gpu0") == 400 * MIB);
    assert (shic_pools_margin (pools, "gpu0") == 512 * MIB);
    //  The defaults of each kind
    assert (shic_pools_capacity (pools, "ram") == 64 * GIB);
    assert (shic_pools_reserve (pools, "ram") == 0);
    assert (shic_pools_overhead (pools, "ram") == 32 * MIB);
    assert (shic_pools_margin (pools, "ram") == 0);
    assert (shic_pools_capacity (pools, "npu") == 16000000000ULL);
    assert (shic_pools_overhead (pools, "npu") == 0);
    assert (shic_pools_margin (pools, "npu") == 0);
    //  Configured pools are not measured until asked; npu never is
    assert (shic_pools_measured_free (pools, "gpu0") == SHIC_POOLS_UNKNOWN);
    assert (shic_pools_free (pools, "gpu0") == 23 * GIB);
    assert (shic_pools_used (pools, "gpu0") == 0);
    //  Unknown pools read as nothing
    assert (shic_pools_source (pools, "gpu7") == NULL);
    assert (shic_pools_capacity (pools, "gpu7") == 0);
    assert (shic_pools_free (pools, "gpu7") == 0);
    assert (shic_pools_measured_free (pools, "gpu7") == SHIC_POOLS_UNKNOWN);
    //  Without meminfo and NVML, measuring reports the ram pool's source
    assert (shic_pools_measure (pools, &err) == -1);
    s_expect_field (&err, "/nonexistent/meminfo");
    assert (shic_pools_free (pools, "ram") == 64 * GIB);
    shic_pools_destroy (&pools);
    shic_pools_destroy (&pools);

    //  runtime/resources wins over shicd/resources, as every runtime key
    pools = s_load ("shicd\n    resources\n        ram = 1GiB\n"
                    "runtime\n    resources\n        gpu3 = 2GiB\n",
                    "/nonexistent/meminfo", NO_NVML, &err);
    assert (pools && shic_pools_size (pools) == 1);
    assert (shic_pools_capacity (pools, "gpu3") == 2 * GIB);
    shic_pools_destroy (&pools);

    //  Every bad kind, named by its key
    struct {
        const char *lines;          //  the section's lines
        const char *key;            //  the key named, under shicd/resources
    } bad [] = {
        { "gpu0 = -1GiB", "gpu0" },
        { "gpu0 = 99999999999TiB", "gpu0" },
        { "gpu0 = 24XB", "gpu0" },
        { "gpu0 = lots", "gpu0" },
        { "gpu0 =", "gpu0" },
        { "gpu0 = 0", "gpu0" },
        { "gpu0 = 1GiB|gpu0 = 2GiB", "gpu0" },
        { "gpu0 = 1GiB|reserve.gpu0 = 2GiB", "reserve.gpu0" },
        { "gpu0 = 1GiB|overhead.gpu0 = 1.5GiB", "overhead.gpu0" },
        { "gpu0 = 1GiB|margin.gpu0 = -5MiB", "margin.gpu0" },
        { "gpu0 = 1GiB|reserve.gpu1 = 1MiB", "reserve.gpu1" },
        { "gpu0 = 2GiB|reserve.gpu0 = 1MiB|reserve.gpu0 = 2MiB", "reserve.gpu0" },
        { "gpu0 = 1GiB|limit.gpu0 = 1MiB", "limit.gpu0" },
        { "gpu0 = 1GiB|reserve. = 1MiB", "reserve." },
        { "g$pu = 1GiB", "g$pu" },
        { "-gpu = 1GiB", "-gpu" },
        { "a_pool_name_longer_than_31_chars = 1GiB", "a_pool_name_longer_than_31_chars" },
        { "gpu0 = 24GiB|    reserve = 1GiB", "gpu0" }
    };
    for (size_t i = 0; i < sizeof (bad) / sizeof (bad [0]); i++) {
        //  One line per '|', indented under resources
        char *lines = zsys_sprintf ("        %s\n", bad [i].lines);
        for (char *bar = strchr (lines, '|'); bar; bar = strchr (lines, '|')) {
            *bar = 0;
            char *more = zsys_sprintf ("%s\n        %s", lines, bar + 1);
            free (lines);
            lines = more;
        }
        char *field = zsys_sprintf ("shicd/resources/%s", bad [i].key);
        s_expect_bad (lines, field, verbose);
        free (field);
        free (lines);
    }
    s_expect_bad ("", "shicd/resources", verbose);
    //  One pool too many
    char *lines = strdup ("");
    for (int i = 0; i <= SHIC_POOLS_MAX; i++) {
        char *more = zsys_sprintf ("%s        p%d = 1GiB\n", lines, i);
        free (lines);
        lines = more;
    }
    char field [64];
    snprintf (field, sizeof (field), "shicd/resources/p%d", SHIC_POOLS_MAX);
    s_expect_bad (lines, field, verbose);
    free (lines);
}

static void
s_test_meminfo (void)
{
    shic_error_t err = { NULL, NULL, NULL };
    const char *meminfo = s_fixture ("meminfo",
        "MemTotal:       16318004 kB\n"
        "MemFree:         1234567 kB\n"
        "MemAvailable:    8000000 kB\n"
        "Buffers:          123456 kB\n"
        "HugePages_Total:       0\n");
    char *path = strdup (meminfo);
    shic_pools_t *pools = s_load (NULL, path, NO_NVML, &err);
    assert (pools && !err.code);
    assert (shic_pools_size (pools) == 1);
    assert (streq (shic_pools_name (pools, 0), "ram"));
    assert (streq (shic_pools_source (pools, "ram"), "meminfo"));
    assert (shic_pools_capacity (pools, "ram") == 16318004ULL * 1024);
    assert (shic_pools_measured_free (pools, "ram") == 8000000ULL * 1024);
    assert (shic_pools_used (pools, "ram") == (16318004ULL - 8000000) * 1024);
    assert (shic_pools_free (pools, "ram") == 8000000ULL * 1024);
    //  Free memory moves; measure follows
    s_fixture ("meminfo", "MemTotal: 16318004 kB\nMemAvailable: 2000000 kB");
    assert (shic_pools_measure (pools, &err) == 0 && !err.code);
    assert (shic_pools_measured_free (pools, "ram") == 2000000ULL * 1024);
    assert (shic_pools_free (pools, "ram") == 2000000ULL * 1024);
    //  A file gone bad: the measure fails, the pool is measured no more
    s_fixture ("meminfo", "MemTotal: 16318004 kB\nMemAvailable: lots\n");
    assert (shic_pools_measure (pools, &err) == -1);
    s_expect_field (&err, path);
    assert (shic_pools_measured_free (pools, "ram") == SHIC_POOLS_UNKNOWN);
    assert (shic_pools_free (pools, "ram") == 16318004ULL * 1024);
    shic_pools_destroy (&pools);

    //  Malformed files, each a typed error naming the file
    const char *malformed [] = {
        "",
        "MemTotal: 16318004 kB\n",                                  //  no MemAvailable
        "MemAvailable: 8000000 kB\n",                               //  no MemTotal
        "MemTotal: 16318004\nMemAvailable: 8000000 kB\n",           //  no unit
        "MemTotal: 16318004 MB\nMemAvailable: 8000000 kB\n",        //  wrong unit
        "MemTotal: -1 kB\nMemAvailable: 8000000 kB\n",
        "MemTotal: 99999999999999999999 kB\nMemAvailable: 1 kB\n",
        "MemTotal: 9007199254740992 kB\nMemAvailable: 1 kB\n",      //  bytes past INT64_MAX
        "MemTotal: 16318004 kB trailing\nMemAvailable: 8000000 kB\n",
        "\x01\x02\xff binary\n",
        NULL
    };
    for (int i = 0; malformed [i]; i++) {
        s_fixture ("meminfo", malformed [i]);
        pools = s_load (NULL, path, NO_NVML, &err);
        assert (!pools);
        s_expect_field (&err, path);
    }
    pools = s_load (NULL, "/nonexistent/meminfo", NO_NVML, &err);
    assert (!pools);
    s_expect_field (&err, "/nonexistent/meminfo");
    free (path);
}

static void
s_test_nvml (void)
{
    shic_error_t err = { NULL, NULL, NULL };
    char *meminfo = strdup (s_fixture ("meminfo",
                                       "MemTotal: 16000000 kB\nMemAvailable: 8000000 kB\n"));
    setenv ("FAKE_NVML_FREE0", "21474836480", 1);    //  20 GiB of 24
    unsetenv ("FAKE_NVML_FREE1");                    //  all of 8 GiB
    //  Without the section: ram and one pool per GPU, measured
    shic_pools_t *pools = s_load (NULL, meminfo, SHIC_FAKE_NVML, &err);
    assert (pools && !err.code);
    assert (shic_pools_size (pools) == 3);
    assert (streq (shic_pools_name (pools, 1), "gpu0"));
    assert (streq (shic_pools_name (pools, 2), "gpu1"));
    assert (streq (shic_pools_source (pools, "gpu0"), "nvml"));
    assert (shic_pools_capacity (pools, "gpu0") == 24 * GIB);
    assert (shic_pools_capacity (pools, "gpu1") == 8 * GIB);
    assert (shic_pools_overhead (pools, "gpu0") == 300 * MIB);
    assert (shic_pools_margin (pools, "gpu0") == 256 * MIB);
    assert (shic_pools_measured_free (pools, "gpu0") == 20 * GIB);
    assert (shic_pools_used (pools, "gpu0") == 4 * GIB);
    assert (shic_pools_free (pools, "gpu0") == 20 * GIB - 256 * MIB);
    assert (shic_pools_free (pools, "gpu1") == 8 * GIB - 256 * MIB);
    //  Another program takes memory: the next measure sees it
    setenv ("FAKE_NVML_FREE0", "10737418240", 1);    //  10 GiB
    setenv ("FAKE_NVML_FREE1", "1073741824", 1);     //  1 GiB
    assert (shic_pools_measure (pools, &err) == 0);
    assert (shic_pools_measured_free (pools, "gpu0") == 10 * GIB);
    assert (shic_pools_free (pools, "gpu0") == 10 * GIB - 256 * MIB);
    assert (shic_pools_free (pools, "gpu1") == GIB - 256 * MIB);
    //  The margin is larger than what is free: nothing, not a wrap-around
    setenv ("FAKE_NVML_FREE1", "1048576", 1);        //  1 MiB
    assert (shic_pools_measure (pools, &err) == 0);
    assert (shic_pools_free (pools, "gpu1") == 0);

    //  The resources op's view
    shic_val_t *list = shic_pools_to_val (pools);
    assert (shic_val_size (list) == 3);
    shic_val_t *gpu0 = shic_val_at (list, 1);
    assert (streq (shic_val_str (shic_val_get (gpu0, "pool")), "gpu0"));
    assert (streq (shic_val_str (shic_val_get (gpu0, "source")), "nvml"));
    assert (streq (shic_val_str (shic_val_get (gpu0, "device")), "Fake GPU 0"));
    assert (shic_val_int (shic_val_get (gpu0, "capacity_bytes")) == (int64_t) (24 * GIB));
    assert (shic_val_int (shic_val_get (gpu0, "reserve_bytes")) == 0);
    assert (shic_val_int (shic_val_get (gpu0, "overhead_bytes")) == (int64_t) (300 * MIB));
    assert (shic_val_int (shic_val_get (gpu0, "margin_bytes")) == (int64_t) (256 * MIB));
    assert (shic_val_int (shic_val_get (gpu0, "reserved_bytes")) == 0);
    assert (shic_val_int (shic_val_get (gpu0, "used_bytes")) == (int64_t) (14 * GIB));
    assert (shic_val_int (shic_val_get (gpu0, "free_bytes")) == (int64_t) (10 * GIB - 256 * MIB));
    assert (shic_val_int (shic_val_get (gpu0, "measured_free_bytes")) == (int64_t) (10 * GIB));
    assert (streq (shic_val_str (shic_val_get (shic_val_at (list, 0), "source")), "meminfo"));
    assert (shic_val_is (shic_val_get (shic_val_at (list, 0), "device"), SHIC_VAL_NIL));
    shic_val_destroy (&list);

    //  NVML fails to answer: the GPUs are measured no more, and said so
    setenv ("FAKE_NVML_FAIL_MEMORY", "1", 1);
    assert (shic_pools_measure (pools, &err) == -1);
    s_expect_field (&err, SHIC_FAKE_NVML);
    assert (shic_pools_measured_free (pools, "gpu0") == SHIC_POOLS_UNKNOWN);
    assert (shic_pools_measured_free (pools, "ram") == 8000000ULL * 1024);
    assert (shic_pools_free (pools, "gpu0") == 24 * GIB);
    unsetenv ("FAKE_NVML_FAIL_MEMORY");
    shic_pools_destroy (&pools);

    //  Configured GPU pools are measured through NVML device N; a pool
    //  past the devices, and any other name, never
    setenv ("FAKE_NVML_FREE0", "10737418240", 1);    //  10 GiB
    pools = s_load ("shicd\n    resources\n        gpu0 = 16GiB\n        reserve.gpu0 = 1GiB\n"
                    "        margin.gpu0 = 0\n        gpu5 = 8GiB\n        big = 1TiB\n",
                    meminfo, SHIC_FAKE_NVML, &err);
    assert (pools && !err.code);
    assert (shic_pools_measured_free (pools, "gpu0") == SHIC_POOLS_UNKNOWN);
    assert (shic_pools_free (pools, "gpu0") == 15 * GIB);
    assert (shic_pools_measure (pools, &err) == 0);
    assert (shic_pools_measured_free (pools, "gpu0") == 10 * GIB);
    assert (shic_pools_measured_free (pools, "gpu5") == SHIC_POOLS_UNKNOWN);
    assert (shic_pools_measured_free (pools, "big") == SHIC_POOLS_UNKNOWN);
    assert (streq (shic_pools_source (pools, "gpu0"), "config"));

    //  Never optimistic: the smaller of the accounting and the measure
    assert (shic_pools_free (pools, "gpu0") == 10 * GIB);        //  measure: 10 < 15
    assert (shic_pools_charge (pools, "gpu0", 6 * GIB) == 0);
    assert (shic_pools_free (pools, "gpu0") == 9 * GIB);         //  accounting: 16-1-6 < 10
    setenv ("FAKE_NVML_FREE0", "4294967296", 1);     //  the instance loaded: 4 GiB left
    assert (shic_pools_measure (pools, &err) == 0);
    assert (shic_pools_free (pools, "gpu0") == 4 * GIB);         //  measure again
    assert (shic_pools_charge (pools, "gpu0", 20 * GIB) == 0);   //  over-committed
    assert (shic_pools_free (pools, "gpu0") == 0);
    assert (shic_pools_reserved (pools, "gpu0") == 26 * GIB);
    assert (shic_pools_free (pools, "big") == 1024 * GIB);       //  unmeasured: accounting
    shic_pools_destroy (&pools);

    //  A library whose nvmlInit fails gives no GPU pools and no error
    setenv ("FAKE_NVML_FAIL_INIT", "1", 1);
    pools = s_load (NULL, meminfo, SHIC_FAKE_NVML, &err);
    assert (pools && !err.code);
    assert (shic_pools_size (pools) == 1);
    assert (streq (shic_pools_name (pools, 0), "ram"));
    shic_pools_destroy (&pools);
    pools = s_load ("shicd\n    resources\n        gpu0 = 16GiB\n", meminfo, SHIC_FAKE_NVML, &err);
    assert (pools && shic_pools_measure (pools, &err) == 0);
    assert (shic_pools_measured_free (pools, "gpu0") == SHIC_POOLS_UNKNOWN);
    shic_pools_destroy (&pools);
    unsetenv ("FAKE_NVML_FAIL_INIT");

    //  The library through the environment, as an operator would give it
    setenv ("SHIC_NVML_LIBRARY", SHIC_FAKE_NVML, 1);
    pools = shic_pools_new ();
    shic_pools_set_meminfo (pools, meminfo);
    assert (shic_pools_load (pools, NULL, &err) == 0);
    assert (shic_pools_size (pools) == 3);
    shic_pools_destroy (&pools);
    unsetenv ("SHIC_NVML_LIBRARY");
    unsetenv ("FAKE_NVML_FREE0");
    unsetenv ("FAKE_NVML_FREE1");
    free (meminfo);
}

static void
s_test_charges (void)
{
    shic_error_t err = { NULL, NULL, NULL };
    shic_pools_t *pools = s_load ("shicd\n    resources\n        ram = 8GiB\n"
                                  "        reserve.ram = 1GiB\n",
                                  "/nonexistent/meminfo", NO_NVML, &err);
    assert (pools);
    assert (shic_pools_charge (pools, "ram", 2 * GIB) == 0);
    assert (shic_pools_charge (pools, "ram", GIB) == 0);
    assert (shic_pools_reserved (pools, "ram") == 3 * GIB);
    assert (shic_pools_used (pools, "ram") == 3 * GIB);          //  unmeasured: the charges
    assert (shic_pools_free (pools, "ram") == 4 * GIB);
    assert (shic_pools_uncharge (pools, "ram", GIB) == 0);
    assert (shic_pools_reserved (pools, "ram") == 2 * GIB);
    //  Taking back more than was charged stops at zero, and says so
    assert (shic_pools_uncharge (pools, "ram", 5 * GIB) == -1);
    assert (shic_pools_reserved (pools, "ram") == 0);
    assert (shic_pools_uncharge (pools, "ram", 1) == -1);
    assert (shic_pools_reserved (pools, "ram") == 0);
    assert (shic_pools_free (pools, "ram") == 7 * GIB);
    //  Unknown pools and sums past INT64_MAX charge nothing
    assert (shic_pools_charge (pools, "gpu0", 1) == -1);
    assert (shic_pools_uncharge (pools, "gpu0", 1) == -1);
    assert (shic_pools_charge (pools, NULL, 1) == -1);
    assert (shic_pools_charge (pools, "ram", INT64_MAX) == 0);
    assert (shic_pools_charge (pools, "ram", 1) == -1);
    assert (shic_pools_reserved (pools, "ram") == INT64_MAX);
    assert (shic_pools_free (pools, "ram") == 0);
    shic_val_t *list = shic_pools_to_val (pools);
    shic_val_t *ram = shic_val_at (list, 0);
    assert (shic_val_int (shic_val_get (ram, "reserved_bytes")) == INT64_MAX);
    assert (shic_val_int (shic_val_get (ram, "free_bytes")) == 0);
    assert (shic_val_is (shic_val_get (ram, "measured_free_bytes"), SHIC_VAL_NIL));
    assert (streq (shic_val_str (shic_val_get (ram, "source")), "config"));
    shic_val_destroy (&list);
    assert (shic_pools_uncharge (pools, "ram", INT64_MAX) == 0);
    assert (shic_pools_reserved (pools, "ram") == 0);
    shic_pools_destroy (&pools);
}

void
shic_pools_test (bool verbose)
{
    printf (" * shic_pools: ");
    if (verbose)
        printf ("\n");
    assert (mkdtemp (s_dir));
    s_test_sizes ();
    s_test_config (verbose);
    s_test_meminfo ();
    s_test_nvml ();
    s_test_charges ();
    char *path = zsys_sprintf ("%s/meminfo", s_dir);
    unlink (path);
    free (path);
    rmdir (s_dir);
    printf ("OK\n");
}
