# shellcheck shell=bash
# Shared by scripts/up and scripts/test: make sure PostgreSQL and NATS (with
# JetStream) are installed and running on this machine, installing them from
# Debian/Ubuntu packages when missing, and export how to reach them.
#
# Exports:
#   FLATGOV_PG_URL     postgres://… of a role that may create databases (no database part):
#                      the owner, which migrates
#   FLATGOV_APP_PG_URL postgres://… of flatgov_app, the role the services run as (no
#                      database part): it may not change audit or history tables
#   FLATGOV_NATS_URL   nats://127.0.0.1:4222

FLATGOV_PG_HOST=127.0.0.1
FLATGOV_PG_PORT=${FLATGOV_PG_PORT:-5432}
FLATGOV_NATS_PORT=${FLATGOV_NATS_PORT:-4222}

log() { printf '\033[1m[flatgov]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[flatgov]\033[0m %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo -n "$@" || die "need root (or passwordless sudo) to run: $*"
  else die "need root to run: $*"
  fi
}

# Runs a command as the postgres system user.
as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"
  else sudo -n -u postgres "$@"
  fi
}

APT_UPDATED=
install_packages() {
  command -v apt-get >/dev/null 2>&1 || die "cannot install $* automatically: apt-get not found (install them by hand)"
  log "installing $* (apt-get)"
  if [ -z "$APT_UPDATED" ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_for_port() {
  local host=$1 port=$2 what=$3 tries=0
  until port_open "$host" "$port"; do
    tries=$((tries + 1))
    [ "$tries" -gt 150 ] && die "$what did not come up on $host:$port"
    sleep 0.2
  done
}

# The test suite runs two journeys at once, each starting eight services with
# their own pools, beside the in-process service tests: PostgreSQL's default
# of 100 connections runs out ("remaining connection slots are reserved").
# A local cluster this machine may restart is given 300; elsewhere (a managed
# server, no rights) this says what to set and goes on.
FLATGOV_PG_MIN_CONNECTIONS=${FLATGOV_PG_MIN_CONNECTIONS:-300}
ensure_postgres_connections() {
  local current
  current=$(psql "$FLATGOV_PG_URL/postgres" -Atqc 'show max_connections' 2>/dev/null || echo 0)
  if [ "${current:-0}" -ge "$FLATGOV_PG_MIN_CONNECTIONS" ]; then
    return
  fi
  local version
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$version" ] || ! command -v pg_ctlcluster >/dev/null 2>&1 \
    || ! psql "$FLATGOV_PG_URL/postgres" -qc "alter system set max_connections = $FLATGOV_PG_MIN_CONNECTIONS" >/dev/null 2>&1; then
    log "postgresql allows $current connections; set max_connections to $FLATGOV_PG_MIN_CONNECTIONS or more for the test suite"
    return
  fi
  log "raising postgresql's max_connections from $current to $FLATGOV_PG_MIN_CONNECTIONS (restarting the local cluster)"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main restart \
    || log "could not restart postgresql $version; max_connections stays $current until it restarts"
  wait_for_port "$FLATGOV_PG_HOST" "$FLATGOV_PG_PORT" postgresql
}

ensure_postgres() {
  if ! port_open "$FLATGOV_PG_HOST" "$FLATGOV_PG_PORT"; then
    if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
      install_packages postgresql postgresql-contrib
    fi
    local version
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
    [ -n "$version" ] || die "postgresql is installed but has no cluster under /etc/postgresql"
    log "starting postgresql $version"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    wait_for_port "$FLATGOV_PG_HOST" "$FLATGOV_PG_PORT" postgresql
  fi
  command -v psql >/dev/null 2>&1 || install_packages postgresql-client

  # Prefer the machine's trust-authenticated superuser (developer and CI
  # machines); otherwise create a password-authenticated role for flatgov.
  if psql -h "$FLATGOV_PG_HOST" -p "$FLATGOV_PG_PORT" -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
    FLATGOV_PG_URL="postgres://postgres@$FLATGOV_PG_HOST:$FLATGOV_PG_PORT"
  else
    if ! PGPASSWORD=flatgov psql -h "$FLATGOV_PG_HOST" -p "$FLATGOV_PG_PORT" -U flatgov -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
      log "creating postgresql role flatgov (password flatgov, may create databases)"
      as_postgres psql -d postgres -v ON_ERROR_STOP=1 -qc \
        "do \$\$ begin if not exists (select from pg_roles where rolname = 'flatgov') then create role flatgov login createdb password 'flatgov'; else alter role flatgov login createdb password 'flatgov'; end if; end \$\$;" \
        || die "cannot create the flatgov role; run as root or give this user sudo"
    fi
    FLATGOV_PG_URL="postgres://flatgov:flatgov@$FLATGOV_PG_HOST:$FLATGOV_PG_PORT"
  fi
  export FLATGOV_PG_URL
  ensure_postgres_connections

  # The services run as their own role, which the owner's migrations grant only
  # what it needs (audit and history tables append-only).
  if psql -h "$FLATGOV_PG_HOST" -p "$FLATGOV_PG_PORT" -U flatgov_app -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
    FLATGOV_APP_PG_URL="postgres://flatgov_app@$FLATGOV_PG_HOST:$FLATGOV_PG_PORT"
  elif PGPASSWORD=flatgov_app psql -h "$FLATGOV_PG_HOST" -p "$FLATGOV_PG_PORT" -U flatgov_app -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
    FLATGOV_APP_PG_URL="postgres://flatgov_app:flatgov_app@$FLATGOV_PG_HOST:$FLATGOV_PG_PORT"
  else
    log "creating postgresql role flatgov_app (the role the services run as)"
    local create="do \$\$ begin if not exists (select from pg_roles where rolname = 'flatgov_app') then create role flatgov_app login password 'flatgov_app'; end if; end \$\$;"
    psql "$FLATGOV_PG_URL/postgres" -v ON_ERROR_STOP=1 -qc "$create" >/dev/null 2>&1 \
      || as_postgres psql -d postgres -v ON_ERROR_STOP=1 -qc "$create" >/dev/null \
      || die "cannot create the flatgov_app role; run as root or give this user sudo"
    if psql -h "$FLATGOV_PG_HOST" -p "$FLATGOV_PG_PORT" -U flatgov_app -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
      FLATGOV_APP_PG_URL="postgres://flatgov_app@$FLATGOV_PG_HOST:$FLATGOV_PG_PORT"
    else
      FLATGOV_APP_PG_URL="postgres://flatgov_app:flatgov_app@$FLATGOV_PG_HOST:$FLATGOV_PG_PORT"
    fi
  fi
  export FLATGOV_APP_PG_URL
}

nats_binary() {
  if [ -n "${NATS_SERVER_BIN:-}" ]; then echo "$NATS_SERVER_BIN"
  elif command -v nats-server >/dev/null 2>&1; then command -v nats-server
  elif [ -x /usr/sbin/nats-server ]; then echo /usr/sbin/nats-server
  fi
}

# nats-server installed (not started): for the platform's own server.
ensure_nats_binary() {
  [ -n "$(nats_binary)" ] || install_packages nats-server
  NATS_SERVER_BIN=$(nats_binary)
  [ -n "$NATS_SERVER_BIN" ] || die "nats-server not found after installing it"
  export NATS_SERVER_BIN
}

ensure_nats() {
  if ! port_open 127.0.0.1 "$FLATGOV_NATS_PORT"; then
    [ -n "$(nats_binary)" ] || install_packages nats-server
    local binary store log_file
    binary=$(nats_binary)
    [ -n "$binary" ] || die "nats-server not found after installing it"
    if [ "$(id -u)" = 0 ]; then
      store=/var/lib/nats-server; log_file=/var/log/nats-server.log
    else
      store="$PWD/.flatgov/nats"; log_file="$PWD/.flatgov/nats.log"
    fi
    mkdir -p "$store"
    log "starting nats-server with JetStream on 127.0.0.1:$FLATGOV_NATS_PORT"
    if command -v start-stop-daemon >/dev/null 2>&1; then
      start-stop-daemon --start --oknodo --background --exec "$binary" -- \
        -a 127.0.0.1 -p "$FLATGOV_NATS_PORT" -js -sd "$store" -l "$log_file"
    else
      nohup "$binary" -a 127.0.0.1 -p "$FLATGOV_NATS_PORT" -js -sd "$store" -l "$log_file" >/dev/null 2>&1 &
    fi
    wait_for_port 127.0.0.1 "$FLATGOV_NATS_PORT" nats-server
  fi
  export NATS_SERVER_BIN=${NATS_SERVER_BIN:-$(nats_binary)}
  export FLATGOV_NATS_URL="nats://127.0.0.1:$FLATGOV_NATS_PORT"
}

# Keeps the platform's fixed ports out of the kernel's ephemeral range
# (32768–60999 holds 50051–50057): otherwise an outgoing connection of one
# service can take another's port while that one restarts, and it cannot bind.
# Needs root; elsewhere says what to run.
# The kernel rewrites the list it is given (sorted, merged), so whether the
# ports are reserved already is decided range by range, not by matching the
# text written last time (which appended the same ranges again on every run).
ports_reserved() {
  local current=$1 wanted=$2 range low high entry from to covered
  for range in ${wanted//,/ }; do
    low=${range%-*}; high=${range#*-}
    covered=0
    for entry in ${current//,/ }; do
      from=${entry%-*}; to=${entry#*-}
      if [ "$from" -le "$low" ] && [ "$high" -le "$to" ]; then covered=1; break; fi
    done
    [ "$covered" = 1 ] || return 1
  done
}

reserve_platform_ports() {
  local file=/proc/sys/net/ipv4/ip_local_reserved_ports wanted="$1" current
  [ -r "$file" ] || return 0
  current=$(cat "$file")
  ports_reserved "$current" "$wanted" && return 0
  local merged=${current:+$current,}$wanted
  if [ -w "$file" ]; then
    echo "$merged" > "$file" 2>/dev/null || log "cannot reserve ports $wanted (read-only /proc/sys); restarts may collide with ephemeral ports"
  else
    log "to keep restarts from colliding with ephemeral ports, run as root: sysctl -w net.ipv4.ip_local_reserved_ports=$merged"
  fi
}

ensure_node() {
  command -v npx >/dev/null 2>&1 || install_packages nodejs npm
}

# Headless Chromium and its WebDriver for the command centre's browser journey,
# with a CJK font so its screenshots show the zh-CN labels.
ensure_chromium() {
  if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1 \
     || ! fc-list :lang=zh 2>/dev/null | grep -q .; then
    install_packages chromium chromium-driver fonts-wqy-zenhei
  fi
}

# A real OpenID Connect provider for the command centre's login journey:
# panva's oidc-provider from npm, pinned by tests/oidc-provider's lockfile and
# installed beside it (node_modules is not committed).
ensure_oidc_provider() {
  ensure_node
  local dir
  dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/tests/oidc-provider"
  # Again whenever the lockfile is newer than the installation.
  if [ ! -f "$dir/node_modules/.package-lock.json" ] \
     || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --silent)
  fi
}

# Python with venv and pip: the gateway's journeys install third-party Open311
# client libraries from PyPI into a virtual environment under target/.
ensure_python_venv() {
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    install_packages python3 python3-venv
  fi
}
