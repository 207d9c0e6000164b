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

//  A real etcd for a test (tests/etcd_lib.sh is the same for the shell
//  tests): one member on free loopback ports, in a fresh temporary dir,
//  with the flags that make a lease of 2 s workable, under timeout(1), and
//  told to stop if the test process dies (PR_SET_PDEATHSIG)
typedef struct {
    int pid;                        //  the process (timeout running etcd); 0 when stopped
    char dir [128];                 //  its temporary dir: data/ and log
    int client_port;                //  port of url
    int peer_port;                  //  its peer port
    char url [64];                  //  "http://127.0.0.1:<client_port>"
} shic_test_etcd_t;

//  Starts etcd and waits until it answers (20 s): its client URL
//  (etcd->url), or NULL when no etcd is installed (SHIC_ETCD or the PATH):
//  the test then calls shic_test_skip and returns. Asserts (printing the
//  log) when etcd is there but does not come up.
const char *shic_test_etcd_start (shic_test_etcd_t *etcd);
//  Stops it (TERM; KILL after 5 s), keeping its data and ports
void shic_test_etcd_stop (shic_test_etcd_t *etcd);
//  Starts it again on the same data and ports, and waits until it answers
void shic_test_etcd_restart (shic_test_etcd_t *etcd);
//  Stops it and removes its dir
void shic_test_etcd_destroy (shic_test_etcd_t *etcd);

#endif
