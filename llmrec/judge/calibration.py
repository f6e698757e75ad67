"""Calibrating the judge's probability of "relevant", fitted on a development split.

The logprob judge gives ``P(relevant) = p_4 + p_5`` from its score-token distribution. Three
calibrators map it closer to observed frequencies; each is fitted on development users and then
applied, unchanged, to the rest:

- ``"temperature"``: rescale the five score-token log-probabilities by ``1 / T`` before the
  softmax (Guo et al. 2017); one parameter, keeps the judge's ordering within a user.
- ``"platt"``: logistic regression on ``logit(P(relevant))`` (Platt 1999); can move the base
  rate, which temperature cannot.
- ``"isotonic"``: a monotone step function (Zadrozny and Elkan 2002); most flexible, needs
  more data.

Example:
    >>> cal = make_calibrator("isotonic").fit(dev_logprobs, dev_p, dev_y)  # doctest: +SKIP
    >>> p_test = cal.transform(test_logprobs, test_p)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np

from llmrec.context.scoring import renormalise

EPS = 1e-6


def p_relevant_from_logprobs(logprobs: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """``p_4 + p_5`` after tempering the score-token log-probabilities, shape ``(n,)``."""
    return renormalise(logprobs, temperature)[:, 3:].sum(axis=-1)


def _nll(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, EPS, 1 - EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, float), EPS, 1 - EPS)
    return np.log(p / (1 - p))


class TemperatureCalibrator:
    """One temperature ``T`` on the score-token logits, chosen by binary log-loss on dev."""

    name = "temperature"

    def __init__(self) -> None:
        self.temperature = 1.0

    def fit(self, logprobs: np.ndarray, p: np.ndarray, y: np.ndarray) -> TemperatureCalibrator:
        from scipy.optimize import minimize_scalar

        if logprobs is None:
            raise ValueError("temperature calibration needs score-token logprobs (logprob mode)")
        lp, labels = np.asarray(logprobs, float), np.asarray(y, float)
        result = minimize_scalar(
            lambda log_t: _nll(p_relevant_from_logprobs(lp, float(np.exp(log_t))), labels),
            bounds=(np.log(0.05), np.log(50.0)),
            method="bounded",
        )
        self.temperature = float(np.exp(result.x))
        return self

    def transform(self, logprobs: np.ndarray, p: np.ndarray) -> np.ndarray:
        return p_relevant_from_logprobs(np.asarray(logprobs, float), self.temperature)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.name, "temperature": self.temperature}


class PlattCalibrator:
    """``sigmoid(a * logit(p) + b)`` fitted by logistic regression on dev."""

    name = "platt"

    def __init__(self) -> None:
        self.a, self.b = 1.0, 0.0

    def fit(self, logprobs: np.ndarray, p: np.ndarray, y: np.ndarray) -> PlattCalibrator:
        from sklearn.linear_model import LogisticRegression

        labels = np.asarray(y, int)
        if len(set(labels.tolist())) < 2:
            raise ValueError("platt calibration needs both relevant and irrelevant dev examples")
        model = LogisticRegression(C=1e4).fit(_logit(p)[:, None], labels)
        self.a, self.b = float(model.coef_[0, 0]), float(model.intercept_[0])
        return self

    def transform(self, logprobs: np.ndarray, p: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(self.a * _logit(p) + self.b)))

    def describe(self) -> dict[str, Any]:
        return {"kind": self.name, "a": self.a, "b": self.b}


class IsotonicCalibrator:
    """A non-decreasing step function of ``p`` fitted on dev (out-of-range values clipped)."""

    name = "isotonic"

    def __init__(self) -> None:
        self.model: Any = None

    def fit(self, logprobs: np.ndarray, p: np.ndarray, y: np.ndarray) -> IsotonicCalibrator:
        from sklearn.isotonic import IsotonicRegression

        self.model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        self.model.fit(np.asarray(p, float), np.asarray(y, float))
        return self

    def transform(self, logprobs: np.ndarray, p: np.ndarray) -> np.ndarray:
        if self.model is None:
            raise ValueError("IsotonicCalibrator.transform called before fit")
        return self.model.predict(np.asarray(p, float))

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.name,
            "steps": 0 if self.model is None else len(self.model.X_thresholds_),
        }


CALIBRATORS = {
    "temperature": TemperatureCalibrator,
    "platt": PlattCalibrator,
    "isotonic": IsotonicCalibrator,
}


def make_calibrator(kind: str):
    """A fresh calibrator by name (``temperature``, ``platt`` or ``isotonic``)."""
    if kind not in CALIBRATORS:
        raise ValueError(f"unknown calibrator {kind!r}; known: {sorted(CALIBRATORS)}")
    return CALIBRATORS[kind]()
