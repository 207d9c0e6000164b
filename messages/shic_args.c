/*  =========================================================================
    shic_args - the arguments of every op, decoded once at the door

    Unknown keys are ignored, as wire.md lets clients add fields; nil is
    the same as absent.
    =========================================================================
*/

#include "shic_args.h"
#include "shic_json.h"
#include <czmq.h>
#include <stddef.h>

typedef enum {
    ARG_STR,                        //  a string
    ARG_MS,                         //  whole milliseconds, 0 .. SHIC_ARGS_MS_MAX
    ARG_VAL,                        //  any value, checked later by the contract
    ARG_PRIORITY,                   //  a whole number in the priority range
    ARG_BOOL,                       //  true or false
    ARG_COUNT,                      //  a whole number, 0 .. SHIC_ARGS_MS_MAX
    ARG_PAGE                        //  a page size, 1 .. SHIC_ARGS_PAGE_MAX
} s_kind_t;

typedef struct {
    const char *key;                //  the argument's key
    s_kind_t kind;                  //  what it must be
    bool required;                  //  absent is invalid_args
    int64_t dflt;                   //  ARG_MS: the value when absent
    size_t offset;                  //  where it goes in shic_args_t
    size_t given;                   //  ARG_MS: offset of its "given" flag, or 0
} s_rule_t;

//  A string's dflt is its largest size in bytes
#define STR(key, required)  { #key, ARG_STR, required, SHIC_ARGS_STR_MAX, \
                              offsetof (shic_args_t, key), 0 }
#define VAL(key)            { #key, ARG_VAL, false, 0, offsetof (shic_args_t, key), 0 }
#define MS(key, dflt)       { #key, ARG_MS, false, dflt, offsetof (shic_args_t, key), \
                              offsetof (shic_args_t, has_##key) }
#define MS_NOFLAG(key, dflt) { #key, ARG_MS, false, dflt, offsetof (shic_args_t, key), 0 }
#define PRIORITY(key)       { #key, ARG_PRIORITY, false, 0, offsetof (shic_args_t, key), \
                              offsetof (shic_args_t, has_##key) }
#define BOOL(key)           { #key, ARG_BOOL, false, 0, offsetof (shic_args_t, key), 0 }
#define COUNT(key, dflt)    { #key, ARG_COUNT, false, dflt, offsetof (shic_args_t, key), 0 }
#define COUNT_AS(key, member, dflt) \
                            { key, ARG_COUNT, false, dflt, offsetof (shic_args_t, member), 0 }
#define PAGE                { "limit", ARG_PAGE, false, SHIC_ARGS_PAGE_DEFAULT, \
                              offsetof (shic_args_t, limit), 0 }, STR (after, false)
#define END                 { NULL, ARG_STR, false, 0, 0, 0 }

//  In the order their errors are reported
static const s_rule_t s_ensure [] = {
    MS (ttl_ms, 0), MS_NOFLAG (wait_ms, 120000), STR (owner_ref, false),
    VAL (consumer), VAL (request), VAL (context), PRIORITY (priority), BOOL (preemptible), END
};
static const s_rule_t s_compatibility [] = { STR (backend, true), VAL (consumer), END };
static const s_rule_t s_renew [] = { STR (lease_ref, true), MS (ttl_ms, 0), END };
static const s_rule_t s_release [] = { STR (lease_ref, true), END };
static const s_rule_t s_by_backend [] = { STR (backend, false), PAGE, END };
static const s_rule_t s_instance [] = { STR (instance_id, true), END };
static const s_rule_t s_by_instance [] = {
    STR (instance_id, false), PAGE, BOOL (cluster), END
};
static const s_rule_t s_instances [] = { STR (backend, false), PAGE, BOOL (cluster), END };
static const s_rule_t s_resources [] = { BOOL (cluster), END };
static const s_rule_t s_logs [] = {
    STR (instance_id, true), COUNT (lines, 200), COUNT_AS ("after", after_line, 0), END
};

static const struct {
    const char *op;                 //  the op
    const s_rule_t *rules;          //  its arguments
} s_ops [] = {
    { "ensure_endpoint", s_ensure },
    { "compatibility", s_compatibility },
    { "renew_lease", s_renew },
    { "release_lease", s_release },
    { "list_instances", s_instances },
    { "lookup_instance", s_instance },
    { "list_leases", s_by_instance },
    { "stop_instance", s_instance },
    { "instance_logs", s_logs },
    { "list_models", s_by_backend },
    { "resources", s_resources },
};

int
shic_args_decode (const char *op, const shic_val_t *args, shic_args_t *out, shic_error_t *err)
{
    memset (out, 0, sizeof (*out));
    const s_rule_t *rules = NULL;
    for (size_t i = 0; i < sizeof (s_ops) / sizeof (s_ops [0]) && !rules; i++)
        if (streq (s_ops [i].op, op))
            rules = s_ops [i].rules;
    for (const s_rule_t *rule = rules; rule && rule->key; rule++) {
        shic_val_t *val = shic_val_get (args, rule->key);
        bool absent = !val || shic_val_type (val) == SHIC_VAL_NIL;
        char *field = (char *) out + rule->offset;
        if (rule->kind == ARG_VAL) {
            *(const shic_val_t **) field = val;
            continue;
        }
        if (rule->kind == ARG_STR) {
            if (absent && rule->required) {
                shic_error_set_field (err, SHIC_E_INVALID_ARGS, rule->key, "%s is required",
                                      rule->key);
                return -1;
            }
            if (!absent && shic_val_type (val) != SHIC_VAL_STR) {
                shic_error_set_field (err, SHIC_E_INVALID_ARGS, rule->key,
                                      "%s must be a string", rule->key);
                return -1;
            }
            if (!absent && strlen (shic_val_str (val)) > (size_t) rule->dflt) {
                shic_error_set_field (err, SHIC_E_INVALID_ARGS, rule->key,
                                      "%s is longer than %d bytes", rule->key, (int) rule->dflt);
                return -1;
            }
            *(const char **) field = absent? NULL: shic_val_str (val);
            continue;
        }
        if (rule->kind == ARG_BOOL) {
            if (!absent && shic_val_type (val) != SHIC_VAL_BOOL) {
                shic_error_set_field (err, SHIC_E_INVALID_ARGS, rule->key,
                                      "%s must be true or false", rule->key);
                return -1;
            }
            *(bool *) field = !absent && shic_val_bool (val);
            continue;
        }
        if (rule->kind == ARG_PAGE) {
            if (!absent && (shic_val_type (val) != SHIC_VAL_INT || shic_val_int (val) < 1
                        ||  shic_val_int (val) > SHIC_ARGS_PAGE_MAX)) {
                shic_error_set_field (err, SHIC_E_INVALID_ARGS, rule->key,
                                      "%s must be a whole number from 1 to %d", rule->key,
                                      SHIC_ARGS_PAGE_MAX);
                return -1;
            }
            *(int64_t *) field = absent? rule->dflt: shic_val_int (val);
            continue;
        }
        if (rule->kind == ARG_PRIORITY) {
            if (!absent && (shic_val_type (val) != SHIC_VAL_INT
                        ||  shic_val_int (val) < SHIC_ARGS_PRIORITY_MIN
                        ||  shic_val_int (val) > SHIC_ARGS_PRIORITY_MAX)) {
                shic_error_set_field (err, SHIC_E_INVALID_ARGS, rule->key,
                                      "%s must be a whole number from %d to %d", rule->key,
                                      SHIC_ARGS_PRIORITY_MIN, SHIC_ARGS_PRIORITY_MAX);
                return -1;
            }
            *(int64_t *) field = absent? 0: shic_val_int (val);
            *(bool *) ((char *) out + rule->given) = !absent;
            continue;
        }
        //  ARG_MS, ARG_COUNT
        if (!absent && (shic_val_type (val) != SHIC_VAL_INT || shic_val_int (val) < 0
                    ||  shic_val_int (val) > SHIC_ARGS_MS_MAX)) {
            shic_error_set_field (err, SHIC_E_INVALID_ARGS, rule->key,
                                  "%s must be a whole number%s >= 0", rule->key,
                                  rule->kind == ARG_MS? " of milliseconds": "");
            return -1;
        }
        *(int64_t *) field = absent? rule->dflt: shic_val_int (val);
        if (rule->given)
            *(bool *) ((char *) out + rule->given) = !absent;
    }
    return 0;
}

//  --------------------------------------------------------------------------

//  Decodes args given as JSON for op; returns the error code or "ok"
static const char *
s_try (const char *op, const char *json, shic_args_t *out, const char **field)
{
    shic_val_t *args = json? shic_val_from_json (json): NULL;
    shic_error_t err = { 0 };
    static char code [64];
    snprintf (code, sizeof (code), "ok");
    *field = NULL;
    if (shic_args_decode (op, args, out, &err) != 0) {
        snprintf (code, sizeof (code), "%s", err.code);
        static char field_buf [64];
        snprintf (field_buf, sizeof (field_buf), "%s",
                  shic_val_str (shic_val_get (err.details, "field")));
        *field = field_buf;
    }
    shic_error_clear (&err);
    shic_val_destroy (&args);
    return code;
}

void
shic_args_test (bool verbose)
{
    (void) verbose;
    printf (" * shic_args: ");
    shic_args_t out;
    const char *field;
    //  Defaults, and borrowed values
    shic_val_t *args = shic_val_from_json ("{\"owner_ref\":\"me\",\"consumer\":{\"a\":1},"
                                           "\"context\":null,\"extra\":true}");
    shic_error_t err = { 0 };
    assert (shic_args_decode ("ensure_endpoint", args, &out, &err) == 0);
    assert (out.ttl_ms == 0 && !out.has_ttl_ms && out.wait_ms == 120000);
    assert (streq (out.owner_ref, "me"));
    assert (out.consumer == shic_val_get (args, "consumer"));
    assert (out.request == NULL);
    assert (shic_val_type (out.context) == SHIC_VAL_NIL);     //  nil is passed on as it is
    shic_val_destroy (&args);
    //  Every kind of refusal names its field, in table order
    assert (streq (s_try ("ensure_endpoint", "{\"ttl_ms\":-1}", &out, &field), "invalid_args"));
    assert (streq (field, "ttl_ms"));
    assert (streq (s_try ("ensure_endpoint", "{\"ttl_ms\":1.5,\"wait_ms\":\"x\"}", &out, &field),
                   "invalid_args"));
    assert (streq (field, "ttl_ms"));
    assert (streq (s_try ("ensure_endpoint", "{\"wait_ms\":1099511627777}", &out, &field),
                   "invalid_args"));
    assert (streq (field, "wait_ms"));
    assert (streq (s_try ("ensure_endpoint", "{\"owner_ref\":7}", &out, &field), "invalid_args"));
    assert (streq (field, "owner_ref"));
    assert (streq (s_try ("renew_lease", "{}", &out, &field), "invalid_args"));
    assert (streq (field, "lease_ref"));
    assert (streq (s_try ("renew_lease", NULL, &out, &field), "invalid_args"));
    assert (streq (s_try ("renew_lease", "{\"lease_ref\":\"l\",\"ttl_ms\":5}", &out, &field), "ok"));
    assert (out.has_ttl_ms && out.ttl_ms == 5);     //  (the strings went with the args)
    assert (streq (s_try ("stop_instance", "{\"instance_id\":null}", &out, &field), "invalid_args"));
    assert (streq (field, "instance_id"));
    assert (streq (s_try ("list_leases", "{\"instance_id\":[1]}", &out, &field), "invalid_args"));
    assert (streq (s_try ("list_leases", NULL, &out, &field), "ok"));
    assert (out.instance_id == NULL);
    assert (out.instance_id == NULL && out.limit == SHIC_ARGS_PAGE_DEFAULT && !out.after);
    assert (streq (s_try ("instance_logs", "{\"instance_id\":\"i\"}", &out, &field), "ok"));
    assert (out.lines == 200 && out.after_line == 0);
    assert (streq (s_try ("instance_logs", "{\"instance_id\":\"i\",\"lines\":-1}", &out, &field),
                   "invalid_args"));
    assert (streq (field, "lines"));
    assert (streq (s_try ("list_instances", "{\"limit\":1000,\"after\":\"a\"}", &out, &field),
                   "ok"));
    assert (out.limit == 1000);
    assert (streq (s_try ("list_leases", "{\"limit\":1001}", &out, &field), "invalid_args"));
    assert (streq (field, "limit"));
    assert (streq (s_try ("list_instances", "{\"limit\":0}", &out, &field), "invalid_args"));
    assert (streq (s_try ("list_leases", "{\"after\":5}", &out, &field), "invalid_args"));
    assert (streq (field, "after"));
    assert (streq (s_try ("compatibility", "{\"consumer\":{}}", &out, &field), "invalid_args"));
    assert (streq (field, "backend"));
    //  Placement: priority in its range, preemptible a bool
    assert (streq (s_try ("ensure_endpoint", "{\"priority\":5,\"preemptible\":true}", &out,
                          &field), "ok"));
    assert (out.priority == 5 && out.has_priority && out.preemptible);
    assert (streq (s_try ("ensure_endpoint", "{\"priority\":1001}", &out, &field),
                   "invalid_args"));
    assert (streq (field, "priority"));
    assert (streq (s_try ("ensure_endpoint", "{\"preemptible\":1}", &out, &field),
                   "invalid_args"));
    assert (streq (field, "preemptible"));
    //  Strings are bounded in bytes
    char *json = zsys_sprintf ("{\"owner_ref\":\"%0*d\"}", SHIC_ARGS_STR_MAX, 0);
    assert (streq (s_try ("ensure_endpoint", json, &out, &field), "ok"));
    zstr_free (&json);
    json = zsys_sprintf ("{\"owner_ref\":\"%0*d\"}", SHIC_ARGS_STR_MAX + 1, 0);
    assert (streq (s_try ("ensure_endpoint", json, &out, &field), "invalid_args"));
    assert (streq (field, "owner_ref"));
    zstr_free (&json);
    json = zsys_sprintf ("{\"lease_ref\":\"%0*d\"}", 100000, 0);
    assert (streq (s_try ("release_lease", json, &out, &field), "invalid_args"));
    zstr_free (&json);
    //  Ops without a table take nothing
    assert (streq (s_try ("ping", "{\"anything\":1}", &out, &field), "ok"));
    assert (streq (s_try ("no_such_op", NULL, &out, &field), "ok"));
    printf ("OK\n");
}
