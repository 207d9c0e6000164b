/*  =========================================================================
    fuzz_gguf - libFuzzer target: the GGUF header reader and the estimator

    One input is the first bytes of a GGUF file. It goes through
    shic_gguf_new_from_buffer; a header that parses has every accessor read
    and every tensor visited, then is estimated under a few launch settings
    (CPU, full and partial GPU offload, flash attention, quantized caches).
    The input is also read line by line as a llama-server log. Nothing here
    may crash, leak or trip UBSan on any input.
    =========================================================================
*/

#include <czmq.h>
#include "shic_gguf.h"
#include "shic_footprint.h"

static void
s_read_all (const shic_gguf_t *gguf)
{
    uint64_t sum = 0;
    const char *arch = shic_gguf_architecture (gguf);
    if (arch)
        sum += strlen (arch);
    sum += shic_gguf_block_count (gguf) + shic_gguf_embedding_length (gguf)
         + shic_gguf_context_length (gguf) + shic_gguf_feed_forward_length (gguf)
         + shic_gguf_key_length (gguf) + shic_gguf_value_length (gguf)
         + shic_gguf_vocab_size (gguf) + shic_gguf_data_offset (gguf);
    for (uint32_t layer = 0; layer < 4; layer++)
        sum += shic_gguf_head_count (gguf, layer) + shic_gguf_head_count_kv (gguf, layer)
             + shic_gguf_layer_bytes (gguf, layer);
    uint64_t weights = 0;
    for (size_t index = 0; index < shic_gguf_tensor_count (gguf); index++) {
        const shic_gguf_tensor_t *tensor = shic_gguf_tensor (gguf, index);
        assert (tensor && tensor->name);
        assert (tensor->n_dims >= 1 && tensor->n_dims <= SHIC_GGUF_MAX_DIMS);
        assert (shic_gguf_type_name (tensor->type));
        weights += tensor->bytes;
        assert (shic_gguf_tensor_find (gguf, tensor->name));
    }
    assert (weights == shic_gguf_weights_bytes (gguf));
    assert (shic_gguf_tensor (gguf, shic_gguf_tensor_count (gguf)) == NULL);
    int64_t value;
    double real;
    uint32_t item_type;
    uint64_t items;
    shic_gguf_find_int (gguf, "general.alignment", &value);
    shic_gguf_find_float (gguf, "llama.rope.freq_base", &real);
    shic_gguf_find_array (gguf, "tokenizer.ggml.tokens", &item_type, &items);
    (void) shic_gguf_find_str (gguf, "general.name");
    (void) shic_gguf_output_tied (gguf);
    (void) sum;
}

static void
s_estimate (const shic_gguf_t *gguf)
{
    shic_footprint_settings_t settings;
    for (int variant = 0; variant < 5; variant++) {
        shic_footprint_settings_default (&settings);
        settings.ctx_size = variant == 0? 0: 512u << variant;
        settings.parallel = (uint32_t) variant;
        settings.gpu = variant >= 2;
        settings.gpu_layers = variant == 3? 1: -1;
        settings.flash_attn = variant == 4;
        if (variant == 4)
            settings.cache_type_k = settings.cache_type_v = SHIC_FOOTPRINT_CACHE_Q8_0;
        shic_footprint_t footprint;
        shic_error_t err = { 0 };
        if (shic_footprint_estimate (gguf, &settings, &footprint, &err) == 0) {
            assert (err.code == NULL);
            assert (footprint.host.total_bytes >= footprint.host.weights_bytes);
            assert (footprint.device.total_bytes >= footprint.device.kv_bytes);
        }
        else
            assert (err.code);
        shic_error_clear (&err);
    }
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    shic_error_t err = { 0 };
    shic_gguf_t *gguf = shic_gguf_new_from_buffer (data, size, &err);
    assert ((gguf == NULL) == (err.code != NULL));
    if (gguf) {
        s_read_all (gguf);
        s_estimate (gguf);
        shic_gguf_destroy (&gguf);
    }
    else {
        assert (err.message);
        assert (shic_val_get (err.details, "reason"));
    }
    shic_error_clear (&err);

    //  The same bytes as a llama-server log
    char *text = (char *) malloc (size + 1);
    assert (text);
    memcpy (text, data, size);
    text [size] = 0;
    shic_footprint_t measured;
    memset (&measured, 0, sizeof (measured));
    char *line = text;
    while (line) {
        char *next = strchr (line, '\n');
        if (next)
            *next++ = 0;
        shic_footprint_add_line (&measured, line);
        char device [8];
        double mib;
        shic_footprint_parse_line (line, device, sizeof (device), &mib);
        line = next;
    }
    free (text);
    return 0;
}
