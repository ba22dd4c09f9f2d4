/*
 * options.h - options as data. One table per command declares each option's
 * name, type, default, range or choices, environment variable and help; the
 * same table drives command-line parsing, I2V_* environment variables,
 * validation (the message names the option) and --help.
 */
#ifndef I2V_OPTIONS_H
#define I2V_OPTIONS_H

#include <stdio.h>

typedef enum {
    I2V_OPT_STRING,
    I2V_OPT_INT,
    I2V_OPT_NUMBER,
    I2V_OPT_CHOICE,
    I2V_OPT_FLAG
} i2v_opt_type;

typedef struct i2v_option {
    const char *name; /* long flag without "--" */
    char short_name;  /* 0: none */
    i2v_opt_type type;
    const char *def;     /* default as text; NULL: none */
    double min, max;     /* INT / NUMBER range */
    const char *choices; /* CHOICE: "a|b|c" (case-insensitive) */
    const char *env;     /* environment variable, or NULL */
    const char *help;
} i2v_option;

#define I2V_OPTS_MAX 64
#define I2V_ARGS_MAX 16

typedef struct i2v_opts {
    const i2v_option *table;
    int count;
    const char *value[I2V_OPTS_MAX]; /* NULL: unset (default applies) */
    int from_cli[I2V_OPTS_MAX];
    const char *args[I2V_ARGS_MAX]; /* positional arguments */
    int nargs;
} i2v_opts;

/* Parses argv (without the command words) and the environment. On error
 * writes one line naming the option into msg and returns -1. */
int i2v__opts_parse(i2v_opts *o, const i2v_option *table, int count, int argc, char **argv,
                    char *msg, size_t msglen);
/* The value (or default) of an option, by name. */
const char *i2v__opt_str(const i2v_opts *o, const char *name);
long i2v__opt_int(const i2v_opts *o, const char *name);
double i2v__opt_num(const i2v_opts *o, const char *name);
int i2v__opt_given(const i2v_opts *o, const char *name); /* set on CLI or env */
void i2v__opts_help(FILE *f, const i2v_option *table, int count);

#endif
