"""pytest fixtures for wsbridge's integration tests.

Run as ctest does:
  WSBRIDGE_BIN=build/wsbridge /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration/test_echo.py

Pointing WSBRIDGE_BIN at /usr/bin/websocketd runs the same tests against the
reference implementation; tests marked `differs_from_websocketd` then become
strict xfails (they must fail there, which shows they can fail at all).
"""
import fnmatch
import os
import signal
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsb  # noqa: E402
from chromium import CHROMIUM, Browser  # noqa: E402

DEFAULT_TIMEOUT = 60


def pytest_configure(config):
    config.addinivalue_line("markers", "timeout(seconds): per-test wall-clock limit (SIGALRM)")
    config.addinivalue_line(
        "markers",
        "differs_from_websocketd(reason): wsbridge deliberately differs from websocketd 0.4.1 "
        "here; expected to fail when WSBRIDGE_BIN is websocketd")


def pytest_collection_modifyitems(config, items):
    path = os.environ.get("WSBRIDGE_BIN", "")
    if not path or not wsb.is_websocketd(path):
        return
    for item in items:
        m = item.get_closest_marker("differs_from_websocketd")
        if m is not None:
            reason = m.args[0] if m.args else "deliberate difference"
            item.add_marker(pytest.mark.xfail(strict=True, reason=f"websocketd: {reason}"))


class TestTimeout(BaseException):
    """Raised by SIGALRM; a BaseException so `except Exception` cannot swallow it."""


@pytest.fixture(autouse=True)
def _alarm_timeout(request):
    m = request.node.get_closest_marker("timeout")
    seconds = int(m.args[0]) if m else DEFAULT_TIMEOUT

    def on_alarm(signum, frame):
        raise TestTimeout(f"test exceeded {seconds}s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="session")
def bin_path():
    try:
        return wsb.binary_under_test()
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture
def stray():
    s = wsb.StrayPids()
    yield s
    s.cleanup()


@pytest.fixture
def start_server(bin_path, tmp_path, stray, request):
    """Factory: start_server(command=[...], flags=[...], binary=None, env=None)."""
    started = []

    def start(command, flags=(), binary=None, env=None, **kw):
        srv = wsb.Server(binary or bin_path, list(flags), list(command), str(tmp_path),
                         env=env, name=f"s{len(started)}", **kw)
        started.append(srv)
        srv.start()
        return srv

    yield start
    crashed = [f"{srv.name} ({srv.argv(srv.port)}) exited with {srv.proc.returncode}"
               for srv in started if srv.died_unexpectedly()]
    for srv in started:
        srv.stop()
    # Every server must end as the test expects (exit 0 on SIGTERM unless it
    # says otherwise): a crash while stopping, a sanitizer's exit status or a
    # server that ignores SIGTERM would otherwise pass unseen.
    bad_exits = [problem for problem in (srv.exit_problem() for srv in started) if problem]
    # Show the server logs when a test failed: the first thing one wants.
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        for srv in started:
            sys.stderr.write(f"\n--- {srv.name} log ({srv.stdout_path}) ---\n{srv.log()[-4000:]}"
                             f"\n--- {srv.name} stderr ---\n{srv.stderr()[-2000:]}\n")
    if crashed:
        pytest.fail("server died during the test: " + "; ".join(crashed), pytrace=False)
    if bad_exits:
        pytest.fail("server did not exit cleanly: " + "\n".join(bad_exits), pytrace=False)


@pytest.fixture
def websocketd_and_wsbridge(start_server, bin_path):
    """(start websocketd, start the binary under test): two factories taking
    (command, flags=()), for tests that compare the two side by side.
    Skipped when there is nothing to compare against."""
    if not os.access(wsb.WEBSOCKETD, os.X_OK):
        pytest.skip(f"{wsb.WEBSOCKETD} is not installed: nothing to compare against")
    if wsb.is_websocketd(bin_path):
        pytest.skip("WSBRIDGE_BIN is websocketd itself: nothing to compare")

    def starter(binary):
        return lambda command, flags=(): start_server(command, flags, binary=binary)
    return starter(wsb.WEBSOCKETD), starter(bin_path)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


# --------------------------------------------------------------------------
# Skips: each one is a check that did not run, so a run can demand that only
# reviewed ones happen. WSBRIDGE_ALLOWED_SKIPS (set by CI) lists them as
# node-id patterns separated by ";" (fnmatch, e.g. "test_pid1.py::*"); when
# it is set, any other skip fails the run. pytest -rs prints every reason.
# --------------------------------------------------------------------------

_skips: list[tuple[str, str]] = []


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (file, line, "Skipped: why")
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def pytest_runtest_logreport(report):
    if report.skipped and not hasattr(report, "wasxfail"):
        _skips.append((report.nodeid, _skip_reason(report)))


def pytest_collectreport(report):
    if report.skipped:
        _skips.append((report.nodeid, _skip_reason(report)))


def unallowed_skips(skips, allowed: str) -> list[tuple[str, str]]:
    patterns = [p.strip() for p in allowed.split(";") if p.strip()]
    return [(nodeid, reason) for nodeid, reason in skips
            if not any(fnmatch.fnmatchcase(nodeid, p) for p in patterns)]


def pytest_sessionfinish(session, exitstatus):
    allowed = os.environ.get("WSBRIDGE_ALLOWED_SKIPS")
    if allowed is None:
        return
    bad = unallowed_skips(_skips, allowed)
    if not bad:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = ["skips not in WSBRIDGE_ALLOWED_SKIPS (each is a check that did not run):"]
    lines += [f"  {nodeid}: {reason}" for nodeid, reason in bad]
    if reporter is not None:
        reporter.write_line("\n".join(lines), red=True)
    else:
        sys.stderr.write("\n".join(lines) + "\n")
    if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# Headless chromium with a CDP session (chromium.py), for tests that drive a
# real browser; skipped where chromium is not installed.
@pytest.fixture
def browser(tmp_path):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("chromium is not installed (scripts/install-deps.sh --with-tests installs it)")
    b = Browser(str(tmp_path))
    yield b
    b.close()
