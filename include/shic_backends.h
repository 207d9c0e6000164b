/*  =========================================================================
    shic_backends - the backends named in a configuration

    Walks the "backends" section of a configuration and registers one
    backend per child section with a runtime:

        backends
            llama_cpp                   built-in: shic_llama_cpp_ops
                binary = /usr/bin/llama-server
            ollama                      built-in: shic_ollama_ops
            openai_compat               built-in: shic_openai_compat_ops
            vllm                        any name, with a type:
                type = command          command | openai_compat | ollama | llama_cpp
                command = ...
            mine
                plugin = /path/libmine.so   loaded with dlopen; exports
                                            "shic_backend_ops" (a shic_backend_ops_t)

    A section whose name is not a built-in one needs a type or a plugin.
    Each backend is registered under its section's name. The copies of the
    sections and the loaded plugins belong to the shic_backends_t, which
    must outlive the runtime's use of them: destroy it after the runtime.
    =========================================================================
*/

#ifndef SHIC_BACKENDS_H_INCLUDED
#define SHIC_BACKENDS_H_INCLUDED

#include "shic.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _shic_backends_t shic_backends_t;

//  Registers every backend of config's "backends" section with runtime.
//  Returns a fresh shic_backends_t (possibly empty), or NULL with err set
//  (message naming the section and key) when a section is invalid or a
//  registration fails; what was registered before the failure stays.
SHIC_EXPORT shic_backends_t *shic_backends_configure (shic_runtime_t *runtime, zconfig_t *config,
                                                      shic_error_t *err);

//  Number of backends registered (and not unregistered through the table)
SHIC_EXPORT size_t shic_backends_size (shic_backends_t *self);

//  Unregisters backend name, which this table registered (its instances
//  stop, see shic_runtime_unregister). Its section and plugin stay until
//  shic_backends_release finds the runtime done with them. Returns 0, or
//  -1 when this table has no such backend registered.
SHIC_EXPORT int shic_backends_unregister (shic_backends_t *self, shic_runtime_t *runtime,
                                          const char *name);

//  Frees what backends unregistered through the table held (the copy of
//  the section; a plugin is unloaded) once the runtime no longer uses them
//  (shic_runtime_backend_held: their last instance has ended). Returns how
//  many such backends it still waits for; call again later.
SHIC_EXPORT size_t shic_backends_release (shic_backends_t *self, shic_runtime_t *runtime);

//  Frees the sections and unloads plugins; call after shic_runtime_destroy
SHIC_EXPORT void shic_backends_destroy (shic_backends_t **self_p);

#ifdef __cplusplus
}
#endif

#endif
