/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * agent/k8s.c: pods found from a directory laid out as the kubelet lays out
 * /var/log/containers, and workload names from pod names.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "k8s.h"

#define CID1 "4f2a0c9d1e7b3a6f8c5d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b"
#define CID2 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void touch(const char *dir, const char *name)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "w");
	if (f)
		fclose(f);
}

static void test_pod_of(void)
{
	char dir[] = "/tmp/fl-k8s.XXXXXX", pod[64], ns[64], ctr[64];

	CHECK(mkdtemp(dir) != NULL);
	touch(dir, "checkout-7d9f8c6b5d-x2k4q_shop_checkout-" CID1 ".log");
	touch(dir, "orders-db-0_shop_postgres-" CID2 ".log");
	touch(dir, "junk-" CID2 ".txt");
	touch(dir, "bad_name-" CID1 "x.log");
	CHECK(k8s_pod_of(dir, CID1, pod, ns, ctr, sizeof(pod)));
	CHECK_EQ_STR(pod, "checkout-7d9f8c6b5d-x2k4q");
	CHECK_EQ_STR(ns, "shop");
	CHECK_EQ_STR(ctr, "checkout");
	CHECK(k8s_pod_of(dir, CID2, pod, NULL, NULL, sizeof(pod)));
	CHECK_EQ_STR(pod, "orders-db-0");
	CHECK(!k8s_pod_of(dir, "abc", pod, ns, ctr, sizeof(pod)));
	CHECK(!k8s_pod_of(dir, "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
			  pod, ns, ctr, sizeof(pod)));
	CHECK(!k8s_pod_of("/nonexistent/dir", CID1, pod, ns, ctr, sizeof(pod)));
	/* the environment names the directory when the caller does not */
	setenv("FAULTLINE_K8S_LOG_DIR", dir, 1);
	CHECK(k8s_pod_of(NULL, CID1, pod, NULL, NULL, sizeof(pod)));
	unsetenv("FAULTLINE_K8S_LOG_DIR");
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
}

static void test_workload(void)
{
	static const char *const cases[][2] = {
		{ "checkout-7d9f8c6b5d-x2k4q", "checkout" },	/* Deployment */
		{ "fluentd-x2k4q", "fluentd" },			/* DaemonSet */
		{ "orders-db-0", "orders-db" },			/* StatefulSet */
		{ "orders-db-12", "orders-db" },
		{ "web", "web" },				/* a bare pod */
		{ "api-v2", "api-v2" },				/* not a suffix */
		{ "my-app-abcde", "my-app-abcde" },		/* vowels: not generated */
		{ "cart-5f6d7c8b9-q7r2z", "cart" },		/* 9-character hash */
	};
	char out[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		k8s_workload(cases[i][0], out, sizeof(out));
		CHECK_EQ_STR(out, cases[i][1]);
	}
}

RUN_TESTS(test_pod_of, test_workload)
