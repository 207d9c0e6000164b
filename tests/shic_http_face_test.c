/*  =========================================================================
    shic_http_face_test - the HTTP face in process (selftest "http_face")

    A runtime with the test backends, a face on a free port, libcurl as the
    browser: the metrics, the status, the event stream's first bytes, 404,
    the action refused without a token, addresses refused; and the metrics
    renderer on a state with labels that need escaping.
    =========================================================================
*/

#include "shic.h"
#include "shic_json.h"
#include "shic_http_face.h"
#include "shic_metrics.h"
#include "shic_selftest.h"
#include "shic_test_backends.h"
#include <curl/curl.h>

typedef struct {
    char *text;                     //  body so far
    size_t size;                    //  its bytes
    size_t stop_at;                 //  end the transfer past this many (0: never)
} body_t;

static size_t
s_collect (char *data, size_t size, size_t count, void *arg)
{
    body_t *body = (body_t *) arg;
    size_t bytes = size * count;
    body->text = realloc (body->text, body->size + bytes + 1);
    memcpy (body->text + body->size, data, bytes);
    body->size += bytes;
    body->text [body->size] = 0;
    if (body->stop_at && body->size >= body->stop_at)
        return 0;                   //  enough: abort
    return bytes;
}

//  The HTTP status of method url; the body in *text_p (fresh)
static long
s_fetch (int port, const char *method, const char *path, const char *header, size_t stop_at,
         char **text_p)
{
    CURL *curl = curl_easy_init ();
    char url [256];
    snprintf (url, sizeof (url), "http://127.0.0.1:%d%s", port, path);
    body_t body = { .stop_at = stop_at };
    struct curl_slist *headers = header? curl_slist_append (NULL, header): NULL;
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_collect);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_perform (curl);
    long status = 0;
    curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all (headers);
    curl_easy_cleanup (curl);
    *text_p = body.text? body.text: strdup ("");
    return status;
}

static void
s_test_render (void)
{
    shic_val_t *state = shic_val_from_json (
        "{\"stats\": {\"requests\": 7, \"errors\": {\"not_found\": 2},"
        "  \"ensure_latency\": {\"le_1024_us\": 1, \"le_8388608_us\": 1}},"
        " \"instances\": {\"instances\": ["
        "  {\"backend\": \"a\\\"b\", \"lifecycle_status\": \"ready\"},"
        "  {\"backend\": \"a\\\"b\", \"lifecycle_status\": \"ready\"},"
        "  {\"backend\": \"c\\\\d\\n\", \"lifecycle_status\": \"failed\"}]},"
        " \"resources\": {\"pools\": [{\"pool\": \"ram\", \"capacity_bytes\": 100, \"free_bytes\": 40}],"
        "  \"queue\": [{\"instance_id\": \"q\", \"pool\": \"ram\", \"queued_ms\": 1500}]}}");
    assert (state);
    char *text = shic_metrics_render (state, 3, 2);
    assert (strstr (text, "shic_requests_total 7\n"));
    assert (strstr (text, "shic_errors_total{code=\"not_found\"} 2\n"));
    assert (strstr (text, "shic_instances{backend=\"a\\\"b\",status=\"ready\"} 2\n"));
    assert (strstr (text, "shic_instances{backend=\"c\\\\d\\n\",status=\"failed\"} 1\n"));
    assert (strstr (text, "shic_ensure_duration_seconds_bucket{le=\"0.001024\"} 1\n"));
    assert (strstr (text, "shic_ensure_duration_seconds_bucket{le=\"4.194304\"} 1\n"));
    assert (strstr (text, "shic_ensure_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
    assert (strstr (text, "shic_pool_free_bytes{pool=\"ram\"} 40\n"));
    assert (!strstr (text, "shic_pool_used_bytes{"));        //  absent field, no sample
    assert (strstr (text, "shic_queue_length 1\n"));
    assert (strstr (text, "shic_queue_wait_seconds{instance_id=\"q\",pool=\"ram\"} 1.5\n"));
    assert (strstr (text, "shic_evictions_total 3\n"));
    assert (strstr (text, "shic_http_event_streams 2\n"));
    free (text);
    shic_val_destroy (&state);
}

void
shic_http_face_test (bool verbose)
{
    (void) verbose;
    s_test_render ();

    char *problem = shic_http_face_address_problem ("127.0.0.1:5593");
    assert (!problem);
    const char *bad [] = { "", "nope", "127.0.0.1", "localhost:80", "127.0.0.1:70000",
                           "127.0.0.1:", ":80", "1.2.3.4.5:1", NULL };
    for (int i = 0; bad [i]; i++) {
        problem = shic_http_face_address_problem (bad [i]);
        assert (problem);
        free (problem);
    }

    shic_runtime_t *runtime = shic_runtime_new (NULL);
    assert (runtime);
    shic_error_t err = { 0 };
    assert (shic_runtime_register (runtime, &shic_test_spawned_ops, NULL, &err) == 0);
    assert (!shic_http_face_new ("nope", shic_runtime_endpoint (runtime), NULL, NULL));
    shic_http_face_t *face = shic_http_face_new ("127.0.0.1:0", shic_runtime_endpoint (runtime),
                                                 shic_runtime_events_endpoint (runtime),
                                                 "0123456789abcdef");
    assert (face);
    int port = shic_http_face_port (face);
    assert (port > 0);
    //  The same port twice: refused
    char taken [32];
    snprintf (taken, sizeof (taken), "127.0.0.1:%d", port);
    assert (!shic_http_face_new (taken, shic_runtime_endpoint (runtime), NULL, NULL));

    char *text = NULL;
    assert (s_fetch (port, "GET", "/metrics", NULL, 0, &text) == 200);
    assert (strstr (text, "# TYPE shic_ensure_duration_seconds histogram\n"));
    assert (strstr (text, "shic_queue_length 0\n"));
    free (text);
    assert (s_fetch (port, "GET", "/api/v1/status", NULL, 0, &text) == 200);
    shic_val_t *status = shic_val_from_json (text);
    assert (shic_val_is (shic_val_get (status, "instances"), SHIC_VAL_ARRAY));
    assert (shic_val_is (shic_val_get (status, "pools"), SHIC_VAL_ARRAY));
    assert (shic_val_size (shic_val_get (status, "backends")) == 1);
    assert (shic_val_bool (shic_val_get (status, "actions")));
    shic_val_destroy (&status);
    free (text);
    assert (s_fetch (port, "GET", "/", NULL, 0, &text) == 200);
    assert (strstr (text, "<title>shic</title>"));
    free (text);
    //  The event stream's first bytes, then the client goes away
    s_fetch (port, "GET", "/api/v1/events", NULL, 5, &text);
    assert (strncmp (text, "retry", 5) == 0);
    free (text);
    assert (s_fetch (port, "GET", "/nope", NULL, 0, &text) == 404);
    free (text);
    assert (s_fetch (port, "DELETE", "/metrics", NULL, 0, &text) == 405);
    free (text);
    assert (s_fetch (port, "POST", "/api/v1/instances/x/stop", NULL, 0, &text) == 401);
    free (text);
    assert (s_fetch (port, "POST", "/api/v1/instances/x/stop",
                     "Authorization: Bearer 0123456789abcdef", 0, &text) == 200);
    free (text);
    shic_http_face_destroy (&face);
    shic_http_face_destroy (&face);             //  no-op on NULL

    //  Read-only without a token
    face = shic_http_face_new ("127.0.0.1:0", shic_runtime_endpoint (runtime), NULL, NULL);
    assert (face);
    assert (s_fetch (shic_http_face_port (face), "POST", "/api/v1/instances/x/stop",
                     "Authorization: Bearer x", 0, &text) == 403);
    free (text);
    assert (s_fetch (shic_http_face_port (face), "GET", "/api/v1/events", NULL, 0, &text) == 404);
    free (text);
    shic_http_face_destroy (&face);
    shic_runtime_destroy (&runtime);
}
