/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stratad as child subreaper (checkpoint area, runtime/ckpt_host.c): an
 * orphan reparented to the daemon is reaped; a child the daemon waits for
 * through a pidfd keeps its exit status for its owner. No root needed.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "ksal/cleanup.h"
#include "ksal/syscalls.h"
#include "runtime/daemon.h"

static bool is_zombie(pid_t pid)
{
	siginfo_t si = { 0 };

	return waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid;
}

static void wait_zombie(pid_t pid)
{
	for (int i = 0; i < 200 && !is_zombie(pid); i++)
		usleep(10000);
	cr_assert(is_zombie(pid), "%d did not exit", (int)pid);
}

Test(reaper, strays_reaped_owned_children_kept)
{
	struct daemon d;
	_cleanup_error_ struct st_error *err = NULL;
	_cleanup_close_ int pidfd = -EBADF;
	int pipefd[2], status;
	pid_t owned, stray = -1, mid;
	siginfo_t si = { 0 };

	memset(&d, 0, sizeof(d));
	cr_assert_eq(daemon_subreaper_init(&err), 0, "%s", err ? err->msg : "");
	cr_assert_eq(prctl(PR_GET_CHILD_SUBREAPER, &status), 0);
	cr_assert_eq(status, 1);

	/* a child with an owner: a pidfd, as a container init or exec job has */
	owned = fork();
	cr_assert_geq(owned, 0);
	if (owned == 0)
		_exit(7);
	pidfd = pidfd_open(owned, 0);
	cr_assert_geq(pidfd, 0);

	/* an orphan: a grandchild whose parent exits first */
	cr_assert_eq(pipe(pipefd), 0);
	mid = fork();
	cr_assert_geq(mid, 0);
	if (mid == 0) {
		pid_t g = fork();

		if (g == 0) {
			usleep(100000);
			_exit(0);
		}
		(void)!write(pipefd[1], &g, sizeof(g));
		_exit(0);
	}
	cr_assert_eq(read(pipefd[0], &stray, sizeof(stray)), (ssize_t)sizeof(stray));
	waitpid(mid, NULL, 0);
	wait_zombie(stray);
	wait_zombie(owned);

	daemon_reap_strays(&d);
	cr_assert_not(is_zombie(stray), "the orphan was not reaped");
	errno = 0;
	cr_assert_lt(waitpid(stray, NULL, WNOHANG), 0);
	cr_assert_eq(errno, ECHILD);
	/* the owned child's status is still there for its pidfd */
	cr_assert_eq(waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED), 0);
	cr_assert_eq(si.si_status, 7);
	close(pipefd[0]);
	close(pipefd[1]);
}
