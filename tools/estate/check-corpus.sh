#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# check-corpus.sh [--only ID]... [--traffic-s S] [--json FILE] [--keep]
# Swap each change of tools/estate/changes/labels.json into a copy of the
# estate, run the whole suite and a burst of production traffic, restore,
# and print per change which tests failed (check_corpus.py has the details).
# Holds the host lock for the whole run (~10 min for the full corpus).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib/servers.sh
. "$here/../lib/servers.sh"
[ "$(id -u)" -eq 0 ] || { echo "check-corpus: must run as root" >&2; exit 2; }
fl_lock_host
exec /usr/bin/python3 "$here/check_corpus.py" "$@"
