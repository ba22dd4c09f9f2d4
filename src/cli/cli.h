/* cli.h - the `i2v` program's subcommands. */
#ifndef I2V_CLI_H
#define I2V_CLI_H

int i2v__cmd_render(int argc, char **argv);
int i2v__cmd_serve(int argc, char **argv);
int i2v__cmd_worker(int argc, char **argv);
int i2v__cmd_admin(int argc, char **argv);

#endif
