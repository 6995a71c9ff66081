"""A multinomial naive Bayes intent classifier over sparse binary features, stored sparsely for speed."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import cast


class NaiveBayes:
    """Naive Bayes whose per-feature weights are kept only for the classes that saw the feature.

    ``log P(f|c) = log(n(f,c) + alpha) - log(N_c + alpha V)``: for the many classes with ``n(f,c) = 0``
    this is a per-class constant, so a message costs one vector of baselines plus a few sparse deltas.
    """

    def __init__(self, alpha: float = 0.1, temperature: float = 4.0) -> None:
        """Args:
        alpha: additive smoothing.
        temperature: the class scores are divided by it before the softmax (calibrates confidence).
        """
        self.alpha = alpha
        self.temperature = temperature
        self.labels: list[str] = []
        self._baseline: list[float] = []
        self._deltas: dict[str, tuple[tuple[int, float], ...]] = {}
        self._dense: dict[str, list[float]] = {}

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
        self._deltas = {}
        self._dense = {}
        for f, per_class in counts.items():
            pairs = tuple((c, math.log(n + self.alpha) - log_alpha) for c, n in per_class.items())
            self._deltas[f] = pairs
            if len(pairs) > 6:  # adding a whole vector at C speed beats a Python loop over many pairs
                vec = [0.0] * len(self.labels)
                for c, w in pairs:
                    vec[c] = w
                self._dense[f] = vec
        return self

    def known(self, features: Iterable[str]) -> list[str]:
        """The features that were seen in training."""
        return [f for f in features if f in self._deltas]

    def scores(self, features: Iterable[str]) -> list[float] | None:
        """Log-likelihood of each class (uniform prior) over the known features; None if none is known."""
        k = 0
        deltas = self._deltas
        dense = self._dense
        vecs: list[list[float]] = []
        sparse: list[tuple[tuple[int, float], ...]] = []
        for f in features:
            vec = dense.get(f)
            if vec is not None:
                vecs.append(vec)
                k += 1
                continue
            d = deltas.get(f)
            if d is not None:
                sparse.append(d)
                k += 1
        # summing columns at C speed beats adding vectors one by one
        scores = cast(list[float], list(map(sum, zip(*vecs, strict=True)))) if vecs else [0.0] * len(self.labels)
        for d in sparse:
            for c, w in d:
                scores[c] += w
        if not k:
            return None
        return [s + k * b for s, b in zip(scores, self._baseline, strict=True)]

    def predict(self, features: Iterable[str]) -> list[tuple[str, float]]:
        """Classes with their probabilities, best first; empty when no feature was seen in training."""
        scores = self.scores(features)
        if scores is None:
            return []
        top = max(scores)
        inv = 1.0 / self.temperature
        exps = [math.exp((s - top) * inv) for s in scores]  # underflows to 0.0, never raises
        total = sum(exps) or 1.0
        return sorted(zip(self.labels, [e / total for e in exps], strict=True), key=itemgetter(1), reverse=True)


class LogisticRegression:
    """Multinomial logistic regression trained by SGD, stored as sparse per-feature class weights.

    Weights whose magnitude is below ``prune`` after training are dropped, so scoring a message touches
    only a few (class, weight) pairs per feature, as with :class:`NaiveBayes`.
    """

    def __init__(self, epochs: int = 30, rate: float = 0.5, l2: float = 1e-5, prune: float = 0.02, seed: int = 7) -> None:
        """Args:
        epochs: passes over the training data.
        rate: initial learning rate (decays as 1 / (1 + epoch)).
        l2: weight decay per update.
        prune: drop weights smaller than this after training.
        seed: shuffling seed (training is deterministic).
        """
        self.epochs = epochs
        self.rate = rate
        self.l2 = l2
        self.prune = prune
        self.seed = seed
        self.temperature = 1.0
        self.labels: list[str] = []
        self._bias: list[float] = []
        self._weights: dict[str, tuple[tuple[int, float], ...]] = {}

    def fit(self, docs: Sequence[Iterable[str]], labels: Sequence[str]) -> LogisticRegression:
        """Learn from feature sets ``docs`` with their ``labels``."""
        import random

        self.labels = sorted(set(labels))
        index = {label: i for i, label in enumerate(self.labels)}
        n_classes = len(self.labels)
        rows = [(sorted(set(d)), index[y]) for d, y in zip(docs, labels, strict=True)]
        weights: dict[str, list[float]] = {}
        bias = [0.0] * n_classes
        rng = random.Random(self.seed)
        order = list(range(len(rows)))
        for epoch in range(self.epochs):
            rng.shuffle(order)
            rate = self.rate / (1.0 + epoch)
            for i in order:
                feats, y = rows[i]
                if not feats:
                    continue
                scale = 1.0 / math.sqrt(len(feats))
                scores = bias[:]
                vecs = []
                for f in feats:
                    w = weights.get(f)
                    if w is None:
                        w = weights[f] = [0.0] * n_classes
                    vecs.append(w)
                    for c in range(n_classes):
                        scores[c] += w[c] * scale
                top = max(scores)
                exps = [math.exp(s - top) for s in scores]
                total = sum(exps)
                grads = [e / total for e in exps]
                grads[y] -= 1.0
                decay = 1.0 - rate * self.l2
                for w in vecs:
                    for c in range(n_classes):
                        w[c] = w[c] * decay - rate * grads[c] * scale
                for c in range(n_classes):
                    bias[c] -= rate * grads[c] * 0.1
        self._bias = bias
        self._weights = {
            f: tuple((c, x) for c, x in enumerate(w) if abs(x) >= self.prune) for f, w in weights.items()
        }
        return self

    def known(self, features: Iterable[str]) -> list[str]:
        """The features that were seen in training."""
        return [f for f in features if f in self._weights]

    def predict(self, features: Iterable[str]) -> list[tuple[str, float]]:
        """Classes with their probabilities, best first."""
        weights = self._weights
        feats = [weights[f] for f in set(features) if f in weights]
        if not feats:
            return []
        scores = self._bias[:]
        if feats:
            scale = 1.0 / math.sqrt(len(feats))
            for pairs in feats:
                for c, w in pairs:
                    scores[c] += w * scale
        top = max(scores)
        t = self.temperature
        exps = [math.exp((s - top) / t) for s in scores]
        total = sum(exps)
        return sorted(zip(self.labels, (e / total for e in exps), strict=True), key=lambda x: -x[1])
