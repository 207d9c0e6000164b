/*  =========================================================================
    shic_cluster_view - what a node knows of the cluster: the prefix's records

    Keys under the prefix P (guides/cluster.md):
        P/nodes/<node>                 {boot_id, peer, gateway, advertise,
                                        curve_key?, pools, queue, degraded?}
        P/instances/<mkey>/<node>      {instance_id, key, status, leased,
                                        endpoint, pool?, footprint, last_used}
        P/claims/<mkey>                {node, boot_id, state, attempt, error?}
    Values are JSON (so etcdctl shows them as they are).
    =========================================================================
*/

#include "shic_cluster_view.h"
#include "shic_sha256.h"
#include "shic_kernel.h"

//  Instance records deleted lately, to tell what a node that went ran
#define GRAVEYARD_MAX 1024

typedef struct {
    char *node;                     //  where it ran
    char *instance_id;              //  its id
    int64_t revision;               //  when its record went
} s_grave_t;

struct _shic_cluster_view_t {
    char *prefix;                   //  the keys' prefix
    zhashx_t *nodes;                //  name -> shic_cluster_node_t
    zhashx_t *instances;            //  "mkey/node" -> shic_cluster_instance_t
    zhashx_t *claims;               //  mkey -> shic_cluster_claim_t
    zlistx_t *graveyard;            //  s_grave_t, oldest first
    zhashx_t *old_nodes;            //  during a resync: the nodes before it
    zhashx_t *old_instances;        //  during a resync: the instances before it
};

static void
s_node_destroy (shic_cluster_node_t **self_p)
{
    if (*self_p) {
        shic_cluster_node_t *self = *self_p;
        free (self->name);
        free (self->boot_id);
        free (self->peer);
        free (self->gateway);
        free (self->advertise);
        free (self->curve_key);
        shic_val_destroy (&self->pools);
        free (self);
        *self_p = NULL;
    }
}

static void
s_instance_destroy (shic_cluster_instance_t **self_p)
{
    if (*self_p) {
        shic_cluster_instance_t *self = *self_p;
        free (self->mkey);
        free (self->node);
        free (self->instance_id);
        free (self->status);
        shic_val_destroy (&self->record);
        free (self);
        *self_p = NULL;
    }
}

static void
s_claim_destroy (shic_cluster_claim_t **self_p)
{
    if (*self_p) {
        shic_cluster_claim_t *self = *self_p;
        free (self->mkey);
        free (self->node);
        free (self->boot_id);
        shic_val_destroy (&self->error);
        free (self);
        *self_p = NULL;
    }
}

static void
s_grave_destroy (s_grave_t **self_p)
{
    if (*self_p) {
        free ((*self_p)->node);
        free ((*self_p)->instance_id);
        free (*self_p);
        *self_p = NULL;
    }
}

shic_cluster_view_t *
shic_cluster_view_new (const char *prefix)
{
    shic_cluster_view_t *self = (shic_cluster_view_t *) zmalloc (sizeof (shic_cluster_view_t));
    self->prefix = strdup (prefix);
    self->nodes = shic_hash_new ((zhashx_destructor_fn *) s_node_destroy);
    self->instances = shic_hash_new ((zhashx_destructor_fn *) s_instance_destroy);
    self->claims = shic_hash_new ((zhashx_destructor_fn *) s_claim_destroy);
    self->graveyard = zlistx_new ();
    zlistx_set_destructor (self->graveyard, (zlistx_destructor_fn *) s_grave_destroy);
    return self;
}

void
shic_cluster_view_destroy (shic_cluster_view_t **self_p)
{
    if (*self_p) {
        shic_cluster_view_t *self = *self_p;
        zhashx_destroy (&self->nodes);
        zhashx_destroy (&self->instances);
        zhashx_destroy (&self->claims);
        zhashx_destroy (&self->old_nodes);
        zhashx_destroy (&self->old_instances);
        zlistx_destroy (&self->graveyard);
        free (self->prefix);
        free (self);
        *self_p = NULL;
    }
}

void
shic_cluster_mkey (const char *instance_key, char *mkey)
{
    uint8_t digest [32];
    shic_sha256 (instance_key, strlen (instance_key), digest);
    for (int i = 0; i < 16; i++)
        snprintf (mkey + 2 * i, 3, "%02x", digest [i]);
}

//  ---------------------------------------------------------------------------
//  Keys and values

typedef enum { KEY_NONE, KEY_NODE, KEY_INSTANCE, KEY_CLAIM } s_key_kind_t;

static bool
s_is_mkey (const char *text, size_t length)
{
    if (length != 32)
        return false;
    for (size_t i = 0; i < length; i++)
        if (!isxdigit ((unsigned char) text [i]) || isupper ((unsigned char) text [i]))
            return false;
    return true;
}

//  What key is: node (its name into a), instance (mkey into a, node into
//  b) or claim (mkey into a); a and b have 64 bytes
static s_key_kind_t
s_key_parse (shic_cluster_view_t *self, const char *key, char *a, char *b)
{
    size_t prefix = strlen (self->prefix);
    if (strncmp (key, self->prefix, prefix) || key [prefix] != '/')
        return KEY_NONE;
    const char *rest = key + prefix + 1;
    if (strncmp (rest, "nodes/", 6) == 0) {
        if (!shic_cluster_node_valid (rest + 6))
            return KEY_NONE;
        snprintf (a, 64, "%s", rest + 6);
        return KEY_NODE;
    }
    if (strncmp (rest, "claims/", 7) == 0) {
        if (!s_is_mkey (rest + 7, strlen (rest + 7)))
            return KEY_NONE;
        snprintf (a, 64, "%s", rest + 7);
        return KEY_CLAIM;
    }
    if (strncmp (rest, "instances/", 10) == 0) {
        const char *mkey = rest + 10;
        const char *slash = strchr (mkey, '/');
        if (!slash || !s_is_mkey (mkey, (size_t) (slash - mkey))
        ||  !shic_cluster_node_valid (slash + 1))
            return KEY_NONE;
        snprintf (a, 64, "%.*s", (int) (slash - mkey), mkey);
        snprintf (b, 64, "%s", slash + 1);
        return KEY_INSTANCE;
    }
    return KEY_NONE;
}

//  A string of record, or NULL when absent or not a string
static const char *
s_str (const shic_val_t *record, const char *key)
{
    return shic_val_str (shic_val_get (record, key));
}

static char *
s_dup (const char *text)
{
    return text? strdup (text): NULL;
}

//  A pools map {pool: {capacity, free, idle}} of whole numbers >= 0
static bool
s_pools_valid (const shic_val_t *pools)
{
    if (shic_val_type (pools) != SHIC_VAL_MAP || shic_val_size (pools) > 64)
        return false;
    for (size_t i = 0; i < shic_val_size (pools); i++) {
        const shic_val_t *pool = shic_val_at (pools, i);
        if (shic_val_type (pool) != SHIC_VAL_MAP)
            return false;
        const char *keys [] = { "capacity", "free", "idle", NULL };
        for (int k = 0; keys [k]; k++) {
            const shic_val_t *number = shic_val_get (pool, keys [k]);
            if (shic_val_type (number) != SHIC_VAL_INT || shic_val_int (number) < 0)
                return false;
        }
    }
    return true;
}

static shic_cluster_node_t *
s_node_parse (const char *name, const shic_val_t *record)
{
    const char *boot_id = s_str (record, "boot_id");
    const char *peer = s_str (record, "peer");
    const shic_val_t *pools = shic_val_get (record, "pools");
    const shic_val_t *queue = shic_val_get (record, "queue");
    const shic_val_t *curve_key = shic_val_get (record, "curve_key");
    if (!boot_id || !peer || strncmp (peer, "tcp://", 6) || !s_pools_valid (pools)
    ||  (queue && shic_val_type (queue) != SHIC_VAL_INT)
    ||  (curve_key && (shic_val_type (curve_key) != SHIC_VAL_STR
                   ||  strlen (shic_val_str (curve_key)) != 40)))
        return NULL;
    shic_cluster_node_t *node = (shic_cluster_node_t *) zmalloc (sizeof (shic_cluster_node_t));
    node->name = strdup (name);
    node->boot_id = strdup (boot_id);
    node->peer = strdup (peer);
    node->gateway = s_dup (s_str (record, "gateway"));
    node->advertise = s_dup (s_str (record, "advertise"));
    node->curve_key = s_dup (s_str (record, "curve_key"));
    node->pools = shic_val_dup (pools);
    node->queue = queue? shic_val_int (queue): 0;
    node->degraded = shic_val_bool (shic_val_get (record, "degraded"));
    return node;
}

static shic_cluster_instance_t *
s_instance_parse (const char *mkey, const char *node_name, shic_val_t **record_p)
{
    shic_val_t *record = *record_p;
    const char *id = s_str (record, "instance_id");
    const char *status = s_str (record, "status");
    const shic_val_t *leased = shic_val_get (record, "leased");
    if (!id || !status || (leased && shic_val_type (leased) != SHIC_VAL_BOOL))
        return NULL;
    shic_cluster_instance_t *instance =
        (shic_cluster_instance_t *) zmalloc (sizeof (shic_cluster_instance_t));
    instance->mkey = strdup (mkey);
    instance->node = strdup (node_name);
    instance->instance_id = strdup (id);
    instance->status = strdup (status);
    instance->leased = shic_val_bool (leased);
    instance->record = record;
    *record_p = NULL;
    return instance;
}

static shic_cluster_claim_t *
s_claim_parse (const char *mkey, const shic_val_t *record, int64_t revision)
{
    const char *node = s_str (record, "node");
    const char *state = s_str (record, "state");
    const shic_val_t *error = shic_val_get (record, "error");
    if (!node || !shic_cluster_node_valid (node) || !state
    ||  (!streq (state, "loading") && !streq (state, "failed"))
    ||  (error && shic_val_type (error) != SHIC_VAL_MAP))
        return NULL;
    shic_cluster_claim_t *claim = (shic_cluster_claim_t *) zmalloc (sizeof (shic_cluster_claim_t));
    claim->mkey = strdup (mkey);
    claim->node = strdup (node);
    claim->boot_id = s_dup (s_str (record, "boot_id"));
    claim->failed = streq (state, "failed");
    claim->error = error? shic_val_dup (error): NULL;
    claim->mod_revision = revision;
    return claim;
}

int
shic_cluster_view_put (shic_cluster_view_t *self, const char *key, const char *value,
                       size_t size, int64_t revision)
{
    char a [64], b [64];
    s_key_kind_t kind = s_key_parse (self, key, a, b);
    if (kind == KEY_NONE)
        return 0;
    //  A record is a small JSON map
    shic_val_t *record = size <= 65536? shic_val_from_json (value): NULL;
    if (record && shic_val_type (record) != SHIC_VAL_MAP)
        shic_val_destroy (&record);
    int rc = -1;
    if (kind == KEY_NODE) {
        shic_cluster_node_t *node = record? s_node_parse (a, record): NULL;
        if (node) {
            zhashx_update (self->nodes, a, node);
            rc = 1;
        }
        else
            zhashx_delete (self->nodes, a);
    }
    else
    if (kind == KEY_CLAIM) {
        shic_cluster_claim_t *claim = record? s_claim_parse (a, record, revision): NULL;
        if (claim) {
            zhashx_update (self->claims, a, claim);
            rc = 1;
        }
        else
            zhashx_delete (self->claims, a);
    }
    else {
        char path [132];
        snprintf (path, sizeof (path), "%s/%s", a, b);
        shic_cluster_instance_t *instance = record? s_instance_parse (a, b, &record): NULL;
        if (instance) {
            zhashx_update (self->instances, path, instance);
            rc = 1;
        }
        else
            zhashx_delete (self->instances, path);
    }
    if (rc == -1)
        zsys_warning ("cluster: refused the record at %s: not what a node writes", key);
    shic_val_destroy (&record);
    return rc;
}

//  The graveyard keeps the last GRAVEYARD_MAX deleted instance records
static void
s_bury (shic_cluster_view_t *self, shic_cluster_instance_t *instance, int64_t revision)
{
    s_grave_t *grave = (s_grave_t *) zmalloc (sizeof (s_grave_t));
    grave->node = strdup (instance->node);
    grave->instance_id = strdup (instance->instance_id);
    grave->revision = revision;
    zlistx_add_end (self->graveyard, grave);
    while (zlistx_size (self->graveyard) > GRAVEYARD_MAX)
        zlistx_delete (self->graveyard, zlistx_first (self->graveyard));
}

//  The instance ids of node: its records in instances, and (when revision
//  > 0) the graveyard's of that revision
static shic_val_t *
s_instance_ids (shic_cluster_view_t *self, zhashx_t *instances, const char *node,
                int64_t revision)
{
    shic_val_t *ids = shic_val_new_array ();
    for (shic_cluster_instance_t *instance = (shic_cluster_instance_t *) zhashx_first (instances);
         instance; instance = (shic_cluster_instance_t *) zhashx_next (instances))
        if (streq (instance->node, node)) {
            shic_val_t *id = shic_val_new_str (instance->instance_id);
            shic_val_push (ids, &id);
        }
    for (s_grave_t *grave = (s_grave_t *) zlistx_first (self->graveyard);
         grave && revision > 0; grave = (s_grave_t *) zlistx_next (self->graveyard))
        if (grave->revision == revision && streq (grave->node, node)
        &&  !shic_val_contains_str (ids, grave->instance_id)) {
            shic_val_t *id = shic_val_new_str (grave->instance_id);
            shic_val_push (ids, &id);
        }
    return ids;
}

int
shic_cluster_view_delete (shic_cluster_view_t *self, const char *key, int64_t revision,
                          shic_val_t **lost_p)
{
    char a [64], b [64];
    if (lost_p)
        *lost_p = NULL;
    s_key_kind_t kind = s_key_parse (self, key, a, b);
    if (kind == KEY_NODE) {
        bool known = zhashx_lookup (self->nodes, a) != NULL;
        zhashx_delete (self->nodes, a);
        if (known && lost_p)
            *lost_p = s_instance_ids (self, self->instances, a, revision);
        return 1;
    }
    if (kind == KEY_CLAIM) {
        zhashx_delete (self->claims, a);
        return 1;
    }
    if (kind == KEY_INSTANCE) {
        char path [132];
        snprintf (path, sizeof (path), "%s/%s", a, b);
        shic_cluster_instance_t *instance =
            (shic_cluster_instance_t *) zhashx_lookup (self->instances, path);
        if (instance)
            s_bury (self, instance, revision);
        zhashx_delete (self->instances, path);
        return 1;
    }
    return 0;
}

void
shic_cluster_view_begin (shic_cluster_view_t *self)
{
    zhashx_destroy (&self->old_nodes);
    zhashx_destroy (&self->old_instances);
    self->old_nodes = self->nodes;
    self->old_instances = self->instances;
    self->nodes = shic_hash_new ((zhashx_destructor_fn *) s_node_destroy);
    self->instances = shic_hash_new ((zhashx_destructor_fn *) s_instance_destroy);
    zhashx_purge (self->claims);
}

shic_val_t *
shic_cluster_view_end (shic_cluster_view_t *self)
{
    shic_val_t *lost = shic_val_new_map ();
    for (shic_cluster_node_t *old = (shic_cluster_node_t *) zhashx_first (self->old_nodes);
         old; old = (shic_cluster_node_t *) zhashx_next (self->old_nodes)) {
        shic_cluster_node_t *now = (shic_cluster_node_t *) zhashx_lookup (self->nodes, old->name);
        if (!now || !streq (now->boot_id, old->boot_id)) {
            shic_val_t *ids = s_instance_ids (self, self->old_instances, old->name, 0);
            shic_val_set (lost, old->name, &ids);
        }
    }
    zhashx_destroy (&self->old_nodes);
    zhashx_destroy (&self->old_instances);
    return lost;
}

//  ---------------------------------------------------------------------------
//  Questions

shic_cluster_node_t *
shic_cluster_view_node (shic_cluster_view_t *self, const char *name)
{
    return (shic_cluster_node_t *) zhashx_lookup (self->nodes, name);
}

size_t
shic_cluster_view_nodes (shic_cluster_view_t *self)
{
    return zhashx_size (self->nodes);
}

static int
s_compare_names (const void *a, const void *b)
{
    return strcmp (((const shic_cluster_node_t *) a)->name, ((const shic_cluster_node_t *) b)->name);
}

zlistx_t *
shic_cluster_view_node_list (shic_cluster_view_t *self)
{
    zlistx_t *list = zlistx_new ();
    zlistx_set_comparator (list, s_compare_names);
    for (void *node = zhashx_first (self->nodes); node; node = zhashx_next (self->nodes))
        zlistx_add_end (list, node);
    zlistx_sort (list);
    return list;
}

shic_cluster_claim_t *
shic_cluster_view_claim (shic_cluster_view_t *self, const char *mkey)
{
    return (shic_cluster_claim_t *) zhashx_lookup (self->claims, mkey);
}

static bool
s_skipped (zlistx_t *skip, const char *name)
{
    for (const char *item = skip? (const char *) zlistx_first (skip): NULL; item;
         item = (const char *) zlistx_next (skip))
        if (streq (item, name))
            return true;
    return false;
}

shic_cluster_instance_t *
shic_cluster_view_instance_elsewhere (shic_cluster_view_t *self, const char *mkey,
                                      const char *me, zlistx_t *skip)
{
    shic_cluster_instance_t *best = NULL;
    for (shic_cluster_instance_t *instance =
             (shic_cluster_instance_t *) zhashx_first (self->instances);
         instance; instance = (shic_cluster_instance_t *) zhashx_next (self->instances)) {
        if (!streq (instance->mkey, mkey) || streq (instance->node, me)
        ||  !zhashx_lookup (self->nodes, instance->node) || s_skipped (skip, instance->node))
            continue;
        bool ready = streq (instance->status, "ready");
        bool coming = streq (instance->status, "starting") || streq (instance->status, "restarting");
        if (ready && (!best || !streq (best->status, "ready")
                  ||  strcmp (instance->node, best->node) < 0))
            best = instance;
        else
        if (coming && !best)
            best = instance;
    }
    return best;
}

shic_val_t *
shic_cluster_view_routes (shic_cluster_view_t *self, const char *me)
{
    shic_val_t *routes = shic_val_new_map ();
    for (shic_cluster_instance_t *instance =
             (shic_cluster_instance_t *) zhashx_first (self->instances);
         instance; instance = (shic_cluster_instance_t *) zhashx_next (self->instances)) {
        const char *key = shic_val_str (shic_val_get (instance->record, "key"));
        if (!key || !streq (instance->status, "ready") || streq (instance->node, me)
        ||  !zhashx_lookup (self->nodes, instance->node))
            continue;
        const char *known = shic_val_str (shic_val_get (routes, key));
        if (!known || strcmp (instance->node, known) < 0)
            shic_val_set_str (routes, key, instance->node);
    }
    return routes;
}

shic_val_t *
shic_cluster_view_peers (shic_cluster_view_t *self, const char *me)
{
    shic_val_t *peers = shic_val_new_map ();
    zlistx_t *nodes = shic_cluster_view_node_list (self);
    for (shic_cluster_node_t *node = (shic_cluster_node_t *) zlistx_first (nodes); node;
         node = (shic_cluster_node_t *) zlistx_next (nodes)) {
        if (streq (node->name, me))
            continue;
        shic_val_t *peer = shic_val_new_map ();
        shic_val_set_str (peer, "peer", node->peer);
        if (node->curve_key)
            shic_val_set_str (peer, "curve_key", node->curve_key);
        shic_val_set (peers, node->name, &peer);
    }
    zlistx_destroy (&nodes);
    return peers;
}

zlistx_t *
shic_cluster_view_instances_of (shic_cluster_view_t *self, const char *node)
{
    zlistx_t *list = zlistx_new ();
    for (shic_cluster_instance_t *instance =
             (shic_cluster_instance_t *) zhashx_first (self->instances);
         instance; instance = (shic_cluster_instance_t *) zhashx_next (self->instances))
        if (streq (instance->node, node))
            zlistx_add_end (list, instance);
    return list;
}

//  A candidate of the ranking
typedef struct {
    const char *name;               //  node
    int tier;                       //  0 fits now, 1 after evicting, 2 waits, 3 never
    bool mine;                      //  the ranking node itself
    int64_t queue;                  //  its queue
    uint64_t free_bytes;            //  its free memory in the pool
} s_candidate_t;

static int
s_candidate_compare (const void *a, const void *b)
{
    const s_candidate_t *x = (const s_candidate_t *) a, *y = (const s_candidate_t *) b;
    if (x->tier != y->tier)
        return x->tier - y->tier;
    if (x->tier < 2 && x->mine != y->mine)
        return x->mine? -1: 1;
    if (x->queue != y->queue)
        return x->queue < y->queue? -1: 1;
    if (x->tier == 2 && x->mine != y->mine)
        return x->mine? -1: 1;
    if (x->free_bytes != y->free_bytes)
        return x->free_bytes > y->free_bytes? -1: 1;
    return strcmp (x->name, y->name);
}

//  This node's own answer as a tier: now, evict, no (would wait), never
static int
s_fit_tier (const char *fit)
{
    return streq (fit, "now")? 0: streq (fit, "evict")? 1: streq (fit, "no")? 2: 3;
}

static uint64_t
s_pool_int (const shic_val_t *pool, const char *key)
{
    return (uint64_t) shic_val_int (shic_val_get (pool, key));
}

zlistx_t *
shic_cluster_view_rank (shic_cluster_view_t *self, const char *me, const char *my_fit,
                        uint64_t bytes, const char *pool, zlistx_t *skip)
{
    size_t count = zhashx_size (self->nodes);
    s_candidate_t *candidates = (s_candidate_t *) zmalloc ((count + 1) * sizeof (s_candidate_t));
    size_t used = 0;
    bool me_seen = false;
    for (shic_cluster_node_t *node = (shic_cluster_node_t *) zhashx_first (self->nodes); node;
         node = (shic_cluster_node_t *) zhashx_next (self->nodes)) {
        if (s_skipped (skip, node->name) || used == count)
            continue;
        s_candidate_t *candidate = &candidates [used++];
        candidate->name = node->name;
        candidate->queue = node->queue;
        candidate->mine = streq (node->name, me);
        me_seen |= candidate->mine;
        const shic_val_t *stats = pool? shic_val_get (node->pools, pool): NULL;
        candidate->free_bytes = stats? s_pool_int (stats, "free"): 0;
        if (candidate->mine)
            candidate->tier = s_fit_tier (my_fit);
        else
        if (node->degraded)
            candidate->tier = 3;    //  a node cut off from etcd starts nothing for others
        else
        if (bytes == 0)
            candidate->tier = 0;
        else
        if (!stats)
            candidate->tier = 3;
        else
        if (candidate->free_bytes >= bytes)
            candidate->tier = 0;
        else
        if (candidate->free_bytes + s_pool_int (stats, "idle") >= bytes)
            candidate->tier = 1;
        else
            candidate->tier = s_pool_int (stats, "capacity") >= bytes? 2: 3;
    }
    //  This node counts even before its own record is in the view
    if (!me_seen && !s_skipped (skip, me)) {
        s_candidate_t *candidate = &candidates [used++];
        candidate->name = me;
        candidate->mine = true;
        candidate->tier = s_fit_tier (my_fit);
    }
    qsort (candidates, used, sizeof (s_candidate_t), s_candidate_compare);
    zlistx_t *ranked = zlistx_new ();
    zlistx_set_destructor (ranked, (zlistx_destructor_fn *) zstr_free);
    for (size_t i = 0; i < used; i++)
        if (candidates [i].tier < 3)
            zlistx_add_end (ranked, zsys_sprintf ("%d:%s", candidates [i].tier, candidates [i].name));
    free (candidates);
    return ranked;
}

//  ---------------------------------------------------------------------------

static void
s_put (shic_cluster_view_t *view, const char *key, const char *json, int64_t revision, int expect)
{
    int rc = shic_cluster_view_put (view, key, json, strlen (json), revision);
    assert (rc == expect);
}

static const char *
s_first (zlistx_t *list)
{
    return (const char *) zlistx_first (list);
}

void
shic_cluster_view_test (bool verbose)
{
    (void) verbose;
    printf (" * shic_cluster_view: ");
    char mkey [33], other [33];
    shic_cluster_mkey ("standin:tiny:abc", mkey);
    assert (strlen (mkey) == 32);
    shic_cluster_mkey ("standin:big:abc", other);
    assert (!streq (mkey, other));

    shic_cluster_view_t *view = shic_cluster_view_new ("/t");
    const char *gib = "{\"boot_id\":\"b1\",\"peer\":\"tcp://127.0.0.1:1\",\"queue\":0,"
                      "\"pools\":{\"ram\":{\"capacity\":1073741824,\"free\":1073741824,\"idle\":0}}}";
    const char *big = "{\"boot_id\":\"b2\",\"peer\":\"tcp://127.0.0.1:2\",\"queue\":1,"
                      "\"pools\":{\"ram\":{\"capacity\":68719476736,\"free\":60000000000,\"idle\":0}}}";
    s_put (view, "/t/nodes/a", gib, 1, 1);
    s_put (view, "/t/nodes/b", big, 2, 1);
    s_put (view, "/t/nodes/c", "{\"boot_id\":\"b3\",\"peer\":\"tcp://127.0.0.1:3\",\"queue\":0,"
                               "\"pools\":{\"ram\":{\"capacity\":4294967296,\"free\":100,"
                               "\"idle\":4294967000}}}", 3, 1);
    assert (shic_cluster_view_nodes (view) == 3);
    //  Garbage is refused, and the key is then absent
    s_put (view, "/t/nodes/d", "not json", 4, -1);
    s_put (view, "/t/nodes/d", "[1,2]", 4, -1);
    s_put (view, "/t/nodes/d", "{\"boot_id\":1,\"peer\":\"tcp://x:1\",\"pools\":{}}", 4, -1);
    s_put (view, "/t/nodes/d", "{\"boot_id\":\"x\",\"peer\":\"http://x:1\",\"pools\":{}}", 4, -1);
    s_put (view, "/t/nodes/d", "{\"boot_id\":\"x\",\"peer\":\"tcp://x:1\",\"pools\":{\"r\":{\"free\":-1}}}", 4, -1);
    s_put (view, "/t/nodes/d.e", gib, 4, 0);
    s_put (view, "/t/other", gib, 4, 0);
    s_put (view, "/t/claims/short", "{}", 4, 0);
    s_put (view, "/t/claims/ABCDEF0123456789ABCDEF0123456789", "{}", 4, 0);
    assert (shic_cluster_view_nodes (view) == 3);

    //  Ranking: 2 GiB fits now only on b; 4 GiB after evicting on c
    zlistx_t *ranked = shic_cluster_view_rank (view, "a", "never", (uint64_t) 2 << 30, "ram", NULL);
    assert (streq (s_first (ranked), "0:b"));
    assert (streq ((const char *) zlistx_next (ranked), "1:c"));
    assert (zlistx_size (ranked) == 2);     //  a can never hold it
    zlistx_destroy (&ranked);
    //  Small: every node fits, this one first
    ranked = shic_cluster_view_rank (view, "a", "now", 1000, "ram", NULL);
    assert (streq (s_first (ranked), "0:a"));
    zlistx_destroy (&ranked);
    ranked = shic_cluster_view_rank (view, "c", "evict", 1000, "ram", NULL);
    assert (streq (s_first (ranked), "0:a") && zlistx_size (ranked) == 3);
    assert (streq ((const char *) zlistx_last (ranked), "1:c"));
    zlistx_destroy (&ranked);
    //  Not counted: everyone fits; skipped ones are left out
    zlistx_t *skip = zlistx_new ();
    zlistx_add_end (skip, "b");
    ranked = shic_cluster_view_rank (view, "b", "now", 0, NULL, skip);
    assert (zlistx_size (ranked) == 2 && streq (s_first (ranked), "0:a"));
    zlistx_destroy (&ranked);
    //  Nothing fits now: the shortest queue waits, this node first on a tie
    ranked = shic_cluster_view_rank (view, "a", "no", (uint64_t) 3 << 30, "ram", skip);
    assert (streq (s_first (ranked), "1:c"));
    assert (streq ((const char *) zlistx_next (ranked), "2:a"));
    zlistx_destroy (&ranked);
    ranked = shic_cluster_view_rank (view, "z", "no", (uint64_t) 100 << 30, "ram", NULL);
    assert (zlistx_size (ranked) == 1 && streq (s_first (ranked), "2:z"));
    zlistx_destroy (&ranked);

    //  Instances and claims
    char key [160];
    snprintf (key, sizeof (key), "/t/instances/%s/b", mkey);
    s_put (view, key, "{\"instance_id\":\"b.standin:tiny:abc\",\"status\":\"starting\","
                      "\"leased\":false}", 5, 1);
    shic_cluster_instance_t *instance = shic_cluster_view_instance_elsewhere (view, mkey, "a", NULL);
    assert (instance && streq (instance->node, "b"));
    assert (!shic_cluster_view_instance_elsewhere (view, mkey, "b", NULL));
    assert (!shic_cluster_view_instance_elsewhere (view, mkey, "a", skip));
    snprintf (key, sizeof (key), "/t/instances/%s/c", mkey);
    s_put (view, key, "{\"instance_id\":\"c.standin:tiny:abc\",\"status\":\"ready\","
                      "\"leased\":true}", 6, 1);
    instance = shic_cluster_view_instance_elsewhere (view, mkey, "a", NULL);
    assert (instance && streq (instance->node, "c") && instance->leased);
    s_put (view, key, "{\"instance_id\":\"c.standin:tiny:abc\",\"key\":\"standin:tiny:abc\","
                      "\"status\":\"ready\",\"leased\":true}", 6, 1);
    shic_val_t *routes = shic_cluster_view_routes (view, "a");
    assert (shic_val_size (routes) == 1
            && streq (shic_val_str (shic_val_get (routes, "standin:tiny:abc")), "c"));
    shic_val_destroy (&routes);
    routes = shic_cluster_view_routes (view, "c");
    assert (shic_val_size (routes) == 0);
    shic_val_destroy (&routes);
    shic_val_t *peers = shic_cluster_view_peers (view, "a");
    assert (shic_val_size (peers) == 2
            && streq (shic_val_str (shic_val_path (peers, "b/peer")), "tcp://127.0.0.1:2"));
    shic_val_destroy (&peers);
    s_put (view, key, "{\"instance_id\":7}", 7, -1);
    instance = shic_cluster_view_instance_elsewhere (view, mkey, "a", NULL);
    assert (instance && streq (instance->node, "b"));
    snprintf (key, sizeof (key), "/t/claims/%s", mkey);
    s_put (view, key, "{\"node\":\"b\",\"boot_id\":\"b2\",\"state\":\"loading\"}", 8, 1);
    shic_cluster_claim_t *claim = shic_cluster_view_claim (view, mkey);
    assert (claim && streq (claim->node, "b") && !claim->failed && claim->mod_revision == 8);
    s_put (view, key, "{\"node\":\"b\",\"state\":\"failed\",\"error\":{\"code\":\"backend_exit\"}}",
           9, 1);
    claim = shic_cluster_view_claim (view, mkey);
    assert (claim->failed && streq (shic_val_str (shic_val_get (claim->error, "code")),
                                    "backend_exit"));
    s_put (view, key, "{\"node\":\"b\",\"state\":\"maybe\"}", 10, -1);
    assert (!shic_cluster_view_claim (view, mkey));

    //  b goes: its instance record and its node record in one revision
    snprintf (key, sizeof (key), "/t/instances/%s/b", mkey);
    shic_val_t *lost = NULL;
    assert (shic_cluster_view_delete (view, key, 20, &lost) == 1 && !lost);
    assert (shic_cluster_view_delete (view, "/t/nodes/b", 20, &lost) == 1);
    assert (lost && shic_val_size (lost) == 1
            && streq (shic_val_str (shic_val_at (lost, 0)), "b.standin:tiny:abc"));
    shic_val_destroy (&lost);
    //  A node that is deleted before its instances: they are still here
    snprintf (key, sizeof (key), "/t/instances/%s/c", mkey);
    s_put (view, key, "{\"instance_id\":\"c.x\",\"status\":\"ready\"}", 21, 1);
    assert (shic_cluster_view_delete (view, "/t/nodes/c", 22, &lost) == 1);
    assert (lost && shic_val_size (lost) == 1);
    shic_val_destroy (&lost);
    //  ... and no longer count as running anywhere
    assert (!shic_cluster_view_instance_elsewhere (view, mkey, "a", NULL));
    zlistx_t *of_c = shic_cluster_view_instances_of (view, "c");
    assert (zlistx_size (of_c) == 1);
    zlistx_destroy (&of_c);
    assert (shic_cluster_view_delete (view, key, 22, NULL) == 1);

    //  A resync: a is back with a new boot, d is new; a counts as lost
    s_put (view, key, "{\"instance_id\":\"c.x\",\"status\":\"ready\"}", 23, 1);
    snprintf (key, sizeof (key), "/t/instances/%s/a", mkey);
    s_put (view, key, "{\"instance_id\":\"a.x\",\"status\":\"ready\"}", 23, 1);
    shic_cluster_view_begin (view);
    s_put (view, "/t/nodes/a", big, 30, 1);
    s_put (view, "/t/nodes/d", gib, 30, 1);
    lost = shic_cluster_view_end (view);
    assert (shic_val_size (lost) == 1);
    assert (shic_val_size (shic_val_get (lost, "a")) == 1);
    shic_val_destroy (&lost);
    zlistx_t *nodes = shic_cluster_view_node_list (view);
    assert (zlistx_size (nodes) == 2);
    assert (streq (((shic_cluster_node_t *) zlistx_first (nodes))->name, "a"));
    zlistx_destroy (&nodes);
    zlistx_destroy (&skip);
    shic_cluster_view_destroy (&view);
    shic_cluster_view_destroy (&view);
    printf ("OK\n");
}
