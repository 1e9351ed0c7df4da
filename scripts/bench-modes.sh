#!/usr/bin/env bash
# Compares the client's modes side by side on one memcached (-t 2, on
# 127.0.0.1): pooled, pipelined and async `quickmc bench` runs alternated
# with memcaslap (libmemcached's load generator), ROUNDS rounds, medians
# printed as ratios to the pooled client. Defaults: 16 concurrent callers,
# 100 B values, 9:1 get:set, 5 s a run, 3 rounds.
#   ./scripts/bench-modes.sh [concurrency] [seconds] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --tests
export PATH="$HOME/.cargo/bin:$PATH"
CONCURRENCY=${1:-16}
SECONDS_PER_RUN=${2:-5}
ROUNDS=${3:-3}
cargo build --quiet --release --features cli
command -v memcaslap >/dev/null || { apt-get update -qq && apt-get install -y -qq libmemcached-tools; }

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
memcached -u nobody -l 127.0.0.1 -p "$PORT" -t 2 -m 512 -U 0 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null' EXIT
sleep 0.5
OUT=$(mktemp -d)
./target/release/quickmc --servers "127.0.0.1:$PORT" bench --prefill --ops 1 --warmup 0 --quiet >/dev/null

for round in $(seq "$ROUNDS"); do
  for mode in pooled pipelined async; do
    ./target/release/quickmc --json --servers "127.0.0.1:$PORT" bench --mode "$mode" \
      --concurrency "$CONCURRENCY" --duration "$SECONDS_PER_RUN" --ratio 9:1 --value-size 100 \
      >"$OUT/$mode.$round.json"
  done
  timeout $((SECONDS_PER_RUN + 30)) memcaslap -s "127.0.0.1:$PORT" -T 4 -c "$CONCURRENCY" -X 100 -B \
    -t "${SECONDS_PER_RUN}s" >"$OUT/memcaslap.$round.txt" 2>&1 || true
done

python3 - "$OUT" "$ROUNDS" <<'PY'
import json, re, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
def runs(mode):
    rows = []
    for r in range(1, rounds + 1):
        if mode == "memcaslap":
            text = open(f"{out}/memcaslap.{r}.txt").read()
            tps = re.findall(r"TPS: (\d+)", text)
            rows.append((float(tps[-1]) if tps else 0.0, None))
        else:
            d = json.load(open(f"{out}/{mode}.{r}.json"))
            rows.append((d["throughput"], d["latency_us"]["p99"]))
    return rows
table = {m: runs(m) for m in ["pooled", "pipelined", "async", "memcaslap"]}
base = statistics.median(t for t, _ in table["pooled"])
print(f"{'mode':<10} {'ops/s (each round)':<32} {'median':>9} {'vs pooled':>9} {'p99 µs (median)':>16}")
for mode, rows in table.items():
    tps = [t for t, _ in rows]
    p99 = [p for _, p in rows if p is not None]
    med = statistics.median(tps)
    p99s = f"{statistics.median(p99):.0f}" if p99 else "-"
    each = " ".join(f"{t:,.0f}" for t in tps)
    print(f"{mode:<10} {each:<32} {med:>9,.0f} {med / base:>8.2f}x {p99s:>16}")
print(f"async vs memcaslap: {statistics.median(t for t, _ in table['async']) / statistics.median(t for t, _ in table['memcaslap']):.2f}x")
PY
