"""VADER lexicon sentiment: the packaged CPU classifier (compound > 0.05 positive, < -0.05 negative)."""

from __future__ import annotations

from rpsg_ray.engines.base import Prediction

THRESHOLD = 0.05


class VaderClassifier:
    def __init__(self) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.analyzer = SentimentIntensityAnalyzer()

    def classify(self, texts: list[str]) -> list[Prediction]:
        out = []
        for text in texts:
            compound = self.analyzer.polarity_scores(text)["compound"]
            if compound > THRESHOLD:
                out.append(Prediction("positive", abs(compound)))
            elif compound < -THRESHOLD:
                out.append(Prediction("negative", abs(compound)))
            else:
                out.append(Prediction("unknown", 1.0 - abs(compound)))
        return out
