#!/bin/sh
# Restore a folder written by backup.sh into empty stores (docs/deploy.md, "Restore").
#   $1                     the backup folder
#   STRIGIL_DATABASE_URL   an empty metadata database
#   INFLUX_RPC             influxd's backup/restore address; its database must not exist yet
set -eu
src="${1:?the folder backup.sh printed}"
: "${STRIGIL_DATABASE_URL:?}" "${INFLUX_RPC:=127.0.0.1:8088}"
INFLUX_DB="${STRIGIL_INFLUX_DATABASE:-strigil}"
pg_restore --no-owner --dbname="$(echo "$STRIGIL_DATABASE_URL" | sed 's/+psycopg//')" "$src/metadata.pgdump"
influxd restore -portable -host "$INFLUX_RPC" -db "$INFLUX_DB" "$src/influx" >"$src/restore.log" 2>&1
echo "restored $src"
