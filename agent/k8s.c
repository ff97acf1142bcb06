// SPDX-License-Identifier: BSD-2-Clause
/* Pod identity from the kubelet's container log links (k8s.h). */
#include "k8s.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The alphabet of Kubernetes' generated name suffixes (SafeEncodeString). */
static const char safe[] = "bcdfghjklmnpqrstvwxz2456789";

/* Length of the "-XXXX" suffix of @s[0..n) made of @set, @min..@max long; 0 if none. */
static size_t suffix(const char *s, size_t n, const char *set, size_t min, size_t max)
{
	size_t k = 0;

	while (k < n && k <= max && strchr(set, s[n - 1 - k]) && s[n - 1 - k])
		k++;
	if (k < min || k > max || k + 1 >= n || s[n - 1 - k] != '-')
		return 0;
	return k + 1;
}

void k8s_workload(const char *pod, char *out, size_t len)
{
	size_t n = strlen(pod), k;

	if ((k = suffix(pod, n, safe, 5, 5))) {
		n -= k;
		if ((k = suffix(pod, n, safe, 6, 10)))
			n -= k;
	} else if ((k = suffix(pod, n, "0123456789", 1, 5))) {
		n -= k;
	}
	snprintf(out, len, "%.*s", (int)n, pod);
}

static void copy(char *dst, size_t len, const char *s, size_t n)
{
	if (dst)
		snprintf(dst, len, "%.*s", (int)n, s);
}

bool k8s_pod_of(const char *dir, const char *cid, char *pod, char *ns,
		char *container, size_t len)
{
	char tail[80];
	size_t tl;
	struct dirent *de;
	bool found = false;
	DIR *d;

	if (!dir)
		dir = getenv("FAULTLINE_K8S_LOG_DIR");
	if (!dir || !*dir)
		dir = K8S_LOG_DIR_DEFAULT;
	if (strlen(cid) != 64 || !(d = opendir(dir)))
		return false;
	tl = (size_t)snprintf(tail, sizeof(tail), "-%s.log", cid);
	while (!found && (de = readdir(d))) {
		const char *name = de->d_name, *u1, *u2;
		size_t n = strlen(name);

		if (n <= tl || strcmp(name + n - tl, tail))
			continue;
		n -= tl;	/* <pod>_<namespace>_<container>: no '_' in any */
		u1 = memchr(name, '_', n);
		u2 = u1 ? memchr(u1 + 1, '_', n - (size_t)(u1 + 1 - name)) : NULL;
		if (!u1 || !u2 || u1 == name || u2 == u1 + 1 || u2 + 1 == name + n ||
		    memchr(u2 + 1, '_', n - (size_t)(u2 + 1 - name)))
			continue;
		copy(pod, len, name, (size_t)(u1 - name));
		copy(ns, len, u1 + 1, (size_t)(u2 - u1 - 1));
		copy(container, len, u2 + 1, n - (size_t)(u2 + 1 - name));
		found = true;
	}
	closedir(d);
	return found;
}
