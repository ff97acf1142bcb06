#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# nginx.sh PORT FRONTEND_PORT - the gateway: nginx.conf.in rendered into
# $STACK_STATE_DIR/nginx, static files copied there (its workers run as
# nobody), nginx exec'd in the foreground.
set -euo pipefail
: "${STACK_STATE_DIR:?STACK_STATE_DIR must be set}"
port=${1:?usage: nginx.sh PORT FRONTEND_PORT}
fport=${2:?usage: nginx.sh PORT FRONTEND_PORT}
here=$(cd "$(dirname "$0")/.." && pwd)
dir=$STACK_STATE_DIR/nginx
mkdir -p "$dir/tmp" "$dir/www/static"
install -m 0644 "$here"/static/* "$dir/www/static/"
chmod 755 "$STACK_STATE_DIR" "$dir" "$dir/www" "$dir/www/static"
sed -e "s|@PORT@|$port|g" -e "s|@DIR@|$dir|g" -e "s|@FRONTEND_PORT@|$fport|g" \
	"$here/nginx.conf.in" >"$dir/nginx.conf"
exec nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" \
	-g "daemon off; pid $dir/nginx.pid;"
