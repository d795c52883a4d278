/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Declared cleanup for owned resources (STYLE.md). */
#ifndef STRATA_KSAL_CLEANUP_H
#define STRATA_KSAL_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static inline void freep(void *p)
{
	free(*(void **)p);
}

/* Close an fd and keep errno. fds start at -EBADF. */
static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
	*fd = -EBADF;
}

static inline void fclosep(FILE **f)
{
	if (*f) {
		int saved = errno;
		fclose(*f);
		errno = saved;
	}
	*f = NULL;
}

static inline void closedirp(DIR **d)
{
	if (*d) {
		int saved = errno;
		closedir(*d);
		errno = saved;
	}
	*d = NULL;
}

/* A NULL-terminated array of strings. */
static inline void strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}
static inline void strv_freep(char ***v)
{
	strv_free(*v);
	*v = NULL;
}

/* A child that is killed and reaped if the scope exits while it still owns it. */
static inline void killpidp(pid_t *pid)
{
	if (*pid > 0) {
		int saved = errno;
		kill(*pid, SIGKILL);
		while (waitpid(*pid, NULL, __WALL) < 0 && errno == EINTR)
			;
		errno = saved;
	}
	*pid = -1;
}

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_closedir_ _cleanup_(closedirp)
#define _cleanup_strv_ _cleanup_(strv_freep)
#define _cleanup_kill_ _cleanup_(killpidp)

/* Move ownership out of a cleanup variable. */
static inline int take_fd_impl(int *fd)
{
	int r = *fd;
	*fd = -EBADF;
	return r;
}
#define take_fd(fd) take_fd_impl(&(fd))

static inline void *take_ptr_impl(void *pp)
{
	void **p = pp;
	void *r = *p;
	*p = NULL;
	return r;
}
#define take_ptr(p) ((__typeof__(p))take_ptr_impl(&(p)))

static inline pid_t take_pid_impl(pid_t *pid)
{
	pid_t r = *pid;
	*pid = -1;
	return r;
}
#define take_pid(p) take_pid_impl(&(p))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
