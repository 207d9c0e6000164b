/*  =========================================================================
    shic_http - tiny blocking HTTP helper for backend probes

    =========================================================================
*/

/*
@header
    One blocking libcurl request with a hard total timeout, no proxy, no
    redirects and CURLOPT_NOSIGNAL, returning status and a bounded body.
@discuss
    Each thread caches one easy handle (curl_easy_reset between requests
    keeps its connection cache), so probes to the same server reuse the
    TCP connection; a shic_http_t is the same for one caller-owned handle. A body beyond SHIC_HTTP_BODY_MAX ends the transfer and
    fails the request: every answer a backend relies on is small, a cut one
    would parse as something else or not at all, and reading 100 MB to
    drop them would spend the probe's time.
    curl is initialized here, once per process, before the first handle;
    a thread's handle is freed by a thread-specific key's destructor when
    the thread ends, so the threads that probe need not know of it.
@end
*/

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <curl/curl.h>
#include <czmq.h>

#include "shic_http.h"

//  curl_global_init and the key of each thread's easy handle (created on
//  the thread's first request, freed by s_thread_end when it ends), set
//  up once per process by s_setup
static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static pthread_key_t s_key;
static bool s_ready = false;         //  s_setup succeeded

//  A handle of its own
struct _shic_http_t {
    CURL *curl;                     //  Easy handle, with its connection cache
};

#define S_BODY_MAX_TEXT "1 MiB"

//  Response body being received
typedef struct {
    char *data;                     //  Kept bytes plus room for a NUL
    size_t size;                    //  Bytes kept
    size_t capacity;                //  Bytes allocated in data
    bool failed;                    //  Out of memory while growing
    bool too_large;                 //  More than SHIC_HTTP_BODY_MAX bytes came
    //  A streamed answer of lines (shic_http_request_lines)
    CURL *curl;                     //  the transfer, for its status
    shic_http_line_fn *line_fn;     //  called per line of a 2xx answer, or NULL
    void *line_arg;                 //  its argument
    int mode;                       //  0 not known yet, 1 lines, 2 a whole body
    bool ended;                     //  line_fn ended the transfer
} s_body_t;


//  --------------------------------------------------------------------------
//  Process-wide set-up, and the end of a thread's handle

static void
s_thread_end (void *curl)
{
    curl_easy_cleanup ((CURL *) curl);
}

static void
s_setup (void)
{
    s_ready = curl_global_init (CURL_GLOBAL_DEFAULT) == CURLE_OK
           && pthread_key_create (&s_key, s_thread_end) == 0;
}

//  curl's set-up runs when the program loads, on its main thread: the first
//  set-up also makes OpenSSL's per-thread error state of the thread it runs
//  on, which an instance thread would leave behind when it ends (904 bytes
//  per process, seen by LeakSanitizer)
__attribute__ ((constructor)) static void
s_load (void)
{
    pthread_once (&s_once, s_setup);
}


//  --------------------------------------------------------------------------
//  curl write callback: keeps up to SHIC_HTTP_BODY_MAX bytes; one more
//  ends the transfer (an answer cut short would parse as something else, or
//  not at all, and reading 100 MB to drop them is no better)

static size_t s_keep (s_body_t *body, const char *data, size_t bytes);

//  Hands line_fn each whole line kept (without its newline and a \r before
//  it); the rest stays. false when line_fn ended the transfer
static bool
s_lines (s_body_t *body)
{
    size_t start = 0;
    for (size_t at = 0; at < body->size; at++) {
        if (body->data [at] != '\n')
            continue;
        size_t end = at;
        if (end > start && body->data [end - 1] == '\r')
            end--;
        body->data [end] = 0;
        int rc = body->line_fn (body->line_arg, body->data + start);
        start = at + 1;
        if (rc != 0) {
            body->ended = true;
            return false;
        }
    }
    memmove (body->data, body->data + start, body->size - start);
    body->size -= start;
    return true;
}

static size_t
s_write (char *data, size_t size, size_t nmemb, void *arg)
{
    s_body_t *body = (s_body_t *) arg;
    size_t bytes = size * nmemb;
    //  A 2xx answer of a streamed request is read line by line as it comes
    if (body->line_fn && body->mode == 0) {
        long status = 0;
        curl_easy_getinfo (body->curl, CURLINFO_RESPONSE_CODE, &status);
        body->mode = status >= 200 && status < 300? 1: 2;
    }
    if (s_keep (body, data, bytes) != bytes)
        return 0;                   //  Aborts the transfer
    if (body->mode == 1 && !s_lines (body))
        return 0;
    return bytes;
}

//  Keeps up to SHIC_HTTP_BODY_MAX bytes (for lines: not yet handed out);
//  returns bytes, or 0 when the answer is too large or memory ran out
static size_t
s_keep (s_body_t *body, const char *data, size_t bytes)
{
    if (bytes > SHIC_HTTP_BODY_MAX - body->size) {
        body->too_large = true;
        return 0;                   //  Aborts the transfer
    }
    size_t keep = bytes;
    if (keep > 0 && !body->failed) {
        if (body->size + keep + 1 > body->capacity) {
            size_t capacity = body->capacity? body->capacity: 4096;
            while (capacity < body->size + keep + 1)
                capacity *= 2;
            if (capacity > SHIC_HTTP_BODY_MAX + 1)
                capacity = SHIC_HTTP_BODY_MAX + 1;
            char *grown = (char *) realloc (body->data, capacity);
            if (!grown) {
                body->failed = true;
                return 0;           //  Aborts the transfer
            }
            body->data = grown;
            body->capacity = capacity;
        }
        memcpy (body->data + body->size, data, keep);
        body->size += keep;
    }
    return bytes;
}


//  --------------------------------------------------------------------------
//  Fill result as unreachable with the given error text

static int
s_fail (shic_http_result_t *result, const char *text)
{
    result->status = 0;
    snprintf (result->error, sizeof (result->error), "%s", text);
    return -1;
}


//  --------------------------------------------------------------------------
//  One request through curl, a handle reset by the caller; line_fn (may be
//  NULL) reads a 2xx answer line by line

static int
s_perform (CURL *curl, const char *method, const char *url,
           const char *const *headers, const char *body,
           int timeout_ms, shic_http_line_fn *line_fn, void *line_arg,
           shic_http_result_t *result)
{
    struct curl_slist *list = NULL;
    struct curl_slist *grown;
    if (body) {
        grown = curl_slist_append (list, "Content-Type: application/json");
        if (!grown)
            goto no_memory;
        list = grown;
    }
    //  No "Expect: 100-continue" round trip for bodies
    grown = curl_slist_append (list, "Expect:");
    if (!grown)
        goto no_memory;
    list = grown;
    while (headers && *headers) {
        grown = curl_slist_append (list, *headers++);
        if (!grown)
            goto no_memory;
        list = grown;
    }
    char errbuf [CURL_ERROR_SIZE];
    errbuf [0] = 0;
    s_body_t received = { NULL, 0, 0, false, false, curl, line_fn, line_arg, 0, false };

    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, (long) timeout_ms);
    curl_easy_setopt (curl, CURLOPT_CONNECTTIMEOUT_MS, (long) timeout_ms);
    curl_easy_setopt (curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt (curl, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt (curl, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    curl_easy_setopt (curl, CURLOPT_USERAGENT, "shic");
    curl_easy_setopt (curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt (curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, &received);

    if (body) {
        curl_easy_setopt (curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt (curl, CURLOPT_POSTFIELDSIZE_LARGE,
                          (curl_off_t) strlen (body));
        if (!streq (method, "POST"))
            curl_easy_setopt (curl, CURLOPT_CUSTOMREQUEST, method);
    }
    else
    if (streq (method, "GET"))
        curl_easy_setopt (curl, CURLOPT_HTTPGET, 1L);
    else
    if (streq (method, "HEAD"))
        curl_easy_setopt (curl, CURLOPT_NOBODY, 1L);
    else
    if (streq (method, "POST")) {
        curl_easy_setopt (curl, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt (curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) 0);
    }
    else
        curl_easy_setopt (curl, CURLOPT_CUSTOMREQUEST, method);

    CURLcode code = curl_easy_perform (curl);
    //  Drop pointers to our stack and list before they go away
    curl_easy_setopt (curl, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt (curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all (list);

    if (code != CURLE_OK || received.failed) {
        free (received.data);
        if (received.ended)
            return s_fail (result, "ended by the reader");
        if (received.failed)
            return s_fail (result, "out of memory for the response body");
        if (received.too_large)
            return s_fail (result, "the answer is larger than " S_BODY_MAX_TEXT);
        result->refused = code == CURLE_COULDNT_CONNECT;
        return s_fail (result, errbuf [0]? errbuf: curl_easy_strerror (code));
    }
    long status = 0;
    curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
    if (status == 0) {
        free (received.data);
        return s_fail (result, "no HTTP status received");
    }
    //  The last line of a stream may lack its newline
    if (received.mode == 1) {
        int rc = 0;
        if (received.size) {
            received.data [received.size] = 0;
            rc = line_fn (line_arg, received.data);
        }
        free (received.data);
        result->status = status;
        return rc == 0? 0: s_fail (result, "ended by the reader");
    }
    if (!received.data) {
        received.data = strdup ("");
        if (!received.data)
            return s_fail (result, "out of memory for the response body");
    }
    received.data [received.size] = 0;
    result->status = status;
    result->body = received.data;
    result->body_size = received.size;
    return 0;

no_memory:
    curl_slist_free_all (list);
    return s_fail (result, "out of memory for request headers");
}


//  --------------------------------------------------------------------------
//  Send one request and wait for the answer

//  A request on this thread's cached curl handle (made on first use),
//  lines to line_fn when it is not NULL
static int
s_request_cached (const char *method, const char *url, const char *const *headers,
                  const char *body, int timeout_ms, shic_http_line_fn *line_fn, void *arg,
                  shic_http_result_t *result)
{
    pthread_once (&s_once, s_setup);
    if (!s_ready)
        return s_fail (result, "curl cannot be initialized");
    CURL *curl = (CURL *) pthread_getspecific (s_key);
    if (curl)
        curl_easy_reset (curl);
    else {
        curl = curl_easy_init ();
        if (!curl || pthread_setspecific (s_key, curl) != 0) {
            curl_easy_cleanup (curl);
            return s_fail (result, "cannot create a curl handle");
        }
    }
    return s_perform (curl, method, url, headers, body, timeout_ms, line_fn, arg, result);
}

int
shic_http_request (const char *method, const char *url,
                   const char *const *headers, const char *body,
                   int timeout_ms, shic_http_result_t *result)
{
    assert (method);
    assert (url);
    assert (timeout_ms > 0);
    assert (result);
    memset (result, 0, sizeof (*result));
    return s_request_cached (method, url, headers, body, timeout_ms, NULL, NULL, result);
}

int
shic_http_request_lines (const char *method, const char *url,
                         const char *const *headers, const char *body,
                         int timeout_ms, shic_http_line_fn *line_fn, void *arg,
                         shic_http_result_t *result)
{
    assert (method);
    assert (url);
    assert (timeout_ms > 0);
    assert (line_fn);
    assert (result);
    memset (result, 0, sizeof (*result));
    return s_request_cached (method, url, headers, body, timeout_ms, line_fn, arg, result);
}


//  --------------------------------------------------------------------------
//  A handle of its own

shic_http_t *
shic_http_new (void)
{
    pthread_once (&s_once, s_setup);
    if (!s_ready)
        return NULL;
    shic_http_t *self = (shic_http_t *) zmalloc (sizeof (shic_http_t));
    self->curl = curl_easy_init ();
    if (!self->curl) {
        free (self);
        return NULL;
    }
    return self;
}

void
shic_http_destroy (shic_http_t **self_p)
{
    assert (self_p);
    shic_http_t *self = *self_p;
    if (self) {
        curl_easy_cleanup (self->curl);
        free (self);
        *self_p = NULL;
    }
}

int
shic_http_send (shic_http_t *self, const char *method, const char *url,
                const char *const *headers, const char *body,
                int timeout_ms, shic_http_result_t *result)
{
    assert (self);
    assert (method);
    assert (url);
    assert (timeout_ms > 0);
    assert (result);
    memset (result, 0, sizeof (*result));
    curl_easy_reset (self->curl);
    return s_perform (self->curl, method, url, headers, body, timeout_ms, NULL, NULL, result);
}


//  --------------------------------------------------------------------------
//  Free the body and clear the result

void
shic_http_result_reset (shic_http_result_t *result)
{
    assert (result);
    free (result->body);
    memset (result, 0, sizeof (*result));
}


//  --------------------------------------------------------------------------
//  Release this thread's cached curl handle now rather than when the
//  thread ends

void
shic_http_thread_cleanup (void)
{
    pthread_once (&s_once, s_setup);
    if (!s_ready)
        return;
    CURL *curl = (CURL *) pthread_getspecific (s_key);
    if (curl) {
        pthread_setspecific (s_key, NULL);
        curl_easy_cleanup (curl);
    }
}


//  --------------------------------------------------------------------------
//  Selftest helpers: a one-thread HTTP server that answers canned responses

#define S_TEST_MAX_REQUESTS 8

typedef struct {
    int listener;                   //  Listening socket on 127.0.0.1
    const char *responses [S_TEST_MAX_REQUESTS];   //  Head per request
    size_t body_sizes [S_TEST_MAX_REQUESTS];       //  Filler 'x' body bytes
    int count;                      //  Requests to serve
    char requests [S_TEST_MAX_REQUESTS][4096];     //  What each one sent
    int served;                     //  Requests answered
} s_server_t;

//  Open a TCP socket on 127.0.0.1, any port; listen if asked
static int
s_test_socket (bool do_listen, int *port)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert (fd >= 0);
    struct sockaddr_in address;
    memset (&address, 0, sizeof (address));
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    address.sin_port = 0;
    int rc = bind (fd, (struct sockaddr *) &address, sizeof (address));
    assert (rc == 0);
    if (do_listen)
        assert (listen (fd, 8) == 0);
    socklen_t length = sizeof (address);
    rc = getsockname (fd, (struct sockaddr *) &address, &length);
    assert (rc == 0);
    *port = ntohs (address.sin_port);
    return fd;
}

//  Wait up to timeout_ms for fd to be readable
static bool
s_test_readable (int fd, int timeout_ms)
{
    struct pollfd item = { .fd = fd, .events = POLLIN };
    int rc;
    do
        rc = poll (&item, 1, timeout_ms);
    while (rc == -1 && errno == EINTR);
    return rc == 1;
}

//  Read one request (head plus Content-Length body) with a deadline
static void
s_test_read_request (int fd, char *buffer, size_t capacity)
{
    size_t size = 0;
    int64_t deadline = zclock_mono () + 5000;
    while (size + 1 < capacity) {
        buffer [size] = 0;
        char *end = strstr (buffer, "\r\n\r\n");
        if (end) {
            char *length = strcasestr (buffer, "Content-Length:");
            size_t want = (size_t) (end + 4 - buffer);
            if (length && length < end)
                want += (size_t) atoi (length + 15);
            if (size >= want)
                break;
        }
        int64_t remaining = deadline - zclock_mono ();
        if (remaining <= 0 || !s_test_readable (fd, (int) remaining))
            break;
        ssize_t rc = recv (fd, buffer + size, capacity - 1 - size, 0);
        if (rc <= 0)
            break;
        size += (size_t) rc;
    }
    buffer [size] = 0;
}

//  Write all bytes of a buffer
static void
s_test_send_all (int fd, const char *data, size_t size)
{
    while (size > 0) {
        ssize_t rc = send (fd, data, size, MSG_NOSIGNAL);
        if (rc <= 0)
            return;
        data += rc;
        size -= (size_t) rc;
    }
}

static void *
s_server_thread (void *arg)
{
    s_server_t *server = (s_server_t *) arg;
    while (server->served < server->count) {
        if (!s_test_readable (server->listener, 5000))
            break;
        int fd = accept4 (server->listener, NULL, NULL, SOCK_CLOEXEC);
        if (fd == -1)
            break;
        int index = server->served;
        s_test_read_request (fd, server->requests [index],
                             sizeof (server->requests [index]));
        const char *head = server->responses [index];
        size_t filler = server->body_sizes [index];
        char *response = zsys_sprintf (head, filler);
        assert (response);
        s_test_send_all (fd, response, strlen (response));
        zstr_free (&response);
        if (filler) {
            char *block = (char *) malloc (filler);
            assert (block);
            memset (block, 'x', filler);
            s_test_send_all (fd, block, filler);
            free (block);
        }
        //  Wait for the client to close, so it reads everything first
        shutdown (fd, SHUT_WR);
        char drain [256];
        while (s_test_readable (fd, 2000) && recv (fd, drain, sizeof (drain), 0) > 0)
            ;
        close (fd);
        server->served++;
    }
    return NULL;
}


//  --------------------------------------------------------------------------
//  Selftest

void
shic_http_test (bool verbose)
{
    printf (" * shic_http: ");
    if (verbose)
        printf ("\n");

    //  A canned server: status and body, custom header, JSON POST, no
    //  redirect following, body cut at 1 MiB
    s_server_t server;
    memset (&server, 0, sizeof (server));
    int port;
    server.listener = s_test_socket (true, &port);
    server.responses [0] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        "Content-Length: 15\r\nConnection: close\r\n\r\n{\"status\":\"ok\"}%.0zu";
    server.responses [1] = "HTTP/1.1 201 Created\r\nContent-Length: 7\r\n"
        "Connection: close\r\n\r\ncreated%.0zu";
    server.responses [2] = "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/\r\n"
        "Content-Length: 0\r\nConnection: close\r\n\r\n%.0zu";
    server.responses [3] = "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
        "Connection: close\r\n\r\n";
    server.body_sizes [3] = SHIC_HTTP_BODY_MAX + SHIC_HTTP_BODY_MAX / 2;
    server.responses [4] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
        "Connection: close\r\n\r\n{}%.0zu";
    server.count = 5;
    pthread_t thread;
    int rc = pthread_create (&thread, NULL, s_server_thread, &server);
    assert (rc == 0);

    char url [128];
    shic_http_result_t result;
    memset (&result, 0, sizeof (result));
    const char *headers [] = { "X-Shic: probe", NULL };
    snprintf (url, sizeof (url), "http://127.0.0.1:%d/health", port);
    rc = shic_http_request ("GET", url, headers, NULL, 5000, &result);
    if (verbose)
        zsys_debug ("http test: GET %s -> %ld %s", url, result.status,
                    result.body? result.body: result.error);
    assert (rc == 0);
    assert (result.status == 200);
    assert (streq (result.body, "{\"status\":\"ok\"}"));
    assert (result.body_size == 15);
    shic_http_result_reset (&result);
    assert (result.body == NULL && result.status == 0);

    snprintf (url, sizeof (url), "http://127.0.0.1:%d/v1/echo", port);
    rc = shic_http_request ("POST", url, NULL, "{\"a\":1}", 5000, &result);
    assert (rc == 0);
    assert (result.status == 201);
    assert (streq (result.body, "created"));
    shic_http_result_reset (&result);

    snprintf (url, sizeof (url), "http://127.0.0.1:%d/moved", port);
    rc = shic_http_request ("DELETE", url, NULL, NULL, 5000, &result);
    assert (rc == 0);
    assert (result.status == 302);
    assert (result.body && result.body_size == 0);
    shic_http_result_reset (&result);

    snprintf (url, sizeof (url), "http://127.0.0.1:%d/big", port);
    rc = shic_http_request ("GET", url, NULL, NULL, 10000, &result);
    assert (rc == -1);
    assert (result.status == 0 && result.body == NULL);
    assert (strstr (result.error, "larger than 1 MiB"));
    shic_http_result_reset (&result);

    //  A handle of its own, used from this thread, with the same options
    shic_http_t *http = shic_http_new ();
    assert (http);
    snprintf (url, sizeof (url), "http://127.0.0.1:%d/api/ps", port);
    rc = shic_http_send (http, "GET", url, headers, NULL, 5000, &result);
    assert (rc == 0);
    assert (result.status == 200);
    assert (streq (result.body, "{}"));
    shic_http_result_reset (&result);
    shic_http_destroy (&http);
    assert (http == NULL);
    shic_http_destroy (&http);

    pthread_join (thread, NULL);
    assert (server.served == 5);
    assert (strncmp (server.requests [4], "GET /api/ps HTTP/1.1\r\n", 22) == 0);
    assert (strstr (server.requests [4], "\r\nX-Shic: probe\r\n"));
    assert (strncmp (server.requests [0], "GET /health HTTP/1.1\r\n", 22) == 0);
    assert (strstr (server.requests [0], "\r\nX-Shic: probe\r\n"));
    assert (strncmp (server.requests [1], "POST /v1/echo HTTP/1.1\r\n", 24) == 0);
    assert (strcasestr (server.requests [1], "\r\nContent-Type: application/json\r\n"));
    assert (strstr (server.requests [1], "\r\n\r\n{\"a\":1}"));
    assert (strncmp (server.requests [2], "DELETE /moved HTTP/1.1\r\n", 24) == 0);
    close (server.listener);

    //  A bound port that does not listen refuses at once
    int closed = s_test_socket (false, &port);
    snprintf (url, sizeof (url), "http://127.0.0.1:%d/", port);
    int64_t started = zclock_mono ();
    rc = shic_http_request ("GET", url, NULL, NULL, 5000, &result);
    int64_t elapsed = zclock_mono () - started;
    if (verbose)
        zsys_debug ("http test: refused in %d ms: %s", (int) elapsed,
                    result.error);
    assert (rc == -1);
    assert (result.status == 0);
    assert (result.body == NULL);
    assert (strlen (result.error) > 0);
    assert (elapsed < 1000);
    close (closed);

    //  A listener that never answers hits the total timeout
    int silent = s_test_socket (true, &port);
    snprintf (url, sizeof (url), "http://127.0.0.1:%d/slow", port);
    started = zclock_mono ();
    rc = shic_http_request ("GET", url, NULL, NULL, 300, &result);
    elapsed = zclock_mono () - started;
    if (verbose)
        zsys_debug ("http test: timed out in %d ms: %s", (int) elapsed,
                    result.error);
    assert (rc == -1);
    assert (result.status == 0);
    assert (strlen (result.error) > 0);
    assert (elapsed >= 250 && elapsed < 2000);
    close (silent);
    shic_http_result_reset (&result);

    shic_http_thread_cleanup ();
    shic_http_thread_cleanup ();
    printf ("OK\n");
}
