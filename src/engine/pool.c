/* pool.c - pthread worker pool for splitting a frame into bands. */
#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "i2v/i2v.h"

typedef struct worker_arg {
    i2v_pool *pool;
    int index;
} worker_arg;

struct i2v_pool {
    int nthreads;
    pthread_t *threads;
    worker_arg *args;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    unsigned long generation; /* bumped for every batch, under mu */
    int quit;
    i2v_task_fn fn;
    void *ctx;
    int ntasks;
    atomic_int next; /* next task index to claim */
    int finished;    /* tasks completed in this batch, under mu */
};

static void run_tasks(i2v_pool *p, int worker)
{
    int t, n = 0;
    while ((t = atomic_fetch_add(&p->next, 1)) < p->ntasks) {
        p->fn(p->ctx, t, worker);
        n++;
    }
    if (n) {
        pthread_mutex_lock(&p->mu);
        p->finished += n;
        if (p->finished == p->ntasks) pthread_cond_broadcast(&p->done);
        pthread_mutex_unlock(&p->mu);
    }
}

static void *worker_main(void *arg)
{
    worker_arg *a = arg;
    i2v_pool *p = a->pool;
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->generation == seen)
            pthread_cond_wait(&p->wake, &p->mu);
        if (p->quit) break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        run_tasks(p, a->index);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int i2v__cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

int i2v__pool_new(i2v_pool **out, int nthreads)
{
    *out = NULL;
    if (nthreads < 1) nthreads = 1;
    i2v_pool *p = calloc(1, sizeof *p);
    if (!p) return I2V_ENOMEM;
    p->threads = calloc((size_t)nthreads, sizeof *p->threads);
    p->args = calloc((size_t)nthreads, sizeof *p->args);
    if (!p->threads || !p->args) {
        free(p->threads);
        free(p->args);
        free(p);
        return I2V_ENOMEM;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->next, 0);
    p->nthreads = 1;
    for (int i = 1; i < nthreads; i++) {
        p->args[i] = (worker_arg){p, i};
        if (pthread_create(&p->threads[i], NULL, worker_main, &p->args[i]) != 0)
            break; /* run with the threads we have */
        p->nthreads++;
    }
    *out = p;
    return 0;
}

int i2v__pool_threads(const i2v_pool *p)
{
    return p->nthreads;
}

void i2v__pool_run(i2v_pool *p, i2v_task_fn fn, void *ctx, int ntasks)
{
    if (ntasks <= 0) return;
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->ntasks = ntasks;
    p->finished = 0;
    atomic_store(&p->next, 0);
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    run_tasks(p, 0);
    pthread_mutex_lock(&p->mu);
    while (p->finished < p->ntasks)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void i2v__pool_free(i2v_pool **pp)
{
    i2v_pool *p = pp ? *pp : NULL;
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    free(p->threads);
    free(p->args);
    free(p);
    *pp = NULL;
}
