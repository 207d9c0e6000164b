/*  =========================================================================
    shic_args - the arguments of every op, decoded once at the door

    Each op of wire.md has a table of its arguments (key, kind, required,
    default); a request's args map is checked against its op's table once,
    into a typed shic_args_t, and the gateway then works on fields. Strings
    and values are borrowed from the request and live as long as it does.
    =========================================================================
*/

#ifndef SHIC_ARGS_H_INCLUDED
#define SHIC_ARGS_H_INCLUDED

#include "shic_val.h"
#include "shic_wire.h"

//  Every argument any op takes; an op fills the ones of its table
typedef struct {
    const char *backend;            //  a backend id
    const char *instance_id;        //  an instance id
    const char *lease_ref;          //  a lease
    const char *owner_ref;          //  the lease owner, or NULL
    int64_t ttl_ms;                 //  a lease TTL (0 = untimed)
    bool has_ttl_ms;                //  ttl_ms was given
    int64_t wait_ms;                //  how long an ensure may wait
    int64_t lines;                  //  instance_logs: at most this many lines
    int64_t after_line;             //  instance_logs ("after"): lines numbered
                                    //  from this on
    const shic_val_t *consumer;     //  ConsumerManifest, unchecked, or NULL
    const shic_val_t *request;      //  the ensure request, or NULL
    const shic_val_t *context;      //  the ensure context, or NULL
    int64_t priority;               //  an ensure's place in the memory queue
    bool has_priority;              //  priority was given (else the model's)
    bool preemptible;               //  its lease may be revoked for a waiter
                                    //  of higher priority
    int64_t limit;                  //  a list op's page size
    const char *after;              //  a list op's cursor (the last page's
                                    //  next), or NULL for the first page
    bool cluster;                   //  list_instances, list_leases, resources:
                                    //  answer for every node of the cluster
} shic_args_t;

//  The page size of list ops: default and largest
#define SHIC_ARGS_PAGE_DEFAULT 256
#define SHIC_ARGS_PAGE_MAX 1000

//  The range of an ensure's priority
#define SHIC_ARGS_PRIORITY_MIN (-1000)
#define SHIC_ARGS_PRIORITY_MAX 1000

//  Largest string argument in bytes (owner_ref, lease_ref, instance_id,
//  backend): what a client can make the daemon hold per lease
#define SHIC_ARGS_STR_MAX 256

//  Largest duration an argument may have (2^40 ms, about 35 years)
#define SHIC_ARGS_MS_MAX ((int64_t) 1 << 40)

//  Checks args (a map or NULL) against op's table and fills out. Returns 0,
//  or -1 with err set to invalid_args (details {field}) naming the first
//  argument, in table order, that is missing or of the wrong kind. An op
//  without a table takes no arguments (anything given is ignored).
int shic_args_decode (const char *op, const shic_val_t *args, shic_args_t *out,
                      shic_error_t *err);

void shic_args_test (bool verbose);

#endif
