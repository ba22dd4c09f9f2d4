/*
 * cli_admin.c - `i2v admin`: users, API keys, credits and the state of the
 * queue, on the job store (--data's SQLite database or --store; safe while
 * servers run: short transactions). Output is key=value lines, easy for
 * people and scripts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends.h"
#include "cli.h"
#include "common/crypto.h"
#include "common/options.h"
#include "store/store.h"

static const i2v_option admin_opts[] = {
    I2V_BACKEND_OPTIONS,
    {"name", 0, I2V_OPT_STRING, "", 0, 0, NULL, NULL, "user create: a name for the user"},
    {"credits", 0, I2V_OPT_INT, "0", 0, 1000000000, NULL, NULL,
     "user create: credits to start with"},
    {"note", 0, I2V_OPT_STRING, NULL, 0, 0, NULL, NULL, "credits add: a note for the ledger"},
    {"help", 'h', I2V_OPT_FLAG, NULL, 0, 0, NULL, NULL, "show this help"},
};
#define NOPTS (int)(sizeof admin_opts / sizeof admin_opts[0])

static void help(FILE *f)
{
    fprintf(f, "usage: i2v admin [--data DIR | --store URL] COMMAND ...\n\n"
               "commands:\n"
               "  user create [--name N] [--credits C]  new user: prints user_id, api_key (shown\n"
               "                                        once, stored as a hash), webhook_secret\n"
               "  user show USER_ID                     name, balance, webhook secret\n"
               "  key create USER_ID                    another API key for the user\n"
               "  key revoke KEY_ID|API_KEY             revoke a key (KEY_ID: its first 12 chars)\n"
               "  credits add USER_ID AMOUNT [--note T] top up\n"
               "  balance USER_ID                       balance and ledger sum\n"
               "  generations USER_ID                   the user's generations\n"
               "  queue                                 generations per state, the oldest queued,\n"
               "                                        leases per worker, webhooks pending\n"
               "\noptions:\n");
    i2v__opts_help(f, admin_opts, NOPTS);
}

static int new_key(i2v_store *s, const char *user, i2v_error *err)
{
    char key[I2V_KEY_LEN + 1], hash[I2V_HASH_HEX + 1], prefix[13];
    i2v__new_api_key(key);
    i2v__sha256_hex(key, strlen(key), hash);
    memcpy(prefix, key, 12);
    prefix[12] = '\0';
    if (s->vt->key_add(s, user, hash, prefix, err) != 0) return -1;
    printf("api_key=%s\nkey_id=%s\n", key, prefix);
    return 0;
}

static int print_gen(void *u, const i2v_gen *g)
{
    (void)u;
    printf("task_id=%lld generation_id=%s state=%s api=%d move=%s duration=%d price=%d "
           "created_ms=%lld attempts=%d out=%s error=\"%s\"\n",
           (long long)g->task_id, g->uuid, i2v__gen_state_name(g->state), g->api, g->move,
           g->duration, g->price, (long long)g->created_ms, g->attempts,
           g->out_key[0] ? g->out_key : "-", g->error);
    return 0;
}

/* `admin queue`: one line of totals, then one line per worker holding
 * leases. */
static int print_queue(i2v_store *s, i2v_error *err)
{
    i2v_queue_stats *q = calloc(1, sizeof *q);
    if (!q) return I2V_ENOMEM;
    int rc = s->vt->queue_stats(s, q, err);
    if (rc == 0) {
        const int64_t now = i2v__now_ms();
        printf(
            "queued=%lld running=%lld succeeded=%lld failed=%lld oldest_queued_s=%.1f "
            "deliveries_pending=%lld workers=%d\n",
            (long long)q->state_count[I2V_GEN_QUEUED], (long long)q->state_count[I2V_GEN_RUNNING],
            (long long)q->state_count[I2V_GEN_SUCCEEDED], (long long)q->state_count[I2V_GEN_FAILED],
            q->oldest_queued_ms ? (double)(now - q->oldest_queued_ms) / 1000.0 : 0.0,
            (long long)q->deliveries_pending, q->owners);
        for (int i = 0; i < q->owners; i++)
            printf("worker=%s leases=%lld next_expiry_s=%.1f\n", q->owner[i].name,
                   (long long)q->owner[i].leases,
                   (double)(q->owner[i].oldest_expiry_ms - now) / 1000.0);
    }
    free(q);
    return rc;
}

int i2v__cmd_admin(int argc, char **argv)
{
    i2v_opts o;
    char msg[300];
    if (i2v__opts_parse(&o, admin_opts, NOPTS, argc, argv, msg, sizeof msg) != 0) {
        fprintf(stderr, "i2v admin: %s\n", msg);
        return 2;
    }
    if (i2v__opt_given(&o, "help")) {
        help(stdout);
        return 0;
    }
    if (o.nargs < 1) {
        help(stderr);
        return 2;
    }
    const char *a0 = o.args[0], *a1 = o.nargs > 1 ? o.args[1] : NULL;
    const char *a2 = o.nargs > 2 ? o.args[2] : NULL;
    i2v_backends be;
    i2v_error err = {0};
    int status = 1;
    /* --blobs is checked (opened) when given, so one set of flags fits all
     * three commands. */
    const char *blobs = i2v__opt_str(&o, "blobs");
    if (i2v__backends_open(&be, &o, NULL, blobs && *blobs ? I2V_BACKEND_BLOBS : 0, msg,
                           sizeof msg) != 0) {
        fprintf(stderr, "i2v admin: %s\n", msg);
        return 1;
    }
    i2v_store *s = be.store;
#define NEED(cond, usage)                                                                          \
    if (!(cond)) {                                                                                 \
        fprintf(stderr, "i2v admin: usage: i2v admin " usage "\n");                                \
        status = 2;                                                                                \
        goto out;                                                                                  \
    }
    if (strcmp(a0, "user") == 0 && a1 && strcmp(a1, "create") == 0) {
        i2v_user u;
        if (s->vt->user_create(s, i2v__opt_str(&o, "name"), &u, &err) != 0) goto fail;
        printf("user_id=%s\n", u.id);
        if (new_key(s, u.id, &err) != 0) goto fail;
        printf("webhook_secret=%s\n", u.webhook_secret);
        int64_t bal = 0;
        long c = i2v__opt_int(&o, "credits");
        if (c > 0 && s->vt->credit(s, u.id, c, "initial credits", &bal, &err) != 0) goto fail;
        printf("balance=%lld\n", (long long)bal);
    } else if (strcmp(a0, "user") == 0 && a1 && strcmp(a1, "show") == 0) {
        NEED(a2, "user show USER_ID");
        i2v_user u;
        if (s->vt->user_get(s, a2, &u, &err) != 0) goto fail;
        printf("user_id=%s\nname=%s\nbalance=%lld\nwebhook_secret=%s\ncreated_ms=%lld\n", u.id,
               u.name, (long long)u.balance, u.webhook_secret, (long long)u.created_ms);
    } else if (strcmp(a0, "key") == 0 && a1 && strcmp(a1, "create") == 0) {
        NEED(a2, "key create USER_ID");
        if (new_key(s, a2, &err) != 0) goto fail;
    } else if (strcmp(a0, "key") == 0 && a1 && strcmp(a1, "revoke") == 0) {
        NEED(a2, "key revoke KEY_ID|API_KEY");
        char hash[I2V_HASH_HEX + 1];
        const char *which = a2;
        if (strlen(a2) == I2V_KEY_LEN) {
            i2v__sha256_hex(a2, strlen(a2), hash);
            which = hash;
        }
        if (s->vt->key_revoke(s, which, &err) != 0) goto fail;
        printf("revoked=%s\n", a2);
    } else if (strcmp(a0, "credits") == 0 && a1 && strcmp(a1, "add") == 0) {
        NEED(a2 && o.nargs > 3, "credits add USER_ID AMOUNT");
        char *end;
        long long amount = strtoll(o.args[3], &end, 10);
        if (*end || amount <= 0 || amount > 1000000000LL) {
            fprintf(stderr, "i2v admin: AMOUNT: '%s' is not a whole number in 1..1000000000\n",
                    o.args[3]);
            status = 2;
            goto out;
        }
        int64_t bal;
        if (s->vt->credit(s, a2, amount, i2v__opt_str(&o, "note"), &bal, &err) != 0) goto fail;
        printf("balance=%lld\n", (long long)bal);
    } else if (strcmp(a0, "balance") == 0) {
        NEED(a1, "balance USER_ID");
        int64_t bal, sum;
        if (s->vt->ledger(s, a1, &bal, &sum, &err) != 0) goto fail;
        printf("balance=%lld\nledger_sum=%lld\n", (long long)bal, (long long)sum);
    } else if (strcmp(a0, "generations") == 0) {
        NEED(a1, "generations USER_ID");
        if (s->vt->gen_list(s, a1, print_gen, NULL, &err) != 0) goto fail;
    } else if (strcmp(a0, "queue") == 0) {
        if (print_queue(s, &err) != 0) goto fail;
    } else {
        fprintf(stderr, "i2v admin: unknown command '%s%s%s'\n", a0, a1 ? " " : "", a1 ? a1 : "");
        help(stderr);
        status = 2;
        goto out;
    }
    status = 0;
    goto out;
fail:
    fprintf(stderr, "i2v admin: %s\n", err.message);
out:
    i2v__backends_close(&be);
    return status;
}
