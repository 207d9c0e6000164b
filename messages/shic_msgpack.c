/*  =========================================================================
    shic_msgpack - shic_val_t to and from msgpack: decode, encode, writer

    The one file of shic that includes <msgpack.h>; the tree itself is
    messages/shic_val.c, and both share the node through shic_val_node.h.
    Decoding pre-scans the raw bytes before msgpack sees them, so that a few
    hostile bytes can never make msgpack allocate for items that are not
    there. Encoding writes a tree (map pairs in order, or sorted by key for
    the canonical form); the streaming writer writes parts of trees without
    building a new one. The declarations are in include/shic_val.h.
    =========================================================================
*/

#include <msgpack.h>
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "shic_val_node.h"

//  ---------------------------------------------------------------------------
//  Decoding: the pre-scan walks the raw bytes without allocating anything
//  but a depth stack, so that msgpack only ever sees sane declared sizes

//  Reads a big-endian unsigned of width bytes at data
static uint64_t
s_read_be (const uint8_t *data, size_t width)
{
    uint64_t value = 0;
    size_t index;
    for (index = 0; index < width; index++)
        value = (value << 8) | data [index];
    return value;
}

static int
s_prescan (const uint8_t *data, size_t size, int max_depth, size_t max_items,
           const char **error)
{
    //  Every container takes at least one byte, so nesting never exceeds size
    size_t stack_size = (size_t) max_depth < size? (size_t) max_depth: size;
    uint64_t small [64];
    uint64_t *stack = stack_size < 64? small
                    : (uint64_t *) malloc ((stack_size + 1) * sizeof (uint64_t));
    if (!stack) {
        *error = "out of memory";
        return -2;
    }
    size_t depth = 0;               //  open containers
    size_t pos = 0;
    stack [0] = 1;                  //  the root expects one object
    int rc = 0;

    while (true) {
        if (stack [depth] == 0) {
            if (depth == 0)
                break;
            depth--;
            continue;
        }
        stack [depth]--;
        if (pos >= size) {
            *error = "truncated";
            rc = -2;
            break;
        }
        uint8_t byte = data [pos++];
        size_t width = 0;           //  bytes of a length or count field
        size_t payload = 0;         //  fixed bytes that follow
        uint64_t length = 0;        //  declared str/bin length
        uint64_t items = 0;         //  declared objects inside a container
        bool bytes = false;         //  a str or bin
        bool container = false;

        if (byte <= 0x7f || byte >= 0xe0 || byte == 0xc0
        ||  byte == 0xc2 || byte == 0xc3)
            ;                       //  fixint, nil, bool: done
        else
        if (byte >= 0x80 && byte <= 0x8f) {
            container = true;
            items = 2 * (uint64_t) (byte & 0x0f);
        }
        else
        if (byte >= 0x90 && byte <= 0x9f) {
            container = true;
            items = byte & 0x0f;
        }
        else
        if (byte >= 0xa0 && byte <= 0xbf) {
            bytes = true;
            length = byte & 0x1f;
        }
        else
        if (byte == 0xc1) {
            *error = "reserved byte 0xc1";
            rc = -2;
            break;
        }
        else
        if ((byte >= 0xc4 && byte <= 0xc6) || (byte >= 0xd9 && byte <= 0xdb)) {
            //  bin 8 / 16 / 32 and str 8 / 16 / 32: a 1, 2 or 4 byte length
            bytes = true;
            width = (size_t) 1 << (byte <= 0xc6? byte - 0xc4: byte - 0xd9);
        }
        else
        if ((byte >= 0xc7 && byte <= 0xc9) || (byte >= 0xd4 && byte <= 0xd8)) {
            *error = "ext types are not supported";
            rc = -2;
            break;
        }
        else
        if (byte == 0xca || byte == 0xcb)
            payload = byte == 0xca? 4: 8;   //  float 32 / 64
        else
        if (byte >= 0xcc && byte <= 0xd3)
            //  uint 8 / 16 / 32 / 64, then int 8 / 16 / 32 / 64
            payload = (size_t) 1 << ((byte - 0xcc) & 3);
        else
        if (byte >= 0xdc && byte <= 0xdf) {
            //  array 16 / 32, map 16 / 32: a 2 or 4 byte count
            container = true;
            width = (byte & 1)? 4: 2;
        }

        if (width > 0) {
            if (size - pos < width) {
                *error = "truncated";
                rc = -2;
                break;
            }
            uint64_t value = s_read_be (data + pos, width);
            pos += width;
            if (bytes)
                length = value;
            else
                items = (byte == 0xde || byte == 0xdf)? 2 * value: value;
        }
        if (payload > 0) {
            if (size - pos < payload) {
                *error = "truncated";
                rc = -2;
                break;
            }
            pos += payload;
        }
        if (bytes) {
            if (length > size - pos) {
                *error = "declared length larger than the bytes left";
                rc = -2;
                break;
            }
            pos += (size_t) length;
        }
        if (container) {
            bool is_map = (byte >= 0x80 && byte <= 0x8f)
                       || byte == 0xde || byte == 0xdf;
            uint64_t count = is_map? items / 2: items;
            if (count > max_items) {
                *error = "too many items";
                rc = -2;
                break;
            }
            if (items > size - pos) {
                *error = "declared size larger than the bytes left";
                rc = -2;
                break;
            }
            if (depth + 1 > (size_t) max_depth) {
                *error = "nesting too deep";
                rc = -2;
                break;
            }
            if (items > 0) {
                depth++;
                assert (depth <= stack_size);
                stack [depth] = items;
            }
        }
    }
    if (rc == 0 && pos != size) {
        *error = "trailing bytes";
        rc = -2;
    }
    if (stack != small)
        free (stack);
    return rc;
}

static int
s_key_compare (const void *a, const void *b)
{
    return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static int
s_pair_compare (const void *a, const void *b)
{
    return strcmp (((const shic_val_pair_t *) a)->key,
                   ((const shic_val_pair_t *) b)->key);
}

//  True when a freshly decoded map holds a key twice
static bool
s_has_duplicate_keys (const shic_val_t *map, bool *failed)
{
    size_t size = map->u.m.size;
    if (size < 2)
        return false;
    size_t index;
    if (size <= 16) {
        //  Small maps (nearly all): compare pairs, no allocation
        for (index = 1; index < size; index++)
            for (size_t other = 0; other < index; other++)
                if (streq (map->u.m.pairs [index].key, map->u.m.pairs [other].key))
                    return true;
        return false;
    }
    const char **keys = (const char **) malloc (size * sizeof (char *));
    if (!keys) {
        *failed = true;
        return true;
    }
    for (index = 0; index < size; index++)
        keys [index] = map->u.m.pairs [index].key;
    qsort (keys, size, sizeof (char *), s_key_compare);
    bool duplicate = false;
    for (index = 1; index < size && !duplicate; index++)
        duplicate = strcmp (keys [index - 1], keys [index]) == 0;
    free (keys);
    return duplicate;
}

//  Reads a big-endian float of width 4 or 8 at data
static double
s_read_float (const uint8_t *data, size_t width)
{
    uint64_t bits = s_read_be (data, width);
    if (width == 4) {
        uint32_t narrow = (uint32_t) bits;
        float value;
        memcpy (&value, &narrow, 4);
        return value;
    }
    double value;
    memcpy (&value, &bits, 8);
    return value;
}

//  Builds the object at data + *pos straight from the bytes, which the
//  pre-scan has checked (every declared length and count fits the buffer,
//  nesting is bounded, no ext types); moves *pos past it
static int
s_build (const uint8_t *data, size_t *pos, shic_val_t **out_p, const char **error)
{
    shic_val_t *self = NULL;
    *out_p = NULL;
    uint8_t byte = data [(*pos)++];
    uint64_t count = 0;             //  items of an array, pairs of a map
    size_t length = 0;              //  bytes of a str or bin
    bool is_map = false, is_array = false, is_str = false, is_bin = false;

    if (byte <= 0x7f)
        self = shic_val_new_int (byte);
    else
    if (byte >= 0xe0)
        self = shic_val_new_int ((int8_t) byte);
    else
    if (byte <= 0x8f) {
        is_map = true;
        count = byte & 0x0f;
    }
    else
    if (byte <= 0x9f) {
        is_array = true;
        count = byte & 0x0f;
    }
    else
    if (byte <= 0xbf) {
        is_str = true;
        length = byte & 0x1f;
    }
    else
    switch (byte) {
        case 0xc0:
            self = shic_val_new_nil ();
            break;
        case 0xc2:
        case 0xc3:
            self = shic_val_new_bool (byte == 0xc3);
            break;
        case 0xc4: case 0xc5: case 0xc6:
        case 0xd9: case 0xda: case 0xdb: {
            size_t width = (size_t) 1 << (byte <= 0xc6? byte - 0xc4: byte - 0xd9);
            length = (size_t) s_read_be (data + *pos, width);
            *pos += width;
            is_bin = byte <= 0xc6;
            is_str = !is_bin;
            break;
        }
        case 0xca:
        case 0xcb: {
            size_t width = byte == 0xca? 4: 8;
            self = shic_val_new_float (s_read_float (data + *pos, width));
            *pos += width;
            break;
        }
        case 0xcc: case 0xcd: case 0xce: case 0xcf: {
            size_t width = (size_t) 1 << (byte - 0xcc);
            uint64_t value = s_read_be (data + *pos, width);
            *pos += width;
            if (value > (uint64_t) INT64_MAX) {
                *error = "integer above INT64_MAX";
                return -2;
            }
            self = shic_val_new_int ((int64_t) value);
            break;
        }
        case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
            size_t width = (size_t) 1 << (byte - 0xd0);
            uint64_t value = s_read_be (data + *pos, width);
            *pos += width;
            //  Sign-extend from width bytes
            if (width < 8 && (value >> (8 * width - 1)) & 1)
                value |= ~(uint64_t) 0 << (8 * width);
            int64_t signed_value;
            memcpy (&signed_value, &value, 8);
            self = shic_val_new_int (signed_value);
            break;
        }
        case 0xdc: case 0xdd: case 0xde: case 0xdf: {
            size_t width = (byte & 1)? 4: 2;
            count = s_read_be (data + *pos, width);
            *pos += width;
            is_map = byte >= 0xde;
            is_array = !is_map;
            break;
        }
        default:
            *error = "unsupported msgpack type";
            return -2;
    }
    if (is_str || is_bin) {
        self = is_str? shic_val_new_strn ((const char *) data + *pos, length)
                     : shic_val_new_bin (data + *pos, length);
        *pos += length;
    }
    else
    if (is_array) {
        self = shic_val_new_array ();
        if (self && shic_val_node_reserve ((void **) &self->u.a.items, &self->u.a.cap,
                                           (size_t) count, sizeof (shic_val_t *)))
            shic_val_destroy (&self);
        for (uint64_t index = 0; self && index < count; index++) {
            shic_val_t *item;
            int rc = s_build (data, pos, &item, error);
            if (rc == 0 && shic_val_node_append (self, item)) {
                shic_val_destroy (&item);
                *error = "out of memory";
                rc = -2;
            }
            if (rc) {
                shic_val_destroy (&self);
                return -2;
            }
        }
    }
    else
    if (is_map) {
        self = shic_val_new_map ();
        if (self && shic_val_node_reserve ((void **) &self->u.m.pairs, &self->u.m.cap,
                                           (size_t) count, sizeof (shic_val_pair_t)))
            shic_val_destroy (&self);
        for (uint64_t index = 0; self && index < count; index++) {
            //  The key: a str (fixstr or str 8 / 16 / 32)
            uint8_t head = data [*pos];
            size_t key_size = 0;
            if (head >= 0xa0 && head <= 0xbf) {
                key_size = head & 0x1f;
                *pos += 1;
            }
            else
            if (head >= 0xd9 && head <= 0xdb) {
                size_t width = (size_t) 1 << (head - 0xd9);
                key_size = (size_t) s_read_be (data + *pos + 1, width);
                *pos += 1 + width;
            }
            else {
                *error = "map key is not a string";
                shic_val_destroy (&self);
                return -2;
            }
            const char *raw = (const char *) data + *pos;
            if (key_size > 0 && memchr (raw, 0, key_size)) {
                *error = "map key holds a NUL byte";
                shic_val_destroy (&self);
                return -2;
            }
            *pos += key_size;
            shic_val_t *value;
            if (s_build (data, pos, &value, error)) {
                shic_val_destroy (&self);
                return -2;
            }
            char *key = (char *) malloc (key_size + 1);
            if (key) {
                if (key_size > 0)
                    memcpy (key, raw, key_size);
                key [key_size] = 0;
            }
            if (!key || shic_val_node_append_pair (self, key, value)) {
                free (key);
                shic_val_destroy (&value);
                shic_val_destroy (&self);
                *error = "out of memory";
                return -2;
            }
        }
        if (self) {
            bool failed = false;
            if (s_has_duplicate_keys (self, &failed)) {
                *error = failed? "out of memory": "duplicate map key";
                shic_val_destroy (&self);
                return -2;
            }
        }
    }
    if (!self) {
        if (!*error)
            *error = "out of memory";
        return -2;
    }
    *out_p = self;
    return 0;
}

int
shic_val_decode (const void *data, size_t size,
                 const shic_val_limits_t *limits,
                 shic_val_t **out_p, const char **error)
{
    const char *reason = NULL;
    if (error)
        *error = NULL;
    if (!out_p)
        return -2;
    *out_p = NULL;

    size_t max_bytes = SHIC_VAL_MAX_BYTES;
    int max_depth = SHIC_VAL_MAX_DEPTH;
    size_t max_items = SHIC_VAL_MAX_ITEMS;
    if (limits) {
        if (limits->max_bytes > 0)
            max_bytes = limits->max_bytes;
        if (limits->max_depth > 0)
            max_depth = limits->max_depth;
        if (limits->max_items > 0)
            max_items = limits->max_items;
    }
    if (!data || size == 0)
        reason = "empty buffer";
    else
    if (size > max_bytes)
        reason = "buffer too large";
    if (reason) {
        if (error)
            *error = reason;
        return -2;
    }
    if (s_prescan ((const uint8_t *) data, size, max_depth, max_items, &reason)) {
        if (error)
            *error = reason;
        return -2;
    }
    //  Built straight from the checked bytes: no msgpack object, no zone
    size_t pos = 0;
    int rc = s_build ((const uint8_t *) data, &pos, out_p, &reason);
    assert (rc || pos == size);
    if (rc) {
        *out_p = NULL;
        if (error)
            *error = reason;
        return -2;
    }
    return 0;
}


//  ---------------------------------------------------------------------------
//  Decoding one field

//  Moves *pos past the header of the object at data + *pos (bytes the
//  pre-scan has checked), and past a scalar's or str's bytes; the objects
//  inside it (a map's keys and values) into *items, whether it is a map
//  into *map, and a str's bytes into *str and *length (else *str NULL)
static void
s_head (const uint8_t *data, size_t *pos, uint64_t *items, bool *map, const uint8_t **str,
        size_t *length)
{
    uint8_t byte = data [(*pos)++];
    *items = 0;
    *map = false;
    *str = NULL;
    *length = 0;
    if (byte <= 0x7f || byte >= 0xe0 || byte == 0xc0 || byte == 0xc2 || byte == 0xc3)
        return;
    if (byte <= 0x8f) {
        *map = true;
        *items = 2 * (uint64_t) (byte & 0x0f);
    }
    else
    if (byte <= 0x9f)
        *items = byte & 0x0f;
    else
    if (byte <= 0xbf) {
        *str = data + *pos;
        *length = byte & 0x1f;
        *pos += *length;
    }
    else
    if ((byte >= 0xc4 && byte <= 0xc6) || (byte >= 0xd9 && byte <= 0xdb)) {
        size_t width = (size_t) 1 << (byte <= 0xc6? byte - 0xc4: byte - 0xd9);
        size_t bytes = (size_t) s_read_be (data + *pos, width);
        *pos += width;
        if (byte >= 0xd9)
            *str = data + *pos;
        *length = bytes;
        *pos += bytes;
    }
    else
    if (byte == 0xca || byte == 0xcb)
        *pos += byte == 0xca? 4: 8;
    else
    if (byte >= 0xcc && byte <= 0xd3)
        *pos += (size_t) 1 << ((byte - 0xcc) & 3);
    else
    if (byte >= 0xdc && byte <= 0xdf) {
        size_t width = (byte & 1)? 4: 2;
        uint64_t count = s_read_be (data + *pos, width);
        *pos += width;
        *map = byte >= 0xde;
        *items = *map? 2 * count: count;
    }
}

//  Where the object at data + pos (checked bytes) ends
static size_t
s_skip (const uint8_t *data, size_t pos)
{
    uint64_t left = 1;
    while (left) {
        uint64_t items;
        bool map;
        const uint8_t *str;
        size_t length;
        s_head (data, &pos, &items, &map, &str, &length);
        left = left - 1 + items;
    }
    return pos;
}

int
shic_val_decode_at (const void *data, size_t size, const char *const *path,
                    shic_val_t **out_p)
{
    const char *reason = NULL;
    if (!out_p)
        return -2;
    *out_p = NULL;
    if (!data || size == 0 || size > SHIC_VAL_MAX_BYTES || !path
    ||  s_prescan ((const uint8_t *) data, size, SHIC_VAL_MAX_DEPTH, SHIC_VAL_MAX_ITEMS,
                   &reason))
        return -2;
    const uint8_t *bytes = (const uint8_t *) data;
    size_t pos = 0;
    for (; *path; path++) {
        uint64_t items;
        bool map;
        const uint8_t *str;
        size_t length;
        s_head (bytes, &pos, &items, &map, &str, &length);
        if (!map)
            return -1;
        size_t wanted = strlen (*path);
        bool found = false;
        for (uint64_t pair = 0; pair < items / 2 && !found; pair++) {
            size_t key = pos;
            uint64_t key_items;
            s_head (bytes, &pos, &key_items, &map, &str, &length);
            found = str && length == wanted && memcmp (str, *path, wanted) == 0;
            if (key_items)
                pos = s_skip (bytes, key);
            if (!found)
                pos = s_skip (bytes, pos);
        }
        if (!found)
            return -1;
    }
    int rc = s_build (bytes, &pos, out_p, &reason);
    if (rc)
        *out_p = NULL;
    return rc? -2: 0;
}

//  ---------------------------------------------------------------------------
//  Encoding

static int
s_pack (msgpack_packer *packer, const shic_val_t *self, bool canonical)
{
    size_t index;
    if (!self)
        return msgpack_pack_nil (packer);
    switch (self->type) {
        case SHIC_VAL_NIL:
            return msgpack_pack_nil (packer);
        case SHIC_VAL_BOOL:
            return self->u.b? msgpack_pack_true (packer): msgpack_pack_false (packer);
        case SHIC_VAL_INT:
            return msgpack_pack_int64 (packer, self->u.i);
        case SHIC_VAL_FLOAT:
            return msgpack_pack_double (packer, self->u.f);
        case SHIC_VAL_STR:
        case SHIC_VAL_BIN:
            //  The two differ only in their header; the body is the raw bytes
            if (self->u.s.len > UINT32_MAX
            ||  (self->type == SHIC_VAL_STR? msgpack_pack_str (packer, self->u.s.len)
                                            : msgpack_pack_bin (packer, self->u.s.len))
            ||  msgpack_pack_str_body (packer, self->u.s.data, self->u.s.len))
                return -1;
            return 0;
        case SHIC_VAL_ARRAY:
            if (self->u.a.size > UINT32_MAX
            ||  msgpack_pack_array (packer, self->u.a.size))
                return -1;
            for (index = 0; index < self->u.a.size; index++)
                if (s_pack (packer, self->u.a.items [index], canonical))
                    return -1;
            return 0;
        case SHIC_VAL_MAP: {
            size_t size = self->u.m.size;
            if (size > UINT32_MAX || msgpack_pack_map (packer, size))
                return -1;
            //  Canonical order: pairs sorted through a sorted copy of the
            //  pair array (keys hold no NUL, so strcmp is memcmp-then-length)
            const shic_val_pair_t *pairs = self->u.m.pairs;
            shic_val_pair_t *sorted = NULL;
            if (canonical && size > 1) {
                sorted = (shic_val_pair_t *) malloc (size * sizeof (shic_val_pair_t));
                if (!sorted)
                    return -1;
                memcpy (sorted, pairs, size * sizeof (shic_val_pair_t));
                qsort (sorted, size, sizeof (shic_val_pair_t), s_pair_compare);
                pairs = sorted;
            }
            int rc = 0;
            for (index = 0; index < size && rc == 0; index++) {
                size_t length = strlen (pairs [index].key);
                if (msgpack_pack_str (packer, length)
                ||  msgpack_pack_str_body (packer, pairs [index].key, length)
                ||  s_pack (packer, pairs [index].val, canonical))
                    rc = -1;
            }
            free (sorted);
            return rc;
        }
    }
    return -1;
}

//  The packer's output: starts small and doubles (msgpack's sbuffer starts
//  at 8 KiB, which costs glibc a fast-bin consolidation per message)
typedef struct {
    char *data;                     //  owned, NULL until the first write
    size_t size;                    //  bytes written
    size_t alloc;                   //  bytes allocated
} s_buffer_t;

static int
s_buffer_write (void *data, const char *buf, size_t len)
{
    s_buffer_t *self = (s_buffer_t *) data;
    if (self->size + len > self->alloc) {
        size_t alloc = self->alloc? self->alloc * 2: 1024;
        while (alloc < self->size + len)
            alloc *= 2;
        char *grown = (char *) realloc (self->data, alloc);
        if (!grown)
            return -1;
        self->data = grown;
        self->alloc = alloc;
    }
    memcpy (self->data + self->size, buf, len);
    self->size += len;
    return 0;
}

static int
s_encode (const shic_val_t *self, bool canonical, void **data_p, size_t *size_p)
{
    if (!data_p || !size_p)
        return -1;
    *data_p = NULL;
    *size_p = 0;
    s_buffer_t buffer = { NULL, 0, 0 };
    msgpack_packer packer;
    msgpack_packer_init (&packer, &buffer, s_buffer_write);
    if (s_pack (&packer, self, canonical) || !buffer.data) {
        free (buffer.data);
        return -1;
    }
    *size_p = buffer.size;
    *data_p = buffer.data;
    return 0;
}

int
shic_val_encode (const shic_val_t *self, void **data_p, size_t *size_p)
{
    return s_encode (self, false, data_p, size_p);
}

int
shic_val_encode_canonical (const shic_val_t *self, void **data_p, size_t *size_p)
{
    return s_encode (self, true, data_p, size_p);
}


//  --------------------------------------------------------------------------
//  Streaming writer

struct _shic_val_writer_t {
    s_buffer_t buffer;              //  bytes so far
    msgpack_packer packer;          //  writes into buffer
    bool failed;                    //  out of memory once
};

shic_val_writer_t *
shic_val_writer_new (void)
{
    shic_val_writer_t *self = (shic_val_writer_t *) calloc (1, sizeof (shic_val_writer_t));
    if (self)
        msgpack_packer_init (&self->packer, &self->buffer, s_buffer_write);
    return self;
}

void
shic_val_writer_destroy (shic_val_writer_t **self_p)
{
    if (self_p && *self_p) {
        free ((*self_p)->buffer.data);
        free (*self_p);
        *self_p = NULL;
    }
}

void
shic_val_writer_map (shic_val_writer_t *self, size_t pairs)
{
    if (!self->failed && (pairs > UINT32_MAX || msgpack_pack_map (&self->packer, pairs)))
        self->failed = true;
}

void
shic_val_writer_array (shic_val_writer_t *self, size_t items)
{
    if (!self->failed && (items > UINT32_MAX || msgpack_pack_array (&self->packer, items)))
        self->failed = true;
}

void
shic_val_writer_str (shic_val_writer_t *self, const char *value)
{
    if (self->failed)
        return;
    if (!value) {
        shic_val_writer_nil (self);
        return;
    }
    size_t length = strlen (value);
    if (length > UINT32_MAX
    ||  msgpack_pack_str (&self->packer, length)
    ||  msgpack_pack_str_body (&self->packer, value, length))
        self->failed = true;
}

void
shic_val_writer_int (shic_val_writer_t *self, int64_t value)
{
    if (!self->failed && msgpack_pack_int64 (&self->packer, value))
        self->failed = true;
}

void
shic_val_writer_bool (shic_val_writer_t *self, bool value)
{
    if (!self->failed
    &&  (value? msgpack_pack_true (&self->packer): msgpack_pack_false (&self->packer)))
        self->failed = true;
}

void
shic_val_writer_nil (shic_val_writer_t *self)
{
    if (!self->failed && msgpack_pack_nil (&self->packer))
        self->failed = true;
}

void
shic_val_writer_val (shic_val_writer_t *self, const shic_val_t *value)
{
    if (!self->failed && s_pack (&self->packer, value, false))
        self->failed = true;
}

size_t
shic_val_writer_pairs (shic_val_writer_t *self, const shic_val_t *map,
                       const char *key, const char *value)
{
    if (!shic_val_is (map, SHIC_VAL_MAP))
        return 0;
    for (size_t index = 0; index < map->u.m.size; index++) {
        const char *name = map->u.m.pairs [index].key;
        shic_val_writer_str (self, name);
        if (key && streq (name, key))
            shic_val_writer_str (self, value);
        else
            shic_val_writer_val (self, map->u.m.pairs [index].val);
    }
    return map->u.m.size;
}

int
shic_val_writer_take (shic_val_writer_t **self_p, void **data_p, size_t *size_p)
{
    shic_val_writer_t *self = *self_p;
    int rc = -1;
    if (self && !self->failed && self->buffer.data) {
        *data_p = self->buffer.data;
        *size_p = self->buffer.size;
        self->buffer.data = NULL;
        rc = 0;
    }
    shic_val_writer_destroy (self_p);
    return rc;
}
