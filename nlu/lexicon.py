"""Phrase matching by characters and by pinyin (speech-recognition homophones: 杨光社区 → 阳光社区)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

_PAIR_MEMO_SIZE = 50_000
_FUZZY_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"))


def fuzzy(syllable: str) -> str:
    """Fold the distinctions speech recognition often loses (zh/z, ch/c, sh/s, ang/an, eng/en, ing/in)."""
    for long, short in _FUZZY_INITIALS:
        if syllable.startswith(long):
            syllable = short + syllable[len(long) :]
            break
    if syllable.endswith("ng") and not syllable.endswith("ong"):
        syllable = syllable[:-1]
    return syllable


@dataclass(frozen=True, slots=True)
class Term:
    """One surface form that maps to a canonical value."""

    surface: str
    value: str
    entity: str
    #: lower sorts first when two terms cover the same text (a county before a village).
    rank: int = 0
    #: homophones allowed: 0 = exact characters only, 1 = same common reading and tone, 2 = fuzzy pinyin.
    sound: int = 2


@dataclass(frozen=True, slots=True)
class Match:
    """A term found in a text: [start, end) in that text."""

    term: Term
    start: int
    end: int
    exact: bool


@dataclass
class Lexicon:
    """Terms indexed by their first two characters and by their first two syllables."""

    pinyin: Mapping[str, tuple[str, ...]]
    #: most common reading with tone, for two-character terms (服老 ≈ 扶老, but 唱个 ≠ 唱歌)
    tones: Mapping[str, str] = field(default_factory=dict)
    _by_chars: dict[str, list[Term]] = field(default_factory=dict)
    _by_sound: dict[tuple[str, str], list[Term]] = field(default_factory=dict)
    _surfaces: dict[str, Term] = field(default_factory=dict)
    _fuzzy_cache: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _first_sounds: set[str] = field(default_factory=set)
    #: two characters → (terms starting with them, terms starting with their sound); filled on demand
    _pairs: dict[str, tuple[tuple[Term, ...], tuple[Term, ...]]] = field(default_factory=dict)

    def add(self, term: Term) -> None:
        """Add a term; the first term added for a surface wins, unless the new one ranks lower."""
        if len(term.surface) < 2:
            return
        old = self._surfaces.get(term.surface)
        if old is not None:
            if old.rank <= term.rank:
                return
            self._remove(old)
        self._surfaces[term.surface] = term
        self._pairs.clear()
        self._by_chars.setdefault(term.surface[:2], []).append(term)
        self._by_chars[term.surface[:2]].sort(key=lambda t: -len(t.surface))
        if term.sound and all(c in self.pinyin for c in term.surface):
            self._first_sounds.update(self._sounds(term.surface[0]))
            for a in self._sounds(term.surface[0]):
                for b in self._sounds(term.surface[1]):
                    bucket = self._by_sound.setdefault((a, b), [])
                    if term not in bucket:
                        bucket.append(term)
                        bucket.sort(key=lambda t: -len(t.surface))

    def surfaces(self) -> list[str]:
        """Every surface form known (place names and their short forms, category words, synonyms)."""
        return list(self._surfaces)

    def add_all(self, terms: Iterable[Term]) -> None:
        """Add several terms."""
        for term in terms:
            self.add(term)

    def _remove(self, term: Term) -> None:
        self._by_chars[term.surface[:2]].remove(term)
        for bucket in self._by_sound.values():
            if term in bucket:
                bucket.remove(term)

    def _pair_terms(self, pair: str) -> tuple[tuple[Term, ...], tuple[Term, ...]]:
        """Terms that may start with the two characters ``pair``: by characters, and by sound."""
        exact = tuple(self._by_chars.get(pair, ()))
        sound: list[Term] = []
        starts = tuple(s for s in self._sounds(pair[0]) if s in self._first_sounds)
        for a in starts:
            for b in self._sounds(pair[1]):
                for term in self._by_sound.get((a, b), ()):
                    if term not in sound:
                        sound.append(term)
        got = (exact, tuple(sound))
        if len(self._pairs) >= _PAIR_MEMO_SIZE:  # bounded: a flood of rare pairs cannot grow it forever
            self._pairs.clear()
        self._pairs[pair] = got
        return got

    def _sounds(self, ch: str) -> tuple[str, ...]:
        got = self._fuzzy_cache.get(ch)
        if got is None:
            got = tuple(dict.fromkeys(fuzzy(s) for s in self.pinyin.get(ch, ())))
            self._fuzzy_cache[ch] = got
        return got

    def _sounds_like(self, text: str, term: Term) -> bool:
        for got, want in zip(text, term.surface, strict=True):
            if got == want:
                continue
            if term.sound == 1:
                tone = self.tones.get(got)
                if tone is None or tone != self.tones.get(want):
                    return False
            elif not set(self._sounds(got)) & set(self._sounds(want)):
                return False
        return True

    def find(self, text: str, blocked: bytearray | None = None) -> list[Match]:
        """All non-overlapping matches in ``text``, longest first, exact before homophone.

        Args:
            text: normalized text.
            blocked: one byte per character of ``text``; non-zero marks characters already taken.
        """
        candidates: list[Match] = []
        n = len(text)
        memo = self._pairs
        for i in range(n - 1):
            if blocked is not None and blocked[i]:
                continue
            pair = text[i : i + 2]
            exact, sound = memo.get(pair) or self._pair_terms(pair)
            for term in exact:
                if text.startswith(term.surface, i):
                    candidates.append(Match(term, i, i + len(term.surface), True))
            for term in sound:
                end = i + len(term.surface)
                if end <= n and text[i:end] != term.surface and self._sounds_like(text[i:end], term):
                    candidates.append(Match(term, i, end, False))
        if not candidates:
            return []
        candidates.sort(key=lambda m: (-(m.end - m.start), not m.exact, m.term.rank, m.start))
        taken = bytearray(blocked) if blocked is not None else bytearray(n)
        chosen: list[Match] = []
        for m in candidates:
            if any(taken[m.start : m.end]):
                continue
            taken[m.start : m.end] = b"\x01" * (m.end - m.start)
            chosen.append(m)
        chosen.sort(key=lambda m: m.start)
        return chosen
