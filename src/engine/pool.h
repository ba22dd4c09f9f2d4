/*
 * pool.h - a fixed set of threads that run the tasks of one batch at a time.
 *
 * Contract: only the thread that created the pool calls i2v__pool_run; it
 * takes part in the batch and returns when every task has finished. Task
 * functions receive the index of the worker running them (0 = the caller), so
 * per-worker scratch memory needs no locking.
 */
#ifndef I2V_POOL_H
#define I2V_POOL_H

typedef struct i2v_pool i2v_pool;
typedef void (*i2v_task_fn)(void *ctx, int task, int worker);

/* nthreads counts the caller; 1 means no extra threads. */
int i2v__pool_new(i2v_pool **out, int nthreads);
int i2v__pool_threads(const i2v_pool *p);
void i2v__pool_run(i2v_pool *p, i2v_task_fn fn, void *ctx, int ntasks);
void i2v__pool_free(i2v_pool **p);

/* Number of online CPUs (at least 1). */
int i2v__cpu_count(void);

#endif
