/* SPDX-License-Identifier: MIT */
/*
 * Least privilege after set-up (privdrop.h): the user, the two
 * capabilities, the seccomp filter.
 *
 * Rules this file keeps:
 *  - All or nothing: any step that fails is logged and returns -1, and the
 *    caller tears down and exits; a daemon never runs on half-dropped.
 *  - What is kept is checked, not assumed: after the drop the uid, gid and
 *    the capability sets are read back, and setuid(0) must fail.
 *  - The filter allows by name only what the daemons do after set-up
 *    (sockets of the four families they use, no exec, no fork, no
 *    executable mappings); anything else raises SIGSYS, whose handler
 *    writes the call's name with write(2) alone and _exits (159). The names
 *    are resolved before the filter is loaded, so the handler allocates
 *    nothing.
 *  - After the drop nothing is executed: the nftables table is removed at
 *    exit through netlink (nft.c), so no capability needs to be inheritable
 *    or ambient and execve stays forbidden.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/sockios.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <seccomp.h>
#include <sys/capability.h>

#include "log.h"
#include "privdrop.h"

/* Sanitizer runtimes (the asan-ubsan preset) need a few more calls: the
 * leak checker stops the world with a cloned tracer at exit. */
#if defined(__SANITIZE_ADDRESS__)
#define PRIVDROP_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define PRIVDROP_SANITIZER 1
#endif
#endif

#define MAX_NR   512 /* above every syscall number of x86_64 and aarch64 */
#define NAME_LEN 24

static const cap_value_t kept[] = {CAP_NET_ADMIN, CAP_NET_RAW};

/* Allowed without argument checks. Names unknown on this architecture
 * (open on aarch64) are skipped. */
static const char *const allowed[] = {
        /* files: state file, registry, DHT state, stdio */
        "read",
        "write",
        "readv",
        "writev",
        "pread64",
        "pwrite64",
        "close",
        "open",
        "openat",
        "fstat",
        "newfstatat",
        "stat",
        "lstat",
        "statx",
        "lseek",
        "fcntl",
        "dup",
        "dup3",
        "rename",
        "renameat",
        "renameat2",
        "unlink",
        "unlinkat",
        "fsync",
        "fdatasync",
        "ftruncate",
        "access",
        "faccessat",
        "faccessat2",
        /* sockets (socket(2) itself below, by family) */
        "bind",
        "connect",
        "listen",
        "accept",
        "accept4",
        "getsockname",
        "getpeername",
        "getsockopt",
        "setsockopt",
        "sendto",
        "recvfrom",
        "sendmsg",
        "recvmsg",
        "sendmmsg",
        "recvmmsg",
        "shutdown",
        /* the event loop, signals, time */
        "epoll_create1",
        "epoll_ctl",
        "epoll_wait",
        "epoll_pwait",
        "epoll_pwait2",
        "poll",
        "ppoll",
        "select",
        "pselect6",
        "eventfd2",
        "pipe2",
        "rt_sigaction",
        "rt_sigprocmask",
        "rt_sigreturn",
        "sigaltstack",
        "restart_syscall",
        "clock_gettime",
        "clock_getres",
        "gettimeofday",
        "time",
        "nanosleep",
        "clock_nanosleep",
        /* memory (mmap and mprotect below: never executable), randomness */
        "munmap",
        "mremap",
        "brk",
        "madvise",
        "getrandom",
        "futex",
        /* identity, exit */
        "getpid",
        "gettid",
        "getuid",
        "geteuid",
        "getgid",
        "getegid",
        "getresuid",
        "getresgid",
        "exit",
        "exit_group",
        "sched_yield",
        "uname",
        /* libev reaps on SIGCHLD (the nft child of set-up) */
        "wait4",
        "waitid",
#ifdef PRIVDROP_SANITIZER
        "clone",
        "clone3",
        "ptrace",
        "prctl",
        "getrlimit",
        "prlimit64",
        "readlink",
        "readlinkat",
        "sched_getaffinity",
        "mprotect",
        "mmap",
        "kill",
        "tgkill",
        "set_robust_list",
        "rseq",
        "getppid",
        "sysinfo",
        "setrlimit",
        "get_robust_list",
        "pkey_mprotect",
        "getdents64",
        "getdents",
#endif
};

static const unsigned long ioctls[] = {SIOCGIFINDEX, SIOCGIFNAME, FIONREAD, FIONBIO, TCGETS};
static const int families[] = {AF_UNIX, AF_INET, AF_INET6, AF_NETLINK};

static char who_s[32] = "daemon";
static char names[MAX_NR][NAME_LEN];

static void put(char *buf, size_t *n, size_t cap, const char *s)
{
	while (*s && *n + 1 < cap)
		buf[(*n)++] = *s++;
}

static void put_num(char *buf, size_t *n, size_t cap, long v)
{
	char d[24];
	int i = 0;

	if (v < 0) {
		put(buf, n, cap, "-");
		v = -v;
	}
	do
		d[i++] = (char)('0' + v % 10);
	while ((v /= 10) && i < (int)sizeof(d));
	while (i > 0 && *n + 1 < cap)
		buf[(*n)++] = d[--i];
}

/* Async-signal-safe: write(2) and _exit(2) only. */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	char msg[160];
	size_t n = 0;
	int nr = si->si_syscall;

	put(msg, &n, sizeof(msg), "mt6d ");
	put(msg, &n, sizeof(msg), who_s);
	put(msg, &n, sizeof(msg), ": seccomp: forbidden system call ");
	put(msg, &n, sizeof(msg), nr >= 0 && nr < MAX_NR && names[nr][0] ? names[nr] : "?");
	put(msg, &n, sizeof(msg), " (");
	put_num(msg, &n, sizeof(msg), nr);
	put(msg, &n, sizeof(msg), "), exiting\n");
	(void)!write(STDERR_FILENO, msg, n);
	_exit(128 + SIGSYS);
}

int privdrop_seccomp(const char *who)
{
	struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
	scmp_filter_ctx ctx;
	int ret = 0, count = 0;

	snprintf(who_s, sizeof(who_s), "%s", who);
	for (int nr = 0; nr < MAX_NR; nr++) {
		char *s = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

		names[nr][0] = '\0';
		if (s)
			snprintf(names[nr], NAME_LEN, "%s", s);
		free(s);
	}
	ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]) && !ret; i++) {
		int nr = seccomp_syscall_resolve_name(allowed[i]);

		if (nr == __NR_SCMP_ERROR || nr < 0)
			continue;
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		count++;
	}
	/* Written out, not SCMP_A0()/SCMP_A1(): their compound literals leave
	 * datum_b to the compiler, which clang's -Wextra reports. */
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]) && !ret; i++) {
		struct scmp_arg_cmp c = {.arg = 0,
		                         .op = SCMP_CMP_EQ,
		                         .datum_a = (scmp_datum_t)families[i],
		                         .datum_b = 0};
		ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, &c);
	}
	for (size_t i = 0; i < sizeof(ioctls) / sizeof(ioctls[0]) && !ret; i++) {
		struct scmp_arg_cmp c = {.arg = 1,
		                         .op = SCMP_CMP_EQ,
		                         .datum_a = (scmp_datum_t)ioctls[i],
		                         .datum_b = 0};
		ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, &c);
	}
#ifndef PRIVDROP_SANITIZER
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
		                       SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
		                       SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	/* abort(): a signal to this very process only */
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
		                       SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
	count += 3;
#endif
	count += 2;
	if (!ret)
		ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1);
	if (!ret)
		ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (!ret && sigaction(SIGSYS, &sa, NULL) < 0)
		ret = -errno;
	if (!ret)
		ret = seccomp_load(ctx);
	seccomp_release(ctx);
	return ret < 0 ? ret : count;
}

__attribute__((format(printf, 1, 2))) static int fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_ERROR, fmt, ap);
	va_end(ap);
	return -1;
}

/* Exactly the kept capabilities, effective and permitted; nothing
 * inheritable or ambient. */
static int set_caps(void)
{
	cap_t c = cap_init();
	int ret;

	if (!c)
		return -1;
	ret = cap_set_flag(c, CAP_PERMITTED, 2, kept, CAP_SET);
	if (ret == 0)
		ret = cap_set_flag(c, CAP_EFFECTIVE, 2, kept, CAP_SET);
	if (ret == 0)
		ret = cap_set_proc(c);
	cap_free(c);
	if (ret == 0 && CAP_AMBIENT_SUPPORTED())
		ret = cap_reset_ambient();
	return ret;
}

static int caps_are_kept(void)
{
	cap_t want = cap_init(), have = cap_get_proc();
	int same = -1;

	if (want && have && cap_set_flag(want, CAP_PERMITTED, 2, kept, CAP_SET) == 0 &&
	    cap_set_flag(want, CAP_EFFECTIVE, 2, kept, CAP_SET) == 0)
		same = cap_compare(want, have) == 0 ? 0 : -1;
	cap_free(want);
	cap_free(have);
	return same;
}

static const char *dir_of(char *buf, size_t cap, const char *path)
{
	char *slash;

	snprintf(buf, cap, "%s", path);
	slash = strrchr(buf, '/');
	if (!slash)
		return ".";
	if (slash == buf)
		slash[1] = '\0';
	else
		*slash = '\0';
	return buf;
}

int privdrop(const char *who, const char *user, const struct privdrop_paths *paths)
{
	char dir[4096];
	struct passwd *pw;
	int n;

	snprintf(who_s, sizeof(who_s), "%s", who);
	if (!user || !*user)
		return 0;
	errno = 0;
	pw = getpwnam(user);
	if (!pw)
		return fail("user `%s': %s", user, errno ? strerror(errno) : "no such user");
	if (pw->pw_uid == 0 || pw->pw_gid == 0)
		return fail("user `%s' is root or in group root; name an unprivileged one", user);
	if (geteuid() == 0) {
		/* The bounding set first: dropping needs CAP_SETPCAP, which
		 * the uid change takes away. */
		for (cap_value_t c = 0; c <= (cap_value_t)cap_max_bits() - 1; c++)
			if (c != CAP_NET_ADMIN && c != CAP_NET_RAW && cap_get_bound(c) == 1 &&
			    cap_drop_bound(c) < 0)
				return fail("cannot drop capability %d from the bounding set: %s",
				            (int)c, strerror(errno));
		if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || setgroups(1, &pw->pw_gid) < 0 ||
		    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
		    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
			return fail("cannot become user `%s': %s", user, strerror(errno));
		(void)prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	} else if (geteuid() != pw->pw_uid || getuid() != pw->pw_uid) {
		return fail("started as uid %u, which is neither root nor user `%s'",
		            (unsigned)geteuid(), user);
	}
	if (set_caps() < 0)
		return fail("cannot keep CAP_NET_ADMIN and CAP_NET_RAW: %s", strerror(errno));
	if (getuid() == 0 || geteuid() == 0 || getgid() == 0 || getegid() == 0 ||
	    caps_are_kept() < 0 || setuid(0) == 0)
		return fail("the drop to user `%s' did not hold", user);
#ifdef PRIVDROP_SANITIZER
	/* The leak checker's tracer must be able to attach (same uid). */
	(void)prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
#endif
	for (int i = 0; paths && i < PRIVDROP_MAX_PATHS; i++) {
		const char *w = paths->rewrite[i], *r = paths->reread[i];

		if (w && *w && access(dir_of(dir, sizeof(dir), w), W_OK | X_OK) < 0)
			return fail(
			        "`%s' is not writable by this user, and `%s' is rewritten there "
			        "(chown the directory or choose another path)",
			        dir, w);
		if (r && *r && access(r, R_OK) < 0)
			return fail("`%s' is not readable by this user: %s", r, strerror(errno));
	}
	n = privdrop_seccomp(who);
	if (n < 0)
		return fail("seccomp filter: %s", strerror(-n));
	log_info("running as user %s (uid %u), capabilities cap_net_admin,cap_net_raw, "
	         "seccomp filter of %d system calls",
	         user, (unsigned)getuid(), n);
	return 0;
}
