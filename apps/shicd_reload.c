/*  =========================================================================
    shicd_reload - shicd's SIGHUP

    A backend is its section: the same text (children and their values,
    as ZPL) means the same backend, and its running instances are not
    touched. Anything else about it means a new backend under that name:
    the old one is unregistered (the gateway stops its instances, which
    drain like any stop) and the new one registered. The shicd and runtime
    sections (endpoints, pools, limits) are read at start only: a change
    there is logged as waiting for the next start.
    =========================================================================
*/

#include "shicd_reload.h"
#include "shic_backends.h"

//  The text of a section, or NULL when it is absent (fresh)
static char *
s_section_text (zconfig_t *config, const char *path)
{
    zconfig_t *section = zconfig_locate (config, path);
    return section? zconfig_str_save (section): NULL;
}

//  Whether section path reads the same in both
static bool
s_same (zconfig_t *current, zconfig_t *next, const char *path)
{
    char *before = s_section_text (current, path);
    char *after = s_section_text (next, path);
    bool same = (!before && !after) || (before && after && streq (before, after));
    zstr_free (&before);
    zstr_free (&after);
    return same;
}

//  Tags an item of kept: a configuration (reloads replaced) or a table
typedef struct {
    zconfig_t *config;              //  a replaced configuration, or NULL
    shic_backends_t *backends;      //  a table of new backends, or NULL
} s_kept_t;

static void
s_kept_destroy (s_kept_t **self_p)
{
    if (*self_p) {
        zconfig_destroy (&(*self_p)->config);
        shic_backends_destroy (&(*self_p)->backends);
        free (*self_p);
        *self_p = NULL;
    }
}

//  Keeps a replaced configuration or a table (each must outlive the runtime)
static void
s_keep (zlistx_t *kept, zconfig_t *config, shic_backends_t *backends)
{
    s_kept_t *item = (s_kept_t *) zmalloc (sizeof (s_kept_t));
    item->config = config;
    item->backends = backends;
    zlistx_add_end (kept, item);
}

//  Adds name to the array at key of summary (made when missing)
static void
s_note (shic_val_t *summary, const char *key, const char *name)
{
    if (!summary)
        return;
    if (!shic_val_get (summary, key)) {
        shic_val_t *list = shic_val_new_array ();
        shic_val_set (summary, key, &list);
    }
    shic_val_t *item = shic_val_new_str (name);
    shic_val_push (shic_val_get (summary, key), &item);
}

int
shicd_reload (shic_runtime_t *runtime, zconfig_t **current_p, zconfig_t **next_p,
              zlistx_t *kept, shic_val_t *summary, char **why)
{
    zconfig_t *current = *current_p;
    zconfig_t *next = *next_p;
    //  A scratch runtime sees the backends refuse their sections first
    //  (without the control socket: binding its ipc path would take it from
    //  the running runtime, and destroying the scratch would remove its file)
    shic_error_t err = { 0 };
    char *saved = zconfig_str_save (next);
    zconfig_t *trial_config = saved? zconfig_str_load (saved): NULL;
    zstr_free (&saved);
    if (!trial_config) {
        *why = strdup ("the configuration could not be copied");
        return -1;
    }
    zconfig_put (trial_config, "shicd/control", "");
    zconfig_put (trial_config, "runtime/control", "");
    shic_runtime_t *scratch = shic_runtime_new (trial_config);
    shic_backends_t *trial = scratch? shic_backends_configure (scratch, trial_config, &err): NULL;
    bool accepted = trial != NULL;
    shic_runtime_destroy (&scratch);
    shic_backends_destroy (&trial);
    zconfig_destroy (&trial_config);
    if (!accepted) {
        *why = strdup (err.message? err.message: "the runtime could not be built");
        shic_error_clear (&err);
        return -1;
    }
    //  Gone or changed: unregistered (their instances stop)
    zconfig_t *backends = zconfig_locate (current, "backends");
    for (zconfig_t *section = backends? zconfig_child (backends): NULL; section;
         section = zconfig_next (section)) {
        char path [256];
        snprintf (path, sizeof (path), "backends/%s", zconfig_name (section));
        bool gone = zconfig_locate (next, path) == NULL;
        if (gone || !s_same (current, next, path)) {
            zsys_info ("shicd: reload: backend %s %s; its instances stop", zconfig_name (section),
                       gone? "removed": "changed");
            shic_runtime_unregister (runtime, zconfig_name (section));
            s_note (summary, gone? "removed": "changed", zconfig_name (section));
        }
        else
            s_note (summary, "unchanged", zconfig_name (section));
    }
    //  New or changed: registered, from a configuration of those alone
    char *text = strdup ("backends\n");
    size_t count = 0;
    backends = zconfig_locate (next, "backends");
    for (zconfig_t *section = backends? zconfig_child (backends): NULL; section;
         section = zconfig_next (section)) {
        char path [256];
        snprintf (path, sizeof (path), "backends/%s", zconfig_name (section));
        if (zconfig_locate (current, path) && s_same (current, next, path))
            continue;
        if (!zconfig_locate (current, path))
            s_note (summary, "added", zconfig_name (section));
        //  The section's lines, indented under it
        char *body = zconfig_str_save (section);
        char *grown = zsys_sprintf ("%s    %s\n", text, zconfig_name (section));
        free (text);
        text = grown;
        for (char *line = strtok (body, "\n"); line; line = strtok (NULL, "\n")) {
            grown = zsys_sprintf ("%s        %s\n", text, line);
            free (text);
            text = grown;
        }
        zstr_free (&body);
        count++;
        zsys_info ("shicd: reload: backend %s registered", zconfig_name (section));
    }
    zconfig_t *fresh = zconfig_str_load (text);
    free (text);
    shic_backends_t *added = count? shic_backends_configure (runtime, fresh, &err): NULL;
    zconfig_destroy (&fresh);
    if (count && !added) {
        //  The scratch runtime took them: this is a fault of the moment
        *why = zsys_sprintf ("registration failed after the old backends went: %s",
                             err.message? err.message: "?");
        shic_error_clear (&err);
        return -1;
    }
    if (added)
        s_keep (kept, NULL, added);
    bool restart_needed = !s_same (current, next, "shicd") || !s_same (current, next, "runtime");
    if (restart_needed)
        zsys_warning ("shicd: reload: the shicd and runtime sections take effect at the next "
                      "start");
    if (summary) {
        const char *keys [] = { "added", "removed", "changed", "unchanged", NULL };
        for (int i = 0; keys [i]; i++)
            if (!shic_val_get (summary, keys [i])) {
                shic_val_t *empty = shic_val_new_array ();
                shic_val_set (summary, keys [i], &empty);
            }
        shic_val_set_bool (summary, "restart_needed", restart_needed);
    }
    zsys_info ("shicd: reload: applied (%zu backend(s) registered anew)", count);
    //  The old configuration's strings may still be borrowed: kept too
    s_keep (kept, current, NULL);
    *current_p = next;
    *next_p = NULL;
    return 0;
}

void
shicd_reload_forget (zlistx_t **kept_p)
{
    if (!*kept_p)
        return;
    s_kept_t *item;
    while ((item = (s_kept_t *) zlistx_detach (*kept_p, NULL)))
        s_kept_destroy (&item);
    zlistx_destroy (kept_p);
}
