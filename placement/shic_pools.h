/*  =========================================================================
    shic_pools - the node's memory pools: what each can hold, what is
    charged to it, and what is really free

    A pool is a named amount of memory that models are placed into: a GPU's
    VRAM ("gpu0") or the host's RAM ("ram"). Pools come from the section
    resources of the configuration, or, without it, from the machine:
    "ram" from /proc/meminfo and one "gpuN" per NVIDIA GPU when NVML
    (libnvidia-ml.so.1) can be loaded at run time. There is no build
    dependency on NVML: the few functions used are looked up with dlsym.

    The accounting is pure: the caller charges and uncharges footprints;
    only shic_pools_load and shic_pools_measure read the system. Free
    memory is never optimistic: the smaller of what the accounting leaves
    and what the system measures (less a margin), so that memory taken by
    other programs, or not yet given back by a stopped server, counts.
    =========================================================================
*/

#ifndef SHIC_POOLS_H_INCLUDED
#define SHIC_POOLS_H_INCLUDED

#include "shic.h"

#ifdef __cplusplus
extern "C" {
#endif

//  A measurement that is not known (never measured, no source, or failed)
#define SHIC_POOLS_UNKNOWN   UINT64_MAX
//  Pools a node may have; more in the configuration is an error
#define SHIC_POOLS_MAX       64

typedef struct _shic_pools_t shic_pools_t;

//  An empty set of pools; fill it with shic_pools_load
shic_pools_t *shic_pools_new (void);
void shic_pools_destroy (shic_pools_t **self_p);

//  Where to read the host's memory (default /proc/meminfo); for tests.
//  Call before shic_pools_load.
void shic_pools_set_meminfo (shic_pools_t *self, const char *path);
//  The NVML library to dlopen (default: $SHIC_NVML_LIBRARY, else
//  libnvidia-ml.so.1); for tests. Call before shic_pools_load.
void shic_pools_set_nvml_library (shic_pools_t *self, const char *path);

//  Makes the pools, once: from runtime/resources, else shicd/resources,
//  of config (borrowed, may be NULL); without either section, from the
//  machine. A configured "ram" is measured from meminfo and a configured
//  "gpuN" from NVML device N when there is one; other configured pools are
//  never measured. Discovered pools come measured; configured ones stay
//  unknown until shic_pools_measure. Returns 0, or -1 with err set:
//  invalid_args with details {field} naming the key (or the system file).
int shic_pools_load (shic_pools_t *self, zconfig_t *config, shic_error_t *err);

//  Reads the measured free memory of every measurable pool again (meminfo,
//  NVML). Not for a hot path. A pool whose reading fails becomes unknown.
//  Returns 0, or -1 with err set (the first failure) when any failed.
int shic_pools_measure (shic_pools_t *self, shic_error_t *err);

//  Adds bytes to what the caller has charged to pool (footprints of the
//  instances placed there). Returns 0, or -1 (nothing charged) when the
//  pool is unknown or the sum would overflow.
int shic_pools_charge (shic_pools_t *self, const char *pool, uint64_t bytes);
//  Takes bytes back; the charge never goes below zero. Returns 0, or -1
//  when the pool is unknown or bytes exceeded the charge (which is then 0).
int shic_pools_uncharge (shic_pools_t *self, const char *pool, uint64_t bytes);

//  The pools, in configuration order ("ram" first, then "gpu0"... when
//  discovered); name is borrowed, NULL past the end
size_t shic_pools_size (shic_pools_t *self);
const char *shic_pools_name (shic_pools_t *self, size_t index);

//  Per pool, by name. Unknown pools give 0 (measured: SHIC_POOLS_UNKNOWN,
//  source: NULL).
//  Where the capacity came from: "config", "meminfo" or "nvml"
const char *shic_pools_source (shic_pools_t *self, const char *pool);
uint64_t shic_pools_capacity (shic_pools_t *self, const char *pool);
//  Kept free for others, never placed into
uint64_t shic_pools_reserve (shic_pools_t *self, const char *pool);
//  What each server process costs the pool beyond its model (CUDA context)
uint64_t shic_pools_overhead (shic_pools_t *self, const char *pool);
//  Subtracted from the measured free memory
uint64_t shic_pools_margin (shic_pools_t *self, const char *pool);
//  The sum of the charges
uint64_t shic_pools_reserved (shic_pools_t *self, const char *pool);
//  Free memory at the last measure, or SHIC_POOLS_UNKNOWN
uint64_t shic_pools_measured_free (shic_pools_t *self, const char *pool);
//  Memory in use: as measured (by anyone) when known, else the charges
uint64_t shic_pools_used (shic_pools_t *self, const char *pool);
//  What may still be placed: min (capacity - reserve - reserved,
//  measured free - margin), the second term only when measured; never
//  below 0
uint64_t shic_pools_free (shic_pools_t *self, const char *pool);

//  [{pool, source, device, capacity_bytes, reserve_bytes, overhead_bytes,
//  margin_bytes, reserved_bytes, used_bytes, free_bytes,
//  measured_free_bytes}], device and measured_free_bytes nil when
//  unknown; fresh. For the resources op.
shic_val_t *shic_pools_to_val (shic_pools_t *self);

//  Parses a size: a whole or decimal number, an optional space, and an
//  optional unit: B, KiB, MiB, GiB, TiB (powers of 1024) or kB (also KB),
//  MB, GB, TB (powers of 1000). No unit means bytes. The result is rounded
//  down to a whole byte and is at most INT64_MAX. Returns 0, or -1 with
//  *reason_p (may be NULL) set to a static phrase.
int shic_pools_parse_size (const char *text, uint64_t *bytes_p, const char **reason_p);

//  Self test (tests/shic_pools_test.c: it needs the fake NVML library)
void shic_pools_test (bool verbose);

#ifdef __cplusplus
}
#endif

#endif
