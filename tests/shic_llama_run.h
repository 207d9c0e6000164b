/*  =========================================================================
    shic_llama_run - runs a real llama-server once and reads back the
    buffers it reports, for the footprint test and the figure-11 bench
    =========================================================================
*/

#ifndef SHIC_LLAMA_RUN_H_INCLUDED
#define SHIC_LLAMA_RUN_H_INCLUDED

#include "shic_footprint.h"

//  Starts server -m model -c ctx -np parallel --port 0 -t 2, reads its
//  stderr until "model loaded" (or exit, or timeout_ms), adds every buffer
//  line to *measured (zeroed first), then stops the server and reaps it.
//  Returns 0, or -1 when the server could not start, died, or did not
//  load in time.
int shic_llama_run_measure (const char *server, const char *model, int ctx, int parallel,
                            int timeout_ms, shic_footprint_t *measured);

#endif
