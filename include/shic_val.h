/*  =========================================================================
    shic_val - a dynamically typed value tree, and the only msgpack codec

    Every structure that crosses a socket in shic (wire requests and replies,
    actor messages, contract structures) is a shic_val_t tree. This class is
    the one place in the code base that packs or unpacks msgpack: the tree
    is messages/shic_val.c, the codec and the streaming writer are
    messages/shic_msgpack.c, and nothing else includes <msgpack.h>.

    Decoding is where bad input dies: the size limit is checked first, the
    bytes are pre-scanned so that declared container and string sizes never
    exceed the bytes left and nesting stays under the limit, msgpack must
    return SUCCESS with every byte consumed, and strings are copied out and
    NUL-terminated. Map keys must be strings (wire.md: keys are strings).
    Decoders never assert on outside data.
    =========================================================================
*/

#ifndef SHIC_VAL_H_INCLUDED
#define SHIC_VAL_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "shic_library.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _shic_val_t shic_val_t;

typedef enum {
    SHIC_VAL_NIL = 0,
    SHIC_VAL_BOOL,
    SHIC_VAL_INT,                   //  signed 64-bit; positive uints that fit
    SHIC_VAL_FLOAT,                 //  double (float32 widened)
    SHIC_VAL_STR,                   //  UTF-8 bytes, NUL-terminated copy
    SHIC_VAL_BIN,                   //  raw bytes
    SHIC_VAL_ARRAY,
    SHIC_VAL_MAP                    //  ordered (key string, value) pairs
} shic_val_type_t;

//  Limits applied by shic_val_decode
typedef struct {
    size_t max_bytes;               //  whole buffer; 0 = SHIC_VAL_MAX_BYTES
    int max_depth;                  //  container nesting; 0 = SHIC_VAL_MAX_DEPTH
    size_t max_items;               //  per container; 0 = SHIC_VAL_MAX_ITEMS
} shic_val_limits_t;

#define SHIC_VAL_MAX_BYTES  (1024 * 1024)
#define SHIC_VAL_MAX_DEPTH  16
#define SHIC_VAL_MAX_ITEMS  65536

//  ---------------------------------------------------------------------------
//  Constructors. Every constructor returns a fresh value owned by the caller,
//  or NULL when memory ran out.

SHIC_EXPORT shic_val_t *shic_val_new_nil (void);
SHIC_EXPORT shic_val_t *shic_val_new_bool (bool value);
SHIC_EXPORT shic_val_t *shic_val_new_int (int64_t value);
SHIC_EXPORT shic_val_t *shic_val_new_float (double value);
//  Copies the string (NULL gives a nil value)
SHIC_EXPORT shic_val_t *shic_val_new_str (const char *value);
//  Copies size bytes and NUL-terminates the copy
SHIC_EXPORT shic_val_t *shic_val_new_strn (const char *value, size_t size);
//  Formats like printf
SHIC_EXPORT shic_val_t *shic_val_new_printf (const char *format, ...)
    __attribute__ ((format (printf, 1, 2)));
SHIC_EXPORT shic_val_t *shic_val_new_bin (const void *data, size_t size);
SHIC_EXPORT shic_val_t *shic_val_new_array (void);
//  An array of the strings given, up to a NULL
SHIC_EXPORT shic_val_t *shic_val_new_strings (const char *first, ...);
SHIC_EXPORT shic_val_t *shic_val_new_map (void);

//  Destroys a value and everything under it; no-op on NULL; nulls *self_p
SHIC_EXPORT void shic_val_destroy (shic_val_t **self_p);

//  Deep copy; NULL in gives NULL out
SHIC_EXPORT shic_val_t *shic_val_dup (const shic_val_t *self);

//  ---------------------------------------------------------------------------
//  Accessors. All are safe on NULL and on the wrong type: they return the
//  type's zero (false, 0, 0.0, NULL, 0 items).

SHIC_EXPORT shic_val_type_t shic_val_type (const shic_val_t *self);
//  The type as a word for error messages: "nil", "bool", "int", ...
SHIC_EXPORT const char *shic_val_type_name (const shic_val_t *self);
SHIC_EXPORT bool shic_val_is (const shic_val_t *self, shic_val_type_t type);
SHIC_EXPORT bool shic_val_bool (const shic_val_t *self);
SHIC_EXPORT int64_t shic_val_int (const shic_val_t *self);
//  INT or FLOAT as double
SHIC_EXPORT double shic_val_float (const shic_val_t *self);
//  Borrowed NUL-terminated string; NULL unless type is STR
SHIC_EXPORT const char *shic_val_str (const shic_val_t *self);
//  Bytes of a STR or BIN
SHIC_EXPORT size_t shic_val_len (const shic_val_t *self);
//  Borrowed bytes of a BIN or STR
SHIC_EXPORT const void *shic_val_bin (const shic_val_t *self);

//  Number of items of an ARRAY or pairs of a MAP
SHIC_EXPORT size_t shic_val_size (const shic_val_t *self);
//  Borrowed item of an ARRAY, or value of pair i of a MAP; NULL out of range
SHIC_EXPORT shic_val_t *shic_val_at (const shic_val_t *self, size_t index);
//  Borrowed key of pair i of a MAP; NULL out of range
SHIC_EXPORT const char *shic_val_key_at (const shic_val_t *self, size_t index);

//  Appends to an ARRAY; takes ownership of *item_p and nulls it.
//  Returns 0, or -1 (item destroyed) when self is not an array.
SHIC_EXPORT int shic_val_push (shic_val_t *self, shic_val_t **item_p);

//  MAP lookup by key; borrowed; NULL when absent or self is not a map
SHIC_EXPORT shic_val_t *shic_val_get (const shic_val_t *self, const char *key);
//  Lookup through a path of keys separated by '/', e.g. "request/target_preference"
SHIC_EXPORT shic_val_t *shic_val_path (const shic_val_t *self, const char *path);
//  Sets key to *value_p (replaces an existing pair in place, else appends);
//  takes ownership of *value_p and nulls it. Returns 0, or -1 (value
//  destroyed) when self is not a map.
SHIC_EXPORT int shic_val_set (shic_val_t *self, const char *key, shic_val_t **value_p);
//  Appends the pair key = *value_p without looking for key first (constant
//  time, where shic_val_set searches the map): for a caller that knows the
//  key is not in the map, e.g. a converter whose source refused duplicate
//  keys. A duplicate appended anyway is a bug of the caller. Takes
//  ownership of *value_p and nulls it; returns 0, or -1 (value destroyed)
//  when self is not a map or memory ran out.
SHIC_EXPORT int shic_val_append (shic_val_t *self, const char *key, shic_val_t **value_p);
//  Convenience setters, each returns 0 / -1
SHIC_EXPORT int shic_val_set_str (shic_val_t *self, const char *key, const char *value);
SHIC_EXPORT int shic_val_set_int (shic_val_t *self, const char *key, int64_t value);
SHIC_EXPORT int shic_val_set_bool (shic_val_t *self, const char *key, bool value);
SHIC_EXPORT int shic_val_set_nil (shic_val_t *self, const char *key);
//  Sets key to a deep copy of value (NULL gives nil)
SHIC_EXPORT int shic_val_set_dup (shic_val_t *self, const char *key, const shic_val_t *value);
//  Removes a key; returns 0 if removed, -1 if absent
SHIC_EXPORT int shic_val_remove (shic_val_t *self, const char *key);
//  Takes the value out of a map without destroying it (ownership to caller)
SHIC_EXPORT shic_val_t *shic_val_take (shic_val_t *self, const char *key);

//  Deep equality: same type and value; maps compare as sets of pairs
//  (order-insensitive); INT and FLOAT never compare equal to each other.
SHIC_EXPORT bool shic_val_equal (const shic_val_t *a, const shic_val_t *b);

//  True when array self holds an item equal to item
SHIC_EXPORT bool shic_val_contains (const shic_val_t *self, const shic_val_t *item);
//  True when array self holds a STR item equal to value
SHIC_EXPORT bool shic_val_contains_str (const shic_val_t *self, const char *value);

//  ---------------------------------------------------------------------------
//  msgpack codec

//  Decodes one msgpack object from data. On success returns 0 and sets *out_p
//  to a fresh tree. Returns -2 on malformed input (truncated, trailing bytes,
//  reserved bytes, too deep, too many items, declared size larger than the
//  bytes left, non-string map key, uint above INT64_MAX, too large), with
//  *out_p NULL. If error is not NULL it receives a short static reason.
//  limits may be NULL for the defaults.
SHIC_EXPORT int shic_val_decode (const void *data, size_t size,
                                 const shic_val_limits_t *limits,
                                 shic_val_t **out_p, const char **error);

//  Decodes only the object at path in the msgpack map data: path is a
//  NULL-terminated list of keys, each naming a value of the map the one
//  before named (the first, of the root). For hot paths that want a few
//  fields of a large message and not a tree of all of it. The bytes are
//  checked as shic_val_decode checks them (default limits) but duplicate
//  keys are not looked for: the first one counts. Returns 0 with a fresh
//  *out_p, -1 when a key is missing or a step is not a map (*out_p NULL),
//  -2 on malformed input (*out_p NULL).
SHIC_EXPORT int shic_val_decode_at (const void *data, size_t size, const char *const *path,
                                    shic_val_t **out_p);

//  Encodes self as msgpack into a fresh malloc'd buffer. Returns 0 and sets
//  *data_p / *size_p, or -1 on out-of-memory.
SHIC_EXPORT int shic_val_encode (const shic_val_t *self, void **data_p, size_t *size_p);

//  Canonical encoding: like shic_val_encode but map pairs sorted by key
//  (bytewise), recursively; equal trees give equal bytes. Used for
//  instance keys.
SHIC_EXPORT int shic_val_encode_canonical (const shic_val_t *self, void **data_p, size_t *size_p);

//  A streaming msgpack writer, for hot paths that send parts of existing
//  trees without copying them into a new tree first. The caller writes
//  exactly as many keys and values as each map or array header announces.
//  Calls after an out-of-memory do nothing; shic_val_writer_take reports it.
typedef struct _shic_val_writer_t shic_val_writer_t;

SHIC_EXPORT shic_val_writer_t *shic_val_writer_new (void);
SHIC_EXPORT void shic_val_writer_destroy (shic_val_writer_t **self_p);
SHIC_EXPORT void shic_val_writer_map (shic_val_writer_t *self, size_t pairs);
SHIC_EXPORT void shic_val_writer_array (shic_val_writer_t *self, size_t items);
//  A string; NULL writes nil
SHIC_EXPORT void shic_val_writer_str (shic_val_writer_t *self, const char *value);
SHIC_EXPORT void shic_val_writer_int (shic_val_writer_t *self, int64_t value);
SHIC_EXPORT void shic_val_writer_bool (shic_val_writer_t *self, bool value);
SHIC_EXPORT void shic_val_writer_nil (shic_val_writer_t *self);
//  A whole tree, encoded as shic_val_encode would; NULL writes nil
SHIC_EXPORT void shic_val_writer_val (shic_val_writer_t *self, const shic_val_t *value);
//  The pairs of map (without a header), in order, with the value of key
//  (if present) replaced by the string value. Returns the number of pairs
//  written.
SHIC_EXPORT size_t shic_val_writer_pairs (shic_val_writer_t *self, const shic_val_t *map,
                                          const char *key, const char *value);
//  Hands over the bytes (fresh, caller frees) and destroys the writer.
//  Returns 0, or -1 if the writer ran out of memory (nothing handed over).
SHIC_EXPORT int shic_val_writer_take (shic_val_writer_t **self_p, void **data_p, size_t *size_p);

//  JSON text: shic_val_to_json and shic_val_from_json are in shic_json.h
//  (through jansson; the backends parse untrusted HTTP bodies with them).

#ifdef __cplusplus
}
#endif

#endif
