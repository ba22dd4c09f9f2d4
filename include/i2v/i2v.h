/*
 * i2v.h - public interface of libi2v, the camera-motion engine behind `i2v`.
 *
 * The engine turns one photo into a short H.264 MP4 by moving a virtual camera
 * across it (zoom, pan, push-out), or several photos into one video joined by
 * dissolves and, where two photos show one scene, by a camera travel along
 * their alignment. It is not a generative model: every output pixel is a
 * filtered sample (or a blend of two samples) of the photos, colour-graded as
 * the prompt asks; the optional soundtrack is synthesised ambience.
 *
 * Lifecycle, in the order data flows:
 *
 *     i2v_photo *photo = NULL;   i2v_photo_open_file(&photo, "in.jpg", NULL, &err);
 *     i2v_spec spec;             i2v_spec_init(&spec);  spec.move = I2V_MOVE_ZOOM_IN;
 *     i2v_plan *plan = NULL;     i2v_plan_new(&plan, photo, &spec, &err);
 *     i2v_output out = {.video_path = "out.mp4", .cover_path = "cover.jpg"};
 *     i2v_render(photo, plan, &out, &err);
 *     i2v_plan_free(&plan);      i2v_photo_free(&photo);
 *
 * Conventions: functions return 0 (I2V_OK) or a negative i2v_code and, when an
 * i2v_error is given, a one-line message for humans. `x_free(&x)` releases x and
 * sets the pointer to NULL; freeing NULL does nothing. Every pointer a function
 * returns stays owned by the object it came from unless the comment says otherwise.
 */
#ifndef I2V_I2V_H
#define I2V_I2V_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define I2V_VERSION "0.1.0"

/* Error codes. Never renumbered; every code has a string (i2v_strerror). */
typedef enum i2v_code {
    I2V_OK = 0,
    I2V_EINVAL = -1,        /* an argument or option is invalid */
    I2V_ENOMEM = -2,        /* out of memory */
    I2V_EIO = -3,           /* a file could not be read or written */
    I2V_EFORMAT = -4,       /* the bytes are not an image format i2v reads */
    I2V_ECORRUPT = -5,      /* the image is truncated or corrupt */
    I2V_ELIMIT = -6,        /* a configured limit (bytes, pixels) was exceeded */
    I2V_EENCODE = -7,       /* the video encoder or muxer failed */
    I2V_ECANCELLED = -8,    /* the caller's cancel flag was raised */
    I2V_EINTERNAL = -9,     /* a bug: please report it */
    I2V_ENOTFOUND = -10,    /* no such user, key, generation or file */
    I2V_ECREDIT = -11,      /* not enough credits */
    I2V_ELOST = -12,        /* a worker's lease was lost: another owner took the job */
    I2V_EFETCH = -13,       /* a URL could not be fetched */
    I2V_EDENIED = -14,      /* refused by policy (address, scheme, review) */
    I2V_EDB = -15,          /* the job store failed */
    I2V_EDUPLICATE = -16,   /* an idempotency key is already taken */
    I2V_EUNAVAILABLE = -17, /* a server (database, object store) is unreachable: retry */
    I2V_ESTATE = -18,       /* not allowed in the object's state (a finished generation) */
} i2v_code;

const char *i2v_strerror(int code);

typedef struct i2v_error {
    int code;
    char message[256];
} i2v_error;

/* Limits checked while reading a photo, before any pixel buffer is allocated. */
typedef struct i2v_limits {
    uint64_t max_bytes;  /* encoded file size; default 64 MiB */
    uint64_t max_pixels; /* width*height from the header; default 100 MP */
} i2v_limits;

void i2v_limits_init(i2v_limits *lim);

/* ---- photo: the encoded bytes plus what their header says ---- */

typedef struct i2v_photo i2v_photo;

/* Reads the file, recognises the format from its bytes and checks the header
 * against `lim` (NULL: defaults). No pixels are decoded yet. */
int i2v_photo_open_file(i2v_photo **out, const char *path, const i2v_limits *lim, i2v_error *err);
/* Same from memory; the bytes are copied. */
int i2v_photo_open_memory(i2v_photo **out, const void *data, size_t len, const i2v_limits *lim,
                          i2v_error *err);
void i2v_photo_free(i2v_photo **photo);

/* Size after EXIF orientation is applied, i.e. as the photo is meant to be seen. */
int i2v_photo_width(const i2v_photo *photo);
int i2v_photo_height(const i2v_photo *photo);
/* "jpeg", "png", "webp" or "heic". */
const char *i2v_photo_format(const i2v_photo *photo);
/* EXIF orientation 1..8 as found in the file (1 when absent). */
int i2v_photo_orientation(const i2v_photo *photo);

/* ---- spec: what the caller asks for ---- */

typedef enum i2v_move {
    I2V_MOVE_ZOOM_IN = 0,
    I2V_MOVE_ZOOM_OUT,
    I2V_MOVE_PAN_RIGHT,
    I2V_MOVE_PAN_LEFT,
    I2V_MOVE_PAN_UP,
    I2V_MOVE_PAN_DOWN,
    I2V_MOVE_CAMERA_PUSH_OUT,
    I2V_MOVE_AUTO_EFFECTS,
    I2V_MOVE_AUTO_REVERSE,
    /* 3D camera moves through a room (see i2v_photo_room); on a photo that is
     * not taken for a room they fall back to ZOOM_IN, ZOOM_OUT, PAN_LEFT,
     * PAN_RIGHT and PAN_RIGHT, and the plan says why (i2v_plan_camera_note). */
    I2V_MOVE_DOLLY_IN,    /* walk into the room, at eye height */
    I2V_MOVE_DOLLY_OUT,   /* the reverse: ends on the photo's own viewpoint */
    I2V_MOVE_TRUCK_LEFT,  /* step sideways to the left */
    I2V_MOVE_TRUCK_RIGHT, /* step sideways to the right */
    I2V_MOVE_ORBIT,       /* a gentle arc around a point of the room */
    I2V_MOVE_COUNT
} i2v_move;

/* "ZOOM_IN" ... "AUTO_REVERSE", "DOLLY_IN" ... "ORBIT"; NULL for an out-of-range value. */
const char *i2v_move_name(i2v_move move);
/* Case-insensitive; returns I2V_EINVAL for an unknown name. */
int i2v_move_parse(const char *name, i2v_move *out);
/* The camera move a plain-words prompt names ("zoom in", "pan left", "pull
 * back", "push out", ...), the earliest one mentioned. Returns 1 and sets
 * *move, or 0 when the prompt (may be NULL) names none. */
int i2v_prompt_move(const char *prompt, i2v_move *move);
/* Lower-cases text into words of letters and digits separated by single
 * spaces, with a space at both ends, so that strstr(out, " some phrase ")
 * matches whole words only; cut to cap bytes. How every prompt is read. */
void i2v_prompt_words(const char *in, char *out, size_t cap);

typedef enum i2v_model {
    I2V_MODEL_FLASH = 0, /* fast default: x264 veryfast, bicubic-class filter */
    I2V_MODEL_BASE = 1,  /* slower preset, wider Lanczos filter */
} i2v_model;

typedef struct i2v_spec {
    i2v_move move;      /* default ZOOM_IN */
    const char *prompt; /* plain words steering the move; may be NULL; borrowed */
    int width, height;  /* output size, even, 128..4096; 0x0 = 1280x720 landscape /
                           720x1280 portrait following the photo */
    int fps;            /* 1..60, default 30 */
    double duration;    /* seconds, 1..30, default 5 */
    i2v_model model;    /* default FLASH */
    int crf;            /* x264 constant quality 0..51, default 20 */
    int audio;          /* 1: an ambient AAC soundtrack (texture from the prompt) */
} i2v_spec;

void i2v_spec_init(i2v_spec *spec);
/* Checks every field; the message names the field. */
int i2v_spec_validate(const i2v_spec *spec, i2v_error *err);

/* ---- plan: the camera path, one view rectangle per frame ---- */

typedef struct i2v_plan i2v_plan;

/* A view into the photo, in oriented photo pixels (continuous coordinates,
 * pixel (0,0) covers [0,1)x[0,1)). Always inside the photo. */
typedef struct i2v_view {
    double x, y, w, h;
} i2v_view;

/* Plans the move for `photo`. AUTO_* moves analyse the photo to choose (the
 * prompt's speed, amount, timing and look words still apply). The spec's
 * prompt string is copied. */
int i2v_plan_new(i2v_plan **out, const i2v_photo *photo, const i2v_spec *spec, i2v_error *err);

/* How several photos make one video. */
typedef enum i2v_join {
    /* Every photo gets a segment of equal length with its own move (AUTO_*:
     * chosen per photo); segments are joined by a transition. */
    I2V_JOIN_TOUR = 0,
    /* Exactly two photos: the first frame is the first photo, the last frame
     * the second, each framed as a still of it; the whole video is the
     * transition between them. */
    I2V_JOIN_FIRST_LAST = 1,
} i2v_join;

#define I2V_PHOTOS_MAX 16

/* Plans a video of n photos (1..I2V_PHOTOS_MAX) joined as `join` says.
 * Consecutive photos are aligned (features + homography): photos of one scene
 * from different viewpoints are joined by a camera travel from one view to the
 * other while they dissolve; the same viewpoint or unrelated photos by a
 * dissolve (under a gentle move in first-last mode). */
int i2v_plan_new_multi(i2v_plan **out, const i2v_photo *const *photos, int n, i2v_join join,
                       const i2v_spec *spec, i2v_error *err);
void i2v_plan_free(i2v_plan **plan);

int i2v_plan_frames(const i2v_plan *plan);
int i2v_plan_width(const i2v_plan *plan);
int i2v_plan_height(const i2v_plan *plan);
/* The concrete move (never AUTO_*); for AUTO_REVERSE the move that is played backwards. */
i2v_move i2v_plan_move(const i2v_plan *plan);
int i2v_plan_reversed(const i2v_plan *plan);
/* Plain-words description of the plan, e.g. the prompt AUTO_EFFECTS wrote. */
const char *i2v_plan_description(const i2v_plan *plan);
/* What the prompt was understood as, e.g. "move=PAN_LEFT speed=slow
 * amount=normal timing=ease-in-out focus=auto look=warm sound=rain". */
const char *i2v_plan_understood(const i2v_plan *plan);
int i2v_plan_photos(const i2v_plan *plan);

typedef enum i2v_transition {
    I2V_TRANSITION_DISSOLVE = 0, /* no alignment found: a plain dissolve */
    I2V_TRANSITION_SAME_VIEW,    /* aligned, same viewpoint: a dissolve in place */
    I2V_TRANSITION_TRAVEL,       /* aligned, different viewpoints: the camera travels */
} i2v_transition;

typedef struct i2v_transition_info {
    i2v_transition kind;
    int matches, inliers; /* feature matches and those consistent with the homography */
    double rms;           /* inlier error of the homography, preview pixels */
    double homography[9]; /* first photo's pixels -> second photo's (upright photo pixels) */
    double scale, shift_x, shift_y; /* the similarity the camera follows */
} i2v_transition_info;

/* "none" (no alignment found), "same-viewpoint" or "travel". */
const char *i2v_transition_name(i2v_transition kind);

/* The join between photo k and photo k+1; I2V_EINVAL when k is out of range. */
int i2v_plan_transition(const i2v_plan *plan, int k, i2v_transition_info *info);

/* What frame i shows: one or two layers (photo index, view, weight); the
 * weights sum to 1. Returns the number of layers, or I2V_EINVAL. */
typedef struct i2v_layer {
    int photo;
    i2v_view view; /* may reach outside the photo during a travel */
    double weight;
} i2v_layer;

int i2v_plan_layers(const i2v_plan *plan, int i, i2v_layer layers[2]);
/* The view of frame i (0-based) in its main layer's photo; I2V_EINVAL when i is
 * out of range. */
int i2v_plan_view(const i2v_plan *plan, int i, i2v_view *view);

/* ---- render: decode, resample and encode ---- */

/* Called after each encoded frame; return non-zero to cancel. */
typedef int (*i2v_progress_fn)(void *user, int frames_done, int frames_total);

typedef struct i2v_output {
    const char *video_path; /* MP4, written atomically (temp file + rename) */
    const char *cover_path; /* JPEG of frame 0; NULL: none */
    i2v_progress_fn progress;
    void *progress_user;
    const volatile int *cancel; /* polled between frames; may be NULL */
    int threads;                /* render threads; 0 = number of cores */
    /* JPEGs of nsamples frames spread evenly through the video (frame
     * round(k * (frames - 1) / (nsamples + 1)) into sample_paths[k - 1],
     * k = 1..nsamples: 25, 50 and 75% for three), as the cover is written;
     * NULL / 0: none. On failure none is left. */
    const char *const *sample_paths;
    int nsamples;
} i2v_output;

/* Renders the plan to `out->video_path`. On failure no output file is left. */
int i2v_render(const i2v_photo *photo, const i2v_plan *plan, const i2v_output *out, i2v_error *err);
/* Same for a plan of n photos, given in the order they were planned. */
int i2v_render_multi(const i2v_photo *const *photos, int n, const i2v_plan *plan,
                     const i2v_output *out, i2v_error *err);

/* ---- rooms: the camera and the layout of an interior, from its lines ---- */

/* A photo is taken for a room when its confidence reaches this. */
#define I2V_ROOM_THRESHOLD 0.5

typedef enum i2v_face {
    I2V_FACE_FLOOR = 0,
    I2V_FACE_CEILING,
    I2V_FACE_LEFT,  /* the wall at -X */
    I2V_FACE_RIGHT, /* the wall at +X */
    I2V_FACE_BACK,  /* the wall at +Z, facing the camera */
    I2V_FACE_COUNT
} i2v_face;

typedef struct i2v_room_face {
    int visible;        /* seen in the photo */
    double normal[3];   /* unit, camera coordinates, pointing away from the camera */
    double distance;    /* metres from the camera to the plane */
    int n;              /* vertices of the polygon where it is seen (0 .. 12) */
    double poly[12][2]; /* convex, photo pixels */
    double area;        /* share of the photo it covers, 0..1 */
    double support;     /* share of its visible edges that image lines confirm, 0..1 */
} i2v_room_face;

/*
 * What i2v sees of a room. Coordinates: the photo's camera at the origin, x
 * right, y down, z forward (its optical axis); room axes X lateral, Y down
 * (gravity), Z depth. The rotation takes room directions to camera ones
 * (X_cam = R X_room); yaw turns right, pitch looks up, roll turns clockwise,
 * degrees. Distances are in metres on the assumption that the camera was at
 * eye_height above the floor. Numbers refer to upright photo pixels.
 */
typedef struct i2v_room {
    int is_room;       /* confidence >= I2V_ROOM_THRESHOLD */
    double confidence; /* 0..1 */
    char reason[160];  /* why it is not a room, or what is weakest */
    int width, height; /* the photo */
    int segments;      /* line segments found */
    int inliers[3];    /* segments along X, Y (vertical), Z */
    double share;      /* share of segment length along the three directions */
    double rms_deg;    /* their rms angular error */
    double vp[3][3]; /* vanishing points of X, Y, Z: homogeneous photo pixels, w = 0 at infinity */
    double focal;    /* pixels */
    double focal_35mm;       /* 35 mm equivalent, by the diagonal */
    int focal_measured;      /* 1: fixed by the vanishing points; 0: assumed */
    double rotation[9];      /* row-major */
    double yaw, pitch, roll; /* degrees */
    double eye_height;       /* metres, assumed */
    double layout_support;   /* 0..1: how well image lines confirm the layout */
    i2v_room_face face[I2V_FACE_COUNT];
} i2v_room;

/* Finds the room in the photo: line segments, the three orthogonal vanishing
 * points, the focal length and rotation, and a box layout (floor, ceiling,
 * walls) fitted to the lines. A photo that is not a room is not an error:
 * room->is_room is 0 and room->reason says why. */
int i2v_photo_room(const i2v_photo *photo, i2v_room *room, i2v_error *err);
/* The same, and writes a PNG showing the segments coloured by direction (X
 * red, Y green, Z blue, others grey) and the layout's edges (yellow) over the
 * photo. room may be NULL. */
int i2v_photo_room_overlay(const i2v_photo *photo, const char *png_path, i2v_room *room,
                           i2v_error *err);

/* The 3D camera of frame i of a plan whose move is a 3D one. */
typedef struct i2v_pose {
    double position[3]; /* metres, in the photo camera's coordinates */
    double yaw, pitch;  /* degrees, relative to the photo's camera */
    double focal;       /* output pixels */
} i2v_pose;

/* I2V_EINVAL when i is out of range, I2V_ENOTFOUND when frame i is not
 * rendered by the 3D camera (2D moves, fallbacks). */
int i2v_plan_pose(const i2v_plan *plan, int i, i2v_pose *pose);
/* "" when no 3D move was asked for or chosen; otherwise one line saying
 * which camera renders the plan, e.g. "camera=3d room=0.83 dolly=0.50m" or
 * "camera=2d reason=\"...\"". */
const char *i2v_plan_camera_note(const i2v_plan *plan);

/*
 * First-last plans (I2V_JOIN_FIRST_LAST) always have a camera note. When the
 * two photos are two viewpoints of one room (both confident rooms, headings
 * within 30 degrees, the same tilt, matching points and walls agreeing on
 * where the second viewpoint is) the join walks the 3D camera from the first
 * photo's viewpoint to the last's, each frame mixing both photos rendered
 * from that pose, and the note reads "camera=3d move=FIRST_LAST walk_m=...
 * offset_m=x,y,z ..." (the last viewpoint in the first photo's camera
 * coordinates, metres); i2v_plan_pose then gives every frame's pose in those
 * coordinates. Otherwise the 2D travel runs and the note reads
 * "camera=2d move=FIRST_LAST reason=\"...\"". The first and last frames are
 * the photos' still framings either way. A prompt with "2D" or "no 3D" keeps
 * the 2D camera (also for the single-photo 3D moves).
 */

#ifdef __cplusplus
}
#endif
#endif
