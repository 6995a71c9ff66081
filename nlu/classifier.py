"""Intent classifiers over sparse binary features: multinomial logistic regression (default) and naive Bayes.

Both store, per feature, only the classes it carries weight for; features that matter to many classes
are kept as dense vectors so a message is scored by summing columns at C speed.
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Protocol, cast


class IntentClassifier(Protocol):
    """What the parser needs of a classifier."""

    labels: list[str]

    def fit(self, docs: Sequence[Iterable[str]], labels: Sequence[str]) -> IntentClassifier:
        """Learn from feature sets with their labels; returns self."""
        ...

    def known(self, features: Iterable[str]) -> list[str]:
        """The features seen in training."""
        ...

    def predict(self, features: Iterable[str]) -> list[tuple[str, float]]:
        """(label, probability) best first; empty when no feature is known."""
        ...


_DENSE_FROM = 6  # a feature with more non-zero classes than this is stored as a dense vector


class _Scorer:
    """Sum of per-feature class weights: dense vectors summed column-wise plus sparse (class, weight) pairs."""

    def __init__(self, n_classes: int, weights: Mapping[str, Sequence[tuple[int, float]]]) -> None:
        self.n_classes = n_classes
        self.sparse: dict[str, tuple[tuple[int, float], ...]] = {}
        self.dense: dict[str, list[float]] = {}
        for f, pairs in weights.items():
            if len(pairs) > _DENSE_FROM:
                vec = [0.0] * n_classes
                for c, w in pairs:
                    vec[c] = w
                self.dense[f] = vec
            else:
                self.sparse[f] = tuple(pairs)

    def __contains__(self, feature: str) -> bool:
        return feature in self.sparse or feature in self.dense

    def sums(self, features: Iterable[str]) -> tuple[list[float], int]:
        """Per-class sums over the known features, and how many features were known."""
        dense, sparse = self.dense, self.sparse
        vecs: list[list[float]] = []
        pairs: list[tuple[tuple[int, float], ...]] = []
        for f in features:
            vec = dense.get(f)
            if vec is not None:
                vecs.append(vec)
                continue
            d = sparse.get(f)
            if d is not None:
                pairs.append(d)
        if vecs:
            scores = cast(list[float], list(map(sum, zip(*vecs, strict=True))))
        else:
            scores = [0.0] * self.n_classes
        for d in pairs:
            for c, w in d:
                scores[c] += w
        return scores, len(vecs) + len(pairs)


def _softmax_ranking(labels: Sequence[str], scores: Sequence[float], temperature: float) -> list[tuple[str, float]]:
    top = max(scores)
    inv = 1.0 / temperature
    exps = [math.exp((s - top) * inv) for s in scores]  # underflows to 0.0, never raises
    total = sum(exps)
    return sorted(zip(labels, [e / total for e in exps], strict=True), key=itemgetter(1), reverse=True)


class NaiveBayes:
    """Multinomial naive Bayes with a uniform prior.

    ``log P(f|c) = log(n(f,c) + alpha) - log(N_c + alpha V)``: for the many classes with ``n(f,c) = 0``
    this is a per-class constant, so a message costs one vector of baselines plus a few deltas.
    """

    def __init__(self, alpha: float = 0.1, temperature: float = 4.0) -> None:
        """Args:
        alpha: additive smoothing.
        temperature: class scores are divided by it before the softmax (calibrates the confidence).
        """
        self.alpha = alpha
        self.temperature = temperature
        self.labels: list[str] = []
        self._baseline: list[float] = []
        self._scorer = _Scorer(0, {})

    def fit(self, docs: Sequence[Iterable[str]], labels: Sequence[str]) -> NaiveBayes:
        """Learn from feature sets ``docs`` with their ``labels``."""
        self.labels = sorted(set(labels))
        index = {label: i for i, label in enumerate(self.labels)}
        counts: dict[str, Counter[int]] = defaultdict(Counter)
        totals = [0] * len(self.labels)
        for features, label in zip(docs, labels, strict=True):
            c = index[label]
            for f in set(features):
                counts[f][c] += 1
                totals[c] += 1
        vocab = len(counts)
        log_alpha = math.log(self.alpha)
        self._baseline = [log_alpha - math.log(t + self.alpha * vocab) for t in totals]
        deltas = {f: [(c, math.log(n + self.alpha) - log_alpha) for c, n in per.items()] for f, per in counts.items()}
        self._scorer = _Scorer(len(self.labels), deltas)
        return self

    def known(self, features: Iterable[str]) -> list[str]:
        """The features that were seen in training."""
        return [f for f in features if f in self._scorer]

    def predict(self, features: Iterable[str]) -> list[tuple[str, float]]:
        """Classes with their probabilities, best first; empty when no feature was seen in training."""
        sums, k = self._scorer.sums(features)
        if not k:
            return []
        scores = [s + k * b for s, b in zip(sums, self._baseline, strict=True)]
        return _softmax_ranking(self.labels, scores, self.temperature)


class LogisticRegression:
    """Multinomial logistic regression trained by SGD; features are scaled by 1/sqrt(count).

    Weights smaller than ``prune`` are dropped after training, so scoring touches few (class, weight)
    pairs per feature. Training is deterministic for a given seed.
    """

    def __init__(
        self, epochs: int = 30, rate: float = 2.0, l2: float = 0.0, prune: float = 0.2, seed: int = 7
    ) -> None:
        """Args:
        epochs: passes over the training data.
        rate: initial learning rate (decays as 1 / (1 + epoch)).
        l2: weight decay per update.
        prune: drop weights smaller than this after training.
        seed: shuffling seed.
        """
        self.epochs = epochs
        self.rate = rate
        self.l2 = l2
        self.prune = prune
        self.seed = seed
        self.temperature = 1.0
        self.labels: list[str] = []
        self._bias: list[float] = []
        self._scorer = _Scorer(0, {})
        self._vocabulary: frozenset[str] = frozenset()

    def fit(self, docs: Sequence[Iterable[str]], labels: Sequence[str]) -> LogisticRegression:
        """Learn from feature sets ``docs`` with their ``labels``."""
        self.labels = sorted(set(labels))
        index = {label: i for i, label in enumerate(self.labels)}
        n_classes = len(self.labels)
        classes = range(n_classes)
        rows = [(sorted(set(d)), index[y]) for d, y in zip(docs, labels, strict=True)]
        weights: dict[str, list[float]] = {}
        bias = [0.0] * n_classes
        rng = random.Random(self.seed)
        order = list(range(len(rows)))
        for epoch in range(self.epochs):
            rng.shuffle(order)
            rate = self.rate / (1.0 + epoch)
            decay = 1.0 - rate * self.l2
            for i in order:
                feats, y = rows[i]
                if not feats:
                    continue
                scale = 1.0 / math.sqrt(len(feats))
                vecs = [weights.get(f) or weights.setdefault(f, [0.0] * n_classes) for f in feats]
                sums = list(map(sum, zip(*vecs, strict=True)))
                scores = [b + s * scale for b, s in zip(bias, sums, strict=True)]
                top = max(scores)
                exps = [math.exp(s - top) for s in scores]
                total = sum(exps)
                grads = [e / total for e in exps]
                grads[y] -= 1.0
                step = [rate * g * scale for g in grads]
                for w in vecs:
                    for c in classes:
                        w[c] = w[c] * decay - step[c]
                for c in classes:
                    bias[c] -= rate * grads[c] * 0.1
        self._bias = bias
        self._vocabulary = frozenset(weights)
        pairs = {f: [(c, x) for c, x in enumerate(w) if abs(x) >= self.prune] for f, w in weights.items()}
        self._scorer = _Scorer(n_classes, {f: p for f, p in pairs.items() if p})
        return self

    def known(self, features: Iterable[str]) -> list[str]:
        """The features that were seen in training."""
        return [f for f in features if f in self._vocabulary]

    def predict(self, features: Iterable[str]) -> list[tuple[str, float]]:
        """Classes with their probabilities, best first; empty when no feature was seen in training."""
        feats = set(features)
        sums, k = self._scorer.sums(feats)
        if not k:
            return []
        scale = 1.0 / math.sqrt(k)
        scores = [b + s * scale for b, s in zip(self._bias, sums, strict=True)]
        return _softmax_ranking(self.labels, scores, self.temperature)
