/* output_review.c - running the operator's output review command. */
#include "output_review.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"
#include "common/log.h"

extern char **environ;

#define ARGS_MAX 32   /* words of the command line */
#define OUT_KEEP 4096 /* bytes of its output kept (the rest is read and dropped) */

/* The first line of out, printable, at most I2V_REVIEW_REASON_MAX bytes. */
static void first_line(const char *out, size_t len, char *reason)
{
    size_t i = 0, n = 0;
    while (i < len && (out[i] == ' ' || out[i] == '\t' || out[i] == '\r' || out[i] == '\n'))
        i++;
    for (; i < len && out[i] != '\n' && out[i] != '\r' && n < I2V_REVIEW_REASON_MAX; i++)
        reason[n++] = (unsigned char)out[i] < ' ' || out[i] == 0x7f ? ' ' : out[i];
    while (n && reason[n - 1] == ' ')
        n--;
    reason[n] = '\0';
    if (!n) snprintf(reason, I2V_REVIEW_REASON_MAX + 1, "refused by the output review");
}

int i2v__output_review(const i2v_service *svc, const i2v_gen *g, const char *const *files, int n,
                       const volatile int *cancel, char *reason, i2v_error *err)
{
    char line[sizeof svc->review_cmd], *argv[ARGS_MAX + 8];
    char env_gen[64], env_task[64], env_user[64];
    char **envp = NULL;
    int argc = 0, fds[2] = {-1, -1}, rc = 0, status = 0, spawned = 0;
    pid_t pid = -1;
    char out[OUT_KEEP];
    size_t got = 0;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    reason[0] = '\0';

    snprintf(line, sizeof line, "%s", svc->review_cmd);
    for (char *save = NULL, *w = strtok_r(line, " ", &save); w && argc < ARGS_MAX;
         w = strtok_r(NULL, " ", &save))
        argv[argc++] = w;
    if (argc == 0) {
        rc = i2v__err(err, I2V_EINTERNAL, "output review: no command");
        goto out;
    }
    for (int i = 0; i < n && i < 8 - 1; i++)
        argv[argc++] = (char *)files[i];
    argv[argc] = NULL;
    /* its environment: i2v's and which generation it looks at */
    size_t ne = 0;
    while (environ && environ[ne])
        ne++;
    envp = calloc(ne + 4, sizeof *envp);
    if (!envp) {
        rc = i2v__err(err, I2V_ENOMEM, "out of memory");
        goto out;
    }
    snprintf(env_gen, sizeof env_gen, "I2V_GENERATION_ID=%s", g->uuid);
    snprintf(env_task, sizeof env_task, "I2V_TASK_ID=%lld", (long long)g->task_id);
    snprintf(env_user, sizeof env_user, "I2V_USER_ID=%s", g->user_id);
    size_t k = 0;
    for (size_t i = 0; i < ne; i++)
        if (strncmp(environ[i], "I2V_GENERATION_ID=", 18) &&
            strncmp(environ[i], "I2V_TASK_ID=", 12) && strncmp(environ[i], "I2V_USER_ID=", 12))
            envp[k++] = environ[i];
    envp[k++] = env_gen;
    envp[k++] = env_task;
    envp[k++] = env_user;

    if (pipe2(fds, O_CLOEXEC) != 0 || fcntl(fds[0], F_SETFL, O_NONBLOCK) != 0) {
        rc = i2v__err(err, I2V_EINTERNAL, "output review: pipe: %s", strerror(errno));
        goto out;
    }
    /* stdin /dev/null, stdout the pipe, stderr discarded; a process group
     * of its own (so a timeout kills its children too); default signal
     * dispositions (i2v ignores SIGPIPE) and an empty mask */
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    sigset_t none, def;
    sigemptyset(&none);
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &def);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    const int e = posix_spawnp(&pid, argv[0], &fa, &at, argv, envp);
    if (e != 0) {
        rc = i2v__err(err, I2V_EINTERNAL, "output review: cannot run %s: %s", argv[0], strerror(e));
        goto out;
    }
    spawned = 1;
    close(fds[1]);
    fds[1] = -1;

    const double deadline = i2v__mono() + svc->review_timeout_s;
    int open_out = 1, done = 0;
    while (!done) {
        if (cancel && *cancel) {
            rc = i2v__err(err, I2V_ECANCELLED, "output review: cancelled");
            break;
        }
        if (i2v__mono() > deadline) {
            rc = i2v__err(err, I2V_ELIMIT, "output review: %s did not answer within %.1f s",
                          argv[0], svc->review_timeout_s);
            break;
        }
        if (open_out) {
            struct pollfd p = {.fd = fds[0], .events = POLLIN};
            if (poll(&p, 1, 50) > 0) {
                char buf[4096];
                const ssize_t r = read(fds[0], buf, sizeof buf);
                if (r > 0 && got < sizeof out) {
                    const size_t take = (size_t)r < sizeof out - got ? (size_t)r : sizeof out - got;
                    memcpy(out + got, buf, take);
                    got += take;
                }
                if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) open_out = 0;
            }
        } else {
            usleep(20000);
        }
        const pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            done = 1;
            spawned = 0;
        }
    }
    if (spawned) { /* cancelled or timed out: the whole group goes */
        kill(-pid, SIGKILL);
        waitpid(pid, &status, 0);
        spawned = 0;
        goto out;
    }
    /* what it wrote before exiting, still in the pipe */
    while (open_out && got < sizeof out) {
        const ssize_t r = read(fds[0], out + got, sizeof out - got);
        if (r <= 0) break;
        got += (size_t)r;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        rc = 0;
    } else if (WIFEXITED(status)) {
        first_line(out, got, reason);
        rc = 1;
    } else {
        rc = i2v__err(err, I2V_EINTERNAL, "output review: %s was killed by signal %d", argv[0],
                      WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    }
out:
    if (spawned) {
        kill(-pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    if (fds[0] >= 0) close(fds[0]);
    if (fds[1] >= 0) close(fds[1]);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    free(envp);
    return rc;
}
