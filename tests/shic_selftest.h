/*  =========================================================================
    shic_selftest - the self tests of the public classes

    Test-only prototypes stay out of the installed headers: these functions
    are in libshic.a (or, for the runtime and the client, in
    tests/shic_kernel_test.c) and libshic.so does not export them. The
    private classes keep theirs in their own headers.
    =========================================================================
*/

#ifndef SHIC_SELFTEST_H_INCLUDED
#define SHIC_SELFTEST_H_INCLUDED

#include <stdbool.h>

void shic_val_test (bool verbose);
void shic_error_test (bool verbose);
void shic_json_test (bool verbose);
//  The HTTP face (tests/shic_http_face_test.c)
void shic_http_face_test (bool verbose);
void shic_wire_test (bool verbose);
void shic_http_test (bool verbose);
void shic_backends_test (bool verbose);
void shic_client_test (bool verbose);
void shic_runtime_test (bool verbose);

#endif
