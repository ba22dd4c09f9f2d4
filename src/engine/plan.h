/*
 * plan.h - internal side of i2v_plan: one shot per photo (its framing, the
 * analysis it was based on, its own camera path and its frames), the joins
 * between shots, and the look; render.c reads these fields.
 */
#ifndef I2V_PLAN_H
#define I2V_PLAN_H

#include "align.h"
#include "analyze.h"
#include "audio.h"
#include "camera.h"
#include "fl3d.h"
#include "look.h"
#include "room.h"
#include "warp3d.h"

typedef struct i2v_shot {
    int pw, ph;              /* the photo, upright pixels */
    double fx, fy, fw, fh;   /* the frame (cover crop) in upright photo pixels */
    double focus_x, focus_y; /* in frame units */
    i2v_move move;           /* concrete move */
    i2v_path path;
    i2v_analysis analysis;
    int f0;     /* first frame of the shot */
    int nmove;  /* frames playing its own move */
    int ntrans; /* then frames of the join to the next shot */
    /* The join to the next shot. */
    i2v_transition_info join;
    int ends_inclusive; /* the join's first and last frames are the stills (first-last) */
    double bump;        /* gentle push-in-and-settle during the join (0: hold) */
    char text[400];     /* the shot in words (the AUTO prompt) */
    /* The 3D camera (single-photo plans of a room). */
    int room_known; /* room below was looked for */
    i2v_room room;
    int cam3d; /* the shot's frames are rendered by path3d in scene */
    i2v_path3d path3d;
    i2v_scene3d scene;
} i2v_shot;

struct i2v_plan {
    i2v_spec spec;     /* validated; spec.prompt points at prompt below */
    char *prompt;      /* owned copy, may be NULL */
    int width, height; /* output size */
    int frames;
    i2v_join kind;
    int nshots;
    i2v_shot *shot;
    i2v_steer steer; /* from the prompt */
    i2v_look look;
    i2v_sound sound;
    char description[2048];
    char understood[320];
    char camera_note[320]; /* see i2v_plan_camera_note */
    /* First-last on rooms: the join walks the 3D camera from the first
     * photo's viewpoint to the last's; shot[k].room and .scene hold each
     * photo's room. */
    int fl3d;
    i2v_fl3d fl;
};

/* AUTO_EFFECTS: chooses a concrete move and its amount from the analysis
 * and writes the prompt describing it into text; focus (frame units) is the
 * detail focus it speaks of. *light is set when the move should aim at the
 * photo's brightest region instead. */
void i2v__plan_choose(const i2v_analysis *a, int out_w, int out_h, double focus_x, double focus_y,
                      i2v_move *move, double *amount, int *light, char *text, size_t text_len);

/* The camera of shot s at its frame j of its move (the still framing when the
 * shot has no move of its own). */
i2v_cam i2v__shot_cam(const i2v_shot *s, int j);

/* Whether frame i of a first-last plan on rooms is rendered by the 3D
 * camera: then each photo's pose (in its own camera's coordinates, with the
 * shared output camera) in c[0] and c[1], and the second photo's weight in
 * *mix. Its first and last frames are the photos' still framings (0). */
int i2v__plan_fl3d_frame(const i2v_plan *p, int i, i2v_cam3d c[2], double *mix);

/* The 3D pose of frame j of a cam3d shot. */
i2v_cam3d i2v__shot_cam3d(const i2v_shot *s, int j);

#endif
