/*
 * warp3d.h - rendering a frame of the 3D camera: every output sample is traced
 * as a ray from the moving camera into the room's box, meets the first face,
 * and is resampled from the photo where the photo's camera saw that point.
 *
 * For each face k the map from output pixels to photo pixels is the plane's
 * homography G_k = S K M_k Rf^T A (A: output pixel -> ray of the moving
 * camera, Rf: its rotation, M_k = C n_k^T + (d_k - n_k.C) I: ray -> point of
 * the plane, K: the photo's intrinsics, S: photo -> decoded pixels), which is
 * K (R - t n^T / d) K^-1 in the usual notation, taken the other way. The face
 * a sample sees is the plane with the largest n_k.ray / (d_k - n_k.C): a
 * linear function of the output pixel per plane, so the faces' polygons need
 * no clipping and neighbouring faces agree exactly on their common edge (the
 * box is closed): the source position is continuous across seams, only its
 * derivative changes there.
 *
 * The general homography is not separable, so this is a per-sample inverse
 * mapping: the source position is computed exactly (double precision, no
 * rounding to a grid) and filtered with the renderer's own kernel (Keys cubic
 * or Lanczos-3) applied along the source axes, each axis stretched by
 * max(1, local source pixels per output pixel) from the homography's
 * Jacobian at that sample: an axis-aligned approximation of an elliptical
 * footprint. Where the view magnifies (a dolly in) this is plain cubic
 * interpolation at the exact position; where it minifies the kernel widens
 * as in the separable path, so fine texture averages instead of aliasing.
 * Weights are normalised per sample (a flat photo stays exactly flat).
 *
 * The AVX2 path, where the view magnifies, cuts each row's run of one plane
 * into segments of up to 128 samples and takes their positions from the
 * quadratic through the exact positions at the segment's first, middle and
 * last sample, where the homography's third derivative bounds the error
 * below 1/512 source pixel and the Jacobian, bounded over the segment, is
 * magnifying everywhere; elsewhere positions are exact. Taps come from
 * source rows loaded once and spread by byte shuffles, horizontal weights in
 * 1/16384. It differs from the scalar path by at most one level, in about
 * one sample in 7,000 on a 720p dolly.
 */
#ifndef I2V_WARP3D_H
#define I2V_WARP3D_H

#include "camera.h"
#include "colour.h"
#include "resample.h"
#include "room.h"

#define I2V_WARP_FOOTPRINT_MAX 6.0 /* widest kernel stretch: 24 taps (cubic) per axis */

/* What frame i of a 3D shot needs: the photo's camera and box, the framing. */
typedef struct i2v_scene3d {
    double f;                /* photo focal length, photo pixels */
    double pw, ph;           /* photo size: principal point at the centre */
    double n[I2V_PLANES][3]; /* plane normals, photo camera coordinates */
    double d[I2V_PLANES];    /* plane distances, metres */
    double fx, fy, fw, fh;   /* the frame (cover crop), photo pixels */
    int out_w, out_h;
} i2v_scene3d;

/* Sets up the scene from a room (its box) and a framing. */
void i2v__scene3d_init(i2v_scene3d *s, const i2v_room *room, int pw, int ph, double fx, double fy,
                       double fw, double fh, int out_w, int out_h);

/* The output camera of the scene's framing through a lens zoom times longer
 * than the photo's: focal length and principal point, output pixels. */
void i2v__scene3d_intrinsics(const i2v_scene3d *s, double zoom, double *fo, double *cox,
                             double *coy);

/* One frame's maps: output luma pixel coordinates (continuous) -> source
 * coordinates (continuous, in pixels of a photo decoded at kx, ky times its
 * size). */
typedef struct i2v_warp {
    double sel[I2V_PLANES][3];
    double G[I2V_PLANES][9];
    i2v_kernel kernel;
    int avx2; /* the CPU has AVX2 and FMA: 8 samples at a time where it can */
} i2v_warp;

void i2v__warp_setup(i2v_warp *w, const i2v_scene3d *s, const i2v_cam3d *cam, double kx, double ky,
                     i2v_kernel kernel);

/* Maps an output point (luma, continuous) to source coordinates; the plane
 * it sees in *plane (may be NULL) and the Jacobian (source per output pixel,
 * row-major 2x2) in J (may be NULL). Returns 0, or -1 when no plane is in
 * front (cannot happen inside a closed box). */
int i2v__warp_map(const i2v_warp *w, double x, double y, double *u, double *v, int *plane,
                  double J[4]);

/* Renders rows [y0, y1) of plane dst from src: chroma = 0 for luma (samples
 * centred on output luma x+0.5, y+0.5; source centred on i+0.5), 1 for
 * chroma planes (output chroma sited on luma 2x+0.5, 2y+1; source chroma
 * centred on luma 2i+1). Thread-safe for disjoint rows. */
void i2v__warp_rows(const i2v_warp *w, const i2v_plane *src, i2v_plane *dst, int chroma, int y0,
                    int y1);

/* The two chroma planes at once (chroma = 1): they share the map and the
 * weights, computed once. */
void i2v__warp_rows2(const i2v_warp *w, const i2v_plane *src, i2v_plane *dst, const i2v_plane *src2,
                     i2v_plane *dst2, int y0, int y1);

/* How much of each of the n output samples of row y (chroma as in
 * i2v__warp_rows) falls on the source, a src_w x src_h luma plane: 1 inside,
 * fading to 0 over feather output pixels outside its edge. */
void i2v__warp_cover_row(const i2v_warp *w, double src_w, double src_h, int chroma, int y, int n,
                         double feather, float *cov);

/* Where the frame's output samples land in the photo (photo pixels): the
 * bounding box of a grid of them, and the least source-per-output scale
 * (smallest singular value of the Jacobian) over that grid. */
void i2v__warp_extent(const i2v_scene3d *s, const i2v_cam3d *cam, double *x0, double *y0,
                      double *x1, double *y1, double *min_scale);

/* The most source pixels per output pixel the frame's samples take along
 * each photo axis (photo pixels): the longest rows of the Jacobian over a
 * grid of samples every few output pixels and along the border. A photo
 * decoded at kx <= 1 / *su and ky <= 1 / *sv is magnified everywhere. */
void i2v__warp_max_scale(const i2v_scene3d *s, const i2v_cam3d *cam, double *su, double *sv);

/* src (working planes: luma sample i centred on i + 0.5, chroma on luma
 * 2i + 1) resampled to a w x h luma size with the same siting, anti-aliased
 * with kernel k: the source the warp samples when the photo was decoded
 * larger than its frames need. out is allocated (i2v__ycc_release). */
int i2v__warp_reduce(const i2v_ycc *src, int w, int h, i2v_kernel k, i2v_ycc *out, i2v_error *err);

/* Whether every output sample of the pose maps at least margin photo pixels
 * inside the photo (checked on a grid of samples and along the border). */
int i2v__warp_inside(const i2v_scene3d *s, const i2v_cam3d *cam, double margin);

#endif
