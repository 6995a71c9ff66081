"""WeCom (企业微信) group robot: post a text to a team's staff group through its webhook address."""

from __future__ import annotations

import hashlib
from typing import Any

import requests

from .base import SendResult


def _json(payload: dict[str, Any]) -> bytes:
    import json

    # WeChat shows \uXXXX escapes literally: send real UTF-8.
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def post_wecom(url: str, text: str, timeout: float = 5.0) -> SendResult:
    """Post a text message to a WeCom group robot webhook (errcode 45009 = over 20 a minute)."""
    try:
        r = requests.post(url, data=_json({"msgtype": "text", "text": {"content": text[:2000]}}),
                          headers={"Content-Type": "application/json"}, timeout=timeout)
        data = r.json()
    except (requests.RequestException, ValueError) as exc:
        return SendResult("retry", f"网络错误 {type(exc).__name__}", retry_after=30)
    code = int(data.get("errcode", 0))
    if code == 0:
        return SendResult("sent")
    if code == 45009:
        return SendResult("retry", "群机器人每分钟限20条", retry_after=60)
    return SendResult("failed", f"群机器人错误 {code}")


def webhook_key(url: str) -> str:
    return "wecom:" + hashlib.sha256(url.encode()).hexdigest()[:16]
