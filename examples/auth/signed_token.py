#!/usr/bin/python3
"""An --auth program: allows a request that carries a token signed with a
shared secret (HMAC-SHA256), from a `session` cookie or an
`Authorization: Bearer` header. A token is USER.EXPIRY.SIGNATURE, where
EXPIRY is a Unix time and SIGNATURE the hex HMAC of "USER.EXPIRY". The user
becomes REMOTE_USER and the expiry AUTH_EXPIRES. Standard library only.

The secret is the first line of secret.key next to this script, or of the
file WSBRIDGE_SECRET_FILE names (pass it with --passenv).

  signed_token.py --sign alice 3600      # prints a token valid for an hour
  wsbridge --port=8080 --auth=examples/auth/signed_token.py ./chat.sh
"""
import hashlib
import hmac
import os
import sys
import time
from http.cookies import CookieError, SimpleCookie


def secret() -> bytes:
    path = os.environ.get("WSBRIDGE_SECRET_FILE") or os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                                  "secret.key")
    with open(path, "rb") as f:
        return f.readline().strip()


def signature(user: str, expiry: str) -> str:
    return hmac.new(secret(), f"{user}.{expiry}".encode(), hashlib.sha256).hexdigest()


def sign(user: str, seconds: int) -> str:
    expiry = str(int(time.time()) + seconds)
    return f"{user}.{expiry}.{signature(user, expiry)}"


def presented_token() -> str | None:
    authorization = os.environ.get("HTTP_AUTHORIZATION", "")
    if authorization.startswith("Bearer "):
        return authorization[len("Bearer "):].strip()
    try:
        cookie = SimpleCookie(os.environ.get("HTTP_COOKIE", ""))
    except CookieError:
        return None
    return cookie["session"].value if "session" in cookie else None


def refuse(status: str, message: str) -> None:
    sys.stdout.write(f"Status: {status}\r\nWWW-Authenticate: Bearer realm=\"wsbridge\"\r\n\r\n{message}\n")
    sys.exit(1)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--sign":
        print(sign(sys.argv[2], int(sys.argv[3])))
        return
    token = presented_token()
    if not token:
        refuse("401 Unauthorized", "no token")
    parts = token.split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        refuse("401 Unauthorized", "malformed token")
    user, expiry, given = parts
    if not hmac.compare_digest(given, signature(user, expiry)):
        refuse("403 Forbidden", "bad signature")
    if int(expiry) < time.time():
        refuse("401 Unauthorized", "token expired")
    print(f"REMOTE_USER={user}")
    print(f"AUTH_EXPIRES={expiry}")


if __name__ == "__main__":
    main()
