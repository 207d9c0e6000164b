/*  =========================================================================
    shic_stand_in - a stand-in for llama.cpp's llama-server, for tests

    A test double, not a copy of llama-server: it accepts the same flags,
    prints the same log lines on stderr, answers /health 503 while "loading"
    and 200 once ready, serves /v1/models and a canned /v1/chat/completions
    (plain and streaming), and dies by SIGABRT on SIGTERM once ready, as the
    real server does (see shared/reference/llama-server.md). It depends on
    libc (POSIX) only and serves HTTP/1.1 from one poll () loop.
    =========================================================================
*/

/*
@header
    Usage: shic_stand_in [llama-server flags] [stand-in flags]

    llama-server flags (accepted; those marked * change behaviour):
        -m, --model PATH        * model id when no alias, /props model_path
        -a, --alias NAME        * model id in /v1/models and in replies
        --host H                * address to bind (default 127.0.0.1)
        --port P                * port to bind (default 8080; 0 = ephemeral,
                                  the real port is printed in the log lines)
        -c, --ctx-size N        * reported in /props and /slots
        -np, --parallel N       * total_slots in /props, entries in /slots
        -ngl, --n-gpu-layers N, -t, --threads N, -tb, --threads-batch N,
        --embeddings, --pooling X, --jinja, --no-webui, --threads-http N
        --api-key KEY           * required as "Authorization: Bearer KEY"
                                  on every route but /health and /models
        --api-key-file F        * first line of F is the key
        --api-prefix P          * every route is served under P only
        --metrics               * enables /metrics (else 501)
        --slots                 * enables /slots (else 501)
        --timeout N             * idle keep-alive timeout, seconds (600)
        --log-disable           * no log lines at all
        -h, --help, --version
    LLAMA_ARG_MODEL, LLAMA_ARG_ALIAS, LLAMA_ARG_HOST, LLAMA_ARG_PORT and
    LLAMA_API_KEY are read too; the command line wins.

    Stand-in flags (failure modes, all optional):
        --load-ms N             time from bind to ready (default 60)
        --exit-before-ready C   at the end of loading, log a model loading
                                error and exit (C); "abort" dies by SIGABRT
        --never-ready           /health stays 503 forever
        --hang-health           once ready, /health requests are read but
                                never answered (the connection stays open)
        --crash-after N         abort () once N requests have been answered
                                after ready (counting starts at ready, so
                                health polls during loading do not count)
        --health-status N       once ready, /health answers 200 once, then N
        --grandchild            fork a process that keeps the listening
                                socket and stderr open and sleeps forever
                                in the same process group
        --term-exit C           on SIGTERM/SIGINT when ready, exit (C)
                                instead of dying by SIGABRT
        --buffers-mib M,K,C     at the end of loading, log llama-server's buffer
                                lines: model M, KV K and compute C MiB (CPU)
        --oom                   at the end of loading, log that a buffer could
                                not be allocated and exit (1), as llama-server
                                does when memory runs out
        --ready-file PATH       when ready and before the ready log line,
                                write CLOCK_MONOTONIC nanoseconds (decimal,
                                no newline) to PATH via temp file + rename
        --print-env NAME        log "env NAME=<value>" at start (repeatable;
                                "env NAME (unset)" when not set)
        --echo-after-ready TEXT log TEXT as a line right after the ready line
                                (repeatable): what a client of the model may
                                make the server log, e.g. a forged bind line

    Log lines (stderr, flushed at once):
        main: HTTP server is listening, hostname: H, port: P, http threads: 1
        main: loading model
        main: model loaded
        main: server is listening on http://H:P - starting the main loop
        srv  log_server_r: request: GET /health 127.0.0.1 200
@discuss
    Signals: before ready SIGTERM and SIGINT keep their default action (the
    real server installs its handlers late). Once ready they reach the poll
    loop through a self-pipe; a second signal exits (1) from the handler.
    Core dumps are switched off so that abort () leaves no core files.
@end
*/

#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include "shic_stand_in_util.h"

#define MAX_CONNS       256             //  Beyond this, accept () waits
#define MAX_HEADER      (64 * 1024)     //  Request line + headers
#define MAX_BODY        (8 * 1024 * 1024)
#define MAX_PRINT_ENV   16

//  Everything the command line sets
typedef struct {
    const char *model;                  //  -m value, or NULL
    const char *alias;                  //  -a value, or NULL
    const char *host;                   //  Address to bind
    int port;                           //  Port to bind, 0 = ephemeral
    int ctx_size;                       //  -c value (0 = training context)
    int n_parallel;                     //  -np value, number of slots
    char *api_key;                      //  Required bearer key, or NULL
    const char *api_prefix;             //  Route prefix, "" if none
    bool metrics;                       //  /metrics enabled
    bool slots;                         //  /slots enabled
    bool log_disable;                   //  No log lines at all
    int timeout_s;                      //  Idle connection timeout
    int load_ms;                        //  Time from bind to ready
    bool exit_before_ready;             //  Fail at the end of loading
    double buffers [3];                 //  MiB of the model, KV, compute buffers
    bool buffers_set;                   //  log the buffer lines
    bool oom;                           //  die of out-of-memory loading
    int exit_code;                      //  ... with this code, -1 = abort
    bool never_ready;                   //  Stay loading forever
    bool hang_health;                   //  Never answer /health when ready
    long crash_after;                   //  Abort after N answers, -1 = off
    int health_status;                  //  /health status when ready
    bool grandchild;                    //  Fork a port-holding grandchild
    int term_exit;                      //  Exit code on SIGTERM, -1 = abort
    const char *ready_file;             //  Ready timestamp file, or NULL
    const char *print_env [MAX_PRINT_ENV];  //  Variables to log at start
    int print_env_size;                 //  Number of entries in print_env
    const char *echo [MAX_PRINT_ENV];   //  Lines to log after the ready line
    int echo_size;                      //  Number of entries in echo
} config_t;

//  One client connection
typedef struct {
    int fd;                             //  Connected socket
    char peer [INET6_ADDRSTRLEN];       //  Client address for the log
    buf_t in;                           //  Bytes received, not yet handled
    buf_t out;                          //  Response bytes not yet sent
    size_t out_sent;                    //  Bytes of out already sent
    bool close_after;                   //  Close once out is sent
    bool hung;                          //  Swallow input, never answer
    int64_t last_active;                //  Monotonic ms of last I/O
} conn_t;

//  The server
typedef struct {
    config_t *config;                   //  Command line, borrowed
    int listener;                       //  Listening socket
    int port;                           //  Real bound port
    bool ready;                         //  Model "loaded"
    int64_t ready_at;                   //  Monotonic ms when loading ends
    long answered;                      //  Responses queued after ready
    long chat_seq;                      //  Chat completion id counter
    conn_t *conns [MAX_CONNS];          //  Open connections
    int conns_size;                     //  Number of entries in conns
} server_t;

//  Self-pipe that carries SIGTERM/SIGINT into the poll loop
//  The first /health 200 after ready was sent (for --health-status)
static bool s_health_ok_sent = false;

static int s_signal_pipe [2] = { -1, -1 };
//  Signals received so far
static volatile sig_atomic_t s_signal_count = 0;
//  Log lines switched off by --log-disable
static bool s_log_disabled = false;


//  --------------------------------------------------------------------------
//  Log one line on stderr, flushed at once

static void
s_log (const char *format, ...)
{
    if (s_log_disabled)
        return;
    char line [1024];
    va_list args;
    va_start (args, format);
    int size = vsnprintf (line, sizeof (line) - 1, format, args);
    va_end (args);
    if (size < 0)
        return;
    if ((size_t) size > sizeof (line) - 2)
        size = sizeof (line) - 2;
    line [size++] = '\n';
    //  One write per line, so lines from the grandchild never interleave
    ssize_t rc = write (STDERR_FILENO, line, size);
    (void) rc;
}


//  --------------------------------------------------------------------------
//  Monotonic clock in milliseconds and in nanoseconds

static int64_t
s_now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t
s_now_ms (void)
{
    return s_now_ns () / 1000000;
}


//  --------------------------------------------------------------------------
//  Buffer helpers; a test double dies on out-of-memory


//  --------------------------------------------------------------------------
//  Append a JSON string literal, escaped, with its quotes


//  --------------------------------------------------------------------------
//  Command line parsing

static void
s_usage (void)
{
    printf ("usage: shic_stand_in [-m PATH] [-a NAME] [--host H] [--port P]\n"
            "       [llama-server flags] [--load-ms N] [--exit-before-ready C]\n"
            "       [--never-ready] [--hang-health] [--crash-after N]\n"
            "       [--health-status N] [--grandchild] [--term-exit C]\n"
            "       [--ready-file PATH] [--print-env NAME]\n"
            "A stand-in for llama-server, for tests; see the source banner.\n");
}

//  Parse a decimal integer in [min, max], or exit (1) naming the flag
static long
s_parse_long (const char *flag, const char *value, long min, long max)
{
    char *end = NULL;
    errno = 0;
    long number = strtol (value, &end, 10);
    if (errno || end == value || *end || number < min || number > max) {
        fprintf (stderr, "error: invalid value for %s: %s\n", flag, value);
        exit (1);
    }
    return number;
}

static char *
s_read_key_file (const char *path)
{
    FILE *file = fopen (path, "r");
    if (!file) {
        fprintf (stderr, "error: failed to open file '%s'\n", path);
        exit (1);
    }
    char line [1024] = "";
    if (!fgets (line, sizeof (line), file))
        line [0] = 0;
    fclose (file);
    line [strcspn (line, "\r\n")] = 0;
    return strdup (line);
}

static void
s_config_parse (config_t *self, int argc, char *argv [])
{
    self->host = "127.0.0.1";
    self->port = 8080;
    self->ctx_size = 4096;
    self->n_parallel = 1;
    self->api_prefix = "";
    self->timeout_s = 600;
    self->load_ms = 60;
    self->crash_after = -1;
    self->health_status = 200;
    self->term_exit = -1;

    //  Environment first, so that the command line wins
    const char *env;
    if ((env = getenv ("LLAMA_ARG_MODEL")))
        self->model = env;
    if ((env = getenv ("LLAMA_ARG_ALIAS")))
        self->alias = env;
    if ((env = getenv ("LLAMA_ARG_HOST")))
        self->host = env;
    if ((env = getenv ("LLAMA_ARG_PORT")))
        self->port = (int) s_parse_long ("LLAMA_ARG_PORT", env, 0, 65535);
    if ((env = getenv ("LLAMA_API_KEY")))
        self->api_key = strdup (env);

    for (int index = 1; index < argc; index++) {
        const char *flag = argv [index];
        //  Fetch the value of a flag that takes one
        #define VALUE() \
            (index + 1 < argc? argv [++index]: \
            (fprintf (stderr, "error: expected value for argument: %s\n", flag), \
             exit (1), (char *) NULL))
        #define IS(a) (strcmp (flag, (a)) == 0)

        if (IS ("-h") || IS ("--help")) {
            s_usage ();
            exit (0);
        }
        else
        if (IS ("--version")) {
            printf ("version: 0 (shic stand-in)\n");
            exit (0);
        }
        else
        if (IS ("-m") || IS ("--model"))
            self->model = VALUE ();
        else
        if (IS ("-a") || IS ("--alias"))
            self->alias = VALUE ();
        else
        if (IS ("--host"))
            self->host = VALUE ();
        else
        if (IS ("--port"))
            self->port = (int) s_parse_long (flag, VALUE (), 0, 65535);
        else
        if (IS ("-c") || IS ("--ctx-size"))
            self->ctx_size = (int) s_parse_long (flag, VALUE (), 0, INT_MAX);
        else
        if (IS ("-np") || IS ("--parallel")) {
            self->n_parallel = (int) s_parse_long (flag, VALUE (), -1, 4096);
            if (self->n_parallel < 1)
                self->n_parallel = 1;
        }
        else
        if (IS ("-ngl") || IS ("--n-gpu-layers") || IS ("--gpu-layers")
        ||  IS ("-t") || IS ("--threads")
        ||  IS ("-tb") || IS ("--threads-batch")
        ||  IS ("--threads-http"))
            s_parse_long (flag, VALUE (), -1, INT_MAX);
        else
        if (IS ("--pooling") || IS ("-dev") || IS ("--device"))
            VALUE ();
        else
        if (IS ("--embeddings") || IS ("--embedding") || IS ("--jinja")
        ||  IS ("--no-webui"))
            ;
        else
        if (IS ("--api-key")) {
            free (self->api_key);
            self->api_key = strdup (VALUE ());
        }
        else
        if (IS ("--api-key-file")) {
            free (self->api_key);
            self->api_key = s_read_key_file (VALUE ());
        }
        else
        if (IS ("--api-prefix"))
            self->api_prefix = VALUE ();
        else
        if (IS ("--metrics"))
            self->metrics = true;
        else
        if (IS ("--slots"))
            self->slots = true;
        else
        if (IS ("--no-slots"))
            self->slots = false;
        else
        if (IS ("--timeout") || IS ("-to"))
            self->timeout_s = (int) s_parse_long (flag, VALUE (), 1, INT_MAX / 1000);
        else
        if (IS ("--log-disable"))
            self->log_disable = true;
        else
        //  Stand-in flags
        if (IS ("--load-ms"))
            self->load_ms = (int) s_parse_long (flag, VALUE (), 0, INT_MAX);
        else
        if (IS ("--buffers-mib")) {
            const char *value = VALUE ();
            if (sscanf (value, "%lf,%lf,%lf", &self->buffers [0], &self->buffers [1],
                        &self->buffers [2]) != 3) {
                fprintf (stderr, "error: --buffers-mib wants M,K,C\n");
                exit (1);
            }
            self->buffers_set = true;
        }
        else
        if (IS ("--oom"))
            self->oom = true;
        else
        if (IS ("--exit-before-ready")) {
            const char *value = VALUE ();
            self->exit_before_ready = true;
            self->exit_code = strcmp (value, "abort") == 0
                            ? -1: (int) s_parse_long (flag, value, 0, 255);
        }
        else
        if (IS ("--never-ready"))
            self->never_ready = true;
        else
        if (IS ("--hang-health"))
            self->hang_health = true;
        else
        if (IS ("--crash-after"))
            self->crash_after = s_parse_long (flag, VALUE (), 0, LONG_MAX);
        else
        if (IS ("--health-status"))
            self->health_status = (int) s_parse_long (flag, VALUE (), 100, 599);
        else
        if (IS ("--grandchild"))
            self->grandchild = true;
        else
        if (IS ("--term-exit"))
            self->term_exit = (int) s_parse_long (flag, VALUE (), 0, 255);
        else
        if (IS ("--ready-file"))
            self->ready_file = VALUE ();
        else
        if (IS ("--print-env")) {
            const char *name = VALUE ();
            if (self->print_env_size < MAX_PRINT_ENV)
                self->print_env [self->print_env_size++] = name;
        }
        else
        if (IS ("--echo-after-ready")) {
            const char *text = VALUE ();
            if (self->echo_size < MAX_PRINT_ENV)
                self->echo [self->echo_size++] = text;
        }
        else {
            fprintf (stderr, "error: invalid argument: %s\n", flag);
            exit (1);
        }
        #undef VALUE
        #undef IS
    }
}

//  The id the model is served under: alias, else -m as passed
static const char *
s_model_id (config_t *config)
{
    if (config->alias)
        return config->alias;
    if (config->model)
        return config->model;
    return "stand-in-model";
}


//  --------------------------------------------------------------------------
//  Signals: once ready, SIGTERM/SIGINT go through the self-pipe

static void
s_signal_handler (int signum)
{
    int saved_errno = errno;
    if (s_signal_count++ > 0)
        _exit (1);                      //  Second signal during shutdown
    unsigned char byte = (unsigned char) signum;
    ssize_t rc = write (s_signal_pipe [1], &byte, 1);
    (void) rc;
    errno = saved_errno;
}

static void
s_install_signal_handlers (void)
{
    struct sigaction action;
    memset (&action, 0, sizeof (action));
    action.sa_handler = s_signal_handler;
    sigemptyset (&action.sa_mask);
    action.sa_flags = SA_RESTART;
    sigaction (SIGTERM, &action, NULL);
    sigaction (SIGINT, &action, NULL);
}

static void
s_set_nonblocking (int fd)
{
    int flags = fcntl (fd, F_GETFL, 0);
    fcntl (fd, F_SETFL, flags | O_NONBLOCK);
    fcntl (fd, F_SETFD, fcntl (fd, F_GETFD, 0) | FD_CLOEXEC);
}


//  --------------------------------------------------------------------------
//  Bind and listen, without SO_REUSEPORT so that a held port is detected.
//  Returns the socket, or -1.

static int
s_bind (config_t *config, int *port_p)
{
    char port_text [16];
    snprintf (port_text, sizeof (port_text), "%d", config->port);
    struct addrinfo hints, *result = NULL;
    memset (&hints, 0, sizeof (hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (getaddrinfo (config->host, port_text, &hints, &result) != 0 || !result)
        return -1;

    int fd = socket (result->ai_family, result->ai_socktype, result->ai_protocol);
    if (fd == -1) {
        freeaddrinfo (result);
        return -1;
    }
    int on = 1;
    setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof (on));
    if (bind (fd, result->ai_addr, result->ai_addrlen) == -1
    ||  listen (fd, 128) == -1) {
        close (fd);
        freeaddrinfo (result);
        return -1;
    }
    freeaddrinfo (result);

    struct sockaddr_storage address;
    socklen_t size = sizeof (address);
    if (getsockname (fd, (struct sockaddr *) &address, &size) == -1) {
        close (fd);
        return -1;
    }
    if (address.ss_family == AF_INET)
        *port_p = ntohs (((struct sockaddr_in *) &address)->sin_port);
    else
        *port_p = ntohs (((struct sockaddr_in6 *) &address)->sin6_port);
    s_set_nonblocking (fd);
    return fd;
}


//  --------------------------------------------------------------------------
//  Fork a grandchild that holds the listening socket (and stderr) and
//  sleeps until its process group is killed

static void
s_fork_grandchild (int listener)
{
    pid_t pid = fork ();
    if (pid == 0) {
        //  Keep the listener; drop the self-pipe we do not need
        (void) listener;
        close (s_signal_pipe [0]);
        close (s_signal_pipe [1]);
        signal (SIGTERM, SIG_DFL);
        signal (SIGINT, SIG_DFL);
        for (;;)
            pause ();
    }
    else
    if (pid > 0)
        s_log ("main: stand-in grandchild pid %d", (int) pid);
    else
        s_log ("main: stand-in could not fork grandchild: %s", strerror (errno));
}


//  --------------------------------------------------------------------------
//  Write the ready time atomically: temp file in the same place, rename

static void
s_write_ready_file (const char *path)
{
    size_t size = strlen (path) + 32;
    char *temp = malloc (size);
    if (!temp)
        return;
    snprintf (temp, size, "%s.tmp.%d", path, (int) getpid ());
    FILE *file = fopen (temp, "w");
    if (file) {
        fprintf (file, "%lld", (long long) s_now_ns ());
        if (fclose (file) == 0 && rename (temp, path) == 0) {
            free (temp);
            return;
        }
    }
    s_log ("main: stand-in could not write ready file %s: %s",
           path, strerror (errno));
    unlink (temp);
    free (temp);
}


//  --------------------------------------------------------------------------
//  Connections

static conn_t *
s_conn_new (int fd, const char *peer)
{
    conn_t *self = calloc (1, sizeof (conn_t));
    if (!self)
        return NULL;
    self->fd = fd;
    snprintf (self->peer, sizeof (self->peer), "%s", peer);
    self->last_active = s_now_ms ();
    return self;
}

static void
s_conn_destroy (conn_t **self_p)
{
    if (*self_p) {
        conn_t *self = *self_p;
        close (self->fd);
        buf_free (&self->in);
        buf_free (&self->out);
        free (self);
        *self_p = NULL;
    }
}

static bool
s_conn_pending (conn_t *self)
{
    return self->out_sent < self->out.size;
}

//  Send what the socket takes; returns -1 if the connection is dead
static int
s_conn_flush (conn_t *self)
{
    while (s_conn_pending (self)) {
        ssize_t rc = send (self->fd, self->out.data + self->out_sent,
                           self->out.size - self->out_sent, MSG_NOSIGNAL);
        if (rc > 0) {
            self->out_sent += (size_t) rc;
            self->last_active = s_now_ms ();
        }
        else
        if (rc == -1 && errno == EINTR)
            continue;
        else
        if (rc == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        else
            return -1;
    }
    self->out.size = 0;
    self->out_sent = 0;
    return 0;
}


//  --------------------------------------------------------------------------
//  Responses

static const char *
s_reason (int status)
{
    switch (status) {
        case 200: return "OK";
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 404: return "Not Found";
        case 413: return "Payload Too Large";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 501: return "Not Implemented";
        case 503: return "Service Unavailable";
        default:  return "Status";
    }
}

//  Queue one response and log it as llama-server does
static void
s_respond (server_t *self, conn_t *conn, const char *method, const char *path,
           int status, const char *content_type, const char *body, size_t body_size)
{
    buf_printf (&conn->out,
        "HTTP/1.1 %d %s\r\n"
        "Server: llama.cpp (shic stand-in)\r\n"
        "Access-Control-Allow-Origin: *\r\n"
        "Content-Type: %s\r\n"
        "Content-Length: %zu\r\n"
        "Connection: %s\r\n"
        "\r\n",
        status, s_reason (status), content_type, body_size,
        conn->close_after? "close": "keep-alive");
    buf_append (&conn->out, body, body_size);
    s_log ("srv  log_server_r: request: %s %s %s %d", method, path, conn->peer, status);
    if (self->ready)
        self->answered++;
}

static void
s_respond_json (server_t *self, conn_t *conn, const char *method,
                const char *path, int status, buf_t *body)
{
    s_respond (self, conn, method, path, status,
               "application/json; charset=utf-8", body->data, body->size);
}

static void
s_respond_error (server_t *self, conn_t *conn, const char *method,
                 const char *path, int status, const char *message, const char *type)
{
    buf_t body = { 0 };
    buf_printf (&body, "{\"error\":{\"code\":%d,\"message\":", status);
    buf_json_string (&body, message);
    buf_printf (&body, ",\"type\":\"%s\"}}", type);
    s_respond_json (self, conn, method, path, status, &body);
    buf_free (&body);
}


//  --------------------------------------------------------------------------
//  Route handlers

static void
s_handle_models (server_t *self, conn_t *conn, const char *method, const char *path)
{
    buf_t body = { 0 };
    buf_printf (&body, "{\"object\":\"list\",\"data\":[{\"id\":");
    buf_json_string (&body, s_model_id (self->config));
    buf_printf (&body,
        ",\"object\":\"model\",\"created\":%lld,\"owned_by\":\"llamacpp\","
        "\"meta\":{\"vocab_type\":1,\"n_vocab\":32000,\"n_ctx_train\":512,"
        "\"n_embd\":64,\"n_params\":4200000,\"size\":9437184}}]}",
        (long long) time (NULL));
    s_respond_json (self, conn, method, path, 200, &body);
    buf_free (&body);
}

//  Per-slot context: the context is split between the slots
static int
s_slot_ctx (config_t *config)
{
    int n_ctx = config->ctx_size? config->ctx_size: 512;
    return n_ctx / config->n_parallel;
}

static void
s_handle_props (server_t *self, conn_t *conn, const char *method, const char *path)
{
    config_t *config = self->config;
    buf_t body = { 0 };
    buf_printf (&body,
        "{\"default_generation_settings\":{\"n_ctx\":%d,\"params\":{}},"
        "\"total_slots\":%d,\"model_path\":",
        s_slot_ctx (config), config->n_parallel);
    buf_json_string (&body, config->model? config->model: "");
    buf_printf (&body, ",\"build_info\":\"b0-shic-stand-in\"}");
    s_respond_json (self, conn, method, path, 200, &body);
    buf_free (&body);
}

static void
s_handle_slots (server_t *self, conn_t *conn, const char *method, const char *path)
{
    buf_t body = { 0 };
    buf_printf (&body, "[");
    for (int slot = 0; slot < self->config->n_parallel; slot++)
        buf_printf (&body, "%s{\"id\":%d,\"id_task\":-1,\"n_ctx\":%d,"
                      "\"is_processing\":false}",
                      slot? ",": "", slot, s_slot_ctx (self->config));
    buf_printf (&body, "]");
    s_respond_json (self, conn, method, path, 200, &body);
    buf_free (&body);
}

static void
s_handle_metrics (server_t *self, conn_t *conn, const char *method, const char *path)
{
    buf_t body = { 0 };
    buf_printf (&body,
        "# HELP llamacpp:prompt_tokens_total Number of prompt tokens processed.\n"
        "# TYPE llamacpp:prompt_tokens_total counter\n"
        "llamacpp:prompt_tokens_total %ld\n"
        "# HELP llamacpp:requests_processing Number of requests processing.\n"
        "# TYPE llamacpp:requests_processing gauge\n"
        "llamacpp:requests_processing 0\n",
        self->chat_seq * 8);
    s_respond (self, conn, method, path, 200,
               "text/plain; version=0.0.4", body.data, body.size);
    buf_free (&body);
}

//  A body is "JSON" here if it is an object; enough for a canned reply
static bool
s_looks_like_json (const char *body, size_t size)
{
    size_t start = 0, end = size;
    while (start < end && strchr (" \t\r\n", body [start]))
        start++;
    while (end > start && strchr (" \t\r\n", body [end - 1]))
        end--;
    return end - start >= 2 && body [start] == '{' && body [end - 1] == '}';
}

static void
s_handle_chat (server_t *self, conn_t *conn, const char *method,
               const char *path, const char *body, size_t body_size)
{
    if (!s_looks_like_json (body, body_size)) {
        s_respond_error (self, conn, method, path, 500,
                         "[json.exception.parse_error.101] parse error: "
                         "syntax error while parsing value", "server_error");
        return;
    }
    //  The body is a NUL-terminated copy, so strstr is safe
    bool stream = strstr (body, "\"stream\":true")
               || strstr (body, "\"stream\": true");
    long long created = (long long) time (NULL);
    long id = ++self->chat_seq;
    buf_t reply = { 0 };
    if (stream) {
        const char *pieces [2] = { "Hello from", " the stand-in." };
        for (int index = 0; index < 2; index++) {
            buf_printf (&reply,
                "data: {\"id\":\"chatcmpl-standin-%ld\",\"object\":"
                "\"chat.completion.chunk\",\"created\":%lld,\"model\":",
                id, created);
            buf_json_string (&reply, s_model_id (self->config));
            buf_printf (&reply,
                ",\"system_fingerprint\":\"b0-shic-stand-in\",\"choices\":"
                "[{\"index\":0,\"delta\":{%s\"content\":\"%s\"},"
                "\"finish_reason\":%s}]}\n\n",
                index == 0? "\"role\":\"assistant\",": "", pieces [index],
                index == 1? "\"stop\"": "null");
        }
        buf_printf (&reply, "data: [DONE]\n\n");
        s_respond (self, conn, method, path, 200,
                   "text/event-stream", reply.data, reply.size);
    }
    else {
        buf_printf (&reply,
            "{\"id\":\"chatcmpl-standin-%ld\",\"object\":\"chat.completion\","
            "\"created\":%lld,\"model\":", id, created);
        buf_json_string (&reply, s_model_id (self->config));
        buf_printf (&reply,
            ",\"system_fingerprint\":\"b0-shic-stand-in\",\"choices\":[{"
            "\"index\":0,\"message\":{\"role\":\"assistant\","
            "\"content\":\"Hello from the stand-in.\"},\"finish_reason\":\"stop\"}],"
            "\"usage\":{\"prompt_tokens\":8,\"completion_tokens\":6,"
            "\"total_tokens\":14}}");
        s_respond_json (self, conn, method, path, 200, &reply);
    }
    buf_free (&reply);
}


//  --------------------------------------------------------------------------
//  Route one parsed request

static void
s_handle_request (server_t *self, conn_t *conn, const char *method,
                  const char *target, const char *authorization,
                  const char *body, size_t body_size)
{
    config_t *config = self->config;

    //  Route on the path without query string, under the api prefix
    char path [1024];
    snprintf (path, sizeof (path), "%s", target);
    path [strcspn (path, "?#")] = 0;
    const char *route = path;
    size_t prefix_size = strlen (config->api_prefix);
    if (prefix_size) {
        if (strncmp (path, config->api_prefix, prefix_size) == 0
        &&  path [prefix_size] == '/')
            route = path + prefix_size;
        else
            route = "";                 //  Outside the prefix: not found
    }
    bool get = strcmp (method, "GET") == 0;
    bool post = strcmp (method, "POST") == 0;

    if (!self->ready) {
        s_respond_error (self, conn, method, target, 503,
                         "Loading model", "unavailable_error");
        return;
    }
    bool is_health = get && (strcmp (route, "/health") == 0
                          || strcmp (route, "/v1/health") == 0);
    bool is_models = get && (strcmp (route, "/models") == 0
                          || strcmp (route, "/v1/models") == 0);
    if (is_health) {
        if (config->hang_health)
            conn->hung = true;          //  Read, never answered
        else
        if (config->health_status == 200 || !s_health_ok_sent) {
            //  The first check after ready passes, so a client sees the
            //  server become ready and then degrade
            s_health_ok_sent = true;
            const char *ok = "{\"status\":\"ok\"}";
            s_respond (self, conn, method, target, 200,
                       "application/json; charset=utf-8", ok, strlen (ok));
        }
        else
            s_respond_error (self, conn, method, target, config->health_status,
                             "Stand-in health status", "unavailable_error");
        return;
    }
    if (is_models) {
        s_handle_models (self, conn, method, target);
        return;
    }
    //  Every other route needs the key, when there is one
    if (config->api_key) {
        bool valid = false;
        if (authorization && strncmp (authorization, "Bearer ", 7) == 0)
            valid = strcmp (authorization + 7, config->api_key) == 0;
        if (!valid) {
            s_respond_error (self, conn, method, target, 401,
                             "Invalid API Key", "authentication_error");
            return;
        }
    }
    if (post && (strcmp (route, "/v1/chat/completions") == 0
              || strcmp (route, "/chat/completions") == 0))
        s_handle_chat (self, conn, method, target, body, body_size);
    else
    if (get && strcmp (route, "/props") == 0)
        s_handle_props (self, conn, method, target);
    else
    if (get && strcmp (route, "/slots") == 0) {
        if (config->slots)
            s_handle_slots (self, conn, method, target);
        else
            s_respond_error (self, conn, method, target, 501,
                             "This server does not support slots endpoint. "
                             "Start it with `--slots`", "not_supported_error");
    }
    else
    if (get && strcmp (route, "/metrics") == 0) {
        if (config->metrics)
            s_handle_metrics (self, conn, method, target);
        else
            s_respond_error (self, conn, method, target, 501,
                             "This server does not support metrics endpoint. "
                             "Start it with `--metrics`", "not_supported_error");
    }
    else
        s_respond_error (self, conn, method, target, 404,
                         "File Not Found", "not_found_error");
}


//  --------------------------------------------------------------------------
//  Find needle in the first size bytes of haystack; returns offset or -1

static long
s_find (const char *haystack, size_t size, const char *needle)
{
    size_t needle_size = strlen (needle);
    for (size_t offset = 0; offset + needle_size <= size; offset++)
        if (memcmp (haystack + offset, needle, needle_size) == 0)
            return (long) offset;
    return -1;
}

//  Does a comma-separated header value contain this token?
static bool
s_has_token (const char *value, const char *token)
{
    size_t token_size = strlen (token);
    const char *scan = value;
    while (*scan) {
        while (*scan == ' ' || *scan == ',')
            scan++;
        size_t size = strcspn (scan, ", ");
        if (size == token_size && strncasecmp (scan, token, size) == 0)
            return true;
        scan += size;
    }
    return false;
}


//  --------------------------------------------------------------------------
//  Handle every complete request in the connection's input (pipelining)

static void
s_conn_process (server_t *self, conn_t *conn)
{
    while (!conn->hung && !conn->close_after) {
        long header_end = s_find (conn->in.data, conn->in.size, "\r\n\r\n");
        if (header_end < 0) {
            if (conn->in.size > MAX_HEADER) {
                conn->close_after = true;
                s_respond_error (self, conn, "-", "-", 431,
                                 "Request headers too large", "invalid_request_error");
            }
            return;
        }
        size_t header_size = (size_t) header_end + 4;
        //  Parse a copy of the head, so the input buffer stays intact
        char *head = strndup (conn->in.data, (size_t) header_end);
        if (!head)
            return;
        char *save = NULL;
        char *request_line = strtok_r (head, "\r\n", &save);
        char *method = NULL, *target = NULL, *version = NULL;
        char *word_save = NULL;
        if (request_line) {
            method = strtok_r (request_line, " ", &word_save);
            target = method? strtok_r (NULL, " ", &word_save): NULL;
            version = target? strtok_r (NULL, " ", &word_save): NULL;
        }
        if (!method || !target || !version || strncmp (version, "HTTP/1.", 7)) {
            conn->close_after = true;
            s_respond_error (self, conn, method? method: "-", target? target: "-",
                             400, "Bad request line", "invalid_request_error");
            free (head);
            return;
        }
        bool http10 = strcmp (version, "HTTP/1.0") == 0;
        bool keep_alive = !http10;
        bool chunked = false;
        bool bad_length = false;
        size_t content_length = 0;
        const char *authorization = NULL;
        char *line, *value;
        while ((line = strtok_r (NULL, "\r\n", &save))) {
            if ((value = header_value (line, "Content-Length"))) {
                char *end = NULL;
                errno = 0;
                unsigned long long number = strtoull (value, &end, 10);
                if (errno || end == value || *end || *value == '-')
                    bad_length = true;
                else
                    content_length = number > MAX_BODY + 1ULL
                                   ? MAX_BODY + 1: (size_t) number;
            }
            else
            if ((value = header_value (line, "Connection"))) {
                if (s_has_token (value, "close"))
                    keep_alive = false;
                else
                if (s_has_token (value, "keep-alive"))
                    keep_alive = true;
            }
            else
            if ((value = header_value (line, "Transfer-Encoding")))
                chunked = true;
            else
            if ((value = header_value (line, "Authorization")))
                authorization = value;
        }
        if (bad_length || chunked || content_length > MAX_BODY) {
            conn->close_after = true;
            s_respond_error (self, conn, method, target,
                             content_length > MAX_BODY? 413: 400,
                             chunked? "Chunked request bodies are not supported"
                                    : "Bad Content-Length",
                             "invalid_request_error");
            free (head);
            return;
        }
        if (conn->in.size < header_size + content_length) {
            free (head);
            return;                     //  Wait for the rest of the body
        }
        char *body = strndup (conn->in.data + header_size, content_length);
        if (!body) {
            free (head);
            return;
        }
        if (!keep_alive)
            conn->close_after = true;
        s_handle_request (self, conn, method, target, authorization,
                          body, content_length);
        free (body);
        free (head);
        buf_consume (&conn->in, header_size + content_length);
    }
    if (conn->hung)
        conn->in.size = 0;              //  Swallow whatever comes
}


//  --------------------------------------------------------------------------
//  Accept what is waiting on the listener

static void
s_accept (server_t *self)
{
    while (self->conns_size < MAX_CONNS) {
        struct sockaddr_storage address;
        socklen_t size = sizeof (address);
        int fd = accept (self->listener, (struct sockaddr *) &address, &size);
        if (fd == -1)
            return;                     //  EAGAIN, or a transient error
        s_set_nonblocking (fd);
        char peer [INET6_ADDRSTRLEN] = "-";
        if (address.ss_family == AF_INET)
            inet_ntop (AF_INET, &((struct sockaddr_in *) &address)->sin_addr,
                       peer, sizeof (peer));
        else
        if (address.ss_family == AF_INET6)
            inet_ntop (AF_INET6, &((struct sockaddr_in6 *) &address)->sin6_addr,
                       peer, sizeof (peer));
        conn_t *conn = s_conn_new (fd, peer);
        if (!conn) {
            close (fd);
            return;
        }
        self->conns [self->conns_size++] = conn;
    }
}

//  Read from a connection; returns -1 when it should be closed
static int
s_conn_read (server_t *self, conn_t *conn)
{
    char chunk [16384];
    for (;;) {
        ssize_t rc = recv (conn->fd, chunk, sizeof (chunk), 0);
        if (rc > 0) {
            conn->last_active = s_now_ms ();
            if (!conn->hung && conn->in.size < MAX_HEADER + MAX_BODY + 4096)
                buf_append (&conn->in, chunk, (size_t) rc);
        }
        else
        if (rc == 0)
            return -1;                  //  Peer closed
        else
        if (errno == EINTR)
            continue;
        else
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            break;
        else
            return -1;
    }
    s_conn_process (self, conn);
    return 0;
}

static void
s_remove_conn (server_t *self, int index)
{
    s_conn_destroy (&self->conns [index]);
    self->conns [index] = self->conns [--self->conns_size];
    self->conns [self->conns_size] = NULL;
}


//  --------------------------------------------------------------------------
//  Loading ends: fail, or become ready

static void
s_finish_loading (server_t *self)
{
    config_t *config = self->config;
    if (config->buffers_set) {
        s_log ("load_tensors:   CPU_Mapped model buffer size = %8.2f MiB", config->buffers [0]);
        s_log ("llama_kv_cache_init:        CPU KV buffer size = %8.2f MiB", config->buffers [1]);
        s_log ("llama_init_from_model:        CPU compute buffer size = %8.2f MiB",
               config->buffers [2]);
    }
    if (config->oom) {
        s_log ("ggml_backend_cpu_buffer_type_alloc_buffer: failed to allocate buffer of size "
               "%.0f", (config->buffers_set? config->buffers [2]: 1024.0) * 1048576.0);
        s_log ("llama_init_from_model: failed to allocate compute buffers");
        s_log ("main: exiting due to model loading error");
        exit (1);
    }
    if (config->exit_before_ready) {
        s_log ("llama_model_load: error loading model: stand-in failure");
        s_log ("main: exiting due to model loading error");
        if (config->exit_code < 0)
            abort ();
        exit (config->exit_code);
    }
    s_log ("main: model loaded");
    self->ready = true;
    s_install_signal_handlers ();
    if (config->ready_file)
        s_write_ready_file (config->ready_file);
    s_log ("main: server is listening on http://%s:%d - starting the main loop",
           config->host, self->port);
    for (int index = 0; index < config->echo_size; index++)
        s_log ("%s", config->echo [index]);
}

static void
s_shutdown (server_t *self)
{
    s_log ("cleaning up before exit...");
    s_log ("terminate called without an active exception");
    if (self->config->term_exit >= 0)
        exit (self->config->term_exit);
    abort ();
}


//  --------------------------------------------------------------------------
//  The poll loop

static void
s_server_run (server_t *self)
{
    config_t *config = self->config;
    struct pollfd items [MAX_CONNS + 2];
    while (true) {
        int64_t now = s_now_ms ();
        if (!self->ready && !config->never_ready && now >= self->ready_at)
            s_finish_loading (self);

        //  Crash once N answers after ready are fully sent
        if (config->crash_after >= 0 && self->ready
        &&  self->answered >= config->crash_after) {
            bool pending = false;
            for (int index = 0; index < self->conns_size; index++)
                pending |= s_conn_pending (self->conns [index]);
            if (!pending) {
                s_log ("stand-in: crashing after %ld requests", self->answered);
                abort ();
            }
        }
        //  Close connections idle for longer than --timeout
        for (int index = self->conns_size - 1; index >= 0; index--)
            if (now - self->conns [index]->last_active
                > (int64_t) config->timeout_s * 1000)
                s_remove_conn (self, index);

        int timeout = self->conns_size? 1000: -1;
        if (!self->ready && !config->never_ready) {
            int64_t left = self->ready_at - now;
            if (timeout < 0 || left < timeout)
                timeout = (int) (left < 0? 0: left);
        }
        items [0].fd = s_signal_pipe [0];
        items [0].events = POLLIN;
        items [1].fd = self->conns_size < MAX_CONNS? self->listener: -1;
        items [1].events = POLLIN;
        for (int index = 0; index < self->conns_size; index++) {
            items [index + 2].fd = self->conns [index]->fd;
            items [index + 2].events = POLLIN
                | (s_conn_pending (self->conns [index])? POLLOUT: 0);
        }
        int nfds = self->conns_size + 2;
        int rc = poll (items, (nfds_t) nfds, timeout);
        if (rc == -1 && errno != EINTR) {
            s_log ("stand-in: poll failed: %s", strerror (errno));
            exit (1);
        }
        if (rc <= 0)
            continue;
        if (items [0].revents & POLLIN)
            s_shutdown (self);

        //  Walk connections backwards: removal swaps in the last one,
        //  which new accepts below have not yet added
        for (int index = nfds - 3; index >= 0; index--) {
            conn_t *conn = self->conns [index];
            short revents = items [index + 2].revents;
            bool dead = false;
            if (revents & (POLLIN | POLLHUP | POLLERR))
                dead = s_conn_read (self, conn) == -1;
            if (!dead)
                dead = s_conn_flush (conn) == -1;
            if (!dead && conn->close_after && !s_conn_pending (conn))
                dead = true;
            if (dead)
                s_remove_conn (self, index);
        }
        if (items [1].revents & POLLIN)
            s_accept (self);
    }
}


//  --------------------------------------------------------------------------

int
main (int argc, char *argv [])
{
    config_t config;
    memset (&config, 0, sizeof (config));
    s_config_parse (&config, argc, argv);
    s_log_disabled = config.log_disable;

    //  abort () is an expected way to die here: leave no core files
    struct rlimit no_core = { 0, 0 };
    setrlimit (RLIMIT_CORE, &no_core);
    signal (SIGPIPE, SIG_IGN);

    for (int index = 0; index < config.print_env_size; index++) {
        const char *value = getenv (config.print_env [index]);
        if (value)
            s_log ("env %s=%s", config.print_env [index], value);
        else
            s_log ("env %s (unset)", config.print_env [index]);
    }
    if (pipe (s_signal_pipe) == -1) {
        s_log ("stand-in: pipe failed: %s", strerror (errno));
        return 1;
    }
    s_set_nonblocking (s_signal_pipe [0]);
    s_set_nonblocking (s_signal_pipe [1]);

    server_t server;
    memset (&server, 0, sizeof (server));
    server.config = &config;
    server.listener = s_bind (&config, &server.port);
    if (server.listener == -1) {
        s_log ("main: couldn't bind HTTP server socket, hostname: %s, port: %d",
               config.host, config.port);
        return 1;
    }
    s_log ("main: HTTP server is listening, hostname: %s, port: %d, http threads: 1",
           config.host, server.port);
    if (config.grandchild)
        s_fork_grandchild (server.listener);
    s_log ("main: loading model");
    server.ready_at = s_now_ms () + config.load_ms;
    s_server_run (&server);
    return 0;
}
