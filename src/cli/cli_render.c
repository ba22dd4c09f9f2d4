/*
 * cli_render.c - `i2v render`: the whole pipeline on one machine, with a
 * progress bar on a terminal and one key=value summary line otherwise.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "i2v/i2v.h"
#include "common/log.h"
#include "common/options.h"
#include "i2v/i2v.h"

static const i2v_option render_opts[] = {
    {"output", 'o', I2V_OPT_STRING, NULL, 0, 0, NULL, NULL, "MP4 file to write (required)"},
    {"option", 0, I2V_OPT_CHOICE, NULL, 0, 0,
     "ZOOM_IN|ZOOM_OUT|PAN_RIGHT|PAN_LEFT|PAN_UP|PAN_DOWN|CAMERA_PUSH_OUT|AUTO_EFFECTS|AUTO_"
     "REVERSE|DOLLY_IN|DOLLY_OUT|TRUCK_LEFT|TRUCK_RIGHT|ORBIT",
     "I2V_OPTION", "camera move [default: the move the prompt names, else ZOOM_IN]"},
    {"last", 0, I2V_OPT_STRING, NULL, 0, 0, NULL, NULL,
     "first-last frame mode: the video travels from PHOTO to this photo"},
    {"audio", 0, I2V_OPT_FLAG, NULL, 0, 0, NULL, "I2V_AUDIO",
     "add an ambient AAC soundtrack (rain, ocean, birds, fireplace, city or room tone, from "
     "the prompt)"},
    {"prompt", 0, I2V_OPT_STRING, NULL, 0, 0, NULL, "I2V_PROMPT",
     "plain words steering the move and the look: pan left, zoom into the window, slow, "
     "fast, subtle, dramatic, constant speed, towards the left, warm, cool, golden hour, "
     "black and white, cinematic, day to night, rain, ocean, ..."},
    {"duration", 0, I2V_OPT_NUMBER, "5", 1, 30, NULL, "I2V_DURATION", "length in seconds"},
    {"resolution", 0, I2V_OPT_CHOICE, NULL, 0, 0, "480p|720p|1080p", "I2V_RESOLUTION",
     "854x480, 1280x720 or 1920x1080, transposed for a portrait photo [default: 720p]"},
    {"format", 0, I2V_OPT_CHOICE, NULL, 0, 0, "portrait|landscape", "I2V_FORMAT",
     "768x1280 or 1280x768 (Animation API sizes)"},
    {"size", 0, I2V_OPT_STRING, NULL, 0, 0, NULL, "I2V_SIZE",
     "exact output size WxH, even, 128..4096"},
    {"fps", 0, I2V_OPT_INT, "30", 1, 60, NULL, "I2V_FPS", "frames per second"},
    {"model", 0, I2V_OPT_CHOICE, "flash", 0, 0, "flash|base", "I2V_MODEL",
     "flash: x264 veryfast + bicubic; base: x264 medium + Lanczos, finer"},
    {"crf", 0, I2V_OPT_INT, "20", 0, 51, NULL, "I2V_CRF",
     "x264 constant quality (lower is better)"},
    {"cover", 0, I2V_OPT_STRING, NULL, 0, 0, NULL, NULL, "also write the first frame as a JPEG"},
    {"threads", 0, I2V_OPT_INT, "0", 0, 64, NULL, "I2V_THREADS", "render threads, 0 = all cores"},
    {"max-pixels", 0, I2V_OPT_NUMBER, "100000000", 1, 1e10, NULL, "I2V_MAX_PIXELS",
     "refuse photos with more pixels (checked from the header)"},
    {"max-bytes", 0, I2V_OPT_NUMBER, "67108864", 1, 1e10, NULL, "I2V_MAX_BYTES",
     "refuse photo files larger than this"},
    {"explain", 0, I2V_OPT_FLAG, NULL, 0, 0, NULL, NULL,
     "print what i2v sees of the room in PHOTO (vanishing points, focal length, rotation, "
     "layout, confidence) as key=value lines; with -o, also each frame's 3D camera"},
    {"explain-image", 0, I2V_OPT_STRING, NULL, 0, 0, NULL, NULL,
     "with --explain: write a PNG of the line segments by direction and the layout's edges"},
    {"help", 'h', I2V_OPT_FLAG, NULL, 0, 0, NULL, NULL, "show this help"},
};
#define NOPTS (int)(sizeof render_opts / sizeof render_opts[0])

typedef struct progress {
    int tty;
    double t0;
} progress;

static int on_progress(void *user, int done, int total)
{
    progress *p = user;
    if (!p->tty) return 0;
    const double el = i2v__mono() - p->t0;
    const double eta = done > 0 ? el * (total - done) / done : 0;
    const int width = 30, fill = (int)((double)width * done / total);
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    fprintf(stderr, "\r[%s] %d/%d frames  %5.1f s  ETA %5.1f s ", bar, done, total, el, eta);
    if (done == total) fputc('\n', stderr);
    fflush(stderr);
    return 0;
}

static void help(void)
{
    printf("usage: i2v render PHOTO [PHOTO...] -o OUT.mp4 [options]\n"
           "       i2v render FIRST --last LAST -o OUT.mp4 [options]\n\n"
           "Renders PHOTO (JPEG, PNG, WebP or HEIC) to an H.264 MP4 with a camera move.\n"
           "Several photos make a tour: each gets an equal part of --duration with its own\n"
           "move, joined by dissolves (or a camera travel when two photos show one scene).\n"
           "With --last the video starts exactly on FIRST and ends exactly on LAST.\n"
           "Only one of --resolution, --format and --size may be given.\n\noptions:\n");
    i2v__opts_help(stdout, render_opts, NOPTS);
}

static void print_vp(const char *name, const double v[3])
{
    const double n = hypot(v[0], v[1]);
    if (fabs(v[2]) <= 1e-9 * (n > 0 ? n : 1))
        printf("%s=inf,%.5f,%.5f\n", name, v[0] / n, v[1] / n);
    else
        printf("%s=%.2f,%.2f\n", name, v[0] / v[2], v[1] / v[2]);
}

/* --explain: the room, as key=value lines on stdout. */
static int explain(const i2v_photo *photo, const char *image, i2v_error *err)
{
    static const char *const faces[I2V_FACE_COUNT] = {"floor", "ceiling", "left", "right", "back"};
    i2v_room r;
    if ((image ? i2v_photo_room_overlay(photo, image, &r, err) : i2v_photo_room(photo, &r, err)))
        return -1;
    if (r.is_room)
        printf("room=yes confidence=%.3f weakest=\"%s\"\n", r.confidence, r.reason);
    else
        printf("room=no reason=\"%s\" confidence=%.3f\n", r.reason, r.confidence);
    printf("size=%dx%d\nsegments=%d\ninliers=%d,%d,%d\nshare=%.3f\nrms_deg=%.3f\n", r.width,
           r.height, r.segments, r.inliers[0], r.inliers[1], r.inliers[2], r.share, r.rms_deg);
    if (r.focal <= 0) return 0;
    print_vp("vp_x", r.vp[0]);
    print_vp("vp_y", r.vp[1]);
    print_vp("vp_z", r.vp[2]);
    printf("focal_px=%.2f\nfocal_35mm=%.2f\nfocal_source=%s\n", r.focal, r.focal_35mm,
           r.focal_measured ? "vanishing-points" : "assumed");
    printf("rotation=");
    for (int i = 0; i < 9; i++)
        printf("%s%.6f", i ? "," : "", r.rotation[i]);
    printf("\nyaw_deg=%.3f\npitch_deg=%.3f\nroll_deg=%.3f\neye_height_m=%.2f\n", r.yaw, r.pitch,
           r.roll, r.eye_height);
    printf("layout_support=%.3f\n", r.layout_support);
    for (int f = 0; f < I2V_FACE_COUNT; f++) {
        const i2v_room_face *F = &r.face[f];
        printf("face=%s visible=%d distance_m=%.3f normal=%.4f,%.4f,%.4f area=%.3f support=%.2f "
               "polygon=\"",
               faces[f], F->visible, F->distance, F->normal[0], F->normal[1], F->normal[2], F->area,
               F->support);
        for (int i = 0; i < F->n; i++)
            printf("%s%.1f,%.1f", i ? " " : "", F->poly[i][0], F->poly[i][1]);
        printf("\"\n");
    }
    return 0;
}

static int parse_size(const char *s, int *w, int *h)
{
    char *end;
    long a = strtol(s, &end, 10);
    if (end == s || (*end != 'x' && *end != 'X')) return -1;
    const char *b = end + 1;
    long c = strtol(b, &end, 10);
    if (end == b || *end) return -1;
    *w = (int)a;
    *h = (int)c;
    return 0;
}

int i2v__cmd_render(int argc, char **argv)
{
    i2v_opts o;
    char msg[256];
    i2v_error err = {0};
    i2v_photo *photos[I2V_PHOTOS_MAX] = {0};
    int nphotos = 0;
    i2v_plan *plan = NULL;
    int status = 1;
    if (i2v__opts_parse(&o, render_opts, NOPTS, argc, argv, msg, sizeof msg) != 0) {
        fprintf(stderr, "i2v render: %s\n", msg);
        return 2;
    }
    if (i2v__opt_given(&o, "help")) {
        help();
        return 0;
    }
    const char *last = i2v__opt_str(&o, "last");
    if (o.nargs < 1) {
        fprintf(stderr, "i2v render: no photo given (usage: i2v render PHOTO -o OUT.mp4)\n");
        return 2;
    }
    if (last && o.nargs != 1) {
        fprintf(stderr, "i2v render: --last: give exactly one first photo with --last\n");
        return 2;
    }
    if (o.nargs + (last != NULL) > I2V_PHOTOS_MAX) {
        fprintf(stderr, "i2v render: at most %d photos\n", I2V_PHOTOS_MAX);
        return 2;
    }
    const char *output = i2v__opt_str(&o, "output");
    const int explaining = i2v__opt_given(&o, "explain");
    if (i2v__opt_given(&o, "explain-image") && !explaining) {
        fprintf(stderr, "i2v render: --explain-image: give it with --explain\n");
        return 2;
    }
    if (explaining && !output) {
        i2v_limits lim0;
        i2v_limits_init(&lim0);
        lim0.max_pixels = (uint64_t)i2v__opt_num(&o, "max-pixels");
        lim0.max_bytes = (uint64_t)i2v__opt_num(&o, "max-bytes");
        i2v_photo *p = NULL;
        if (i2v_photo_open_file(&p, o.args[0], &lim0, &err) != 0 ||
            explain(p, i2v__opt_str(&o, "explain-image"), &err) != 0) {
            fprintf(stderr, "i2v render: %s\n", err.message);
            i2v_photo_free(&p);
            return 1;
        }
        i2v_photo_free(&p);
        return 0;
    }
    if (!output || !*output) {
        fprintf(stderr, "i2v render: --output: no output file given (-o OUT.mp4)\n");
        return 2;
    }
    int sizes = i2v__opt_given(&o, "resolution") + i2v__opt_given(&o, "format") +
                i2v__opt_given(&o, "size");
    if (sizes > 1) {
        fprintf(stderr, "i2v render: give only one of --resolution, --format and --size\n");
        return 2;
    }

    i2v_limits lim;
    i2v_limits_init(&lim);
    lim.max_pixels = (uint64_t)i2v__opt_num(&o, "max-pixels");
    lim.max_bytes = (uint64_t)i2v__opt_num(&o, "max-bytes");
    for (int i = 0; i < o.nargs + (last != NULL); i++) {
        const char *path = i < o.nargs ? o.args[i] : last;
        if (i2v_photo_open_file(&photos[i], path, &lim, &err) != 0) {
            fprintf(stderr, "i2v render: %s\n", err.message);
            goto out;
        }
        nphotos++;
    }
    const i2v_photo *photo = photos[0];

    i2v_spec spec;
    i2v_spec_init(&spec);
    spec.prompt = i2v__opt_str(&o, "prompt");
    if (i2v__opt_given(&o, "option"))
        i2v_move_parse(i2v__opt_str(&o, "option"), &spec.move);
    else
        i2v_prompt_move(spec.prompt, &spec.move);
    spec.audio = i2v__opt_given(&o, "audio");
    spec.duration = i2v__opt_num(&o, "duration");
    spec.fps = (int)i2v__opt_int(&o, "fps");
    spec.crf = (int)i2v__opt_int(&o, "crf");
    spec.model =
        strcasecmp(i2v__opt_str(&o, "model"), "base") == 0 ? I2V_MODEL_BASE : I2V_MODEL_FLASH;
    const int portrait_photo = i2v_photo_height(photo) > i2v_photo_width(photo);
    if (i2v__opt_given(&o, "size")) {
        if (parse_size(i2v__opt_str(&o, "size"), &spec.width, &spec.height) != 0) {
            fprintf(stderr, "i2v render: --size: '%s' is not WxH (e.g. 1280x720)\n",
                    i2v__opt_str(&o, "size"));
            status = 2;
            goto out;
        }
    } else if (i2v__opt_given(&o, "format")) {
        const int portrait = strcasecmp(i2v__opt_str(&o, "format"), "portrait") == 0;
        spec.width = portrait ? 768 : 1280;
        spec.height = portrait ? 1280 : 768;
    } else {
        const char *res =
            i2v__opt_given(&o, "resolution") ? i2v__opt_str(&o, "resolution") : "720p";
        int w = 1280, h = 720;
        if (strcasecmp(res, "480p") == 0)
            w = 854, h = 480;
        else if (strcasecmp(res, "1080p") == 0)
            w = 1920, h = 1080;
        spec.width = portrait_photo ? h : w;
        spec.height = portrait_photo ? w : h;
    }
    if (i2v_spec_validate(&spec, &err) != 0) {
        fprintf(stderr, "i2v render: %s\n", err.message);
        status = 2;
        goto out;
    }
    const i2v_photo *const *list = (const i2v_photo *const *)photos;
    if (i2v_plan_new_multi(&plan, list, nphotos, last ? I2V_JOIN_FIRST_LAST : I2V_JOIN_TOUR, &spec,
                           &err) != 0) {
        fprintf(stderr, "i2v render: %s\n", err.message);
        goto out;
    }
    progress pr = {isatty(2), i2v__mono()};
    fprintf(stderr, "event=prompt understood=\"%s\"\n", i2v_plan_understood(plan));
    if (*i2v_plan_camera_note(plan))
        fprintf(stderr, "event=camera %s\n", i2v_plan_camera_note(plan));
    if (explaining) {
        /* Each frame's 3D camera, on stdout before the output's name. */
        for (int i = 0; i < i2v_plan_frames(plan); i++) {
            i2v_pose ps;
            if (i2v_plan_pose(plan, i, &ps) != 0) break;
            printf(
                "frame=%d x_m=%.5f y_m=%.5f z_m=%.5f yaw_deg=%.4f pitch_deg=%.4f focal_px=%.3f\n",
                i, ps.position[0], ps.position[1], ps.position[2], ps.yaw, ps.pitch, ps.focal);
        }
    }
    for (int k = 0; k + 1 < nphotos; k++) {
        i2v_transition_info t;
        i2v_plan_transition(plan, k, &t);
        fprintf(stderr,
                "event=align photos=%d,%d result=%s matches=%d inliers=%d rms=%.2f scale=%.4f "
                "shift=%.2f,%.2f%s\n",
                k + 1, k + 2, i2v_transition_name(t.kind), t.matches, t.inliers, t.rms, t.scale,
                t.shift_x, t.shift_y,
                t.kind == I2V_TRANSITION_DISSOLVE ? " note=\"no alignment found: dissolve\"" : "");
    }
    if (pr.tty) fprintf(stderr, "plan: %s\n", i2v_plan_description(plan));
    i2v_output out = {0};
    out.video_path = output;
    out.cover_path = i2v__opt_str(&o, "cover");
    out.progress = on_progress;
    out.progress_user = &pr;
    out.threads = (int)i2v__opt_int(&o, "threads");
    if (i2v_render_multi(list, nphotos, plan, &out, &err) != 0) {
        if (pr.tty) fputc('\n', stderr);
        fprintf(stderr, "i2v render: %s\n", err.message);
        goto out;
    }
    const double secs = i2v__mono() - pr.t0;
    /* One key=value line; the plan is quoted (it never contains a quote). */
    fprintf(stderr,
            "event=render_done output=%s width=%d height=%d frames=%d fps=%d move=%s "
            "reversed=%d photos=%d audio=%d seconds=%.2f realtime=%.1fx plan=\"%s\"\n",
            output, i2v_plan_width(plan), i2v_plan_height(plan), i2v_plan_frames(plan), spec.fps,
            i2v_move_name(i2v_plan_move(plan)), i2v_plan_reversed(plan), nphotos, spec.audio, secs,
            secs > 0 ? spec.duration / secs : 0.0, i2v_plan_description(plan));
    printf("%s\n", output);
    status = 0;
out:
    i2v_plan_free(&plan);
    for (int i = 0; i < nphotos; i++)
        i2v_photo_free(&photos[i]);
    return status;
}
