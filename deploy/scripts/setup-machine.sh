#!/usr/bin/env bash
# Make this machine able to run pitcall and its tests: PostgreSQL 15 with TimescaleDB, Mosquitto, and
# the local services started. Idempotent and quick when everything is in place. Needs root.
#   deploy/scripts/setup-machine.sh            install what is missing, start local services
#   deploy/scripts/setup-machine.sh --no-start install only (the tests start their own instances)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
start=1
[ "${1:-}" = "--no-start" ] && start=0
log() { printf '[setup-machine] %s\n' "$*" >&2; }

missing=()
command -v mosquitto >/dev/null || missing+=(mosquitto)
command -v mosquitto_passwd >/dev/null || missing+=(mosquitto-clients)
[ -e /usr/include/mosquitto_plugin.h ] || missing+=(mosquitto-dev)  # builds the subscription ACL plugin
command -v cc >/dev/null || missing+=(gcc libc6-dev)
[ -x /usr/lib/postgresql/15/bin/initdb ] || missing+=(postgresql-15)
command -v runuser >/dev/null || missing+=(util-linux)
command -v wrk >/dev/null || missing+=(wrk)  # HTTP load generator of pitcall bench api
[ -x /usr/bin/chromium ] || missing+=(chromium)  # the console's browser tests (playwright drives it)
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing+=(fonts-wqy-microhei)  # Chinese in screenshots
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

"$here/install-timescaledb.sh"

if [ "$start" = 1 ]; then
  if ! pg_lsclusters -h 2>/dev/null | grep -q online; then
    log "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -n | tail -1)" main start
  fi
  if ! (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then
    log "starting Mosquitto"
    mosquitto -d -c /etc/mosquitto/mosquitto.conf
  fi
fi
