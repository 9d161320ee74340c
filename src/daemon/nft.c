/* SPDX-License-Identifier: MIT */
/*
 * nftables through the nft command: the daemon adds one table at start and
 * deletes it at exit, so spawning `nft -f -` twice per run costs nothing
 * and spares a dependency on libnftables. The script goes through a pipe,
 * never a shell, so no value is ever interpreted by one.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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

int nft_del_table(const char *name)
{
	char script[128];

	/* `destroy` needs nft 1.0.8; add-then-delete works everywhere and
	 * succeeds whether or not the table existed. */
	snprintf(script, sizeof(script), "add table ip6 %s\ndelete table ip6 %s\n", name, name);
	return nft_run(script);
}
