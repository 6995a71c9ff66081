#!/usr/bin/env python3
"""gammu-smsd RunOnReceive: post the message just received to 银龄志愿助手's /sms/gammu, signed.

Standard library only, so it runs with any python3 on the modem host. In /etc/gammu-smsdrc:

    RunOnReceive = /usr/bin/python3 /opt/yinling/scripts/gammu_run_on_receive.py \
        --url http://127.0.0.1:8000/sms/gammu --secret-file /etc/yinling/sms_webhook_secret

gammu-smsd appends the received message ids (inbox file names or SQL ids) and passes the message in
SMS_1_NUMBER / SMS_1_TEXT ... (DECODED_1_TEXT for a long message it joined). It starts us with its own
environment, often LANG=C: the values are UTF-8 bytes, so they are read as bytes and decoded as UTF-8,
never through the locale. Exit status is non-zero when the message was not accepted (gammu logs it).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.request


def env_text(name: str) -> str:
    """An environment value decoded as UTF-8 whatever the locale (LANG=C would mangle Chinese)."""
    raw = os.environb.get(name.encode(), b"") if os.name != "nt" else os.environ.get(name, "").encode()
    return raw.decode("utf-8", errors="replace")


def read_message(ids: list[str]) -> dict[str, str]:
    """The received message from gammu-smsd's environment: number, text and a stable id."""
    number = env_text("SMS_1_NUMBER")
    decoded_parts = int(env_text("DECODED_PARTS") or "0")
    if decoded_parts and env_text("DECODED_1_TEXT"):
        text = env_text("DECODED_1_TEXT")
    else:
        count = int(env_text("SMS_MESSAGES") or "1")
        text = "".join(env_text(f"SMS_{i}_TEXT") for i in range(1, count + 1))
    return {"number": number, "text": text, "id": ",".join(ids)}


def post(url: str, secret: str, message: dict[str, str], timeout: float) -> int:
    body = json.dumps({"messages": [message]}, ensure_ascii=False).encode("utf-8")
    timestamp = str(int(time.time()))
    signature = hmac.new(secret.encode(), body + timestamp.encode(), hashlib.sha256).hexdigest()
    req = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8", "X-Timestamp": timestamp, "X-Signature": signature})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - our own configured URL
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=env_text("YINLING_SMS_URL") or "http://127.0.0.1:8000/sms/gammu")
    parser.add_argument("--secret-file", help="file holding SMS_WEBHOOK_SECRET (else the environment)")
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("ids", nargs="*", help="message ids appended by gammu-smsd")
    args = parser.parse_args(argv)
    secret = env_text("SMS_WEBHOOK_SECRET")
    if args.secret_file:
        with open(args.secret_file, encoding="utf-8") as fh:
            secret = fh.read().strip()
    if not secret:
        sys.stderr.write("gammu_run_on_receive: no secret (SMS_WEBHOOK_SECRET or --secret-file)\n")
        return 2
    message = read_message(args.ids)
    if not message["number"]:
        sys.stderr.write("gammu_run_on_receive: SMS_1_NUMBER is empty; not run by gammu-smsd?\n")
        return 2
    try:
        status = post(args.url, secret, message, args.timeout)
    except (OSError, urllib.error.URLError) as exc:
        sys.stderr.write(f"gammu_run_on_receive: {args.url} unreachable: {exc}\n")
        return 1
    if not 200 <= status < 300:
        sys.stderr.write(f"gammu_run_on_receive: {args.url} answered {status}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
