/*
 * test_warp3d.c - the 3D camera's frames: at the photo's own pose they are the
 * 2D renderer's zoom-1 view (same positions, same pixels within one level);
 * a dolly towards a frontal wall is an exact zoom about the principal point;
 * faces meet without a seam; a flat photo stays flat; a minified fine pattern
 * averages instead of aliasing; 3D plans stay inside the photo and fall back
 * to 2D on photos that are not rooms.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "engine/plan.h"
#include "engine/render.h"
#include "engine/warp3d.h"

/* A level camera looking straight at the back wall of a box room. */
static void frontal_room(i2v_room *r, double f)
{
    memset(r, 0, sizeof *r);
    r->focal = f;
    static const double n[I2V_FACE_COUNT][3] = {
        {0, 1, 0}, {0, -1, 0}, {-1, 0, 0}, {1, 0, 0}, {0, 0, 1}};
    static const double d[I2V_FACE_COUNT] = {1.5, 1.2, 2.5, 2.0, 4.0};
    for (int k = 0; k < I2V_FACE_COUNT; k++) {
        memcpy(r->face[k].normal, n[k], sizeof n[k]);
        r->face[k].distance = d[k];
    }
}

static i2v_cam3d still_pose(void)
{
    i2v_cam3d c;
    memset(&c, 0, sizeof c);
    c.Rf[0] = c.Rf[4] = c.Rf[8] = 1;
    c.zoom = 1;
    return c;
}

static void test_photo_pose_is_the_2d_view(void **state)
{
    (void)state;
    i2v_room r;
    frontal_room(&r, 900);
    /* A 1600x1000 photo framed as a 1600x900 crop at y = 40, shown at 640x360. */
    i2v_scene3d s;
    i2v__scene3d_init(&s, &r, 1600, 1000, 0, 40, 1600, 900, 640, 360);
    const i2v_cam3d c = still_pose();
    i2v_warp w;
    i2v__warp_setup(&w, &s, &c, 0.5, 0.5, I2V_KERNEL_CUBIC); /* decoded at half size */
    double worst = 0;
    for (int y = 0; y < 360; y += 7)
        for (int x = 0; x < 640; x += 5) {
            double u, v;
            assert_int_equal(i2v__warp_map(&w, x + 0.5, y + 0.5, &u, &v, NULL, NULL), 0);
            /* The 2D view (0, 40, 1600, 900) at zoom 1, in decoded pixels. */
            const double eu = 0.5 * (0 + (x + 0.5) * 1600 / 640.0);
            const double ev = 0.5 * (40 + (y + 0.5) * 900 / 360.0);
            worst = fmax(worst, fmax(fabs(u - eu), fabs(v - ev)));
        }
    printf("photo pose vs 2D view: positions within %.2e px\n", worst);
    assert_true(worst < 1e-9);

    /* Same pixels as the separable 2D path, within one grey level. */
    const int sw = 800, sh = 500;
    uint8_t *img = malloc((size_t)sw * sh), *a = malloc(640 * 360), *b = malloc(640 * 360);
    uint32_t seed = 3;
    for (int i = 0; i < sw * sh; i++) {
        seed = seed * 1664525u + 1013904223u;
        img[i] = (uint8_t)(((i % sw) * 3 + (i / sw) * 5) % 200 + (seed >> 29));
    }
    const i2v_plane src = {img, sw, sh, sw};
    i2v_plane pa = {a, 640, 360, 640}, pb = {b, 640, 360, 640};
    i2v__warp_rows(&w, &src, &pa, 0, 0, 360);
    i2v_axis ax = {0}, ay = {0};
    i2v_rscratch sc = {0};
    const double kx = 800.0 / 640, ky = 450.0 / 360; /* the view in decoded pixels */
    assert_int_equal(i2v__axis_build(&ax, 640, sw, 0.5 * kx - 0.5, kx, I2V_KERNEL_CUBIC, NULL), 0);
    assert_int_equal(i2v__axis_build(&ay, 360, sh, 20 + 0.5 * ky - 0.5, ky, I2V_KERNEL_CUBIC, NULL),
                     0);
    assert_int_equal(i2v__rscratch_reserve(&sc, (size_t)(ax.hi - ax.lo), NULL), 0);
    i2v__resample_rows(&src, &pb, &ax, &ay, 0, 360, &sc);
    int maxd = 0;
    for (int i = 0; i < 640 * 360; i++) {
        maxd = abs(a[i] - b[i]) > maxd ? abs(a[i] - b[i]) : maxd;
    }
    printf("photo pose vs 2D renderer: pixels within %d level(s)\n", maxd);
    assert_true(maxd <= 1);
    i2v__axis_release(&ax);
    i2v__axis_release(&ay);
    i2v__rscratch_release(&sc);
    free(img);
    free(a);
    free(b);
}

/* A photo decoded larger than the frames need is resampled once to the size
 * at which the widest view samples it 1:1; the warp then magnifies
 * everywhere, and at the photo's own pose it matches the 2D renderer's view
 * of the full decode (the reduced photo is sampled between its samples, so
 * not exactly: a PSNR bound). */
static void test_reduced_source_keeps_the_first_frame(void **state)
{
    (void)state;
    i2v_room r;
    frontal_room(&r, 900);
    /* A 1600x1000 photo framed as 1600x900 at y = 41 (not on the reduced
     * grid), shown at 640x360, decoded at half size. */
    i2v_scene3d s;
    i2v__scene3d_init(&s, &r, 1600, 1000, 0, 41, 1600, 900, 640, 360);
    const i2v_cam3d c = still_pose();
    double su, sv;
    i2v__warp_max_scale(&s, &c, &su, &sv);
    assert_true(fabs(su - 2.5) < 1e-9 && fabs(sv - 2.5) < 1e-9);
    i2v_cam3d in = still_pose();
    in.C[2] = 1.0; /* a metre towards the back wall: magnified further */
    double iu, iv;
    i2v__warp_max_scale(&s, &in, &iu, &iv);
    assert_true(iu < su && iv < sv);

    const int sw = 800, sh = 500;
    i2v_ycc full = {0};
    full.mem = malloc((size_t)sw * sh + 2 * (size_t)(sw / 2) * (sh / 2));
    assert_non_null(full.mem);
    full.p[0] = (i2v_plane){full.mem, sw, sh, sw};
    full.p[1] = (i2v_plane){full.mem + sw * sh, sw / 2, sh / 2, sw / 2};
    full.p[2] = (i2v_plane){full.mem + sw * sh + (sw / 2) * (sh / 2), sw / 2, sh / 2, sw / 2};
    uint32_t seed = 7;
    for (int i = 0; i < sw * sh + 2 * (sw / 2) * (sh / 2); i++) {
        seed = seed * 1664525u + 1013904223u;
        const int x = i % sw, y = i / sw;
        full.mem[i] = (uint8_t)(16 + 100 + 60 * sin(x * 0.21) * cos(y * 0.17) + (seed >> 28));
    }
    const int w = (int)floor(1600 / su), h = (int)floor(1000 / sv);
    assert_int_equal(w, 640);
    assert_int_equal(h, 400);
    i2v_ycc red = {0};
    assert_int_equal(i2v__warp_reduce(&full, w, h, I2V_KERNEL_CUBIC, &red, NULL), 0);
    assert_int_equal(red.p[1].width, 320);
    assert_int_equal(red.p[1].height, 200);
    /* Every sample of the reduced view is magnified (at most 1 source pixel
     * per output pixel along each axis). */
    i2v_warp wr;
    i2v__warp_setup(&wr, &s, &c, w / 1600.0, h / 1000.0, I2V_KERNEL_CUBIC);
    for (int y = 0; y < 360; y += 9)
        for (int x = 0; x < 640; x += 11) {
            double u, v, J[4];
            assert_int_equal(i2v__warp_map(&wr, x + 0.5, y + 0.5, &u, &v, NULL, J), 0);
            assert_true(hypot(J[0], J[1]) <= 1 + 1e-12 && hypot(J[2], J[3]) <= 1 + 1e-12);
        }
    uint8_t *a = malloc(640 * 360), *b = malloc(640 * 360);
    i2v_plane pa = {a, 640, 360, 640}, pb = {b, 640, 360, 640};
    i2v__warp_rows(&wr, &red.p[0], &pa, 0, 0, 360);
    /* The 2D renderer: the view (0, 20.5, 800, 450) of the half-size decode. */
    i2v_axis ax = {0}, ay = {0};
    i2v_rscratch sc = {0};
    const double k = 800.0 / 640;
    assert_int_equal(i2v__axis_build(&ax, 640, sw, 0.5 * k - 0.5, k, I2V_KERNEL_CUBIC, NULL), 0);
    assert_int_equal(i2v__axis_build(&ay, 360, sh, 20.5 + 0.5 * k - 0.5, k, I2V_KERNEL_CUBIC, NULL),
                     0);
    assert_int_equal(i2v__rscratch_reserve(&sc, (size_t)(ax.hi - ax.lo), NULL), 0);
    i2v__resample_rows(&full.p[0], &pb, &ax, &ay, 0, 360, &sc);
    double se = 0;
    for (int i = 0; i < 640 * 360; i++)
        se += (double)(a[i] - b[i]) * (a[i] - b[i]);
    const double psnr = 10 * log10(255.0 * 255.0 / fmax(se / (640 * 360), 1e-12));
    printf("reduced source at the photo pose vs 2D renderer: PSNR %.2f dB\n", psnr);
    assert_true(psnr > 40);
    i2v__axis_release(&ax);
    i2v__axis_release(&ay);
    i2v__rscratch_release(&sc);
    i2v__ycc_release(&red);
    i2v__ycc_release(&full);
    free(a);
    free(b);
}

static void test_dolly_to_a_frontal_wall_is_an_exact_zoom(void **state)
{
    (void)state;
    i2v_room r;
    frontal_room(&r, 500);
    i2v_scene3d s;
    i2v__scene3d_init(&s, &r, 1280, 720, 0, 0, 1280, 720, 1280, 720);
    i2v_cam3d c = still_pose();
    c.C[2] = 1.0; /* 1 m closer to the wall 4 m away: x4/3 about the centre */
    i2v_warp w;
    i2v__warp_setup(&w, &s, &c, 1, 1, I2V_KERNEL_CUBIC);
    double worst = 0;
    int seen = 0;
    for (int y = 0; y < 720; y += 9)
        for (int x = 0; x < 1280; x += 11) {
            double u, v;
            int plane;
            assert_int_equal(i2v__warp_map(&w, x + 0.5, y + 0.5, &u, &v, &plane, NULL), 0);
            if (plane != I2V_FACE_BACK) continue;
            seen++;
            const double eu = 640 + (x + 0.5 - 640) * 3 / 4, ev = 360 + (y + 0.5 - 360) * 3 / 4;
            worst = fmax(worst, fmax(fabs(u - eu), fabs(v - ev)));
        }
    printf("back wall under a 1 m dolly: %d points, exact zoom within %.2e px\n", seen, worst);
    assert_true(seen > 1000);
    assert_true(worst < 1e-9);
    /* The floor moves more than the wall: parallax. At the bottom centre the
     * floor point seen is 1.5 m down, nearer than the wall. */
    double u, v;
    int plane;
    i2v__warp_map(&w, 640, 719.5, &u, &v, &plane, NULL);
    assert_int_equal(plane, I2V_FACE_FLOOR);
    assert_true(v < 360 + (719.5 - 360) * 3 / 4 - 10);
}

static void test_faces_meet_without_a_seam(void **state)
{
    (void)state;
    i2v_room r;
    frontal_room(&r, 700);
    i2v_scene3d s;
    i2v__scene3d_init(&s, &r, 1280, 720, 0, 0, 1280, 720, 1280, 720);
    i2v_cam3d c = still_pose();
    c.C[0] = 0.2, c.C[2] = 0.8;
    i2v_warp w;
    i2v__warp_setup(&w, &s, &c, 1, 1, I2V_KERNEL_CUBIC);
    /* Along every row, the source position moves continuously across faces:
     * no jump bigger than the local step. */
    int crossings = 0;
    for (int y = 0; y < 720; y += 3) {
        double pu = 0, pv = 0;
        int pp = -1;
        for (int x = 0; x < 1280; x++) {
            double u, v;
            int p;
            i2v__warp_map(&w, x + 0.5, y + 0.5, &u, &v, &p, NULL);
            if (pp >= 0) {
                assert_true(hypot(u - pu, v - pv) < 2.0);
                crossings += p != pp;
            }
            pu = u, pv = v, pp = p;
        }
    }
    printf("%d face crossings, all continuous\n", crossings);
    assert_true(crossings > 100);
}

static void test_flat_stays_flat_and_fine_patterns_do_not_alias(void **state)
{
    (void)state;
    i2v_room r;
    frontal_room(&r, 3000);
    /* A 1920x1080 photo shown at 640x360: 3 source pixels per output pixel. */
    i2v_scene3d s;
    i2v__scene3d_init(&s, &r, 1920, 1080, 0, 0, 1920, 1080, 640, 360);
    i2v_cam3d c = still_pose();
    c.C[2] = 0.3;
    i2v_warp w;
    i2v__warp_setup(&w, &s, &c, 1, 1, I2V_KERNEL_CUBIC);
    uint8_t *img = malloc(1920 * 1080), *out = malloc(640 * 360);
    const i2v_plane src = {img, 1920, 1080, 1920};
    i2v_plane dst = {out, 640, 360, 640};
    memset(img, 77, 1920 * 1080);
    i2v__warp_rows(&w, &src, &dst, 0, 0, 360);
    for (int i = 0; i < 640 * 360; i++)
        assert_int_equal(out[i], 77);
    /* One-pixel stripes (the finest pattern there is): seen at ~2.8 source
     * pixels per output pixel they must average to grey, not beat. */
    for (int y = 0; y < 1080; y++)
        for (int x = 0; x < 1920; x++)
            img[y * 1920 + x] = (x & 1) ? 200 : 40;
    i2v__warp_rows(&w, &src, &dst, 0, 0, 360);
    double sum = 0, sq = 0;
    for (int y = 40; y < 320; y++)
        for (int x = 40; x < 600; x++) {
            sum += out[y * 640 + x];
            sq += (double)out[y * 640 + x] * out[y * 640 + x];
        }
    const double n = 280 * 560, mean = sum / n, sd = sqrt(sq / n - mean * mean);
    printf("1 px stripes (40/200) minified: mean %.2f, std %.2f\n", mean, sd);
    assert_true(fabs(mean - 120) < 2);
    assert_true(sd < 6);
    free(img);
    free(out);
}

/* A smooth pattern with fine detail, the same on every run. */
static void texture(uint8_t *img, int w, int h, int stride, unsigned seed)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            seed = seed * 1103515245u + 12345u;
            const double v = 128 + 60 * sin(x * 0.07 + y * 0.031) + 30 * cos(x * 0.013 - y * 0.05) +
                             (double)((seed >> 16) % 41) - 20;
            img[(size_t)y * stride + x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
}

static void test_vector_path_agrees_with_the_scalar_path(void **state)
{
    (void)state;
    i2v_room r;
    frontal_room(&r, 600);
    enum { PW = 640, PH = 360 };
    uint8_t *img = malloc(PW * PH), *img2 = malloc(PW / 2 * (PH / 2));
    texture(img, PW, PH, PW, 1);
    texture(img2, PW / 2, PH / 2, PW / 2, 2);
    const i2v_plane src = {img, PW, PH, PW}, srcc = {img2, PW / 2, PH / 2, PW / 2};
    /* Output sizes: 2x magnified (source rows reused by shuffles), and 1:1
     * with the camera rolled 40 degrees (eight samples span more rows than
     * the shuffles take: gathered). Poses: a dolly, a truck with a turn. */
    static const int size[2][2] = {{1280, 720}, {640, 360}};
    static const double roll[2] = {0, 40}, pos[2][3] = {{0, 0, 1.0}, {0.3, 0.1, 0.4}};
    static const double yaw[2] = {0, 6};
    for (int k = 0; k < 2; k++)
        for (int q = 0; q < 2; q++) {
            const int W = size[k][0], H = size[k][1];
            i2v_scene3d s;
            i2v__scene3d_init(&s, &r, PW, PH, 0, 0, PW, PH, W, H);
            i2v_cam3d c = still_pose();
            memcpy(c.C, pos[q], sizeof c.C);
            const double a = roll[k] * M_PI / 180, b = yaw[q] * M_PI / 180;
            const double Rz[9] = {cos(a), -sin(a), 0, sin(a), cos(a), 0, 0, 0, 1};
            const double Ry[9] = {cos(b), 0, sin(b), 0, 1, 0, -sin(b), 0, cos(b)};
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++)
                    c.Rf[i * 3 + j] =
                        Rz[i * 3] * Ry[j] + Rz[i * 3 + 1] * Ry[3 + j] + Rz[i * 3 + 2] * Ry[6 + j];
            i2v_warp w;
            i2v__warp_setup(&w, &s, &c, 1, 1, I2V_KERNEL_CUBIC);
            uint8_t *o[2][3];
            for (int v = 0; v < 2; v++) {
                w.avx2 = v ? 0 : w.avx2;
                for (int p = 0; p < 3; p++)
                    o[v][p] = malloc((size_t)W * H);
                i2v_plane d0 = {o[v][0], W, H, W}, d1 = {o[v][1], W / 2, H / 2, W / 2},
                          d2 = {o[v][2], W / 2, H / 2, W / 2};
                i2v__warp_rows(&w, &src, &d0, 0, 0, H);
                i2v__warp_rows2(&w, &srcc, &d1, &srcc, &d2, 0, H / 2);
            }
            int worst = 0;
            long differ = 0, n = 0;
            for (int p = 0; p < 3; p++) {
                const int m = p ? W / 2 * (H / 2) : W * H;
                for (int i = 0; i < m; i++) {
                    const int d = abs(o[0][p][i] - o[1][p][i]);
                    worst = d > worst ? d : worst;
                    differ += d != 0, n++;
                }
                assert_memory_equal(o[0][1], o[0][2], (size_t)m * (p > 0));
                assert_memory_equal(o[1][1], o[1][2], (size_t)m * (p > 0));
            }
            printf("%dx%d roll %.0f, pose %d: vector vs scalar max %d, %ld of %ld samples differ\n",
                   W, H, roll[k], q, worst, differ, n);
            assert_true(worst <= 1);
            assert_true(differ * 100 < n);
            for (int v = 0; v < 2; v++)
                for (int p = 0; p < 3; p++)
                    free(o[v][p]);
        }
    free(img);
    free(img2);
}

static i2v_photo *open_photo(const char *path)
{
    i2v_photo *p = NULL;
    i2v_error err = {0};
    if (i2v_photo_open_file(&p, path, NULL, &err)) fail_msg("%s: %s", path, err.message);
    return p;
}

static i2v_plan *plan_of(const i2v_photo *p, i2v_move m, const char *prompt)
{
    i2v_spec s;
    i2v_spec_init(&s);
    s.move = m;
    s.prompt = prompt;
    s.width = 640, s.height = 360;
    s.duration = 2;
    i2v_plan *plan = NULL;
    i2v_error err = {0};
    if (i2v_plan_new(&plan, p, &s, &err)) fail_msg("plan: %s", err.message);
    return plan;
}

static void test_3d_plans(void **state)
{
    (void)state;
    i2v_photo *room = open_photo("tests/rooms/dolly_00.png");
    static const i2v_move moves[] = {
        I2V_MOVE_DOLLY_IN, I2V_MOVE_DOLLY_OUT,    I2V_MOVE_TRUCK_LEFT,   I2V_MOVE_TRUCK_RIGHT,
        I2V_MOVE_ORBIT,    I2V_MOVE_AUTO_EFFECTS, I2V_MOVE_AUTO_REVERSE, I2V_MOVE_CAMERA_PUSH_OUT};
    for (size_t m = 0; m < sizeof moves / sizeof moves[0]; m++) {
        i2v_plan *plan = plan_of(room, moves[m], NULL);
        const int n = i2v_plan_frames(plan);
        printf("%s: %s | %s\n", i2v_move_name(moves[m]), i2v_plan_description(plan),
               i2v_plan_camera_note(plan));
        assert_true(plan->shot[0].cam3d);
        const i2v_move got = i2v_plan_move(plan);
        assert_true(got >= I2V_MOVE_DOLLY_IN && got <= I2V_MOVE_ORBIT);
        if (moves[m] == I2V_MOVE_AUTO_EFFECTS)
            assert_non_null(strstr(i2v_plan_description(plan), "walk into the room"));
        for (int i = 0; i < n; i++) {
            i2v_view v;
            i2v_pose ps;
            assert_int_equal(i2v_plan_view(plan, i, &v), 0);
            assert_true(v.x >= 0 && v.y >= 0 && v.x + v.w <= 640 + 1e-9 && v.y + v.h <= 360 + 1e-9);
            assert_int_equal(i2v_plan_pose(plan, i, &ps), 0);
            /* Every sample of every frame lands inside the photo. */
            const i2v_cam3d c = i2v__shot_cam3d(&plan->shot[0], i);
            assert_true(i2v__warp_inside(&plan->shot[0].scene, &c, -1e-6));
        }
        /* DOLLY_IN starts and DOLLY_OUT / AUTO_REVERSE end on the photo itself. */
        i2v_pose a, b;
        i2v_plan_pose(plan, 0, &a);
        i2v_plan_pose(plan, n - 1, &b);
        const double da = hypot(hypot(a.position[0], a.position[1]), a.position[2]);
        const double db = hypot(hypot(b.position[0], b.position[1]), b.position[2]);
        if (moves[m] == I2V_MOVE_DOLLY_IN || moves[m] == I2V_MOVE_AUTO_EFFECTS)
            assert_true(da == 0 && db > 0.05);
        if (moves[m] == I2V_MOVE_DOLLY_OUT || moves[m] == I2V_MOVE_AUTO_REVERSE ||
            moves[m] == I2V_MOVE_CAMERA_PUSH_OUT)
            assert_true(db == 0 && da > 0.05);
        i2v_plan_free(&plan);
    }
    /* A 2D move of the same photo has no 3D poses. */
    i2v_plan *plan = plan_of(room, I2V_MOVE_ZOOM_IN, NULL);
    i2v_pose ps;
    assert_int_equal(i2v_plan_pose(plan, 0, &ps), I2V_ENOTFOUND);
    assert_string_equal(i2v_plan_camera_note(plan), "");
    i2v_plan_free(&plan);
    /* The prompt's words for the 3D moves. */
    i2v_move mv;
    assert_true(i2v_prompt_move("slowly walk into the living room", &mv) &&
                mv == I2V_MOVE_DOLLY_IN);
    assert_true(i2v_prompt_move("dolly in on the sofa", &mv) && mv == I2V_MOVE_DOLLY_IN);
    assert_true(i2v_prompt_move("step back from the window", &mv) && mv == I2V_MOVE_DOLLY_OUT);
    assert_true(i2v_prompt_move("step sideways to the left", &mv) && mv == I2V_MOVE_TRUCK_LEFT);
    assert_true(i2v_prompt_move("truck right past the table", &mv) && mv == I2V_MOVE_TRUCK_RIGHT);
    assert_true(i2v_prompt_move("a gentle orbit", &mv) && mv == I2V_MOVE_ORBIT);
    i2v_photo_free(&room);

    /* Not a room: the 2D move, and the reason. */
    i2v_photo *land = open_photo("photos/sunset_by_Aitzol_Berasategi.jpg");
    plan = plan_of(land, I2V_MOVE_DOLLY_IN, NULL);
    assert_int_equal(i2v_plan_move(plan), I2V_MOVE_ZOOM_IN);
    assert_false(plan->shot[0].cam3d);
    assert_non_null(strstr(i2v_plan_camera_note(plan), "camera=2d"));
    assert_non_null(strstr(i2v_plan_camera_note(plan), "reason="));
    assert_non_null(strstr(i2v_plan_description(plan), "3D camera not used"));
    printf("sunset, DOLLY_IN: %s | %s\n", i2v_plan_description(plan), i2v_plan_camera_note(plan));
    i2v_plan_free(&plan);
    plan = plan_of(land, I2V_MOVE_ORBIT, NULL);
    assert_int_equal(i2v_plan_move(plan), I2V_MOVE_PAN_RIGHT);
    i2v_plan_free(&plan);
    i2v_photo_free(&land);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_photo_pose_is_the_2d_view),
        cmocka_unit_test(test_reduced_source_keeps_the_first_frame),
        cmocka_unit_test(test_dolly_to_a_frontal_wall_is_an_exact_zoom),
        cmocka_unit_test(test_faces_meet_without_a_seam),
        cmocka_unit_test(test_flat_stays_flat_and_fine_patterns_do_not_alias),
        cmocka_unit_test(test_vector_path_agrees_with_the_scalar_path),
        cmocka_unit_test(test_3d_plans),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
