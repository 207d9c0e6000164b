/*  =========================================================================
    shic_llama_cpp - the llama.cpp backend: spawns and probes llama-server

    The configuration is read once in init into shic_val maps (one launch
    map per configured model, backend defaults applied) that stay read-only
    afterwards, so startup_plan may run in any kernel thread. A plan is the
    model's launch map overlaid with the client's options, rendered as argv
    and hashed into the instance key.
    =========================================================================
*/

#include "shic_llama_cpp.h"
#include <sys/stat.h>
#include "shic_http.h"
#include "shic_sha256.h"
#include <ctype.h>
#include <errno.h>
#include <limits.h>

#define S_BACKEND       "llama_cpp"
#define S_READY_LINE    "server is listening on http://"
//  The server's own lines start with the name of its main function; the
//  port is read only from those (a request line quotes what a client sent)
#define S_MAIN_PREFIX   "main: "
#define S_BOUND_LINE    "HTTP server is listening, hostname: "
#define S_BIND_FAILED   "couldn't bind HTTP server socket"

//  What an option's value must look like
typedef enum {
    S_INT,                          //  integer in [min, max]
    S_BOOL,                         //  true or false
    S_STR,                          //  non-empty string, no control characters
    S_LAYERS,                       //  integer in [min, max], "auto" or "all"
    S_FLASH,                        //  bool, "on", "off" or "auto"
    S_HOST,                         //  host name or address, no '/'
    S_KEY,                          //  printable string without spaces
    S_LIST,                         //  array of strings
    S_ENV,                          //  map of strings, keys without '='
    S_SIZE,                         //  bytes: integer > 0, or a string like "6GiB"
    S_POOL                          //  a memory pool name: letters, digits, '_'
} s_kind_t;

//  Who may set an option, and where it goes
typedef enum {
    S_KNOB,                         //  launch option any client may set
    S_HOST_KNOB,                    //  launch option for the embedding host only
    S_HOST_TIMING,                  //  plan timing for the embedding host only
    S_HOST_PLACE                    //  placement, for the configuration and the
                                    //  embedding host: not a launch option
} s_class_t;

typedef struct {
    const char *name;               //  option name
    s_kind_t kind;                  //  shape of its value
    s_class_t class_;               //  who may set it
    int64_t min;                    //  S_INT / S_LAYERS lower bound
    int64_t max;                    //  S_INT / S_LAYERS upper bound
    const char *flag;               //  llama-server flag of a knob, or NULL
} s_option_t;

//  Every option; knobs are rendered in this order
static const s_option_t s_options [] = {
    //  Bounded: each distinct value is an instance of its own (no model
    //  llama.cpp runs has a context of 2^20 tokens or more)
    { "ctx_size",              S_INT,    S_KNOB,        0, 1 << 20,   "-c" },
    { "parallel",              S_INT,    S_KNOB,        1, 1024,      "-np" },
    { "threads",               S_INT,    S_KNOB,        1, 1024,      "-t" },
    { "threads_batch",         S_INT,    S_KNOB,        1, 1024,      "-tb" },
    { "gpu_layers",            S_LAYERS, S_KNOB,        0, 100000,    "-ngl" },
    { "flash_attn",            S_FLASH,  S_KNOB,        0, 0,         "-fa" },
    { "embeddings",            S_BOOL,   S_KNOB,        0, 0,         "--embeddings" },
    { "jinja",                 S_BOOL,   S_KNOB,        0, 0,         "--jinja" },
    { "alias",                 S_STR,    S_KNOB,        0, 0,         NULL },
    //  Timings are not part of the instance key, and the instance is
    //  shared: they belong to the configuration and the embedding host
    { "ready_timeout_ms",      S_INT,    S_HOST_TIMING, 1, SHIC_DURATION_MAX_MS, NULL },
    { "idle_shutdown_ms",      S_INT,    S_HOST_TIMING, 0, SHIC_DURATION_MAX_MS, NULL },
    { "readiness_interval_ms", S_INT,    S_HOST_TIMING, 1, SHIC_DURATION_MAX_MS, NULL },
    { "health_interval_ms",    S_INT,    S_HOST_TIMING, 0, SHIC_DURATION_MAX_MS, NULL },
    { "stop_timeout_ms",       S_INT,    S_HOST_TIMING, 0, SHIC_STOP_TIMEOUT_MAX_MS, NULL },
    { "binary",                S_STR,    S_HOST_KNOB,   0, 0,         NULL },
    { "model_path",            S_STR,    S_HOST_KNOB,   0, 0,         NULL },
    { "host",                  S_HOST,   S_HOST_KNOB,   0, 0,         NULL },
    { "port",                  S_INT,    S_HOST_KNOB,   0, 65535,     NULL },
    { "launcher_args",         S_LIST,   S_HOST_KNOB,   0, 0,         NULL },
    { "extra_args",            S_LIST,   S_HOST_KNOB,   0, 0,         NULL },
    { "env",                   S_ENV,    S_HOST_KNOB,   0, 0,         NULL },
    { "api_key",               S_KEY,    S_HOST_KNOB,   0, 0,         NULL },
    { "api_key_file",          S_STR,    S_HOST_KNOB,   0, 0,         NULL },
    { "device",                S_POOL,   S_HOST_KNOB,   0, 0,         NULL },
    { "needs",                 S_SIZE,   S_HOST_PLACE,  1, INT64_MAX, NULL },
    { "priority",              S_INT,    S_HOST_PLACE,  -1000, 1000,  NULL },
    { "pinned",                S_BOOL,   S_HOST_PLACE,  0, 0,         NULL },
    { NULL, 0, 0, 0, 0, NULL }
};

//  Other names an option goes by (the original BootSpec's among them)
static const char *s_aliases [][2] = {
    { "args", "extra_args" },
    { "binary_path", "binary" },
    { "model", "model_path" },
    { "environment", "env" },
    { NULL, NULL }
};

//  The backend's state, read-only after init
typedef struct {
    char *binary;                   //  default binary, for the manifest
    shic_val_t *defaults;           //  launch map of an unconfigured model
    shic_val_t *models;             //  model name -> launch map
} s_state_t;


//  --------------------------------------------------------------------------
//  Options

static const s_option_t *
s_option_find (const char *name)
{
    for (int i = 0; s_aliases [i][0]; i++)
        if (streq (name, s_aliases [i][0]))
            name = s_aliases [i][1];
    for (const s_option_t *option = s_options; option->name; option++)
        if (streq (name, option->name))
            return option;
    return NULL;
}

//  True when text is non-empty and has no control characters (nor spaces,
//  with no_space)
static bool
s_printable (const char *text, bool no_space)
{
    if (!text || !*text)
        return false;
    for (const unsigned char *c = (const unsigned char *) text; *c; c++)
        if (*c < 0x20 || *c == 0x7f || (no_space && *c == ' '))
            return false;
    return true;
}

static bool
s_host_valid (const char *host)
{
    if (!host || !*host || *host == '-' || strlen (host) > 253)
        return false;
    for (const char *c = host; *c; c++)
        if (!isalnum ((unsigned char) *c) && !strchr (".-_:%", *c))
            return false;
    return true;
}

//  Checks value against option; 0, or -1 with err invalid_backend_options
static int
s_option_check (const s_option_t *option, const shic_val_t *value, const char *field,
                shic_error_t *err)
{
    shic_val_type_t type = shic_val_type (value);
    const char *text = shic_val_str (value);
    switch (option->kind) {
        case S_INT:
        case S_LAYERS:
            if (type == SHIC_VAL_INT) {
                int64_t number = shic_val_int (value);
                if (number >= option->min && number <= option->max)
                    return 0;
                shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, field,
                                      "%s must be between %lld and %lld", field,
                                      (long long) option->min, (long long) option->max);
                return -1;
            }
            if (option->kind == S_LAYERS && text && (streq (text, "auto") || streq (text, "all")))
                return 0;
            shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, field,
                                  option->kind == S_LAYERS
                                  ? "%s must be an integer, \"auto\" or \"all\""
                                  : "%s must be an integer", field);
            return -1;
        case S_BOOL:
            if (type == SHIC_VAL_BOOL)
                return 0;
            shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, field,
                                  "%s must be true or false", field);
            return -1;
        case S_FLASH:
            if (type == SHIC_VAL_BOOL
            || (text && (streq (text, "on") || streq (text, "off") || streq (text, "auto"))))
                return 0;
            shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, field,
                                  "%s must be a bool, \"on\", \"off\" or \"auto\"", field);
            return -1;
        case S_STR:
            if (s_printable (text, false) && strlen (text) <= 4096)
                return 0;
            shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, field,
                                  "%s must be a non-empty string", field);
            return -1;
        case S_HOST:
            if (s_host_valid (text))
                return 0;
            shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, field,
                                  "%s must be a host name or IP address (no unix sockets)",
                                  field);
            return -1;
        case S_KEY:
            if (s_printable (text, true))
                return 0;
            shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, field,
                                  "%s must be a non-empty string of printable characters",
                                  field);
            return -1;
        case S_LIST:
            if (type == SHIC_VAL_ARRAY) {
                size_t i;
                for (i = 0; i < shic_val_size (value); i++)
                    if (!shic_val_str (shic_val_at (value, i)))
                        break;
                if (i == shic_val_size (value))
                    return 0;
            }
            shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, field,
                                  "%s must be a list of strings", field);
            return -1;
        case S_ENV:
            if (type == SHIC_VAL_MAP) {
                size_t i;
                for (i = 0; i < shic_val_size (value); i++) {
                    const char *name = shic_val_key_at (value, i);
                    if (!*name || strchr (name, '=') || !shic_val_str (shic_val_at (value, i)))
                        break;
                }
                if (i == shic_val_size (value))
                    return 0;
            }
            shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, field,
                                  "%s must be a map of strings", field);
            return -1;
        case S_SIZE:
            if ((type == SHIC_VAL_INT && shic_val_int (value) >= option->min)
            ||  (s_printable (text, false) && strlen (text) <= 32 && isdigit ((unsigned char) *text)))
                return 0;
            shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, field,
                                  "%s must be a size: bytes, or a number with a unit (\"6GiB\")",
                                  field);
            return -1;
        case S_POOL:
            if (text && *text && strlen (text) <= 32) {
                const char *c = text;
                while (isalnum ((unsigned char) *c) || *c == '_')
                    c++;
                if (!*c)
                    return 0;
            }
            shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, field,
                                  "%s must name a memory pool (\"gpu0\", \"ram\")", field);
            return -1;
    }
    return -1;
}

//  Takes the options of map src into launch (launch options) and timings,
//  checking each. prefix names the map in error fields ("" or "boot_spec.").
static int
s_options_take (const shic_val_t *src, const char *prefix, bool trusted,
                shic_val_t *launch, shic_val_t *timings, shic_error_t *err)
{
    for (size_t i = 0; i < shic_val_size (src); i++) {
        const char *key = shic_val_key_at (src, i);
        const shic_val_t *value = shic_val_at (src, i);
        if (streq (key, "model_identity") || (!*prefix && streq (key, "boot_spec")))
            continue;               //  read by the caller
        char field [128];
        snprintf (field, sizeof (field), "%s%s", prefix, key);
        const s_option_t *option = s_option_find (key);
        if (!option) {
            shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, field,
                                  S_BACKEND " has no option '%s'", field);
            return -1;
        }
        if (!trusted && (option->class_ == S_HOST_KNOB || option->class_ == S_HOST_TIMING
                     ||  option->class_ == S_HOST_PLACE)) {
            shic_error_set_field (err, SHIC_E_FORBIDDEN, field,
                                  "%s may only be set by the embedding host", field);
            return -1;
        }
        if (shic_val_type (value) == SHIC_VAL_NIL)
            continue;               //  nil = not given
        if (s_option_check (option, value, field, err))
            return -1;
        bool timing = option->class_ == S_HOST_TIMING;
        shic_val_set_dup (timing? timings: launch, option->name, value);
    }
    return 0;
}


//  --------------------------------------------------------------------------
//  Configuration

//  Appends the words of text to array list
static void
s_words_push (shic_val_t *list, const char *text)
{
    char *copy = strdup (text? text: "");
    char *saveptr = NULL;
    for (char *word = strtok_r (copy, " \t", &saveptr); word;
         word = strtok_r (NULL, " \t", &saveptr)) {
        shic_val_t *item = shic_val_new_str (word);
        shic_val_push (list, &item);
    }
    free (copy);
}

//  The typed value of a configuration item for option; fresh
static shic_val_t *
s_config_value (const s_option_t *option, zconfig_t *item)
{
    const char *text = zconfig_value (item);
    if (!text)
        text = "";
    if (option->kind == S_LIST) {
        shic_val_t *list = shic_val_new_array ();
        s_words_push (list, text);
        for (zconfig_t *child = zconfig_child (item); child; child = zconfig_next (child))
            s_words_push (list, zconfig_value (child));
        return list;
    }
    if (option->kind == S_ENV) {
        shic_val_t *env = shic_val_new_map ();
        for (zconfig_t *child = zconfig_child (item); child; child = zconfig_next (child)) {
            const char *value = zconfig_value (child);
            shic_val_set_str (env, zconfig_name (child), value? value: "");
        }
        return env;
    }
    if (option->kind == S_INT || option->kind == S_LAYERS) {
        char *end = NULL;
        errno = 0;
        long long number = strtoll (text, &end, 10);
        if (*text && end && *end == 0 && errno == 0)
            return shic_val_new_int (number);
    }
    if (option->kind == S_BOOL || option->kind == S_FLASH) {
        if (streq (text, "true") || streq (text, "yes") || streq (text, "1"))
            return shic_val_new_bool (true);
        if (streq (text, "false") || streq (text, "no") || streq (text, "0"))
            return shic_val_new_bool (false);
    }
    return shic_val_new_str (text);
}

//  Reads one configuration item into launch (merging extra_args and env
//  when merge is set); 0 or -1 with err set
static int
s_config_take (zconfig_t *item, const char *section, bool merge, shic_val_t *launch,
               shic_error_t *err)
{
    const char *name = zconfig_name (item);
    char field [256];
    snprintf (field, sizeof (field), "%s%s", section, name);
    const s_option_t *option = s_option_find (name);
    if (!option || streq (option->name, "port")
    || (streq (option->name, "model_path") && !*section)) {
        shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, field,
                              S_BACKEND ": unknown configuration key '%s'", field);
        return -1;
    }
    shic_val_t *value = s_config_value (option, item);
    if (s_option_check (option, value, field, err)) {
        shic_val_destroy (&value);
        return -1;
    }
    if (option->class_ == S_HOST_TIMING)
        shic_val_destroy (&value);  //  the kernel applies these itself
    else
    if (merge && option->kind == S_LIST) {
        shic_val_t *list = shic_val_get (launch, option->name);
        for (size_t i = 0; i < shic_val_size (value); i++) {
            shic_val_t *word = shic_val_dup (shic_val_at (value, i));
            shic_val_push (list, &word);
        }
        shic_val_destroy (&value);
    }
    else
    if (merge && option->kind == S_ENV) {
        shic_val_t *env = shic_val_get (launch, option->name);
        for (size_t i = 0; i < shic_val_size (value); i++)
            shic_val_set_dup (env, shic_val_key_at (value, i), shic_val_at (value, i));
        shic_val_destroy (&value);
    }
    else
        shic_val_set (launch, option->name, &value);
    return 0;
}

static void
s_state_destroy (s_state_t **self_p)
{
    if (*self_p) {
        s_state_t *self = *self_p;
        free (self->binary);
        shic_val_destroy (&self->defaults);
        shic_val_destroy (&self->models);
        free (self);
        *self_p = NULL;
    }
}

static int
s_init (zconfig_t *config, void **state_p, shic_error_t *err)
{
    s_state_t *self = (s_state_t *) zmalloc (sizeof (s_state_t));
    self->defaults = shic_val_new_map ();
    self->models = shic_val_new_map ();
    shic_val_set_str (self->defaults, "binary", "llama-server");
    shic_val_set_str (self->defaults, "host", "127.0.0.1");
    shic_val_set (self->defaults, "launcher_args", &(shic_val_t *) { shic_val_new_array () });
    shic_val_set (self->defaults, "extra_args", &(shic_val_t *) { shic_val_new_array () });
    shic_val_set (self->defaults, "env", &(shic_val_t *) { shic_val_new_map () });

    zconfig_t *models = NULL;
    for (zconfig_t *item = config? zconfig_child (config): NULL; item; item = zconfig_next (item)) {
        const char *name = zconfig_name (item);
        if (streq (name, "models"))
            models = item;
        else
        if (streq (name, "type"))
            continue;               //  "type = llama_cpp", read by shic_backends
        else
        if (streq (name, "port_range")) {
            shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, "port_range",
                                  S_BACKEND ": port_range is not supported yet; ports are "
                                  "chosen by llama-server (--port 0) and kept across restarts");
            goto error;
        }
        else
        if (s_config_take (item, "", false, self->defaults, err))
            goto error;
    }
    for (zconfig_t *item = models? zconfig_child (models): NULL; item; item = zconfig_next (item)) {
        const char *name = zconfig_name (item);
        char section [160];
        snprintf (section, sizeof (section), "models/%s/", name);
        shic_val_t *launch = shic_val_dup (self->defaults);
        const char *path = zconfig_value (item);
        if (path && *path)
            shic_val_set_str (launch, "model_path", path);
        for (zconfig_t *child = zconfig_child (item); child; child = zconfig_next (child)) {
            if (streq (zconfig_name (child), "path")) {
                path = zconfig_value (child);
                if (path && *path)
                    shic_val_set_str (launch, "model_path", path);
            }
            else
            if (s_config_take (child, section, true, launch, err)) {
                shic_val_destroy (&launch);
                goto error;
            }
        }
        if (!shic_val_get (launch, "model_path")) {
            shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, name,
                                  S_BACKEND ": model '%s' has no path", name);
            shic_val_destroy (&launch);
            goto error;
        }
        shic_val_set (self->models, name, &launch);
    }
    self->binary = strdup (shic_val_str (shic_val_get (self->defaults, "binary")));
    *state_p = self;
    return 0;
error:
    s_state_destroy (&self);
    return -1;
}

static void
s_destroy (void **state_p)
{
    s_state_destroy ((s_state_t **) state_p);
}


//  --------------------------------------------------------------------------
//  Manifest

static shic_val_t *
s_manifest (void *state)
{
    s_state_t *self = (s_state_t *) state;
    shic_val_t *manifest = shic_backend_manifest_new (S_BACKEND, SHIC_STARTUP_SPAWNED,
                                                      SHIC_MODE_JIDO_MANAGED);
    shic_val_t *caps = shic_val_new_map ();
    shic_val_set_bool (caps, "streaming?", true);
    shic_val_set_str (caps, "tool_calling?", SHIC_CAP_UNKNOWN);
    shic_val_set_bool (caps, "embeddings?", false);
    shic_val_set (manifest, "capabilities", &caps);
    shic_val_t *metadata = shic_val_new_map ();
    shic_val_set_str (metadata, "binary", self && self->binary? self->binary: "llama-server");
    shic_val_set (manifest, "metadata", &metadata);
    return manifest;
}


//  --------------------------------------------------------------------------
//  Startup plan

static void
s_push_str (shic_val_t *array, const char *text)
{
    shic_val_t *item = shic_val_new_str (text);
    shic_val_push (array, &item);
}

static void
s_push_list (shic_val_t *array, const shic_val_t *list)
{
    for (size_t i = 0; i < shic_val_size (list); i++)
        s_push_str (array, shic_val_str (shic_val_at (list, i)));
}

//  The command line of a launch map
static shic_val_t *
s_argv (const shic_val_t *launch)
{
    shic_val_t *argv = shic_val_new_array ();
    s_push_list (argv, shic_val_get (launch, "launcher_args"));
    s_push_str (argv, shic_val_str (shic_val_get (launch, "binary")));
    s_push_str (argv, "-m");
    s_push_str (argv, shic_val_str (shic_val_get (launch, "model_path")));
    s_push_str (argv, "-a");
    s_push_str (argv, shic_val_str (shic_val_get (launch, "alias")));
    s_push_str (argv, "--host");
    s_push_str (argv, shic_val_str (shic_val_get (launch, "host")));
    s_push_str (argv, "--port");
    int64_t port = shic_val_int (shic_val_get (launch, "port"));
    shic_val_t *item = port > 0? shic_val_new_printf ("%lld", (long long) port)
                               : shic_val_new_str ("${PORT}");
    shic_val_push (argv, &item);
    for (const s_option_t *option = s_options; option->name; option++) {
        const shic_val_t *value = shic_val_get (launch, option->name);
        if (!option->flag || !value)
            continue;
        if (shic_val_type (value) == SHIC_VAL_BOOL) {
            //  A bare flag; false leaves the server's default
            if (shic_val_bool (value))
                s_push_str (argv, option->flag);
            continue;
        }
        s_push_str (argv, option->flag);
        item = shic_val_type (value) == SHIC_VAL_INT
             ? shic_val_new_printf ("%lld", (long long) shic_val_int (value))
             : shic_val_new_str (shic_val_str (value));
        shic_val_push (argv, &item);
    }
    //  The device: a GPU pool "gpuN" is CUDA device N, the "ram" pool none
    const char *pool = shic_val_str (shic_val_get (launch, "device"));
    if (pool) {
        s_push_str (argv, "-dev");
        if (strncmp (pool, "gpu", 3) == 0 && isdigit ((unsigned char) pool [3]))
            item = shic_val_new_printf ("CUDA%s", pool + 3);
        else
            item = shic_val_new_str (streq (pool, "ram")? "none": pool);
        shic_val_push (argv, &item);
    }
    //  A key file keeps the key out of the server's command line
    const char *api_key_file = shic_val_str (shic_val_get (launch, "api_key_file"));
    const char *api_key = shic_val_str (shic_val_get (launch, "api_key"));
    if (api_key_file) {
        s_push_str (argv, "--api-key-file");
        s_push_str (argv, api_key_file);
    }
    else
    if (api_key) {
        s_push_str (argv, "--api-key");
        s_push_str (argv, api_key);
    }
    s_push_list (argv, shic_val_get (launch, "extra_args"));
    return argv;
}

//  The instance identity of a launch map: all of it, the API key replaced
//  by its SHA-256
static shic_val_t *
s_identity (const char *model, const shic_val_t *launch)
{
    shic_val_t *identity = shic_val_dup (launch);
    shic_val_set_str (identity, "model", model);
    //  Placement does not change the process
    for (const s_option_t *option = s_options; option->name; option++)
        if (option->class_ == S_HOST_PLACE)
            shic_val_remove (identity, option->name);
    const char *api_key = shic_val_str (shic_val_get (launch, "api_key"));
    if (api_key) {
        uint8_t digest [32];
        shic_sha256 (api_key, strlen (api_key), digest);
        char hex [65];
        for (int i = 0; i < 32; i++)
            snprintf (hex + 2 * i, 3, "%02x", digest [i]);
        shic_val_remove (identity, "api_key");
        shic_val_set_str (identity, "api_key_sha256", hex);
    }
    return identity;
}

//  "a, b, c" of the configured model names; fresh
static char *
s_model_names (s_state_t *self)
{
    size_t size = 1;
    for (size_t i = 0; i < shic_val_size (self->models); i++)
        size += strlen (shic_val_key_at (self->models, i)) + 2;
    char *names = (char *) zmalloc (size + 8);
    for (size_t i = 0; i < shic_val_size (self->models); i++) {
        if (i)
            strcat (names, ", ");
        strcat (names, shic_val_key_at (self->models, i));
    }
    if (!*names)
        strcpy (names, "none");
    return names;
}

//  The base name of path without its last extension; fresh
static char *
s_basename (const char *path)
{
    const char *slash = strrchr (path, '/');
    char *name = strdup (slash? slash + 1: path);
    char *dot = strrchr (name, '.');
    if (dot && dot != name)
        *dot = 0;
    if (!*name) {
        free (name);
        name = strdup ("model");
    }
    return name;
}

//  The key in the first line of an api_key_file (llama-server takes every
//  line as a key; the endpoint carries the first);
//  fresh, or NULL with err set
static char *
s_key_file_read (const char *path, shic_error_t *err)
{
    FILE *file = fopen (path, "r");
    if (!file) {
        shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, "api_key_file",
                              "cannot read api_key_file %s: %s", path, strerror (errno));
        return NULL;
    }
    char line [1024] = "";
    if (!fgets (line, sizeof (line), file))
        line [0] = 0;
    fclose (file);
    line [strcspn (line, "\r\n")] = 0;
    if (!s_printable (line, true)) {
        shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, "api_key_file",
                              "the first line of api_key_file %s must be a key of printable "
                              "characters without spaces", path);
        return NULL;
    }
    return strdup (line);
}

//  What placement needs to know is rendered explicitly, so that the
//  footprint the kernel reserves is the one the server allocates: the
//  memory pool (device), -c, -np and -ngl. A model with no device lives in
//  "ram" unless it offloads layers (then "gpu0"); the context defaults to
//  llama-server's own 4096, one slot, and all layers on a GPU, none in ram.
static void
s_placement_defaults (shic_val_t *launch)
{
    const shic_val_t *layers = shic_val_get (launch, "gpu_layers");
    if (!shic_val_get (launch, "device")) {
        bool offload = layers && !(shic_val_type (layers) == SHIC_VAL_INT
                                   && shic_val_int (layers) == 0);
        shic_val_set_str (launch, "device", offload? "gpu0": "ram");
    }
    bool ram = streq (shic_val_str (shic_val_get (launch, "device")), "ram");
    if (!shic_val_get (launch, "ctx_size"))
        shic_val_set_int (launch, "ctx_size", 4096);
    if (!shic_val_get (launch, "parallel"))
        shic_val_set_int (launch, "parallel", 1);
    if (!layers) {
        if (ram)
            shic_val_set_int (launch, "gpu_layers", 0);
        else
            shic_val_set_str (launch, "gpu_layers", "all");
    }
}

//  The plan's resources: what the kernel's placement reads to reserve
//  memory (the pool, the model file and the settings the footprint
//  depends on, and a declared need, priority or pin)
static shic_val_t *
s_resources (const shic_val_t *launch)
{
    shic_val_t *resources = shic_val_new_map ();
    shic_val_set_dup (resources, "pool", shic_val_get (launch, "device"));
    shic_val_set_dup (resources, "model_path", shic_val_get (launch, "model_path"));
    const char *keys [] = { "ctx_size", "parallel", "gpu_layers", "flash_attn",
                            "needs", "priority", "pinned", NULL };
    for (int i = 0; keys [i]; i++)
        if (shic_val_get (launch, keys [i]))
            shic_val_set_dup (resources, keys [i], shic_val_get (launch, keys [i]));
    return resources;
}

static shic_val_t *
s_startup_plan (void *state, const shic_val_t *spec, bool trusted, shic_error_t *err)
{
    s_state_t *self = (s_state_t *) state;
    const shic_val_t *options = shic_val_get (spec, "backend_options");
    const shic_val_t *boot = shic_val_get (options, "boot_spec");
    if (shic_val_type (boot) == SHIC_VAL_NIL)
        boot = NULL;
    if (boot && shic_val_type (boot) != SHIC_VAL_MAP) {
        shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, "boot_spec",
                              "boot_spec must be a map");
        return NULL;
    }
    const shic_val_t *name_val = shic_val_get (options, "model_identity");
    if (shic_val_type (name_val) == SHIC_VAL_NIL)
        name_val = shic_val_get (boot, "model_identity");
    if (shic_val_type (name_val) != SHIC_VAL_NIL && !s_printable (shic_val_str (name_val), false)) {
        shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, "model_identity",
                              "model_identity must be a non-empty string");
        return NULL;
    }
    shic_val_t *given = shic_val_new_map ();
    shic_val_t *timings = shic_val_new_map ();
    shic_val_t *launch = NULL;
    shic_val_t *plan = NULL;
    char *model = NULL;
    if (s_options_take (options, "", trusted, given, timings, err)
    ||  s_options_take (boot, "boot_spec.", trusted, given, timings, err))
        goto done;

    const char *name = shic_val_str (name_val);
    const shic_val_t *configured = name? shic_val_get (self->models, name): NULL;
    if (!configured && !shic_val_get (given, "model_path")) {
        char *names = s_model_names (self);
        if (name)
            shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, "model_identity",
                                  S_BACKEND " has no model '%s' (configured: %s)", name, names);
        else
            shic_error_set_field (err, SHIC_E_INVALID_BACKEND_OPTIONS, "model_identity",
                                  S_BACKEND " needs a model_identity (configured: %s)", names);
        free (names);
        goto done;
    }
    launch = shic_val_dup (configured? configured: self->defaults);
    for (size_t i = 0; i < shic_val_size (given); i++)
        shic_val_set_dup (launch, shic_val_key_at (given, i), shic_val_at (given, i));
    model = name? strdup (name): s_basename (shic_val_str (shic_val_get (launch, "model_path")));
    if (!shic_val_get (launch, "alias"))
        shic_val_set_str (launch, "alias", model);
    //  The key of a key file stands for api_key below (headers, identity);
    //  only the file's path reaches argv
    const char *api_key_file = shic_val_str (shic_val_get (launch, "api_key_file"));
    if (api_key_file) {
        char *file_key = s_key_file_read (api_key_file, err);
        if (!file_key)
            goto done;
        shic_val_set_str (launch, "api_key", file_key);
        free (file_key);
    }
    const char *alias = shic_val_str (shic_val_get (launch, "alias"));
    const char *api_key = shic_val_str (shic_val_get (launch, "api_key"));
    s_placement_defaults (launch);

    plan = shic_val_new_map ();
    shic_val_t *identity = s_identity (model, launch);
    char *key = shic_instance_key (S_BACKEND, model, identity);
    shic_val_destroy (&identity);
    shic_val_set_str (plan, "instance_key", key);
    free (key);
    shic_val_set_str (plan, "backend", S_BACKEND);
    shic_val_set_str (plan, "startup_kind", SHIC_STARTUP_SPAWNED);
    shic_val_set_str (plan, "management_mode", SHIC_MODE_JIDO_MANAGED);

    shic_val_t *transport = shic_val_new_map ();
    shic_val_set (transport, "argv", &(shic_val_t *) { s_argv (launch) });
    shic_val_set_dup (transport, "env", shic_val_get (launch, "env"));
    shic_val_set_str (transport, "ready_pattern", S_READY_LINE);
    //  So that the kernel judges the surface the client asked for
    const shic_val_t *surface = shic_val_get (spec, "execution_surface");
    if (shic_val_type (surface) != SHIC_VAL_NIL)
        shic_val_set_dup (transport, "execution_surface", surface);
    shic_val_set (plan, "transport", &transport);
    for (size_t i = 0; i < shic_val_size (timings); i++)
        shic_val_set_dup (plan, shic_val_key_at (timings, i), shic_val_at (timings, i));

    shic_val_t *template_ = shic_val_new_map ();
    shic_val_set_str (template_, "model_identity", alias);
    shic_val_set_str (template_, "provider_identity", S_BACKEND);
    shic_val_set_str (template_, "source_runtime", S_BACKEND);
    shic_val_t *headers = shic_val_new_map ();
    if (api_key)
        shic_val_set (headers, "authorization",
                      &(shic_val_t *) { shic_val_new_printf ("Bearer %s", api_key) });
    shic_val_set (template_, "headers", &headers);
    shic_val_t *caps = shic_val_new_map ();
    shic_val_set_bool (caps, "streaming?", true);
    shic_val_set_str (caps, "tool_calling?", SHIC_CAP_UNKNOWN);
    shic_val_set_bool (caps, "embeddings?", shic_val_bool (shic_val_get (launch, "embeddings")));
    shic_val_set (template_, "capabilities", &caps);
    shic_val_set (plan, "endpoint_template", &template_);

    shic_val_set (plan, "resources", &(shic_val_t *) { s_resources (launch) });

    shic_val_t *metadata = shic_val_new_map ();
    shic_val_set_str (metadata, "model", model);
    shic_val_set_dup (metadata, "model_path", shic_val_get (launch, "model_path"));
    shic_val_set_dup (metadata, "host", shic_val_get (launch, "host"));
    shic_val_set (plan, "metadata", &metadata);
done:
    free (model);
    shic_val_destroy (&launch);
    shic_val_destroy (&given);
    shic_val_destroy (&timings);
    return plan;
}


//  --------------------------------------------------------------------------
//  Output, readiness and health

//  The port is learned once, before ready, from the server's own bound or
//  ready line, and kept across restarts: nothing the server logs later (it
//  logs request paths, which its HTTP clients choose) can move the
//  endpoint. A known port is never replaced.
static int
s_on_output_line (shic_instance_ctx_t *ctx, int stream, const char *line)
{
    (void) stream;
    bool own = strncmp (line, S_MAIN_PREFIX, strlen (S_MAIN_PREFIX)) == 0;
    const char *text = line + (own? strlen (S_MAIN_PREFIX): 0);
    if (own && strncmp (text, S_BOUND_LINE, strlen (S_BOUND_LINE)) == 0) {
        //  Bound, still loading: the port, and a probe at once. It sees 503
        //  (loading), and the probe after the ready line reuses the
        //  connection it opened, also after a restart on a known port
        if (ctx->port <= 0) {
            const char *port = strstr (text, ", port: ");
            int number = port? atoi (port + 8): 0;
            if (number > 0 && number < 65536)
                ctx->port = number;
        }
        return ctx->port > 0;
    }
    const char *ready = strstr (line, S_READY_LINE);
    if (ready) {
        //  "main: server is listening on http://HOST:PORT - starting the
        //  main loop"; any line with the words asks for a probe, which
        //  checks the known port and nothing else
        if (ctx->port <= 0 && own && ready == text) {
            const char *start = ready + strlen (S_READY_LINE);
            const char *end = strchr (start, ' ');
            if (!end)
                end = start + strlen (start);
            const char *colon = NULL;
            for (const char *c = start; c < end; c++)
                if (*c == ':')
                    colon = c;
            int number = colon? atoi (colon + 1): 0;
            if (number > 0 && number < 65536)
                ctx->port = number;
        }
        return 1;
    }
    if (strstr (line, S_BIND_FAILED))
        zsys_warning (S_BACKEND ": %s: %s", ctx->instance_id, line);
    return 0;
}

//  "http://host:port" of the instance into url; false while the port is
//  unknown
static bool
s_root_url (shic_instance_ctx_t *ctx, char *url, size_t size)
{
    if (ctx->port <= 0)
        return false;
    const char *host = shic_val_str (shic_val_path (ctx->plan, "metadata/host"));
    if (!host || !*host || streq (host, "0.0.0.0"))
        host = "127.0.0.1";
    else
    if (streq (host, "::"))
        host = "::1";
    if (strchr (host, ':'))
        snprintf (url, size, "http://[%s]:%d", host, ctx->port);
    else
        snprintf (url, size, "http://%s:%d", host, ctx->port);
    return true;
}

//  GET root/health within timeout_ms; the HTTP status or 0
static long
s_get_health (const char *root, int timeout_ms)
{
    char url [400];
    snprintf (url, sizeof (url), "%s/health", root);
    shic_http_result_t result = { 0 };
    shic_http_request ("GET", url, NULL, NULL, timeout_ms, &result);
    long status = result.status;
    shic_http_result_reset (&result);
    return status;
}

static int
s_probe_readiness (shic_instance_ctx_t *ctx, shic_val_t **fields_p, shic_error_t *err)
{
    (void) err;
    char root [300];
    if (!s_root_url (ctx, root, sizeof (root)))
        return SHIC_PROBE_PENDING;
    int64_t interval = shic_val_int (shic_val_get (ctx->plan, "readiness_interval_ms"));
    int timeout = interval > 0 && interval < 500? (int) interval: 500;
    if (timeout < 100)
        timeout = 100;
    long status = s_get_health (root, timeout);
    *fields_p = shic_val_new_map ();
    if (status == 200) {
        shic_val_set (*fields_p, "base_url", &(shic_val_t *) { shic_val_new_printf ("%s/v1", root) });
        shic_val_set (*fields_p, "health_ref",
                      &(shic_val_t *) { shic_val_new_printf ("%s/health", root) });
        shic_val_set_str (*fields_p, "source_runtime_ref", root);
        return SHIC_PROBE_READY;
    }
    if (status == 0)
        shic_val_set_bool (*fields_p, "reachable", false);
    else {
        shic_val_set_int (*fields_p, "http_status", status);
        if (status == 503)
            shic_val_set_str (*fields_p, "message", "loading model");
    }
    return SHIC_PROBE_PENDING;
}

static int
s_health_check (shic_instance_ctx_t *ctx, shic_val_t **details_p)
{
    char root [300];
    long status = s_root_url (ctx, root, sizeof (root))? s_get_health (root, 500): 0;
    *details_p = shic_val_new_map ();
    shic_val_set_int (*details_p, "http_status", status);
    return status == 200? SHIC_HEALTH_IS_HEALTHY:
           status == 503? SHIC_HEALTH_IS_DEGRADED: SHIC_HEALTH_IS_UNAVAILABLE;
}

//  The configured models: name, GGUF path and its size on disk
static shic_val_t *
s_models (void *state)
{
    s_state_t *self = (s_state_t *) state;
    shic_val_t *list = shic_val_new_array ();
    for (size_t i = 0; i < shic_val_size (self->models); i++) {
        const char *path = shic_val_str (shic_val_get (shic_val_at (self->models, i), "model_path"));
        shic_val_t *model = shic_val_new_map ();
        shic_val_set_str (model, "name", shic_val_key_at (self->models, i));
        shic_val_set_str (model, "source", path);
        struct stat info;
        if (path && stat (path, &info) == 0)
            shic_val_set_int (model, "size_bytes", (int64_t) info.st_size);
        else
            shic_val_set_nil (model, "size_bytes");
        shic_val_push (list, &model);
    }
    return list;
}

const shic_backend_ops_t shic_llama_cpp_ops = {
    .name = S_BACKEND,
    .init = s_init,
    .destroy = s_destroy,
    .manifest = s_manifest,
    .startup_plan = s_startup_plan,
    .probe_readiness = s_probe_readiness,
    .health_check = s_health_check,
    .on_output_line = s_on_output_line,
    .models = s_models,
};
