/*
 * ctl_client.c: measure control round trips.
 *
 * Socket mode: K processes (fork) each connect once, do W warm-up round
 * trips, wait at a common start line, then do N round trips of one
 * request line (write the line, read until the reply's newline), timing
 * each with clock_gettime(CLOCK_MONOTONIC).  Prints one line:
 *
 *   ctl_client -s SOCKET [-c K] [-n N] [-w W] [-r LINE] [-m MATCH]
 *   -> clients=K requests=K*N errors=E p50_us=.. p99_us=.. max_us=..
 *      mean_us=.. rps=..
 *
 * rps is K*N over the wall time from the start line to the last reply.
 * A reply that does not contain MATCH (default: any reply) is an error.
 *
 * Flood mode: a hostile client for the other modes to run beside.  It
 * writes the request line back to back as fast as the server reads and
 * never reads a reply; when the server drops it, it connects again.  Runs
 * until killed; prints nothing.
 *
 *   ctl_client -F -s SOCKET [-r LINE]
 *
 * Exec mode: run a command N times in a row (process spawn included),
 * stdout and stderr to /dev/null, timing each from fork to exit:
 *
 *   ctl_client -x [-n N] [-w W] -- COMMAND [ARGS...]
 *   -> runs=N errors=E p50_us=.. p99_us=.. max_us=.. mean_us=..
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* percentile: nearest-rank on a sorted array. */
static double
percentile(const uint64_t *v, size_t n, double p)
{
	size_t rank;

	if (n == 0)
		return 0;
	rank = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return (double)v[rank - 1] / 1000.0;
}

static void
print_stats(uint64_t *lat, size_t n)
{
	double sum = 0;
	size_t i;

	qsort(lat, n, sizeof(*lat), cmp_u64);
	for (i = 0; i < n; i++)
		sum += (double)lat[i];
	printf(" p50_us=%.1f p99_us=%.1f max_us=%.1f mean_us=%.1f",
	    percentile(lat, n, 50), percentile(lat, n, 99),
	    n > 0 ? (double)lat[n - 1] / 1000.0 : 0,
	    n > 0 ? sum / (double)n / 1000.0 : 0);
}

static int
connect_to(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "ctl_client: socket path too long\n");
		exit(2);
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		die("socket");
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		die("connect");
	return fd;
}

/* round_trip: send line, read one reply line; 0 ok, 1 mismatch, -1 EOF */
static int
round_trip(int fd, const char *line, size_t len, const char *match)
{
	static char buf[65536];
	size_t have = 0, off = 0;
	ssize_t n;
	char *nl;

	while (off < len) {
		n = write(fd, line + off, len - off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		off += (size_t)n;
	}
	for (;;) {
		n = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		have += (size_t)n;
		if ((nl = memchr(buf, '\n', have)) != NULL)
			break;
		if (have == sizeof(buf) - 1)
			return -1;
	}
	if (nl != buf + have - 1)
		return -1;	/* more than one reply: not expected */
	buf[have] = '\0';
	if (match != NULL && strstr(buf, match) == NULL)
		return 1;
	return 0;
}

static int
socket_mode(const char *path, int k, int n, int w, const char *req,
    const char *match)
{
	uint64_t *lat, t0, t1;
	int *errs;
	int ready[2], go[2], i, j, status, failed = 0, total_errs = 0;
	char *line;
	size_t len;
	pid_t pid;

	len = strlen(req) + 1;
	if ((line = malloc(len + 1)) == NULL)
		die("malloc");
	snprintf(line, len + 1, "%s\n", req);
	lat = mmap(NULL, sizeof(*lat) * (size_t)k * (size_t)n,
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	errs = mmap(NULL, sizeof(*errs) * (size_t)k, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (lat == MAP_FAILED || errs == MAP_FAILED)
		die("mmap");
	if (pipe(ready) == -1 || pipe(go) == -1)
		die("pipe");
	for (i = 0; i < k; i++) {
		if ((pid = fork()) == -1)
			die("fork");
		if (pid == 0) {
			int fd, r;
			char c;

			close(ready[0]);
			close(go[1]);
			fd = connect_to(path);
			for (j = 0; j < w; j++)
				if (round_trip(fd, line, len, match) == -1)
					_exit(3);
			(void)!write(ready[1], "r", 1);
			close(ready[1]);
			if (read(go[0], &c, 1) == -1)	/* EOF: go */
				_exit(4);
			for (j = 0; j < n; j++) {
				uint64_t s = now_ns();

				r = round_trip(fd, line, len, match);
				lat[(size_t)i * (size_t)n + (size_t)j] =
				    now_ns() - s;
				if (r == -1)
					_exit(5);
				errs[i] += r;
			}
			close(fd);
			_exit(0);
		}
	}
	close(ready[1]);
	close(go[0]);
	for (i = 0; i < k; i++) {
		char c;

		if (read(ready[0], &c, 1) != 1) {
			fprintf(stderr, "ctl_client: a client failed to "
			    "connect or warm up\n");
			failed = 1;
			break;
		}
	}
	t0 = now_ns();
	close(go[1]);
	while ((pid = wait(&status)) != -1)
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "ctl_client: client %ld exited with "
			    "status %d\n", (long)pid, status);
			failed = 1;
		}
	t1 = now_ns();
	if (failed)
		return 1;
	for (i = 0; i < k; i++)
		total_errs += errs[i];
	printf("clients=%d requests=%ld errors=%d", k, (long)k * n,
	    total_errs);
	print_stats(lat, (size_t)k * (size_t)n);
	printf(" rps=%.0f\n", (double)k * n / ((double)(t1 - t0) / 1e9));
	return total_errs > 0;
}

static int
exec_mode(char **argv, int n, int w)
{
	uint64_t *lat;
	int i, status, errors = 0, devnull;
	pid_t pid;

	if ((lat = calloc((size_t)n, sizeof(*lat))) == NULL)
		die("calloc");
	if ((devnull = open("/dev/null", O_RDWR)) == -1)
		die("/dev/null");
	for (i = -w; i < n; i++) {
		uint64_t s = now_ns();

		if ((pid = fork()) == -1)
			die("fork");
		if (pid == 0) {
			dup2(devnull, 0);
			dup2(devnull, 1);
			dup2(devnull, 2);
			execvp(argv[0], argv);
			_exit(127);
		}
		if (waitpid(pid, &status, 0) == -1)
			die("waitpid");
		if (i >= 0) {
			lat[i] = now_ns() - s;
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				errors++;
		}
	}
	printf("runs=%d errors=%d", n, errors);
	print_stats(lat, (size_t)n);
	printf("\n");
	return errors > 0;
}

static int __attribute__((noreturn))
flood_mode(const char *path, const char *req)
{
	static char buf[65536];
	size_t len = strlen(req) + 1, used = 0;
	ssize_t n;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	while (used + len <= sizeof(buf)) {
		memcpy(buf + used, req, len - 1);
		buf[used + len - 1] = '\n';
		used += len;
	}
	for (;;) {
		fd = connect_to(path);
		for (;;) {
			n = write(fd, buf, used);
			if (n == -1 && errno == EINTR)
				continue;
			if (n <= 0)
				break;	/* dropped: connect again */
		}
		close(fd);
		usleep(1000);
	}
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: ctl_client -s SOCKET [-c K] [-n N] [-w W] [-r LINE] "
	    "[-m MATCH]\n"
	    "       ctl_client -F -s SOCKET [-r LINE]\n"
	    "       ctl_client -x [-n N] [-w W] -- COMMAND [ARGS...]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *path = NULL, *req = "{\"id\":1,\"cmd\":\"ping\"}";
	const char *match = NULL;
	int ch, k = 1, n = 10000, w = 100, exec = 0, flood = 0;

	while ((ch = getopt(argc, argv, "s:c:n:w:r:m:xF")) != -1) {
		switch (ch) {
		case 's':
			path = optarg;
			break;
		case 'c':
			k = atoi(optarg);
			break;
		case 'n':
			n = atoi(optarg);
			break;
		case 'w':
			w = atoi(optarg);
			break;
		case 'r':
			req = optarg;
			break;
		case 'm':
			match = optarg;
			break;
		case 'x':
			exec = 1;
			break;
		case 'F':
			flood = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (k < 1 || n < 1 || w < 0)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (exec) {
		if (argc < 1)
			usage();
		return exec_mode(argv, n, w);
	}
	if (path == NULL || argc != 0)
		usage();
	if (flood)
		flood_mode(path, req);
	return socket_mode(path, k, n, w, req, match);
}
