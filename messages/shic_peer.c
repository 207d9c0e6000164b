/*  =========================================================================
    shic_peer - the header frame of the node-to-node peer protocol, and
    the links to other nodes' peer doors
    =========================================================================
*/

#include "shic_peer.h"

//  The writer's bytes as a frame, or NULL
static zframe_t *
s_frame_take (shic_val_writer_t **writer_p)
{
    void *data = NULL;
    size_t size = 0;
    if (shic_val_writer_take (writer_p, &data, &size) != 0)
        return NULL;
    zframe_t *frame = zframe_new (data, size);
    free (data);
    return frame;
}

zframe_t *
shic_peer_req_header (int64_t ticket, int64_t hop, const char *mode, const char *holder,
                      const char *from)
{
    shic_val_writer_t *writer = shic_val_writer_new ();
    if (!writer)
        return NULL;
    shic_val_writer_map (writer, 5);
    shic_val_writer_str (writer, "ticket");
    shic_val_writer_int (writer, ticket);
    shic_val_writer_str (writer, "hop");
    shic_val_writer_int (writer, hop);
    shic_val_writer_str (writer, "mode");
    shic_val_writer_str (writer, mode);
    shic_val_writer_str (writer, "holder");
    shic_val_writer_str (writer, holder);
    shic_val_writer_str (writer, "from");
    shic_val_writer_str (writer, from);
    return s_frame_take (&writer);
}

zframe_t *
shic_peer_rep_header (int64_t ticket, const char *outcome)
{
    shic_val_writer_t *writer = shic_val_writer_new ();
    if (!writer)
        return NULL;
    shic_val_writer_map (writer, 2);
    shic_val_writer_str (writer, "ticket");
    shic_val_writer_int (writer, ticket);
    shic_val_writer_str (writer, "outcome");
    shic_val_writer_str (writer, outcome);
    return s_frame_take (&writer);
}

shic_val_t *
shic_peer_header_read (zframe_t *frame)
{
    if (!frame || zframe_size (frame) > SHIC_PEER_HEADER_MAX)
        return NULL;
    shic_val_limits_t limits = { .max_bytes = SHIC_PEER_HEADER_MAX, .max_depth = 2,
                                 .max_items = 16 };
    shic_val_t *header = NULL;
    if (shic_val_decode (zframe_data (frame), zframe_size (frame), &limits, &header, NULL) != 0)
        return NULL;
    if (shic_val_type (header) != SHIC_VAL_MAP)
        shic_val_destroy (&header);
    return header;
}

zsock_t *
shic_peer_link_new (const char *endpoint, zcert_t *cert, const char *server_key,
                    int64_t max_msg, bool *connected)
{
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    assert (dealer);
    zsock_set_sndtimeo (dealer, 0);
    zsock_set_sndhwm (dealer, 10000);
    zsock_set_linger (dealer, 0);
    zsock_set_maxmsgsize (dealer, max_msg);
    if (cert && server_key) {
        zcert_apply (cert, dealer);
        zsock_set_curve_serverkey (dealer, server_key);
    }
    *connected = zsock_connect (dealer, "%s", endpoint) == 0;
    return dealer;
}
