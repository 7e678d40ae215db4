"""The full judgement of ``evaluate.py``: every metric beside its real-data reference, as a
table and as JSON, and the picture of the digits most at risk of being copies."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from mnist_gan import pictures
from mnist_gan.data import pipeline
from mnist_gan.eval import independent, memorisation
from mnist_gan.eval.cas import classification_accuracy_score
from mnist_gan.eval.features import ClassifierReader
from mnist_gan.eval.generator_scorer import GeneratorScorer, SampleFn
from mnist_gan.eval.metrics import (
    Moments,
    accuracy,
    classifier_score,
    frechet_distance,
    manifold_membership,
    moments,
    per_class_accuracy,
    per_class_mean,
)
from mnist_gan.runtime import files, limits
from mnist_gan.runtime.errors import ConfigError
from mnist_gan.runtime.record import DIGITS


@dataclass(frozen=True)
class Report:
    """Every metric of a generator beside its real-data reference."""

    metrics: dict[str, float]
    references: dict[str, float]
    # class name -> {metric: (generated, real)} for accuracy, precision and recall (see
    # PER_CLASS); None where no digit of it was read (a class absent from the real reference
    # is not asked of the generator).
    per_class: dict[str, dict[str, tuple[float | None, float | None]]]
    memorisation: memorisation.Memorisation | None = None
    # The generated digits most at risk of being copies and their nearest training digits,
    # as two aligned arrays of images in [-1, 1] (for the picture beside the JSON, :func:`nearest_path`).
    at_risk: tuple[np.ndarray, np.ndarray] | None = None
    # FID, precision and recall of each disjoint set of generated digits the size of the real
    # reference ('size': that size); the metrics above are their means.
    per_set: dict[str, Any] = field(default_factory=dict)
    # CAS of each classifier trained ('generated' and 'real', one per seed); CAS is their mean.
    cas_readings: dict[str, list[float]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = {
            "metrics": self.metrics,
            "real_references": self.references,
            **{
                f"per_class_{metric}": {
                    name: dict(zip(("generated", "real"), values[metric]))
                    for name, values in self.per_class.items()
                }
                for metric in PER_CLASS
            },
        }
        if self.per_set:
            out["per_set"] = self.per_set
        if self.cas_readings:
            out["cas_readings"] = self.cas_readings
        if self.memorisation is not None:
            out["memorisation"] = self.memorisation.to_json()
        return out


# The per-class readings, in the order of the per-class table.
PER_CLASS = ("accuracy", "precision", "recall")


@dataclass(frozen=True)
class _Yardstick:
    """The real test digits' features, labels and moments, computed once."""

    features: np.ndarray
    labels: np.ndarray
    moments: Moments


def _distances(
    features: np.ndarray, labels: np.ndarray, test: _Yardstick, classes: int
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """FID and precision/recall against the test digits (both depend on the sample size, so
    generated and real digits are compared at the same one), and precision and recall per
    class: precision of the digits asked for each, recall of each class's test digits."""
    precise, covered = manifold_membership(test.features, features)
    scores = {
        "fid": frechet_distance(moments(features), test.moments),
        "precision": float(precise.mean()),
        "recall": float(covered.mean()),
    }
    per_class = {
        "precision": per_class_mean(precise, labels, classes),
        "recall": per_class_mean(covered, test.labels, classes),
    }
    return scores, per_class


def _distances_per_set(
    features: np.ndarray, labels: np.ndarray, size: int, test: _Yardstick, classes: int
) -> tuple[dict[str, float], dict[str, Any], dict[str, np.ndarray]]:
    """FID and precision/recall averaged over the disjoint sets of ``size`` generated digits
    that ``features`` holds, each set's own, and the per-class readings averaged the same
    way: every set is the size of the real reference, so the estimators' bias stays that of
    the floor while the noise of one draw averages out."""
    readings = [
        _distances(features[i : i + size], labels[i : i + size], test, classes)
        for i in range(0, len(features) - size + 1, size)
    ]
    scores, per_classes = zip(*readings)
    per_set: dict[str, Any] = {"size": size}
    per_set.update({name: [r[name] for r in scores] for name in scores[0]})
    # Every set asks for the same classes, so a class unread in one is unread in all (NaN).
    per_class = {name: np.mean([r[name] for r in per_classes], axis=0) for name in per_classes[0]}
    return {name: float(np.mean(per_set[name])) for name in scores[0]}, per_set, per_class


def _reading(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Accuracy on ``labels`` and the classifier score: means over digits, so every digit
    drawn sharpens them."""
    return {"accuracy": accuracy(logits, labels), "classifier_score": classifier_score(logits)}


def _per_class(
    class_names: list[str], generated: dict[str, np.ndarray], real: dict[str, np.ndarray]
) -> dict[str, dict[str, tuple[float | None, float | None]]]:
    """Class name -> {metric: (generated, real)} from per-class arrays of each side; None for
    a class with no image (NaN would make the JSON invalid)."""

    def value(x: float) -> float | None:
        return None if np.isnan(x) else float(x)

    return {
        name: {m: (value(generated[m][c]), value(real[m][c])) for m in PER_CLASS}
        for c, name in enumerate(class_names)
    }


@dataclass(frozen=True)
class CasOptions:
    """How CAS is read: ``readings`` classifiers of ``epochs`` epochs each (one classifier's
    CAS moves with its seed by about as much as a point), seeds ``seed * readings`` and up,
    so that runs scored with neighbouring seeds share no classifier seed."""

    epochs: int
    seed: int
    num_classes: int
    readings: int


def _cas_readings(
    train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray], options: CasOptions
) -> list[float]:
    """CAS of each of the ``options.readings`` classifiers trained on ``train``."""
    return [
        classification_accuracy_score(
            *train,
            *test,
            epochs=options.epochs,
            seed=options.seed * options.readings + i,
            num_classes=options.num_classes,
        )
        for i in range(options.readings)
    ]


def _other_readers(
    generated: tuple[np.ndarray, np.ndarray],
    real_train: tuple[np.ndarray, np.ndarray],
    real_test: tuple[np.ndarray, np.ndarray],
    cas_options: CasOptions | None,
    stage: Callable[[str], None] = lambda _: None,
) -> tuple[dict[str, float], dict[str, float], dict[str, list[float]]]:
    """Scores from readers other than the evaluating classifier, for the generated digits and
    for the real training digits given, and CAS's readings: CAS (unless ``cas_options`` is
    None), the mean of classifiers trained on as many generated digits as there are real
    ones, and the independent k-NN reader, fitted on the test digits, never on the training
    digits, which reads every generated digit."""
    metrics: dict[str, float] = {}
    references: dict[str, float] = {}
    readings: dict[str, list[float]] = {}
    if cas_options is not None:
        stage(STAGES["cas"])
        count = len(real_train[1])
        for side, (x, y) in (("generated", generated), ("real", real_train)):
            readings[side] = _cas_readings((x[:count], y[:count]), real_test, cas_options)
        metrics["cas"] = float(np.mean(readings["generated"]))
        references["cas"] = float(np.mean(readings["real"]))
    stage(STAGES["independent"])
    metrics["independent_accuracy"] = independent.knn_accuracy(*real_test, *generated)
    references["independent_accuracy"] = independent.knn_accuracy(*real_test, *real_train)
    return metrics, references, readings


# What :func:`evaluate_generator` does, in order, as its ``stage`` callback hears it.
STAGES = {
    "draw": "drawing the digits",
    "read": "reading them with the classifier",
    "distances": "FID, precision and recall",
    "cas": "CAS: classifiers trained on generated digits, as many on real",
    "independent": "the independent reader",
    "memorisation": "the memorisation check",
}


def stages(cas: bool, check_memorisation: bool) -> list[str]:
    """The :data:`STAGES` an evaluation with these options goes through, in order."""
    skipped = {"cas": not cas, "memorisation": not check_memorisation}
    return [name for key, name in STAGES.items() if not skipped.get(key, False)]


def evaluate_generator(
    sample_fn: SampleFn,
    classifier: keras.Model,
    real_train: tuple[np.ndarray, np.ndarray],
    real_test: tuple[np.ndarray, np.ndarray],
    *,
    num_samples: int,
    noise_dim: int,
    seed: int,
    class_names: list[str] = DIGITS,
    cas: bool = True,
    cas_epochs: int = 5,
    cas_readings: int = 3,
    check_memorisation: bool = True,
    stage: Callable[[str], None] = lambda _: None,
) -> Report:
    """The full judgement of a generator; images in [-1, 1], labels int.

    ``real_test`` is the yardstick; ``real_train`` gives the references a perfect
    generator would get (its first ``num_samples`` images: as many real ones, scored the
    same way), and the generator is asked for their classes (as many of each, repeated
    past them). Where the training split holds fewer, the scores that depend on the sample
    size take as many generated digits as real ones: FID and precision/recall the mean over
    every whole set of that many, CAS and memorisation the first set; accuracy, the
    classifier score and the independent reader read them all. CAS, real and generated, is
    the mean of ``cas_readings`` classifiers (seeds ``seed * cas_readings`` and up). The
    memorisation check searches all of ``real_train`` for each image's nearest training
    image, so pass the whole training split. ``stage`` hears each of :data:`STAGES` as it
    begins (the command's progress bar).
    """
    (train_x, train_y), (test_x, test_y) = real_train, real_test
    if num_samples < limits.MIN_EVAL_SAMPLES:
        raise ValueError(
            f"num_samples must be >= {limits.MIN_EVAL_SAMPLES} for covariances and k-NN, got {num_samples}"
        )
    k, count = len(class_names), min(num_samples, len(train_x))
    reader = ClassifierReader.of(classifier)
    fake_labels = GeneratorScorer.labels_like(train_y[:count], num_samples, k)
    stage(STAGES["draw"])
    generated = GeneratorScorer.draw(sample_fn, fake_labels, noise_dim, seed, reader.batch_size)
    stage(STAGES["read"])
    test_f, test_logits = reader.features_and_logits(test_x)
    all_train_f = reader.features_and_logits(train_x if check_memorisation else train_x[:count])[0]
    fake_f, fake_logits = reader.features_and_logits(generated)
    stage(STAGES["distances"])
    test = _Yardstick(test_f, np.asarray(test_y), moments(test_f))  # the yardstick, computed once
    distances, per_set, fake_per_class = _distances_per_set(fake_f, fake_labels, count, test, k)
    metrics = {**distances, **_reading(fake_logits, fake_labels)}
    real_distances, real_per_class = _distances(all_train_f[:count], np.asarray(train_y[:count]), test, k)
    references = {**real_distances, **_reading(test_logits, test_y)}
    options = CasOptions(epochs=cas_epochs, seed=seed, num_classes=k, readings=cas_readings)
    others, other_references, readings = _other_readers(
        (generated, fake_labels),
        (train_x[:count], train_y[:count]),
        real_test,
        options if cas else None,
        stage,
    )
    metrics.update(others)
    references.update(other_references)
    # Accuracy per class is the classifier's on the real test digits; precision and recall
    # the real training digits' against them, as for the whole.
    per_class = _per_class(
        class_names,
        {"accuracy": per_class_accuracy(fake_logits, fake_labels, k), **fake_per_class},
        {"accuracy": per_class_accuracy(test_logits, test_y, k), **real_per_class},
    )
    if not check_memorisation:
        return Report(metrics, references, per_class, per_set=per_set, cas_readings=readings)
    stage(STAGES["memorisation"])
    copying = memorisation.check(
        {"pixels": (train_x, test_x, generated[:count]), "features": (all_train_f, test_f, fake_f[:count])},
        copies=count,
        seed=seed,
        train_labels=np.asarray(train_y),
    )
    at_risk = (generated[copying.at_risk], train_x[copying.nearest_train])
    return Report(metrics, references, per_class, copying, at_risk, per_set=per_set, cas_readings=readings)


REFERENCE_NOTES = {
    "fid": "train vs test images (the floor)",
    "accuracy": "classifier on real test images",
    "classifier_score": "real test images",
    "precision": "real train vs test images",
    "recall": "real train vs test images",
    "cas": "same classifier trained on real images",
    "independent_accuracy": f"real train images; {independent.K}-NN in pixels fitted on the test images: "
    "a reader the GAN never trained against",
}
NAME_WIDTH = 22  # the longest metric name, independent_accuracy, and two spaces


def format_report(report: Report) -> str:
    """A table a person reads: metric, value, real-data reference; then accuracy per class."""
    w = NAME_WIDTH
    lines = [f"{'metric':<{w}}{'generated':>12}{'real data':>12}  reference", "-" * (w + 54)]
    for name, value in report.metrics.items():
        ref = report.references.get(name, float("nan"))
        lines.append(f"{name:<{w}}{value:>12.4f}{ref:>12.4f}  {REFERENCE_NOTES.get(name, '')}")
    lines += format_sets(report.per_set) + format_cas(report.cas_readings)
    lines += format_per_class(report.per_class)
    if report.memorisation is not None:
        lines += ["", *format_memorisation(report.memorisation)]
    return "\n".join(lines)


def format_per_class(per_class: dict[str, dict[str, tuple[float | None, float | None]]]) -> list[str]:
    """The per-class table under a blank line: accuracy, precision and recall, each generated
    beside real, and what its cells mean (nothing for a report without classes)."""
    if not per_class:
        return []
    w = NAME_WIDTH
    lines = [
        "",
        f"{'class':<{w}}" + "".join(f"{m:>11}{'real':>8}" for m in PER_CLASS),
        "-" * (w + 19 * len(PER_CLASS)),
    ]

    def cell(value: float | None, width: int, metric: str) -> str:
        form = ".2%" if metric == "accuracy" else ".3f"
        return f"{'—':>{width}}" if value is None else f"{value:>{width}{form}}"

    for name, values in per_class.items():
        cells = "".join(cell(values[m][0], 11, m) + cell(values[m][1], 8, m) for m in PER_CLASS)
        lines.append(f"{name[: w - 1]:<{w}}{cells}")
    lines += [
        "(accuracy on the asked-for class; precision of the digits asked for it, recall of its real test",
        "digits, each against the other side's digits of every class, so that the rows, weighted by the",
        "classes' counts, average to the whole; real: the classifier on the test digits, the training",
        "digits against them)",
    ]
    if any(None in pair for values in per_class.values() for pair in values.values()):
        lines.append(
            "(—: no digit of that class read; the generator is asked for the classes of the real "
            "reference digits, as many of each: score more digits to see every class)"
        )
    return lines


def format_sets(per_set: dict[str, Any]) -> list[str]:
    """One line under the table when FID and precision/recall are means over several sets."""
    if len(per_set.get("fid", [])) < 2:
        return []
    fids = ", ".join(f"{v:.3f}" for v in per_set["fid"])
    return [
        f"(fid, precision, recall: the mean over {len(per_set['fid'])} disjoint sets of "
        f"{per_set['size']:,} generated digits, the real reference's size; FID per set {fids})"
    ]


def format_cas(readings: dict[str, list[float]]) -> list[str]:
    """One line under the table when CAS is the mean of several classifiers' readings."""
    if len(readings.get("generated", [])) < 2:
        return []
    each = {side: ", ".join(f"{v:.3f}" for v in values) for side, values in readings.items()}
    return [
        f"(cas: the mean of {len(readings['generated'])} classifiers a side, each its own seed; "
        f"generated {each['generated']}; real {each['real']})"
    ]


def format_memorisation(check: memorisation.Memorisation) -> list[str]:
    """The memorisation section: C_T and the share per space for the generator and its references."""
    spaces = list(check.scores["generated"])
    lines = [
        f"memorisation: C_T (Meehan et al. 2020; below {memorisation.FLAG_BELOW:g}: closer to the "
        "training digits than unseen digits are) and",
        f"the share closer to a training digit than the closest {memorisation.CLOSEST_SHARE:.0%} "
        "of held-out test digits are",
        f"{'':<22}"
        + "".join(f"{'C_T ' + s:>14}" for s in spaces)
        + "".join(f"{'share ' + s:>16}" for s in spaces)
        + "  flagged",
    ]
    labels = {
        "generated": "generated",
        "training_digits": "training digits",
        "held_out_test_digits": "test digits",
    }
    for row, scores in check.scores.items():
        c_t = "".join(f"{scores[s].c_t:>14.2f}" for s in spaces)
        share = "".join(f"{scores[s].share:>16.1%}" for s in spaces)
        lines.append(f"{labels[row]:<22}{c_t}{share}  {'YES' if check.flagged(row) else 'no'}")
    return lines


def nearest_path(output: Path) -> Path:
    """Where the picture of the digits most at risk goes: beside the JSON, named after it
    (m.json: m-nearest.png), so two evaluations written into one folder keep their own."""
    return output.with_name(f"{output.stem}-nearest.png")


# Far more than any metrics JSON holds (tens of kB).
METRICS_MAX_BYTES = 16 * 2**20


def check_outputs(output: str, overwrite: bool = False) -> Path | None:
    """Refuse an unusable JSON path, or the metrics of an earlier evaluation without
    ``overwrite``, before any work; return where the picture goes beside it.

    None when no JSON is written ('' ): the picture then has no folder to go to.
    """
    if not output:
        return None
    path = Path(output)
    nearest = nearest_path(path)
    for p in (path, nearest):
        if p.is_dir():
            raise ConfigError(f"{p} is a folder; --output names the JSON file, {nearest.name} goes beside it")
    for p, ours, kind in ((path, _is_metrics, "an evaluation's metrics"), (nearest, _is_png, "a picture")):
        if p.exists() and not ours(p):  # --overwrite replaces an evaluation, never another file
            raise ConfigError(
                f"{p} exists and is not {kind}; --overwrite replaces only an earlier evaluation: "
                "pass another --output"
            )
    if not overwrite:
        earlier = [p for p in (path, nearest) if p.exists()]
        if earlier:
            also = f" (and {earlier[1].name} beside it)" if len(earlier) > 1 else ""
            raise ConfigError(
                f"{earlier[0]} holds an earlier evaluation; pass --overwrite to replace it{also}, "
                "or another --output"
            )
    files.check_writable_target(path, "--output")
    return nearest


def _is_metrics(path: Path) -> bool:
    """Whether ``path`` holds a metrics JSON as :func:`mnist_gan.eval.run.write_outputs` writes."""
    try:
        if path.stat().st_size > METRICS_MAX_BYTES:  # a dataset or checkpoint: not read whole
            return False
        written = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(written, dict) and {"checkpoint", "config", "metrics"} <= written.keys()


def _is_png(path: Path) -> bool:
    """Whether ``path`` is a PNG file (the picture beside the metrics)."""
    try:
        with path.open("rb") as f:
            return f.read(8) == b"\x89PNG\r\n\x1a\n"
    except OSError:
        return False


def write_nearest(report: Report, path: Path, per_row: int = 4) -> Path | None:
    """The picture of :func:`nearest_path`: the generated digits most at risk (closest first,
    row by row), each beside its nearest training digit; None without a memorisation check."""
    if report.at_risk is None:
        return None
    generated, train = (pipeline.from_model_range(x) for x in report.at_risk)
    # Named on the picture itself: it is often opened far from the README that explains it.
    picture = pictures.caption(
        pictures.pairs(generated, train, per_row), "generated | nearest training digit"
    )
    return pictures.save_png(path, picture)
