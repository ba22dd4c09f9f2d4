/* options.c - table-driven flags, environment variables and help. */
#include "options.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int find(const i2v_option *t, int n, const char *name, size_t len)
{
    for (int i = 0; i < n; i++)
        if (strlen(t[i].name) == len && strncmp(t[i].name, name, len) == 0) return i;
    return -1;
}

static int choice_ok(const char *choices, const char *v)
{
    const size_t vl = strlen(v);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        const size_t l = bar ? (size_t)(bar - p) : strlen(p);
        if (l == vl && strncasecmp(p, v, l) == 0) return 1;
        if (!bar) break;
        p = bar + 1;
    }
    return 0;
}

static int check(const i2v_option *opt, const char *v, const char *label, char *msg, size_t ml)
{
    char *end = NULL;
    switch (opt->type) {
    case I2V_OPT_INT: {
        errno = 0;
        long x = strtol(v, &end, 10);
        if (errno || end == v || *end || x < opt->min || x > opt->max) {
            snprintf(msg, ml, "%s: '%s' is not a whole number in %.0f..%.0f", label, v, opt->min,
                     opt->max);
            return -1;
        }
        return 0;
    }
    case I2V_OPT_NUMBER: {
        errno = 0;
        double x = strtod(v, &end);
        if (errno || end == v || *end || !(x >= opt->min && x <= opt->max)) {
            snprintf(msg, ml, "%s: '%s' is not a number in %g..%g", label, v, opt->min, opt->max);
            return -1;
        }
        return 0;
    }
    case I2V_OPT_CHOICE:
        if (!choice_ok(opt->choices, v)) {
            snprintf(msg, ml, "%s: '%s' is not one of %s", label, v, opt->choices);
            return -1;
        }
        return 0;
    default:
        return 0;
    }
}

int i2v__opts_parse(i2v_opts *o, const i2v_option *t, int n, int argc, char **argv, char *msg,
                    size_t ml)
{
    memset(o, 0, sizeof *o);
    o->table = t;
    o->count = n > I2V_OPTS_MAX ? I2V_OPTS_MAX : n;
    int only_args = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (only_args || a[0] != '-' || a[1] == '\0') {
            if (o->nargs >= I2V_ARGS_MAX) {
                snprintf(msg, ml, "too many arguments");
                return -1;
            }
            o->args[o->nargs++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_args = 1;
            continue;
        }
        int idx = -1;
        const char *val = NULL;
        if (a[1] == '-') {
            const char *name = a + 2, *eq = strchr(name, '=');
            idx = find(t, o->count, name, eq ? (size_t)(eq - name) : strlen(name));
            if (eq) val = eq + 1;
        } else if (a[2] == '\0') {
            for (int k = 0; k < o->count; k++)
                if (t[k].short_name == a[1]) idx = k;
        }
        if (idx < 0) {
            snprintf(msg, ml, "unknown option '%s' (see --help)", a);
            return -1;
        }
        if (t[idx].type == I2V_OPT_FLAG) {
            if (val) {
                snprintf(msg, ml, "--%s takes no value", t[idx].name);
                return -1;
            }
            val = "1";
        } else if (!val) {
            if (i + 1 >= argc) {
                snprintf(msg, ml, "--%s needs a value", t[idx].name);
                return -1;
            }
            val = argv[++i];
        }
        char label[80];
        snprintf(label, sizeof label, "--%s", t[idx].name);
        if (check(&t[idx], val, label, msg, ml)) return -1;
        o->value[idx] = val;
        o->from_cli[idx] = 1;
    }
    for (int k = 0; k < o->count; k++) {
        if (o->value[k] || !t[k].env) continue;
        const char *e = getenv(t[k].env);
        if (e && *e) {
            if (check(&t[k], e, t[k].env, msg, ml)) return -1;
            o->value[k] = e;
        }
    }
    return 0;
}

static int idx_of(const i2v_opts *o, const char *name)
{
    int i = find(o->table, o->count, name, strlen(name));
    if (i < 0) {
        fprintf(stderr, "i2v: internal error: no option named %s\n", name);
        abort();
    }
    return i;
}

const char *i2v__opt_str(const i2v_opts *o, const char *name)
{
    int i = idx_of(o, name);
    return o->value[i] ? o->value[i] : o->table[i].def;
}

long i2v__opt_int(const i2v_opts *o, const char *name)
{
    const char *v = i2v__opt_str(o, name);
    return v ? strtol(v, NULL, 10) : 0;
}

double i2v__opt_num(const i2v_opts *o, const char *name)
{
    const char *v = i2v__opt_str(o, name);
    return v ? strtod(v, NULL) : 0.0;
}

int i2v__opt_given(const i2v_opts *o, const char *name)
{
    return o->value[idx_of(o, name)] != NULL;
}

void i2v__opts_help(FILE *f, const i2v_option *t, int n)
{
    for (int i = 0; i < n; i++) {
        char flag[64];
        const char *meta = t[i].type == I2V_OPT_FLAG     ? ""
                           : t[i].type == I2V_OPT_CHOICE ? " VALUE"
                           : t[i].type == I2V_OPT_STRING ? " TEXT"
                                                         : " N";
        if (t[i].short_name)
            snprintf(flag, sizeof flag, "-%c, --%s%s", t[i].short_name, t[i].name, meta);
        else
            snprintf(flag, sizeof flag, "    --%s%s", t[i].name, meta);
        fprintf(f, "  %-26s %s", flag, t[i].help);
        if (t[i].type == I2V_OPT_CHOICE)
            fprintf(f, " (%s)", t[i].choices);
        else if (t[i].type == I2V_OPT_INT)
            fprintf(f, " (%.0f..%.0f)", t[i].min, t[i].max);
        else if (t[i].type == I2V_OPT_NUMBER)
            fprintf(f, " (%g..%g)", t[i].min, t[i].max);
        if (t[i].def && t[i].def[0]) fprintf(f, " [default: %s]", t[i].def);
        if (t[i].env) fprintf(f, " [env: %s]", t[i].env);
        fputc('\n', f);
    }
}
