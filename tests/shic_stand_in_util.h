/*  =========================================================================
    shic_stand_in_util - what the two stand-in servers share: a growable
    byte buffer (a test double dies on out-of-memory) and HTTP header
    parsing. Plain C, no czmq, like the stand-ins themselves.
    =========================================================================
*/

#ifndef SHIC_STAND_IN_UTIL_H_INCLUDED
#define SHIC_STAND_IN_UTIL_H_INCLUDED

#include <stddef.h>

//  A growable byte buffer
typedef struct {
    char *data;                         //  Bytes, NUL-terminated
    size_t size;                        //  Bytes used, without the NUL
    size_t max;                         //  Bytes allocated
} buf_t;

void buf_reserve (buf_t *self, size_t extra);
void buf_append (buf_t *self, const void *bytes, size_t size);
void buf_printf (buf_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));
//  Drops the first size bytes
void buf_consume (buf_t *self, size_t size);
void buf_free (buf_t *self);
//  Appends a JSON string literal, escaped, with its quotes
void buf_json_string (buf_t *self, const char *text);

//  Case-insensitive header name match on a header line; returns the
//  trimmed value (inside line) or NULL
char *header_value (char *line, const char *name);

#endif
