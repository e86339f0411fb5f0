#!/usr/bin/env bash
# The production shape as processes, without Docker: a real Temporal server
# (go.temporal.io/server at the go.mod version, the one docker-compose.yml
# names) on Postgres, its schemas set up by Temporal's own SQL schema tool,
# then two workers and two API processes (starters) on an app database in
# the same Postgres. docs/deployment.md explains each step.
#
#   deploy/local-cluster.sh up      # build, set up and start everything
#   deploy/local-cluster.sh down    # stop it (databases are kept)
#   deploy/local-cluster.sh reset   # stop it and drop its databases
#
# Settings (environment): PGURL (postgres://user[:password]@host:port,
# default postgres://postgres@127.0.0.1:5432), CLUSTER_DIR (binaries, config,
# logs, pids; default /tmp/cspmarket-cluster), CLUSTER_DB_PREFIX (default
# cspmarket), CLUSTER_PORT_BASE (default 17000, at most 31828: Temporal
# 17233..., APIs 18081 and 18082, worker metrics 19091 and 19092);
# connection pools: TEMPORAL_SQL_MAX_CONNS (default 8) and
# TEMPORAL_VISIBILITY_MAX_CONNS (4) per Temporal service, DATABASE_MAX_CONNS
# (8, at least 2) per API and worker process; `up` refuses pools that could
# together open more connections than Postgres accepts.
# TEMPORAL_HISTORY_CACHE_SIZE (default 4096): workflows the Temporal
# server keeps in memory.
set -euo pipefail
cd "$(dirname "$0")/.."

PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432}
DIR=${CLUSTER_DIR:-/tmp/cspmarket-cluster}
PREFIX=${CLUSTER_DB_PREFIX:-cspmarket}
BASE=${CLUSTER_PORT_BASE:-17000}
TEMPORAL_DB=${PREFIX}_temporal
VISIBILITY_DB=${PREFIX}_temporal_visibility
APP_DB=${PREFIX}_app
TEMPORAL_SQL_MAX_CONNS=${TEMPORAL_SQL_MAX_CONNS:-8}
TEMPORAL_VISIBILITY_MAX_CONNS=${TEMPORAL_VISIBILITY_MAX_CONNS:-4}
DATABASE_MAX_CONNS=${DATABASE_MAX_CONNS:-8}
TEMPORAL_HISTORY_CACHE_SIZE=${TEMPORAL_HISTORY_CACHE_SIZE:-4096}
FRONTEND=$((BASE + 233))
API1=$((BASE + 1081))
API2=$((BASE + 1082))

# PGURL is postgres://user[:password]@host:port with no path, and a user,
# password and host of letters, digits and . _ - only (they go into a
# YAML file and onto command lines as they are).
if [[ ! "$PGURL" =~ ^postgres(ql)?://([A-Za-z0-9._-]+)(:([A-Za-z0-9._-]+))?@([A-Za-z0-9._-]+):([0-9]+)$ ]]; then
  echo "PGURL=$PGURL: want postgres://user[:password]@host:port (letters, digits, . _ - only)" >&2
  exit 2
fi
PGUSER_=${BASH_REMATCH[2]}; PGPASSWORD_=${BASH_REMATCH[4]}; PGHOST_=${BASH_REMATCH[5]}; PGPORT_=${BASH_REMATCH[6]}
if [[ ! "$PREFIX" =~ ^[a-z_][a-z0-9_]*$ ]]; then
  echo "CLUSTER_DB_PREFIX=$PREFIX: want lower-case letters, digits and _" >&2
  exit 2
fi
for name in TEMPORAL_SQL_MAX_CONNS TEMPORAL_VISIBILITY_MAX_CONNS DATABASE_MAX_CONNS TEMPORAL_HISTORY_CACHE_SIZE; do
  if [[ ! "${!name}" =~ ^[1-9][0-9]{0,5}$ ]]; then
    echo "$name=${!name}: want a whole number of at least 1" >&2
    exit 2
  fi
done
if [ "$DATABASE_MAX_CONNS" -lt 2 ]; then
  echo "DATABASE_MAX_CONNS=$DATABASE_MAX_CONNS: want at least 2 (a migration holds one connection for its lock and works on another)" >&2
  exit 2
fi
# Temporal keeps membership ports (BASE+933..939) in a SMALLINT column.
if [[ ! "$BASE" =~ ^[0-9]+$ ]] || [ "$BASE" -lt 1024 ] || [ $((BASE + 939)) -gt 32767 ]; then
  echo "CLUSTER_PORT_BASE=$BASE: want 1024..31828 (Temporal stores its membership ports, base+933..939, as SMALLINT)" >&2
  exit 2
fi

log() { printf '[cluster] %s\n' "$*"; }

# Every pool is opened in full under load (an idle connection is kept), so
# their sum must fit in what Postgres accepts: each of Temporal's four
# services (frontend, history, matching, worker) has a pool on each of its
# two databases, and each API and worker process one on the app database.
# With 20 everywhere, a fill at 11 000 subscriptions reached Postgres's
# 100 and requests failed with "sorry, too many clients already".
check_connection_budget() {
  local max reserved others ours
  # -X: no ~/.psqlrc, whose settings would add lines to the answers.
  read -r max reserved others < <(psql -X "$PGURL/postgres" -qtA -F ' ' -c "SELECT
      current_setting('max_connections'),
      current_setting('superuser_reserved_connections')::int
        + coalesce(current_setting('reserved_connections', true), '0')::int,
      (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'
         AND datname NOT IN ('$TEMPORAL_DB', '$VISIBILITY_DB', '$APP_DB'))") || true
  if [[ ! "$max" =~ ^[0-9]+$ || ! "$reserved" =~ ^[0-9]+$ || ! "$others" =~ ^[0-9]+$ ]]; then
    echo "could not read max_connections from $PGURL/postgres" >&2
    exit 1
  fi
  ours=$((4 * (TEMPORAL_SQL_MAX_CONNS + TEMPORAL_VISIBILITY_MAX_CONNS) + 4 * DATABASE_MAX_CONNS))
  if [ "$ours" -gt $((max - reserved - others - 5)) ]; then
    echo "the pools can open $ours Postgres connections (Temporal: 4 services x ($TEMPORAL_SQL_MAX_CONNS + $TEMPORAL_VISIBILITY_MAX_CONNS), app: 4 processes x $DATABASE_MAX_CONNS)" >&2
    echo "but Postgres accepts $max, $reserved of them reserved, $others held by other clients now, and 5 are left for psql and maintenance:" >&2
    echo "raise max_connections or lower TEMPORAL_SQL_MAX_CONNS, TEMPORAL_VISIBILITY_MAX_CONNS or DATABASE_MAX_CONNS" >&2
    exit 2
  fi
  log "connections: at most $ours of Postgres's $max ($others held by other clients; Temporal 4 x ($TEMPORAL_SQL_MAX_CONNS + $TEMPORAL_VISIBILITY_MAX_CONNS), app 4 x $DATABASE_MAX_CONNS)"
}

stop_all() {
  for pidfile in "$DIR"/*.pid; do
    [ -e "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

wait_http() { # url seconds
  for _ in $(seq 1 $(($2 * 5))); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "$1 did not answer within $2 s" >&2; return 1
}

start() { # name command...
  local name=$1; shift
  ( "$@" >"$DIR/$name.log" 2>&1 & echo $! >"$DIR/$name.pid" )
  log "$name started (pid $(cat "$DIR/$name.pid"), log $DIR/$name.log)"
}

alive() { # name: fail with its log when the process has exited
  kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null && return 0
  echo "$1 exited:" >&2; tail -n 20 "$DIR/$1.log" >&2; return 1
}

app_env() {
  export TEMPORAL_ADDRESS=127.0.0.1:$FRONTEND TEMPORAL_NAMESPACE=default
  export DATABASE_URL="$PGURL/$APP_DB?sslmode=disable"
  export SECRETS_KEY=${SECRETS_KEY:-Y2x1c3Rlci10ZXN0LWtleS0zMi1ieXRlcy1sb25nISE=}
  export DATA_DIR="$DIR/data" LOG_LEVEL=${LOG_LEVEL:-warn} DATABASE_MAX_CONNS
}

up() {
  mkdir -p "$DIR/data"
  check_connection_budget
  stop_all
  log "building the Temporal server, its SQL schema tool and the product"
  go build -o "$DIR/temporal-server" go.temporal.io/server/cmd/server
  go build -o "$DIR/temporal-sql-tool" go.temporal.io/server/cmd/tools/sql
  go build -o "$DIR/starter" ./starter
  go build -o "$DIR/worker" ./worker

  log "schemas (Temporal's SQL schema tool, embedded postgresql/v12 schemas)"
  sqltool=("$DIR/temporal-sql-tool" --plugin postgres12 --ep "$PGHOST_" -p "$PGPORT_" -u "$PGUSER_")
  [ -n "$PGPASSWORD_" ] && sqltool+=(--pw "$PGPASSWORD_")
  for pair in "$TEMPORAL_DB:postgresql/v12/temporal" "$VISIBILITY_DB:postgresql/v12/visibility"; do
    db=${pair%%:*}; schema=${pair#*:}
    # create and setup are no-ops on a database set up before (-q);
    # update brings it to the schema this server version embeds.
    {
      "${sqltool[@]}" -q --db "$db" create-database
      "${sqltool[@]}" -q --db "$db" setup-schema -v 0.0
      "${sqltool[@]}" --db "$db" update-schema --schema-name "$schema"
    } >"$DIR/schema-$db.log" 2>&1 || { tail -n 20 "$DIR/schema-$db.log"; exit 1; }
    # No "Schema updated" line when the schema was current: grep finds
    # nothing, which must not end the script (set -e, pipefail).
    from=$(grep -o 'Schema updated from [0-9.]*' "$DIR/schema-$db.log" | head -n1 | awk '{print $4}' || true)
    to=$(grep -o 'Schema updated from [0-9.]* to [0-9.]*' "$DIR/schema-$db.log" | tail -n1 | awk '{print $6}' || true)
    if [ -n "$to" ]; then log "$db: schema $from -> $to"; else log "$db: schema already current"; fi
  done
  psql "$PGURL/postgres" -qtAc "SELECT 1 FROM pg_database WHERE datname='$APP_DB'" | grep -q 1 ||
    psql "$PGURL/postgres" -qc "CREATE DATABASE \"$APP_DB\""

  mkdir -p "$DIR/config"
  cat >"$DIR/config/dynamicconfig.yaml" <<EOF
system.enableActivityEagerExecution:
  - value: true
# The transfer queue's reader polls each shard at most 20 times a second
# by default: under load every new workflow task waited for the next poll.
history.transferProcessorMaxPollRPS:
  - value: 200
# The history service caches the workflows it touched (an hour, up to
# 128 000 of them by default): with every subscription a workflow, the
# server's memory grew with the subscriptions (697 MiB at 10 000 during a
# fill). A workflow not cached is read from Postgres on its next task.
history.hostLevelCacheMaxSize:
  - value: $TEMPORAL_HISTORY_CACHE_SIZE
EOF
  cat >"$DIR/config/production.yaml" <<EOF
log:
  stdout: true
  level: warn
persistence:
  defaultStore: default
  visibilityStore: visibility
  numHistoryShards: 4
  datastores:
    default:
      sql:
        pluginName: postgres12
        databaseName: $TEMPORAL_DB
        connectAddr: "$PGHOST_:$PGPORT_"
        connectProtocol: tcp
        user: "$PGUSER_"
        password: "$PGPASSWORD_"
        maxConns: $TEMPORAL_SQL_MAX_CONNS
        maxIdleConns: $TEMPORAL_SQL_MAX_CONNS
        maxConnLifetime: 1h
    visibility:
      sql:
        pluginName: postgres12
        databaseName: $VISIBILITY_DB
        connectAddr: "$PGHOST_:$PGPORT_"
        connectProtocol: tcp
        user: "$PGUSER_"
        password: "$PGPASSWORD_"
        maxConns: $TEMPORAL_VISIBILITY_MAX_CONNS
        maxIdleConns: $TEMPORAL_VISIBILITY_MAX_CONNS
        maxConnLifetime: 1h
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
services:
  frontend:
    rpc: {grpcPort: $FRONTEND, membershipPort: $((BASE + 933)), bindOnLocalHost: true, httpPort: $((BASE + 243))}
  matching:
    rpc: {grpcPort: $((BASE + 235)), membershipPort: $((BASE + 935)), bindOnLocalHost: true}
  history:
    rpc: {grpcPort: $((BASE + 234)), membershipPort: $((BASE + 934)), bindOnLocalHost: true}
  worker:
    rpc: {grpcPort: $((BASE + 239)), membershipPort: $((BASE + 939)), bindOnLocalHost: true}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: "127.0.0.1:$FRONTEND"
      httpAddress: "127.0.0.1:$((BASE + 243))"
dcRedirectionPolicy:
  policy: noop
dynamicConfigClient:
  filepath: "$DIR/config/dynamicconfig.yaml"
  pollInterval: 10s
EOF
  start temporal "$DIR/temporal-server" --config-file "$DIR/config/production.yaml" --allow-no-auth start
  # Until the frontend listens, the server must still be running: a fatal
  # start (a port taken, a database refused) is reported with its log.
  for _ in $(seq 1 300); do
    if ! kill -0 "$(cat "$DIR/temporal.pid")" 2>/dev/null; then
      echo "the Temporal server exited during start-up:" >&2; tail -n 20 "$DIR/temporal.log" >&2; exit 1
    fi
    (exec 3<>"/dev/tcp/127.0.0.1/$FRONTEND") 2>/dev/null && break
    sleep 0.2
  done
  app_env
  "$DIR/starter" temporal setup

  # The first starter migrates the app database and seeds the dev
  # fixtures (tokens the smoke test uses); the second finds it ready.
  HTTP_ADDR=127.0.0.1:$API1 DEV_SEED=true NOTIFY_ALLOW_LOOPBACK=true start api-1 "$DIR/starter"
  wait_http "http://127.0.0.1:$API1/healthz" 60
  HTTP_ADDR=127.0.0.1:$API2 DEV_SEED=false start api-2 "$DIR/starter"
  METRICS_ADDR=127.0.0.1:$((BASE + 2091)) start worker-1 "$DIR/worker"
  METRICS_ADDR=127.0.0.1:$((BASE + 2092)) start worker-2 "$DIR/worker"
  wait_http "http://127.0.0.1:$API2/healthz" 60
  wait_http "http://127.0.0.1:$((BASE + 2091))/metrics" 30
  wait_http "http://127.0.0.1:$((BASE + 2092))/metrics" 30
  # Something else answering on a port must not pass for ours.
  for p in temporal api-1 api-2 worker-1 worker-2; do alive "$p"; done
  log "up: APIs http://127.0.0.1:$API1 and http://127.0.0.1:$API2, Temporal 127.0.0.1:$FRONTEND, worker metrics :$((BASE + 2091)) :$((BASE + 2092))"
}

reset() {
  stop_all
  for db in "$TEMPORAL_DB" "$VISIBILITY_DB" "$APP_DB"; do
    psql "$PGURL/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"
  done
  rm -rf "$DIR"
}

case "${1:-}" in
  up) up ;;
  down) stop_all ;;
  reset) reset ;;
  *) echo "usage: $0 up|down|reset" >&2; exit 2 ;;
esac
