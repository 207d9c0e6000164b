/*  =========================================================================
    shic_schema - field tables for the structures of contract.md §3

    A structure is a table of fields (name, type, required, default,
    rules); shic_schema_take reads a partial map through the table into a
    fresh map in table order, so every normalizer is its table plus the few
    checks that span fields. A field present with a nil value counts as
    absent; keys that are not in the table are dropped.
    =========================================================================
*/

#ifndef SHIC_SCHEMA_H_INCLUDED
#define SHIC_SCHEMA_H_INCLUDED

#include "shic_val.h"
#include "shic_error.h"

#ifdef __cplusplus
extern "C" {
#endif

//  What a field's value must be, and what an absent one becomes
typedef enum {
    SHIC_SCHEMA_STR,                //  string; dflt, or nil when dflt is NULL
    SHIC_SCHEMA_STRS,               //  array of strings; [dflt], or [] when NULL
    SHIC_SCHEMA_MAP,                //  map; {}
    SHIC_SCHEMA_SURFACE,            //  nil, a string or a map; nil
    SHIC_SCHEMA_MS,                 //  milliseconds, an int 0 .. max_ms; dflt_ms
    SHIC_SCHEMA_SIGNAL,             //  signal number 1..64; left out
    SHIC_SCHEMA_STRUCT              //  nil or a map read through fields; nil
} shic_schema_type_t;

//  The largest MS value unless a field says less (2^40 ms, as wire.md's
//  durations): a clock plus it cannot overflow
#define SHIC_SCHEMA_MS_MAX          ((int64_t) 1 << 40)

//  Rules beyond the type, or-ed together
#define SHIC_SCHEMA_NON_EMPTY       1   //  STR, STRS: not "" nor [] (nor absent, for STRS)
#define SHIC_SCHEMA_STRING_VALUES   2   //  MAP: every value is a string
#define SHIC_SCHEMA_POSITIVE        4   //  MS: > 0

typedef struct shic_schema_field_s shic_schema_field_t;
struct shic_schema_field_s {
    const char *name;               //  the key; NULL ends a table
    shic_schema_type_t type;        //  what the value must be
    bool required;                  //  STR: absent is an error, not a default
    const char *dflt;               //  STR default, or STRS single default item
    int64_t dflt_ms;                //  MS default
    int64_t max_ms;                 //  MS largest value; 0 = SHIC_SCHEMA_MS_MAX
    int rules;                      //  SHIC_SCHEMA_NON_EMPTY | ...
    const shic_schema_field_t *fields;  //  STRUCT: the nested table
};

//  Reads every field of table from in (borrowed; NULL reads as empty) into
//  out, in table order. Returns 0, or -1 at the first bad field with err
//  set to code {field: "prefix.name"} (just name when prefix is NULL); out
//  then holds the fields before it.
int shic_schema_take (shic_val_t *out, const shic_val_t *in,
                      const shic_schema_field_t *table, const char *code,
                      const char *prefix, shic_error_t *err);

//  True when the value is absent or nil
bool shic_schema_absent (const shic_val_t *value);

//  True when value is a legal execution surface: nil, a string or a map
bool shic_schema_surface_valid (const shic_val_t *value);

void shic_schema_test (bool verbose);

#ifdef __cplusplus
}
#endif

#endif
