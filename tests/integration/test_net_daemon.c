/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Container networking through a private stratad (issue 6), root only.
 *
 * Each test unshares a network namespace of its own first: that namespace
 * plays the host (the private daemon is started inside it), so veths,
 * routes, proxy neighbour entries, bridges and sysctls never touch the real
 * host and vanish with the test process. Containers 9600-9699, files under
 * /tmp/stnet-XXXXXX, cgroup subtree stnet-<pid>, devices stn*, addresses in
 * 10.214.0.0/16 and fd00:214::/64. Host tools: busybox (ping, nc), iperf3.
 * The harness is tests/helpers/daemonutil.h.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/client.h"
#include "ksal/cleanup.h"
#include "tests/helpers/daemonutil.h"
#include "tests/helpers/testutil.h"

#define HOST_ADDR "10.214.255.1" /* the "host"'s own address, on stnup0 */
#define POOL "10.214.1.1/24"

/* A host command (in the test's network namespace): exit code, output. */
static int host_sh(const char *cmd, char **out)
{
	const char *argv[] = { "/bin/sh", "-c", cmd, NULL };

	return tu_run(argv, out);
}

static int host_shf(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int host_shf(char **out, const char *fmt, ...)
{
	_cleanup_free_ char *cmd = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	cr_assert_geq(r, 0);
	return host_sh(cmd, out);
}

static bool host_ping(const char *addr)
{
	return host_shf(NULL, "busybox ping -%c -c 1 -W 2 %s", strchr(addr, ':') ? '6' : '4',
			addr) == 0;
}

static bool ct_ping(const char *ctid, const char *addr)
{
	_cleanup_free_ char *cmd = NULL;

	cr_assert_geq(asprintf(&cmd, "ping -%c -c 1 -W 2 %s >/dev/null 2>&1",
			       strchr(addr, ':') ? '6' : '4', addr),
		      0);
	return du_sh(ctid, cmd, NULL) == 0;
}

/* A one-shot TCP server in the container answering `word` on port. */
static void ct_tcp_server(const char *ctid, int port, const char *word)
{
	_cleanup_free_ char *cmd = NULL;

	cr_assert_geq(asprintf(&cmd,
			       "nc -l -p %d -e /bin/echo %s </dev/null >/dev/null 2>&1 & sleep 0.2",
			       port, word),
		      0);
	cr_assert_eq(du_sh(ctid, cmd, NULL), 0);
}

/* Connect from the host to addr:port and read a line. */
static bool host_tcp_reads(const char *addr, int port, const char *want)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	char buf[128] = "";
	ssize_t n;
	_cleanup_close_ int fd = -EBADF;
	struct timeval tv = { .tv_sec = 3 };

	if (strchr(addr, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, addr, &s6->sin6_addr);
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, addr, &s4->sin_addr);
		sl = sizeof(*s4);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return strstr(buf, want) != NULL;
}

/* Container ctid connects to addr:port and reads want. */
static bool ct_tcp_reads(const char *ctid, const char *addr, int port, const char *want)
{
	_cleanup_free_ char *cmd = NULL, *out = NULL;

	cr_assert_geq(asprintf(&cmd, "nc -w 3 %s %d </dev/null", addr, port), 0);
	du_sh(ctid, cmd, &out);
	return out && strstr(out, want);
}

static char *leftf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *leftf(const char *fmt, ...)
{
	static char buf[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return buf;
}

/* The host (this namespace) has no trace of ctid's network: no veth, no
 * route, no proxy neighbour entry, no address of addrs. NULL: fine, else
 * what is left. */
static char *net_leftover(const char *ctid, const char *const *addrs)
{
	_cleanup_free_ char *links = NULL, *routes = NULL, *routes6 = NULL, *neigh = NULL,
			    *neigh6 = NULL, *ad = NULL;
	char veth[32], *what = NULL;

	snprintf(veth, sizeof(veth), "veth%s", ctid);
	host_sh("ip -o link", &links);
	host_sh("ip -4 route show table all", &routes);
	host_sh("ip -6 route show table all", &routes6);
	host_sh("ip -4 neigh show proxy", &neigh);
	host_sh("ip -6 neigh show proxy", &neigh6);
	host_sh("ip -o addr", &ad);
	if (links && strstr(links, veth))
		what = leftf("link %s: %s", veth, links);
	for (const char *const *a = addrs; !what && a && *a; a++) {
		char w[64];
		snprintf(w, sizeof(w), "%s ", *a);
		if ((routes && strstr(routes, w)) || (routes6 && strstr(routes6, w)))
			what = leftf("route to %s: %s%s", *a, routes, routes6);
		else if ((neigh && strstr(neigh, w)) || (neigh6 && strstr(neigh6, w)))
			what = leftf("proxy neighbour %s: %s%s", *a, neigh, neigh6);
		else if (ad && strstr(ad, w))
			what = leftf("address %s: %s", *a, ad);
	}
	return what;
}

static bool proxy_neigh_has(const char *addr)
{
	_cleanup_free_ char *out = NULL;
	char w[64];

	snprintf(w, sizeof(w), "%s ", addr);
	host_shf(&out, "ip -%c neigh show proxy dev stnup0", strchr(addr, ':') ? '6' : '4');
	return out && strstr(out, w);
}

static void setup(void)
{
	if (tu_is_root() && !tu_have_busybox())
		cr_skip_test("no static busybox for the test containers");
	/* this test process and its daemon get a network namespace of their own */
	du_setup(&(struct du_opts){ .prefix = "stnet", .netns = true });
	cr_assert_eq(host_sh("ip link add stnup0 type veth peer name stnup1 && "
			     "ip link set stnup1 up && "
			     "ip link set stnup0 up && ip addr add " HOST_ADDR "/24 dev stnup0 && "
			     "ip addr add fd00:214::ff:1/112 dev stnup0 nodad",
			     NULL),
		     0);
	du_conf_addf("NEIGHBOUR_DEVS=stnup0\nIP_POOL=" POOL "\n");
	du_daemon_start();
	du_make_template("tiny", NULL);
	/* the network namespace, its links and routes go with this process */
}

TestSuite(netd, .init = setup, .fini = du_teardown, .timeout = 120);

static void create_start(const char *ctid, json_t *args)
{
	char *msg = NULL;

	json_object_set_new(args, "ostemplate", json_string("tiny"));
	cr_assert_eq(du_call("create", ctid, args, NULL, &msg), 0, "create %s: %s", ctid, msg);
	cr_assert_eq(du_call("start", ctid, NULL, NULL, &msg), 0, "start %s: %s", ctid, msg);
}

static int set_opt(const char *ctid, const char *opt, const char *val, bool save)
{
	return du_call("set", ctid, json_pack("{s:{s:s},s:b}", "options", opt, val, "save", save),
		       NULL, NULL);
}

/* The pool address auto gave ctid (its IP_ADDRESS). */
static char *ct_ip(const char *ctid)
{
	json_t *res = NULL, *c;
	size_t i;
	char *ip = NULL;

	cr_assert_eq(du_call("list", NULL, json_pack("{s:b}", "all", 1), &res, NULL), 0);
	json_array_foreach (json_object_get(res, "containers"), i, c)
		if (!strcmp(json_string_value(json_object_get(c, "ctid")), ctid) &&
		    json_string_value(json_object_get(c, "ip")))
			ip = strdup(json_string_value(json_object_get(c, "ip")));
	json_decref(res);
	return ip;
}

Test(netd, routed_v4_v6_ping_tcp_live_ipadd_and_clean_stop)
{
	_cleanup_free_ char *ip2 = NULL, *hosts = NULL;
	char *msg = NULL, *left;

	create_start("9601",
		     json_pack("{s:s,s:[s,s],s:{s:s,s:s}}", "hostname", "web.stnet", "ipadd",
			       "10.214.1.20", "fd00:214::1:20", "options", "nameserver",
			       "10.214.255.53 inherit", "searchdomain", "stnet.example"));
	/* the second container takes the first free pool address */
	create_start("9602", json_pack("{s:[s,s]}", "ipadd", "auto", "fd00:214::1:21"));
	ip2 = ct_ip("9602");
	cr_assert_not_null(ip2);
	cr_assert_str_eq(ip2, "10.214.1.2 fd00:214::1:21", "auto gave `%s`", ip2);

	/* host <-> container, container <-> container, IPv4 and IPv6 */
	cr_assert(host_ping("10.214.1.20"), "host -> ct 9601 (v4)");
	cr_assert(host_ping("fd00:214::1:20"), "host -> ct 9601 (v6)");
	cr_assert(ct_ping("9601", HOST_ADDR), "ct 9601 -> host (v4)");
	cr_assert(ct_ping("9601", "fd00:214::ff:1"), "ct 9601 -> host (v6)");
	cr_assert(ct_ping("9601", "10.214.1.2"), "ct 9601 -> ct 9602 (v4)");
	cr_assert(ct_ping("9602", "fd00:214::1:20"), "ct 9602 -> ct 9601 (v6)");
	ct_tcp_server("9601", 7001, "hello4");
	cr_assert(host_tcp_reads("10.214.1.20", 7001, "hello4"), "host -> ct TCP v4");
	ct_tcp_server("9601", 7002, "hello6");
	cr_assert(host_tcp_reads("fd00:214::1:20", 7002, "hello6"), "host -> ct TCP v6");
	ct_tcp_server("9601", 7003, "ctct4");
	cr_assert(ct_tcp_reads("9602", "10.214.1.20", 7003, "ctct4"), "ct -> ct TCP v4");
	ct_tcp_server("9602", 7004, "ctct6");
	cr_assert(ct_tcp_reads("9601", "fd00:214::1:21", 7004, "ctct6"), "ct -> ct TCP v6");

	/* the daemon wrote the guest's name files */
	du_sh("9601", "cat /etc/hosts /etc/hostname", &hosts);
	cr_assert(strstr(hosts, "10.214.1.20\tweb.stnet web") && strstr(hosts, "localhost"),
		  "/etc/hosts: %s", hosts);
	{
		_cleanup_free_ char *rc = NULL, *host_rc = tu_read_file("/etc/resolv.conf");
		char ns[256];
		const char *l = host_rc ? strstr(host_rc, "nameserver ") : NULL;

		du_sh("9601", "cat /etc/resolv.conf", &rc);
		cr_assert(strstr(rc, "search stnet.example\nnameserver 10.214.255.53\n"),
			  "resolv.conf: %s", rc);
		/* NAMESERVER=inherit: the host's first nameserver too */
		if (l && sscanf(l, "nameserver %255s", ns) == 1)
			cr_assert(strstr(rc, ns), "host nameserver %s not inherited: %s", ns, rc);
	}

	/* live ipadd / ipdel change what is reachable, without a restart */
	cr_assert_not(host_ping("10.214.1.50"));
	cr_assert_eq(set_opt("9601", "ipadd", "10.214.1.50", true), 0, "ipadd: %s", du.last_msg);
	cr_assert(host_ping("10.214.1.50"), "live ipadd not reachable");
	cr_assert(proxy_neigh_has("10.214.1.50"), "no proxy ARP entry on NEIGHBOUR_DEVS");
	cr_assert_eq(set_opt("9601", "ipdel", "10.214.1.20", true), 0, "ipdel: %s", du.last_msg);
	cr_assert_not(host_ping("10.214.1.20"), "deleted address still answers");
	cr_assert_not(proxy_neigh_has("10.214.1.20"), "proxy entry of a deleted address left");
	cr_assert(host_ping("10.214.1.50"));

	cr_assert_eq(du_call("stop", "9601", NULL, NULL, &msg), 0, "%s", msg);
	const char *a1[] = { "10.214.1.20", "10.214.1.50", "fd00:214::1:20", NULL };
	left = net_leftover("9601", a1);
	cr_assert_null(left, "after stop: %s", left);
	cr_assert(host_ping("10.214.1.2"), "the other container lost its network");
}

Test(netd, bridged_v4_v6_ping_and_tcp)
{
	char *msg = NULL;

	/* the "host" side of the bridge carries an address of its own */
	cr_assert_eq(host_sh("ip link add stnbr0 type bridge && ip link set stnbr0 up && "
			     "ip addr add 10.214.2.1/24 dev stnbr0 && "
			     "ip addr add fd00:214::2:1/112 dev stnbr0 nodad",
			     NULL),
		     0);
	create_start("9611", json_pack("{s:[s,s],s:{s:s,s:s}}", "ipadd", "10.214.2.11/24",
				       "fd00:214::2:11/112", "options", "netmode", "bridged",
				       "netif", "ifname=eth0,bridge=stnbr0"));
	create_start("9612",
		     json_pack("{s:[s,s],s:{s:s}}", "ipadd", "10.214.2.12/24", "fd00:214::2:12/112",
			       "options", "netif_add", "eth0,,,,stnbr0")) /* vzctl's --netif_add */;
	/* IPv6 DAD takes a moment on a fresh link */
	for (int i = 0; i < 30 && !host_ping("fd00:214::2:12"); i++)
		usleep(100000);
	cr_assert(host_ping("10.214.2.11"), "host -> ct v4");
	cr_assert(host_ping("fd00:214::2:12"), "host -> ct v6");
	cr_assert(ct_ping("9611", "10.214.2.1"), "ct -> host v4");
	cr_assert(ct_ping("9611", "10.214.2.12"), "ct -> ct v4");
	cr_assert(ct_ping("9612", "fd00:214::2:11"), "ct -> ct v6");
	ct_tcp_server("9611", 7011, "br4");
	cr_assert(host_tcp_reads("10.214.2.11", 7011, "br4"), "host -> ct TCP v4");
	ct_tcp_server("9612", 7012, "br6");
	cr_assert(ct_tcp_reads("9611", "fd00:214::2:12", 7012, "br6"), "ct -> ct TCP v6");
	cr_assert_eq(du_call("stop", "9611", NULL, NULL, &msg), 0, "%s", msg);
	const char *none[] = { NULL };
	char *left = net_leftover("9611", none);
	cr_assert_null(left, "after stop: %s", left);
	cr_assert_not(host_ping("10.214.2.11"));
}

Test(netd, teardown_after_init_kill9_and_destroy_releases_address)
{
	char *msg = NULL, *left;
	pid_t pid;
	const char *a[] = { "10.214.1.2", "fd00:214::1:30", NULL };

	create_start("9621", json_pack("{s:[s,s]}", "ipadd", "auto", "fd00:214::1:30"));
	cr_assert(host_ping("10.214.1.2"));
	cr_assert(proxy_neigh_has("10.214.1.2") && proxy_neigh_has("fd00:214::1:30"));
	pid = du_ct_pid("9621");
	cr_assert_gt(pid, 1);
	kill(pid, SIGKILL);
	for (int i = 0; i < 300 && du_running("9621"); i++)
		usleep(10000);
	cr_assert_not(du_running("9621"), "still running after its init was killed");
	left = net_leftover("9621", a);
	cr_assert_null(left, "after kill -9 of the init: %s", left);

	/* destroy frees the address: the pool hands it out again */
	cr_assert_eq(du_call("destroy", "9621", NULL, NULL, &msg), 0, "%s", msg);
	left = net_leftover("9621", a);
	cr_assert_null(left, "after destroy: %s", left);
	create_start("9622", json_pack("{s:[s]}", "ipadd", "auto"));
	_cleanup_free_ char *ip = ct_ip("9622");
	cr_assert_str_eq(ip, "10.214.1.2");
	cr_assert(host_ping("10.214.1.2"));
}

Test(netd, daemon_restart_keeps_networking_and_stop_still_tears_down)
{
	char *msg = NULL, *left;
	const char *a[] = { "10.214.1.40", "10.214.1.41", NULL };

	create_start("9631", json_pack("{s:[s]}", "ipadd", "10.214.1.40"));
	/* a live address that is not saved: only the runtime state knows it */
	cr_assert_eq(set_opt("9631", "ipadd", "10.214.1.41", false), 0, "%s", du.last_msg);
	cr_assert(host_ping("10.214.1.41"));
	du_daemon_kill9();
	cr_assert(host_ping("10.214.1.40"), "network lost with the daemon");
	du_daemon_start();
	cr_assert(du_running("9631"));
	cr_assert(host_ping("10.214.1.40") && host_ping("10.214.1.41"),
		  "network lost after the daemon restart");
	cr_assert_eq(du_call("stop", "9631", NULL, NULL, &msg), 0, "%s", msg);
	left = net_leftover("9631", a);
	cr_assert_null(left, "stop after daemon restart: %s", left);
}

Test(netd, duplicate_host_and_bad_addresses_refused)
{
	char *msg = NULL;

	cr_assert_eq(du_call("create", "9641",
			     json_pack("{s:s,s:[s]}", "ostemplate", "tiny", "ipadd", "10.214.1.10"),
			     NULL, &msg),
		     0, "%s", msg);
	/* another container's address: 78, named */
	cr_assert_eq(du_call("create", "9642",
			     json_pack("{s:s,s:[s]}", "ostemplate", "tiny", "ipadd", "10.214.1.10"),
			     NULL, &msg),
		     78);
	cr_assert(strstr(msg, "10.214.1.10") && strstr(msg, "9641"), "%s", msg);
	cr_assert_eq(
		du_call("create", "9642", json_pack("{s:s}", "ostemplate", "tiny"), NULL, &msg), 0,
		"%s", msg);
	cr_assert_eq(set_opt("9642", "ipadd", "10.214.1.10", true), 78);
	cr_assert(strstr(du.last_msg, "10.214.1.10"), "%s", du.last_msg);
	/* an address the host has */
	cr_assert_eq(set_opt("9642", "ipadd", HOST_ADDR, true), 78);
	cr_assert(strstr(du.last_msg, HOST_ADDR) && strstr(du.last_msg, "host"), "%s", du.last_msg);
	/* bad ones, each named */
	cr_assert_neq(set_opt("9642", "ipadd", "300.1.2.3", true), 0);
	cr_assert(strstr(du.last_msg, "300.1.2.3"), "%s", du.last_msg);
	cr_assert_neq(set_opt("9642", "ipadd", "10.214.3.0/24", true), 0);
	cr_assert(strstr(du.last_msg, "10.214.3.0/24") && strstr(du.last_msg, "network"), "%s",
		  du.last_msg);
	cr_assert_neq(set_opt("9642", "ipadd", "10.214.1.255", true), 0);
	cr_assert(strstr(du.last_msg, "10.214.1.255") && strstr(du.last_msg, "pool"), "%s",
		  du.last_msg);
	/* no IPv6 pool configured: a clear error */
	cr_assert_neq(set_opt("9642", "ipadd", "auto6", true), 0);
	cr_assert(strstr(du.last_msg, "IP6_POOL"), "%s", du.last_msg);
	/* nothing of that reached the config */
	_cleanup_free_ char *ip = ct_ip("9642");
	cr_assert(!ip || !*ip, "9642 got `%s`", ip);
	/* host networking is for privileged containers only */
	cr_assert_eq(set_opt("9642", "netmode", "host", true), 0, "%s", du.last_msg);
	cr_assert_neq(du_call("start", "9642", NULL, NULL, &msg), 0);
	cr_assert(strstr(msg, "PRIVILEGED"), "%s", msg);
}

/* iperf3 from the host to a server in the container's network namespace
 * (the host's binary, nsenter'd into it): receiver bits/s. */
static double iperf_run(pid_t ct_init, const char *addr, int port, bool from_ct)
{
	_cleanup_free_ char *out = NULL;
	json_t *j;
	double bps;

	/* one client, and gone after 20 s whatever happens */
	cr_assert_eq(host_shf(&out,
			      "timeout 20 nsenter --net=/proc/%d/ns/net iperf3 -s -1 -p %d "
			      ">/dev/null 2>&1 </dev/null &",
			      (int)ct_init, port),
		     0, "iperf3 server: %s", out);
	usleep(300000);
	free(out);
	out = NULL;
	cr_assert_eq(host_shf(&out, "iperf3 -c %s -p %d -t 3 -O 1 -J%s", addr, port,
			      from_ct ? " -R" : ""),
		     0, "iperf3: %s", out);
	j = json_loads(out, 0, NULL);
	cr_assert_not_null(j, "iperf3 output: %s", out);
	bps = json_real_value(json_object_get(
		json_object_get(json_object_get(j, "end"), "sum_received"), "bits_per_second"));
	json_decref(j);
	cr_assert_gt(bps, 0, "iperf3: %s", out);
	return bps;
}

static double iperf_to(pid_t ct_init, const char *addr, int port)
{
	return iperf_run(ct_init, addr, port, false);
}

/* The same, the server in the container sending (iperf3 -R). */
static double iperf_from(pid_t ct_init, const char *addr, int port)
{
	return iperf_run(ct_init, addr, port, true);
}

Test(netd, rate_limits_an_iperf3_transfer)
{
	_cleanup_free_ char *tc = NULL;
	char *msg = NULL;
	double bps;
	pid_t pid;
	int port = 5301;

	if (access("/usr/bin/iperf3", X_OK) < 0)
		cr_skip_test("no iperf3");
	create_start("9651", json_pack("{s:[s],s:{s:s}}", "ipadd", "10.214.1.51", "options", "rate",
				       "eth0:1:8000"));
	pid = du_ct_pid("9651");
	host_sh("tc qdisc show dev veth9651", &tc);
	cr_assert(tc && strstr(tc, "tbf"), "no tbf qdisc at start: %s", tc);
	bps = iperf_to(pid, "10.214.1.51", port++);
	cr_log_info("RATE eth0:1:8000: iperf3 measured %.0f bit/s", bps);
	cr_assert(bps > 8e6 * 0.85 && bps < 8e6 * 1.15, "RATE 8000 kbit/s: measured %.0f bit/s",
		  bps);
	/* what the container sends is shaped too (issue 6) */
	bps = iperf_from(pid, "10.214.1.51", port++);
	cr_log_info("RATE eth0:1:8000: iperf3 -R (from the container) measured %.0f bit/s", bps);
	cr_assert(bps > 8e6 * 0.85 && bps < 8e6 * 1.15,
		  "RATE 8000 kbit/s, from the container: measured %.0f bit/s", bps);
	/* live: 20 Mbit/s */
	cr_assert_eq(set_opt("9651", "rate", "eth0:1:20000", true), 0, "%s", du.last_msg);
	bps = iperf_to(pid, "10.214.1.51", port++);
	cr_log_info("RATE eth0:1:20000 (live): iperf3 measured %.0f bit/s", bps);
	cr_assert(bps > 20e6 * 0.85 && bps < 20e6 * 1.15,
		  "RATE 20000 kbit/s (live): measured %.0f bit/s", bps);
	bps = iperf_from(pid, "10.214.1.51", port++);
	cr_log_info("RATE eth0:1:20000 (live): iperf3 -R measured %.0f bit/s", bps);
	cr_assert(bps > 20e6 * 0.85 && bps < 20e6 * 1.15,
		  "RATE 20000 kbit/s (live), from the container: measured %.0f bit/s", bps);
	/* and off */
	cr_assert_eq(set_opt("9651", "rate", "", true), 0, "%s", du.last_msg);
	bps = iperf_to(pid, "10.214.1.51", port++);
	cr_assert_gt(bps, 100e6, "no RATE: only %.0f bit/s", bps);
	bps = iperf_from(pid, "10.214.1.51", port++);
	cr_assert_gt(bps, 100e6, "no RATE, from the container: only %.0f bit/s", bps);
	_cleanup_free_ char *links = NULL;
	host_sh("ip -o link", &links);
	cr_assert(links && !strstr(links, "rl-veth9651"), "the ifb of RATE left after RATE off: %s",
		  links);
	/* a stop with RATE on leaves no ifb (nor veth) behind */
	cr_assert_eq(set_opt("9651", "rate", "eth0:1:8000", true), 0, "%s", du.last_msg);
	cr_assert_eq(du_call("stop", "9651", NULL, NULL, &msg), 0, "%s", msg);
	const char *none[] = { NULL };
	char *left = net_leftover("9651", none);
	cr_assert_null(left, "after a stop with RATE on: %s", left);
}

Test(netd, host_mode_shares_the_host_network_when_privileged)
{
	_cleanup_free_ char *dev = NULL;
	char *msg = NULL;

	create_start("9661",
		     json_pack("{s:{s:s,s:s}}", "options", "netmode", "host", "privileged", "yes"));
	/* the container sees the host's devices, and got no veth of its own */
	du_sh("9661", "cat /proc/net/dev", &dev);
	cr_assert(strstr(dev, "stnup0"), "not in the host's network namespace: %s", dev);
	cr_assert_null(strstr(dev, "eth0"), "%s", dev);
	cr_assert_eq(du_call("stop", "9661", NULL, NULL, &msg), 0, "%s", msg);
	const char *none[] = { NULL };
	char *left = net_leftover("9661", none);
	cr_assert_null(left, "%s", left);
	cr_assert(host_ping(HOST_ADDR), "the host lost its network with the container");
}

/* ---- live --hostname, per-interface --ifname options (CTIDs 9650-9699) ---- */

static char *ct_out(const char *ctid, const char *cmd)
{
	char *out = NULL;

	cr_assert_eq(du_sh(ctid, cmd, &out), 0, "`%s` in %s: %s", cmd, ctid, out);
	return out;
}

Test(netd, hostname_set_live_without_restart_and_saved)
{
	_cleanup_free_ char *hn = NULL, *files = NULL, *hn2 = NULL, *hn3 = NULL;
	char *msg = NULL;
	pid_t pid;

	create_start("9650",
		     json_pack("{s:s,s:[s]}", "hostname", "old.stnet", "ipadd", "10.214.1.60"));
	pid = du_ct_pid("9650");
	cr_assert_eq(set_opt("9650", "hostname", "new.stnet", true), 0, "set hostname: %s",
		     du.last_msg);
	cr_assert_eq(du_ct_pid("9650"), pid, "the container was restarted");
	hn = ct_out("9650", "hostname");
	cr_assert_str_eq(hn, "new.stnet\n", "hostname inside after a live set: %s", hn);
	files = ct_out("9650", "cat /etc/hostname /etc/hosts");
	cr_assert(strstr(files, "new.stnet\n") && strstr(files, "10.214.1.60\tnew.stnet new\n") &&
			  !strstr(files, "old.stnet"),
		  "/etc/hostname, /etc/hosts: %s", files);
	/* without --save: live only, the next start takes the saved one */
	cr_assert_eq(set_opt("9650", "hostname", "tmp.stnet", false), 0, "%s", du.last_msg);
	hn2 = ct_out("9650", "hostname");
	cr_assert_str_eq(hn2, "tmp.stnet\n");
	cr_assert_eq(du_call("stop", "9650", NULL, NULL, &msg), 0, "%s", msg);
	cr_assert_eq(du_call("start", "9650", NULL, NULL, &msg), 0, "%s", msg);
	hn3 = ct_out("9650", "hostname");
	cr_assert_str_eq(hn3, "new.stnet\n", "--save did not persist the hostname: %s", hn3);
	/* a bad name is refused, the running one stays */
	cr_assert_neq(set_opt("9650", "hostname", "bad_name!", true), 0);
	cr_assert(strstr(du.last_msg, "bad_name!"), "%s", du.last_msg);
}

Test(netd, bridged_ifname_ipadd_gw_mac_applied_at_restart)
{
	_cleanup_free_ char *route = NULL, *mac = NULL;
	json_t *res = NULL;
	char *msg = NULL;

	cr_assert_eq(host_sh("ip link add stnbr5 type bridge && ip link set stnbr5 up && "
			     "ip addr add 10.214.5.1/24 dev stnbr5 && "
			     "ip addr add 10.214.99.1/32 dev lo && ip link set lo up",
			     NULL),
		     0);
	create_start("9651", json_pack("{s:{s:s}}", "options", "netif_add", "eth0,,,,stnbr5"));
	/* per-interface options need --ifname, and an interface NETIF has */
	cr_assert_neq(set_opt("9651", "gw", "10.214.5.1", true), 0);
	cr_assert(strstr(du.last_msg, "--ifname"), "%s", du.last_msg);
	cr_assert_neq(du_call("set", "9651",
			      json_pack("{s:{s:s,s:s},s:b}", "options", "ifname", "eth9", "gw",
					"10.214.5.1", "save", 1),
			      NULL, &msg),
		      0);
	cr_assert(strstr(msg, "eth9"), "%s", msg);
	cr_assert_neq(du_call("set", "9651",
			      json_pack("{s:{s:s,s:s},s:b}", "options", "ifname", "eth0", "gw",
					"fd00:214::1", "save", 1),
			      NULL, &msg),
		      0, "an IPv6 --gw accepted");

	{
		/* through strata(8), as a user types it */
		const char *cli[] = {
			"set",		 "9651", "--ifname",   "eth0",	"--ipadd",
			"10.214.5.2/24", "--gw", "10.214.5.1", "--mac", "02:14:00:00:05:02",
			"--save",	 NULL
		};
		_cleanup_free_ char *out = NULL;

		cr_assert_eq(du_cli(cli, &out), 0, "strata set --ifname eth0 ...: %s", out);
	}
	cr_assert_eq(du_call("stop", "9651", NULL, NULL, &msg), 0, "%s", msg);
	cr_assert_eq(du_call("start", "9651", NULL, NULL, &msg), 0, "%s", msg);

	cr_assert(host_ping("10.214.5.2"), "host -> ct over the bridge");
	route = ct_out("9651", "ip -4 route");
	cr_assert(strstr(route, "default via 10.214.5.1 dev eth0"), "routes: %s", route);
	/* an address only reachable through the gateway */
	cr_assert(ct_ping("9651", "10.214.99.1"), "ct -> host beyond its subnet via --gw");
	mac = ct_out("9651", "cat /sys/class/net/eth0/address");
	cr_assert_str_eq(mac, "02:14:00:00:05:02\n");
	cr_assert_eq(du_call("list", NULL, json_pack("{s:b}", "all", 1), &res, NULL), 0);
	{
		json_t *c;
		size_t i;
		const char *nf = NULL;

		json_array_foreach (json_object_get(res, "containers"), i, c)
			if (!strcmp(json_string_value(json_object_get(c, "ctid")), "9651"))
				nf = json_string_value(json_object_get(c, "netif"));
		cr_assert(nf && strstr(nf, "ifname=eth0") && strstr(nf, "bridge=stnbr5") &&
				  strstr(nf, "gw=10.214.5.1") &&
				  strstr(nf, "mac=02:14:00:00:05:02"),
			  "saved NETIF: %s", nf);
	}
	json_decref(res);
	cr_assert_eq(du_call("stop", "9651", NULL, NULL, &msg), 0, "%s", msg);
	const char *none[] = { NULL };
	char *left = net_leftover("9651", none);
	cr_assert_null(left, "after stop: %s", left);
}
