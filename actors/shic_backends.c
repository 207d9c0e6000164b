/*  =========================================================================
    shic_backends - the backends named in a configuration

    Each child of the "backends" section becomes one registration, under
    the section's name (shic_runtime_register_as, which renames the
    manifest and the instance keys):

        section named like a built-in, no type/plugin   the built-in table
        type = <built-in> (or a built-in name)          that built-in table
        plugin = path.so                                dlopen (RTLD_NOW | RTLD_LOCAL)
                                                        and its "shic_backend_ops"

    The built-in types are llama_cpp, ollama, openai_compat and command;
    any other type answers "backend type 'x' is not built in".

    Each registration gets a copy of its section (owned here), so the
    caller's configuration may go once shic_backends_configure returned.
    It lives beside the runtime, not in backends/: it names the built-in
    tables and registers them, and no backend knows of it.
    =========================================================================
*/

#include "shic_backends.h"
#include "shic_command.h"
#include "shic_openai_compat.h"
#include "shic_backend_options.h"
#include <dlfcn.h>
#include <pthread.h>

#include "shic_llama_cpp.h"
#include "shic_ollama.h"

//  One configured backend
typedef struct _s_entry_t s_entry_t;
struct _s_entry_t {
    char *name;                     //  the section's name = the backend id
    zconfig_t *config;              //  our copy of the section
    const shic_backend_ops_t *ops;  //  the built-in or loaded table
    void *handle;                   //  dlopen handle, or NULL
    bool registered;                //  registered with the runtime
    bool dropped;                   //  unregistered through the table: freed
                                    //  once the runtime no longer uses it
};

struct _shic_backends_t {
    zlistx_t *entries;              //  s_entry_t, in configuration order
};

//  Sets that failed after a partial registration: the runtime may still
//  use their tables, so they are kept for the life of the process
static pthread_mutex_t s_orphans_lock = PTHREAD_MUTEX_INITIALIZER;
static zlistx_t *s_orphans = NULL;

static void
s_entry_destroy (s_entry_t **self_p)
{
    s_entry_t *self = *self_p;
    if (!self)
        return;
    free (self->name);
    zconfig_destroy (&self->config);
    if (self->handle)
        dlclose (self->handle);
    free (self);
    *self_p = NULL;
}

static void
s_entry_destructor (void **item)
{
    s_entry_destroy ((s_entry_t **) item);
}

//  --------------------------------------------------------------------------
//  Configuration

//  A built-in table by name; *known false when the name is not a type at all
static const shic_backend_ops_t *
s_builtin (const char *type, bool *known)
{
    *known = true;
    if (streq (type, "llama_cpp"))
        return &shic_llama_cpp_ops;
    if (streq (type, "ollama"))
        return &shic_ollama_ops;
    if (streq (type, "openai_compat"))
        return &shic_openai_compat_ops;
    if (streq (type, "command"))
        return &shic_command_ops;
    *known = false;
    return NULL;
}

static zconfig_t *
s_config_copy (zconfig_t *source, zconfig_t *parent)
{
    zconfig_t *copy = zconfig_new (zconfig_name (source), parent);
    if (zconfig_value (source))
        zconfig_set_value (copy, "%s", zconfig_value (source));
    for (zconfig_t *child = zconfig_child (source); child; child = zconfig_next (child))
        s_config_copy (child, copy);
    return copy;
}

//  Sets err to invalid_args naming backends/<section>/<key>; returns NULL
static void *
s_fail (shic_error_t *err, const char *section, const char *key, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *reason = zsys_vprintf (format, args);
    va_end (args);
    char *field = zsys_sprintf ("backends/%s/%s", section, key);
    shic_error_set_field (err, SHIC_E_INVALID_ARGS, field, "backends/%s: %s", section, reason);
    zstr_free (&field);
    zstr_free (&reason);
    return NULL;
}

//  Resolves one section into an entry, or NULL with err set
static s_entry_t *
s_entry_new (zconfig_t *section, shic_error_t *err)
{
    const char *name = zconfig_name (section);
    const char *type = zconfig_get (section, "type", NULL);
    const char *plugin = zconfig_get (section, "plugin", NULL);
    if (type && !*type)
        type = NULL;
    if (plugin && !*plugin)
        plugin = NULL;
    if (!*name)
        return s_fail (err, name, "type", "a backend needs a name");
    if (type && plugin)
        return s_fail (err, name, "plugin", "type and plugin exclude each other");
    s_entry_t *self = (s_entry_t *) zmalloc (sizeof (s_entry_t));
    self->name = strdup (name);
    if (plugin) {
        dlerror ();
        self->handle = dlopen (plugin, RTLD_NOW | RTLD_LOCAL);
        if (!self->handle) {
            const char *why = dlerror ();
            s_fail (err, name, "plugin", "plugin '%s' cannot be loaded: %s", plugin, why? why: "?");
            goto error;
        }
        self->ops = (const shic_backend_ops_t *) dlsym (self->handle, "shic_backend_ops");
        if (!self->ops) {
            s_fail (err, name, "plugin", "plugin '%s' exports no shic_backend_ops", plugin);
            goto error;
        }
        if (!self->ops->name || !*self->ops->name || !self->ops->manifest
        ||  !self->ops->startup_plan) {
            s_fail (err, name, "plugin",
                    "plugin '%s': shic_backend_ops needs a name, manifest and startup_plan", plugin);
            goto error;
        }
    }
    else {
        bool known;
        self->ops = s_builtin (type? type: name, &known);
        if (!known) {
            if (type)
                s_fail (err, name, "type", "type '%s' unknown", type);
            else
                s_fail (err, name, "type", "'%s' is not a built-in backend: it needs a type "
                        "(command, openai_compat, llama_cpp, ollama) or a plugin", name);
            goto error;
        }
        if (!self->ops) {
            s_fail (err, name, "type", "backend type '%s' is not built in", type? type: name);
            goto error;
        }
    }
    //  The kernel applies these to every plan of the section, whatever
    //  the backend: their ranges are checked here, for plugins too
    if (shic_backend_config_timings (section, name, err))
        goto error;
    self->config = s_config_copy (section, NULL);
    //  A built-in init is pure: run once here, its error keeps the key it
    //  names (the registration reports a message only)
    if (!self->handle && self->ops->init) {
        void *state = NULL;
        shic_error_t failure = { 0 };
        if (self->ops->init (self->config, &state, &failure)) {
            const char *field = shic_val_str (shic_val_get (failure.details, "field"));
            const char *message = failure.message? failure.message: "invalid";
            char *prefix = zsys_sprintf ("backends/%s:", name);
            if (strncmp (message, prefix, strlen (prefix)) == 0)
                shic_error_move (err, &failure);
            else
            if (field && strncmp (field, "backends/", 9)) {
                char *path = zsys_sprintf ("backends/%s/%s", name, field);
                shic_error_set_field (err, SHIC_E_INVALID_ARGS, path, "%s: %s", path, message);
                zstr_free (&path);
            }
            else
                s_fail (err, name, field? field: "type", "%s", message);
            zstr_free (&prefix);
            shic_error_clear (&failure);
            goto error;
        }
        if (self->ops->destroy)
            self->ops->destroy (&state);
    }
    return self;
error:
    s_entry_destroy (&self);
    return NULL;
}

static shic_backends_t *
s_new (void)
{
    shic_backends_t *self = (shic_backends_t *) zmalloc (sizeof (shic_backends_t));
    self->entries = zlistx_new ();
    zlistx_set_destructor (self->entries, s_entry_destructor);
    return self;
}

shic_backends_t *
shic_backends_configure (shic_runtime_t *runtime, zconfig_t *config, shic_error_t *err)
{
    assert (runtime);
    shic_backends_t *self = s_new ();
    zconfig_t *backends = config? zconfig_locate (config, "backends"): NULL;
    //  Everything is resolved first, so that a bad section registers nothing
    for (zconfig_t *section = backends? zconfig_child (backends): NULL; section;
                    section = zconfig_next (section)) {
        s_entry_t *entry = s_entry_new (section, err);
        if (!entry) {
            shic_backends_destroy (&self);
            return NULL;
        }
        zlistx_add_end (self->entries, entry);
    }
    size_t registered = 0;
    s_entry_t *entry = (s_entry_t *) zlistx_first (self->entries);
    while (entry) {
        shic_error_t failure = { 0 };
        if (shic_runtime_register_as (runtime, entry->name, entry->ops, entry->config,
                                      &failure) != 0) {
            //  Init errors already name their section
            char *prefix = zsys_sprintf ("backends/%s:", entry->name);
            const char *message = failure.message? failure.message: "registration failed";
            if (strncmp (message, prefix, strlen (prefix)) == 0)
                shic_error_move (err, &failure);
            else {
                shic_val_t *details = failure.details;
                failure.details = NULL;

                shic_error_set (err, failure.code? failure.code: SHIC_E_INTERNAL, &details,
                                "backends/%s: %s", entry->name, message);
            }
            shic_error_clear (&failure);
            zstr_free (&prefix);
            if (registered == 0)
                shic_backends_destroy (&self);
            else {
                pthread_mutex_lock (&s_orphans_lock);
                if (!s_orphans)
                    s_orphans = zlistx_new ();
                zlistx_add_end (s_orphans, self);
                pthread_mutex_unlock (&s_orphans_lock);
                zsys_warning ("backends: %zu backend(s) stay registered after a failure; "
                              "their tables are kept for the life of the process", registered);
            }
            return NULL;
        }
        entry->registered = true;
        registered++;
        entry = (s_entry_t *) zlistx_next (self->entries);
    }
    return self;
}

size_t
shic_backends_size (shic_backends_t *self)
{
    assert (self);
    size_t count = 0;
    for (s_entry_t *entry = (s_entry_t *) zlistx_first (self->entries); entry;
                    entry = (s_entry_t *) zlistx_next (self->entries))
        if (entry->registered && !entry->dropped)
            count++;
    return count;
}

int
shic_backends_unregister (shic_backends_t *self, shic_runtime_t *runtime, const char *name)
{
    assert (self);
    assert (runtime);
    for (s_entry_t *entry = (s_entry_t *) zlistx_first (self->entries); entry;
         entry = (s_entry_t *) zlistx_next (self->entries))
        if (entry->registered && !entry->dropped && streq (entry->name, name)) {
            shic_runtime_unregister (runtime, name);
            entry->dropped = true;
            return 0;
        }
    return -1;
}

size_t
shic_backends_release (shic_backends_t *self, shic_runtime_t *runtime)
{
    assert (self);
    assert (runtime);
    //  The runtime's supervisor lets a backend go once its last instance
    //  has ended; until it says so, the entry stays
    zlistx_t *done = zlistx_new ();
    size_t waiting = 0;
    for (s_entry_t *entry = (s_entry_t *) zlistx_first (self->entries); entry;
         entry = (s_entry_t *) zlistx_next (self->entries))
        if (entry->dropped && shic_runtime_backend_held (runtime, entry->config) == 0)
            zlistx_add_end (done, zlistx_cursor (self->entries));
        else
        if (entry->dropped)
            waiting++;
    for (void *handle = zlistx_first (done); handle; handle = zlistx_next (done))
        zlistx_delete (self->entries, handle);
    zlistx_destroy (&done);
    return waiting;
}

void
shic_backends_destroy (shic_backends_t **self_p)
{
    assert (self_p);
    shic_backends_t *self = *self_p;
    if (!self)
        return;
    zlistx_destroy (&self->entries);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  Self test: configuration errors, without starting anything

static void
s_expect_error (shic_runtime_t *runtime, const char *text, const char *expected)
{
    zconfig_t *config = zconfig_str_load (text);
    assert (config);
    shic_error_t err = { 0 };
    shic_backends_t *backends = shic_backends_configure (runtime, config, &err);
    if (backends || !err.message || !strstr (err.message, expected)) {
        fprintf (stderr, "expected '%s', got '%s'\n", expected, err.message? err.message: "success");
        assert (false);
    }
    shic_error_clear (&err);
    zconfig_destroy (&config);
}

void
shic_backends_test (bool verbose)
{
    (void) verbose;
    printf (" * shic_backends: ");
    shic_runtime_t *runtime = shic_runtime_new (NULL);
    assert (runtime);
    //  No configuration, or no backends section: nothing, and no error
    shic_error_t err = { 0 };
    shic_backends_t *backends = shic_backends_configure (runtime, NULL, &err);
    assert (backends && shic_backends_size (backends) == 0 && !err.code);
    shic_backends_destroy (&backends);
    shic_backends_destroy (&backends);

    s_expect_error (runtime, "backends\n    vllm\n        type = x\n",
                    "backends/vllm: type 'x' unknown");
    s_expect_error (runtime, "backends\n    foo\n        command = /bin/true\n",
                    "backends/foo: 'foo' is not a built-in backend: it needs a type");
    s_expect_error (runtime, "backends\n    both\n        type = command\n        plugin = x.so\n",
                    "backends/both: type and plugin exclude each other");
    s_expect_error (runtime, "backends\n    mine\n        plugin = /nonexistent/libmine.so\n",
                    "backends/mine: plugin '/nonexistent/libmine.so' cannot be loaded: ");
    s_expect_error (runtime, "backends\n    libc\n        plugin = libc.so.6\n",
                    "backends/libc: plugin 'libc.so.6' exports no shic_backend_ops");
    //  Init errors of the generic backends name their section and key
    s_expect_error (runtime, "backends\n    vllm\n        type = command\n",
                    "backends/vllm: command or argv is required");
    s_expect_error (runtime, "backends\n    vllm\n        type = command\n"
                    "        command = /bin/x --port=${PORT}\n",
                    "backends/vllm: ${PORT} must be a whole argument");
    s_expect_error (runtime, "backends\n    vllm\n        type = command\n"
                    "        command = /bin/x\n        port = 70000\n",
                    "backends/vllm: port is not a port number");
    s_expect_error (runtime, "backends\n    vllm\n        type = command\n"
                    "        argv\n            1 = /bin/x\n            two = y\n",
                    "backends/vllm: argv/two is not a number");
    s_expect_error (runtime, "backends\n    vllm\n        type = command\n"
                    "        command = /bin/x\n        stop_signal = NOPE\n",
                    "backends/vllm: stop_signal is not a signal");
    s_expect_error (runtime, "backends\n    openai_compat\n",
                    "backends/openai_compat: base_url is required");
    //  The timings the kernel applies to every plan have ranges
    s_expect_error (runtime, "backends\n    lms\n        type = openai_compat\n"
                    "        base_url = http://x\n        idle_shutdown_ms = 9223372036854775807\n",
                    "backends/lms: idle_shutdown_ms must be a whole number from 0 to 1099511627776");
    s_expect_error (runtime, "backends\n    vllm\n        type = command\n"
                    "        command = /bin/x\n        ready_timeout_ms = 0\n",
                    "backends/vllm: ready_timeout_ms must be a whole number from 1 to");
    s_expect_error (runtime, "backends\n    vllm\n        type = command\n"
                    "        command = /bin/x\n        stop_timeout_ms = 99999999999999999999\n",
                    "backends/vllm: stop_timeout_ms must be a whole number from 0 to 2147483647");
    s_expect_error (runtime, "backends\n    lms\n        type = openai_compat\n"
                    "        base_url = ftp://x\n",
                    "backends/lms: base_url must start with http://");
    //  Nothing of the failed configurations stayed registered
    shic_client_t *client = shic_client_new (shic_runtime_endpoint (runtime));
    //  Unregistered through its table, a backend's entry goes once the
    //  runtime is done with it (at once here: it has no instance)
    zconfig_t *config = zconfig_str_load ("backends\n    one\n        type = command\n"
                                          "        command = /bin/true\n"
                                          "    two\n        type = command\n"
                                          "        command = /bin/true\n");
    backends = shic_backends_configure (runtime, config, &err);
    zconfig_destroy (&config);
    assert (backends && shic_backends_size (backends) == 2);
    assert (shic_backends_unregister (backends, runtime, "nope") == -1);
    assert (shic_backends_unregister (backends, runtime, "one") == 0);
    assert (shic_backends_unregister (backends, runtime, "one") == -1);
    assert (shic_backends_size (backends) == 1);
    assert (shic_backends_release (backends, runtime) == 0);
    assert (shic_backends_unregister (backends, runtime, "two") == 0);
    assert (shic_backends_release (backends, runtime) == 0);
    assert (shic_backends_size (backends) == 0);
    shic_backends_destroy (&backends);
    shic_val_t *result = shic_client_call (client, "list_backends", NULL);
    assert (result && shic_val_size (shic_val_get (result, "backends")) == 0);
    shic_val_destroy (&result);
    shic_client_destroy (&client);
    shic_runtime_destroy (&runtime);
    printf ("OK\n");
}
