/* Fileless exec for the sensor tests: copies /bin/busybox into a memfd and executes the memfd
 * with execveat(fd, "", argv, envp, AT_EMPTY_PATH), so no file on any mount is executed.
 *
 *   memfd_exec APPLET [ARGS...]             runs busybox APPLET ARGS from memory
 *   memfd_exec --deleted APPLET [ARGS...]   the same from a copy in $MEMFD_EXEC_DIR (default
 *                                           /tmp) that is deleted before it is executed
 *                                           through its fd
 *
 * Exit codes: 125 setup failed (memfd, open, copy), 126 the exec itself failed; stderr then
 * says "memfd_exec: execveat: <strerror>". Built static by the tests with `cc -static -O2`. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: memfd_exec APPLET [ARGS...]\n");
		return 125;
	}
	int deleted = strcmp(argv[1], "--deleted") == 0;
	if (deleted && argc < 3) {
		fprintf(stderr, "usage: memfd_exec --deleted APPLET [ARGS...]\n");
		return 125;
	}
	char tmp[256];
	const char *dir = getenv("MEMFD_EXEC_DIR");
	snprintf(tmp, sizeof(tmp), "%s/.mamori-fileless", dir && *dir ? dir : "/tmp");
	int mfd = deleted ? open(tmp, O_RDWR | O_CREAT | O_TRUNC, 0755) : memfd_create("fileless", 0);
	if (mfd < 0) {
		fprintf(stderr, "memfd_exec: memfd_create/open: %s\n", strerror(errno));
		return 125;
	}
	int src = open("/bin/busybox", O_RDONLY);
	if (src < 0) {
		fprintf(stderr, "memfd_exec: open /bin/busybox: %s\n", strerror(errno));
		return 125;
	}
	char buf[65536];
	for (;;) {
		ssize_t n = read(src, buf, sizeof(buf));
		if (n < 0) {
			fprintf(stderr, "memfd_exec: read: %s\n", strerror(errno));
			return 125;
		}
		if (n == 0)
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(mfd, buf + off, (size_t)(n - off));
			if (w < 0) {
				fprintf(stderr, "memfd_exec: write: %s\n", strerror(errno));
				return 125;
			}
			off += w;
		}
	}
	close(src);
	if (deleted) {
		/* A file open for writing cannot be executed (ETXTBSY): reopen it read-only, then
		 * remove its only name. */
		close(mfd);
		mfd = open(tmp, O_RDONLY);
		if (mfd < 0 || unlink(tmp) != 0) {
			fprintf(stderr, "memfd_exec: reopen/unlink %s: %s\n", tmp, strerror(errno));
			return 125;
		}
	}
	syscall(SYS_execveat, mfd, "", &argv[1 + deleted], environ, AT_EMPTY_PATH);
	fprintf(stderr, "memfd_exec: execveat: %s\n", strerror(errno));
	return 126;
}
