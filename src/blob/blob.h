/*
 * blob.h - the blob store: where finished files (videos, covers) are kept and
 * how they are read back. One small interface, a struct of function pointers
 * appended to only, so backends can be swapped: the embedded default is a
 * local folder (blob_dir.c); an object store can sit beside it. The service
 * reads and writes outputs only through this interface.
 *
 * Contract shared by every backend (tests/unit/blob/blob_contract.c):
 * - A name is 1..I2V_BLOB_NAME_MAX characters of [A-Za-z0-9._-], not starting
 *   with '.'; anything else is I2V_EINVAL before the backend is touched.
 * - put_file stores a finished local file under a name, atomically: a reader
 *   sees the whole new file or none of it. On success the local file is gone
 *   (moved, or copied and removed); on failure it is left to the caller.
 * - stat and open of a missing name are I2V_ENOTFOUND; open reads exactly the
 *   byte range asked (which must lie within the blob: I2V_EINVAL otherwise).
 * - remove of a missing name is I2V_ENOTFOUND; after remove, stat is too.
 * - The etag is a strong validator: it changes when the bytes do.
 * - Every function may be called from any thread; the handle is shared.
 * All functions return 0 (or 1 where noted) or a negative i2v_code, with a
 * message in err.
 */
#ifndef I2V_BLOB_H
#define I2V_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "i2v/i2v.h"

#define I2V_BLOB_NAME_MAX 200

typedef struct i2v_blob_info {
    uint64_t size;
    char etag[80];  /* quoted, as an HTTP ETag */
    char ctype[64]; /* the Content-Type to serve it with */
} i2v_blob_info;

typedef struct i2v_blob i2v_blob;

/* An open byte range of one blob, read from the start to the end. */
typedef struct i2v_blob_reader i2v_blob_reader;
struct i2v_blob_reader {
    /* Reads up to len bytes into buf: how many (0 at the end of the range),
     * or a negative i2v_code. */
    long (*read)(i2v_blob_reader *rd, void *buf, size_t len, i2v_error *err);
    void (*close)(i2v_blob_reader *rd);
};

typedef struct i2v_blob_vt {
    const char *name;
    void (*close)(i2v_blob *b);
    /* ctype: the Content-Type the blob is served with. */
    int (*put_file)(i2v_blob *b, const char *name, const char *path, const char *ctype,
                    i2v_error *err);
    int (*stat)(i2v_blob *b, const char *name, i2v_blob_info *info, i2v_error *err);
    /* Bytes [offset, offset + length) of name; *out is closed by the caller. */
    int (*open)(i2v_blob *b, const char *name, uint64_t offset, uint64_t length,
                i2v_blob_reader **out, i2v_error *err);
    int (*remove)(i2v_blob *b, const char *name, i2v_error *err);
    /* A URL clients may fetch name from directly for ttl_s seconds: 1 with
     * it in buf, or 0 when the store has none and i2v serves the bytes. */
    int (*url)(i2v_blob *b, const char *name, int ttl_s, char *buf, size_t len, i2v_error *err);
} i2v_blob_vt;

struct i2v_blob {
    const i2v_blob_vt *vt;
};

/* Opens a blob store from its URL: "dir:PATH" (the folder is created if
 * missing) or "s3://BUCKET[/PREFIX]?..." (i2v__blob_open_s3). An unknown
 * scheme or a bad URL is I2V_EINVAL naming what is wrong. */
int i2v__blob_open(i2v_blob **out, const char *url, i2v_error *err);
/* The local folder backend at dir (created if missing). */
int i2v__blob_open_dir(i2v_blob **out, const char *dir, i2v_error *err);
/* Closes the store and clears *b; NULL does nothing. */
void i2v__blob_close(i2v_blob **b);
/* The S3 backend (blob_s3.c) from its URL:
 *   s3://BUCKET[/PREFIX][?endpoint=URL&region=REGION&path_style=0|1
 *                        &part_size=BYTES&attempts=N&backoff_ms=MS]
 * Objects are keyed PREFIX/NAME. endpoint defaults to
 * https://s3.REGION.amazonaws.com, region to us-east-1, path_style to 0
 * (BUCKET.HOST/KEY; 1: ENDPOINT/BUCKET/KEY), part_size (files above it go
 * by multipart upload) to 16 MiB (at least 5 MiB), attempts to 4 and
 * backoff_ms (the first retry's delay, then doubled) to 200. Credentials
 * come only from the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
 * and optionally AWS_SESSION_TOKEN. A bad URL, an unknown parameter or a
 * missing credential is I2V_EINVAL; opening checks the bucket with a HEAD:
 * I2V_EUNAVAILABLE when the endpoint cannot be reached, I2V_EDENIED when
 * the credentials are refused. Later calls may also return those two;
 * url() gives presigned GET URLs. */
int i2v__blob_open_s3(i2v_blob **out, const char *url, i2v_error *err);

/* The interface's functions, with the name checked first. */
int i2v__blob_put_file(i2v_blob *b, const char *name, const char *path, const char *ctype,
                       i2v_error *err);
int i2v__blob_stat(i2v_blob *b, const char *name, i2v_blob_info *info, i2v_error *err);
int i2v__blob_read_open(i2v_blob *b, const char *name, uint64_t offset, uint64_t length,
                        i2v_blob_reader **out, i2v_error *err);
int i2v__blob_remove(i2v_blob *b, const char *name, i2v_error *err);
int i2v__blob_url(i2v_blob *b, const char *name, int ttl_s, char *buf, size_t len, i2v_error *err);
/* Closes a reader and clears *rd; NULL does nothing. */
void i2v__blob_reader_close(i2v_blob_reader **rd);

/* 1 when name is a valid blob name (see the contract above). */
int i2v__blob_name_ok(const char *name);
/* The Content-Type of a file name's extension: video/mp4, image/jpeg, ...,
 * application/octet-stream. */
const char *i2v__blob_ctype(const char *name);

#endif
