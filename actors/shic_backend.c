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

typedef struct {
    zsock_t *pipe;                  //  to the supervisor
    const shic_backend_ops_t *ops;  //  the ops table, borrowed
    zconfig_t *config;              //  the backend's section, borrowed
    void *state;                    //  what ops->init made, owned
    bool live;                      //  ops->init succeeded: destroy the state
    bool terminated;                //  $TERM seen
} self_t;

//  Builds the args the supervisor passes; freed by the actor
void *
shic_backend_args_new (const shic_backend_ops_t *ops, zconfig_t *config)
{
    shic_backend_args_t *args = (shic_backend_args_t *) zmalloc (sizeof (shic_backend_args_t));
    args->ops = ops;
    args->config = config;
    return args;
}

//  Takes the args
static self_t *
s_self_new (zsock_t *pipe, shic_backend_args_t *args)
{
    self_t *self = (self_t *) zmalloc (sizeof (self_t));
    assert (self);
    self->pipe = pipe;
    self->ops = args->ops;
    self->config = args->config;
    free (args);
    return self;
}

static void
s_self_destroy (self_t **self_p)
{
    self_t *self = *self_p;
    if (self) {
        if (self->live && self->ops->destroy)
            self->ops->destroy (&self->state);
        free (self);
        *self_p = NULL;
    }
}

//  Runs ops->init and tells the supervisor how it went
static void
s_self_start (self_t *self)
{
    shic_error_t err = { 0 };
    int rc = self->ops->init? self->ops->init (self->config, &self->state, &err): 0;
    self->live = rc == 0;
    shic_bus_send (self->pipe, &(shic_bus_t) { .id = SHIC_BUS_STATE, .rc = rc == 0? 0: -1,
                                               .state = self->state,
                                               .message = err.message? err.message:
                                                          rc == 0? NULL: "init failed" });
    shic_error_clear (&err);
}

static void
s_handle_pipe (self_t *self)
{
    shic_bus_t msg = { 0 };
    int rc = shic_bus_recv (&msg, self->pipe, SHIC_BUS_ROLE_BACKEND);
    if (rc == -1 || msg.id == SHIC_BUS_TERM)
        self->terminated = true;
    shic_bus_reset (&msg);
}

void
shic_backend_actor (zsock_t *pipe, void *args)
{
    self_t *self = s_self_new (pipe, (shic_backend_args_t *) args);
    zsock_signal (pipe, 0);
    s_self_start (self);

    //  Nothing to do but wait for the end
    while (!self->terminated) {
        zmq_pollitem_t items [] = { { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 } };
        if (shic_poll (items, 1, -1) == -1)
            break;
        if (items [0].revents & ZMQ_POLLIN)
            s_handle_pipe (self);
    }
    s_self_destroy (&self);
}
