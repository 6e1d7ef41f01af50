/*
 * jobs_echo.c: the smallest possible answerer of the control protocol's
 * ping, for bench/jobs_bench.py: the floor that the kernel and the CPU
 * scheduler set, with no event loop and no daemon behind it.
 *
 *   jobs_echo SOCKET
 *
 * Listens on the Unix stream socket SOCKET (replacing a stale file), serves
 * one connection at a time with blocking reads, and answers each line
 * containing "id":N with {"id":N,"ok":true,"result":{"pong":true}}.  Runs
 * until killed.
 */
#define _POSIX_C_SOURCE 200809L

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
serve(int fd)
{
	char buf[65536], out[128];
	size_t have = 0;

	for (;;) {
		char *nl = memchr(buf, '\n', have);
		ssize_t r;

		if (nl == NULL) {
			if (have == sizeof(buf))
				return;
			r = read(fd, buf + have, sizeof(buf) - have);
			if (r == -1 && errno == EINTR)
				continue;
			if (r <= 0)
				return;
			have += (size_t)r;
			continue;
		}
		*nl = '\0';
		{
			const char *p = strstr(buf, "\"id\":");
			long id = p != NULL ? strtol(p + 5, NULL, 10) : 0;
			int len = snprintf(out, sizeof(out), "{\"id\":%ld,"
			    "\"ok\":true,\"result\":{\"pong\":true}}\n", id);
			size_t off = 0;

			while (off < (size_t)len) {
				ssize_t w = write(fd, out + off,
				    (size_t)len - off);

				if (w == -1 && errno == EINTR)
					continue;
				if (w == -1)
					return;
				off += (size_t)w;
			}
		}
		have -= (size_t)(nl + 1 - buf);
		memmove(buf, nl + 1, have);
	}
}

int
main(int argc, char **argv)
{
	struct sockaddr_un sun;
	int lfd;

	if (argc != 2) {
		fprintf(stderr, "usage: jobs_echo SOCKET\n");
		return 2;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(argv[1]) >= sizeof(sun.sun_path))
		return 2;
	strcpy(sun.sun_path, argv[1]);
	(void)unlink(argv[1]);
	if ((lfd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(lfd, 16) == -1) {
		perror("jobs_echo");
		return 1;
	}
	for (;;) {
		int fd = accept(lfd, NULL, NULL);

		if (fd == -1) {
			if (errno == EINTR)
				continue;
			perror("accept");
			return 1;
		}
		serve(fd);
		close(fd);
	}
}
