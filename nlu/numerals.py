"""Small Chinese numerals (一 … 九十九, 两, 俩, 仨, 幺) and Arabic digits to int."""

from __future__ import annotations

DIGITS: dict[str, int] = {
    "零": 0, "〇": 0, "一": 1, "幺": 1, "二": 2, "两": 2, "俩": 2, "三": 3, "仨": 3,
    "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}  # fmt: skip

#: Characters a small Chinese numeral is made of (for regular expressions).
CN_NUM_CHARS = "零〇一二两三四五六七八九十"


def to_int(text: str) -> int | None:
    """Parse ``"12"``, ``"十二"``, ``"二十五"``, ``"两"``, ``"三十一"`` (up to 99); None if not a number."""
    if not text:
        return None
    if text.isascii() and text.isdigit():
        return int(text)
    if "十" in text:
        head, _, tail = text.partition("十")
        if "十" in tail or len(head) > 1 or len(tail) > 1:
            return None
        tens = DIGITS.get(head, -1) if head else 1
        ones = DIGITS.get(tail, -1) if tail else 0
        if tens < 1 or ones < 0 or (head and head in "两俩仨幺"):
            return None
        return tens * 10 + ones
    if len(text) == 1:
        return DIGITS.get(text)
    if all(c in DIGITS for c in text):  # digit by digit: 二〇二六
        return int("".join(str(DIGITS[c]) for c in text))
    return None
