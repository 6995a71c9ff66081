"""Correct what speech recognition misheard, by pinyin, against the phrases we know (places, activity titles,
category words): 杨光社区 → 阳光社区, 少雪 → 扫雪. Pure: it is given the phrases and a pinyin table."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

from nlu.lexicon import fuzzy

#: Phrases of at least this many characters may differ in one syllable's sound too (rapidfuzz), not only in
#: characters that sound alike: a long activity title misheard in one place is still that title.
LONG = 4
#: Phrases shorter than this must also keep each character's tone (two characters are easily a different word).
SHORT_TONED = 3
#: ... as long as this share of their (fuzzy) syllables match.
SIMILARITY = 0.75


@dataclass(frozen=True, slots=True)
class Fix:
    """`heard` at [start, end) of the text was corrected to `known`."""

    start: int
    end: int
    heard: str
    known: str


class Corrector:
    """Known phrases indexed by the sound of their first two characters (zh/z, sh/s, -ng/-n folded).

    A stretch of a transcript is replaced by a known phrase when every character sounds like the phrase's
    (or, for phrases of `LONG` characters and more, when most syllables do), and at least half of the
    characters are already the same: recognition gets the sound right and some characters wrong, whereas a
    different word that merely sounds alike shares no character with the phrase. Exact occurrences of known
    phrases are kept as they are and block overlapping corrections.
    """

    def __init__(self, phrases: Iterable[str], pinyin: Mapping[str, tuple[str, ...]],
                 tones: Mapping[str, str] | None = None) -> None:
        """Args:
            phrases: what we know (place names, category words, activity titles).
            pinyin: every character's toneless readings (nlu.resources.pinyin_table()).
            tones: each character's common reading with its tone (nlu.resources.tone_table()); a two-character
                phrase is then only put in for characters of the same tone (唱个 stays, 少雪 → 扫雪).
        """
        self.pinyin = pinyin
        self.tones = tones or {}
        self._sounds: dict[str, frozenset[str]] = {}
        self._index: dict[tuple[str, str], list[str]] = {}
        self._phrases: set[str] = set()
        for phrase in phrases:
            self.add(phrase)

    def __len__(self) -> int:
        return len(self._phrases)

    def add(self, phrase: str) -> None:
        """Know one more phrase (two characters or more, every one with a reading)."""
        phrase = phrase.strip()
        if len(phrase) < 2 or phrase in self._phrases or not all(self.sounds(c) for c in phrase):
            return
        self._phrases.add(phrase)
        for a in self.sounds(phrase[0]):
            for b in self.sounds(phrase[1]):
                self._index.setdefault((a, b), []).append(phrase)

    def sounds(self, ch: str) -> frozenset[str]:
        """The fuzzy syllables a character may be read as (empty for non-Chinese characters)."""
        got = self._sounds.get(ch)
        if got is None:
            got = self._sounds[ch] = frozenset(fuzzy(r) for r in self.pinyin.get(ch, ()))
        return got

    def fixes(self, text: str) -> list[Fix]:
        """The corrections `correct` would make, left to right."""
        candidates: list[tuple[int, bool, int, int, str]] = []  # (-length, corrected, -same chars, start, phrase)
        for i in range(len(text) - 1):
            firsts, seconds = self.sounds(text[i]), self.sounds(text[i + 1])
            if not firsts or not seconds:
                continue
            seen: set[str] = set()
            for a in firsts:
                for b in seconds:
                    for phrase in self._index.get((a, b), ()):
                        if phrase in seen:
                            continue
                        seen.add(phrase)
                        window = text[i : i + len(phrase)]
                        if len(window) < len(phrase):
                            continue
                        if window == phrase:
                            candidates.append((-len(phrase), False, -len(phrase), i, phrase))
                            continue
                        same = sum(x == y for x, y in zip(window, phrase, strict=True))
                        if 2 * same >= len(phrase) and self._alike(window, phrase):
                            candidates.append((-len(phrase), True, -same, i, phrase))
        candidates.sort()
        taken = bytearray(len(text))
        out: list[Fix] = []
        for neg_len, corrected, _same, start, phrase in candidates:
            end = start - neg_len
            if any(taken[start:end]):
                continue
            taken[start:end] = b"\x01" * (end - start)
            if corrected:
                out.append(Fix(start, end, text[start:end], phrase))
        out.sort(key=lambda f: f.start)
        return out

    def correct(self, text: str) -> str:
        """`text` with misheard known phrases replaced (same length: offsets stay valid)."""
        fixes = self.fixes(text)
        if not fixes:
            return text
        parts: list[str] = []
        pos = 0
        for fix in fixes:
            parts += [text[pos : fix.start], fix.known]
            pos = fix.end
        parts.append(text[pos:])
        return "".join(parts)

    def _tone(self, ch: str) -> str:
        return self.tones.get(ch, "")[-1:]

    def _alike(self, heard: str, known: str) -> bool:
        matches = [bool(self.sounds(x) & self.sounds(y)) for x, y in zip(heard, known, strict=True)]
        if len(known) < SHORT_TONED and self.tones:
            return all(matches) and all(x == y or self._tone(x) == self._tone(y)
                                        for x, y in zip(heard, known, strict=True))
        if all(matches):
            return True
        if len(known) < LONG:
            return False
        first = [min(self.sounds(c)) if self.sounds(c) else c for c in heard]
        for i, c in enumerate(known):  # line the readings up where they agree, then compare the syllables
            if matches[i]:
                first[i] = min(self.sounds(c))
        target = [min(self.sounds(c)) for c in known]
        return Levenshtein.normalized_similarity(first, target) >= SIMILARITY
