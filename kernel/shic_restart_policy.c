/*  =========================================================================
    shic_restart_policy - when the supervisor restarts a crashed service
    =========================================================================
*/

#include <czmq.h>
#include "shic_restart_policy.h"

#define MAX_HISTORY 64

struct _shic_restart_policy_t {
    shic_restart_settings_t settings; //  copy of the settings
    int64_t history [MAX_HISTORY];  //  times of recent restarts, ring
    int history_size;               //  entries used in history
    int history_next;               //  next slot to write
    int64_t backoff_ms;             //  next delay
    int restarts;                   //  restarts since creation
};

void
shic_restart_settings_default (shic_restart_settings_t *settings)
{
    settings->backoff_initial_ms = 250;
    settings->backoff_max_ms = 30000;
    settings->max_restarts = 5;
    settings->restart_window_ms = 60000;
    settings->failed_cooldown_ms = 30000;
    settings->healthy_reset_ms = 60000;
}

shic_restart_policy_t *
shic_restart_policy_new (const shic_restart_settings_t *settings)
{
    shic_restart_policy_t *self = (shic_restart_policy_t *) zmalloc (sizeof (shic_restart_policy_t));
    if (!self)
        return NULL;
    self->settings = *settings;
    self->backoff_ms = settings->backoff_initial_ms;
    return self;
}

void
shic_restart_policy_destroy (shic_restart_policy_t **self_p)
{
    if (self_p && *self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

int64_t
shic_restart_policy_on_exit (shic_restart_policy_t *self, int64_t now_ms,
                             int64_t uptime_ms, int64_t *retry_after_ms)
{
    //  A long healthy run earns a fresh start
    if (uptime_ms >= self->settings.healthy_reset_ms) {
        self->backoff_ms = self->settings.backoff_initial_ms;
        self->history_size = 0;
    }
    //  Count restarts inside the window
    int in_window = 0;
    for (int i = 0; i < self->history_size; i++)
        if (now_ms - self->history [i] < self->settings.restart_window_ms)
            in_window++;
    if (in_window >= self->settings.max_restarts) {
        if (retry_after_ms)
            *retry_after_ms = self->settings.failed_cooldown_ms;
        return -1;
    }
    self->history [self->history_next] = now_ms;
    self->history_next = (self->history_next + 1) % MAX_HISTORY;
    if (self->history_size < MAX_HISTORY)
        self->history_size++;
    self->restarts++;
    int64_t delay = self->backoff_ms;
    self->backoff_ms *= 2;
    if (self->backoff_ms > self->settings.backoff_max_ms)
        self->backoff_ms = self->settings.backoff_max_ms;
    return delay;
}

int
shic_restart_policy_restarts (shic_restart_policy_t *self)
{
    return self->restarts;
}

void
shic_restart_policy_reset (shic_restart_policy_t *self)
{
    self->history_size = 0;
    self->history_next = 0;
    self->backoff_ms = self->settings.backoff_initial_ms;
}

void
shic_restart_policy_test (bool verbose)
{
    (void) verbose;
    printf (" * shic_restart_policy: ");
    shic_restart_settings_t settings;
    shic_restart_settings_default (&settings);
    shic_restart_policy_t *self = shic_restart_policy_new (&settings);
    assert (self);
    int64_t retry = 0;
    //  Backoff doubles: 250, 500, 1000, 2000, 4000, then failed
    assert (shic_restart_policy_on_exit (self, 1000, 10, &retry) == 250);
    assert (shic_restart_policy_on_exit (self, 2000, 10, &retry) == 500);
    assert (shic_restart_policy_on_exit (self, 3000, 10, &retry) == 1000);
    assert (shic_restart_policy_on_exit (self, 4000, 10, &retry) == 2000);
    assert (shic_restart_policy_on_exit (self, 5000, 10, &retry) == 4000);
    assert (shic_restart_policy_on_exit (self, 6000, 10, &retry) == -1);
    assert (retry == 30000);
    assert (shic_restart_policy_restarts (self) == 5);
    //  Outside the window the count starts over, backoff keeps doubling
    assert (shic_restart_policy_on_exit (self, 100000, 10, &retry) == 8000);
    //  Healthy uptime resets the backoff
    assert (shic_restart_policy_on_exit (self, 101000, 60000, &retry) == 250);
    //  Cap
    shic_restart_policy_reset (self);
    settings.max_restarts = 100;
    shic_restart_policy_t *capped = shic_restart_policy_new (&settings);
    int64_t delay = 0;
    for (int i = 0; i < 20; i++)
        delay = shic_restart_policy_on_exit (capped, i * 100000, 10, &retry);
    assert (delay == 30000);
    shic_restart_policy_destroy (&capped);
    shic_restart_policy_destroy (&self);
    shic_restart_policy_destroy (&self);
    assert (self == NULL);
    printf ("OK\n");
}
