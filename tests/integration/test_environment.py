"""The environment a child sees (websocketd's CGI-like variables, reference §1.6/§1.7)."""
import os

import pytest

import wsb
from wsb import script

SERVER_PATH = os.environ.get("PATH", "/usr/bin:/bin")
# The server runs with exactly this environment, so leaks are visible.
SERVER_ENV = {
    "PATH": SERVER_PATH,
    "WSB_UNLISTED_SECRET": "must-not-leak",
    "FOO": "foo-value",
    "HTTPS": "on",
}


def read_env(port, path="/", headers=None, host=None):
    """Connect with a raw client, collect env.sh's output until it closes.

    Returns (env dict, client local port)."""
    hdrs = dict(headers or {})
    if host is not None:
        hdrs["Host"] = host
    lines = []
    with wsb.RawWS(port, path, hdrs) as c:
        local_port = c.sock.getsockname()[1]
        for _ in range(500):
            try:
                msg = c.recv_message(timeout=5)
            except wsb.Closed:
                break  # websocketd drops TCP without a close frame
            if msg[0] == "close":
                break
            assert msg[0] == wsb.OP_TEXT
            lines.append(msg[1].decode())
    env = {}
    for line in lines:
        k, sep, v = line.partition("=")
        assert sep, f"not VAR=value: {line!r}"
        env[k] = v
    return env, local_port


@pytest.fixture
def env_server(start_server):
    return start_server([script("env.sh")], env=SERVER_ENV)


def test_cgi_variables(env_server):
    port = env_server.port
    env, local_port = read_env(port, "/a%20b/c?x=1&y=%20z+q",
                               {"X-Foo-Bar": "bar value", "Origin": "http://o.example",
                                "User-Agent": "wsb-test/1"})
    expect = {
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_HOST": "127.0.0.1",
        "REMOTE_PORT": str(local_port),
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": str(port),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "GATEWAY_INTERFACE": "websocketd-CGI/0.1",
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "/",
        "PATH_INFO": "/a b/c",
        "PATH_TRANSLATED": "/a b/c",
        "QUERY_STRING": "x=1&y=%20z+q",
        "REQUEST_URI": "/a%20b/c?x=1&y=%20z+q",
        "AUTH_TYPE": "",
        "CONTENT_LENGTH": "",
        "CONTENT_TYPE": "",
        "REMOTE_IDENT": "",
        "REMOTE_USER": "",
        "HTTP_X_FOO_BAR": "bar value",
        "HTTP_ORIGIN": "http://o.example",
        "HTTP_USER_AGENT": "wsb-test/1",
        "HTTP_UPGRADE": "websocket",
        "HTTP_CONNECTION": "Upgrade",
        "HTTP_SEC_WEBSOCKET_VERSION": "13",
        "PATH": SERVER_PATH,
    }
    for k, v in expect.items():
        assert env.get(k) == v, f"{k}: expected {v!r}, got {env.get(k)!r}"
    assert env.get("HTTP_SEC_WEBSOCKET_KEY"), "HTTP_SEC_WEBSOCKET_KEY missing"
    assert env.get("UNIQUE_ID"), "UNIQUE_ID missing or empty"
    assert env.get("SERVER_SOFTWARE"), "SERVER_SOFTWARE missing"
    # Nothing else: the parent env is wiped to passenv + CGI variables
    # (PWD is added by /bin/sh itself).
    allowed = set(expect) | {"HTTP_SEC_WEBSOCKET_KEY", "UNIQUE_ID", "SERVER_SOFTWARE", "PWD"}
    assert set(env) - allowed == set(), f"unexpected variables: {sorted(set(env) - allowed)}"


def test_no_http_host(env_server):
    env, _ = read_env(env_server.port)
    assert "HTTP_HOST" not in env


def test_server_name_and_port_come_from_host_header(env_server):
    env, _ = read_env(env_server.port, host="example.com:8080")
    assert (env.get("SERVER_NAME"), env.get("SERVER_PORT")) == ("example.com", "8080")
    env, _ = read_env(env_server.port, host="example.org")
    assert (env.get("SERVER_NAME"), env.get("SERVER_PORT")) == ("example.org", "80")


def test_query_is_raw_and_path_is_decoded(env_server):
    env, _ = read_env(env_server.port, "/p%2Fq/%C3%A9?a=%41&b")
    assert env["PATH_INFO"] == "/p/q/é"
    assert env["QUERY_STRING"] == "a=%41&b"
    assert env["REQUEST_URI"] == "/p%2Fq/%C3%A9?a=%41&b"


def test_no_query_gives_empty_query_string(env_server):
    env, _ = read_env(env_server.port, "/plain")
    assert env.get("QUERY_STRING") == ""
    assert env.get("REQUEST_URI") == "/plain"


def test_unique_id_differs_between_connections(env_server):
    a, _ = read_env(env_server.port)
    b, _ = read_env(env_server.port)
    assert a["UNIQUE_ID"] and b["UNIQUE_ID"] and a["UNIQUE_ID"] != b["UNIQUE_ID"]


def test_unlisted_server_variable_not_passed(env_server):
    env, _ = read_env(env_server.port)
    assert "WSB_UNLISTED_SECRET" not in env
    assert "FOO" not in env
    assert env.get("PATH") == SERVER_PATH  # default --passenv=PATH,LD_LIBRARY_PATH


def test_passenv_passes_listed_variable(start_server):
    srv = start_server([script("env.sh")], flags=["--passenv=FOO,PATH"], env=SERVER_ENV)
    env, _ = read_env(srv.port)
    assert env.get("FOO") == "foo-value"
    assert env.get("PATH") == SERVER_PATH
    assert "WSB_UNLISTED_SECRET" not in env


def test_https_never_passed(start_server):
    srv = start_server([script("env.sh")], flags=["--passenv=HTTPS,PATH"], env=SERVER_ENV)
    env, _ = read_env(srv.port)
    assert "HTTPS" not in env


def test_cgi_variables_override_passenv(start_server):
    env_in = dict(SERVER_ENV, REMOTE_ADDR="1.2.3.4")
    srv = start_server([script("env.sh")], flags=["--passenv=REMOTE_ADDR,PATH"], env=env_in)
    env, _ = read_env(srv.port)
    assert env.get("REMOTE_ADDR") == "127.0.0.1"


@pytest.mark.differs_from_websocketd("SERVER_SOFTWARE names the server")
def test_server_software_is_wsbridge(env_server):
    env, _ = read_env(env_server.port)
    assert env.get("SERVER_SOFTWARE", "").startswith("wsbridge/"), env.get("SERVER_SOFTWARE")


@pytest.mark.differs_from_websocketd("httpoxy: a Proxy header must not become HTTP_PROXY")
def test_proxy_header_not_passed_as_http_proxy(env_server):
    env, _ = read_env(env_server.port, headers={"Proxy": "http://evil.example:1234"})
    assert "HTTP_PROXY" not in env, f"HTTP_PROXY={env.get('HTTP_PROXY')!r} (httpoxy)"
    # Other headers still arrive.
    assert env.get("HTTP_UPGRADE") == "websocket"


def test_ipv6_client_variables(start_server):
    srv = start_server([script("env.sh")], env=SERVER_ENV, address="[::1]")
    lines = []
    with wsb.RawWS(srv.port, host="::1", headers={"Host": f"[::1]:{srv.port}"}) as c:
        local_port = c.sock.getsockname()[1]
        for _ in range(500):
            try:
                msg = c.recv_message(timeout=5)
            except wsb.Closed:
                break
            if msg[0] == "close":
                break
            lines.append(msg[1].decode())
    env = dict(line.partition("=")[::2] for line in lines)
    assert env.get("REMOTE_ADDR") == "::1", env.get("REMOTE_ADDR")
    assert env.get("REMOTE_HOST") == "::1", env.get("REMOTE_HOST")
    assert env.get("REMOTE_PORT") == str(local_port)
    assert env.get("SERVER_NAME") == "::1", env.get("SERVER_NAME")
    assert env.get("SERVER_PORT") == str(srv.port)


def test_reverselookup_sets_remote_host_from_dns(start_server):
    # 127.0.0.1 resolves through /etc/hosts, so no network is involved.
    import socket
    try:
        expected = socket.gethostbyaddr("127.0.0.1")[0]
    except OSError:
        pytest.skip("127.0.0.1 has no reverse name on this machine")
    srv = start_server([script("env.sh")], flags=["--reverselookup"], env=SERVER_ENV)
    env, _ = read_env(srv.port)
    assert env["REMOTE_HOST"] == expected
    assert env["REMOTE_ADDR"] == "127.0.0.1"


def test_reverselookup_keeps_bytes_sent_with_the_request(start_server):
    # A frame that arrives in the same packet as the request head must survive
    # the asynchronous lookup.
    srv = start_server(["cat"], flags=["--reverselookup"], env=SERVER_ENV)
    import socket
    key = wsb.make_key()
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
        s.sendall(wsb.upgrade_request(srv.port, key=key) + wsb.encode_frame(wsb.OP_TEXT, b"early"))
        head, rest = wsb.read_http_head(s, timeout=5)
        assert b" 101 " in head.split(b"\r\n")[0]
        data = rest
        s.settimeout(5)
        while b"early" not in data:
            chunk = s.recv(4096)
            assert chunk, "closed before the echo"
            data += chunk
