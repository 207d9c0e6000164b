/*  =========================================================================
    shic_pools - the node's memory pools: what each can hold, what is
    charged to it, and what is really free

    Configuration (ZPL), one key per pool and dotted keys for the rest,
    because a ZPL name may hold '.' and that keeps a pool on one line each:

        shicd
            resources
                gpu0 = 24GiB
                ram = 64GiB
                reserve.gpu0 = 1GiB         # never placed into
                overhead.gpu0 = 300MiB      # per server process
                margin.gpu0 = 512MiB        # off the measured free memory

    NVML is opened with dlopen and its few functions are declared here,
    so that shic builds and runs on machines without NVIDIA's headers or
    driver; a fake library of the same symbols tests this path.
    =========================================================================
*/

#include "shic_pools.h"
#include <dlfcn.h>

#define MIB                 (1024ULL * 1024)
#define NAME_MAX_LEN        31          //  longest pool name
#define MEMINFO_MAX         65536       //  /proc/meminfo is ~1.5 KiB
#define DEVICE_NAME_MAX     96          //  NVML_DEVICE_NAME_V2_BUFFER_SIZE
#define DEFAULT_MEMINFO     "/proc/meminfo"
#define DEFAULT_NVML        "libnvidia-ml.so.1"

//  Defaults per kind of pool. A CUDA context costs hundreds of MiB on
//  the device; a CPU server process costs little beyond its model.
//  NVML's free memory moves as other programs allocate, hence a margin;
//  MemAvailable is already the kernel's cautious estimate, hence none.
#define GPU_OVERHEAD        (300 * MIB)
#define GPU_MARGIN          (256 * MIB)
#define RAM_OVERHEAD        (32 * MIB)
#define RAM_MARGIN          0

//  The part of NVML we use (docs.nvidia.com/deploy/nvml-api): every call
//  returns nvmlReturn_t, an enum whose 0 is NVML_SUCCESS; a device is an
//  opaque pointer; nvmlMemory_t (v1) is three byte counts in this order.
typedef int nvml_return_t;
typedef void *nvml_device_t;
typedef struct {
    unsigned long long total;       //  physical device memory
    unsigned long long free;        //  unallocated
    unsigned long long used;        //  allocated, the driver's share included
} nvml_memory_t;
typedef nvml_return_t (nvml_void_fn) (void);
typedef nvml_return_t (nvml_count_fn) (unsigned int *count);
typedef nvml_return_t (nvml_handle_fn) (unsigned int index, nvml_device_t *device);
typedef nvml_return_t (nvml_memory_fn) (nvml_device_t device, nvml_memory_t *memory);
typedef nvml_return_t (nvml_name_fn) (nvml_device_t device, char *name, unsigned int length);

typedef enum {
    SOURCE_CONFIG,
    SOURCE_MEMINFO,
    SOURCE_NVML
} source_t;

static const char *s_source_names [] = { "config", "meminfo", "nvml" };

typedef enum {
    MEASURE_NONE,                   //  no source: measured free stays unknown
    MEASURE_MEMINFO,                //  MemAvailable
    MEASURE_NVML                    //  nvmlDeviceGetMemoryInfo
} measure_t;

typedef struct {
    char name [NAME_MAX_LEN + 1];   //  pool name
    source_t source;                //  where the capacity came from
    measure_t measure;              //  where the measured free comes from
    nvml_device_t device;           //  NVML handle when measure is NVML
    char device_name [DEVICE_NAME_MAX]; //  NVML's name of the GPU, or ""
    uint64_t capacity;              //  bytes the pool holds
    uint64_t reserve;               //  bytes kept for others
    uint64_t overhead;              //  bytes per server process
    uint64_t margin;                //  bytes taken off the measured free
    uint64_t reserved;              //  sum of the caller's charges
    uint64_t measured_free;         //  last measure, or SHIC_POOLS_UNKNOWN
    uint64_t measured_used;         //  last measure, or SHIC_POOLS_UNKNOWN
} s_pool_t;

struct _shic_pools_t {
    s_pool_t pools [SHIC_POOLS_MAX]; //  the pools, in order
    size_t size;                    //  pools in use
    bool loaded;                    //  shic_pools_load ran
    char *meminfo_path;             //  file read for "ram"
    char *nvml_path;                //  library given to dlopen
    void *nvml;                     //  dlopen handle, NULL when not loaded
    bool nvml_initialized;          //  nvmlInit succeeded: shut down at the end
    nvml_void_fn *nvml_shutdown;    //  nvmlShutdown
    nvml_count_fn *nvml_count;      //  nvmlDeviceGetCount_v2
    nvml_handle_fn *nvml_handle;    //  nvmlDeviceGetHandleByIndex_v2
    nvml_memory_fn *nvml_memory;    //  nvmlDeviceGetMemoryInfo
    nvml_name_fn *nvml_name;        //  nvmlDeviceGetName
};

shic_pools_t *
shic_pools_new (void)
{
    shic_pools_t *self = (shic_pools_t *) zmalloc (sizeof (shic_pools_t));
    self->meminfo_path = strdup (DEFAULT_MEMINFO);
    const char *nvml = getenv ("SHIC_NVML_LIBRARY");
    self->nvml_path = strdup (nvml && *nvml? nvml: DEFAULT_NVML);
    if (!self->meminfo_path || !self->nvml_path) {
        shic_pools_destroy (&self);
        return NULL;
    }
    return self;
}

void
shic_pools_destroy (shic_pools_t **self_p)
{
    shic_pools_t *self = *self_p;
    if (!self)
        return;
    if (self->nvml_initialized)
        self->nvml_shutdown ();
    if (self->nvml)
        dlclose (self->nvml);
    free (self->meminfo_path);
    free (self->nvml_path);
    free (self);
    *self_p = NULL;
}

//  The sources are read at load: changing them later would mix two machines
static void
s_set_path (shic_pools_t *self, char **path_p, const char *path)
{
    assert (!self->loaded);
    zstr_free (path_p);
    *path_p = strdup (path);
    assert (*path_p);
}

void
shic_pools_set_meminfo (shic_pools_t *self, const char *path)
{
    s_set_path (self, &self->meminfo_path, path);
}

void
shic_pools_set_nvml_library (shic_pools_t *self, const char *path)
{
    s_set_path (self, &self->nvml_path, path);
}

//  ---------------------------------------------------------------------------
//  Sizes

//  Reads decimal digits at *p into *value; returns the count of digits,
//  or -1 when the number passes INT64_MAX
static int
s_digits (const char **p, uint64_t *value)
{
    int count = 0;
    *value = 0;
    while (**p >= '0' && **p <= '9') {
        uint64_t digit = (uint64_t) (**p - '0');
        if (*value > ((uint64_t) INT64_MAX - digit) / 10)
            return -1;
        *value = *value * 10 + digit;
        (*p)++;
        count++;
    }
    return count;
}

int
shic_pools_parse_size (const char *text, uint64_t *bytes_p, const char **reason_p)
{
    static const struct {
        const char *unit;           //  as written
        uint64_t bytes;             //  what one unit is
    } units [] = {
        { "", 1 }, { "B", 1 },
        { "KiB", 1ULL << 10 }, { "MiB", 1ULL << 20 }, { "GiB", 1ULL << 30 }, { "TiB", 1ULL << 40 },
        { "kB", 1000ULL }, { "KB", 1000ULL }, { "MB", 1000000ULL },
        { "GB", 1000000000ULL }, { "TB", 1000000000000ULL }
    };
    const char *reason = NULL;
    const char *p = text? text: "";
    uint64_t whole = 0, fraction = 0, scale = 1;
    int places = 0;
    if (*p == 0)
        reason = "is empty";
    else
    if (*p == '-')
        reason = "is negative";
    else
    if (s_digits (&p, &whole) < 0)
        reason = "is too large";
    else
    if (p == text)
        reason = "is not a size (a number and a unit such as 24GiB)";
    else
    if (*p == '.') {
        p++;
        places = s_digits (&p, &fraction);
        if (places == 0)
            reason = "is not a size (a number and a unit such as 24GiB)";
        else
        if (places < 0 || places > 6)
            reason = "has more than 6 decimals";
        for (int i = 0; !reason && i < places; i++)
            scale *= 10;
    }
    if (!reason && *p == ' ')
        p++;
    uint64_t unit = 0;
    for (size_t i = 0; !reason && i < sizeof (units) / sizeof (units [0]); i++)
        if (streq (p, units [i].unit))
            unit = units [i].bytes;
    if (!reason && unit == 0)
        reason = "has an unknown unit (B, KiB, MiB, GiB, TiB, kB, MB, GB, TB)";
    if (!reason && unit == 1 && fraction)
        reason = "has a fraction of a byte";
    //  fraction < 10^6 and unit <= 10^12, so the product stays below 2^63
    if (!reason && whole > ((uint64_t) INT64_MAX - fraction * unit / scale) / unit)
        reason = "is too large";
    if (reason) {
        if (reason_p)
            *reason_p = reason;
        return -1;
    }
    *bytes_p = whole * unit + fraction * unit / scale;
    return 0;
}

//  ---------------------------------------------------------------------------
//  Pools

static s_pool_t *
s_find (shic_pools_t *self, const char *name)
{
    for (size_t i = 0; name && i < self->size; i++)
        if (streq (self->pools [i].name, name))
            return &self->pools [i];
    return NULL;
}

//  The NVML index of a "gpuN" name, or -1 for any other name
static int
s_gpu_index (const char *name)
{
    if (strncmp (name, "gpu", 3) != 0)
        return -1;
    const char *p = name + 3;
    uint64_t index = 0;
    int digits = s_digits (&p, &index);
    return digits > 0 && digits < 4 && *p == 0? (int) index: -1;
}

//  Adds a pool with the defaults of its kind (by name); NULL when full
static s_pool_t *
s_add (shic_pools_t *self, const char *name, source_t source, uint64_t capacity)
{
    if (self->size == SHIC_POOLS_MAX)
        return NULL;
    s_pool_t *pool = &self->pools [self->size++];
    memset (pool, 0, sizeof (*pool));
    snprintf (pool->name, sizeof (pool->name), "%s", name);
    pool->source = source;
    pool->capacity = capacity;
    pool->measured_free = SHIC_POOLS_UNKNOWN;
    pool->measured_used = SHIC_POOLS_UNKNOWN;
    if (streq (name, "ram")) {
        pool->measure = MEASURE_MEMINFO;
        pool->overhead = RAM_OVERHEAD;
        pool->margin = RAM_MARGIN;
    }
    else
    if (s_gpu_index (name) >= 0) {
        pool->overhead = GPU_OVERHEAD;
        pool->margin = GPU_MARGIN;
    }
    return pool;
}

//  ---------------------------------------------------------------------------
//  /proc/meminfo

//  Reads "KEY: N kB" of text into *bytes_p; -1 when absent or malformed
static int
s_meminfo_field (const char *text, const char *key, uint64_t *bytes_p)
{
    size_t key_len = strlen (key);
    for (const char *line = text; line && *line; line = strchr (line, '\n'), line = line? line + 1: NULL) {
        if (strncmp (line, key, key_len) != 0 || line [key_len] != ':')
            continue;
        const char *p = line + key_len + 1;
        while (*p == ' ' || *p == '\t')
            p++;
        uint64_t kib;
        if (s_digits (&p, &kib) <= 0 || strncmp (p, " kB", 3) != 0
        ||  (p [3] != '\n' && p [3] != 0) || kib > (uint64_t) INT64_MAX / 1024)
            return -1;
        *bytes_p = kib * 1024;
        return 0;
    }
    return -1;
}

//  Reads MemTotal and MemAvailable; returns 0, or -1 with err set
static int
s_meminfo_read (shic_pools_t *self, uint64_t *total_p, uint64_t *available_p,
                shic_error_t *err)
{
    FILE *file = fopen (self->meminfo_path, "r");
    if (!file) {
        shic_error_set_field (err, SHIC_E_INVALID_ARGS, self->meminfo_path,
                              "%s cannot be read: %s", self->meminfo_path, strerror (errno));
        return -1;
    }
    char *text = (char *) zmalloc (MEMINFO_MAX + 1);
    size_t size = fread (text, 1, MEMINFO_MAX, file);
    fclose (file);
    text [size] = 0;
    int rc = 0;
    if (s_meminfo_field (text, "MemTotal", total_p)
    ||  s_meminfo_field (text, "MemAvailable", available_p)) {
        shic_error_set_field (err, SHIC_E_INVALID_ARGS, self->meminfo_path,
                              "%s has no valid MemTotal and MemAvailable lines (N kB)",
                              self->meminfo_path);
        rc = -1;
    }
    free (text);
    return rc;
}

static void
s_set_measured (s_pool_t *pool, uint64_t free_bytes, uint64_t used_bytes)
{
    pool->measured_free = free_bytes;
    pool->measured_used = used_bytes;
}

//  ---------------------------------------------------------------------------
//  NVML

//  Loads NVML and initializes it; false (nothing held) when it is absent,
//  incomplete or will not initialize: then there are no GPU pools
static bool
s_nvml_open (shic_pools_t *self)
{
    self->nvml = dlopen (self->nvml_path, RTLD_NOW | RTLD_LOCAL);
    if (!self->nvml)
        return false;               //  no NVIDIA driver: the common case
    nvml_void_fn *init = (nvml_void_fn *) dlsym (self->nvml, "nvmlInit_v2");
    self->nvml_shutdown = (nvml_void_fn *) dlsym (self->nvml, "nvmlShutdown");
    self->nvml_count = (nvml_count_fn *) dlsym (self->nvml, "nvmlDeviceGetCount_v2");
    self->nvml_handle = (nvml_handle_fn *) dlsym (self->nvml, "nvmlDeviceGetHandleByIndex_v2");
    self->nvml_memory = (nvml_memory_fn *) dlsym (self->nvml, "nvmlDeviceGetMemoryInfo");
    self->nvml_name = (nvml_name_fn *) dlsym (self->nvml, "nvmlDeviceGetName");
    nvml_return_t rc = -1;
    if (!init || !self->nvml_shutdown || !self->nvml_count || !self->nvml_handle
    ||  !self->nvml_memory || !self->nvml_name)
        zsys_warning ("pools: %s lacks an NVML function; no GPU pools", self->nvml_path);
    else
    if ((rc = init ()) != 0)
        zsys_warning ("pools: nvmlInit_v2 of %s failed (%d); no GPU pools", self->nvml_path, rc);
    if (rc != 0) {
        dlclose (self->nvml);
        self->nvml = NULL;
        return false;
    }
    self->nvml_initialized = true;
    return true;
}

//  The handle of NVML device index, or NULL
static nvml_device_t
s_nvml_device (shic_pools_t *self, unsigned int index)
{
    unsigned int count = 0;
    nvml_device_t device = NULL;
    if (self->nvml_count (&count) != 0 || index >= count
    ||  self->nvml_handle (index, &device) != 0)
        return NULL;
    return device;
}

//  Reads a device's memory; returns NVML's code, or -1 when a count
//  is past what a byte count of ours may be
static nvml_return_t
s_nvml_read (shic_pools_t *self, nvml_device_t device, nvml_memory_t *memory)
{
    const unsigned long long limit = INT64_MAX;
    nvml_return_t rc = self->nvml_memory (device, memory);
    if (rc == 0 && (memory->total > limit || memory->free > limit || memory->used > limit))
        rc = -1;
    return rc;
}

//  Measures one GPU pool; returns 0, or -1 with err set
static int
s_nvml_measure (shic_pools_t *self, s_pool_t *pool, shic_error_t *err)
{
    nvml_memory_t memory = { 0, 0, 0 };
    nvml_return_t rc = s_nvml_read (self, pool->device, &memory);
    if (rc != 0) {
        s_set_measured (pool, SHIC_POOLS_UNKNOWN, SHIC_POOLS_UNKNOWN);
        shic_error_set_field (err, SHIC_E_INVALID_ARGS, self->nvml_path,
                              "nvmlDeviceGetMemoryInfo for pool %s failed (%d)", pool->name, rc);
        return -1;
    }
    s_set_measured (pool, memory.free, memory.used);
    return 0;
}

//  Binds every "gpuN" pool to NVML device N when there is one
static void
s_nvml_bind (shic_pools_t *self)
{
    for (size_t i = 0; i < self->size; i++) {
        s_pool_t *pool = &self->pools [i];
        int index = s_gpu_index (pool->name);
        if (index < 0)
            continue;
        pool->device = s_nvml_device (self, (unsigned int) index);
        if (!pool->device)
            continue;
        pool->measure = MEASURE_NVML;
        if (self->nvml_name (pool->device, pool->device_name, DEVICE_NAME_MAX) != 0)
            pool->device_name [0] = 0;
        pool->device_name [DEVICE_NAME_MAX - 1] = 0;
    }
}

//  ---------------------------------------------------------------------------
//  Loading

//  A pool name: a letter or digit, then letters, digits, '_' and '-'
static bool
s_valid_name (const char *name)
{
    if (!isalnum ((unsigned char) name [0]) || strlen (name) > NAME_MAX_LEN)
        return false;
    for (const char *p = name; *p; p++)
        if (!isalnum ((unsigned char) *p) && *p != '_' && *p != '-')
            return false;
    return true;
}

//  Reads the section's sizes, then its dotted keys; -1 with err set
static int
s_load_config (shic_pools_t *self, zconfig_t *section, const char *prefix, shic_error_t *err)
{
    char field [256];
    //  Which of reserve, overhead, margin each pool had set
    bool set [SHIC_POOLS_MAX][3] = {{ false }};
    for (int pass = 0; pass < 2; pass++)
        for (zconfig_t *item = zconfig_child (section); item; item = zconfig_next (item)) {
            const char *name = zconfig_name (item);
            const char *value = zconfig_value (item);
            const char *dot = strchr (name, '.');
            snprintf (field, sizeof (field), "%s/%s", prefix, name);
            if ((pass == 0) == (dot != NULL))
                continue;           //  sizes first, so dotted keys may come before
            const char *reason = NULL;
            uint64_t bytes = 0;
            if (zconfig_child (item)) {
                shic_error_set_field (err, SHIC_E_INVALID_ARGS, field,
                    "%s takes no sub-keys (write reserve.POOL = SIZE beside it)", field);
                return -1;
            }
            if (shic_pools_parse_size (value, &bytes, &reason)) {
                shic_error_set_field (err, SHIC_E_INVALID_ARGS, field,
                                      "%s = '%s' %s", field, value? value: "", reason);
                return -1;
            }
            if (pass == 0) {
                if (!s_valid_name (name))
                    reason = "is not a pool name (up to 31 letters, digits, '_' and '-')";
                else
                if (s_find (self, name))
                    reason = "is set twice";
                else
                if (bytes == 0)
                    reason = "is a pool of 0 bytes";
                else
                if (!s_add (self, name, SOURCE_CONFIG, bytes))
                    reason = "is one pool too many (64 at most)";
            }
            else {
                const char *kinds [] = { "reserve", "overhead", "margin" };
                int kind = -1;
                for (int k = 0; k < 3; k++)
                    if ((size_t) (dot - name) == strlen (kinds [k])
                    &&  strncmp (name, kinds [k], (size_t) (dot - name)) == 0)
                        kind = k;
                s_pool_t *pool = s_find (self, dot + 1);
                if (kind < 0)
                    reason = "is not a key (reserve.POOL, overhead.POOL or margin.POOL)";
                else
                if (!pool)
                    reason = "names a pool that has no size in this section";
                else
                if (set [pool - self->pools][kind])
                    reason = "is set twice";
                else
                if (bytes > pool->capacity)
                    reason = "is larger than the pool";
                else {
                    set [pool - self->pools][kind] = true;
                    uint64_t *target = kind == 0? &pool->reserve:
                                       kind == 1? &pool->overhead: &pool->margin;
                    *target = bytes;
                }
            }
            if (reason) {
                shic_error_set_field (err, SHIC_E_INVALID_ARGS, field, "%s %s", field, reason);
                return -1;
            }
        }
    if (self->size == 0) {
        shic_error_set_field (err, SHIC_E_INVALID_ARGS, prefix,
                              "%s has no pools (write e.g. gpu0 = 24GiB)", prefix);
        return -1;
    }
    bool gpus = false;
    for (size_t i = 0; i < self->size; i++)
        gpus |= s_gpu_index (self->pools [i].name) >= 0;
    if (gpus && s_nvml_open (self))
        s_nvml_bind (self);
    return 0;
}

//  Finds the pools of the machine: ram, then one per NVIDIA GPU
static int
s_load_machine (shic_pools_t *self, shic_error_t *err)
{
    uint64_t total, available;
    if (s_meminfo_read (self, &total, &available, err))
        return -1;
    s_pool_t *ram = s_add (self, "ram", SOURCE_MEMINFO, total);
    s_set_measured (ram, available, total > available? total - available: 0);
    if (!s_nvml_open (self))
        return 0;
    unsigned int count = 0;
    if (self->nvml_count (&count) != 0)
        count = 0;
    for (unsigned int index = 0; index < count && self->size < SHIC_POOLS_MAX; index++) {
        char name [NAME_MAX_LEN + 1];
        snprintf (name, sizeof (name), "gpu%u", index);
        nvml_memory_t memory = { 0, 0, 0 };
        nvml_device_t device = s_nvml_device (self, index);
        if (!device || s_nvml_read (self, device, &memory) != 0 || memory.total == 0) {
            zsys_warning ("pools: NVML device %u cannot be read; no pool %s", index, name);
            continue;
        }
        s_set_measured (s_add (self, name, SOURCE_NVML, memory.total), memory.free, memory.used);
    }
    s_nvml_bind (self);
    return 0;
}

int
shic_pools_load (shic_pools_t *self, zconfig_t *config, shic_error_t *err)
{
    assert (!self->loaded);
    self->loaded = true;
    const char *prefixes [] = { "runtime/resources", "shicd/resources" };
    for (int i = 0; i < 2; i++) {
        zconfig_t *section = config? zconfig_locate (config, prefixes [i]): NULL;
        if (section)
            return s_load_config (self, section, prefixes [i], err);
    }
    return s_load_machine (self, err);
}

int
shic_pools_measure (shic_pools_t *self, shic_error_t *err)
{
    int rc = 0;
    shic_error_t first = { NULL, NULL, NULL };
    for (size_t i = 0; i < self->size; i++) {
        s_pool_t *pool = &self->pools [i];
        shic_error_t problem = { NULL, NULL, NULL };
        if (pool->measure == MEASURE_MEMINFO) {
            uint64_t total, available;
            if (s_meminfo_read (self, &total, &available, &problem) == 0)
                s_set_measured (pool, available, total > available? total - available: 0);
            else
                s_set_measured (pool, SHIC_POOLS_UNKNOWN, SHIC_POOLS_UNKNOWN);
        }
        else
        if (pool->measure == MEASURE_NVML)
            s_nvml_measure (self, pool, &problem);
        if (problem.code) {
            rc = -1;
            if (!first.code)
                shic_error_move (&first, &problem);
            shic_error_clear (&problem);
        }
    }
    if (rc)
        shic_error_move (err, &first);
    return rc;
}

//  ---------------------------------------------------------------------------
//  Accounting

int
shic_pools_charge (shic_pools_t *self, const char *pool_name, uint64_t bytes)
{
    s_pool_t *pool = s_find (self, pool_name);
    if (!pool || bytes > (uint64_t) INT64_MAX - pool->reserved)
        return -1;
    pool->reserved += bytes;
    return 0;
}

int
shic_pools_uncharge (shic_pools_t *self, const char *pool_name, uint64_t bytes)
{
    s_pool_t *pool = s_find (self, pool_name);
    if (!pool)
        return -1;
    if (bytes > pool->reserved) {
        pool->reserved = 0;
        return -1;
    }
    pool->reserved -= bytes;
    return 0;
}

size_t
shic_pools_size (shic_pools_t *self)
{
    return self->size;
}

const char *
shic_pools_name (shic_pools_t *self, size_t index)
{
    return index < self->size? self->pools [index].name: NULL;
}

const char *
shic_pools_source (shic_pools_t *self, const char *pool_name)
{
    s_pool_t *pool = s_find (self, pool_name);
    return pool? s_source_names [pool->source]: NULL;
}

//  One accessor per field; an unknown pool reads as dflt
#define S_FIELD(field, dflt) \
    uint64_t shic_pools_##field (shic_pools_t *self, const char *pool_name) \
    { \
        s_pool_t *pool = s_find (self, pool_name); \
        return pool? pool->field: dflt; \
    }

S_FIELD (capacity, 0)
S_FIELD (reserve, 0)
S_FIELD (overhead, 0)
S_FIELD (margin, 0)
S_FIELD (reserved, 0)
S_FIELD (measured_free, SHIC_POOLS_UNKNOWN)

static uint64_t
s_minus (uint64_t a, uint64_t b)
{
    return a > b? a - b: 0;
}

uint64_t
shic_pools_used (shic_pools_t *self, const char *pool_name)
{
    s_pool_t *pool = s_find (self, pool_name);
    if (!pool)
        return 0;
    return pool->measured_used != SHIC_POOLS_UNKNOWN? pool->measured_used: pool->reserved;
}

uint64_t
shic_pools_free (shic_pools_t *self, const char *pool_name)
{
    s_pool_t *pool = s_find (self, pool_name);
    if (!pool)
        return 0;
    uint64_t free_bytes = s_minus (s_minus (pool->capacity, pool->reserve), pool->reserved);
    if (pool->measured_free != SHIC_POOLS_UNKNOWN) {
        uint64_t measured = s_minus (pool->measured_free, pool->margin);
        if (measured < free_bytes)
            free_bytes = measured;
    }
    return free_bytes;
}

shic_val_t *
shic_pools_to_val (shic_pools_t *self)
{
    shic_val_t *list = shic_val_new_array ();
    for (size_t i = 0; list && i < self->size; i++) {
        s_pool_t *pool = &self->pools [i];
        shic_val_t *item = shic_val_new_map ();
        int rc = item? 0: -1;
        rc |= shic_val_set_str (item, "pool", pool->name);
        rc |= shic_val_set_str (item, "source", s_source_names [pool->source]);
        if (*pool->device_name)
            rc |= shic_val_set_str (item, "device", pool->device_name);
        else
            rc |= shic_val_set_nil (item, "device");
        rc |= shic_val_set_int (item, "capacity_bytes", (int64_t) pool->capacity);
        rc |= shic_val_set_int (item, "reserve_bytes", (int64_t) pool->reserve);
        rc |= shic_val_set_int (item, "overhead_bytes", (int64_t) pool->overhead);
        rc |= shic_val_set_int (item, "margin_bytes", (int64_t) pool->margin);
        rc |= shic_val_set_int (item, "reserved_bytes", (int64_t) pool->reserved);
        rc |= shic_val_set_int (item, "used_bytes", (int64_t) shic_pools_used (self, pool->name));
        rc |= shic_val_set_int (item, "free_bytes", (int64_t) shic_pools_free (self, pool->name));
        if (pool->measured_free != SHIC_POOLS_UNKNOWN)
            rc |= shic_val_set_int (item, "measured_free_bytes", (int64_t) pool->measured_free);
        else
            rc |= shic_val_set_nil (item, "measured_free_bytes");
        if (rc || shic_val_push (list, &item)) {
            shic_val_destroy (&item);
            shic_val_destroy (&list);
        }
    }
    return list;
}
