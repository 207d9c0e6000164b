/*  =========================================================================
    shic_bus - the internal protocol: every message our actors exchange

    One table in shic_bus.c names every message, says who sends it, who
    receives it, the fields of its body (key, type, required or optional)
    and the pointer frames that follow the body, with who owns each. It
    plays the part of Malamute's mlm_proto.xml, without a code generator:
    encoding and decoding are driven by the table at run time.

    One framing for every message, on pipes and on the bus alike:

        [command][msgpack map body][pointer]*

    behind a routing id on the gateway's ROUTER. Pointer frames are czmq's
    'p' picture (zsock_send "p": one frame holding a void *) and cross only
    pipes, between threads of this process. The one exception is $TERM,
    which czmq's zactor_destroy sends as a bare command frame.

    A message is a shic_bus_t: a plain struct with one member per field of
    the protocol. To send, fill the members the message's row lists (the
    sender keeps what it passed: nothing is taken) and call shic_bus_send.
    To receive, shic_bus_recv decodes into a shic_bus_t for a given
    receiver and checks it against the table; strings and trees then point
    into the decoded body, which the message owns until shic_bus_reset.

    Decoding refuses a message (returns -2 and logs one line naming the
    receiver) when its command is not one the receiver accepts, a required
    field is missing, a field is unknown or of the wrong type, the body is
    not a msgpack map, or the number or size of the frames is wrong.
    =========================================================================
*/

#ifndef SHIC_BUS_H_INCLUDED
#define SHIC_BUS_H_INCLUDED

#include <czmq.h>
#include "shic_val.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Every message of the protocol (one row each in shic_bus.c)
typedef enum {
    SHIC_BUS_NONE = 0,              //  no message (a cleared shic_bus_t)
    //  Lifecycle, on every actor's pipe
    SHIC_BUS_TERM,                  //  $TERM: end now
    SHIC_BUS_STARTUP,               //  an actor's start-up outcome
    SHIC_BUS_REPLY,                 //  the answer to a request on a pipe
    //  The facade asks the supervisor, which relays to the gateway
    SHIC_BUS_REGISTER,
    SHIC_BUS_UNREGISTER,
    SHIC_BUS_HELD,
    SHIC_BUS_BIND_GATEWAY,
    SHIC_BUS_BIND_EVENTS,
    SHIC_BUS_SET_CURVE,
    //  Supervisor and gateway
    SHIC_BUS_BACKEND,
    SHIC_BUS_DRAIN,
    SHIC_BUS_SPAWN,
    //  Backend actor to supervisor
    SHIC_BUS_STATE,
    //  Instance and supervisor
    SHIC_BUS_EXITED,
    SHIC_BUS_RESTART,
    SHIC_BUS_FAIL,
    SHIC_BUS_DONE,
    SHIC_BUS_STOP,
    //  Instance to gateway
    SHIC_BUS_STARTED,
    SHIC_BUS_PROGRESS,
    SHIC_BUS_READY,
    SHIC_BUS_FAILED,
    SHIC_BUS_HEALTH,
    SHIC_BUS_RESTARTING,
    SHIC_BUS_GAVE_UP,
    SHIC_BUS_STOPPED,
    SHIC_BUS_LOGS,
    SHIC_BUS_LOG_LINES,
    //  Gateway, lease pool and lease actors
    SHIC_BUS_GRANT,
    SHIC_BUS_RENEW,
    SHIC_BUS_RELEASE,
    SHIC_BUS_EXPIRED,
    SHIC_BUS_BOUND,
    SHIC_BUS_POOL,
    //  The host (through the facade) and the gateway: ops the host answers
    SHIC_BUS_HOST_CALLS,
    SHIC_BUS_CALL,
    SHIC_BUS_ANSWER,
    //  Gateway and cluster actor (issue 13)
    SHIC_BUS_BIND_PEER,
    SHIC_BUS_HANDOFF,
    SHIC_BUS_LEASED,
    SHIC_BUS_DECIDED,
    SHIC_BUS_LOST,
    SHIC_BUS_ROUTES,
    SHIC_BUS_CLUSTER,
    SHIC_BUS_COUNT                  //  number of ids, not a message
} shic_bus_id_t;

//  Who sends and who receives (bits, so a row can name a relay)
typedef enum {
    SHIC_BUS_ROLE_FACADE     = 1 << 0,  //  shic_runtime_t, in the host's thread
    SHIC_BUS_ROLE_SUPERVISOR = 1 << 1,
    SHIC_BUS_ROLE_GATEWAY    = 1 << 2,
    SHIC_BUS_ROLE_BACKEND    = 1 << 3,
    SHIC_BUS_ROLE_INSTANCE   = 1 << 4,
    SHIC_BUS_ROLE_POOL       = 1 << 5,
    SHIC_BUS_ROLE_LEASE      = 1 << 6,
    SHIC_BUS_ROLE_CLUSTER    = 1 << 7
} shic_bus_role_t;

//  One message. Members a message's row does not list stay zero. After
//  a receive, strings and trees are borrowed from body (take a tree with
//  shic_bus_take); before a send they are the sender's, and stay so.
typedef struct {
    shic_bus_id_t id;               //  which message
    //  Integers
    int64_t rc;                     //  0 or -1; a bound port for BIND-*
    int64_t seq;                    //  instance number, routing id "I<seq>"
    int64_t pid;                    //  service process id, 0 when none
    int64_t uptime_ms;              //  how long the service ran
    int64_t delay_ms;               //  restart backoff
    int64_t restarts;               //  restarts so far
    int64_t retry_after_ms;         //  failed until then
    int64_t ttl_ms;                 //  lease TTL, 0 = untimed
    int64_t expires_at_ms;          //  wall clock lease expiry, 0 = none
    int64_t idle;                   //  idle lease actors
    int64_t actors;                 //  lease actors started
    int64_t ticket;                 //  LOGS: which request LOG_LINES answers
    int64_t max_lines;              //  LOGS: at most this many lines
    int64_t after;                  //  LOGS: lines numbered from this on
    int64_t next;                   //  LOG_LINES: the number of the next line
                                    //  (ticket also pairs a CALL and its ANSWER)
    int64_t via;                    //  HANDOFF: the relay ticket of a request
                                    //  another node forwarded, 0 = none
    //  Strings (optional ones are NULL when absent)
    const char *message;            //  a sentence for a person
    const char *name;               //  backend id
    const char *endpoint;           //  a ZeroMQ endpoint to bind
    const char *cert;               //  CURVE server certificate file
    const char *clients;            //  directory of client certificates
    const char *instance_id;        //  instance id (= instance key)
    const char *backend;            //  backend id of an instance
    const char *health_status;      //  healthy / degraded / unavailable
    const char *lease_ref;          //  lease reference
    const char *actor;              //  routing id "L<n>" of a lease actor
    const char *kind;               //  HANDOFF: ensure, route or fanout
    const char *op;                 //  CALL: the wire op the host answers;
                                    //  HANDOFF: the request's op
    const char *client;             //  HANDOFF: the holder (node/client key)
    const char *key;                //  HANDOFF: the instance key, unprefixed
    const char *node;               //  HANDOFF: route to it; LOST: the node
    const char *action;             //  DECIDED: local, reply, merge, no_room or drop
    //  Trees (maps, or any value where the table says so)
    shic_val_t *manifest;           //  normalized BackendManifest
    shic_val_t *plan;               //  normalized StartupPlan
    shic_val_t *fields;             //  readiness fields for the endpoint
    shic_val_t *error;              //  {code, message, details}
    shic_val_t *details;            //  health details
    shic_val_t *exit;               //  exit map, or nil
    shic_val_t *progress;           //  the backend's progress report
    shic_val_t *lines;              //  LOG_LINES: the service's output lines [str]
    shic_val_t *measured;           //  READY: buffers the service reported
                                    //  {device_bytes, host_bytes}, or NULL
    shic_val_t *calls;              //  HOST-CALLS: the ops the host answers [str]
    shic_val_t *args;               //  CALL: the request's arguments
    shic_val_t *result;             //  ANSWER: the op's result, or NULL
    shic_val_t *request;            //  HANDOFF: the request's body (bin)
    shic_val_t *need;               //  HANDOFF: {bytes, pool?, fit, skip?} of an ensure
    shic_val_t *peer;               //  HANDOFF: {hop, mode, from} of a request
                                    //  another node forwarded
    shic_val_t *reply;              //  DECIDED: a reply body (bin)
    shic_val_t *replies;            //  DECIDED: [{node, reply (bin)}] of a fan-out
    shic_val_t *instances;          //  LOST: the node's instance ids [str]
    shic_val_t *nodes;              //  ROUTES: {node: {peer, curve_key?}}
    shic_val_t *routes;             //  ROUTES: {instance key: node}
    shic_val_t *summary;            //  CLUSTER: the cluster's state, for ping
    //  Pointer frames (see the table for who owns each)
    const void *ops;                //  a backend's ops table
    void *state;                    //  a backend's state
    zconfig_t *config;              //  a backend's configuration section
    //  The decoded body, owned; NULL on a message being sent
    shic_val_t *body;
} shic_bus_t;

//  The command frame of a message, e.g. "READY"
const char *shic_bus_command (shic_bus_id_t id);
//  The role as a word, e.g. "gateway"
const char *shic_bus_role_name (shic_bus_role_t role);

//  Sends self on sock (zsock_t, zactor_t or a libzmq socket). Nothing is
//  taken: what self points to stays the caller's. Returns 0 / -1.
int shic_bus_send (void *sock, const shic_bus_t *self);
//  The same behind a routing id, for the gateway's ROUTER
int shic_bus_send_to (void *sock, const char *routing_id, const shic_bus_t *self);

//  The sockets this thread sent on, for an event loop that waits on their
//  descriptors (ZMQ_FD; the gateway's): a send may process the command
//  that announced a message which came meanwhile, and that socket's
//  descriptor then stays quiet until it is asked for ZMQ_EVENTS.
//  shic_bus_sent records sock (zsock_t, zactor_t or a libzmq socket;
//  every send of the gateway's thread does); shic_bus_sent_take copies the
//  libzmq sockets recorded since the last take into socks (up to max) and
//  forgets them: their count, or SIZE_MAX when there were more (ask all).
#define SHIC_BUS_SENT_MAX 16
void shic_bus_sent (void *sock);
size_t shic_bus_sent_take (void **socks, size_t max);

//  The gateway's thread, after a message of the cluster's hot path left (a
//  forward on a link, a REP to another node, a relayed reply or a release
//  answered at the entry node): shic_bus_yield gives the CPU away once
//  (sched_yield) when the thread's last wait armed it, else does nothing.
//  On a busy machine the I/O thread that carries the message is woken on
//  this CPU and would send it only once this thread's turn is done;
//  yielding sends it first, where the hop is one of several in a chain.
//  The gateway arms it when a wait slept and woke to one socket, a quiet
//  node (under load input is waiting when a turn ends and no wait
//  sleeps); a yield that took long (other threads were running: this
//  thread then waits a whole time slice) turns it off for a while.
void shic_bus_yield_arm (bool armed);
void shic_bus_yield (void);

//  Decodes the frames of msg (routing ids already popped; msg stays the
//  caller's and unchanged) as a message for receiver. Resets self first.
//  Returns 0, or -2 when the table refuses it (logged once, self cleared).
int shic_bus_decode (shic_bus_t *self, zmsg_t *msg, shic_bus_role_t receiver);
//  Receives one message from sock and decodes it. A receive a signal
//  interrupts (EINTR) is retried, so a host's signal handlers (timers,
//  profilers) never make anyone give up on a reply that is coming; the
//  socket's receive timeout still ends the wait. Returns 0, -1 when the
//  receive ended (timeout, context terminated), -2 refused.
int shic_bus_recv (shic_bus_t *self, void *sock, shic_bus_role_t receiver);

//  A request on a pipe: sends request, then waits (up to sock's receive
//  timeout) for the REPLY, which lands in reply (reset it after). Returns
//  the reply's rc, or -1 when none came.
int shic_bus_ask (void *sock, const shic_bus_t *request, shic_bus_role_t asker,
                  shic_bus_t *reply);

//  Waits on an actor's pipe for $TERM, dropping anything else, or until
//  the receive ends
void shic_bus_wait_term (void *pipe, shic_bus_role_t receiver);

//  Hands out a tree of a received message: *field_p is one of self's tree
//  members; it is detached from the body and nulled. Fresh or NULL.
shic_val_t *shic_bus_take (shic_bus_t *self, shic_val_t **field_p);
//  Destroys the decoded body and zeroes self; no-op on a cleared message.
//  Only for received messages: a message being sent owns nothing.
void shic_bus_reset (shic_bus_t *self);

//  The table as a Markdown table (command, from, to, body, pointer frames,
//  purpose), for guides/architecture.md. Fresh string.
char *shic_bus_table (void);

//  Self test
void shic_bus_test (bool verbose);

#ifdef __cplusplus
}
#endif

#endif
