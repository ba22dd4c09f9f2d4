/*
 * store_contract.h - the job store contract (src/store/store.h) as one
 * cmocka suite that every backend runs: charges and refunds in the ledger
 * (append-only, refused by the database), credits that never go below zero
 * under racing threads, idempotency keys (also racing), leases that fence
 * stale workers, expiry and attempts, many handles claiming, reaping,
 * opening and claiming deliveries at once, queue stats, and schema
 * versions. A backend's test file gives the suite a way to make a fresh,
 * empty store, open handles on it and run SQL on it as another client.
 */
#ifndef I2V_TEST_STORE_CONTRACT_H
#define I2V_TEST_STORE_CONTRACT_H

#include <stdint.h>

#include "store/store.h"

typedef struct store_backend {
    const char *label;
    /* Makes a fresh, empty store (nothing in it yet, not even a schema);
     * later calls work on it. 0 or -1. */
    int (*fresh)(void *ctx);
    /* Opens a handle on the current store; 0 or a negative code. */
    int (*open)(void *ctx, const i2v_store_config *cfg, i2v_store **out, i2v_error *err);
    /* Runs one SQL statement on the current store as another client (to
     * age rows or plant a schema version): 0, or -1 when refused. */
    int (*sql)(void *ctx, const char *sql);
    /* The integer in the first column of the query's first row, or -1. */
    int64_t (*sql_int)(void *ctx, const char *sql);
    /* Removes the current store; its handles are closed. */
    void (*drop)(void *ctx);
    void *ctx;
} store_backend;

/* Runs the contract against be; returns the number of failed tests. */
int store_contract_run(const store_backend *be);

/* A queued generation of user at price, as the API would make it. */
void store_contract_gen(const char *user, i2v_gen *g, int price);

#endif
