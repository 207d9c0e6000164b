/*  =========================================================================
    shic_restart_policy - when the supervisor restarts a crashed service

    contract.md §6: restart after a backoff (250 ms doubling to 30 s); more
    than max_restarts within restart_window_ms puts the instance in
    `failed` for failed_cooldown_ms; the backoff resets after
    healthy_reset_ms of healthy uptime. One policy object per instance,
    owned by the supervisor.
    =========================================================================
*/

#ifndef SHIC_RESTART_POLICY_H_INCLUDED
#define SHIC_RESTART_POLICY_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    int64_t backoff_initial_ms;     //  first delay (250)
    int64_t backoff_max_ms;         //  cap of the doubling (30000)
    int max_restarts;               //  restarts allowed in the window (5)
    int64_t restart_window_ms;      //  the window (60000)
    int64_t failed_cooldown_ms;     //  time in `failed` (30000)
    int64_t healthy_reset_ms;       //  healthy uptime that resets backoff (60000)
} shic_restart_settings_t;

typedef struct _shic_restart_policy_t shic_restart_policy_t;

//  Default settings
void shic_restart_settings_default (shic_restart_settings_t *settings);

shic_restart_policy_t *shic_restart_policy_new (const shic_restart_settings_t *settings);
void shic_restart_policy_destroy (shic_restart_policy_t **self_p);

//  An unexpected exit at now_ms, after uptime_ms of the process. Returns the
//  delay before the restart (>= 0), or -1 when the instance must go failed;
//  then *retry_after_ms says for how long.
int64_t shic_restart_policy_on_exit (shic_restart_policy_t *self, int64_t now_ms,
                                     int64_t uptime_ms, int64_t *retry_after_ms);
//  Restarts counted so far (for snapshots)
int shic_restart_policy_restarts (shic_restart_policy_t *self);
//  Forget the history (after the failed cooldown)
void shic_restart_policy_reset (shic_restart_policy_t *self);

void shic_restart_policy_test (bool verbose);

#endif
