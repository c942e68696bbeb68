"""The close frame says why the program ended (issue 11): exit 0 closes with
1000, a non-zero status with 1011 "exit status N", a signal with 1011
"killed by SIGNAME", and --exit-close-codes=4000 turns status N into 4000+N.
The client is python3-websockets, which reports the server's close frame."""
import asyncio

import pytest
import websockets

import wsb


def run(coro, timeout=30):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def close_after(srv, *, send=None):
    """Every message until the server closes, and its close frame (code, reason)."""
    async def go():
        async with websockets.connect(srv.url(), ping_interval=None, close_timeout=3) as ws:
            if send is not None:
                await ws.send(send)
            messages = []
            with pytest.raises(websockets.ConnectionClosed):
                while True:
                    messages.append(await asyncio.wait_for(ws.recv(), 10))
            assert ws.close_code is not None, "no close frame from the server"
            return messages, ws.close_code, ws.close_reason
    return run(go())


def shell(command):
    return ["/bin/sh", "-c", command]


@pytest.mark.differs_from_websocketd("websocketd sends no close frame when the program ends (1006)")
@pytest.mark.parametrize("command, expected", [
    ("echo bye; exit 0", (["bye"], 1000, "")),
    ("echo partial result; exit 3", (["partial result"], 1011, "exit status 3")),
    ("echo crashing; kill -SEGV $$", (["crashing"], 1011, "killed by SIGSEGV")),
], ids=["exit-0", "exit-3", "sigsegv"])
def test_the_close_frame_follows_the_output_and_says_how_the_program_ended(start_server, command, expected):
    srv = start_server(shell(command))
    assert close_after(srv) == expected


@pytest.mark.differs_from_websocketd("websocketd has no --exit-close-codes")
def test_the_option_maps_the_status_to_4000_plus_status(start_server):
    srv = start_server(shell("read line; echo \"got $line\"; exit 3"), flags=["--exit-close-codes=4000"])
    assert close_after(srv, send="x") == (["got x"], 4003, "exit status 3")
    # Exit 0 and signals are not statuses to map: 1000 and 1011 as before.
    srv = start_server(shell("exit 0"), flags=["--exit-close-codes=4000"])
    assert close_after(srv) == ([], 1000, "")
    srv = start_server(shell("kill -TERM $$"), flags=["--exit-close-codes=4000"])
    assert close_after(srv) == ([], 1011, "killed by SIGTERM")


def test_the_exit_seen_before_the_last_output_still_sends_the_output_first(start_server):
    # Many lines, then an exit: the exit is often reaped before stdout's last
    # reads; every line must still go out before the close frame.
    srv = start_server(shell("seq 1 20000; exit 5"))
    messages, code, reason = close_after(srv)
    assert messages == [str(n) for n in range(1, 20001)]
    assert (code, reason) == (1011, "exit status 5")


def test_a_program_that_closes_stdout_and_runs_on_is_stopped_and_says_so(start_server):
    # It closes stdout, then waits on stdin: the stop sequence closes stdin
    # (EOF), it exits 0 on its own, and the close frame says 1000.
    srv = start_server(shell("exec >&-; read line; exit 0"))
    assert close_after(srv) == ([], 1000, "")
    # One that ignores EOF and SIGINT is ended by SIGTERM, and the frame says so.
    srv = start_server(shell("exec >&-; trap '' INT; while :; do sleep 0.05; done"))
    assert close_after(srv) == ([], 1011, "killed by SIGTERM")


def test_unknown_mapping_is_refused_at_start_up(bin_path):
    result = wsb.run_cli(bin_path, ["--exit-close-codes=5000", "cat"])
    assert result.returncode == 2
    assert b"allowed: 1011, 4000" in result.stderr
