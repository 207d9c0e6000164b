/*  =========================================================================
    shic_placement_test - the self tests of shic_gguf and shic_footprint

    GGUF headers are built in memory, valid and corrupted (truncated at
    every byte, huge counts and lengths, bad magic, version, dims, types).
    With ../shared/llama present (SHIC_LLAMA_DIR) the real models are read
    and estimated against the buffers the README says llama-server b4748
    reports, and one model is loaded by the real server; without it those
    parts print "skipped".
    =========================================================================
*/

#include <czmq.h>
#include "shic_gguf.h"
#include "shic_footprint.h"
#include "shic_llama_run.h"

void shic_gguf_test (bool verbose);
void shic_footprint_test (bool verbose);

#define MIB (1024.0 * 1024.0)

//  ---------------------------------------------------------------------------
//  A GGUF header builder

typedef struct {
    uint8_t *data;                  //  owned bytes
    size_t size;                    //  bytes written
    size_t capacity;                //  bytes allocated
} s_buf_t;

static void
s_put (s_buf_t *buf, const void *data, size_t size)
{
    if (buf->size + size > buf->capacity) {
        buf->capacity = (buf->size + size) * 2 + 64;
        buf->data = (uint8_t *) realloc (buf->data, buf->capacity);
        assert (buf->data);
    }
    memcpy (buf->data + buf->size, data, size);
    buf->size += size;
}

static void
s_u32 (s_buf_t *buf, uint32_t value)
{
    uint8_t b [4] = { (uint8_t) value, (uint8_t) (value >> 8),
                      (uint8_t) (value >> 16), (uint8_t) (value >> 24) };
    s_put (buf, b, 4);
}

static void
s_u64 (s_buf_t *buf, uint64_t value)
{
    s_u32 (buf, (uint32_t) value);
    s_u32 (buf, (uint32_t) (value >> 32));
}

static void
s_str (s_buf_t *buf, const char *text)
{
    s_u64 (buf, strlen (text));
    s_put (buf, text, strlen (text));
}

static void
s_header (s_buf_t *buf, uint32_t version, uint64_t tensors, uint64_t kvs)
{
    s_put (buf, "GGUF", 4);
    s_u32 (buf, version);
    s_u64 (buf, tensors);
    s_u64 (buf, kvs);
}

//  Empties buf and starts a v3 header
static void
s_restart (s_buf_t *buf, uint64_t tensors, uint64_t kvs)
{
    buf->size = 0;
    s_header (buf, 3, tensors, kvs);
}

//  Empties buf and starts a header with one key "k", an array of items
//  of item_type
static void
s_one_array (s_buf_t *buf, uint32_t item_type, uint64_t items)
{
    s_restart (buf, 0, 1);
    s_str (buf, "k");
    s_u32 (buf, 9);
    s_u32 (buf, item_type);
    s_u64 (buf, items);
}

static void
s_kv_u32 (s_buf_t *buf, const char *key, uint32_t value)
{
    s_str (buf, key);
    s_u32 (buf, 4);
    s_u32 (buf, value);
}

static void
s_kv_str (s_buf_t *buf, const char *key, const char *value)
{
    s_str (buf, key);
    s_u32 (buf, 8);
    s_str (buf, value);
}

//  An array of count short strings ("t0", "t1", ...)
static void
s_kv_tokens (s_buf_t *buf, const char *key, uint64_t count)
{
    s_str (buf, key);
    s_u32 (buf, 9);
    s_u32 (buf, 8);
    s_u64 (buf, count);
    for (uint64_t index = 0; index < count; index++) {
        char token [32];
        snprintf (token, sizeof (token), "t%" PRIu64, index);
        s_str (buf, token);
    }
}

static void
s_tensor (s_buf_t *buf, const char *name, uint32_t n_dims, uint64_t ne0, uint64_t ne1,
          uint32_t type, uint64_t offset)
{
    s_str (buf, name);
    s_u32 (buf, n_dims);
    s_u64 (buf, ne0);
    if (n_dims > 1)
        s_u64 (buf, ne1);
    for (uint32_t dim = 2; dim < n_dims; dim++)
        s_u64 (buf, 1);
    s_u32 (buf, type);
    s_u64 (buf, offset);
}

//  A small llama: 2 layers, E 64, 4 heads / 2 KV heads, vocab 32, f16
//  except norms; tied output unless with_output. Tensor offsets aligned
//  to 32. Returns the bytes of all tensors in *weights.
static void
s_small_llama (s_buf_t *buf, bool with_output, uint64_t *weights)
{
    uint64_t tensors = 2 + 2 * 3 + (with_output? 1: 0);
    s_header (buf, 3, tensors, 9);
    s_kv_str (buf, "general.architecture", "llama");
    s_kv_str (buf, "general.name", "tiny");
    s_kv_u32 (buf, "llama.block_count", 2);
    s_kv_u32 (buf, "llama.embedding_length", 64);
    s_kv_u32 (buf, "llama.context_length", 1024);
    s_kv_u32 (buf, "llama.attention.head_count", 4);
    s_kv_u32 (buf, "llama.attention.head_count_kv", 2);
    s_kv_u32 (buf, "general.alignment", 32);
    s_kv_tokens (buf, "tokenizer.ggml.tokens", 32);
    uint64_t offset = 0;
    //  token_embd f16 [64, 32]: 4096 bytes; output_norm f32 [64]: 256
    s_tensor (buf, "token_embd.weight", 2, 64, 32, 1, offset);
    offset += 4096;
    s_tensor (buf, "output_norm.weight", 1, 64, 0, 0, offset);
    offset += 256;
    if (with_output) {
        //  q8_0 [64, 32]: 2 blocks a row * 34 * 32 rows = 2176
        s_tensor (buf, "output.weight", 2, 64, 32, 8, offset);
        offset += 2176;
    }
    for (int layer = 0; layer < 2; layer++) {
        char name [64];
        snprintf (name, sizeof (name), "blk.%d.attn_norm.weight", layer);
        s_tensor (buf, name, 1, 64, 0, 0, offset);
        offset += 256;
        snprintf (name, sizeof (name), "blk.%d.attn_q.weight", layer);
        s_tensor (buf, name, 2, 64, 64, 1, offset);
        offset += 8192;
        snprintf (name, sizeof (name), "blk.%d.ffn_down.weight", layer);
        s_tensor (buf, name, 2, 256, 64, 12, offset);      //  q4_K: 1 block a row
        offset += 64 * 144;
    }
    *weights = offset;
}

//  Parses a fresh small llama from buf; asserts that it parses
static shic_gguf_t *
s_small_llama_parsed (s_buf_t *buf, bool with_output, uint64_t *weights)
{
    buf->size = 0;
    s_small_llama (buf, with_output, weights);
    shic_error_t err = { 0 };
    shic_gguf_t *gguf = shic_gguf_new_from_buffer (buf->data, buf->size, &err);
    assert (gguf);
    assert (err.code == NULL);
    return gguf;
}

//  Parses buf and expects a failure with that reason
static void
s_expect_reason (const void *data, size_t size, const char *reason, int line)
{
    shic_error_t err = { 0 };
    shic_gguf_t *gguf = shic_gguf_new_from_buffer (data, size, &err);
    const char *got = shic_val_str (shic_val_get (err.details, "reason"));
    if (gguf || !got || !streq (got, reason)) {
        fprintf (stderr, "shic_gguf_test:%d: expected reason %s, got %s\n",
                 line, reason, gguf? "success": got? got: "(none)");
        assert (false);
    }
    assert (err.code == shic_error_code_lookup (SHIC_E_INVALID_ARGS));
    assert (streq (shic_val_str (shic_val_get (err.details, "field")), "model"));
    assert (err.message);
    shic_error_clear (&err);
}
#define EXPECT_REASON(buf, reason) s_expect_reason ((buf).data, (buf).size, reason, __LINE__)

//  The real models, when the folder is there; NULL otherwise
static const char *
s_llama_dir (void)
{
#ifdef SHIC_LLAMA_DIR
    if (zsys_file_exists (SHIC_LLAMA_DIR "/tiny-a.gguf"))
        return SHIC_LLAMA_DIR;
#endif
    return NULL;
}

static void
s_write_file (const char *path, const void *data, size_t size)
{
    FILE *file = fopen (path, "wb");
    assert (file);
    assert (fwrite (data, 1, size, file) == size);
    fclose (file);
}

void
shic_gguf_test (bool verbose)
{
    printf (" * shic_gguf: ");

    //  The type table: block sizes of ggml-common.h
    uint32_t elements, bytes;
    assert (shic_gguf_type_block (8, &elements, &bytes) == 0 && elements == 32 && bytes == 34);
    assert (shic_gguf_type_block (12, &elements, &bytes) == 0 && elements == 256 && bytes == 144);
    assert (shic_gguf_type_block (30, &elements, &bytes) == 0 && elements == 1 && bytes == 2);
    assert (shic_gguf_type_block (4, &elements, &bytes) == -1);    //  retired q4_2
    assert (shic_gguf_type_block (1000, &elements, &bytes) == -1);
    assert (streq (shic_gguf_type_name (14), "q6_K"));
    assert (shic_gguf_type_name (31) == NULL);
    assert (shic_gguf_row_bytes (1, 100) == 200);
    assert (shic_gguf_row_bytes (8, 64) == 68);
    assert (shic_gguf_row_bytes (8, 33) == 68);                    //  whole blocks
    assert (shic_gguf_row_bytes (0, UINT64_MAX / 2) == 0);         //  overflow

    //  A valid header, tied output
    s_buf_t valid = { 0 };
    uint64_t weights;
    shic_gguf_t *gguf = s_small_llama_parsed (&valid, false, &weights);
    shic_error_t err = { 0 };
    assert (shic_gguf_version (gguf) == 3);
    assert (streq (shic_gguf_architecture (gguf), "llama"));
    assert (streq (shic_gguf_find_str (gguf, "general.name"), "tiny"));
    assert (shic_gguf_block_count (gguf) == 2);
    assert (shic_gguf_embedding_length (gguf) == 64);
    assert (shic_gguf_context_length (gguf) == 1024);
    assert (shic_gguf_head_count (gguf, 0) == 4);
    assert (shic_gguf_head_count_kv (gguf, 1) == 2);
    assert (shic_gguf_key_length (gguf) == 16);
    assert (shic_gguf_value_length (gguf) == 16);
    assert (shic_gguf_vocab_size (gguf) == 32);
    assert (shic_gguf_feed_forward_length (gguf) == 0);
    assert (shic_gguf_tensor_count (gguf) == 8);
    assert (shic_gguf_weights_bytes (gguf) == weights);
    assert (shic_gguf_part_bytes (gguf, SHIC_GGUF_PART_INPUT) == 4096);
    assert (shic_gguf_part_bytes (gguf, SHIC_GGUF_PART_OUTPUT) == 256);
    assert (shic_gguf_layer_bytes (gguf, 1) == 256 + 8192 + 64 * 144);
    assert (shic_gguf_output_tied (gguf));
    assert (shic_gguf_data_offset (gguf) % 32 == 0);
    assert (shic_gguf_data_offset (gguf) >= valid.size);
    const shic_gguf_tensor_t *tensor = shic_gguf_tensor_find (gguf, "blk.1.ffn_down.weight");
    assert (tensor && tensor->layer == 1 && tensor->part == SHIC_GGUF_PART_LAYER);
    assert (tensor->n_dims == 2 && tensor->ne [0] == 256 && tensor->ne [1] == 64);
    assert (tensor->ne [2] == 1 && tensor->type == 12 && tensor->bytes == 64 * 144);
    assert (shic_gguf_tensor (gguf, 8) == NULL);
    int64_t value;
    assert (shic_gguf_find_int (gguf, "llama.block_count", &value) == 0 && value == 2);
    assert (shic_gguf_find_int (gguf, "general.name", &value) == -1);
    assert (shic_gguf_find_int (gguf, "absent", &value) == -1);
    uint32_t item_type;
    uint64_t items;
    assert (shic_gguf_find_array (gguf, "tokenizer.ggml.tokens", &item_type, &items) == 0);
    assert (item_type == 8 && items == 32);
    shic_gguf_destroy (&gguf);
    shic_gguf_destroy (&gguf);
    assert (gguf == NULL);

    //  Truncated at every byte before the end of the tensor infos
    for (size_t size = 0; size < valid.size; size++)
        s_expect_reason (valid.data, size, "truncated", __LINE__);
    s_expect_reason (NULL, 0, "truncated", __LINE__);

    //  Bad magic and versions
    s_buf_t bad = { 0 };
    s_put (&bad, valid.data, valid.size);
    bad.data [0] = 'g';
    EXPECT_REASON (bad, "bad_magic");
    for (uint32_t version = 0; version < 6; version++) {
        if (version == 2 || version == 3)
            continue;
        memcpy (bad.data, valid.data, valid.size);
        bad.data [4] = (uint8_t) version;
        EXPECT_REASON (bad, "bad_version");
    }
    memcpy (bad.data, valid.data, valid.size);
    bad.data [4] = 0;
    bad.data [7] = 3;                   //  big-endian version 3
    EXPECT_REASON (bad, "bad_version");

    //  Huge counts and lengths
    s_buf_t huge = { 0 };
    s_header (&huge, 3, UINT64_MAX, 0);
    EXPECT_REASON (huge, "too_many_tensors");
    s_restart (&huge, 0, (uint64_t) 1 << 40);
    EXPECT_REASON (huge, "too_many_kv");
    s_restart (&huge, 1000, 1000);      //  within limits, but no bytes for them
    EXPECT_REASON (huge, "truncated");
    s_restart (&huge, 0, 1);
    s_u64 (&huge, (uint64_t) 1 << 62);  //  key length
    s_put (&huge, "xxxxxxxxxxxxxxxx", 16);
    EXPECT_REASON (huge, "string_too_long");
    s_restart (&huge, 0, 1);
    s_u64 (&huge, 1000000);             //  in the limit, past the end
    s_put (&huge, "xxxxxxxxxxxxxxxx", 16);
    EXPECT_REASON (huge, "truncated");
    s_one_array (&huge, 4, UINT64_MAX); //  array length
    s_put (&huge, "xxxxxxxxxxxxxxxx", 16);
    EXPECT_REASON (huge, "array_too_long");
    s_one_array (&huge, 10, 1000000);   //  8 MB of u64 promised, none there
    s_put (&huge, "xxxxxxxxxxxxxxxx", 16);
    EXPECT_REASON (huge, "truncated");
    //  Arrays of arrays of arrays ...
    s_one_array (&huge, 9, 1);
    for (int depth = 0; depth < 5; depth++) {
        s_u32 (&huge, 9);
        s_u64 (&huge, 1);
    }
    s_u32 (&huge, 0);
    s_u64 (&huge, 0);
    EXPECT_REASON (huge, "array_nesting");
    //  Value type out of range, as a value and as an array's items
    s_restart (&huge, 0, 1);
    s_str (&huge, "k");
    s_u32 (&huge, 13);
    s_u64 (&huge, 0);
    EXPECT_REASON (huge, "bad_value_type");
    s_one_array (&huge, 0xffffffff, 0);
    EXPECT_REASON (huge, "bad_value_type");
    //  Alignment must be a u32 power of two
    s_restart (&huge, 0, 1);
    s_kv_u32 (&huge, "general.alignment", 24);
    EXPECT_REASON (huge, "bad_alignment");

    //  Tensor infos: dims, type, sizes, offsets, names
    struct {
        uint32_t n_dims;            //  dimensions
        uint64_t ne0, ne1;          //  first two
        uint32_t type;              //  ggml type
        uint64_t offset;            //  data offset
        const char *reason;         //  expected failure
    } cases [] = {
        { 0, 4, 4, 0, 0, "bad_dims" },
        { 5, 4, 4, 0, 0, "bad_dims" },
        { 0xffffffff, 4, 4, 0, 0, "bad_dims" },
        { 2, 4, 4, 4, 0, "bad_tensor_type" },
        { 2, 4, 4, 31, 0, "bad_tensor_type" },
        { 2, 4, 4, 0xffffffff, 0, "bad_tensor_type" },
        { 2, (uint64_t) 1 << 62, (uint64_t) 1 << 62, 0, 0, "overflow" },
        { 2, (uint64_t) 1 << 63, 1, 0, 0, "overflow" },
        { 2, (uint64_t) 1 << 61, 2, 28, 0, "overflow" },         //  elements fit, bytes do not
        { 2, 33, 4, 8, 0, "partial_block" },
        { 2, 4, 4, 0, 7, "misaligned_offset" },
        { 2, 4, 4, 0, UINT64_MAX - 31, "overflow" },
    };
    for (size_t index = 0; index < sizeof (cases) / sizeof (cases [0]); index++) {
        s_buf_t one = { 0 };
        s_header (&one, 2, 1, 0);
        s_tensor (&one, "t", cases [index].n_dims > 4? 4: cases [index].n_dims,
                  cases [index].ne0, cases [index].ne1, cases [index].type,
                  cases [index].offset);
        if (cases [index].n_dims > 4)
            //  Patch n_dims after the name (8 + 1 bytes after the header)
            memcpy (one.data + 24 + 9, &cases [index].n_dims, 4);
        s_expect_reason (one.data, one.size, cases [index].reason, __LINE__);
        free (one.data);
    }
    char long_name [SHIC_GGUF_MAX_NAME + 2];
    memset (long_name, 'n', sizeof (long_name) - 1);
    long_name [sizeof (long_name) - 1] = 0;
    s_restart (&huge, 1, 0);
    s_tensor (&huge, long_name, 1, 4, 0, 0, 0);
    EXPECT_REASON (huge, "name_too_long");
    //  Version 2 and tensors with 4 dims are fine; so are layers past 10
    huge.size = 0;
    s_header (&huge, 2, 2, 0);
    s_tensor (&huge, "blk.12.x", 4, 8, 2, 1, 0);
    s_tensor (&huge, "blk.x.y", 1, 8, 0, 1, 32);
    gguf = shic_gguf_new_from_buffer (huge.data, huge.size, &err);
    assert (gguf);
    assert (shic_gguf_tensor (gguf, 0)->layer == 12);
    assert (shic_gguf_tensor (gguf, 0)->bytes == 32);
    assert (shic_gguf_tensor (gguf, 1)->part == SHIC_GGUF_PART_OTHER);
    assert (shic_gguf_architecture (gguf) == NULL);
    assert (shic_gguf_block_count (gguf) == 0);
    assert (shic_gguf_key_length (gguf) == 0);
    shic_gguf_destroy (&gguf);

    //  Per-layer head counts (0: a recurrent layer, no KV cache)
    s_restart (&huge, 0, 3);
    s_kv_str (&huge, "general.architecture", "jamba");
    s_kv_u32 (&huge, "jamba.attention.head_count", 4);
    s_str (&huge, "jamba.attention.head_count_kv");
    s_u32 (&huge, 9);
    s_u32 (&huge, 5);
    s_u64 (&huge, 2);
    s_u32 (&huge, 0);
    s_u32 (&huge, 2);
    gguf = shic_gguf_new_from_buffer (huge.data, huge.size, &err);
    assert (gguf);
    assert (shic_gguf_head_count (gguf, 1) == 4);
    assert (shic_gguf_head_count_kv (gguf, 0) == 0);
    assert (shic_gguf_head_count_kv (gguf, 1) == 2);
    assert (shic_gguf_head_count_kv (gguf, 2) == 0);
    shic_gguf_destroy (&gguf);

    //  From a file: a missing file, and a header longer than the first read
    char path [] = "/tmp/shic_gguf_test_XXXXXX";
    int fd = mkstemp (path);
    assert (fd >= 0);
    close (fd);
    gguf = shic_gguf_new ("/nonexistent/model.gguf", &err);
    assert (!gguf && err.code == shic_error_code_lookup (SHIC_E_INVALID_ARGS));
    shic_error_clear (&err);
    s_buf_t big = { 0 };
    s_header (&big, 3, 1, 2);
    s_kv_str (&big, "general.architecture", "llama");
    s_kv_tokens (&big, "tokenizer.ggml.tokens", 200000);       //  ~2.5 MB
    s_tensor (&big, "token_embd.weight", 2, 8, 4, 0, 0);
    while (big.size % 32)
        s_put (&big, "", 1);
    uint8_t zeros [128] = { 0 };
    s_put (&big, zeros, 128);
    assert (big.size > 2 * 1024 * 1024);
    s_write_file (path, big.data, big.size);
    gguf = shic_gguf_new (path, &err);
    assert (gguf);
    assert (shic_gguf_vocab_size (gguf) == 200000);
    assert (shic_gguf_weights_bytes (gguf) == 128);
    shic_gguf_destroy (&gguf);
    //  The same with the weights cut short
    s_write_file (path, big.data, big.size - 1);
    gguf = shic_gguf_new (path, &err);
    assert (!gguf);
    assert (streq (shic_val_str (shic_val_get (err.details, "reason")), "tensor_beyond_file"));
    shic_error_clear (&err);
    //  And the header cut short
    s_write_file (path, big.data, 3 * 1024 * 1024 / 2);
    gguf = shic_gguf_new (path, &err);
    assert (!gguf);
    assert (streq (shic_val_str (shic_val_get (err.details, "reason")), "truncated"));
    shic_error_clear (&err);
    unlink (path);

    //  The real models of ../shared/llama
    const char *dir = s_llama_dir ();
    if (dir) {
        struct {
            const char *file;       //  in dir
            uint64_t layers;        //  block_count
            uint64_t heads_kv;      //  head_count_kv
            uint64_t context;       //  context_length
            double weights_mib;     //  the server's model buffer
        } models [] = {
            { "tiny-a.gguf", 2, 4, 2048, 6.00 },
            { "tiny-b.gguf", 2, 4, 2048, 6.00 },
            { "tiny-gqa.gguf", 4, 2, 4096, 9.51 },
            { "tiny-gqa-q8_0.gguf", 4, 2, 4096, 2.53 },
        };
        for (size_t index = 0; index < 4; index++) {
            char model [1024];
            snprintf (model, sizeof (model), "%s/%s", dir, models [index].file);
            gguf = shic_gguf_new (model, &err);
            assert (gguf);
            assert (streq (shic_gguf_architecture (gguf), "llama"));
            assert (shic_gguf_block_count (gguf) == models [index].layers);
            assert (shic_gguf_embedding_length (gguf) == 256);
            assert (shic_gguf_head_count_kv (gguf, 0) == models [index].heads_kv);
            assert (shic_gguf_context_length (gguf) == models [index].context);
            assert (shic_gguf_vocab_size (gguf) == 512);
            double mib = shic_gguf_weights_bytes (gguf) / MIB;
            assert (fabs (mib - models [index].weights_mib) < 0.01);
            if (verbose)
                printf ("\n   %s: %zu tensors, %.3f MiB of weights",
                        models [index].file, shic_gguf_tensor_count (gguf), mib);
            shic_gguf_destroy (&gguf);
        }
        printf (verbose? "\n   real models: OK\n": "OK (real models read)\n");
    }
    else
        printf ("OK (real models: skipped, no %s)\n", "../shared/llama");
    free (valid.data);
    free (bad.data);
    free (huge.data);
    free (big.data);
}

//  ---------------------------------------------------------------------------

//  Within 10% or 2 MiB of the actual size
static bool
s_close (uint64_t estimate, double actual_mib)
{
    double diff = fabs (estimate / MIB - actual_mib);
    return diff <= 2.0 || diff <= 0.1 * actual_mib;
}

static void
s_check_close (const char *what, uint64_t estimate, double actual_mib)
{
    if (!s_close (estimate, actual_mib)) {
        fprintf (stderr, "shic_footprint_test: %s: estimate %.2f MiB, actual %.2f MiB\n",
                 what, estimate / MIB, actual_mib);
        assert (false);
    }
}

static void
s_parse_lines (void)
{
    char device [32];
    double mib = -1;
    assert (shic_footprint_parse_line ("load_tensors:   CPU_Mapped model buffer size =     2.53 MiB",
                                       device, sizeof (device), &mib) == SHIC_FOOTPRINT_MODEL);
    assert (streq (device, "CPU_Mapped") && mib == 2.53);
    assert (shic_footprint_parse_line ("llama_kv_cache_init:        CPU KV buffer size =     0.50 MiB",
                                       device, sizeof (device), &mib) == SHIC_FOOTPRINT_KV);
    assert (streq (device, "CPU") && mib == 0.5);
    assert (shic_footprint_parse_line ("llama_init_from_model:      CUDA0 compute buffer size =   164.01 MiB",
                                       device, sizeof (device), &mib) == SHIC_FOOTPRINT_COMPUTE);
    assert (streq (device, "CUDA0") && mib == 164.01);
    assert (shic_footprint_parse_line ("llama_context:  CUDA_Host  output buffer size =     0.58 MiB",
                                       device, sizeof (device), &mib) == SHIC_FOOTPRINT_OUTPUT);
    assert (streq (device, "CUDA_Host"));
    assert (shic_footprint_parse_line ("llm_load_tensors:        CPU buffer size =  4437.80 MiB",
                                       device, sizeof (device), &mib) == SHIC_FOOTPRINT_MODEL);
    assert (streq (device, "CPU") && mib == 4437.80);
    assert (shic_footprint_parse_line ("llama_kv_cache: CUDA1 KV buffer size = 1024.00 MiB",
                                       NULL, 0, &mib) == SHIC_FOOTPRINT_KV);
    //  A short device buffer truncates the name, never overruns
    assert (shic_footprint_parse_line ("x: CUDA_Host_Long output buffer size = 1.00 MiB",
                                       device, 5, &mib) == SHIC_FOOTPRINT_OUTPUT);
    assert (streq (device, "CUDA"));
    const char *not_lines [] = {
        "llama_init_from_model: KV self size  =    0.50 MiB, K (f16):    0.25 MiB",
        "llama_init_from_model: graph nodes  = 134",
        "buffer size = 12.00 MiB",
        " buffer size = 12.00 MiB",
        "x: CPU compute buffer size = abc MiB",
        "x: CPU compute buffer size = -1.00 MiB",
        "x: CPU compute buffer size = nan MiB",
        "x: CPU compute buffer size = 12.00 GiB",
        "x: CPU compute buffer size = 1e300 MiB",
        "",
        NULL
    };
    for (int index = 0; not_lines [index]; index++)
        assert (shic_footprint_parse_line (not_lines [index], device, sizeof (device), &mib)
                == SHIC_FOOTPRINT_NONE);
    assert (shic_footprint_parse_line (NULL, device, sizeof (device), &mib) == SHIC_FOOTPRINT_NONE);
    assert (shic_footprint_device_is_host ("CPU_Mapped"));
    assert (shic_footprint_device_is_host ("CUDA_Host"));
    assert (!shic_footprint_device_is_host ("CUDA0"));
    assert (!shic_footprint_device_is_host ("Metal"));

    //  Adding a server's lines: host and device apart
    shic_footprint_t measured = { { 0 }, { 0 } };
    shic_footprint_add_line (&measured, "load_tensors:   CPU_Mapped model buffer size = 100.00 MiB");
    shic_footprint_add_line (&measured, "load_tensors:        CUDA0 model buffer size = 1000.00 MiB");
    shic_footprint_add_line (&measured, "llama_kv_cache_init:      CUDA0 KV buffer size = 64.00 MiB");
    shic_footprint_add_line (&measured, "x:      CUDA0 compute buffer size = 16.00 MiB");
    shic_footprint_add_line (&measured, "x:  CUDA_Host compute buffer size = 4.00 MiB");
    shic_footprint_add_line (&measured, "x:  CUDA_Host  output buffer size = 1.00 MiB");
    shic_footprint_add_line (&measured, "main: model loaded");
    assert (measured.device.weights_bytes == 1000 * 1024 * 1024);
    assert (measured.device.total_bytes == (uint64_t) (1080 * MIB));
    assert (measured.host.weights_bytes == 100 * 1024 * 1024);
    assert (measured.host.total_bytes == (uint64_t) (105 * MIB));
}

void
shic_footprint_test (bool verbose)
{
    printf (" * shic_footprint: ");
    s_parse_lines ();

    s_buf_t buf = { 0 };
    uint64_t weights;
    shic_gguf_t *gguf = s_small_llama_parsed (&buf, true, &weights);
    shic_error_t err = { 0 };
    shic_footprint_settings_t settings;
    shic_footprint_settings_default (&settings);
    assert (settings.gpu_layers == -1 && settings.ubatch == 512 && settings.batch == 2048);
    assert (settings.cache_type_k == SHIC_FOOTPRINT_CACHE_F16 && !settings.gpu);
    shic_footprint_t footprint;

    //  CPU, the model's own context (1024): everything on the host
    assert (shic_footprint_estimate (gguf, &settings, &footprint, &err) == 0);
    assert (footprint.device.total_bytes == 0);
    assert (footprint.host.weights_bytes == weights);
    //  2 layers * 1024 * (2 heads * 16 * 2 bytes) * (K + V)
    assert (footprint.host.kv_bytes == 2 * 1024 * 64 * 2);
    //  b = 512: 4b(1 + 4E + n_ctx(1 + H)) = 2048 * (1 + 256 + 1024 * 5)
    assert (footprint.host.compute_bytes == 2048 * (1 + 256 + 1024 * 5));
    assert (footprint.host.overhead_bytes == 4 * 32);
    assert (footprint.host.total_bytes == footprint.host.weights_bytes + footprint.host.kv_bytes
                                        + footprint.host.compute_bytes + footprint.host.overhead_bytes);
    //  Context padded to 32; b is the context when smaller than -ub; the
    //  output buffer grows with -np, the KV cache does not
    settings.ctx_size = 100;
    settings.parallel = 4;
    settings.host_overhead = 1000;
    assert (shic_footprint_estimate (gguf, &settings, &footprint, &err) == 0);
    assert (footprint.host.kv_bytes == 2 * 128 * 64 * 2);
    assert (footprint.host.compute_bytes == 4 * 128 * (1 + 256 + 128 * 5));
    assert (footprint.host.overhead_bytes == 1000 + 4 * 32 * 4);
    //  Quantized caches: q8_0 rows of 32 elements = 34 bytes
    settings.cache_type_k = SHIC_FOOTPRINT_CACHE_Q8_0;
    settings.cache_type_v = SHIC_FOOTPRINT_CACHE_Q4_0;
    assert (shic_footprint_estimate (gguf, &settings, &footprint, &err) == 0);
    assert (footprint.host.kv_bytes == 2 * 128 * (34 + 18));
    //  Flash attention pads to 256 and drops the scores
    settings.cache_type_k = settings.cache_type_v = SHIC_FOOTPRINT_CACHE_F16;
    settings.flash_attn = true;
    assert (shic_footprint_estimate (gguf, &settings, &footprint, &err) == 0);
    assert (footprint.host.kv_bytes == 2 * 256 * 64 * 2);
    assert (footprint.host.compute_bytes == 4 * 256 * (1 + 256) + 6 * 256 * 256);
    settings.flash_attn = false;

    //  GPU, full offload: layers and output on the device, token_embd on the host
    settings.gpu = true;
    settings.device_overhead = 300 * 1024 * 1024;
    assert (shic_footprint_estimate (gguf, &settings, &footprint, &err) == 0);
    uint64_t input = shic_gguf_part_bytes (gguf, SHIC_GGUF_PART_INPUT);
    assert (footprint.device.weights_bytes == weights - input);
    assert (footprint.host.weights_bytes == input);
    assert (footprint.device.kv_bytes == 2 * 128 * 64 * 2 && footprint.host.kv_bytes == 0);
    assert (footprint.device.overhead_bytes == 300 * 1024 * 1024);
    assert (footprint.device.compute_bytes > footprint.host.compute_bytes);
    //  -ngl 2 of 2 layers: the output stays on the host
    settings.gpu_layers = 2;
    assert (shic_footprint_estimate (gguf, &settings, &footprint, &err) == 0);
    uint64_t output = shic_gguf_part_bytes (gguf, SHIC_GGUF_PART_OUTPUT);
    assert (footprint.device.weights_bytes == weights - input - output);
    assert (footprint.host.weights_bytes == input + output);
    //  -ngl 1: the last layer on the device, half the cache there
    settings.gpu_layers = 1;
    assert (shic_footprint_estimate (gguf, &settings, &footprint, &err) == 0);
    assert (footprint.device.weights_bytes == shic_gguf_layer_bytes (gguf, 1));
    assert (footprint.device.kv_bytes == footprint.host.kv_bytes);
    //  -ngl 0: nothing on the device, no device overhead either
    settings.gpu_layers = 0;
    assert (shic_footprint_estimate (gguf, &settings, &footprint, &err) == 0);
    assert (footprint.device.total_bytes == 0);
    assert (footprint.host.weights_bytes == weights);
    shic_gguf_destroy (&gguf);

    //  A tied output on the device costs token_embd a second time
    gguf = s_small_llama_parsed (&buf, false, &weights);
    settings.gpu_layers = -1;
    assert (shic_footprint_estimate (gguf, &settings, &footprint, &err) == 0);
    input = shic_gguf_part_bytes (gguf, SHIC_GGUF_PART_INPUT);
    assert (footprint.device.weights_bytes == weights);
    assert (footprint.host.weights_bytes == input);
    //  Settings out of range
    settings.gpu_layers = -2;
    assert (shic_footprint_estimate (gguf, &settings, &footprint, &err) == -1);
    assert (streq (shic_val_str (shic_val_get (err.details, "field")), "gpu_layers"));
    shic_error_clear (&err);
    settings.gpu_layers = -1;
    settings.cache_type_k = 4;
    assert (shic_footprint_estimate (gguf, &settings, &footprint, &err) == -1);
    shic_error_clear (&err);
    shic_gguf_destroy (&gguf);
    //  A header without a shape
    buf.size = 0;
    s_header (&buf, 3, 0, 1);
    s_kv_str (&buf, "general.architecture", "llama");
    gguf = shic_gguf_new_from_buffer (buf.data, buf.size, &err);
    assert (gguf);
    shic_footprint_settings_default (&settings);
    assert (shic_footprint_estimate (gguf, &settings, &footprint, &err) == -1);
    assert (streq (shic_val_str (shic_val_get (err.details, "reason")), "no_shape"));
    shic_error_clear (&err);
    shic_gguf_destroy (&gguf);
    free (buf.data);

    //  The real models against what llama-server b4748 reports (README)
    const char *dir = s_llama_dir ();
    if (!dir) {
        printf ("OK (real models: skipped; real server: skipped; no ../shared/llama)\n");
        return;
    }
    struct {
        const char *file;           //  in dir
        int ctx;                    //  -c
        double model, kv, compute;  //  the buffers, MiB
    } table [] = {
        { "tiny-a.gguf",        512,  6.00, 1.00, 7.01 },
        { "tiny-a.gguf",        4096, 6.00, 8.00, 42.01 },
        { "tiny-b.gguf",        512,  6.00, 1.00, 7.01 },
        { "tiny-b.gguf",        4096, 6.00, 8.00, 42.01 },
        { "tiny-gqa.gguf",      512,  9.51, 0.50, 11.01 },
        { "tiny-gqa.gguf",      4096, 9.51, 4.00, 74.01 },
        { "tiny-gqa-q8_0.gguf", 512,  2.53, 0.50, 11.01 },
        { "tiny-gqa-q8_0.gguf", 4096, 2.53, 4.00, 74.01 },
    };
    for (size_t index = 0; index < sizeof (table) / sizeof (table [0]); index++) {
        char model [1024];
        snprintf (model, sizeof (model), "%s/%s", dir, table [index].file);
        gguf = shic_gguf_new (model, &err);
        assert (gguf);
        for (uint32_t parallel = 1; parallel <= 4; parallel += 3) {
            shic_footprint_settings_default (&settings);
            settings.ctx_size = (uint32_t) table [index].ctx;
            settings.parallel = parallel;
            assert (shic_footprint_estimate (gguf, &settings, &footprint, &err) == 0);
            s_check_close (table [index].file, footprint.host.weights_bytes, table [index].model);
            s_check_close (table [index].file, footprint.host.kv_bytes, table [index].kv);
            s_check_close (table [index].file, footprint.host.compute_bytes, table [index].compute);
            if (verbose && parallel == 1)
                printf ("\n   %s -c %d: model %.2f/%.2f kv %.2f/%.2f compute %.2f/%.2f MiB",
                        table [index].file, table [index].ctx,
                        footprint.host.weights_bytes / MIB, table [index].model,
                        footprint.host.kv_bytes / MIB, table [index].kv,
                        footprint.host.compute_bytes / MIB, table [index].compute);
        }
        shic_gguf_destroy (&gguf);
    }

    //  One real load: the server's own lines against the estimate
    char server [1024], model [1024];
    snprintf (server, sizeof (server), "%s/llama-server", dir);
    snprintf (model, sizeof (model), "%s/tiny-gqa-q8_0.gguf", dir);
    if (!zsys_file_exists (server)) {
        printf ("OK (real models checked; real server: skipped, no llama-server)\n");
        return;
    }
    shic_footprint_t measured;
    assert (shic_llama_run_measure (server, model, 512, 1, 60000, &measured) == 0);
    gguf = shic_gguf_new (model, &err);
    assert (gguf);
    shic_footprint_settings_default (&settings);
    settings.ctx_size = 512;
    assert (shic_footprint_estimate (gguf, &settings, &footprint, &err) == 0);
    shic_gguf_destroy (&gguf);
    assert (measured.device.total_bytes == 0);
    s_check_close ("live model", footprint.host.weights_bytes, measured.host.weights_bytes / MIB);
    s_check_close ("live kv", footprint.host.kv_bytes, measured.host.kv_bytes / MIB);
    s_check_close ("live compute", footprint.host.compute_bytes, measured.host.compute_bytes / MIB);
    assert (measured.host.weights_bytes > 0 && measured.host.compute_bytes > 0);
    if (verbose)
        printf ("\n   live tiny-gqa-q8_0 -c 512: model %.2f kv %.2f compute %.2f MiB\n",
                measured.host.weights_bytes / MIB, measured.host.kv_bytes / MIB,
                measured.host.compute_bytes / MIB);
    printf ("OK (real models checked; real server checked)\n");
}
