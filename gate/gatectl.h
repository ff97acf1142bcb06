/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * gatectl, every layer at once: for code written before the layers were
 * split (docs/ARCHITECTURE.md "gatectl"). New code includes the headers of
 * the layers it uses; this umbrella goes once nothing includes it.
 */
#ifndef FAULTLINE_GATECTL_H
#define FAULTLINE_GATECTL_H

#include "cmd/cmd.h"
#include "judge/judge.h"
#include "output/output.h"
#include "query/ctx.h"
#include "query/edges.h"
#include "query/open.h"
#include "query/sources.h"
#include "query/time.h"

#endif /* FAULTLINE_GATECTL_H */
