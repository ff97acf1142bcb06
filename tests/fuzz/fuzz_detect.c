/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer: fl_detect() and fl_detect_joined() on the first bytes of a
 * connection, then the detected parser on them as a request stream; and
 * fl_detect_server(), then its parser on them as a response stream (see
 * fuzz.h).
 */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum fl_proto proto = fl_detect(data, size, NULL);
	enum fl_proto joined = fl_detect_joined(data, size, NULL);

	fz_check_detect(fl_detect, data, size);
	fz_check_detect(fl_detect_joined, data, size);
	FZ_ASSERT(proto == FL_PROTO_UNKNOWN || joined == proto);
	if (joined != FL_PROTO_UNKNOWN)
		fz_run_request(joined, proto == FL_PROTO_UNKNOWN, data, size);
	fz_check_detect(fl_detect_server, data, size);
	if (fl_detect_server(data, size, NULL) != FL_PROTO_UNKNOWN) {
		struct fz_conn c;

		fz_open(&c, fl_detect_server(data, size, NULL));
		fz_feed(&c, FL_SIDE_RESPONSE, data, size, false);
		fz_close(&c);
		free(c.log);
	}
	return 0;
}
