/* spec.c - move names and the validation of what a caller asks for. */
#include <string.h>
#include <strings.h>

#include "common/error.h"

static const char *const move_names[I2V_MOVE_COUNT] = {
    "ZOOM_IN",   "ZOOM_OUT",        "PAN_RIGHT",    "PAN_LEFT",     "PAN_UP",
    "PAN_DOWN",  "CAMERA_PUSH_OUT", "AUTO_EFFECTS", "AUTO_REVERSE", "DOLLY_IN",
    "DOLLY_OUT", "TRUCK_LEFT",      "TRUCK_RIGHT",  "ORBIT",
};

const char *i2v_move_name(i2v_move m)
{
    return (m >= 0 && m < I2V_MOVE_COUNT) ? move_names[m] : NULL;
}

int i2v_move_parse(const char *name, i2v_move *out)
{
    for (int i = 0; name && i < I2V_MOVE_COUNT; i++)
        if (strcasecmp(name, move_names[i]) == 0) {
            *out = (i2v_move)i;
            return 0;
        }
    return I2V_EINVAL;
}

void i2v_spec_init(i2v_spec *s)
{
    s->move = I2V_MOVE_ZOOM_IN;
    s->prompt = NULL;
    s->width = s->height = 0;
    s->fps = 30;
    s->duration = 5.0;
    s->model = I2V_MODEL_FLASH;
    s->crf = 20;
    s->audio = 0;
}

int i2v_spec_validate(const i2v_spec *s, i2v_error *err)
{
    if (s->move < 0 || s->move >= I2V_MOVE_COUNT)
        return i2v__err(err, I2V_EINVAL, "move: unknown value %d", (int)s->move);
    if (!((s->width == 0 && s->height == 0) ||
          (s->width >= 128 && s->width <= 4096 && s->height >= 128 && s->height <= 4096)))
        return i2v__err(err, I2V_EINVAL, "size: %dx%d is outside 128x128 .. 4096x4096", s->width,
                        s->height);
    if ((s->width | s->height) & 1)
        return i2v__err(err, I2V_EINVAL, "size: %dx%d must have even width and height", s->width,
                        s->height);
    if (s->fps < 1 || s->fps > 60)
        return i2v__err(err, I2V_EINVAL, "fps: %d is outside 1..60", s->fps);
    if (!(s->duration >= 1.0 && s->duration <= 30.0))
        return i2v__err(err, I2V_EINVAL, "duration: %g is outside 1..30 seconds", s->duration);
    if (s->model != I2V_MODEL_FLASH && s->model != I2V_MODEL_BASE)
        return i2v__err(err, I2V_EINVAL, "model: unknown value %d", (int)s->model);
    if (s->crf < 0 || s->crf > 51)
        return i2v__err(err, I2V_EINVAL, "crf: %d is outside 0..51", s->crf);
    if (s->audio != 0 && s->audio != 1)
        return i2v__err(err, I2V_EINVAL, "audio: must be 0 or 1, not %d", s->audio);
    if (s->prompt && strlen(s->prompt) > 4000)
        return i2v__err(err, I2V_EINVAL, "prompt: longer than 4000 bytes");
    return 0;
}
