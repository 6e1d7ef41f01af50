/*
 * ctl_server.c: the control socket server.
 *
 * Hygiene, after OpenSMTPD's control.c: refuse to start when a live
 * daemon answers on the path, replace a stale socket, refuse a symlink
 * or any other kind of file, bind under a umask that gives the socket its
 * final mode, then set its group.  Each client is a bufferevent with:
 * a line limit (PROTO_MAX_LINE), an idle timer (no complete request for
 * control_idle_timeout closes it), an output cap (a client that does not
 * read its replies is dropped), and one request at a time (later lines
 * wait in its input buffer).  Peer credentials are read once at accept.
 * On EMFILE the listener pauses for a second instead of spinning.
 *
 * Clients are freed only from their own callbacks or the idle timer; a
 * command still running when its client goes keeps a NULL owner and its
 * reply is dropped.
 */
#include "config.h"

#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <systemd/sd-daemon.h>

#include "cmd.h"
#include "conf.h"
#include "ctl_server.h"
#include "log.h"
#include "pgmigd.h"
#include "proto.h"
#include "util.h"

#define CTL_MAX_OUTPUT (8 * 1024 * 1024)	/* unread replies */
#define CTL_MAX_GROUPS 256
#define CTL_EMFILE_PAUSE_MS 1000

struct ctl_client {
	TAILQ_ENTRY(ctl_client) entry;
	struct ctl_server *srv;
	struct bufferevent *bev;
	struct event *idle;
	struct event *next;	/* run the next queued request, from the loop */
	uint64_t id;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	bool privileged;
	bool closing;		/* flush, then free */
	bool eof;		/* the peer will send nothing more */
	bool processing;	/* inside client_process */
	bool shut;		/* our side is shut down */
	struct cmd_ctx *busy;	/* the request in progress */
};
TAILQ_HEAD(ctl_clients, ctl_client);

struct ctl_server {
	struct pgmigd *d;
	struct evconnlistener *listener;
	struct event *resume;	/* re-enable accepting after EMFILE */
	struct ctl_clients clients;
	size_t nclients;
	uint64_t next_id;
	char *path;		/* NULL when systemd owns the socket */
	bool activated;
};

static void client_process(struct ctl_client *);
static void client_next_cb(evutil_socket_t, short, void *);

/*
 * ctl_socket_probe: what is at path?  0 nothing; 1 a live daemon answers;
 * 2 a stale socket; -1 something we must not touch (errno set: ELOOP for
 * a symlink, EEXIST for another kind of file).
 */
int
ctl_socket_probe(const char *path)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd, r;

	if (lstat(path, &st) == -1)
		return errno == ENOENT ? 0 : -1;
	if (S_ISLNK(st.st_mode)) {
		errno = ELOOP;
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		errno = EEXIST;
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy_(sun.sun_path, path, sizeof(sun.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	if (r == 0)
		return 1;
	if (errno == ECONNREFUSED)
		return 2;
	return -1;
}

static int
ctl_bind(struct ctl_server *srv, const struct conf *conf, char **cause)
{
	struct sockaddr_un sun;
	struct stat st;
	mode_t old;
	int fd, r;

	switch (ctl_socket_probe(conf->control_socket)) {
	case 0:
		break;
	case 1:
		xasprintf(cause, "another pgmigd is running on %s",
		    conf->control_socket);
		return -1;
	case 2:
		log_info("removing stale control socket %s",
		    conf->control_socket);
		if (unlink(conf->control_socket) == -1 && errno != ENOENT) {
			xasprintf(cause, "cannot remove stale socket %s: %s",
			    conf->control_socket, strerror(errno));
			return -1;
		}
		break;
	default:
		xasprintf(cause, "refusing control socket path %s: %s",
		    conf->control_socket, errno == ELOOP ? "it is a symlink" :
		    errno == EEXIST ? "a file that is not a socket is there" :
		    strerror(errno));
		return -1;
	}

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy_(sun.sun_path, conf->control_socket, sizeof(sun.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		xasprintf(cause, "socket: %s", strerror(errno));
		return -1;
	}
	/* the file gets its final mode at creation: no window where it is
	 * wider, and fchmod on a socket fd would not change the file */
	old = umask((mode_t)(~conf->control_mode & 0777));
	r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	(void)umask(old);
	if (r == -1) {
		xasprintf(cause, "bind %s: %s", conf->control_socket,
		    strerror(errno));
		close(fd);
		return -1;
	}
	/* under the shipped unit Group= already is control_group, and the
	 * seccomp filter forbids chown: change the group only if needed */
	if (srv->d->control_gid != (gid_t)-1 &&
	    lstat(conf->control_socket, &st) == 0 &&
	    st.st_gid != srv->d->control_gid &&
	    lchown(conf->control_socket, (uid_t)-1, srv->d->control_gid) == -1)
		log_warn("cannot give %s to group %s, ignoring",
		    conf->control_socket, conf->control_group);
	if (listen(fd, SOMAXCONN) == -1) {
		xasprintf(cause, "listen %s: %s", conf->control_socket,
		    strerror(errno));
		close(fd);
		(void)unlink(conf->control_socket);
		return -1;
	}
	srv->path = xstrdup(conf->control_socket);
	return fd;
}

/* ---- clients */

/* client_drained: a closing client whose replies are all written. */
static void
client_drained(struct ctl_client *c)
{
	if (!c->closing || c->busy != NULL || c->shut ||
	    evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
		return;
	c->shut = true;
	(void)shutdown(bufferevent_getfd(c->bev), SHUT_WR);
}

static void
client_free(struct ctl_client *c)
{
	struct ctl_server *srv = c->srv;

	if (c->busy != NULL)
		c->busy->owner = NULL;	/* its reply will be dropped */
	TAILQ_REMOVE(&srv->clients, c, entry);
	srv->nclients--;
	event_free(c->idle);
	event_free(c->next);
	bufferevent_free(c->bev);
	log_debug("control client %llu gone", (unsigned long long)c->id);
	free(c);
}

static void
client_arm_idle(struct ctl_client *c)
{
	int64_t ms = c->srv->d->conf->control_idle_timeout_ms;
	struct timeval tv = { (time_t)(ms / 1000),
	    (suseconds_t)(ms % 1000) * 1000 };

	event_add(c->idle, &tv);
}

static void
client_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ctl_client *c = arg;

	(void)fd;
	(void)what;
	if (c->busy != NULL)
		return;
	log_debug("control client %llu idle or done, closing",
	    (unsigned long long)c->id);
	client_free(c);
}

/*
 * client_close: process nothing more.  Once the replies are written we
 * shut down our side and discard input until the peer closes (closing
 * with unread input would reset the connection and could lose the last
 * reply); a peer that neither reads nor closes is freed after a grace
 * time.
 */
static void
client_close(struct ctl_client *c)
{
	struct timeval tv = { 5, 0 };

	c->closing = true;
	event_add(c->idle, &tv);
	client_drained(c);
}

/* client_send: queue a line; drop a client that does not read. */
static void
client_send(struct ctl_client *c, char *line)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	if (evbuffer_get_length(out) > CTL_MAX_OUTPUT) {
		log_warnx("control client %llu does not read its replies, "
		    "closing", (unsigned long long)c->id);
		evbuffer_drain(out, evbuffer_get_length(out));
		free(line);
		client_close(c);
		return;
	}
	/* write at once when nothing is queued: one syscall instead of a
	 * loop turn and an EV_WRITE round; what does not fit is queued */
	if (evbuffer_get_length(out) == 0 && !c->shut) {
		size_t len = strlen(line);
		ssize_t n = send(bufferevent_getfd(c->bev), line, len,
		    MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0)
			n = 0;	/* EAGAIN or an error: bufferevent sees it */
		if ((size_t)n < len)
			evbuffer_add(out, line + n, len - (size_t)n);
		free(line);
		return;
	}
	evbuffer_add(out, line, strlen(line));
	free(line);
}

/* client_fail: send a protocol error, then close once it is written. */
static void
client_fail(struct ctl_client *c, enum proto_err code, const char *msg)
{
	client_send(c, proto_reply_error(NULL, code, msg));
	client_close(c);
}

/*
 * client_settle: between requests: free a client that is done, or wait
 * for its next request.
 */
static void
client_settle(struct ctl_client *c)
{
	if (c->eof && !c->closing)
		client_close(c);	/* no more requests can come */
	if (c->closing) {
		if (c->eof && c->shut)
			client_free(c);	/* all written, peer gone */
		return;
	}
	client_arm_idle(c);
}

static void
client_reply(struct cmd_ctx *ctx)
{
	struct ctl_client *c = ctx->owner;

	if (c != NULL) {
		if (ctx->errmsg != NULL && ctx->result == NULL)
			client_send(c, proto_reply_error(ctx->req.id, ctx->err,
			    ctx->errmsg));
		else
			client_send(c, proto_reply_ok(ctx->req.id,
			    json_incref(ctx->result)));
		c->busy = NULL;
	}
	cmd_ctx_free(ctx);
	/* a synchronous reply returns into client_process's loop; after an
	 * asynchronous one the next pipelined request starts from the loop,
	 * never inside whatever delivered this reply (a pool or a run in the
	 * middle of its own work) */
	if (c != NULL && !c->processing) {
		struct timeval tv = { 0, 0 };

		event_add(c->next, &tv);
	}
}

static void
client_next_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ctl_client *c = arg;

	(void)fd;
	(void)what;
	if (c->busy == NULL)
		client_process(c);
}

static void
client_progress(struct cmd_ctx *ctx, const char *phase, double pct)
{
	client_send(ctx->owner, proto_reply_progress(ctx->req.id, phase, pct));
}

/*
 * client_process: run the complete lines waiting in the input, in order,
 * one at a time.  May free c.
 */
static void
client_process(struct ctl_client *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct cmd_ctx *ctx;
	char *line, *err = NULL;
	size_t len;

	c->processing = true;
	while (c->busy == NULL && !c->closing) {
		line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
		if (line == NULL) {
			if (evbuffer_get_length(in) > PROTO_MAX_LINE ||
			    (c->eof && evbuffer_get_length(in) > 0))
				client_fail(c, PROTO_E_USAGE,
				    evbuffer_get_length(in) > PROTO_MAX_LINE ?
				    "request line too long (64 KiB at most)" :
				    "request not terminated by a newline");
			break;
		}
		if (len > PROTO_MAX_LINE) {
			free(line);
			client_fail(c, PROTO_E_USAGE,
			    "request line too long (64 KiB at most)");
			break;
		}
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (len == 0) {
			free(line);
			continue;
		}
		event_del(c->idle);
		ctx = cmd_ctx_new(c->srv->d);
		if (proto_parse_request(line, len, &ctx->req, &err) == -1) {
			/* answered, addressed to its id if one was read; a
			 * client speaking garbage gets one answer, then EOF */
			client_send(c, proto_reply_error(ctx->req.id,
			    PROTO_E_USAGE, err));
			free(err);
			err = NULL;
			free(line);
			cmd_ctx_free(ctx);
			client_close(c);
			break;
		}
		free(line);
		ctx->privileged = c->privileged;
		ctx->uid = c->uid;
		ctx->pid = c->pid;
		ctx->owner = c;
		ctx->reply = client_reply;
		ctx->progress = client_progress;
		c->busy = ctx;
		cmd_run(ctx);	/* a synchronous command has replied now */
	}
	c->processing = false;
	if (c->busy == NULL)
		client_settle(c);
}

static void
client_read_cb(struct bufferevent *bev, void *arg)
{
	struct ctl_client *c = arg;

	if (c->closing) {
		struct evbuffer *in = bufferevent_get_input(bev);

		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	/* while a request runs, later lines wait; the read watermark
	 * stops reading once a full line is buffered */
	if (c->busy == NULL)
		client_process(c);
}

static void
client_write_cb(struct bufferevent *bev, void *arg)
{
	struct ctl_client *c = arg;

	(void)bev;
	client_drained(c);
	if (c->shut && c->eof)
		client_free(c);
}

static void
client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct ctl_client *c = arg;

	(void)bev;
	if (what & BEV_EVENT_ERROR) {
		client_free(c);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		c->eof = true;
		bufferevent_disable(c->bev, EV_READ);
		if (c->closing) {
			if (c->busy == NULL && c->shut)
				client_free(c);
			return;
		}
		/* the peer shut down its side: answer what it sent first */
		if (c->busy == NULL)
			client_process(c);
	}
}

static bool
peer_privileged(struct ctl_server *srv, int fd, struct ctl_client *c)
{
	gid_t groups[CTL_MAX_GROUPS];
	socklen_t len = sizeof(groups);
	gid_t cg = srv->d->control_gid;
	size_t i;

	if (c->uid == 0 || c->uid == geteuid())
		return true;
	if (cg == (gid_t)-1)
		return false;
	if (c->gid == cg)
		return true;
	/* supplementary groups of the peer, as they were at connect() */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == -1)
		return false;
	for (i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == cg)
			return true;
	return false;
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct ctl_server *srv = arg;
	const struct conf *conf = srv->d->conf;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct ctl_client *c;

	(void)l;
	(void)sa;
	(void)salen;
	if (srv->nclients >= (size_t)conf->control_max_clients) {
		char *line = proto_reply_error(NULL, PROTO_E_BUSY,
		    "too many control clients, try again");

		(void)!send(fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT);
		free(line);
		close(fd);
		log_debug("control client refused: %zu clients",
		    srv->nclients);
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("SO_PEERCRED");
		close(fd);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->srv = srv;
	c->id = ++srv->next_id;
	c->uid = cred.uid;
	c->gid = cred.gid;
	c->pid = cred.pid;
	c->privileged = peer_privileged(srv, fd, c);
	c->bev = bufferevent_socket_new(srv->d->base, fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL)
		fatalx("bufferevent_socket_new failed");
	c->idle = evtimer_new(srv->d->base, client_idle_cb, c);
	c->next = evtimer_new(srv->d->base, client_next_cb, c);
	if (c->idle == NULL)
		fatalx("evtimer_new failed");
	bufferevent_setcb(c->bev, client_read_cb, client_write_cb,
	    client_event_cb, c);
	/* stop reading once a whole line and a byte more are buffered */
	bufferevent_setwatermark(c->bev, EV_READ, 0, PROTO_MAX_LINE + 2);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&srv->clients, c, entry);
	srv->nclients++;
	client_arm_idle(c);
	log_debug("control client %llu: uid %ld pid %ld%s",
	    (unsigned long long)c->id, (long)c->uid, (long)c->pid,
	    c->privileged ? " (privileged)" : "");
}

static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ctl_server *srv = arg;

	(void)fd;
	(void)what;
	if (!srv->d->stopping)
		evconnlistener_enable(srv->listener);
}

static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct ctl_server *srv = arg;
	struct timeval tv = { CTL_EMFILE_PAUSE_MS / 1000,
	    (CTL_EMFILE_PAUSE_MS % 1000) * 1000 };
	int e = EVUTIL_SOCKET_ERROR();

	if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
		log_warnx("accept: %s; not accepting for %d ms",
		    strerror(e), CTL_EMFILE_PAUSE_MS);
		evconnlistener_disable(l);
		event_add(srv->resume, &tv);
		return;
	}
	log_warnx("accept: %s, ignoring", strerror(e));
}

/*
 * ctl_server_new: listen on the socket systemd passed (socket activation)
 * or on daemon.control_socket.  NULL with a reason in *cause.
 */
struct ctl_server *
ctl_server_new(struct pgmigd *d, char **cause)
{
	struct ctl_server *srv = xcalloc(1, sizeof(*srv));
	int n, fd = -1;

	srv->d = d;
	TAILQ_INIT(&srv->clients);
	n = sd_listen_fds(1);
	if (n > 1) {
		xasprintf(cause, "systemd passed %d sockets; expected one", n);
		free(srv);
		return NULL;
	}
	if (n == 1) {
		fd = SD_LISTEN_FDS_START;
		if (sd_is_socket_unix(fd, SOCK_STREAM, 1, NULL, 0) <= 0) {
			xasprintf(cause, "the socket systemd passed is not a "
			    "listening Unix stream socket");
			free(srv);
			return NULL;
		}
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
		srv->activated = true;
	} else if ((fd = ctl_bind(srv, d->conf, cause)) == -1) {
		free(srv);
		return NULL;
	}
	evutil_make_socket_nonblocking(fd);
	srv->listener = evconnlistener_new(d->base, accept_cb, srv,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (srv->listener == NULL)
		fatalx("evconnlistener_new failed");
	evconnlistener_set_error_cb(srv->listener, accept_error_cb);
	srv->resume = evtimer_new(d->base, resume_cb, srv);
	{
		struct log_field f[] = { { "PGMIG_OBJECT", srv->path } };

		log_event(LOG_INFO, LOG_EV_CONTROL_LISTEN, f,
		    srv->path != NULL ? 1 : 0, "control socket %s%s",
		    srv->path != NULL ? srv->path : "from systemd",
		    srv->activated ? " (socket activation)" : "");
	}
	return srv;
}

/* ctl_server_stop_accepting: no new clients (shutdown has begun). */
void
ctl_server_stop_accepting(struct ctl_server *srv)
{
	evconnlistener_disable(srv->listener);
}

/* ctl_server_free: close every client and the socket; NULL is fine. */
void
ctl_server_free(struct ctl_server *srv)
{
	struct ctl_client *c;

	if (srv == NULL)
		return;
	while ((c = TAILQ_FIRST(&srv->clients)) != NULL)
		client_free(c);
	evconnlistener_free(srv->listener);
	event_free(srv->resume);
	if (srv->path != NULL)
		(void)unlink(srv->path);
	free(srv->path);
	free(srv);
}

/* ctl_server_nclients: clients connected now. */
size_t
ctl_server_nclients(const struct ctl_server *srv)
{
	return srv->nclients;
}

/* ctl_server_path: the socket path, or NULL under socket activation. */
const char *
ctl_server_path(const struct ctl_server *srv)
{
	return srv->path;
}
