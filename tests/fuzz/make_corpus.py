#!/usr/bin/python3
"""Writes the seed corpora in tests/fuzz/corpus/<target>/.

Each seed starts with the parameter bytes its target reads first (limits,
how to split the input) and then a small valid or nearly valid input, so the
fuzzer starts from inputs that reach deep into each parser. Re-run after
changing a target's input layout; the files are committed.
"""
import hashlib
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def frame(opcode, payload=b"", fin=True, mask=True, key=b"\x01\x02\x03\x04", rsv=0):
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, m | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, m | 126, n)
    else:
        head = struct.pack("!BBQ", b0, m | 127, n)
    if not mask:
        return head + payload
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def write(target, seeds):
    folder = os.path.join(HERE, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    for old in os.listdir(folder):
        os.remove(os.path.join(folder, old))
    for seed in seeds:
        name = hashlib.sha1(seed).hexdigest()[:16]
        with open(os.path.join(folder, name), "wb") as f:
            f.write(seed)


def frame_seeds():
    streams = [
        frame(1, b"hello"),
        frame(2, bytes(range(256))),
        frame(1, b"caf\xc3", fin=False) + frame(9, b"ping") + frame(0, b"\xa9!"),
        frame(1, b"x" * 200) + frame(10, b"") + frame(8, struct.pack("!H", 1000) + b"bye"),
        frame(8, b""),
        frame(8, b"\x03"),
        frame(8, struct.pack("!H", 1005)),
        frame(1, b"\xff\xfe"),
        frame(1, b"no mask", mask=False),
        frame(1, b"rsv", rsv=4),
        frame(0, b"orphan"),
        frame(2, b"a" * 70000),
        bytes([0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]),
        bytes([0x89, 0xFE, 0x00, 0x80]),
        frame(3, b"reserved opcode"),
    ]
    seeds = []
    for i, s in enumerate(streams):
        seeds.append(bytes([i % 6, 0, 0]) + s)     # whole vs byte by byte
        seeds.append(bytes([2, 2, 7 + i]) + s)     # random chunks, limit 125
    return seeds


def http_seeds():
    upgrade = (b"GET /chat?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\n"
               b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               b"Sec-WebSocket-Version: 13\r\nOrigin: http://example.com\r\n\r\n")
    requests = [
        upgrade,
        upgrade + frame(1, b"first frame"),
        b"GET /a/../b//c HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET http://other:81/x?y HTTP/1.1\r\nHost: h\r\nProxy: evil\r\nX-A b: c\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
        b"GET / HTTP/1.0\r\n\r\n",
        b"GET / HTTP/2.0\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"BREW /pot HTTP/1.1\r\nHost: h\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        b"GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET /%00 HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nX-Folded: a\r\n  b\r\n\r\n",
        b"GET / HTTP/1.1\nHost: h\n\n",
        b"GET /" + b"a" * 100 + b" HTTP/1.1\r\nHost: h\r\n\r\n",
        upgrade.replace(b"13", b"8"),
        upgrade.replace(b"GET", b"PUT"),
    ]
    seeds = []
    for i, r in enumerate(requests):
        seeds.append(bytes([0, 0, 0]) + r)           # default limits, byte by byte
        seeds.append(bytes([2 * i + 1, 2, i]) + r)   # small limits, random chunks
    return seeds


def utf8_seeds():
    texts = [b"", b"ascii only", "caf\u00e9 \u20ac \U0001F600".encode(), b"\xc0\xaf", b"\xed\xa0\x80",
             b"\xf4\x90\x80\x80", b"\xe2\x82", b"\x80\xbf", b"ok\xf0\x9f\x98", b"\xef\xbb\xbfBOM",
             b"\xf8\x88\x80\x80\x80", "\u00ff\u0100\u07ff\u0800\uffff".encode()]
    return [bytes([m, 5]) + t for t in texts for m in (0, 1, 2)]


def line_seeds():
    texts = [b"one\ntwo\r\nthree", b"\n\n\r\n", b"no newline at all", b"cr\rin\rthe\rmiddle\r",
             "\u00e9\u00e9\u00e9\u00e9\n\U0001F600\U0001F600".encode(), b"x" * 100 + b"\r\n",
             b"abcd\r", b"\r\r\n\r", b"\xff\xfe\n\xc3"]
    return [bytes([limit, mode, 3]) + t for t in texts for limit in (0, 3, 4, 6) for mode in (0, 2)]


def cgi_seeds():
    sep = b"\xff"
    parts = [
        [b"PATH,LD_LIBRARY_PATH,HTTPS", b"PATH=/usr/bin\nHTTPS=on", b"/a b", b"q=1",
         b"User-Agent", b"  test\r\n", b"Proxy", b"http://evil", b"Host", b"h"],
        [b"X,,Y=Z", b"X= \r\nval\n", b"/", b"", b"x-forwarded-for", b"1.2.3.4",
         b"X-FORWARDED-FOR", b"5.6.7.8", b"bad name", b"v", b"na\x00me", b"v\x00al"],
        [b"", b"", b"/%2F%00", b"a=%0a", b"Content-Type", b"text/plain", b"=", b"=", b"", b"empty"],
    ]
    return [bytes([flags]) + sep.join(p) for p in parts for flags in (0, 3, 4)]


def args_seeds():
    """argv words (without argv[0]) joined by NUL, as args_fuzz splits them."""
    lines = [
        ["--port=8080", "--address=127.0.0.1", "cat"],
        ["-port", "0x50", "-address", "[::1]", "--binary", "./count.sh", "--x"],
        ["--port=99999", "--redirport=-1", "cat"],
        ["--maxmessage=64K", "--maxframesize=1T", "--closems=250", "--pingms=86400000", "cat"],
        ["--header=X-A: b", "--header-ws=Sec-WebSocket-Protocol: chat", "--header-http=bad", "cat"],
        ["--ssl", "--sslcert=c.pem", "--sslkey=k.pem", "--sslca=ca.pem", "--redirport=8443", "cat"],
        ["--unixsocket=/tmp/ws.sock", "--unixsocket-mode=0660", "--address=unix:/run/x", "cat"],
        ["--shutdown-timeout=0.5", "--ping-interval=30", "--workers=64", "--maxforks=-3", "cat"],
        ["--trusted-proxy=10.0.0.0/8,::1", "--proxy-protocol=true", "--loglevel=debug",
         "--logformat=json", "cat"],
        ["--dir=/srv", "--staticdir=/s", "--cgidir=/c", "--devconsole", "--passenv=", "--origin=a,b"],
        ["--", "-cmd", "--help"],
        ["--help"],
        ["--version=false", "--license", "x"],
    ]
    return [b"\0".join(w.encode() for w in words) for words in lines]


def extension_offer_seeds():
    headers = [b"permessage-deflate", b"permessage-deflate; client_max_window_bits",
               b"permessage-deflate; server_max_window_bits=10; client_max_window_bits=8",
               b"permessage-deflate; server_no_context_takeover; client_no_context_takeover",
               b'permessage-deflate; client_max_window_bits="12", x-webkit-deflate-frame',
               b"foo; bar=\"a,b\", permessage-deflate; server_max_window_bits=16, permessage-deflate",
               b"permessage-deflate; unknown, PerMessage-Deflate ; Server_Max_Window_Bits = 9"]
    return [bytes([flags, windows]) + h for h in headers for flags in (0, 6) for windows in (0xff, 0x9a)]


def inflater_seeds():
    import zlib
    hello = [b"\xf2\x48\xcd\xc9\xc9\x07\x00", b"\xf2\x00\x11\x00\x00",
             b"\x00\x05\x00\xfa\xff\x48\x65\x6c\x6c\x6f\x00", b"\xf3\x48\xcd\xc9\xc9\x07\x00\x00"]
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15, 8)
    text = b'{"id":1,"name":"sensor-1","value":3}\n' * 20
    made = (compressor.compress(text) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
    payloads = [b"\xff".join(hello[:2]), hello[2], hello[3], made, b"\x06", b"\x00" * 30]
    seeds = [bytes([shape, mode, 7, limit]) + p for p in payloads
             for shape in (7, 15) for mode in (0, 2) for limit in (0, 2)]
    texts = [b"Hello\xffHello", text, bytes(range(255)) * 3]
    return seeds + [bytes([16 | shape, mode, 9, 0]) + t for t in texts for shape in (0, 7, 15) for mode in (1, 2)]


if __name__ == "__main__":
    write("frame_fuzz", frame_seeds())
    write("http_fuzz", http_seeds())
    write("utf8_fuzz", utf8_seeds())
    write("line_splitter_fuzz", line_seeds())
    write("cgi_env_fuzz", cgi_seeds())
    write("args_fuzz", args_seeds())
    write("extension_offer_fuzz", extension_offer_seeds())
    write("inflater_fuzz", inflater_seeds())
