/*  =========================================================================
    shic_conns - which client spoke on which connection, to see it go

    ZeroMQ's ROUTER does not tell its owner that a peer went away, but its
    socket monitor says which descriptor disconnected, and every message
    carries the descriptor it came in on (ZMQ_SRCFD). This table joins
    the two: a client key is on the descriptor of its last message. A
    client is gone when its descriptor disconnects, or when another client
    speaks on that descriptor (the kernel reused it: the old connection
    is closed, whatever the monitor has said so far). Inproc peers have no
    descriptor and are never tracked.
    =========================================================================
*/

#ifndef SHIC_CONNS_H_INCLUDED
#define SHIC_CONNS_H_INCLUDED

#include "shic.h"

typedef struct _shic_conns_t shic_conns_t;

shic_conns_t *shic_conns_new (void);
void shic_conns_destroy (shic_conns_t **self_p);

//  The client key last seen on fd, or NULL (borrowed)
const char *shic_conns_on (shic_conns_t *self, int fd);

//  A message from client came in on fd (fd < 0: not tracked). Returns the
//  client that was on fd before and is therefore gone (the caller frees
//  it), or NULL.
char *shic_conns_seen (shic_conns_t *self, int fd, const char *client);

//  fd disconnected. Returns the client that was on it and has not spoken
//  on another connection since (the caller frees it), or NULL.
char *shic_conns_closed (shic_conns_t *self, int fd);

//  Connections tracked now
size_t shic_conns_size (shic_conns_t *self);

void shic_conns_test (bool verbose);

#endif
