"""DiffAugment's ops and the generator's weight average do what their papers say."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from mnist_gan import configs, generation
from mnist_gan.data import sources
from mnist_gan.models import augment, losses, networks
from mnist_gan.runtime import checkpoints, config
from mnist_gan.runtime.errors import ConfigError
from mnist_gan.training import adaptive
from mnist_gan.training.ema import WeightAverage
from mnist_gan.training.gan_inputs import gan_dataset
from mnist_gan.training.gan_trainer import GanTrainer


def _ramp(n: int = 2) -> tf.Tensor:
    return tf.reshape(tf.range(n * 28 * 28, dtype=tf.float32), (n, 28, 28, 1))


def test_translation_shifts_each_image_by_its_own_offset() -> None:
    images = _ramp()
    out = augment.translate(images, tf.constant([[0, 0], [1, -2]])).numpy()
    np.testing.assert_array_equal(out[0], images[0].numpy())  # no shift: the same image
    # Down by one, left by two: pixel (r, c) comes from (r - 1, c + 2); vacated border is background.
    np.testing.assert_array_equal(out[1, 1:, :-2], images[1, :-1, 2:].numpy())
    assert np.all(out[1, 0, :] == augment.BACKGROUND) and np.all(out[1, :, -2:] == augment.BACKGROUND)


def test_cutout_blanks_a_square_around_the_centre() -> None:
    images = tf.ones((1, 28, 28, 1))
    out = augment.cutout(images, tf.constant([[14, 14]])).numpy()[0, ..., 0]
    half = augment.CUTOUT // 2
    assert np.all(out[14 - half + 1 : 14 + half, 14 - half + 1 : 14 + half] == augment.BACKGROUND)
    assert int((out == augment.BACKGROUND).sum()) == (2 * half - 1) ** 2
    corner = augment.cutout(images, tf.constant([[0, 0]])).numpy()[0, ..., 0]
    assert int((corner == augment.BACKGROUND).sum()) == half**2  # clipped at the border


def test_augmentation_is_differentiable_and_drawn_in_range() -> None:
    images = tf.random.normal((4, 28, 28, 1), seed=1)
    numbers = augment.draws(tf.constant([3, 4], tf.int64), 4)
    assert numbers.shape == (4, 4)
    assert np.all(np.abs(numbers[:, :2].numpy()) <= augment.SHIFT)
    with tf.GradientTape() as tape:
        tape.watch(images)
        out = augment.apply("translation,cutout", images, numbers)
        total = tf.reduce_sum(out)
    grad = tape.gradient(total, images).numpy()
    # Every pixel that survives into the output gets gradient 1; the rest 0.
    assert set(np.unique(grad)) <= {0.0, 1.0} and 0 < grad.sum() < grad.size
    np.testing.assert_array_equal(augment.apply("none", images, numbers).numpy(), images.numpy())
    with pytest.raises(ValueError, match="unknown augmentation"):
        augment.apply("rotation", images, numbers)


def _generator_pair(seed: int = 0) -> tuple[keras.Model, keras.Model]:
    keras.utils.set_random_seed(seed)
    return networks.build_generator(4, 4), networks.build_generator(4, 4)


def _inputs(n: int = 200) -> list[tf.Tensor]:
    return [tf.random.stateless_normal([n, 4], seed=[1, 2]), tf.range(n) % networks.DIGIT_CLASSES]


def test_each_augmentation_applies_where_its_chance_is_under_p() -> None:
    images = _ramp(4)
    numbers = tf.constant([[1, 1, 14, 14]] * 4)
    # Digit 0 neither, 1 shifted only, 2 cut out only, 3 both, at p = 0.5.
    chance = tf.constant([[0.9, 0.9], [0.1, 0.9], [0.9, 0.1], [0.1, 0.1]])
    out = augment.apply("translation,cutout", images, numbers, chance, 0.5).numpy()
    shifted = augment.translate(images, numbers[:, :2])
    expected = [
        images[0],
        shifted[1],
        augment.cutout(images, numbers[:, 2:])[2],
        augment.cutout(shifted, numbers[:, 2:])[3],
    ]
    for i, want in enumerate(expected):
        np.testing.assert_array_equal(out[i], want.numpy(), err_msg=f"digit {i}")
    full = augment.apply("translation,cutout", images, numbers).numpy()
    np.testing.assert_array_equal(augment.apply("translation,cutout", images, numbers, chance, 1.0), full)
    np.testing.assert_array_equal(augment.apply("translation,cutout", images, numbers, chance, 0.0), images)
    drawn = augment.chances(tf.constant([3, 4], tf.int64), 1000).numpy()
    assert drawn.shape == (1000, 2) and drawn.min() >= 0 and drawn.max() < 1
    assert abs(float(np.mean(drawn < 0.25)) - 0.25) < 0.05


def test_adaptive_probability_moves_one_rate_toward_its_target_and_stays_in_range() -> None:
    cfg = config.defaults(configs.GanConfig).replace(
        critic_augment="translation",
        critic_augment_p=0.5,
        critic_augment_target=0.6,
        critic_augment_speed=1000,
        batch_size=50,
        crit_steps=2,
    )
    probability = adaptive.AugmentProbability(cfg)
    assert probability.adaptive and probability.rate == 0.1  # 100 real digits a step of 1000
    probability.adjust(tf.constant(0.8))  # the critic tells them apart more surely than asked
    assert float(probability.p) == pytest.approx(0.6)
    probability.adjust(tf.constant(0.2))
    probability.adjust(tf.constant(0.2))
    assert float(probability.p) == pytest.approx(0.4)
    for _ in range(10):
        probability.adjust(tf.constant(-1.0))
    assert float(probability.p) == 0.0
    fixed = adaptive.AugmentProbability(cfg.replace(critic_augment_target=0.0))
    fixed.adjust(tf.constant(1.0))
    assert not fixed.adaptive and float(fixed.p) == 0.5
    scores = tf.constant([[1.0], [0.0], [2.0]])
    np.testing.assert_array_equal(adaptive.signal(scores, tf.constant([[0.0], [1.0], [2.0]])), [1, -1, 0])


@pytest.mark.parametrize(("key", "value"), [("critic_augment_target", 0.5), ("critic_augment_p", 0.5)])
def test_a_probability_without_an_augmentation_is_refused(key: str, value: float) -> None:
    # Accepted, it would be recorded in the run's config and do nothing.
    with pytest.raises(
        ConfigError, match=rf"^{key} (adapts|is) the probability of an augmentation: .*--critic-augment"
    ):
        config.defaults(configs.GanConfig).replace(critic_augment="none", **{key: value})


def test_the_adapted_probability_trains_checkpoints_and_resumes(tiny_dataset: Path, tmp_path: Path) -> None:
    flags = dict(
        critic_augment="translation,cutout",
        critic_augment_p=0.5,
        critic_augment_target=0.3,
        critic_augment_speed=80,
    )
    trainer = _tiny_trainer(tiny_dataset, **flags)
    metrics = trainer.train(tf.constant(3))
    p = float(trainer.augmentation.p)
    # Three steps of 8 digits at a speed of 80: each moves p by 0.1 one way or the other.
    assert round((p - 0.5) / 0.1) in (-3, -1, 1, 3)
    assert float(metrics["augment_p"]) == p and -1 <= float(metrics["augment_signal"]) <= 1
    path = trainer.checkpoint.save(str(tmp_path / "ckpt"))
    assert checkpoints.holds_object(path, "augment_p")
    fresh = _tiny_trainer(tiny_dataset, **flags)
    assert float(fresh.augmentation.p) == 0.5
    fresh.checkpoint.restore(path).assert_consumed()
    assert float(fresh.augmentation.p) == p
    fixed = _tiny_trainer(tiny_dataset, **{**flags, "critic_augment_target": 0.0})
    assert "augment_p" not in fixed.train(tf.constant(1))
    fixed_path = fixed.checkpoint.save(str(tmp_path / "fixed"))
    assert not checkpoints.holds_object(fixed_path, "augment_p")
    # A run switched on resume either way (--continue-with-changes): adapted from its
    # configured start, or fixed with the adapted value left out; the rest restores.
    switched = _tiny_trainer(tiny_dataset, **flags)
    checkpoints.restore(switched.checkpoint, fixed_path)
    assert float(switched.augmentation.p) == 0.5 and int(switched.step.numpy()) == 1
    for a, b in zip(switched.generator_ema.variables, fixed.generator_ema.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    unadapted = _tiny_trainer(tiny_dataset, **{**flags, "critic_augment_target": 0.0})
    checkpoints.restore(unadapted.checkpoint, path)
    assert int(unadapted.step.numpy()) == 3
    # Resumed with another start (--continue-with-changes, which records the change): p starts
    # again there, as the record says, and that start is saved for the next resume. The start
    # lies off the grid p moved on (0.5 plus or minus steps of 0.1), so no restore could hit it.
    restarted = _tiny_trainer(tiny_dataset, **{**flags, "critic_augment_p": 0.05})
    checkpoints.restore(restarted.checkpoint, path)
    assert float(restarted.augmentation.p) == pytest.approx(0.05) and int(restarted.step.numpy()) == 3
    restarted.train(tf.constant(1))
    moved = float(restarted.augmentation.p)
    again = _tiny_trainer(tiny_dataset, **{**flags, "critic_augment_p": 0.05})
    checkpoints.restore(again.checkpoint, restarted.checkpoint.save(str(tmp_path / "restarted")))
    assert float(again.augmentation.p) == moved != pytest.approx(0.05)
    # A checkpoint from before the start was kept beside p resumes where p was.
    kept = (*type(trainer.checkpoint).REQUIRED, "generator_ema", "augment_p")
    older = tf.train.Checkpoint(**{name: getattr(trainer.checkpoint, name) for name in kept}).save(
        str(tmp_path / "older")
    )
    resumed = _tiny_trainer(tiny_dataset, **{**flags, "critic_augment_p": 0.05})
    checkpoints.restore(resumed.checkpoint, older)
    assert float(resumed.augmentation.p) == p


def test_average_follows_the_ramped_decay() -> None:
    model, average = _generator_pair()
    ema = WeightAverage(model, average, decay=0.9, inputs=_inputs())
    ema.copy_weights()
    start = [v.numpy().copy() for v in model.trainable_variables]
    for v in model.trainable_variables:
        v.assign(v + 1.0)
    ema.update(tf.constant(1))  # ramp: min(0.9, 2/11)
    d = 2.0 / 11.0
    for a, s in zip(average.trainable_variables, start):
        np.testing.assert_allclose(a.numpy(), s + (1 - d), rtol=1e-5, atol=1e-6)
    ema.update(tf.constant(1000))  # past the ramp: 0.9
    for a, s in zip(average.trainable_variables, start):
        np.testing.assert_allclose(a.numpy(), s + 1 - 0.9 * d, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="decay"):
        WeightAverage(model, average, decay=1.0, inputs=_inputs())


def test_standing_statistics_are_the_averages_own() -> None:
    model, average = _generator_pair()
    inputs = _inputs()
    ema = WeightAverage(model, average, decay=0.5, inputs=inputs)
    ema.refresh_statistics()
    norms = [layer for layer in average.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(norms) == 2
    # The first layer's statistics are the moments of its input, computed independently here.
    first_input = keras.Model(average.inputs, norms[0].input)(inputs, training=False)
    mean, variance = tf.nn.moments(first_input, axes=[0])
    np.testing.assert_allclose(norms[0].moving_mean.numpy(), mean.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(norms[0].moving_variance.numpy(), variance.numpy(), rtol=1e-4, atol=1e-5)
    # The second layer's input depends on the first layer's new statistics: its own statistics
    # must be the moments of that input, so in inference it is normalised to mean 0, and
    # variance v / (v + epsilon) per channel.
    second_input = keras.Model(average.inputs, norms[1].input)(inputs, training=False)
    mean, variance = tf.nn.moments(second_input, axes=[0, 1, 2])
    np.testing.assert_allclose(norms[1].moving_mean.numpy(), mean.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(norms[1].moving_variance.numpy(), variance.numpy(), rtol=1e-4, atol=1e-5)
    out = keras.Model(average.inputs, norms[1].output)(inputs, training=False).numpy()
    normalised = (out - norms[1].beta.numpy()) / norms[1].gamma.numpy()
    np.testing.assert_allclose(normalised.mean(axis=(0, 1, 2)), 0.0, atol=1e-3)
    v = variance.numpy()
    np.testing.assert_allclose(normalised.var(axis=(0, 1, 2)), v / (v + norms[1].epsilon), rtol=1e-3)


def test_spectral_generator_normalises_its_kernels_and_the_average_follows_them() -> None:
    keras.utils.set_random_seed(0)
    model, average = (
        networks.build_generator(4, 4, conditioning="batchnorm", output="conv", spectral=True)
        for _ in range(2)
    )
    normalised = [layer for layer in model.layers if hasattr(layer, "normalized_kernel")]
    assert len(normalised) == 4  # dense, two transposed convolutions, the last convolution
    inputs = _inputs(16)
    for layer in normalised:  # far from sigma = 1, so normalising matters
        layer.kernel.assign(layer.kernel * 3.0)
    for _ in range(30):  # one power iteration per training call
        model(inputs, training=True)
    for layer in normalised:
        w = keras.ops.convert_to_numpy(layer.normalized_kernel(False))
        sigma = np.linalg.norm(w.reshape(-1, w.shape[-1]), 2)
        assert 0.99 < sigma < 1.05, (layer.name, sigma)
    # The average copies the power-iteration vectors (it does not average them): its sigma
    # estimate is then as converged as the model's.
    ema = WeightAverage(model, average, decay=0.5, inputs=inputs)
    ema.update(tf.constant(100))
    pairs = zip(average.non_trainable_variables, model.non_trainable_variables)
    vectors = [(a, w) for a, w in pairs if a.path.endswith("sn_u")]
    assert len(vectors) == 4
    for a, w in vectors:
        np.testing.assert_array_equal(a.numpy(), w.numpy())


def _tiny_trainer(dataset_dir: Path, **overrides: object) -> GanTrainer:
    tiny = dict(noise_dim=8, gen_width=8, critic_width=8, batch_size=8, seed=2, mixed_precision="off")
    cfg = config.defaults(configs.GanConfig).replace(**{**tiny, **overrides})
    train, _ = sources.load(dataset_dir).splits
    return GanTrainer(cfg, tf.distribute.get_strategy(), total_steps=10, dataset=gan_dataset(train, cfg))


def _paper_term(points: np.ndarray, noise: np.ndarray, unit: float = 1.0) -> float:
    """MSGAN's term as the paper writes it, in numpy: the mean over neighbour pairs of
    1 / (their points' mean absolute gap in ``unit``s over their noise's)."""
    axes = tuple(range(1, points.ndim))
    gaps = np.abs(points[0::2] - points[1::2]).mean(axis=axes) / unit
    return float(
        np.mean(1 / (gaps / np.abs(noise[0::2] - noise[1::2]).mean(axis=1) + losses.MODE_SEEKING_EPSILON))
    )


@pytest.mark.parametrize("spectral", [False, True], ids=["plain", "spectral"])
def test_trainer_averages_and_checkpoints_the_generator(
    tiny_dataset: Path, tmp_path: Path, spectral: bool
) -> None:
    trainer = _tiny_trainer(
        tiny_dataset, critic_augment="translation,cutout", ema_decay=0.99, gen_spectral_norm=spectral
    )
    trainer.train(tf.constant(3))
    raw = np.concatenate([v.numpy().ravel() for v in trainer.generator.trainable_variables])
    avg = np.concatenate([v.numpy().ravel() for v in trainer.generator_ema.trainable_variables])
    assert not np.array_equal(raw, avg)  # the average lags the trained weights
    assert all(layer.compute_dtype == "float32" for layer in trainer.generator_ema.layers)
    path = trainer.checkpoint.save(str(tmp_path / "ckpt"))
    assert checkpoints.holds_object(path, "generator_ema")
    # generate.py and evaluate.py draw from the average.
    loaded = networks.generator_for(trainer.cfg)
    checkpoints.restore(tf.train.Checkpoint(generator_ema=loaded), path, partial=True)
    z, y = tf.random.normal((10, 8), seed=3), tf.range(10)
    np.testing.assert_array_equal(
        loaded([z, y], training=False).numpy(), trainer.generator_ema([z, y], training=False).numpy()
    )


@pytest.mark.parametrize("spectral", [False, True], ids=["plain", "spectral"])
def test_consistency_adds_its_weighted_term_to_the_critic_loss(tiny_dataset: Path, spectral: bool) -> None:
    weight = 3.0
    same = dict(gp_every=1, critic_spectral_norm=spectral)
    with_cr = _tiny_trainer(tiny_dataset, critic_consistency=weight, **same)
    without, probe = (_tiny_trainer(tiny_dataset, critic_consistency=0.0, **same) for _ in range(2))
    batch = next(with_cr.iterator)
    plain = next(without.iterator)
    # The shifts are drawn only for a run that uses them, and the other draws stay the same.
    assert "cr_real" in batch and "cr_real" not in plain
    for key in plain:
        np.testing.assert_array_equal(batch[key].numpy(), plain[key].numpy(), err_msg=key)
    assert np.any(batch["cr_real"].numpy()[:, :2] != 0)
    # The term as the paper writes it, from a third copy of the same critic before its update.
    real, labels = batch["images"], batch["labels"]
    fake = probe.generator([batch["noise"], labels], training=True)
    parts = [
        real,
        fake,
        augment.translate(real, batch["cr_real"][:, :2]),
        augment.translate(fake, batch["cr_fake"][:, :2]),
    ]
    # One training pass over all four, as the update's (with spectral norm: one power-iteration
    # step, as there).
    scores = probe.critic([tf.concat(parts, 0), tf.tile(labels, [4])], training=True).numpy().ravel()
    d_real, d_fake, d_real_t, d_fake_t = np.split(scores, 4)
    term = np.mean((d_real - d_real_t) ** 2 + (d_fake - d_fake_t) ** 2)
    assert term > 1e-6  # an untrained critic is not yet shift-invariant
    difference = float(with_cr.critic_update(batch, 0)["critic_loss"]) - float(
        without.critic_update(batch, 0)["critic_loss"]
    )
    np.testing.assert_allclose(difference, weight * term, rtol=1e-3)
    # ... and its gradient reaches the critic: the same start and batch, other kernels after.
    kernels = [
        (a, b) for a, b in zip(with_cr.critic.variables, without.critic.variables) if "kernel" in a.path
    ]
    assert kernels and any(np.max(np.abs(a.numpy() - b.numpy())) > 1e-6 for a, b in kernels)


def test_the_average_settles_once_before_it_is_read(tiny_dataset: Path) -> None:
    trainer = _tiny_trainer(tiny_dataset, gen_output="conv")  # batch norm at 7x7, 14x14, 28x28
    norms = [n for n in trainer.generator_ema.layers if isinstance(n, keras.layers.BatchNormalization)]
    before = [n.moving_mean.numpy().copy() for n in norms]
    trainer.train(tf.constant(2))
    for b, n in zip(before, norms):
        np.testing.assert_array_equal(b, n.moving_mean.numpy())  # the steps leave them alone
    trainer.settle()
    last = keras.Model(trainer.generator_ema.inputs, norms[-1].input)(trainer.ema.inputs, training=False)
    mean, variance = tf.nn.moments(last, axes=[0, 1, 2])
    np.testing.assert_allclose(norms[-1].moving_mean.numpy(), mean.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(norms[-1].moving_variance.numpy(), variance.numpy(), rtol=1e-4, atol=1e-5)
    for n in norms:
        n.moving_mean.assign(tf.zeros_like(n.moving_mean))
    trainer.settle()  # the same step again: nothing recomputed
    assert not np.any(norms[-1].moving_mean.numpy())


def test_checkpoint_without_the_average_resumes_and_loads(tiny_dataset: Path, tmp_path: Path) -> None:
    trainer = _tiny_trainer(tiny_dataset)
    trainer.train(tf.constant(2))
    old = tf.train.Checkpoint(
        generator=trainer.generator,
        critic=trainer.critic,
        gen_opt=trainer.gen_opt,
        critic_opt=trainer.critic_opt,
        step=trainer.step,
    )
    path = old.save(str(tmp_path / "old" / "ckpt"))
    assert not checkpoints.holds_object(path, "generator_ema")
    fresh = _tiny_trainer(tiny_dataset, seed=9)
    checkpoints.restore(fresh.checkpoint, path)
    assert int(fresh.step.numpy()) == 2
    for a, b in zip(fresh.generator_ema.variables, trainer.generator.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())  # the average starts as the generator
    config.save(trainer.cfg, tmp_path / "old" / configs.GanConfig.SAVED_AS)
    generator = generation.load_generator(tmp_path / "old").generator
    z, y = tf.random.normal((10, 8), seed=3), tf.range(10)
    np.testing.assert_array_equal(
        generator([z, y], training=False).numpy(), trainer.generator([z, y], training=False).numpy()
    )


def test_mode_seeking_pairs_classes_and_adds_its_weighted_term(tiny_dataset: Path) -> None:
    weight = 0.5
    seeking = _tiny_trainer(tiny_dataset, gen_mode_seeking=weight)
    without, probe = (_tiny_trainer(tiny_dataset, gen_mode_seeking=0.0) for _ in range(2))
    batch, plain = next(seeking.iterator), next(without.iterator)
    # Neighbours share a class, the first of each pair the class drawn without the term;
    # every other draw is what a run without it draws.
    labels = batch["gen_labels"].numpy()
    np.testing.assert_array_equal(labels[0::2], labels[1::2])
    np.testing.assert_array_equal(labels[0::2], plain["gen_labels"].numpy()[0::2])
    for key in plain:
        if key != "gen_labels":
            np.testing.assert_array_equal(batch[key].numpy(), plain[key].numpy(), err_msg=key)
    # The term as the paper writes it, from a third copy of the same generator before its update.
    drawn = probe.generator([batch["gen_noise"], batch["gen_labels"]], training=True).numpy()
    term = _paper_term(drawn, batch["gen_noise"].numpy())
    same = {**plain, "gen_labels": batch["gen_labels"]}  # the same classes, without the term
    reported, plain_reported = seeking.generator_update(batch), without.generator_update(same)
    difference = float(reported["generator_loss"]) - float(plain_reported["generator_loss"])
    np.testing.assert_allclose(difference, weight * term, rtol=1e-3)
    # Logged on its own, unweighted, as the consistency term is; not where it is off.
    np.testing.assert_allclose(float(reported["mode_seeking"]), term, rtol=1e-3)
    assert "mode_seeking" not in plain_reported
    assert "mode_seeking" in seeking.train(tf.constant(1)) and "mode_seeking" not in without.train(
        tf.constant(1)
    )


@pytest.mark.parametrize("augment", ["none", "translation"])
def test_mode_seeking_in_the_critics_features(tiny_dataset: Path, augment: str) -> None:
    weight, space = 0.5, dict(gen_mode_seeking_space="critic", critic_augment=augment)
    seeking = _tiny_trainer(tiny_dataset, gen_mode_seeking=weight, **space)
    without, probe = (_tiny_trainer(tiny_dataset, gen_mode_seeking=0.0, **space) for _ in range(2))
    batch = next(seeking.iterator)
    # The term from the critic's features of the digits as drawn (not as augmented for the
    # critic's score), their gaps measured in the batch's mean absolute deviation.
    drawn = probe.generator([batch["gen_noise"], batch["gen_labels"]], training=True)
    _, h = networks.critic_with_features(probe.critic)([drawn, batch["gen_labels"]], training=False)
    h, z = h.numpy().astype(np.float64), batch["gen_noise"].numpy()
    term = _paper_term(h, z, unit=np.abs(h - h.mean(axis=0)).mean())
    reported, plain_reported = seeking.generator_update(batch), without.generator_update(batch)
    difference = float(reported["generator_loss"]) - float(plain_reported["generator_loss"])
    np.testing.assert_allclose(difference, weight * term, rtol=1e-3)
    np.testing.assert_allclose(float(reported["mode_seeking"]), term, rtol=1e-3)
    # Not the images' term: the two spaces measure different things.
    assert abs(_paper_term(drawn.numpy(), z) - term) > 0.1 * term
