"""The memorisation check: nearest neighbours, the C_T data-copying test on made-up points,
fake generators that copy (flagged) or draw unseen real digits (not flagged), evaluate.py's
JSON block and the picture of the digits most at risk."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, run_script
from PIL import Image

from mnist_gan import pictures
from mnist_gan.data import pipeline, sources
from mnist_gan.eval import features, generator_scorer, memorisation, report
from mnist_gan.eval.memorisation import (
    FLAG_BELOW,
    check,
    copying_statistic,
    mann_whitney_z,
    share_closer,
)
from mnist_gan.eval.neighbours import kmeans, nearest_neighbours


def test_nearest_neighbours_match_brute_force_across_chunks() -> None:
    rng = np.random.default_rng(0)
    queries, reference = rng.standard_normal((301, 17)) + 5, rng.standard_normal((1003, 17)) + 5
    full = np.sqrt(((queries[:, None, :] - reference[None]) ** 2).sum(-1))
    distance, index = nearest_neighbours(queries, reference, query_chunk=64, ref_chunk=100)
    np.testing.assert_allclose(distance, full.min(axis=1), rtol=1e-5)
    np.testing.assert_array_equal(index, full.argmin(axis=1))
    # A point of the reference set is at distance 0 from itself, images are flattened.
    grid_like = rng.uniform(-1, 1, (50, 4, 4, 1))
    d, i = nearest_neighbours(grid_like[:5], grid_like)
    np.testing.assert_array_equal(i, np.arange(5))
    assert np.all(d < 1e-3)


def test_mann_whitney_z_sign_scale_and_ties() -> None:
    # U counts pairs with the generated distance larger, ties half: 0.5 + 1 + 2 = 3.5 of 6 pairs.
    u, m, n = 3.5, 3, 2
    expected = (u - m * n / 2) / np.sqrt(m * n * (m + n + 1) / 12)
    assert mann_whitney_z(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.5])) == pytest.approx(expected)
    same = np.arange(100.0)
    assert mann_whitney_z(same, same) == pytest.approx(0.0)
    assert mann_whitney_z(same / 10, same) < -5  # generated much closer: strongly negative
    assert mann_whitney_z(same + 1000, same) > 5


def test_kmeans_finds_separated_clusters() -> None:
    rng = np.random.default_rng(1)
    centres = np.array([[0.0, 0.0], [50.0, 0.0], [0.0, 50.0]])
    points = centres[np.arange(600) % 3] + rng.standard_normal((600, 2))
    found = kmeans(points, 3, seed=0)
    assert np.sort(nearest_neighbours(centres, found)[0]).max() < 0.5


def _clusters(n: int, rng: np.random.Generator) -> np.ndarray:
    """Ten Gaussian blobs in 20 dimensions (digit-like classes)."""
    centres = np.random.default_rng(99).standard_normal((10, 20)) * 4
    return centres[np.arange(n) % 10] + rng.standard_normal((n, 20))


def test_copies_are_flagged_and_independent_samples_pass() -> None:
    rng = np.random.default_rng(2)
    train, test = _clusters(4000, rng), _clusters(1000, rng)
    independent = _clusters(1000, rng)
    copies = train[rng.permutation(4000)[:1000]] + 0.05 * rng.standard_normal((1000, 20))
    far = independent * 1.3  # digits unlike anything real: farther from the training set

    result = check({"x": (train, test, independent)}, copies=1000)
    g = result.scores["generated"]["x"]
    assert abs(g.c_t) < 3 and not result.flagged("generated")
    assert g.share == pytest.approx(0.01, abs=0.015)
    assert g.cells_used == 10
    # The references: training points returned as samples flagged, held-out points pass.
    assert result.flagged("training_digits") and result.scores["training_digits"]["x"].share == 1.0
    assert not result.flagged("held_out_test_digits")
    assert result.scores["held_out_test_digits"]["x"].share < 0.04

    copied = check({"x": (train, test, copies)}, copies=1000).scores["generated"]["x"]
    assert copied.c_t < 3 * FLAG_BELOW and copied.share > 0.95
    underfit = check({"x": (train, test, far)}, copies=1000).scores["generated"]["x"]
    assert underfit.c_t > 3 and underfit.share < 0.01


def test_digits_most_at_risk_are_the_copies_whatever_their_class() -> None:
    rng = np.random.default_rng(4)
    train, test, gen = _clusters(4000, rng), _clusters(1000, rng), _clusters(1000, rng)
    # One class is tight: its samples lie close to training points without copying them.
    tight = np.arange(4000) % 10 == 0
    train[tight] = train[tight] * 0.02
    test[np.arange(1000) % 10 == 0] *= 0.02
    gen[np.arange(1000) % 10 == 0] *= 0.02
    copied = rng.choice(np.flatnonzero(np.arange(1000) % 10 != 0), 10, replace=False)
    gen[copied] = train[copied] + 0.05 * rng.standard_normal((10, 20))
    labels = np.arange(4000) % 10
    result = check({"x": (train, test, gen)}, copies=1000, at_risk=10, train_labels=labels)
    assert set(result.at_risk) == set(copied)
    np.testing.assert_array_equal(np.sort(result.nearest_train), np.sort(copied))


def test_independent_samples_pass_across_seeds() -> None:
    # Under the null C_T has mean 0 and a standard deviation of at most 1: never below -3 here.
    values = []
    for seed in range(10):
        rng = np.random.default_rng(100 + seed)
        train, test, gen = _clusters(2000, rng), _clusters(500, rng), _clusters(500, rng)
        d_test, _ = nearest_neighbours(test, train)
        d_gen, _ = nearest_neighbours(gen, train)
        cells = nearest_neighbours(np.concatenate([gen, test]), kmeans(train, 5, seed))[1]
        values.append(copying_statistic(d_gen, cells[:500], d_test, cells[500:], 5)[0])
    assert min(values) > FLAG_BELOW
    assert abs(np.mean(values)) < 0.8


def test_share_and_statistic_edge_cases() -> None:
    test = np.arange(1, 101, dtype=float)
    assert share_closer(np.zeros(10), test) == 1.0
    assert share_closer(np.full(10, 50.0), test) == 0.0
    c_t, used = copying_statistic(np.ones(5), np.zeros(5), test, np.zeros(100), cells=1)
    assert np.isnan(c_t) and used == 0  # too few generated digits in the only cell


def test_quality_benchmark_rows() -> None:
    spec = importlib.util.spec_from_file_location("quality", ROOT / "benchmarks" / "quality.py")
    assert spec is not None and spec.loader is not None
    quality = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(quality)
    rng = np.random.default_rng(3)
    train, test = _clusters(2000, rng), _clusters(500, rng)
    block = check({"pixels": (train, test, _clusters(500, rng)), "features": (train, test, train[:500])}, 500)
    rows = quality.memorisation_rows(block.to_json())
    assert len(rows) == 5 and rows[0].startswith("| memorisation C_T, pixels | ")
    # The generator copies in one space only: flagged; test digits pass, training digits do not.
    assert rows[-1] == "| copying flagged (C_T < -3) | yes | no (test digits); yes (training digits) |"
    assert "100.0% (training digits)" in rows[2]


def test_pairs_picture_layout() -> None:
    left = np.zeros((5, 28, 28), np.uint8)
    right = np.full((5, 28, 28), 255, np.uint8)
    picture = pictures.pairs(left, right, per_row=2)
    # A pair is 2 digits with 1 pixel around each: 30 x 59; 3 rows of 2 pairs, 6 pixels apart.
    assert picture.shape == (3 * (30 + 6) + 6, 2 * (59 + 6) + 6)
    assert picture[7, 7] == 0 and picture[7, 7 + 29] == 255  # generated left, training right


def _split_test(sample_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    train, test = sources.load(sample_dir).splits
    train_x = pipeline.to_model_range(train.images).numpy()
    test_x = pipeline.to_model_range(test.images).numpy()
    return train_x, train.labels, test_x, test.labels, np.arange(len(test_x)) % 2 == 0


def _digits_of(pool: np.ndarray, labels: np.ndarray, noise: float, seed: int) -> generator_scorer.SampleFn:
    """A fake generator: digits of the asked-for class taken in turn from ``pool``, plus noise."""
    by_class = {d: pool[labels == d] for d in range(10)}
    counters = dict.fromkeys(range(10), 0)
    rng = np.random.default_rng(seed)

    def sample(_: np.ndarray, asked: np.ndarray) -> np.ndarray:
        out = []
        for y in asked:
            out.append(by_class[int(y)][counters[int(y)] % len(by_class[int(y)])])
            counters[int(y)] += 1
        x = np.stack(out)
        return np.clip(x + noise * rng.standard_normal(x.shape), -1, 1).astype(np.float32)

    return sample


def test_fake_generators_through_evaluate_generator(sample_dir: Path, trained_classifier: Path) -> None:
    classifier = features.load_classifier(trained_classifier)
    train_x, train_y, test_x, test_y, half = _split_test(sample_dir)
    # The yardstick is one half of the test digits; the "generator" of unseen digits draws the other.
    yardstick = (test_x[half], test_y[half])

    def judge(sample: generator_scorer.SampleFn) -> report.Report:
        return report.evaluate_generator(
            sample, classifier, (train_x, train_y), yardstick, num_samples=500, noise_dim=4, seed=0, cas=False
        )

    copied = judge(_digits_of(train_x, train_y, noise=0.1, seed=0))
    fresh = judge(_digits_of(test_x[~half], test_y[~half], noise=0.0, seed=0))

    assert copied.memorisation is not None and fresh.memorisation is not None
    # Pixel noise moves the classifier's features (it never saw noisy digits: a noisy copy's
    # features can sit farther from the training set than a test digit's), so noisy copies
    # stand out in pixel space; the flag is raised by either space.
    assert copied.memorisation.scores["generated"]["pixels"].c_t < FLAG_BELOW
    assert copied.memorisation.scores["generated"]["pixels"].share > 0.5
    for space in ("pixels", "features"):
        assert fresh.memorisation.scores["generated"][space].c_t > FLAG_BELOW, space
        assert fresh.memorisation.scores["generated"][space].share < 0.05, space
    assert copied.memorisation.flagged("generated") and not fresh.memorisation.flagged("generated")
    for judged in (copied, fresh):  # the reader fitted on test digits reads copies as it reads real ones
        assert abs(judged.metrics["independent_accuracy"] - judged.references["independent_accuracy"]) < 0.04
    for judged in (copied, fresh):  # the references do not depend on the generator
        assert judged.memorisation is not None
        assert judged.memorisation.flagged("training_digits")
        assert not judged.memorisation.flagged("held_out_test_digits")
    # The digits most at risk are shown beside their nearest training digit: for the copier,
    # the training digit it copied (the noise is light).
    assert copied.at_risk is not None
    gen, nearest = copied.at_risk
    assert gen.shape == nearest.shape == (32, 28, 28, 1)
    assert np.sqrt(((gen - nearest) ** 2).sum(axis=(1, 2, 3))).max() < 4.0
    block = copied.to_json()["memorisation"]
    assert block["generated"]["flagged"] is True and block["held_out_test_digits"]["flagged"] is False
    assert "memorisation" in report.format_report(copied) and "YES" in report.format_report(copied)


def test_check_outputs_refuses_a_folder_and_writes_nothing_for_no_output(tmp_path: Path) -> None:
    assert report.check_outputs("") is None
    assert report.check_outputs(str(tmp_path / "new" / "m.json")) == tmp_path / "new" / "m-nearest.png"
    assert not (tmp_path / "new").exists()  # checked (its nearest existing folder probed), not made
    (tmp_path / "taken" / "m-nearest.png").mkdir(parents=True)
    with pytest.raises(report.ConfigError, match="is a folder"):
        report.check_outputs(str(tmp_path / "taken" / "m.json"))


EARLIER = {
    "m.json": b'{"checkpoint": "ckpt-5", "config": {}, "metrics": {"fid": 1.0}}',
    "m-nearest.png": b"\x89PNG\r\n\x1a\n and the rest of a picture",
}


@pytest.mark.parametrize("earlier", list(EARLIER))
def test_check_outputs_keeps_an_earlier_evaluation_unless_told(tmp_path: Path, earlier: str) -> None:
    (tmp_path / earlier).write_bytes(EARLIER[earlier])
    with pytest.raises(
        report.ConfigError,
        match=rf"{earlier} holds an earlier evaluation; pass --overwrite to replace it, or",
    ):
        report.check_outputs(str(tmp_path / "m.json"))
    assert report.check_outputs(str(tmp_path / "m.json"), overwrite=True) == tmp_path / "m-nearest.png"
    assert (tmp_path / earlier).read_bytes() == EARLIER[earlier]  # checking touches nothing


@pytest.mark.parametrize(
    ("name", "content", "kind"),
    [
        ("m.json", b"{}", "an evaluation's metrics"),  # JSON, not ours
        ("m.json", b"checkpoint: x\n", "an evaluation's metrics"),  # a run's config, say
        ("m.json", b"\xff\xfe", "an evaluation's metrics"),
        ("m-nearest.png", EARLIER["m.json"], "a picture"),
    ],
)
def test_overwrite_replaces_only_an_earlier_evaluation(
    tmp_path: Path, name: str, content: bytes, kind: str
) -> None:
    (tmp_path / name).write_bytes(content)
    for overwrite in (False, True):
        with pytest.raises(
            report.ConfigError,
            match=rf"{name} exists and is not {kind}; --overwrite replaces only an earlier evaluation: "
            "pass another --output$",
        ):
            report.check_outputs(str(tmp_path / "m.json"), overwrite=overwrite)
    assert (tmp_path / name).read_bytes() == content


def test_evaluate_script_writes_memorisation_block_and_nearest_png(
    sample_dir: Path, trained_classifier: Path, tiny_real_gan: Path, tmp_path: Path
) -> None:
    out = tmp_path / "eval" / "m.json"
    common = ["--checkpoint-dir", str(tiny_real_gan), "--classifier-dir", str(trained_classifier)]
    result = run_script(
        "evaluate.py", *common, "--data-dir", str(sample_dir), "--num-samples", "200", "--skip-cas",
        "--output", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    block = json.loads(out.read_text())["memorisation"]
    for row in memorisation.ROWS:
        for space in ("pixels", "features"):
            assert set(block[row][space]) == {
                "c_t",
                "share_closer_than_closest_test",
                "median_distance",
                "cells_used",
            }
        assert isinstance(block[row]["flagged"], bool)
    assert block["training_digits"]["flagged"] is True
    assert block["held_out_test_digits"]["flagged"] is False
    picture = Image.open(out.parent / "m-nearest.png")
    assert picture.size == (4 * (59 + 6) + 6, 14 + 8 * (30 + 6) + 6)  # 32 pairs, 4 to a row, a caption
    assert "memorisation: C_T" in result.stdout and str(out.parent / "m-nearest.png") in result.stdout

    refused = run_script(
        "evaluate.py", *common, "--data-dir", str(sample_dir), "--output", str(tmp_path), timeout=120
    )
    assert refused.returncode == 2
    errors = [line for line in refused.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "is a folder" in errors[0], refused.stderr[-2000:]
    assert "scoring" not in refused.stdout  # refused before any work
