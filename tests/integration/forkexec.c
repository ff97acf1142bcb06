// SPDX-License-Identifier: BSD-2-Clause
/*
 * forkexec: a client whose fork+exec child reuses the fd number of the
 * socket it inherited, for tests/integration/sockpaths.sh.
 *
 *   forkexec PORT FILE
 *
 * Opens /dev/null (fd N) and a socket (fd S > N), both close-on-exec;
 * sends GET /items/1 to 127.0.0.1:PORT and reads the response; forks and
 * execs itself as "forkexec child FILE S": exec closes N and S, ld.so uses
 * and closes N, the child opens FILE until it gets fd S (what it opens at
 * lower numbers stays open), writes an HTTP request into that fd and reads
 * back the HTTP response FILE starts with. Then the parent sends GET /items/2 and closes.
 * A collector that took the child's fd 4 for the inherited connection would
 * record a "GET /leak". Exits 0 when all of it worked.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define LEAK_REQ "GET /leak HTTP/1.1\r\nHost: x\r\n\r\n"

static int child(const char *path, int want)
{
	char buf[64];
	int fd = -1;

	for (int i = 0; i < 1024 && fd < want; i++)
		fd = open(path, O_RDWR | O_APPEND);
	if (fd != want) {
		fprintf(stderr, "forkexec child: %s opened at fd %d, not %d\n",
			path, fd, want);
		return 1;
	}
	if (write(fd, LEAK_REQ, strlen(LEAK_REQ)) != (ssize_t)strlen(LEAK_REQ) ||
	    lseek(fd, 0, SEEK_SET) || read(fd, buf, sizeof(buf)) <= 0)
		return 1;
	return 0;
}

/* One GET on @fd; reads until the JSON body's closing brace. */
static int get(int fd, int n)
{
	char req[64], buf[1024];
	size_t got = 0;

	snprintf(req, sizeof(req), "GET /items/%d HTTP/1.1\r\nHost: x\r\n\r\n", n);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		return -1;
	while (got < sizeof(buf) - 1) {
		ssize_t r = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
		buf[got] = 0;
		if (strstr(buf, "\r\n\r\n") && strchr(strstr(buf, "\r\n\r\n"), '}'))
			return 0;
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char sfd[16];
	int null, fd, status;
	pid_t pid;

	if (argc == 4 && !strcmp(argv[1], "child"))
		return child(argv[2], atoi(argv[3]));
	if (argc != 3) {
		fprintf(stderr, "usage: forkexec PORT FILE\n");
		return 2;
	}
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (null < 0 || fd <= null) {
		fprintf(stderr, "forkexec: fds %d and %d, expected N < S\n", null, fd);
		return 1;
	}
	snprintf(sfd, sizeof(sfd), "%d", fd);
	sa.sin_port = htons((uint16_t)atoi(argv[1]));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) || get(fd, 1)) {
		perror("forkexec: first request");
		return 1;
	}
	pid = fork();
	if (pid == 0) {
		execl("/proc/self/exe", "forkexec", "child", argv[2], sfd, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || status) {
		fprintf(stderr, "forkexec: child failed (status %d)\n", status);
		return 1;
	}
	if (get(fd, 2)) {
		perror("forkexec: second request");
		return 1;
	}
	close(fd);
	printf("forkexec: 2 requests around a child that opened a file at fd %d\n", fd);
	return 0;
}
