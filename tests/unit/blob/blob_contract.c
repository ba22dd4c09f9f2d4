/* blob_contract.c - see blob_contract.h. */
#include "blob_contract.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const blob_backend *be;

typedef struct fixture {
    i2v_blob *b;
    int n; /* local files made */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f || be->open(be->ctx, &f->b) != 0) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    i2v__blob_close(&f->b);
    assert_null(f->b);
    free(f);
    return 0;
}

/* Deterministic bytes: byte i of stream seed. */
static uint8_t byte_at(unsigned seed, uint64_t i)
{
    uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ull ^ (uint64_t)seed * 0xBF58476D1CE4E5B9ull;
    x ^= x >> 31;
    return (uint8_t)(x * 0x94D049BB133111EBull >> 56);
}

/* Writes a local file of len bytes of stream seed; returns its path. */
static char *local_file(fixture *f, size_t len, unsigned seed)
{
    char *path = malloc(512);
    assert_non_null(path);
    snprintf(path, 512, "%s/local-%d-%d", be->scratch, (int)getpid(), f->n++);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    for (size_t i = 0; i < len; i++)
        fputc(byte_at(seed, i), fp);
    assert_int_equal(fclose(fp), 0);
    return path;
}

static void put(fixture *f, const char *name, size_t len, unsigned seed)
{
    char *path = local_file(f, len, seed);
    i2v_error e = {0};
    assert_int_equal(i2v__blob_put_file(f->b, name, path, NULL, &e), 0);
    struct stat st;
    assert_int_not_equal(stat(path, &st), 0); /* the local file was taken */
    free(path);
}

/* Reads [off, off+len) of name in chunks of chunk bytes and checks them. */
static void check_range(fixture *f, const char *name, uint64_t off, uint64_t len, unsigned seed,
                        size_t chunk)
{
    i2v_blob_reader *rd = NULL;
    i2v_error e = {0};
    assert_int_equal(i2v__blob_read_open(f->b, name, off, len, &rd, &e), 0);
    assert_non_null(rd);
    uint8_t *buf = malloc(chunk);
    uint64_t got = 0;
    for (;;) {
        long n = rd->read(rd, buf, chunk, &e);
        assert_true(n >= 0);
        if (n == 0) break;
        for (long i = 0; i < n; i++)
            if (buf[i] != byte_at(seed, off + got + (uint64_t)i))
                fail_msg("%s: byte %llu differs", name, (unsigned long long)(off + got + i));
        got += (uint64_t)n;
    }
    assert_int_equal(got, len);
    free(buf);
    i2v__blob_reader_close(&rd);
    assert_null(rd);
}

static void test_put_stat_read(void **state)
{
    fixture *f = *state;
    put(f, "0123456789abcdef0123456789abcdef.mp4", 300000, 1);
    i2v_blob_info info;
    i2v_error e = {0};
    assert_int_equal(i2v__blob_stat(f->b, "0123456789abcdef0123456789abcdef.mp4", &info, &e), 0);
    assert_int_equal(info.size, 300000);
    assert_string_equal(info.ctype, "video/mp4");
    assert_true(strlen(info.etag) > 2 && info.etag[0] == '"' &&
                info.etag[strlen(info.etag) - 1] == '"');
    check_range(f, "0123456789abcdef0123456789abcdef.mp4", 0, 300000, 1, 65536);
}

static void test_range_reads(void **state)
{
    fixture *f = *state;
    const char *n = "range.jpg";
    put(f, n, 100000, 2);
    check_range(f, n, 100, 1000, 2, 4096); /* the middle */
    check_range(f, n, 99999, 1, 2, 16);    /* the last byte */
    check_range(f, n, 0, 1, 2, 16);        /* the first */
    check_range(f, n, 100000, 0, 2, 16);   /* nothing, at the end */
    check_range(f, n, 65530, 30000, 2, 7); /* odd chunks */
    i2v_blob_reader *rd = NULL;
    i2v_error e = {0};
    assert_int_equal(i2v__blob_read_open(f->b, n, 99999, 2, &rd, &e), I2V_EINVAL);
    assert_null(rd);
    assert_int_equal(i2v__blob_read_open(f->b, n, 100001, 0, &rd, &e), I2V_EINVAL);
    i2v_blob_info info;
    assert_int_equal(i2v__blob_stat(f->b, n, &info, &e), 0);
    assert_string_equal(info.ctype, "image/jpeg");
}

static void test_empty_blob(void **state)
{
    fixture *f = *state;
    put(f, "empty.json", 0, 3);
    i2v_blob_info info;
    i2v_error e = {0};
    assert_int_equal(i2v__blob_stat(f->b, "empty.json", &info, &e), 0);
    assert_int_equal(info.size, 0);
    check_range(f, "empty.json", 0, 0, 3, 16);
}

static void test_replace_changes_etag(void **state)
{
    fixture *f = *state;
    i2v_blob_info a, b;
    i2v_error e = {0};
    put(f, "same.mp4", 5000, 4);
    assert_int_equal(i2v__blob_stat(f->b, "same.mp4", &a, &e), 0);
    put(f, "same.mp4", 5001, 5);
    assert_int_equal(i2v__blob_stat(f->b, "same.mp4", &b, &e), 0);
    assert_int_equal(b.size, 5001);
    assert_string_not_equal(a.etag, b.etag);
    check_range(f, "same.mp4", 0, 5001, 5, 1000);
}

static void test_missing(void **state)
{
    fixture *f = *state;
    i2v_blob_info info;
    i2v_blob_reader *rd = NULL;
    i2v_error e = {0};
    assert_int_equal(i2v__blob_stat(f->b, "missing.mp4", &info, &e), I2V_ENOTFOUND);
    assert_int_equal(i2v__blob_read_open(f->b, "missing.mp4", 0, 0, &rd, &e), I2V_ENOTFOUND);
    assert_null(rd);
    assert_int_equal(i2v__blob_remove(f->b, "missing.mp4", &e), I2V_ENOTFOUND);
    assert_true(strlen(e.message) > 0);
}

static void test_remove(void **state)
{
    fixture *f = *state;
    i2v_blob_info info;
    i2v_blob_reader *rd = NULL;
    i2v_error e = {0};
    put(f, "gone.mp4", 1000, 6);
    put(f, "kept.mp4", 1000, 7);
    assert_int_equal(i2v__blob_remove(f->b, "gone.mp4", &e), 0);
    assert_int_equal(i2v__blob_stat(f->b, "gone.mp4", &info, &e), I2V_ENOTFOUND);
    assert_int_equal(i2v__blob_read_open(f->b, "gone.mp4", 0, 1, &rd, &e), I2V_ENOTFOUND);
    assert_int_equal(i2v__blob_remove(f->b, "gone.mp4", &e), I2V_ENOTFOUND);
    assert_int_equal(i2v__blob_stat(f->b, "kept.mp4", &info, &e), 0);
    check_range(f, "kept.mp4", 0, 1000, 7, 300);
}

static void test_bad_names(void **state)
{
    fixture *f = *state;
    char longname[I2V_BLOB_NAME_MAX + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    const char *bad[] = {"",       ".hidden",   "../escape.mp4", "a/b.mp4", "/abs",
                         "sp ace", "new\nline", "per%2ecent",    longname};
    char *path = local_file(f, 10, 8);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        i2v_error e = {0};
        i2v_blob_info info;
        i2v_blob_reader *rd = NULL;
        assert_int_equal(i2v__blob_put_file(f->b, bad[i], path, NULL, &e), I2V_EINVAL);
        assert_non_null(strstr(e.message, "name"));
        assert_int_equal(i2v__blob_stat(f->b, bad[i], &info, &e), I2V_EINVAL);
        assert_int_equal(i2v__blob_read_open(f->b, bad[i], 0, 0, &rd, &e), I2V_EINVAL);
        assert_int_equal(i2v__blob_remove(f->b, bad[i], &e), I2V_EINVAL);
    }
    struct stat st;
    assert_int_equal(stat(path, &st), 0); /* refused puts leave the file */
    unlink(path);
    free(path);
    longname[I2V_BLOB_NAME_MAX] = '\0'; /* exactly the maximum is fine */
    put(f, longname, 10, 9);
}

static void test_failed_put_stores_nothing(void **state)
{
    fixture *f = *state;
    i2v_error e = {0};
    i2v_blob_info info;
    char path[600];
    snprintf(path, sizeof path, "%s/no-such-local-file", be->scratch);
    assert_true(i2v__blob_put_file(f->b, "never.mp4", path, NULL, &e) < 0);
    assert_true(strlen(e.message) > 0);
    assert_int_equal(i2v__blob_stat(f->b, "never.mp4", &info, &e), I2V_ENOTFOUND);
}

static void test_url(void **state)
{
    fixture *f = *state;
    char url[2048];
    i2v_error e = {0};
    put(f, "u.mp4", 10, 10);
    int r = i2v__blob_url(f->b, "u.mp4", 60, url, sizeof url, &e);
    assert_true(r == 0 || r == 1);
    if (r == 1) assert_true(strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0);
}

/* A reader at its end keeps answering 0; a removed name can be put again. */
static void test_end_and_again(void **state)
{
    fixture *f = *state;
    i2v_blob_reader *rd = NULL;
    i2v_error e = {0};
    uint8_t buf[64];
    put(f, "again.mp4", 50, 13);
    assert_int_equal(i2v__blob_read_open(f->b, "again.mp4", 40, 10, &rd, &e), 0);
    long got = 0;
    for (long n; (n = rd->read(rd, buf + got, sizeof buf - (size_t)got, &e)) > 0;)
        got += n;
    assert_int_equal(got, 10);
    for (int i = 0; i < 10; i++)
        assert_int_equal(buf[i], byte_at(13, 40 + (uint64_t)i));
    assert_int_equal(rd->read(rd, buf, sizeof buf, &e), 0);
    assert_int_equal(rd->read(rd, buf, sizeof buf, &e), 0);
    i2v__blob_reader_close(&rd);
    assert_int_equal(i2v__blob_remove(f->b, "again.mp4", &e), 0);
    put(f, "again.mp4", 70, 14);
    i2v_blob_info info;
    assert_int_equal(i2v__blob_stat(f->b, "again.mp4", &info, &e), 0);
    assert_int_equal(info.size, 70);
    check_range(f, "again.mp4", 0, 70, 14, 9);
}

typedef struct reader_arg {
    fixture *f;
    int index;
} reader_arg;

static void *reader_main(void *p)
{
    reader_arg *a = p;
    for (int k = 0; k < 20; k++)
        check_range(a->f, "shared.mp4", (uint64_t)(a->index * 1000 + k), 20000, 11, 4096);
    return NULL;
}

static void test_concurrent_readers(void **state)
{
    fixture *f = *state;
    put(f, "shared.mp4", 50000, 11);
    pthread_t t[4];
    reader_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (reader_arg){f, i};
        assert_int_equal(pthread_create(&t[i], NULL, reader_main, &a[i]), 0);
    }
    for (int i = 0; i < 8; i++) {
        char name[32];
        snprintf(name, sizeof name, "other-%d.mp4", i);
        put(f, name, 3000, 12 + (unsigned)i);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
}

int blob_contract_run(const blob_backend *backend)
{
    be = backend;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_stat_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_range_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_blob, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replace_changes_etag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_put_stores_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_url, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_readers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_end_and_again, setup, teardown),
    };
    return _cmocka_run_group_tests(be->label, tests, sizeof tests / sizeof tests[0], NULL, NULL);
}
