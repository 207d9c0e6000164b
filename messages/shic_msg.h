/*  =========================================================================
    shic_msg - actor messages between our own threads: [command][msgpack map]

    Two frames, optionally behind a routing id on ROUTER sockets. The body
    is a shic_val_t map; the command is a short string.
    =========================================================================
*/

#ifndef SHIC_MSG_H_INCLUDED
#define SHIC_MSG_H_INCLUDED

#include <czmq.h>
#include "shic_val.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Builds a two-frame message; takes ownership of *body_p (NULL = empty map)
zmsg_t *shic_msg_new (const char *command, shic_val_t **body_p);
//  Sends it on sock (zsock_t, zactor_t or a raw socket); returns 0 / -1
int shic_msg_send (void *sock, const char *command, shic_val_t **body_p);
//  Pops [command][body] off msg (which stays owned by the caller). Sets
//  *command_p (fresh) and *body_p (fresh map). Returns 0, or -2 malformed.
int shic_msg_decode (zmsg_t *msg, char **command_p, shic_val_t **body_p);
//  Receives from sock and decodes; returns 0, -1 interrupted or timed out,
//  -2 malformed
int shic_msg_recv (void *sock, char **command_p, shic_val_t **body_p);

void shic_msg_test (bool verbose);

#ifdef __cplusplus
}
#endif

#endif
