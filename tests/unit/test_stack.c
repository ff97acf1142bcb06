// SPDX-License-Identifier: BSD-2-Clause
/* lib/stack.c: good and bad stack files, positions of errors, argv splitting. */
#include "harness.h"
#include "stack.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[] = "/tmp/fl-test-stack.XXXXXX";
static char file[256], err[1024];

static int load_text(const char *text, struct fl_stack *s)
{
	FILE *f = fopen(file, "w");

	fputs(text, f);
	fclose(f);
	memset(s, 0, sizeof(*s));
	return fl_stack_load(file, s, err, sizeof(err));
}

/* The error of @text must be "FILE:" + @want. */
static void bad(const char *text, const char *want)
{
	struct fl_stack s;
	char full[1100];

	CHECK_EQ_INT(load_text(text, &s), -EINVAL);
	snprintf(full, sizeof(full), "%s:%s", file, want);
	CHECK_EQ_STR(err, full);
}

static const char good[] =
	"{\n"
	"  \"name\": \"shop\",\n"
	"  \"must_run\": [\"smoke\"],\n"
	"  \"services\": [\n"
	"    { \"name\": \"cart-redis\", \"kind\": \"cache\", \"cmd\": [\"redis-server\", \"--port\", \"16401\"], \"port\": 16401 },\n"
	"    { \"name\": \"cart\", \"cmd\": [\"python3\", \"services/cart.py\"],\n"
	"      \"env\": { \"LOG_LEVEL\": \"info\" }, \"port\": 18403, \"ready\": { \"http\": \"/health\", \"timeout_s\": 5 },\n"
	"      \"paths\": [\"services/cart.py\", \"/abs/x/*\"], \"setup\": [[\"true\"], [\"echo\", \"x\"]] }\n"
	"  ],\n"
	"  \"tests\": [\n"
	"    { \"name\": \"cart_add_item\", \"cmd\": [\"python3\", \"-m\", \"pytest\"], \"timeout_s\": 20, \"tags\": [\"cart\", \"smoke\"] },\n"
	"    { \"name\": \"t2\", \"cmd\": [\"true\"] }\n"
	"  ]\n"
	"}\n";

static void test_good(void)
{
	struct fl_stack s;
	char want[300];

	CHECK_EQ_INT(load_text(good, &s), 0);
	CHECK_EQ_STR(s.name, "shop");
	CHECK_EQ_INT(s.nsvcs, 2);
	CHECK_EQ_INT(s.ntests, 2);
	CHECK_EQ_STR(s.dir, dir);
	CHECK_EQ_STR(s.svcs[0].kind, "cache");
	CHECK_EQ_INT(s.svcs[0].ready, FL_READY_TCP);
	CHECK_EQ_INT(s.svcs[0].ready_port, 16401);
	CHECK_EQ_INT(s.svcs[0].cmd.n, 3);
	CHECK(s.svcs[0].cmd.v[3] == NULL);
	CHECK_EQ_STR(s.svcs[1].kind, "service");
	CHECK_EQ_INT(s.svcs[1].ready, FL_READY_HTTP);
	CHECK_EQ_STR(s.svcs[1].ready_path, "/health");
	CHECK(s.svcs[1].ready_timeout_s == 5.0);
	CHECK_EQ_INT(s.svcs[1].nenv, 1);
	CHECK_EQ_STR(s.svcs[1].env[0], "LOG_LEVEL=info");
	snprintf(want, sizeof(want), "%s/services/cart.py", dir);
	CHECK_EQ_STR(s.svcs[1].paths[0], want);
	CHECK_EQ_STR(s.svcs[1].paths[1], "/abs/x/*");
	CHECK_EQ_INT(s.svcs[1].nsetup, 2);
	CHECK_EQ_STR(s.svcs[1].setup[1].v[1], "x");
	CHECK(s.tests[0].timeout_s == 20.0);
	CHECK(s.tests[1].timeout_s == FL_STACK_TEST_TIMEOUT_S);
	CHECK(fl_stack_has_tag(&s.tests[0], "smoke"));
	CHECK(!fl_stack_has_tag(&s.tests[1], "smoke"));
	CHECK_EQ_STR(s.must_run[0], "smoke");
	CHECK(fl_stack_service(&s, "cart") == &s.svcs[1]);
	CHECK(fl_stack_service(&s, "nope") == NULL);
	CHECK(fl_stack_test(&s, "t2") == &s.tests[1]);
	CHECK(!s.driver.set);
	fl_stack_release(&s);
}

static void test_driver(void)
{
	struct fl_stack s;
	char want[300];

	CHECK_EQ_INT(load_text("{\"name\":\"k\",\"services\":[{\"name\":\"a\",\"cmd\":[\"x\"],\"port\":1}],"
			       "\"driver\":{\"up\":[\"u\"],\"swap\":[\"s\"],\"restore\":[\"r\"],"
			       "\"down\":[\"d\"],\"store\":\"gate.db\"}}", &s), 0);
	CHECK(s.driver.set);
	CHECK_EQ_STR(s.driver.swap.v[0], "s");
	snprintf(want, sizeof(want), "%s/gate.db", dir);
	CHECK_EQ_STR(s.driver.store, want);
	fl_stack_release(&s);
	bad("{\"name\":\"k\",\"services\":[{\"name\":\"a\",\"cmd\":[\"x\"],\"port\":1}],\n"
	    "\"driver\":{\"up\":[\"u\"],\"swap\":[\"s\"],\"down\":[\"d\"],\"store\":\"g\"}}",
	    "2:1: driver.restore: the driver needs \"restore\" (argv)");
}

static void test_bad(void)
{
	struct fl_stack s;

	/* syntax: jansson's position */
	bad("{\n  \"name\": \"x\",\n  \"services\": [\n}", "4:1: unexpected token near '}'");
	bad("{\"name\":\"a\",\"name\":\"b\"}", "1:18: duplicate object key near '\"name\"'");
	bad("{} garbage", "1:10: end of file expected near 'garbage'");
	/* meaning: the scanner's position */
	bad("{\n  \"name\": \"x\",\n  \"servics\": []\n}",
	    "3:3: servics: unknown key (known: name, services, tests, must_run, driver, description)");
	bad("{\n  \"name\": \"x\",\n  \"services\": [\n    {\"name\": \"a\", \"cmd\": [\"x\"], \"port\": 1},\n"
	    "    {\"name\": \"b\", \"cmd\": \"x y\", \"port\": 2}\n  ]\n}",
	    "5:19: services[1].cmd: must be a non-empty array of strings (argv, no shell)");
	bad("{\"name\":\"x\",\"services\":[{\"name\":\"a\",\"cmd\":[\"x\"],\"port\":70000}]}",
	    "1:49: services[0].port: must be an integer port 1..65535");
	bad("{\"name\":\"x\",\"services\":[{\"name\":\"a\",\"cmd\":[\"x\"]}]}",
	    "1:25: services[0]: \"port\" is required (the port it listens on)");
	bad("{\"name\":\"x\",\"services\":[{\"name\":\"a\",\"cmd\":[\"x\"],\"port\":1,\"ready\":{\"http\":\"health\"}}]}",
	    "1:67: services[0].ready.http: must be a path starting with '/', without blanks");
	bad("{\"name\":\"x\",\"services\":[{\"name\":\"a\",\"cmd\":[\"x\"],\"port\":1},"
	    "{\"name\":\"a\",\"cmd\":[\"y\"],\"port\":2}]}",
	    "1:60: services[1].name: service 'a' is defined twice");
	bad("{\"name\":\"x\",\"services\":[{\"name\":\"a\",\"cmd\":[\"x\"],\"port\":1}],"
	    "\"tests\":[{\"name\":\"has blank\",\"cmd\":[\"x\"]}]}",
	    "1:70: tests[0].name: 'has blank': a test name is 1..63 of A-Z a-z 0-9 . _ - : / [ ], starting with a letter or digit");
	bad("{\"name\":\"x\",\"services\":[{\"name\":\"a\",\"cmd\":[\"x\"],\"port\":1}],"
	    "\"tests\":[{\"name\":\"t\",\"cmd\":[\"x\"],\"tag\":[]}]}",
	    "1:93: tests[0].tag: unknown key (known: name, cmd, timeout_s, tags)");
	bad("{\"name\":\"x\",\"services\":[]}", "1:13: services: \"services\" must be a non-empty array");
	bad("[]", "1:1: the stack must be a JSON object");
	CHECK_EQ_INT(fl_stack_load("/nonexistent/stack.json", &s, err, sizeof(err)), -ENOENT);
	CHECK_EQ_STR(err, "cannot open '/nonexistent/stack.json': No such file or directory");
}

static void test_split(void)
{
	struct fl_argv a;

	CHECK_EQ_INT(fl_argv_split("python3  services/cart.py --port 1 'a b' \"c \\\"d\" e\\ f", &a,
				   err, sizeof(err)), 0);
	CHECK_EQ_INT(a.n, 7);
	CHECK_EQ_STR(a.v[4], "a b");
	CHECK_EQ_STR(a.v[5], "c \"d");
	CHECK_EQ_STR(a.v[6], "e f");
	CHECK(a.v[7] == NULL);
	fl_argv_release(&a);
	CHECK_EQ_INT(fl_argv_split("x $HOME '*'", &a, err, sizeof(err)), 0);
	CHECK_EQ_STR(a.v[1], "$HOME");	/* no expansion */
	CHECK_EQ_STR(a.v[2], "*");
	fl_argv_release(&a);
	CHECK_EQ_INT(fl_argv_split("x 'open", &a, err, sizeof(err)), -EINVAL);
	CHECK_EQ_STR(err, "unmatched ' in 'x 'open'");
	CHECK_EQ_INT(fl_argv_split("   ", &a, err, sizeof(err)), -EINVAL);
	CHECK_EQ_INT(fl_argv_split("x \\", &a, err, sizeof(err)), -EINVAL);
}

static void test_copy(void)
{
	struct fl_argv a, b;
	char *vars[] = { "STACK_STATE_DIR=/run/x", NULL };

	CHECK_EQ_INT(fl_argv_split("redis --dir ${STACK_STATE_DIR}/r ${OTHER} $STACK_STATE_DIR", &a,
				   err, sizeof(err)), 0);
	CHECK_EQ_INT(fl_argv_copy(&a, vars, &b), 0);
	CHECK_EQ_STR(b.v[2], "/run/x/r");
	CHECK_EQ_STR(b.v[3], "${OTHER}");
	CHECK_EQ_STR(b.v[4], "$STACK_STATE_DIR");
	fl_argv_release(&a);
	fl_argv_release(&b);
}

static void setup(void)
{
	if (!mkdtemp(dir))
		abort();
	snprintf(file, sizeof(file), "%s/stack.json", dir);
}

static void test_cleanup(void)
{
	unlink(file);
	CHECK_EQ_INT(rmdir(dir), 0);
}

static void test_setup(void)
{
	setup();
}

RUN_TESTS(test_setup, test_good, test_driver, test_bad, test_split, test_copy, test_cleanup)
