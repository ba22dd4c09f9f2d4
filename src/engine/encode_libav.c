/*
 * encode_libav.c - H.264 High / yuv420p / BT.709 in a +faststart MP4 through
 * libavcodec (libx264) and libavformat. Constant-quality rate control (CRF).
 * With a soundtrack, a second stream of AAC-LC stereo (FFmpeg's native
 * encoder), encoded in step with the frames so the file interleaves well.
 */
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <stdio.h>
#include <stdlib.h>

#include "encode.h"
#include "common/error.h"

typedef struct lav {
    AVFormatContext *oc;
    AVCodecContext *cc;
    AVStream *st;
    AVFrame *frame;
    AVPacket *pkt;
    int64_t next_pts;
    int header_written;
    int fps;
    /* audio */
    AVCodecContext *ac;
    AVStream *ast;
    AVFrame *aframe;
    const float *audio;
    size_t audio_frames, audio_done;
} lav;

static int averr(i2v_error *err, const char *what, int ret)
{
    char buf[AV_ERROR_MAX_STRING_SIZE] = "";
    av_strerror(ret, buf, sizeof buf);
    return i2v__err(err, I2V_EENCODE, "%s: %s", what, buf);
}

static void lav_close(void **state)
{
    lav *s = state ? *state : NULL;
    if (!s) return;
    if (s->oc) {
        if (s->oc->pb) avio_closep(&s->oc->pb);
        avformat_free_context(s->oc);
    }
    avcodec_free_context(&s->cc);
    avcodec_free_context(&s->ac);
    av_frame_free(&s->aframe);
    av_frame_free(&s->frame);
    av_packet_free(&s->pkt);
    free(s);
    *state = NULL;
}

static int audio_open(lav *s, const i2v_enc_params *p, i2v_error *err)
{
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_AAC);
    if (!codec) return i2v__err(err, I2V_EENCODE, "libavcodec has no AAC encoder");
    s->ac = avcodec_alloc_context3(codec);
    s->aframe = av_frame_alloc();
    if (!s->ac || !s->aframe) return i2v__err(err, I2V_ENOMEM, "out of memory");
    AVCodecContext *c = s->ac;
    c->sample_fmt = AV_SAMPLE_FMT_FLTP;
    c->sample_rate = p->audio_rate;
    av_channel_layout_default(&c->ch_layout, 2);
    c->bit_rate = 160000;
    c->time_base = (AVRational){1, p->audio_rate};
    if (s->oc->oformat->flags & AVFMT_GLOBALHEADER) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    int ret = avcodec_open2(c, codec, NULL);
    if (ret < 0) return averr(err, "cannot open the AAC encoder", ret);
    s->ast = avformat_new_stream(s->oc, NULL);
    if (!s->ast) return i2v__err(err, I2V_ENOMEM, "out of memory");
    s->ast->time_base = c->time_base;
    ret = avcodec_parameters_from_context(s->ast->codecpar, c);
    if (ret < 0) return averr(err, "cannot set the audio stream parameters", ret);
    s->audio = p->audio;
    s->audio_frames = p->audio_frames;
    return 0;
}

static int lav_open(void **state, const i2v_enc_params *p, i2v_error *err)
{
    int ret, rc = 0;
    AVDictionary *opts = NULL, *mux = NULL;
    lav *s = calloc(1, sizeof *s);
    *state = s;
    if (!s) return i2v__err(err, I2V_ENOMEM, "out of memory");
    av_log_set_level(AV_LOG_ERROR);
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    if (!codec) return i2v__err(err, I2V_EENCODE, "libavcodec was built without libx264");
    ret = avformat_alloc_output_context2(&s->oc, NULL, "mp4", p->path);
    if (ret < 0 || !s->oc) return averr(err, "cannot create the MP4 muxer", ret);
    s->cc = avcodec_alloc_context3(codec);
    s->frame = av_frame_alloc();
    s->pkt = av_packet_alloc();
    if (!s->cc || !s->frame || !s->pkt) return i2v__err(err, I2V_ENOMEM, "out of memory");
    AVCodecContext *c = s->cc;
    c->width = p->width;
    c->height = p->height;
    c->time_base = (AVRational){1, p->fps};
    c->framerate = (AVRational){p->fps, 1};
    c->pix_fmt = AV_PIX_FMT_YUV420P;
    c->gop_size = 2 * p->fps; /* a keyframe every 2 s keeps seeking quick */
    c->color_primaries = AVCOL_PRI_BT709;
    c->color_trc = AVCOL_TRC_BT709;
    c->colorspace = AVCOL_SPC_BT709;
    c->color_range = AVCOL_RANGE_MPEG;
    c->chroma_sample_location = AVCHROMA_LOC_LEFT;
    if (s->oc->oformat->flags & AVFMT_GLOBALHEADER) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    char crf[16];
    snprintf(crf, sizeof crf, "%d", p->crf);
    av_dict_set(&opts, "preset", p->preset, 0);
    av_dict_set(&opts, "crf", crf, 0);
    av_dict_set(&opts, "profile", "high", 0);
    ret = avcodec_open2(c, codec, &opts);
    if (ret < 0) {
        rc = averr(err, "cannot open the H.264 encoder", ret);
        goto out;
    }
    s->st = avformat_new_stream(s->oc, NULL);
    if (!s->st) {
        rc = i2v__err(err, I2V_ENOMEM, "out of memory");
        goto out;
    }
    s->st->time_base = c->time_base;
    s->st->avg_frame_rate = c->framerate;
    ret = avcodec_parameters_from_context(s->st->codecpar, c);
    if (ret < 0) {
        rc = averr(err, "cannot set the stream parameters", ret);
        goto out;
    }
    s->fps = p->fps;
    if (p->audio) {
        rc = audio_open(s, p, err);
        if (rc) goto out;
    }
    ret = avio_open(&s->oc->pb, p->path, AVIO_FLAG_WRITE);
    if (ret < 0) {
        rc = averr(err, "cannot create the output file", ret);
        goto out;
    }
    av_dict_set(&mux, "movflags", "+faststart", 0);
    ret = avformat_write_header(s->oc, &mux);
    if (ret < 0) {
        rc = averr(err, "cannot write the MP4 header", ret);
        goto out;
    }
    s->header_written = 1;
    s->frame->format = AV_PIX_FMT_YUV420P;
    s->frame->width = p->width;
    s->frame->height = p->height;
out:
    av_dict_free(&opts);
    av_dict_free(&mux);
    return rc;
}

static int drain_stream(lav *s, AVCodecContext *cc, AVStream *st, i2v_error *err)
{
    for (;;) {
        int ret = avcodec_receive_packet(cc, s->pkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return 0;
        if (ret < 0) return averr(err, "encoding failed", ret);
        av_packet_rescale_ts(s->pkt, cc->time_base, st->time_base);
        s->pkt->stream_index = st->index;
        ret = av_interleaved_write_frame(s->oc, s->pkt);
        if (ret < 0) return averr(err, "cannot write to the output file", ret);
    }
}

static int drain(lav *s, i2v_error *err)
{
    return drain_stream(s, s->cc, s->st, err);
}

/* Encodes the soundtrack up to sample `until` (whole encoder frames only,
 * unless last is set). */
static int audio_until(lav *s, size_t until, int last, i2v_error *err)
{
    if (!s->ac) return 0;
    if (until > s->audio_frames) until = s->audio_frames;
    const size_t fs = s->ac->frame_size > 0 ? (size_t)s->ac->frame_size : 1024;
    while (s->audio_done < until) {
        size_t n = until - s->audio_done;
        if (n > fs) n = fs;
        if (n < fs && !last) break;
        av_frame_unref(s->aframe);
        s->aframe->format = AV_SAMPLE_FMT_FLTP;
        s->aframe->sample_rate = s->ac->sample_rate;
        s->aframe->nb_samples = (int)n;
        int ret = av_channel_layout_copy(&s->aframe->ch_layout, &s->ac->ch_layout);
        if (ret >= 0) ret = av_frame_get_buffer(s->aframe, 0);
        if (ret < 0) return averr(err, "cannot allocate an audio frame", ret);
        float *l = (float *)s->aframe->data[0], *r = (float *)s->aframe->data[1];
        const float *src = s->audio + 2 * s->audio_done;
        for (size_t i = 0; i < n; i++) {
            l[i] = src[2 * i];
            r[i] = src[2 * i + 1];
        }
        s->aframe->pts = (int64_t)s->audio_done;
        s->audio_done += n;
        ret = avcodec_send_frame(s->ac, s->aframe);
        if (ret < 0) return averr(err, "cannot encode the soundtrack", ret);
        int rc = drain_stream(s, s->ac, s->ast, err);
        if (rc) return rc;
    }
    return 0;
}

static int lav_frame(void *state, i2v_yuv *f, i2v_error *err)
{
    lav *s = state;
    /* Encoders may keep a reference to the previous buffer: take a fresh one. */
    av_frame_unref(s->frame);
    s->frame->format = AV_PIX_FMT_YUV420P;
    s->frame->width = s->cc->width;
    s->frame->height = s->cc->height;
    int ret = av_frame_get_buffer(s->frame, 0);
    if (ret < 0) return averr(err, "cannot allocate a frame", ret);
    for (int i = 0; i < 3; i++) {
        f->data[i] = s->frame->data[i];
        f->linesize[i] = s->frame->linesize[i];
    }
    f->width = s->cc->width;
    f->height = s->cc->height;
    return 0;
}

static int lav_submit(void *state, i2v_error *err)
{
    lav *s = state;
    s->frame->pts = s->next_pts++;
    s->frame->color_primaries = AVCOL_PRI_BT709;
    s->frame->color_trc = AVCOL_TRC_BT709;
    s->frame->colorspace = AVCOL_SPC_BT709;
    s->frame->color_range = AVCOL_RANGE_MPEG;
    int ret = avcodec_send_frame(s->cc, s->frame);
    if (ret < 0) return averr(err, "cannot encode a frame", ret);
    int rc = drain(s, err);
    if (rc || !s->ac) return rc;
    return audio_until(s, (size_t)(s->next_pts * s->ac->sample_rate / s->fps), 0, err);
}

static int lav_finish(void *state, i2v_error *err)
{
    lav *s = state;
    int ret = avcodec_send_frame(s->cc, NULL);
    if (ret < 0) return averr(err, "cannot flush the encoder", ret);
    int rc = drain(s, err);
    if (rc) return rc;
    if (s->ac) {
        rc = audio_until(s, s->audio_frames, 1, err);
        if (rc) return rc;
        ret = avcodec_send_frame(s->ac, NULL);
        if (ret < 0) return averr(err, "cannot flush the AAC encoder", ret);
        rc = drain_stream(s, s->ac, s->ast, err);
        if (rc) return rc;
    }
    ret = av_write_trailer(s->oc);
    if (ret < 0) return averr(err, "cannot finish the MP4 file", ret);
    ret = avio_closep(&s->oc->pb);
    if (ret < 0) return averr(err, "cannot close the output file", ret);
    return 0;
}

const i2v_encoder_vt i2v__encoder_libav = {"libx264",  lav_open,   lav_frame,
                                           lav_submit, lav_finish, lav_close};
