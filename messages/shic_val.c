/*  =========================================================================
    shic_val - a dynamically typed value tree

    Every structure that crosses a socket is a shic_val_t tree: scalars,
    strings and bytes, arrays, and maps of string keys in insertion order.
    Its msgpack codec is messages/shic_msgpack.c; both share the node
    (messages/shic_val_node.h). The declarations are in include/shic_val.h.
    =========================================================================
*/

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shic_val_node.h"

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
            if (!copy || shic_val_node_reserve ((void **) &copy->u.a.items, &copy->u.a.cap,
                                                self->u.a.size, sizeof (shic_val_t *))) {
                shic_val_destroy (&copy);
                return NULL;
            }
            for (index = 0; index < self->u.a.size; index++) {
                shic_val_t *item = shic_val_dup (self->u.a.items [index]);
                if (!item || shic_val_node_append (copy, item)) {
                    shic_val_destroy (&item);
                    shic_val_destroy (&copy);
                    return NULL;
                }
            }
            return copy;
        case SHIC_VAL_MAP:
            copy = shic_val_new_map ();
            if (!copy || shic_val_node_reserve ((void **) &copy->u.m.pairs, &copy->u.m.cap,
                                                self->u.m.size, sizeof (shic_val_pair_t))) {
                shic_val_destroy (&copy);
                return NULL;
            }
            for (index = 0; index < self->u.m.size; index++) {
                char *key = s_strdup (self->u.m.pairs [index].key);
                shic_val_t *value = shic_val_dup (self->u.m.pairs [index].val);
                if (!key || !value || shic_val_node_append_pair (copy, key, value)) {
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
    ||  shic_val_node_append (self, item)) {
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
        if (candidate [0] == key [0]
        &&  strncmp (candidate, key, size) == 0 && candidate [size] == 0)
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
    if (!copy || shic_val_node_append_pair (self, copy, value)) {
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
             (self->u.m.size - (size_t) index - 1) * sizeof (shic_val_pair_t));
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
//  Self test (encoding and decoding: tests/shic_msgpack_test.c)

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
    shic_val_destroy (&value);
    assert (value == NULL);
    shic_val_destroy (&value);

    value = shic_val_new_bool (true);
    assert (shic_val_bool (value));
    assert (shic_val_int (value) == 0);
    assert (shic_val_str (value) == NULL);
    shic_val_destroy (&value);

    int64_t ints [] = { 0, -1, INT64_MAX, INT64_MIN };
    size_t index;
    for (index = 0; index < sizeof (ints) / sizeof (ints [0]); index++) {
        value = shic_val_new_int (ints [index]);
        assert (shic_val_int (value) == ints [index]);
        assert (shic_val_float (value) == (double) ints [index]);
        shic_val_destroy (&value);
    }
    value = shic_val_new_float (2.5);
    assert (shic_val_float (value) == 2.5);
    assert (streq (shic_val_type_name (value), "float"));
    shic_val_destroy (&value);

    value = shic_val_new_str ("hello");
    assert (streq (shic_val_str (value), "hello"));
    assert (shic_val_len (value) == 5);
    shic_val_destroy (&value);

    value = shic_val_new_strn ("a\0b", 3);
    assert (shic_val_len (value) == 3);
    assert (memcmp (shic_val_bin (value), "a\0b", 3) == 0);
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
    shic_val_destroy (&value);

    value = shic_val_new_bin (NULL, 0);
    assert (shic_val_len (value) == 0);
    assert (shic_val_bin (value) != NULL);
    shic_val_destroy (&value);

    value = shic_val_new_strings ("a", "b", NULL);
    assert (shic_val_size (value) == 2);
    assert (streq (shic_val_str (shic_val_at (value, 1)), "b"));
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

    //  Path, contains
    assert (streq (shic_val_str (shic_val_path (tree, "request/target_preference/backend")),
                   "llama_cpp"));
    assert (shic_val_path (tree, "/request//target_preference/backend/")
         == shic_val_path (tree, "request/target_preference/backend"));
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
    item = shic_val_new_float (NAN);
    other = shic_val_dup (item);
    assert (shic_val_equal (item, other));
    shic_val_destroy (&item);
    shic_val_destroy (&other);

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

    shic_val_destroy (&tree);
    printf ("OK\n");
}
