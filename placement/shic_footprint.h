/*  =========================================================================
    shic_footprint - how much memory a llama-server will take for a model,
    estimated from its GGUF header, and read back from the server's log

    A pure function of the header and the launch settings, for placement to
    decide whether a model fits before it starts anything. The numbers are
    llama.cpp's own buffers, as llama-server b4748 sizes them:

    n_ctx   = ctx_size (0: the model's context_length), padded up to 32
              (256 with flash attention): the whole context, shared by the
              -np slots, so -np does not grow the KV cache in this build
    b       = min(n_ctx, batch, ubatch): the tokens of the worst-case graph
    E, V    = embedding_length, vocabulary size; H(l), Hkv(l) heads and KV
              heads of layer l; dk, dv key and value lengths per head
    on device: layer l when gpu and l >= n_layer - gpu_layers; the output
              (output.weight, output_norm) when gpu and gpu_layers >
              n_layer or -1 (llama.cpp counts the output as one more layer)

    weights = bytes of the tensors from their ggml block sizes (exact, the
              header says them): device gets its layers (+ the output; a
              tied output counts token_embd in its place); host keeps
              token_embd always, and everything not on the device
    kv      = sum over layers of n_ctx * (row(type_k, Hkv(l)*dk) +
              row(type_v, Hkv(l)*dv)), where row() is the ggml size of a
              row of that cache type (f16: 2 bytes an element); each
              layer's share where the layer is (offload_kqv default)
    compute = the graph of Ollama's GraphSize for the llama family, full
              offload: max(4b(1 + 4E + n_ctx(1 + H)), 4b(E + V)). Its n_ctx
              terms are derived: the f32 KQ mask (4 b n_ctx) and the f32
              attention scores (4 b n_ctx H), the largest tensors of the
              graph, live at the same time; with flash attention there are
              no scores but an f16 copy of the mask: 6 b n_ctx instead. The
              16bE + 4b rest (activations) is a fit, checked only against
              the four tiny llama models of ../shared/llama (within 0.01
              MiB at -c 300..4096, -ub 128..512, -np 1..4, -fa), not against
              larger models or other architectures. Partial offload (0 <
              gpu_layers < all): the device takes Ollama's partial formula
              4bE + max(4b(1 + E + max(n_ctx, E)) + E*E*9/16 + 4 n_ctx(b H +
              dk Hkv), 4b(E + V) + E*V*105/128) and the host the full-graph
              formula; the host side of a full offload is taken as 4b(E +
              V) (inputs and logits). The GPU cases are uncalibrated: no
              GPU was at hand.
    overhead = the pool's per-process cost, given in the settings (a CUDA
              context costs hundreds of MiB, a CPU process little), plus on
              the host the logits output buffer, 4 V max(1, parallel)
    total   = weights + kv + compute + overhead, per side

    With gpu false (a CPU build, or a CPU pool) everything is on the host
    and the device side is zero.
    =========================================================================
*/

#ifndef SHIC_FOOTPRINT_H_INCLUDED
#define SHIC_FOOTPRINT_H_INCLUDED

#include "shic_gguf.h"

#ifdef __cplusplus
extern "C" {
#endif

//  ggml type numbers of the KV cache types llama-server accepts (-ctk/-ctv)
#define SHIC_FOOTPRINT_CACHE_F32   0
#define SHIC_FOOTPRINT_CACHE_F16   1
#define SHIC_FOOTPRINT_CACHE_Q4_0  2
#define SHIC_FOOTPRINT_CACHE_Q4_1  3
#define SHIC_FOOTPRINT_CACHE_Q5_0  6
#define SHIC_FOOTPRINT_CACHE_Q5_1  7
#define SHIC_FOOTPRINT_CACHE_Q8_0  8
#define SHIC_FOOTPRINT_CACHE_IQ4_NL 20
#define SHIC_FOOTPRINT_CACHE_BF16  30

//  How the server will be launched
typedef struct {
    uint32_t ctx_size;              //  -c; 0 = the model's context_length
    uint32_t parallel;              //  -np; 0 counts as 1
    int32_t gpu_layers;             //  -ngl; -1 = all, output included
    bool gpu;                       //  an accelerator build; false: all on the host
    bool flash_attn;                //  -fa
    uint32_t cache_type_k;          //  ggml type of the K cache (f16 default)
    uint32_t cache_type_v;          //  ggml type of the V cache (f16 default)
    uint32_t batch;                 //  -b (2048 default)
    uint32_t ubatch;                //  -ub (512 default)
    uint64_t device_overhead;       //  the device pool's per-process bytes
    uint64_t host_overhead;         //  the host pool's per-process bytes
} shic_footprint_settings_t;

//  Bytes on one side (device or host)
typedef struct {
    uint64_t weights_bytes;         //  model buffers
    uint64_t kv_bytes;              //  KV cache buffers
    uint64_t compute_bytes;         //  compute graph buffers
    uint64_t overhead_bytes;        //  per process, and the output buffer
    uint64_t total_bytes;           //  the sum of the four
} shic_footprint_part_t;

typedef struct {
    shic_footprint_part_t device;   //  accelerator memory (zero without gpu)
    shic_footprint_part_t host;     //  RAM
} shic_footprint_t;

//  llama-server b4748's defaults: -c 0, -np 1, -ngl -1, no gpu, f16
//  caches, -b 2048, -ub 512, no flash attention, no overhead
void shic_footprint_settings_default (shic_footprint_settings_t *settings);

//  Estimates the footprint of gguf under settings. Returns 0, or -1 with
//  err set (invalid_args, details {field, reason}) when the header lacks
//  what the formulas need or a setting is out of range.
int shic_footprint_estimate (const shic_gguf_t *gguf,
                             const shic_footprint_settings_t *settings,
                             shic_footprint_t *footprint, shic_error_t *err);

//  The buffers llama-server reports on stderr
typedef enum {
    SHIC_FOOTPRINT_NONE = 0,        //  not a buffer line
    SHIC_FOOTPRINT_MODEL,           //  "<dev> model buffer size = N MiB"
    SHIC_FOOTPRINT_KV,              //  "<dev> KV buffer size" (and RS, recurrent state)
    SHIC_FOOTPRINT_COMPUTE,         //  "<dev> compute buffer size"
    SHIC_FOOTPRINT_OUTPUT           //  "<dev> output buffer size"
} shic_footprint_buffer_t;

//  Reads one line of llama-server's log, e.g. "llama_kv_cache_init:
//  CUDA0 KV buffer size =   512.00 MiB". Returns the buffer it reports,
//  with its size in MiB in *mib and its device ("CPU", "CPU_Mapped",
//  "CUDA0", "CUDA_Host", ...) copied into device (device_size bytes,
//  NUL-terminated; may be NULL); SHIC_FOOTPRINT_NONE for any other line.
shic_footprint_buffer_t shic_footprint_parse_line (const char *line, char *device,
                                                   size_t device_size, double *mib);
//  True when a buffer on that device lives in host RAM (CPU, CPU_Mapped,
//  CPU_REPACK, CUDA_Host, ...)
bool shic_footprint_device_is_host (const char *device);
//  Adds a buffer line's size to measured, on the side its device is on
//  (model to weights, KV to kv, compute to compute, output to overhead),
//  and updates the totals. Returns the buffer, as parse_line does.
shic_footprint_buffer_t shic_footprint_add_line (shic_footprint_t *measured, const char *line);

#ifdef __cplusplus
}
#endif

#endif
