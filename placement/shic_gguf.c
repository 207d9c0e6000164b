/*  =========================================================================
    shic_gguf - reads the header of a GGUF model file, and only the header

    Layout (little-endian, GGUF v2 and v3): u32 magic "GGUF", u32 version,
    u64 tensor count, u64 key/value count; each key/value {str key; u32
    type; value}, str = u64 length + bytes; each tensor {str name; u32
    n_dims; u64 ne[n_dims]; u32 ggml type; u64 offset}; then padding to
    general.alignment (default 32) and the data.

    The parser walks a cursor over a buffer and fails with a reason and the
    byte where it stopped; only the outermost call turns that into a
    shic_error_t, so a fuzzer run costs no allocation per early failure.
    The file reader parses a 1 MiB prefix and, when the header runs past
    it, a four times larger one, up to SHIC_GGUF_MAX_HEADER.
    =========================================================================
*/

#include <czmq.h>
#include "shic_gguf.h"

//  GGUF metadata value types
#define S_U8     0
#define S_I8     1
#define S_U16    2
#define S_I16    3
#define S_U32    4
#define S_I32    5
#define S_F32    6
#define S_BOOL   7
#define S_STR    8
#define S_ARRAY  9
#define S_U64   10
#define S_I64   11
#define S_F64   12

#define S_MAGIC          0x46554747     //  "GGUF" read little-endian
#define S_KEEP_STRING    4096           //  longer strings are skipped
#define S_KEEP_INTS      4096           //  longer integer arrays keep only their length
#define S_MAX_ALIGNMENT  (1u << 20)

//  One ggml type this reader can size
typedef struct {
    const char *name;               //  ggml's name for it
    uint32_t elements;              //  elements per block
    uint32_t bytes;                 //  bytes per block
} s_type_t;

//  Indexed by ggml type number (ggml.h); NULL names are numbers ggml
//  retired or this reader cannot size. Block sizes checked against the
//  block structs of ggml-common.h.
static const s_type_t s_types [] = {
    [0]  = { "f32",     1,   4 },
    [1]  = { "f16",     1,   2 },
    [2]  = { "q4_0",    32,  18 },
    [3]  = { "q4_1",    32,  20 },
    [6]  = { "q5_0",    32,  22 },
    [7]  = { "q5_1",    32,  24 },
    [8]  = { "q8_0",    32,  34 },
    [9]  = { "q8_1",    32,  36 },
    [10] = { "q2_K",    256, 84 },
    [11] = { "q3_K",    256, 110 },
    [12] = { "q4_K",    256, 144 },
    [13] = { "q5_K",    256, 176 },
    [14] = { "q6_K",    256, 210 },
    [15] = { "q8_K",    256, 292 },
    [16] = { "iq2_xxs", 256, 66 },
    [17] = { "iq2_xs",  256, 74 },
    [18] = { "iq3_xxs", 256, 98 },
    [19] = { "iq1_s",   256, 50 },
    [20] = { "iq4_nl",  32,  18 },
    [21] = { "iq3_s",   256, 110 },
    [22] = { "iq2_s",   256, 82 },
    [23] = { "iq4_xs",  256, 136 },
    [24] = { "i8",      1,   1 },
    [25] = { "i16",     1,   2 },
    [26] = { "i32",     1,   4 },
    [27] = { "i64",     1,   8 },
    [28] = { "f64",     1,   8 },
    [29] = { "iq1_m",   256, 56 },
    [30] = { "bf16",    1,   2 },
    [34] = { "tq1_0",   256, 54 },
    [35] = { "tq2_0",   256, 66 },
    [39] = { "mxfp4",   32,  17 },
};
#define S_TYPES ((uint32_t) (sizeof (s_types) / sizeof (s_types [0])))

//  One metadata key/value, kept in a form the accessors can answer from
typedef struct {
    char *key;                      //  owned, NUL-terminated
    uint32_t type;                  //  GGUF value type
    int64_t integer;                //  integers and bools
    bool integer_ok;                //  integer holds the value (a u64 above INT64_MAX does not)
    double real;                    //  f32 and f64
    char *text;                     //  owned string, when short enough to keep
    uint32_t item_type;             //  arrays: type of the items
    uint64_t items;                 //  arrays: number of items
    int64_t *ints;                  //  owned integer items, when few enough to keep
} s_kv_t;

struct _shic_gguf_t {
    uint32_t version;               //  2 or 3
    uint64_t data_offset;           //  start of the tensor data in the file
    uint32_t alignment;             //  general.alignment, or 32
    s_kv_t *kvs;                    //  owned array of kv_count key/values
    size_t kv_count;                //  key/values read
    shic_gguf_tensor_t *tensors;    //  owned array; names owned too
    size_t tensor_count;            //  tensors read
    uint64_t part_bytes [4];        //  bytes per shic_gguf_part_t
    uint64_t max_end;               //  largest offset + bytes over the tensors
    const s_kv_t *head_count;       //  "<arch>.attention.head_count" in kvs, or NULL
    const s_kv_t *head_count_kv;    //  "<arch>.attention.head_count_kv" in kvs, or NULL
};

//  A read position over the bytes, and why it stopped
typedef struct {
    const uint8_t *data;            //  borrowed bytes
    size_t size;                    //  how many
    size_t pos;                     //  next byte to read
    const char *reason;             //  static reason of the first failure, or NULL
    size_t fail_at;                 //  byte where it failed
} s_cursor_t;

static bool
s_fail (s_cursor_t *cursor, const char *reason)
{
    if (!cursor->reason) {
        cursor->reason = reason;
        cursor->fail_at = cursor->pos;
    }
    return false;
}

//  Takes n bytes from the cursor; false (truncated) when fewer are left
static bool
s_take (s_cursor_t *cursor, size_t n, const uint8_t **bytes)
{
    if (n > cursor->size - cursor->pos)
        return s_fail (cursor, "truncated");
    *bytes = cursor->data + cursor->pos;
    cursor->pos += n;
    return true;
}

static bool
s_u32 (s_cursor_t *cursor, uint32_t *value)
{
    const uint8_t *b;
    if (!s_take (cursor, 4, &b))
        return false;
    *value = (uint32_t) b [0] | (uint32_t) b [1] << 8
           | (uint32_t) b [2] << 16 | (uint32_t) b [3] << 24;
    return true;
}

static bool
s_u64 (s_cursor_t *cursor, uint64_t *value)
{
    uint32_t low, high;
    if (!s_u32 (cursor, &low) || !s_u32 (cursor, &high))
        return false;
    *value = (uint64_t) high << 32 | low;
    return true;
}

//  Reads a GGUF string. When copy_p is given and the string is at most
//  keep bytes long, *copy_p gets a fresh NUL-terminated copy (NULL
//  otherwise). Embedded NULs end the copy early, harmlessly.
static bool
s_string (s_cursor_t *cursor, size_t keep, char **copy_p)
{
    uint64_t length;
    const uint8_t *bytes;
    if (copy_p)
        *copy_p = NULL;
    if (!s_u64 (cursor, &length))
        return false;
    if (length > SHIC_GGUF_MAX_STRING) {
        cursor->pos -= 8;
        return s_fail (cursor, "string_too_long");
    }
    if (!s_take (cursor, (size_t) length, &bytes))
        return false;
    if (copy_p && length <= keep) {
        *copy_p = (char *) malloc ((size_t) length + 1);
        if (!*copy_p)
            return s_fail (cursor, "no_memory");
        memcpy (*copy_p, bytes, (size_t) length);
        (*copy_p) [length] = 0;
    }
    return true;
}

//  Fixed size of a scalar value type, 0 for strings and arrays, -1 unknown
static int
s_scalar_size (uint32_t type)
{
    static const int sizes [] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };
    return type <= S_F64? sizes [type]: -1;
}

//  Reads one scalar (not string, not array) into the kv
static bool
s_scalar (s_cursor_t *cursor, uint32_t type, s_kv_t *kv)
{
    int size = s_scalar_size (type);
    const uint8_t *b;
    if (!s_take (cursor, (size_t) size, &b))
        return false;
    uint64_t raw = 0;
    for (int index = 0; index < size; index++)
        raw |= (uint64_t) b [index] << (8 * index);
    kv->integer_ok = true;
    switch (type) {
        case S_U8: case S_U16: case S_U32: case S_BOOL:
            kv->integer = (int64_t) raw;
            break;
        case S_I8:  kv->integer = (int8_t) raw; break;
        case S_I16: kv->integer = (int16_t) raw; break;
        case S_I32: kv->integer = (int32_t) raw; break;
        case S_I64: kv->integer = (int64_t) raw; break;
        case S_U64:
            kv->integer = (int64_t) raw;
            kv->integer_ok = raw <= (uint64_t) INT64_MAX;
            break;
        case S_F32: {
            uint32_t bits = (uint32_t) raw;
            float value;
            memcpy (&value, &bits, 4);
            kv->real = value;
            kv->integer_ok = false;
            break;
        }
        default: {
            double value;
            memcpy (&value, &raw, 8);
            kv->real = value;
            kv->integer_ok = false;
        }
    }
    return true;
}

//  Reads an array {u32 type; u64 n; items}. Integer items go to kv->ints
//  when there are few; strings and nested arrays are skipped. The loop
//  count is bounded by the bytes left, as every item takes at least one.
static bool
s_array (s_cursor_t *cursor, s_kv_t *kv, int depth)
{
    uint32_t item_type;
    uint64_t items;
    if (depth > SHIC_GGUF_MAX_NESTING)
        return s_fail (cursor, "array_nesting");
    if (!s_u32 (cursor, &item_type))
        return false;
    if (item_type > S_F64) {
        cursor->pos -= 4;
        return s_fail (cursor, "bad_value_type");
    }
    if (!s_u64 (cursor, &items))
        return false;
    if (items > SHIC_GGUF_MAX_ARRAY) {
        cursor->pos -= 8;
        return s_fail (cursor, "array_too_long");
    }
    if (kv) {
        kv->item_type = item_type;
        kv->items = items;
    }
    int size = s_scalar_size (item_type);
    if (size > 0) {
        //  Fixed-size items: check the whole run at once
        const uint8_t *b;
        if ((uint64_t) size * items > cursor->size - cursor->pos)
            return s_fail (cursor, "truncated");
        bool keep = kv && items <= S_KEEP_INTS
                 && item_type != S_F32 && item_type != S_F64;
        if (keep && items > 0) {
            kv->ints = (int64_t *) calloc ((size_t) items, sizeof (int64_t));
            if (!kv->ints)
                return s_fail (cursor, "no_memory");
            for (uint64_t index = 0; index < items; index++) {
                s_kv_t item = { 0 };
                if (!s_scalar (cursor, item_type, &item))
                    return false;
                kv->ints [index] = item.integer;
            }
        }
        else
            return s_take (cursor, (size_t) (size * items), &b);
        return true;
    }
    for (uint64_t index = 0; index < items; index++) {
        if (item_type == S_STR) {
            if (!s_string (cursor, 0, NULL))
                return false;
        }
        else
        if (!s_array (cursor, NULL, depth + 1))
            return false;
    }
    return true;
}

static void
s_kv_free (s_kv_t *kv)
{
    free (kv->key);
    free (kv->text);
    free (kv->ints);
}

static const s_kv_t *
s_kv_find (const shic_gguf_t *self, const char *key)
{
    for (size_t index = 0; index < self->kv_count; index++)
        if (streq (self->kvs [index].key, key))
            return &self->kvs [index];
    return NULL;
}

//  Where placement puts a tensor, from its name
static shic_gguf_part_t
s_part_of (const char *name, int32_t *layer)
{
    *layer = -1;
    if (strncmp (name, "blk.", 4) == 0) {
        const char *digit = name + 4;
        int64_t number = 0;
        while (*digit >= '0' && *digit <= '9' && number < 1000000)
            number = number * 10 + (*digit++ - '0');
        if (digit > name + 4 && *digit == '.' && number < 1000000) {
            *layer = (int32_t) number;
            return SHIC_GGUF_PART_LAYER;
        }
        return SHIC_GGUF_PART_OTHER;
    }
    if (strncmp (name, "token_embd", 10) == 0
    ||  strncmp (name, "position_embd", 13) == 0
    ||  strncmp (name, "token_types", 11) == 0)
        return SHIC_GGUF_PART_INPUT;
    if (strncmp (name, "output", 6) == 0)
        return SHIC_GGUF_PART_OUTPUT;
    return SHIC_GGUF_PART_OTHER;
}

//  Reads one tensor info into tensor and checks it
static bool
s_tensor (s_cursor_t *cursor, shic_gguf_tensor_t *tensor)
{
    char *name = NULL;
    size_t start = cursor->pos;
    if (!s_string (cursor, SHIC_GGUF_MAX_NAME, &name))
        return false;
    if (!name) {
        cursor->pos = start;
        return s_fail (cursor, "name_too_long");
    }
    tensor->name = name;
    tensor->part = s_part_of (name, &tensor->layer);
    size_t dims_at = cursor->pos;
    if (!s_u32 (cursor, &tensor->n_dims))
        return false;
    if (tensor->n_dims < 1 || tensor->n_dims > SHIC_GGUF_MAX_DIMS) {
        cursor->pos = dims_at;
        return s_fail (cursor, "bad_dims");
    }
    uint64_t elements = 1;
    for (uint32_t dim = 0; dim < SHIC_GGUF_MAX_DIMS; dim++) {
        uint64_t ne = 1;
        if (dim < tensor->n_dims) {
            if (!s_u64 (cursor, &ne))
                return false;
            //  ggml holds dimensions and their product as int64
            if (ne > (uint64_t) INT64_MAX
            ||  (ne && elements > (uint64_t) INT64_MAX / ne)) {
                cursor->pos -= 8;
                return s_fail (cursor, "overflow");
            }
        }
        tensor->ne [dim] = ne;
        elements *= ne;
    }
    size_t type_at = cursor->pos;
    if (!s_u32 (cursor, &tensor->type))
        return false;
    uint32_t block_elements, block_bytes;
    if (shic_gguf_type_block (tensor->type, &block_elements, &block_bytes)) {
        cursor->pos = type_at;
        return s_fail (cursor, "bad_tensor_type");
    }
    //  A row must be whole blocks (ggml stores no partial block)
    if (tensor->ne [0] % block_elements) {
        cursor->pos = type_at;
        return s_fail (cursor, "partial_block");
    }
    uint64_t blocks = elements / block_elements;
    if (blocks > UINT64_MAX / block_bytes) {
        cursor->pos = type_at;
        return s_fail (cursor, "overflow");
    }
    tensor->bytes = blocks * block_bytes;
    if (!s_u64 (cursor, &tensor->offset))
        return false;
    if (tensor->offset > UINT64_MAX - tensor->bytes) {
        cursor->pos -= 8;
        return s_fail (cursor, "overflow");
    }
    return true;
}

//  Parses the header in cursor into self; false with cursor->reason set
static bool
s_parse (shic_gguf_t *self, s_cursor_t *cursor)
{
    uint32_t magic;
    uint64_t tensor_count, kv_count;
    if (!s_u32 (cursor, &magic))
        return false;
    if (magic != S_MAGIC) {
        cursor->pos = 0;
        return s_fail (cursor, "bad_magic");
    }
    if (!s_u32 (cursor, &self->version))
        return false;
    //  Version 1 had 32-bit lengths; a byte-swapped version is a big-endian file
    if (self->version != 2 && self->version != 3) {
        cursor->pos -= 4;
        return s_fail (cursor, "bad_version");
    }
    if (!s_u64 (cursor, &tensor_count))
        return false;
    if (tensor_count > SHIC_GGUF_MAX_TENSORS) {
        cursor->pos -= 8;
        return s_fail (cursor, "too_many_tensors");
    }
    if (!s_u64 (cursor, &kv_count))
        return false;
    if (kv_count > SHIC_GGUF_MAX_KV) {
        cursor->pos -= 8;
        return s_fail (cursor, "too_many_kv");
    }
    //  Every key/value takes at least 13 bytes and every tensor 32: a
    //  count the buffer cannot hold fails before anything is allocated
    if (kv_count * 13 + tensor_count * 32 > cursor->size - cursor->pos)
        return s_fail (cursor, "truncated");
    if (kv_count) {
        self->kvs = (s_kv_t *) calloc ((size_t) kv_count, sizeof (s_kv_t));
        if (!self->kvs)
            return s_fail (cursor, "no_memory");
    }
    for (uint64_t index = 0; index < kv_count; index++) {
        s_kv_t *kv = &self->kvs [index];
        size_t start = cursor->pos;
        self->kv_count++;
        if (!s_string (cursor, SHIC_GGUF_MAX_STRING, &kv->key))
            return false;
        if (!s_u32 (cursor, &kv->type))
            return false;
        if (kv->type > S_F64) {
            cursor->pos -= 4;
            return s_fail (cursor, "bad_value_type");
        }
        bool ok = kv->type == S_STR? s_string (cursor, S_KEEP_STRING, &kv->text):
                  kv->type == S_ARRAY? s_array (cursor, kv, 1):
                  s_scalar (cursor, kv->type, kv);
        if (!ok)
            return false;
        if (streq (kv->key, "general.alignment")) {
            if (kv->type != S_U32 || kv->integer == 0 || kv->integer > S_MAX_ALIGNMENT
            ||  (kv->integer & (kv->integer - 1))) {
                cursor->pos = start;
                return s_fail (cursor, "bad_alignment");
            }
            self->alignment = (uint32_t) kv->integer;
        }
    }
    if (tensor_count) {
        self->tensors = (shic_gguf_tensor_t *) calloc ((size_t) tensor_count,
                                                       sizeof (shic_gguf_tensor_t));
        if (!self->tensors)
            return s_fail (cursor, "no_memory");
    }
    for (uint64_t index = 0; index < tensor_count; index++) {
        shic_gguf_tensor_t *tensor = &self->tensors [index];
        size_t start = cursor->pos;
        self->tensor_count++;
        if (!s_tensor (cursor, tensor))
            return false;
        if (tensor->offset % self->alignment) {
            cursor->pos = start;
            return s_fail (cursor, "misaligned_offset");
        }
        //  Sums of at most 65536 sizes under 2^64 each: check, not trust
        uint64_t *sum = &self->part_bytes [tensor->part];
        if (*sum > UINT64_MAX - tensor->bytes) {
            cursor->pos = start;
            return s_fail (cursor, "overflow");
        }
        *sum += tensor->bytes;
        if (tensor->offset + tensor->bytes > self->max_end)
            self->max_end = tensor->offset + tensor->bytes;
    }
    uint64_t weights = 0;
    for (int part = 0; part < 4; part++) {
        if (weights > UINT64_MAX - self->part_bytes [part])
            return s_fail (cursor, "overflow");
        weights += self->part_bytes [part];
    }
    self->data_offset = ((uint64_t) cursor->pos + self->alignment - 1)
                      / self->alignment * self->alignment;
    return true;
}

static const s_kv_t *s_arch_kv (const shic_gguf_t *self, const char *suffix);

static void
s_set_error (shic_error_t *err, const char *source, const char *reason, size_t at)
{
    shic_val_t *details = shic_val_new_map ();
    if (details) {
        shic_val_set_str (details, "field", "model");
        shic_val_set_str (details, "reason", reason);
        shic_val_set_int (details, "offset", (int64_t) at);
    }
    shic_error_set (err, SHIC_E_INVALID_ARGS, &details,
                    "The GGUF header of %s is not usable: %s at byte %zu.",
                    source, reason, at);
}

//  Parses a buffer; on failure returns NULL and sets *reason and *at
static shic_gguf_t *
s_new_parsed (const void *data, size_t size, const char **reason, size_t *at)
{
    shic_gguf_t *self = (shic_gguf_t *) calloc (1, sizeof (shic_gguf_t));
    if (!self) {
        *reason = "no_memory";
        *at = 0;
        return NULL;
    }
    self->alignment = 32;
    s_cursor_t cursor = { (const uint8_t *) data, data? size: 0, 0, NULL, 0 };
    if (!s_parse (self, &cursor)) {
        *reason = cursor.reason;
        *at = cursor.fail_at;
        shic_gguf_destroy (&self);
        return NULL;
    }
    //  Per-layer lookups would search every key once per layer: once here
    self->head_count = s_arch_kv (self, "attention.head_count");
    self->head_count_kv = s_arch_kv (self, "attention.head_count_kv");
    return self;
}

shic_gguf_t *
shic_gguf_new_from_buffer (const void *data, size_t size, shic_error_t *err)
{
    const char *reason = NULL;
    size_t at = 0;
    shic_gguf_t *self = s_new_parsed (data, size, &reason, &at);
    if (!self)
        s_set_error (err, "the buffer", reason, at);
    return self;
}

shic_gguf_t *
shic_gguf_new (const char *path, shic_error_t *err)
{
    if (!path) {
        shic_error_set_field (err, SHIC_E_INVALID_ARGS, "model", "No model path given.");
        return NULL;
    }
    FILE *file = fopen (path, "rb");
    if (!file) {
        shic_error_set_field (err, SHIC_E_INVALID_ARGS, "model",
                              "Cannot open the model %s: %s.", path, strerror (errno));
        return NULL;
    }
    struct stat status;
    uint64_t file_size = 0;
    if (fstat (fileno (file), &status) == 0 && S_ISREG (status.st_mode))
        file_size = (uint64_t) status.st_size;
    shic_gguf_t *self = NULL;
    uint8_t *buffer = NULL;
    size_t have = 0;
    size_t want = 1024 * 1024;
    const char *reason = "io";
    size_t at = 0;
    while (true) {
        uint8_t *grown = (uint8_t *) realloc (buffer, want);
        if (!grown) {
            reason = "no_memory";
            break;
        }
        buffer = grown;
        size_t got = fread (buffer + have, 1, want - have, file);
        have += got;
        bool at_end = have < want;
        if (ferror (file)) {
            reason = "io";
            at = have;
            break;
        }
        self = s_new_parsed (buffer, have, &reason, &at);
        //  Only a header that runs past what was read is worth more bytes
        if (self || !streq (reason, "truncated") || at_end
        ||  want >= SHIC_GGUF_MAX_HEADER)
            break;
        want = want * 4 > SHIC_GGUF_MAX_HEADER? SHIC_GGUF_MAX_HEADER: want * 4;
    }
    free (buffer);
    fclose (file);
    if (self && file_size && (self->data_offset > file_size
                          ||  self->max_end > file_size - self->data_offset)) {
        reason = "tensor_beyond_file";
        at = (size_t) file_size;
        shic_gguf_destroy (&self);
    }
    if (!self)
        s_set_error (err, path, reason, at);
    return self;
}

void
shic_gguf_destroy (shic_gguf_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    shic_gguf_t *self = *self_p;
    for (size_t index = 0; index < self->kv_count; index++)
        s_kv_free (&self->kvs [index]);
    free (self->kvs);
    for (size_t index = 0; index < self->tensor_count; index++)
        free ((char *) self->tensors [index].name);
    free (self->tensors);
    free (self);
    *self_p = NULL;
}

uint32_t
shic_gguf_version (const shic_gguf_t *self)
{
    assert (self);
    return self->version;
}

uint64_t
shic_gguf_data_offset (const shic_gguf_t *self)
{
    assert (self);
    return self->data_offset;
}

int
shic_gguf_find_int (const shic_gguf_t *self, const char *key, int64_t *value)
{
    assert (self);
    const s_kv_t *kv = s_kv_find (self, key);
    if (!kv || kv->type == S_STR || kv->type == S_ARRAY || !kv->integer_ok)
        return -1;
    *value = kv->integer;
    return 0;
}

int
shic_gguf_find_float (const shic_gguf_t *self, const char *key, double *value)
{
    assert (self);
    const s_kv_t *kv = s_kv_find (self, key);
    if (!kv || (kv->type != S_F32 && kv->type != S_F64))
        return -1;
    *value = kv->real;
    return 0;
}

const char *
shic_gguf_find_str (const shic_gguf_t *self, const char *key)
{
    assert (self);
    const s_kv_t *kv = s_kv_find (self, key);
    return kv && kv->type == S_STR? kv->text: NULL;
}

int
shic_gguf_find_array (const shic_gguf_t *self, const char *key,
                      uint32_t *item_type, uint64_t *items)
{
    assert (self);
    const s_kv_t *kv = s_kv_find (self, key);
    if (!kv || kv->type != S_ARRAY)
        return -1;
    if (item_type)
        *item_type = kv->item_type;
    if (items)
        *items = kv->items;
    return 0;
}

const char *
shic_gguf_architecture (const shic_gguf_t *self)
{
    return shic_gguf_find_str (self, "general.architecture");
}

//  The kv "<architecture>.<suffix>", or NULL
static const s_kv_t *
s_arch_kv (const shic_gguf_t *self, const char *suffix)
{
    const char *arch = shic_gguf_architecture (self);
    if (!arch)
        return NULL;
    char key [512];
    if (snprintf (key, sizeof (key), "%s.%s", arch, suffix) >= (int) sizeof (key))
        return NULL;
    return s_kv_find (self, key);
}

//  A kv's non-negative integer, or per layer from an integer array; 0 when
//  absent or of another type
static uint64_t
s_kv_uint (const s_kv_t *kv, uint32_t layer)
{
    if (!kv)
        return 0;
    int64_t value = 0;
    if (kv->type == S_ARRAY) {
        if (kv->ints && layer < kv->items)
            value = kv->ints [layer];
    }
    else
    if (kv->type != S_STR && kv->integer_ok)
        value = kv->integer;
    return value > 0? (uint64_t) value: 0;
}

//  The same for the key "<architecture>.<suffix>"
static uint64_t
s_arch_uint (const shic_gguf_t *self, const char *suffix, uint32_t layer)
{
    return s_kv_uint (s_arch_kv (self, suffix), layer);
}

uint64_t
shic_gguf_block_count (const shic_gguf_t *self)
{
    return s_arch_uint (self, "block_count", 0);
}

uint64_t
shic_gguf_embedding_length (const shic_gguf_t *self)
{
    return s_arch_uint (self, "embedding_length", 0);
}

uint64_t
shic_gguf_context_length (const shic_gguf_t *self)
{
    return s_arch_uint (self, "context_length", 0);
}

uint64_t
shic_gguf_feed_forward_length (const shic_gguf_t *self)
{
    return s_arch_uint (self, "feed_forward_length", 0);
}

uint64_t
shic_gguf_head_count (const shic_gguf_t *self, uint32_t layer)
{
    assert (self);
    return s_kv_uint (self->head_count, layer);
}

uint64_t
shic_gguf_head_count_kv (const shic_gguf_t *self, uint32_t layer)
{
    //  Present but 0 marks a recurrent layer: no KV cache there
    assert (self);
    if (self->head_count_kv)
        return s_kv_uint (self->head_count_kv, layer);
    return shic_gguf_head_count (self, layer);
}

//  key_length or value_length, else embedding / heads of layer 0
static uint64_t
s_head_length (const shic_gguf_t *self, const char *suffix)
{
    uint64_t length = s_arch_uint (self, suffix, 0);
    if (length)
        return length;
    uint64_t heads = shic_gguf_head_count (self, 0);
    return heads? shic_gguf_embedding_length (self) / heads: 0;
}

uint64_t
shic_gguf_key_length (const shic_gguf_t *self)
{
    return s_head_length (self, "attention.key_length");
}

uint64_t
shic_gguf_value_length (const shic_gguf_t *self)
{
    return s_head_length (self, "attention.value_length");
}

uint64_t
shic_gguf_vocab_size (const shic_gguf_t *self)
{
    uint64_t items;
    if (shic_gguf_find_array (self, "tokenizer.ggml.tokens", NULL, &items) == 0 && items)
        return items;
    uint64_t size = s_arch_uint (self, "vocab_size", 0);
    if (size)
        return size;
    const shic_gguf_tensor_t *embd = shic_gguf_tensor_find (self, "token_embd.weight");
    return embd && embd->n_dims >= 2? embd->ne [1]: 0;
}

size_t
shic_gguf_tensor_count (const shic_gguf_t *self)
{
    assert (self);
    return self->tensor_count;
}

const shic_gguf_tensor_t *
shic_gguf_tensor (const shic_gguf_t *self, size_t index)
{
    assert (self);
    return index < self->tensor_count? &self->tensors [index]: NULL;
}

const shic_gguf_tensor_t *
shic_gguf_tensor_find (const shic_gguf_t *self, const char *name)
{
    assert (self);
    for (size_t index = 0; index < self->tensor_count; index++)
        if (streq (self->tensors [index].name, name))
            return &self->tensors [index];
    return NULL;
}

uint64_t
shic_gguf_weights_bytes (const shic_gguf_t *self)
{
    assert (self);
    //  s_parse checked that this sum does not overflow
    return self->part_bytes [0] + self->part_bytes [1]
         + self->part_bytes [2] + self->part_bytes [3];
}

uint64_t
shic_gguf_part_bytes (const shic_gguf_t *self, shic_gguf_part_t part)
{
    assert (self);
    return (unsigned) part < 4? self->part_bytes [part]: 0;
}

uint64_t
shic_gguf_layer_bytes (const shic_gguf_t *self, uint32_t layer)
{
    assert (self);
    uint64_t bytes = 0;
    for (size_t index = 0; index < self->tensor_count; index++)
        if (self->tensors [index].layer == (int32_t) layer)
            bytes += self->tensors [index].bytes;
    return bytes;
}

bool
shic_gguf_output_tied (const shic_gguf_t *self)
{
    return shic_gguf_tensor_find (self, "output.weight") == NULL;
}

const char *
shic_gguf_type_name (uint32_t type)
{
    return type < S_TYPES? s_types [type].name: NULL;
}

int
shic_gguf_type_block (uint32_t type, uint32_t *elements, uint32_t *bytes)
{
    if (type >= S_TYPES || !s_types [type].name)
        return -1;
    *elements = s_types [type].elements;
    *bytes = s_types [type].bytes;
    return 0;
}

uint64_t
shic_gguf_row_bytes (uint32_t type, uint64_t elements)
{
    uint32_t block_elements, block_bytes;
    if (shic_gguf_type_block (type, &block_elements, &block_bytes))
        return 0;
    uint64_t blocks = elements / block_elements + (elements % block_elements? 1: 0);
    if (blocks > UINT64_MAX / block_bytes)
        return 0;
    return blocks * block_bytes;
}
