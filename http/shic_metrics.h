/*  =========================================================================
    shic_metrics - the Prometheus text of a runtime's state

    Pure: a map {stats, instances, leases, backends, resources} of the wire
    ops' results in, text format 0.0.4 out. Private to http/.
    =========================================================================
*/

#ifndef SHIC_METRICS_H_INCLUDED
#define SHIC_METRICS_H_INCLUDED

#include "shic_val.h"

//  The exposition of state; evictions and streams are the HTTP face's own
//  counts (instance.evicting events seen, event streams open). Fresh
//  string, NULL when memory ran out.
char *shic_metrics_render (const shic_val_t *state, uint64_t evictions, size_t streams);

#endif
