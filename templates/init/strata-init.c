/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * strata-init: Strata's minimal init, PID 1 of a container whose template
 * has none. Static, no dependencies.
 *
 *   strata-init [CMD [ARGS...]]
 *
 * Becomes a session leader, runs /etc/strata/rc if it is executable, then
 * CMD if given (the container halts when CMD exits, with its status), and
 * reaps orphans. On SIGTERM, SIGINT, SIGPWR or SIGRTMIN+3 it halts: SIGTERM
 * to every process, up to 5 s for them to go, SIGKILL to what is left, exit 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RC_PATH "/etc/strata/rc"
#define HALT_GRACE_MS 5000

static pid_t spawn(char *const argv[], const sigset_t *orig)
{
	pid_t pid = fork();

	if (pid == 0) {
		sigprocmask(SIG_SETMASK, orig, NULL);
		setpgid(0, 0);
		execv(argv[0], argv);
		execvp(argv[0], argv);
		fprintf(stderr, "strata-init: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (pid < 0)
		fprintf(stderr, "strata-init: fork: %s\n", strerror(errno));
	return pid;
}

static int halt_all(const sigset_t *set)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };

	kill(-1, SIGTERM);
	kill(-1, SIGCONT);
	for (int waited = 0; waited < HALT_GRACE_MS; waited += 50) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD)
			return 0;
		sigtimedwait(set, NULL, &ts);
	}
	kill(-1, SIGKILL);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	return 0;
}

int main(int argc, char **argv)
{
	sigset_t all, orig;
	pid_t rc = -1, cmd = -1;
	int status = 0;

	if (getpid() != 1)
		fprintf(stderr, "strata-init: warning: not PID 1\n");
	setsid();
	/* whatever the launcher blocked or ignored, our children start clean */
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigemptyset(&orig);
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);

	if (access(RC_PATH, X_OK) == 0) {
		char *rcargv[] = { RC_PATH, NULL };

		rc = spawn(rcargv, &orig);
	}
	if (argc > 1)
		cmd = spawn(argv + 1, &orig);

	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&all, &si);

		if (sig < 0)
			continue;
		if (sig == SIGCHLD) {
			bool cmd_done = false;
			pid_t p;
			int st;

			while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
				if (p == rc)
					rc = -1;
				if (p == cmd) {
					cmd_done = true;
					status = st;
				}
			}
			if (cmd_done) {
				halt_all(&all);
				if (WIFEXITED(status))
					return WEXITSTATUS(status);
				return 128 + WTERMSIG(status);
			}
			continue;
		}
		if (sig == SIGTERM || sig == SIGINT || sig == SIGPWR || sig == SIGRTMIN + 3) {
			halt_all(&all);
			return 0;
		}
	}
}
