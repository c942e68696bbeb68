"""--maxconn-per-client and --connect-rate: per client address, the address
REMOTE_ADDR reports (here set by X-Forwarded-For from a --trusted-proxy, so
one test can be several clients), IPv6 counted per /64."""
import socket
import time

import wsb


def open_upgrade(port: int, client: str | None = None, path: str = "/") -> tuple[socket.socket, wsb.HttpResponse]:
    """An upgrade that stays open; its response head."""
    headers = {"X-Forwarded-For": client} if client else None
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(wsb.upgrade_request(port, path, headers=headers))
    head, rest = wsb.read_http_head(sock, 5)
    status, reason, hdrs = wsb.parse_head(head)
    return sock, wsb.HttpResponse(status, reason, hdrs, b"", rest)


def test_maxconn_per_client_refuses_the_next_with_429_until_one_closes(start_server, tmp_path):
    marker = tmp_path / "started"
    program = tmp_path / "mark.sh"
    program.write_text(f"#!/bin/sh\necho started >> {marker}\nexec cat\n")
    program.chmod(0o755)
    srv = start_server([str(program)], flags=["--maxconn-per-client=2"])
    first, r1 = open_upgrade(srv.port)
    second, r2 = open_upgrade(srv.port)
    assert (r1.status, r2.status) == (101, 101)
    third, r3 = open_upgrade(srv.port)
    assert r3.status == 429, r3
    third.close()
    assert wsb.wait_until(lambda: marker.exists() and marker.read_text().count("started") == 2, 5)
    assert wsb.holds_for(lambda: marker.read_text().count("started") == 2, 0.3)
    first.close()
    # The slot comes back once the server has seen the close.
    admitted = []

    def try_again() -> bool:
        sock, response = open_upgrade(srv.port)
        if response.status == 101:
            admitted.append(sock)
            return True
        sock.close()
        return False
    assert wsb.wait_until(try_again, 10)
    for sock in [second, *admitted]:
        sock.close()


def test_each_forwarded_client_counts_alone_and_ipv6_per_64(start_server):
    srv = start_server(["cat"], flags=["--maxconn-per-client=1", "--trusted-proxy=127.0.0.1"])
    held = []
    for client in ["192.0.2.1", "192.0.2.2", "2001:db8:0:1::1", "2001:db8:0:2::1"]:
        sock, response = open_upgrade(srv.port, client)
        assert response.status == 101, (client, response)
        held.append(sock)
    for client in ["192.0.2.1", "2001:db8:0:1::ffff", "::ffff:192.0.2.2"]:
        sock, response = open_upgrade(srv.port, client)
        assert response.status == 429, (client, response)
        sock.close()
    for sock in held:
        sock.close()


def test_connect_rate_429_with_retry_after_then_admits_again(start_server):
    # One a second: three requests in a row cannot all be admitted, however
    # slowly this machine (or a sanitizer build) answers them.
    srv = start_server(["cat"], flags=["--connect-rate=1/s"])
    responses = [wsb.http_exchange(srv.port, wsb.upgrade_request(srv.port, "/")) for _ in range(3)]
    statuses = [r.status for r in responses]
    assert statuses[0] == 101 and 429 in statuses, statuses
    # The refusals say when to come back: a token is back within a second.
    assert {r.header("retry-after") for r in responses if r.status == 429} == {"1"}
    time.sleep(1.1)
    assert wsb.http_exchange(srv.port, wsb.upgrade_request(srv.port, "/")).status == 101
