#!/usr/bin/env bash
# Page speed: the pricing page and the personal account against a bare Django view, in one
# run, served by gunicorn on PostgreSQL in production mode (DEBUG off), measured with wrk
# on the loopback interface. Prints req/s and p99 for each page and the ratios to the bare
# view (targets: pricing >= 60 %, account >= 40 %).
#
#   bash bench/pages.sh                  # DATABASE_URL defaults to a local soldee_pages_bench
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/soldee_pages_bench PAYMENTS=100 DURATION=10 \
#     WORKERS=2 CONNECTIONS=16 bash bench/pages.sh
#
# The pricing page is fetched as a visitor (no session), as most of its traffic is; the
# account page as its customer, whose history has PAYMENTS paid payments (receipt and
# acceptance each) — bench/pages_setup.py makes them and prints the cookies a returning
# customer's browser holds (session and CSRF).
# Both pages are served from the page cache (soldee/pagecache.py) as in production, where
# CACHE_URL is Redis; set CACHE_URL=locmemcache:// to measure them without it.
set -euo pipefail
cd "$(dirname "$0")/.."

DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/soldee_pages_bench}"
# The shared cache production uses (Redis): sessions (cached_db) and the page cache need one.
CACHE_URL="${CACHE_URL:-redis://127.0.0.1:6379/12}"
PAYMENTS="${PAYMENTS:-100}"
DURATION="${DURATION:-5}"         # seconds per page and round
ROUNDS="${ROUNDS:-3}"             # interleaved rounds (bare, pricing, account) x ROUNDS
WARMUP="${WARMUP:-2}"             # seconds per page, not measured
WORKERS="${WORKERS:-$(( 2 * $(nproc) + 1 ))}"  # gunicorn sync workers: its guideline, 2 x cores + 1
CONNECTIONS="${CONNECTIONS:-8}"
THREADS="${THREADS:-1}"
PORT="${PORT:-18765}"
PY="${PY:-.venv/bin/python}"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
case "$DATABASE_URL" in postgres*) ;; *) echo "DATABASE_URL must be PostgreSQL" >&2; exit 2 ;; esac

DB_NAME="${DATABASE_URL##*/}"; DB_NAME="${DB_NAME%%\?*}"
ADMIN_URL="${DATABASE_URL%/*}/postgres"
psql "$ADMIN_URL" -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'" | grep -q 1 \
  || psql "$ADMIN_URL" -qc "CREATE DATABASE \"$DB_NAME\""

WORK="$(mktemp -d)"
export DATABASE_URL CACHE_URL DEBUG=0 SOLDEE_EMBEDDED=0 SOLDEE_BENCH_VIEWS=1 SECURE_SSL_REDIRECT=0 \
  SECRET_KEY="${SECRET_KEY:-bench-only-secret-key-not-for-production-0123456789}" \
  ALLOWED_HOSTS=127.0.0.1 SOLDEE_VAR_DIR="$WORK/var" LOG_LEVEL=WARNING
cleanup() { [ -n "${GPID:-}" ] && kill "$GPID" 2>/dev/null && wait "$GPID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

"$PY" manage.py collectstatic --noinput -v0
COOKIES="$("$PY" bench/pages_setup.py --payments "$PAYMENTS" | tail -1)"

.venv/bin/gunicorn soldee.wsgi:application --bind "127.0.0.1:$PORT" --workers "$WORKERS" \
  --log-level warning --error-logfile "$WORK/gunicorn.log" &
GPID=$!
for _ in $(seq 1 50); do
  curl -fsS -o /dev/null "http://127.0.0.1:$PORT/bench/bare/" 2>/dev/null && break; sleep 0.2
done
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $COOKIES" "http://127.0.0.1:$PORT/account/")
[ "$code" = 200 ] || { echo "account page answered $code (expected 200)"; cat "$WORK/gunicorn.log"; exit 1; }

measure() {  # name path [cookie]
  local name=$1 path=$2 cookie=${3:-}
  local args=(-t"$THREADS" -c"$CONNECTIONS" --latency --timeout 10s)
  [ -n "$cookie" ] && args+=(-H "Cookie: $cookie")
  [ "$WARMUP" != 0 ] && wrk "${args[@]}" -d"${WARMUP}s" "http://127.0.0.1:$PORT$path" >/dev/null
  wrk "${args[@]}" -d"${DURATION}s" "http://127.0.0.1:$PORT$path" >"$WORK/$name.txt"
  if grep -q "Non-2xx" "$WORK/$name.txt"; then echo "$name: non-2xx answers"; cat "$WORK/$name.txt"; exit 1; fi
  grep -q "Socket errors" "$WORK/$name.txt" && echo "$name: $(grep 'Socket errors' "$WORK/$name.txt" | xargs)"
  [ -n "${VERBOSE:-}" ] && cat "$WORK/$name.txt"
  return 0
}
# Interleaved rounds: this shared machine's speed drifts by +-20 % within a minute, so the
# three pages are measured one after another, ROUNDS times, and each round gives its ratios.
for round in $(seq 1 "$ROUNDS"); do
  measure "bare.$round" /bench/bare/
  measure "pricing.$round" /pricing/
  measure "account.$round" /account/ "$COOKIES"
  WARMUP=0
done

"$PY" - "$WORK" "$PAYMENTS" "$DURATION" "$WORKERS" "$CONNECTIONS" "$ROUNDS" <<'EOF'
import re, statistics, sys
from pathlib import Path

work, payments, duration, workers, conns, rounds = sys.argv[1:]
rounds = int(rounds)
def parse(name):
    text = Path(work, f"{name}.txt").read_text()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    value, unit = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", text, re.M).groups()
    p99 = float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
    return rps, p99

pages = ("bare", "pricing", "account")
runs = {name: [parse(f"{name}.{r}") for r in range(1, rounds + 1)] for name in pages}
print(f"gunicorn {workers} sync workers, wrk {conns} connections, {rounds} interleaved rounds of "
      f"{duration} s per page, account with {payments} payments, PostgreSQL, DEBUG off")
print(f"{'page':<10}{'req/s':>10}{'p99 ms':>10}{'of bare':>10}  target     (ratio per round)")
targets = {"pricing": 0.60, "account": 0.40}
ok = True
for name in pages:
    rps = statistics.median(r for r, _ in runs[name])
    p99 = statistics.median(p for _, p in runs[name])
    ratios = [runs[name][i][0] / runs["bare"][i][0] for i in range(rounds)]
    ratio = statistics.median(ratios)
    target = targets.get(name)
    mark = "" if target is None else (f"{target:.0%}" + (" ok" if ratio >= target else " MISSED"))
    ok &= target is None or ratio >= target
    each = " ".join(f"{x:.0%}" for x in ratios)
    print(f"{name:<10}{rps:>10.1f}{p99:>10.1f}{ratio:>10.0%}  {mark:<10} ({each})")
sys.exit(0 if ok else 1)
EOF
