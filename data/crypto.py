"""Phone numbers at rest: Fernet ciphertext, keyed HMAC for lookup, and the masked form for display."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import unicodedata
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

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


def _fernet_for(secret: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"yinling-phone-enc:" + secret.encode()).digest()))


def _hash_key_for(secret: str) -> bytes:
    return hashlib.sha256(b"yinling-phone-hash:" + secret.encode()).digest()


class PhoneVault:
    """Encrypts, decrypts and hashes phone numbers with keys derived from one secret.

    During a key rotation (`python -m bot keys rotate`) the vault also holds the previous secrets: it
    encrypts and hashes with the current one only, decrypts with any of them (MultiFernet), and gives every
    lookup hash a number may still be stored under (`lookup_hashes`), so the service keeps working while the
    stored rows move to the new key.
    """

    def __init__(self, secret: str, old_secrets: Sequence[str] = ()) -> None:
        secrets_ = [secret, *(s for s in old_secrets if s and s != secret)]
        if any(len(s) < 16 for s in secrets_):
            raise ValueError("YINLING_SECRET_KEY must be at least 16 characters")
        self._current = _fernet_for(secret)
        self._fernet = MultiFernet([self._current, *(_fernet_for(s) for s in secrets_[1:])])
        self._hash_keys = [_hash_key_for(s) for s in secrets_]

    def lookup_hash(self, phone: str) -> str:
        """The keyed hash under the current key: what is written, and what a finished rotation stores."""
        return hmac.new(self._hash_keys[0], normalize_phone(phone).encode(), hashlib.sha256).hexdigest()

    def lookup_hashes(self, phone: str) -> list[str]:
        """Every hash a stored number may carry: the current key's first, then each previous key's."""
        digits = normalize_phone(phone).encode()
        return [hmac.new(k, digits, hashlib.sha256).hexdigest() for k in self._hash_keys]

    def keyed_hash(self, purpose: str, value: str) -> str:
        """A keyed hash of a short secret that is not a phone number (a family code), per purpose. Under the
        current key only: a code given before a key rotation is asked for again (codes last a day)."""
        return hmac.new(self._hash_keys[0], f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()

    def encrypt(self, phone: str) -> str:
        return self._current.encrypt(normalize_phone(phone).encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise InvalidInput("phone ciphertext does not match the key") from exc

    def is_current(self, token: str) -> bool:
        """Whether a ciphertext is already under the current key (a rotation skips it)."""
        try:
            self._current.decrypt(token.encode())
        except InvalidToken:
            return False
        return True
