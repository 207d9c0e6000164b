/*  =========================================================================
    shic_peer - the header frame of the node-to-node peer protocol
    =========================================================================
*/

#include "shic_peer.h"

zframe_t *
shic_peer_header_frame (shic_val_t **header_p)
{
    void *data = NULL;
    size_t size = 0;
    int rc = shic_val_encode (*header_p, &data, &size);
    shic_val_destroy (header_p);
    if (rc != 0)
        return NULL;
    zframe_t *frame = zframe_new (data, size);
    free (data);
    return frame;
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
