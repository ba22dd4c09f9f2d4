/*
 * test_openapi_routes.c - docs/openapi.json against the route tables of
 * every API family `i2v serve` registers (cli_serve.c): every route's
 * method and path is in the document, and every path and method of the
 * document is served, found the way the router finds it (the family with
 * the longest prefix, then its first matching route; a route path ending in
 * '/' is a prefix owning several document paths). Operations marked
 * x-i2v-pending may be unserved; every other mismatch fails. Also: the
 * embedded document is the file's bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "service/api.h"
#include "service/http_server.h"
#include "service/openapi.h"
#include "service/outputs.h"

#define DOC_FILE "docs/openapi.json"

/* The families cli_serve.c registers, in its order. */
static const i2v_api_family outputs_family = {"outputs", I2V_OUTPUTS_PREFIX, i2v__v2_error,
                                              i2v__outputs_routes, 1};
/* What the router answers itself, before any family (http_server.c's
 * dispatch): /healthz. */
static const i2v_route router_routes[] = {{"GET HEAD", "/healthz", NULL}};
static const i2v_api_family router_family = {"router", "/healthz", NULL, router_routes, 1};
static const i2v_api_family *const served_families[] = {
    &router_family,      &i2v__v1_family, &i2v__v2_family,
    &i2v__native_family, &outputs_family, &i2v__openapi_family,
};
#define NSERVED (int)(sizeof served_families / sizeof served_families[0])

static const char *const http_methods[] = {"GET",     "PUT",  "POST",  "DELETE",
                                           "OPTIONS", "HEAD", "PATCH", "TRACE"};

/* 1 when m is one of the space-separated methods. */
static int method_in(const char *methods, const char *m)
{
    const size_t n = strlen(m);
    for (const char *p = methods; (p = strstr(p, m)) != NULL; p += n)
        if ((p == methods || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) return 1;
    return 0;
}

static int route_matches(const i2v_route *rt, const char *path)
{
    const size_t n = strlen(rt->path);
    return n && rt->path[n - 1] == '/' ? strncmp(path, rt->path, n) == 0
                                       : strcmp(path, rt->path) == 0;
}

/* The route the router picks for a concrete path, or NULL. */
static const i2v_route *route_for(const i2v_api_family *const *fams, int nfams, const char *path)
{
    const i2v_api_family *best = NULL;
    for (int i = 0; i < nfams; i++) {
        const size_t n = strlen(fams[i]->prefix);
        if (strncmp(path, fams[i]->prefix, n) == 0 && (!best || n > strlen(best->prefix)))
            best = fams[i];
    }
    for (int i = 0; best && i < best->nroutes; i++)
        if (route_matches(&best->routes[i], path)) return &best->routes[i];
    return NULL;
}

/* A document path with every {param} replaced by a sample value. */
static void sample_path(const char *tmpl, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = tmpl; *p && o + 8 < cap; p++) {
        if (*p == '{') {
            const char *end = strchr(p, '}');
            if (end) {
                memcpy(out + o, "x1", 2);
                o += 2;
                p = end;
                continue;
            }
        }
        out[o++] = *p;
    }
    out[o] = '\0';
}

static void lower(const char *s, char *out)
{
    size_t i = 0;
    for (; s[i]; i++)
        out[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
    out[i] = '\0';
}

/* Compares doc's paths with the families' routes; prints every mismatch and
 * returns how many there are. *pending_unserved counts the allowed ones. */
static int compare(json_t *doc, const i2v_api_family *const *fams, int nfams, int *pending_unserved)
{
    int bad = 0;
    *pending_unserved = 0;
    json_t *paths = json_object_get(doc, "paths");
    const char *tmpl;
    json_t *item;
    /* every document operation is served */
    json_object_foreach(paths, tmpl, item)
    {
        char sample[512];
        sample_path(tmpl, sample, sizeof sample);
        const i2v_route *rt = route_for(fams, nfams, sample);
        for (size_t m = 0; m < sizeof http_methods / sizeof http_methods[0]; m++) {
            char lm[16];
            lower(http_methods[m], lm);
            json_t *op = json_object_get(item, lm);
            if (!op) continue;
            if (rt && method_in(rt->methods, http_methods[m])) continue;
            if (json_is_true(json_object_get(op, "x-i2v-pending"))) {
                (*pending_unserved)++;
                continue;
            }
            print_message("documented, not served: %s %s\n", http_methods[m], tmpl);
            bad++;
        }
    }
    /* every route is documented: an exact route by its path, a prefix route
     * by at least one document path under it that the router gives it */
    for (int f = 0; f < nfams; f++)
        for (int i = 0; i < fams[f]->nroutes; i++) {
            const i2v_route *rt = &fams[f]->routes[i];
            for (size_t m = 0; m < sizeof http_methods / sizeof http_methods[0]; m++) {
                if (!method_in(rt->methods, http_methods[m])) continue;
                char lm[16];
                lower(http_methods[m], lm);
                int found = 0;
                json_object_foreach(paths, tmpl, item)
                {
                    char sample[512];
                    sample_path(tmpl, sample, sizeof sample);
                    if (json_object_get(item, lm) && route_for(fams, nfams, sample) == rt)
                        found = 1;
                }
                if (!found) {
                    print_message("served, not documented: %s %s (family %s)\n", http_methods[m],
                                  rt->path, fams[f]->name);
                    bad++;
                }
            }
        }
    return bad;
}

static json_t *load_doc(void)
{
    json_error_t je;
    json_t *doc = json_load_file(DOC_FILE, JSON_REJECT_DUPLICATES, &je);
    if (!doc) fail_msg("%s: %s (line %d)", DOC_FILE, je.text, je.line);
    return doc;
}

static void test_document(void **state)
{
    (void)state;
    json_t *doc = load_doc();
    assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
    assert_true(json_object_size(json_object_get(doc, "paths")) >= 10);
    /* x-i2v-pending is only ever true, and only on operations */
    const char *tmpl;
    json_t *item;
    json_object_foreach(json_object_get(doc, "paths"), tmpl, item)
    {
        assert_null(json_object_get(item, "x-i2v-pending"));
        const char *k;
        json_t *op;
        json_object_foreach(item, k, op)
        {
            json_t *p = json_object_get(op, "x-i2v-pending");
            if (p && !json_is_true(p)) fail_msg("%s %s: x-i2v-pending is not true", k, tmpl);
        }
    }
    json_decref(doc);
}

static void test_embedded_is_the_file(void **state)
{
    (void)state;
    FILE *f = fopen(DOC_FILE, "rb");
    assert_non_null(f);
    static char buf[1 << 20];
    const size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    size_t len;
    const char *emb = i2v__openapi_document(&len);
    assert_int_equal(len, n);
    assert_memory_equal(emb, buf, n);
    assert_int_equal(emb[len], '\0');
}

static void test_routes_and_document_agree(void **state)
{
    (void)state;
    json_t *doc = load_doc();
    int pending = 0;
    const int bad = compare(doc, served_families, NSERVED, &pending);
    print_message("pending operations not served yet: %d\n", pending);
    json_decref(doc);
    assert_int_equal(bad, 0);
}

/* The comparison itself catches each kind of mismatch. */
static void test_compare_catches_mismatches(void **state)
{
    (void)state;
    static const i2v_route routes[] = {
        {"GET POST", "/api/x/things", NULL},
        {"GET DELETE", "/api/x/things/", NULL},
    };
    static const i2v_api_family fam = {"x", "/api/x/", NULL, routes, 2};
    const i2v_api_family *const fams[] = {&fam};
    int pending;
    json_t *doc = json_pack("{s:{s:{s:{}, s:{}}, s:{s:{}, s:{}}}}", "paths", "/api/x/things", "get",
                            "post", "/api/x/things/{id}", "get", "delete");
    assert_int_equal(compare(doc, fams, 1, &pending), 0);
    assert_int_equal(pending, 0);
    /* a route's method missing from the document */
    json_object_del(json_object_get(json_object_get(doc, "paths"), "/api/x/things"), "post");
    assert_int_equal(compare(doc, fams, 1, &pending), 1);
    /* a documented operation nobody serves */
    json_object_set_new(json_object_get(json_object_get(doc, "paths"), "/api/x/things"), "post",
                        json_object());
    json_object_set_new(json_object_get(doc, "paths"), "/api/x/other", json_pack("{s:{}}", "get"));
    assert_int_equal(compare(doc, fams, 1, &pending), 1);
    /* ... allowed when it is pending */
    json_object_set_new(
        json_object_get(json_object_get(json_object_get(doc, "paths"), "/api/x/other"), "get"),
        "x-i2v-pending", json_true());
    assert_int_equal(compare(doc, fams, 1, &pending), 0);
    assert_int_equal(pending, 1);
    /* a method of a prefix route that no document path under it has */
    json_object_del(json_object_get(json_object_get(doc, "paths"), "/api/x/things/{id}"), "delete");
    assert_int_equal(compare(doc, fams, 1, &pending), 1);
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_document),
        cmocka_unit_test(test_embedded_is_the_file),
        cmocka_unit_test(test_routes_and_document_agree),
        cmocka_unit_test(test_compare_catches_mismatches),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
