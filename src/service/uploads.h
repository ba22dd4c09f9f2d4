/*
 * uploads.h - photos uploaded to i2v itself (docs/native-api.md#uploads).
 *
 * POST /api/i2v/v1/uploads takes a photo as the raw body or as the field
 * "file" of a multipart/form-data form, checks it exactly as a fetched photo
 * is checked (the format from its bytes, the byte limit, the pixel limit and
 * the header walk of the engine's probe), puts it in the blob store under a
 * random name and records it (owner, blob, format, size, expiry) in the job
 * store. Its URL, PUBLIC_URL/u/<id>, is then accepted wherever the three
 * APIs take a photo URL, by its owner only and until it expires: the worker
 * reads it from the blob store instead of fetching it (workers share nothing
 * but the job store and the blob store). GET /u/<id> shows it to its owner.
 * Expired uploads are swept (blob, then record) by the notifier of any
 * process; every step is idempotent, so many processes may sweep at once.
 */
#ifndef I2V_UPLOADS_H
#define I2V_UPLOADS_H

#include <stddef.h>

#include "http_server.h"
#include "service.h"

#define I2V_UPLOADS_PREFIX "/u/"
#define I2V_UPLOADS_PATH "/api/i2v/v1/uploads"

/* POST /api/i2v/v1/uploads (a route of the native API). */
int i2v__upload_post(i2v_service *svc, i2v_req *r);
/* GET and HEAD /u/<id>, for a family of its own (native error shape). */
extern const i2v_route i2v__upload_routes[1];

/* 1 with the id (32 hex digits) when url is PUBLIC_URL/u/<id> of this
 * service, else 0. */
int i2v__upload_url_id(const i2v_service *svc, const char *url, char id[33]);
/* Whether user may make a generation from url: 0 (not an upload URL, or
 * the user's upload, not expired), 1 with why (no such upload of this user,
 * or expired), or a negative store code (I2V_EUNAVAILABLE: retry). */
int i2v__upload_check(const i2v_service *svc, const char *user, const char *url, char *why,
                      size_t whylen);
/* i2v__upload_check on every photo of g (for g->user_id), the errors naming
 * the field as the API calls it: first (the first photo), more (printf
 * format of the index of a tour's next photos, counted from more_base) and
 * last (first-last's last photo). 0; -1 with the message in msg; or
 * I2V_API_READ_UNAVAILABLE when the store cannot answer (msg says so). */
int i2v__upload_check_gen(const i2v_service *svc, const i2v_gen *g, const char *first,
                          const char *more, int more_base, const char *last, char *msg,
                          size_t msglen);
/* The worker's side: when url is an upload URL, reads the upload's bytes
 * from the blob store (the upload must be user's; at most max bytes) into
 * *data (malloc'd, the caller frees): 0; or a negative code with a message.
 * 1 when url is not an upload URL (the caller fetches it). */
int i2v__upload_read(i2v_service *svc, const char *user, const char *url, size_t max,
                     unsigned char **data, size_t *len, i2v_error *err);
/* Removes expired uploads (their blobs, then their records), at most a few
 * hundred a call: how many, or a negative code. */
int i2v__uploads_sweep(i2v_service *svc);

#endif
