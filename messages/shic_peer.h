/*  =========================================================================
    shic_peer - the header frame of the node-to-node peer protocol

    Gateways and cluster actors of a cluster exchange [command][header]
    [body] over their peer sockets; the header is a small msgpack map
    (ticket, hop, mode, holder, from, ...). Both ends encode and check it
    here, with one bound, and both make their links to other nodes' peer
    doors here.
    =========================================================================
*/

#ifndef SHIC_PEER_H_INCLUDED
#define SHIC_PEER_H_INCLUDED

#include "shic.h"

#define SHIC_PEER_HEADER_MAX    4096    //  bytes of a peer header

//  The header of a REQ {ticket, hop, mode, holder, from} and of a REP
//  {ticket, outcome} as a frame, written straight from the fields (no
//  tree: every forward makes one); NULL when out of memory
zframe_t *shic_peer_req_header (int64_t ticket, int64_t hop, const char *mode,
                                const char *holder, const char *from);
zframe_t *shic_peer_rep_header (int64_t ticket, const char *outcome);

//  A peer header, checked: a map of at most SHIC_PEER_HEADER_MAX bytes
//  (depth 2, 16 items), or NULL
shic_val_t *shic_peer_header_read (zframe_t *frame);

//  A DEALER connected to another node's peer door at endpoint: a send
//  never waits (a link that holds 10000 messages refuses), no linger,
//  frames up to max_msg bytes, CURVE with cert and the door's server_key
//  when both are given. *connected says whether the connect was accepted
//  (the socket is returned either way).
zsock_t *shic_peer_link_new (const char *endpoint, zcert_t *cert, const char *server_key,
                             int64_t max_msg, bool *connected);

#endif
