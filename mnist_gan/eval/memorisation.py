"""Is a generator copying its training digits? Nearest-neighbour distances and a data-copying test.

Every generated digit gets the distance to its nearest training digit; real held-out test
digits, which were never trained on, get the same. A generator that generalises draws
digits about as far from the training set as unseen real digits are; one that copies
draws them closer. Two numbers say how much closer:

- **share**: the share of generated digits closer to a training digit than the closest
  1 % of test digits are (about 1 % for unseen real digits, 100 % for copies);
- **C_T**, the three-sample data-copying test of Meehan, Chaudhuri & Dasgupta (AISTATS
  2020). The training set is cut into k cells by k-means; in each cell a Mann-Whitney U
  test compares the generated digits' distances with the test digits' (U counts the pairs
  in which the generated digit is the farther one) and is z-scored under the null
  hypothesis that both are alike; C_T is the average of those z-scores weighted by the
  test digits' share of each cell, over the cells holding enough generated digits. Under
  the null each z-score is about standard normal, so C_T has mean 0 and a standard
  deviation of at most 1: C_T well below 0 means copying (flagged below -3, a one-sided
  p-value of at most 0.0013), well above 0 means digits far from anything real.

Why C_T and not the authenticity score of Alaa et al. (ICML 2022): authenticity calls a
generated sample a copy when it is closer to its nearest training sample than that
sample's own nearest training neighbour is. It uses no held-out data, so it has no
real-data yardstick (unseen real digits do not score 1, and how far below 1 they score
depends on the data's density), and it comes with no null distribution to say when a
value is alarming. C_T is built on exactly the comparison asked for here, generated
against held-out digits, gives a z-score with a known scale, and, being computed per
cell, still sees copying confined to one region (one digit, one style) that an average
over the whole set would dilute.

One simplification of the paper: the distance used is to the nearest training digit
anywhere, not only within the digit's own cell, so the same distance serves the share,
the test and the picture of the digits most at risk (the two differ only for digits whose
nearest training digit lies across a cell border).
Distances come from :mod:`mnist_gan.eval.neighbours`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mnist_gan.eval.neighbours import flat, kmeans, nearest_neighbours

# C_T below this flags copying: under the null it has mean 0 and a standard deviation <= 1.
FLAG_BELOW = -3.0
# "Closer than the closest 1 % of held-out test digits are".
CLOSEST_SHARE = 0.01
CELLS = 10
# A cell takes part in C_T only with this many generated and test digits in it (the paper
# drops cells with too few generated samples; the normal approximation of U needs some of each).
MIN_PER_CELL = 10
# The names of the three rows: the generator and its two real-data references.
ROWS = ("generated", "training_digits", "held_out_test_digits")
ROW_NOTES = {
    "generated": "the generator",
    "training_digits": "training digits returned as the generator (must be flagged)",
    "held_out_test_digits": "held-out test digits (must pass)",
}


def mann_whitney_z(generated: np.ndarray, test: np.ndarray) -> float:
    """Z-scored Mann-Whitney U of two samples of distances.

    U counts the (generated, test) pairs in which the generated distance is the larger
    (ties count half); its null mean is m n / 2 and variance m n (m + n + 1) / 12.
    Negative: the generated distances are the smaller ones.
    """
    g = np.asarray(generated, dtype=np.float64)
    t = np.sort(np.asarray(test, dtype=np.float64))
    m, n = len(g), len(t)
    if m == 0 or n == 0:
        raise ValueError(f"both samples must be non-empty, got {m} and {n}")
    below = np.searchsorted(t, g, side="left")
    at_or_below = np.searchsorted(t, g, side="right")
    u = float(np.sum(below + at_or_below) / 2.0)
    return (u - m * n / 2.0) / float(np.sqrt(m * n * (m + n + 1) / 12.0))


def copying_statistic(
    generated: np.ndarray,
    generated_cells: np.ndarray,
    test: np.ndarray,
    test_cells: np.ndarray,
    cells: int,
    min_per_cell: int = MIN_PER_CELL,
) -> tuple[float, int]:
    """C_T of Meehan et al. 2020 from distances to the training set and cell numbers.

    Returns (C_T, number of cells used); C_T is NaN when no cell holds ``min_per_cell``
    generated and test digits.
    """
    g_cells, t_cells = np.asarray(generated_cells), np.asarray(test_cells)
    weights, scores = [], []
    for cell in range(cells):
        g, t = generated[g_cells == cell], test[t_cells == cell]
        if len(g) >= min_per_cell and len(t) >= min_per_cell:
            weights.append(len(t) / len(test))
            scores.append(mann_whitney_z(g, t))
    if not weights:
        return float("nan"), 0
    w = np.asarray(weights)
    return float(np.dot(w, scores) / w.sum()), len(weights)


def share_closer(generated: np.ndarray, test: np.ndarray, quantile: float = CLOSEST_SHARE) -> float:
    """Share of generated distances at or below the ``quantile`` of the test distances."""
    threshold = np.quantile(np.asarray(test, dtype=np.float64), quantile)
    return float(np.mean(np.asarray(generated) <= threshold))


@dataclass(frozen=True)
class Score:
    """One "generator" judged in one space."""

    c_t: float
    share: float
    median_distance: float
    cells_used: int

    def to_json(self) -> dict[str, Any]:
        return {
            "c_t": None if np.isnan(self.c_t) else self.c_t,
            "share_closer_than_closest_test": self.share,
            "median_distance": self.median_distance,
            "cells_used": self.cells_used,
        }


class Space:
    """The training set of one space (pixels or features), cut into k-means cells.

    The held-out test digits' distances and cells are computed once; :meth:`score`
    judges any set of digits against them (or against a subset of them).
    """

    def __init__(
        self,
        train: np.ndarray,
        test: np.ndarray,
        cells: int = CELLS,
        seed: int = 0,
        train_labels: np.ndarray | None = None,
    ) -> None:
        self.train = flat(train)
        self.cells = cells
        self.centres = kmeans(self.train, cells, seed)
        self.test_distances, self.test_index = nearest_neighbours(test, self.train)
        self.test_cells = self.cell_of(test)
        self.train_labels = train_labels

    def cell_of(self, points: np.ndarray) -> np.ndarray:
        """The k-means cell of each point."""
        return nearest_neighbours(points, self.centres)[1]

    def score(self, points: np.ndarray) -> tuple[Score, np.ndarray, np.ndarray, np.ndarray]:
        """(score, distance to the nearest training digit, its index, its cell) of each point."""
        distances, index = nearest_neighbours(points, self.train)
        cells = self.cell_of(points)
        return self.judge(distances, cells), distances, index, cells

    def relative(self, distances: np.ndarray, index: np.ndarray, cells: np.ndarray) -> np.ndarray:
        """Distances over the median distance of the test digits of the same kind: how close
        for that kind of digit (a thin 1 is close to many training 1s; a copy is close
        whatever the digit). The kind is the label of the nearest training digit when the
        labels are known, else the cell; a kind without test digits takes all of them."""
        if self.train_labels is None:
            kind, test_kind = np.asarray(cells), self.test_cells
        else:
            kind, test_kind = self.train_labels[index], self.train_labels[self.test_index]
        scale = np.full(len(distances), np.median(self.test_distances))
        for k in np.unique(kind):
            if np.any(test_kind == k):
                scale[kind == k] = np.median(self.test_distances[test_kind == k])
        return distances / np.maximum(scale, 1e-12)

    def judge(self, distances: np.ndarray, cells: np.ndarray, test_subset: np.ndarray | None = None) -> Score:
        """C_T, share and median of digits with these distances and cells, against the test
        digits (or the ``test_subset`` of them)."""
        subset = slice(None) if test_subset is None else test_subset
        test_d, test_c = self.test_distances[subset], self.test_cells[subset]
        c_t, used = copying_statistic(distances, cells, test_d, test_c, self.cells)
        return Score(c_t, share_closer(distances, test_d), float(np.median(distances)), used)


@dataclass(frozen=True)
class Memorisation:
    """C_T and the share in each space for the generator and its two references."""

    scores: dict[str, dict[str, Score]]  # row -> space -> score
    # Indices of generated digits, most at risk first: the smallest distance to a training
    # digit in the first space, relative to that of test digits of the same kind.
    at_risk: np.ndarray
    nearest_train: np.ndarray  # index of each one's nearest training digit

    def flagged(self, row: str) -> bool:
        """Copying: C_T below :data:`FLAG_BELOW` in any space."""
        return any(s.c_t < FLAG_BELOW for s in self.scores[row].values())

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "test": "C_T, Meehan, Chaudhuri & Dasgupta 2020",
            "flag_below": FLAG_BELOW,
            "closest_share_of_test": CLOSEST_SHARE,
            "cells": CELLS,
        }
        for row, spaces in self.scores.items():
            out[row] = {
                "about": ROW_NOTES[row],
                **{space: s.to_json() for space, s in spaces.items()},
                "flagged": self.flagged(row),
            }
        return out


def check(
    spaces: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    copies: int,
    seed: int = 0,
    at_risk: int = 32,
    train_labels: np.ndarray | None = None,
) -> Memorisation:
    """The memorisation check in every space of ``spaces``: name -> (train, test, generated).

    The references: the first ``copies`` training digits returned as if generated (must
    be flagged), and half of the test digits judged against the other half (must pass:
    both halves are unseen real digits). The first space orders the ``at_risk`` digits most
    at risk by :meth:`Space.relative` distance (by class when ``train_labels`` are given).
    """
    scores: dict[str, dict[str, Score]] = {row: {} for row in ROWS}
    order = nearest = np.zeros(0, dtype=np.int64)
    for i, (name, (train, test, generated)) in enumerate(spaces.items()):
        space = Space(train, test, seed=seed, train_labels=train_labels)
        scores["generated"][name], distances, index, cells = space.score(generated)
        scores["training_digits"][name] = space.score(train[:copies])[0]
        halves = np.random.default_rng(seed).permutation(len(test))
        held, yardstick = halves[: len(test) // 2], halves[len(test) // 2 :]
        # The test digits' distances are known already: no second search.
        scores["held_out_test_digits"][name] = space.judge(
            space.test_distances[held], space.test_cells[held], yardstick
        )
        if i == 0:
            order = np.argsort(space.relative(distances, index, cells), kind="stable")[:at_risk]
            nearest = index[order]
    return Memorisation(scores=scores, at_risk=order, nearest_train=nearest)
