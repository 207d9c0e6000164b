/*  =========================================================================
    shic_http_face - the HTTP face of a runtime (include/shic_http_face.h)

    The actor accepts on its pipe: $TERM. It sends up the pipe once, after
    the handshake, the bound port (or -1 when it could not listen).

    One thread, one loop: zmq_poll over the pipe, the events SUB and
    libmicrohttpd's epoll descriptor (libmicrohttpd runs "externally", from
    this loop), with libmicrohttpd's own timeout, which is "none" while no
    connection is open. Event streams are suspended connections that the
    relay resumes when it has queued text for them; a stream whose queue
    passes SSE_QUEUE_MAX is closed rather than waited for.
    =========================================================================
*/

#include "shic.h"
#include "shic_client.h"
#include "shic_json.h"
#include "shic_http_face.h"
#include "shic_metrics.h"
#include "shic_dashboard.h"
#include <microhttpd.h>
#include <arpa/inet.h>

#define SSE_CLIENTS_MAX     16              //  event streams at once
#define SSE_QUEUE_MAX       (256 * 1024)    //  queued bytes before a slow reader is dropped
#define CONNECTIONS_MAX     256             //  open connections at once
#define PER_IP_MAX          64              //  open connections per peer address
#define CONNECTION_TIMEOUT  10              //  seconds of silence before a close
#define CONNECTION_MEMORY   (32 * 1024)     //  per connection: headers beyond it get 431
#define CLIENT_TIMEOUT_MS   5000            //  a gateway op that takes longer fails the page

//  One event stream
typedef struct {
    struct MHD_Connection *connection;  //  the stream's connection (borrowed)
    zlistx_t *streams;              //  the list that holds this stream
    void *handle;                   //  its handle in that list
    char *queue;                    //  text not yet read by the peer
    size_t queued;                  //  bytes in queue
    size_t size;                    //  bytes allocated for queue
    bool suspended;                 //  waiting for text
    bool dropped;                   //  too slow: end it
} stream_t;

typedef struct {
    char *listen;                   //  "IPV4:PORT"
    char *endpoint;                 //  gateway endpoint
    char *events;                   //  events endpoint, or NULL
    char *token;                    //  bearer token of the actions, or NULL
} args_t;

typedef struct {
    zsock_t *pipe;                  //  actor pipe
    const args_t *args;             //  what to serve (the caller's, lives as long)
    struct MHD_Daemon *daemon;      //  libmicrohttpd, run from this loop
    int epoll_fd;                   //  its descriptor to poll
    zsock_t *sub;                   //  SUB on the events endpoint, or NULL
    shic_client_t *client;          //  DEALER on the gateway (made on first use)
    zlistx_t *streams;              //  event streams (stream_t, owned by their response)
    uint64_t evictions;             //  instance.evicting events seen
    bool relaying;                  //  subscribed to every event (streams open)
    bool terminated;                //  $TERM received
} self_t;

struct _shic_http_face_t {
    zactor_t *actor;                //  the serving thread
    args_t args;                    //  what it serves (owned)
    int port;                       //  the bound port
};

//  ---------------------------------------------------------------------------
//  Addresses

char *
shic_http_face_address_problem (const char *listen)
{
    if (!listen || !*listen)
        return strdup ("an address is required (IPV4:PORT)");
    const char *colon = strrchr (listen, ':');
    if (!colon || colon == listen)
        return zsys_sprintf ("'%s' is not IPV4:PORT", listen);
    char host [64];
    if ((size_t) (colon - listen) >= sizeof (host))
        return zsys_sprintf ("'%s' is not IPV4:PORT", listen);
    memcpy (host, listen, colon - listen);
    host [colon - listen] = 0;
    struct in_addr address;
    if (inet_pton (AF_INET, host, &address) != 1)
        return zsys_sprintf ("'%s' is not an IPv4 address", host);
    char *end = NULL;
    errno = 0;
    long port = strtol (colon + 1, &end, 10);
    if (!colon [1] || *end || errno || port < 0 || port > 65535)
        return zsys_sprintf ("port '%s' is not 0 .. 65535", colon + 1);
    return NULL;
}

//  ---------------------------------------------------------------------------
//  Gateway calls

static shic_client_t *
s_client (self_t *self)
{
    if (!self->client) {
        self->client = shic_client_new (self->args->endpoint);
        if (self->client)
            shic_client_set_timeout (self->client, CLIENT_TIMEOUT_MS);
    }
    return self->client;
}

//  The result of op, or NULL (logged once per call)
static shic_val_t *
s_call (self_t *self, const char *op, shic_val_t *args)
{
    shic_client_t *client = s_client (self);
    if (!client) {
        shic_val_destroy (&args);
        return NULL;
    }
    shic_val_t *result = shic_client_call (client, op, &args);
    if (!result) {
        const shic_error_t *err = shic_client_error (client);
        zsys_warning ("http: %s: %s", op, err && err->message? err->message: "failed");
    }
    return result;
}

//  The five reads of a snapshot, in one map {stats, instances, leases,
//  backends, resources}; NULL when the gateway does not answer
static shic_val_t *
s_state (self_t *self)
{
    static const char *ops [] = { "stats", "list_instances", "list_leases", "list_backends",
                                  "resources", NULL };
    static const char *keys [] = { "stats", "instances", "leases", "backends", "resources" };
    shic_val_t *state = shic_val_new_map ();
    for (int i = 0; ops [i]; i++) {
        shic_val_t *result = s_call (self, ops [i], NULL);
        if (!result) {
            shic_val_destroy (&state);
            return NULL;
        }
        shic_val_set (state, keys [i], &result);
    }
    return state;
}

//  ---------------------------------------------------------------------------
//  Responses

static enum MHD_Result
s_reply (struct MHD_Connection *connection, unsigned status, const char *type,
         const char *body, size_t size, bool copy)
{
    struct MHD_Response *response = MHD_create_response_from_buffer (
        size, (void *) body, copy? MHD_RESPMEM_MUST_COPY: MHD_RESPMEM_PERSISTENT);
    if (!response)
        return MHD_NO;
    MHD_add_response_header (response, "Content-Type", type);
    MHD_add_response_header (response, "Cache-Control", "no-store");
    MHD_add_response_header (response, "X-Content-Type-Options", "nosniff");
    enum MHD_Result rc = MHD_queue_response (connection, status, response);
    MHD_destroy_response (response);
    return rc;
}

static enum MHD_Result
s_reply_text (struct MHD_Connection *connection, unsigned status, const char *text)
{
    return s_reply (connection, status, "text/plain; charset=utf-8", text, strlen (text), true);
}

//  Takes ownership of *json_p
static enum MHD_Result
s_reply_json (struct MHD_Connection *connection, unsigned status, shic_val_t **value_p)
{
    char *json = shic_val_to_json (*value_p);
    shic_val_destroy (value_p);
    if (!json)
        return s_reply_text (connection, 500, "out of memory\n");
    enum MHD_Result rc = s_reply (connection, status, "application/json", json, strlen (json), true);
    free (json);
    return rc;
}

static enum MHD_Result
s_get_metrics (self_t *self, struct MHD_Connection *connection)
{
    shic_val_t *state = s_state (self);
    if (!state)
        return s_reply_text (connection, 503, "the gateway does not answer\n");
    char *text = shic_metrics_render (state, self->evictions, zlistx_size (self->streams));
    shic_val_destroy (&state);
    if (!text)
        return s_reply_text (connection, 500, "out of memory\n");
    enum MHD_Result rc = s_reply (connection, 200, "text/plain; version=0.0.4; charset=utf-8",
                                  text, strlen (text), true);
    free (text);
    return rc;
}

static enum MHD_Result
s_get_status (self_t *self, struct MHD_Connection *connection)
{
    shic_val_t *state = s_state (self);
    if (!state)
        return s_reply_text (connection, 503, "the gateway does not answer\n");
    //  Flattened for the page: {at_ms, actions, instances, leases, backends,
    //  pools, placement, queue, stats}
    shic_val_t *status = shic_val_new_map ();
    shic_val_set_int (status, "at_ms", zclock_time ());
    shic_val_set_bool (status, "actions", self->args->token != NULL);
    shic_val_t *resources = shic_val_get (state, "resources");
    shic_val_set_dup (status, "instances", shic_val_path (state, "instances/instances"));
    shic_val_set_dup (status, "leases", shic_val_path (state, "leases/leases"));
    shic_val_set_dup (status, "backends", shic_val_path (state, "backends/backends"));
    shic_val_set_dup (status, "pools", shic_val_get (resources, "pools"));
    shic_val_set_dup (status, "placement", shic_val_get (resources, "instances"));
    shic_val_set_dup (status, "queue", shic_val_get (resources, "queue"));
    shic_val_set_dup (status, "stats", shic_val_get (state, "stats"));
    shic_val_destroy (&state);
    return s_reply_json (connection, 200, &status);
}

//  Constant-time comparison of the sent token with ours
static bool
s_token_ok (self_t *self, struct MHD_Connection *connection)
{
    const char *token = self->args->token;
    const char *sent = MHD_lookup_connection_value (connection, MHD_HEADER_KIND,
                                                    MHD_HTTP_HEADER_AUTHORIZATION);
    if (!token || !sent || strncmp (sent, "Bearer ", 7))
        return false;
    sent += 7;
    size_t length = strlen (token);
    if (strlen (sent) != length)
        return false;
    unsigned char differ = 0;
    for (size_t i = 0; i < length; i++)
        differ |= (unsigned char) (sent [i] ^ token [i]);
    return differ == 0;
}

static enum MHD_Result
s_post_stop (self_t *self, struct MHD_Connection *connection, const char *url)
{
    if (!self->args->token)
        return s_reply_text (connection, 403, "read-only: no shicd/http_token is configured\n");
    if (!s_token_ok (self, connection))
        return s_reply_text (connection, 401, "a valid Authorization: Bearer token is required\n");
    //  /api/v1/instances/ID/stop
    const char *id = url + strlen ("/api/v1/instances/");
    size_t length = strlen (id) - strlen ("/stop");
    shic_val_t *args = shic_val_new_map ();
    shic_val_set (args, "instance_id", &(shic_val_t *) { shic_val_new_strn (id, length) });
    shic_val_t *result = s_call (self, "stop_instance", args);
    if (!result) {
        const shic_error_t *err = self->client? shic_client_error (self->client): NULL;
        shic_val_t *error = shic_val_new_map ();
        shic_val_set_str (error, "code", err && err->code? err->code: "no_reply");
        shic_val_set_str (error, "message", err && err->message? err->message: "failed");
        return s_reply_json (connection, 409, &error);
    }
    return s_reply_json (connection, 200, &result);
}

//  GET /api/v1/instances/ID/logs: the instance's last log lines
//  (instance_logs), read-only like the rest of the GETs
static enum MHD_Result
s_get_logs (self_t *self, struct MHD_Connection *connection, const char *url)
{
    const char *id = url + strlen ("/api/v1/instances/");
    size_t length = strlen (id) - strlen ("/logs");
    shic_val_t *args = shic_val_new_map ();
    shic_val_set (args, "instance_id", &(shic_val_t *) { shic_val_new_strn (id, length) });
    shic_val_set_int (args, "lines", 50);
    shic_val_t *result = s_call (self, "instance_logs", args);
    if (!result) {
        const shic_error_t *err = self->client? shic_client_error (self->client): NULL;
        shic_val_t *error = shic_val_new_map ();
        shic_val_set_str (error, "code", err && err->code? err->code: "no_reply");
        shic_val_set_str (error, "message", err && err->message? err->message: "failed");
        return s_reply_json (connection, 404, &error);
    }
    return s_reply_json (connection, 200, &result);
}

//  ---------------------------------------------------------------------------
//  Event streams

static void
s_stream_append (stream_t *stream, const char *text, size_t size)
{
    if (stream->dropped)
        return;
    if (stream->queued + size > SSE_QUEUE_MAX) {
        stream->dropped = true;
        zsys_warning ("http: an event stream reads too slowly, dropped");
        return;
    }
    if (stream->queued + size > stream->size) {
        size_t grown = stream->size? stream->size: 4096;
        while (grown < stream->queued + size)
            grown *= 2;
        char *queue = realloc (stream->queue, grown);
        if (!queue) {
            stream->dropped = true;
            return;
        }
        stream->queue = queue;
        stream->size = grown;
    }
    memcpy (stream->queue + stream->queued, text, size);
    stream->queued += size;
}

static void
s_stream_wake (stream_t *stream)
{
    if (stream->suspended) {
        stream->suspended = false;
        MHD_resume_connection (stream->connection);
    }
}

static ssize_t
s_stream_read (void *cls, uint64_t pos, char *buffer, size_t max)
{
    (void) pos;
    stream_t *stream = (stream_t *) cls;
    if (stream->dropped)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (stream->queued == 0) {
        //  Nothing to send: park the connection until the relay has text
        stream->suspended = true;
        MHD_suspend_connection (stream->connection);
        return 0;
    }
    size_t size = stream->queued < max? stream->queued: max;
    memcpy (buffer, stream->queue, size);
    memmove (stream->queue, stream->queue + size, stream->queued - size);
    stream->queued -= size;
    return (ssize_t) size;
}

static void
s_stream_free (void *cls)
{
    stream_t *stream = (stream_t *) cls;
    zlistx_delete (stream->streams, stream->handle);
    free (stream->queue);
    free (stream);
}

static enum MHD_Result
s_get_events (self_t *self, struct MHD_Connection *connection)
{
    if (!self->sub)
        return s_reply_text (connection, 404, "no events endpoint\n");
    if (zlistx_size (self->streams) >= SSE_CLIENTS_MAX)
        return s_reply_text (connection, 503, "too many event streams\n");
    stream_t *stream = (stream_t *) zmalloc (sizeof (stream_t));
    stream->connection = connection;
    stream->streams = self->streams;
    const char *hello = "retry: 2000\n: relaying shicd events\n\n";
    s_stream_append (stream, hello, strlen (hello));
    struct MHD_Response *response = MHD_create_response_from_callback (
        MHD_SIZE_UNKNOWN, 4096, s_stream_read, stream, s_stream_free);
    if (!response) {
        free (stream->queue);
        free (stream);
        return MHD_NO;
    }
    stream->handle = zlistx_add_end (self->streams, stream);
    MHD_add_response_header (response, "Content-Type", "text/event-stream");
    MHD_add_response_header (response, "Cache-Control", "no-store");
    //  A stream is silent while nothing happens: no idle timeout for it
    MHD_set_connection_option (connection, MHD_CONNECTION_OPTION_TIMEOUT, 0);
    enum MHD_Result rc = MHD_queue_response (connection, 200, response);
    MHD_destroy_response (response);
    return rc;
}

//  One event from the SUB: [topic][msgpack map], relayed as
//  data: {"topic": ..., "body": {...}}
static void
s_handle_sub (self_t *self)
{
    zmsg_t *msg = zmsg_recv (self->sub);
    if (!msg)
        return;
    char *topic = zmsg_popstr (msg);
    zframe_t *body = zmsg_pop (msg);
    shic_val_t *value = NULL;
    if (topic && body && zmsg_size (msg) == 0
    &&  shic_val_decode (zframe_data (body), zframe_size (body), NULL, &value, NULL) == 0) {
        if (streq (topic, "instance.evicting"))
            self->evictions++;
        if (zlistx_size (self->streams) > 0) {
            shic_val_t *event = shic_val_new_map ();
            shic_val_set_str (event, "topic", topic);
            shic_val_set (event, "body", &value);
            char *json = shic_val_to_json (event);
            shic_val_destroy (&event);
            char *text = json? zsys_sprintf ("data: %s\n\n", json): NULL;
            free (json);
            for (stream_t *stream = (stream_t *) zlistx_first (self->streams); text && stream;
                           stream = (stream_t *) zlistx_next (self->streams)) {
                s_stream_append (stream, text, strlen (text));
                s_stream_wake (stream);
            }
            zstr_free (&text);
        }
    }
    else
        zsys_warning ("http: an event that is not [topic][msgpack map], ignored");
    shic_val_destroy (&value);
    zstr_free (&topic);
    zframe_destroy (&body);
    zmsg_destroy (&msg);
}

//  ---------------------------------------------------------------------------
//  Requests

static enum MHD_Result
s_handle_request (void *cls, struct MHD_Connection *connection, const char *url,
                  const char *method, const char *version, const char *upload_data,
                  size_t *upload_data_size, void **context)
{
    (void) version;
    (void) upload_data;
    self_t *self = (self_t *) cls;
    static int first_call;
    if (*context == NULL) {
        //  Headers only: answer once the body (ignored) has been read
        *context = &first_call;
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    bool get = streq (method, "GET") || streq (method, "HEAD");
    size_t length = strlen (url);
    if (get && streq (url, "/metrics"))
        return s_get_metrics (self, connection);
    if (get && streq (url, "/api/v1/status"))
        return s_get_status (self, connection);
    if (get && streq (url, "/api/v1/events"))
        return s_get_events (self, connection);
    if (get && (streq (url, "/") || streq (url, "/index.html"))) {
        struct MHD_Response *response = MHD_create_response_from_buffer (
            sizeof (shic_dashboard_html) - 1, (void *) shic_dashboard_html, MHD_RESPMEM_PERSISTENT);
        if (!response)
            return MHD_NO;
        MHD_add_response_header (response, "Content-Type", "text/html; charset=utf-8");
        MHD_add_response_header (response, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header (response, "Content-Security-Policy",
            "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'");
        enum MHD_Result rc = MHD_queue_response (connection, 200, response);
        MHD_destroy_response (response);
        return rc;
    }
    if (get && strncmp (url, "/api/v1/instances/", 18) == 0
    &&  length > 18 + 5 && streq (url + length - 5, "/logs"))
        return s_get_logs (self, connection, url);
    if (streq (method, "POST") && strncmp (url, "/api/v1/instances/", 18) == 0
    &&  length > 18 + 5 && streq (url + length - 5, "/stop"))
        return s_post_stop (self, connection, url);
    if (get)
        return s_reply_text (connection, 404, "not found\n");
    return s_reply_text (connection, 405, "method not allowed\n");
}

//  ---------------------------------------------------------------------------
//  The actor

static self_t *
s_self_new (zsock_t *pipe, const args_t *args)
{
    self_t *self = (self_t *) zmalloc (sizeof (self_t));
    self->pipe = pipe;
    self->args = args;
    self->epoll_fd = -1;
    self->streams = zlistx_new ();
    return self;
}

static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (!self)
        return;
    //  Streams end (resumed, then ended by their reader); stopping the
    //  daemon frees them (s_stream_free)
    if (self->daemon) {
        for (stream_t *stream = (stream_t *) zlistx_first (self->streams); stream;
                       stream = (stream_t *) zlistx_next (self->streams)) {
            stream->dropped = true;
            s_stream_wake (stream);
        }
        MHD_run (self->daemon);
        MHD_stop_daemon (self->daemon);
    }
    zlistx_destroy (&self->streams);
    zsock_destroy (&self->sub);
    shic_client_destroy (&self->client);
    free (self);
    *self_p = NULL;
}

//  Listens and subscribes; the bound port or -1
static int
s_self_start (self_t *self)
{
    char *problem = shic_http_face_address_problem (self->args->listen);
    if (problem) {
        zsys_error ("http: %s", problem);
        free (problem);
        return -1;
    }
    const char *colon = strrchr (self->args->listen, ':');
    struct sockaddr_in address = { .sin_family = AF_INET,
                                   .sin_port = htons ((uint16_t) atoi (colon + 1)) };
    char host [64];
    snprintf (host, sizeof (host), "%.*s", (int) (colon - self->args->listen), self->args->listen);
    inet_pton (AF_INET, host, &address.sin_addr);
    self->daemon = MHD_start_daemon (
        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
        0, NULL, NULL, s_handle_request, self,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &address,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int) CONNECTIONS_MAX,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int) PER_IP_MAX,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) CONNECTION_TIMEOUT,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) CONNECTION_MEMORY,
        MHD_OPTION_END);
    if (!self->daemon) {
        zsys_error ("http: cannot listen on %s", self->args->listen);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    self->epoll_fd = info? info->epoll_fd: -1;
    info = MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    int port = info? info->port: -1;
    if (self->epoll_fd < 0 || port <= 0)
        return -1;
    if (self->args->events) {
        //  Evictions are counted always; every other event is read only
        //  while an event stream is open (s_relay_all): a warm ensure
        //  publishes two, and nobody may be listening
        self->sub = zsock_new_sub (self->args->events, "instance.evicting");
        if (!self->sub)
            zsys_warning ("http: cannot subscribe to %s: no event stream", self->args->events);
    }
    return port;
}

//  Subscribes to every event while streams are open, and only to
//  instance.evicting otherwise
static void
s_relay_all (self_t *self)
{
    bool wanted = self->sub && zlistx_size (self->streams) > 0;
    if (wanted == self->relaying)
        return;
    if (wanted)
        zsock_set_subscribe (self->sub, "");
    else
        zsock_set_unsubscribe (self->sub, "");
    self->relaying = wanted;
}

static void
s_http_face_actor (zsock_t *pipe, void *args)
{
    self_t *self = s_self_new (pipe, (const args_t *) args);
    zsock_signal (pipe, 0);
    int port = s_self_start (self);
    zsock_send (pipe, "i", port);
    while (!self->terminated) {
        s_relay_all (self);
        zmq_pollitem_t items [] = {
            { zsock_resolve (self->pipe), 0, ZMQ_POLLIN, 0 },
            { NULL, self->epoll_fd, ZMQ_POLLIN, 0 },
            { self->sub? zsock_resolve (self->sub): NULL, 0, ZMQ_POLLIN, 0 }
        };
        int count = self->daemon? (self->sub? 3: 2): 1;
        long timeout = -1;
        MHD_UNSIGNED_LONG_LONG next = 0;
        if (self->daemon && MHD_get_timeout (self->daemon, &next) == MHD_YES)
            timeout = next > 60000? 60000: (long) next;
        if (zmq_poll (items, count, timeout) < 0 && errno != EINTR)
            break;
        if (items [0].revents & ZMQ_POLLIN) {
            char *command = zstr_recv (self->pipe);
            if (!command || streq (command, "$TERM"))
                self->terminated = true;
            zstr_free (&command);
        }
        if (count > 2 && (items [2].revents & ZMQ_POLLIN))
            s_handle_sub (self);
        if (self->daemon)
            MHD_run (self->daemon);
    }
    s_self_destroy (&self);
}

//  ---------------------------------------------------------------------------
//  The class

shic_http_face_t *
shic_http_face_new (const char *listen, const char *endpoint, const char *events,
                    const char *token)
{
    assert (endpoint);
    shic_http_face_t *self = (shic_http_face_t *) zmalloc (sizeof (shic_http_face_t));
    self->args.listen = strdup (listen? listen: "");
    self->args.endpoint = strdup (endpoint);
    self->args.events = events && *events? strdup (events): NULL;
    self->args.token = token && *token? strdup (token): NULL;
    self->actor = zactor_new (s_http_face_actor, &self->args);
    self->port = -1;
    if (self->actor) {
        zsock_set_rcvtimeo (self->actor, 10000);
        if (zsock_recv (self->actor, "i", &self->port) != 0)
            self->port = -1;
    }
    if (self->port <= 0)
        shic_http_face_destroy (&self);
    return self;
}

void
shic_http_face_destroy (shic_http_face_t **self_p)
{
    assert (self_p);
    shic_http_face_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy (&self->actor);
    free (self->args.listen);
    free (self->args.endpoint);
    free (self->args.events);
    free (self->args.token);
    free (self);
    *self_p = NULL;
}

int
shic_http_face_port (shic_http_face_t *self)
{
    assert (self);
    return self->port;
}
