/* service.c - submitting generations and naming their outputs. */
#include "service.h"

#include <stdio.h>

#include "common/error.h"
#include "common/log.h"

void i2v__service_wake(i2v_service *svc)
{
    pthread_mutex_lock(&svc->lock);
    pthread_cond_broadcast(&svc->wake);
    pthread_mutex_unlock(&svc->lock);
}

int i2v__service_submit(i2v_service *svc, i2v_gen *g, int64_t *balance, i2v_error *err)
{
    if (g->has_prompt) {
        const char *h = i2v__review_check(svc->review, g->prompt);
        if (h) {
            i2v__log(I2V_LOG_INFO, "prompt_refused", " user=%s api=%d phrase=\"%s\"", g->user_id,
                     g->api, h);
            return i2v__err(err, I2V_EDENIED, "prompt: refused by the content review");
        }
    }
    int r = svc->store->vt->gen_create(svc->store, g, balance, err);
    if (r) return r;
    char url[256];
    i2v__log(I2V_LOG_INFO, "job_queued",
             " task_id=%lld generation_id=%s user=%s api=%d move=%s size=%dx%d duration=%d"
             " price=%d balance=%lld image_url=%s",
             (long long)g->task_id, g->uuid, g->user_id, g->api, g->move, g->width, g->height,
             g->duration, g->price, balance ? (long long)*balance : -1LL,
             i2v__log_str(url, sizeof url, g->image_url));
    i2v__service_wake(svc);
    return 0;
}

void i2v__output_urls(const i2v_service *svc, const i2v_gen *g, char *video, char *cover)
{
    snprintf(video, 1024, "%s/v/%s.mp4", svc->public_url, g->out_key);
    snprintf(cover, 1024, "%s/v/%s.jpg", svc->public_url, g->out_key);
}

void i2v__output_name(const char *key, const char *ext, char name[48])
{
    snprintf(name, 48, "%.32s.%.8s", key, ext);
}
