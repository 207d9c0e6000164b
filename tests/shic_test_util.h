/*  =========================================================================
    shic_test_util - helpers the scenario tests share
    =========================================================================
*/

#ifndef SHIC_TEST_UTIL_H_INCLUDED
#define SHIC_TEST_UTIL_H_INCLUDED

#include "shic.h"

//  Waits for an event with topic on sub (a SUB socket on the events
//  endpoint); returns its body (fresh) or NULL when none came in time
shic_val_t *shic_test_wait_event (zsock_t *sub, const char *topic, int timeout_ms);
//  The same, for an event whose instance_id and health_status are the
//  ones given (NULL: any)
shic_val_t *shic_test_wait_event_for (zsock_t *sub, const char *topic,
                                      const char *instance_id, const char *health,
                                      int timeout_ms);

//  Asserts that the client's last call failed with code (result is what
//  the call returned: it must be NULL)
void shic_test_expect_error (shic_client_t *client, shic_val_t *result, const char *code);
//  The running test cannot run here (what it needs is missing): says so;
//  shic_selftest then exits SHIC_TEST_SKIPPED, which ctest reports as
//  skipped, never as passed
#define SHIC_TEST_SKIPPED 77
void shic_test_skip (const char *test, const char *why);
bool shic_test_skipped (void);

//  Asserts that the client's last call (what names it) returned result,
//  printing its error with the details when it did not
void shic_test_expect_ok (shic_client_t *client, const shic_val_t *result, const char *what);

//  The string at path in val (borrowed), "" when there is none
const char *shic_test_str (const shic_val_t *val, const char *path);

#endif
