/*  =========================================================================
    chat - ask shicd for an endpoint, send it one chat completion, release

    The C client's typed endpoint and libcurl, nothing else: copy this file.

        cc chat.c $(pkg-config --cflags --libs libshic) -o chat
        SHIC_ENDPOINT=tcp://127.0.0.1:5590 ./chat llama_cpp tiny "Say hello"

    Usage: chat BACKEND MODEL [PROMPT]    (the gateway: $SHIC_ENDPOINT, else
    tcp://127.0.0.1:5590). Exit 0 with the model's answer on stdout, 1 on
    an error of the daemon or of the service, 2 usage, 3 no daemon.
    =========================================================================
*/

#include "shic.h"
#include <curl/curl.h>

//  The prompt as a JSON string (quotes, backslashes and control characters
//  escaped); fresh
static char *
s_json_string (const char *text)
{
    size_t size = 3;
    for (const char *c = text; *c; c++)
        size += 6;
    char *out = (char *) malloc (size);
    char *at = out;
    *at++ = '"';
    for (const unsigned char *c = (const unsigned char *) text; *c; c++) {
        if (*c == '"' || *c == '\\') {
            *at++ = '\\';
            *at++ = (char) *c;
        }
        else
        if (*c < 0x20)
            at += sprintf (at, "\\u%04x", *c);
        else
            *at++ = (char) *c;
    }
    *at++ = '"';
    *at = 0;
    return out;
}

//  libcurl hands the response over in pieces: keep them in a zchunk
static size_t
s_collect (char *data, size_t size, size_t count, void *chunk)
{
    zchunk_extend ((zchunk_t *) chunk, data, size * count);
    return size * count;
}

//  POSTs one chat completion to the endpoint; the answer's text (fresh) or NULL
static char *
s_chat (const shic_endpoint_t *endpoint, const char *prompt)
{
    char *quoted_model = s_json_string (endpoint->model? endpoint->model: "");
    char *quoted_prompt = s_json_string (prompt);
    char *body = zsys_sprintf ("{\"model\":%s,\"messages\":[{\"role\":\"user\",\"content\":%s}]}",
                               quoted_model, quoted_prompt);
    free (quoted_model);
    free (quoted_prompt);
    char *url = zsys_sprintf ("%s/chat/completions", endpoint->base_url);

    //  The endpoint's headers (an API key, for example) go with every request
    struct curl_slist *headers = curl_slist_append (NULL, "Content-Type: application/json");
    for (size_t i = 0; i < endpoint->header_count; i++)
        headers = curl_slist_append (headers, endpoint->headers [i]);
    zchunk_t *response = zchunk_new (NULL, 0);
    CURL *curl = curl_easy_init ();
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt (curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_collect);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, response);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT, 300L);
    CURLcode code = curl_easy_perform (curl);
    long status = 0;
    curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup (curl);
    curl_slist_free_all (headers);
    zstr_free (&url);
    zstr_free (&body);

    char *answer = NULL;
    if (code != CURLE_OK)
        fprintf (stderr, "chat: %s\n", curl_easy_strerror (code));
    else {
        //  choices[0].message.content of the OpenAI reply
        char *text = zchunk_strdup (response);
        shic_val_t *reply = shic_val_from_json (text);
        const shic_val_t *choice = shic_val_at (shic_val_get (reply, "choices"), 0);
        const char *content = shic_val_str (shic_val_path (choice, "message/content"));
        if (status == 200 && content)
            answer = strdup (content);
        else
            fprintf (stderr, "chat: HTTP %ld: %s\n", status, text);
        shic_val_destroy (&reply);
        zstr_free (&text);
    }
    zchunk_destroy (&response);
    return answer;
}

int
main (int argc, char *argv [])
{
    if (argc < 3 || argc > 4) {
        fprintf (stderr, "usage: chat BACKEND MODEL [PROMPT]\n");
        return 2;
    }
    const char *prompt = argc == 4? argv [3]: "Say hello in one sentence.";
    const char *gateway = getenv ("SHIC_ENDPOINT")? getenv ("SHIC_ENDPOINT"): "tcp://127.0.0.1:5590";
    curl_global_init (CURL_GLOBAL_DEFAULT);
    shic_client_t *client = shic_client_new (gateway);
    if (!client)
        return 2;

    //  One call: the model is started when it is not running yet (up to
    //  the daemon's wait), and a lease of 5 minutes keeps it ours
    shic_endpoint_t *endpoint = shic_client_ensure_endpoint (client, argv [1], argv [2],
                                                             300000, -1);
    if (!endpoint) {
        const shic_error_t *err = shic_client_error (client);
        fprintf (stderr, "chat: %s: %s\n", err->code, err->message? err->message: "");
        bool no_daemon = streq (err->code, SHIC_E_NO_REPLY);
        shic_client_destroy (&client);
        curl_global_cleanup ();
        return no_daemon? 3: 1;
    }
    fprintf (stderr, "chat: %s at %s (lease %s, instance %s)\n", endpoint->model,
             endpoint->base_url, endpoint->lease_ref, endpoint->reused? "reused": "started");

    char *answer = s_chat (endpoint, prompt);
    if (answer)
        printf ("%s\n", answer);
    free (answer);

    //  Done with it: the lease ends now rather than in 5 minutes
    if (shic_client_release_endpoint (client, &endpoint) != 0)
        fprintf (stderr, "chat: release: %s\n", shic_client_error (client)->message);
    shic_client_destroy (&client);
    curl_global_cleanup ();
    return answer? 0: 1;
}
