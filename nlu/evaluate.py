"""Score a parser on annotated Rasa examples the way ``rasa test nlu`` reports it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nlu.rasa_data import Example

ParseFn = Callable[[str, datetime], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Score:
    """Precision, recall, F1 and support of one label."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class Report:
    """Intent and entity results of one evaluation run."""

    total: int = 0
    correct: int = 0
    intents: dict[str, Score] = field(default_factory=dict)
    confusions: list[tuple[str, str, int]] = field(default_factory=list)
    entities: dict[str, Score] = field(default_factory=dict)
    errors: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        """Share of messages whose intent was right."""
        return self.correct / self.total if self.total else 0.0

    def macro_f1(self) -> float:
        """Unweighted mean F1 over intents."""
        return sum(s.f1 for s in self.intents.values()) / len(self.intents) if self.intents else 0.0

    def weighted_f1(self) -> float:
        """Support-weighted mean F1 over intents."""
        support = sum(s.support for s in self.intents.values())
        return sum(s.f1 * s.support for s in self.intents.values()) / support if support else 0.0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly copy."""
        return {
            "accuracy": round(self.accuracy, 4),
            "total": self.total,
            "macro_f1": round(self.macro_f1(), 4),
            "weighted_f1": round(self.weighted_f1(), 4),
            "intents": {k: _score_dict(v) for k, v in self.intents.items()},
            "confusions": [{"true": a, "predicted": b, "count": n} for a, b, n in self.confusions],
            "entities": {k: _score_dict(v) for k, v in self.entities.items()},
        }


def _score_dict(s: Score) -> dict[str, float | int]:
    return {"precision": round(s.precision, 4), "recall": round(s.recall, 4), "f1": round(s.f1, 4), "support": s.support}


def _score(tp: int, fp: int, fn: int) -> Score:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return Score(p, r, f1, tp + fn)


def evaluate(examples: Iterable[Example], parse: ParseFn, now: datetime) -> Report:
    """Parse every example and compare intents and entity spans (type, start, end) with the annotations."""
    report = Report()
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    etp: Counter[str] = Counter()
    efp: Counter[str] = Counter()
    efn: Counter[str] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()
    labels: set[str] = set()
    for ex in examples:
        result = parse(ex.text, now)
        got = str(result.get("intent", {}).get("name"))
        report.total += 1
        labels.add(ex.intent)
        if got == ex.intent:
            report.correct += 1
            tp[ex.intent] += 1
        else:
            fn[ex.intent] += 1
            fp[got] += 1
            pairs[(ex.intent, got)] += 1
            report.errors.append((ex.text, ex.intent, got))
        want = {(a.entity, a.start, a.end) for a in ex.entities}
        have = {(str(e["entity"]), int(e["start"]), int(e["end"])) for e in result.get("entities", [])}
        for ent, _, _ in want & have:
            etp[ent] += 1
        for ent, _, _ in have - want:
            efp[ent] += 1
        for ent, _, _ in want - have:
            efn[ent] += 1
    for label in sorted(labels | set(fp)):
        report.intents[label] = _score(tp[label], fp[label], fn[label])
    report.confusions = [(a, b, n) for (a, b), n in pairs.most_common(10)]
    for ent in sorted(set(etp) | set(efp) | set(efn)):
        report.entities[ent] = _score(etp[ent], efp[ent], efn[ent])
    return report


def format_report(report: Report, title: str = "built-in") -> str:
    """Plain-text report: accuracy, per-intent table, most confused pairs, entity scores."""
    lines = [
        f"Intent evaluation ({title})",
        f"  accuracy: {report.accuracy:.4f} ({report.correct}/{report.total})",
        f"  macro avg F1: {report.macro_f1():.4f}  weighted avg F1: {report.weighted_f1():.4f}",
        "",
        f"  {'intent':<20}{'precision':>10}{'recall':>10}{'f1-score':>10}{'support':>9}",
    ]
    for name, s in report.intents.items():
        lines.append(f"  {name:<20}{s.precision:>10.3f}{s.recall:>10.3f}{s.f1:>10.3f}{s.support:>9}")
    lines += ["", "Most confused intents (true → predicted):"]
    if not report.confusions:
        lines.append("  none")
    for a, b, n in report.confusions:
        lines.append(f"  {a} → {b}: {n}")
    lines += ["", "Entity evaluation (exact type and span)", f"  {'entity':<20}{'precision':>10}{'recall':>10}{'f1-score':>10}{'support':>9}"]
    for name, s in report.entities.items():
        lines.append(f"  {name:<20}{s.precision:>10.3f}{s.recall:>10.3f}{s.f1:>10.3f}{s.support:>9}")
    return "\n".join(lines)


#: Intents an open request ("我能干点啥", "离家近的") may become: a search or a recommendation.
OPEN_REQUEST_INTENTS = frozenset({"search_activities", "recommend"})


@dataclass
class CategoryReport:
    """Kinds of work described in plain words (is the category right?) and open requests (search or
    recommendation, never help or fallback)."""

    categories: int = 0
    categories_right: int = 0
    requests: int = 0
    requests_right: int = 0
    errors: list[tuple[str, str, str]] = field(default_factory=list)

    def format(self) -> str:
        """Plain text: the two accuracies and the misses."""
        cat = self.categories_right / self.categories if self.categories else 0.0
        req = self.requests_right / self.requests if self.requests else 0.0
        lines = [
            f"categories from plain words: {cat:.4f} ({self.categories_right}/{self.categories})",
            f"open requests → search/recommend: {req:.4f} ({self.requests_right}/{self.requests})",
        ]
        lines += [f"  miss: {t} | want {w} | got {g}" for t, w, g in self.errors]
        return "\n".join(lines)


def evaluate_categories(
    categories: Iterable[tuple[str, str]], requests: Iterable[str], parse: ParseFn, now: datetime
) -> CategoryReport:
    """Score (text, category) pairs on the category entity's value (any span) and open requests on the
    intent (one of OPEN_REQUEST_INTENTS)."""
    report = CategoryReport()
    for text, want in categories:
        result = parse(text, now)
        got = [str(e["value"]) for e in result.get("entities", []) if e["entity"] == "category"]
        report.categories += 1
        if want in got:
            report.categories_right += 1
        else:
            report.errors.append((text, want, ",".join(got) or "-"))
    for text in requests:
        intent = str(parse(text, now).get("intent", {}).get("name"))
        report.requests += 1
        if intent in OPEN_REQUEST_INTENTS:
            report.requests_right += 1
        else:
            report.errors.append((text, "search/recommend", intent))
    return report
