/*  =========================================================================
    shic_test_backends - backends of this repository's own, for tests

    test_spawned   spawns tests/shic_stand_in (a stand-in llama-server) with
                   its failure modes as backend options
    test_attached  attaches to any server with GET /health at root_url
    test_liar      builds untruthful plans on request (truthfulness tests);
                   its configuration chooses its name and declared kind
    =========================================================================
*/

#ifndef SHIC_TEST_BACKENDS_H_INCLUDED
#define SHIC_TEST_BACKENDS_H_INCLUDED

#include "shic.h"

extern const shic_backend_ops_t shic_test_spawned_ops;
extern const shic_backend_ops_t shic_test_attached_ops;
extern const shic_backend_ops_t shic_test_liar_ops;      //  named "test_liar"
extern const shic_backend_ops_t shic_test_liar_nil_ops;  //  named "test_liar_nil"

//  Path of the stand-in binary (built beside the tests)
const char *shic_test_stand_in (void);

#endif
