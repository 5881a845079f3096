"""Sentiment of a feedback text, with VADER (pure CPU, offline).

VADER (Hutto & Gilbert, 2014; PyPI ``vaderSentiment``) is a rule- and
lexicon-based scorer tuned for short social text such as tweets and reviews. Its
lexicon ships inside the wheel, so scoring needs no model download and no network.

``score`` is VADER's *compound* score in [-1, 1]; ``label`` uses the thresholds the
VADER authors recommend: compound ≥ 0.05 positive, ≤ -0.05 negative, else neutral.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from typing import Literal, Protocol, cast

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

POSITIVE_THRESHOLD = 0.05
NEGATIVE_THRESHOLD = -0.05

Label = Literal["negative", "neutral", "positive"]


@dataclass(frozen=True, slots=True)
class Sentiment:
    score: float  # VADER compound, -1..1
    label: Label
    scorer: str  # e.g. vader-3.3.2


class _Analyzer(Protocol):
    def polarity_scores(self, text: str) -> dict[str, float]: ...


@lru_cache(maxsize=1)
def _analyzer() -> _Analyzer:
    """Built once, at first use: reading the packaged lexicon is its only I/O."""
    return cast(_Analyzer, SentimentIntensityAnalyzer())


@lru_cache(maxsize=1)
def scorer_name() -> str:
    try:
        return f"vader-{version('vaderSentiment')}"
    except PackageNotFoundError:  # pragma: no cover - vendored copies without metadata
        return "vader"


def label_for(compound: float) -> Label:
    """The VADER authors' recommended thresholds."""
    if compound >= POSITIVE_THRESHOLD:
        return "positive"
    if compound <= NEGATIVE_THRESHOLD:
        return "negative"
    return "neutral"


def score(text: str) -> Sentiment:
    """The sentiment of one text."""
    compound = float(_analyzer().polarity_scores(text)["compound"])
    compound = max(-1.0, min(1.0, compound))
    return Sentiment(score=compound, label=label_for(compound), scorer=scorer_name())
