/*
 * blob_dir.c - the local folder blob store, the embedded default: one file
 * per blob, named as the blob, in one folder (the data directory's outputs/).
 * A put renames the finished file into the folder (or, from another file
 * system, copies it to a hidden temporary name there and renames that), and
 * syncs the file and the folder first, so a crash leaves either the whole
 * file or none. The ETag is made of the size and the modification time.
 * Clients get no direct URL: i2v serves the bytes.
 */
#include "blob.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"

#define PATH_MAX_LEN 4096

typedef struct dir_blob {
    i2v_blob base;
    char *dir;
    int dir_fd; /* for fsync after a rename */
} dir_blob;

typedef struct dir_reader {
    i2v_blob_reader base;
    int fd;
    uint64_t pos, end;
} dir_reader;

static int path_of(const dir_blob *d, const char *name, char *buf, size_t len, i2v_error *err)
{
    if ((size_t)snprintf(buf, len, "%s/%s", d->dir, name) >= len)
        return i2v__err(err, I2V_EINVAL, "blob: path of '%.80s' is too long", name);
    return 0;
}

static void dir_close(i2v_blob *b)
{
    dir_blob *d = (dir_blob *)b;
    if (d->dir_fd >= 0) close(d->dir_fd);
    free(d->dir);
    free(d);
}

/* Copies src into a new file dst (created exclusively) and syncs it. */
static int copy_file(const char *src, const char *dst, i2v_error *err)
{
    int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, rc = 0;
    char *buf = malloc(1 << 16);
    if (!buf) {
        rc = i2v__err(err, I2V_ENOMEM, "out of memory");
        goto out;
    }
    if (in < 0) {
        rc = i2v__err(err, I2V_EIO, "blob: cannot read %.200s: %s", src, strerror(errno));
        goto out;
    }
    out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out < 0) {
        rc = i2v__err(err, I2V_EIO, "blob: cannot create %.200s: %s", dst, strerror(errno));
        goto out;
    }
    for (;;) {
        ssize_t n = read(in, buf, 1 << 16);
        if (n == 0) break;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            rc = i2v__err(err, I2V_EIO, "blob: reading %.200s: %s", src, strerror(errno));
            goto out;
        }
        for (ssize_t w = 0; w < n;) {
            ssize_t k = write(out, buf + w, (size_t)(n - w));
            if (k < 0 && errno == EINTR) continue;
            if (k < 0) {
                rc = i2v__err(err, I2V_EIO, "blob: writing %.200s: %s", dst, strerror(errno));
                goto out;
            }
            w += k;
        }
    }
    if (fsync(out) != 0)
        rc = i2v__err(err, I2V_EIO, "blob: syncing %.200s: %s", dst, strerror(errno));
out:
    if (in >= 0) close(in);
    if (out >= 0 && close(out) != 0 && !rc)
        rc = i2v__err(err, I2V_EIO, "blob: writing %.200s: %s", dst, strerror(errno));
    if (rc && out >= 0) unlink(dst);
    free(buf);
    return rc;
}

static int dir_put_file(i2v_blob *b, const char *name, const char *path, const char *ctype,
                        i2v_error *err)
{
    dir_blob *d = (dir_blob *)b;
    (void)ctype; /* served by extension */
    char dst[PATH_MAX_LEN];
    int rc = path_of(d, name, dst, sizeof dst, err);
    if (rc) return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return i2v__err(err, I2V_EIO, "blob: cannot read %.200s: %s", path, strerror(errno));
    const int synced = fsync(fd);
    close(fd);
    if (synced != 0)
        return i2v__err(err, I2V_EIO, "blob: syncing %.200s: %s", path, strerror(errno));
    if (rename(path, dst) != 0) {
        if (errno != EXDEV)
            return i2v__err(err, I2V_EIO, "blob: cannot move %.200s into %.200s: %s", path, d->dir,
                            strerror(errno));
        /* another file system: copy beside the target, then rename */
        char tmp[PATH_MAX_LEN + 32];
        snprintf(tmp, sizeof tmp, "%s/.%s.part-%ld", d->dir, name, (long)getpid());
        rc = copy_file(path, tmp, err);
        if (rc) return rc;
        if (rename(tmp, dst) != 0) {
            rc =
                i2v__err(err, I2V_EIO, "blob: cannot rename into %.200s: %s", dst, strerror(errno));
            unlink(tmp);
            return rc;
        }
        unlink(path);
    }
    if (d->dir_fd >= 0) fsync(d->dir_fd);
    return 0;
}

static int dir_stat(i2v_blob *b, const char *name, i2v_blob_info *info, i2v_error *err)
{
    dir_blob *d = (dir_blob *)b;
    char p[PATH_MAX_LEN];
    int rc = path_of(d, name, p, sizeof p, err);
    if (rc) return rc;
    struct stat st;
    if (stat(p, &st) != 0)
        return errno == ENOENT || errno == ENOTDIR
                   ? i2v__err(err, I2V_ENOTFOUND, "blob: no %.80s", name)
                   : i2v__err(err, I2V_EIO, "blob: %.80s: %s", name, strerror(errno));
    if (!S_ISREG(st.st_mode)) return i2v__err(err, I2V_ENOTFOUND, "blob: no %.80s", name);
    memset(info, 0, sizeof *info);
    info->size = (uint64_t)st.st_size;
    snprintf(info->etag, sizeof info->etag, "\"%" PRIx64 "-%lx%09lx\"", info->size,
             (long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
    snprintf(info->ctype, sizeof info->ctype, "%s", i2v__blob_ctype(name));
    return 0;
}

static long dir_read(i2v_blob_reader *rd, void *buf, size_t len, i2v_error *err)
{
    dir_reader *r = (dir_reader *)rd;
    if (r->pos >= r->end) return 0;
    if (len > r->end - r->pos) len = (size_t)(r->end - r->pos);
    ssize_t n;
    do
        n = pread(r->fd, buf, len, (off_t)r->pos);
    while (n < 0 && errno == EINTR);
    if (n < 0) return i2v__err(err, I2V_EIO, "blob: read failed: %s", strerror(errno));
    if (n == 0) return i2v__err(err, I2V_EIO, "blob: the file is shorter than it was");
    r->pos += (uint64_t)n;
    return (long)n;
}

static void dir_reader_close(i2v_blob_reader *rd)
{
    dir_reader *r = (dir_reader *)rd;
    close(r->fd);
    free(r);
}

static int dir_open(i2v_blob *b, const char *name, uint64_t offset, uint64_t length,
                    i2v_blob_reader **out, i2v_error *err)
{
    dir_blob *d = (dir_blob *)b;
    char p[PATH_MAX_LEN];
    int rc = path_of(d, name, p, sizeof p, err);
    if (rc) return rc;
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? i2v__err(err, I2V_ENOTFOUND, "blob: no %.80s", name)
                               : i2v__err(err, I2V_EIO, "blob: %.80s: %s", name, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return i2v__err(err, I2V_ENOTFOUND, "blob: no %.80s", name);
    }
    if (offset > (uint64_t)st.st_size || length > (uint64_t)st.st_size - offset) {
        close(fd);
        return i2v__err(err, I2V_EINVAL, "blob: bytes %" PRIu64 "+%" PRIu64 " are outside %.80s",
                        offset, length, name);
    }
    dir_reader *r = calloc(1, sizeof *r);
    if (!r) {
        close(fd);
        return i2v__err(err, I2V_ENOMEM, "out of memory");
    }
    r->base.read = dir_read;
    r->base.close = dir_reader_close;
    r->fd = fd;
    r->pos = offset;
    r->end = offset + length;
    *out = &r->base;
    return 0;
}

static int dir_remove(i2v_blob *b, const char *name, i2v_error *err)
{
    dir_blob *d = (dir_blob *)b;
    char p[PATH_MAX_LEN];
    int rc = path_of(d, name, p, sizeof p, err);
    if (rc) return rc;
    if (unlink(p) != 0)
        return errno == ENOENT
                   ? i2v__err(err, I2V_ENOTFOUND, "blob: no %.80s", name)
                   : i2v__err(err, I2V_EIO, "blob: cannot remove %.80s: %s", name, strerror(errno));
    return 0;
}

static int dir_url(i2v_blob *b, const char *name, int ttl_s, char *buf, size_t len, i2v_error *err)
{
    (void)b, (void)name, (void)ttl_s, (void)err;
    if (len) buf[0] = '\0';
    return 0;
}

static const i2v_blob_vt dir_vt = {
    "dir", dir_close, dir_put_file, dir_stat, dir_open, dir_remove, dir_url,
};

int i2v__blob_open_dir(i2v_blob **out, const char *dir, i2v_error *err)
{
    *out = NULL;
    if (strlen(dir) > PATH_MAX_LEN - I2V_BLOB_NAME_MAX - 40)
        return i2v__err(err, I2V_EINVAL, "blobs: folder name too long");
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return i2v__err(err, I2V_EIO, "blobs: cannot create %.200s: %s", dir, strerror(errno));
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return i2v__err(err, I2V_EIO, "blobs: %.200s is not a folder", dir);
    dir_blob *d = calloc(1, sizeof *d);
    if (!d || !(d->dir = strdup(dir))) {
        free(d);
        return i2v__err(err, I2V_ENOMEM, "out of memory");
    }
    d->base.vt = &dir_vt;
    d->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    *out = &d->base;
    return 0;
}
