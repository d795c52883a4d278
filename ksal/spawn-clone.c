/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The clone machinery shared by ksal_spawn() and ksal_enter(): the clone
 * lock that keeps fork() out of a start's window, the child's close of
 * every fd it inherited but its own, and (x86-64) the per-thread stack and
 * clone3 trampoline that clone the init with CLONE_VM.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ksal/syscalls.h"
#include "ksal/spawn-internal.h"

/* ---- the clone ----
 *
 * A fork of the daemon copies its page tables and later tears them down
 * again in the init's execve (0.5 ms with 14 MB of heap, 500 containers
 * running). On x86-64 the init is cloned with CLONE_VM instead, on a stack
 * of its own, as posix_spawn does: it shares the daemon's memory until its
 * execve, reads the config from it and writes only to its stack (the code
 * after the clone allocates nothing, makes raw set*id calls, and the
 * daemon waits on the sync socket while it runs). clone3 cannot be called
 * that way through libc, hence the few lines of assembly. Build with
 * -DSTRATA_NO_CLONE_VM to compare (a fork-like clone3 everywhere else).
 */
/*
 * A child gets a copy of every fd of the process at its clone or fork and
 * keeps it until its exec (O_CLOEXEC), its close or its end. A spawn (and
 * an enter) learns that its child exec'd from the EOF on the child end of
 * its sync socket, so no other child may keep a copy of an open child end
 * for long. The children of spawns and enters close every fd but their own
 * as their first action (ksal_child_close_others, before anything that can
 * block), so these clones run at the same time, namespaces and all: a copy
 * another one took lives for microseconds. A fork() elsewhere in the
 * process (a template build, a helper) keeps its copies until its exec, so
 * forks exclude the window from a spawn's socketpair to the parent's close
 * of its child end: spawns and enters take clone_lock shared, every fork()
 * exclusive (pthread_atfork); writers first, so a stream of starts on the
 * daemon's workers cannot starve a fork.
 */
static pthread_rwlock_t clone_lock = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;

void ksal_clone_lock_shared(void)
{
	pthread_rwlock_rdlock(&clone_lock);
}

void ksal_clone_unlock_shared(void)
{
	pthread_rwlock_unlock(&clone_lock);
}

static void clone_lock_fork_prepare(void)
{
	pthread_rwlock_wrlock(&clone_lock);
}

static void clone_lock_fork_parent(void)
{
	pthread_rwlock_unlock(&clone_lock);
}

static void clone_lock_fork_child(void)
{
	/* the child's copy: one thread, nothing held */
	pthread_rwlock_t fresh = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;

	clone_lock = fresh;
}

__attribute__((constructor)) static void clone_lock_atfork(void)
{
	pthread_atfork(clone_lock_fork_prepare, clone_lock_fork_parent, clone_lock_fork_child);
}

int ksal_child_close_others(int *keep, size_t n)
{
	unsigned int next = 0; /* the lowest fd not yet kept or closed */

	/* insertion sort: a few fds, no allocation in the child */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int t = keep[j];

			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	for (size_t i = 0; i < n; i++) {
		if (keep[i] < 0 || (unsigned int)keep[i] < next)
			continue;
		if ((unsigned int)keep[i] > next &&
		    close_range(next, (unsigned int)keep[i] - 1, 0) < 0)
			return -errno;
		next = (unsigned int)keep[i] + 1;
	}
	if (close_range(next, ~0U, 0) < 0)
		return -errno;
	return 0;
}

#if defined(__x86_64__) && !defined(STRATA_NO_CLONE_VM)
/* per thread: the daemon's start workers spawn at the same time */
static __thread char *spawn_stack; /* guard page, then KSAL_SPAWN_STACK_SIZE */
static __thread bool spawn_stack_busy;

#ifdef __SANITIZE_ADDRESS__
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
#endif

pid_t ksal_clone3_vm(struct ksal_clone_args *args, int (*fn)(void *), void *arg)
{
	register long r12 __asm__("r12") = (long)fn;
	register long r13 __asm__("r13") = (long)arg;
	long ret;

	/* the child starts on the new stack with every register but rax, rcx
	 * and r11 as they were: call fn(arg), then exit with its result */
	__asm__ volatile("syscall\n\t"
			 "testq %%rax, %%rax\n\t"
			 "jnz 1f\n\t"
			 "xorl %%ebp, %%ebp\n\t"
			 "movq %%r13, %%rdi\n\t"
			 "callq *%%r12\n\t"
			 "movl %%eax, %%edi\n\t"
			 "movl %[nr_exit], %%eax\n\t"
			 "syscall\n\t"
			 "hlt\n"
			 "1:\n\t"
			 : "=a"(ret)
			 : "0"((long)__NR_clone3), "D"(args), "S"(sizeof(*args)), "r"(r12),
			   "r"(r13), [nr_exit] "i"(__NR_exit)
			 : "rcx", "r11", "memory", "cc");
	if (ret < 0) {
		errno = (int)-ret;
		return -1;
	}
	return (pid_t)ret;
}

/* The stack for the next init, NULL if there is none (a fork then): one
 * per thread (kept for the thread's next spawn), so threads spawning at the
 * same time each clone on their own; taken atomically all the same. */
char *ksal_spawn_stack_get(void)
{
	if (__atomic_test_and_set(&spawn_stack_busy, __ATOMIC_ACQUIRE))
		return NULL;
	if (!spawn_stack) {
		char *m = mmap(NULL, KSAL_SPAWN_STACK_SIZE + 4096, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);

		if (m == MAP_FAILED || mprotect(m, 4096, PROT_NONE) < 0) {
			if (m != MAP_FAILED)
				munmap(m, KSAL_SPAWN_STACK_SIZE + 4096);
			__atomic_clear(&spawn_stack_busy, __ATOMIC_RELEASE);
			return NULL;
		}
		spawn_stack = m;
	}
#ifdef __SANITIZE_ADDRESS__
	/* the last init's frames left their redzones poisoned */
	__asan_unpoison_memory_region(spawn_stack + 4096, KSAL_SPAWN_STACK_SIZE);
#endif
	return spawn_stack + 4096;
}

void ksal_spawn_stack_put(char **stack)
{
	if (*stack)
		__atomic_clear(&spawn_stack_busy, __ATOMIC_RELEASE);
	*stack = NULL;
}
#endif
