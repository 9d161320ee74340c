/* SPDX-License-Identifier: MIT */
/* privdrop: the seccomp filter lets the daemons' calls through and ends the
 * process on any other with a line that names the call; privdrop() without
 * a user changes nothing, with root or an unknown user refuses. Each case
 * that loads a filter runs in a child, whose stderr is read back. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/if_ether.h>

#include "log.h"
#include "privdrop.h"

/* Run fn in a child with stderr into a pipe; its exit status, and what it
 * wrote in out. */
static int in_child(void (*fn)(void), char *out, size_t cap)
{
	int pfd[2], status = -1;
	size_t n = 0;
	ssize_t r;
	pid_t pid;

	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		dup2(pfd[1], STDERR_FILENO);
		fn();
		_exit(0);
	}
	close(pfd[1]);
	while (n + 1 < cap && (r = read(pfd[0], out + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void filter(void)
{
	if (privdrop_seccomp("test") <= 0)
		_exit(3);
}

static void allowed_calls(void)
{
	char buf[16];
	int fd, s;

	filter();
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, buf, sizeof(buf)) != 0 || close(fd) != 0)
		_exit(4);
	s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0 || close(s) != 0)
		_exit(5);
	s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (s < 0 || close(s) != 0)
		_exit(6);
	if (getpid() <= 0 || write(STDERR_FILENO, "still here\n", 11) != 11)
		_exit(7);
}

static void forbidden_getcwd(void)
{
	char buf[256];

	filter();
	syscall(SYS_getcwd, buf, sizeof(buf));
	_exit(8); /* not reached */
}

static void forbidden_exec(void)
{
	char *argv[] = {"true", NULL}, *envp[] = {NULL};

	filter();
	execve("/bin/true", argv, envp);
	_exit(8);
}

static void forbidden_family(void)
{
	filter();
	socket(AF_PACKET, SOCK_RAW, 0);
	_exit(8);
}

static void test_allowed(void **state)
{
	char out[512];

	assert_int_equal(in_child(allowed_calls, out, sizeof(out)), 0);
	assert_string_equal(out, "still here\n");
}

static void test_forbidden_named(void **state)
{
	static const struct {
		void (*fn)(void);
		const char *line;
	} rows[] = {
	        {forbidden_getcwd, "mt6d test: seccomp: forbidden system call getcwd ("},
	        {forbidden_exec, "mt6d test: seccomp: forbidden system call execve ("},
	        {forbidden_family, "mt6d test: seccomp: forbidden system call socket ("},
	};
	char out[512];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		assert_int_equal(in_child(rows[i].fn, out, sizeof(out)), 159);
		assert_non_null(strstr(out, rows[i].line));
		assert_non_null(strstr(out, "), exiting\n"));
	}
}

static void no_user(void)
{
	char line[128];
	FILE *f;

	if (privdrop("test", NULL, NULL) != 0 || privdrop("test", "", NULL) != 0)
		_exit(4);
	f = fopen("/proc/self/status", "re");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "Seccomp:", 8) && !strstr(line, "0"))
			_exit(5);
	if (f)
		fclose(f);
	/* A call the filter would forbid still works. */
	if (syscall(SYS_getcwd, line, sizeof(line)) < 0)
		_exit(6);
}

static void bad_users(void)
{
	log_init("test", false); /* the daemon does this before it drops */
	if (privdrop("test", "root", NULL) != -1)
		_exit(4);
	if (privdrop("test", "no-such-user-mt6d-test", NULL) != -1)
		_exit(5);
}

static void test_privdrop_args(void **state)
{
	char out[1024];

	assert_int_equal(in_child(no_user, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	assert_int_equal(in_child(bad_users, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "mt6d test: error: user `root' is root"));
	assert_non_null(strstr(out, "mt6d test: error: user `no-such-user-mt6d-test': "));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_allowed),
	        cmocka_unit_test(test_forbidden_named),
	        cmocka_unit_test(test_privdrop_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
