"""Real reverse proxies (Debian's nginx and HAProxy) in front of wsbridge, for
test_nginx.py and test_haproxy.py.

Each proxy runs in the foreground as a child of the test, listening on
127.0.0.1 only, with its pid file, logs and temporary files in the test's
tmp dir. It is stopped by its PID (SIGTERM, then SIGKILL of its process
group, which holds only it and its workers) and always reaped.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time

import wsb

EXAMPLES = os.path.normpath(os.path.join(wsb.HERE, "..", "..", "examples"))


def find_program(name: str) -> str | None:
    """Debian puts nginx and haproxy in /usr/sbin, which a non-root PATH lacks."""
    return shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/sbin/{name}") if os.access(p, os.X_OK)), None)


def read_example(relpath: str) -> str:
    with open(os.path.join(EXAMPLES, relpath)) as f:
        return f.read()


def replace_once(text: str, pattern: str, replacement: str, flags: int = 0) -> str:
    """re.sub that insists the example still has what we substitute."""
    new, n = re.subn(pattern, lambda _m: replacement, text, count=1, flags=flags)
    if n != 1:
        raise AssertionError(f"example no longer matches {pattern!r}; update the test")
    return new


class ProxyProcess:
    """One foreground proxy process (nginx master or haproxy)."""

    def __init__(self, name: str, argv: list[str], workdir: str, port: int):
        self.name = name
        self.argv = argv
        self.workdir = workdir
        self.port = port
        self.log_path = os.path.join(workdir, f"{name}.out")
        self.proc: subprocess.Popen | None = None

    def start(self, ready_timeout: float = 10.0) -> "ProxyProcess":
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, cwd=self.workdir,
                                         start_new_session=True)
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n"
                                   f"{self.output()}")
            if wsb.tcp_connect_ok(self.port):
                return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"{self.name} not accepting on {self.port} within {ready_timeout}s:\n"
                           f"{self.output()}")

    def output(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-4000:]
        except OSError:
            return ""

    def stop(self, timeout: float = 5.0):
        """SIGTERM the master (fast shutdown, it ends its workers), then make sure."""
        if self.proc is None:
            return
        pid = self.proc.pid
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        # Workers left behind by a master that died: same process group (ours,
        # from start_new_session), so end the group too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


def stopped_at_teardown(request, start_one, failure_report):
    """The body of a factory fixture (`yield from` it): hands the test a
    start(...) that calls start_one(...) and keeps the proxy; at teardown
    stops every one, and when the test failed prints failure_report(proxies)."""
    started = []

    def start(*args, **kwargs):
        proxy = start_one(*args, **kwargs)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        print(failure_report(started))


def nginx_config(workdir: str, listen_port: int, backends: list, read_timeout: str = "",
                 ipv6: bool = False) -> str:
    """examples/nginx/wsbridge.conf with our ports, wrapped in a main config
    whose pid, logs and temp files live in workdir. A backend is a port on
    127.0.0.1 or a "unix:/path" string."""
    site = read_example("nginx/wsbridge.conf")
    listen = f"    listen 127.0.0.1:{listen_port};" + (f"\n    listen [::1]:{listen_port};" if ipv6 else "")
    site = replace_once(site, r"^\s*listen 80;", listen, re.M)
    if read_timeout:
        site = replace_once(site, r"proxy_read_timeout \S+;", f"proxy_read_timeout {read_timeout};")
    servers = "".join(
        f"    server {b if isinstance(b, str) else f'127.0.0.1:{b}'} max_fails=1 fail_timeout=10s;\n"
        for b in backends)
    site = replace_once(site, r"(    server 127\.0\.0\.1:808\d[^\n]*\n)+", servers)
    # As root, nginx would switch its workers to "nobody", who cannot use
    # the temp dirs under our tmp dir.
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = "".join(f"    {kind}_temp_path {workdir}/{kind}_temp;\n"
                   for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return (f"{user}daemon off;\nmaster_process on;\nworker_processes 1;\n"
            # Upgraded connections would otherwise hold a stopping worker.
            f"worker_shutdown_timeout 2s;\n"
            f"pid {workdir}/nginx.pid;\nerror_log {workdir}/nginx-error.log info;\n"
            f"events {{ worker_connections 512; }}\n"
            f"http {{\n    access_log {workdir}/nginx-access.log;\n{temp}\n{site}\n}}\n")


def start_on_a_free_port(name: str, workdir: str, argv_for_port, port_taken: str,
                         attempts: int = 3) -> ProxyProcess:
    """Starts the proxy `name` with argv_for_port(program, port) (which also
    writes its config) on a free port, trying another port when its output
    says `port_taken` (another process took the port in between)."""
    program = find_program(name)
    assert program, f"{name} not installed"
    last = None
    for _ in range(attempts):
        port = wsb.free_port()
        proxy = ProxyProcess(name, argv_for_port(program, port), workdir, port)
        try:
            return proxy.start()
        except RuntimeError as e:
            last = e
            if port_taken not in str(e).lower():
                raise
    raise last


def start_nginx(workdir: str, backends: list, read_timeout: str = "", ipv6: bool = False) -> ProxyProcess:
    def argv(nginx, port):
        conf = os.path.join(workdir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(nginx_config(workdir, port, backends, read_timeout, ipv6))
        # -e: the error log before the config is read (default /var/log/nginx).
        return [nginx, "-p", workdir, "-e", os.path.join(workdir, "nginx-error.log"), "-c", conf]
    return start_on_a_free_port("nginx", workdir, argv, "in use")


def ipv6_loopback_ok() -> bool:
    import socket
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def haproxy_config(listen_port: int, backend_ports: list[int], ipv6: bool) -> str:
    """examples/haproxy/haproxy.cfg listening on loopback only, with our backends."""
    cfg = read_example("haproxy/haproxy.cfg")
    # A test needs few connections, and a container's descriptor limit may
    # not allow the example's.
    cfg = replace_once(cfg, r"^    maxconn \d+$", "    maxconn 1000", re.M)
    binds = f"    bind 127.0.0.1:{listen_port}\n"
    if ipv6:
        binds += f"    bind [::1]:{listen_port}\n"
    cfg = replace_once(cfg, r"^    bind :80\n", binds, re.M)
    m = re.search(r"^    server ws1 127\.0\.0\.1:8081 (.*)$", cfg, re.M)
    assert m, "examples/haproxy/haproxy.cfg no longer has 'server ws1 127.0.0.1:8081 ...'"
    options = m.group(1)
    servers = "".join(f"    server ws{i + 1} 127.0.0.1:{p} {options}\n"
                      for i, p in enumerate(backend_ports))
    return replace_once(cfg, r"(^    server ws\d 127\.0\.0\.1:808\d [^\n]*\n)+", servers, re.M)


def start_haproxy(workdir: str, backend_ports: list[int], ipv6: bool) -> ProxyProcess:
    def argv(haproxy, port):
        conf = os.path.join(workdir, "haproxy.cfg")
        with open(conf, "w") as f:
            f.write(haproxy_config(port, backend_ports, ipv6))
        # -db: stay in the foreground, one process (no master/worker).
        return [haproxy, "-db", "-f", conf]
    return start_on_a_free_port("haproxy", workdir, argv, "bind")
