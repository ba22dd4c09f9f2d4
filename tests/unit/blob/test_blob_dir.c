/*
 * test_blob_dir.c - the local folder blob store: the blob contract
 * (blob_contract.c), then what is the folder's own: one plain file per blob
 * named as the blob, a put from another file system (copied, then renamed),
 * and the store URLs that open it or are refused with a clear message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob_contract.h"

static char root[64] = "/tmp/i2v-blob-XXXXXX";
static char scratch[128];
static int stores;

static int open_fresh(void *ctx, i2v_blob **out)
{
    (void)ctx;
    char dir[160];
    snprintf(dir, sizeof dir, "%s/store-%d", root, stores++);
    i2v_error e = {0};
    return i2v__blob_open_dir(out, dir, &e);
}

static void test_layout(void **state)
{
    (void)state;
    i2v_blob *b = NULL;
    i2v_error e = {0};
    char dir[160], local[200], file[300];
    snprintf(dir, sizeof dir, "%s/layout", root);
    assert_int_equal(i2v__blob_open(&b, "dir:", &e), I2V_EINVAL);
    assert_non_null(strstr(e.message, "dir:PATH"));
    i2v_error e2 = {0};
    assert_int_equal(i2v__blob_open(&b, "ftp://x", &e2), I2V_EINVAL);
    assert_non_null(strstr(e2.message, "ftp://x"));
    char url[200];
    snprintf(url, sizeof url, "dir:%s", dir);
    assert_int_equal(i2v__blob_open(&b, url, &e), 0);
    snprintf(local, sizeof local, "%s/layout.mp4", scratch);
    FILE *f = fopen(local, "wb");
    fputs("hello", f);
    fclose(f);
    assert_int_equal(i2v__blob_put_file(b, "abc.mp4", local, NULL, &e), 0);
    snprintf(file, sizeof file, "%s/abc.mp4", dir);
    struct stat st;
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_size, 5);
    i2v__blob_close(&b);
    i2v__blob_close(&b); /* NULL: nothing */
}

/* A local file on another file system is copied in and renamed. */
static void test_put_from_another_file_system(void **state)
{
    (void)state;
    struct stat a, b;
    if (stat("/dev/shm", &a) != 0 || stat(root, &b) != 0 || a.st_dev == b.st_dev) {
        print_message("skipped: /dev/shm is not another file system here\n");
        return;
    }
    i2v_blob *bl = NULL;
    i2v_error e = {0};
    char dir[160], local[100], file[300];
    snprintf(dir, sizeof dir, "%s/exdev", root);
    assert_int_equal(i2v__blob_open_dir(&bl, dir, &e), 0);
    snprintf(local, sizeof local, "/dev/shm/i2v-blob-%d.jpg", (int)getpid());
    FILE *f = fopen(local, "wb");
    for (int i = 0; i < 200000; i++)
        fputc(i * 7, f);
    fclose(f);
    assert_int_equal(i2v__blob_put_file(bl, "x.jpg", local, NULL, &e), 0);
    assert_int_not_equal(stat(local, &a), 0);
    snprintf(file, sizeof file, "%s/x.jpg", dir);
    assert_int_equal(stat(file, &a), 0);
    assert_int_equal(a.st_size, 200000);
    i2v_blob_reader *rd = NULL;
    unsigned char buf[1000];
    assert_int_equal(i2v__blob_read_open(bl, "x.jpg", 199000, 1000, &rd, &e), 0);
    assert_int_equal(rd->read(rd, buf, sizeof buf, &e), 1000);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(buf[i], (unsigned char)((199000 + i) * 7));
    i2v__blob_reader_close(&rd);
    i2v__blob_close(&bl);
}

int main(void)
{
    if (!mkdtemp(root)) return 1;
    snprintf(scratch, sizeof scratch, "%s/scratch", root);
    mkdir(scratch, 0755);
    blob_backend be = {"blob contract: dir", open_fresh, NULL, scratch};
    int failed = blob_contract_run(&be);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_put_from_another_file_system),
    };
    failed += cmocka_run_group_tests_name("blob dir", tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0) return 1;
    return failed ? 1 : 0;
}
