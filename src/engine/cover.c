/* cover.c - the cover JPEG, written with TurboJPEG. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <turbojpeg.h>

#include "encode.h"
#include "common/error.h"

int i2v__write_jpeg(const char *path, const uint8_t *rgb, int w, int h, int quality, i2v_error *err)
{
    int rc = 0;
    unsigned char *jpg = NULL;
    unsigned long len = 0;
    FILE *f = NULL;
    tjhandle tj = tjInitCompress();
    if (!tj) return i2v__err(err, I2V_ENOMEM, "cannot start the JPEG encoder");
    if (tjCompress2(tj, rgb, w, 0, h, TJPF_RGB, &jpg, &len, TJSAMP_420, quality, 0) != 0) {
        rc = i2v__err(err, I2V_EIO, "cannot encode the cover: %s", tjGetErrorStr2(tj));
        goto out;
    }
    f = fopen(path, "wb");
    if (!f || fwrite(jpg, 1, len, f) != len) {
        rc = i2v__err(err, I2V_EIO, "cannot write %s: %s", path, strerror(errno));
        goto out;
    }
    if (fclose(f) != 0) {
        f = NULL;
        rc = i2v__err(err, I2V_EIO, "cannot write %s: %s", path, strerror(errno));
        goto out;
    }
    f = NULL;
out:
    if (f) fclose(f);
    tjFree(jpg);
    tjDestroy(tj);
    return rc;
}
