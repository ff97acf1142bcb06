/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Names from the environment an exec showed (agent/identity.c,
 * FL_EV_PROC_ENV): OTEL_SERVICE_NAME, else service.name inside
 * OTEL_RESOURCE_ATTRIBUTES; a block cut mid-entry; an exec without a name
 * forgets the old one; an exit forgets it; and what a recording keeps of an
 * environment (only OTEL_* entries).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "identity.h"

/* tgids no process has here (above pid_max): only the exec table names them */
#define T1 4000001u
#define T2 4000002u

static void name_of(struct identity *id, uint32_t tgid, char *out)
{
	identity_process(id, tgid, "comm-fallback", out);
}

static void test_otel_service_name(void)
{
	static const char env[] = "PATH=/bin\0OTEL_SERVICE_NAME=web-front\0HOME=/\0";
	struct identity *id = identity_new();
	char name[FL_NAME_MAX];

	identity_exec_env(id, T1, env, sizeof(env) - 1);
	name_of(id, T1, name);
	CHECK_EQ_STR(name, "web-front");
	identity_free(id);
}

static void test_resource_attributes(void)
{
	static const char env[] =
		"OTEL_RESOURCE_ATTRIBUTES=deployment.environment=prod,service.name=cache-main\0";
	struct identity *id = identity_new();
	char name[FL_NAME_MAX];

	identity_exec_env(id, T1, env, sizeof(env) - 1);
	name_of(id, T1, name);
	CHECK_EQ_STR(name, "cache-main");
	identity_free(id);
}

static void test_cut_block(void)
{
	/* the collector copies at most 8 KiB: the last entry may lack its NUL */
	static const char env[] = "A=1\0OTEL_SERVICE_NAME=cutname";
	struct identity *id = identity_new();
	char name[FL_NAME_MAX];

	identity_exec_env(id, T2, env, sizeof(env) - 1);
	name_of(id, T2, name);
	CHECK_EQ_STR(name, "cutname");
	identity_free(id);
}

static void test_forgotten(void)
{
	static const char named[] = "OTEL_SERVICE_NAME=first\0";
	static const char plain[] = "PATH=/bin\0OTEL_SERVICE_NAME=\0";
	struct identity *id = identity_new();
	char name[FL_NAME_MAX];

	identity_exec_env(id, T1, named, sizeof(named) - 1);
	identity_exec_env(id, T1, plain, sizeof(plain) - 1); /* a new image */
	identity_exec(id, T1, "comm-fallback");
	name_of(id, T1, name);
	CHECK_EQ_STR(name, "comm-fallback");
	identity_exec_env(id, T2, named, sizeof(named) - 1);
	identity_exit(id, T2);
	identity_exec(id, T2, "comm-fallback");
	name_of(id, T2, name);
	CHECK_EQ_STR(name, "comm-fallback");
	identity_free(id);
}

static void test_record_filter(void)
{
	static const char env[] = "AWS_SECRET_ACCESS_KEY=s3cr3t\0OTEL_SERVICE_NAME=a\0"
				  "PGPASSWORD=pw\0OTEL_RESOURCE_ATTRIBUTES=x=y\0";
	static const char want[] = "OTEL_SERVICE_NAME=a\0OTEL_RESOURCE_ATTRIBUTES=x=y\0";
	char out[128];
	size_t n = identity_env_filter(env, sizeof(env) - 1, out, sizeof(out));

	CHECK_EQ_INT(n, sizeof(want) - 1);
	CHECK(!memcmp(out, want, sizeof(want) - 1));
	CHECK(!memmem(out, n, "s3cr3t", 6));
	/* too small an output: whole entries only */
	n = identity_env_filter(env, sizeof(env) - 1, out, 25);
	CHECK_EQ_INT(n, strlen("OTEL_SERVICE_NAME=a") + 1);
}

RUN_TESTS(test_otel_service_name, test_resource_attributes, test_cut_block,
	  test_forgotten, test_record_filter)
