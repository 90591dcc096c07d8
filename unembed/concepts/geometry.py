"""Blending on the unit sphere: weighted means, lerp, slerp, the spherical mean, analogies.

Every function takes and returns unit float32 vectors (our embedders are cosine spaces, so a
length carries no meaning). `mean` and `lerp` give the same direction — lerp is the weighted
mean, renormalised; `slerp` walks the great circle at constant angular speed, and for more than
two inputs becomes the weighted spherical (Karcher) mean.
"""
from __future__ import annotations

import numpy as np

from ..embed.base import check_vectors
from ..errors import InputError

METHODS = ("mean", "lerp", "slerp")
_PARALLEL = 1.0 - 1e-6  # |cos| above this: the two directions are the same (or opposite) line


def check_weights(n: int, weights=None, non_negative: bool = False) -> np.ndarray:
    """Weights for n inputs, scaled to sum to one."""
    if weights is None:
        return np.full(n, 1.0 / n)
    w = np.asarray(list(weights), dtype=np.float64)
    if w.shape != (n,):
        raise InputError(f"{len(w)} weights for {n} inputs: give one weight per input")
    if not np.isfinite(w).all():
        raise InputError("weights must be finite numbers")
    if non_negative and (w < 0).any():
        raise InputError("slerp needs non-negative weights (use --method mean for signed weights)")
    if abs(w.sum()) < 1e-12:
        raise InputError("the weights sum to zero, so the blend has no direction")
    return w / w.sum()


def _unit(x: np.ndarray, what: str) -> np.ndarray:
    n = float(np.linalg.norm(x))
    if n < 1e-6:
        raise InputError(f"{what} cancels out to the zero vector (the inputs point in opposite directions); "
                         "try --method slerp or other weights")
    return (x / n).astype(np.float32)


def mean(vectors, weights=None) -> np.ndarray:
    v = check_vectors(vectors).astype(np.float64)
    return _unit(check_weights(len(v), weights) @ v, "the weighted mean")


def _perpendicular(a: np.ndarray) -> np.ndarray:
    # a fixed direction orthogonal to a: the basis axis a leans on least, minus its a-component
    e = np.zeros_like(a)
    e[int(np.argmin(np.abs(a)))] = 1.0
    p = e - (e @ a) * a
    return p / np.linalg.norm(p)


def slerp(a, b, t: float) -> np.ndarray:
    """The point a fraction t of the way from a to b along the great circle.

    Parallel inputs give a itself. Opposite inputs have no unique great circle; we take the
    one through a fixed perpendicular of a, so the result is deterministic and still unit length.
    """
    a, b = check_vectors(np.stack([np.ravel(a), np.ravel(b)])).astype(np.float64)
    cos = float(np.clip(a @ b, -1.0, 1.0))
    if cos > _PARALLEL:
        return a.astype(np.float32)
    if cos < -_PARALLEL:
        p = _perpendicular(a)
        return (np.cos(np.pi * t) * a + np.sin(np.pi * t) * p).astype(np.float32)
    theta = np.arccos(cos)
    out = (np.sin((1 - t) * theta) * a + np.sin(t * theta) * b) / np.sin(theta)
    return (out / np.linalg.norm(out)).astype(np.float32)


def lerp(a, b, t: float) -> np.ndarray:
    a, b = check_vectors(np.stack([np.ravel(a), np.ravel(b)])).astype(np.float64)
    return _unit((1 - t) * a + t * b, f"lerp at t={t:g}")


def spherical_mean(vectors, weights=None, iterations: int = 100) -> np.ndarray:
    """The weighted Karcher mean: the point whose tangent-space pulls from all inputs balance."""
    v = check_vectors(vectors).astype(np.float64)
    w = check_weights(len(v), weights, non_negative=True)
    if len(v) == 2:
        return slerp(v[0], v[1], float(w[1]))
    s = w @ v
    x = s / np.linalg.norm(s) if np.linalg.norm(s) > 1e-6 else v[int(np.argmax(w))]
    for _ in range(iterations):
        cos = np.clip(v @ x, -1.0, 1.0)
        theta = np.arccos(cos)
        # log map of each input at x; an input at x (theta 0) pulls with zero force
        scale = np.where(theta > 1e-9, theta / np.maximum(np.sin(theta), 1e-12), 1.0)
        step = (w * scale) @ (v - cos[:, None] * x)
        norm = np.linalg.norm(step)
        if norm < 1e-10:
            break
        x = np.cos(norm) * x + np.sin(norm) * step / norm  # exp map back onto the sphere
    return (x / np.linalg.norm(x)).astype(np.float32)


def blend(vectors, weights=None, method: str = "mean") -> np.ndarray:
    if method not in METHODS:
        raise InputError(f"unknown blend method {method!r}: use one of {', '.join(METHODS)}")
    if method == "slerp":
        return spherical_mean(vectors, weights)
    return mean(vectors, weights)


def interpolate(a, b, points: int, method: str = "slerp") -> np.ndarray:
    """`points` evenly spaced vectors from a to b inclusive, shape (points, d)."""
    if points < 2:
        raise InputError(f"a path needs at least 2 points (its two ends), got {points}")
    if method not in ("lerp", "slerp"):
        raise InputError(f"unknown path method {method!r}: use lerp or slerp")
    step = slerp if method == "slerp" else lerp
    return np.stack([step(a, b, t) for t in np.linspace(0.0, 1.0, points)])


def analogy(a, b, c) -> np.ndarray:
    """a − b + c: 'a is to b as ? is to c' read as moving c by the offset from b to a."""
    a, b, c = check_vectors(np.stack([np.ravel(a), np.ravel(b), np.ravel(c)])).astype(np.float64)
    return _unit(a - b + c, "a − b + c")
