"""An ``evaluate.py`` run, top to bottom: the GAN, its data and classifier (by default those
its record names), every output checked before the work, the judgement of
:mod:`mnist_gan.eval.report` with a progress line, then the report, the JSON and the picture."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from mnist_gan import generation
from mnist_gan.configs import DEFAULT_DATA_DIR, ClassifierConfig, EvaluateConfig, GanConfig
from mnist_gan.data import pipeline, sources
from mnist_gan.eval import features, report
from mnist_gan.runtime import checkpoints, files, flags, limits, progress, record
from mnist_gan.runtime.config import defaults
from mnist_gan.runtime.errors import DataError

# The sample size of the default when the test split is larger (full MNIST: its 10,000).
MAX_DEFAULT_SAMPLES = 10_000


def from_run(cfg: EvaluateConfig, saved: dict[str, Any] | None) -> tuple[EvaluateConfig, list[str]]:
    """``cfg`` with the data and classifier left empty filled from the GAN's saved config;
    returns it and the notes to print about what was taken from the run."""
    run = saved or {}
    fallback = defaults(GanConfig)
    source = Path(cfg.checkpoint_dir) / GanConfig.SAVED_AS
    trained: list[str] = []  # the notes of folders the GAN was trained with
    named: list[str] = []  # ... and of a classifier its config only names
    gone: list[str] = []
    changes = {}
    # Its last run trained with --no-eval: that run read no classifier (earlier runs may have;
    # the record does not say), so the one its config names is not called "trained with".
    unscored = run.get("eval") is False
    whats = {
        "data_dir": "data the GAN was trained with",
        "classifier_dir": "classifier its last run (--no-eval) did not read"
        if unscored
        else "classifier the GAN was trained with",
    }
    for key, default in (("data_dir", DEFAULT_DATA_DIR), ("classifier_dir", fallback.classifier_dir)):
        if not getattr(cfg, key):
            unread = unscored and key == "classifier_dir"
            what = whats[key]
            try:
                changes[key] = (
                    record.named_folder(type(cfg), key, run[key], source, what) if run.get(key) else default
                )
                (named if unread else trained).append(flags.setting(key, changes[key]))
            except DataError as e:
                gone.append(str(e))  # both folders named at once: one round trip, not two
    if gone:
        raise DataError("; ".join(gone))
    notes = [f"as the GAN was trained: {', '.join(trained)} (from {source})"] if trained else []
    if named:
        notes.append(f"as the GAN's config names (its last run trained with --no-eval): {named[0]}")
    return cfg.replace(**changes), notes


def _classifier_instead(asked: str, saved: dict[str, Any] | None, source: Path, classes: list[str]) -> str:
    """The classifier to suggest when the one ``asked`` for knows other classes: the one the
    GAN's record names, if it can be found and knows ``classes``; '' otherwise."""
    named = (saved or {}).get("classifier_dir")
    found = record.locate(str(named), source) if asked and named else None
    if found is None or Path(found).resolve() == Path(asked).resolve():
        return ""
    theirs = record.read(found, ClassifierConfig.SAVED_AS)
    return found if theirs is not None and record.classes(theirs[1], classes) == classes else ""


def sample_size(asked: int, test_size: int, train_size: int) -> tuple[int, list[str]]:
    """The number of digits to score (0: the test split's size, capped) and notes saying so."""
    samples = asked or min(test_size, MAX_DEFAULT_SAMPLES)
    if samples < limits.MIN_EVAL_SAMPLES:  # only the default can be: a number asked is checked
        raise DataError(
            f"the test split holds {test_size} images, fewer than the {limits.MIN_EVAL_SAMPLES} generated "
            f"digits a score needs (FID's covariances, precision and recall's neighbours); pass "
            f"--eval-samples {limits.MIN_EVAL_SAMPLES} or more"
        )
    notes = []
    if not asked:
        notes.append(
            f"scoring {samples:,} generated digits, the size of the test split (at most "
            f"{MAX_DEFAULT_SAMPLES:,}); FID falls with the sample size, so compare scores "
            "at the same --eval-samples"
        )
    if samples > train_size:
        sets = samples // train_size
        which = f"the mean over {sets:,} disjoint sets" if sets > 1 else "the first set"
        notes.append(
            f"the training split holds {train_size:,} digits: FID and precision/recall are {which} "
            f"of {train_size:,} generated digits, each beside as many real ones; CAS and the "
            f"memorisation check take the first set; accuracy, the classifier score and the "
            f"independent reader read all {samples:,}"
        )
    return samples, notes


def metrics_path(cfg: EvaluateConfig, checkpoint: str) -> Path | None:
    """Where the JSON goes: --output, CHECKPOINT_DIR/eval/metrics-<step>.json, or nowhere ('-')."""
    if cfg.output == "-":
        return None
    step = checkpoints.step_of(checkpoint)
    return Path(cfg.output or Path(cfg.checkpoint_dir) / "eval" / f"metrics-{step}.json")


def write_outputs(
    judged: report.Report, payload: dict[str, Any], output: Path | None, nearest: Path | None
) -> None:
    """The JSON and the picture beside it, each announced. Both or neither: a JSON left
    without its picture (a full disk) would make the same command again refuse to replace
    an evaluation that never finished."""
    # The picture first (atomically): refused, it leaves an earlier pair as it was.
    try:
        drawn = report.write_nearest(judged, nearest) if nearest is not None else None
    except OSError as e:
        raise DataError(
            f"{nearest}: cannot write the picture ({e.strerror or e}); the metrics are not "
            "written either; free some space (or fix the permissions) and run the same command again"
        ) from e
    if output is not None:
        try:
            files.atomic_write_text(output, json.dumps({**payload, **judged.to_json()}, indent=2) + "\n")
        except OSError:
            if drawn is not None:
                drawn.unlink(missing_ok=True)  # a picture without its metrics would block a rerun
            raise
    if output is not None:
        print(f"metrics: {output}")
    if nearest is None:
        print("the digits most at risk: not drawn (--output -: no folder for the picture)")
    elif drawn:
        print(f"generated digits most at risk beside their nearest training digits: {nearest}")
    elif nearest.exists():  # replaced with --overwrite: an earlier picture must not pass for this one
        nearest.unlink()


class Stages:
    """A progress line on stderr naming the stage of the evaluation under way: minutes of CAS
    training or neighbour search are otherwise minutes of silence. A context manager, so
    that an interrupt or a traceback starts on a line of its own."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.start = total, 0, time.monotonic()
        self.bar = progress.status("evaluate")

    def __call__(self, name: str) -> None:
        self.done += 1
        self.bar.set_description_str(f"evaluate, stage {self.done}/{self.total}: {name}")

    def __enter__(self) -> Stages:
        return self

    def __exit__(self, *error: object) -> None:
        if error[0] is None:
            self.bar.set_description_str(f"evaluate: done in {time.monotonic() - self.start:.0f} s")
        self.bar.close()


def evaluate(cfg: EvaluateConfig) -> None:
    """Everything ``evaluate.py`` does, every output path checked before the work: the notes,
    the progress line, the report on stdout, the JSON and its picture."""
    saved = checkpoints.saved_config(cfg.checkpoint_dir, GanConfig.SAVED_AS)
    asked = cfg.classifier_dir  # before the run's fills it in
    cfg, notes = from_run(cfg, saved)
    chosen = cfg.output not in ("", "-")
    if chosen:  # a path the user chose: checked before anything else
        nearest = report.check_outputs(cfg.output, cfg.overwrite)
    # The GAN next: without one, "no trained GAN here" is the error worth reading.
    generator, gan_cfg, path, _, run = generation.load_generator(cfg.checkpoint_dir, cfg.step)
    output = metrics_path(cfg, path)
    if not chosen:  # the default path names the checkpoint's step, known only now
        nearest = report.check_outputs(str(output), cfg.overwrite) if output is not None else None
    # The GAN's own split and class names of its data, and a classifier of the same classes.
    # Names given for IDX files (an image folder's classes are its folders, and are checked below).
    named = gan_cfg.class_names if "class_names" in sources.keys_that_apply(Path(cfg.data_dir)) else ""
    data = sources.load(cfg.data_dir, gan_cfg.test_fraction, named)
    class_names = record.classes(run, data.class_names)
    sources.check_classes(class_names, data.class_names, f"the GAN in {cfg.checkpoint_dir}")
    train, test = data.splits
    source = Path(cfg.checkpoint_dir) / GanConfig.SAVED_AS
    instead = _classifier_instead(asked, saved, source, class_names)
    advice = features.train_one(cfg.data_dir, named, gan_cfg.test_fraction)
    classifier = features.load_classifier(cfg.classifier_dir, class_names, instead=instead, train=advice)
    fingerprint = record.data_fingerprint(train.images, train.labels)
    gan_note = features.other_images_note(
        f"the GAN in {cfg.checkpoint_dir}", run.get("data_fingerprint"), fingerprint,
        "its copying check compares with these",
    )  # fmt: skip
    notes += [n for n in (features.other_data_note(cfg.classifier_dir, fingerprint), gan_note) if n]
    samples, more = sample_size(cfg.eval_samples, len(test), len(train))
    for note in notes + more:
        print(f"note: {note}")
    print(f"scoring {path} with {samples} generated digits...")
    with Stages(total=len(report.stages(cfg.cas, check_memorisation=True))) as stages:
        judged = report.evaluate_generator(
            lambda z, y: generator([z, y], training=False),
            classifier,
            # All train digits: the memorisation check searches them all for each digit's
            # nearest; the other references use as many as samples are scored.
            (pipeline.to_model_range(train.images).numpy(), train.labels),
            (pipeline.to_model_range(test.images).numpy(), test.labels),
            num_samples=samples,
            noise_dim=gan_cfg.noise_dim,
            seed=cfg.seed,
            class_names=class_names,
            cas=cfg.cas,
            cas_epochs=cfg.cas_epochs,
            cas_readings=cfg.cas_readings,
            check_memorisation=True,
            stage=stages,
        )
    print(report.format_report(judged))
    payload = {"checkpoint": path, "config": cfg.replace(eval_samples=samples).to_dict()}
    write_outputs(judged, payload, output, nearest)
