/* backends.c - see backends.h. */
#include "backends.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The scheme of a store URL, for logs (never the rest: it may hold a
 * password). */
static void scheme_of(const char *url, char *out, size_t len)
{
    size_t n = strcspn(url, ":");
    snprintf(out, len, "%.*s", (int)(n < 32 ? n : 32), url);
}

static int make_dir(const char *path, char *msg, size_t ml)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST) return 0;
    snprintf(msg, ml, "data: cannot create %.200s: %s", path, strerror(errno));
    return I2V_EIO;
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char p[1400];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

int i2v__backends_open(i2v_backends *b, const i2v_opts *o, const i2v_store_config *cfg, int flags,
                       char *msg, size_t ml)
{
    memset(b, 0, sizeof *b);
    const char *store = i2v__opt_str(o, "store"), *blobs = i2v__opt_str(o, "blobs");
    const char *scratch = i2v__opt_str(o, "scratch");
    /* The data directory holds whatever was not given elsewhere. */
    const int use_data = !store || !*store || ((flags & I2V_BACKEND_BLOBS) && (!blobs || !*blobs));
    char url[1200];
    i2v_error err = {0};
    int rc = 0;
    if (use_data) {
        snprintf(b->data_dir, sizeof b->data_dir, "%s", i2v__opt_str(o, "data"));
        if ((rc = make_dir(b->data_dir, msg, ml)) != 0) goto fail;
    }
    if (store && *store)
        snprintf(url, sizeof url, "%s", store);
    else
        snprintf(url, sizeof url, "sqlite:%s/i2v.db", b->data_dir);
    scheme_of(url, b->store_url, sizeof b->store_url);
    if ((rc = i2v__store_open(&b->store, url, cfg, &err)) != 0) {
        snprintf(msg, ml, "%s", err.message);
        goto fail;
    }
    if (flags & I2V_BACKEND_BLOBS) {
        if (blobs && *blobs)
            snprintf(url, sizeof url, "%s", blobs);
        else
            snprintf(url, sizeof url, "dir:%s/outputs", b->data_dir);
        scheme_of(url, b->blobs_url, sizeof b->blobs_url);
        if ((rc = i2v__blob_open(&b->blobs, url, &err)) != 0) {
            snprintf(msg, ml, "%s", err.message);
            goto fail;
        }
    }
    if (flags & I2V_BACKEND_SCRATCH) {
        if (scratch && *scratch) {
            snprintf(b->scratch, sizeof b->scratch, "%s", scratch);
            if ((rc = make_dir(b->scratch, msg, ml)) != 0) goto fail;
        } else if (b->data_dir[0]) {
            snprintf(b->scratch, sizeof b->scratch, "%s/tmp", b->data_dir);
            if ((rc = make_dir(b->scratch, msg, ml)) != 0) goto fail;
        } else {
            const char *t = getenv("TMPDIR");
            snprintf(b->scratch, sizeof b->scratch, "%s/i2v-scratch-XXXXXX", t && *t ? t : "/tmp");
            if (!mkdtemp(b->scratch)) {
                snprintf(msg, ml, "scratch: cannot create a folder in %.200s: %s",
                         t && *t ? t : "/tmp", strerror(errno));
                rc = I2V_EIO;
                goto fail;
            }
            b->own_scratch = 1;
        }
    }
    return 0;
fail:
    i2v__backends_close(b);
    return rc;
}

void i2v__backends_close(i2v_backends *b)
{
    i2v__store_close(&b->store);
    i2v__blob_close(&b->blobs);
    if (b->own_scratch) remove_tree(b->scratch);
    b->own_scratch = 0;
}
