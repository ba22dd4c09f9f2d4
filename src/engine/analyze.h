/*
 * analyze.h - what the planner knows about a photo: where its detail is, how
 * concentrated it is, and which way its lines run. Computed on a small
 * greyscale preview (a few hundred pixels across), so it costs milliseconds.
 */
#ifndef I2V_ANALYZE_H
#define I2V_ANALYZE_H

#include "image.h"

#define I2V_GRID_MAX 64

typedef struct i2v_analysis {
    int gw, gh;                                /* grid size (cells), long side I2V_GRID_MAX */
    float detail[I2V_GRID_MAX * I2V_GRID_MAX]; /* gradient energy per cell, mean 1 */
    double focus_x, focus_y;                   /* peak of the smoothed detail, 0..1 */
    double concentration;                      /* smoothed peak / mean, >= 1 */
    double balance_x;                          /* detail right minus left, -1..1 */
    double balance_y;                          /* detail bottom minus top, -1..1 */
    double lines_h, lines_v;                   /* share of edge energy in horizontal /
                                                  vertical lines, 0..1 */
    double horizon_y;                          /* row of the strongest horizontal edge, 0..1 */
    float luma[I2V_GRID_MAX * I2V_GRID_MAX];   /* mean brightness per cell, 0..1 */
    double bright_x, bright_y;                 /* centre of the brightest region, 0..1 */
    double bright_excess;                      /* its brightness above the mean, 0..1 */
    double sky;      /* 0..1: the top of the photo is bright, plain and open (outdoors) */
    double interior; /* 0..1: no sky, upright walls and edges all over (a room) */
} i2v_analysis;

int i2v__analyze(const i2v_rgb *img, i2v_analysis *a, i2v_error *err);

/* Detail-weighted position (0..1 of the free range) of a window of relative
 * size win (0..1] along x (axis 0) or y (axis 1), biased to the centre. */
double i2v__analysis_best_window(const i2v_analysis *a, int axis, double win);

#endif
