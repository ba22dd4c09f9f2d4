/*
 * backends.h - where a command's job store, blob store and scratch folder
 * come from, shared by `serve`, `worker` and `admin`: the options (--data,
 * --store, --blobs, --scratch) and opening them. The embedded default keeps
 * everything under the data directory (sqlite:DATA/i2v.db, dir:DATA/outputs,
 * DATA/tmp); with --store and --blobs both given no data directory is made,
 * and renders go to a private scratch folder under $TMPDIR.
 */
#ifndef I2V_CLI_BACKENDS_H
#define I2V_CLI_BACKENDS_H

#include <stddef.h>

#include "blob/blob.h"
#include "common/options.h"
#include "store/store.h"

#define I2V_BACKEND_OPTIONS                                                                        \
    {"data",       0,          I2V_OPT_STRING,                                                     \
     "./i2v-data", 0,          0,                                                                  \
     NULL,         "I2V_DATA", "data directory of the embedded default: i2v.db, outputs/, tmp/"},  \
        {"store",                                                                                  \
         0,                                                                                        \
         I2V_OPT_STRING,                                                                           \
         "",                                                                                       \
         0,                                                                                        \
         0,                                                                                        \
         NULL,                                                                                     \
         "I2V_STORE",                                                                              \
         "job store: sqlite:PATH, postgres://USER@HOST/DB or postgres:CONNINFO (PG* variables "    \
         "honoured) [default: sqlite:DATA/i2v.db]"},                                               \
        {"blobs",                                                                                  \
         0,                                                                                        \
         I2V_OPT_STRING,                                                                           \
         "",                                                                                       \
         0,                                                                                        \
         0,                                                                                        \
         NULL,                                                                                     \
         "I2V_BLOBS",                                                                              \
         "output store: dir:PATH or s3://BUCKET[/PREFIX]?endpoint=URL&region=R&path_style=1 "      \
         "(credentials from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) [default: "                  \
         "dir:DATA/outputs]"},                                                                     \
    {                                                                                              \
        "scratch", 0, I2V_OPT_STRING, "", 0, 0, NULL, "I2V_SCRATCH",                               \
            "folder for renders in progress [default: DATA/tmp, or a private folder in $TMPDIR "   \
            "when --store and --blobs are both given]"                                             \
    }

typedef struct i2v_backends {
    i2v_store *store;
    i2v_blob *blobs;     /* NULL unless asked for */
    char data_dir[1024]; /* "" when no data directory is used */
    char scratch[1100];  /* "" unless asked for */
    int own_scratch;     /* made here: removed by close */
    char store_url[64];  /* for logs: the scheme and no secret */
    char blobs_url[64];
} i2v_backends;

enum { I2V_BACKEND_BLOBS = 1, I2V_BACKEND_SCRATCH = 2 };

/* Opens the store (always) and, as flags ask, the blob store and a scratch
 * folder. On failure writes one line naming what is wrong into msg, closes
 * what was opened and returns a negative i2v_code. */
int i2v__backends_open(i2v_backends *b, const i2v_opts *o, const i2v_store_config *cfg, int flags,
                       char *msg, size_t msglen);
void i2v__backends_close(i2v_backends *b);

#endif
