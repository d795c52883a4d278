/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * testinit: one static binary, the init of every throw-away test container
 * (crun's tests/init idea). `testinit VERB ARGS...`; with no verb it pauses.
 *
 *   true | false | exit N       exit 0 / 1 / N
 *   pause                       wait for signals; exit 0 on SIGTERM or SIGINT
 *   sleep N                     sleep N seconds (fractions allowed), exit 0
 *   memhog N                    allocate and touch N MiB, print, then pause
 *   forkbomb                    fork until fork fails, print the count, pause
 *   cat FILE                    copy FILE to stdout
 *   echo ARGS...                print ARGS joined by spaces
 *   spin                        busy loop forever
 *   counter FILE                write 0, 1, 2... to FILE every 100 ms, forever
 *   pidns                       print our pid (1 inside a new pid namespace)
 *   hostname                    print the uts nodename
 *   getuid                      print uid and gid ("0 0")
 *   ls DIR                      print the entries of DIR, sorted, one a line
 *   write FILE TEXT             write TEXT to FILE (created or truncated)
 *
 * Built static without sanitizers so it runs in any rootfs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got_term;

static void on_term(int sig)
{
	got_term = sig;
}

/* SIGTERM/SIGINT end a pause with exit 0; as pid 1 of a pid namespace a
 * signal without a handler would be ignored. Installed before a verb does
 * anything visible, so a test that saw its output may signal it at once. */
static void install_term(void)
{
	struct sigaction sa = { .sa_handler = on_term };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

static int do_pause(void)
{
	sigset_t block, old;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &old);
	sigdelset(&old, SIGTERM);
	sigdelset(&old, SIGINT);
	while (!got_term)
		sigsuspend(&old);
	return 0;
}

static int usage(void)
{
	fputs("usage: testinit [true|false|pause|sleep N|memhog N|forkbomb|cat FILE|echo ...|"
	      "spin|counter FILE|pidns|hostname|getuid|ls DIR|write FILE TEXT|exit N]\n",
	      stderr);
	return 2;
}

static int need(int argc, int n)
{
	return argc >= n;
}

static int do_sleep(const char *arg)
{
	char *end;
	double s = strtod(arg, &end);
	struct timespec ts;

	if (end == arg || s < 0)
		return usage();
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	return 0;
}

static int do_memhog(const char *arg)
{
	long mib = strtol(arg, NULL, 10);
	size_t len, pg = (size_t)sysconf(_SC_PAGESIZE);
	char *p;

	if (mib <= 0)
		return usage();
	len = (size_t)mib << 20;
	p = malloc(len);
	if (!p) {
		fprintf(stderr, "memhog: cannot allocate %ld MiB\n", mib);
		return 1;
	}
	for (size_t i = 0; i < len; i += pg)
		p[i] = (char)(i / pg + 1);
	printf("memhog: %ld MiB touched\n", mib);
	fflush(stdout);
	return do_pause();
}

static int do_forkbomb(void)
{
	long n = 0;
	int e;

	for (;;) {
		pid_t pid = fork();

		if (pid == 0) {
			for (;;)
				pause();
		}
		if (pid < 0) {
			e = errno;
			break;
		}
		n++;
	}
	printf("forkbomb: %ld forks, then %s\n", n, strerror(e));
	fflush(stdout);
	return do_pause();
}

static int do_cat(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char buf[65536];
	ssize_t n;

	if (fd < 0) {
		fprintf(stderr, "cat %s: %s\n", path, strerror(errno));
		return 1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
			return 1;
	close(fd);
	return n < 0 ? 1 : 0;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t len = strlen(text);

	if (fd < 0 || write(fd, text, len) != (ssize_t)len) {
		fprintf(stderr, "write %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	return close(fd) < 0 ? 1 : 0;
}

/* The counter is written to FILE.tmp and renamed, so a reader never sees a
 * half-written number. */
static int do_counter(const char *path)
{
	char tmp[4096], num[32];
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	int r = snprintf(tmp, sizeof(tmp), "%s.tmp", path);

	if (r < 0 || (size_t)r >= sizeof(tmp))
		return usage();
	for (unsigned long i = 0; !got_term; i++) {
		snprintf(num, sizeof(num), "%lu\n", i);
		if (write_file(tmp, num) != 0 || rename(tmp, path) < 0)
			return 1;
		nanosleep(&ts, NULL);
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int do_ls(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;

	if (!d) {
		fprintf(stderr, "ls %s: %s\n", path, strerror(errno));
		return 1;
	}
	while ((de = readdir(d))) {
		char **nn;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		nn = realloc(names, (n + 1) * sizeof(*names));
		if (!nn)
			return 1;
		names = nn;
		names[n] = strdup(de->d_name);
		if (!names[n])
			return 1;
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++) {
		puts(names[i]);
		free(names[i]);
	}
	free(names);
	return 0;
}

int main(int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : "pause";
	int r;

	if (!strcmp(verb, "pause") || !strcmp(verb, "memhog") || !strcmp(verb, "forkbomb") ||
	    !strcmp(verb, "counter"))
		install_term();
	if (!strcmp(verb, "true"))
		r = 0;
	else if (!strcmp(verb, "false"))
		r = 1;
	else if (!strcmp(verb, "pause"))
		r = do_pause();
	else if (!strcmp(verb, "sleep"))
		r = need(argc, 3) ? do_sleep(argv[2]) : usage();
	else if (!strcmp(verb, "memhog"))
		r = need(argc, 3) ? do_memhog(argv[2]) : usage();
	else if (!strcmp(verb, "forkbomb"))
		r = do_forkbomb();
	else if (!strcmp(verb, "cat"))
		r = need(argc, 3) ? do_cat(argv[2]) : usage();
	else if (!strcmp(verb, "echo")) {
		for (int i = 2; i < argc; i++)
			printf("%s%s", i > 2 ? " " : "", argv[i]);
		putchar('\n');
		r = 0;
	} else if (!strcmp(verb, "spin")) {
		for (volatile unsigned long i = 0;; i++)
			;
	} else if (!strcmp(verb, "counter"))
		r = need(argc, 3) ? do_counter(argv[2]) : usage();
	else if (!strcmp(verb, "pidns")) {
		printf("%d\n", (int)getpid());
		r = 0;
	} else if (!strcmp(verb, "hostname")) {
		struct utsname u;

		r = uname(&u) < 0 ? 1 : 0;
		if (!r)
			puts(u.nodename);
	} else if (!strcmp(verb, "getuid")) {
		printf("%u %u\n", (unsigned)getuid(), (unsigned)getgid());
		r = 0;
	} else if (!strcmp(verb, "ls"))
		r = need(argc, 3) ? do_ls(argv[2]) : usage();
	else if (!strcmp(verb, "write"))
		r = need(argc, 4) ? write_file(argv[2], argv[3]) : usage();
	else if (!strcmp(verb, "exit"))
		r = need(argc, 3) ? atoi(argv[2]) : usage();
	else
		r = usage();
	fflush(stdout);
	return r;
}
