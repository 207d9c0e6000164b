/*  =========================================================================
    shic_ollama_health - the daemons one Ollama backend watches, and the
    snapshots of their state that its instances share

    A daemon is counted by the instances holding it: the last one frees
    it. A snapshot is one round of requests, immutable once published and
    counted by its holders (atomically), so readers never hold the lock
    while they use it. A model list is parsed once per distinct answer: a
    round whose /api/tags or /api/ps answer is the same bytes as the last
    one shares its list. The table's lock guards its map, the daemons and
    their rounds.
    =========================================================================
*/

#include "shic_ollama_health.h"
#include "shic_ollama_names.h"
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>

//  Timeouts (milliseconds)
#define S_PROBE_TIMEOUT     500     //  one request of a round
#define S_FRESH_MAX         500     //  most a snapshot is reused
#define S_WAIT_MAX          (3 * S_PROBE_TIMEOUT + 500)  //  wait for another's round

//  The models of one answer of /api/tags or /api/ps
typedef struct {
    atomic_int refs;                //  holders: snapshots and the daemon
    char *body;                     //  the answer it was read from
    size_t body_size;               //  bytes in body
    char **names;                   //  lower-case tagged names, sorted
                                    //  (read by many threads: no zhashx,
                                    //  whose lookups write)
    size_t names_size;              //  entries in names
    shic_val_t *listed;             //  names as the daemon wrote them
} s_list_t;

//  One round of /api/version, /api/tags and /api/ps
struct _shic_ollama_snapshot_t {
    atomic_int refs;                //  holders: the daemon and its readers
    int64_t taken_at;               //  monotonic ms the round started
    shic_val_t *failure;            //  fields of a failed /api/version, or NULL
    char *version;                  //  the daemon's version, or NULL
    s_list_t *installed;            //  /api/tags, or NULL when it did not answer
    s_list_t *running;              //  /api/ps, or NULL when it failed
    shic_val_t *ps_failure;         //  fields of a failed /api/ps, or NULL
};

//  One daemon with one set of headers
struct _shic_ollama_daemon_t {
    char *key;                      //  root and sorted headers, one a line
    char *root;                     //  daemon root
    char **headers;                 //  "Name: value" list, NULL-terminated
    int refs;                       //  instances holding it
    shic_http_t *http;              //  its own connection; NULL = the thread's
    bool fetching;                  //  a round is under way
    uint64_t rounds;                //  rounds finished
    shic_ollama_snapshot_t *snapshot; //  the latest round, or NULL
    s_list_t *tags;                 //  the latest /api/tags list, or NULL
    s_list_t *ps;                   //  the latest /api/ps list, or NULL
    pthread_cond_t done;            //  broadcast when a round finishes
};

struct _shic_ollama_health_t {
    pthread_mutex_t lock;           //  guards daemons and every daemon's round
    zhashx_t *daemons;              //  shic_ollama_daemon_t by key
};

static int
s_compare_str (const void *a, const void *b)
{
    return strcmp (*(const char **) a, *(const char **) b);
}

//  --------------------------------------------------------------------------
//  The daemon's answers

char *
shic_ollama_trim (const char *text)
{
    if (!text)
        return NULL;
    while (*text && isspace ((unsigned char) *text))
        text++;
    size_t size = strlen (text);
    while (size && isspace ((unsigned char) text [size - 1]))
        size--;
    return strndup (text, size);
}

//  The first bytes of an answer's body that are text (at most 200, cut
//  before a NUL or bad UTF-8: they travel to clients in details)
static size_t
s_excerpt (const shic_http_result_t *result)
{
    size_t size = result->body? strnlen (result->body, 200): 0;
    return size? shic_json_utf8_prefix (result->body, size): 0;
}

void
shic_ollama_answer_error (shic_val_t *fields, const shic_http_result_t *result)
{
    if (result->status == 0) {
        shic_val_set_str (fields, "error", result->error);
        return;
    }
    shic_val_t *json = result->body? shic_val_from_json (result->body): NULL;
    const char *text = shic_val_str (shic_val_get (json, "error"));
    if (text)
        shic_val_set_str (fields, "error", text);
    else
        shic_val_set (fields, "error", &(shic_val_t *) {
            shic_val_new_strn (result->body? result->body: "", s_excerpt (result)) });
    shic_val_destroy (&json);
}

void
shic_ollama_answer_foreign (shic_val_t *fields, const char *step, const shic_http_result_t *result)
{
    shic_val_set_str (fields, "step", step);
    shic_val_set_int (fields, "http_status", result->status);
    size_t size = s_excerpt (result);
    shic_val_set (fields, "error", &(shic_val_t *) {
        shic_val_new_printf ("not an answer of Ollama: %.*s", (int) size, size? result->body: "(empty)") });
}

shic_val_t *
shic_ollama_answer_memory (const char *body, const char *key)
{
    shic_val_t *json = body? shic_val_from_json (body): NULL;
    const shic_val_t *models = shic_val_get (json, "models");
    shic_val_t *memory = NULL;
    for (size_t i = 0; !memory && i < shic_val_size (models); i++) {
        const shic_val_t *entry = shic_val_at (models, i);
        char *name = shic_ollama_model_normalize (shic_val_str (shic_val_get (entry, "name")));
        for (char *ch = name; ch && *ch; ch++)
            *ch = (char) tolower ((unsigned char) *ch);
        int64_t size = shic_val_int (shic_val_get (entry, "size"));
        int64_t vram = shic_val_int (shic_val_get (entry, "size_vram"));
        if (name && streq (name, key) && size > 0 && vram >= 0 && vram <= size) {
            memory = shic_val_new_map ();
            shic_val_set_int (memory, "device_bytes", vram);
            shic_val_set_int (memory, "host_bytes", size - vram);
        }
        free (name);
    }
    shic_val_destroy (&json);
    return memory;
}

int
shic_ollama_answer_version (int rc, const shic_http_result_t *result, shic_val_t *fields,
                            char **version_p)
{
    shic_val_set_bool (fields, "reachable", rc == 0);
    if (rc == 0 && result->status == 200) {
        //  Anything may answer 200 (a proxy's HTML page, a truncated body):
        //  only {"version": "<non-empty string>"} is Ollama's
        shic_val_t *json = shic_val_from_json (result->body);
        *version_p = shic_ollama_trim (shic_val_str (shic_val_get (json, "version")));
        bool map = shic_val_is (json, SHIC_VAL_MAP);
        shic_val_destroy (&json);
        if (map && *version_p && **version_p)
            return 0;
        zstr_free (version_p);
        shic_ollama_answer_foreign (fields, "version", result);
        return -1;
    }
    if (rc == 0) {
        shic_val_set_str (fields, "step", "version");
        shic_val_set_int (fields, "http_status", result->status);
    }
    shic_ollama_answer_error (fields, result);
    return -1;
}


//  --------------------------------------------------------------------------
//  Model lists and snapshots

static void
s_list_release (s_list_t **self_p)
{
    s_list_t *self = *self_p;
    if (self && atomic_fetch_sub (&self->refs, 1) == 1) {
        free (self->body);
        for (size_t i = 0; i < self->names_size; i++)
            free (self->names [i]);
        free (self->names);
        shic_val_destroy (&self->listed);
        free (self);
    }
    *self_p = NULL;
}

static s_list_t *
s_list_ref (s_list_t *self)
{
    if (self)
        atomic_fetch_add (&self->refs, 1);
    return self;
}

//  The list of a 200 answer of /api/tags or /api/ps (rc from shic_http),
//  or NULL when the answer is anything else. *last (the previous list of
//  the same path, or NULL) is reused when the answer has the same bytes,
//  else replaced. The result has one holder for the caller.
static s_list_t *
s_list_read (int rc, shic_http_result_t *result, s_list_t **last)
{
    if (rc != 0 || result->status != 200)
        return NULL;
    if (last && *last && (*last)->body_size == result->body_size
    &&  memcmp ((*last)->body, result->body, result->body_size) == 0)
        return s_list_ref (*last);
    shic_val_t *json = shic_val_from_json (result->body);
    const shic_val_t *models = shic_val_get (json, "models");
    if (shic_val_type (models) != SHIC_VAL_ARRAY) {
        shic_val_destroy (&json);
        return NULL;
    }
    s_list_t *self = (s_list_t *) zmalloc (sizeof (s_list_t));
    atomic_init (&self->refs, 1);
    self->names = (char **) zmalloc ((shic_val_size (models) + 1) * sizeof (char *));
    self->listed = shic_val_new_array ();
    for (size_t i = 0; i < shic_val_size (models); i++) {
        const shic_val_t *entry = shic_val_at (models, i);
        const char *name = shic_val_str (shic_val_get (entry, "name"));
        if (!name)
            name = shic_val_str (shic_val_get (entry, "model"));
        char *key = shic_ollama_model_normalize (name);
        if (!key)
            continue;
        for (char *ch = key; *ch; ch++)
            *ch = (char) tolower ((unsigned char) *ch);
        self->names [self->names_size++] = key;
        shic_val_t *item = shic_val_new_str (name);
        shic_val_push (self->listed, &item);
    }
    shic_val_destroy (&json);
    qsort (self->names, self->names_size, sizeof (char *), s_compare_str);
    //  The body goes with the list, to compare the next answer with
    self->body = result->body;
    self->body_size = result->body_size;
    result->body = NULL;
    if (last) {
        s_list_release (last);
        *last = s_list_ref (self);
    }
    return self;
}

//  True when the list holds key (lower-case, tagged)
static bool
s_list_has (const s_list_t *self, const char *key)
{
    return bsearch (&key, self->names, self->names_size, sizeof (char *), s_compare_str) != NULL;
}

static void
s_snapshot_destroy (shic_ollama_snapshot_t **self_p)
{
    shic_ollama_snapshot_t *self = *self_p;
    if (self) {
        shic_val_destroy (&self->failure);
        free (self->version);
        s_list_release (&self->installed);
        s_list_release (&self->running);
        shic_val_destroy (&self->ps_failure);
        free (self);
        *self_p = NULL;
    }
}

//  --------------------------------------------------------------------------
//  Snapshots

//  Drops a holder's count; returns the snapshot when that was the last
//  one, for the caller to destroy (after unlocking, when it holds the lock)
static shic_ollama_snapshot_t *
s_snapshot_unref (shic_ollama_snapshot_t *self)
{
    return self && atomic_fetch_sub (&self->refs, 1) == 1? self: NULL;
}

void
shic_ollama_snapshot_release (shic_ollama_snapshot_t **self_p)
{
    assert (self_p);
    shic_ollama_snapshot_t *last = s_snapshot_unref (*self_p);
    s_snapshot_destroy (&last);
    *self_p = NULL;
}

const shic_val_t *
shic_ollama_snapshot_failure (shic_ollama_snapshot_t *self)
{
    assert (self);
    return self->failure;
}

const char *
shic_ollama_snapshot_version (shic_ollama_snapshot_t *self)
{
    assert (self);
    return self->version;
}

bool
shic_ollama_snapshot_installed (shic_ollama_snapshot_t *self, const char *key)
{
    assert (self);
    return self->installed && s_list_has (self->installed, key);
}

const shic_val_t *
shic_ollama_snapshot_running (shic_ollama_snapshot_t *self)
{
    assert (self);
    return self->running? self->running->listed: NULL;
}

const shic_val_t *
shic_ollama_snapshot_ps_failure (shic_ollama_snapshot_t *self)
{
    assert (self);
    return self->ps_failure;
}

bool
shic_ollama_snapshot_loaded (shic_ollama_snapshot_t *self, const char *key)
{
    assert (self);
    return self->running && s_list_has (self->running, key);
}

shic_val_t *
shic_ollama_snapshot_memory (shic_ollama_snapshot_t *self, const char *key)
{
    if (!shic_ollama_snapshot_loaded (self, key))
        return NULL;
    return shic_ollama_answer_memory (self->running->body, key);
}

//  --------------------------------------------------------------------------
//  Rounds and daemons

//  One GET of the round, through http or the thread's handle
static int
s_round_get (shic_ollama_daemon_t *root, shic_http_t *http, const char *path, shic_http_result_t *result)
{
    char *url = zsys_sprintf ("%s%s", root->root, path);
    int rc = http
           ? shic_http_send (http, "GET", url, (const char *const *) root->headers, NULL,
                             S_PROBE_TIMEOUT, result)
           : shic_http_request ("GET", url, (const char *const *) root->headers, NULL,
                                S_PROBE_TIMEOUT, result);
    free (url);
    return rc;
}

//  One round against the daemon: a fresh snapshot with one holder. The
//  round's fetcher (own = true) uses the root's connection and lists;
//  anybody else, its own.
static shic_ollama_snapshot_t *
s_round (shic_ollama_daemon_t *root, bool own)
{
    shic_ollama_snapshot_t *self = (shic_ollama_snapshot_t *) zmalloc (sizeof (shic_ollama_snapshot_t));
    atomic_init (&self->refs, 1);
    self->taken_at = zclock_mono ();
    shic_http_t *http = own? root->http: NULL;
    shic_http_result_t result = { 0 };
    int rc = s_round_get (root, http, "/api/version", &result);
    shic_val_t *failure = shic_val_new_map ();
    if (shic_ollama_answer_version (rc, &result, failure, &self->version) != 0) {
        self->failure = failure;
        shic_http_result_reset (&result);
        return self;
    }
    shic_val_destroy (&failure);
    shic_http_result_reset (&result);

    //  A daemon or proxy without /api/tags leaves the model to /api/show
    rc = s_round_get (root, http, "/api/tags", &result);
    self->installed = s_list_read (rc, &result, own? &root->tags: NULL);
    shic_http_result_reset (&result);

    rc = s_round_get (root, http, "/api/ps", &result);
    self->running = s_list_read (rc, &result, own? &root->ps: NULL);
    if (!self->running) {
        self->ps_failure = shic_val_new_map ();
        shic_val_set_str (self->ps_failure, "step", "ps");
        if (rc == 0)
            shic_val_set_int (self->ps_failure, "http_status", result.status);
        else
            shic_val_set_bool (self->ps_failure, "reachable", false);
        shic_ollama_answer_error (self->ps_failure, &result);
    }
    shic_http_result_reset (&result);
    return self;
}

static void
s_daemon_destroy (shic_ollama_daemon_t **self_p)
{
    shic_ollama_daemon_t *self = *self_p;
    if (self) {
        assert (!self->fetching);
        shic_ollama_snapshot_t *last = s_snapshot_unref (self->snapshot);
        s_snapshot_destroy (&last);
        s_list_release (&self->tags);
        s_list_release (&self->ps);
        shic_http_destroy (&self->http);
        pthread_cond_destroy (&self->done);
        for (size_t i = 0; self->headers && self->headers [i]; i++)
            free (self->headers [i]);
        free (self->headers);
        free (self->root);
        free (self->key);
        free (self);
        *self_p = NULL;
    }
}

//  --------------------------------------------------------------------------
//  The table

shic_ollama_health_t *
shic_ollama_health_new (void)
{
    shic_ollama_health_t *self = (shic_ollama_health_t *) zmalloc (sizeof (shic_ollama_health_t));
    pthread_mutex_init (&self->lock, NULL);
    self->daemons = zhashx_new ();
    return self;
}

void
shic_ollama_health_destroy (shic_ollama_health_t **self_p)
{
    assert (self_p);
    shic_ollama_health_t *self = *self_p;
    if (self) {
        //  Instances end before their backend: none holds a daemon now
        assert (zhashx_size (self->daemons) == 0);
        zhashx_destroy (&self->daemons);
        pthread_mutex_destroy (&self->lock);
        free (self);
        *self_p = NULL;
    }
}

shic_ollama_daemon_t *
shic_ollama_health_acquire (shic_ollama_health_t *self, const char *root, char **headers)
{
    assert (self);
    assert (root);
    size_t count = 0;
    while (headers && headers [count])
        count++;
    const char **sorted = (const char **) zmalloc ((count + 1) * sizeof (char *));
    for (size_t i = 0; i < count; i++)
        sorted [i] = headers [i];
    qsort (sorted, count, sizeof (char *), s_compare_str);
    char *key = strdup (root);
    for (size_t i = 0; i < count; i++) {
        char *grown = zsys_sprintf ("%s\n%s", key, sorted [i]);
        free (key);
        key = grown;
    }
    free (sorted);

    pthread_mutex_lock (&self->lock);
    shic_ollama_daemon_t *daemon = (shic_ollama_daemon_t *) zhashx_lookup (self->daemons, key);
    if (!daemon) {
        daemon = (shic_ollama_daemon_t *) zmalloc (sizeof (shic_ollama_daemon_t));
        daemon->key = key;
        key = NULL;
        daemon->root = strdup (root);
        daemon->headers = (char **) zmalloc ((count + 1) * sizeof (char *));
        for (size_t i = 0; i < count; i++)
            daemon->headers [i] = strdup (headers [i]);
        daemon->http = shic_http_new ();
        pthread_condattr_t attr;
        pthread_condattr_init (&attr);
        pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
        pthread_cond_init (&daemon->done, &attr);
        pthread_condattr_destroy (&attr);
        zhashx_insert (self->daemons, daemon->key, daemon);
    }
    daemon->refs++;
    pthread_mutex_unlock (&self->lock);
    free (key);
    return daemon;
}

shic_val_t *
shic_ollama_health_installed (shic_ollama_health_t *self)
{
    assert (self);
    shic_val_t *names = NULL;
    pthread_mutex_lock (&self->lock);
    for (shic_ollama_daemon_t *daemon = (shic_ollama_daemon_t *) zhashx_first (self->daemons);
         daemon; daemon = (shic_ollama_daemon_t *) zhashx_next (self->daemons)) {
        if (!daemon->tags)
            continue;
        if (!names)
            names = shic_val_new_array ();
        for (size_t i = 0; i < shic_val_size (daemon->tags->listed); i++) {
            shic_val_t *name = shic_val_dup (shic_val_at (daemon->tags->listed, i));
            shic_val_push (names, &name);
        }
    }
    pthread_mutex_unlock (&self->lock);
    return names;
}

void
shic_ollama_health_release (shic_ollama_health_t *self, shic_ollama_daemon_t **daemon_p)
{
    assert (self);
    assert (daemon_p);
    shic_ollama_daemon_t *daemon = *daemon_p;
    if (!daemon)
        return;
    pthread_mutex_lock (&self->lock);
    if (--daemon->refs == 0)
        zhashx_delete (self->daemons, daemon->key);
    else
        daemon = NULL;
    pthread_mutex_unlock (&self->lock);
    s_daemon_destroy (&daemon);
    *daemon_p = NULL;
}

//  A snapshot younger than half the interval (at most S_FRESH_MAX) is
//  reused; while somebody's round is under way, one younger than twice
//  that serves too (so a daemon's state never reaches an instance later
//  than one interval); else this thread runs the round, or waits for the
//  one under way.
shic_ollama_snapshot_t *
shic_ollama_health_snapshot (shic_ollama_health_t *self, shic_ollama_daemon_t *daemon,
                             int64_t interval_ms)
{
    assert (self);
    assert (daemon);
    int64_t fresh = interval_ms / 2 < S_FRESH_MAX? interval_ms / 2: S_FRESH_MAX;
    struct timespec deadline;
    clock_gettime (CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += S_WAIT_MAX / 1000;
    deadline.tv_nsec += (S_WAIT_MAX % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    shic_ollama_snapshot_t *snapshot = NULL;
    shic_ollama_snapshot_t *stale = NULL;
    bool timed_out = false;
    pthread_mutex_lock (&self->lock);
    while (!snapshot && !timed_out) {
        int64_t age = daemon->snapshot? zclock_mono () - daemon->snapshot->taken_at: INT64_MAX;
        if (age <= fresh || (daemon->fetching && age <= 2 * fresh))
            snapshot = daemon->snapshot;
        else
        if (!daemon->fetching) {
            daemon->fetching = true;
            pthread_mutex_unlock (&self->lock);
            shic_ollama_snapshot_t *fresh_snapshot = s_round (daemon, true);
            pthread_mutex_lock (&self->lock);
            stale = s_snapshot_unref (daemon->snapshot);
            daemon->snapshot = snapshot = fresh_snapshot;
            daemon->fetching = false;
            daemon->rounds++;
            pthread_cond_broadcast (&daemon->done);
        }
        else {
            //  Somebody's round: its answer is as fresh as we can get
            uint64_t rounds = daemon->rounds;
            while (daemon->rounds == rounds && !timed_out)
                timed_out = pthread_cond_timedwait (&daemon->done, &self->lock, &deadline) == ETIMEDOUT;
            if (daemon->rounds != rounds && daemon->snapshot)
                snapshot = daemon->snapshot;
        }
    }
    if (snapshot)
        atomic_fetch_add (&snapshot->refs, 1);
    pthread_mutex_unlock (&self->lock);
    s_snapshot_destroy (&stale);
    //  A round stuck past every timeout: ask on our own
    if (!snapshot)
        snapshot = s_round (daemon, false);
    return snapshot;
}


//  --------------------------------------------------------------------------
//  Self test: sharing and answers, against no daemon at all

void
shic_ollama_health_test (bool verbose)
{
    (void) verbose;
    printf (" * shic_ollama_health: ");
    //  The answers
    char *trimmed = shic_ollama_trim (" 0.5.1\n");
    assert (streq (trimmed, "0.5.1") && !shic_ollama_trim (NULL));
    free (trimmed);
    shic_http_result_t result = { .status = 200, .body = "{\"version\": \" 0.5.1 \"}" };
    shic_val_t *fields = shic_val_new_map ();
    char *version = NULL;
    assert (shic_ollama_answer_version (0, &result, fields, &version) == 0);
    assert (streq (version, "0.5.1"));
    free (version);
    result = (shic_http_result_t) { .status = 500, .body = "{\"error\": \"boom\"}" };
    assert (shic_ollama_answer_version (0, &result, fields, &version) == -1);
    assert (shic_val_bool (shic_val_get (fields, "reachable")));
    assert (shic_val_int (shic_val_get (fields, "http_status")) == 500);
    assert (streq (shic_val_str (shic_val_get (fields, "error")), "boom"));
    shic_val_destroy (&fields);

    //  The same root and headers in another order: one daemon
    shic_ollama_health_t *health = shic_ollama_health_new ();
    assert (health);
    const char *root = "http://127.0.0.1:1";
    char *headers [] = { "b: 2", "a: 1", NULL };
    char *reordered [] = { "a: 1", "b: 2", NULL };
    shic_ollama_daemon_t *first = shic_ollama_health_acquire (health, root, headers);
    shic_ollama_daemon_t *second = shic_ollama_health_acquire (health, root, reordered);
    shic_ollama_daemon_t *other = shic_ollama_health_acquire (health, root, NULL);
    assert (first && first == second && other && other != first);

    //  Nobody listens: the round stops at /api/version, and serves the
    //  daemon's other holder while it is fresh
    shic_ollama_snapshot_t *snapshot = shic_ollama_health_snapshot (health, first, 10000);
    const shic_val_t *failure = shic_ollama_snapshot_failure (snapshot);
    assert (failure && !shic_val_bool (shic_val_get (failure, "reachable")));
    assert (shic_val_str (shic_val_get (failure, "error")));
    assert (!shic_ollama_snapshot_version (snapshot));
    assert (!shic_ollama_snapshot_installed (snapshot, "x:latest"));
    assert (!shic_ollama_snapshot_loaded (snapshot, "x:latest"));
    assert (!shic_ollama_snapshot_running (snapshot) && !shic_ollama_snapshot_ps_failure (snapshot));
    shic_ollama_snapshot_t *shared = shic_ollama_health_snapshot (health, second, 10000);
    assert (shared == snapshot);
    shic_ollama_snapshot_release (&shared);
    shic_ollama_snapshot_release (&snapshot);
    shic_ollama_snapshot_release (&snapshot);
    assert (!snapshot);

    shic_ollama_health_release (health, &first);
    shic_ollama_health_release (health, &second);
    shic_ollama_health_release (health, &other);
    shic_ollama_health_release (health, &other);
    assert (!first && !second && !other);
    shic_ollama_health_destroy (&health);
    shic_ollama_health_destroy (&health);
    printf ("OK\n");
}
