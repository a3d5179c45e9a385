#!/usr/bin/env bash
# Install what shoal's demo and tests need on Debian 12: system packages, services, venv.
# Idempotent; does only what is missing. Run by `make test` / `make demo`.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PKGS=(docker-registry skopeo python3-venv git postgresql redis-server)
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Debian package enables a system registry on :5000 under systemd; shoal never uses it.

# PostgreSQL and Redis for the service tests: start them (loopback only) if not running.
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "bootstrap: starting PostgreSQL"
  for v in $(ls /etc/postgresql 2>/dev/null); do
    pg_ctlcluster --skip-systemctl-redirect "$v" main start || true
  done
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "bootstrap: starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /tmp --logfile /tmp/shoal-redis.log || true
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "bootstrap: pip install -e .[dev]"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]'
  touch "$stamp"
fi

# Tests and benchmarks log in to PostgreSQL as `postgres` over 127.0.0.1. Debian's default
# pg_hba.conf asks for a password there and the role has none: give it a random one, kept
# (mode 0600) in .venv/pgpass, which the Makefile hands to libpq as PGPASSFILE.
PG_PORT=${SHOAL_BOOTSTRAP_PG_PORT:-5432}
pg_login() {
  PGPASSFILE=.venv/pgpass PGCONNECT_TIMEOUT=5 psql -X -Atq \
    "host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres" -c 'select 1' >/dev/null 2>&1
}
if pg_isready -q -h 127.0.0.1 -p "$PG_PORT" 2>/dev/null && ! pg_login; then
  echo "bootstrap: PostgreSQL refuses 'postgres' on 127.0.0.1:$PG_PORT; giving it a password in .venv/pgpass"
  pw=$(.venv/bin/python -c 'import secrets; print(secrets.token_hex(24))')
  as_postgres=(runuser -u postgres --)
  [ "$(id -u)" -eq 0 ] || as_postgres=(sudo -u postgres)
  (umask 077 && printf '127.0.0.1:%s:*:postgres:%s\n' "$PG_PORT" "$pw" > .venv/pgpass)
  "${as_postgres[@]}" psql -X -q -p "$PG_PORT" -c "ALTER ROLE postgres PASSWORD '$pw'" >/dev/null
  pg_login || { echo "bootstrap: still cannot log in to PostgreSQL on 127.0.0.1:$PG_PORT" >&2; exit 1; }
fi
