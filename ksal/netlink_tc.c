/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Traffic shaping over rtnetlink: a tbf qdisc at the root of a link, and for
 * its ingress a redirect to an ifb device shaped the same way. */
#include <errno.h>
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>
#include <linux/tc_act/tc_mirred.h>
#include <net/if.h>
#include <stdio.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <stdint.h>
#include <string.h>

#include "ksal/cleanup.h"
#include "ksal/log.h"
#include "ksal/netlink.h"
#include "ksal/netlink_internal.h"

/* Burst: 20 ms worth of traffic, at least 16 KiB; queue: 100 ms more. */
#define TBF_BURST_MS 20
#define TBF_BURST_MIN (16 * 1024)
#define TBF_LATENCY_MS 100

struct nlmsghdr *ksal_nl_build_tbf(void *buf, int ifindex, uint64_t bits_per_sec, unsigned mtu)
{
	struct nlmsghdr *nlh = ksal_nl_msg_new(buf, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_REPLACE);
	struct tcmsg *tcm = mnl_nlmsg_put_extra_header(nlh, sizeof(*tcm));
	uint64_t bytes = bits_per_sec / 8, burst, limit;
	struct tc_tbf_qopt qopt;
	struct nlattr *opts;

	if (bytes == 0)
		bytes = 1;
	burst = bytes * TBF_BURST_MS / 1000;
	if (burst < TBF_BURST_MIN)
		burst = TBF_BURST_MIN;
	if (burst < 2ull * mtu)
		burst = 2ull * mtu;
	if (burst > UINT32_MAX / 2)
		burst = UINT32_MAX / 2;
	limit = burst + bytes * TBF_LATENCY_MS / 1000;
	if (limit > UINT32_MAX)
		limit = UINT32_MAX;

	tcm->tcm_family = AF_UNSPEC;
	tcm->tcm_ifindex = ifindex;
	tcm->tcm_parent = TC_H_ROOT;
	tcm->tcm_handle = TC_H_MAKE(1u << 16, 0);
	mnl_attr_put_strz(nlh, TCA_KIND, "tbf");

	memset(&qopt, 0, sizeof(qopt));
	/* A known link layer: the kernel then needs no rate table. */
	qopt.rate.linklayer = TC_LINKLAYER_ETHERNET;
	qopt.rate.rate = bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)bytes;
	qopt.limit = (uint32_t)limit;
	opts = mnl_attr_nest_start(nlh, TCA_OPTIONS);
	mnl_attr_put(nlh, TCA_TBF_PARMS, sizeof(qopt), &qopt);
	if (bytes >= UINT32_MAX)
		mnl_attr_put_u64(nlh, TCA_TBF_RATE64, bytes);
	mnl_attr_put_u32(nlh, TCA_TBF_BURST, (uint32_t)burst);
	mnl_attr_nest_end(nlh, opts);
	return nlh;
}

int ksal_tc_rate_set(struct ksal_nl *nl, const char *ifname, uint64_t bits_per_sec,
		     struct st_error **err)
{
	_cleanup_error_ struct st_error *e = NULL;
	char buf[KSAL_NL_MSG_SIZE];
	struct nlmsghdr *nlh;
	struct tcmsg *tcm;
	int idx, r;

	idx = ksal_nl_link_index_err(nl, ifname, err);
	if (idx < 0)
		return st_error_prefix(err, "set rate: ");
	if (bits_per_sec) {
		nlh = ksal_nl_build_tbf(buf, idx, bits_per_sec, 1500);
		r = ksal_nl_request(nl, nlh, NULL, NULL, err, 0, "set rate %llu bit/s on %s",
				    (unsigned long long)bits_per_sec, ifname);
		if (r == 0)
			st_trace("tbf rate %llu bit/s on %s", (unsigned long long)bits_per_sec,
				 ifname);
		return r;
	}
	nlh = ksal_nl_msg_new(buf, RTM_DELQDISC, 0);
	tcm = mnl_nlmsg_put_extra_header(nlh, sizeof(*tcm));
	tcm->tcm_family = AF_UNSPEC;
	tcm->tcm_ifindex = idx;
	tcm->tcm_parent = TC_H_ROOT;
	r = ksal_nl_request(nl, nlh, NULL, NULL, &e, 0, "remove rate limit on %s", ifname);
	/* No qdisc of ours there: nothing to remove. */
	if (r == -ENOENT)
		return 0;
	if (r < 0 && err && !*err)
		*err = take_ptr(e);
	return r;
}

struct tbf_query {
	int ifindex;
	uint64_t bps;
};

static int tbf_rate_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct tcmsg *tcm = mnl_nlmsg_get_payload(nlh);
	struct tbf_query *q = data;
	const struct nlattr *attr, *opts = NULL;
	const char *kind = NULL;
	uint64_t rate64 = 0;
	uint32_t rate = 0;

	if (nlh->nlmsg_type != RTM_NEWQDISC || tcm->tcm_ifindex != q->ifindex ||
	    tcm->tcm_parent != TC_H_ROOT)
		return 0;
	mnl_attr_for_each(attr, nlh, sizeof(*tcm))
	{
		if (mnl_attr_get_type(attr) == TCA_KIND &&
		    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
			kind = mnl_attr_get_str(attr);
		else if (mnl_attr_get_type(attr) == TCA_OPTIONS)
			opts = attr;
	}
	if (!kind || strcmp(kind, "tbf") || !opts)
		return 0;
	mnl_attr_for_each_nested(attr, opts)
	{
		if (mnl_attr_get_type(attr) == TCA_TBF_PARMS &&
		    mnl_attr_get_payload_len(attr) >= sizeof(struct tc_tbf_qopt)) {
			struct tc_tbf_qopt qopt;

			memcpy(&qopt, mnl_attr_get_payload(attr), sizeof(qopt));
			rate = qopt.rate.rate;
		} else if (mnl_attr_get_type(attr) == TCA_TBF_RATE64 &&
			   mnl_attr_get_payload_len(attr) >= sizeof(uint64_t)) {
			memcpy(&rate64, mnl_attr_get_payload(attr), sizeof(rate64));
		}
	}
	q->bps = (rate64 ? rate64 : rate) * 8;
	return 0;
}

int ksal_tc_rate_get(struct ksal_nl *nl, const char *ifname, uint64_t *bits_per_sec,
		     struct st_error **err)
{
	char buf[KSAL_NL_MSG_SIZE];
	struct nlmsghdr *nlh;
	struct tcmsg *tcm;
	struct tbf_query q = { 0 };
	int r;

	q.ifindex = ksal_nl_link_index_err(nl, ifname, err);
	if (q.ifindex < 0)
		return st_error_prefix(err, "read rate: ");
	nlh = ksal_nl_msg_new(buf, RTM_GETQDISC, NLM_F_DUMP);
	tcm = mnl_nlmsg_put_extra_header(nlh, sizeof(*tcm));
	tcm->tcm_family = AF_UNSPEC;
	tcm->tcm_ifindex = q.ifindex;
	r = ksal_nl_request(nl, nlh, tbf_rate_cb, &q, err, 0, "read qdiscs of %s", ifname);
	if (r < 0)
		return r;
	*bits_per_sec = q.bps;
	return 0;
}

/* ---- Ingress: redirect to an ifb device, shape its egress ---- */

const char *ksal_tc_ifb_name(const char *ifname, char *buf, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	int n;

	if (strlen(ifname) + 3 < IFNAMSIZ) {
		n = snprintf(buf, len, "rl-%s", ifname);
	} else {
		for (const char *c = ifname; *c; c++)
			h = (h ^ (uint8_t)*c) * 16777619u;
		n = snprintf(buf, len, "rl-%08x", h);
	}
	if (n < 0 || (size_t)n >= len)
		return NULL;
	return buf;
}

static struct nlmsghdr *ingress_qdisc_msg(void *buf, uint16_t type, uint16_t flags, int ifindex)
{
	struct nlmsghdr *nlh = ksal_nl_msg_new(buf, type, flags);
	struct tcmsg *tcm = mnl_nlmsg_put_extra_header(nlh, sizeof(*tcm));

	tcm->tcm_family = AF_UNSPEC;
	tcm->tcm_ifindex = ifindex;
	tcm->tcm_parent = TC_H_INGRESS;
	tcm->tcm_handle = TC_H_MAKE(TC_H_INGRESS, 0);
	if (type == RTM_NEWQDISC)
		mnl_attr_put_strz(nlh, TCA_KIND, "ingress");
	return nlh;
}

/* A u32 filter matching every packet at ifindex's ingress, redirecting it to
 * the egress of to_ifindex. */
static struct nlmsghdr *redirect_filter_msg(void *buf, int ifindex, int to_ifindex)
{
	struct nlmsghdr *nlh = ksal_nl_msg_new(buf, RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL);
	struct tcmsg *tcm = mnl_nlmsg_put_extra_header(nlh, sizeof(*tcm));
	struct {
		struct tc_u32_sel sel;
		struct tc_u32_key key;
	} sel;
	struct tc_mirred mirred;
	struct nlattr *opts, *acts, *act, *aopts;

	tcm->tcm_family = AF_UNSPEC;
	tcm->tcm_ifindex = ifindex;
	tcm->tcm_parent = TC_H_MAKE(TC_H_INGRESS, 0);
	tcm->tcm_info = TC_H_MAKE(1u << 16, htons(ETH_P_ALL));
	mnl_attr_put_strz(nlh, TCA_KIND, "u32");
	memset(&sel, 0, sizeof(sel));
	sel.sel.flags = TC_U32_TERMINAL;
	sel.sel.nkeys = 1; /* mask 0 at offset 0: every packet */
	memset(&mirred, 0, sizeof(mirred));
	mirred.action = TC_ACT_STOLEN;
	mirred.eaction = TCA_EGRESS_REDIR;
	mirred.ifindex = (uint32_t)to_ifindex;
	opts = mnl_attr_nest_start(nlh, TCA_OPTIONS);
	mnl_attr_put(nlh, TCA_U32_SEL, sizeof(sel), &sel);
	acts = mnl_attr_nest_start(nlh, TCA_U32_ACT);
	act = mnl_attr_nest_start(nlh, 1);
	mnl_attr_put_strz(nlh, TCA_ACT_KIND, "mirred");
	aopts = mnl_attr_nest_start(nlh, TCA_ACT_OPTIONS);
	mnl_attr_put(nlh, TCA_MIRRED_PARMS, sizeof(mirred), &mirred);
	mnl_attr_nest_end(nlh, aopts);
	mnl_attr_nest_end(nlh, act);
	mnl_attr_nest_end(nlh, acts);
	mnl_attr_nest_end(nlh, opts);
	return nlh;
}

static int ifb_create(struct ksal_nl *nl, const char *name, struct st_error **err)
{
	char buf[KSAL_NL_MSG_SIZE];
	struct nlmsghdr *nlh = ksal_nl_msg_new(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	struct nlattr *info;

	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "ifb");
	mnl_attr_nest_end(nlh, info);
	return ksal_nl_request(nl, nlh, NULL, NULL, err, 0, "create ifb device %s", name);
}

/* Remove the ingress qdisc of ifname (its filters go with it) and the ifb;
 * what is not there is not an error. */
static int ingress_rate_remove(struct ksal_nl *nl, const char *ifname, const char *ifb,
			       struct st_error **err)
{
	char buf[KSAL_NL_MSG_SIZE];
	int idx, r;

	idx = ksal_link_index(nl, ifname);
	if (idx > 0) {
		_cleanup_error_ struct st_error *e = NULL;

		r = ksal_nl_request(nl, ingress_qdisc_msg(buf, RTM_DELQDISC, 0, idx), NULL, NULL,
				    &e, 0, "remove the ingress qdisc of %s", ifname);
		if (r < 0 && r != -ENOENT && r != -EINVAL) {
			if (err && !*err)
				*err = take_ptr(e);
			return r;
		}
	}
	if (ksal_link_exists(nl, ifb)) {
		_cleanup_error_ struct st_error *e = NULL;

		r = ksal_link_del(nl, ifb, &e);
		if (r < 0 && r != -ENODEV) {
			if (err && !*err)
				*err = take_ptr(e);
			return r;
		}
	}
	return 0;
}

/* The ifb exists: shape it, and redirect ifname's ingress to it. */
static int ingress_rate_apply(struct ksal_nl *nl, const char *ifname, int idx, const char *ifb,
			      uint64_t bits_per_sec, struct st_error **err)
{
	_cleanup_error_ struct st_error *e = NULL;
	char buf[KSAL_NL_MSG_SIZE];
	int ifb_idx;

	if (ksal_link_set_up(nl, ifb, true, err) < 0 ||
	    ksal_tc_rate_set(nl, ifb, bits_per_sec, err) < 0)
		return -1;
	ifb_idx = ksal_nl_link_index_err(nl, ifb, err);
	if (ifb_idx < 0)
		return -1;
	/* A fresh ingress qdisc: no stale filter pointing at an older ifb. */
	(void)ksal_nl_request(nl, ingress_qdisc_msg(buf, RTM_DELQDISC, 0, idx), NULL, NULL, &e, 0,
			      "remove the ingress qdisc of %s", ifname);
	if (ksal_nl_request(nl,
			    ingress_qdisc_msg(buf, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, idx),
			    NULL, NULL, err, 0, "add an ingress qdisc to %s", ifname) < 0)
		return -1;
	return ksal_nl_request(nl, redirect_filter_msg(buf, idx, ifb_idx), NULL, NULL, err, 0,
			       "redirect the ingress of %s to %s", ifname, ifb);
}

int ksal_tc_ingress_rate_set(struct ksal_nl *nl, const char *ifname, uint64_t bits_per_sec,
			     struct st_error **err)
{
	char ifb[IFNAMSIZ];
	int idx;

	if (!ksal_tc_ifb_name(ifname, ifb, sizeof(ifb)))
		return st_error_setx(err, ST_EXIT_BADVALUE, EINVAL, "ingress rate: bad name `%s`",
				     ifname);
	if (!bits_per_sec)
		return ingress_rate_remove(nl, ifname, ifb, err) < 0
			       ? st_error_prefix(err, "remove ingress rate: ")
			       : 0;
	idx = ksal_nl_link_index_err(nl, ifname, err);
	if (idx < 0)
		return st_error_prefix(err, "set ingress rate: ");
	if (!ksal_link_exists(nl, ifb) && ifb_create(nl, ifb, err) < 0)
		return -1;
	if (ingress_rate_apply(nl, ifname, idx, ifb, bits_per_sec, err) < 0) {
		_cleanup_error_ struct st_error *e = NULL;

		ingress_rate_remove(nl, ifname, ifb, &e);
		return -1;
	}
	st_trace("ingress rate %llu bit/s on %s (via %s)", (unsigned long long)bits_per_sec, ifname,
		 ifb);
	return 0;
}
