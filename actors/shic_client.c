/*  =========================================================================
    shic_client - a client of the wire protocol (wire.md)

    One DEALER socket. Calls are matched to replies by id; replies to calls
    that timed out are discarded when they arrive.

    Fail fast: until the daemon has answered once, a call first pings with a
    short deadline. A ping (rather than ZeroMQ's connection events) because
    it proves the gateway itself answers: a TCP connect also succeeds to a
    wrong program on the port or to a daemon whose CURVE handshake refuses
    us, and inproc endpoints have no connection events at all.
    =========================================================================
*/

#include "shic_actors.h"

struct _shic_client_t {
    zsock_t *sock;                  //  DEALER to the gateway
    char *endpoint;                 //  what we connected to, for messages
    int timeout_ms;                 //  margin beyond a request's wait_ms
    int probe_ms;                   //  deadline of the first ping
    bool answered;                  //  the daemon answered since the last no_reply
    int64_t next_id;                //  ids of calls
    shic_error_t error;             //  the last call's error
};

shic_client_t *
shic_client_new (const char *endpoint)
{
    shic_client_t *self = (shic_client_t *) zmalloc (sizeof (shic_client_t));
    if (!self)
        return NULL;
    self->sock = zsock_new (ZMQ_DEALER);
    self->timeout_ms = 10000;
    self->probe_ms = 1000;
    self->endpoint = strdup (endpoint);
    if (!self->sock || !self->endpoint || zsock_connect (self->sock, "%s", endpoint) == -1) {
        shic_client_destroy (&self);
        return NULL;
    }
    zsock_set_sndtimeo (self->sock, 5000);
    return self;
}

shic_client_t *
shic_client_new_curve (const char *endpoint, const char *server_key, const char *client_cert)
{
    zcert_t *cert = client_cert? zcert_load (client_cert): NULL;
    if (!cert || !server_key || strlen (server_key) != 40) {
        zsys_error ("client: CURVE needs a client certificate and a 40-character server key");
        zcert_destroy (&cert);
        return NULL;
    }
    shic_client_t *self = (shic_client_t *) zmalloc (sizeof (shic_client_t));
    self->sock = zsock_new (ZMQ_DEALER);
    self->timeout_ms = 10000;
    self->probe_ms = 1000;
    self->endpoint = strdup (endpoint);
    zcert_apply (cert, self->sock);
    zcert_destroy (&cert);
    zsock_set_curve_serverkey (self->sock, server_key);
    if (zsock_connect (self->sock, "%s", endpoint) == -1) {
        shic_client_destroy (&self);
        return NULL;
    }
    zsock_set_sndtimeo (self->sock, 5000);
    return self;
}

void
shic_client_destroy (shic_client_t **self_p)
{
    assert (self_p);
    shic_client_t *self = *self_p;
    if (self) {
        zsock_destroy (&self->sock);
        free (self->endpoint);
        shic_error_clear (&self->error);
        free (self);
        *self_p = NULL;
    }
}

void
shic_client_set_timeout (shic_client_t *self, int timeout_ms)
{
    self->timeout_ms = timeout_ms;
}

void
shic_client_set_probe_timeout (shic_client_t *self, int probe_ms)
{
    self->probe_ms = probe_ms;
}

const char *
shic_client_endpoint (shic_client_t *self)
{
    return self->endpoint;
}

zsock_t *
shic_client_sock (shic_client_t *self)
{
    return self->sock;
}

const shic_error_t *
shic_client_error (shic_client_t *self)
{
    return &self->error;
}

int
shic_client_send (shic_client_t *self, int64_t id, const char *op, shic_val_t **args_p)
{
    shic_val_t *id_val = shic_val_new_int (id);
    zframe_t *frame = shic_wire_request_encode (id_val, op, args_p);
    shic_val_destroy (&id_val);
    if (!frame)
        return -1;
    int rc = zframe_send (&frame, self->sock, 0);
    zframe_destroy (&frame);
    return rc;
}

int
shic_client_recv (shic_client_t *self, shic_wire_reply_t *reply, int timeout_ms)
{
    zsock_set_rcvtimeo (self->sock, timeout_ms >= 0? timeout_ms: -1);
    zframe_t *frame = zframe_recv (self->sock);
    if (!frame)
        return -1;
    int rc = shic_wire_reply_decode (zframe_data (frame), zframe_size (frame), reply);
    zframe_destroy (&frame);
    return rc == 0? 0: -2;
}

//  Waits until deadline for the reply with this id: the fresh result, or
//  NULL with the error set (the daemon's, no_reply or interrupted)
static shic_val_t *
s_await (shic_client_t *self, int64_t id, int64_t deadline, bool probe)
{
    int64_t waited = zclock_mono ();
    while (true) {
        if (zsys_interrupted) {
            shic_error_set (&self->error, SHIC_E_INTERRUPTED, NULL, "interrupted");
            return NULL;
        }
        int64_t left = deadline - zclock_mono ();
        if (left <= 0)
            break;
        shic_wire_reply_t reply = { 0 };
        int rc = shic_client_recv (self, &reply, (int) left);
        if (rc == -1)
            continue;
        if (rc == 0 && shic_val_type (reply.id) == SHIC_VAL_INT && shic_val_int (reply.id) == id) {
            self->answered = true;
            shic_val_t *result = NULL;
            if (reply.ok)
                result = shic_val_take (reply.body, "result");
            else
                shic_error_move (&self->error, &reply.error);
            shic_wire_reply_reset (&reply);
            if (!result && !self->error.code)
                result = shic_val_new_map ();
            return result;
        }
        //  A late reply to an earlier call, or garbage: skip it
        shic_wire_reply_reset (&reply);
    }
    //  Silence: ask the next call to check the daemon is there first
    self->answered = false;
    long long ms = (long long) (zclock_mono () - waited);
    if (probe)
        shic_error_set (&self->error, SHIC_E_NO_REPLY, NULL,
                        "no daemon answers at %s (no reply to a ping within %lld ms; "
                        "is shicd running?)", self->endpoint, ms);
    else
        shic_error_set (&self->error, SHIC_E_NO_REPLY, NULL,
                        "no reply from %s within %lld ms", self->endpoint, ms);
    return NULL;
}

int
shic_client_probe (shic_client_t *self)
{
    shic_error_clear (&self->error);
    int64_t id = ++self->next_id;
    if (shic_client_send (self, id, "ping", NULL) == -1) {
        shic_error_set (&self->error, SHIC_E_NO_REPLY, NULL, "cannot send a ping to %s",
                        self->endpoint);
        return -1;
    }
    shic_val_t *result = s_await (self, id, zclock_mono () + self->probe_ms, true);
    int rc = result? 0: -1;
    shic_val_destroy (&result);
    return rc;
}

shic_val_t *
shic_client_call (shic_client_t *self, const char *op, shic_val_t **args_p)
{
    shic_error_clear (&self->error);
    if (!self->answered && shic_client_probe (self) == -1) {
        if (args_p)
            shic_val_destroy (args_p);
        return NULL;
    }
    int64_t wait_ms = 0;
    if (args_p && *args_p) {
        shic_val_t *wait = shic_val_get (*args_p, "wait_ms");
        if (shic_val_type (wait) == SHIC_VAL_INT)
            wait_ms = shic_val_int (wait);
        else
        if (streq (op, "ensure_endpoint"))
            wait_ms = 120000;
    }
    int64_t id = ++self->next_id;
    if (shic_client_send (self, id, op, args_p) == -1) {
        shic_error_set (&self->error, SHIC_E_NO_REPLY, NULL, "cannot send the request to %s",
                        self->endpoint);
        return NULL;
    }
    return s_await (self, id, zclock_mono () + wait_ms + self->timeout_ms, false);
}

shic_val_t *
shic_client_ensure_args (const char *backend, const char *model, const shic_val_t *options,
                         int64_t ttl_ms, int64_t wait_ms)
{
    shic_val_t *args = shic_val_new_map ();
    shic_val_t *request = shic_val_new_map ();
    shic_val_t *target = shic_val_new_map ();
    shic_val_set_str (target, "backend", backend);
    shic_val_t *backend_options = options? shic_val_dup (options): shic_val_new_map ();
    if (model && !shic_val_get (backend_options, "model_identity"))
        shic_val_set_str (backend_options, "model_identity", model);
    shic_val_set (target, "backend_options", &backend_options);
    shic_val_set (request, "target_preference", &target);
    shic_val_set (args, "request", &request);
    shic_val_t *consumer = shic_val_new_map ();
    shic_val_set_str (consumer, "consumer", "shic_client");
    shic_val_t *modes = shic_val_new_array ();
    shic_val_t *mode = shic_val_new_str (SHIC_MODE_JIDO_MANAGED);
    shic_val_push (modes, &mode);
    mode = shic_val_new_str (SHIC_MODE_EXTERNALLY_MANAGED);
    shic_val_push (modes, &mode);
    shic_val_set (consumer, "accepted_management_modes", &modes);
    shic_val_set (args, "consumer", &consumer);
    if (ttl_ms > 0)
        shic_val_set_int (args, "ttl_ms", ttl_ms);
    if (wait_ms >= 0)
        shic_val_set_int (args, "wait_ms", wait_ms);
    return args;
}

shic_val_t *
shic_client_ensure (shic_client_t *self, const char *backend, const char *model,
                    const shic_val_t *options, int64_t ttl_ms, int64_t wait_ms)
{
    shic_val_t *args = shic_client_ensure_args (backend, model, options, ttl_ms, wait_ms);
    return shic_client_call (self, "ensure_endpoint", &args);
}

int
shic_client_release (shic_client_t *self, const char *lease_ref)
{
    shic_val_t *args = shic_val_new_map ();
    shic_val_set_str (args, "lease_ref", lease_ref);
    shic_val_t *result = shic_client_call (self, "release_lease", &args);
    int rc = result? 0: -1;
    shic_val_destroy (&result);
    return rc;
}

int
shic_client_ping (shic_client_t *self)
{
    shic_val_t *result = shic_client_call (self, "ping", NULL);
    int rc = result? 0: -1;
    shic_val_destroy (&result);
    return rc;
}

//  ---------------------------------------------------------------------------
//  Typed endpoints

static char *
s_dup_str (const shic_val_t *val)
{
    const char *str = shic_val_str (val);
    return str? strdup (str): NULL;
}

shic_endpoint_t *
shic_endpoint_from_result (shic_val_t **result_p)
{
    assert (result_p);
    shic_val_t *result = *result_p;
    *result_p = NULL;
    if (!shic_val_str (shic_val_path (result, "endpoint/base_url"))
    ||  !shic_val_str (shic_val_path (result, "lease/lease_ref"))) {
        shic_val_destroy (&result);
        return NULL;
    }
    shic_endpoint_t *self = (shic_endpoint_t *) zmalloc (sizeof (shic_endpoint_t));
    self->result = result;
    self->base_url = s_dup_str (shic_val_path (result, "endpoint/base_url"));
    self->model = s_dup_str (shic_val_path (result, "endpoint/model_identity"));
    self->protocol = s_dup_str (shic_val_path (result, "endpoint/protocol"));
    self->lease_ref = s_dup_str (shic_val_path (result, "lease/lease_ref"));
    self->ttl_ms = shic_val_int (shic_val_path (result, "lease/ttl_ms"));
    self->expires_at_ms = shic_val_int (shic_val_path (result, "lease/expires_at_ms"));
    self->instance_id = s_dup_str (shic_val_get (result, "instance_id"));
    self->reused = shic_val_bool (shic_val_get (result, "reused"));
    const shic_val_t *headers = shic_val_path (result, "endpoint/headers");
    self->headers = (char **) zmalloc ((shic_val_size (headers) + 1) * sizeof (char *));
    for (size_t i = 0; i < shic_val_size (headers); i++) {
        const char *value = shic_val_str (shic_val_at (headers, i));
        if (value)
            self->headers [self->header_count++] =
                zsys_sprintf ("%s: %s", shic_val_key_at (headers, i), value);
    }
    return self;
}

void
shic_endpoint_destroy (shic_endpoint_t **self_p)
{
    assert (self_p);
    shic_endpoint_t *self = *self_p;
    if (self) {
        for (size_t i = 0; i < self->header_count; i++)
            zstr_free (&self->headers [i]);
        free (self->headers);
        free (self->base_url);
        free (self->model);
        free (self->protocol);
        free (self->lease_ref);
        free (self->instance_id);
        shic_val_destroy (&self->result);
        free (self);
        *self_p = NULL;
    }
}

shic_endpoint_t *
shic_client_ensure_endpoint (shic_client_t *self, const char *backend, const char *model,
                             int64_t ttl_ms, int64_t wait_ms)
{
    shic_val_t *result = shic_client_ensure (self, backend, model, NULL, ttl_ms, wait_ms);
    if (!result)
        return NULL;
    shic_endpoint_t *endpoint = shic_endpoint_from_result (&result);
    if (!endpoint)
        shic_error_set (&self->error, SHIC_E_INTERNAL, NULL,
                        "the reply of ensure_endpoint has no endpoint/base_url or lease_ref");
    return endpoint;
}

int
shic_client_renew_endpoint (shic_client_t *self, shic_endpoint_t *endpoint, int64_t ttl_ms)
{
    assert (endpoint);
    shic_val_t *args = shic_val_new_map ();
    shic_val_set_str (args, "lease_ref", endpoint->lease_ref);
    if (ttl_ms > 0)
        shic_val_set_int (args, "ttl_ms", ttl_ms);
    shic_val_t *result = shic_client_call (self, "renew_lease", &args);
    if (!result)
        return -1;
    const shic_val_t *lease = shic_val_get (result, "lease");
    if (shic_val_type (shic_val_get (lease, "expires_at_ms")) == SHIC_VAL_INT)
        endpoint->expires_at_ms = shic_val_int (shic_val_get (lease, "expires_at_ms"));
    if (shic_val_type (shic_val_get (lease, "ttl_ms")) == SHIC_VAL_INT)
        endpoint->ttl_ms = shic_val_int (shic_val_get (lease, "ttl_ms"));
    shic_val_destroy (&result);
    return 0;
}

int
shic_client_release_endpoint (shic_client_t *self, shic_endpoint_t **endpoint_p)
{
    assert (endpoint_p);
    if (!*endpoint_p)
        return 0;
    int rc = shic_client_release (self, (*endpoint_p)->lease_ref);
    shic_endpoint_destroy (endpoint_p);
    return rc;
}
