/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Traffic shaping over rtnetlink: a tbf qdisc at the root of a link. */
#include <errno.h>
#include <libmnl/libmnl.h>
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
