/* main.c - `i2v`: dispatches to the subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "i2v/i2v.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: i2v COMMAND [options]\n\n"
               "commands:\n"
               "  render PHOTO -o OUT.mp4   render a photo to a video with a camera move\n"
               "  serve                     HTTP API (both seed APIs) with in-process workers\n"
               "  worker                    workers only, on the same data directory or database\n"
               "  admin COMMAND             users, API keys and credits\n"
               "\n"
               "i2v COMMAND --help describes a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "render") == 0) return i2v__cmd_render(argc - 2, argv + 2);
    if (strcmp(cmd, "serve") == 0) return i2v__cmd_serve(argc - 2, argv + 2);
    if (strcmp(cmd, "worker") == 0) return i2v__cmd_worker(argc - 2, argv + 2);
    if (strcmp(cmd, "admin") == 0) return i2v__cmd_admin(argc - 2, argv + 2);
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("i2v %s\n", I2V_VERSION);
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "i2v: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
