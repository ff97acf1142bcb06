/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Kubernetes pod identity without API calls (docs/deploy.md "Kubernetes
 * identity"): the kubelet keeps one link per container in
 * /var/log/containers, named <pod>_<namespace>_<container>-<id>.log; the
 * container id from a process's cgroup finds its pod there.
 */
#ifndef FAULTLINE_K8S_H
#define FAULTLINE_K8S_H

#include <stdbool.h>
#include <stddef.h>

#define K8S_LOG_DIR_DEFAULT "/var/log/containers"

/*
 * k8s_pod_of() - the pod of container @cid (64 hex digits) from the links
 * in @dir (NULL: $FAULTLINE_K8S_LOG_DIR or K8S_LOG_DIR_DEFAULT). OUT:
 * @pod, @ns, @container (each @len bytes; any may be NULL). Returns true
 * if found; false if not, or the directory is absent (not Kubernetes).
 */
bool k8s_pod_of(const char *dir, const char *cid, char *pod, char *ns,
		char *container, size_t len);

/*
 * k8s_workload() - the workload name of pod @pod into @out (@len bytes):
 * without a ReplicaSet's "-<hash>-<suffix>" (Deployment), a "-<suffix>"
 * (DaemonSet, Job), or a StatefulSet ordinal "-N"; the pod name otherwise.
 * Suffixes are Kubernetes' generated ones (5 characters, hashes 6 to 10, of
 * "bcdfghjklmnpqrstvwxz2456789").
 */
void k8s_workload(const char *pod, char *out, size_t len);

#endif /* FAULTLINE_K8S_H */
