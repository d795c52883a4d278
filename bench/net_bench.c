/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The cost of a container's routed network, measured through runtime/net.c.
 *
 *   net_bench loop N
 *	N times: a fresh container netns, ct_net_routed_setup (one IPv4, one
 *	IPv6 address, one neighbour device) and teardown, inside a throw-away
 *	netns playing the host. Prints medians and means in milliseconds.
 *   net_bench setup HOST_NETNS CT_NETNS HOST_IF ADDR... [-- NEIGHBOUR_DEV...]
 *   net_bench teardown HOST_NETNS HOST_IF ADDR... [-- NEIGHBOUR_DEV...]
 *   net_bench rate HOST_NETNS HOST_IF BITS_PER_SEC
 *	Once, on named namespaces (/run/netns/...), for bench/net.sh.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "ksal/error.h"
#include "ksal/netlink.h"
#include "runtime/net.h"

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int die(struct st_error *err, const char *what)
{
	fprintf(stderr, "net_bench: %s: %s\n", what, err ? err->msg : strerror(errno));
	st_error_free(err);
	return 1;
}

static int netns_new(void)
{
	_cleanup_close_ int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	int fd;

	if (self < 0 || unshare(CLONE_NEWNET) < 0)
		return -errno;
	fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (setns(self, CLONE_NEWNET) < 0)
		abort();
	return fd;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void report(const char *what, double *v, int n)
{
	double sum = 0;

	for (int i = 0; i < n; i++)
		sum += v[i];
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	printf("%s_ms median=%.3f mean=%.3f min=%.3f max=%.3f n=%d\n", what, v[n / 2], sum / n,
	       v[0], v[n - 1], n);
}

static int loop(int n)
{
	_cleanup_close_ int host_ns = netns_new();
	_cleanup_free_ double *setup = calloc((size_t)n, sizeof(double));
	_cleanup_free_ double *down = calloc((size_t)n, sizeof(double));
	struct ksal_nl *host = NULL;
	struct st_error *err = NULL;
	const char *const neigh[] = { "stnlbl0", NULL };
	struct ksal_ipaddr addrs[2];
	struct ct_net_routed cfg = {
		.ctid = "101",
		.host_ifname = "stnlbv101",
		.ct_ifname = "eth0",
		.addrs = addrs,
		.n_addrs = 2,
		.neighbour_devs = neigh,
	};

	if (host_ns < 0 || !setup || !down)
		return die(NULL, "prepare");
	if (ksal_ipaddr_parse("10.213.1.50", &addrs[0], &err) < 0 ||
	    ksal_ipaddr_parse("fd00:213::50", &addrs[1], &err) < 0)
		return die(err, "address");
	if (ksal_nl_open_netns(host_ns, &host, &err) < 0 ||
	    ksal_veth_create(host, "stnlbl0", "stnlbl1", -1, &err) < 0 ||
	    ksal_link_set_up(host, "stnlbl0", true, &err) < 0)
		return die(err, "prepare host netns");
	for (int i = 0; i < n; i++) {
		_cleanup_close_ int ct_ns = netns_new();
		double t0, t1, t2;

		if (ct_ns < 0)
			return die(NULL, "container netns");
		t0 = now_ms();
		if (ct_net_routed_setup(host, ct_ns, &cfg, &err) < 0)
			return die(err, "setup");
		t1 = now_ms();
		if (ct_net_routed_teardown(host, &cfg, &err) < 0)
			return die(err, "teardown");
		t2 = now_ms();
		setup[i] = t1 - t0;
		down[i] = t2 - t1;
	}
	report("strata_setup", setup, n);
	report("strata_teardown", down, n);
	ksal_nl_close(host);
	return 0;
}

/* argv: ADDR... [-- DEV...] into cfg. */
static int parse_tail(int argc, char **argv, struct ct_net_routed *cfg, struct ksal_ipaddr *addrs,
		      const char **devs)
{
	struct st_error *err = NULL;
	size_t n = 0, nd = 0;
	int i;

	for (i = 0; i < argc && strcmp(argv[i], "--"); i++)
		if (ksal_ipaddr_parse(argv[i], &addrs[n++], &err) < 0)
			return die(err, "address");
	for (i++; i < argc; i++)
		devs[nd++] = argv[i];
	devs[nd] = NULL;
	cfg->addrs = addrs;
	cfg->n_addrs = n;
	cfg->neighbour_devs = devs;
	return 0;
}

int main(int argc, char **argv)
{
	struct st_error *err = NULL;
	struct ksal_nl *host = NULL;
	struct ct_net_routed cfg = { .ctid = "bench", .ct_ifname = "eth0" };
	_cleanup_free_ struct ksal_ipaddr *addrs = NULL;
	_cleanup_free_ const char **devs = NULL;
	_cleanup_close_ int hfd = -EBADF, cfd = -EBADF;
	int r;

	if (argc == 3 && !strcmp(argv[1], "loop"))
		return loop(atoi(argv[2]) > 0 ? atoi(argv[2]) : 100);
	addrs = calloc((size_t)argc, sizeof(*addrs));
	devs = calloc((size_t)argc + 1, sizeof(*devs));
	if (!addrs || !devs)
		return die(NULL, "memory");
	if (argc >= 5 && !strcmp(argv[1], "setup")) {
		hfd = open(argv[2], O_RDONLY | O_CLOEXEC);
		cfd = open(argv[3], O_RDONLY | O_CLOEXEC);
		if (hfd < 0 || cfd < 0)
			return die(NULL, "open netns");
		cfg.host_ifname = argv[4];
		if (parse_tail(argc - 5, argv + 5, &cfg, addrs, devs))
			return 1;
		if (ksal_nl_open_netns(hfd, &host, &err) < 0)
			return die(err, "host netns");
		r = ct_net_routed_setup(host, cfd, &cfg, &err);
		ksal_nl_close(host);
		return r < 0 ? die(err, "setup") : 0;
	}
	if (argc >= 4 && !strcmp(argv[1], "teardown")) {
		hfd = open(argv[2], O_RDONLY | O_CLOEXEC);
		if (hfd < 0)
			return die(NULL, "open netns");
		cfg.host_ifname = argv[3];
		if (parse_tail(argc - 4, argv + 4, &cfg, addrs, devs))
			return 1;
		if (ksal_nl_open_netns(hfd, &host, &err) < 0)
			return die(err, "host netns");
		r = ct_net_routed_teardown(host, &cfg, &err);
		ksal_nl_close(host);
		return r < 0 ? die(err, "teardown") : 0;
	}
	if (argc == 5 && !strcmp(argv[1], "rate")) {
		hfd = open(argv[2], O_RDONLY | O_CLOEXEC);
		if (hfd < 0)
			return die(NULL, "open netns");
		if (ksal_nl_open_netns(hfd, &host, &err) < 0)
			return die(err, "host netns");
		r = ksal_tc_rate_set(host, argv[3], strtoull(argv[4], NULL, 10), &err);
		ksal_nl_close(host);
		return r < 0 ? die(err, "rate") : 0;
	}
	fprintf(stderr, "usage: net_bench loop N | setup HOSTNS CTNS HOST_IF ADDR... [-- DEV...] | "
			"teardown HOSTNS HOST_IF ADDR... [-- DEV...] | rate HOSTNS HOST_IF BPS\n");
	return 2;
}
