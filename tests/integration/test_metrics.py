"""--metrics: the Prometheus endpoint, checked with Debian's promtool and a
real Prometheus server scraping it. Counters must move by exactly what each
test did to the server."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

import wsb
from wsb import script

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


def scrape(port: int) -> str:
    resp = wsb.http_request(port, "/metrics", connection_close=True)
    assert resp.status == 200, resp
    assert resp.header("content-type").startswith("text/plain; version=0.0.4")
    return resp.body.decode()


def value(text: str, series: str) -> float | None:
    """The value of one sample, e.g. value(t, 'wsbridge_messages_total{direction="to_client"}')."""
    m = re.search(r"^" + re.escape(series) + r" (\S+)$", text, re.MULTILINE)
    return float(m.group(1)) if m else None


def wait_value(port: int, series: str, expected: float, timeout: float = 10.0) -> str:
    """Scrapes until `series` equals `expected` (events are counted when the
    loop handles them, a moment after the client saw their effect)."""
    deadline = time.monotonic() + timeout
    while True:
        text = scrape(port)
        if value(text, series) == expected or time.monotonic() > deadline:
            return text
        time.sleep(0.05)


@pytest.fixture
def metrics_server(start_server):
    def start(command=("cat",), flags=()):
        port = wsb.free_port()
        srv = start_server(list(command), flags=[f"--metrics=127.0.0.1:{port}", *flags])
        deadline = time.monotonic() + 5
        while not wsb.tcp_connect_ok(port):
            assert time.monotonic() < deadline, srv.log()
            time.sleep(0.02)
        return srv, port
    return start


def echo_once(port: int, text: bytes):
    with wsb.RawWS(port) as ws:
        ws.send_text(text)
        assert ws.recv_message() == (wsb.OP_TEXT, text)
        ws.send_close(1000)
        ws.expect_close()


def test_promtool_accepts_the_output_after_traffic_and_refusals(metrics_server):
    srv, mport = metrics_server()
    echo_once(srv.port, b"hello")
    no_key = wsb.http_exchange(srv.port, wsb.upgrade_request(srv.port, omit=("Sec-WebSocket-Key",)))
    assert no_key.status == 400
    text = wait_value(mport, 'wsbridge_program_exits_total{class="success"}', 1)
    assert value(text, 'wsbridge_requests_refused_total{reason="bad_handshake"}') == 1
    check = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(),
                           capture_output=True, timeout=30)
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode() + text
    for family in ("process_open_fds", "process_max_fds", "process_resident_memory_bytes",
                   "process_cpu_seconds_total", "process_start_time_seconds"):
        assert value(text, family) is not None, family


def test_counters_move_by_exactly_what_the_clients_did(metrics_server):
    srv, mport = metrics_server()
    # The harness's readiness probes were connections too, and the server
    # may accept the last one a moment after the probe saw the port open:
    # count from when they are all accepted and closed, and the count rests.
    def settled() -> bool:
        first = scrape(mport)
        if value(first, "wsbridge_connections_open") != 0:
            return False
        accepted = value(first, "wsbridge_connections_accepted_total")
        return wsb.holds_for(lambda: value(scrape(mport), "wsbridge_connections_accepted_total") == accepted,
                             0.3, interval=0.05)
    assert wsb.wait_until(settled, 10)
    before = scrape(mport)
    for i in range(3):
        echo_once(srv.port, b"x" * (10 + i))  # 10, 11 and 12 bytes each way
    wait_value(mport, 'wsbridge_program_exits_total{class="success"}', 3)
    # An exit is counted when the child is reaped, a connection as closed
    # only after its handles are: wait for the later one before reading all.
    text = wait_value(mport, "wsbridge_connections_open", 0)

    def moved(series):
        return value(text, series) - value(before, series)

    assert moved("wsbridge_connections_accepted_total") == 3
    assert moved("wsbridge_programs_started_total") == 3
    assert value(text, "wsbridge_programs_running") == 0
    assert moved("wsbridge_program_start_seconds_count") == 3
    assert moved('wsbridge_messages_total{direction="to_program"}') == 3
    assert moved('wsbridge_messages_total{direction="to_client"}') == 3
    assert moved('wsbridge_message_bytes_total{direction="to_program"}') == 33
    assert moved('wsbridge_message_bytes_total{direction="to_client"}') == 33
    assert moved('wsbridge_close_codes_received_total{code="1000"}') == 3
    assert moved('wsbridge_close_codes_sent_total{code="1000"}') == 3
    assert value(text, "wsbridge_connections_open") == 0


def test_refusals_are_counted_by_reason(metrics_server):
    srv, mport = metrics_server([script("background_sleep.sh")], ["--maxforks=1", "--origin=127.0.0.1"])
    origin = {"Origin": f"http://127.0.0.1:{srv.port}"}
    foreign = wsb.http_exchange(srv.port, wsb.upgrade_request(
        srv.port, headers={"Origin": "http://elsewhere.example"}))
    assert foreign.status == 403
    with wsb.RawWS(srv.port, headers=origin) as held:
        assert held.recv_message() == (wsb.OP_TEXT, b"started")
        # The fork limit is checked before the origin: both are turned away for it.
        for headers in (origin, {"Origin": "http://elsewhere.example"}):
            over = wsb.http_exchange(srv.port, wsb.upgrade_request(srv.port, headers=headers))
            assert over.status == 429
        # The refused connections close once their answer is written: wait.
        text = wait_value(mport, "wsbridge_connections_open", 1)
        assert value(text, 'wsbridge_requests_refused_total{reason="fork_limit"}') == 2
        assert value(text, 'wsbridge_requests_refused_total{reason="origin_not_allowed"}') == 1
        assert value(text, "wsbridge_programs_running") == 1
        assert value(text, "wsbridge_connections_open") == 1


def test_program_ends_are_counted_by_class_and_signal(metrics_server):
    srv, mport = metrics_server([script("exit_status.sh")])
    with wsb.RawWS(srv.port) as ws:
        ws.recv_message()
        ws.expect_close()
    text = wait_value(mport, 'wsbridge_program_exits_total{class="failure"}', 1)
    assert value(text, 'wsbridge_program_exits_total{class="success"}') == 0
    srv2, mport2 = metrics_server([script("pid_cat.sh")])
    with wsb.RawWS(srv2.port) as ws:
        pid = int(ws.recv_message()[1])
        os.kill(pid, signal.SIGKILL)
        ws.expect_close()
    text = wait_value(mport2, 'wsbridge_program_signal_exits_total{signal="SIGKILL"}', 1)
    assert value(text, 'wsbridge_program_exits_total{class="signal"}') == 1


def test_the_metrics_listener_answers_only_metrics_and_the_main_one_never_does(metrics_server):
    srv, mport = metrics_server()
    assert wsb.http_request(mport, "/", connection_close=True).status == 404
    post = wsb.http_request(mport, "/metrics", method="POST", body=b"", connection_close=True)
    assert post.status == 405 and post.header("allow") == "GET, HEAD"
    head = wsb.http_request(mport, "/metrics", method="HEAD", connection_close=True)
    assert head.status == 200 and head.body == b""
    main = wsb.http_request(srv.port, "/metrics", connection_close=True)
    assert b"wsbridge_connections_accepted_total" not in main.body


def test_a_stalled_scraper_does_not_hold_the_server(metrics_server):
    """Scrapers that connect and send nothing are bounded; others still get answers."""
    srv, mport = metrics_server()
    idle = [socket.create_connection(("127.0.0.1", mport)) for _ in range(20)]
    try:
        echo_once(srv.port, b"still serving")
        for s in idle[:2]:
            s.close()
        idle = idle[2:]
        # Beyond the 8 scrapes at once the idle ones were closed; once two of
        # the held ones are gone a new scrape is answered.
        deadline = time.monotonic() + 10
        while True:
            try:
                if "wsbridge_connections_accepted_total" in scrape(mport):
                    break
            except (OSError, AssertionError, ValueError):
                pass
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        for s in idle:
            s.close()


# Prometheus itself takes seconds to start on a loaded machine; the loop
# below waits at most 60 s for its reading, so the hang bound is above both.
@pytest.mark.timeout(120)
def test_a_real_prometheus_scrapes_and_reads_back_the_counters(metrics_server, tmp_path):
    srv, mport = metrics_server()
    prom_port = wsb.free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: wsbridge\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{mport}']\n")
    log = open(tmp_path / "prometheus.log", "wb")
    prom = subprocess.Popen([PROMETHEUS, f"--config.file={config}",
                             f"--storage.tsdb.path={tmp_path / 'data'}",
                             f"--web.listen-address=127.0.0.1:{prom_port}"],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        accepted_before = value(scrape(mport), "wsbridge_connections_accepted_total")
        for i in range(4):
            echo_once(srv.port, b"msg")

        def query(expr):
            url = f"http://127.0.0.1:{prom_port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
            with urllib.request.urlopen(url, timeout=5) as r:
                result = json.load(r)["data"]["result"]
            return float(result[0]["value"][1]) if result else None

        deadline = time.monotonic() + 60
        seen = {}
        while time.monotonic() < deadline:
            try:
                seen = {
                    "accepted": query("wsbridge_connections_accepted_total"),
                    "to_program": query('wsbridge_messages_total{direction="to_program"}'),
                    "up": query('up{job="wsbridge"}'),
                }
            except OSError:
                seen = {}
            if seen.get("accepted") == accepted_before + 4 and seen.get("to_program") == 4:
                break
            time.sleep(0.5)
        assert seen.get("up") == 1, (seen, (tmp_path / "prometheus.log").read_text()[-2000:])
        assert seen.get("accepted") == accepted_before + 4 and seen.get("to_program") == 4, seen
    finally:
        prom.terminate()
        try:
            prom.wait(timeout=15)
        except subprocess.TimeoutExpired:
            prom.kill()
            prom.wait()
        log.close()


def test_the_example_scrape_config_and_alert_rules_are_valid(metrics_server):
    examples = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "prometheus")
    for args in (["check", "config", "prometheus.yml"], ["check", "rules", "wsbridge.rules.yml"]):
        run = subprocess.run([PROMTOOL, *args], cwd=examples, capture_output=True, timeout=30)
        assert run.returncode == 0, run.stdout.decode() + run.stderr.decode()
    # Every series the rules name is one the server exports: a renamed series
    # would silence an alert without any error from Prometheus.
    rules = open(os.path.join(examples, "wsbridge.rules.yml")).read()
    named = set(re.findall(r"\bwsbridge_[a-z_]+", rules))
    assert named, "the rules name no wsbridge series"
    _, mport = metrics_server()
    exported = set(re.findall(r"^# TYPE (\S+) ", scrape(mport), re.MULTILINE))
    assert named <= exported, named - exported


def test_rooms_and_their_clients_are_gauged(metrics_server):
    srv, mport = metrics_server(["cat"], ["--broadcast", "--workers=1"])
    clients = [wsb.RawWS(srv.port, "/lobby") for _ in range(2)] + [wsb.RawWS(srv.port, "/other")]
    text = wait_value(mport, "wsbridge_room_clients", 3)
    assert (value(text, "wsbridge_rooms_open"), value(text, "wsbridge_room_clients")) == (2, 3)
    for ws in clients:
        ws.sock.close()
    text = wait_value(mport, "wsbridge_rooms_open", 0)
    assert (value(text, "wsbridge_rooms_open"), value(text, "wsbridge_room_clients")) == (0, 0)


@pytest.mark.parametrize("policy, series", [("drop", "wsbridge_room_messages_dropped_total"),
                                            ("close", "wsbridge_room_slow_clients_closed_total")])
def test_slow_room_clients_are_counted(metrics_server, policy, series):
    # A room whose program prints as fast as it can, and a client that never
    # reads (a 4 KiB receive buffer): its queue fills within moments.
    srv, mport = metrics_server(["sh", "-c", 'exec yes "$(head -c 1000 /dev/zero | tr \'\\0\' y)"'],
                                ["--broadcast", "--workers=1", "--room-queue=64K", f"--slow-client={policy}"])
    assert value(scrape(mport), series) == 0
    stalled = wsb.RawWS(srv.port, "/feed", rcvbuf=4096)
    assert wsb.wait_until(lambda: (value(scrape(mport), series) or 0) > 0, 20), scrape(mport)
    stalled.sock.close()
