/*  =========================================================================
    shic_client - a client of the wire protocol (wire.md)

    One DEALER socket. Calls are matched to replies by id; replies to calls
    that timed out are discarded when they arrive.
    =========================================================================
*/

#include "shic_actors.h"

struct _shic_client_t {
    zsock_t *sock;                  //  DEALER to the gateway
    int timeout_ms;                 //  margin beyond a request's wait_ms
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
    if (!self->sock || zsock_connect (self->sock, "%s", endpoint) == -1) {
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

shic_val_t *
shic_client_call (shic_client_t *self, const char *op, shic_val_t **args_p)
{
    shic_error_clear (&self->error);
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
        shic_error_set (&self->error, SHIC_E_INTERNAL, NULL, "cannot send the request");
        return NULL;
    }
    int64_t deadline = zclock_mono () + wait_ms + self->timeout_ms;
    while (true) {
        int64_t left = deadline - zclock_mono ();
        if (left <= 0) {
            shic_error_set (&self->error, SHIC_E_INTERNAL, NULL,
                            "no reply within %lld ms", (long long) (wait_ms + self->timeout_ms));
            return NULL;
        }
        shic_wire_reply_t reply = { 0 };
        int rc = shic_client_recv (self, &reply, (int) left);
        if (rc == -1)
            continue;
        if (rc == 0 && shic_val_type (reply.id) == SHIC_VAL_INT && shic_val_int (reply.id) == id) {
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
