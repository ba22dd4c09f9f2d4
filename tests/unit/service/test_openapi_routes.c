/*
 * test_openapi_routes.c - docs/openapi.json against what `i2v serve`
 * answers: the paths its router answers itself (/healthz, /readyz) and the
 * route tables of every API family it registers (routes.h, the list
 * cli_serve.c starts the server with). Every route's method and path is in
 * the document, and every path and method of the document is served, found
 * the way the router finds it (the family with the longest prefix, then its
 * first matching route; a route path ending in '/' is a prefix owning
 * several document paths). The Developer Space's family owns every path no
 * other family does, with every method, only so that those answer 404 (or
 * 405) in Animation API v2's shape: its GET and HEAD are operations, its
 * other methods are not. Nothing in the document is marked pending
 * (x-i2v-pending). Also: the embedded document is the file's bytes.
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

#include "service/http_server.h"
#include "service/openapi.h"
#include "service/routes.h"

#define DOC_FILE "docs/openapi.json"
#define MAX_FAMILIES 32

/* What the router answers itself, as one family per path (it matches them
 * exactly, before any family). */
static i2v_api_family router_families[I2V_ROUTER_NROUTES];

/* The router's paths, then the families routes.h lists, into fams. */
static int served_families(const i2v_api_family **fams)
{
    int n = 0, nf;
    for (int i = 0; i < I2V_ROUTER_NROUTES; i++) {
        router_families[i] =
            (i2v_api_family){"router", i2v__router_routes[i].path, NULL, &i2v__router_routes[i], 1};
        fams[n++] = &router_families[i];
    }
    const i2v_api_family *const *f = i2v__serve_families(&nf);
    for (int i = 0; i < nf && n < MAX_FAMILIES; i++)
        fams[n++] = f[i];
    return n;
}

static const char *const http_methods[] = {"GET",     "PUT",  "POST",  "DELETE",
                                           "OPTIONS", "HEAD", "PATCH", "TRACE"};

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
        if (i2v__route_matches(&best->routes[i], path)) return &best->routes[i];
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

/* 1 when method m of a route of family f is an operation: every method,
 * but for the family owning every other path (prefix "") only GET and HEAD
 * (its other methods only answer 404 or 405). */
static int operation_method(const i2v_api_family *f, const char *m)
{
    return f->prefix[0] || strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
}

/* Compares doc's paths with the families' routes; prints every mismatch and
 * returns how many there are. */
static int compare(json_t *doc, const i2v_api_family *const *fams, int nfams)
{
    int bad = 0;
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
            if (rt && i2v__method_in(rt->methods, http_methods[m])) continue;
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
                if (!i2v__method_in(rt->methods, http_methods[m]) ||
                    !operation_method(fams[f], http_methods[m]))
                    continue;
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

/* 1 when v (any JSON value) holds the key x-i2v-pending anywhere. */
static int has_pending(json_t *v)
{
    const char *k;
    json_t *x;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach(v, k, x)
        {
            if (strcmp(k, "x-i2v-pending") == 0 || has_pending(x)) return 1;
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, x)
        {
            if (has_pending(x)) return 1;
        }
    }
    return 0;
}

static void test_document(void **state)
{
    (void)state;
    json_t *doc = load_doc();
    assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.1.0");
    assert_true(json_object_size(json_object_get(doc, "paths")) >= 10);
    /* everything it describes is served: nothing is marked pending */
    assert_false(has_pending(doc));
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
    const i2v_api_family *fams[MAX_FAMILIES];
    const int n = served_families(fams);
    /* the router's two paths and the seven families */
    assert_int_equal(n, I2V_ROUTER_NROUTES + 7);
    static const char *const names[] = {"v1",      "v2",      "native", "outputs",
                                        "uploads", "openapi", "web"};
    for (int i = 0; i < 7; i++)
        assert_string_equal(fams[I2V_ROUTER_NROUTES + i]->name, names[i]);
    json_t *doc = load_doc();
    const int bad = compare(doc, fams, n);
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
    static const i2v_route rest_routes[] = {{"GET HEAD POST PUT DELETE", "/", NULL}};
    static const i2v_api_family rest = {"rest", "", NULL, rest_routes, 1};
    const i2v_api_family *const fams[] = {&fam, &rest};
    json_t *doc =
        json_pack("{s:{s:{s:{}, s:{}}, s:{s:{}, s:{}}, s:{s:{}, s:{}}}}", "paths", "/api/x/things",
                  "get", "post", "/api/x/things/{id}", "get", "delete", "/", "get", "head");
    json_t *paths = json_object_get(doc, "paths");
    assert_int_equal(compare(doc, fams, 2), 0);
    /* a route's method missing from the document */
    json_object_del(json_object_get(paths, "/api/x/things"), "post");
    assert_int_equal(compare(doc, fams, 2), 1);
    json_object_set_new(json_object_get(paths, "/api/x/things"), "post", json_object());
    /* a documented operation nobody serves: a path of no route, a method
     * the route does not take */
    json_object_set_new(paths, "/api/x/other", json_pack("{s:{}}", "get"));
    assert_int_equal(compare(doc, fams, 2), 1);
    json_object_del(paths, "/api/x/other");
    json_object_set_new(json_object_get(paths, "/api/x/things"), "put", json_object());
    assert_int_equal(compare(doc, fams, 2), 1);
    json_object_del(json_object_get(paths, "/api/x/things"), "put");
    /* a method of a prefix route that no document path under it has */
    json_object_del(json_object_get(paths, "/api/x/things/{id}"), "delete");
    assert_int_equal(compare(doc, fams, 2), 1);
    json_object_set_new(json_object_get(paths, "/api/x/things/{id}"), "delete", json_object());
    /* the family of every other path: its GET and HEAD are operations, its
     * other methods are not */
    json_object_del(json_object_get(paths, "/"), "head");
    assert_int_equal(compare(doc, fams, 2), 1);
    json_object_set_new(json_object_get(paths, "/"), "head", json_object());
    assert_int_equal(compare(doc, fams, 2), 0);
    /* a mark of pending is found anywhere */
    assert_false(has_pending(doc));
    json_object_set_new(json_object_get(json_object_get(paths, "/"), "get"), "x-i2v-pending",
                        json_true());
    assert_true(has_pending(doc));
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
