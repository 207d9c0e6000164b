/*  =========================================================================
    shic_etcd_watch - the watch of a prefix: a stream of lines

    Part of shic_etcd (see shic_etcd.c for the blocking calls and the
    members, shic_etcd_int.h for what the files share). The watch has its
    own multi handle and one connection: the gateway streams one JSON
    object per line, which the caller's poll loop reads without blocking
    (the socket and the timer come from curl's socket and timer callbacks).
    Memory stays bounded without pausing curl: the stream is read only when
    no whole line is waiting, and the line being received may not pass
    SHIC_ETCD_REPLY_MAX.
    =========================================================================
*/

#include <czmq.h>
#include <curl/curl.h>
#include <poll.h>

#include "shic_json.h"
#include "shic_etcd.h"
#include "shic_etcd_int.h"

#define S_WATCH_CONNECT_MS 2000     //  a member that does not accept by then is skipped
#define S_WATCH_CREATE_MS 5000      //  nor one that has not confirmed the watch by then
#define S_WATCH_SOCKETS 4           //  sockets curl may hold while connecting
#define S_WATCH_CONNECTING_MS 10    //  how often to drive curl while it writes, not reads

//  A socket curl asked us to watch
typedef struct {
    curl_socket_t fd;               //  the socket
    int what;                       //  CURL_POLL_IN, _OUT or _INOUT
} s_socket_t;

struct _shic_etcd_watch_t {
    char **urls;                    //  the members; NULL when fed by hand
    size_t url_count;               //  how many
    size_t current;                 //  the member streaming now
    size_t tried;                   //  members tried before the watch was created
    char *request;                  //  the create_request, JSON
    CURLM *multi;                   //  the multi handle; NULL when fed by hand
    CURL *easy;                     //  the stream's transfer
    bool attached;                  //  easy is in multi
    struct curl_slist *headers;     //  Content-Type and an empty Expect:
    s_socket_t sockets [S_WATCH_SOCKETS];  //  what curl asked us to watch
    size_t socket_count;            //  how many
    int64_t timer_at;               //  when curl wants its timeout action; -1 none
    int64_t create_by;              //  a member not confirming by then is given up
    long status;                    //  HTTP status of the stream; 0 before it came
    bool overflow;                  //  a line passed SHIC_ETCD_REPLY_MAX
    char *buffer;                   //  stream bytes; unread ones from start to size
    size_t start;                   //  the first unread byte
    size_t size;                    //  bytes held
    size_t capacity;                //  bytes allocated
    size_t scan;                    //  no newline between start and scan
    size_t tail;                    //  bytes after the last newline received
    shic_val_t *events;             //  a response's events not handed out yet
    size_t next_event;              //  the first of them
    bool created;                   //  the member confirmed the watch
    bool ended;                     //  no more bytes will come
    bool finished;                  //  DOWN or COMPACTED handed out: nothing more
    shic_error_t error;             //  why the stream ended, for DOWN
    char errbuf [CURL_ERROR_SIZE];  //  curl's words for the last failure
};


//  --------------------------------------------------------------------------
//  The watch: a stream of lines

//  Appends bytes of the stream; a line over SHIC_ETCD_REPLY_MAX sets
//  overflow. Returns size, or 0 (which stops curl's transfer) when it
//  could not keep them.
static size_t
s_watch_append (shic_etcd_watch_t *self, const char *data, size_t size)
{
    if (self->overflow || self->ended || size == 0)
        return 0;
    const char *newline = (const char *) memrchr (data, '\n', size);
    size_t tail = newline? size - (size_t) (newline - data) - 1: self->tail + size;
    if (tail > SHIC_ETCD_REPLY_MAX) {
        //  The whole lines before it are still read
        self->overflow = true;
        self->size -= self->tail;
        self->tail = 0;
        if (self->scan > self->size)
            self->scan = self->size;
        return 0;
    }
    //  Move the unread bytes to the front before growing
    if (self->start > 0 && self->size + size > self->capacity) {
        memmove (self->buffer, self->buffer + self->start, self->size - self->start);
        self->size -= self->start;
        self->scan -= self->start;
        self->start = 0;
    }
    if (self->size + size > self->capacity) {
        size_t capacity = self->capacity? self->capacity: 16384;
        while (capacity < self->size + size)
            capacity *= 2;
        char *grown = (char *) realloc (self->buffer, capacity);
        if (!grown) {
            self->overflow = true;
            return 0;
        }
        self->buffer = grown;
        self->capacity = capacity;
    }
    memcpy (self->buffer + self->size, data, size);
    self->size += size;
    self->tail = tail;
    return size;
}

static size_t
s_watch_write (char *data, size_t size, size_t nmemb, void *arg)
{
    shic_etcd_watch_t *self = (shic_etcd_watch_t *) arg;
    if (self->status == 0)
        curl_easy_getinfo (self->easy, CURLINFO_RESPONSE_CODE, &self->status);
    return s_watch_append (self, data, size * nmemb);
}

//  The next whole line (without its newline) into *line and *length;
//  false when none is complete yet
static bool
s_watch_line_take (shic_etcd_watch_t *self, const char **line, size_t *length)
{
    if (self->scan < self->start)
        self->scan = self->start;
    const char *newline = self->size > self->scan
        ? (const char *) memchr (self->buffer + self->scan, '\n', self->size - self->scan)
        : NULL;
    if (!newline) {
        self->scan = self->size;
        return false;
    }
    size_t end = (size_t) (newline - self->buffer);
    *line = self->buffer + self->start;
    *length = end - self->start;
    self->start = end + 1;
    self->scan = self->start;
    return true;
}

//  Forgets what was received: bytes and events
static void
s_watch_forget (shic_etcd_watch_t *self)
{
    self->start = self->size = self->scan = self->tail = 0;
    shic_val_destroy (&self->events);
    self->next_event = 0;
}

//  Stops the transfer (its socket is closed) and forgets what it sent
static void
s_watch_stop (shic_etcd_watch_t *self)
{
    if (self->attached) {
        curl_multi_remove_handle (self->multi, self->easy);
        self->attached = false;
    }
    self->socket_count = 0;
    self->timer_at = -1;
    s_watch_forget (self);
}

//  Starts the stream at member index; -1 with err
static int
s_watch_start (shic_etcd_watch_t *self, size_t index, shic_error_t *err)
{
    char url [SHIC_ETCD_URL_MAX + SHIC_ETCD_PATH_MAX];
    snprintf (url, sizeof (url), "%s/v3/watch", self->urls [index]);
    self->current = index;
    self->tried++;
    self->ended = false;
    self->status = 0;
    self->overflow = false;
    self->errbuf [0] = 0;
    self->create_by = zclock_mono () + S_WATCH_CREATE_MS;
    curl_easy_setopt (self->easy, CURLOPT_URL, url);
    if (curl_multi_add_handle (self->multi, self->easy) != CURLM_OK) {
        shic_error_set (err, SHIC_E_INTERNAL, NULL, "etcd: curl cannot start the watch");
        return -1;
    }
    self->attached = true;
    return 0;
}

//  The stream failed with *err (taken): before the watch was created,
//  the next member untried gets its turn; otherwise the stream ends and
//  DOWN will say why
static void
s_watch_fail (shic_etcd_watch_t *self, shic_error_t *err)
{
    s_watch_stop (self);
    shic_error_move (&self->error, err);
    if (self->multi && !self->created && self->tried < self->url_count) {
        shic_error_t start_err = { NULL, NULL, NULL };
        if (s_watch_start (self, (self->current + 1) % self->url_count, &start_err) == 0)
            return;
        shic_error_move (&self->error, &start_err);
    }
    self->ended = true;
}

//  The URL of the member streaming now
static const char *
s_watch_member (shic_etcd_watch_t *self)
{
    return self->urls? self->urls [self->current]: "(fed)";
}

//  One event of the queued response
static shic_etcd_watch_event_t
s_watch_event (shic_etcd_watch_t *self, shic_etcd_kv_t **kv, int64_t *revision)
{
    //  Borrowed from the queue, which goes once its last pair is read
    const shic_val_t *event = shic_val_at (self->events, self->next_event++);
    const shic_val_t *type = shic_val_get (event, "type");
    shic_etcd_watch_event_t kind = SHIC_ETCD_WATCH_NONE;
    if (!type || (shic_val_str (type) && streq (shic_val_str (type), "PUT")))
        kind = SHIC_ETCD_WATCH_PUT;
    else
    if (shic_val_str (type) && streq (shic_val_str (type), "DELETE"))
        kind = SHIC_ETCD_WATCH_DELETE;
    shic_etcd_kv_t *pair = kind? shic_etcd_kv_from_val (shic_val_get (event, "kv")): NULL;
    if (self->next_event >= shic_val_size (self->events)) {
        shic_val_destroy (&self->events);
        self->next_event = 0;
    }
    if (!pair) {
        shic_error_t err = { NULL, NULL, NULL };
        shic_etcd_malformed (&err, s_watch_member (self), "a watch event that is not etcd's shape");
        s_watch_fail (self, &err);
        return SHIC_ETCD_WATCH_NONE;
    }
    *revision = pair->mod_revision;
    if (kv)
        *kv = pair;
    else
        shic_etcd_kv_free (&pair);
    return kind;
}

//  What one line of the stream says; NONE for a blank line and when it
//  failed the stream (then DOWN or the next member follows)
static shic_etcd_watch_event_t
s_watch_line (shic_etcd_watch_t *self, const char *line, size_t length,
              shic_etcd_kv_t **kv, int64_t *revision)
{
    while (length > 0 && strchr (" \t\r", line [length - 1]))
        length--;
    if (length == 0)
        return SHIC_ETCD_WATCH_NONE;
    shic_val_t *response = NULL;
    shic_error_t err = { NULL, NULL, NULL };
    long status = self->multi? self->status: 200;
    if (shic_etcd_reply_parse (line, length, status, s_watch_member (self), &response,
                               NULL, &err)) {
        s_watch_fail (self, &err);
        return SHIC_ETCD_WATCH_NONE;
    }
    int64_t header_revision = 0;
    shic_etcd_int64 (shic_val_path (response, "header/revision"), &header_revision);
    const shic_val_t *events = shic_val_get (response, "events");
    const shic_val_t *canceled = shic_val_get (response, "canceled");
    const shic_val_t *created = shic_val_get (response, "created");
    int64_t compact_revision;
    shic_etcd_watch_event_t kind = SHIC_ETCD_WATCH_NONE;
    if ((events && !shic_val_is (events, SHIC_VAL_ARRAY))
    ||  (canceled && !shic_val_is (canceled, SHIC_VAL_BOOL))
    ||  (created && !shic_val_is (created, SHIC_VAL_BOOL))
    ||  shic_etcd_int64 (shic_val_get (response, "compact_revision"), &compact_revision)
    ||  compact_revision < 0)
        shic_etcd_malformed (&err, s_watch_member (self),
                             "a watch response that is not etcd's shape");
    else
    if (shic_val_bool (canceled) && compact_revision > 0) {
        //  Compacted past where the watch started: the caller reads again
        s_watch_stop (self);
        self->ended = true;
        self->finished = true;
        *revision = compact_revision;
        kind = SHIC_ETCD_WATCH_COMPACTED;
    }
    else
    if (shic_val_bool (canceled)) {
        const char *reason = shic_val_str (shic_val_get (response, "cancel_reason"));
        shic_val_t *details = shic_val_new_map ();
        shic_val_set_str (details, "etcd", s_watch_member (self));
        shic_error_set (&err, SHIC_E_INSTANCE_UNAVAILABLE, &details,
                        "etcd at %s cancelled the watch: %.200s", s_watch_member (self),
                        reason? reason: "no reason given");
    }
    else
    if (shic_val_bool (created)) {
        self->created = true;
        *revision = header_revision;
        kind = SHIC_ETCD_WATCH_CREATED;
    }
    else
    if (shic_val_size (events) > 0) {
        self->events = shic_val_take (response, "events");
        self->next_event = 0;
        kind = s_watch_event (self, kv, revision);
    }
    else {
        *revision = header_revision;
        kind = SHIC_ETCD_WATCH_PROGRESS;
    }
    shic_val_destroy (&response);
    if (err.code)
        s_watch_fail (self, &err);
    return kind;
}

//  Reads what curl has (ready sockets, a due timer) and learns whether the
//  transfer ended
static void
s_watch_drive (shic_etcd_watch_t *self)
{
    if (!self->multi || !self->attached)
        return;
    int running = 0;
    //  The sockets ready now (curl may change the list while it acts)
    struct pollfd items [S_WATCH_SOCKETS];
    size_t count = self->socket_count;
    for (size_t index = 0; index < count; index++) {
        items [index].fd = self->sockets [index].fd;
        items [index].events = (short) ((self->sockets [index].what & CURL_POLL_IN? POLLIN: 0)
                                      | (self->sockets [index].what & CURL_POLL_OUT? POLLOUT: 0));
        items [index].revents = 0;
    }
    if (count > 0 && poll (items, count, 0) > 0)
        for (size_t index = 0; index < count; index++)
            if (items [index].revents) {
                int mask = (items [index].revents & (POLLIN | POLLHUP)? CURL_CSELECT_IN: 0)
                         | (items [index].revents & POLLOUT? CURL_CSELECT_OUT: 0)
                         | (items [index].revents & POLLERR? CURL_CSELECT_ERR: 0);
                curl_multi_socket_action (self->multi, items [index].fd, mask, &running);
            }
    int64_t now = zclock_mono ();
    if (self->timer_at >= 0 && now >= self->timer_at) {
        self->timer_at = -1;
        curl_multi_socket_action (self->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    CURLMsg *message;
    int left;
    while (self->attached && (message = curl_multi_info_read (self->multi, &left)))
        if (message->msg == CURLMSG_DONE) {
            CURLcode code = message->data.result;
            shic_error_t err = { NULL, NULL, NULL };
            if (self->overflow)
                shic_etcd_malformed (&err, s_watch_member (self), "a watch line over 4 MiB");
            else
            if (code != CURLE_OK)
                shic_etcd_unavailable (&err, s_watch_member (self),
                                       self->errbuf [0]? self->errbuf: curl_easy_strerror (code));
            else
                shic_etcd_unavailable (&err, s_watch_member (self), "the watch stream ended");
            curl_multi_remove_handle (self->multi, self->easy);
            self->attached = false;
            self->socket_count = 0;
            self->timer_at = -1;
            //  What came before the end is read first; a member that
            //  never answered gives its turn to the next
            if (self->status == 0 && !self->created)
                s_watch_fail (self, &err);
            else {
                shic_error_move (&self->error, &err);
                self->ended = true;
            }
        }
    if (self->attached && !self->created && zclock_mono () >= self->create_by) {
        shic_error_t err = { NULL, NULL, NULL };
        shic_etcd_unavailable (&err, s_watch_member (self), "the watch was not confirmed in time");
        s_watch_fail (self, &err);
    }
}

//  What is waiting to be handed out: an event, a line, or the end
static shic_etcd_watch_event_t
s_watch_take (shic_etcd_watch_t *self, shic_etcd_kv_t **kv, int64_t *revision,
              shic_error_t *err)
{
    while (!self->finished) {
        shic_etcd_watch_event_t kind = SHIC_ETCD_WATCH_NONE;
        const char *line;
        size_t length;
        if (self->events)
            kind = s_watch_event (self, kv, revision);
        else
        if (s_watch_line_take (self, &line, &length))
            kind = s_watch_line (self, line, length, kv, revision);
        else
        if (self->ended && self->start < self->size) {
            //  The last line may end without a newline
            line = self->buffer + self->start;
            length = self->size - self->start;
            self->start = self->scan = self->size;
            kind = s_watch_line (self, line, length, kv, revision);
        }
        else
        if (self->ended) {
            s_watch_stop (self);
            self->finished = true;
            if (!self->error.code)
                shic_etcd_unavailable (&self->error, s_watch_member (self),
                                       "the watch stream ended");
            shic_error_move (err, &self->error);
            return SHIC_ETCD_WATCH_DOWN;
        }
        else
            return SHIC_ETCD_WATCH_NONE;
        if (kind != SHIC_ETCD_WATCH_NONE)
            return kind;
    }
    return SHIC_ETCD_WATCH_NONE;
}

shic_etcd_watch_event_t
shic_etcd_watch_next (shic_etcd_watch_t *self, shic_etcd_kv_t **kv, int64_t *revision,
                      shic_error_t *err)
{
    assert (self);
    int64_t ignored;
    if (!revision)
        revision = &ignored;
    if (kv)
        *kv = NULL;
    *revision = 0;
    shic_etcd_watch_event_t kind = s_watch_take (self, kv, revision, err);
    if (kind == SHIC_ETCD_WATCH_NONE && !self->finished) {
        s_watch_drive (self);
        kind = s_watch_take (self, kv, revision, err);
    }
    return kind;
}

int
shic_etcd_watch_fd (shic_etcd_watch_t *self)
{
    assert (self);
    if (self->ended || !self->attached)
        return -1;
    int fd = -1;
    for (size_t index = 0; index < self->socket_count; index++) {
        if (self->sockets [index].what & CURL_POLL_OUT)
            return -1;              //  still connecting or sending
        if (self->sockets [index].what & CURL_POLL_IN)
            fd = (int) self->sockets [index].fd;
    }
    return fd;
}

long
shic_etcd_watch_timeout (shic_etcd_watch_t *self)
{
    assert (self);
    if (self->finished)
        return -1;
    if (self->ended || self->events
    ||  (self->size > self->start
         && memchr (self->buffer + self->start, '\n', self->size - self->start)))
        return 0;
    int64_t wake = self->timer_at;
    if (!self->created && (wake < 0 || self->create_by < wake))
        wake = self->create_by;
    int64_t timeout = -1;
    if (wake >= 0) {
        timeout = wake - zclock_mono ();
        if (timeout < 0)
            timeout = 0;
    }
    if (shic_etcd_watch_fd (self) == -1 && (timeout < 0 || timeout > S_WATCH_CONNECTING_MS))
        timeout = S_WATCH_CONNECTING_MS;
    return (long) timeout;
}

//  curl's socket callback: which sockets to watch for what
static int
s_watch_socket (CURL *easy, curl_socket_t fd, int what, void *arg, void *socket_arg)
{
    (void) easy;
    (void) socket_arg;
    shic_etcd_watch_t *self = (shic_etcd_watch_t *) arg;
    size_t index;
    for (index = 0; index < self->socket_count; index++)
        if (self->sockets [index].fd == fd)
            break;
    if (what == CURL_POLL_REMOVE) {
        if (index < self->socket_count)
            self->sockets [index] = self->sockets [--self->socket_count];
        return 0;
    }
    if (index == self->socket_count) {
        if (self->socket_count == S_WATCH_SOCKETS)
            return -1;              //  curl ends the transfer
        self->socket_count++;
    }
    self->sockets [index].fd = fd;
    self->sockets [index].what = what;
    return 0;
}

//  curl's timer callback: when it wants its timeout action
static int
s_watch_timer (CURLM *multi, long timeout_ms, void *arg)
{
    (void) multi;
    shic_etcd_watch_t *self = (shic_etcd_watch_t *) arg;
    self->timer_at = timeout_ms < 0? -1: zclock_mono () + timeout_ms;
    return 0;
}

shic_etcd_watch_t *
shic_etcd_watch_new_fed (void)
{
    shic_etcd_watch_t *self = (shic_etcd_watch_t *) calloc (1, sizeof (shic_etcd_watch_t));
    if (self) {
        self->timer_at = -1;
        self->created = true;       //  no member to move on to
    }
    return self;
}

void
shic_etcd_watch_feed (shic_etcd_watch_t *self, const void *data, size_t size)
{
    assert (self && !self->multi);
    if (s_watch_append (self, (const char *) data, size) < size && !self->ended) {
        shic_etcd_malformed (&self->error, s_watch_member (self), "a watch line over 4 MiB");
        self->ended = true;
    }
}

void
shic_etcd_watch_feed_end (shic_etcd_watch_t *self)
{
    assert (self && !self->multi);
    self->ended = true;
}

shic_etcd_watch_t *
shic_etcd_watch_new (const char *urls, const char *prefix, int64_t start_revision,
                     shic_error_t *err)
{
    if (!prefix || start_revision < 0) {
        shic_error_set_field (err, SHIC_E_INVALID_ARGS, prefix? "start_revision": "prefix",
                              "etcd: a watch needs a prefix and a revision from 0 on");
        return NULL;
    }
    shic_etcd_watch_t *self = shic_etcd_watch_new_fed ();
    if (!self) {
        shic_error_set (err, SHIC_E_INTERNAL, NULL, "etcd: out of memory");
        return NULL;
    }
    self->created = false;
    if (shic_etcd_urls_parse (urls, &self->urls, &self->url_count, err)) {
        free (self);
        return NULL;
    }
    //  The range of the prefix; from start_revision (0: now); a progress
    //  notice every 10 minutes while nothing changes
    shic_val_t *create = shic_val_new_map ();
    shic_val_t *request = shic_val_new_map ();
    bool ok = create && request
           && shic_etcd_set_range (create, prefix, true) == 0
           && (start_revision == 0
               || shic_etcd_set_int64 (create, "start_revision", start_revision) == 0)
           && shic_val_set_bool (create, "progress_notify", true) == 0
           && shic_val_set (request, "create_request", &create) == 0;
    self->request = ok? shic_val_to_json (request): NULL;
    shic_val_destroy (&create);
    shic_val_destroy (&request);
    self->multi = self->request && shic_etcd_curl_ready ()? curl_multi_init (): NULL;
    self->easy = self->multi? curl_easy_init (): NULL;
    self->headers = self->easy? shic_etcd_headers_new (): NULL;
    if (!self->headers) {
        shic_etcd_watch_destroy (&self);
        shic_error_set (err, SHIC_E_INTERNAL, NULL, "etcd: curl cannot be set up");
        return NULL;
    }
    curl_multi_setopt (self->multi, CURLMOPT_SOCKETFUNCTION, s_watch_socket);
    curl_multi_setopt (self->multi, CURLMOPT_SOCKETDATA, self);
    curl_multi_setopt (self->multi, CURLMOPT_TIMERFUNCTION, s_watch_timer);
    curl_multi_setopt (self->multi, CURLMOPT_TIMERDATA, self);
    shic_etcd_easy_setup (self->easy, self->headers, self->errbuf);
    curl_easy_setopt (self->easy, CURLOPT_CONNECTTIMEOUT_MS, (long) S_WATCH_CONNECT_MS);
    curl_easy_setopt (self->easy, CURLOPT_POSTFIELDS, self->request);
    curl_easy_setopt (self->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen (self->request));
    curl_easy_setopt (self->easy, CURLOPT_WRITEFUNCTION, s_watch_write);
    curl_easy_setopt (self->easy, CURLOPT_WRITEDATA, self);
    if (s_watch_start (self, 0, err)) {
        shic_etcd_watch_destroy (&self);
        return NULL;
    }
    return self;
}

void
shic_etcd_watch_destroy (shic_etcd_watch_t **self_p)
{
    assert (self_p);
    shic_etcd_watch_t *self = *self_p;
    if (self) {
        if (self->attached)
            curl_multi_remove_handle (self->multi, self->easy);
        if (self->easy)
            curl_easy_cleanup (self->easy);
        if (self->multi)
            curl_multi_cleanup (self->multi);
        curl_slist_free_all (self->headers);
        shic_etcd_urls_destroy (&self->urls, self->url_count);
        free (self->request);
        free (self->buffer);
        shic_val_destroy (&self->events);
        shic_error_clear (&self->error);
        free (self);
        *self_p = NULL;
    }
}
