/* SPDX-License-Identifier: MIT */
/*
 * nftables: the daemon adds one table at start through the nft command
 * (spawning `nft -f -` once per run costs nothing and spares a dependency
 * on libnftables; the script goes through a pipe, never a shell, so no
 * value is ever interpreted by one), and deletes it with one nfnetlink
 * message (NFT_MSG_DELTABLE in a batch): deleting needs no parser, and runs
 * after the privilege drop, when execve is forbidden (privdrop.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "daemon.h"

extern char **environ;

int nft_run(const char *script)
{
	posix_spawn_file_actions_t fa;
	char *argv[] = {"nft", "-f", "-", NULL};
	size_t len = strlen(script), off = 0;
	int pfd[2], status, ret = 0;
	struct sigaction old;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[0], 0);
	ret = posix_spawnp(&pid, "nft", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[0]);
	if (ret != 0) {
		close(pfd[1]);
		return -EIO;
	}
	/* A dying nft must not kill us with SIGPIPE. */
	sigaction(SIGPIPE, &(struct sigaction){.sa_handler = SIG_IGN}, &old);
	while (off < len) {
		ssize_t n = write(pfd[1], script + off, len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		off += (size_t)n;
	}
	close(pfd[1]);
	sigaction(SIGPIPE, &old, NULL);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -EIO;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 && off == len ? 0 : -EIO;
}

static struct nlmsghdr *batch_msg(char *p, uint16_t type, uint32_t seq, uint8_t family,
                                  uint16_t res_id)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(p);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = family;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = htons(res_id);
	return nlh;
}

int nft_del_table(const char *name)
{
	char buf[1024] __attribute__((aligned(4)));
	struct mnl_nlmsg_batch *b;
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	uint32_t seq = (uint32_t)time(NULL), portid;
	int ret = 0;
	ssize_t n;

	if (strlen(name) >= NFT_TABLE_MAXNAMELEN)
		return -EINVAL;
	nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	b = mnl_nlmsg_batch_start(buf, sizeof(buf));
	batch_msg(mnl_nlmsg_batch_current(b), NFNL_MSG_BATCH_BEGIN, seq, AF_UNSPEC,
	          NFNL_SUBSYS_NFTABLES);
	mnl_nlmsg_batch_next(b);
	nlh = batch_msg(mnl_nlmsg_batch_current(b), (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_DELTABLE,
	                seq + 1, NFPROTO_IPV6, 0);
	nlh->nlmsg_flags |= NLM_F_ACK;
	mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, name);
	mnl_nlmsg_batch_next(b);
	batch_msg(mnl_nlmsg_batch_current(b), NFNL_MSG_BATCH_END, seq + 2, AF_UNSPEC,
	          NFNL_SUBSYS_NFTABLES);
	mnl_nlmsg_batch_next(b);
	if (mnl_socket_sendto(nl, mnl_nlmsg_batch_head(b), mnl_nlmsg_batch_size(b)) < 0) {
		ret = -errno;
		mnl_nlmsg_batch_stop(b);
		goto out;
	}
	mnl_nlmsg_batch_stop(b);
	/* One acknowledgement (or error) for the one request that asks. */
	n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (n < 0)
		ret = -errno;
	else if (mnl_cb_run(buf, (size_t)n, seq + 1, portid, NULL, NULL) < 0)
		ret = errno == ENOENT ? 0 : -errno; /* gone already */
out:
	mnl_socket_close(nl);
	return ret;
}
