"""Nearest neighbours (the nearest or the k nearest) and k-means over images or features, in
bounded memory (pure NumPy).

Distances are computed in chunks of matrix products, ``|a|^2 + |b|^2 - 2 a.b`` in float32
on points centred on the training mean (which keeps the norms, and so the rounding,
small); no full queries x references matrix is ever held: 10,000 x 60,000 MNIST digits
take blocks of 1,024 x 8,192 (32 MB).
"""

from __future__ import annotations

import numpy as np


def nearest_neighbours(
    queries: np.ndarray, reference: np.ndarray, query_chunk: int = 1024, ref_chunk: int = 8192
) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distance (float64) and index of each query's nearest reference point.

    Rows are flattened; blocks of ``query_chunk`` x ``ref_chunk`` squared distances are
    computed in float32 and reduced to a running minimum (the first of equal minima).
    """
    distances, index = k_nearest_neighbours(queries, reference, 1, query_chunk, ref_chunk)
    return distances[:, 0], index[:, 0]


def k_nearest_neighbours(
    queries: np.ndarray, reference: np.ndarray, k: int, query_chunk: int = 1024, ref_chunk: int = 8192
) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distances (float64) and indices of each query's ``k`` nearest reference
    points, nearest first: two (queries, k) arrays. Chunked as :func:`nearest_neighbours`."""
    q = flat(queries)
    r = flat(reference)
    if q.shape[1] != r.shape[1]:
        raise ValueError(f"queries have {q.shape[1]} dimensions, the reference {r.shape[1]}")
    if len(r) == 0:
        raise ValueError("the reference set is empty")
    if not 1 <= k <= len(r):
        raise ValueError(f"k must be between 1 and the {len(r)} reference points, got {k}")
    centre = r.mean(axis=0, dtype=np.float64).astype(np.float32)
    best = np.full((len(q), k), np.inf, dtype=np.float32)
    index = np.zeros((len(q), k), dtype=np.int64)
    r = r - centre
    r_norms = (r * r).sum(axis=1)
    for q0 in range(0, len(q), query_chunk):
        qb = q[q0 : q0 + query_chunk] - centre
        q_norms = (qb * qb).sum(axis=1)
        rows = slice(q0, q0 + len(qb))
        for r0 in range(0, len(r), ref_chunk):
            rb = r[r0 : r0 + ref_chunk]
            d = q_norms[:, None] + r_norms[None, r0 : r0 + ref_chunk] - 2.0 * (qb @ rb.T)
            best[rows], index[rows] = _keep_nearest(best[rows], index[rows], d, r0)
    return np.sqrt(np.maximum(best.astype(np.float64), 0.0)), index


def _keep_nearest(
    best: np.ndarray, index: np.ndarray, d: np.ndarray, offset: int
) -> tuple[np.ndarray, np.ndarray]:
    """The k smallest of the running ``best`` and of a block ``d`` of squared distances (its
    columns are reference points ``offset`` on), sorted. Of equal distances the lower index
    comes first, except that which of several tied for the k-th place within one block is
    kept is argpartition's choice (for k = 1: the first)."""
    k = best.shape[1]
    if k == 1:
        arg = np.argmin(d, axis=1)[:, None]  # the usual case, and argmin is the cheapest
    elif d.shape[1] > k:
        # Sorted indices: the stable sort below then keeps the lower one of equal distances.
        arg = np.sort(np.argpartition(d, k - 1, axis=1)[:, :k], axis=1)
    else:
        arg = np.broadcast_to(np.arange(d.shape[1]), d.shape)
    values = np.concatenate([best, np.take_along_axis(d, arg, axis=1)], axis=1)
    ids = np.concatenate([index, arg + offset], axis=1)
    order = np.argsort(values, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(values, order, axis=1), np.take_along_axis(ids, order, axis=1)


def flat(points: np.ndarray) -> np.ndarray:
    x = np.asarray(points, dtype=np.float32)
    return x.reshape(len(x), -1)


def kmeans(points: np.ndarray, k: int, seed: int, iterations: int = 30, max_fit: int = 10_000) -> np.ndarray:
    """Centres (k, D) of a seeded k-means (k-means++ start, Lloyd steps) on up to ``max_fit`` points."""
    x = flat(points)
    rng = np.random.default_rng(seed)
    if len(x) > max_fit:
        x = x[rng.choice(len(x), max_fit, replace=False)]
    if not 1 <= k <= len(x):
        raise ValueError(f"k-means needs 1 <= k <= {len(x)} points, got k={k}")
    centres = [x[rng.integers(len(x))]]
    closest = nearest_neighbours(x, np.stack(centres))[0] ** 2
    for _ in range(1, k):
        # k-means++: the next centre with probability proportional to the squared distance.
        total = closest.sum()
        pick = rng.choice(len(x), p=closest / total) if total > 0 else rng.integers(len(x))
        centres.append(x[pick])
        closest = np.minimum(closest, nearest_neighbours(x, x[pick : pick + 1])[0] ** 2)
    c = np.stack(centres).astype(np.float64)
    labels = np.full(len(x), -1)
    for _ in range(iterations):
        new = nearest_neighbours(x, c)[1]
        if np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):
            members = x[labels == j]
            if len(members):  # an emptied cell keeps its old centre
                c[j] = members.mean(axis=0, dtype=np.float64)
    return c.astype(np.float32)
