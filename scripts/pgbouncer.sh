#!/usr/bin/env bash
# A PgBouncer in front of the local PostgreSQL, as Supabase's and Neon's poolers sit in front of theirs: Debian's
# package (1.18, which keeps no prepared statement across transactions: the strictest case), in transaction mode with
# a small pool. Installs it where it is missing, starts it unless one already answers, prints its URL.
#   scripts/pgbouncer.sh [PORT=6432] [MODE=transaction]
# Every database of 127.0.0.1:5432 is reachable through it by name: postgres://postgres@127.0.0.1:PORT/NAME.
set -euo pipefail
port=${1:-6432}
mode=${2:-transaction}
if ! command -v pgbouncer >/dev/null && [ ! -x /usr/sbin/pgbouncer ]; then
  echo "pgbouncer is not installed: installing Debian's package" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null
fi
url="postgres://postgres@127.0.0.1:$port/postgres"
if pg_isready -q -h 127.0.0.1 -p "$port" 2>/dev/null; then echo "$url"; exit 0; fi
dir=$(mktemp -d /tmp/clerk-user-sync-pgbouncer.XXXXXX)
echo '"postgres" ""' >"$dir/userlist.txt"
cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=5432
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
; roles not listed there (a test's own) are looked up in PostgreSQL as this user
auth_user = postgres
pool_mode = $mode
default_pool_size = 5
max_client_conn = 1000
; a server connection idle this long is closed, as hosted poolers do
server_idle_timeout = 10
ignore_startup_parameters = extra_float_digits,options
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
chown -R postgres "$dir"
# PgBouncer refuses to run as root: -u drops to the postgres user.
if [ "$(id -u)" = 0 ]; then user=(-u postgres); else user=(); fi
"$(command -v pgbouncer || echo /usr/sbin/pgbouncer)" -d "${user[@]}" "$dir/pgbouncer.ini"
for _ in $(seq 50); do pg_isready -q -h 127.0.0.1 -p "$port" && break; sleep 0.1; done
pg_isready -q -h 127.0.0.1 -p "$port" || { echo "pgbouncer did not start: $dir/pgbouncer.log" >&2; cat "$dir/pgbouncer.log" >&2; exit 1; }
echo "$url"
