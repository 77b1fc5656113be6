#!/usr/bin/env bash
# Build and install TimescaleDB (Apache edition) for the machine's PostgreSQL from Debian trixie's
# source package, then preload it. Idempotent: does nothing when the extension is already installed
# and preloaded. Needs root (apt-get) and a PostgreSQL with pg_config.
set -euo pipefail

PG_MAJOR="${PG_MAJOR:-$(ls /etc/postgresql 2>/dev/null | sort -n | tail -1)}"
PG_MAJOR="${PG_MAJOR:-15}"
PG_CONFIG="/usr/lib/postgresql/${PG_MAJOR}/bin/pg_config"
BUILD_ROOT="${TIMESCALEDB_BUILD_ROOT:-/var/cache/pitcall/timescaledb-src}"
PG_CONF="/etc/postgresql/${PG_MAJOR}/main/postgresql.conf"
log() { printf '[install-timescaledb] %s\n' "$*" >&2; }

installed() {
  local libdir sharedir
  libdir=$("$PG_CONFIG" --pkglibdir 2>/dev/null) || return 1
  sharedir=$("$PG_CONFIG" --sharedir 2>/dev/null) || return 1
  ls "$libdir"/timescaledb*.so >/dev/null 2>&1 && ls "$sharedir"/extension/timescaledb.control >/dev/null 2>&1
}

if ! installed; then
  log "building TimescaleDB for PostgreSQL ${PG_MAJOR} from Debian trixie's source package"
  if [ ! -f /etc/apt/sources.list.d/pitcall-trixie-src.list ]; then
    echo "deb-src http://deb.debian.org/debian trixie main" > /etc/apt/sources.list.d/pitcall-trixie-src.list
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "postgresql-server-dev-${PG_MAJOR}" cmake gcc make dpkg-dev libssl-dev >/dev/null
  mkdir -p "$BUILD_ROOT"
  cd "$BUILD_ROOT"
  if ! ls -d timescaledb-*/ >/dev/null 2>&1; then
    apt-get source -qq --download-only timescaledb
    dpkg-source -x timescaledb_*.dsc >/dev/null
  fi
  cd "$(ls -d timescaledb-*/ | head -1)"
  rm -rf build
  ./bootstrap -DAPACHE_ONLY=1 -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF \
    -DUSE_TELEMETRY=OFF -DPG_CONFIG="$PG_CONFIG" >/dev/null
  make -C build -j"$(nproc)" install >/dev/null
  log "installed $(ls "$("$PG_CONFIG" --pkglibdir)"/timescaledb-*.so | head -1)"
else
  log "TimescaleDB already built for PostgreSQL ${PG_MAJOR}"
fi

# Preload it in the machine's cluster (tests start their own clusters with their own settings).
if [ -f "$PG_CONF" ] && ! grep -Eq "^\s*shared_preload_libraries\s*=.*timescaledb" "$PG_CONF"; then
  log "adding timescaledb to shared_preload_libraries in $PG_CONF and restarting the cluster"
  printf "\n# added by pitcall deploy/scripts/install-timescaledb.sh\nshared_preload_libraries = 'timescaledb'\ntimescaledb.telemetry_level = off\n" >> "$PG_CONF"
  pg_ctlcluster --skip-systemctl-redirect "$PG_MAJOR" main restart
fi
