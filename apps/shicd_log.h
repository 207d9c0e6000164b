/*  =========================================================================
    shicd_log - shicd's lifecycle log: one line per start, ready, crash,
    restart, eviction and stop (idle or not), read from its own events
    =========================================================================
*/

#ifndef SHICD_LOG_H_INCLUDED
#define SHICD_LOG_H_INCLUDED

#include "shic.h"

//  The actor: args is the events endpoint (inproc) to subscribe to, read
//  only before the handshake
void shicd_log_actor (zsock_t *pipe, void *args);

//  The line an event is logged as, or NULL when it is not logged (fresh)
char *shicd_log_line (const char *topic, const shic_val_t *event);

#endif
