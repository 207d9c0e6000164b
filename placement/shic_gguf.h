/*  =========================================================================
    shic_gguf - reads the header of a GGUF model file, and only the header

    Placement needs a model's shape (layers, embedding width, heads, vocab)
    and the byte size of each tensor before it starts a server, so that it
    can tell whether the model fits. This class reads the GGUF header
    (magic, version 2 or 3, metadata key/values, tensor infos) from a file,
    a bounded prefix of it at a time and never the weights, or from a
    buffer. The header comes from outside: every count and length is
    bounded, every read is checked against the end, every multiplication is
    overflow-checked, and every failure is a typed error (invalid_args with
    details {field: "model", reason, offset}), never an abort.
    =========================================================================
*/

#ifndef SHIC_GGUF_H_INCLUDED
#define SHIC_GGUF_H_INCLUDED

#include "shic_error.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Limits on what a header may declare. Real models stay far below them
//  (a 256k-token vocabulary is the largest array, a few thousand tensors
//  the most); a hostile header cannot make the reader allocate or loop
//  beyond them.
#define SHIC_GGUF_MAX_TENSORS   65536
#define SHIC_GGUF_MAX_KV        65536
#define SHIC_GGUF_MAX_STRING    (16u * 1024 * 1024)
#define SHIC_GGUF_MAX_ARRAY     (16u * 1024 * 1024)
#define SHIC_GGUF_MAX_NESTING   3           //  arrays of arrays
#define SHIC_GGUF_MAX_NAME      256         //  tensor name, bytes
#define SHIC_GGUF_MAX_DIMS      4
//  At most this much of a file is read: the header only, grown from 1 MiB
#define SHIC_GGUF_MAX_HEADER    (64u * 1024 * 1024)

//  Which part of the model a tensor belongs to: where it is placed
typedef enum {
    SHIC_GGUF_PART_LAYER = 0,       //  "blk.N.*": moves with -ngl
    SHIC_GGUF_PART_INPUT,           //  token_embd and friends: stay on the host
    SHIC_GGUF_PART_OUTPUT,          //  output and output_norm: the last "layer"
    SHIC_GGUF_PART_OTHER            //  anything else (rope factors, ...)
} shic_gguf_part_t;

//  One tensor of the header; borrowed from its shic_gguf_t
typedef struct {
    const char *name;               //  NUL-terminated
    uint32_t n_dims;                //  1 .. SHIC_GGUF_MAX_DIMS
    uint64_t ne [SHIC_GGUF_MAX_DIMS];   //  elements per dimension (1 beyond n_dims)
    uint32_t type;                  //  ggml type number (ggml.h)
    uint64_t offset;                //  from the start of the data section
    uint64_t bytes;                 //  size, from the type's block size
    int32_t layer;                  //  N of "blk.N.", else -1
    shic_gguf_part_t part;          //  where placement puts it
} shic_gguf_tensor_t;

typedef struct _shic_gguf_t shic_gguf_t;

//  Reads the header of the file at path: a prefix of 1 MiB first, grown
//  while the header runs on, never more than SHIC_GGUF_MAX_HEADER, and
//  checks that the tensors lie inside the file. Returns NULL and sets err
//  on failure.
shic_gguf_t *shic_gguf_new (const char *path, shic_error_t *err);
//  Reads a header from memory (data may end anywhere after the tensor
//  infos; the weights are not needed). Returns NULL and sets err on failure.
shic_gguf_t *shic_gguf_new_from_buffer (const void *data, size_t size, shic_error_t *err);
void shic_gguf_destroy (shic_gguf_t **self_p);

//  GGUF version (2 or 3), and where the tensor data starts in the file
uint32_t shic_gguf_version (const shic_gguf_t *self);
uint64_t shic_gguf_data_offset (const shic_gguf_t *self);

//  Metadata, by full key. Integers of any width and bools read as int64
//  (a u64 above INT64_MAX does not); strings longer than 4 KiB (chat
//  templates) are skipped, not kept. Return 0, or -1 when absent or of
//  another type.
int shic_gguf_find_int (const shic_gguf_t *self, const char *key, int64_t *value);
int shic_gguf_find_float (const shic_gguf_t *self, const char *key, double *value);
//  The string value, borrowed, or NULL
const char *shic_gguf_find_str (const shic_gguf_t *self, const char *key);
//  An array's item type and length; 0, or -1 when absent or not an array
int shic_gguf_find_array (const shic_gguf_t *self, const char *key,
                          uint32_t *item_type, uint64_t *items);

//  What the estimator needs, with the prefix general.architecture. 0 means
//  absent. head_count_kv defaults to head_count, key/value_length to
//  embedding_length / head_count (llama.cpp's defaults); the per-layer
//  forms read per-layer arrays where a model has them.
const char *shic_gguf_architecture (const shic_gguf_t *self);
uint64_t shic_gguf_block_count (const shic_gguf_t *self);
uint64_t shic_gguf_embedding_length (const shic_gguf_t *self);
uint64_t shic_gguf_context_length (const shic_gguf_t *self);
uint64_t shic_gguf_feed_forward_length (const shic_gguf_t *self);
uint64_t shic_gguf_head_count (const shic_gguf_t *self, uint32_t layer);
uint64_t shic_gguf_head_count_kv (const shic_gguf_t *self, uint32_t layer);
uint64_t shic_gguf_key_length (const shic_gguf_t *self);
uint64_t shic_gguf_value_length (const shic_gguf_t *self);
//  Length of tokenizer.ggml.tokens, else A.vocab_size, else token_embd's rows
uint64_t shic_gguf_vocab_size (const shic_gguf_t *self);

//  Tensors, in file order; index < tensor_count, borrowed
size_t shic_gguf_tensor_count (const shic_gguf_t *self);
const shic_gguf_tensor_t *shic_gguf_tensor (const shic_gguf_t *self, size_t index);
//  The tensor of that name, or NULL
const shic_gguf_tensor_t *shic_gguf_tensor_find (const shic_gguf_t *self, const char *name);
//  Sum of tensor bytes: all of them, and those of one part
uint64_t shic_gguf_weights_bytes (const shic_gguf_t *self);
uint64_t shic_gguf_part_bytes (const shic_gguf_t *self, shic_gguf_part_t part);
//  Bytes of the tensors "blk.<layer>.*"
uint64_t shic_gguf_layer_bytes (const shic_gguf_t *self, uint32_t layer);
//  True when there is no output.weight: the output reuses token_embd
bool shic_gguf_output_tied (const shic_gguf_t *self);

//  ggml type tables: a type's name ("q8_0"), or NULL when the type is not
//  one this reader can size; and its block (elements per block, bytes per
//  block). Returns 0, or -1 for an unknown type.
const char *shic_gguf_type_name (uint32_t type);
int shic_gguf_type_block (uint32_t type, uint32_t *elements, uint32_t *bytes);
//  Bytes of n elements of a type, rounded up to whole blocks; 0 when the
//  type is unknown or the size overflows
uint64_t shic_gguf_row_bytes (uint32_t type, uint64_t elements);

#ifdef __cplusplus
}
#endif

#endif
