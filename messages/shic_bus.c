/*  =========================================================================
    shic_bus - the internal protocol: every message our actors exchange

    The table below is the protocol. A row per message: its command frame,
    who sends it, who receives it, its body fields and its pointer frames.
    Command strings are unique, so a command names one row; a receiver
    accepts only the rows addressed to its role.

    Choices, and why:
    - One shic_bus_t with a member per field of the whole protocol, read
      and written through the table (offsetof), rather than a struct or a
      send function per message: a send is one designated initializer, a
      receive one call, and nothing but the table has to change with it.
      Encoding streams the members (shic_val_writer), without a tree.
    - A message a relay passes on unchanged is one row naming both hops:
      the supervisor relays UNREGISTER, BIND-* and SET-CURVE to the gateway,
      the pool relays GRANT, RENEW, RELEASE to a lease actor and EXPIRED to
      the gateway. Both hops then carry the same body (the lease actor gets
      lease_ref and ttl_ms too, and ignores ttl_ms), and one decoder checks
      both.
    - Every body is a map whose keys the row declares, so a typo in a key
      is refused where it is made instead of being read as absent; PROGRESS
      therefore carries the backend's free-form report as one field.
    - The start-up outcome after czmq's handshake is one message, STARTUP
      {rc}, instead of the words READY / FAILED (which the instance uses for
      other things); synchronous answers are REPLY {rc, message?}; a
      backend actor's init outcome, which hands out a pointer, is STATE.
    =========================================================================
*/

#include "shic_bus.h"
#include <sched.h>
#include "shic_json.h"

//  Types of a body field, and the pointer frames
typedef enum {
    T_INT = 1,                      //  msgpack int, kept as int64_t
    T_STR,                          //  msgpack str, NUL-terminated copy
    T_MAP,                          //  msgpack map, as a tree
    T_ANY,                          //  any value, nil included, as a tree
    T_PTR                           //  a pointer frame (czmq's 'p')
} s_type_t;

//  Every field of the protocol: its key, type and member of shic_bus_t
typedef enum {
    F_NONE = 0,
    F_RC, F_SEQ, F_PID, F_UPTIME_MS, F_DELAY_MS, F_RESTARTS, F_RETRY_AFTER_MS,
    F_TTL_MS, F_EXPIRES_AT_MS, F_IDLE, F_ACTORS, F_TICKET, F_MAX_LINES, F_AFTER, F_NEXT,
    F_MESSAGE, F_NAME, F_ENDPOINT, F_CERT, F_CLIENTS, F_INSTANCE_ID, F_BACKEND,
    F_HEALTH_STATUS, F_LEASE_REF, F_ACTOR, F_OP,
    F_MANIFEST, F_PLAN, F_FIELDS, F_ERROR, F_DETAILS, F_EXIT, F_PROGRESS, F_MEASURED,
    F_LINES, F_CALLS, F_ARGS, F_RESULT,
    F_KIND, F_CLIENT, F_KEY, F_NODE, F_ACTION, F_VIA,
    F_REQUEST, F_NEED, F_PEER, F_REPLY, F_REPLIES, F_INSTANCES, F_NODES, F_ROUTES, F_SUMMARY,
    F_OPS, F_STATE, F_CONFIG,
    F_COUNT
} s_field_id_t;

typedef struct {
    const char *key;                //  the body key (the member's name)
    s_type_t type;                  //  what the value must be
    size_t offset;                  //  the member in shic_bus_t
} s_field_t;

#define FIELD(member, type) { #member, type, offsetof (shic_bus_t, member) }

static const s_field_t s_fields [F_COUNT] = {
    [F_RC]              = FIELD (rc, T_INT),
    [F_SEQ]             = FIELD (seq, T_INT),
    [F_PID]             = FIELD (pid, T_INT),
    [F_UPTIME_MS]       = FIELD (uptime_ms, T_INT),
    [F_DELAY_MS]        = FIELD (delay_ms, T_INT),
    [F_RESTARTS]        = FIELD (restarts, T_INT),
    [F_RETRY_AFTER_MS]  = FIELD (retry_after_ms, T_INT),
    [F_TTL_MS]          = FIELD (ttl_ms, T_INT),
    [F_EXPIRES_AT_MS]   = FIELD (expires_at_ms, T_INT),
    [F_IDLE]            = FIELD (idle, T_INT),
    [F_ACTORS]          = FIELD (actors, T_INT),
    [F_TICKET]          = FIELD (ticket, T_INT),
    [F_MAX_LINES]       = FIELD (max_lines, T_INT),
    [F_AFTER]           = FIELD (after, T_INT),
    [F_NEXT]            = FIELD (next, T_INT),
    [F_MESSAGE]         = FIELD (message, T_STR),
    [F_NAME]            = FIELD (name, T_STR),
    [F_ENDPOINT]        = FIELD (endpoint, T_STR),
    [F_CERT]            = FIELD (cert, T_STR),
    [F_CLIENTS]         = FIELD (clients, T_STR),
    [F_INSTANCE_ID]     = FIELD (instance_id, T_STR),
    [F_BACKEND]         = FIELD (backend, T_STR),
    [F_HEALTH_STATUS]   = FIELD (health_status, T_STR),
    [F_LEASE_REF]       = FIELD (lease_ref, T_STR),
    [F_ACTOR]           = FIELD (actor, T_STR),
    [F_OP]              = FIELD (op, T_STR),
    [F_MANIFEST]        = FIELD (manifest, T_MAP),
    [F_PLAN]            = FIELD (plan, T_MAP),
    [F_FIELDS]          = FIELD (fields, T_MAP),
    [F_ERROR]           = FIELD (error, T_MAP),
    [F_DETAILS]         = FIELD (details, T_ANY),
    [F_EXIT]            = FIELD (exit, T_ANY),
    [F_PROGRESS]        = FIELD (progress, T_MAP),
    [F_MEASURED]        = FIELD (measured, T_MAP),
    [F_LINES]           = FIELD (lines, T_ANY),
    [F_CALLS]           = FIELD (calls, T_ANY),
    [F_ARGS]            = FIELD (args, T_MAP),
    [F_RESULT]          = FIELD (result, T_MAP),
    [F_KIND]            = FIELD (kind, T_STR),
    [F_CLIENT]          = FIELD (client, T_STR),
    [F_KEY]             = FIELD (key, T_STR),
    [F_NODE]            = FIELD (node, T_STR),
    [F_ACTION]          = FIELD (action, T_STR),
    [F_VIA]             = FIELD (via, T_INT),
    [F_REQUEST]         = FIELD (request, T_ANY),
    [F_NEED]            = FIELD (need, T_MAP),
    [F_PEER]            = FIELD (peer, T_MAP),
    [F_REPLY]           = FIELD (reply, T_ANY),
    [F_REPLIES]         = FIELD (replies, T_ANY),
    [F_INSTANCES]       = FIELD (instances, T_ANY),
    [F_NODES]           = FIELD (nodes, T_MAP),
    [F_ROUTES]          = FIELD (routes, T_MAP),
    [F_SUMMARY]         = FIELD (summary, T_MAP),
    [F_OPS]             = FIELD (ops, T_PTR),
    [F_STATE]           = FIELD (state, T_PTR),
    [F_CONFIG]          = FIELD (config, T_PTR)
};

#define OPTIONAL        0x100       //  or'ed into a row's field: may be absent
#define MAX_FIELDS      10          //  body fields of one row
#define MAX_POINTERS    3           //  pointer frames of one row

typedef struct {
    s_field_id_t field;             //  F_OPS, F_STATE or F_CONFIG
    const char *owner;              //  who owns what it points to
} s_pointer_t;

typedef struct {
    const char *command;            //  the command frame
    int from;                       //  SHIC_BUS_ROLE_* bits: who sends
    int to;                         //  SHIC_BUS_ROLE_* bits: who receives
    bool bare;                      //  a command frame alone ($TERM)
    int fields [MAX_FIELDS];        //  body fields, F_* | OPTIONAL; 0 ends
    s_pointer_t pointers [MAX_POINTERS]; //  pointer frames, in order
    const char *purpose;            //  one line for the guide
} s_row_t;

#define FACADE      SHIC_BUS_ROLE_FACADE
#define SUPERVISOR  SHIC_BUS_ROLE_SUPERVISOR
#define GATEWAY     SHIC_BUS_ROLE_GATEWAY
#define BACKEND     SHIC_BUS_ROLE_BACKEND
#define INSTANCE    SHIC_BUS_ROLE_INSTANCE
#define POOL        SHIC_BUS_ROLE_POOL
#define LEASE       SHIC_BUS_ROLE_LEASE
#define CLUSTER     SHIC_BUS_ROLE_CLUSTER

#define HOST_OPS    { F_OPS, "the host's; lives until the backend is unregistered" }
#define HOST_CONFIG { F_CONFIG, "the host's, may be NULL; lives as long as the ops" }

static const s_row_t s_rows [SHIC_BUS_COUNT] = {
    [SHIC_BUS_TERM] = { "$TERM",
        FACADE | SUPERVISOR | POOL,
        SUPERVISOR | GATEWAY | BACKEND | INSTANCE | POOL | LEASE | CLUSTER, .bare = true,
        .purpose = "end now (czmq's zactor_destroy sends it, a bare frame)" },
    [SHIC_BUS_STARTUP] = { "STARTUP", SUPERVISOR | GATEWAY | CLUSTER, FACADE | SUPERVISOR,
        .fields = { F_RC },
        .purpose = "the start-up after the handshake: rc 0 ready, -1 failed" },
    [SHIC_BUS_REPLY] = { "REPLY", SUPERVISOR | GATEWAY, FACADE | SUPERVISOR,
        .fields = { F_RC, F_MESSAGE | OPTIONAL },
        .purpose = "answers a request on a pipe, or HOST-CALLS on the bus (the rows that say REPLY)" },
    [SHIC_BUS_REGISTER] = { "REGISTER", FACADE, SUPERVISOR,
        .fields = { F_NAME },
        .pointers = { HOST_OPS, HOST_CONFIG },
        .purpose = "start a backend actor for ops under name, then tell the gateway; REPLY {rc, message}" },
    [SHIC_BUS_UNREGISTER] = { "UNREGISTER", FACADE | SUPERVISOR, SUPERVISOR | GATEWAY,
        .fields = { F_NAME },
        .purpose = "forget a backend, stop its instances (relayed); REPLY {rc}" },
    [SHIC_BUS_HELD] = { "HELD", FACADE, SUPERVISOR,
        .pointers = { { F_CONFIG, "the host's; compared, never read" } },
        .purpose = "does a backend registered with config still run (registered, or its instances still ending)? REPLY {rc: 1 yes, 0 no}" },
    [SHIC_BUS_BIND_GATEWAY] = { "BIND-GATEWAY", FACADE | SUPERVISOR, SUPERVISOR | GATEWAY,
        .fields = { F_ENDPOINT },
        .purpose = "bind the public ROUTER (relayed); REPLY {rc: port, 0 or -1}" },
    [SHIC_BUS_BIND_EVENTS] = { "BIND-EVENTS", FACADE | SUPERVISOR, SUPERVISOR | GATEWAY,
        .fields = { F_ENDPOINT },
        .purpose = "bind the events PUB (relayed); REPLY {rc: port, 0 or -1}" },
    [SHIC_BUS_SET_CURVE] = { "SET-CURVE", FACADE | SUPERVISOR, SUPERVISOR | GATEWAY,
        .fields = { F_CERT, F_CLIENTS },
        .purpose = "require CURVE on the public ROUTER (relayed); REPLY {rc}" },
    [SHIC_BUS_BACKEND] = { "BACKEND", SUPERVISOR, GATEWAY,
        .fields = { F_MANIFEST },
        .pointers = { HOST_OPS,
                      { F_STATE, "the backend actor's; destroyed after its $TERM" },
                      HOST_CONFIG },
        .purpose = "a backend is registered, manifest checked; REPLY {rc}" },
    [SHIC_BUS_DRAIN] = { "DRAIN", SUPERVISOR, GATEWAY,
        .purpose = "shutting down: refuse new requests, answer waiters" },
    [SHIC_BUS_SPAWN] = { "SPAWN", GATEWAY, SUPERVISOR,
        .fields = { F_SEQ, F_INSTANCE_ID, F_BACKEND, F_PLAN },
        .purpose = "start instance actor `I<seq>` for a normalized plan" },
    [SHIC_BUS_STATE] = { "STATE", BACKEND, SUPERVISOR,
        .fields = { F_RC, F_MESSAGE | OPTIONAL },
        .pointers = { { F_STATE, "the backend actor's; shared until its $TERM" } },
        .purpose = "the outcome of ops->init and the backend's state, once" },
    [SHIC_BUS_EXITED] = { "EXITED", INSTANCE, SUPERVISOR,
        .fields = { F_UPTIME_MS },
        .purpose = "the service exited unexpectedly: restart it?" },
    [SHIC_BUS_RESTART] = { "RESTART", SUPERVISOR, INSTANCE,
        .fields = { F_DELAY_MS, F_RESTARTS },
        .purpose = "yes: start it again after delay_ms" },
    [SHIC_BUS_FAIL] = { "FAIL", SUPERVISOR, INSTANCE,
        .fields = { F_RETRY_AFTER_MS, F_RESTARTS },
        .purpose = "no: past the restart intensity; failed for retry_after_ms" },
    [SHIC_BUS_DONE] = { "DONE", INSTANCE, SUPERVISOR,
        .purpose = "the instance has finished; join it" },
    [SHIC_BUS_STOP] = { "STOP", SUPERVISOR | GATEWAY, INSTANCE,
        .purpose = "stop the service (pipe at shutdown, bus otherwise)" },
    [SHIC_BUS_STARTED] = { "STARTED", INSTANCE, GATEWAY,
        .fields = { F_PID },
        .purpose = "the service process is running" },
    [SHIC_BUS_PROGRESS] = { "PROGRESS", INSTANCE, GATEWAY,
        .fields = { F_PROGRESS },
        .purpose = "the backend's progress report (event instance.progress)" },
    [SHIC_BUS_READY] = { "READY", INSTANCE, GATEWAY,
        .fields = { F_FIELDS, F_PID, F_MEASURED | OPTIONAL },
        .purpose = "ready; fields build the endpoint" },
    [SHIC_BUS_FAILED] = { "FAILED", INSTANCE, GATEWAY,
        .fields = { F_ERROR },
        .purpose = "start failure before the first ready" },
    [SHIC_BUS_HEALTH] = { "HEALTH", INSTANCE, GATEWAY,
        .fields = { F_HEALTH_STATUS, F_DETAILS | OPTIONAL },
        .purpose = "health changed" },
    [SHIC_BUS_RESTARTING] = { "RESTARTING", INSTANCE, GATEWAY,
        .fields = { F_EXIT, F_DELAY_MS, F_RESTARTS },
        .purpose = "crashed after ready; restarting after delay_ms" },
    [SHIC_BUS_GAVE_UP] = { "GAVE_UP", INSTANCE, GATEWAY,
        .fields = { F_EXIT, F_RESTARTS, F_RETRY_AFTER_MS },
        .purpose = "crashed too often; failed for retry_after_ms" },
    [SHIC_BUS_STOPPED] = { "STOPPED", INSTANCE, GATEWAY,
        .fields = { F_EXIT },
        .purpose = "stopped on request (exit is nil when it never ran)" },
    [SHIC_BUS_LOGS] = { "LOGS", GATEWAY, INSTANCE,
        .fields = { F_TICKET, F_MAX_LINES, F_AFTER },
        .purpose = "the service's last output lines, numbered from after on (op instance_logs)" },
    [SHIC_BUS_LOG_LINES] = { "LOG_LINES", INSTANCE, GATEWAY,
        .fields = { F_TICKET, F_LINES, F_NEXT },
        .purpose = "answers LOGS: at most max_lines lines [str]; next numbers the next line" },
    [SHIC_BUS_GRANT] = { "GRANT", GATEWAY | POOL, POOL | LEASE,
        .fields = { F_LEASE_REF, F_TTL_MS, F_EXPIRES_AT_MS },
        .purpose = "a lease needs an actor (ttl 0: reserved, not woken); relayed to arm its timer" },
    [SHIC_BUS_RENEW] = { "RENEW", GATEWAY | POOL, POOL | LEASE,
        .fields = { F_LEASE_REF, F_TTL_MS, F_EXPIRES_AT_MS },
        .purpose = "the lease's new expiry (relayed to its actor)" },
    [SHIC_BUS_RELEASE] = { "RELEASE", GATEWAY | POOL, POOL | LEASE,
        .fields = { F_LEASE_REF },
        .purpose = "the lease ended; its actor goes back to idle (relayed)" },
    [SHIC_BUS_EXPIRED] = { "EXPIRED", LEASE | POOL, POOL | GATEWAY,
        .fields = { F_LEASE_REF, F_EXPIRES_AT_MS },
        .purpose = "the lease's timer fired (relayed); it stays held until RELEASE or RENEW" },
    [SHIC_BUS_BOUND] = { "BOUND", POOL, GATEWAY,
        .fields = { F_LEASE_REF, F_ACTOR },
        .purpose = "lease actor `L<n>` now holds the lease" },
    [SHIC_BUS_POOL] = { "POOL", POOL, GATEWAY,
        .fields = { F_IDLE, F_ACTORS, F_RC | OPTIONAL },
        .purpose = "the pool's counts, for stats; rc -1: it cannot start more actors (descriptors)" },
    [SHIC_BUS_HOST_CALLS] = { "HOST-CALLS", FACADE, GATEWAY,
        .fields = { F_CALLS },
        .purpose = "on the bus as `H`: the host answers these ops [str] itself (`reload`); REPLY {rc}" },
    [SHIC_BUS_CALL] = { "CALL", GATEWAY, FACADE,
        .fields = { F_TICKET, F_OP, F_ARGS },
        .purpose = "a trusted client asked for a host op; its request waits for the ANSWER of its ticket" },
    [SHIC_BUS_ANSWER] = { "ANSWER", FACADE, GATEWAY,
        .fields = { F_TICKET, F_RESULT | OPTIONAL, F_ERROR | OPTIONAL },
        .purpose = "the host's answer to a CALL: result, or error {code, message, details}" },
    [SHIC_BUS_BIND_PEER] = { "BIND-PEER", SUPERVISOR, GATEWAY,
        .fields = { F_ENDPOINT },
        .purpose = "bind the peer door (the ROUTER other nodes forward to); REPLY {rc: port or -1}" },
    [SHIC_BUS_HANDOFF] = { "HANDOFF", GATEWAY, CLUSTER,
        .fields = { F_TICKET, F_KIND, F_OP, F_CLIENT, F_REQUEST, F_KEY | OPTIONAL, F_VIA,
                    F_NEED | OPTIONAL, F_PEER | OPTIONAL },
        .purpose = "what the gateway cannot answer alone: an ensure with no instance here and no known route, a cluster list; DECIDED answers" },
    [SHIC_BUS_LEASED] = { "LEASED", GATEWAY, CLUSTER,
        .fields = { F_INSTANCE_ID, F_RC },
        .purpose = "an instance's leases went from none to some (rc 1) or back (rc 0): its record says leased or idle" },
    [SHIC_BUS_DECIDED] = { "DECIDED", CLUSTER, GATEWAY,
        .fields = { F_TICKET, F_ACTION, F_REPLY | OPTIONAL, F_REPLIES | OPTIONAL },
        .purpose = "local: serve it here (the claim is ours); reply: send this body; merge: the other nodes' replies; no_room: tell the forwarding node; drop" },
    [SHIC_BUS_LOST] = { "LOST", CLUSTER, GATEWAY,
        .fields = { F_NODE, F_INSTANCES },
        .purpose = "a node's records vanished: publish instance.lost, end what is out at it (lease.released node_lost)" },
    [SHIC_BUS_ROUTES] = { "ROUTES", CLUSTER, GATEWAY,
        .fields = { F_NODES, F_ROUTES },
        .purpose = "the live nodes' peer doors and the models ready on them: warm forwards and refs go straight there" },
    [SHIC_BUS_CLUSTER] = { "CLUSTER", CLUSTER, GATEWAY,
        .fields = { F_SUMMARY },
        .purpose = "the cluster's state {node, state, nodes, etcd}, answered by ping" }
};

static const char *s_role_names [] = {
    "facade", "supervisor", "gateway", "backend", "instance", "pool", "lease", "cluster"
};

#define ROLES (sizeof (s_role_names) / sizeof (s_role_names [0]))

static const char *s_type_names [] = { "", "int", "str", "map", "any", "ptr" };

//  A member of a message, by field
#define MEMBER(self, field, type) (*(type *) ((char *) (self) + s_fields [field].offset))

const char *
shic_bus_command (shic_bus_id_t id)
{
    return id > SHIC_BUS_NONE && id < SHIC_BUS_COUNT? s_rows [id].command: NULL;
}

const char *
shic_bus_role_name (shic_bus_role_t role)
{
    for (size_t index = 0; index < ROLES; index++)
        if ((int) role == (1 << index))
            return s_role_names [index];
    return "?";
}

static size_t
s_pointer_count (const s_row_t *row)
{
    size_t count = 0;
    while (count < MAX_POINTERS && row->pointers [count].field)
        count++;
    return count;
}


//  ---------------------------------------------------------------------------
//  Encoding

//  A present field: ints always are; strings and trees when not NULL
static bool
s_present (const shic_bus_t *self, int field)
{
    s_field_id_t id = (s_field_id_t) (field & ~OPTIONAL);
    switch (s_fields [id].type) {
        case T_INT: return true;
        case T_STR: return MEMBER (self, id, const char *) != NULL;
        default:    return MEMBER (self, id, shic_val_t *) != NULL;
    }
}

//  The body as msgpack, written straight from the members (no tree).
//  Returns 0 with fresh bytes, or -1 on out-of-memory.
static int
s_encode (const s_row_t *row, const shic_bus_t *self, void **data_p, size_t *size_p)
{
    shic_val_writer_t *writer = shic_val_writer_new ();
    if (!writer)
        return -1;
    size_t pairs = 0;
    for (const int *field = row->fields; *field; field++) {
        //  A required string or map is the sender's promise; nil is an ANY
        assert (s_present (self, *field) || (*field & OPTIONAL)
                || s_fields [*field & ~OPTIONAL].type == T_ANY);
        if (s_present (self, *field) || !(*field & OPTIONAL))
            pairs++;
    }
    shic_val_writer_map (writer, pairs);
    for (const int *field = row->fields; *field; field++) {
        if (!s_present (self, *field) && (*field & OPTIONAL))
            continue;
        s_field_id_t id = (s_field_id_t) (*field & ~OPTIONAL);
        shic_val_writer_str (writer, s_fields [id].key);
        if (s_fields [id].type == T_INT)
            shic_val_writer_int (writer, MEMBER (self, id, int64_t));
        else
        if (s_fields [id].type == T_STR)
            shic_val_writer_str (writer, MEMBER (self, id, const char *));
        else
            shic_val_writer_val (writer, MEMBER (self, id, shic_val_t *));
    }
    return shic_val_writer_take (&writer, data_p, size_p);
}

//  Pictures for zsock_send: the command, the body, then 'p' per pointer
static const char *s_pictures [MAX_POINTERS + 1] = { "sb", "sbp", "sbpp", "sbppp" };
static const char *s_routed_pictures [MAX_POINTERS + 1] = { "ssb", "ssbp", "ssbpp", "ssbppp" };

//  The sockets this thread sent on since its last take (a count beyond
//  the array: more than it holds)
static _Thread_local void *s_sent [SHIC_BUS_SENT_MAX];
static _Thread_local size_t s_sent_count;
static _Thread_local bool s_yield_armed;    //  shic_bus_yield gives the CPU away
static _Thread_local int64_t s_yield_off_until;     //  monotonic ms: no yield before
#define SHIC_BUS_YIELD_LONG_US  250     //  a yield that took longer: a busy CPU
#define SHIC_BUS_YIELD_OFF_MS   50      //  ... then none for this long

void
shic_bus_sent (void *sock)
{
    void *handle = zsock_resolve (sock);
    if (s_sent_count > SHIC_BUS_SENT_MAX)
        return;
    for (size_t index = 0; index < s_sent_count; index++)
        if (s_sent [index] == handle)
            return;
    if (s_sent_count < SHIC_BUS_SENT_MAX)
        s_sent [s_sent_count] = handle;
    s_sent_count++;
}

size_t
shic_bus_sent_take (void **socks, size_t max)
{
    size_t count = s_sent_count;
    s_sent_count = 0;
    if (count > max || count > SHIC_BUS_SENT_MAX)
        return SIZE_MAX;
    memcpy (socks, s_sent, count * sizeof (void *));
    return count;
}

void
shic_bus_yield_arm (bool armed)
{
    s_yield_armed = armed && zclock_mono () >= s_yield_off_until;
}

void
shic_bus_yield (void)
{
    if (s_yield_armed) {
        s_yield_armed = false;
        int64_t started = zclock_usecs ();
        sched_yield ();
        //  Others were running here, not only the I/O thread: a busy CPU,
        //  where yielding stalls this thread (for a whole time slice)
        if (zclock_usecs () - started > SHIC_BUS_YIELD_LONG_US)
            s_yield_off_until = zclock_mono () + SHIC_BUS_YIELD_OFF_MS;
    }
}

static int
s_send (void *sock, const char *routing_id, const shic_bus_t *self)
{
    assert (sock);
    shic_bus_sent (sock);
    assert (self->id > SHIC_BUS_NONE && self->id < SHIC_BUS_COUNT);
    const s_row_t *row = &s_rows [self->id];
    if (row->bare)
        return routing_id? zsock_send (sock, "ss", routing_id, row->command)
                         : zsock_send (sock, "s", row->command);
    void *data = NULL;
    size_t size = 0;
    if (s_encode (row, self, &data, &size))
        return -1;
    void *pointers [MAX_POINTERS] = { NULL };
    size_t count = s_pointer_count (row);
    for (size_t index = 0; index < count; index++)
        memcpy (&pointers [index], (const char *) self + s_fields [row->pointers [index].field].offset,
                sizeof (void *));
    int rc = routing_id
        ? zsock_send (sock, s_routed_pictures [count], routing_id, row->command, data, size,
                      pointers [0], pointers [1], pointers [2])
        : zsock_send (sock, s_pictures [count], row->command, data, size,
                      pointers [0], pointers [1], pointers [2]);
    free (data);
    return rc;
}

int
shic_bus_send (void *sock, const shic_bus_t *self)
{
    return s_send (sock, NULL, self);
}

int
shic_bus_send_to (void *sock, const char *routing_id, const shic_bus_t *self)
{
    assert (routing_id);
    return s_send (sock, routing_id, self);
}


//  ---------------------------------------------------------------------------
//  Decoding

//  The row a receiver accepts for this command frame, or NULL
static const s_row_t *
s_row_find (zframe_t *frame, shic_bus_role_t receiver, shic_bus_id_t *id_p)
{
    size_t size = zframe_size (frame);
    for (int id = SHIC_BUS_NONE + 1; id < SHIC_BUS_COUNT; id++) {
        const s_row_t *row = &s_rows [id];
        if ((row->to & receiver) && strlen (row->command) == size
        &&  memcmp (row->command, zframe_data (frame), size) == 0) {
            *id_p = (shic_bus_id_t) id;
            return row;
        }
    }
    return NULL;
}

//  Reads the body's pairs into the members; NULL, or why it is refused
//  (written into reason)
static const char *
s_read_fields (const s_row_t *row, shic_bus_t *self, char *reason, size_t size)
{
    unsigned seen = 0;
    for (size_t pair = 0; pair < shic_val_size (self->body); pair++) {
        const char *key = shic_val_key_at (self->body, pair);
        shic_val_t *value = shic_val_at (self->body, pair);
        int slot = 0;
        while (row->fields [slot] && !streq (s_fields [row->fields [slot] & ~OPTIONAL].key, key))
            slot++;
        if (!row->fields [slot]) {
            snprintf (reason, size, "unknown field '%.32s'", key);
            return reason;
        }
        seen |= 1u << slot;         //  shic_val_decode refuses a key twice
        s_field_id_t id = (s_field_id_t) (row->fields [slot] & ~OPTIONAL);
        shic_val_type_t type = shic_val_type (value);
        if ((s_fields [id].type == T_INT && type != SHIC_VAL_INT)
        ||  (s_fields [id].type == T_STR && type != SHIC_VAL_STR)
        ||  (s_fields [id].type == T_MAP && type != SHIC_VAL_MAP)) {
            snprintf (reason, size, "field '%s' must be %s, not %s", key,
                      s_type_names [s_fields [id].type], shic_val_type_name (value));
            return reason;
        }
        if (s_fields [id].type == T_INT)
            MEMBER (self, id, int64_t) = shic_val_int (value);
        else
        if (s_fields [id].type == T_STR)
            MEMBER (self, id, const char *) = shic_val_str (value);
        else
            MEMBER (self, id, shic_val_t *) = value;
    }
    for (int slot = 0; row->fields [slot]; slot++)
        if (!(seen & (1u << slot)) && !(row->fields [slot] & OPTIONAL)) {
            snprintf (reason, size, "field '%s' is missing", s_fields [row->fields [slot]].key);
            return reason;
        }
    return NULL;
}

//  Logs a refused message once, naming the receiver and the command
static void
s_refuse (zframe_t *command, shic_bus_role_t receiver, const char *reason)
{
    char name [33] = "?";
    size_t size = command? zframe_size (command): 0;
    if (size > 0 && size < sizeof (name)) {
        memcpy (name, zframe_data (command), size);
        name [size] = 0;
        for (size_t index = 0; index < size; index++)
            if (name [index] < 0x20 || name [index] > 0x7e)
                name [index] = '?';
    }
    zsys_warning ("bus: %s refused '%s': %s", shic_bus_role_name (receiver), name, reason);
}

int
shic_bus_decode (shic_bus_t *self, zmsg_t *msg, shic_bus_role_t receiver)
{
    assert (self);
    shic_bus_reset (self);
    char buffer [96];
    const char *reason = NULL;
    shic_bus_id_t id = SHIC_BUS_NONE;
    zframe_t *command = msg? zmsg_first (msg): NULL;
    const s_row_t *row = command? s_row_find (command, receiver, &id): NULL;
    if (!row)
        reason = "not a command it accepts";
    else
    if (zmsg_size (msg) != (row->bare? 1: 2 + s_pointer_count (row)))
        reason = "wrong number of frames";
    else
    if (!row->bare) {
        zframe_t *body = zmsg_next (msg);
        const char *error = NULL;
        if (shic_val_decode (zframe_data (body), zframe_size (body), NULL, &self->body, &error))
            reason = error? error: "the body is not msgpack";
        else
        if (!shic_val_is (self->body, SHIC_VAL_MAP))
            reason = "the body is not a map";
        else
            reason = s_read_fields (row, self, buffer, sizeof (buffer));
        for (size_t index = 0; !reason && index < s_pointer_count (row); index++) {
            zframe_t *frame = zmsg_next (msg);
            //  As zsock_recv reads a 'p'
            if (zframe_size (frame) != sizeof (void *))
                reason = "a pointer frame of the wrong size";
            else
                memcpy ((char *) self + s_fields [row->pointers [index].field].offset,
                        zframe_data (frame), sizeof (void *));
        }
    }
    if (reason) {
        s_refuse (command, receiver, reason);
        shic_bus_reset (self);
        return -2;
    }
    self->id = id;
    return 0;
}

int
shic_bus_recv (shic_bus_t *self, void *sock, shic_bus_role_t receiver)
{
    assert (self);
    shic_bus_reset (self);
    zmsg_t *msg;
    while (!(msg = zmsg_recv (sock)) && errno == EINTR)
        ;
    if (!msg)
        return -1;
    int rc = shic_bus_decode (self, msg, receiver);
    zmsg_destroy (&msg);
    return rc;
}

int
shic_bus_ask (void *sock, const shic_bus_t *request, shic_bus_role_t asker, shic_bus_t *reply)
{
    assert (reply);
    if (shic_bus_send (sock, request) == 0
    &&  shic_bus_recv (reply, sock, asker) == 0
    &&  reply->id == SHIC_BUS_REPLY)
        return (int) reply->rc;
    shic_bus_reset (reply);
    return -1;
}

void
shic_bus_wait_term (void *pipe, shic_bus_role_t receiver)
{
    shic_bus_t msg = { 0 };
    while (shic_bus_recv (&msg, pipe, receiver) != -1 && msg.id != SHIC_BUS_TERM)
        shic_bus_reset (&msg);
    shic_bus_reset (&msg);
}

shic_val_t *
shic_bus_take (shic_bus_t *self, shic_val_t **field_p)
{
    assert (self);
    assert (field_p);
    shic_val_t *value = *field_p;
    *field_p = NULL;
    if (!value)
        return NULL;
    for (size_t pair = 0; pair < shic_val_size (self->body); pair++)
        if (shic_val_at (self->body, pair) == value)
            return shic_val_take (self->body, shic_val_key_at (self->body, pair));
    assert (false);                 //  not a tree of this message
    return NULL;
}

void
shic_bus_reset (shic_bus_t *self)
{
    assert (self);
    shic_val_destroy (&self->body);
    memset (self, 0, sizeof (*self));
}


//  ---------------------------------------------------------------------------
//  The table for the guide

static void
s_append (char **text_p, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *more = zsys_vprintf (format, args);
    va_end (args);
    assert (more);
    char *text = zsys_sprintf ("%s%s", *text_p, more);
    assert (text);
    free (more);
    free (*text_p);
    *text_p = text;
}

static void
s_append_roles (char **text_p, int roles)
{
    const char *separator = "";
    for (size_t index = 0; index < ROLES; index++)
        if (roles & (1 << index)) {
            s_append (text_p, "%s%s", separator, s_role_names [index]);
            separator = ", ";
        }
}

char *
shic_bus_table (void)
{
    char *text = strdup (
        "| Command | From | To | Body | Pointer frames (owner) | What it says |\n"
        "|---|---|---|---|---|---|\n");
    assert (text);
    for (int id = SHIC_BUS_NONE + 1; id < SHIC_BUS_COUNT; id++) {
        const s_row_t *row = &s_rows [id];
        s_append (&text, "| `%s` | ", row->command);
        s_append_roles (&text, row->from);
        s_append (&text, " | ");
        s_append_roles (&text, row->to);
        s_append (&text, " | %s", row->bare? "none": "{");
        for (int slot = 0; row->fields [slot]; slot++) {
            const s_field_t *field = &s_fields [row->fields [slot] & ~OPTIONAL];
            s_append (&text, "%s%s%s: %s", slot? ", ": "", field->key,
                      (row->fields [slot] & OPTIONAL)? "?": "", s_type_names [field->type]);
        }
        s_append (&text, "%s | %s", row->bare? "": "}", s_pointer_count (row)? "": "none");
        for (size_t index = 0; index < s_pointer_count (row); index++)
            s_append (&text, "%s%s (%s)", index? "; ": "",
                      s_fields [row->pointers [index].field].key, row->pointers [index].owner);
        s_append (&text, " | %s |\n", row->purpose);
    }
    return text;
}


//  ---------------------------------------------------------------------------
//  Self test

//  A message with every field of its row set to a value of its own
static void
s_sample (shic_bus_t *self, shic_bus_id_t id, bool optional, shic_val_t **trees)
{
    memset (self, 0, sizeof (*self));
    self->id = id;
    for (const int *field = s_rows [id].fields; *field; field++) {
        if ((*field & OPTIONAL) && !optional)
            continue;
        s_field_id_t fid = (s_field_id_t) (*field & ~OPTIONAL);
        if (s_fields [fid].type == T_INT)
            MEMBER (self, fid, int64_t) = ((int64_t) 1 << 40) + 1000 * id + fid;
        else
        if (s_fields [fid].type == T_STR)
            MEMBER (self, fid, const char *) = s_fields [fid].key;
        else {
            trees [fid] = shic_val_new_map ();
            shic_val_set_str (trees [fid], "key", s_fields [fid].key);
            MEMBER (self, fid, shic_val_t *) = trees [fid];
        }
    }
    for (size_t index = 0; index < s_pointer_count (&s_rows [id]); index++) {
        const void *pointer = &s_rows [id].pointers [index];
        memcpy ((char *) self + s_fields [s_rows [id].pointers [index].field].offset,
                &pointer, sizeof (void *));
    }
}

//  Checks that copy holds what sample held, field by field
static void
s_assert_same (const shic_bus_t *sample, const shic_bus_t *copy)
{
    assert (copy->id == sample->id);
    for (int fid = F_NONE + 1; fid < F_COUNT; fid++) {
        if (s_fields [fid].type == T_INT)
            assert (MEMBER (copy, fid, int64_t) == MEMBER (sample, fid, int64_t));
        else
        if (s_fields [fid].type == T_STR) {
            const char *want = MEMBER (sample, fid, const char *);
            const char *got = MEMBER (copy, fid, const char *);
            assert (want? got && streq (want, got): got == NULL);
        }
        else
        if (s_fields [fid].type == T_PTR)
            assert (memcmp ((const char *) copy + s_fields [fid].offset,
                            (const char *) sample + s_fields [fid].offset, sizeof (void *)) == 0);
        else {
            shic_val_t *want = MEMBER (sample, fid, shic_val_t *);
            shic_val_t *got = MEMBER (copy, fid, shic_val_t *);
            assert (want? shic_val_equal (want, got): got == NULL);
        }
    }
}

//  Sends frames as given (NULL ends) and expects the receiver to refuse
static void
s_assert_refused (zsock_t *writer, zsock_t *reader, shic_bus_role_t receiver,
                  const char *command, const shic_val_t *body, size_t pointers)
{
    zmsg_t *msg = zmsg_new ();
    if (command)
        zmsg_addstr (msg, command);
    if (body) {
        void *data;
        size_t size;
        int rc = shic_val_encode (body, &data, &size);
        assert (rc == 0);
        zmsg_addmem (msg, data, size);
        free (data);
    }
    for (size_t index = 0; index < pointers; index++)
        zmsg_addmem (msg, &msg, sizeof (void *));
    int rc = zmsg_send (&msg, writer);
    assert (rc == 0);
    shic_bus_t bus = { 0 };
    rc = shic_bus_recv (&bus, reader, receiver);
    assert (rc == -2);
    assert (bus.id == SHIC_BUS_NONE && bus.body == NULL);
}

void
shic_bus_test (bool verbose)
{
    printf (" * shic_bus: ");
    if (verbose)
        printf ("\n");

    //  The table: unique commands, sane rows
    for (int id = SHIC_BUS_NONE + 1; id < SHIC_BUS_COUNT; id++) {
        const s_row_t *row = &s_rows [id];
        assert (row->command && row->from && row->to && row->purpose);
        assert (!(row->from & ~((1 << ROLES) - 1)) && !(row->to & ~((1 << ROLES) - 1)));
        for (int other = id + 1; other < SHIC_BUS_COUNT; other++)
            assert (!streq (row->command, s_rows [other].command));
        for (int slot = 0; row->fields [slot]; slot++) {
            int fid = row->fields [slot] & ~OPTIONAL;
            assert (fid > F_NONE && fid < F_COUNT && s_fields [fid].type != T_PTR);
        }
        for (size_t index = 0; index < s_pointer_count (row); index++)
            assert (s_fields [row->pointers [index].field].type == T_PTR
                    && row->pointers [index].owner);
        assert (!row->bare || (!row->fields [0] && !row->pointers [0].field));
        assert (streq (shic_bus_command ((shic_bus_id_t) id), row->command));
    }
    for (int fid = F_NONE + 1; fid < F_COUNT; fid++)
        assert (s_fields [fid].key);
    assert (shic_bus_command (SHIC_BUS_NONE) == NULL);
    assert (streq (shic_bus_role_name (SHIC_BUS_ROLE_LEASE), "lease"));

    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "inproc://shic-bus-test-%d", getpid ());
    zsock_t *writer = zsock_new (ZMQ_PAIR);
    assert (writer);
    int rc = zsock_bind (writer, "%s", endpoint);
    assert (rc == 0);
    zsock_t *reader = zsock_new (ZMQ_PAIR);
    assert (reader);
    rc = zsock_connect (reader, "%s", endpoint);
    assert (rc == 0);
    zsock_set_rcvtimeo (reader, 5000);

    //  Every message round-trips, to every receiver of its row, with and
    //  without its optional fields
    for (int id = SHIC_BUS_NONE + 1; id < SHIC_BUS_COUNT; id++) {
        for (int optional = 0; optional < 2; optional++) {
            shic_val_t *trees [F_COUNT] = { NULL };
            shic_bus_t sample;
            s_sample (&sample, (shic_bus_id_t) id, optional, trees);
            for (size_t index = 0; index < ROLES; index++) {
                shic_bus_role_t receiver = (shic_bus_role_t) (1 << index);
                if (!(s_rows [id].to & receiver))
                    continue;
                rc = shic_bus_send (writer, &sample);
                assert (rc == 0);
                shic_bus_t copy = { 0 };
                rc = shic_bus_recv (&copy, reader, receiver);
                assert (rc == 0);
                s_assert_same (&sample, &copy);
                shic_bus_reset (&copy);
                assert (copy.id == SHIC_BUS_NONE);
            }
            for (int fid = 0; fid < F_COUNT; fid++)
                shic_val_destroy (&trees [fid]);
        }
        if (verbose)
            printf ("   %s: round trip ok\n", s_rows [id].command);
    }
    //  czmq's own $TERM is ours
    zstr_send (writer, "$TERM");
    shic_bus_t bus = { 0 };
    rc = shic_bus_recv (&bus, reader, SHIC_BUS_ROLE_INSTANCE);
    assert (rc == 0 && bus.id == SHIC_BUS_TERM);

    //  A request and its REPLY
    shic_bus_t question = { .id = SHIC_BUS_UNREGISTER, .name = "llama" };
    rc = shic_bus_send (reader, &(shic_bus_t) { .id = SHIC_BUS_REPLY, .rc = 7, .message = "ok" });
    assert (rc == 0);
    rc = shic_bus_ask (writer, &question, SHIC_BUS_ROLE_FACADE, &bus);
    assert (rc == 7 && streq (bus.message, "ok"));
    shic_bus_reset (&bus);
    rc = shic_bus_recv (&bus, reader, SHIC_BUS_ROLE_SUPERVISOR);
    assert (rc == 0 && bus.id == SHIC_BUS_UNREGISTER && streq (bus.name, "llama"));
    shic_bus_reset (&bus);
    //  Anything but a REPLY is none
    shic_bus_send (reader, &(shic_bus_t) { .id = SHIC_BUS_STARTUP });
    assert (shic_bus_ask (writer, &question, SHIC_BUS_ROLE_FACADE, &bus) == -1);
    assert (bus.id == SHIC_BUS_NONE);
    rc = shic_bus_recv (&bus, reader, SHIC_BUS_ROLE_SUPERVISOR);
    assert (rc == 0 && bus.id == SHIC_BUS_UNREGISTER);

    //  Waiting for $TERM drops what comes before it
    shic_bus_send (writer, &(shic_bus_t) { .id = SHIC_BUS_DONE });
    zstr_send (writer, "$TERM");
    shic_bus_wait_term (reader, SHIC_BUS_ROLE_SUPERVISOR);
    assert (!(zsock_events (reader) & ZMQ_POLLIN));

    //  A required tree of any type may be nil
    shic_bus_t stopped = { .id = SHIC_BUS_STOPPED };
    rc = shic_bus_send (writer, &stopped);
    assert (rc == 0);
    rc = shic_bus_recv (&bus, reader, SHIC_BUS_ROLE_GATEWAY);
    assert (rc == 0 && bus.id == SHIC_BUS_STOPPED && shic_val_type (bus.exit) == SHIC_VAL_NIL);
    shic_bus_reset (&bus);

    //  A tree taken out of a message outlives it
    shic_val_t *trees [F_COUNT] = { NULL };
    shic_bus_t sample;
    s_sample (&sample, SHIC_BUS_SPAWN, true, trees);
    rc = shic_bus_send (writer, &sample);
    assert (rc == 0);
    rc = shic_bus_recv (&bus, reader, SHIC_BUS_ROLE_SUPERVISOR);
    assert (rc == 0);
    shic_val_t *plan = shic_bus_take (&bus, &bus.plan);
    assert (plan && bus.plan == NULL && shic_val_equal (plan, trees [F_PLAN]));
    assert (streq (bus.instance_id, "instance_id"));
    shic_bus_reset (&bus);
    assert (streq (shic_val_str (shic_val_get (plan, "key")), "plan"));
    shic_val_destroy (&plan);
    for (int fid = 0; fid < F_COUNT; fid++)
        shic_val_destroy (&trees [fid]);

    //  Behind a routing id, on a ROUTER
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    assert (router);
    snprintf (endpoint, sizeof (endpoint), "inproc://shic-bus-test-%d-router", getpid ());
    rc = zsock_bind (router, "%s", endpoint);
    assert (rc == 0);
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    zsock_set_identity (dealer, "I7");
    zsock_set_rcvtimeo (dealer, 5000);
    rc = zsock_connect (dealer, "%s", endpoint);
    assert (rc == 0);
    shic_bus_t started = { .id = SHIC_BUS_STARTED, .pid = 42 };
    rc = shic_bus_send (dealer, &started);
    assert (rc == 0);
    zmsg_t *msg = zmsg_recv (router);
    assert (msg);
    char *identity = zmsg_popstr (msg);
    assert (streq (identity, "I7"));
    zstr_free (&identity);
    rc = shic_bus_decode (&bus, msg, SHIC_BUS_ROLE_GATEWAY);
    assert (rc == 0 && bus.id == SHIC_BUS_STARTED && bus.pid == 42);
    assert (zmsg_size (msg) == 2);
    zmsg_destroy (&msg);
    shic_bus_t stop = { .id = SHIC_BUS_STOP };
    rc = shic_bus_send_to (router, "I7", &stop);
    assert (rc == 0);
    rc = shic_bus_recv (&bus, dealer, SHIC_BUS_ROLE_INSTANCE);
    assert (rc == 0 && bus.id == SHIC_BUS_STOP);
    shic_bus_reset (&bus);
    zsock_destroy (&dealer);
    zsock_destroy (&router);

    //  Refused, each rule
    struct {
        shic_bus_role_t receiver;       //  who decodes it
        const char *command;            //  the command frame
        const char *body;               //  the body as JSON, NULL for none
        size_t pointers;                //  pointer frames after it
    } refused [] = {
        //  A command the receiver does not accept
        { SHIC_BUS_ROLE_INSTANCE, "NOPE", "{}", 0 },
        { SHIC_BUS_ROLE_INSTANCE, "DONE", "{}", 0 },
        { SHIC_BUS_ROLE_INSTANCE, "", "{}", 0 },
        { SHIC_BUS_ROLE_INSTANCE, "STOPX", "{}", 0 },
        //  A required field missing, of the wrong type, or unknown
        { SHIC_BUS_ROLE_INSTANCE, "RESTART", "{}", 0 },
        { SHIC_BUS_ROLE_INSTANCE, "RESTART", "{\"delay_ms\": 5}", 0 },
        { SHIC_BUS_ROLE_INSTANCE, "RESTART", "{\"delay_ms\": 5, \"restarts\": \"1\"}", 0 },
        { SHIC_BUS_ROLE_INSTANCE, "RESTART", "{\"delay_ms\": 5, \"restarts\": 1, \"restart\": 1}", 0 },
        { SHIC_BUS_ROLE_SUPERVISOR, "SPAWN", "{\"seq\": 1, \"instance_id\": \"i\", "
                                             "\"backend\": \"b\", \"plan\": []}", 0 },
        //  A body that is not a map
        { SHIC_BUS_ROLE_INSTANCE, "STOP", "[]", 0 },
        //  The wrong number of frames: no body, one too many, a pointer short
        { SHIC_BUS_ROLE_INSTANCE, "STOP", NULL, 0 },
        { SHIC_BUS_ROLE_INSTANCE, "STOP", "{}", 1 },
        { SHIC_BUS_ROLE_INSTANCE, "$TERM", "{}", 0 },
        { SHIC_BUS_ROLE_SUPERVISOR, "REGISTER", "{\"name\": \"b\"}", 1 },
        { SHIC_BUS_ROLE_SUPERVISOR, "REGISTER", "{\"name\": \"b\"}", 3 }
    };
    for (size_t index = 0; index < sizeof (refused) / sizeof (refused [0]); index++) {
        shic_val_t *body = refused [index].body? shic_val_from_json (refused [index].body): NULL;
        assert (body || !refused [index].body);
        s_assert_refused (writer, reader, refused [index].receiver, refused [index].command,
                          body, refused [index].pointers);
        shic_val_destroy (&body);
    }
    shic_val_t *body = shic_val_from_json ("{\"delay_ms\": 5, \"restarts\": 1}");
    //  Right as it is now
    zmsg_t *good = zmsg_new ();
    zmsg_addstr (good, "RESTART");
    void *data;
    size_t size;
    rc = shic_val_encode (body, &data, &size);
    assert (rc == 0);
    zmsg_addmem (good, data, size);
    rc = shic_bus_decode (&bus, good, SHIC_BUS_ROLE_INSTANCE);
    assert (rc == 0 && bus.delay_ms == 5 && bus.restarts == 1);
    shic_bus_reset (&bus);
    //  A field twice, as raw msgpack: {"delay_ms": 5, "delay_ms": 5, "restarts": 1}
    zframe_t *frame = zmsg_last (good);
    byte twice [] = { 0x83, 0xa8, 'd', 'e', 'l', 'a', 'y', '_', 'm', 's', 5,
                      0xa8, 'd', 'e', 'l', 'a', 'y', '_', 'm', 's', 5,
                      0xa8, 'r', 'e', 's', 't', 'a', 'r', 't', 's', 1 };
    zframe_reset (frame, twice, sizeof (twice));
    rc = shic_bus_decode (&bus, good, SHIC_BUS_ROLE_INSTANCE);
    assert (rc == -2);
    //  The body not msgpack, with trailing bytes, or not a map
    zframe_reset (frame, "\xc1", 1);
    assert (shic_bus_decode (&bus, good, SHIC_BUS_ROLE_INSTANCE) == -2);
    byte *trailing = (byte *) malloc (size + 1);
    memcpy (trailing, data, size);
    trailing [size] = 0xc0;
    zframe_reset (frame, trailing, size + 1);
    free (trailing);
    assert (shic_bus_decode (&bus, good, SHIC_BUS_ROLE_INSTANCE) == -2);
    zframe_reset (frame, "\x90", 1);
    assert (shic_bus_decode (&bus, good, SHIC_BUS_ROLE_INSTANCE) == -2);
    free (data);
    zmsg_destroy (&good);
    //  A pointer frame of the wrong size
    msg = zmsg_new ();
    zmsg_addstr (msg, "REGISTER");
    zmsg_addmem (msg, "\x81\xa4name\xa1" "b", 8);
    zmsg_addmem (msg, &msg, sizeof (void *));
    zmsg_addmem (msg, &msg, sizeof (void *) - 1);
    assert (shic_bus_decode (&bus, msg, SHIC_BUS_ROLE_SUPERVISOR) == -2);
    zmsg_destroy (&msg);
    assert (shic_bus_decode (&bus, NULL, SHIC_BUS_ROLE_SUPERVISOR) == -2);
    shic_val_destroy (&body);

    //  The receive ends without a message at its timeout
    zsock_set_rcvtimeo (reader, 10);
    assert (shic_bus_recv (&bus, reader, SHIC_BUS_ROLE_POOL) == -1);

    //  The guide's table names every message
    char *table = shic_bus_table ();
    for (int id = SHIC_BUS_NONE + 1; id < SHIC_BUS_COUNT; id++) {
        char cell [48];
        snprintf (cell, sizeof (cell), "| `%s` |", s_rows [id].command);
        assert (strstr (table, cell));
    }
    assert (strstr (table, "| `REPLY` | supervisor, gateway | facade, supervisor | {rc: int, message?: str} |"));
    if (verbose)
        printf ("%s", table);
    free (table);

    zsock_destroy (&reader);
    zsock_destroy (&writer);
    printf ("OK\n");
}
