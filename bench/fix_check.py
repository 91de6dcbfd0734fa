"""Fix check: apply every fix (safe and unsafe) to public repositories and check the round trip.

    python bench/fix_check.py --family all --mirror-root ~/mirrors
    python bench/fix_check.py --family tensor --repo karpathy/nanoGPT --diffs

Uses the repository lists of `bench/ecosystem/<family>.toml` (see ecosystem_check.py). For each
repository, at its pinned commit in a temporary folder: lint with every rule, apply all fixes
with `--unsafe-fixes` semantics, then check that every changed file still compiles, that a second
fix pass changes nothing, and count fixes applied per rule and safety, fixes dropped because
their result did not parse, and files whose fixes did not settle. `--diffs` prints each fix as a
unified diff for review. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from ecosystem_check import checkout, load_family  # noqa: E402


def fix_tree(tree: str, paths: list[str], show_diffs: bool) -> Counter:
    from torchlint.config import SelectionLayer, load_settings
    from torchlint.discovery import discover
    from torchlint.fixes import fix_file, unified_diff
    from torchlint.source import decode_python

    settings = load_settings(None, SelectionLayer(select=["ALL"]), isolated=True)
    counts: Counter = Counter()
    old_cwd = os.getcwd()
    os.chdir(tree)
    try:
        files = sorted(c.path for c in discover(paths or ["."], settings))
        counts["files"] = len(files)
        started = time.perf_counter()
        for path in files:
            outcome = fix_file(path, settings, unsafe=True)
            for diagnostic in outcome.applied:
                counts[f"{diagnostic.code} {diagnostic.fix.applicability.value}"] += 1
            counts["dropped"] += len(outcome.dropped)
            for dropped in outcome.dropped:
                print(f"  dropped: {path}: {dropped.diagnostic.code} {dropped.reason}")
            if not outcome.converged:
                counts["not settled"] += 1
                print(f"  not settled: {path}")
            if outcome.error:
                counts["errors"] += 1
                print(f"  error: {path}: {outcome.error}")
            if not outcome.changed:
                continue
            counts["files changed"] += 1
            if show_diffs:
                print(unified_diff(outcome), end="")
            if not path.endswith(".ipynb"):
                try:
                    compile(decode_python(outcome.fixed).text, path, "exec", dont_inherit=True)
                except SyntaxError as exc:
                    counts["does not compile"] += 1
                    print(f"  does not compile after fixing: {path}: {exc}")
            again = fix_file(path, settings, unsafe=True)
            if again.changed:
                counts["second pass changed"] += 1
                print(f"  second pass changed: {path}")
        counts["seconds"] = round(time.perf_counter() - started, 1)
    finally:
        os.chdir(old_cwd)
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default="all", help="a file name in bench/ecosystem/ without .toml, or all")
    parser.add_argument("--mirror-root", help="a folder of local git mirrors named owner+name")
    parser.add_argument("--repo", action="append", help="only these repositories (owner/name)")
    parser.add_argument("--diffs", action="store_true", help="print every fix as a unified diff")
    args = parser.parse_args()

    repos, _ = load_family(args.family)
    if args.repo:
        repos = [r for r in repos if r["name"] in args.repo]
    seen = set()
    totals: Counter = Counter()
    per_repo: dict[str, Counter] = defaultdict(Counter)
    with tempfile.TemporaryDirectory(prefix="torchlint-fix-") as dest:
        for repo in repos:
            key = (repo["name"], repo.get("commit"), tuple(repo.get("paths", [])))
            if key in seen:  # the same checkout listed by two families
                continue
            seen.add(key)
            print(f"== {repo['name']} @ {repo.get('commit', 'HEAD')[:12]}")
            try:
                tree = checkout(repo, os.path.join(dest, str(len(seen))), args.mirror_root)
            except Exception as exc:  # a missing mirror or network: go on with the others
                print(f"  cannot check out: {exc}", file=sys.stderr)
                continue
            counts = fix_tree(tree, repo.get("paths", []), args.diffs)
            per_repo[repo["name"]] = counts
            totals.update(counts)
    print("\nfixes per repository (all rules, unsafe fixes included)")
    for name, counts in sorted(per_repo.items()):
        fixed = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()) if k.startswith("TL"))
        print(f"{name:45} files {counts['files']:>5}  changed {counts['files changed']:>3}  {fixed or 'no fixes'}")
    totals["seconds"] = round(totals["seconds"], 1)
    print("\ntotals: " + ", ".join(f"{k}: {v}" for k, v in sorted(totals.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
