/*  =========================================================================
    shic_ollama_names - Ollama's daemon roots and model names

    The normalizations shic_ollama.c defines and shic_ollama_health and
    the tests share. Not installed: private to the ollama backend.
    =========================================================================
*/

#ifndef SHIC_OLLAMA_NAMES_H_INCLUDED
#define SHIC_OLLAMA_NAMES_H_INCLUDED

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Normalizes a daemon root as the reference does: trimmed, "http://"
//  added when there is no scheme, query and fragment dropped, trailing
//  slashes and a final "/v1" removed. from_env applies OLLAMA_HOST's
//  rule that a root with neither scheme nor port gets port 11434.
//  Returns a fresh string, or NULL when text is empty or has no host.
char *shic_ollama_root_normalize (const char *text, bool from_env);

//  The default root: OLLAMA_HOST normalized, else SHIC_OLLAMA_DEFAULT_ROOT.
//  Fresh string.
char *shic_ollama_default_root (void);

//  A model name with its tag: trimmed, ":latest" added when the last path
//  segment has no tag. Fresh string, or NULL when name is empty.
char *shic_ollama_model_normalize (const char *name);

//  True when two model names are the same model (with or without :latest)
bool shic_ollama_model_match (const char *a, const char *b);

#ifdef __cplusplus
}
#endif

#endif
