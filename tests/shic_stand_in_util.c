/*  =========================================================================
    shic_stand_in_util - what the two stand-in servers share
    =========================================================================
*/

#include "shic_stand_in_util.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void
buf_reserve (buf_t *self, size_t extra)
{
    if (self->size + extra + 1 <= self->max)
        return;
    size_t max = self->max? self->max: 256;
    while (max < self->size + extra + 1)
        max *= 2;
    char *data = realloc (self->data, max);
    if (!data) {
        fprintf (stderr, "stand-in: out of memory\n");
        exit (1);
    }
    self->data = data;
    self->max = max;
}

void
buf_append (buf_t *self, const void *bytes, size_t size)
{
    buf_reserve (self, size);
    memcpy (self->data + self->size, bytes, size);
    self->size += size;
    self->data [self->size] = 0;
}

void
buf_printf (buf_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    int size = vsnprintf (NULL, 0, format, args);
    va_end (args);
    if (size < 0)
        return;
    buf_reserve (self, (size_t) size);
    va_start (args, format);
    vsnprintf (self->data + self->size, (size_t) size + 1, format, args);
    va_end (args);
    self->size += (size_t) size;
}

void
buf_consume (buf_t *self, size_t size)
{
    if (size > self->size)
        size = self->size;
    memmove (self->data, self->data + size, self->size - size);
    self->size -= size;
    if (self->data)
        self->data [self->size] = 0;
}

void
buf_free (buf_t *self)
{
    free (self->data);
    self->data = NULL;
    self->size = self->max = 0;
}

void
buf_json_string (buf_t *self, const char *text)
{
    buf_append (self, "\"", 1);
    for (const unsigned char *ch = (const unsigned char *) text; *ch; ch++) {
        if (*ch == '"' || *ch == '\\') {
            char escaped [2] = { '\\', (char) *ch };
            buf_append (self, escaped, 2);
        }
        else
        if (*ch < 0x20)
            buf_printf (self, "\\u%04x", *ch);
        else
            buf_append (self, ch, 1);
    }
    buf_append (self, "\"", 1);
}

char *
header_value (char *line, const char *name)
{
    size_t name_size = strlen (name);
    if (strncasecmp (line, name, name_size) != 0 || line [name_size] != ':')
        return NULL;
    char *value = line + name_size + 1;
    while (*value == ' ' || *value == '\t')
        value++;
    size_t size = strlen (value);
    while (size && (value [size - 1] == ' ' || value [size - 1] == '\t'))
        value [--size] = 0;
    return value;
}
