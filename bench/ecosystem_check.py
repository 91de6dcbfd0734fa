"""Ecosystem check: lint public repositories at pinned commits and print every finding for review.

    python bench/ecosystem_check.py --family tensor
    python bench/ecosystem_check.py --family all --select TL1 --mirror-root ~/mirrors

Repositories are listed per rule family in `bench/ecosystem/<family>.toml`:

    [[repo]]
    name = "huggingface/pytorch-image-models"
    commit = "<40-hex sha>"
    paths = ["timm"]              # optional: lint only these folders

    [[review]]                    # a hand verdict on one finding
    repo = "huggingface/pytorch-image-models"
    path = "timm/layers/foo.py"
    line = 120
    code = "TL101"
    verdict = "tp"                # or "fp"
    why = "dim 1 is unsqueezed on line 118"

    [[site]]                      # a labelled call site, found or not: gives recall
    repo = "ultralytics/yolov5"
    path = "utils/loss.py"
    line = 193
    code = "TL101"
    truth = true                  # true: the rule should fire here; false: it must stay silent
    why = "targets is 2-D: repeat(na, 1, 1) only adds a leading dim, torch.cat reads it"

Each repository is fetched with plain `git` into a temporary folder (or its Python files and
notebooks are exported from a local mirror, `--mirror-root DIR` holding git directories named
`owner+name`) and never kept. The
summary counts findings per rule per repository, and how many of them were judged true or false.
Every labelled site counts per rule: a true site (a `tp` review, or a `[[site]]` with
`truth = true`) is found or missed, a false site (an `fp` review, or `truth = false`) that fires is
a false finding; the last table gives precision (tp / judged findings) and recall (found / true
sites) per rule, over the repositories linted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
LISTS = os.path.join(HERE, "ecosystem")


def load_family(family: str) -> tuple[list[dict], list[dict]]:
    names = sorted(f[:-5] for f in os.listdir(LISTS) if f.endswith(".toml")) if family == "all" else [family]
    repos, reviews = [], []
    for name in names:
        with open(os.path.join(LISTS, f"{name}.toml"), "rb") as handle:
            document = tomllib.load(handle)
        repos += [dict(r, family=name) for r in document.get("repo", [])]
        reviews += document.get("review", [])
        reviews += [dict(s, verdict="tp" if s["truth"] else "fp", site=True) for s in document.get("site", [])]
    return repos, reviews


def find_git_dir(root: str, name: str) -> str | None:
    base = os.path.join(root, name.replace("/", "+"))
    if not os.path.isdir(base):
        return None
    for directory, subdirs, files in os.walk(base):
        if "HEAD" in files and "objects" in subdirs:
            return directory
    return None


def checkout(repo: dict, dest: str, mirror_root: str | None) -> str:
    """Materialise `repo` at its pinned commit under `dest`; returns the tree's path."""
    tree = os.path.join(dest, repo["name"].replace("/", "+") + "@" + repo.get("commit", "HEAD")[:12])
    if os.path.isdir(tree):
        return tree  # listed by another family too: one checkout serves both
    os.makedirs(tree)
    git_dir = find_git_dir(mirror_root, repo["name"]) if mirror_root else None
    commit = repo.get("commit", "HEAD")
    if git_dir:
        export_sources(git_dir, commit, tree)
    else:
        url = f"https://github.com/{repo['name']}.git"
        subprocess.run(["git", "init", "-q", tree], check=True)
        subprocess.run(["git", "-C", tree, "fetch", "-q", "--depth", "1", url, commit], check=True)
        subprocess.run(["git", "-C", tree, "checkout", "-q", "FETCH_HEAD"], check=True)
    return tree


def export_sources(git_dir: str, commit: str, tree: str) -> None:
    """Write the commit's Python files and notebooks under `tree`.

    Only what torchlint reads is exported, blob by blob, so a mirror that lacks some large
    (unrelated) blobs still yields every source file it has.
    """
    listing = subprocess.run(
        ["git", f"--git-dir={git_dir}", "ls-tree", "-r", "-z", commit], capture_output=True, check=True
    ).stdout.decode("utf-8", "surrogateescape")
    wanted = []
    for entry in filter(None, listing.split("\0")):
        meta, _, path = entry.partition("\t")
        mode, kind, sha = meta.split()
        if kind == "blob" and mode != "120000" and path.endswith((".py", ".pyi", ".ipynb")):
            wanted.append((sha, path))
    batch = subprocess.run(
        ["git", f"--git-dir={git_dir}", "cat-file", "--batch"],
        input="".join(f"{sha}\n" for sha, _ in wanted).encode(),
        capture_output=True,
        check=True,
    ).stdout
    cursor = 0
    for sha, path in wanted:
        header_end = batch.index(b"\n", cursor)
        header = batch[cursor:header_end].split()
        cursor = header_end + 1
        if header[-1] == b"missing":
            continue
        size = int(header[2])
        data = batch[cursor : cursor + size]
        cursor += size + 1
        destination = os.path.join(tree, path)
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        with open(destination, "wb") as handle:
            handle.write(data)


def lint(tree: str, paths: list[str], select: str | None) -> list[dict]:
    command = [sys.executable, "-m", "torchlint", "check", "--isolated", "--output-format", "json", "--exit-zero"]
    if select:
        command += ["--select", select]
    command += paths or ["."]
    done = subprocess.run(command, cwd=tree, capture_output=True, text=True)
    try:
        findings = json.loads(done.stdout or "[]")
    except json.JSONDecodeError:
        findings = None
    if done.returncode not in (0, 1) or findings is None:
        # exit 2 with a JSON report is a run whose files had internal errors (TL004): keep its
        # findings, and name the crashes, instead of dropping the whole repository
        crashes = [f"{f['filename']}: {f['message']}" for f in findings or [] if f["code"] == "TL004"]
        print(f"  torchlint failed ({done.returncode}): {done.stderr.strip()[:500]}"
              + "".join(f"\n    {c}" for c in crashes), file=sys.stderr)
    return findings or []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default="all", help="a file name in bench/ecosystem/ without .toml, or all")
    parser.add_argument("--select", help="rules to enable (default: all); e.g. TL1 or TL201,TL202")
    parser.add_argument("--mirror-root", help="a folder of local git mirrors named owner+name")
    parser.add_argument("--repo", action="append", help="only these repositories (owner/name)")
    parser.add_argument("--engine-errors", action="store_true", help="also print TL001/TL002 findings")
    args = parser.parse_args()

    repos, reviews = load_family(args.family)
    unique = {}
    for repo in repos:  # a repository listed by several families is linted once
        key = (repo["name"], repo.get("commit"), tuple(repo.get("paths", [])))
        unique.setdefault(key, repo)
    repos = list(unique.values())
    if args.repo:
        repos = [r for r in repos if r["name"] in args.repo]
    verdicts = {(r["repo"], r["path"], int(r["line"]), r["code"]): r["verdict"] for r in reviews}
    per_rule_repo: dict[tuple[str, str], Counter] = defaultdict(Counter)
    fired: set[tuple] = set()
    with tempfile.TemporaryDirectory(prefix="torchlint-eco-") as dest:
        for repo in repos:
            print(f"== {repo['name']} @ {repo.get('commit', 'HEAD')[:12]}")
            try:
                tree = checkout(repo, dest, args.mirror_root)
            except subprocess.CalledProcessError as exc:
                print(f"  cannot check out: {exc}", file=sys.stderr)
                continue
            for finding in lint(tree, repo.get("paths", []), args.select):
                if finding["code"] in ("TL001", "TL002", "TL003") and not args.engine_errors:
                    per_rule_repo[(finding["code"], repo["name"])]["findings"] += 1
                    continue
                path = os.path.relpath(finding["filename"], tree)
                row = finding["location"]["row"]
                fired.add((repo["name"], path, row, finding["code"]))
                verdict = verdicts.get((repo["name"], path, row, finding["code"]), "unreviewed")
                counts = per_rule_repo[(finding["code"], repo["name"])]
                counts["findings"] += 1
                counts[verdict] += 1
                cell = f"cell {finding['cell']}:" if finding.get("cell") else ""
                print(f"  [{verdict}] {path}:{cell}{row}:{finding['location']['column']}: {finding['code']} {finding['message']}")
    print("\nfindings per rule per repository (tp / fp = hand verdicts)")
    print(f"{'rule':6} {'repository':45} {'findings':>8} {'tp':>4} {'fp':>4} {'unrev.':>6}")
    totals: dict[str, Counter] = defaultdict(Counter)
    for (code, name), counts in sorted(per_rule_repo.items()):
        print(f"{code:6} {name:45} {counts['findings']:>8} {counts['tp']:>4} {counts['fp']:>4} {counts['unreviewed']:>6}")
        totals[code].update(counts)
    for code, counts in sorted(totals.items()):
        judged = counts["tp"] + counts["fp"]
        precision = f"{counts['tp'] / judged:.2f}" if judged else "n/a"
        print(f"{code}: {counts['findings']} findings, {counts['tp']} true, {counts['fp']} false, precision {precision}")
    print_recall(reviews, fired, {r["name"] for r in repos}, args.select)
    return 0


def print_recall(reviews: list[dict], fired: set, linted: set, select: str | None) -> None:
    """Labelled sites per rule: true sites found or missed, false sites that fired."""
    table: dict[str, Counter] = defaultdict(Counter)
    for review in reviews:
        key = (review["repo"], review["path"], int(review["line"]), review["code"])
        if review["repo"] not in linted or (select and not any(review["code"].startswith(p) for p in select.split(","))):
            continue
        counts = table[review["code"]]
        if review["verdict"] == "tp":
            counts["found" if key in fired else "missed"] += 1
            if key not in fired:
                print(f"  [missed] {review['repo']} {review['path']}:{review['line']}: {review['code']} {review.get('why', '')}")
        elif key in fired:
            counts["false"] += 1
        else:
            counts["silent"] += 1
    if not table:
        return
    print("\nlabelled sites per rule (true sites: found / missed; false sites: fired / silent)")
    print(f"{'rule':6} {'found':>6} {'missed':>6} {'false':>6} {'silent':>6} {'precision':>9} {'recall':>6}")
    for code, counts in sorted(table.items()):
        true_sites = counts["found"] + counts["missed"]
        flagged = counts["found"] + counts["false"]
        precision = f"{counts['found'] / flagged:.2f}" if flagged else "n/a"
        recall = f"{counts['found'] / true_sites:.2f}" if true_sites else "n/a"
        print(f"{code:6} {counts['found']:>6} {counts['missed']:>6} {counts['false']:>6} {counts['silent']:>6} {precision:>9} {recall:>6}")


if __name__ == "__main__":
    sys.exit(main())
