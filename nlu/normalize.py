"""Text normalization (繁→简, full width, fillers, punctuation, repeats) that keeps a map to the original."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

#: Work on at most this many characters of one message (the rest is kept in "text" but not analysed).
MAX_CHARS = 2000

_CJK_RANGES = (("\u3400", "\u4dbf"), ("\u4e00", "\u9fff"), ("\uf900", "\ufaff"))
# Digits that must never be collapsed as "repeated characters" (phone numbers, 一一一).
_DIGIT_CHARS = frozenset("0123456789零〇一二两三四五六七八九幺")
# Punctuation and separators: after the width table most are ASCII; these are the CJK ones left.
_PUNCT = frozenset(
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
    "、。〃〈〉《》「」『』【】〔〕〖〗〘〙〚〛〜〝〞〟–—‘’‚“”„…‧﹏・·¡¿"
    " \t\n\r\x0b\x0c\u3000\u00a0\u200b\ufeff"
)
# A punctuation mark between two digits stays (9:30, 12.5, 139-1234-5678).
_DIGIT_JOINERS = frozenset("-:.~/")
# Dashes of any length after a time are one "-" (12:00—14:00, 九点——十二点, 13:20~次日5点): a range.
_DASHES = frozenset("-~–—〜")
_TIME_ENDS = frozenset("点时分半")
# Filler words and particles people add, or speech recognition inserts.
_FILLER_RE = re.compile(
    r"嗯+|[啊呀]+|请问一下|请问|麻烦问一下|那个(?=那个|[ ,.!?、。，]|$)|哈+(?=[ ,.!?、。，]|$)"
)

# Anything that needs the slow path: punctuation or spaces, a filler, or a character three times in a row.
_SLOW_RE = re.compile(
    "[" + re.escape("".join(sorted(_PUNCT))) + "]|" + _FILLER_RE.pattern + r"|(.)\1\1", re.DOTALL
)


def _is_cjk(ch: str) -> bool:
    for low, high in _CJK_RANGES:
        if low <= ch <= high:
            return True
    return False


def _width_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in range(0xFF01, 0xFF5F):  # full-width ASCII block
        table[code] = chr(code - 0xFEE0)
    table[0x3000] = " "
    for code in range(0x20):  # control characters become spaces (then trimmed away)
        table[code] = " "
    table[0x7F] = " "
    # Map ASCII letters to lower case so "TD" and "ｔｄ" look the same.
    for code in range(ord("A"), ord("Z") + 1):
        table[code] = chr(code + 32)
    for code in range(ord("Ａ"), ord("Ｚ") + 1):
        table[code] = chr(code - 0xFEE0 + 32)
    table[ord("。")] = "."
    table[ord("、")] = ","
    return table


def build_table(t2s: Mapping[str, str]) -> dict[int, str]:
    """Return a ``str.translate`` table that maps traditional to simplified and full to half width.

    Args:
        t2s: single-character traditional → simplified pairs.
    """
    table = {ord(k): v for k, v in t2s.items() if len(k) == 1 and len(v) == 1}
    table.update(_width_table())
    return table


@dataclass(frozen=True, slots=True)
class Normalized:
    """A normalized message and, for every normalized character, its index in the original."""

    original: str
    text: str
    index: tuple[int, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map a half-open span of the normalized text back to the original text."""
        if end <= start or not self.index:
            pos = self.index[start] if start < len(self.index) else len(self.original)
            return pos, pos
        return self.index[start], self.index[end - 1] + 1


def normalize(text: str, table: Mapping[int, str]) -> Normalized:
    """Normalize one message for analysis.

    Traditional characters become simplified, full-width forms half width, ASCII letters lower case;
    filler words (嗯, 啊, 请问 ...) and punctuation between Chinese characters disappear, other runs of
    punctuation and spaces become one space, and a character repeated more than twice is kept twice.

    Args:
        text: the message as received.
        table: a table from :func:`build_table`.

    Returns:
        The normalized text with an index map into ``text``.
    """
    head = text[:MAX_CHARS]
    mapped = head.translate(table)
    if len(mapped) != len(head):  # a table entry that is not 1:1 would break offsets
        mapped = head
    if _SLOW_RE.search(mapped) is None:  # nothing to drop or merge: the common short message
        return Normalized(original=text, text=mapped, index=tuple(range(len(mapped))))
    drop: set[int] = set()
    for m in _FILLER_RE.finditer(mapped):
        drop.update(range(m.start(), m.end()))
    if drop and all(i in drop or not _is_cjk(c) for i, c in enumerate(mapped)):
        drop = set()  # a message made only of fillers ("嗯嗯") means something: keep it
    out: list[str] = []
    index: list[int] = []
    n = len(mapped)
    i = 0
    while i < n:
        ch = mapped[i]
        if i in drop:
            i += 1
            continue
        if ch in _PUNCT:
            j = i
            while j < n and (mapped[j] in _PUNCT or j in drop):
                j += 1
            prev = out[-1] if out else ""
            nxt = mapped[j] if j < n else ""
            if j - i == 1 and ch in _DIGIT_JOINERS and prev.isdigit() and nxt.isdigit():
                out.append(ch)
                index.append(i)
            elif nxt and (prev.isdigit() or prev in _TIME_ENDS) and all(c in _DASHES for c in mapped[i:j]):
                out.append("-")
                index.append(i)
            elif j - i == 1 and ch in "·・" and prev.isdigit() and nxt.isdigit():  # 6·30
                out.append(".")
                index.append(i)
            elif prev and nxt and not (_is_cjk(prev) and _is_cjk(nxt)):
                out.append(" ")
                index.append(i)
            i = j
            continue
        if len(out) >= 2 and out[-1] == ch and out[-2] == ch and ch not in _DIGIT_CHARS:
            i += 1
            continue
        out.append(ch)
        index.append(i)
        i += 1
    return Normalized(original=text, text="".join(out), index=tuple(index))


def is_cjk(ch: str) -> bool:
    """Whether ``ch`` is a Chinese character."""
    return _is_cjk(ch)
