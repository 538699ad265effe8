"""Calibration of raw scores to universal probabilities, and the native polarity mapping.

``p = σ(a·r + b)``, fitted by weighted cross-entropy against the soft targets q with each pole's
total weight ½ (pole-balanced: a 10:1 imbalanced set still puts p = ½ midway between the poles).
Only pole samples (q ≠ ½) take part. Targets are pulled in by Platt's ε = 1/(n_min + 2) so hard 0/1
labels on separable data still give a finite slope, and a tiny ridge on the slope keeps the
Newton system well-posed. The fit runs on standardised r with a fixed iteration budget, so it is a
deterministic function of its inputs.

Polarity (``native.polarity``) is ``tanh(r / scale)`` with ``scale`` = half the distance between
the mean raw scores of the two training poles, fixed at training time and stored in the snapshot:
0 means the raw score's neutral point (equal cosine to both poles, or the poles' midpoint), a
typical training positive lands near tanh(1) ≈ 0.76. It is never rescaled per request.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.errors import EngineError

_RIDGE = 1e-4
_MAX_ITER = 100
_TOL = 1e-12


class CalibrationError(EngineError):
    """Calibration needs samples on both poles."""


@dataclass(frozen=True)
class Calibration:
    a: float
    b: float

    def probability(self, r: float) -> float:
        return sigmoid(self.a * r + self.b)


def sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def sigmoid_array(z: np.ndarray) -> np.ndarray:
    return np.array([sigmoid(float(v)) for v in np.ravel(z)], dtype=np.float64).reshape(np.shape(z))


def _loss(alpha: float, beta: float, z: np.ndarray, t: np.ndarray, w: np.ndarray) -> float:
    s = alpha * z + beta
    # log(1 + e^s) computed stably; CE = log(1+e^s) − t·s
    softplus = np.where(s > 0, s + np.log1p(np.exp(-np.abs(s))), np.log1p(np.exp(-np.abs(s))))
    return float(np.sum(w * (softplus - t * s))) + 0.5 * _RIDGE * alpha * alpha


def fit_calibration(r: np.ndarray, q: np.ndarray) -> Calibration:
    r = np.asarray(r, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    pos, neg = q > 0.5, q < 0.5
    n_pos, n_neg = int(pos.sum()), int(neg.sum())
    if n_pos == 0 or n_neg == 0:
        raise CalibrationError("calibration needs at least one positive and one negative sample")
    keep = pos | neg
    r, q, pos = r[keep], q[keep], pos[keep]
    weights = np.where(pos, 0.5 / n_pos, 0.5 / n_neg)
    eps = 1.0 / (min(n_pos, n_neg) + 2.0)
    targets = eps + (1.0 - 2.0 * eps) * q

    centre = float(np.sum(weights * r))
    spread = math.sqrt(float(np.sum(weights * (r - centre) ** 2)))
    if spread <= 1e-12:
        return Calibration(a=0.0, b=0.0)  # every raw score equal: nothing separates, p = ½
    z = (r - centre) / spread

    alpha = beta = 0.0
    loss = _loss(alpha, beta, z, targets, weights)
    for _ in range(_MAX_ITER):
        p = 1.0 / (1.0 + np.exp(-(alpha * z + beta)))
        g_alpha = float(np.sum(weights * (p - targets) * z)) + _RIDGE * alpha
        g_beta = float(np.sum(weights * (p - targets)))
        h = weights * p * (1.0 - p)
        h_aa = float(np.sum(h * z * z)) + _RIDGE
        h_ab = float(np.sum(h * z))
        h_bb = float(np.sum(h)) + 1e-12
        det = h_aa * h_bb - h_ab * h_ab
        step_alpha = (h_bb * g_alpha - h_ab * g_beta) / det
        step_beta = (h_aa * g_beta - h_ab * g_alpha) / det
        scale = 1.0
        while True:  # backtracking keeps every step a descent step
            candidate = _loss(alpha - scale * step_alpha, beta - scale * step_beta, z, targets, weights)
            if candidate <= loss or scale < 1e-6:
                break
            scale *= 0.5
        alpha -= scale * step_alpha
        beta -= scale * step_beta
        loss = candidate
        if max(abs(scale * step_alpha), abs(scale * step_beta)) < _TOL:
            break
    return Calibration(a=alpha / spread, b=beta - alpha * centre / spread)


def polarity_scale(r: np.ndarray, q: np.ndarray) -> float:
    """Half the distance between the poles' mean raw scores (1.0 if it degenerates)."""
    r = np.asarray(r, dtype=np.float64)
    pos, neg = q > 0.5, q < 0.5
    if not pos.any() or not neg.any():
        return 1.0
    half = abs(float(r[pos].mean()) - float(r[neg].mean())) / 2.0
    return half if half > 1e-12 else 1.0


def polarity(r: float, scale: float) -> float:
    return math.tanh(r / scale)
