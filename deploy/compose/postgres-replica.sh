#!/bin/bash
# A hot standby of the `postgres` service: cloned once with pg_basebackup, then streaming.
set -euo pipefail
PGDATA=${PGDATA:-/var/lib/postgresql/data}
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  until pg_basebackup -h postgres -U replicator -D "$PGDATA" -X stream -R -P; do
    echo "replica: waiting for the primary"; sleep 2
  done
  chmod 700 "$PGDATA"
fi
exec postgres -c hot_standby=on
