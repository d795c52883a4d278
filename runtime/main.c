/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stratad [--config FILE] [--foreground | --daemon --pidfile FILE]
 *         [--log-level LEVEL] [--print-keys]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "runtime/daemon.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: stratad [--config FILE] [--foreground | --daemon --pidfile FILE]\n"
		   "               [--log-level error|warning|info|debug|trace]\n"
		   "       stratad --print-keys   (the container config keys, man format)\n"
		   "       stratad --version\n");
}

static int write_pidfile(const char *path)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	_cleanup_error_ struct st_error *err = NULL;

	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	if (st_write_file_atomic(path, buf, (size_t)n, 0644, false, &err) < 0) {
		fprintf(stderr, "stratad: %s\n", err->msg);
		return -1;
	}
	return 0;
}

/* Classic double fork; the parent returns once the child is ready to
 * serve (it writes one byte on a pipe after daemon_init). */
static int daemonize(int *ready_fd)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		char c = 1;
		close(p[1]);
		if (read(p[0], &c, 1) != 1 || c != 0)
			_exit(1);
		_exit(0);
	}
	close(p[0]);
	if (setsid() < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (chdir("/") < 0)
		return -1;
	{
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			close(null);
		}
	}
	*ready_fd = p[1];
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
					      { "foreground", no_argument, NULL, 'f' },
					      { "daemon", no_argument, NULL, 'd' },
					      { "pidfile", required_argument, NULL, 'p' },
					      { "log-level", required_argument, NULL, 'l' },
					      { "print-keys", no_argument, NULL, 'k' },
					      { "version", no_argument, NULL, 'V' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	const char *config = STRATA_SYSCONFDIR "/strata.conf", *pidfile = NULL, *level = NULL;
	bool daemon_mode = false, config_given = false;
	_cleanup_error_ struct st_error *err = NULL;
	struct g_config *g = NULL;
	struct daemon d;
	int ready_fd = -1, c, r;

	/* the console keeper (runtime/keeper.c), spawned by the daemon */
	if (argc == 3 && !strcmp(argv[1], "--console-keeper"))
		return keeper_main(argv[2]);
	while ((c = getopt_long(argc, argv, "c:fdp:l:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			config_given = true;
			break;
		case 'f':
			daemon_mode = false;
			break;
		case 'd':
			daemon_mode = true;
			break;
		case 'p':
			pidfile = optarg;
			break;
		case 'l':
			level = optarg;
			break;
		case 'k':
			ct_keys_print_man(stdout);
			return 0;
		case 'V':
			printf("stratad %s\n", STRATA_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return ST_EXIT_BADARG;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return ST_EXIT_BADARG;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "stratad: must run as root\n");
		return ST_EXIT_PERM;
	}
	/* a daemon keeps none of its starter's files: an inherited lock or
	 * pipe held open for the daemon's lifetime blocks whoever waits on it
	 * (`flock LOCK stratad --daemon` never released LOCK) */
	if (daemon_mode)
		close_range(3, ~0U, 0);
	/* a handful of fds per running container (pidfd, console pty, log) */
	{
		struct rlimit rl;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	if (g_config_load(config, !config_given, &g, &err) < 0) {
		fprintf(stderr, "stratad: %s\n", err->msg);
		return st_error_exit(err);
	}
	if (level && st_log_level_parse(level) < 0) {
		fprintf(stderr, "stratad: invalid log level `%s`\n", level);
		g_config_free(g);
		return ST_EXIT_BADARG;
	}
	st_log_set_level((enum st_log_level)st_log_level_parse(level ? level : g->log_level));
	if (getenv("JOURNAL_STREAM") || getenv("NOTIFY_SOCKET"))
		st_log_set_journal(1);
	else if (g->log_file && daemon_mode && st_log_open(g->log_file) < 0)
		fprintf(stderr, "stratad: log file `%s`: %s\n", g->log_file, strerror(errno));
	if (daemon_mode && daemonize(&ready_fd) < 0) {
		fprintf(stderr, "stratad: daemonize: %s\n", strerror(errno));
		g_config_free(g);
		return ST_EXIT_SYSTEM;
	}
	if (daemon_init(&d, g, &err) < 0) {
		st_error_log("%s", err->msg);
		if (!daemon_mode)
			fprintf(stderr, "stratad: %s\n", err->msg);
		daemon_fini(&d);
		g_config_free(g);
		return st_error_exit(err);
	}
	if (pidfile && write_pidfile(pidfile) < 0) {
		daemon_fini(&d);
		g_config_free(g);
		return ST_EXIT_SYSTEM;
	}
	if (ready_fd >= 0) {
		char zero = 0;
		if (write(ready_fd, &zero, 1) != 1)
			st_warn("daemonize: tell the parent: %s", strerror(errno));
		close(ready_fd);
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (null >= 0) {
			dup2(null, 2);
			close(null);
		}
	}
	r = daemon_run(&d);
	daemon_fini(&d);
	if (pidfile)
		unlink(pidfile);
	g_config_free(g);
	return r < 0 ? ST_EXIT_SYSTEM : 0;
}
