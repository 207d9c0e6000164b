/*  =========================================================================
    fake_nvml - a stand-in for libnvidia-ml.so.1 with two GPUs, for the
    pools test on machines without an NVIDIA driver

    Exports the NVML functions shic_pools looks up, with NVML's calling
    conventions. Each answer is read from the environment at the moment of
    the call, so that a test can change a GPU's free memory between two
    measures:
        FAKE_NVML_TOTAL0, FAKE_NVML_TOTAL1   bytes (default 24 GiB, 8 GiB)
        FAKE_NVML_FREE0, FAKE_NVML_FREE1     bytes (default: the total)
        FAKE_NVML_FAIL_INIT=1                nvmlInit_v2 fails
        FAKE_NVML_FAIL_MEMORY=1              nvmlDeviceGetMemoryInfo fails
    =========================================================================
*/

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAKE_DEVICES  2
#define NVML_SUCCESS  0
#define NVML_ERROR_UNINITIALIZED  1
#define NVML_ERROR_INVALID_ARGUMENT  2
#define NVML_ERROR_UNKNOWN  999

typedef struct {
    unsigned int index;             //  which fake GPU
} fake_device_t;

typedef struct {
    unsigned long long total;       //  as nvmlMemory_t (v1)
    unsigned long long free;        //  unallocated
    unsigned long long used;        //  allocated
} fake_memory_t;

static fake_device_t s_devices [FAKE_DEVICES] = { { 0 }, { 1 } };
static int s_initialized;           //  nvmlInit_v2 calls not yet shut down

static unsigned long long
s_env (const char *name, unsigned int index, unsigned long long dflt)
{
    char key [64];
    snprintf (key, sizeof (key), "%s%u", name, index);
    const char *value = getenv (key);
    return value && *value? strtoull (value, NULL, 10): dflt;
}

static int
s_flag (const char *name)
{
    const char *value = getenv (name);
    return value && strcmp (value, "1") == 0;
}

int
nvmlInit_v2 (void)
{
    if (s_flag ("FAKE_NVML_FAIL_INIT"))
        return NVML_ERROR_UNKNOWN;
    s_initialized++;
    return NVML_SUCCESS;
}

int
nvmlShutdown (void)
{
    if (s_initialized == 0)
        return NVML_ERROR_UNINITIALIZED;
    s_initialized--;
    return NVML_SUCCESS;
}

int
nvmlDeviceGetCount_v2 (unsigned int *count)
{
    if (!s_initialized)
        return NVML_ERROR_UNINITIALIZED;
    *count = FAKE_DEVICES;
    return NVML_SUCCESS;
}

int
nvmlDeviceGetHandleByIndex_v2 (unsigned int index, void **device)
{
    if (!s_initialized)
        return NVML_ERROR_UNINITIALIZED;
    if (index >= FAKE_DEVICES)
        return NVML_ERROR_INVALID_ARGUMENT;
    *device = &s_devices [index];
    return NVML_SUCCESS;
}

int
nvmlDeviceGetMemoryInfo (void *device, fake_memory_t *memory)
{
    fake_device_t *fake = (fake_device_t *) device;
    if (!s_initialized)
        return NVML_ERROR_UNINITIALIZED;
    if (fake != &s_devices [0] && fake != &s_devices [1])
        return NVML_ERROR_INVALID_ARGUMENT;
    if (s_flag ("FAKE_NVML_FAIL_MEMORY"))
        return NVML_ERROR_UNKNOWN;
    unsigned long long gib = 1024ULL * 1024 * 1024;
    memory->total = s_env ("FAKE_NVML_TOTAL", fake->index, fake->index == 0? 24 * gib: 8 * gib);
    memory->free = s_env ("FAKE_NVML_FREE", fake->index, memory->total);
    memory->used = memory->total > memory->free? memory->total - memory->free: 0;
    return NVML_SUCCESS;
}

int
nvmlDeviceGetName (void *device, char *name, unsigned int length)
{
    fake_device_t *fake = (fake_device_t *) device;
    if (!s_initialized)
        return NVML_ERROR_UNINITIALIZED;
    snprintf (name, length, "Fake GPU %u", fake->index);
    return NVML_SUCCESS;
}
