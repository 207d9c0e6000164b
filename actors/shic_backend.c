/*  =========================================================================
    shic_backend - one actor per registered backend

    Owns the backend's state: calls ops->init after the handshake and
    reports the outcome, and ops->destroy when it is told to end, which the
    supervisor does only after every instance of the backend has ended.

    Accepts on its pipe:   $TERM
    Sends on its pipe:     STATE {rc, message?} [state], once (messages/shic_bus.c)
    =========================================================================
*/

#include "shic_actors.h"

typedef struct {
    const shic_backend_ops_t *ops;  //  the ops table, borrowed
    zconfig_t *config;              //  the backend's section, borrowed
} shic_backend_args_t;

//  Builds the args the supervisor passes; freed by the actor
void *
shic_backend_args_new (const shic_backend_ops_t *ops, zconfig_t *config)
{
    shic_backend_args_t *args = (shic_backend_args_t *) zmalloc (sizeof (shic_backend_args_t));
    args->ops = ops;
    args->config = config;
    return args;
}

void
shic_backend_actor (zsock_t *pipe, void *args_)
{
    shic_backend_args_t *args = (shic_backend_args_t *) args_;
    const shic_backend_ops_t *ops = args->ops;
    zsock_signal (pipe, 0);

    void *state = NULL;
    shic_error_t err = { 0 };
    int rc = 0;
    if (ops->init)
        rc = ops->init (args->config, &state, &err);
    shic_bus_send (pipe, &(shic_bus_t) { .id = SHIC_BUS_STATE, .rc = rc == 0? 0: -1, .state = state,
                                         .message = err.message? err.message: (rc == 0? NULL: "init failed") });
    shic_error_clear (&err);
    free (args);

    //  Nothing to do but wait for the end
    shic_bus_wait_term (pipe, SHIC_BUS_ROLE_BACKEND);
    if (rc == 0 && ops->destroy)
        ops->destroy (&state);
}
