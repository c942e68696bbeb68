"""The Debian package: scripts/package.sh builds it with CPack (in build-pkg/,
reused when up to date); we list it, unpack it into a throwaway root with
`dpkg -x` (never `dpkg -i` onto the machine) and run what it installed.
"""
import gzip
import os
import re
import shutil
import subprocess

import pytest

import wsb

ROOT = os.path.normpath(os.path.join(wsb.HERE, "..", ".."))

pytestmark = pytest.mark.skipif(
    shutil.which("dpkg-deb") is None or shutil.which("dpkg-shlibdeps") is None,
    reason="dpkg-deb/dpkg-shlibdeps missing (scripts/install-deps.sh --with-tests installs dpkg-dev)")


def project_version() -> str:
    with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
        m = re.search(r"project\(wsbridge VERSION (\S+)", f.read())
    assert m, "no project(wsbridge VERSION ...) in CMakeLists.txt"
    return m.group(1)


@pytest.fixture(scope="module")
def deb():
    """Path of the .deb built from this tree (bounded: a cold build takes a few minutes)."""
    r = subprocess.run([os.path.join(ROOT, "scripts", "package.sh")], capture_output=True,
                       text=True, timeout=540)
    assert r.returncode == 0, f"package.sh failed:\n{r.stdout}\n{r.stderr}"
    path = r.stdout.strip().splitlines()[-1]
    assert path.endswith(".deb") and os.path.isfile(path), r.stdout
    return path


@pytest.fixture(scope="module")
def unpacked(deb, tmp_path_factory):
    root = tmp_path_factory.mktemp("pkgroot")
    subprocess.run(["dpkg", "-x", deb, str(root)], check=True, timeout=60)
    return root


def field(deb: str, name: str) -> str:
    return subprocess.run(["dpkg-deb", "-f", deb, name], capture_output=True, text=True,
                          check=True, timeout=30).stdout.strip()


@pytest.mark.timeout(600)
def test_control_fields(deb):
    assert field(deb, "Package") == "wsbridge"
    assert field(deb, "Version") == project_version()
    assert field(deb, "Maintainer")
    depends = [d.strip().split()[0] for d in field(deb, "Depends").split(",")]
    # From dpkg-shlibdeps: the shared libraries the binary links.
    assert "libuv1" in depends and "libssl3" in depends, depends
    assert os.path.basename(deb) == f"wsbridge_{project_version()}_{field(deb, 'Architecture')}.deb"


@pytest.mark.timeout(600)
def test_contents(deb):
    listing = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True,
                             check=True, timeout=30).stdout
    files = {line.split()[-1].lstrip(".") for line in listing.splitlines() if line.strip()}
    doc = "/usr/share/doc/wsbridge"
    for path in ["/usr/bin/wsbridge", "/usr/share/man/man1/wsbridge.1.gz", f"{doc}/copyright",
                 f"{doc}/examples/systemd/wsbridge.service",
                 f"{doc}/examples/systemd/wsbridge.socket",
                 f"{doc}/examples/nginx/wsbridge.conf", f"{doc}/examples/haproxy/haproxy.cfg",
                 f"{doc}/examples/count.sh", f"{doc}/deploy.md"]:
        assert path in files, f"{path} not in the package:\n{listing}"
    # Nothing outside /usr (no files in /etc or /lib the admin did not ask for).
    assert all(f == "/" or f.startswith("/usr") for f in files), sorted(files)
    # The binary is executable in the archive.
    mode = next(line.split()[0] for line in listing.splitlines()
                if line.split()[-1] == "./usr/bin/wsbridge")
    assert mode == "-rwxr-xr-x"


@pytest.mark.timeout(600)
def test_unpacked_binary_runs(unpacked):
    binary = unpacked / "usr" / "bin" / "wsbridge"
    r = wsb.run_cli(str(binary), ["--version"])
    assert r.returncode == 0, r
    assert project_version() in r.stdout.decode(), r.stdout


@pytest.mark.timeout(600)
def test_unpacked_binary_serves_a_packaged_example(unpacked, start_server):
    binary = unpacked / "usr" / "bin" / "wsbridge"
    greeter = unpacked / "usr" / "share" / "doc" / "wsbridge" / "examples" / "greeter.sh"
    assert os.access(greeter, os.X_OK), "examples lost their execute bit in the package"
    srv = start_server([str(greeter)], binary=str(binary))
    with wsb.RawWS(srv.port) as ws:
        ws.send_text("Debian")
        assert ws.recv_message(5) == (wsb.OP_TEXT, b"Hello, Debian!")


@pytest.mark.timeout(600)
def test_packaged_man_page_renders_every_option(unpacked):
    page = unpacked / "usr" / "share" / "man" / "man1" / "wsbridge.1.gz"
    # groff's own check: -ww enables every warning, -z discards the output.
    lint = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z"], input=gzip.decompress(page.read_bytes()),
                          capture_output=True, timeout=60)
    lint.stderr = lint.stderr.decode()
    assert lint.returncode == 0 and lint.stderr.strip() == "", lint.stderr
    env = dict(os.environ, MANWIDTH="200", MANPAGER="cat", PAGER="cat", LC_ALL="C.UTF-8")
    shown = subprocess.run(["man", "--no-hyphenation", "--no-justification", "-l", str(page)],
                           capture_output=True, text=True, timeout=60, env=env)
    assert shown.returncode == 0, shown.stderr
    text = re.sub(r".\x08", "", shown.stdout)  # overstrike bold/underline
    helptext = wsb.run_cli(str(unpacked / "usr" / "bin" / "wsbridge"), ["--help"]).stdout.decode()
    options = sorted(set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]+", helptext)))
    assert len(options) > 10, helptext
    missing = [o for o in options if o not in text]
    assert not missing, f"in --help but not in the rendered man page: {missing}"
