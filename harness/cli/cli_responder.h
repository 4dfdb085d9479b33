/* iolens responder: the harness's socket peer as a command of its own. */
#ifndef IOLENS_CLI_RESPONDER_H
#define IOLENS_CLI_RESPONDER_H

/* argv[0] is "responder". Exit status: 0 stopped by a signal, 1 cannot listen, 2 bad usage. */
int iolens__cli_responder(int argc, char **argv);

#endif
