"""The metric functions against known answers, and evaluate.py end to end."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import run_script, synthetic_digits, write_dataset

from mnist_gan import configs
from mnist_gan.data import pipeline, sources
from mnist_gan.eval import cas, features, generator_scorer, metrics, report
from mnist_gan.eval.metrics import (
    RunningMoments,
    classifier_score,
    frechet_distance,
    moments,
    precision_recall,
)
from mnist_gan.models import networks
from mnist_gan.runtime import checkpoints, config


def _gaussian(mean: np.ndarray, cov: np.ndarray, n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).multivariate_normal(mean, cov, size=n)


def test_fid_of_a_set_against_itself_is_zero() -> None:
    x = np.random.default_rng(0).standard_normal((500, 8))
    assert abs(frechet_distance(moments(x), moments(x))) < 1e-8


def test_fid_matches_closed_form_and_is_symmetric() -> None:
    # Two Gaussians with commuting (diagonal) covariances: FID = |dm|^2 + sum (sqrt a - sqrt b)^2.
    ma, mb = np.zeros(4), np.array([1.0, -2.0, 0.5, 0.0])
    va, vb = np.array([1.0, 2.0, 0.5, 4.0]), np.array([3.0, 1.0, 0.5, 1.0])
    a = metrics.Moments(ma, np.diag(va), 1000)
    b = metrics.Moments(mb, np.diag(vb), 1000)
    expected = np.sum((ma - mb) ** 2) + np.sum((np.sqrt(va) - np.sqrt(vb)) ** 2)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-10)
    # Full, non-commuting covariances: symmetric, and samples approach the exact value.
    rng = np.random.default_rng(1)
    ca, cb = (
        (lambda m: m @ m.T)(rng.standard_normal((5, 5))),
        (lambda m: m @ m.T)(rng.standard_normal((5, 5))),
    )
    exact_a, exact_b = metrics.Moments(np.zeros(5), ca, 0), metrics.Moments(np.ones(5), cb, 0)
    assert frechet_distance(exact_a, exact_b) == pytest.approx(frechet_distance(exact_b, exact_a), rel=1e-9)
    sampled = frechet_distance(
        moments(_gaussian(np.zeros(5), ca, 200_000, 2)), moments(_gaussian(np.ones(5), cb, 200_000, 3))
    )
    assert sampled == pytest.approx(frechet_distance(exact_a, exact_b), rel=0.02)


def test_running_moments_match_numpy_in_float64() -> None:
    x = np.random.default_rng(4).standard_normal((1001, 6)).astype(np.float32) * 3 + 5
    got = RunningMoments().update(x[:300]).update(x[300:]).result()
    np.testing.assert_allclose(got.mean, x.astype(np.float64).mean(0), rtol=1e-12)
    np.testing.assert_allclose(got.cov, np.cov(x.astype(np.float64), rowvar=False), rtol=1e-9)


def test_too_few_samples_for_a_covariance() -> None:
    with pytest.raises(ValueError, match="need at least 2 feature vectors"):
        moments(np.zeros((1, 4)))


def test_classifier_score_bounds() -> None:
    constant = np.tile(np.array([[10.0] + [0.0] * 9]), (100, 1))
    assert classifier_score(constant) == pytest.approx(1.0, abs=1e-6)
    confident_uniform = np.eye(10)[np.arange(100) % 10] * 50.0
    assert classifier_score(confident_uniform) == pytest.approx(10.0, rel=1e-6)


def test_precision_recall_identical_and_dropped_class() -> None:
    rng = np.random.default_rng(5)
    centres = rng.standard_normal((10, 16)) * 10
    labels = np.arange(2000) % 10
    real = centres[labels] + rng.standard_normal((2000, 16))
    assert precision_recall(real, real) == (1.0, 1.0)
    fake = centres[labels] + rng.standard_normal((2000, 16))
    keep = labels != 3  # a generator that never draws a 3
    p_all, r_all = precision_recall(real, fake)
    p_drop, r_drop = precision_recall(real, fake[keep])
    assert r_drop < r_all - 0.05  # the dropped mode shows in recall
    assert p_drop >= p_all - 0.02  # not in precision


def test_precision_recall_per_class_name_the_dropped_class() -> None:
    rng = np.random.default_rng(5)
    centres = rng.standard_normal((10, 16)) * 10
    # Classes of unequal counts (real and generated apart), so only means weighted by them
    # average to the whole.
    labels = rng.choice(10, 2000, p=np.arange(1, 11) / 55)
    real = centres[labels] + rng.standard_normal((2000, 16))
    drawn = rng.choice(10, 2000, p=np.arange(10, 0, -1) / 55)
    keep = drawn != 3  # a generator that never draws a 3
    fake, fake_labels = (centres[drawn] + rng.standard_normal((2000, 16)))[keep], drawn[keep]
    fake_inside, real_inside = metrics.manifold_membership(real, fake)
    recall = metrics.per_class_mean(real_inside, labels, 10)
    precision = metrics.per_class_mean(fake_inside, fake_labels, 10)
    assert recall[3] == 0.0 and np.delete(recall, 3).min() > 0.5  # the lost class, and only it
    assert np.isnan(precision[3]) and np.delete(precision, 3).min() > 0.5  # none asked for
    # Weighted by the classes' counts, the rows average to the whole (unweighted, they do not).
    assert np.average(recall, weights=np.bincount(labels)) == pytest.approx(real_inside.mean())
    assert np.mean(recall) != pytest.approx(real_inside.mean(), abs=1e-3)
    counts = np.bincount(fake_labels, minlength=10)
    assert np.nansum(precision * counts) / counts.sum() == pytest.approx(fake_inside.mean())
    assert precision_recall(real, fake) == (fake_inside.mean(), real_inside.mean())


def _real(sample_dir: Path) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    train, test = sources.load(sample_dir).splits
    return (
        (pipeline.to_model_range(train.images).numpy(), train.labels),
        (pipeline.to_model_range(test.images).numpy(), test.labels),
    )


def test_a_generator_of_the_reference_digits_scores_the_references(
    sample_dir: Path, trained_classifier: Path
) -> None:
    classifier = features.load_classifier(trained_classifier)
    (train_x, train_y), test = _real(sample_dir)
    reference_x, reference_y = train_x[:1000], train_y[:1000]
    assert len(set(np.bincount(reference_y))) > 1  # the first 1,000 are not 100 of each class
    # A "generator" that returns the real reference digits of the asked-for class, in turn.
    by_class = {d: reference_x[reference_y == d] for d in range(10)}
    counters = dict.fromkeys(range(10), 0)

    def real_digits(noise: np.ndarray, labels: np.ndarray) -> np.ndarray:
        out = []
        for y in labels:
            out.append(by_class[int(y)][counters[int(y)]])
            counters[int(y)] += 1
        return np.stack(out)

    judged = report.evaluate_generator(
        real_digits, classifier, (train_x, train_y), test, num_samples=1000, noise_dim=4, seed=0, cas=False
    )
    # Asked for the reference's classes, it drew every reference digit once: every score that
    # compares sets is the floor's (to the rounding of features computed in other batches),
    # and accuracy is the classifier's on them.
    assert counters == {d: int(n) for d, n in enumerate(np.bincount(reference_y))}
    for name in ("fid", "precision", "recall"):
        assert judged.metrics[name] == pytest.approx(judged.references[name], rel=1e-5), name
    _, logits = features.ClassifierReader.of(classifier).features_and_logits(reference_x)
    assert judged.metrics["accuracy"] == pytest.approx(metrics.accuracy(logits, reference_y), abs=1e-9)
    per_class = metrics.per_class_accuracy(logits, reference_y)
    for c, values in enumerate(judged.per_class.values()):
        assert values["accuracy"][0] == pytest.approx(per_class[c]), c
        # Precision and recall of each class are the real reference's too.
        for name in ("precision", "recall"):
            generated, real = values[name]
            assert generated == pytest.approx(real, abs=1e-9), (c, name)


@pytest.mark.parametrize(
    ("reference", "num_samples", "expected"),
    [
        ([2, 0, 1, 1, 0, 2], 6, [0, 1, 2, 0, 1, 2]),  # equal counts: every class in turn
        ([2, 2, 0, 2, 1], 5, [0, 1, 2, 2, 2]),  # the mix kept, each class in turn while it lasts
        ([2, 2, 0, 2, 1], 8, [0, 1, 2, 2, 2, 0, 1, 2]),  # repeated from the start past it
        ([3, 3, 1], 4, [1, 3, 3, 1]),  # a class absent from the reference is never asked for
    ],
)
def test_generated_digits_take_the_class_mix_of_the_real_reference(
    reference: list[int], num_samples: int, expected: list[int]
) -> None:
    labels = generator_scorer.GeneratorScorer.labels_like(np.array(reference), num_samples, 4)
    assert labels.tolist() == expected and labels.dtype == np.int32


def test_in_training_scores_ask_for_the_floors_classes() -> None:
    extractor = networks.feature_extractor(networks.build_classifier(4, 8, 0.0))
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (60, 28, 28, 1)).astype(np.float32)
    train_labels = np.array([0] * 5 + [1] * 15 + [2] * 10)
    scorer = generator_scorer.GeneratorScorer(
        features.ClassifierReader(extractor),
        real[:30],
        (real[30:], train_labels),
        num_samples=20,
        noise_dim=4,
        seed=0,
    )
    asked: list[np.ndarray] = []

    def sample(z: np.ndarray, y: np.ndarray) -> np.ndarray:
        asked.append(y)
        return np.zeros((len(z), 28, 28, 1), np.float32)

    scorer(sample)
    # The floor reads the first 20 train digits (5, 15 and 0 of the three classes): so many of each.
    assert np.bincount(np.concatenate(asked), minlength=3).tolist() == [5, 15, 0]


def test_scores_that_depend_on_the_sample_size_compare_equal_counts() -> None:
    classifier = networks.build_classifier(4, 8, 0.0)
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (70, 28, 28, 1)).astype(np.float32)
    labels = np.arange(70) % 10
    train, test = (real[:30], labels[:30]), (real[30:], labels[30:])

    def sample(z: np.ndarray, y: np.ndarray) -> np.ndarray:  # each digit a function of its noise
        return np.tanh(np.resize(z, (len(z), 28 * 28))).reshape(-1, 28, 28, 1).astype(np.float32)

    judged = report.evaluate_generator(
        sample,
        classifier,
        train,
        test,
        num_samples=100,
        noise_dim=4,
        seed=0,
        cas=False,
        check_memorisation=False,
    )
    scorer = features.ClassifierReader.of(classifier)
    fake_f, fake_logits = scorer.features_and_logits(
        generator_scorer.GeneratorScorer.draw(sample, np.arange(100) % 10, 4, 0, scorer.batch_size)
    )
    test_moments = metrics.moments(scorer.features_and_logits(test[0])[0])
    # 100 asked for, 30 real training digits: FID and precision/recall from each of the three
    # whole sets of 30 generated digits, as the floor is from 30 real ones, then averaged (the
    # last 10 are left out); accuracy from all 100.
    sets = [fake_f[i : i + 30] for i in (0, 30, 60)]
    fids = [metrics.frechet_distance(metrics.moments(f), test_moments) for f in sets]
    test_f = scorer.features_and_logits(test[0])[0]
    recalls = [metrics.precision_recall(test_f, f)[1] for f in sets]
    assert judged.per_set["size"] == 30
    assert judged.per_set["fid"] == pytest.approx(fids)
    assert judged.metrics["fid"] == pytest.approx(np.mean(fids))
    assert judged.metrics["recall"] == pytest.approx(np.mean(recalls))
    # Per class, the mean over the same sets: the rows, weighted by the classes' counts,
    # average to the whole (each set asks for 3 of each class; the test digits hold 4 of each).
    for name, counts in (("precision", np.full(10, 3)), ("recall", np.bincount(test[1]))):
        shares = np.array([judged.per_class[str(c)][name][0] for c in range(10)])
        assert np.average(shares, weights=counts) == pytest.approx(judged.metrics[name]), name
    zeros = [metrics.manifold_membership(test_f, f)[1][test[1] == 0].mean() for f in sets]
    assert judged.per_class["0"]["recall"][0] == pytest.approx(np.mean(zeros))
    assert len(set(np.round(fids, 6))) == 3  # three different draws, so the mean is not one of them
    assert judged.metrics["fid"] != pytest.approx(
        metrics.frechet_distance(metrics.moments(fake_f), test_moments)
    )
    assert judged.to_json()["per_set"]["fid"] == pytest.approx(fids)
    assert "the mean over 3 disjoint sets of 30 generated digits" in report.format_report(judged)
    asked = np.arange(100) % 10  # the 30 real training digits hold 3 of each class
    assert judged.metrics["accuracy"] == pytest.approx(metrics.accuracy(fake_logits, asked))


def test_cas_is_the_mean_of_classifiers_each_its_own_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    classifier = networks.build_classifier(4, 8, 0.0)
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (70, 28, 28, 1)).astype(np.float32)
    labels = np.arange(70) % 10
    trained: list[tuple[str, int, int]] = []

    def fake_cas(x: np.ndarray, y: np.ndarray, tx: np.ndarray, ty: np.ndarray, **options: int) -> float:
        side = "real" if np.array_equal(x, real[:30]) else "generated"
        trained.append((side, options["seed"], len(x)))
        return options["seed"] / 100 + (0.5 if side == "real" else 0.0)

    monkeypatch.setattr(report, "classification_accuracy_score", fake_cas)

    def sample(z: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.tanh(np.resize(z, (len(z), 28 * 28))).reshape(-1, 28, 28, 1).astype(np.float32)

    judged = report.evaluate_generator(
        sample, classifier, (real[:30], labels[:30]), (real[30:], labels[30:]), num_samples=60, noise_dim=4,
        seed=7, cas_readings=3, check_memorisation=False,
    )  # fmt: skip
    # Three classifiers a side, each on as many digits as the real reference, seeds 21, 22
    # and 23: seed 7's own three, which seed 6 (18-20) and seed 8 (24-26) do not share.
    assert sorted(trained) == [(side, s, 30) for side in ("generated", "real") for s in (21, 22, 23)]
    assert judged.cas_readings["generated"] == pytest.approx([0.21, 0.22, 0.23])
    assert judged.cas_readings["real"] == pytest.approx([0.71, 0.72, 0.73])
    assert judged.metrics["cas"] == pytest.approx(0.22)
    assert judged.references["cas"] == pytest.approx(0.72)
    assert judged.to_json()["cas_readings"]["real"] == pytest.approx([0.71, 0.72, 0.73])
    assert "the mean of 3 classifiers a side" in report.format_report(judged)
    trained.clear()
    one = report.evaluate_generator(
        sample, classifier, (real[:30], labels[:30]), (real[30:], labels[30:]), num_samples=30, noise_dim=4,
        seed=7, cas_readings=1, check_memorisation=False,
    )  # fmt: skip
    assert sorted(trained) == [("generated", 7, 30), ("real", 7, 30)]
    assert one.metrics["cas"] == pytest.approx(0.07) and "classifiers a side" not in report.format_report(one)


def test_a_class_absent_from_the_reference_is_reported_unread() -> None:
    classifier = networks.build_classifier(4, 8, 0.0)
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (70, 28, 28, 1)).astype(np.float32)
    labels = np.arange(70) % 10
    train_y = labels[:30].copy()
    train_y[train_y == 9] = 8  # no 9 among the reference digits: none is asked for

    def sample(z: np.ndarray, y: np.ndarray) -> np.ndarray:
        assert 9 not in y
        return np.tanh(np.resize(z, (len(z), 28 * 28))).reshape(-1, 28, 28, 1).astype(np.float32)

    judged = report.evaluate_generator(
        sample, classifier, (real[:30], train_y), (real[30:], labels[30:]), num_samples=30, noise_dim=4,
        seed=0, cas=False, check_memorisation=False,
    )  # fmt: skip
    generated, real_accuracy = judged.per_class["9"]["accuracy"]
    assert generated is None and real_accuracy is not None
    # None asked for, none among the reference: no precision either side; its test digits'
    # recall is still read, against the digits of the other classes.
    assert judged.per_class["9"]["precision"] == (None, None)
    assert judged.per_class["9"]["recall"][0] is not None
    json.dumps(judged.to_json(), allow_nan=False)  # null, not NaN: the JSON stays valid
    table = report.format_report(judged)
    assert "—" in table and "no digit of that class read" in table


def test_cas_on_real_digits_is_near_the_classifiers_accuracy(sample_dir: Path) -> None:
    (train_x, train_y), (test_x, test_y) = _real(sample_dir)
    score = cas.classification_accuracy_score(train_x, train_y, test_x, test_y, epochs=3)
    assert score > 0.93  # our evaluator reaches ~0.98 with longer training and augmentation


def test_classifier_of_other_classes_says_to_train_one(trained_classifier: Path) -> None:
    with pytest.raises(sources.DataError, match=r"has the classes .* train a classifier on this data"):
        features.load_classifier(trained_classifier, ["cat", "dog"])
    # train.py can also do without one: it says so beside the other way out.
    with pytest.raises(sources.DataError, match=r"--classifier-dir, or train without it$"):
        features.load_classifier(trained_classifier, ["cat", "dog"], without="train without it")


def test_the_classifier_command_suggested_carries_the_names_and_split_given(
    trained_classifier: Path, tmp_path: Path
) -> None:
    # It said "./classifier.py --data-dir ...", and a classifier trained so on data given
    # --class-names had the folder's own names and was refused again.
    write_dataset(tmp_path / "my idx", *synthetic_digits(20), *synthetic_digits(10))
    advice = features.train_one(str(tmp_path / "my idx"), "cat, big dog", 0.3)
    expected = f"(./classifier.py --data-dir '{tmp_path}/my idx' --class-names 'cat, big dog' --save-dir ...)"
    assert expected in advice  # IDX files hold their own split: no --test-fraction
    # An image folder: its split is ours to make, at full precision; its classes are its folders.
    (tmp_path / "images" / "cat").mkdir(parents=True)
    folder = features.train_one(str(tmp_path / "images"), "cat, big dog", 0.1234567)
    assert (
        f"(./classifier.py --data-dir {tmp_path}/images --test-fraction 0.1234567 --save-dir ...)" in folder
    )
    assert "--test-fraction" not in features.train_one(str(tmp_path / "images"), "", 0.2)  # the default
    with pytest.raises(sources.DataError, match=re.escape(advice)):
        features.load_classifier(trained_classifier, ["cat", "big dog"], train=advice)


def test_the_gans_own_classifier_is_suggested_only_where_it_is_and_knows_its_classes(
    trained_classifier: Path, tmp_path: Path
) -> None:
    from mnist_gan.eval.run import _classifier_instead

    digits = [str(d) for d in range(10)]
    source = tmp_path / "project" / "ckpt" / "config-gan.yaml"
    named = {"classifier_dir": str(trained_classifier)}
    assert _classifier_instead("other", named, source, digits) == str(trained_classifier)
    assert _classifier_instead("other", named, source, ["cat", "dog"]) == ""  # it knows other classes
    assert _classifier_instead(str(trained_classifier), named, source, digits) == ""  # the one asked for
    assert _classifier_instead("", named, source, digits) == ""  # none asked for: the run's is used
    assert _classifier_instead("other", {"classifier_dir": str(tmp_path / "gone")}, source, digits) == ""
    # Named relative to the folder the GAN was trained from: found above its record.
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "cls").symlink_to(trained_classifier)
    found = _classifier_instead("other", {"classifier_dir": "cls"}, source, digits)
    assert found == str(tmp_path / "project" / "cls")


def test_classifier_of_other_feature_size_refused(trained_classifier: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "cls"
    shutil.copytree(trained_classifier, copy)
    saved = config.load(configs.ClassifierConfig, copy / "config-cls.yaml")
    config.save(saved.replace(feature_dim=64), copy / "config-cls.yaml")
    with pytest.raises(checkpoints.CheckpointError, match=r"cannot restore .*different model"):
        features.load_classifier(copy)


def test_evaluate_script_prints_and_writes_json(
    sample_dir: Path, trained_classifier: Path, tiny_real_gan: Path, tmp_path: Path
) -> None:
    out = tmp_path / "m.json"
    result = run_script(
        "evaluate.py",
        "--checkpoint-dir",
        str(tiny_real_gan),
        "--classifier-dir",
        str(trained_classifier),
        "--data-dir",
        str(sample_dir),
        "--num-samples",  # the old name of --eval-samples, still accepted
        "200",
        "--cas-epochs",
        "1",
        "--cas-readings",
        "2",
        "--output",
        str(out),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    payload = json.loads(out.read_text())
    names = {"fid", "accuracy", "classifier_score", "precision", "recall", "cas", "independent_accuracy"}
    assert set(payload["metrics"]) == names == set(payload["real_references"])
    # CAS the mean of two real classifiers a side, each trained for real.
    for side, scores in (("generated", payload["metrics"]), ("real", payload["real_references"])):
        assert len(payload["cas_readings"][side]) == 2
        assert scores["cas"] == pytest.approx(np.mean(payload["cas_readings"][side]))
    # The independent reader: real training digits are read mostly right; a 4-step GAN's
    # digits are not digits yet.
    generated, real = (
        payload["metrics"]["independent_accuracy"],
        payload["real_references"]["independent_accuracy"],
    )
    assert 0.0 <= generated < real and real > 0.8
    assert payload["config"]["eval_samples"] == 200
    for name in ("accuracy", "precision", "recall"):
        per_class = payload[f"per_class_{name}"]
        assert list(per_class) == [str(d) for d in range(10)], name
        assert all(set(v) == {"generated", "real"} for v in per_class.values())
    # The per-class table: a row per class, accuracy, precision and recall beside the real.
    header = next(line for line in result.stdout.splitlines() if line.startswith("class "))
    assert header.split() == ["class", "accuracy", "real", "precision", "real", "recall", "real"]
    row = next(line for line in result.stdout.splitlines() if line.startswith("7 "))
    recall_7 = payload["per_class_recall"]["7"]
    assert row.split()[-2:] == [f"{recall_7['generated']:.3f}", f"{recall_7['real']:.3f}"]
    for name in names:
        assert name in result.stdout
    assert "train vs test images (the floor)" in result.stdout
    assert "a reader the GAN never trained against" in result.stdout
    assert "note:" not in result.stdout  # everything was given
    # Its progress, stage by stage, on stderr: CAS is the slow one.
    assert "stage 4/6: CAS: classifiers trained on generated digits" in result.stderr
    assert "stage 6/6: the memorisation check" in result.stderr and "evaluate: done in" in result.stderr


def test_generated_fid_and_floor_use_the_same_sample_size() -> None:
    from mnist_gan.models import networks

    extractor = networks.feature_extractor(networks.build_classifier(4, 8, 0.0))
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (60, 28, 28, 1)).astype(np.float32)
    scorer = generator_scorer.GeneratorScorer(
        features.ClassifierReader(extractor),
        real[:30],
        (real[30:], np.arange(30) % 10),
        num_samples=100,
        noise_dim=4,
        seed=0,
    )
    # 100 asked for, 30 real train digits for the floor: 30 generated, so both carry one bias.
    assert scorer.num_samples == 30
    drawn: list[int] = []

    def sample(z: np.ndarray, y: np.ndarray) -> np.ndarray:
        drawn.append(len(z))
        return np.zeros((len(z), 28, 28, 1), np.float32)

    scores = scorer(sample)
    assert sum(drawn) == 30 and scores["fid_floor"] == scorer.floor


def test_evaluate_takes_data_and_classifier_from_the_run(
    tiny_real_gan: Path, sample_dir: Path, tmp_path: Path
) -> None:
    # A copy: the metrics go into the run's folder, which other tests share.
    tiny_real_gan = Path(shutil.copytree(tiny_real_gan, tmp_path / "gan"))
    result = run_script("evaluate.py", "--checkpoint-dir", str(tiny_real_gan), "--no-cas")
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"--data-dir {sample_dir}" in result.stdout
    assert "--classifier-dir" in result.stdout
    # The sample's test split holds 1,000 digits: the default sample size follows it.
    assert "scoring 1,000 generated digits, the size of the test split" in result.stdout
    metrics = tiny_real_gan / "eval" / "metrics-4.json"
    assert f"metrics: {metrics}" in result.stdout
    payload = json.loads(metrics.read_text())
    assert payload["config"]["eval_samples"] == 1000
    assert payload["config"]["data_dir"] == str(sample_dir)
    assert "cas" not in payload["metrics"]
    assert "stage 4/5: the independent reader" in result.stderr and "CAS" not in result.stderr
    # Asked again, it keeps the first evaluation: one error line, nothing scored or written.
    before = metrics.read_bytes()
    again = run_script("evaluate.py", "--checkpoint-dir", str(tiny_real_gan), "--eval-samples", "50")
    assert again.returncode == 2 and again.stdout == ""
    assert again.stderr.startswith(f"error: {metrics} holds an earlier evaluation; pass --overwrite")
    assert metrics.read_bytes() == before


def test_evaluate_error_found_after_reading_the_run_is_the_only_line(
    tiny_real_gan: Path, tmp_path: Path
) -> None:
    # The GAN and its data are read (and a note about them is due) before the classifier is
    # found missing: the error line is still all the command prints.
    result = run_script(
        "evaluate.py", "--checkpoint-dir", str(tiny_real_gan), "--classifier-dir", str(tmp_path)
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert "no trained classifier here" in result.stderr and "--no-eval" not in result.stderr


def test_evaluate_says_which_scores_read_fewer_digits_than_asked() -> None:
    from mnist_gan.eval.run import sample_size

    assert sample_size(2000, 1000, 4000) == (2000, [])
    samples, notes = sample_size(10_000, 1000, 4000)
    assert samples == 10_000 and len(notes) == 1
    assert "the mean over 2 disjoint sets of 4,000 generated digits" in notes[0]
    assert "read all 10,000" in notes[0]
    assert "are the first set of 4,000" in sample_size(6000, 1000, 4000)[1][0]
    assert sample_size(0, 1000, 4000)[0] == 1000  # the test split's size, with its note
    # A test split of fewer than 20 images (a small image folder's share) was a traceback
    # after the digits were drawn; it is one error line before any work.
    from mnist_gan.runtime.errors import DataError

    with pytest.raises(
        DataError, match=r"^the test split holds 8 images, .*; pass --eval-samples 20 or more$"
    ):
        sample_size(0, 8, 28)
    assert sample_size(20, 8, 28)[0] == 20


def test_data_and_classifier_taken_from_the_run_must_still_be_there(tmp_path: Path) -> None:
    from mnist_gan.eval.run import from_run
    from mnist_gan.runtime.errors import DataError

    cfg = config.defaults(configs.EvaluateConfig).replace(checkpoint_dir=str(tmp_path / "gan"))
    (tmp_path / "data").mkdir()
    (tmp_path / "cls").mkdir()
    saved = {"data_dir": str(tmp_path / "data"), "classifier_dir": str(tmp_path / "cls")}
    filled, notes = from_run(cfg, saved)
    assert (filled.data_dir, filled.classifier_dir) == (saved["data_dir"], saved["classifier_dir"])
    assert len(notes) == 1 and "config-gan.yaml" in notes[0]
    (tmp_path / "cls").rmdir()
    gone = r"the classifier the GAN was trained with \(named in .*\) is not there \(moved\)"
    with pytest.raises(DataError, match=gone + "; pass --classifier-dir"):
        from_run(cfg, saved)
    assert from_run(cfg.replace(classifier_dir="other"), saved)[0].classifier_dir == "other"
    # Trained with --no-eval, the GAN read no classifier: its config only names one.
    unscored = r"the classifier its last run \(--no-eval\) did not read"
    with pytest.raises(DataError, match=unscored + r" \(named in .*\) is not there \(moved\)"):
        from_run(cfg, {**saved, "eval": False})
    (tmp_path / "cls").mkdir()
    notes = from_run(cfg, {**saved, "eval": False})[1]
    assert notes[0].startswith("as the GAN was trained: --data-dir") and "--classifier-dir" not in notes[0]
    assert (
        notes[1]
        == f"as the GAN's config names (its last run trained with --no-eval): --classifier-dir {tmp_path}/cls"
    )
    assert from_run(cfg, saved)[1][0].startswith("as the GAN was trained: --data-dir")


def test_every_folder_gone_from_the_run_is_named_at_once_with_where_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # make demo names its folders relative to the clone; evaluate.py run from elsewhere reads
    # those names relative to its own folder: both are said in one line, with the folder
    # found above the run's record where there is one.
    from mnist_gan.eval.run import from_run
    from mnist_gan.runtime.errors import DataError

    clone = tmp_path / "clone"
    (clone / "datasets" / "MNIST-5k").mkdir(parents=True)
    (clone / "checkpoints" / "gan").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    cfg = config.defaults(configs.EvaluateConfig).replace(checkpoint_dir=str(clone / "checkpoints" / "gan"))
    saved = {"data_dir": "datasets/MNIST-5k", "classifier_dir": "checkpoints/classifier"}
    with pytest.raises(DataError) as refused:
        from_run(cfg, saved)
    said = str(refused.value)
    assert said.startswith("datasets/MNIST-5k: the data the GAN was trained with")
    found = f"(moved, or named relative to another folder); pass --data-dir {clone}/datasets/MNIST-5k; "
    assert found in said
    assert said.endswith(
        "checkpoints/classifier: the classifier the GAN was trained with (named in "
        f"{clone}/checkpoints/gan/config-gan.yaml) is not there (moved, or named relative to another "
        "folder); pass --classifier-dir"
    )


def test_a_picture_that_cannot_be_written_keeps_no_metrics_without_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A full disk after the JSON: the JSON stayed, and the same command again refused to
    # replace "an earlier evaluation" that had never finished.
    from mnist_gan.eval import report
    from mnist_gan.eval.run import write_outputs
    from mnist_gan.runtime.errors import DataError

    class Judged:
        def to_json(self) -> dict:
            return {"metrics": {}}

    def full(judged: object, path: Path) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report, "write_nearest", full)
    output = tmp_path / "m.json"
    nearest = report.check_outputs(str(output))
    assert nearest is not None
    with pytest.raises(
        DataError, match=r"m-nearest\.png: cannot write the picture \(No space left on device\)"
    ):
        write_outputs(Judged(), {}, output, nearest)  # type: ignore[arg-type]
    assert not output.exists()
    assert report.check_outputs(str(output)) == nearest  # the same command again may run
    # Over an earlier evaluation (--overwrite), the earlier pair stays whole.
    output.write_text("earlier")
    nearest.write_bytes(b"earlier picture")
    with pytest.raises(DataError):
        write_outputs(Judged(), {}, output, nearest)  # type: ignore[arg-type]
    assert (output.read_text(), nearest.read_bytes()) == ("earlier", b"earlier picture")
