#!/bin/sh
# Entry point of the redis:7 stand-in, following the official image's documented behaviour:
# - first argument starting with '-' or ending in '.conf' => run redis-server with those args
# - redis-server started as root => fix ownership of the workdir, re-exec as user redis
# - no config file given => '--protected-mode no' (the official build compiles protected mode
#   off; Debian's binary keeps it on, so the option is passed instead)
# - umask 0077 when the default 0022 is in effect
set -e

if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
  set -- redis-server "$@"
fi

if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
  find . \! -user redis -exec chown redis '{}' +
  exec gosu redis "$0" "$@"
fi

if [ "$1" = redis-server ]; then
  has_conf=
  has_pm=
  if [ "${2:-}" != "" ] && [ "${2#-}" = "$2" ]; then
    has_conf=1   # redis-server /path/to/redis.conf [options]
  fi
  for a in "$@"; do
    [ "$a" = --protected-mode ] && has_pm=1
  done
  if [ -z "$has_conf" ] && [ -z "$has_pm" ]; then
    set -- "$@" --protected-mode no
  fi
fi

um="$(umask)"
if [ "$um" = 0022 ]; then
  umask 0077
fi

exec "$@"
