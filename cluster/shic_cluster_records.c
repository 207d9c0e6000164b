/*  =========================================================================
    shic_cluster_records - the cluster actor's session with etcd and records

    Part of the cluster actor (see shic_cluster.c for the loop and what it
    accepts, shic_cluster_int.h for what its files share). The node's etcd
    lease (registration, keep-alive, registering anew), the prefix read
    into the view and watched from there, and the records this node keeps:
    its node record, its instance records and its claims, written from
    what its own gateway answers to resources and list_instances, and only
    when they changed.
    =========================================================================
*/

#include "shic_cluster_int.h"
#include <sys/random.h>

#define CLAIM_STALE_MS      10000   //  a claim of ours with nothing here is dropped
#define FREE_GRANULE        ((int64_t) 64 << 20)    //  a node record's free memory, rounded


//  ---------------------------------------------------------------------------
//  etcd: registration, keep-alive, the watch

void
shic_cluster_degraded (self_t *self, const shic_error_t *err, const char *what)
{
    if (!self->degraded)
        zsys_warning ("cluster: etcd %s failed (%s): serving locally, retrying", what,
                      err && err->message? err->message: err && err->code? err->code: "?");
    self->degraded = true;
    int64_t retry = self->config->ttl_ms / 4 < 1000? self->config->ttl_ms / 4: 1000;
    if (!self->retry_at)
        self->retry_at = zclock_mono () + retry;
    shic_cluster_summary (self);
}

//  A range of the whole prefix into the view, then a watch from after it
int
shic_cluster_resync (self_t *self)
{
    shic_etcd_watch_destroy (&self->watch);
    shic_error_t err = { 0 };
    shic_etcd_kvs_t *kvs = NULL;
    char *prefix = zsys_sprintf ("%s/", self->config->prefix);
    int rc = shic_etcd_range (self->etcd, prefix, true, &kvs, &err);
    if (rc == 0) {
        shic_cluster_view_begin (self->view);
        for (size_t i = 0; i < kvs->count; i++)
            shic_cluster_view_put (self->view, kvs->kvs [i].key, kvs->kvs [i].value,
                                   kvs->kvs [i].size, kvs->kvs [i].mod_revision);
        shic_val_t *lost = shic_cluster_view_end (self->view);
        for (size_t i = 0; i < shic_val_size (lost); i++)
            if (!streq (shic_val_key_at (lost, i), self->config->node))
                shic_cluster_node_lost (self, shic_val_key_at (lost, i), shic_val_at (lost, i));
        shic_val_destroy (&lost);
        self->revision = kvs->revision;
        self->watch = shic_etcd_watch_new (self->config->etcd, prefix, kvs->revision + 1, &err);
        if (!self->watch)
            rc = -1;
    }
    shic_etcd_kvs_destroy (&kvs);
    free (prefix);
    if (rc != 0)
        shic_cluster_degraded (self, &err, "range or watch");
    shic_error_clear (&err);
    return rc;
}

//  A watch that went down resumes after the last revision the view has
//  (no range: a compaction meanwhile answers COMPACTED, then a range)
int
shic_cluster_watch_again (self_t *self)
{
    if (self->watch)
        return 0;
    if (self->revision <= 0)
        return shic_cluster_resync (self);
    shic_error_t err = { 0 };
    char *prefix = zsys_sprintf ("%s/", self->config->prefix);
    self->watch = shic_etcd_watch_new (self->config->etcd, prefix, self->revision + 1, &err);
    free (prefix);
    int rc = 0;
    if (!self->watch) {
        shic_cluster_degraded (self, &err, "watch");
        rc = -1;
    }
    shic_error_clear (&err);
    return rc;
}

//  Our node record: written when it changed (never as a heartbeat)
static void
s_write_node (self_t *self, const shic_val_t *pools, int64_t queue)
{
    shic_val_t *record = shic_val_new_map ();
    shic_val_set_str (record, "boot_id", self->boot_id);
    shic_val_set_str (record, "peer", self->peer_endpoint);
    shic_val_set_str (record, "gateway", self->gateway_endpoint);
    shic_val_set_str (record, "advertise", self->config->advertise);
    if (self->cert)
        shic_val_set_str (record, "curve_key", zcert_public_txt (self->cert));
    if (pools)
        shic_val_set_dup (record, "pools", pools);
    else {
        shic_val_t *none = shic_val_new_map ();
        shic_val_set (record, "pools", &none);
    }
    shic_val_set_int (record, "queue", queue);
    char *json = shic_val_to_json (record);
    shic_val_destroy (&record);
    if (self->node_json && streq (json, self->node_json)) {
        free (json);
        return;
    }
    char *key = shic_cluster_key (self, "nodes", self->config->node, NULL);
    shic_error_t err = { 0 };
    if (shic_etcd_put (self->etcd, key, json, strlen (json), self->lease, &err) == 0) {
        free (self->node_json);
        self->node_json = json;
    }
    else {
        free (json);
        shic_cluster_degraded (self, &err, "put of the node record");
    }
    shic_error_clear (&err);
    free (key);
}

static void
s_random_hex (char *text, size_t bytes)
{
    uint8_t data [16];
    size_t have = 0;
    if (bytes > sizeof (data))
        bytes = sizeof (data);
    while (have < bytes) {
        ssize_t got = getrandom (data + have, bytes - have, 0);
        if (got > 0)
            have += (size_t) got;
        else
        if (errno != EINTR) {
            for (; have < bytes; have++)
                data [have] = (uint8_t) (zclock_usecs () >> (have % 8));
        }
    }
    for (size_t i = 0; i < bytes; i++)
        snprintf (text + 2 * i, 3, "%02x", data [i]);
}

//  A new etcd lease and boot id, our records anew, the view from a range
void
shic_cluster_register (self_t *self)
{
    shic_error_t err = { 0 };
    self->retry_at = 0;
    if (!self->etcd) {
        self->etcd = shic_etcd_new (self->config->etcd, (int) self->etcd_timeout_ms, &err);
        if (!self->etcd) {
            zsys_error ("cluster: %s", err.message? err.message: "bad etcd URLs");
            shic_cluster_degraded (self, &err, "set-up");
            shic_error_clear (&err);
            return;
        }
    }
    bool again = *self->boot_id != 0;
    if (*self->lease)
        shic_etcd_lease_revoke (self->etcd, self->lease, NULL);
    *self->lease = 0;
    int64_t ttl_s = (self->config->ttl_ms + 999) / 1000;
    if (shic_etcd_lease_grant (self->etcd, ttl_s, self->lease, sizeof (self->lease), &err) != 0) {
        *self->lease = 0;
        shic_cluster_degraded (self, &err, "lease grant");
        shic_error_clear (&err);
        return;
    }
    s_random_hex (self->boot_id, 16);
    //  Everything is written anew on this lease
    free (self->node_json);
    self->node_json = NULL;
    zhashx_purge (self->written);
    zhashx_purge (self->claims);
    bool was_degraded = self->degraded;
    self->degraded = false;
    s_write_node (self, NULL, 0);
    if (self->degraded || shic_cluster_resync (self) != 0) {
        self->degraded = true;
        return;
    }
    self->registered = true;
    self->alive_at = zclock_mono ();
    self->keepalive_at = self->alive_at + self->config->ttl_ms / 3;
    self->reconcile_due = again;
    zsys_info ("cluster: node %s registered%s (boot %s, lease %s, %zu node(s))",
               self->config->node, again? " anew": "", self->boot_id, self->lease,
               shic_cluster_view_nodes (self->view));
    (void) was_degraded;
    shic_cluster_refresh_soon (self, 0);
    shic_cluster_summary (self);
}

void
shic_cluster_keepalive (self_t *self)
{
    shic_error_t err = { 0 };
    int64_t ttl_left = 0;
    int64_t now = zclock_mono ();
    self->keepalive_at = now + self->config->ttl_ms / 3;
    if (shic_etcd_lease_keepalive (self->etcd, self->lease, &ttl_left, &err) != 0) {
        shic_cluster_degraded (self, &err, "keep-alive");
        shic_error_clear (&err);
        //  Past the TTL the lease may be gone (a live etcd let it expire) or
        //  not (etcd restarted: leases survive it): the next keep-alive
        //  that is answered says which
        return;
    }
    if (ttl_left <= 0) {
        zsys_warning ("cluster: the node's etcd lease expired: registering anew");
        self->registered = false;
        shic_cluster_register (self);
        return;
    }
    self->alive_at = now;
    if (self->degraded) {
        self->degraded = false;
        zsys_info ("cluster: etcd answers again");
        //  The watch resumes where it stopped; records that could not be
        //  written are written now
        shic_cluster_watch_again (self);
        shic_cluster_refresh_soon (self, 0);
        shic_cluster_summary (self);
    }
}


//  ---------------------------------------------------------------------------
//  What runs here: the records

void
shic_cluster_query (self_t *self)
{
    self->refresh_at = 0;
    if (self->query)
        return;
    self->query = ++self->next_ticket;
    self->query_deadline = zclock_mono () + 5000;
    shic_val_destroy (&self->resources);
    shic_val_destroy (&self->instances);
    char id [32];
    snprintf (id, sizeof (id), "res-%lld", (long long) self->query);
    shic_val_t *id_val = shic_val_new_str (id);
    zframe_t *frame = shic_wire_request_encode (id_val, "resources", NULL);
    zframe_send (&frame, self->local, 0);
    shic_val_destroy (&id_val);
    snprintf (id, sizeof (id), "list-%lld", (long long) self->query);
    id_val = shic_val_new_str (id);
    shic_val_t *args = shic_val_new_map ();
    shic_val_set_int (args, "limit", 1000);
    frame = shic_wire_request_encode (id_val, "list_instances", &args);
    zframe_send (&frame, self->local, 0);
    shic_val_destroy (&id_val);
}

//  The instance's key without our node prefix
const char *
shic_cluster_bare (self_t *self, const char *id)
{
    return shic_cluster_strip_node (id, self->config->node);
}

//  A local instance of key in the list_instances answer, or NULL
static const shic_val_t *
s_local_instance (self_t *self, const char *bare)
{
    const shic_val_t *list = shic_val_get (self->instances, "instances");
    for (size_t i = 0; i < shic_val_size (list); i++) {
        const shic_val_t *item = shic_val_at (list, i);
        const char *id = shic_val_str (shic_val_get (item, "instance_id"));
        if (id && streq (shic_cluster_bare (self, id), bare))
            return item;
    }
    return NULL;
}

//  Duplicates after registering anew: an idle instance of ours that runs
//  ready on another node too is stopped (the other one serves it)
static void
s_reconcile (self_t *self)
{
    const shic_val_t *list = shic_val_get (self->instances, "instances");
    for (size_t i = 0; i < shic_val_size (list); i++) {
        const shic_val_t *item = shic_val_at (list, i);
        const char *id = shic_val_str (shic_val_get (item, "instance_id"));
        const char *status = shic_val_str (shic_val_get (item, "lifecycle_status"));
        if (!id || !status || !streq (status, "ready")
        ||  shic_val_int (shic_val_get (item, "lease_count")) > 0)
            continue;
        char mkey [33];
        shic_cluster_mkey (shic_cluster_bare (self, id), mkey);
        shic_cluster_instance_t *other =
            shic_cluster_view_instance_elsewhere (self->view, mkey, self->config->node, NULL);
        if (other && streq (other->status, "ready")) {
            zsys_info ("cluster: %s runs on node %s too: stopping this idle duplicate", id,
                       other->node);
            shic_val_t *args = shic_val_new_map ();
            shic_val_set_str (args, "instance_id", id);
            shic_val_t *request_id = shic_val_new_str ("stop");
            zframe_t *frame = shic_wire_request_encode (request_id, "stop_instance", &args);
            zframe_send (&frame, self->local, 0);
            shic_val_destroy (&request_id);
        }
    }
}

//  Both answers of a refresh are in: write what changed
void
shic_cluster_publish (self_t *self)
{
    if (!self->registered)
        return;
    //  The node record: pools {capacity, free, idle}, the queue
    const shic_val_t *pools_list = shic_val_get (self->resources, "pools");
    const shic_val_t *placed = shic_val_get (self->resources, "instances");
    shic_val_t *pools = shic_val_new_map ();
    for (size_t i = 0; i < shic_val_size (pools_list); i++) {
        const shic_val_t *pool = shic_val_at (pools_list, i);
        const char *name = shic_val_str (shic_val_get (pool, "pool"));
        if (!name)
            continue;
        int64_t idle = 0;
        for (size_t j = 0; j < shic_val_size (placed); j++) {
            const shic_val_t *item = shic_val_at (placed, j);
            const char *in = shic_val_str (shic_val_get (item, "pool"));
            const char *status = shic_val_str (shic_val_get (item, "lifecycle_status"));
            if (in && streq (in, name) && status && streq (status, "ready")
            &&  shic_val_int (shic_val_get (item, "lease_count")) == 0
            &&  !shic_val_bool (shic_val_get (item, "pinned")))
                idle += shic_val_int (shic_val_get (item, "footprint_bytes"));
        }
        //  Free memory is measured (MemAvailable, NVML) and moves all the
        //  time: written rounded down to 64 MiB, so that a record is not
        //  rewritten for noise (never rounded up: placement stays cautious)
        int64_t free_bytes = shic_val_int (shic_val_get (pool, "free_bytes"));
        free_bytes -= free_bytes % FREE_GRANULE;
        shic_val_t *stats = shic_val_new_map ();
        shic_val_set_int (stats, "capacity", shic_val_int (shic_val_get (pool, "capacity_bytes")));
        shic_val_set_int (stats, "free", free_bytes);
        shic_val_set_int (stats, "idle", idle);
        shic_val_set (pools, name, &stats);
    }
    s_write_node (self, pools, (int64_t) shic_val_size (shic_val_get (self->resources, "queue")));
    shic_val_destroy (&pools);
    if (!self->registered || self->degraded)
        return;

    //  The instance records: starting, ready or restarting ones
    zhashx_t *seen = zhashx_new ();
    const shic_val_t *list = shic_val_get (self->instances, "instances");
    for (size_t i = 0; i < shic_val_size (list); i++) {
        const shic_val_t *item = shic_val_at (list, i);
        const char *id = shic_val_str (shic_val_get (item, "instance_id"));
        const char *status = shic_val_str (shic_val_get (item, "lifecycle_status"));
        if (!id || !status || !(streq (status, "starting") || streq (status, "ready")
                                || streq (status, "restarting")))
            continue;
        char mkey [33];
        const char *bare = shic_cluster_bare (self, id);
        shic_cluster_mkey (bare, mkey);
        zhashx_insert (seen, mkey, (void *) 1);
        bool leased = shic_val_int (shic_val_get (item, "lease_count")) > 0;
        shic_cluster_written_t *written =
            (shic_cluster_written_t *) zhashx_lookup (self->written, mkey);
        int64_t last_used = written? written->last_used: shic_now_ms ();
        if (written && written->leased != leased)
            last_used = shic_now_ms ();
        shic_val_t *record = shic_val_new_map ();
        shic_val_set_str (record, "instance_id", id);
        shic_val_set_str (record, "key", bare);
        shic_val_set_str (record, "status", status);
        shic_val_set_bool (record, "leased", leased);
        shic_val_set_dup (record, "endpoint", shic_val_get (item, "endpoint"));
        const shic_val_t *placement = shic_val_get (item, "placement");
        if (placement) {
            shic_val_set_dup (record, "pool", shic_val_get (placement, "pool"));
            shic_val_set_dup (record, "footprint", shic_val_get (placement, "footprint_bytes"));
        }
        else
            shic_val_set_int (record, "footprint", 0);
        shic_val_set_int (record, "last_used", last_used);
        char *json = shic_val_to_json (record);
        shic_val_destroy (&record);
        if (written && streq (written->json, json)) {
            free (json);
            continue;
        }
        char *key = shic_cluster_key (self, "instances", mkey, self->config->node);
        shic_error_t err = { 0 };
        if (shic_etcd_put (self->etcd, key, json, strlen (json), self->lease, &err) == 0) {
            shic_cluster_written_t *now =
                (shic_cluster_written_t *) zmalloc (sizeof (shic_cluster_written_t));
            now->json = json;
            now->leased = leased;
            now->last_used = last_used;
            zhashx_update (self->written, mkey, now);
        }
        else {
            free (json);
            shic_cluster_degraded (self, &err, "put of an instance record");
        }
        shic_error_clear (&err);
        free (key);
    }
    //  Records of instances that ended go
    zlistx_t *ended = zlistx_new ();
    zlistx_set_destructor (ended, (zlistx_destructor_fn *) zstr_free);
    for (void *item = zhashx_first (self->written); item; item = zhashx_next (self->written)) {
        const char *mkey = (const char *) zhashx_cursor (self->written);
        if (!zhashx_lookup (seen, mkey))
            zlistx_add_end (ended, strdup (mkey));
    }
    for (char *mkey = (char *) zlistx_first (ended); mkey; mkey = (char *) zlistx_next (ended)) {
        char *key = shic_cluster_key (self, "instances", mkey, self->config->node);
        shic_error_t err = { 0 };
        if (shic_etcd_delete (self->etcd, key, false, &err) == 0)
            zhashx_delete (self->written, mkey);
        else
            shic_cluster_degraded (self, &err, "delete of an instance record");
        shic_error_clear (&err);
        free (key);
    }
    zlistx_destroy (&ended);
    zhashx_destroy (&seen);

    //  Our claims: a ready instance ends its claim (its record is written
    //  above); a claim with nothing here for long is stale
    zlistx_t *done = zlistx_new ();
    zlistx_set_destructor (done, (zlistx_destructor_fn *) zstr_free);
    const shic_val_t *queue = shic_val_get (self->resources, "queue");
    for (shic_cluster_held_t *claim = (shic_cluster_held_t *) zhashx_first (self->claims);
         claim; claim = (shic_cluster_held_t *) zhashx_next (self->claims)) {
        const shic_val_t *item = s_local_instance (self, claim->key);
        const char *status = shic_val_str (shic_val_get (item, "lifecycle_status"));
        bool queued = false;
        for (size_t i = 0; i < shic_val_size (queue); i++) {
            const char *id = shic_val_str (shic_val_get (shic_val_at (queue, i), "instance_id"));
            queued |= id && streq (shic_cluster_bare (self, id), claim->key);
        }
        bool ready = status && streq (status, "ready");
        bool ended_here = status && (streq (status, "stopped") || streq (status, "stopping"));
        bool stale = !item && !queued && zclock_mono () - claim->created_at > CLAIM_STALE_MS;
        if (ready || ended_here || stale)
            zlistx_add_end (done, strdup ((const char *) zhashx_cursor (self->claims)));
    }
    for (char *mkey = (char *) zlistx_first (done); mkey; mkey = (char *) zlistx_next (done)) {
        char *key = shic_cluster_key (self, "claims", mkey, NULL);
        shic_error_t err = { 0 };
        shic_etcd_delete (self->etcd, key, false, &err);
        shic_error_clear (&err);
        free (key);
        zhashx_delete (self->claims, mkey);
    }
    zlistx_destroy (&done);
    if (self->reconcile_due) {
        self->reconcile_due = false;
        s_reconcile (self);
    }
}

//  A failed start under our claim: the claim is rewritten as failed on a
//  lease of its own that lasts the cooldown, so no node retries at once
void
shic_cluster_claim_failed (self_t *self, const char *bare, const shic_val_t *error)
{
    char mkey [33];
    shic_cluster_mkey (bare, mkey);
    if (!zhashx_lookup (self->claims, mkey) || !self->registered)
        return;
    zhashx_delete (self->claims, mkey);
    shic_error_t err = { 0 };
    char cooldown [24];
    int64_t ttl_s = (self->config->cooldown_ms + 999) / 1000;
    if (shic_etcd_lease_grant (self->etcd, ttl_s, cooldown, sizeof (cooldown), &err) != 0) {
        shic_cluster_degraded (self, &err, "cooldown lease");
        shic_error_clear (&err);
        return;
    }
    shic_val_t *record = shic_val_new_map ();
    shic_val_set_str (record, "node", self->config->node);
    shic_val_set_str (record, "boot_id", self->boot_id);
    shic_val_set_str (record, "state", "failed");
    shic_val_set_str (record, "key", bare);
    if (shic_val_type (error) == SHIC_VAL_MAP)
        shic_val_set_dup (record, "error", error);
    char *json = shic_val_to_json (record);
    shic_val_destroy (&record);
    char *key = shic_cluster_key (self, "claims", mkey, NULL);
    if (shic_etcd_put (self->etcd, key, json, strlen (json), cooldown, &err) != 0)
        shic_cluster_degraded (self, &err, "put of a failed claim");
    else
        zsys_info ("cluster: the start of %s failed: no node retries it for %lld ms", bare,
                   (long long) self->config->cooldown_ms);
    shic_error_clear (&err);
    free (key);
    free (json);
}
