#!/bin/sh
# Back up strigil's two stores into one dated folder (docs/deploy.md, "Backups").
#   STRIGIL_DATABASE_URL   the metadata database (postgresql://… as strigil uses it)
#   INFLUX_RPC             influxd's backup/restore address (bind-address in influxdb.conf)
#   BACKUP_DIR             where the dated folder goes
set -eu
: "${STRIGIL_DATABASE_URL:?}" "${INFLUX_RPC:=127.0.0.1:8088}" "${BACKUP_DIR:?}"
INFLUX_DB="${STRIGIL_INFLUX_DATABASE:-strigil}"
dest="$BACKUP_DIR/strigil-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$dest"
# pg_dump speaks libpq URLs: drop SQLAlchemy's "+psycopg"
pg_dump --format=custom --file="$dest/metadata.pgdump" "$(echo "$STRIGIL_DATABASE_URL" | sed 's/+psycopg//')"
influxd backup -portable -host "$INFLUX_RPC" -db "$INFLUX_DB" "$dest/influx" >"$dest/influx.log" 2>&1
echo "$dest"
