"""--broadcast: clients of one URL path share one program (a room). Real
clients (python3-websockets, and raw sockets for a client that never
reads), the real binary, and the programs' own pid files to see how many
programs ran and that none is left."""
import asyncio
import os
import re
import socket
import time

import pytest
import websockets

import procstat
import wsb
from procstat import RssWatch


# One loop holds every room; scripts/test-tsan.sh's WSBRIDGE_TEST_WORKERS
# would otherwise ask for several (and be refused).
ROOMS = ["--broadcast", "--workers=1"]


def run(coro, timeout=30):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def connect(url: str):
    return websockets.connect(url, compression=None, ping_interval=None, close_timeout=3, max_size=None)


def program(tmp_path, name: str, body: str) -> str:
    """A shell program that appends its pid to <name>.pids, then runs `body`."""
    path = tmp_path / f"{name}.sh"
    path.write_text(f"#!/bin/sh\necho $$ >> {tmp_path / (name + '.pids')}\n{body}\n")
    path.chmod(0o755)
    return str(path)


def pids(tmp_path, name: str) -> list[int]:
    path = tmp_path / f"{name}.pids"
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def test_three_clients_see_every_line_in_the_same_order_from_one_program(start_server, tmp_path, stray):
    srv = start_server([program(tmp_path, "cat", "exec cat")], flags=[*ROOMS])
    # Long messages sent at once by every client: each must reach the
    # program as one whole line, never mixed with another client's.
    sent = {f"{who}-{n}-" + who * 50000 for who in "abc" for n in range(4)}

    async def go():
        clients = [await connect(srv.url("/lobby")) for _ in range(3)]

        async def send_all(ws, who):
            for n in range(4):
                await ws.send(f"{who}-{n}-" + who * 50000)

        await asyncio.gather(*(send_all(ws, who) for ws, who in zip(clients, "abc")))
        seen = [[await asyncio.wait_for(ws.recv(), 10) for _ in range(len(sent))] for ws in clients]
        for ws in clients:
            await ws.close()
        return seen

    seen = run(go())
    assert seen[0] == seen[1] == seen[2]
    assert set(seen[0]) == sent
    stray.add(*pids(tmp_path, "cat"))
    assert len(pids(tmp_path, "cat")) == 1


def test_two_paths_are_two_rooms_and_the_program_is_told_its_room(start_server, tmp_path, stray):
    srv = start_server([program(tmp_path, "room", 'echo "ROOM=$ROOM"\nexec cat')], flags=[*ROOMS])

    async def go():
        a = await connect(srv.url("/chat/a?token=1"))
        b = await connect(srv.url("/chat/b"))
        first = [await asyncio.wait_for(ws.recv(), 5) for ws in (a, b)]
        await a.send("only for a")
        await b.send("only for b")
        got = [await asyncio.wait_for(ws.recv(), 5) for ws in (a, b)]
        await a.close()
        await b.close()
        return first, got

    first, got = run(go())
    assert first == ["ROOM=/chat/a", "ROOM=/chat/b"]  # the query string is not part of the room
    assert got == ["only for a", "only for b"]
    stray.add(*pids(tmp_path, "room"))
    assert len(pids(tmp_path, "room")) == 2


async def line_then_close(ws) -> tuple:
    """The one line a client hears before the server closes it, and the
    close code and reason it closed with."""
    line = await asyncio.wait_for(ws.recv(), 5)
    with pytest.raises(websockets.ConnectionClosed):
        await asyncio.wait_for(ws.recv(), 5)
    return line, ws.close_code, ws.close_reason


def test_program_exit_closes_every_client_and_the_next_one_starts_a_new_program(start_server, tmp_path, stray):
    # The program answers the first line and ends.
    srv = start_server([program(tmp_path, "once", 'read line\necho "got $line"')], flags=[*ROOMS])

    async def go():
        clients = [await connect(srv.url("/once")) for _ in range(3)]
        await clients[1].send("hello")
        results = [(await line_then_close(ws))[:2] for ws in clients]
        again = await connect(srv.url("/once"))
        await again.send("second")
        results.append((await asyncio.wait_for(again.recv(), 5), None))
        await again.close()
        return results

    results = run(go())
    assert results == [("got hello", 1000)] * 3 + [("got second", None)]
    stray.add(*pids(tmp_path, "once"))
    assert len(pids(tmp_path, "once")) == 2


def test_the_last_client_leaving_stops_and_reaps_the_program(start_server, tmp_path, stray):
    # `sleep` ignores its stdin closing: only the stop sequence's signals end it.
    srv = start_server([program(tmp_path, "sleeper", "exec sleep 1000")], flags=[*ROOMS])
    clients = [wsb.RawWS(srv.port, "/") for _ in range(3)]
    assert wsb.wait_until(lambda: len(pids(tmp_path, "sleeper")) == 1, 5)
    (pid,) = pids(tmp_path, "sleeper")
    stray.add(pid)
    for ws in clients[:2]:
        ws.send_close()
        assert ws.recv_message()[0] == "close"
        ws.sock.close()
    assert wsb.wait_until(lambda: srv.log().count("DISCONNECT") == 2, 5)
    # Two of three left: the program runs on for the third.
    assert wsb.pid_alive(pid)
    clients[2].sock.close()
    assert wsb.wait_pid_gone(pid, 10) is not None, "the room's program outlived its last client"
    assert srv.wait_log("Room closed", 5)


def test_maxforks_counts_a_room_once_and_room_max_clients_refuses_with_429(start_server, tmp_path, stray):
    srv = start_server([program(tmp_path, "cat", "exec cat")],
                       flags=[*ROOMS, "--maxforks=1", "--room-max-clients=3"])
    held = [wsb.RawWS(srv.port, "/full") for _ in range(3)]
    refused_full = wsb.http_exchange(srv.port, wsb.upgrade_request(srv.port, "/full"))
    refused_fork = wsb.http_exchange(srv.port, wsb.upgrade_request(srv.port, "/another"))
    stray.add(*pids(tmp_path, "cat"))
    assert refused_full.status == 429 and b"room" in refused_full.body, refused_full
    assert refused_fork.status == 429, refused_fork
    held[0].send_text("to all three")
    assert [ws.recv_message() for ws in held] == [(wsb.OP_TEXT, b"to all three")] * 3
    for ws in held:
        ws.sock.close()


def test_a_client_arriving_during_the_linger_joins_the_running_program(start_server, tmp_path, stray):
    srv = start_server([program(tmp_path, "cat", "exec cat")], flags=[*ROOMS, "--room-linger=30"])
    first = wsb.RawWS(srv.port, "/linger")
    assert wsb.wait_until(lambda: len(pids(tmp_path, "cat")) == 1, 5)
    (pid,) = pids(tmp_path, "cat")
    stray.add(pid)
    first.send_close()
    assert first.recv_message()[0] == "close"
    first.sock.close()
    assert srv.wait_log("DISCONNECT", 5)
    second = wsb.RawWS(srv.port, "/linger")
    second.send_text("still here")
    assert second.recv_message() == (wsb.OP_TEXT, b"still here")
    assert pids(tmp_path, "cat") == [pid] and wsb.pid_alive(pid)
    second.sock.close()


# ------------------------------------------------------------ slow clients

# Numbered lines of 1 KiB in bursts of 50 every 10 ms (at most 5 MB/s): a
# client that reads (python3-websockets, on a loaded machine too) keeps up,
# one that never reads falls behind within seconds.
FLOOD = ("i=0; pad=$(head -c 1000 /dev/zero | tr '\\0' x)\n"
         "while [ $i -lt 2000000 ]; do\n"
         "  j=0; while [ $j -lt 50 ]; do echo \"$i $pad\"; i=$((i+1)); j=$((j+1)); done\n"
         "  sleep 0.01\n"
         "done")

# The same flood, held until a client sends "go": every client that joined
# before that must then see line 0 first.
FLOOD_ON_GO = "read go\n" + FLOOD


# The queue a flooded room gives each client: large enough that a fast
# client whose test process pauses for a few hundred milliseconds under load
# never falls behind (the flood is about 5 MB/s), small enough that the
# never-reading client (4 KiB receive buffer) passes it within a second.
FLOOD_QUEUE = "1M"


def never_reading_client(port: int, path: str) -> wsb.RawWS:
    """A client with a small receive buffer that never reads after the 101."""
    return wsb.RawWS(port, path, rcvbuf=4096)


async def read_numbers(ws, until: int) -> list[int]:
    numbers = []
    while not numbers or numbers[-1] < until:
        numbers.append(int((await asyncio.wait_for(ws.recv(), 10)).split(" ", 1)[0]))
    return numbers


def assert_contiguous(numbers: list[int]):
    gaps = [(a, b) for a, b in zip(numbers, numbers[1:]) if b != a + 1]
    assert not gaps, f"the fast client missed lines: {gaps[:5]}"


def run_flood(srv, tmp_path, path: str, after_log: str):
    """A fast client reads the flood while a never-reading one stalls; once
    the server logs `after_log`, the fast client reads 2000 more lines.
    Returns (the fast client's line numbers, the stalled client, RSS watch)."""
    watch = RssWatch(srv.pid)

    async def go():
        fast = await connect(srv.url(path))
        slow = never_reading_client(srv.port, path)
        numbers = []
        while not re.search(after_log, srv.log()):
            numbers += await read_numbers(fast, (numbers[-1] if numbers else 0) + 500)
            watch.sample()
        numbers += await read_numbers(fast, numbers[-1] + 2000)
        await fast.close()
        return numbers, slow

    numbers, slow = run(go(), timeout=50)
    return numbers, slow, watch


@pytest.mark.timeout(60)
def test_slow_client_close_ends_the_non_reader_with_1008_while_the_fast_one_misses_nothing(
        start_server, tmp_path, stray):
    srv = start_server([program(tmp_path, "flood", FLOOD)], flags=[*ROOMS, f"--room-queue={FLOOD_QUEUE}"])
    numbers, slow, watch = run_flood(srv, tmp_path, "/feed", r"Closing: too slow")
    stray.add(*pids(tmp_path, "flood"))
    assert_contiguous(numbers)
    assert re.search(r"Slow clients .*: 0 messages dropped, [1-9]\d* clients closed", srv.log())
    # The server ends the stalled connection: reading it reaches its end
    # (EOF, or a reset when the server gave up on the close handshake).
    slow.sock.settimeout(10)
    ended = False
    try:
        while slow.sock.recv(1 << 20):
            pass
        ended = True
    except ConnectionResetError:
        ended = True
    except socket.timeout:
        pass
    slow.sock.close()
    assert ended, "the slow client was not closed"
    assert watch.peak - watch.baseline < 32 * 1024, f"RSS grew by {watch.peak - watch.baseline} KiB"


@pytest.mark.timeout(60)
def test_slow_client_drop_skips_the_non_reader_and_counts_what_it_missed(start_server, tmp_path, stray):
    srv = start_server([program(tmp_path, "flood", FLOOD)],
                       flags=[*ROOMS, f"--room-queue={FLOOD_QUEUE}", "--slow-client=drop"])
    numbers, slow, watch = run_flood(srv, tmp_path, "/feed", r"[1-9]\d* messages dropped")
    stray.add(*pids(tmp_path, "flood"))
    assert_contiguous(numbers)
    assert watch.peak - watch.baseline < 32 * 1024, f"RSS grew by {watch.peak - watch.baseline} KiB"
    # The stalled client is still connected: once it reads, it gets lines
    # again, with a gap where its messages were dropped.
    buf = bytearray(slow.buf)  # what came with the 101 is the first frames' start
    seen = []
    slow.sock.settimeout(10)
    def gap():
        return any(b != a + 1 for a, b in zip(seen, seen[1:]))

    # What it gets first is what was queued before the drops began: at most
    # the queue and the kernel's buffers (a few MiB, under 12,000 lines).
    while len(seen) < 12000 and not gap():
        chunk = slow.sock.recv(1 << 20)
        assert chunk, "the dropping policy closed the slow client"
        buf += chunk
        seen += [int(p.split(b" ", 1)[0]) for fin, op, p in wsb.take_server_frames(buf) if op == wsb.OP_TEXT]
    slow.sock.close()
    assert gap(), "no message was dropped for the slow client"


@pytest.mark.timeout(60)
def test_slow_client_wait_holds_the_room_back_and_nobody_misses_a_line(start_server, tmp_path, stray):
    srv = start_server([program(tmp_path, "flood", FLOOD_ON_GO)], flags=[*ROOMS, "--slow-client=wait"])

    async def go():
        fast = await connect(srv.url("/feed"))
        slow = never_reading_client(srv.port, "/feed")  # in the room once its 101 is read
        await fast.send("go")
        numbers = await read_numbers(fast, 100)
        # The non-reader fills up and the room stops reading the program:
        # the fast client soon gets nothing new.
        stalled = False
        for _ in range(30000):  # far more than the stalled socket's kernel buffers hold
            try:
                numbers.append(int((await asyncio.wait_for(fast.recv(), 1)).split(" ", 1)[0]))
            except asyncio.TimeoutError:
                stalled = True
                break
        assert stalled, "the room did not wait for the client that does not read"
        # The slow client reads now: the room goes on, and both get every line.
        loop = asyncio.get_running_loop()
        slow.sock.setblocking(False)
        buf, seen = bytearray(slow.buf), []  # what came with the 101 starts the frames
        more = asyncio.ensure_future(read_numbers(fast, numbers[-1] + 3000))
        while len(seen) < numbers[-1] + 3000:
            buf.extend(await loop.sock_recv(slow.sock, 1 << 20))
            seen.extend(int(p.split(b" ", 1)[0]) for _, op, p in wsb.take_server_frames(buf) if op == wsb.OP_TEXT)
        numbers += await more
        await fast.close()
        slow.sock.close()
        return numbers, seen

    numbers, seen = run(go(), timeout=50)
    stray.add(*pids(tmp_path, "flood"))
    assert_contiguous(numbers)
    assert_contiguous(seen)
    assert numbers[0] == 0 and seen[0] == 0, (numbers[:3], seen[:3])


def test_room_options_need_broadcast_and_broadcast_needs_one_loop(bin_path):
    for args in (["--room-queue=1M", "cat"], ["--slow-client=drop", "cat"], ["--room-linger=1", "cat"]):
        result = wsb.run_cli(bin_path, args)
        assert result.returncode == 2 and "needs --broadcast" in result.stderr.decode(), (args, result.stderr)
    result = wsb.run_cli(bin_path, ["--broadcast", "--workers=2", "cat"])
    assert result.returncode == 2 and "one event loop" in result.stderr.decode(), result.stderr
    result = wsb.run_cli(bin_path, ["--broadcast", "--slow-client=later", "cat"])
    assert result.returncode == 2 and "close, drop or wait" in result.stderr.decode(), result.stderr
    result = wsb.run_cli(bin_path, ["--broadcast", "--room-queue=1K", "cat"])
    assert result.returncode == 2 and "64K to 1G" in result.stderr.decode(), result.stderr


def test_the_chat_example_with_dir_is_one_room_per_path_info(start_server, stray):
    chat_dir = os.path.normpath(os.path.join(wsb.HERE, "..", "..", "examples", "chat"))
    srv = start_server([], flags=[*ROOMS, f"--dir={chat_dir}"])

    async def go():
        # The welcome goes to whoever is in the room when it is printed:
        # the second client joins after it.
        lobby = [await connect(srv.url("/chat.sh/lobby"))]
        games = await connect(srv.url("/chat.sh/games"))
        welcome = [await asyncio.wait_for(ws.recv(), 5) for ws in (lobby[0], games)]
        lobby.append(await connect(srv.url("/chat.sh/lobby")))
        await lobby[1].send("hello lobby")
        heard = [(await asyncio.wait_for(ws.recv(), 5)).split(" ", 1)[1] for ws in lobby]
        await games.send("hello games")
        heard.append((await asyncio.wait_for(games.recv(), 5)).split(" ", 1)[1])
        for ws in (*lobby, games):
            await ws.close()
        return welcome, heard

    welcome, heard = run(go())
    assert welcome == ["welcome to /chat.sh/lobby", "welcome to /chat.sh/games"]
    assert heard == ["hello lobby", "hello lobby", "hello games"]


def test_room_replay_gives_a_joining_client_the_last_messages_first(start_server):
    srv = start_server(["cat"], flags=[*ROOMS, "--room-replay=2"])

    async def go():
        first = await connect(srv.url("/replay"))
        for word in ("one", "two", "three"):
            await first.send(word)
        heard = [await asyncio.wait_for(first.recv(), 5) for _ in range(3)]
        late = await connect(srv.url("/replay"))
        await first.send("four")
        replayed = [await asyncio.wait_for(late.recv(), 5) for _ in range(3)]
        await first.close()
        await late.close()
        return heard, replayed

    heard, replayed = run(go())
    assert heard == ["one", "two", "three"]
    assert replayed == ["two", "three", "four"]


def test_room_tagged_tells_the_program_who_and_sends_its_tagged_lines_to_one_client(start_server, tmp_path):
    # Each input line is "ID<TAB>message": answered to that client alone, and
    # announced to everyone. The answer to a client that has left (its
    # "leave") reaches nobody.
    answer = tmp_path / "answer.sh"
    answer.write_text("#!/bin/sh\ntab=$(printf '\\t')\n"
                      "while IFS=$tab read -r id message; do\n"
                      "  printf '%s\\tyou said %s\\n' \"$id\" \"$message\"\n"
                      "  echo \"all $message\"\n"
                      "done\n")
    answer.chmod(0o755)
    srv = start_server([str(answer)], flags=[*ROOMS, "--room-tagged"])

    async def go():
        a = await connect(srv.url("/tagged"))
        a_heard = [await asyncio.wait_for(a.recv(), 5) for _ in range(2)]
        b = await connect(srv.url("/tagged"))
        b_heard = [await asyncio.wait_for(b.recv(), 5) for _ in range(2)]
        await a.send("hi")
        a_heard += [await asyncio.wait_for(a.recv(), 5) for _ in range(3)]
        b_heard += [await asyncio.wait_for(b.recv(), 5)]
        await b.close()
        a_heard += [await asyncio.wait_for(a.recv(), 5)]
        await a.close()
        return a_heard, b_heard

    a_heard, b_heard = run(go())
    assert a_heard == ["you said join", "all join", "all join", "you said hi", "all hi", "all leave"]
    assert b_heard == ["you said join", "all join", "all hi"]


@pytest.mark.parametrize("body, flags, code, reason", [
    ('read line\necho "got $line"\nexit 3', [], 1011, "exit status 3"),
    ('read line\necho "got $line"\nexit 3', ["--exit-close-codes=4000"], 4003, "exit status 3"),
    ('read line\necho "got $line"\nkill -SEGV $$', [], 1011, "killed by SIGSEGV"),
])
def test_every_client_of_a_room_is_told_why_its_program_ended(start_server, tmp_path, stray, body, flags, code,
                                                                reason):
    srv = start_server([program(tmp_path, "ends", body)], flags=[*ROOMS, *flags])

    async def go():
        clients = [await connect(srv.url("/ends")) for _ in range(2)]
        await clients[0].send("hello")
        return [await line_then_close(ws) for ws in clients]

    assert run(go()) == [("got hello", code, reason)] * 2
    stray.add(*pids(tmp_path, "ends"))


@pytest.mark.parametrize("framing, message", [("nul", "two\nlines"), ("length", b"bin\x00\nary")])
def test_framing_keeps_a_rooms_messages_exact(start_server, tmp_path, stray, framing, message):
    srv = start_server([program(tmp_path, "framed", "exec cat")], flags=[*ROOMS, f"--framing={framing}"])

    async def go():
        a, b = [await connect(srv.url("/framed")) for _ in range(2)]
        await a.send(message)
        got = [await asyncio.wait_for(ws.recv(), 5) for ws in (a, b)]
        await a.close()
        await b.close()
        return got

    assert run(go()) == [message, message]
    stray.add(*pids(tmp_path, "framed"))


@pytest.mark.timeout(60)
@pytest.mark.parametrize("policy", ["close", "drop", "wait"])
def test_memory_stays_bounded_with_non_readers_and_a_program_printing_as_fast_as_it_can(
        start_server, bin_path, tmp_path, stray, policy):
    # No throttle: `yes` writes 1 KiB lines as fast as the pipe takes them.
    srv = start_server([program(tmp_path, "yes", 'exec yes "$(head -c 1000 /dev/zero | tr \'\\0\' y)"')],
                       flags=[*ROOMS, "--room-queue=64K", f"--slow-client={policy}"])
    slow = [never_reading_client(srv.port, "/firehose") for _ in range(3)]
    watch = RssWatch(srv.pid)
    watch.sample_for(3.0)
    # The loop still serves: a client of another room gets that room's lines.
    other = wsb.RawWS(srv.port, "/other-room")
    opcode, payload = other.recv_message()
    assert (opcode, payload[:3]) == (wsb.OP_TEXT, b"yyy")
    other.sock.close()
    watch.sample_for(1.0)
    for ws in slow:
        ws.sock.close()
    stray.add(*pids(tmp_path, "yes"))
    # Under AddressSanitizer RSS is mostly its quarantine of freed frames.
    if not procstat.is_asan_build(bin_path):
        assert watch.peak - watch.baseline < 32 * 1024, f"RSS grew by {watch.peak - watch.baseline} KiB ({policy})"


@pytest.mark.parametrize("flags", [[], ["--maxforks=1"]])
def test_clients_arriving_together_start_one_program_and_all_join_it(start_server, tmp_path, stray, flags):
    # The program takes a moment to start, so every client arrives while
    # the first one's launch is still in flight.
    srv = start_server([program(tmp_path, "slow", "sleep 0.3\nexec cat")], flags=[*ROOMS, *flags])

    async def go():
        clients = await asyncio.gather(*(connect(srv.url("/together")) for _ in range(12)))
        await clients[5].send("one program for all")
        heard = [await asyncio.wait_for(ws.recv(), 10) for ws in clients]
        for ws in clients:
            await ws.close()
        return heard

    assert run(go()) == ["one program for all"] * 12
    stray.add(*pids(tmp_path, "slow"))
    assert len(pids(tmp_path, "slow")) == 1


def test_under_deflate_a_rooms_messages_go_uncompressed_and_every_client_reads_them(start_server, tmp_path, stray):
    # One encoding serves every member: room frames skip the deflate stage,
    # which permessage-deflate allows (RSV1 clear) even once negotiated.
    srv = start_server([program(tmp_path, "cat", "exec cat")], flags=[*ROOMS, "--deflate"])
    raw = wsb.RawWS(srv.port, "/deflated", headers={"Sec-WebSocket-Extensions": "permessage-deflate"})
    assert "permessage-deflate" in (raw.response.header("sec-websocket-extensions") or "")

    async def go():
        async with websockets.connect(srv.url("/deflated"), compression="deflate", ping_interval=None,
                                      close_timeout=3) as ws:
            assert "permessage-deflate" in ws.response_headers.get("Sec-WebSocket-Extensions", "")
            line = "hello room " * 100
            await ws.send(line)  # compressed by the client, inflated for the program
            return line, await asyncio.wait_for(ws.recv(), 5)

    line, got = run(go())
    assert got == line
    fin, opcode, payload, masked = raw.recv_frame()
    # Compressed, these bytes would be a deflate stream, not the line.
    assert (fin, opcode, payload) == (True, wsb.OP_TEXT, line.encode())
    raw.sock.close()
    stray.add(*pids(tmp_path, "cat"))


@pytest.mark.timeout(90)
def test_fifty_non_readers_hold_one_copy_of_the_rooms_output_not_fifty(start_server, bin_path, tmp_path, stray):
    # 8 MiB of 1 KiB lines once "go" arrives, then the program stays, so
    # the stalled clients keep what their queues hold (--slow-client=drop:
    # each stays connected with up to --room-queue=1M queued).
    done = tmp_path / "printed"
    body = (f'read go\nyes "$(head -c 1023 /dev/zero | tr \'\\0\' y)" | head -n 8192\n'
            f'touch {done}\nexec sleep 60')
    srv = start_server([program(tmp_path, "print8m", body)], flags=[*ROOMS, "--slow-client=drop"])
    slow = [never_reading_client(srv.port, "/feed") for _ in range(50)]
    starter = wsb.RawWS(srv.port, "/feed")
    watch = RssWatch(srv.pid)
    starter.send_text("go")
    starter.sock.close()  # leaves; the 50 stay
    deadline = time.monotonic() + 30
    while not done.exists() and time.monotonic() < deadline:
        watch.sample()
        time.sleep(0.05)
    assert done.exists(), "the program did not get its 8 MiB out"
    watch.sample_times(20)
    assert re.search(r"[1-9]\d* messages dropped", srv.log()), "the stalled clients' queues never filled"
    for ws in slow:
        ws.sock.close()
    stray.add(*pids(tmp_path, "print8m"))
    # Copied per client, the queues would hold 50 x 1 MiB; shared, about
    # one --room-queue's worth of blocks (plus the blocks' spare capacity).
    if not procstat.is_sanitized_build(bin_path):
        assert watch.peak_growth < 12 * 1024, f"RSS grew by {watch.peak_growth} KiB"
