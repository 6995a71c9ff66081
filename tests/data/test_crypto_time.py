"""Phone encryption, keyed lookup hash, masking; time formatting the way people say it."""

from __future__ import annotations

from datetime import datetime

import pytest

from data.crypto import PhoneVault, mask_phone, normalize_phone
from data.errors import InvalidInput
from data.timeutil import format_when, to_local, to_utc


@pytest.mark.parametrize("raw", ["13912345678", "139 1234 5678", "139-1234-5678", "+8613912345678",
                                 "008613912345678", "１３９１２３４５６７８"])
def test_normalize_phone(raw: str) -> None:
    assert normalize_phone(raw) == "13912345678"


@pytest.mark.parametrize("raw", ["", "12345", "23912345678", "1391234567", "139123456789", "abc"])
def test_normalize_phone_rejects(raw: str) -> None:
    with pytest.raises(InvalidInput):
        normalize_phone(raw)


def test_vault_round_trip_and_hash() -> None:
    v = PhoneVault("k" * 20)
    token = v.encrypt("13912345678")
    assert "13912345678" not in token
    assert v.decrypt(token) == "13912345678"
    assert v.lookup_hash("139 1234 5678") == v.lookup_hash("13912345678")
    assert PhoneVault("other-key-000000000").lookup_hash("13912345678") != v.lookup_hash("13912345678")
    with pytest.raises(InvalidInput):
        PhoneVault("other-key-000000000").decrypt(token)


def test_short_secret_refused() -> None:
    with pytest.raises(ValueError):
        PhoneVault("short")


def test_mask() -> None:
    assert mask_phone("13800000000") == "138****0000"
    assert mask_phone("123") == "****"


@pytest.mark.parametrize(
    ("local", "end", "expected"),
    [
        (datetime(2026, 12, 5, 9, 0), None, "12月5日（星期六）上午9点"),
        (datetime(2026, 12, 5, 14, 30), datetime(2026, 12, 5, 16, 30), "12月5日（星期六）下午2点半到4点半"),
        (datetime(2026, 11, 30, 8, 0), datetime(2026, 11, 30, 12, 0), "11月30日（星期一）早上8点到中午12点"),
        (datetime(2026, 12, 6, 19, 15), None, "12月6日（星期日）晚上7点15分"),
    ],
)
def test_format_when(local: datetime, end: datetime | None, expected: str) -> None:
    assert format_when(to_utc(local), to_utc(end) if end else None) == expected


def test_utc_round_trip() -> None:
    utc = to_utc(datetime(2026, 1, 1, 0, 30))
    assert utc == datetime(2025, 12, 31, 16, 30)
    assert to_local(utc).replace(tzinfo=None) == datetime(2026, 1, 1, 0, 30)
