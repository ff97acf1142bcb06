/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What this node offers the collector, reported at start (DESIGN.md §2):
 * kernel, BTF, and each hook loaded or unavailable. A missing tracepoint
 * turns its program off so the agent runs with what it has.
 */
#ifndef FAULTLINE_CAPS_H
#define FAULTLINE_CAPS_H

#include <bpf/libbpf.h>

/*
 * caps_prepare() - between skeleton open and load: log the kernel and BTF,
 * and turn off (autoload) every program of @obj whose tracepoint does not
 * exist in tracefs. Returns the number of programs turned off.
 */
int caps_prepare(struct bpf_object *obj);

/* caps_report() - after attach: log each hook as loaded or unavailable. */
void caps_report(struct bpf_object *obj);

#endif /* FAULTLINE_CAPS_H */
