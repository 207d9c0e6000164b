/*  =========================================================================
    shic_footprint - memory of a llama-server for a model: estimated from
    the GGUF header, and read back from the server's buffer lines

    The formulas and what is derived versus fitted are in the header. All
    arithmetic is in uint64 with saturation: a hostile header with absurd
    dimensions gives an absurd (never-fitting) footprint, not a wrapped
    small one.
    =========================================================================
*/

#include <czmq.h>
#include "shic_footprint.h"

//  Saturating arithmetic: a footprint that overflows is "more than any pool"
static uint64_t
s_add (uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b? UINT64_MAX: a + b;
}

static uint64_t
s_mul (uint64_t a, uint64_t b)
{
    return a && b > UINT64_MAX / a? UINT64_MAX: a * b;
}

static uint64_t
s_max (uint64_t a, uint64_t b)
{
    return a > b? a: b;
}

static uint64_t
s_min (uint64_t a, uint64_t b)
{
    return a < b? a: b;
}

static void
s_total (shic_footprint_part_t *part)
{
    part->total_bytes = s_add (s_add (part->weights_bytes, part->kv_bytes),
                               s_add (part->compute_bytes, part->overhead_bytes));
}

static int
s_refuse (shic_error_t *err, const char *field, const char *reason, const char *what)
{
    shic_val_t *details = shic_val_new_map ();
    if (details) {
        shic_val_set_str (details, "field", field);
        shic_val_set_str (details, "reason", reason);
    }
    shic_error_set (err, SHIC_E_INVALID_ARGS, &details,
                    "Cannot estimate the model's memory: %s.", what);
    return -1;
}

void
shic_footprint_settings_default (shic_footprint_settings_t *settings)
{
    assert (settings);
    memset (settings, 0, sizeof (*settings));
    settings->parallel = 1;
    settings->gpu_layers = -1;
    settings->cache_type_k = SHIC_FOOTPRINT_CACHE_F16;
    settings->cache_type_v = SHIC_FOOTPRINT_CACHE_F16;
    settings->batch = 2048;
    settings->ubatch = 512;
}

//  Ollama's full-offload graph: max(4b(1 + 4E + n_ctx(1 + H)), 4b(E + V));
//  with flash attention b4748 keeps the f32 mask and an f16 copy of it
//  instead of the scores: 4b(1 + 4E) + 6 b n_ctx
static uint64_t
s_graph_full (uint64_t b, uint64_t n_ctx, uint64_t E, uint64_t H, uint64_t V, bool flash)
{
    uint64_t graph = s_mul (s_mul (4, b), s_add (1, s_mul (4, E)));
    if (flash)
        graph = s_add (graph, s_mul (s_mul (6, b), n_ctx));
    else
        graph = s_add (graph, s_mul (s_mul (4, b), s_mul (n_ctx, s_add (1, H))));
    return s_max (graph, s_mul (s_mul (4, b), s_add (E, V)));
}

//  Ollama's partial-offload graph: 4bE + max(4b(1 + E + max(n_ctx, E)) +
//  E^2 9/16 + 4 n_ctx (b H + dk Hkv), 4b(E + V) + E V 105/128)
static uint64_t
s_graph_partial (uint64_t b, uint64_t n_ctx, uint64_t E, uint64_t H, uint64_t Hkv,
                 uint64_t dk, uint64_t V, bool flash)
{
    uint64_t attention = s_mul (s_mul (4, b), s_add (s_add (1, E), s_max (n_ctx, E)));
    attention = s_add (attention, s_mul (E, E) / 16 * 9);
    uint64_t scores = s_add (flash? 0: s_mul (b, H), s_mul (dk, Hkv));
    attention = s_add (attention, s_mul (s_mul (4, n_ctx), scores));
    uint64_t logits = s_add (s_mul (s_mul (4, b), s_add (E, V)), s_mul (E, V) / 128 * 105);
    return s_add (s_mul (s_mul (4, b), E), s_max (attention, logits));
}

int
shic_footprint_estimate (const shic_gguf_t *gguf,
                         const shic_footprint_settings_t *settings,
                         shic_footprint_t *footprint, shic_error_t *err)
{
    assert (gguf);
    assert (settings);
    assert (footprint);
    memset (footprint, 0, sizeof (*footprint));
    uint64_t n_layer = shic_gguf_block_count (gguf);
    uint64_t E = shic_gguf_embedding_length (gguf);
    uint64_t H = shic_gguf_head_count (gguf, 0);
    uint64_t V = shic_gguf_vocab_size (gguf);
    uint64_t dk = shic_gguf_key_length (gguf);
    uint64_t dv = shic_gguf_value_length (gguf);
    if (!shic_gguf_architecture (gguf))
        return s_refuse (err, "model", "no_architecture", "the header names no architecture");
    //  The largest models have a few hundred layers; more is a hostile header
    if (!n_layer || n_layer > 65536 || !E || !H)
        return s_refuse (err, "model", "no_shape",
                         "the header lacks block_count, embedding_length or head_count");
    if (settings->gpu_layers < -1)
        return s_refuse (err, "gpu_layers", "out_of_range", "gpu_layers is below -1");
    if (!shic_gguf_type_name (settings->cache_type_k)
    ||  !shic_gguf_type_name (settings->cache_type_v))
        return s_refuse (err, "cache_type", "unknown_type", "the cache type is unknown");

    //  llama.cpp pads the context to what its KV cache steps by
    uint64_t n_ctx = settings->ctx_size? settings->ctx_size: shic_gguf_context_length (gguf);
    if (!n_ctx)
        return s_refuse (err, "ctx_size", "no_context", "no ctx_size and no context_length");
    uint64_t pad = settings->flash_attn? 256: 32;
    n_ctx = s_add (n_ctx, pad - 1) / pad * pad;
    uint64_t batch = settings->batch? settings->batch: 2048;
    uint64_t ubatch = settings->ubatch? settings->ubatch: 512;
    uint64_t b = s_min (n_ctx, s_min (batch, ubatch));
    uint64_t slots = settings->parallel? settings->parallel: 1;

    //  Which layers the device holds: llama.cpp offloads the last ones
    uint64_t offloaded = 0;
    bool output_on_device = false;
    if (settings->gpu) {
        uint64_t wanted = settings->gpu_layers < 0? n_layer + 1: (uint64_t) settings->gpu_layers;
        offloaded = s_min (wanted, n_layer);
        output_on_device = wanted > n_layer;
    }
    uint64_t first_on_device = n_layer - offloaded;
    shic_footprint_part_t *device = &footprint->device;
    shic_footprint_part_t *host = &footprint->host;

    //  Weights, from the header's tensor sizes
    for (size_t index = 0; index < shic_gguf_tensor_count (gguf); index++) {
        const shic_gguf_tensor_t *tensor = shic_gguf_tensor (gguf, index);
        bool on_device =
            tensor->part == SHIC_GGUF_PART_LAYER? (uint64_t) tensor->layer >= first_on_device
                                                 && (uint64_t) tensor->layer < n_layer
                                                 && offloaded > 0:
            tensor->part == SHIC_GGUF_PART_INPUT? false:
            output_on_device;
        shic_footprint_part_t *side = on_device? device: host;
        side->weights_bytes = s_add (side->weights_bytes, tensor->bytes);
    }
    //  A tied output is token_embd loaded a second time, on the device
    const shic_gguf_tensor_t *embd = shic_gguf_tensor_find (gguf, "token_embd.weight");
    if (output_on_device && shic_gguf_output_tied (gguf) && embd)
        device->weights_bytes = s_add (device->weights_bytes, embd->bytes);

    //  KV cache, per layer where the layer is
    for (uint64_t layer = 0; layer < n_layer; layer++) {
        uint64_t heads_kv = shic_gguf_head_count_kv (gguf, (uint32_t) layer);
        uint64_t k_row = shic_gguf_row_bytes (settings->cache_type_k, s_mul (heads_kv, dk));
        uint64_t v_row = shic_gguf_row_bytes (settings->cache_type_v, s_mul (heads_kv, dv));
        uint64_t bytes = s_mul (n_ctx, s_add (k_row, v_row));
        shic_footprint_part_t *side = layer >= first_on_device && offloaded? device: host;
        side->kv_bytes = s_add (side->kv_bytes, bytes);
    }

    //  Compute graph
    uint64_t H_kv = shic_gguf_head_count_kv (gguf, 0);
    uint64_t full = s_graph_full (b, n_ctx, E, H, V, settings->flash_attn);
    if (!settings->gpu || offloaded == 0)
        host->compute_bytes = full;
    else
    if (offloaded == n_layer && output_on_device) {
        device->compute_bytes = full;
        host->compute_bytes = s_mul (s_mul (4, b), s_add (E, V));
    }
    else {
        device->compute_bytes = s_graph_partial (b, n_ctx, E, H, H_kv, dk, V,
                                                 settings->flash_attn);
        host->compute_bytes = full;
    }

    //  Per-process overhead, and the logits buffer on the host
    if (device->weights_bytes || device->kv_bytes || device->compute_bytes)
        device->overhead_bytes = settings->device_overhead;
    host->overhead_bytes = s_add (settings->host_overhead, s_mul (s_mul (4, V), slots));
    s_total (device);
    s_total (host);
    return 0;
}

shic_footprint_buffer_t
shic_footprint_parse_line (const char *line, char *device, size_t device_size, double *mib)
{
    if (device && device_size)
        *device = 0;
    if (!line)
        return SHIC_FOOTPRINT_NONE;
    const char *marker = strstr (line, " buffer size = ");
    if (!marker)
        marker = strstr (line, " buffer size =");
    if (!marker)
        return SHIC_FOOTPRINT_NONE;
    //  The value: a decimal number and "MiB"
    const char *value = marker + strlen (" buffer size =");
    while (*value == ' ')
        value++;
    char *end = NULL;
    errno = 0;
    double size = strtod (value, &end);
    if (end == value || errno || !(size >= 0) || size > 1e12)
        return SHIC_FOOTPRINT_NONE;
    while (*end == ' ')
        end++;
    if (strncmp (end, "MiB", 3) != 0)
        return SHIC_FOOTPRINT_NONE;
    //  The words before the marker: "<device> <kind>" or just "<device>"
    //  (older builds said "CPU buffer size" for the model)
    const char *words_end = marker;
    const char *kind_start = words_end;
    while (kind_start > line && kind_start [-1] != ' ' && kind_start [-1] != ':')
        kind_start--;
    size_t kind_length = (size_t) (words_end - kind_start);
    if (kind_length == 0)
        return SHIC_FOOTPRINT_NONE;
    shic_footprint_buffer_t buffer = SHIC_FOOTPRINT_NONE;
    const char *device_end = kind_start;
    if (kind_length == 5 && strncmp (kind_start, "model", 5) == 0)
        buffer = SHIC_FOOTPRINT_MODEL;
    else
    if ((kind_length == 2 && strncmp (kind_start, "KV", 2) == 0)
    ||  (kind_length == 2 && strncmp (kind_start, "RS", 2) == 0))
        buffer = SHIC_FOOTPRINT_KV;
    else
    if (kind_length == 7 && strncmp (kind_start, "compute", 7) == 0)
        buffer = SHIC_FOOTPRINT_COMPUTE;
    else
    if (kind_length == 6 && strncmp (kind_start, "output", 6) == 0)
        buffer = SHIC_FOOTPRINT_OUTPUT;
    else {
        buffer = SHIC_FOOTPRINT_MODEL;
        device_end = words_end;
    }
    //  The device word ends where the kind starts, after any spaces
    while (device_end > line && device_end [-1] == ' ')
        device_end--;
    const char *device_start = device_end;
    while (device_start > line && device_start [-1] != ' ' && device_start [-1] != ':')
        device_start--;
    if (device_start == device_end)
        return SHIC_FOOTPRINT_NONE;
    if (device && device_size) {
        size_t length = (size_t) (device_end - device_start);
        if (length >= device_size)
            length = device_size - 1;
        memcpy (device, device_start, length);
        device [length] = 0;
    }
    if (mib)
        *mib = size;
    return buffer;
}

bool
shic_footprint_device_is_host (const char *device)
{
    return device && (strncmp (device, "CPU", 3) == 0 || strstr (device, "_Host") != NULL);
}

shic_footprint_buffer_t
shic_footprint_add_line (shic_footprint_t *measured, const char *line)
{
    assert (measured);
    char device [64];
    double mib = 0;
    shic_footprint_buffer_t buffer = shic_footprint_parse_line (line, device, sizeof (device), &mib);
    if (buffer == SHIC_FOOTPRINT_NONE)
        return buffer;
    shic_footprint_part_t *side = shic_footprint_device_is_host (device)?
                                  &measured->host: &measured->device;
    uint64_t bytes = (uint64_t) (mib * 1024 * 1024 + 0.5);
    uint64_t *slot = buffer == SHIC_FOOTPRINT_MODEL? &side->weights_bytes:
                     buffer == SHIC_FOOTPRINT_KV? &side->kv_bytes:
                     buffer == SHIC_FOOTPRINT_COMPUTE? &side->compute_bytes:
                     &side->overhead_bytes;
    *slot = s_add (*slot, bytes);
    s_total (side);
    return buffer;
}
