/*  =========================================================================
    shic_stand_in_ollama - a stand-in for an Ollama daemon, for tests

    A test double that follows shared/reference/ollama-api.md: installed
    and loaded models, names always carried with their tag in /api/tags
    and /api/ps, 404 for unknown models, an optional header that a proxy
    in front of Ollama would require, pulls with streamed progress, and
    loads and unloads through /api/generate's keep_alive. It depends on
    libc (POSIX) only and serves HTTP/1.1 from one poll () loop. To make
    the daemon unreachable a test kills it, and starts another on the same
    port (--port N) to bring it back.
    =========================================================================
*/

/*
@header
    Usage: shic_stand_in_ollama [flags]
        --host H                address to bind (default 127.0.0.1)
        --port N                port to bind (0 = ephemeral; default 11434)
        --model NAME            an installed model (repeatable)
        --loaded NAME           an installed and loaded model (repeatable)
        --pullable NAME         a model /api/pull can install (repeatable)
        --require-header "Name: value"
                                401 on every route without it
        --header-log PATH       append "METHOD PATH VALUE" per request, VALUE
                                being the required header's value as sent
                                ("-" when absent), flushed at once
        --version V             what /api/version says (0.0.0-stand-in)
        --pull-ms N             a streamed /api/pull takes N ms: its lines
                                are sent one by one as chunks, spread over
                                that time (as Ollama does while it
                                downloads), the model installed at the end
                                (default 0: the whole answer at once)
        --pull-steps N          progress lines of a pull (default 4)
    Prints "ollama stand-in listening on port N" on stderr once bound.

    Routes: GET / and HEAD /, GET /api/version, GET /api/tags, GET /api/ps,
    POST /api/show, POST /api/pull, POST /api/generate, DELETE /api/delete,
    GET /v1/models, POST /v1/chat/completions.
@discuss
    Request bodies are read with a shallow scan for top-level string,
    number and boolean fields ("model", "name", "keep_alive", "stream"),
    enough for the requests the backend sends.
@end
*/

#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
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
#include <unistd.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <netinet/in.h>
#include "shic_stand_in_util.h"

#define MAX_CONNS       64              //  Beyond this, accept () waits
#define MAX_MODELS      64
#define MAX_HEADER      (64 * 1024)
#define MAX_BODY        (1024 * 1024)

//  One model the daemon knows
typedef struct {
    char *name;                         //  With its tag
    bool installed;                     //  In /api/tags
    bool loaded;                        //  In /api/ps
    bool pullable;                      //  /api/pull can install it
} model_t;

//  One client connection
typedef struct {
    int fd;                             //  Connected socket
    buf_t in;                           //  Received, not yet handled
    buf_t out;                          //  Response bytes not yet sent
    size_t out_sent;                    //  Bytes of out already sent
    bool close_after;                   //  Close once out is sent
    bool head;                          //  Answering a HEAD: no body
    //  A streamed answer (chunked), one line at a time
    char **lines;                       //  Its lines, or NULL when none streams
    int lines_size;                     //  Lines in it
    int lines_next;                     //  The next line to send
    long long line_due;                 //  When the next one is due (ms)
    long long line_gap;                 //  Time between two lines (ms)
    model_t *installs;                  //  Installed once the stream ends
} conn_t;

//  The daemon
typedef struct {
    const char *host;                   //  Address to bind
    int port;                           //  Port to bind, then bound
    const char *version;                //  /api/version answer
    char *required_name;                //  Required header name, or NULL
    char *required_value;               //  ... and its value
    const char *header_log;             //  Request log path, or NULL
    model_t models [MAX_MODELS];        //  Known models
    int models_size;                    //  Entries in models
    conn_t *conns [MAX_CONNS];          //  Open connections
    int conns_size;                     //  Entries in conns
    long chat_seq;                      //  Chat completion ids
    long long pull_ms;                  //  How long a streamed pull takes
    int pull_steps;                     //  Progress lines of a pull
} server_t;


//  --------------------------------------------------------------------------
//  Buffers; a test double dies on out-of-memory


//  --------------------------------------------------------------------------
//  Model names: "x" means "x:latest"

static char *
s_tagged (const char *name)
{
    const char *slash = strrchr (name, '/');
    size_t size = strlen (name) + 8;
    char *tagged = malloc (size);
    if (!tagged)
        exit (1);
    snprintf (tagged, size, strchr (slash? slash: name, ':')? "%s": "%s:latest", name);
    return tagged;
}

static model_t *
s_model (server_t *self, const char *name, bool create)
{
    char *tagged = s_tagged (name);
    model_t *found = NULL;
    for (int i = 0; i < self->models_size && !found; i++)
        if (strcasecmp (self->models [i].name, tagged) == 0)
            found = &self->models [i];
    if (!found && create && self->models_size < MAX_MODELS) {
        found = &self->models [self->models_size++];
        memset (found, 0, sizeof (*found));
        found->name = tagged;
        tagged = NULL;
    }
    free (tagged);
    return found;
}


//  --------------------------------------------------------------------------
//  Shallow JSON field scan: the value of a top-level "key" as a fresh
//  string (strings unescaped, other scalars as written), or NULL

static char *
s_json_field (const char *body, const char *key)
{
    size_t key_size = strlen (key);
    int depth = 0;
    bool in_string = false;
    for (const char *at = body; *at; at++) {
        if (in_string) {
            if (*at == '\\' && at [1])
                at++;
            else
            if (*at == '"')
                in_string = false;
            continue;
        }
        if (*at == '{' || *at == '[')
            depth++;
        else
        if (*at == '}' || *at == ']')
            depth--;
        else
        if (*at == '"') {
            if (depth == 1 && strncmp (at + 1, key, key_size) == 0 && at [key_size + 1] == '"') {
                const char *value = at + key_size + 2;
                while (isspace ((unsigned char) *value))
                    value++;
                if (*value != ':')
                    return NULL;
                value++;
                while (isspace ((unsigned char) *value))
                    value++;
                buf_t out = { 0 };
                if (*value == '"') {
                    for (value++; *value && *value != '"'; value++) {
                        if (*value == '\\' && value [1])
                            value++;
                        buf_append (&out, value, 1);
                    }
                }
                else {
                    size_t size = strcspn (value, ",} \t\r\n");
                    buf_append (&out, value, size);
                }
                if (!out.data)
                    buf_append (&out, "", 0);
                return out.data;
            }
            in_string = true;
        }
    }
    return NULL;
}

//  The model a request names ("model", else the older "name")
static char *
s_request_model (const char *body)
{
    char *model = s_json_field (body, "model");
    if (!model || !*model) {
        free (model);
        model = s_json_field (body, "name");
    }
    return model;
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
        case 405: return "Method Not Allowed";
        case 413: return "Payload Too Large";
        default:  return "Status";
    }
}

static void
s_respond (conn_t *conn, int status, const char *content_type, const char *body, size_t size)
{
    buf_printf (&conn->out,
        "HTTP/1.1 %d %s\r\n"
        "Content-Type: %s\r\n"
        "Content-Length: %zu\r\n"
        "Connection: %s\r\n"
        "\r\n",
        status, s_reason (status), content_type, size,
        conn->close_after? "close": "keep-alive");
    if (!conn->head)
        buf_append (&conn->out, body, size);
}

static void
s_respond_json (conn_t *conn, int status, buf_t *body)
{
    s_respond (conn, status, "application/json; charset=utf-8", body->data? body->data: "",
               body->size);
}

//  {"error": text}
static void
s_respond_error (conn_t *conn, int status, const char *format, ...)
{
    char text [512];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof (text), format, args);
    va_end (args);
    buf_t body = { 0 };
    buf_append (&body, "{\"error\":", 9);
    buf_json_string (&body, text);
    buf_append (&body, "}", 1);
    s_respond_json (conn, status, &body);
    buf_free (&body);
}

//  One model entry of /api/tags or /api/ps
static void
s_model_entry (buf_t *out, model_t *model, bool running)
{
    buf_append (out, "{\"name\":", 8);
    buf_json_string (out, model->name);
    buf_append (out, ",\"model\":", 9);
    buf_json_string (out, model->name);
    buf_printf (out, ",\"size\":2019393189,\"digest\":\"a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72\","
                  "\"details\":{\"parent_model\":\"\",\"format\":\"gguf\",\"family\":\"llama\","
                  "\"families\":[\"llama\"],\"parameter_size\":\"3.2B\",\"quantization_level\":\"Q4_K_M\"}");
    if (running)
        buf_printf (out, ",\"expires_at\":\"2099-01-01T00:00:00Z\",\"size_vram\":2019393189,"
                      "\"context_length\":4096}");
    else
        buf_printf (out, ",\"modified_at\":\"2025-01-01T00:00:00Z\"}");
}

static void
s_handle_list (server_t *self, conn_t *conn, bool running)
{
    buf_t body = { 0 };
    buf_append (&body, "{\"models\":[", 11);
    bool first = true;
    for (int i = 0; i < self->models_size; i++) {
        model_t *model = &self->models [i];
        if (!model->installed || (running && !model->loaded))
            continue;
        if (!first)
            buf_append (&body, ",", 1);
        first = false;
        s_model_entry (&body, model, running);
    }
    buf_append (&body, "]}", 2);
    s_respond_json (conn, 200, &body);
    buf_free (&body);
}

static void
s_handle_show (server_t *self, conn_t *conn, const char *request)
{
    char *name = s_request_model (request);
    model_t *model = name? s_model (self, name, false): NULL;
    if (!model || !model->installed)
        s_respond_error (conn, 404, "model '%s' not found", name? name: "");
    else {
        buf_t body = { 0 };
        buf_printf (&body,
            "{\"license\":\"stand-in\",\"modelfile\":\"FROM stand-in\",\"parameters\":\"\","
            "\"template\":\"{{ .Prompt }}\",\"details\":{\"parent_model\":\"\",\"format\":\"gguf\","
            "\"family\":\"llama\",\"families\":[\"llama\"],\"parameter_size\":\"3.2B\","
            "\"quantization_level\":\"Q4_K_M\"},\"model_info\":{\"general.architecture\":\"llama\","
            "\"llama.context_length\":131072},\"capabilities\":[\"completion\",\"tools\"],"
            "\"modified_at\":\"2025-01-01T00:00:00Z\"}");
        s_respond_json (conn, 200, &body);
        buf_free (&body);
    }
    free (name);
}

//  Monotonic milliseconds
static long long
s_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (long long) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

//  Starts a streamed answer: the head now, the lines of body (one each,
//  ending in \n) as chunks spread over self->pull_ms
static void
s_stream_start (server_t *self, conn_t *conn, buf_t *body, model_t *installs)
{
    buf_printf (&conn->out,
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: application/x-ndjson\r\n"
        "Transfer-Encoding: chunked\r\n"
        "Connection: %s\r\n"
        "\r\n", conn->close_after? "close": "keep-alive");
    int count = 0;
    for (size_t i = 0; i < body->size; i++)
        count += body->data [i] == '\n';
    conn->lines = calloc ((size_t) count + 1, sizeof (char *));
    if (!conn->lines)
        exit (1);
    char *save = NULL;
    for (char *line = strtok_r (body->data, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
        if (!(conn->lines [conn->lines_size++] = strdup (line)))
            exit (1);
    conn->lines_next = 0;
    conn->line_gap = conn->lines_size > 1? self->pull_ms / (conn->lines_size - 1): 0;
    conn->line_due = s_now_ms ();
    conn->installs = installs;
}

//  Sends the lines of a streamed answer that are due; the ms until the
//  next one, or -1 when none streams
static long long
s_stream_send (conn_t *conn, long long now)
{
    while (conn->lines && conn->line_due <= now) {
        char *line = conn->lines [conn->lines_next++];
        buf_printf (&conn->out, "%zx\r\n%s\n\r\n", strlen (line) + 1, line);
        conn->line_due += conn->line_gap;
        if (conn->lines_next == conn->lines_size) {
            buf_printf (&conn->out, "0\r\n\r\n");
            if (conn->installs)
                conn->installs->installed = true;
            for (int i = 0; i < conn->lines_size; i++)
                free (conn->lines [i]);
            free (conn->lines);
            conn->lines = NULL;
            conn->lines_size = conn->lines_next = 0;
            conn->installs = NULL;
        }
    }
    return conn->lines? conn->line_due - now: -1;
}

//  Streams (as one ndjson body) a few progress lines, then success; over
//  pull_ms when set, a line at a time
static void
s_handle_pull (server_t *self, conn_t *conn, const char *request)
{
    char *name = s_request_model (request);
    char *stream = s_json_field (request, "stream");
    bool streaming = !stream || strcmp (stream, "false") != 0;
    model_t *model = name? s_model (self, name, false): NULL;
    buf_t body = { 0 };
    if (!model || !(model->pullable || model->installed)) {
        if (streaming) {
            buf_printf (&body, "{\"status\":\"pulling manifest\"}\n"
                                 "{\"error\":\"pull model manifest: file does not exist\"}\n");
            s_respond (conn, 200, "application/x-ndjson", body.data, body.size);
        }
        else
            s_respond_error (conn, 500, "pull model manifest: file does not exist");
    }
    else {
        const long total = 2019393189;
        const int steps = self->pull_steps;
        if (streaming) {
            buf_printf (&body, "{\"status\":\"pulling manifest\"}\n");
            for (int step = 0; step <= steps; step++)
                buf_printf (&body, "{\"status\":\"pulling a80c4f17acd5\",\"digest\":\"sha256:a80c4f17\","
                              "\"total\":%ld,\"completed\":%ld}\n", total, total / steps * step
                              + (step == steps? total % steps: 0));
            buf_printf (&body, "{\"status\":\"verifying sha256 digest\"}\n"
                                 "{\"status\":\"writing manifest\"}\n"
                                 "{\"status\":\"success\"}\n");
            if (self->pull_ms > 0 && !conn->head) {
                s_stream_start (self, conn, &body, model);
                model = NULL;       //  installed when the stream ends
            }
            else
                s_respond (conn, 200, "application/x-ndjson", body.data, body.size);
        }
        else {
            buf_printf (&body, "{\"status\":\"success\"}");
            s_respond_json (conn, 200, &body);
        }
        if (model)
            model->installed = true;
    }
    buf_free (&body);
    free (stream);
    free (name);
}

//  keep_alive 0 unloads; anything else (or nothing) loads
static void
s_handle_generate (server_t *self, conn_t *conn, const char *request)
{
    char *name = s_request_model (request);
    char *keep_alive = s_json_field (request, "keep_alive");
    model_t *model = name? s_model (self, name, false): NULL;
    if (!model || !model->installed)
        s_respond_error (conn, 404, "model '%s' not found", name? name: "");
    else {
        bool unload = keep_alive && (strcmp (keep_alive, "0") == 0 || strcmp (keep_alive, "0s") == 0);
        model->loaded = !unload;
        buf_t body = { 0 };
        buf_append (&body, "{\"model\":", 9);
        buf_json_string (&body, name);
        buf_printf (&body, ",\"created_at\":\"2025-01-01T00:00:00Z\",\"response\":\"\","
                      "\"done\":true,\"done_reason\":\"%s\"}", unload? "unload": "load");
        s_respond_json (conn, 200, &body);
        buf_free (&body);
    }
    free (keep_alive);
    free (name);
}

static void
s_handle_delete (server_t *self, conn_t *conn, const char *request)
{
    char *name = s_request_model (request);
    model_t *model = name? s_model (self, name, false): NULL;
    if (!model || !model->installed)
        s_respond_error (conn, 404, "model '%s' not found", name? name: "");
    else {
        model->installed = false;
        model->loaded = false;
        s_respond (conn, 200, "application/json; charset=utf-8", "", 0);
    }
    free (name);
}

static void
s_handle_chat (server_t *self, conn_t *conn, const char *request)
{
    char *name = s_request_model (request);
    model_t *model = name? s_model (self, name, false): NULL;
    if (!model || !model->installed) {
        buf_t body = { 0 };
        buf_printf (&body, "{\"error\":{\"message\":\"model \\\"%s\\\" not found, try pulling it first\","
                      "\"type\":\"api_error\",\"param\":null,\"code\":null}}", name? name: "");
        s_respond_json (conn, 404, &body);
        buf_free (&body);
    }
    else {
        model->loaded = true;
        buf_t body = { 0 };
        buf_printf (&body, "{\"id\":\"chatcmpl-%ld\",\"object\":\"chat.completion\","
                      "\"created\":1735689600,\"model\":", ++self->chat_seq);
        buf_json_string (&body, name);
        buf_printf (&body, ",\"system_fingerprint\":\"fp_ollama\",\"choices\":[{\"index\":0,"
                      "\"message\":{\"role\":\"assistant\",\"content\":\"Hello from the ollama stand-in.\"},"
                      "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":8,"
                      "\"completion_tokens\":7,\"total_tokens\":15}}");
        s_respond_json (conn, 200, &body);
        buf_free (&body);
    }
    free (name);
}

static void
s_handle_models (server_t *self, conn_t *conn)
{
    buf_t body = { 0 };
    buf_append (&body, "{\"object\":\"list\",\"data\":[", 25);
    bool first = true;
    for (int i = 0; i < self->models_size; i++) {
        if (!self->models [i].installed)
            continue;
        if (!first)
            buf_append (&body, ",", 1);
        first = false;
        buf_append (&body, "{\"id\":", 6);
        buf_json_string (&body, self->models [i].name);
        buf_printf (&body, ",\"object\":\"model\",\"created\":1735689600,\"owned_by\":\"library\"}");
    }
    buf_append (&body, "]}", 2);
    s_respond_json (conn, 200, &body);
    buf_free (&body);
}

static void
s_log_request (server_t *self, const char *method, const char *path, const char *value)
{
    if (!self->header_log)
        return;
    int fd = open (self->header_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd == -1)
        return;
    char line [1024];
    int size = snprintf (line, sizeof (line), "%s %s %s\n", method, path, value? value: "-");
    if (size > (int) sizeof (line) - 1)
        size = (int) sizeof (line) - 1;
    ssize_t rc = write (fd, line, (size_t) size);
    (void) rc;
    close (fd);
}

static void
s_handle_request (server_t *self, conn_t *conn, const char *method, const char *target,
                  const char *required, const char *body)
{
    char path [512];
    snprintf (path, sizeof (path), "%.*s", (int) strcspn (target, "?"), target);
    s_log_request (self, method, path, required);
    conn->head = strcmp (method, "HEAD") == 0;
    bool get = strcmp (method, "GET") == 0 || strcmp (method, "HEAD") == 0;
    bool post = strcmp (method, "POST") == 0;
    if (self->required_name && (!required || strcmp (required, self->required_value) != 0))
        s_respond_error (conn, 401, "unauthorized");
    else
    if (strcmp (path, "/") == 0 && get)
        s_respond (conn, 200, "text/plain; charset=utf-8", "Ollama is running", 17);
    else
    if (strcmp (path, "/api/version") == 0 && get) {
        buf_t out = { 0 };
        buf_append (&out, "{\"version\":", 11);
        buf_json_string (&out, self->version);
        buf_append (&out, "}", 1);
        s_respond_json (conn, 200, &out);
        buf_free (&out);
    }
    else
    if (strcmp (path, "/api/tags") == 0 && get)
        s_handle_list (self, conn, false);
    else
    if (strcmp (path, "/api/ps") == 0 && get)
        s_handle_list (self, conn, true);
    else
    if (strcmp (path, "/api/show") == 0 && post)
        s_handle_show (self, conn, body);
    else
    if (strcmp (path, "/api/pull") == 0 && post)
        s_handle_pull (self, conn, body);
    else
    if (strcmp (path, "/api/generate") == 0 && post)
        s_handle_generate (self, conn, body);
    else
    if (strcmp (path, "/api/delete") == 0 && strcmp (method, "DELETE") == 0)
        s_handle_delete (self, conn, body);
    else
    if (strcmp (path, "/v1/models") == 0 && get)
        s_handle_models (self, conn);
    else
    if (strcmp (path, "/v1/chat/completions") == 0 && post)
        s_handle_chat (self, conn, body);
    else
        s_respond (conn, 404, "text/plain; charset=utf-8", "404 page not found", 18);
}


//  --------------------------------------------------------------------------
//  HTTP/1.1 framing

static long
s_find (const char *haystack, size_t size, const char *needle)
{
    size_t needle_size = strlen (needle);
    for (size_t offset = 0; offset + needle_size <= size; offset++)
        if (memcmp (haystack + offset, needle, needle_size) == 0)
            return (long) offset;
    return -1;
}

static void
s_conn_process (server_t *self, conn_t *conn)
{
    //  One answer at a time: what comes while one streams waits for its end
    while (!conn->close_after && !conn->lines) {
        long header_end = s_find (conn->in.data, conn->in.size, "\r\n\r\n");
        if (header_end < 0) {
            if (conn->in.size > MAX_HEADER) {
                conn->close_after = true;
                s_respond_error (conn, 400, "request headers too large");
            }
            return;
        }
        size_t header_size = (size_t) header_end + 4;
        char *head = strndup (conn->in.data, (size_t) header_end);
        if (!head)
            exit (1);
        char *save = NULL, *word_save = NULL;
        char *line = strtok_r (head, "\r\n", &save);
        char *method = line? strtok_r (line, " ", &word_save): NULL;
        char *target = method? strtok_r (NULL, " ", &word_save): NULL;
        char *version = target? strtok_r (NULL, " ", &word_save): NULL;
        if (!version || strncmp (version, "HTTP/1.", 7) != 0) {
            conn->close_after = true;
            s_respond_error (conn, 400, "bad request line");
            free (head);
            return;
        }
        bool keep_alive = strcmp (version, "HTTP/1.0") != 0;
        size_t content_length = 0;
        const char *required = NULL;
        char *value;
        while ((line = strtok_r (NULL, "\r\n", &save))) {
            if ((value = header_value (line, "Content-Length")))
                content_length = (size_t) strtoull (value, NULL, 10);
            else
            if ((value = header_value (line, "Connection")))
                keep_alive = strcasecmp (value, "close") != 0;
            if (self->required_name && (value = header_value (line, self->required_name)))
                required = value;
        }
        if (content_length > MAX_BODY) {
            conn->close_after = true;
            s_respond_error (conn, 413, "request body too large");
            free (head);
            return;
        }
        if (conn->in.size < header_size + content_length) {
            free (head);
            return;                     //  Wait for the rest of the body
        }
        char *body = strndup (conn->in.data + header_size, content_length);
        if (!body)
            exit (1);
        if (!keep_alive)
            conn->close_after = true;
        s_handle_request (self, conn, method, target, required, body);
        free (body);
        free (head);
        buf_consume (&conn->in, header_size + content_length);
    }
}

static void
s_conn_destroy (conn_t **self_p)
{
    if (*self_p) {
        for (int i = 0; i < (*self_p)->lines_size; i++)
            free ((*self_p)->lines [i]);
        free ((*self_p)->lines);
        close ((*self_p)->fd);
        buf_free (&(*self_p)->in);
        buf_free (&(*self_p)->out);
        free (*self_p);
        *self_p = NULL;
    }
}

//  Sends what the socket takes; -1 when the connection is dead
static int
s_conn_flush (conn_t *self)
{
    while (self->out_sent < self->out.size) {
        ssize_t rc = send (self->fd, self->out.data + self->out_sent,
                           self->out.size - self->out_sent, MSG_NOSIGNAL);
        if (rc > 0)
            self->out_sent += (size_t) rc;
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

//  Reads what is there; -1 when the connection should close
static int
s_conn_read (server_t *self, conn_t *conn)
{
    char chunk [16384];
    while (true) {
        ssize_t rc = recv (conn->fd, chunk, sizeof (chunk), 0);
        if (rc > 0) {
            if (conn->in.size < MAX_HEADER + MAX_BODY + 4096)
                buf_append (&conn->in, chunk, (size_t) rc);
        }
        else
        if (rc == 0)
            return -1;
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
s_set_nonblocking (int fd)
{
    fcntl (fd, F_SETFL, fcntl (fd, F_GETFL, 0) | O_NONBLOCK);
    fcntl (fd, F_SETFD, fcntl (fd, F_GETFD, 0) | FD_CLOEXEC);
}

//  Binds and listens (SO_REUSEADDR, so a restart takes the same port at
//  once); returns the socket or -1
static int
s_bind (server_t *self)
{
    char port_text [16];
    snprintf (port_text, sizeof (port_text), "%d", self->port);
    struct addrinfo hints, *result = NULL;
    memset (&hints, 0, sizeof (hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (getaddrinfo (self->host, port_text, &hints, &result) != 0 || !result)
        return -1;
    int fd = socket (result->ai_family, result->ai_socktype, result->ai_protocol);
    int on = 1;
    if (fd == -1
    ||  setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof (on)) == -1
    ||  bind (fd, result->ai_addr, result->ai_addrlen) == -1
    ||  listen (fd, 128) == -1) {
        if (fd != -1)
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
    self->port = address.ss_family == AF_INET
               ? ntohs (((struct sockaddr_in *) &address)->sin_port)
               : ntohs (((struct sockaddr_in6 *) &address)->sin6_port);
    s_set_nonblocking (fd);
    return fd;
}


//  --------------------------------------------------------------------------

static void
s_usage (void)
{
    fprintf (stderr, "usage: shic_stand_in_ollama [--host H] [--port N] [--model NAME]...\n"
             "    [--loaded NAME]... [--pullable NAME]... [--require-header \"Name: value\"]\n"
             "    [--header-log PATH] [--version V] [--pull-ms N] [--pull-steps N]\n");
    exit (2);
}

int
main (int argc, char *argv [])
{
    server_t self;
    memset (&self, 0, sizeof (self));
    self.host = "127.0.0.1";
    self.port = 11434;
    self.version = "0.0.0-stand-in";
    self.pull_steps = 4;
    for (int i = 1; i < argc; i++) {
        const char *flag = argv [i];
        const char *value = i + 1 < argc? argv [i + 1]: NULL;
        if (!value)
            s_usage ();
        i++;
        if (strcmp (flag, "--host") == 0)
            self.host = value;
        else
        if (strcmp (flag, "--port") == 0)
            self.port = atoi (value);
        else
        if (strcmp (flag, "--version") == 0)
            self.version = value;
        else
        if (strcmp (flag, "--header-log") == 0)
            self.header_log = value;
        else
        if (strcmp (flag, "--pull-ms") == 0)
            self.pull_ms = atoll (value);
        else
        if (strcmp (flag, "--pull-steps") == 0) {
            self.pull_steps = atoi (value);
            if (self.pull_steps < 1 || self.pull_steps > 1000)
                s_usage ();
        }
        else
        if (strcmp (flag, "--model") == 0 || strcmp (flag, "--loaded") == 0
        ||  strcmp (flag, "--pullable") == 0) {
            model_t *model = s_model (&self, value, true);
            if (!model)
                s_usage ();
            if (strcmp (flag, "--pullable") == 0)
                model->pullable = true;
            else
                model->installed = true;
            if (strcmp (flag, "--loaded") == 0)
                model->loaded = true;
        }
        else
        if (strcmp (flag, "--require-header") == 0) {
            const char *colon = strchr (value, ':');
            if (!colon || colon == value)
                s_usage ();
            self.required_name = strndup (value, (size_t) (colon - value));
            colon++;
            while (*colon == ' ' || *colon == '\t')
                colon++;
            self.required_value = strdup (colon);
        }
        else
            s_usage ();
    }
    signal (SIGPIPE, SIG_IGN);
    int listener = s_bind (&self);
    if (listener == -1) {
        fprintf (stderr, "ollama stand-in: cannot bind %s:%d: %s\n", self.host, self.port,
                 strerror (errno));
        return 1;
    }
    fprintf (stderr, "ollama stand-in listening on port %d\n", self.port);
    fflush (stderr);

    struct pollfd items [MAX_CONNS + 1];
    while (true) {
        items [0].fd = self.conns_size < MAX_CONNS? listener: -1;
        items [0].events = POLLIN;
        for (int i = 0; i < self.conns_size; i++) {
            items [i + 1].fd = self.conns [i]->fd;
            items [i + 1].events = POLLIN
                | (self.conns [i]->out_sent < self.conns [i]->out.size? POLLOUT: 0);
        }
        int count = self.conns_size + 1;
        //  Until the next line of a streamed answer is due, if any
        long long now = s_now_ms (), wait = -1;
        for (int i = 0; i < self.conns_size; i++) {
            long long due = s_stream_send (self.conns [i], now);
            if (due >= 0 && (wait < 0 || due < wait))
                wait = due;
            items [i + 1].events |= self.conns [i]->out_sent < self.conns [i]->out.size? POLLOUT: 0;
        }
        if (poll (items, (nfds_t) count, (int) wait) == -1) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        //  Backwards: removal swaps in the last connection
        for (int i = count - 2; i >= 0; i--) {
            conn_t *conn = self.conns [i];
            bool dead = false;
            if (items [i + 1].revents & (POLLIN | POLLHUP | POLLERR))
                dead = s_conn_read (&self, conn) == -1;
            bool streaming = conn->lines != NULL;
            if (!dead)
                s_stream_send (conn, s_now_ms ());
            if (!dead)
                dead = s_conn_flush (conn) == -1;
            //  A stream that just ended lets waiting requests in
            if (!dead && streaming && !conn->lines && conn->in.size)
                s_conn_process (&self, conn);
            if (!dead && conn->close_after && !conn->lines && conn->out_sent >= conn->out.size)
                dead = true;
            if (dead) {
                s_conn_destroy (&self.conns [i]);
                self.conns [i] = self.conns [--self.conns_size];
                self.conns [self.conns_size] = NULL;
            }
        }
        if (items [0].revents & POLLIN) {
            while (self.conns_size < MAX_CONNS) {
                int fd = accept (listener, NULL, NULL);
                if (fd == -1)
                    break;
                s_set_nonblocking (fd);
                conn_t *conn = calloc (1, sizeof (conn_t));
                if (!conn)
                    exit (1);
                conn->fd = fd;
                self.conns [self.conns_size++] = conn;
            }
        }
    }
    return 0;
}
