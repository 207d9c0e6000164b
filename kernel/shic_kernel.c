/*  =========================================================================
    shic_kernel - the settings of one runtime, and the wall clock

    What kernel/shic_kernel.h declares: the kernel's rooms (registry, lease
    book, events) and the actors read the clock and the settings here; the
    facade (actors/shic_runtime.c) loads the settings once per runtime.
    =========================================================================
*/

#include "shic_kernel.h"
#include <ctype.h>
#include <poll.h>

int64_t
shic_now_ms (void)
{
    return zclock_time ();
}

zhashx_t *
shic_hash_new (zhashx_destructor_fn *destructor)
{
    zhashx_t *hash = zhashx_new ();
    zhashx_set_destructor (hash, destructor);
    return hash;
}

int64_t
shic_config_int (zconfig_t *config, const char *key, int64_t dflt)
{
    if (!config)
        return dflt;
    char path [128];
    const char *sections [] = { "runtime", "shicd" };
    for (int i = 0; i < 2; i++) {
        snprintf (path, sizeof (path), "%s/%s", sections [i], key);
        char *value = zconfig_get (config, path, NULL);
        if (value && *value) {
            char *end = NULL;
            long long number = strtoll (value, &end, 10);
            if (end && *end == 0)
                return number;
            zsys_warning ("runtime: %s = '%s' is not a number, using %lld",
                          path, value, (long long) dflt);
        }
    }
    return dflt;
}

//  The host name as a node name: characters a node name may not hold
//  become '-', and a domain is left out
static void
s_default_node (char *node, size_t size)
{
    char host [256] = "";
    gethostname (host, sizeof (host) - 1);
    host [strcspn (host, ".")] = 0;
    if (!*host)
        snprintf (host, sizeof (host), "node");
    snprintf (node, size, "%.63s", host);
    for (char *c = node; *c; c++)
        if (!isalnum ((unsigned char) *c) && *c != '_' && *c != '-')
            *c = '-';
}

//  The cluster section: defaults for what it leaves out
static void
s_cluster_load (shic_cluster_settings_t *self, zconfig_t *config)
{
    zconfig_t *section = config? zconfig_locate (config, "cluster"): NULL;
    self->enabled = section != NULL;
    if (!section)
        return;
    snprintf (self->etcd, sizeof (self->etcd), "%s", zconfig_get (section, "etcd", ""));
    const char *node = zconfig_get (section, "node", "");
    if (node && *node)
        snprintf (self->node, sizeof (self->node), "%s", node);
    else
        s_default_node (self->node, sizeof (self->node));
    const char *advertise = zconfig_get (section, "advertise", "");
    snprintf (self->advertise, sizeof (self->advertise), "%s",
              advertise && *advertise? advertise: self->node);
    snprintf (self->peer, sizeof (self->peer), "%s", zconfig_get (section, "peer", "tcp://*:5592"));
    const char *ttl = zconfig_get (section, "ttl_ms", "10000");
    self->ttl_ms = strtoll (ttl? ttl: "10000", NULL, 10);
    if (self->ttl_ms < 1000)
        self->ttl_ms = 1000;
    const char *cooldown = zconfig_get (section, "cooldown_ms", "15000");
    self->cooldown_ms = strtoll (cooldown? cooldown: "15000", NULL, 10);
    if (self->cooldown_ms < 1000)
        self->cooldown_ms = 1000;
    const char *prefix = zconfig_get (section, "prefix", "/shic/v1");
    snprintf (self->prefix, sizeof (self->prefix), "%s", prefix && *prefix? prefix: "/shic/v1");
    size_t length = strlen (self->prefix);
    while (length > 1 && self->prefix [length - 1] == '/')
        self->prefix [--length] = 0;
    snprintf (self->public_gateway, sizeof (self->public_gateway), "%s",
              zconfig_get (config, "shicd/gateway", "tcp://127.0.0.1:5590"));
    snprintf (self->curve_cert, sizeof (self->curve_cert), "%s",
              zconfig_get (config, "shicd/curve_server_cert", ""));
    snprintf (self->curve_clients, sizeof (self->curve_clients), "%s",
              zconfig_get (config, "shicd/curve_clients", ""));
}

void
shic_settings_load (shic_settings_t *self, zconfig_t *config)
{
    static int counter = 0;
    int n = __atomic_add_fetch (&counter, 1, __ATOMIC_SEQ_CST);
    memset (self, 0, sizeof (*self));
    snprintf (self->bus, sizeof (self->bus), "inproc://shic-%d-%d-bus", getpid (), n);
    snprintf (self->gateway, sizeof (self->gateway), "inproc://shic-%d-%d-gateway", getpid (), n);
    snprintf (self->events, sizeof (self->events), "inproc://shic-%d-%d-events", getpid (), n);
    const char *control = config? zconfig_get (config, "runtime/control",
                                               zconfig_get (config, "shicd/control", "")): "";
    snprintf (self->control, sizeof (self->control), "%s", control? control: "");
    self->allow_network_stop = shic_config_int (config, "allow_network_stop", 0) != 0;
    self->max_lease_ttl_ms = shic_config_int (config, "max_lease_ttl_ms", 86400000);
    self->max_leases_per_client = (size_t) shic_config_int (config, "max_leases_per_client", 1024);
    self->max_instances_per_client = (size_t) shic_config_int (config, "max_instances_per_client",
                                                               32);
    self->max_leases = (size_t) shic_config_int (config, "max_leases", 4096);
    self->max_instances = (size_t) shic_config_int (config, "max_instances", 256);
    self->lease_spare = (size_t) shic_config_int (config, "lease_spare", 32);
    self->lease_shrink_ms = shic_config_int (config, "lease_shrink_ms", 10000);
    self->client_timeout_ms = shic_config_int (config, "client_timeout_ms", 30000);
    self->inproc_client_timeout = shic_config_int (config, "inproc_client_timeout", 0) != 0;
    self->retention_ms = shic_config_int (config, "retention_ms", 30000);
    self->start_failure_hold_ms = shic_config_int (config, "start_failure_hold_ms", 1000);
    self->max_frame = (size_t) shic_config_int (config, "max_frame", 1024 * 1024);
    self->liveness_failures = (int) shic_config_int (config, "liveness_failures", 3);
    self->verbose = shic_config_int (config, "verbose", 0) != 0;
    self->max_queue = (size_t) shic_config_int (config, "max_queue", 1024);
    self->preempt_grace_ms = shic_config_int (config, "preempt_grace_ms", 10000);
    shic_restart_settings_default (&self->restart);
    shic_restart_settings_t *r = &self->restart;
    r->backoff_initial_ms = shic_config_int (config, "restart_backoff_ms", r->backoff_initial_ms);
    r->backoff_max_ms = shic_config_int (config, "restart_backoff_max_ms", r->backoff_max_ms);
    r->max_restarts = (int) shic_config_int (config, "max_restarts", r->max_restarts);
    r->restart_window_ms = shic_config_int (config, "restart_window_ms", r->restart_window_ms);
    r->failed_cooldown_ms = shic_config_int (config, "failed_cooldown_ms", r->failed_cooldown_ms);
    r->healthy_reset_ms = shic_config_int (config, "healthy_reset_ms", r->healthy_reset_ms);
    if (self->lease_spare < 1)
        self->lease_spare = 1;
    s_cluster_load (&self->cluster, config);
}

bool
shic_cluster_node_valid (const char *name)
{
    size_t length = name? strlen (name): 0;
    if (length < 1 || length > 63)
        return false;
    for (size_t i = 0; i < length; i++)
        if (!isalnum ((unsigned char) name [i]) && name [i] != '_' && name [i] != '-')
            return false;
    return true;
}

bool
shic_cluster_id_node (const char *id, char *node, const char **rest_p)
{
    const char *dot = id? strchr (id, '.'): NULL;
    if (!dot || dot == id || dot - id > 63)
        return false;
    memcpy (node, id, (size_t) (dot - id));
    node [dot - id] = 0;
    if (!shic_cluster_node_valid (node))
        return false;
    if (rest_p)
        *rest_p = dot + 1;
    return true;
}

const char *
shic_cluster_strip_node (const char *id, const char *node)
{
    size_t length = strlen (node);
    if (id && strncmp (id, node, length) == 0 && id [length] == '.')
        return id + length + 1;
    return id;
}

//  ---------------------------------------------------------------------------
//  Waiting on ZeroMQ sockets

//  Why one question per socket is enough: libzmq makes a socket's ZMQ_FD
//  readable when a command reaches the socket, and a ZMQ_EVENTS that finds
//  no message leaves each of its pipes asking its writer for a wake-up
//  command on the next message. Nothing touches a socket between that
//  question and the wait, so a message that comes meanwhile shows on its
//  descriptor; a descriptor that fires for another command is asked and
//  found empty, and the caller's next turn waits again.
bool
shic_socket_has_input (void *socket, bool *failed)
{
    uint32_t events = 0;
    size_t size = sizeof (events);
    if (zmq_getsockopt (socket, ZMQ_EVENTS, &events, &size) == -1) {
        *failed = *failed || errno == ETERM;
        return false;
    }
    return (events & ZMQ_POLLIN) != 0;
}

int
shic_poll_sockets (zmq_pollitem_t *items, int count, int64_t timeout_ms)
{
    assert (count > 0);
    int ready = 0, plain = 0;
    bool failed = false;
    for (int index = 0; index < count; index++) {
        items [index].revents = 0;
        if (!items [index].socket)
            plain++;                //  a descriptor: only poll(2) knows
        else
        if (shic_socket_has_input (items [index].socket, &failed)) {
            items [index].revents = ZMQ_POLLIN;
            ready++;
        }
    }
    if (failed)
        return -1;
    if ((ready || timeout_ms == 0) && !plain)
        return ready;
    //  A socket with a message, or no wait asked: the descriptors are
    //  looked at without waiting
    struct pollfd fds [count];
    for (int index = 0; index < count; index++) {
        zmq_pollitem_t *item = &items [index];
        size_t size = sizeof (fds [index].fd);
        if (!item->socket) {
            fds [index].fd = item->fd;
            fds [index].events = (item->events & ZMQ_POLLIN? POLLIN: 0)
                               | (item->events & ZMQ_POLLOUT? POLLOUT: 0);
        }
        else {
            if (item->revents
            ||  zmq_getsockopt (item->socket, ZMQ_FD, &fds [index].fd, &size) == -1)
                fds [index].fd = -1;
            fds [index].events = POLLIN;
        }
        fds [index].revents = 0;
    }
    int timeout = ready || timeout_ms == 0? 0: timeout_ms < 0? -1
                : timeout_ms > INT_MAX? INT_MAX: (int) timeout_ms;
    int rc = poll (fds, (nfds_t) count, timeout);
    if (rc <= 0)
        return rc == -1 && errno != EINTR? -1: ready;
    for (int index = 0; index < count; index++) {
        zmq_pollitem_t *item = &items [index];
        if (!fds [index].revents)
            continue;
        if (!item->socket) {
            short got = fds [index].revents;
            item->revents = (short) ((got & (POLLIN | POLLHUP | POLLERR)? ZMQ_POLLIN: 0)
                                   | (got & POLLOUT? ZMQ_POLLOUT: 0)
                                   | (got & POLLERR? ZMQ_POLLERR: 0));
            ready++;
        }
        else
        if (shic_socket_has_input (item->socket, &failed)) {
            item->revents = ZMQ_POLLIN;
            ready++;
        }
    }
    return failed? -1: ready;
}
