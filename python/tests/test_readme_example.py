"""pylibmc's documented example runs unchanged after `import quickmc as
pylibmc` and prints the same results as with the real pylibmc."""

from __future__ import annotations

import pathlib
import subprocess
import sys

SCRIPT = pathlib.Path(__file__).with_name("pylibmc_readme_example.py")


def run(source: str, server: str, tmp_path) -> str:
    path = tmp_path / "example.py"
    path.write_text(source)
    done = subprocess.run([sys.executable, str(path), server], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_readme_example_gives_the_same_results(server, tmp_path, pylibmc, quickmc):
    source = SCRIPT.read_text()
    assert source.count("\nimport pylibmc\n") == 1
    switched = source.replace("\nimport pylibmc\n", "\nimport quickmc as pylibmc\n")
    theirs = run(source, server.address, tmp_path)
    ours = run(switched, server.address, tmp_path)
    assert "Some value" in theirs and "NotFound raised" in theirs
    # pylibmc reports tcp_nodelay as set; compare everything.
    assert ours == theirs
