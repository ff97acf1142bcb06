// SPDX-License-Identifier: BSD-2-Clause
/*
 * mmsg: an HTTP/1.1 client that writes with sendmmsg() and reads with
 * recvmmsg(), for tests/integration/sockpaths.sh.
 *
 *   mmsg PORT
 *
 * On one connection to 127.0.0.1:PORT:
 *   1. one sendmmsg() of 3 messages, each a GET /items/N (N = 1..3);
 *   2. one sendmmsg() of 12 messages: a POST /upload head with
 *      Content-Length 1100, then its body in 11 pieces of 100 bytes (the
 *      collector copies 8 messages, the last 4 body pieces are counted only);
 *   3. one sendmmsg() of 1 message: GET /items/4 with Connection: close;
 * then reads every response with recvmmsg() (8 messages of 64 bytes,
 * MSG_WAITFORONE) until the server closes. Prints the bytes read and the
 * number of "HTTP/1.1 " status lines; exits 0 if it read 5 responses.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NRECV 8
#define RECV_LEN 64
#define BODY_PIECES 11
#define PIECE_LEN 100

/* Send @n messages of @bufs/@lens in one sendmmsg(); 0 or -errno. */
static int send_all(int fd, char **bufs, const size_t *lens, unsigned int n)
{
	struct mmsghdr msgs[16];
	struct iovec iov[16];
	int r;

	memset(msgs, 0, sizeof(msgs));
	for (unsigned int i = 0; i < n; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = lens[i];
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	r = sendmmsg(fd, msgs, n, 0);
	if (r < 0)
		return -errno;
	for (int i = 0; i < r; i++)
		if (msgs[i].msg_len != lens[i])
			return -EIO; /* short: loopback with small messages is not */
	return r == (int)n ? 0 : -EIO;
}

int main(int argc, char **argv)
{
	static char body[BODY_PIECES][PIECE_LEN];
	char get[3][64], head[128], last[96];
	char *bufs[16];
	size_t lens[16];
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char rbuf[NRECV][RECV_LEN + 1];
	char all[65536];
	size_t got = 0;
	int fd, responses = 0;
	bool eof = false;

	if (argc != 2) {
		fprintf(stderr, "usage: mmsg PORT\n");
		return 2;
	}
	sa.sin_port = htons((uint16_t)atoi(argv[1]));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("mmsg: connect");
		return 1;
	}
	for (int i = 0; i < 3; i++) {
		snprintf(get[i], sizeof(get[i]),
			 "GET /items/%d HTTP/1.1\r\nHost: x\r\n\r\n", i + 1);
		bufs[i] = get[i];
		lens[i] = strlen(get[i]);
	}
	if (send_all(fd, bufs, lens, 3)) {
		perror("mmsg: sendmmsg gets");
		return 1;
	}
	snprintf(head, sizeof(head),
		 "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n",
		 BODY_PIECES * PIECE_LEN);
	bufs[0] = head;
	lens[0] = strlen(head);
	for (int i = 0; i < BODY_PIECES; i++) {
		memset(body[i], 'a' + i, PIECE_LEN);
		bufs[i + 1] = body[i];
		lens[i + 1] = PIECE_LEN;
	}
	if (send_all(fd, bufs, lens, BODY_PIECES + 1)) {
		perror("mmsg: sendmmsg post");
		return 1;
	}
	snprintf(last, sizeof(last),
		 "GET /items/4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	bufs[0] = last;
	lens[0] = strlen(last);
	if (send_all(fd, bufs, lens, 1)) {
		perror("mmsg: sendmmsg last");
		return 1;
	}
	while (!eof) {
		struct mmsghdr msgs[NRECV];
		struct iovec iov[NRECV];
		int r;

		memset(msgs, 0, sizeof(msgs));
		for (int i = 0; i < NRECV; i++) {
			iov[i].iov_base = rbuf[i];
			iov[i].iov_len = RECV_LEN;
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		r = recvmmsg(fd, msgs, NRECV, MSG_WAITFORONE, NULL);
		if (r < 0) {
			perror("mmsg: recvmmsg");
			return 1;
		}
		for (int i = 0; i < r; i++) {
			if (!msgs[i].msg_len) { /* the server closed */
				eof = true;
				break;
			}
			if (got + msgs[i].msg_len >= sizeof(all))
				return 1;
			memcpy(all + got, rbuf[i], msgs[i].msg_len);
			got += msgs[i].msg_len;
		}
	}
	all[got] = 0;
	for (char *p = all; (p = strstr(p, "HTTP/1.1 ")); p++)
		responses++;
	close(fd);
	printf("mmsg: read %zu bytes, %d responses\n", got, responses);
	return responses == 5 ? 0 : 1;
}
