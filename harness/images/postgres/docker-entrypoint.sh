#!/usr/bin/env bash
# Entry point of the postgres:16 stand-in. Written for the harness; it follows the documented
# contract of the official image's docker-entrypoint.sh (https://hub.docker.com/_/postgres):
#   POSTGRES_PASSWORD / POSTGRES_PASSWORD_FILE (required unless POSTGRES_HOST_AUTH_METHOD=trust),
#   POSTGRES_USER (default postgres), POSTGRES_DB (default $POSTGRES_USER),
#   POSTGRES_INITDB_ARGS, POSTGRES_INITDB_WALDIR, POSTGRES_HOST_AUTH_METHOD (default: the
#   server's password_encryption, i.e. scram-sha-256), PGDATA, /docker-entrypoint-initdb.d/
#   (*.sh, *.sql, *.sql.gz, *.sql.xz, *.sql.zst) on first init, then `exec postgres "$@"` as
#   user postgres. A first argument starting with '-' is taken as a postgres option.
set -Eeo pipefail

log() { printf '%s\n' "$*"; }

# VAR or VAR_FILE (both set is an error)
file_env() {
  local var="$1" def="${2:-}" fvar="${1}_FILE" val
  if [ -n "${!var:-}" ] && [ -n "${!fvar:-}" ]; then
    log "error: both $var and $fvar are set (but are exclusive)" >&2
    exit 1
  fi
  val="$def"
  if [ -n "${!var:-}" ]; then
    val="${!var}"
  elif [ -n "${!fvar:-}" ]; then
    val="$(<"${!fvar}")"
  fi
  export "$var"="$val"
  unset "$fvar"
}

setup_env() {
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "$POSTGRES_USER"
  file_env POSTGRES_INITDB_ARGS
  : "${POSTGRES_HOST_AUTH_METHOD:=}"
  export PGDATA="${PGDATA:-/var/lib/postgresql/data}"
  DATABASE_ALREADY_EXISTS=
  if [ -s "$PGDATA/PG_VERSION" ]; then
    DATABASE_ALREADY_EXISTS=true
  fi
}

create_dirs() {
  local user; user="$(id -u)"
  mkdir -p "$PGDATA"
  chmod 00700 "$PGDATA" || :
  mkdir -p /var/run/postgresql || :
  chmod 03775 /var/run/postgresql || :
  if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then
    mkdir -p "$POSTGRES_INITDB_WALDIR"
    [ "$user" = 0 ] && find "$POSTGRES_INITDB_WALDIR" \! -user postgres -exec chown postgres '{}' +
    chmod 700 "$POSTGRES_INITDB_WALDIR"
  fi
  if [ "$user" = 0 ]; then
    find "$PGDATA" \! -user postgres -exec chown postgres '{}' +
    find /var/run/postgresql \! -user postgres -exec chown postgres '{}' +
  fi
}

verify_env() {
  if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
    cat >&2 <<'MSG'
Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the
       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".

       You may also use "POSTGRES_HOST_AUTH_METHOD=trust" to allow all
       connections without a password. This is *not* recommended.
MSG
    exit 1
  fi
  if [ "$POSTGRES_HOST_AUTH_METHOD" = trust ]; then
    log 'WARNING: POSTGRES_HOST_AUTH_METHOD has been set to "trust": no password is required for any connection.' >&2
  fi
}

init_db() {
  local args=(--username="$POSTGRES_USER")
  if [ -n "${POSTGRES_INITDB_WALDIR:-}" ]; then
    args+=(--waldir="$POSTGRES_INITDB_WALDIR")
  fi
  # POSTGRES_INITDB_ARGS is word-split like the official image does (eval); the password
  # goes through a process substitution, never through argv
  if [ -n "$POSTGRES_PASSWORD" ]; then
    eval 'initdb "${args[@]}" --pwfile=<(printf "%s\n" "$POSTGRES_PASSWORD") '"$POSTGRES_INITDB_ARGS"
  else
    eval 'initdb "${args[@]}" '"$POSTGRES_INITDB_ARGS"
  fi
}

setup_hba() {
  local method="$POSTGRES_HOST_AUTH_METHOD"
  if [ -z "$method" ]; then
    method="$(postgres -C password_encryption "$@")"
  fi
  {
    echo
    [ "$method" = trust ] && echo '# warning trust is enabled for all connections'
    printf 'host all all all %s\n' "$method"
  } >>"$PGDATA/pg_hba.conf"
}

psql_init() { # psql with the init connection settings
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc "$@"
}

temp_server_start() {
  set -- "$@" -c listen_addresses='' -p "${PGPORT:-5432}"
  PGUSER="${PGUSER:-$POSTGRES_USER}" pg_ctl -D "$PGDATA" -o "$(printf '%q ' "$@")" -w start
}

temp_server_stop() {
  PGUSER="${PGUSER:-postgres}" pg_ctl -D "$PGDATA" -m fast -w stop
}

setup_db() {
  local exists
  exists="$(psql_init --dbname postgres --set db="$POSTGRES_DB" --tuples-only \
    <<<"SELECT 1 FROM pg_database WHERE datname = :'db' ;")"
  if [ -z "$exists" ]; then
    psql_init --dbname postgres --set db="$POSTGRES_DB" \
      <<<'CREATE DATABASE :"db" ;'
    log
  fi
}

process_init_files() {
  local f
  for f in "$@"; do
    case "$f" in
      *.sh)
        if [ -x "$f" ]; then
          log "$0: running $f"; "$f"
        else
          log "$0: sourcing $f"
          # shellcheck disable=SC1090
          . "$f"
        fi ;;
      *.sql)     log "$0: running $f"; psql_init --dbname "$POSTGRES_DB" -f "$f"; log ;;
      *.sql.gz)  log "$0: running $f"; gunzip -c "$f" | psql_init --dbname "$POSTGRES_DB"; log ;;
      *.sql.xz)  log "$0: running $f"; xzcat "$f" | psql_init --dbname "$POSTGRES_DB"; log ;;
      *.sql.zst) log "$0: running $f"; zstd -dc "$f" | psql_init --dbname "$POSTGRES_DB"; log ;;
      *)         log "$0: ignoring $f" ;;
    esac
    log
  done
}

# does "$@" only ask for help/version (then skip all setup)?
want_help() {
  local arg
  for arg; do
    case "$arg" in
      -'?'|--help|--describe-config|-V|--version) return 0 ;;
    esac
  done
  return 1
}

main() {
  if [ "${1:0:1}" = '-' ]; then
    set -- postgres "$@"
  fi

  if [ "$1" = postgres ] && ! want_help "$@"; then
    setup_env
    create_dirs
    if [ "$(id -u)" = 0 ]; then
      exec gosu postgres "${BASH_SOURCE[0]}" "$@"
    fi

    if [ -z "$DATABASE_ALREADY_EXISTS" ]; then
      verify_env
      ls /docker-entrypoint-initdb.d/ >/dev/null
      init_db
      setup_hba "${@:2}"
      export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"
      temp_server_start "${@:2}"
      setup_db
      shopt -s nullglob
      process_init_files /docker-entrypoint-initdb.d/*
      shopt -u nullglob
      temp_server_stop
      unset PGPASSWORD
      log
      log 'PostgreSQL init process complete; ready for start up.'
      log
    else
      log
      log 'PostgreSQL Database directory appears to contain a database; Skipping initialization'
      log
    fi
  fi

  exec "$@"
}

main "$@"
