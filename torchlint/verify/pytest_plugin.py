"""The pytest plugin: `pytest --torchlint-verify` traces the test session and reports at its end.

Registered through the `pytest11` entry point `torchlint`, so `pytest --torchlint-verify` works once
torchlint is installed (or `pytest -p torchlint.verify.pytest_plugin --torchlint-verify` without
the entry point). The tracer starts when pytest is configured (so test modules are traced from
their import) and each observation carries the node id of the test that made it: a confirmed claim
says which tests confirmed it. The report (the same records as `torchlint verify -- pytest`) is
printed in pytest's terminal summary; `--torchlint-verify-json PATH` also writes them as JSON. A
refuted claim makes the session fail (exit 1) even when every test passed; `--torchlint-verify-strict`
makes a claim that was not exercised fail it too.

Without `--torchlint-verify` the plugin does nothing, except under `torchlint verify -- pytest`,
where it only tells the already running tracer which test is running. pytest-xdist workers are
separate processes and are not traced.
"""

from __future__ import annotations

import json

import pytest


def pytest_addoption(parser) -> None:
    group = parser.getgroup("torchlint", "torchlint runtime verification")
    group.addoption("--torchlint-verify", action="store_true", default=False,
                    help="trace the session and check torchlint's findings under the root dir against it")
    group.addoption("--torchlint-verify-json", metavar="PATH", default=None,
                    help="also write the verify records as JSON to PATH")
    group.addoption("--torchlint-verify-strict", action="store_true", default=False,
                    help="a finding that no test exercised fails the session too")


def pytest_configure(config) -> None:
    from torchlint.verify import session as sessions

    if config.getoption("torchlint_verify", False):
        if sessions.ACTIVE is not None:  # already traced by `torchlint verify -- pytest`
            config.pluginmanager.register(_Attribution(sessions.ACTIVE), "torchlint-verify-attribution")
            return
        session = sessions.TraceSession(str(config.rootpath))
        session.start()
        config.pluginmanager.register(_Report(session, config), "torchlint-verify-report")
    elif sessions.ACTIVE is not None:
        config.pluginmanager.register(_Attribution(sessions.ACTIVE), "torchlint-verify-attribution")


class _Attribution:
    """Each observation made during a test carries its node id; a test's own error is judged too."""

    def __init__(self, session) -> None:
        self.session = session

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        tracer = self.session.tracer
        if tracer is not None:
            tracer.test = item.nodeid
        try:
            yield
        finally:
            if tracer is not None:
                tracer.test = None

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        if call.excinfo is not None and call.when == "call" and self.session.tracer is not None:
            self.session.record_raise(call.excinfo.value, test=item.nodeid)
        return outcome


class _Report(_Attribution):
    def __init__(self, session, config) -> None:
        super().__init__(session)
        self.config = config
        self.records = None

    def _finish(self):
        if self.records is None:
            from torchlint.verify.command import records_for

            result = self.session.finish()
            self.result = result
            self.records = records_for(result)
        return self.records

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session, exitstatus):
        records = self._finish()
        strict = self.config.getoption("torchlint_verify_strict")
        path = self.config.getoption("torchlint_verify_json")
        if path:
            with open(path, "w", encoding="utf-8") as handle:
                json.dump([r.as_json() for r in records], handle, indent=2)
        if any(r.fails(strict) for r in records) and session.exitstatus == 0:
            session.exitstatus = 1

    def pytest_terminal_summary(self, terminalreporter, exitstatus, config):
        import io

        from torchlint.verify.command import footer_lines
        from torchlint.verify.report import render_table

        records = self._finish()
        terminalreporter.section("torchlint verify")
        buffer = io.StringIO()
        render_table(records, buffer, False, config.getoption("torchlint_verify_strict"), footer_lines(self.result),
                     width=terminalreporter._tw.fullwidth)
        terminalreporter.write(buffer.getvalue())
