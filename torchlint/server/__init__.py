"""`torchlint server`: a Language Server Protocol server over stdio (needs `torchlint[server]`).

Modules, one concern each: `server` (the LSP messages it answers), `session` (open documents,
scheduling, publishing), `documents` (what is linted), `linting` (the engine, in-process),
`settings` (pyproject.toml resolution), `positions` and `convert` (LSP coordinates and
diagnostics), `actions` (code actions; `# noqa` edits come from `torchlint.add_noqa`), `hover` (rule docs).
"""

from __future__ import annotations

INSTALL_HINT = "the language server needs its extra: pip install 'torchlint[server]'"


def run() -> None:
    """Serve one client over stdin/stdout until it says exit."""
    import logging

    try:
        from torchlint.server.server import build_server
    except ImportError as exc:  # pygls or lsprotocol missing
        raise SystemExit(f"torchlint: error: {INSTALL_HINT} ({exc})") from None
    # stdout carries the protocol: anything else goes to stderr.
    logging.basicConfig(level=logging.WARNING, format="torchlint server: %(levelname)s: %(message)s")
    build_server().start_io()
