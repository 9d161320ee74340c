/* SPDX-License-Identifier: MIT */
/* Control socket: one request, one answer; a path that holds something
 * other than a socket is refused and left alone. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>

#include "control.h"

static void answer(void *arg, const char *req, FILE *out)
{
	fprintf(out, "{\"got\":\"%s\"}", req);
}

static void test_not_a_socket(void **state)
{
	char path[64], err[200], buf[16] = {0};
	struct control c;
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/mt6d-test-ctl.%d", (int)getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("precious", f);
	fclose(f);
	assert_int_equal(control_start(&c, EV_DEFAULT, path, answer, NULL, err, sizeof(err)),
	                 -EEXIST);
	assert_non_null(strstr(err, "is not a socket"));
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "precious");
	unlink(path);
}

static void test_stale_socket_replaced(void **state)
{
	char path[64], err[200];
	struct control c, d;
	struct stat st;

	snprintf(path, sizeof(path), "/tmp/mt6d-test-ctl.%d", (int)getpid());
	assert_int_equal(control_start(&c, EV_DEFAULT, path, answer, NULL, err, sizeof(err)), 0);
	/* A live daemon's socket is not taken over. */
	assert_int_equal(control_start(&d, EV_DEFAULT, path, answer, NULL, err, sizeof(err)),
	                 -EADDRINUSE);
	/* Closed without removing the file: a crashed daemon's stale socket. */
	ev_io_stop(c.loop, &c.io);
	close(c.fd);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(control_start(&d, EV_DEFAULT, path, answer, NULL, err, sizeof(err)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 077, 0); /* no group or other access */
	control_stop(&d);
	assert_int_not_equal(stat(path, &st), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_not_a_socket),
	        cmocka_unit_test(test_stale_socket_replaced),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
