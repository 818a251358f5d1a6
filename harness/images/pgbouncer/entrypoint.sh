#!/bin/sh
# Like edoburu/pgbouncer's entrypoint with its configuration mounted: run the command.
set -e
echo "Starting $*..."
exec "$@"
