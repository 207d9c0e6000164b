/*  =========================================================================
    shic_val - a dynamically typed value tree, and the only msgpack codec

    The one file of shic that includes <msgpack.h>. Decoding pre-scans the
    raw bytes before msgpack sees them, so that a few hostile bytes can never
    make msgpack allocate for items that are not there.
    =========================================================================
*/

#include <msgpack.h>
#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shic_val.h"

#ifndef streq
#   define streq(s1,s2) (!strcmp ((s1), (s2)))
#endif

//  One pair of a map
typedef struct {
    char *key;                      //  owned, NUL-terminated, no NUL inside
    shic_val_t *val;                //  owned
} s_pair_t;

struct _shic_val_t {
    shic_val_type_t type;           //  which member of u is live
    union {
        bool b;                     //  BOOL
        int64_t i;                  //  INT
        double f;                   //  FLOAT
        struct {
            char *data;             //  owned, always NUL-terminated
            size_t len;             //  bytes, without the NUL
        } s;                        //  STR, BIN
        struct {
            shic_val_t **items;     //  owned items
            size_t size;            //  items in use
            size_t cap;             //  items allocated
        } a;                        //  ARRAY
        struct {
            s_pair_t *pairs;        //  owned pairs, in insertion order
            size_t size;            //  pairs in use
            size_t cap;             //  pairs allocated
        } m;                        //  MAP
    } u;
};


//  ---------------------------------------------------------------------------
//  Constructors

//  strdup is POSIX, not C11
static char *
s_strdup (const char *string)
{
    size_t size = strlen (string) + 1;
    char *copy = (char *) malloc (size);
    if (copy)
        memcpy (copy, string, size);
    return copy;
}

static shic_val_t *
s_val_new (shic_val_type_t type)
{
    shic_val_t *self = (shic_val_t *) calloc (1, sizeof (shic_val_t));
    if (self)
        self->type = type;
    return self;
}

shic_val_t *
shic_val_new_nil (void)
{
    return s_val_new (SHIC_VAL_NIL);
}

shic_val_t *
shic_val_new_bool (bool value)
{
    shic_val_t *self = s_val_new (SHIC_VAL_BOOL);
    if (self)
        self->u.b = value;
    return self;
}

shic_val_t *
shic_val_new_int (int64_t value)
{
    shic_val_t *self = s_val_new (SHIC_VAL_INT);
    if (self)
        self->u.i = value;
    return self;
}

shic_val_t *
shic_val_new_float (double value)
{
    shic_val_t *self = s_val_new (SHIC_VAL_FLOAT);
    if (self)
        self->u.f = value;
    return self;
}

//  STR and BIN both keep a NUL-terminated copy, never a NULL pointer
static shic_val_t *
s_val_new_bytes (shic_val_type_t type, const void *data, size_t size)
{
    if (size >= SIZE_MAX - sizeof (shic_val_t) - 1)
        return NULL;
    //  The bytes live in the node's own allocation (one malloc, not two)
    shic_val_t *self = (shic_val_t *) malloc (sizeof (shic_val_t) + size + 1);
    if (!self)
        return NULL;
    memset (self, 0, sizeof (shic_val_t));
    self->type = type;
    self->u.s.data = (char *) (self + 1);
    if (size > 0 && data)
        memcpy (self->u.s.data, data, size);
    else
    if (size > 0)
        memset (self->u.s.data, 0, size);
    self->u.s.data [size] = 0;
    self->u.s.len = size;
    return self;
}

shic_val_t *
shic_val_new_str (const char *value)
{
    if (!value)
        return shic_val_new_nil ();
    return s_val_new_bytes (SHIC_VAL_STR, value, strlen (value));
}

shic_val_t *
shic_val_new_strn (const char *value, size_t size)
{
    return s_val_new_bytes (SHIC_VAL_STR, value, size);
}

shic_val_t *
shic_val_new_printf (const char *format, ...)
{
    if (!format)
        return NULL;
    va_list args;
    va_start (args, format);
    int needed = vsnprintf (NULL, 0, format, args);
    va_end (args);
    if (needed < 0)
        return NULL;
    char *buffer = (char *) malloc ((size_t) needed + 1);
    if (!buffer)
        return NULL;
    va_start (args, format);
    vsnprintf (buffer, (size_t) needed + 1, format, args);
    va_end (args);

    shic_val_t *self = s_val_new (SHIC_VAL_STR);
    if (!self) {
        free (buffer);
        return NULL;
    }
    self->u.s.data = buffer;
    self->u.s.len = (size_t) needed;
    return self;
}

shic_val_t *
shic_val_new_bin (const void *data, size_t size)
{
    return s_val_new_bytes (SHIC_VAL_BIN, data, size);
}

shic_val_t *
shic_val_new_array (void)
{
    return s_val_new (SHIC_VAL_ARRAY);
}

shic_val_t *
shic_val_new_strings (const char *first, ...)
{
    shic_val_t *array = shic_val_new_array ();
    va_list args;
    va_start (args, first);
    for (const char *item = first; item && array; item = va_arg (args, const char *)) {
        shic_val_t *value = shic_val_new_str (item);
        if (shic_val_push (array, &value) != 0)
            shic_val_destroy (&array);
    }
    va_end (args);
    return array;
}

shic_val_t *
shic_val_new_map (void)
{
    return s_val_new (SHIC_VAL_MAP);
}


//  ---------------------------------------------------------------------------
//  Destructor and copy

void
shic_val_destroy (shic_val_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    shic_val_t *self = *self_p;
    size_t index;
    switch (self->type) {
        case SHIC_VAL_STR:
        case SHIC_VAL_BIN:
            //  Bytes inside the node's allocation go with it
            if (self->u.s.data != (char *) (self + 1))
                free (self->u.s.data);
            break;
        case SHIC_VAL_ARRAY:
            for (index = 0; index < self->u.a.size; index++)
                shic_val_destroy (&self->u.a.items [index]);
            free (self->u.a.items);
            break;
        case SHIC_VAL_MAP:
            for (index = 0; index < self->u.m.size; index++) {
                free (self->u.m.pairs [index].key);
                shic_val_destroy (&self->u.m.pairs [index].val);
            }
            free (self->u.m.pairs);
            break;
        default:
            break;
    }
    free (self);
    *self_p = NULL;
}

//  Makes room for one more item or pair; returns 0 / -1
static int
s_grow (void **buffer, size_t *cap, size_t size, size_t item_size)
{
    if (size < *cap)
        return 0;
    size_t new_cap = *cap? *cap * 2: 4;
    if (new_cap < *cap || new_cap > SIZE_MAX / item_size)
        return -1;
    void *grown = realloc (*buffer, new_cap * item_size);
    if (!grown)
        return -1;
    *buffer = grown;
    *cap = new_cap;
    return 0;
}

//  Makes room for count items or pairs at once (sizes known in advance)
static int
s_reserve (void **buffer, size_t *cap, size_t count, size_t item_size)
{
    if (count <= *cap)
        return 0;
    if (count > SIZE_MAX / item_size)
        return -1;
    void *grown = realloc (*buffer, count * item_size);
    if (!grown)
        return -1;
    *buffer = grown;
    *cap = count;
    return 0;
}

//  Appends without looking for an existing key; takes key and value
//  ownership only on success
static int
s_map_append (shic_val_t *self, char *key, shic_val_t *value)
{
    if (s_grow ((void **) &self->u.m.pairs, &self->u.m.cap,
                self->u.m.size, sizeof (s_pair_t)))
        return -1;
    self->u.m.pairs [self->u.m.size].key = key;
    self->u.m.pairs [self->u.m.size].val = value;
    self->u.m.size++;
    return 0;
}

static int
s_array_append (shic_val_t *self, shic_val_t *item)
{
    if (s_grow ((void **) &self->u.a.items, &self->u.a.cap,
                self->u.a.size, sizeof (shic_val_t *)))
        return -1;
    self->u.a.items [self->u.a.size++] = item;
    return 0;
}

shic_val_t *
shic_val_dup (const shic_val_t *self)
{
    if (!self)
        return NULL;
    shic_val_t *copy = NULL;
    size_t index;
    switch (self->type) {
        case SHIC_VAL_NIL:
            return shic_val_new_nil ();
        case SHIC_VAL_BOOL:
            return shic_val_new_bool (self->u.b);
        case SHIC_VAL_INT:
            return shic_val_new_int (self->u.i);
        case SHIC_VAL_FLOAT:
            return shic_val_new_float (self->u.f);
        case SHIC_VAL_STR:
        case SHIC_VAL_BIN:
            return s_val_new_bytes (self->type, self->u.s.data, self->u.s.len);
        case SHIC_VAL_ARRAY:
            copy = shic_val_new_array ();
            if (!copy || s_reserve ((void **) &copy->u.a.items, &copy->u.a.cap,
                                    self->u.a.size, sizeof (shic_val_t *))) {
                shic_val_destroy (&copy);
                return NULL;
            }
            for (index = 0; index < self->u.a.size; index++) {
                shic_val_t *item = shic_val_dup (self->u.a.items [index]);
                if (!item || s_array_append (copy, item)) {
                    shic_val_destroy (&item);
                    shic_val_destroy (&copy);
                    return NULL;
                }
            }
            return copy;
        case SHIC_VAL_MAP:
            copy = shic_val_new_map ();
            if (!copy || s_reserve ((void **) &copy->u.m.pairs, &copy->u.m.cap,
                                    self->u.m.size, sizeof (s_pair_t))) {
                shic_val_destroy (&copy);
                return NULL;
            }
            for (index = 0; index < self->u.m.size; index++) {
                char *key = s_strdup (self->u.m.pairs [index].key);
                shic_val_t *value = shic_val_dup (self->u.m.pairs [index].val);
                if (!key || !value || s_map_append (copy, key, value)) {
                    free (key);
                    shic_val_destroy (&value);
                    shic_val_destroy (&copy);
                    return NULL;
                }
            }
            return copy;
    }
    return NULL;
}


//  ---------------------------------------------------------------------------
//  Accessors

shic_val_type_t
shic_val_type (const shic_val_t *self)
{
    return self? self->type: SHIC_VAL_NIL;
}

const char *
shic_val_type_name (const shic_val_t *self)
{
    switch (shic_val_type (self)) {
        case SHIC_VAL_NIL:   return "nil";
        case SHIC_VAL_BOOL:  return "bool";
        case SHIC_VAL_INT:   return "int";
        case SHIC_VAL_FLOAT: return "float";
        case SHIC_VAL_STR:   return "str";
        case SHIC_VAL_BIN:   return "bin";
        case SHIC_VAL_ARRAY: return "array";
        case SHIC_VAL_MAP:   return "map";
    }
    return "unknown";
}

bool
shic_val_is (const shic_val_t *self, shic_val_type_t type)
{
    return self && self->type == type;
}

bool
shic_val_bool (const shic_val_t *self)
{
    return shic_val_is (self, SHIC_VAL_BOOL)? self->u.b: false;
}

int64_t
shic_val_int (const shic_val_t *self)
{
    return shic_val_is (self, SHIC_VAL_INT)? self->u.i: 0;
}

double
shic_val_float (const shic_val_t *self)
{
    if (shic_val_is (self, SHIC_VAL_FLOAT))
        return self->u.f;
    if (shic_val_is (self, SHIC_VAL_INT))
        return (double) self->u.i;
    return 0.0;
}

const char *
shic_val_str (const shic_val_t *self)
{
    return shic_val_is (self, SHIC_VAL_STR)? self->u.s.data: NULL;
}

size_t
shic_val_len (const shic_val_t *self)
{
    if (shic_val_is (self, SHIC_VAL_STR) || shic_val_is (self, SHIC_VAL_BIN))
        return self->u.s.len;
    return 0;
}

const void *
shic_val_bin (const shic_val_t *self)
{
    if (shic_val_is (self, SHIC_VAL_STR) || shic_val_is (self, SHIC_VAL_BIN))
        return self->u.s.data;
    return NULL;
}

size_t
shic_val_size (const shic_val_t *self)
{
    if (shic_val_is (self, SHIC_VAL_ARRAY))
        return self->u.a.size;
    if (shic_val_is (self, SHIC_VAL_MAP))
        return self->u.m.size;
    return 0;
}

shic_val_t *
shic_val_at (const shic_val_t *self, size_t index)
{
    if (shic_val_is (self, SHIC_VAL_ARRAY) && index < self->u.a.size)
        return self->u.a.items [index];
    if (shic_val_is (self, SHIC_VAL_MAP) && index < self->u.m.size)
        return self->u.m.pairs [index].val;
    return NULL;
}

const char *
shic_val_key_at (const shic_val_t *self, size_t index)
{
    if (shic_val_is (self, SHIC_VAL_MAP) && index < self->u.m.size)
        return self->u.m.pairs [index].key;
    return NULL;
}

int
shic_val_push (shic_val_t *self, shic_val_t **item_p)
{
    if (!item_p)
        return -1;
    shic_val_t *item = *item_p;
    *item_p = NULL;
    if (!item || !shic_val_is (self, SHIC_VAL_ARRAY)
    ||  s_array_append (self, item)) {
        shic_val_destroy (&item);
        return -1;
    }
    return 0;
}


//  ---------------------------------------------------------------------------
//  Maps

//  Index of the pair whose key is key [0 .. size), or -1
static ptrdiff_t
s_map_find (const shic_val_t *self, const char *key, size_t size)
{
    if (!shic_val_is (self, SHIC_VAL_MAP) || !key)
        return -1;
    size_t index;
    for (index = 0; index < self->u.m.size; index++) {
        const char *candidate = self->u.m.pairs [index].key;
        if (strncmp (candidate, key, size) == 0 && candidate [size] == 0)
            return (ptrdiff_t) index;
    }
    return -1;
}

shic_val_t *
shic_val_get (const shic_val_t *self, const char *key)
{
    if (!key)
        return NULL;
    ptrdiff_t index = s_map_find (self, key, strlen (key));
    return index < 0? NULL: self->u.m.pairs [index].val;
}

//  Empty components ("a//b", a leading or trailing '/') are skipped
shic_val_t *
shic_val_path (const shic_val_t *self, const char *path)
{
    if (!self || !path)
        return NULL;
    const shic_val_t *cursor = self;
    const char *start = path;
    while (cursor && *start) {
        const char *slash = strchr (start, '/');
        size_t length = slash? (size_t) (slash - start): strlen (start);
        if (length > 0) {
            ptrdiff_t index = s_map_find (cursor, start, length);
            cursor = index < 0? NULL: cursor->u.m.pairs [index].val;
        }
        start += length;
        if (*start == '/')
            start++;
    }
    return (shic_val_t *) cursor;
}

int
shic_val_append (shic_val_t *self, const char *key, shic_val_t **value_p)
{
    shic_val_t *value = NULL;
    if (value_p) {
        value = *value_p;
        *value_p = NULL;
    }
    if (!shic_val_is (self, SHIC_VAL_MAP) || !key) {
        shic_val_destroy (&value);
        return -1;
    }
    if (!value) {
        value = shic_val_new_nil ();
        if (!value)
            return -1;
    }
    char *copy = s_strdup (key);
    if (!copy || s_map_append (self, copy, value)) {
        free (copy);
        shic_val_destroy (&value);
        return -1;
    }
    return 0;
}

int
shic_val_set (shic_val_t *self, const char *key, shic_val_t **value_p)
{
    ptrdiff_t index = shic_val_is (self, SHIC_VAL_MAP) && key
                    ? s_map_find (self, key, strlen (key)): -1;
    if (index < 0)
        return shic_val_append (self, key, value_p);
    shic_val_t *value = value_p? *value_p: NULL;
    if (value_p)
        *value_p = NULL;
    if (!value) {
        value = shic_val_new_nil ();
        if (!value)
            return -1;
    }
    shic_val_destroy (&self->u.m.pairs [index].val);
    self->u.m.pairs [index].val = value;
    return 0;
}

int
shic_val_set_str (shic_val_t *self, const char *key, const char *value)
{
    shic_val_t *item = shic_val_new_str (value);
    return item? shic_val_set (self, key, &item): -1;
}

int
shic_val_set_int (shic_val_t *self, const char *key, int64_t value)
{
    shic_val_t *item = shic_val_new_int (value);
    return item? shic_val_set (self, key, &item): -1;
}

int
shic_val_set_bool (shic_val_t *self, const char *key, bool value)
{
    shic_val_t *item = shic_val_new_bool (value);
    return item? shic_val_set (self, key, &item): -1;
}

int
shic_val_set_nil (shic_val_t *self, const char *key)
{
    shic_val_t *item = shic_val_new_nil ();
    return item? shic_val_set (self, key, &item): -1;
}

int
shic_val_set_dup (shic_val_t *self, const char *key, const shic_val_t *value)
{
    shic_val_t *item = value? shic_val_dup (value): shic_val_new_nil ();
    return item? shic_val_set (self, key, &item): -1;
}

shic_val_t *
shic_val_take (shic_val_t *self, const char *key)
{
    if (!key)
        return NULL;
    ptrdiff_t index = s_map_find (self, key, strlen (key));
    if (index < 0)
        return NULL;
    shic_val_t *value = self->u.m.pairs [index].val;
    free (self->u.m.pairs [index].key);
    memmove (&self->u.m.pairs [index], &self->u.m.pairs [index + 1],
             (self->u.m.size - (size_t) index - 1) * sizeof (s_pair_t));
    self->u.m.size--;
    return value;
}

int
shic_val_remove (shic_val_t *self, const char *key)
{
    if (s_map_find (self, key, key? strlen (key): 0) < 0)
        return -1;
    shic_val_t *value = shic_val_take (self, key);
    shic_val_destroy (&value);
    return 0;
}


//  ---------------------------------------------------------------------------
//  Comparison

bool
shic_val_equal (const shic_val_t *a, const shic_val_t *b)
{
    if (!a || !b)
        return a == b;
    if (a->type != b->type)
        return false;
    size_t index;
    switch (a->type) {
        case SHIC_VAL_NIL:
            return true;
        case SHIC_VAL_BOOL:
            return a->u.b == b->u.b;
        case SHIC_VAL_INT:
            return a->u.i == b->u.i;
        case SHIC_VAL_FLOAT:
            //  Bitwise-minded: NaN equals NaN so that a tree equals its copy
            return a->u.f == b->u.f || (isnan (a->u.f) && isnan (b->u.f));
        case SHIC_VAL_STR:
        case SHIC_VAL_BIN:
            return a->u.s.len == b->u.s.len
                && memcmp (a->u.s.data, b->u.s.data, a->u.s.len) == 0;
        case SHIC_VAL_ARRAY:
            if (a->u.a.size != b->u.a.size)
                return false;
            for (index = 0; index < a->u.a.size; index++)
                if (!shic_val_equal (a->u.a.items [index], b->u.a.items [index]))
                    return false;
            return true;
        case SHIC_VAL_MAP:
            //  Keys are unique in a map, so equal sizes and every pair of a
            //  found in b make the two equal as sets
            if (a->u.m.size != b->u.m.size)
                return false;
            for (index = 0; index < a->u.m.size; index++) {
                shic_val_t *other = shic_val_get (b, a->u.m.pairs [index].key);
                if (!other || !shic_val_equal (a->u.m.pairs [index].val, other))
                    return false;
            }
            return true;
    }
    return false;
}

bool
shic_val_contains (const shic_val_t *self, const shic_val_t *item)
{
    if (!shic_val_is (self, SHIC_VAL_ARRAY))
        return false;
    size_t index;
    for (index = 0; index < self->u.a.size; index++)
        if (shic_val_equal (self->u.a.items [index], item))
            return true;
    return false;
}

bool
shic_val_contains_str (const shic_val_t *self, const char *value)
{
    if (!shic_val_is (self, SHIC_VAL_ARRAY) || !value)
        return false;
    size_t length = strlen (value);
    size_t index;
    for (index = 0; index < self->u.a.size; index++) {
        const shic_val_t *item = self->u.a.items [index];
        if (item->type == SHIC_VAL_STR && item->u.s.len == length
        &&  memcmp (item->u.s.data, value, length) == 0)
            return true;
    }
    return false;
}


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
    uint64_t *stack = (uint64_t *) malloc ((stack_size + 1) * sizeof (uint64_t));
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
        if (byte == 0xc4 || byte == 0xd9) {
            bytes = true;
            width = 1;
        }
        else
        if (byte == 0xc5 || byte == 0xda) {
            bytes = true;
            width = 2;
        }
        else
        if (byte == 0xc6 || byte == 0xdb) {
            bytes = true;
            width = 4;
        }
        else
        if ((byte >= 0xc7 && byte <= 0xc9) || (byte >= 0xd4 && byte <= 0xd8)) {
            *error = "ext types are not supported";
            rc = -2;
            break;
        }
        else
        if (byte == 0xca)
            payload = 4;
        else
        if (byte == 0xcb)
            payload = 8;
        else
        if (byte == 0xcc || byte == 0xd0)
            payload = 1;
        else
        if (byte == 0xcd || byte == 0xd1)
            payload = 2;
        else
        if (byte == 0xce || byte == 0xd2)
            payload = 4;
        else
        if (byte == 0xcf || byte == 0xd3)
            payload = 8;
        else
        if (byte == 0xdc || byte == 0xde) {
            container = true;
            width = 2;
        }
        else
        if (byte == 0xdd || byte == 0xdf) {
            container = true;
            width = 4;
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
    return strcmp (((const s_pair_t *) a)->key, ((const s_pair_t *) b)->key);
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

//  Converts a msgpack object; depth is bounded by the pre-scan
static int
s_from_object (const msgpack_object *object, shic_val_t **out_p,
               const char **error)
{
    shic_val_t *self = NULL;
    uint32_t index;
    *out_p = NULL;
    switch (object->type) {
        case MSGPACK_OBJECT_NIL:
            self = shic_val_new_nil ();
            break;
        case MSGPACK_OBJECT_BOOLEAN:
            self = shic_val_new_bool (object->via.boolean);
            break;
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            if (object->via.u64 > (uint64_t) INT64_MAX) {
                *error = "integer above INT64_MAX";
                return -2;
            }
            self = shic_val_new_int ((int64_t) object->via.u64);
            break;
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            self = shic_val_new_int (object->via.i64);
            break;
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
            self = shic_val_new_float (object->via.f64);
            break;
        case MSGPACK_OBJECT_STR:
            self = s_val_new_bytes (SHIC_VAL_STR, object->via.str.ptr,
                                    object->via.str.size);
            break;
        case MSGPACK_OBJECT_BIN:
            self = s_val_new_bytes (SHIC_VAL_BIN, object->via.bin.ptr,
                                    object->via.bin.size);
            break;
        case MSGPACK_OBJECT_ARRAY:
            self = shic_val_new_array ();
            if (self && s_reserve ((void **) &self->u.a.items, &self->u.a.cap,
                                   object->via.array.size, sizeof (shic_val_t *)))
                shic_val_destroy (&self);
            for (index = 0; self && index < object->via.array.size; index++) {
                shic_val_t *item;
                int rc = s_from_object (&object->via.array.ptr [index], &item, error);
                if (rc == 0 && s_array_append (self, item)) {
                    shic_val_destroy (&item);
                    rc = -1;
                }
                if (rc) {
                    shic_val_destroy (&self);
                    if (rc != -2)
                        *error = "out of memory";
                    return -2;
                }
            }
            break;
        case MSGPACK_OBJECT_MAP:
            self = shic_val_new_map ();
            if (self && s_reserve ((void **) &self->u.m.pairs, &self->u.m.cap,
                                   object->via.map.size, sizeof (s_pair_t)))
                shic_val_destroy (&self);
            for (index = 0; self && index < object->via.map.size; index++) {
                const msgpack_object_kv *kv = &object->via.map.ptr [index];
                if (kv->key.type != MSGPACK_OBJECT_STR) {
                    *error = "map key is not a string";
                    shic_val_destroy (&self);
                    return -2;
                }
                const char *raw = kv->key.via.str.ptr;
                uint32_t raw_size = kv->key.via.str.size;
                if (raw_size > 0 && memchr (raw, 0, raw_size)) {
                    *error = "map key holds a NUL byte";
                    shic_val_destroy (&self);
                    return -2;
                }
                shic_val_t *value;
                int rc = s_from_object (&kv->val, &value, error);
                if (rc) {
                    shic_val_destroy (&self);
                    return -2;
                }
                char *key = (char *) malloc ((size_t) raw_size + 1);
                if (key) {
                    if (raw_size > 0)
                        memcpy (key, raw, raw_size);
                    key [raw_size] = 0;
                }
                if (!key || s_map_append (self, key, value)) {
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
            break;
        default:
            *error = "unsupported msgpack type";
            return -2;
    }
    if (!self) {
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
    //  A zone sized for the frame: msgpack's default 8 KiB chunk per decode
    //  makes glibc consolidate its fast bins on every message
    msgpack_zone zone;
    if (!msgpack_zone_init (&zone, size < 256? 512: size * 2)) {
        if (error)
            *error = "out of memory";
        return -2;
    }
    msgpack_object object;
    size_t offset = 0;
    msgpack_unpack_return ret = msgpack_unpack ((const char *) data, size, &offset,
                                                &zone, &object);
    int rc = -2;
    if (ret == MSGPACK_UNPACK_SUCCESS && offset == size)
        rc = s_from_object (&object, out_p, &reason);
    else
    if (ret == MSGPACK_UNPACK_SUCCESS || ret == MSGPACK_UNPACK_EXTRA_BYTES)
        reason = "trailing bytes";
    else
    if (ret == MSGPACK_UNPACK_CONTINUE)
        reason = "truncated";
    else
    if (ret == MSGPACK_UNPACK_NOMEM_ERROR)
        reason = "out of memory or nesting too deep";
    else
        reason = "parse error";
    msgpack_zone_destroy (&zone);
    if (rc) {
        *out_p = NULL;
        if (error)
            *error = reason;
        return -2;
    }
    return 0;
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
            if (self->u.s.len > UINT32_MAX
            ||  msgpack_pack_str (packer, self->u.s.len)
            ||  msgpack_pack_str_body (packer, self->u.s.data, self->u.s.len))
                return -1;
            return 0;
        case SHIC_VAL_BIN:
            if (self->u.s.len > UINT32_MAX
            ||  msgpack_pack_bin (packer, self->u.s.len)
            ||  msgpack_pack_bin_body (packer, self->u.s.data, self->u.s.len))
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
            const s_pair_t *pairs = self->u.m.pairs;
            s_pair_t *sorted = NULL;
            if (canonical && size > 1) {
                sorted = (s_pair_t *) malloc (size * sizeof (s_pair_t));
                if (!sorted)
                    return -1;
                memcpy (sorted, pairs, size * sizeof (s_pair_t));
                qsort (sorted, size, sizeof (s_pair_t), s_pair_compare);
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
    char *data;
    size_t size;
    size_t alloc;
} s_buffer_t;

static int
s_buffer_write (void *data, const char *buf, size_t len)
{
    s_buffer_t *self = (s_buffer_t *) data;
    if (self->size + len > self->alloc) {
        size_t alloc = self->alloc? self->alloc * 2: 256;
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


//  ---------------------------------------------------------------------------
//  Self test

//  Encodes, decodes and checks the result equals the input
static void
s_assert_round_trip (const shic_val_t *self)
{
    void *data;
    size_t size;
    int rc = shic_val_encode (self, &data, &size);
    assert (rc == 0);
    shic_val_t *copy;
    const char *error;
    rc = shic_val_decode (data, size, NULL, &copy, &error);
    assert (rc == 0);
    assert (shic_val_equal (self, copy));
    shic_val_destroy (&copy);
    free (data);
}

static int
s_decode_bytes (const void *data, size_t size, const shic_val_limits_t *limits)
{
    shic_val_t *out = (shic_val_t *) &out;  //  must be nulled on failure
    const char *error = NULL;
    int rc = shic_val_decode (data, size, limits, &out, &error);
    if (rc == 0) {
        assert (out);
        shic_val_destroy (&out);
    }
    else {
        assert (out == NULL);
        assert (error);
    }
    return rc;
}

void
shic_val_test (bool verbose)
{
    printf (" * shic_val: ");
    if (verbose)
        printf ("\n");

    //  Scalars and accessors
    shic_val_t *value = shic_val_new_nil ();
    assert (shic_val_type (value) == SHIC_VAL_NIL);
    assert (streq (shic_val_type_name (value), "nil"));
    s_assert_round_trip (value);
    shic_val_destroy (&value);
    assert (value == NULL);
    shic_val_destroy (&value);

    value = shic_val_new_bool (true);
    assert (shic_val_bool (value));
    assert (shic_val_int (value) == 0);
    assert (shic_val_str (value) == NULL);
    s_assert_round_trip (value);
    shic_val_destroy (&value);

    int64_t ints [] = { 0, 1, -1, 127, 128, -32, -33, 255, 65536,
                        INT64_MAX, INT64_MIN, 4294967296LL };
    size_t index;
    for (index = 0; index < sizeof (ints) / sizeof (ints [0]); index++) {
        value = shic_val_new_int (ints [index]);
        assert (shic_val_int (value) == ints [index]);
        s_assert_round_trip (value);
        shic_val_destroy (&value);
    }
    value = shic_val_new_float (2.5);
    assert (shic_val_float (value) == 2.5);
    assert (streq (shic_val_type_name (value), "float"));
    s_assert_round_trip (value);
    shic_val_destroy (&value);

    value = shic_val_new_str ("hello");
    assert (streq (shic_val_str (value), "hello"));
    assert (shic_val_len (value) == 5);
    s_assert_round_trip (value);
    shic_val_destroy (&value);

    value = shic_val_new_strn ("a\0b", 3);
    assert (shic_val_len (value) == 3);
    assert (memcmp (shic_val_bin (value), "a\0b", 3) == 0);
    s_assert_round_trip (value);
    shic_val_destroy (&value);

    value = shic_val_new_printf ("%d-%s", 42, "x");
    assert (streq (shic_val_str (value), "42-x"));
    shic_val_destroy (&value);

    value = shic_val_new_str (NULL);
    assert (shic_val_is (value, SHIC_VAL_NIL));
    shic_val_destroy (&value);

    value = shic_val_new_bin ("\x00\x01\xff", 3);
    assert (shic_val_is (value, SHIC_VAL_BIN));
    assert (shic_val_len (value) == 3);
    assert (shic_val_str (value) == NULL);
    s_assert_round_trip (value);
    shic_val_destroy (&value);

    value = shic_val_new_bin (NULL, 0);
    s_assert_round_trip (value);
    shic_val_destroy (&value);

    //  Accessors on NULL
    assert (shic_val_type (NULL) == SHIC_VAL_NIL);
    assert (shic_val_size (NULL) == 0);
    assert (shic_val_at (NULL, 0) == NULL);
    assert (shic_val_get (NULL, "x") == NULL);
    assert (shic_val_dup (NULL) == NULL);

    //  A tree of every type
    shic_val_t *tree = shic_val_new_map ();
    shic_val_set_str (tree, "name", "shic");
    shic_val_set_int (tree, "count", -7);
    shic_val_set_bool (tree, "flag", false);
    shic_val_set_nil (tree, "nothing");
    shic_val_t *item = shic_val_new_float (-0.125);
    shic_val_set (tree, "ratio", &item);
    assert (item == NULL);
    item = shic_val_new_bin ("raw", 3);
    shic_val_set (tree, "blob", &item);
    shic_val_t *list = shic_val_new_array ();
    for (index = 0; index < 20; index++) {
        item = shic_val_new_int ((int64_t) index);
        assert (shic_val_push (list, &item) == 0);
        assert (item == NULL);
    }
    item = shic_val_new_str ("tail");
    shic_val_push (list, &item);
    shic_val_set (tree, "list", &list);
    shic_val_t *inner = shic_val_new_map ();
    shic_val_t *deeper = shic_val_new_map ();
    shic_val_set_str (deeper, "backend", "llama_cpp");
    shic_val_set (inner, "target_preference", &deeper);
    shic_val_set (tree, "request", &inner);
    assert (shic_val_size (tree) == 8);
    s_assert_round_trip (tree);

    //  Path, contains
    assert (streq (shic_val_str (shic_val_path (tree, "request/target_preference/backend")),
                   "llama_cpp"));
    assert (shic_val_path (tree, "request/missing/backend") == NULL);
    assert (shic_val_path (tree, "name/x") == NULL);
    assert (shic_val_path (tree, "request") == shic_val_get (tree, "request"));
    list = shic_val_get (tree, "list");
    assert (shic_val_size (list) == 21);
    assert (shic_val_contains_str (list, "tail"));
    assert (!shic_val_contains_str (list, "head"));
    item = shic_val_new_int (19);
    assert (shic_val_contains (list, item));
    shic_val_destroy (&item);
    assert (shic_val_int (shic_val_at (list, 5)) == 5);
    assert (shic_val_at (list, 21) == NULL);

    //  Push onto a non-array destroys the item
    item = shic_val_new_int (1);
    assert (shic_val_push (tree, &item) == -1);
    assert (item == NULL);

    //  Set replaces in place, keeping the order
    assert (streq (shic_val_key_at (tree, 1), "count"));
    shic_val_set_str (tree, "count", "seven");
    assert (shic_val_size (tree) == 8);
    assert (streq (shic_val_key_at (tree, 1), "count"));
    assert (streq (shic_val_str (shic_val_at (tree, 1)), "seven"));
    item = shic_val_new_int (1);
    assert (shic_val_set (list, "x", &item) == -1);
    assert (item == NULL);

    //  Equal and dup: maps compare as sets of pairs
    shic_val_t *copy = shic_val_dup (tree);
    assert (shic_val_equal (tree, copy));
    shic_val_t *reordered = shic_val_new_map ();
    for (index = shic_val_size (tree); index > 0; index--)
        shic_val_set_dup (reordered, shic_val_key_at (tree, index - 1),
                          shic_val_at (tree, index - 1));
    assert (shic_val_equal (tree, reordered));
    assert (!streq (shic_val_key_at (tree, 0), shic_val_key_at (reordered, 0)));
    shic_val_set_int (copy, "count", 7);
    assert (!shic_val_equal (tree, copy));
    item = shic_val_new_int (1);
    shic_val_t *other = shic_val_new_float (1.0);
    assert (!shic_val_equal (item, other));
    shic_val_destroy (&item);
    shic_val_destroy (&other);

    //  Canonical encoding: equal trees give equal bytes
    void *bytes_a, *bytes_b;
    size_t size_a, size_b;
    assert (shic_val_encode_canonical (tree, &bytes_a, &size_a) == 0);
    assert (shic_val_encode_canonical (reordered, &bytes_b, &size_b) == 0);
    assert (size_a == size_b && memcmp (bytes_a, bytes_b, size_a) == 0);
    free (bytes_b);
    assert (shic_val_encode (reordered, &bytes_b, &size_b) == 0);
    assert (size_a == size_b && memcmp (bytes_a, bytes_b, size_a) != 0);
    free (bytes_a);
    free (bytes_b);
    //  {"b":1,"ab":2,"a":{"z":1,"y":2}}
    shic_val_t *small = shic_val_new_map ();
    shic_val_set_int (small, "b", 1);
    shic_val_set_int (small, "ab", 2);
    shic_val_t *pairs = shic_val_new_map ();
    shic_val_set_int (pairs, "z", 1);
    shic_val_set_int (pairs, "y", 2);
    shic_val_set (small, "a", &pairs);
    assert (shic_val_encode_canonical (small, &bytes_a, &size_a) == 0);
    const uint8_t expected [] = {
        0x83, 0xa1, 'a', 0x82, 0xa1, 'y', 0x02, 0xa1, 'z', 0x01,
        0xa2, 'a', 'b', 0x02, 0xa1, 'b', 0x01 };
    assert (size_a == sizeof (expected));
    assert (memcmp (bytes_a, expected, size_a) == 0);
    free (bytes_a);
    shic_val_destroy (&small);

    //  Take and remove
    item = shic_val_take (copy, "request");
    assert (shic_val_is (item, SHIC_VAL_MAP));
    assert (shic_val_get (copy, "request") == NULL);
    assert (shic_val_size (copy) == 7);
    shic_val_destroy (&item);
    assert (shic_val_take (copy, "request") == NULL);
    assert (shic_val_remove (copy, "name") == 0);
    assert (shic_val_remove (copy, "name") == -1);
    assert (shic_val_size (copy) == 6);
    assert (streq (shic_val_key_at (copy, 0), "count"));
    shic_val_destroy (&copy);
    shic_val_destroy (&reordered);

    //  Decoding garbage
    void *data;
    size_t size;
    assert (shic_val_encode (tree, &data, &size) == 0);
    for (index = 0; index < size; index++)
        assert (s_decode_bytes (data, index, NULL) == -2);
    uint8_t *longer = (uint8_t *) malloc (size + 1);
    memcpy (longer, data, size);
    longer [size] = 0xc0;
    assert (s_decode_bytes (longer, size + 1, NULL) == -2);
    assert (s_decode_bytes (longer, size, NULL) == 0);
    shic_val_limits_t limits = { size - 1, 0, 0 };
    assert (s_decode_bytes (data, size, &limits) == -2);
    limits.max_bytes = size;
    assert (s_decode_bytes (data, size, &limits) == 0);
    limits.max_bytes = 0;
    limits.max_items = 20;
    assert (s_decode_bytes (data, size, &limits) == -2);
    limits.max_items = 21;
    assert (s_decode_bytes (data, size, &limits) == 0);
    free (longer);
    free (data);

    //  The reserved byte, alone and inside
    const uint8_t reserved [] = { 0xc1 };
    assert (s_decode_bytes (reserved, 1, NULL) == -2);
    const uint8_t reserved_inside [] = { 0x92, 0x01, 0xc1 };
    assert (s_decode_bytes (reserved_inside, 3, NULL) == -2);
    //  Ext types
    const uint8_t ext [] = { 0xd4, 0x01, 0x00 };
    assert (s_decode_bytes (ext, 3, NULL) == -2);
    //  An array claiming 2^32-1 items in five bytes dies before allocating
    const uint8_t huge_array [] = { 0xdd, 0xff, 0xff, 0xff, 0xff };
    assert (s_decode_bytes (huge_array, 5, NULL) == -2);
    const uint8_t huge_map [] = { 0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0 };
    assert (s_decode_bytes (huge_map, 6, NULL) == -2);
    //  Declared sizes beyond the buffer
    const uint8_t short_str [] = { 0xdb, 0x00, 0x00, 0x10, 0x00, 'a', 'b' };
    assert (s_decode_bytes (short_str, sizeof (short_str), NULL) == -2);
    const uint8_t short_fixstr [] = { 0xa5, 'a', 'b' };
    assert (s_decode_bytes (short_fixstr, 3, NULL) == -2);
    const uint8_t short_bin [] = { 0xc4, 0x04, 'a' };
    assert (s_decode_bytes (short_bin, 3, NULL) == -2);
    const uint8_t short_array [] = { 0x93, 0x01, 0x02 };
    assert (s_decode_bytes (short_array, 3, NULL) == -2);
    const uint8_t short_int [] = { 0xcd, 0x01 };
    assert (s_decode_bytes (short_int, 2, NULL) == -2);
    //  Map keys must be strings, unique, without NUL
    const uint8_t int_key [] = { 0x81, 0x01, 0x02 };
    assert (s_decode_bytes (int_key, 3, NULL) == -2);
    const uint8_t dup_key [] = { 0x82, 0xa1, 'a', 0x01, 0xa1, 'a', 0x02 };
    assert (s_decode_bytes (dup_key, sizeof (dup_key), NULL) == -2);
    const uint8_t nul_key [] = { 0x81, 0xa2, 'a', 0x00, 0x01 };
    assert (s_decode_bytes (nul_key, sizeof (nul_key), NULL) == -2);
    const uint8_t good_map [] = { 0x82, 0xa1, 'a', 0x01, 0xa1, 'b', 0x02 };
    assert (s_decode_bytes (good_map, sizeof (good_map), NULL) == 0);
    //  uint64: INT64_MAX fits, above does not
    const uint8_t u64_max [] = { 0xcf, 0xff, 0xff, 0xff, 0xff,
                                 0xff, 0xff, 0xff, 0xff };
    assert (s_decode_bytes (u64_max, 9, NULL) == -2);
    const uint8_t i64_max [] = { 0xcf, 0x7f, 0xff, 0xff, 0xff,
                                 0xff, 0xff, 0xff, 0xff };
    shic_val_t *out;
    assert (shic_val_decode (i64_max, 9, NULL, &out, NULL) == 0);
    assert (shic_val_int (out) == INT64_MAX);
    shic_val_destroy (&out);
    //  float32 widens
    const uint8_t float32 [] = { 0xca, 0x3f, 0xc0, 0x00, 0x00 };
    assert (shic_val_decode (float32, 5, NULL, &out, NULL) == 0);
    assert (shic_val_is (out, SHIC_VAL_FLOAT) && shic_val_float (out) == 1.5);
    shic_val_destroy (&out);
    //  Empty and oversize buffers
    assert (s_decode_bytes ("", 0, NULL) == -2);
    size_t oversize = SHIC_VAL_MAX_BYTES + 1;
    uint8_t *big = (uint8_t *) calloc (1, oversize);
    assert (s_decode_bytes (big, oversize, NULL) == -2);
    free (big);

    //  Nesting: 16 arrays decode, 17 do not (also when the last is empty)
    uint8_t nested [32];
    memset (nested, 0x91, sizeof (nested));
    nested [15] = 0x90;
    assert (s_decode_bytes (nested, 16, NULL) == 0);
    nested [15] = 0x91;
    nested [16] = 0x90;
    assert (s_decode_bytes (nested, 17, NULL) == -2);
    nested [16] = 0x91;
    nested [17] = 0x01;
    assert (s_decode_bytes (nested, 18, NULL) == -2);
    limits.max_items = 0;
    limits.max_depth = 17;
    assert (s_decode_bytes (nested, 18, &limits) == 0);
    //  A nested tree through the API hits the same limit
    shic_val_t *root = shic_val_new_array ();
    shic_val_t *cursor = root;
    for (index = 1; index < 16; index++) {
        item = shic_val_new_array ();
        shic_val_t *next = item;
        shic_val_push (cursor, &item);
        cursor = next;
    }
    s_assert_round_trip (root);
    item = shic_val_new_array ();
    shic_val_push (cursor, &item);
    assert (shic_val_encode (root, &data, &size) == 0);
    assert (s_decode_bytes (data, size, NULL) == -2);
    free (data);
    shic_val_destroy (&root);

    shic_val_destroy (&tree);
    printf ("OK\n");
}
