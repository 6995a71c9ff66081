"""Phone numbers at rest: Fernet ciphertext, keyed HMAC for lookup, and the masked form for display."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import unicodedata

from cryptography.fernet import Fernet, InvalidToken

from .errors import InvalidInput

_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")  # ASCII only: \d would also take Arabic-Indic digits


def normalize_phone(raw: str) -> str:
    """Return an 11-digit mainland mobile number or raise InvalidInput.

    Accepts spaces, dashes, a +86/86/0086 prefix and digits of any script (full-width, Arabic-Indic ...),
    which become ASCII: one number has one form, one hash.
    """
    s = "".join(str(d) if (d := unicodedata.decimal(ch, None)) is not None else ch for ch in raw)
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


# \d: every script's digits (ASCII, full-width, Arabic-Indic ...): a number typed any way is masked.
_ID_CARD = re.compile(r"(?<!\d)(\d{4})(\d{10}|\d{7})(\d{3}[\dXx]|\d{4})(?!\d)")
_TYPED_PHONE = re.compile(r"(?<!\d)(?:\+?86[\s-]?)?(\d{3})[\s-]?(\d{4})[\s-]?(\d{4})(?!\d)")


def mask_numbers(text: str) -> str:
    """Phone and ID-card numbers inside free text, masked before the text is stored or logged.

    `我的手机13912344321` → `我的手机139****4321`; `110101199003071234` → `1101**********1234`.
    """
    text = _ID_CARD.sub(lambda m: m.group(1) + "*" * len(m.group(2)) + m.group(3), text)

    def phone(m: re.Match[str]) -> str:
        return m.group(1) + "****" + m.group(3) if unicodedata.digit(m.group(1)[0]) == 1 else m.group(0)

    return _TYPED_PHONE.sub(phone, text)


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

    def keyed_hash(self, purpose: str, value: str) -> str:
        """A keyed hash of a short secret that is not a phone number (a family code), per purpose."""
        return hmac.new(self._hash_key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()

    def encrypt(self, phone: str) -> str:
        return self._fernet.encrypt(normalize_phone(phone).encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise InvalidInput("phone ciphertext does not match the key") from exc
