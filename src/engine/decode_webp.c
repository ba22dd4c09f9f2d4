/*
 * decode_webp.c - WebP (lossy, lossless, alpha) through libwebp. The EXIF chunk,
 * when present, gives the orientation.
 */
#include <stdlib.h>
#include <string.h>
#include <webp/decode.h>
#include <webp/demux.h>

#include "decode.h"
#include "common/error.h"

static int webp_sniff(const uint8_t *d, size_t n)
{
    return n >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WEBP", 4) == 0;
}

static int webp_probe(const uint8_t *d, size_t n, i2v_probe *info, i2v_error *err)
{
    WebPBitstreamFeatures f;
    if (WebPGetFeatures(d, n, &f) != VP8_STATUS_OK)
        return i2v__err(err, I2V_ECORRUPT, "WebP header is invalid");
    if (f.has_animation) return i2v__err(err, I2V_EFORMAT, "animated WebP is not supported");
    info->width = f.width;
    info->height = f.height;
    WebPData wd = {d, n};
    WebPDemuxer *dmx = WebPDemux(&wd);
    if (dmx) {
        WebPChunkIterator it;
        if (WebPDemuxGetChunk(dmx, "EXIF", 1, &it)) {
            info->orientation = i2v__exif_orientation(it.chunk.bytes, it.chunk.size);
            WebPDemuxReleaseChunkIterator(&it);
        }
        WebPDemuxDelete(dmx);
    }
    return 0;
}

static int webp_decode(const uint8_t *d, size_t n, int min_w, int min_h, i2v_rgb *out,
                       i2v_error *err)
{
    (void)min_w;
    (void)min_h;
    int rc;
    WebPBitstreamFeatures f;
    if (WebPGetFeatures(d, n, &f) != VP8_STATUS_OK)
        return i2v__err(err, I2V_ECORRUPT, "WebP header is invalid");
    rc = i2v__rgb_alloc(out, f.width, f.height, err);
    if (rc) return rc;
    if (f.has_alpha) {
        size_t sz = (size_t)f.width * f.height * 4;
        uint8_t *rgba = malloc(sz);
        if (!rgba) {
            i2v__rgb_release(out);
            return i2v__err(err, I2V_ENOMEM, "out of memory decoding a WebP");
        }
        if (!WebPDecodeRGBAInto(d, n, rgba, sz, f.width * 4)) {
            free(rgba);
            i2v__rgb_release(out);
            return i2v__err(err, I2V_ECORRUPT, "WebP data is corrupt or truncated");
        }
        i2v__rgba_over_white(rgba, out->pixels, (size_t)f.width * f.height);
        free(rgba);
        return 0;
    }
    if (!WebPDecodeRGBInto(d, n, out->pixels, (size_t)f.width * f.height * 3, f.width * 3)) {
        i2v__rgb_release(out);
        return i2v__err(err, I2V_ECORRUPT, "WebP data is corrupt or truncated");
    }
    return 0;
}

const i2v_decoder i2v__decoder_webp = {"webp", webp_sniff, webp_probe, webp_decode};
