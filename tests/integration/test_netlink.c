/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ksal/netlink and runtime/net against the real kernel (root). Every test
 * builds its own world from anonymous network namespaces held only by this
 * test's process: one plays the host, others the containers, one a LAN
 * neighbour. When the process ends, for whatever reason, the kernel removes
 * them and every device, address, route and neighbour entry in them.
 *
 * Addresses: LAN 10.213.1.0/24 and fd00:213::/64 (host .1 / ::1, LAN peer
 * .2 / ::2), containers .50+ / ::50+, bridged 10.213.2.0/24.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ksal/cleanup.h"
#include "ksal/error.h"
#include "ksal/netlink.h"
#include "runtime/net.h"

/* ---- helpers --------------------------------------------------------------- */

/* A fresh network namespace; the caller's stays as it was. */
static int netns_new(void)
{
	_cleanup_close_ int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	int fd;

	cr_assert_geq(self, 0);
	cr_assert_eq(unshare(CLONE_NEWNET), 0, "unshare: %s", strerror(errno));
	fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	cr_assert_eq(setns(self, CLONE_NEWNET), 0);
	cr_assert_geq(fd, 0);
	return fd;
}

static struct ksal_nl *nl_in(int nsfd)
{
	struct st_error *err = NULL;
	struct ksal_nl *nl = NULL;

	cr_assert_eq(ksal_nl_open_netns(nsfd, &nl, &err), 0, "%s", err ? err->msg : "?");
	return nl;
}

#define OK(call)                                                                                   \
	do {                                                                                       \
		struct st_error *_e = NULL;                                                        \
		int _r = (call);                                                                   \
		cr_assert_geq(_r, 0, "%s: %s", #call, _e ? _e->msg : "(no message)");              \
		st_error_free(_e);                                                                 \
	} while (0)
/* For calls written with `&_e` as their error argument. */

static struct ksal_ipaddr ip(const char *s)
{
	struct ksal_ipaddr a;

	cr_assert_eq(ksal_ipaddr_parse(s, &a, NULL), 0, "%s", s);
	return a;
}

/* Run argv inside nsfd; exit status, output (if out) malloc'd. */
static int run_in(int nsfd, char **out, const char *const argv[])
{
	int pfd[2];
	pid_t pid;
	int status;

	cr_assert_eq(pipe2(pfd, O_CLOEXEC), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		if (setns(nsfd, CLONE_NEWNET) < 0)
			_exit(120);
		dup2(pfd[1], 1);
		dup2(devnull, 2);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	{
		char *buf = NULL;
		size_t len = 0, cap = 0;
		ssize_t n;

		for (;;) {
			if (len + 4096 + 1 > cap) {
				cap = cap ? cap * 2 : 8192;
				buf = realloc(buf, cap);
				cr_assert_not_null(buf);
			}
			n = read(pfd[0], buf + len, cap - len - 1);
			if (n <= 0)
				break;
			len += (size_t)n;
		}
		buf[len] = '\0';
		if (out)
			*out = buf;
		else
			free(buf);
	}
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0)
		cr_assert_eq(errno, EINTR);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static bool ping(int from_ns, const char *addr)
{
	const char *argv[] = { "busybox", "ping", "-c", "1", "-W", "3", addr, NULL };

	return run_in(from_ns, NULL, argv) == 0;
}

/* Negative check: one short probe is enough, it would answer in microseconds. */
static bool ping_fails(int from_ns, const char *addr)
{
	const char *argv[] = { "busybox", "ping", "-c", "1", "-W", "1", addr, NULL };

	return run_in(from_ns, NULL, argv) != 0;
}

static char *ip_show(int nsfd, const char *const argv[])
{
	char *out = NULL;

	cr_assert_eq(run_in(nsfd, &out, argv), 0, "%s %s %s failed", argv[0], argv[1], argv[2]);
	return out;
}

/* A socket created inside nsfd (a socket stays in the netns it was made in). */
static int socket_in(int nsfd, int family, int type)
{
	_cleanup_close_ int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	int fd;

	cr_assert_eq(setns(nsfd, CLONE_NEWNET), 0);
	fd = socket(family, type | SOCK_CLOEXEC, 0);
	cr_assert_eq(setns(self, CLONE_NEWNET), 0);
	cr_assert_geq(fd, 0);
	return fd;
}

static socklen_t sockaddr_of(const char *addr, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		cr_assert_eq(inet_pton(AF_INET6, addr, &s6->sin6_addr), 1);
		return sizeof(*s6);
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	cr_assert_eq(inet_pton(AF_INET, addr, &s4->sin_addr), 1);
	return sizeof(*s4);
}

/* TCP from client_ns to server_addr:port served in server_ns; a byte each way. */
static bool tcp_works(int server_ns, int client_ns, const char *server_addr, int port)
{
	struct sockaddr_storage ss;
	socklen_t sl = sockaddr_of(server_addr, port, &ss);
	_cleanup_close_ int lfd = socket_in(server_ns, ss.ss_family, SOCK_STREAM);
	_cleanup_close_ int cfd = socket_in(client_ns, ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK);
	_cleanup_close_ int afd = -EBADF;
	struct pollfd p;
	char c = 0;
	int one = 1, soerr = 0;
	socklen_t el = sizeof(soerr);

	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	cr_assert_eq(bind(lfd, (struct sockaddr *)&ss, sl), 0, "bind %s: %s", server_addr,
		     strerror(errno));
	cr_assert_eq(listen(lfd, 1), 0);
	if (connect(cfd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS)
		return false;
	p = (struct pollfd){ .fd = cfd, .events = POLLOUT };
	if (poll(&p, 1, 3000) != 1)
		return false;
	getsockopt(cfd, SOL_SOCKET, SO_ERROR, &soerr, &el);
	if (soerr)
		return false;
	afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (afd < 0)
		return false;
	if (write(cfd, "p", 1) != 1 || read(afd, &c, 1) != 1 || c != 'p')
		return false;
	if (write(afd, "q", 1) != 1)
		return false;
	p = (struct pollfd){ .fd = cfd, .events = POLLIN };
	if (poll(&p, 1, 3000) != 1 || read(cfd, &c, 1) != 1)
		return false;
	return c == 'q';
}

/* ---- the world: a host, a LAN neighbour, containers ------------------------ */

static int host_ns = -EBADF, lan_ns = -EBADF;
static struct ksal_nl *host;
static const char *const neighbour_devs[] = { "stnllan0", NULL };

static void world_up(void)
{
	struct ksal_nl *lan;

	if (geteuid() != 0)
		cr_skip_test("needs root");
	host_ns = netns_new();
	lan_ns = netns_new();
	host = nl_in(host_ns);
	lan = nl_in(lan_ns);
	OK(ksal_link_set_up(host, "lo", true, &_e));
	OK(ksal_link_set_up(lan, "lo", true, &_e));
	OK(ksal_veth_create(host, "stnllan0", "stnllan1", lan_ns, &_e));
	OK(ksal_link_set_up(host, "stnllan0", true, &_e));
	OK(ksal_link_set_up(lan, "stnllan1", true, &_e));
	struct ksal_ipaddr h4 = ip("10.213.1.1/24"), h6 = ip("fd00:213::1/64");
	struct ksal_ipaddr l4 = ip("10.213.1.2/24"), l6 = ip("fd00:213::2/64");
	OK(ksal_addr_add(host, "stnllan0", &h4, &_e));
	OK(ksal_addr_add(host, "stnllan0", &h6, &_e));
	OK(ksal_addr_add(lan, "stnllan1", &l4, &_e));
	OK(ksal_addr_add(lan, "stnllan1", &l6, &_e));
	ksal_nl_close(lan);
}

static void world_down(void)
{
	/* Closing the last references removes the namespaces and all in them. */
	ksal_nl_close(host);
	host = NULL;
	closep(&host_ns);
	closep(&lan_ns);
}

struct ct {
	int ns;
	struct ksal_ipaddr addrs[4];
	struct ct_net_routed cfg;
	char host_if[16];
};

static void ct_up(struct ct *c, const char *host_if, const char *const addrs[])
{
	size_t n = 0;

	memset(c, 0, sizeof(*c));
	c->ns = netns_new();
	snprintf(c->host_if, sizeof(c->host_if), "%s", host_if);
	for (; addrs[n]; n++)
		c->addrs[n] = ip(addrs[n]);
	c->cfg = (struct ct_net_routed){
		.ctid = host_if + 4,
		.host_ifname = c->host_if,
		.ct_ifname = "eth0",
		.addrs = c->addrs,
		.n_addrs = n,
		.neighbour_devs = neighbour_devs,
	};
	OK(ct_net_routed_setup(host, c->ns, &c->cfg, &_e));
}

TestSuite(netlink_routed, .init = world_up, .fini = world_down, .timeout = 60);

Test(netlink_routed, ping_and_tcp_both_ways_v4_v6)
{
	struct ct a, b;

	ct_up(&a, "stnlv101", (const char *const[]){ "10.213.1.50", "fd00:213::50", NULL });
	ct_up(&b, "stnlv102", (const char *const[]){ "10.213.1.51", "fd00:213::51", NULL });

	/* host <-> container */
	cr_expect(ping(host_ns, "10.213.1.50"));
	cr_expect(ping(host_ns, "fd00:213::50"));
	cr_expect(ping(a.ns, "10.213.1.1"));
	cr_expect(ping(a.ns, "fd00:213::1"));
	/* container <-> container, through the host */
	cr_expect(ping(a.ns, "10.213.1.51"));
	cr_expect(ping(b.ns, "fd00:213::50"));
	/* a LAN neighbour reaches the container: the host answers ARP / NDP for it */
	cr_expect(ping(lan_ns, "10.213.1.50"));
	cr_expect(ping(lan_ns, "fd00:213::51"));

	cr_expect(tcp_works(a.ns, host_ns, "10.213.1.50", 8001), "host -> ct TCP v4");
	cr_expect(tcp_works(host_ns, a.ns, "10.213.1.1", 8002), "ct -> host TCP v4");
	cr_expect(tcp_works(a.ns, host_ns, "fd00:213::50", 8003), "host -> ct TCP v6");
	cr_expect(tcp_works(host_ns, a.ns, "fd00:213::1", 8004), "ct -> host TCP v6");
	cr_expect(tcp_works(b.ns, a.ns, "10.213.1.51", 8005), "ct -> ct TCP v4");
	cr_expect(tcp_works(a.ns, b.ns, "fd00:213::50", 8006), "ct -> ct TCP v6");
	cr_expect(tcp_works(a.ns, lan_ns, "10.213.1.50", 8007), "LAN -> ct TCP v4");
}

Test(netlink_routed, live_address_add_and_del)
{
	struct ct a;
	struct ksal_ipaddr extra4 = ip("10.213.1.60"), extra6 = ip("fd00:213::60");

	ct_up(&a, "stnlv103", (const char *const[]){ "10.213.1.50", NULL });
	cr_assert(ping(host_ns, "10.213.1.50"));
	cr_assert(ping_fails(host_ns, "10.213.1.60"));

	OK(ct_net_addr_add(host, a.ns, &a.cfg, &extra4, &_e));
	OK(ct_net_addr_add(host, a.ns, &a.cfg, &extra6, &_e));
	cr_expect(ping(host_ns, "10.213.1.60"));
	cr_expect(ping(lan_ns, "10.213.1.60"));
	cr_expect(ping(host_ns, "fd00:213::60"), "first IPv6 address added live");
	cr_expect(tcp_works(a.ns, lan_ns, "fd00:213::60", 8010));

	/* The same address twice: refused with vzctl's "IP in use" code. */
	{
		struct st_error *err = NULL;

		cr_expect_lt(ct_net_addr_add(host, a.ns, &a.cfg, &extra4, &err), 0);
		cr_expect_eq(st_error_exit(err), ST_EXIT_IPINUSE, "%s", err ? err->msg : "");
		st_error_free(err);
	}

	OK(ct_net_addr_del(host, a.ns, &a.cfg, &extra4, &_e));
	OK(ct_net_addr_del(host, a.ns, &a.cfg, &extra6, &_e));
	cr_expect(ping_fails(host_ns, "10.213.1.60"));
	cr_expect(ping_fails(lan_ns, "10.213.1.60"));
	cr_expect(ping_fails(host_ns, "fd00:213::60"));
	cr_expect(ping(host_ns, "10.213.1.50"), "the other address stays");
}

static void assert_no_trace(const char *what, const char *const argv[], const char *needle)
{
	_cleanup_free_ char *out = ip_show(host_ns, argv);

	cr_expect_null(strstr(out, needle), "%s still shows %s:\n%s", what, needle, out);
}

static void assert_host_clean(const char *host_if)
{
	assert_no_trace("links", (const char *const[]){ "ip", "-o", "link", NULL }, host_if);
	assert_no_trace("routes", (const char *const[]){ "ip", "route", NULL }, "10.213.1.5");
	assert_no_trace("v6 routes", (const char *const[]){ "ip", "-6", "route", NULL },
			"fd00:213::5");
	assert_no_trace("proxy ARP", (const char *const[]){ "ip", "neigh", "show", "proxy", NULL },
			"10.213");
	assert_no_trace("proxy NDP",
			(const char *const[]){ "ip", "-6", "neigh", "show", "proxy", NULL },
			"fd00:213");
}

Test(netlink_routed, teardown_leaves_nothing)
{
	struct ct a;
	_cleanup_free_ char *before = NULL;

	ct_up(&a, "stnlv104", (const char *const[]){ "10.213.1.50", "fd00:213::50", NULL });
	before = ip_show(host_ns, (const char *const[]){ "ip", "neigh", "show", "proxy", NULL });
	cr_assert(strstr(before, "10.213.1.50"), "proxy ARP entry present: %s", before);
	OK(ct_net_routed_teardown(host, &a.cfg, &_e));
	assert_host_clean("stnlv104");
	cr_expect(ping_fails(host_ns, "10.213.1.50"));
	/* A second teardown finds nothing to do and is no error. */
	OK(ct_net_routed_teardown(host, &a.cfg, &_e));
}

Test(netlink_routed, teardown_after_container_netns_died)
{
	struct ct a;

	ct_up(&a, "stnlv105", (const char *const[]){ "10.213.1.50", "fd00:213::50", NULL });
	/* The container dies (kill -9 of its init): its netns goes, and the
	 * kernel removes the pair; the proxy entries on the host remain. */
	closep(&a.ns);
	for (int i = 0; i < 200 && ksal_link_exists(host, "stnlv105"); i++)
		usleep(10000);
	cr_assert_not(ksal_link_exists(host, "stnlv105"));
	OK(ct_net_routed_teardown(host, &a.cfg, &_e));
	assert_host_clean("stnlv105");
}

Test(netlink_routed, failed_setup_rolls_back)
{
	struct ct a;
	struct st_error *err = NULL;
	int ns2 = netns_new();
	struct ct_net_routed cfg;
	struct ksal_ipaddr bad[2];

	ct_up(&a, "stnlv106", (const char *const[]){ "10.213.1.50", NULL });
	/* A second container claiming the same address: the host route exists. */
	bad[0] = ip("10.213.1.52");
	bad[1] = ip("10.213.1.50");
	cfg = a.cfg;
	cfg.ctid = "107";
	cfg.host_ifname = "stnlv107";
	cfg.addrs = bad;
	cfg.n_addrs = 2;
	cr_assert_lt(ct_net_routed_setup(host, ns2, &cfg, &err), 0);
	cr_expect(strstr(err->msg, "CT 107"), "%s", err->msg);
	cr_expect(strstr(err->msg, "10.213.1.50"), "%s", err->msg);
	st_error_free(err);
	cr_expect_not(ksal_link_exists(host, "stnlv107"), "veth of the failed setup removed");
	_cleanup_free_ char *routes =
		ip_show(host_ns, (const char *const[]){ "ip", "route", NULL });
	cr_expect_null(strstr(routes, "10.213.1.52"), "%s", routes);
	cr_expect(ping(host_ns, "10.213.1.50"), "the first container is untouched");
	close(ns2);
}

Test(netlink_routed, duplicate_veth_names_device_and_kernel_message)
{
	struct ct a;
	struct st_error *err = NULL;
	int ns2 = netns_new();

	ct_up(&a, "stnlv108", (const char *const[]){ "10.213.1.50", NULL });
	cr_assert_lt(ksal_veth_create(host, "stnlv108", "eth0", ns2, &err), 0);
	cr_assert_eq(err->errnum, EEXIST);
	cr_expect(strstr(err->msg, "create veth stnlv108/eth0: File exists"), "%s", err->msg);
	cr_log_info("%s", err->msg);
	st_error_free(err);
	err = NULL;

	/* The kernel's extended ack reaches the message. */
	struct ksal_ipaddr dst = ip("10.213.9.0/24"), gw = ip("10.213.8.1");
	cr_assert_lt(ksal_route_add(host, &dst, &gw, "stnllan0", &err), 0);
	cr_expect(strstr(err->msg, "route 10.213.9.0/24 via 10.213.8.1 dev stnllan0"), "%s",
		  err->msg);
	cr_expect(strstr(err->msg, "(kernel: "), "no extended ack in: %s", err->msg);
	cr_log_info("%s", err->msg);
	st_error_free(err);
	err = NULL;

	cr_assert_lt(ksal_link_set_up(host, "stnlnone0", true, &err), 0);
	cr_expect(strstr(err->msg, "stnlnone0"), "%s", err->msg);
	cr_expect_eq(err->errnum, ENODEV);
	st_error_free(err);
	close(ns2);
}

/* Bytes per second received in server_ns from client_ns over 3 s of sending. */
static double tcp_rate(int server_ns, int client_ns, const char *addr, int port)
{
	struct sockaddr_storage ss;
	socklen_t sl = sockaddr_of(addr, port, &ss);
	_cleanup_close_ int lfd = socket_in(server_ns, ss.ss_family, SOCK_STREAM);
	_cleanup_close_ int cfd = socket_in(client_ns, ss.ss_family, SOCK_STREAM);
	_cleanup_close_ int afd = -EBADF;
	_cleanup_kill_ pid_t pid = -1;
	struct timespec t0, t;
	static char buf[65536];
	uint64_t bytes = 0;
	int one = 1;

	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	cr_assert_eq(bind(lfd, (struct sockaddr *)&ss, sl), 0);
	cr_assert_eq(listen(lfd, 1), 0);
	cr_assert_eq(connect(cfd, (struct sockaddr *)&ss, sl), 0, "%s", strerror(errno));
	afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	cr_assert_geq(afd, 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		for (;;)
			if (write(cfd, buf, sizeof(buf)) < 0)
				_exit(0);
	}
	closep(&cfd);
	/* Skip the first second: the burst and the queue fill up. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		ssize_t n = read(afd, buf, sizeof(buf));
		double el;

		cr_assert_gt(n, 0);
		clock_gettime(CLOCK_MONOTONIC, &t);
		el = (t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9;
		if (el < 1.0)
			continue;
		if (el >= 4.0)
			return bytes / 3.0;
		bytes += (uint64_t)n;
	}
}

Test(netlink_routed, rate_limit_applied_and_visible)
{
	struct ct a;
	uint64_t bps = 1;
	double rate;
	_cleanup_free_ char *qd = NULL;

	ct_up(&a, "stnlv109", (const char *const[]){ "10.213.1.50", NULL });
	OK(ksal_tc_rate_set(host, "stnlv109", 20000000, &_e));
	OK(ksal_tc_rate_get(host, "stnlv109", &bps, &_e));
	cr_expect_eq(bps, 20000000);
	qd = ip_show(host_ns,
		     (const char *const[]){ "tc", "qdisc", "show", "dev", "stnlv109", NULL });
	cr_expect(strstr(qd, "tbf") && strstr(qd, "rate 20Mbit"), "tc shows: %s", qd);

	/* host -> container leaves through the shaped host veth */
	rate = tcp_rate(a.ns, host_ns, "10.213.1.50", 8020) * 8;
	cr_log_info("shaped to 20 Mbit/s: measured %.2f Mbit/s", rate / 1e6);
	cr_expect(rate > 20e6 * 0.85 && rate < 20e6 * 1.15, "measured %.2f Mbit/s for 20",
		  rate / 1e6);

	OK(ksal_tc_rate_set(host, "stnlv109", 0, &_e));
	OK(ksal_tc_rate_get(host, "stnlv109", &bps, &_e));
	cr_expect_eq(bps, 0);
	rate = tcp_rate(a.ns, host_ns, "10.213.1.50", 8021) * 8;
	cr_log_info("unshaped host -> ct: %.0f Mbit/s", rate / 1e6);
	cr_expect(rate > 100e6, "unshaped: %.2f Mbit/s", rate / 1e6);
	/* Removing a limit that is not there is no error. */
	OK(ksal_tc_rate_set(host, "stnlv109", 0, &_e));
}

/* ---- other models and ksal details ------------------------------------------- */

TestSuite(netlink_models, .init = world_up, .fini = world_down, .timeout = 60);

Test(netlink_models, none_is_loopback_only)
{
	int ns = netns_new();
	_cleanup_free_ char *links = NULL;

	cr_assert(ping_fails(ns, "127.0.0.1"), "lo starts down");
	OK(ct_net_none_setup(ns, &_e));
	cr_expect(ping(ns, "127.0.0.1"));
	cr_expect(ping(ns, "::1"));
	links = ip_show(ns, (const char *const[]){ "ip", "-o", "link", NULL });
	cr_expect_null(strstr(links, "eth0"), "%s", links);
	close(ns);
}

Test(netlink_models, bridged_two_containers)
{
	int ns1 = netns_new(), ns2 = netns_new();
	struct ksal_ipaddr br = ip("10.213.2.1/24"), a1 = ip("10.213.2.10/24"),
			   a2 = ip("10.213.2.11/24"), gw = ip("10.213.2.1");
	struct ct_net_bridged c1 = {
		.ctid = "201",
		.host_ifname = "stnlb201",
		.ct_ifname = "eth0",
		.bridge = "stnlbr0",
		.bridge_addr = &br,
		.addrs = &a1,
		.n_addrs = 1,
		.gw4 = &gw,
	};
	struct ct_net_bridged c2 = c1;

	c2.ctid = "202";
	c2.host_ifname = "stnlb202";
	c2.addrs = &a2;
	c2.ct_mac = (const uint8_t[]){ 0x02, 0x00, 0x0a, 0xd5, 0x02, 0x0b };
	c2.host_mac = (const uint8_t[]){ 0x02, 0x00, 0x0a, 0xd5, 0x02, 0xfe };
	OK(ct_net_bridged_setup(host, ns1, &c1, &_e));
	OK(ct_net_bridged_setup(host, ns2, &c2, &_e));
	_cleanup_free_ char *l2 =
		ip_show(ns2, (const char *const[]){ "ip", "-o", "link", "show", "eth0", NULL });
	_cleanup_free_ char *h2 = ip_show(
		host_ns, (const char *const[]){ "ip", "-o", "link", "show", "stnlb202", NULL });
	cr_expect(strstr(l2, "02:00:0a:d5:02:0b"), "%s", l2);
	cr_expect(strstr(h2, "02:00:0a:d5:02:fe") && strstr(h2, "master stnlbr0"), "%s", h2);
	cr_expect(ping(ns1, "10.213.2.11"));
	cr_expect(ping(ns2, "10.213.2.1"));
	cr_expect(ping(host_ns, "10.213.2.10"));
	cr_expect(tcp_works(ns2, ns1, "10.213.2.11", 8030));
	OK(ct_net_bridged_teardown(host, &c1, &_e));
	cr_expect_not(ksal_link_exists(host, "stnlb201"));
	cr_expect(ksal_link_exists(host, "stnlbr0"), "the bridge stays");
	cr_expect(ping_fails(ns2, "10.213.2.10"));
	close(ns1);
	close(ns2);
}

Test(netlink_models, open_netns_by_pidfd_keeps_caller_netns)
{
	_cleanup_close_ int before = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	_cleanup_kill_ pid_t pid = -1;
	_cleanup_close_ int pidfd = -EBADF, after = -EBADF;
	struct ksal_nl *nl = NULL;
	struct st_error *err = NULL;
	struct stat s1, s2;
	int sync[2];
	char c;

	cr_assert_eq(pipe2(sync, O_CLOEXEC), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (setns(host_ns, CLONE_NEWNET) < 0)
			_exit(1);
		if (write(sync[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	cr_assert_eq(read(sync[0], &c, 1), 1);
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	cr_assert_geq(pidfd, 0);
	cr_assert_eq(ksal_nl_open_netns(pidfd, &nl, &err), 0, "%s", err ? err->msg : "");
	cr_expect(ksal_link_exists(nl, "stnllan0"), "socket is in the pid's netns");
	after = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	fstat(before, &s1);
	fstat(after, &s2);
	cr_expect(s1.st_ino == s2.st_ino, "caller's netns unchanged");
	ksal_nl_close(nl);

	/* Moving links by pidfd and by pid. */
	OK(ksal_veth_create(host, "stnlmv0", "stnlmv1", -1, &_e));
	int ns = netns_new();
	struct ksal_nl *nlns = nl_in(ns);
	OK(ksal_link_move_netns(host, "stnlmv1", ns, &_e));
	cr_expect(ksal_link_exists(nlns, "stnlmv1"));
	cr_expect_not(ksal_link_exists(host, "stnlmv1"));
	OK(ksal_link_move_netns(nlns, "stnlmv1", pidfd, &_e));
	cr_expect(ksal_link_exists(host, "stnlmv1"), "moved back by pidfd");
	OK(ksal_link_move_netns(host, "stnlmv1", ns, &_e));
	OK(ksal_link_move_netns_pid(nlns, "stnlmv1", pid, &_e));
	cr_expect(ksal_link_exists(host, "stnlmv1"), "moved back by pid");
	cr_expect_not(ksal_link_exists(nlns, "stnlmv1"));
	OK(ksal_link_rename(host, "stnlmv1", "stnlmv2", &_e));
	OK(ksal_link_set_mtu(host, "stnlmv2", 1400, &_e));
	OK(ksal_link_set_mac(host, "stnlmv2", (const uint8_t[]){ 0x02, 0, 0, 0x21, 0x30, 1 }, &_e));
	_cleanup_free_ char *link = ip_show(
		host_ns, (const char *const[]){ "ip", "-o", "link", "show", "stnlmv2", NULL });
	cr_expect(strstr(link, "mtu 1400") && strstr(link, "02:00:00:21:30:01"), "%s", link);
	ksal_nl_close(nlns);
	close(ns);
}

Test(netlink_models, sysctl_in_right_namespace)
{
	_cleanup_free_ char *v = NULL, *mine = NULL;
	struct ksal_nl *self = NULL;

	OK(ksal_nl_sysctl_set(host, "net/ipv4/conf/stnllan0/proxy_arp", "1", &_e));
	OK(ksal_nl_sysctl_get(host, "net/ipv4/conf/stnllan0/proxy_arp", &v, &_e));
	cr_expect_str_eq(v, "1");
	/* Not in the caller's own namespace, where that device does not exist. */
	OK(ksal_nl_open(&self, &_e));
	cr_expect_lt(ksal_nl_sysctl_get(self, "net/ipv4/conf/stnllan0/proxy_arp", &mine, NULL), 0);
	ksal_nl_close(self);
}

/* The daemon holds the container init's pidfd, not a netns fd. */
Test(netlink_routed, setup_by_pidfd_of_container_init)
{
	_cleanup_kill_ pid_t pid = -1;
	_cleanup_close_ int pidfd = -EBADF;
	int ns = netns_new(), sync[2];
	struct ksal_ipaddr a = ip("10.213.1.70");
	struct ct_net_routed cfg = {
		.ctid = "110",
		.host_ifname = "stnlv110",
		.ct_ifname = "eth0",
		.addrs = &a,
		.n_addrs = 1,
		.neighbour_devs = neighbour_devs,
	};
	char c;

	cr_assert_eq(pipe2(sync, O_CLOEXEC), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (setns(ns, CLONE_NEWNET) < 0 || write(sync[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	cr_assert_eq(read(sync[0], &c, 1), 1);
	close(ns);
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	cr_assert_geq(pidfd, 0);
	OK(ct_net_routed_setup(host, pidfd, &cfg, &_e));
	cr_expect(ping(lan_ns, "10.213.1.70"));
	OK(ct_net_routed_teardown(host, &cfg, &_e));
	cr_expect_not(ksal_link_exists(host, "stnlv110"));
}

/* vzctl's exit code 78: an address the host or another container holds. */
Test(netlink_routed, address_in_use_on_host_or_by_container)
{
	struct ct a;
	bool used;

	ct_up(&a, "stnlv111", (const char *const[]){ "10.213.1.50", "fd00:213::50", NULL });
	const char *taken[] = { "10.213.1.1", "fd00:213::1", "10.213.1.50", "fd00:213::50" };
	const char *free_[] = { "10.213.1.99", "fd00:213::99", "10.213.1.2" };

	for (size_t i = 0; i < ARRAY_SIZE(taken); i++) {
		struct ksal_ipaddr x = ip(taken[i]);

		used = false;
		OK(ksal_ipaddr_in_use(host, &x, &used, &_e));
		cr_expect(used, "%s is taken", taken[i]);
	}
	/* 10.213.1.2 belongs to the LAN neighbour, not to this host. */
	for (size_t i = 0; i < ARRAY_SIZE(free_); i++) {
		struct ksal_ipaddr x = ip(free_[i]);

		used = true;
		OK(ksal_ipaddr_in_use(host, &x, &used, &_e));
		cr_expect_not(used, "%s is free", free_[i]);
	}
	OK(ct_net_routed_teardown(host, &a.cfg, &_e));
	struct ksal_ipaddr x = ip("10.213.1.50");
	OK(ksal_ipaddr_in_use(host, &x, &used, &_e));
	cr_expect_not(used, "released on teardown");
}
