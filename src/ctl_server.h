/*
 * ctl_server.h: the control socket: listen (or take the socket systemd
 * passed), accept clients, read request lines, run them, write replies.
 */
#ifndef PGMIG_CTL_SERVER_H
#define PGMIG_CTL_SERVER_H

#include <stddef.h>
#include <stdint.h>

struct pgmigd;
struct ctl_server;

struct ctl_server *ctl_server_new(struct pgmigd *, char **);
void ctl_server_free(struct ctl_server *);
void ctl_server_stop_accepting(struct ctl_server *);
size_t ctl_server_nclients(const struct ctl_server *);
const char *ctl_server_path(const struct ctl_server *);
int ctl_socket_probe(const char *);

#endif
