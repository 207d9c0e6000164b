/*  =========================================================================
    shicd_check - shicd --check: what a configuration needs, checked
    before it is run
    =========================================================================
*/

#ifndef SHICD_CHECK_H_INCLUDED
#define SHICD_CHECK_H_INCLUDED

#include "shic.h"

//  Checks the backends of config, whose keys the backends have accepted
//  already: llama_cpp's binary runs with --version and its models are
//  GGUF files; a command backend's program exists and may be run. Prints
//  one line per check on stdout (problems on stderr, naming the key).
//  Returns the number of problems.
int shicd_check (zconfig_t *config, const char *config_file);

#endif
