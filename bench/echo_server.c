/*
 * echo_server.c: the baseline for the control round trip.  A minimal
 * single-threaded Unix stream socket server on epoll: non-blocking
 * sockets, level-triggered, and every complete line a client sends is
 * written back to it as is.  It does what pgmigd's control server must
 * do at the least (accept, read a line, write a line) and nothing else:
 * no JSON, no libevent, no bufferevents.
 *
 *   echo_server SOCKET_PATH
 *
 * Runs until SIGTERM or SIGINT, then removes the socket.
 */
#define _GNU_SOURCE
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_EVENTS 64
#define BUF_SIZE 65536

struct conn {
	int fd;
	char in[BUF_SIZE];
	size_t inlen;
	char *out;		/* bytes waiting to be written */
	size_t outlen, outcap;
	int want_out;
};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static void
conn_free(int ep, struct conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->out);
	free(c);
}

static void
conn_interest(int ep, struct conn *c, int want_out)
{
	struct epoll_event ev;

	if (want_out == c->want_out)
		return;
	ev.events = EPOLLIN | (want_out ? EPOLLOUT : 0);
	ev.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) == -1)
		die("epoll_ctl mod");
	c->want_out = want_out;
}

/* flush: write what is queued; -1 when the peer is gone. */
static int
flush(struct conn *c)
{
	ssize_t n;

	while (c->outlen > 0) {
		n = send(c->fd, c->out, c->outlen, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		memmove(c->out, c->out + n, c->outlen - (size_t)n);
		c->outlen -= (size_t)n;
	}
	return 0;
}

static void
queue(struct conn *c, const char *p, size_t len)
{
	if (c->outlen + len > c->outcap) {
		c->outcap = (c->outlen + len) * 2;
		if ((c->out = realloc(c->out, c->outcap)) == NULL)
			die("realloc");
	}
	memcpy(c->out + c->outlen, p, len);
	c->outlen += len;
}

/* on_readable: read, echo every complete line; -1 to close. */
static int
on_readable(struct conn *c)
{
	ssize_t n;
	char *nl;
	size_t used;

	for (;;) {
		if (c->inlen == sizeof(c->in))
			return -1;	/* line too long */
		n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, 0);
		if (n == 0)
			return -1;
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -1;
		}
		c->inlen += (size_t)n;
		used = 0;
		while ((nl = memchr(c->in + used, '\n', c->inlen - used)) !=
		    NULL) {
			size_t len = (size_t)(nl - (c->in + used)) + 1;

			queue(c, c->in + used, len);
			used += len;
		}
		memmove(c->in, c->in + used, c->inlen - used);
		c->inlen -= used;
	}
	return flush(c);
}

int
main(int argc, char **argv)
{
	struct epoll_event ev, evs[MAX_EVENTS];
	struct sockaddr_un sun;
	struct sigaction sa;
	int lfd, ep, n, i, fd;

	if (argc != 2) {
		fprintf(stderr, "usage: echo_server SOCKET_PATH\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(argv[1]) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "echo_server: socket path too long\n");
		return 2;
	}
	strcpy(sun.sun_path, argv[1]);
	(void)unlink(argv[1]);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd == -1)
		die("socket");
	if (bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		die("bind");
	if (listen(lfd, 128) == -1)
		die("listen");
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1");
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;	/* NULL: the listener */
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) == -1)
		die("epoll_ctl add");

	while (!stop) {
		n = epoll_wait(ep, evs, MAX_EVENTS, -1);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (c == NULL) {
				while ((fd = accept4(lfd, NULL, NULL,
				    SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
					if ((c = calloc(1, sizeof(*c))) == NULL)
						die("calloc");
					c->fd = fd;
					ev.events = EPOLLIN;
					ev.data.ptr = c;
					if (epoll_ctl(ep, EPOLL_CTL_ADD, fd,
					    &ev) == -1)
						die("epoll_ctl add");
				}
				continue;
			}
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
				if (on_readable(c) == -1) {
					conn_free(ep, c);
					continue;
				}
			} else if (evs[i].events & EPOLLOUT) {
				if (flush(c) == -1) {
					conn_free(ep, c);
					continue;
				}
			}
			conn_interest(ep, c, c->outlen > 0);
		}
	}
	(void)unlink(argv[1]);
	return 0;
}
