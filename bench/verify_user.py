"""Run `torchlint verify -- COMMAND` on public projects' own tests and example scripts; print the tables.

    python bench/verify_user.py --mirror-root DIR [--only NAME] [--keep DIR]

DIR holds bare git mirrors named `<owner>+<name>/repo`. Each project is exported at its pinned
commit into a temporary directory (nothing of theirs is kept or committed), then verified with
`--overhead`, which also runs the command once without the tracer and prints the ratio. Every
command runs on CPU in a few seconds to a minute. Dependencies the projects need beyond torch:
none.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

# name, mirror, pinned commit, command (run from the export's root)
PROJECTS = (
    ("minGPT adder, 30 steps", "karpathy+minGPT", "37baab71b9abea1b76ab957409a1cc2fbfba8a26",
     ["python", "projects/adder/adder.py", "--trainer.max_iters=30", "--trainer.num_workers=0",
      "--trainer.device=cpu"]),
    ("nlp-tutorial TextCNN, 5000 steps", "graykode+nlp-tutorial", "d05e31ec81d56d70c1db89b99ab07e948f7ebc11",
     ["python", "2-1.TextCNN/TextCNN.py"]),
    ("jcjohnson two-layer net (optim)", "jcjohnson+pytorch-examples", "0003fcdc606a79951e53bf8f46f8574fa4739f23",
     ["python", "nn/two_layer_net_optim.py"]),
)


_TEXT = (".py", ".toml", ".cfg", ".ini", ".txt", ".json", ".yaml", ".yml", ".md")


def export(mirror: str, commit: str, target: str) -> None:
    # Text files only: a mirror may lack the blobs of large binaries (images, weights).
    os.makedirs(target, exist_ok=True)
    listed = subprocess.run(["git", f"--git-dir={mirror}", "ls-tree", "-r", "--name-only", commit],
                            capture_output=True, text=True, check=True).stdout.splitlines()
    paths = [path for path in listed if path.endswith(_TEXT)]
    archive = subprocess.run(["git", f"--git-dir={mirror}", "archive", commit, "--", *paths], capture_output=True,
                             check=True)
    subprocess.run(["tar", "-x", "-C", target], input=archive.stdout, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror-root", required=True)
    parser.add_argument("--only", default=None, help="run the projects whose name contains this")
    parser.add_argument("--width", type=int, default=140)
    args = parser.parse_args()
    failures = 0
    for name, mirror, commit, command in PROJECTS:
        if args.only and args.only not in name:
            continue
        repo = os.path.join(args.mirror_root, mirror, "repo")
        if not os.path.isdir(repo):
            print(f"== {name}: mirror {mirror} not found, skipped\n")
            continue
        with tempfile.TemporaryDirectory(prefix="verify-user-") as scratch:
            root = os.path.join(scratch, "project")
            export(repo, commit, root)
            argv = list(command)
            print(f"== {name} ({mirror} @ {commit[:12]}): torchlint verify --overhead -- {' '.join(argv)}", flush=True)
            env = {**os.environ, "COLUMNS": str(args.width), "NO_COLOR": "1", "PYTHONDONTWRITEBYTECODE": "1",
                   "PYTHONPATH": root}  # the project's own package, as `pip install -e .` would give
            started = time.perf_counter()
            completed = subprocess.run([sys.executable, "-m", "torchlint", "verify", "--overhead", "--", *argv],
                                       cwd=root, env=env, capture_output=True, text=True)
            lines = completed.stdout.rstrip().splitlines()
            # The program's own output comes first; the report starts at the table or the footer.
            start = next((i for i, line in enumerate(lines) if line.startswith(("verdict ", "traced run:"))),
                         max(0, len(lines) - 40))
            print("\n".join(lines[start:]))
            if completed.returncode not in (0, 1):
                failures += 1
                print(completed.stderr[-2000:])
            print(f"(exit {completed.returncode}, {time.perf_counter() - started:.1f} s in all)\n", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
