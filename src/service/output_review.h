/*
 * output_review.h - the operator's review of finished videos (API v1's 9038
 * PROHIBITED_CONTENT), off unless --output-review-command is given.
 *
 * Before a generation succeeds, its worker runs the command on the cover and
 * a few frames sampled from the video (JPEG files, given as arguments after
 * the command's own). The command line is split on spaces (no shell: a
 * shell is `/bin/sh -c 'script "$@"' sh`); it runs in a process group of its
 * own with stdin from /dev/null, stderr discarded and the environment of i2v
 * plus I2V_GENERATION_ID, I2V_TASK_ID and I2V_USER_ID. Exit status 0
 * accepts; any other refuses, and the first line of its standard output
 * (at most 200 characters) is the reason. A command that cannot be
 * started, is killed by a signal or outlives its timeout (its whole process
 * group is killed) has not reviewed anything: the generation fails, refunded,
 * with an internal error -- never published unreviewed.
 */
#ifndef I2V_OUTPUT_REVIEW_H
#define I2V_OUTPUT_REVIEW_H

#include <stddef.h>

#include "service.h"

#define I2V_REVIEW_SAMPLES 3 /* frames at 25, 50 and 75% of the video */
#define I2V_REVIEW_REASON_MAX 200

/* Runs svc->review_cmd on the n files for generation g. 0: accepted; 1:
 * refused, with the reason in reason[I2V_REVIEW_REASON_MAX + 1]; or a
 * negative code with a message (I2V_ECANCELLED when *cancel was raised,
 * I2V_ELIMIT on the timeout, I2V_EINTERNAL when it could not run). */
int i2v__output_review(const i2v_service *svc, const i2v_gen *g, const char *const *files, int n,
                       const volatile int *cancel, char *reason, i2v_error *err);

#endif
