"""Performance benchmark: torchlint against the LibCST parse floor and its peers, side by side.

    python bench/perf.py                                  # both pinned trees, peers installed with pip
    python bench/perf.py --repo pytorch/examples --repeat 5
    python bench/perf.py --mirror-root ~/mirrors --peers-dir ~/.cache/torchlint-peers

For each public tree (pinned commit, its Python files exported into a temporary folder with plain
`git`, or from a local mirror: `--mirror-root DIR` holding git directories named `owner+name`) it
runs, one after the other on the same machine:

- the floor: `libcst.parse_module` over every file (and CPython's `ast.parse`, for scale);
- torchlint with every rule, cold (`--no-cache`, all cores and `-j 1`) and warm (a second run with
  the cache, nothing changed; its output is compared byte for byte with the cold run's);
- the peers TorchFix 0.7.0 (`--select ALL`) and torch-preflight 0.5.0, each installed into its own
  virtual environment (`--peers-dir` keeps them between runs; `--no-peers` skips them);

and the pre-commit case: one file with nothing to find, and a 1,000-line file with findings.

Every command runs in a child process; CPU seconds (user + system, including the child's own
workers), wall seconds and peak RSS come from `os.wait4`. Medians over `--repeat` runs (the peers,
which are slow, run `--peer-repeat` times). The floors and torchlint run in rounds, one of each per
round, so that a machine that slows down or speeds up during the benchmark (a shared or throttled
one) moves both sides of a ratio alike; the ratio to the floor of each round is printed under the
table. Compare ratios, not seconds, between runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

TREES = {
    "huggingface/pytorch-image-models": "aa4b5850c1543fa488abf260f18390eda46cf85d",
    "pytorch/examples": "77f55b912142e11fcfdf5b530231fb9c52f181e8",
}
PEERS = {
    "TorchFix 0.7.0": ("torchfix==0.7.0", ["torchfix", "--select", "ALL"]),
    "torch-preflight 0.5.0": ("torch-preflight==0.5.0", ["torch-preflight", "check", "-q"]),
}
PARSE_FLOOR = """
import sys, libcst
files = open(sys.argv[1], encoding="utf-8").read().splitlines()
for path in files:
    with open(path, encoding="utf-8", errors="surrogateescape") as handle:
        try:
            libcst.parse_module(handle.read())
        except Exception:
            pass
"""
AST_FLOOR = PARSE_FLOOR.replace("libcst.parse_module(handle.read())", "ast.parse(handle.read())").replace(
    "import sys, libcst", "import sys, ast"
)


@dataclass
class Sample:
    cpu: float
    wall: float
    rss_kb: int
    returncode: int
    stdout: bytes = b""


@dataclass
class Row:
    label: str
    samples: list[Sample] = field(default_factory=list)
    note: str = ""

    @property
    def cpu(self) -> float:
        return statistics.median(s.cpu for s in self.samples)

    @property
    def wall(self) -> float:
        return statistics.median(s.wall for s in self.samples)

    @property
    def rss_mb(self) -> float:
        return max(s.rss_kb for s in self.samples) / 1024


CHILD_ENV = dict(os.environ)


def measure(command: list[str], cwd: str | None = None) -> Sample:
    """Run a command; its CPU time (with its reaped workers), wall time and peak RSS."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=CHILD_ENV, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    chunks = []
    while True:  # drain stdout before reaping, so a large output cannot block the child
        chunk = process.stdout.read(1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    return Sample(usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss, process.returncode, b"".join(chunks))


def run_rows(label: str, command: list[str], repeat: int, cwd: str | None = None, before=None) -> Row:
    return run_rounds([(label, command, cwd, before)], repeat)[0]


def run_rounds(specs: list[tuple], repeat: int) -> list[Row]:
    """One Row per (label, command, cwd, before) spec, measured in `repeat` rounds: each round runs
    every command once, in order, so that drift of the machine's speed affects every row alike."""
    rows = [Row(label) for label, *_ in specs]
    for _ in range(repeat):
        for row, (_, command, cwd, before) in zip(rows, specs):
            if before:
                before()
            row.samples.append(measure(command, cwd))
    return rows


# --- trees -----------------------------------------------------------------------------------


def find_git_dir(root: str, name: str) -> str | None:
    base = os.path.join(root, name.replace("/", "+"))
    for directory, subdirs, files in os.walk(base):
        if "HEAD" in files and "objects" in subdirs:
            return directory
    return None


def export_python_files(name: str, commit: str, dest: str, mirror_root: str | None) -> str:
    """The tree's `.py` files at `commit`, written under `dest/owner+name`."""
    tree = os.path.join(dest, name.replace("/", "+"))
    os.makedirs(tree)
    git_dir = find_git_dir(mirror_root, name) if mirror_root else None
    if git_dir is None:
        git_dir = os.path.join(dest, name.replace("/", "+") + ".git")
        subprocess.run(["git", "init", "-q", "--bare", git_dir], check=True)
        subprocess.run(["git", f"--git-dir={git_dir}", "fetch", "-q", "--depth", "1",
                        f"https://github.com/{name}.git", commit], check=True)
    listing = subprocess.run(["git", f"--git-dir={git_dir}", "ls-tree", "-r", "-z", commit],
                             capture_output=True, check=True).stdout
    wanted = []
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, path = entry.partition(b"\t")
        mode, kind, sha = meta.split()
        if kind == b"blob" and mode != b"120000" and path.endswith(b".py"):
            wanted.append((sha.decode(), os.fsdecode(path)))
    # Only the Python blobs are read, so a mirror missing large data files still works.
    batch = subprocess.run(["git", f"--git-dir={git_dir}", "cat-file", "--batch"],
                           input="".join(f"{sha}\n" for sha, _ in wanted).encode(), capture_output=True, check=True).stdout
    offset = 0
    for _, path in wanted:
        header_end = batch.index(b"\n", offset)
        size = int(batch[offset:header_end].split()[2])
        body = batch[header_end + 1 : header_end + 1 + size]
        offset = header_end + 1 + size + 1
        target = os.path.join(tree, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as handle:
            handle.write(body)
    return tree


def python_files(tree: str) -> list[str]:
    found = []
    for root, dirs, files in os.walk(tree):
        dirs.sort()
        found += [os.path.join(root, f) for f in sorted(files) if f.endswith(".py")]
    return found


def count_lines(paths: list[str]) -> int:
    total = 0
    for path in paths:
        with open(path, "rb") as handle:
            total += handle.read().count(b"\n")
    return total


# --- peers -----------------------------------------------------------------------------------


def install_peer(peers_dir: str, requirement: str) -> tuple[str | None, str]:
    """A virtual environment with `requirement`; (its bin folder, or None and why not)."""
    venv = os.path.join(peers_dir, requirement.split("==")[0])
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    done = subprocess.run([python, "-m", "pip", "install", "-q", requirement], capture_output=True, text=True)
    if done.returncode != 0:
        return None, f"pip install {requirement} failed: {done.stderr.strip().splitlines()[-1:]}"
    return os.path.join(venv, "bin"), ""


# --- the benchmark ---------------------------------------------------------------------------


def torchlint(*args: str) -> list[str]:
    return [sys.executable, "-m", "torchlint", "check", "--isolated", "--exit-zero", "--output-format", "concise", *args]


def bench_tree(name: str, tree: str, work: str, args, peer_bins: dict) -> list[Row]:
    files = python_files(tree)
    listing = os.path.join(work, "files.txt")
    with open(listing, "w", encoding="utf-8") as handle:
        handle.write("\n".join(files))
    lines = count_lines(files)
    print(f"\n## {name} @ {TREES[name][:12]}: {len(files)} files, {lines:,} lines", flush=True)
    cache = os.path.join(work, "cache")

    def wipe_cache():
        shutil.rmtree(cache, ignore_errors=True)

    rows = run_rounds([
        ("libcst.parse_module loop (floor)", [sys.executable, "-c", PARSE_FLOOR, listing], None, None),
        ("ast.parse loop", [sys.executable, "-c", AST_FLOOR, listing], None, None),
        ("torchlint cold (--no-cache, all cores)", torchlint("--no-cache", "."), tree, None),
        ("torchlint cold (--no-cache, -j 1)", torchlint("--no-cache", "-j", "1", "."), tree, None),
        ("torchlint cold, writing the cache", torchlint("--cache-dir", cache, "."), tree, wipe_cache),
        ("torchlint warm (cache, nothing changed)", torchlint("--cache-dir", cache, "."), tree, None),
    ], args.repeat)
    cold, warm = rows[2], rows[5]
    same = len({s.stdout for s in cold.samples + warm.samples + rows[3].samples}) == 1
    warm.note = "output identical to cold" if same else "OUTPUT DIFFERS from cold"
    findings = cold.samples[0].stdout.count(b"\n")
    cold.note = f"{max(findings - 1, 0)} findings" if findings else ""
    for label, (requirement, command) in PEERS.items():
        bin_dir = peer_bins.get(label)
        if bin_dir is None:
            row = Row(label, note=peer_bins.get(label + " why", "skipped"))
        else:
            row = run_rows(label, [os.path.join(bin_dir, command[0]), *command[1:], "."], args.peer_repeat, cwd=tree)
        rows.append(row)
    print_table(rows, lines, floor=rows[0], ours=cold)
    for row in rows[2:4]:
        ratios = [s.cpu / f.cpu for s, f in zip(row.samples, rows[0].samples)]
        print(f"{row.label}: CPU/floor per round {' '.join(f'{r:.2f}' for r in ratios)}, "
              f"median {statistics.median(ratios):.2f}")
    return rows


def print_table(rows: list[Row], lines: int, floor: Row, ours: Row) -> None:
    header = f"{'run':42} {'CPU s':>8} {'wall s':>8} {'lines/CPU-s':>12} {'peak RSS MB':>12} {'CPU/floor':>10} {'CPU/torchlint':>14}  note"
    print(header)
    print("-" * len(header))
    for row in rows:
        if not row.samples:
            print(f"{row.label:42} {'-':>8} {'-':>8} {'-':>12} {'-':>12} {'-':>10} {'-':>14}  {row.note}")
            continue
        failed = [s.returncode for s in row.samples if s.returncode not in (0, 1)]
        note = row.note + (f" (exit {failed[0]})" if failed else "")
        print(
            f"{row.label:42} {row.cpu:8.2f} {row.wall:8.2f} {lines / row.cpu if row.cpu else 0:12,.0f} "
            f"{row.rss_mb:12.0f} {row.cpu / floor.cpu:10.2f} {row.cpu / ours.cpu:14.2f}  {note}"
        )


def bench_one_file(work: str, repeat: int) -> list[Row]:
    """The pre-commit case: start-up, a file with nothing to find, a 1,000-line file with findings."""
    clean = os.path.join(work, "clean.py")
    with open(clean, "w", encoding="utf-8") as handle:
        handle.write("import os\n\n\ndef join(a, b):\n    return os.path.join(a, b)\n" * 20)
    busy = os.path.join(work, "busy.py")
    block = (
        "class Items{i}(Dataset):\n    def __getitem__(self, index):\n        return index\n\n\n"
        "def train{i}(model, loader, optimizer):\n    for x, y in loader:\n        loss = model(x).sum()\n"
        "        loss.backward()\n        optimizer.step()\n\n\n"
        "def shapes{i}(x):\n    y = x.transpose(0, 1)\n    z = y.reshape(-1)\n    w = x.unsqueeze(0).repeat(4, 1, 1)\n"
        "    return z, w.sum()\n\n\n"
    )
    text = "import torch\nfrom torch.utils.data import Dataset\n\n\n"
    index = 0
    while text.count("\n") < 1000:
        text += block.format(i=index)
        index += 1
    with open(busy, "w", encoding="utf-8") as handle:
        handle.write(text)
    lines = text.count("\n")
    rows = [
        run_rows("python -c pass (interpreter start-up)", [sys.executable, "-c", "pass"], repeat),
        run_rows("torchlint --version", [sys.executable, "-m", "torchlint", "--version"], repeat),
        run_rows("torchlint check, 1 file, nothing to find", torchlint("--no-cache", clean), repeat),
        run_rows(f"torchlint check, 1 file of {lines} lines with findings", torchlint("--no-cache", busy), repeat),
    ]
    findings = rows[3].samples[0].stdout.count(b"\n")
    rows[3].note = f"{max(findings - 1, 0)} findings"
    print("\n## one file (pre-commit)")
    header = f"{'run':48} {'CPU s':>8} {'wall s':>8} {'peak RSS MB':>12} {'CPU - start-up':>15}  note"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(f"{row.label:48} {row.cpu:8.3f} {row.wall:8.3f} {row.rss_mb:12.0f} {row.cpu - rows[0].cpu:15.3f}  {row.note}")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", action="append", choices=sorted(TREES), help="only this tree (repeatable)")
    parser.add_argument("--mirror-root", help="a folder of local git mirrors named owner+name")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the median is shown")
    parser.add_argument("--peer-repeat", type=int, default=1, help="runs per peer measurement")
    parser.add_argument("--peers-dir", help="keep the peers' virtual environments here (default: a temporary folder)")
    parser.add_argument("--no-peers", action="store_true", help="skip TorchFix and torch-preflight")
    parser.add_argument("--no-one-file", action="store_true", help="skip the one-file (pre-commit) measurements")
    args = parser.parse_args()

    from importlib.metadata import version

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# torchlint performance, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"python {platform.python_version()}, libcst {version('libcst')}, torchlint {version('torchlint')}, "
          f"{os.cpu_count()} CPUs, load average {load:.1f} at start; medians of {args.repeat} runs "
          f"(peers: {args.peer_repeat})")
    with tempfile.TemporaryDirectory(prefix="torchlint-perf-") as work:
        # Byte-code is cached (outside the source tree) as it is for an installed package, even
        # where PYTHONDONTWRITEBYTECODE is set: otherwise every run pays for compiling torchlint.
        CHILD_ENV.pop("PYTHONDONTWRITEBYTECODE", None)
        CHILD_ENV.setdefault("PYTHONPYCACHEPREFIX", os.path.join(work, "pycache"))
        subprocess.run([sys.executable, "-m", "torchlint", "--version"], env=CHILD_ENV, capture_output=True)
        peer_bins: dict = {}
        if not args.no_peers:
            peers_dir = args.peers_dir or os.path.join(work, "peers")
            os.makedirs(peers_dir, exist_ok=True)
            for label, (requirement, _) in PEERS.items():
                bin_dir, why = install_peer(peers_dir, requirement)
                peer_bins[label] = bin_dir
                if why:
                    peer_bins[label + " why"] = why
        for name in args.repo or sorted(TREES):
            tree_work = os.path.join(work, name.replace("/", "+") + ".work")
            os.makedirs(tree_work)
            tree = export_python_files(name, TREES[name], tree_work, args.mirror_root)
            bench_tree(name, tree, tree_work, args, peer_bins)
        if not args.no_one_file:
            bench_one_file(work, max(args.repeat, 5))
    return 0


if __name__ == "__main__":
    sys.exit(main())
