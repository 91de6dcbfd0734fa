"""Containment for everything `verify` starts: bounded output, a memory cap on the whole tree, no survivors.

The parent runs `python -m torchlint.verify.contain STATUS CAP -- ARGV...` in a new session. That
supervisor makes itself the *child subreaper* of its subtree (Linux `prctl(PR_SET_CHILD_SUBREAPER)`),
starts ARGV (the worker, or the user's command) and then:

- every ~0.1 s sums the resident memory (RSS) of the child and all its descendants; when the sum
  exceeds CAP bytes it kills the whole tree (`memory cap reached`). Each process also gets
  `RLIMIT_AS` = CAP where the parent asks for it (CPU-only runs), so one process that balloons fails
  with `MemoryError` before it swaps; such a child runs with `MALLOC_ARENA_MAX=2` (unless set), so
  that glibc's per-thread arenas (64 MiB of address space each) do not spend the cap unused.
- when the child exits, it kills whatever descendants are left. Because it is their subreaper, a
  grandchild that called `setsid()` (`start_new_session=True`) or double-forked is re-parented to
  the supervisor instead of init, so it is found and killed too.
- when the verify process itself dies (killed, even by SIGKILL), the kernel sends the supervisor
  SIGTERM (`PR_SET_PDEATHSIG`) and it kills the tree before exiting.
- it writes STATUS (JSON): the child's exit status, whether the memory cap fired, the peak tree RSS
  and how many leftover processes it killed.

The parent reads the supervisor's stdout/stderr through `CappedReader`s, which keep only the last
few KiB, and on a timeout freezes and kills the supervisor's whole tree (`kill_tree`). On platforms
without `/proc` the tree walk degrades to killing the process group.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict

PR_SET_CHILD_SUBREAPER = 36
PR_SET_PDEATHSIG = 1
OUTPUT_CAP = 64 * 1024  # bytes of a child's stdout/stderr kept by the parent (the tail)
_POLL_SECONDS = 0.1


def become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux only); False where the kernel or platform cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _term_when_parent_dies() -> None:
    """SIGTERM this process when the verify process that started it dies (Linux), even by SIGKILL."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _children_table() -> dict[int, list[int]]:
    table: dict[int, list[int]] = defaultdict(list)
    try:
        entries = os.listdir("/proc")
    except OSError:
        return table
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: fields start after the last ')'.
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 1:
            table[int(fields[1])].append(int(entry))
    return table


def descendants(pid: int) -> list[int]:
    """Every living descendant of `pid` (children first), from /proc; empty where there is none."""
    table = _children_table()
    found, stack = [], [pid]
    while stack:
        for child in table.get(stack.pop(), ()):
            if child not in found:
                found.append(child)
                stack.append(child)
    return found


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def tree_rss(pid: int) -> int:
    """Resident bytes of `pid` and all its descendants together."""
    return sum(_rss_bytes(p) for p in [pid, *descendants(pid)])


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def kill_tree(pid: int, include_root: bool = True) -> int:
    """Kill `pid`'s whole tree; returns how many processes were signalled.

    Each process is stopped before its children are listed, so nothing forks while we look; then
    all of them are killed. Without /proc, the process group of `pid` is killed instead.
    """
    if not os.path.isdir("/proc"):
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, OSError):
            pass
        return 1
    stopped: list[int] = []
    if include_root:
        _signal(pid, signal.SIGSTOP)
        stopped.append(pid)
    for _ in range(20):
        new = [p for p in descendants(pid) if p not in stopped]
        if not new:
            break
        for p in new:
            _signal(p, signal.SIGSTOP)
        stopped.extend(new)
    for p in stopped:
        _signal(p, signal.SIGKILL)
        _signal(p, signal.SIGCONT)  # a stopped process dies on SIGKILL, but be explicit
    return len(stopped)


def signal_name(returncode: int) -> str:
    """`SIGSEGV` for -11 (a process killed by a signal), else `exit status N`."""
    if returncode < 0:
        try:
            return signal.Signals(-returncode).name
        except ValueError:
            return f"signal {-returncode}"
    return f"exit status {returncode}"


class CappedReader:
    """Drain a pipe in a thread, keeping only its last `cap` bytes (a flood costs no memory)."""

    def __init__(self, stream, cap: int = OUTPUT_CAP) -> None:
        self.stream, self.cap = stream, cap
        self.tail = bytearray()
        self.total = 0
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        while True:
            chunk = self.stream.read1(65536) if hasattr(self.stream, "read1") else self.stream.read(65536)
            if not chunk:
                break
            self.total += len(chunk)
            self.tail += chunk
            if len(self.tail) > self.cap:
                del self.tail[: len(self.tail) - self.cap]
        self.stream.close()

    def text(self, timeout: float = 5.0) -> str:
        self.thread.join(timeout)
        return bytes(self.tail).decode("utf-8", "replace")


def _limit_address_space(cap: int):
    def apply() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    return apply


def supervise(argv: list[str], status_path: str, memory_cap: int, address_cap: bool) -> int:
    """Run ARGV under the tree memory cap, kill what it leaves behind, write STATUS."""
    subreaper = become_subreaper()
    parent = os.getppid()
    interrupted = []
    signal.signal(signal.SIGTERM, lambda *_: interrupted.append(True))
    _term_when_parent_dies()
    preexec = _limit_address_space(memory_cap) if memory_cap and address_cap else None
    status = {"returncode": None, "memory_exceeded": False, "peak_rss": 0, "leftover": 0, "subreaper": subreaper}
    env = None
    if preexec is not None:
        # RLIMIT_AS counts address space, and glibc reserves 64 MiB of it for each thread's malloc
        # arena: a program with many threads (distributed autograd) hits the cap long before its
        # memory does. A few arenas keep the address space close to what is really used.
        env = {**os.environ, "MALLOC_ARENA_MAX": os.environ.get("MALLOC_ARENA_MAX", "2")}
    child = subprocess.Popen(argv, preexec_fn=preexec, env=env)
    if os.getppid() != parent:  # the parent died before the death signal was armed
        interrupted.append(True)
    while child.poll() is None and not interrupted:
        if memory_cap:
            rss = tree_rss(child.pid)
            status["peak_rss"] = max(status["peak_rss"], rss)
            if rss > memory_cap:
                status["memory_exceeded"] = True
                kill_tree(child.pid)
                break
        time.sleep(_POLL_SECONDS)
    if interrupted:
        kill_tree(child.pid)
    status["returncode"] = child.wait()
    status["leftover"] = kill_tree(os.getpid(), include_root=False)
    _reap()
    with open(status_path, "w", encoding="utf-8") as handle:
        json.dump(status, handle)
    return 0


def _reap() -> None:
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.01)


def describe(status: dict | None, stderr_tail: str, memory_cap: int | None) -> str:
    """Why a contained process ended without a result, in words (signal named, cap named)."""
    if status is None:
        return "the supervisor ended without a status"
    if status.get("memory_exceeded"):
        return f"memory cap reached: the process tree used {status['peak_rss'] // 2**20} MiB " \
               f"(cap {memory_cap // 2**20 if memory_cap else '?'} MiB)"
    code = status.get("returncode")
    lines = [line for line in stderr_tail.strip().splitlines() if line.strip()]
    last = lines[-1][:300] if lines else ""
    if code is not None and code < 0:
        return f"killed by {signal_name(code)}" + (f" (last output: {last})" if last else "")
    if "MemoryError" in last:
        return f"{last} (memory cap reached)"
    return last or signal_name(code if code is not None else 1)


class Outcome:
    """What a contained run left: the supervisor's status, the output tails, whether it timed out."""

    def __init__(self, status: dict | None, stdout: str, stderr: str, timed_out: bool, output_bytes: int) -> None:
        self.status, self.stdout, self.stderr = status, stdout, stderr
        self.timed_out, self.output_bytes = timed_out, output_bytes

    @property
    def returncode(self) -> int | None:
        return None if self.status is None else self.status.get("returncode")


def run_contained(argv: list[str], status_path: str, *, timeout: float | None, memory_cap: int = 0,
                  address_cap: bool = False, cwd: str | None = None, env: dict | None = None,
                  capture: bool = True, stdout=None, on_wait=None) -> Outcome:
    """Run ARGV under a supervisor in its own session; never leaves a process behind."""
    command = [sys.executable, "-m", "torchlint.verify.contain", status_path, str(memory_cap or 0),
               "as" if address_cap else "rss", "--", *argv]
    pipe = subprocess.PIPE if capture else None
    process = subprocess.Popen(command, stdout=pipe if capture else stdout, stderr=pipe, stdin=subprocess.DEVNULL if capture else None,
                               start_new_session=True, cwd=cwd, env=env)
    readers = (CappedReader(process.stdout), CappedReader(process.stderr)) if capture else ()
    timed_out = False
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            step = 0.2 if deadline is None else min(0.2, max(0.0, deadline - time.monotonic()))
            try:
                process.wait(timeout=step)
                break
            except subprocess.TimeoutExpired:
                if on_wait is not None:
                    on_wait()
                if deadline is not None and time.monotonic() >= deadline:
                    timed_out = True
                    break
        if on_wait is not None:
            on_wait()
    except BaseException:  # Ctrl-C in the parent: leave nothing running
        kill_tree(process.pid)
        process.wait()
        raise
    if timed_out:
        kill_tree(process.pid)
        process.wait()
    texts = [reader.text() for reader in readers] or ["", ""]
    status = None
    if not timed_out:
        try:
            with open(status_path, encoding="utf-8") as handle:
                status = json.load(handle)
        except (OSError, ValueError):
            status = None
    return Outcome(status, texts[0], texts[1], timed_out, sum(r.total for r in readers))


def main(argv: list[str]) -> int:
    status_path, cap, address = argv[0], int(argv[1]), argv[2] == "as"
    if argv[3] != "--":
        raise SystemExit("usage: python -m torchlint.verify.contain STATUS CAP as|rss -- ARGV...")
    return supervise(argv[4:], status_path, cap, address)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
