#!/usr/bin/env bash
# Compares two revisions' paired ratios (quickmc / raw, from
# benches/quickmc.rs) by alternating their bench binaries round by round,
# so a change in the machine's load weighs on both alike. On a noisy
# machine this is the way to tell a 3% change from noise (take 3-5 rounds):
#   ./scripts/bench-ab.sh REV_A REV_B FILTER [ROUNDS]
#   ./scripts/bench-ab.sh session2-start HEAD '^single/get/quickmc$' 5
# FEATURES (default none) are passed to both builds, e.g. FEATURES=tls,tokio
# for the tls/ and modes/ groups (revisions that lack them fail to build).
# Prints one line of ratios per revision per round.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 3 ]; then
    sed -n '2,10p' "$0"
    exit 2
fi
rev_a=$1 rev_b=$2 filter=$3 rounds=${4:-3}
export PATH="$HOME/.cargo/bin:$PATH"
# A target directory per side, kept between runs (cargo names both sides'
# binaries alike, and each bench writes its ratios under its own tree).
targets="$PWD/target/bench-ab"
source scripts/ab-worktrees.sh
trap remove_worktrees EXIT

# Checks out `rev` into `dir` and prints the path of its bench binary.
build() {
    local rev=$1 dir=$2
    git worktree add --detach -q "$dir" "$rev"
    (cd "$dir" && CARGO_TARGET_DIR="$targets/$(basename "$dir")" \
        cargo bench -q --bench quickmc --features "${FEATURES:-}" --no-run \
        --message-format=json) | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "quickmc" \
            and "bench" in m["target"]["kind"] and m.get("executable"):
        print(m["executable"])' | tail -n 1
    # The bench writes its ratios under the tree it was built from.
    mkdir -p "$dir/target/criterion"
}

bin_a=$(build "$rev_a" "$work/a")
bin_b=$(build "$rev_b" "$work/b")
for round in $(seq 1 "$rounds"); do
    for side in a b; do
        dir=$work/$side
        bin=bin_$side
        rev=rev_$side
        rm -f "$dir/target/criterion/paired.json"
        (cd "$dir" && "${!bin}" --bench "$filter" > "$dir/bench.log" 2>&1)
        ratios=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(" ".join(f"{k}={v:.3f}" for k, v in sorted(d.items())))' "$dir/target/criterion/paired.json")
        echo "round $round ${!rev}: $ratios"
    done
done
