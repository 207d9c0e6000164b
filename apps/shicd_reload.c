/*  =========================================================================
    shicd_reload - shicd's SIGHUP

    A backend is its section: the same text (children and their values,
    as ZPL) means the same backend, and its running instances are not
    touched. Anything else about it means a new backend under that name:
    the old one is unregistered (the gateway stops its instances, which
    drain like any stop) and the new one registered. The shicd and runtime
    sections (endpoints, pools, limits) are read at start only: a change
    there is logged as waiting for the next start.

    What a backend was registered with (its copy of the section, a plugin)
    lives in the table that registered it. A backend a reload removes is
    unregistered through that table, and freed when the runtime says it is
    done with it (shic_runtime_backend_held: its last instance has ended):
    shicd sweeps after each reload and every second while some still end.
    The replaced configuration itself is freed at once: nothing borrows
    from it (the runtime copied its settings, each registration its
    section).
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

//  zlistx's destructor of a table
static void
s_table_destroy (void **item_p)
{
    shic_backends_destroy ((shic_backends_t **) item_p);
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
            //  Through the table that registered it, which frees its section
            //  once its instances have ended (shicd_reload_sweep)
            bool dropped = false;
            for (shic_backends_t *table = (shic_backends_t *) zlistx_first (kept);
                 table && !dropped; table = (shic_backends_t *) zlistx_next (kept))
                dropped = shic_backends_unregister (table, runtime, zconfig_name (section)) == 0;
            if (!dropped)
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
        zlistx_add_end (kept, added);
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
    //  Nothing borrows from the replaced configuration: the runtime copied
    //  its settings at start, and each registration has a copy of its
    //  section (in its table)
    zconfig_destroy (current_p);
    *current_p = next;
    *next_p = NULL;
    return 0;
}

zlistx_t *
shicd_reload_kept_new (shic_backends_t **backends_p)
{
    zlistx_t *kept = zlistx_new ();
    zlistx_set_destructor (kept, s_table_destroy);
    if (*backends_p)
        zlistx_add_end (kept, *backends_p);
    *backends_p = NULL;
    return kept;
}

size_t
shicd_reload_sweep (shic_runtime_t *runtime, zlistx_t *kept)
{
    size_t waiting = 0;
    zlistx_t *empty = zlistx_new ();
    for (shic_backends_t *table = (shic_backends_t *) zlistx_first (kept); table;
         table = (shic_backends_t *) zlistx_next (kept)) {
        size_t left = shic_backends_release (table, runtime);
        waiting += left;
        if (left == 0 && shic_backends_size (table) == 0)
            zlistx_add_end (empty, zlistx_cursor (kept));
    }
    for (void *handle = zlistx_first (empty); handle; handle = zlistx_next (empty))
        zlistx_delete (kept, handle);
    zlistx_destroy (&empty);
    return waiting;
}

void
shicd_reload_forget (zlistx_t **kept_p)
{
    zlistx_destroy (kept_p);
}
