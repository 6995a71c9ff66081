"""Phone numbers at rest: Fernet ciphertext, keyed HMAC for lookup, and the masked form for display."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from cryptography.fernet import Fernet, InvalidToken

from .errors import InvalidInput

_MOBILE = re.compile(r"^1[3-9]\d{9}$")


def normalize_phone(raw: str) -> str:
    """Return an 11-digit mainland mobile number or raise InvalidInput.

    Accepts spaces, dashes, a +86/86/0086 prefix and full-width digits.
    """
    s = raw.translate({0xFF10 + i: ord("0") + i for i in range(10)})
    s = re.sub(r"[\s\-()（）]", "", s)
    for prefix in ("+86", "0086", "86"):
        if s.startswith(prefix) and len(s) == 11 + len(prefix):
            s = s[len(prefix) :]
            break
    if not _MOBILE.match(s):
        raise InvalidInput("not a mainland mobile number")
    return s


def mask_phone(phone: str) -> str:
    """`13800000000` → `138****0000`; anything shorter is masked whole."""
    if len(phone) >= 7:
        return phone[:3] + "****" + phone[-4:]
    return "****"


class PhoneVault:
    """Encrypts, decrypts and hashes phone numbers with keys derived from one secret."""

    def __init__(self, secret: str) -> None:
        if len(secret) < 16:
            raise ValueError("YINLING_SECRET_KEY must be at least 16 characters")
        digest = hashlib.sha256(b"yinling-phone-enc:" + secret.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))
        self._hash_key = hashlib.sha256(b"yinling-phone-hash:" + secret.encode()).digest()

    def lookup_hash(self, phone: str) -> str:
        return hmac.new(self._hash_key, normalize_phone(phone).encode(), hashlib.sha256).hexdigest()

    def encrypt(self, phone: str) -> str:
        return self._fernet.encrypt(normalize_phone(phone).encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise InvalidInput("phone ciphertext does not match the key") from exc
