/*
 * blob_contract.h - the blob store contract (src/blob/blob.h) as one cmocka
 * suite that every backend runs: put, stat, range reads, replace, remove,
 * missing objects, bad names, concurrent readers, reads past the end and a
 * name put again after its removal. A backend's test file gives a factory
 * that opens a fresh, empty store and a scratch folder for the local files
 * it puts.
 */
#ifndef I2V_TEST_BLOB_CONTRACT_H
#define I2V_TEST_BLOB_CONTRACT_H

#include "blob/blob.h"

typedef struct blob_backend {
    const char *label;
    /* Opens a fresh, empty store; 0 or a negative code. */
    int (*open)(void *ctx, i2v_blob **out);
    void *ctx;
    const char *scratch; /* folder for local files (exists) */
} blob_backend;

/* Runs the contract against be; returns the number of failed tests. */
int blob_contract_run(const blob_backend *be);

#endif
