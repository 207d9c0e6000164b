/*  =========================================================================
    shicd_reload - shicd's SIGHUP: a new configuration applied backend by
    backend, the running ones it does not change left alone
    =========================================================================
*/

#ifndef SHICD_RELOAD_H_INCLUDED
#define SHICD_RELOAD_H_INCLUDED

#include "shic.h"
#include "shic_backends.h"

//  Applies *next_p (checked) over *current_p in runtime: a backend
//  whose section is gone or changed is unregistered through the table of
//  kept that registered it (its instances stop), a new or changed one
//  registered, an unchanged one left alone with its instances. The
//  backends of next are first configured into a scratch runtime, so that
//  a section they refuse changes nothing. The table of the new backends
//  joins kept; the replaced configuration is freed and *next_p becomes
//  *current_p. summary (a map, may be NULL) gets the backends by name:
//  added, removed, changed, unchanged [str], and restart_needed (the shicd
//  or runtime section changed, read at the next start only). Returns 0,
//  or -1 with *why (fresh) and nothing changed (*next_p stays the
//  caller's).
int shicd_reload (shic_runtime_t *runtime, zconfig_t **current_p, zconfig_t **next_p,
                  zlistx_t *kept, shic_val_t *summary, char **why);

//  The tables of backends shicd registered, the first one *backends_p
//  (taken; may be NULL)
zlistx_t *shicd_reload_kept_new (shic_backends_t **backends_p);

//  Frees what the backends reloads unregistered held, once the runtime is
//  done with them (their last instance has ended), and the tables left
//  with nothing. Returns how many it still waits for: sweep again later.
size_t shicd_reload_sweep (shic_runtime_t *runtime, zlistx_t *kept);

//  Frees the tables; after shic_runtime_destroy
void shicd_reload_forget (zlistx_t **kept_p);

#endif
