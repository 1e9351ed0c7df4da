# Sourced by the A/B scripts (bench-ab.sh, bench-modes-ab.sh): `work`, a
# temporary folder for the two revisions' worktrees (`$work/a`, `$work/b`),
# and `remove_worktrees`, which each script's exit trap calls.
work=$(mktemp -d)
remove_worktrees() {
    git worktree remove --force "$work/a" 2>/dev/null || true
    git worktree remove --force "$work/b" 2>/dev/null || true
    rm -rf "$work"
}
