/*  =========================================================================
    shic_msg - actor messages between our own threads: [command][msgpack map]

    Decoding still checks everything (sizes, NUL bytes, a map body): a
    message that reaches a ROUTER may come from a peer we do not control.
    =========================================================================
*/

#include <czmq.h>
#include "shic_msg.h"
#include "shic_wire.h"

#define SHIC_MSG_COMMAND_MAX 64     //  bytes of an actor command

zmsg_t *
shic_msg_new (const char *command, shic_val_t **body_p)
{
    shic_val_t *body = NULL;
    if (body_p) {
        body = *body_p;
        *body_p = NULL;
    }
    if (!body)
        body = shic_val_new_map ();
    if (!command || !shic_val_is (body, SHIC_VAL_MAP)) {
        shic_val_destroy (&body);
        return NULL;
    }
    zframe_t *frame = shic_wire_frame_new (&body);
    zmsg_t *msg = frame? zmsg_new (): NULL;
    if (!msg
    ||  zmsg_addstr (msg, command)
    ||  zmsg_append (msg, &frame)) {
        zframe_destroy (&frame);
        zmsg_destroy (&msg);
        return NULL;
    }
    return msg;
}

int
shic_msg_send (void *sock, const char *command, shic_val_t **body_p)
{
    zmsg_t *msg = shic_msg_new (command, body_p);
    if (!msg || !sock) {
        zmsg_destroy (&msg);
        return -1;
    }
    if (zmsg_send (&msg, sock)) {
        zmsg_destroy (&msg);
        return -1;
    }
    return 0;
}

//  With fewer than two frames the message is left as it was
int
shic_msg_decode (zmsg_t *msg, char **command_p, shic_val_t **body_p)
{
    assert (command_p);
    assert (body_p);
    *command_p = NULL;
    *body_p = NULL;
    if (!msg || zmsg_size (msg) < 2)
        return -2;
    zframe_t *command_frame = zmsg_pop (msg);
    zframe_t *body_frame = zmsg_pop (msg);
    size_t command_size = zframe_size (command_frame);
    int rc = -2;
    if (command_size > 0 && command_size <= SHIC_MSG_COMMAND_MAX
    &&  !memchr (zframe_data (command_frame), 0, command_size)
    &&  shic_val_decode (zframe_data (body_frame), zframe_size (body_frame),
                         NULL, body_p, NULL) == 0) {
        if (shic_val_is (*body_p, SHIC_VAL_MAP)) {
            *command_p = zframe_strdup (command_frame);
            if (*command_p)
                rc = 0;
        }
        if (rc)
            shic_val_destroy (body_p);
    }
    zframe_destroy (&command_frame);
    zframe_destroy (&body_frame);
    return rc;
}

int
shic_msg_recv (void *sock, char **command_p, shic_val_t **body_p)
{
    assert (command_p);
    assert (body_p);
    *command_p = NULL;
    *body_p = NULL;
    zmsg_t *msg = sock? zmsg_recv (sock): NULL;
    if (!msg)
        return -1;
    int rc = shic_msg_decode (msg, command_p, body_p);
    zmsg_destroy (&msg);
    return rc;
}



//  ---------------------------------------------------------------------------
//  Self test

void
shic_msg_test (bool verbose)
{
    printf (" * shic_msg: ");
    if (verbose)
        printf ("\n");

    shic_val_t *body = shic_val_new_map ();
    shic_val_set_str (body, "instance_id", "i-1");
    zmsg_t *msg = shic_msg_new ("READY", &body);
    assert (msg);
    assert (body == NULL);
    assert (zmsg_size (msg) == 2);
    char *command;
    assert (shic_msg_decode (msg, &command, &body) == 0);
    assert (zmsg_size (msg) == 0);
    assert (streq (command, "READY"));
    assert (streq (shic_val_str (shic_val_get (body, "instance_id")), "i-1"));
    zstr_free (&command);
    shic_val_destroy (&body);
    zmsg_destroy (&msg);

    msg = shic_msg_new ("EMPTY", NULL);
    zmsg_pushstr (msg, "routing-id");
    char *routing = zmsg_popstr (msg);
    assert (streq (routing, "routing-id"));
    zstr_free (&routing);
    assert (shic_msg_decode (msg, &command, &body) == 0);
    assert (shic_val_size (body) == 0);
    zstr_free (&command);
    shic_val_destroy (&body);
    zmsg_destroy (&msg);

    //  Malformed actor messages
    msg = zmsg_new ();
    zmsg_addstr (msg, "ONLY");
    assert (shic_msg_decode (msg, &command, &body) == -2);
    assert (command == NULL && body == NULL);
    zmsg_destroy (&msg);
    msg = zmsg_new ();
    zmsg_addmem (msg, "", 0);
    zmsg_addmem (msg, "\x80", 1);
    assert (shic_msg_decode (msg, &command, &body) == -2);
    assert (zmsg_size (msg) == 0);
    zmsg_destroy (&msg);
    msg = zmsg_new ();
    zmsg_addstr (msg, "12345678901234567890123456789012"
                      "345678901234567890123456789012345");
    zmsg_addmem (msg, "\x80", 1);
    assert (shic_msg_decode (msg, &command, &body) == -2);
    zmsg_destroy (&msg);
    msg = zmsg_new ();
    zmsg_addstr (msg, "LIST");
    zmsg_addmem (msg, "\x90", 1);
    assert (shic_msg_decode (msg, &command, &body) == -2);
    assert (command == NULL && body == NULL);
    zmsg_destroy (&msg);
    msg = zmsg_new ();
    zmsg_addstr (msg, "BAD");
    zmsg_addmem (msg, "\xc1", 1);
    assert (shic_msg_decode (msg, &command, &body) == -2);
    zmsg_destroy (&msg);
    body = shic_val_new_array ();
    assert (shic_msg_new ("ARRAY", &body) == NULL);
    assert (body == NULL);

    //  Send and receive over a PAIR socket pair
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "inproc://shic-wire-test-%p", (void *) &endpoint);
    char *bind = zsys_sprintf ("@%s", endpoint);
    zsock_t *server = zsock_new_pair (bind);
    zstr_free (&bind);
    assert (server);
    char *connect = zsys_sprintf (">%s", endpoint);
    zsock_t *client = zsock_new_pair (connect);
    zstr_free (&connect);
    assert (client);
    zsock_set_rcvtimeo (server, 2000);
    zsock_set_rcvtimeo (client, 2000);
    body = shic_val_new_map ();
    shic_val_set_int (body, "n", 42);
    assert (shic_msg_send (client, "HELLO", &body) == 0);
    assert (body == NULL);
    assert (shic_msg_recv (server, &command, &body) == 0);
    assert (streq (command, "HELLO"));
    assert (shic_val_int (shic_val_get (body, "n")) == 42);
    zstr_free (&command);
    shic_val_destroy (&body);
    assert (shic_msg_send (zsock_resolve (server), "BACK", NULL) == 0);
    assert (shic_msg_recv (zsock_resolve (client), &command, &body) == 0);
    assert (streq (command, "BACK"));
    zstr_free (&command);
    shic_val_destroy (&body);
    //  Garbage on the socket is malformed; nothing pending times out
    zstr_send (client, "ALONE");
    assert (shic_msg_recv (server, &command, &body) == -2);
    zsock_set_rcvtimeo (server, 10);
    assert (shic_msg_recv (server, &command, &body) == -1);
    assert (command == NULL && body == NULL);
    zsock_destroy (&client);
    zsock_destroy (&server);

    printf ("OK\n");
}
