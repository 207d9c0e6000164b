/*  =========================================================================
    shic_val_node - the inside of a shic_val_t, for its two source files

    Private to messages/shic_val.c (the tree) and messages/shic_msgpack.c
    (the codec): the decoder sizes arrays and maps from the declared counts
    and appends pairs without a key lookup, and the encoder walks the pairs
    in place, so neither allocates or copies more than the tree itself does.
    Everyone else uses include/shic_val.h.
    =========================================================================
*/

#ifndef SHIC_VAL_NODE_H_INCLUDED
#define SHIC_VAL_NODE_H_INCLUDED

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
} shic_val_pair_t;

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
            shic_val_pair_t *pairs; //  owned pairs, in insertion order
            size_t size;            //  pairs in use
            size_t cap;             //  pairs allocated
        } m;                        //  MAP
    } u;
};

//  Makes room for count items or pairs at once (sizes known in advance)
static inline int
shic_val_node_reserve (void **buffer, size_t *cap, size_t count, size_t item_size)
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

//  Makes room for one more item or pair, doubling; returns 0 / -1
static inline int
shic_val_node_grow (void **buffer, size_t *cap, size_t size, size_t item_size)
{
    if (size < *cap)
        return 0;
    size_t new_cap = *cap? *cap * 2: 4;
    if (new_cap < *cap)
        return -1;
    return shic_val_node_reserve (buffer, cap, new_cap, item_size);
}

//  Appends to a map without looking for an existing key; takes key and
//  value ownership only on success
static inline int
shic_val_node_append_pair (shic_val_t *self, char *key, shic_val_t *value)
{
    if (shic_val_node_grow ((void **) &self->u.m.pairs, &self->u.m.cap,
                            self->u.m.size, sizeof (shic_val_pair_t)))
        return -1;
    self->u.m.pairs [self->u.m.size].key = key;
    self->u.m.pairs [self->u.m.size].val = value;
    self->u.m.size++;
    return 0;
}

//  Appends to an array; takes the item only on success
static inline int
shic_val_node_append (shic_val_t *self, shic_val_t *item)
{
    if (shic_val_node_grow ((void **) &self->u.a.items, &self->u.a.cap,
                            self->u.a.size, sizeof (shic_val_t *)))
        return -1;
    self->u.a.items [self->u.a.size++] = item;
    return 0;
}

#endif
