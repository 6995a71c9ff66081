"""The built-in NLU pipeline: normalize → entities → rules or classifier → Rasa ``/model/parse`` JSON."""

from __future__ import annotations

import copy
import logging
import os
import re
import threading
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from nlu import kinds, rasa_data, relations, resources, timeparse
from nlu import numbers as num
from nlu import places as pl
from nlu.classifier import IntentClassifier, LogisticRegression
from nlu.lexicon import Lexicon
from nlu.normalize import Normalized, build_table, normalize
from nlu.tokenizer import Token, Tokenizer

log = logging.getLogger(__name__)

FALLBACK = "nlu_fallback"
#: Below this confidence the intent becomes ``nlu_fallback`` (as Rasa's FallbackClassifier).
THRESHOLD = 0.4
#: ... and also when the best two intents are closer than this.
AMBIGUITY = 0.02
#: ... and when fewer than this share of the message's characters and words were ever seen in training.
COVERAGE = 0.6
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / "data"

# One private-use character stands for each entity in the text the classifier sees.
_MASK = {"time": "\ue000", "place": "\ue001", "category": "\ue002", "number": "\ue003", "phone": "\ue004"}
# ... and people (两个人, 带老伴, 加一个人) their own, so that they do not read like an option number.
_PARTY_MASK = "\ue005"
_PARTY_ROLES = frozenset({"party_size", "party_add"})
_RUN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\ue000-\ue005\d]+")
_LATIN_RE = re.compile(r"[a-z]+")
_UNIT_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\ue000-\ue005]|[^\W\d_\u3400-\u4dbf\u4e00-\u9fff\ue000-\ue005]+|\d+")
_EXTRACTOR = {"time": "time_rules", "place": "gazetteer", "category": "lexicon", "number": "regex", "phone": "regex",
              "relation": "regex"}

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[0零〇]"), "menu"),
    (re.compile(r"[9九]"), "human_handoff"),
    (re.compile(r"t|td|n|r|退订|取消订阅|退订td|td退订|退订短信"), "unsubscribe"),
    (
        re.compile(
            r"(?:选|要|就)?(?:第?(?:[1-8]|1\d|20|[一二三四五六七八十]|十[一二三四五六七八九])(?:个|号|项|条)?"
            r"|第(?:\d{1,2}|[一二三四五六七八九十]{1,3})(?:个|号|项|条)?)(?:吧|呗|就行|行)?"
        ),
        "choose",
    ),
)
# One expression, one group per rule: group i + 1 matched ⇒ _RULES[i].
_RULE_RE = re.compile("|".join(f"({pattern.pattern})" for pattern, _ in _RULES))
_MAX_RULE_LEN = 8
# An opt-out word anywhere wins (SMS rules: 退订 must always work), unless it is negated.
_OPT_OUT_RE = re.compile(r"(?<![不别甭没])(?:退订|取消订阅)")


#: Seconds after :meth:`Parser.load` at which the lunar-calendar caches are filled in the background.
WARM_UP_DELAY = 3.0


def _local(now: datetime) -> datetime:
    if now.tzinfo is not None:
        now = now.astimezone(SHANGHAI).replace(tzinfo=None)
    return now


class Parser:
    """A loaded pipeline; build it once with :meth:`load` and call :meth:`parse` per message."""

    def __init__(
        self,
        table: dict[int, str],
        tokenizer: Tokenizer,
        lexicon: Lexicon,
        classifier: IntentClassifier,
        threshold: float = THRESHOLD,
    ) -> None:
        """Prefer :meth:`load`; this wires already built parts."""
        self.table = table
        self.tokenizer = tokenizer
        self.lexicon = lexicon
        self.classifier = classifier
        self.threshold = threshold
        #: 小年 is 腊月二十三 in the "north" (default), 腊月二十四 in the "south" ($YINLING_NLU_XIAONIAN).
        self.xiaonian = "south" if os.environ.get("YINLING_NLU_XIAONIAN", "").strip().lower() == "south" else "north"

    @classmethod
    def load(cls, data_dir: Path | None = None, places: Iterable[str] | None = None) -> Parser:
        """Build the tokenizer, gazetteer and classifier from ``data_dir`` (default: the repo's data/).

        Args:
            data_dir: folder holding ``nlu/`` (training data, userdict.txt) and ``seed/places.yaml``.
            places: more place names (the bot passes those of its database).
        """
        data_dir = Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR
        nlu_dir = data_dir / "nlu"
        training = rasa_data.load([nlu_dir]) if nlu_dir.is_dir() else rasa_data.TrainingData()
        gazetteer = pl.read_places(data_dir / "seed" / "places.yaml")
        known = {name for name, _ in gazetteer}
        gazetteer += [(p, pl.suffix_rank(p)) for p in dict.fromkeys(places or ()) if p and p not in known]
        table = build_table(resources.t2s_chars())
        lexicon = pl.build_lexicon(resources.pinyin_table(), resources.tone_table(), gazetteer, training.synonyms)
        words = [name for name, _ in gazetteer]
        tokenizer = Tokenizer(nlu_dir / "userdict.txt", words)
        parser = cls(table, tokenizer, lexicon, LogisticRegression())
        # Training takes seconds: cache the result, keyed by what it depends on (our code, the training
        # data, the seed gazetteer). Places passed in by the bot only matter if the training examples
        # mention them, so they are left out of the key.
        sources = sorted(Path(__file__).resolve().parent.glob("*.py")) + sorted(nlu_dir.glob("*"))
        sources.append(data_dir / "seed" / "places.yaml")
        key = resources.fingerprint(sources, resources.JIEBA_VERSION_KEY)
        parser.classifier = resources.cached(f"intents-{key}.pickle", lambda: parser._trained(training.examples))
        # lunar dates cost 10–100 ms the first time: fill those caches in the background, a few seconds
        # after start-up so as not to slow it (a cache only; answers depend on the ``now`` given to parse)
        warm = threading.Timer(WARM_UP_DELAY, timeparse.warm_up, args=(datetime.now(SHANGHAI).replace(tzinfo=None),))
        warm.daemon = True
        warm.start()
        return parser

    def _trained(self, examples: Iterable[rasa_data.Example]) -> IntentClassifier:
        self.train(examples)
        return self.classifier

    def train(self, examples: Iterable[rasa_data.Example]) -> None:
        """(Re)train the intent classifier on ``examples``."""
        now = datetime(2026, 1, 1, 10, 0)
        docs: list[list[str]] = []
        labels: list[str] = []
        for ex in examples:
            docs.append(self._analyse(ex.text, now)[2])
            labels.append(ex.intent)
        self.classifier = copy.copy(self.classifier).fit(docs, labels)

    # -- pipeline -------------------------------------------------------------------------------------

    def _entities(self, norm: Normalized, now: datetime) -> list[dict[str, Any]]:
        t = norm.text
        taken = bytearray(len(t))
        found: list[tuple[int, int, dict[str, Any]]] = []

        def add(start: int, end: int, entity: str, value: Any, confidence: float = 1.0, role: str | None = None) -> None:
            item: dict[str, Any] = {"entity": entity, "value": value, "start": start, "end": end,
                                    "confidence": confidence, "extractor": _EXTRACTOR[entity]}  # fmt: skip
            if role:
                item["role"] = role
            found.append((start, end, item))

        for f in num.phones(t, taken):
            add(f.start, f.end, "phone", f.value)
        for span in timeparse.extract(t, now, self.xiaonian):
            if not any(taken[span.start : span.end]):
                taken[span.start : span.end] = b"\x01" * (span.end - span.start)
                add(span.start, span.end, "time", span.interval.value())
        for m in self.lexicon.find(t, taken):
            taken[m.start : m.end] = b"\x01" * (m.end - m.start)
            conf = 1.0 if m.exact else 0.8
            if m.term.entity == "relative":
                add(m.start, m.end, "place", m.term.value, conf, "relative")
            else:
                add(m.start, m.end, m.term.entity, m.term.value, conf)
        for r in relations.find(t, taken, owned_only=True):  # 我家老爷子 is a parent, not 助老
            add(r.start, r.end, "relation", r.value, 1.0, r.role)
        if not any(item["entity"] == "category" for _, _, item in found):
            kind = kinds.find(t, taken)  # a kind of work in plain words: 给老人念念报纸, 扫扫大街
            if kind is not None:
                taken[kind.start : kind.end] = b"\x01" * (kind.end - kind.start)
                add(kind.start, kind.end, "category", kind.category, 0.8)
        for start, end, name in pl.unknown_places(t, taken):
            add(start, end, "place", name, 0.7, "unknown")
        for f in num.numbers(t, taken):
            add(f.start, f.end, "number", f.value, 1.0, f.role)
        for r in relations.find(t, taken):  # after party sizes: 带我闺女 is a party, 给我妈报名 a relation
            add(r.start, r.end, "relation", r.value, 1.0, r.role)
        found.sort(key=lambda x: x[0])
        return [item for _, _, item in found]

    def _features(self, masked: str) -> list[str]:
        """Character unigrams and bigrams (with edges) of each Chinese run, its jieba words of two or more
        characters, Latin words, and the whole message when short."""
        feats: list[str] = []
        words = self.tokenizer.words
        for run in _RUN_RE.findall(masked):
            prev = "^"
            for ch in run:
                feats.append(ch)
                feats.append(prev + ch)
                prev = ch
            feats.append(prev + "$")
            for w in words(run):
                if len(w) > 1:  # a one-character word adds nothing to its unigram (CV 0.802 vs 0.798)
                    feats.append("w:" + w)
        for w in _LATIN_RE.findall(masked):
            feats.append("w:" + w)
        compact = masked.replace(" ", "")
        if len(compact) <= 4:
            feats.append("a:" + compact)
        return feats

    def coverage(self, masked: str) -> float:
        """Share of the characters (Chinese) and words (other scripts) of ``masked`` seen in training."""
        units = _UNIT_RE.findall(masked)
        if not units:
            return 0.0
        known = self.classifier.known(u if len(u) == 1 and not u.isascii() else "w:" + u for u in units)
        return len(known) / len(units)

    def _analyse(self, text: str, now: datetime) -> tuple[Normalized, list[dict[str, Any]], list[str]]:
        norm, entities, masked = self._mask(text, now)
        return norm, entities, self._features(masked)

    def _mask(self, text: str, now: datetime) -> tuple[Normalized, list[dict[str, Any]], str]:
        norm = normalize(text, self.table)
        entities = self._entities(norm, now)
        t = norm.text
        if entities:
            parts: list[str] = []
            pos = 0
            for e in entities:
                if e["entity"] not in _MASK:  # a relation stays as words for the classifier
                    continue
                parts.append(t[pos : e["start"]])
                parts.append(_PARTY_MASK if e.get("role") in _PARTY_ROLES else _MASK[e["entity"]])
                pos = e["end"]
            parts.append(t[pos:])
            masked = "".join(parts)
        else:
            masked = t
        return norm, entities, masked

    def parse(self, text: str, now: datetime) -> dict[str, Any]:
        """Understand one message.

        Args:
            text: the message as received.
            now: local Asia/Shanghai time (naive is taken as local; aware is converted).

        Returns:
            Rasa's ``/model/parse`` shape with offsets into ``text``; never raises.
        """
        if not isinstance(text, str):
            text = "" if text is None else str(text)
        try:
            return self._parse(text, _local(now))
        except Exception:  # a user must never see a stack trace: log it and fall back
            log.exception("nlu parse failed for a message of %d characters", len(text))
            return _result(text, [(FALLBACK, 1.0)], [])

    def _parse(self, text: str, now: datetime) -> dict[str, Any]:
        norm, entities, masked = self._mask(text, now)
        feats = self._features(masked)
        for e in entities:  # offsets back into the original text
            e["start"], e["end"] = norm.span(e["start"], e["end"])
        compact = norm.text.replace(" ", "")
        if not compact:
            return _result(text, [(FALLBACK, 1.0)], entities)
        ranking = self.classifier.predict(feats)
        rule = _RULE_RE.fullmatch(compact) if len(compact) <= _MAX_RULE_LEN else None
        if rule is not None and rule.lastindex:
            intent = _RULES[rule.lastindex - 1][1]
            if intent == "choose":
                entities = [e for e in entities if e["entity"] != "time"]  # "3号" is the third option
                if not any(e["entity"] == "number" for e in entities):
                    _add_choice_number(entities, text, norm, compact)
            elif intent in ("menu", "human_handoff"):
                entities = [e for e in entities if e["entity"] != "number"]
            rest = [(n, c) for n, c in ranking if n != intent]
            return _result(text, [(intent, 1.0), *rest], entities)
        if _OPT_OUT_RE.search(compact):
            return _result(text, [("unsubscribe", 1.0), *[(n, c) for n, c in ranking if n != "unsubscribe"]], entities)
        if not ranking or self.coverage(masked) < COVERAGE:
            return _result(text, [(FALLBACK, 1.0), *ranking], entities)
        best, conf = ranking[0]
        second = ranking[1][1] if len(ranking) > 1 else 0.0
        if conf < self.threshold or conf - second < AMBIGUITY:
            return _result(text, [(FALLBACK, self.threshold), *ranking], entities)
        return _result(text, ranking, entities)

    def phrases(self) -> list[str]:
        """The place names, short forms, category words and synonyms the parser knows (for nlu.phonetic)."""
        return self.lexicon.surfaces()

    def tokenize(self, text: str) -> list[Token]:
        """jieba tokens of the normalized ``text`` with offsets into the original ``text``."""
        norm = normalize(text, self.table)
        out: list[Token] = []
        for w, s, e in self.tokenizer.tokenize(norm.text):
            if w.isspace():
                continue
            start, end = norm.span(s, e)
            out.append((text[start:end], start, end))
        return out


def _add_choice_number(entities: list[dict[str, Any]], text: str, norm: Normalized, compact: str) -> None:
    digits = re.search(r"\d{1,2}|[一二三四五六七八九十]{1,3}", compact)
    if digits is None:
        return
    from nlu.numerals import to_int

    value = to_int(digits.group(0))
    if value is None:
        return
    start = norm.text.find(digits.group(0))
    s, e = norm.span(start, start + len(digits.group(0)))
    entities.append({"entity": "number", "value": value, "start": s, "end": e, "confidence": 1.0,
                     "extractor": "regex"})  # fmt: skip
    entities.sort(key=lambda x: x["start"])


def _result(text: str, ranking: list[tuple[str, float]], entities: list[dict[str, Any]]) -> dict[str, Any]:
    top = ranking[:10]
    return {
        "text": text,
        "intent": {"name": top[0][0], "confidence": top[0][1]},
        "entities": entities,
        "intent_ranking": [{"name": n, "confidence": c} for n, c in top],
    }


_default: Parser | None = None
_default_lock = threading.Lock()


def default_parser() -> Parser:
    """The process-wide parser over the repo's data/, loaded on first use."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Parser.load()
    return _default


def parse(text: str, now: datetime) -> dict[str, Any]:
    """Parse with the default parser (see :meth:`Parser.parse`)."""
    return default_parser().parse(text, now)
