#!/usr/bin/env bash
# Compares two revisions' `quickmc bench` under many callers (the pipelined
# or async mode, say) on one memcached (-t 2, on 127.0.0.1): the two CLI
# binaries alternate run by run, so a change in the machine's load weighs
# on both alike, and the medians and the median of the paired ratios are
# printed. With `perf` installed, each run also counts context switches,
# futex calls and sends per operation: on a noisy machine these move far
# less than throughput does, so they show a change to the shared drivers
# first (take 15 rounds or more for throughput).
#   ./scripts/bench-modes-ab.sh REV_A REV_B [MODE] [CONCURRENCY] [ROUNDS] [SECONDS]
#   ./scripts/bench-modes-ab.sh main HEAD pipelined 16 15 3
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then
    sed -n '2,11p' "$0"
    exit 2
fi
rev_a=$1 rev_b=$2 mode=${3:-pipelined} concurrency=${4:-16} rounds=${5:-15} seconds=${6:-3}
export PATH="$HOME/.cargo/bin:$PATH"
command -v memcached >/dev/null || { apt-get update -qq && apt-get install -y -qq memcached; }
targets="$PWD/target/bench-modes-ab"
source scripts/ab-worktrees.sh
server=""
cleanup() {
    if [ -n "$server" ]; then
        kill "$server" 2>/dev/null || true
    fi
    remove_worktrees
}
trap cleanup EXIT

# Checks out `rev` into `dir`, builds its CLI and copies it to `dir.bin`.
build() {
    local rev=$1 dir=$2
    git worktree add --detach -q "$dir" "$rev"
    (cd "$dir" && CARGO_TARGET_DIR="$targets/$(basename "$dir")" \
        cargo build -q --release --features cli,tls,tokio)
    cp "$targets/$(basename "$dir")/release/quickmc" "$dir.bin"
}
build "$rev_a" "$work/a"
build "$rev_b" "$work/b"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
memcached -u nobody -l 127.0.0.1 -p "$port" -t 2 -m 512 -U 0 &
server=$!
sleep 0.5
"$work/a.bin" --servers "127.0.0.1:$port" bench --prefill --ops 1 --warmup 0 --quiet >/dev/null

counting=()
if perf stat -e context-switches true >/dev/null 2>&1; then
    counting=(perf stat -x, -o "$work/perf.txt" -e context-switches,syscalls:sys_enter_futex,syscalls:sys_enter_sendto)
fi
for round in $(seq 1 "$rounds"); do
    for side in a b; do
        rm -f "$work/perf.txt"
        "${counting[@]}" "$work/$side.bin" --json --servers "127.0.0.1:$port" bench --mode "$mode" \
            --concurrency "$concurrency" --duration "$seconds" --ratio 9:1 --value-size 100 \
            >"$work/$side.$round.json"
        if [ -f "$work/perf.txt" ]; then
            cp "$work/perf.txt" "$work/$side.$round.perf"
        fi
    done
done

python3 - "$work" "$rounds" "$rev_a" "$rev_b" <<'PY'
import json, os, statistics, sys
work, rounds, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:5]
rows = {side: [] for side in "ab"}
for side in "ab":
    for r in range(1, rounds + 1):
        run = json.load(open(f"{work}/{side}.{r}.json"))
        counts = {}
        perf = f"{work}/{side}.{r}.perf"
        if os.path.exists(perf):
            for line in open(perf):
                fields = line.strip().split(",")
                if len(fields) > 2 and fields[0].replace(".", "").isdigit():
                    name = fields[2].split(":")[-1].replace("sys_enter_", "")
                    counts[name] = float(fields[0]) / run["operations"]
        rows[side].append((run["throughput"], run["latency_us"]["p99"], counts))
print(f"{'revision':<20} {'ops/s (median)':>14} {'p99 µs':>8}  per operation (medians)")
for side, name in zip("ab", names):
    tps = statistics.median(t for t, _, _ in rows[side])
    p99 = statistics.median(p for _, p, _ in rows[side])
    keys = rows[side][0][2].keys()
    counts = " ".join(f"{k} {statistics.median(c[k] for _, _, c in rows[side]):.2f}" for k in keys)
    print(f"{name:<20} {tps:>14,.0f} {p99:>8.0f}  {counts}")
paired = [b[0] / a[0] for a, b in zip(rows["a"], rows["b"])]
wins = sum(p > 1 for p in paired)
print(f"{names[1]} / {names[0]}: paired median {statistics.median(paired):.3f}x "
      f"({wins} of {rounds} rounds higher)")
PY
