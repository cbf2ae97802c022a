#!/usr/bin/env bash
# A throwaway PostgreSQL server on loopback, for tests and for trying the postgres backend.
#
#   eval "$(scripts/pg-throwaway.sh start)"   # prints export lines: DEIA_TEST_PG_URL, DEIA_TEST_PG_DIR
#   scripts/pg-throwaway.sh restart-immediate "$DEIA_TEST_PG_DIR"   # crash-restart (pg_ctl -m immediate)
#   scripts/pg-throwaway.sh stop "$DEIA_TEST_PG_DIR"               # stop it and delete its data
#
# start: finds the server binaries (initdb on PATH, else /usr/lib/postgresql/<newest>/bin; with
# --install, or CI=true, installs Debian's `postgresql` package when there are none), makes a data
# folder in a new temp folder, and runs the server there as a NON-root user (PostgreSQL refuses
# root: as root it uses the `postgres` system user, created if missing) on a random free loopback
# port, with password authentication over TCP. Nothing outside the temp folder is touched.
set -euo pipefail

die() { echo "pg-throwaway: $*" >&2; exit 1; }

find_bin() {
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v initdb)"; return 0
  fi
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
  return 1
}

install_server() {
  [ "$(id -u)" = 0 ] || die "no PostgreSQL server binaries found (install Debian's postgresql package)"
  echo "pg-throwaway: installing Debian's postgresql package" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) >&2 \
    || die "apt-get install postgresql failed"
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# Run a command as the server's user: ourselves, or `postgres` when we are root.
as_owner() {
  local owner=$1; shift
  if [ "$(id -u)" = 0 ]; then runuser -u "$owner" -- "$@"; else "$@"; fi
}

cmd_start() {
  local install=0
  [ "${1:-}" = "--install" ] && install=1
  [ "${CI:-}" = "true" ] && install=1
  local bin
  if ! bin=$(find_bin); then
    [ $install = 1 ] || die "no PostgreSQL server binaries found (install Debian's postgresql package, or run with --install)"
    install_server
    bin=$(find_bin) || die "postgresql installed but initdb not found under /usr/lib/postgresql/*/bin"
  fi
  local owner
  owner=$(id -un)
  if [ "$(id -u)" = 0 ]; then
    owner=postgres
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin postgres
  fi
  local dir port pw
  dir=$(mktemp -d "${TMPDIR:-/tmp}/deia-pg-XXXXXX")
  chmod 700 "$dir"
  [ "$(id -u)" = 0 ] && chown "$owner" "$dir"
  port=$(free_port)
  pw=$(node -e 'console.log(require("crypto").randomBytes(12).toString("hex"))')
  as_owner "$owner" bash -c "umask 077; printf '%s\n' '$pw' > '$dir/pwfile'"
  as_owner "$owner" "$bin/initdb" -D "$dir/data" -U deia --pwfile="$dir/pwfile" -A scram-sha-256 \
    --auth-local=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  as_owner "$owner" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir -c fsync=off -c max_connections=200" start >&2 \
    || { cat "$dir/server.log" >&2; die "server did not start"; }
  local url="postgres://deia:$pw@127.0.0.1:$port/postgres"
  cat >"$dir/env" <<EOF
DEIA_PG_BIN=$bin
DEIA_PG_OWNER=$owner
EOF
  echo "export DEIA_TEST_PG_URL='$url'"
  echo "export DEIA_TEST_PG_DIR='$dir'"
}

load_env() {
  local dir=${1:-${DEIA_TEST_PG_DIR:-}}
  [ -n "$dir" ] && [ -f "$dir/env" ] || die "no throwaway server at '${dir}' (give the folder printed by start)"
  # shellcheck disable=SC1091
  . "$dir/env"
  DIR=$dir
}

cmd_stop() {
  load_env "${1:-}"
  as_owner "$DEIA_PG_OWNER" "$DEIA_PG_BIN/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$DIR"
}

cmd_restart_immediate() {
  load_env "${1:-}"
  as_owner "$DEIA_PG_OWNER" "$DEIA_PG_BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -m immediate -w -t 60 restart >/dev/null
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  restart-immediate) shift; cmd_restart_immediate "$@" ;;
  *) die "usage: pg-throwaway.sh start [--install] | stop DIR | restart-immediate DIR" ;;
esac
