/*  =========================================================================
    shicd_reload - shicd's SIGHUP: a new configuration applied backend by
    backend, the running ones it does not change left alone
    =========================================================================
*/

#ifndef SHICD_RELOAD_H_INCLUDED
#define SHICD_RELOAD_H_INCLUDED

#include "shic.h"

//  Applies *next_p (checked) over *current_p in runtime: a backend
//  whose section is gone or changed is unregistered (its instances stop),
//  a new or changed one registered, an unchanged one left alone with its
//  instances. The backends of next are first configured into a scratch
//  runtime, so that a section they refuse changes nothing. The tables of
//  the new backends and the replaced configuration go to kept (freed by
//  shicd_reload_forget); *next_p becomes *current_p. summary (a map, may
//  be NULL) gets the backends by name: added, removed, changed, unchanged
//  [str], and restart_needed (the shicd or runtime section changed, read
//  at the next start only). Returns 0, or -1 with *why (fresh) and
//  nothing changed (*next_p stays the caller's).
int shicd_reload (shic_runtime_t *runtime, zconfig_t **current_p, zconfig_t **next_p,
                  zlistx_t *kept, shic_val_t *summary, char **why);

//  Frees what reloads kept; after shic_runtime_destroy
void shicd_reload_forget (zlistx_t **kept_p);

#endif
