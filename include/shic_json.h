/*  =========================================================================
    shic_json - JSON text to and from the value tree, through jansson

    The backends parse untrusted HTTP bodies with shic_val_from_json
    (Ollama's /api/tags, /api/ps, /api/version and pull lines, the model
    lists of OpenAI-compatible servers); the command line and the error
    messages print trees with shic_val_to_json. Parsing and rendering are
    jansson's; this class only converts between jansson's trees and
    shic_val_t and holds the limits. It is the one file of shic that
    includes <jansson.h>, as shic_msgpack.c is the one that includes
    <msgpack.h>.
    =========================================================================
*/

#ifndef SHIC_JSON_H_INCLUDED
#define SHIC_JSON_H_INCLUDED

#include <stdbool.h>
#include "shic_val.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Renders self as compact JSON: map pairs in their order, floats as %.17g
//  (with ".0" when that looks like an integer, null when not finite), bins
//  as base64 strings, control characters and DEL as \u00xx except \t \n \r.
//  Bytes of a string or key that are not UTF-8 are written as U+FFFD, so
//  the text is always valid JSON. Fresh string, caller frees; NULL when
//  memory ran out.
SHIC_EXPORT char *shic_val_to_json (const shic_val_t *self);

//  Parses one JSON value (any type at the top, surrounding whitespace
//  allowed) into a fresh tree, caller owns it. Made for untrusted input:
//  returns NULL on a syntax error, trailing bytes, a text over
//  SHIC_VAL_MAX_BYTES, containers nested deeper than SHIC_VAL_MAX_DEPTH,
//  a duplicate key, a key holding \u0000, invalid UTF-8, a lone surrogate,
//  an integer outside int64 or a float outside double. \u0000 inside a
//  string value is kept (the value's length counts it). Integers without
//  a fraction or exponent become INT, every other number FLOAT.
SHIC_EXPORT shic_val_t *shic_val_from_json (const char *text);

//  The same for size bytes at data, which need not end in a NUL (a NUL
//  byte among them is an error, as is more than max_bytes; 0 means
//  SHIC_VAL_MAX_BYTES): one line of a stream, or a body larger than the
//  default limit allows (etcd's replies, up to 4 MiB)
SHIC_EXPORT shic_val_t *shic_val_from_json_bytes (const char *data, size_t size,
                                                  size_t max_bytes);

//  Base64 of size bytes (standard alphabet, padded: how JSON carries a
//  bin, and how etcd's JSON gateway reads and writes bytes). Fresh,
//  NUL-terminated, caller frees; NULL when memory ran out
SHIC_EXPORT char *shic_json_base64 (const void *data, size_t size);

//  Bytes at the start of data (size bytes) that are valid UTF-8: no
//  overlong forms, no surrogates, nothing above U+10FFFF (jansson's rules);
//  size when all of it is
SHIC_EXPORT size_t shic_json_utf8_prefix (const char *data, size_t size);

#ifdef __cplusplus
}
#endif

#endif
