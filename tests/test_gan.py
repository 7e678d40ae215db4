"""The distributed WGAN-GP step and train.py around it."""

from __future__ import annotations

import re
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
import yaml
from conftest import TINY_GAN_FLAGS, printed, run_train
from PIL import Image

from mnist_gan import configs
from mnist_gan.data import sources
from mnist_gan.models import networks
from mnist_gan.models.spectral_norm import SNConv2D, SNDense
from mnist_gan.runtime import checkpoints, config, precision
from mnist_gan.training import optimizers
from mnist_gan.training.gan_inputs import gan_dataset
from mnist_gan.training.gan_trainer import GanTrainer

TINY = dict(noise_dim=8, gen_width=8, critic_width=8, batch_size=8, crit_steps=2, seed=5)


def _trainer(strategy: tf.distribute.Strategy, dataset_dir: Path, **overrides: object) -> GanTrainer:
    cfg = config.defaults(configs.GanConfig).replace(**{**TINY, **overrides})
    train, _ = sources.load(dataset_dir).splits
    return GanTrainer(cfg, strategy, total_steps=10, dataset=gan_dataset(train, cfg))


def _mirrored(n: int) -> tf.distribute.Strategy:
    return tf.distribute.MirroredStrategy(
        [f"/cpu:{i}" for i in range(n)], cross_device_ops=tf.distribute.ReductionToOneDevice()
    )


# The original networks, and every architecture and step option on at once, but the
# consistency term (the critic spectrally normalised, as it was without the term).
# (Not critic_blocks_7x7: a per-sample convolution, nothing replicas split differently;
# with it one near-zero gradient meets Adam's first update as in FIRST_NETWORKS below, a
# 1e-3 relative difference against this test's 1e-4. test_architecture_options_reach_the_networks
# checks it is built.)
OTHER_OPTIONS = dict(
    gen_conditioning="batchnorm",
    gen_blocks=1,
    gen_output="conv",
    critic_blocks=1,
    critic_embedding="plain",
    gp_every=2,
    critic_stddev_group=2,
    gen_spectral_norm=True,
    critic_spectral_norm=True,
    critic_consistency=0.0,
)
# ... and the critic's consistency under shifts on top, its spectral norm off (the defaults).
CONSISTENCY = {**OTHER_OPTIONS, "critic_consistency": 1.0, "critic_spectral_norm": False}
# ... and the generator's mode-seeking term, whose pairs each replica must hold whole; and
# measured in the critic's features, whose unit is a sum over every replica's share. These
# tiny networks have, on some seeds, a few weights whose gradient is round-off, which Adam's
# step turns into a sign, up to a few rates apart (as FIRST_NETWORKS below): with the TINY
# seed 1, three of these variants, under Keras's Adam and the fused one alike. With seed 5,
# the term in pixels on the first layer of each class's own (the default) left one such
# weight 3.6e-3 apart, and in the critic's features on the shared layer twelve: so the
# first runs on the shared layer, the second on the class's own, and both are checked.
MODE_SEEKING = {**CONSISTENCY, "gen_mode_seeking": 1.0, "gen_noise_weights": "shared"}
MODE_SEEKING_CRITIC = {**CONSISTENCY, "gen_mode_seeking": 1.0, "gen_mode_seeking_space": "critic"}
# ... and ADA's probability, moved by a sign summed over every replica's pairs, and each
# digit's chance of augmentation drawn with the rest of the step's numbers. On the class's
# own first layer a falling probability met round-off weights as above (several rates apart
# after two steps, the probability and the signal equal on both): so on the shared layer.
ADAPTIVE = {
    **CONSISTENCY,
    "gen_noise_weights": "shared",
    "critic_augment_p": 0.5,
    "critic_augment_target": 0.3,
    "critic_augment_speed": 100,
}


def test_the_adapted_probability_restarts_on_every_replica(tiny_dataset: Path, tmp_path: Path) -> None:
    # A resume with another --critic-augment-p restarts p from it (after the restore, by an
    # assign in the strategy's scope): on 2 replicas every copy of p must hold it, and the
    # replicas must then move it alike, as 1 replica does.
    flags = dict(
        mixed_precision="off", critic_augment="translation", **{**ADAPTIVE, "critic_augment_speed": 80}
    )
    first = _trainer(_mirrored(2), tiny_dataset, **flags)
    first.train(tf.constant(2))
    path = first.checkpoint.save(str(tmp_path / "ckpt"))
    restarted = {
        n: _trainer(_mirrored(n), tiny_dataset, **{**flags, "critic_augment_p": 0.05}) for n in (1, 2)
    }
    for n, trainer in restarted.items():
        checkpoints.restore(trainer.checkpoint, path)
        copies = trainer.strategy.experimental_local_results(trainer.augmentation.p)
        assert len(copies) == n and [float(c) for c in copies] == pytest.approx([0.05] * n)
        assert int(trainer.step.numpy()) == 2
        trainer.train(tf.constant(1))
    one, two = (restarted[n].strategy.experimental_local_results(restarted[n].augmentation.p) for n in (1, 2))
    assert float(two[0]) == float(two[1]) == pytest.approx(float(one[0]))
    assert float(one[0]) != pytest.approx(0.05)  # moved from the new start


# The networks of the first version (its step had neither average nor augmentation; here
# they stay on).
# With WGAN-GP's penalty, as they trained. (The zero-centred penalty shrinks the critic's
# scale, and with it the generator's gradients: on these tiny networks a few of them sit near
# zero, where Adam's first update turns the round-off of the cross-replica sum into a sign.
# OTHER_OPTIONS checks the zero-centred penalty on networks where none does.)
FIRST_NETWORKS = {
    **{k: v for k, v in configs.GanConfig.BEFORE.items() if k in configs.GanConfig.ARCHITECTURE_KEYS},
    "gp_center": 1.0,
    "critic_consistency": 0.0,
}


@pytest.mark.parametrize(
    "variant",
    [FIRST_NETWORKS, OTHER_OPTIONS, CONSISTENCY, MODE_SEEKING, MODE_SEEKING_CRITIC, ADAPTIVE],
    ids=["first", "options", "consistency", "mode-seeking", "mode-seeking-critic", "adaptive"],
)
def test_two_replicas_compute_the_one_replica_update(tiny_dataset: Path, variant: dict) -> None:
    # With augmentation and the weight average: their random numbers come from the pipeline too.
    # Lazy penalty: a critic update with and one without (3 steps x 2 updates), on every replica.
    flags = dict(mixed_precision="off", critic_augment="translation,cutout", ema_decay=0.5, **variant)
    one = _trainer(_mirrored(1), tiny_dataset, **flags)
    two = _trainer(_mirrored(2), tiny_dataset, **flags)
    pairs = list(
        zip(*(t.generator.variables + t.critic.variables + t.generator_ema.variables for t in (one, two)))
    )
    start = [a.numpy().copy() for a, _ in pairs]
    for a, b in pairs:
        np.testing.assert_array_equal(a.numpy(), b.numpy())  # same start
    m1 = one.train(tf.constant(3))
    m2 = two.train(tf.constant(3))
    one.settle()  # the average's batch-norm statistics too, as before a checkpoint
    two.settle()
    # The bias of the critic's score cancels out of every loss term, so its true gradient is
    # 0. Under consistency the summed gradient is a round-off, which Adam's normalised step
    # turns into a small step that differs between 1 and 2 replicas: a dead weight that moves
    # nothing else, only the generator loss's reading (-D(fake) includes it). Both are left
    # out there; the generator's weights, which that loss trains, are compared as all others.
    consistency = "consistency" in m1
    assert m1.keys() == m2.keys() and consistency == (variant["critic_consistency"] > 0)
    dead = {v.path for v in one.critic.variables if v.path.endswith("bias") and v.shape == (1,)}
    assert len(dead) == 1
    for key in m1:
        if not (consistency and key == "generator_loss"):
            np.testing.assert_allclose(float(m1[key]), float(m2[key]), rtol=1e-4, atol=1e-5, err_msg=key)
    # The two sums round differently, and over a few Adam steps the difference can grow: on an
    # AMD EPYC a few dozen of about 50,000 weights (OTHER_OPTIONS; none with any one option
    # off) ended up to 1e-4 apart, an eighth of the learning rate. So a trained weight may be
    # off by less than a quarter of the rate, and only a few of each variable; statistics and
    # spectral-norm vectors are held to the tolerance. A batch fed out of turn moves nearly all.
    rate = min(one.cfg.gen_lr, one.cfg.critic_lr)
    rtol, atol = 1e-4, 2e-5
    moved = 0
    for (a, b), initial in zip(pairs, start):
        x, y = a.numpy(), b.numpy()
        if not (consistency and a.path in dead):
            if a.trainable:
                np.testing.assert_array_less(np.abs(x - y), rate / 4, err_msg=a.path)
                apart = int(np.sum(~np.isclose(x, y, rtol=rtol, atol=atol)))
                assert apart <= max(2, x.size // 100), f"{a.path}: {apart} of {x.size} apart"
            else:
                np.testing.assert_allclose(x, y, rtol=rtol, atol=atol, err_msg=a.path)
        copies = [v.numpy() for v in two.strategy.experimental_local_results(b.value)]
        assert len(copies) == 2  # one on /cpu:0, one on /cpu:1
        np.testing.assert_array_equal(copies[0], copies[1], err_msg=b.path)
        moved += not np.array_equal(initial, x)
    assert int(one.step.numpy()) == int(two.step.numpy()) == 3
    if one.augmentation.adaptive:
        p = one.augmentation.p.numpy()
        assert p == two.augmentation.p.numpy() and p != 0.5  # it moved, the same way on both
    assert moved >= len(pairs) - 4  # all but a bias or two that BN makes gradient-free (and its average)


def test_minibatch_stddev_lets_the_critic_see_a_batch_without_variety() -> None:
    critic = networks.build_critic(8, 10, stddev_group=4)
    digits = tf.random.stateless_uniform([8, 28, 28, 1], seed=[1, 2], minval=-1.0, maxval=1.0)
    labels = tf.zeros([8], tf.int32)
    together = critic([digits, labels]).numpy()
    # Consecutive groups: two halves scored apart (as two replicas would) score the same.
    apart = np.concatenate(
        [critic([digits[:4], labels[:4]]).numpy(), critic([digits[4:], labels[4:]]).numpy()]
    )
    np.testing.assert_allclose(together, apart, rtol=1e-5, atol=1e-6)
    # A digit scored among copies of itself scores differently from among varied digits.
    copies = tf.repeat(digits[:1], 4, axis=0)
    assert abs(critic([copies, labels[:4]]).numpy()[0, 0] - together[0, 0]) > 1e-4
    assert networks.build_critic(8, 10).count_params() < critic.count_params()  # one more input map


def _kernels(model: keras.Model) -> dict[str, np.ndarray]:
    """Every learned kernel as a matrix (inputs x outputs), but conditional batch norm's
    per-class scale and shift, which start at zero."""
    return {
        v.path: v.numpy().reshape(-1, v.shape[-1])
        for v in model.trainable_variables
        if v.path.endswith("kernel") and not re.search(r"_(gain|bias)/", v.path)
    }


def _gram(w: np.ndarray) -> np.ndarray:
    """W^T W or W W^T, whichever is the smaller: the identity when W's columns (or rows) are
    orthonormal."""
    return w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T


def test_orthogonal_init_starts_every_kernel_orthonormal() -> None:
    generator = networks.build_generator(
        8, 8, conditioning="batchnorm", blocks=1, output="conv", init="orthogonal"
    )
    critic = networks.build_critic(8, 10, blocks=1, blocks_7x7=1, embedding="plain", init="orthogonal")
    kernels = {**_kernels(generator), **_kernels(critic)}
    assert len(kernels) == 5 + 6  # generator: dense, 2 transposed, 2 convs; critic: 4 convs, 2 dense
    for path, w in kernels.items():
        np.testing.assert_allclose(_gram(w), np.eye(min(w.shape)), atol=1e-5, err_msg=path)
    # Keras's default (glorot) is not: the same check fails on its critic's first kernel.
    w = next(iter(_kernels(networks.build_critic(8, 10)).values()))
    assert not np.allclose(_gram(w), np.eye(min(w.shape)), atol=1e-2)


def test_architecture_options_reach_the_networks() -> None:
    defaults = config.defaults(configs.GanConfig)
    deeper = defaults.replace(critic_blocks_7x7=1)
    assert networks.critic_for(deeper).count_params() > networks.critic_for(defaults).count_params()
    orthogonal = defaults.replace(weight_init="orthogonal")
    for build in (networks.generator_for, networks.critic_for):
        kernel = next(iter(_kernels(build(orthogonal)).values()))
        np.testing.assert_allclose(_gram(kernel), np.eye(min(kernel.shape)), atol=1e-5)
    spectral = networks.generator_for(defaults.replace(gen_spectral_norm=True))
    assert spectral.count_params() > networks.generator_for(defaults).count_params()  # the u vectors
    # The critic free of spectral norm (the default): the same layers, plain, and no
    # power-iteration vectors.
    free = networks.critic_for(defaults)
    assert not defaults.critic_spectral_norm
    assert not any(isinstance(layer, (SNConv2D, SNDense)) for layer in free.layers)
    assert not any(v.path.endswith("sn_u") for v in free.variables)
    normalised = 2 + defaults.critic_blocks + defaults.critic_blocks_7x7 + 1  # the convolutions, w
    sn = networks.critic_for(defaults.replace(critic_spectral_norm=True))
    assert sum(isinstance(layer, (SNConv2D, SNDense)) for layer in sn.layers) == normalised
    plain = [layer for layer in free.layers if type(layer) in (keras.layers.Conv2D, keras.layers.Dense)]
    # and the class embedding, plain by default either way, and the class's own bias (a default)
    assert defaults.critic_class_bias and len(plain) == normalised + 2


def test_noise_conditioning_lets_the_noise_set_every_batch_norm() -> None:
    def build(conditioning: str) -> keras.Model:
        generator = networks.build_generator(4, 8, conditioning=conditioning, output="conv")
        dense_layers = [layer for layer in generator.layers if isinstance(layer, keras.layers.Dense)]
        (dense,) = [layer for layer in dense_layers if layer.kernel.shape[1] == 7 * 7 * 16]
        assert dense.kernel.shape == (4 + 10, 7 * 7 * 16)  # the input layer: noise, then class
        # The noise's rows of the input layer zeroed: the noise can reach the digit only
        # through the batch norms' scales and shifts.
        dense.kernel.assign(tf.concat([tf.zeros([4, dense.kernel.shape[1]]), dense.kernel[4:]], 0))
        return generator

    labels = tf.constant([3, 3], tf.int32)
    noise = tf.random.stateless_normal([2, 4], seed=[0, 1])
    same_class = build("batchnorm")
    scale = same_class.get_layer("norm_14x14_gain")
    assert scale.kernel.shape == (10, 8)  # one row per class
    scale.kernel.assign(tf.ones_like(scale.kernel))
    images = same_class([noise, labels], training=False).numpy()
    np.testing.assert_array_equal(images[0], images[1])  # the class alone: one digit

    noisy = build("noise")
    scales = [layer for layer in noisy.layers if layer.name.endswith(("_gain", "_bias"))]
    assert len(scales) == 2 * 3 and all(s.kernel.shape[0] == 10 + 4 for s in scales)
    # Zero-initialised, they start as the class's batch norm: the two digits still alike ...
    images = noisy([noise, labels], training=False).numpy()
    np.testing.assert_array_equal(images[0], images[1])
    # ... until a scale reads the noise.
    gain = noisy.get_layer("norm_14x14_gain")
    gain.kernel.assign(tf.concat([tf.zeros([10, 8]), tf.ones([4, 8])], 0))
    images = noisy([noise, labels], training=False).numpy()
    assert np.abs(images[0] - images[1]).max() > 1e-3


def test_per_class_noise_weights_give_each_class_its_own_first_layer_on_the_noise() -> None:
    generator = networks.build_generator(
        4, 8, conditioning="batchnorm", output="conv", noise_weights="per_class"
    )
    (shared,) = [layer for layer in generator.layers if layer.name.startswith("dense")]
    assert shared.kernel.shape == (4 + 10, 7 * 7 * 16)  # noise, then class, as without them
    own = generator.get_layer("class_noise_weights")
    assert own.kernel.shape == (4 * 10, 7 * 7 * 16)
    assert not np.any(own.kernel.numpy())  # zero at the start: the shared layer alone
    noise = tf.random.stateless_normal([3, 4], seed=[0, 1])
    threes, fives = tf.fill([3], 3), tf.fill([3], 5)
    before = generator([noise, fives], training=False).numpy()
    # Class 3's own weights set to cancel the shared ones on the noise: the noise no longer
    # reaches a 3, so every 3 is the same digit ...
    kernel = own.kernel.numpy()
    kernel[3::10] = -shared.kernel.numpy()[:4]
    own.kernel.assign(kernel)
    images = generator([noise, threes], training=False).numpy()
    np.testing.assert_allclose(images[1:], images[:1].repeat(2, 0), atol=1e-6)
    # ... while the 5s, read through the shared weights alone, are as they were and vary.
    np.testing.assert_array_equal(generator([noise, fives], training=False).numpy(), before)
    assert np.abs(before[0] - before[1]).max() > 1e-3


def test_per_class_noise_weights_into_some_maps_leave_the_other_maps_shared() -> None:
    generator = networks.build_generator(
        4, 8, conditioning="batchnorm", output="conv", noise_weights="per_class", noise_weights_maps=3
    )
    own = generator.get_layer("class_noise_weights")
    assert own.kernel.shape == (4 * 10, 7 * 7 * 3)  # 3 of the 16 maps, at every position
    own.kernel.assign(tf.random.stateless_normal(own.kernel.shape, seed=[2, 3]))
    first = keras.Model(generator.inputs, generator.get_layer("first_layer").output)
    shared = keras.Model(generator.inputs, generator.get_layer("first_layer").input[0])
    noise = tf.random.stateless_normal([5, 4], seed=[0, 1])
    labels = tf.constant([0, 3, 3, 7, 9])
    moved = (first([noise, labels]) - shared([noise, labels])).numpy().reshape(5, 7, 7, 16)
    assert np.all(np.abs(moved[..., :3]) > 0)  # the class's own weights reach the first 3 ...
    assert not np.any(moved[..., 3:])  # ... and no other map
    # More maps than there are: all of them, as 0 asks.
    for maps in (0, 99):
        whole = networks.build_generator(4, 8, noise_weights="per_class", noise_weights_maps=maps)
        assert whole.get_layer("class_noise_weights").kernel.shape == (4 * 10, 7 * 7 * 16)


def test_class_mixing_gives_each_class_its_own_1x1_convolution_after_every_block() -> None:
    generator = networks.build_generator(4, 8, conditioning="batchnorm", output="conv", class_mixing=True)
    kernels = {
        name: generator.get_layer(f"{name}_class_mixing_kernel")
        for name in ("norm_7x7", "norm_14x14", "norm_28x28")
    }
    # A channels x channels matrix per class at every block (16, 8 and 4 maps), zero at the start.
    assert {n: k.kernel.shape for n, k in kernels.items()} == {
        "norm_7x7": (10, 16 * 16),
        "norm_14x14": (10, 8 * 8),
        "norm_28x28": (10, 4 * 4),
    }
    plain = networks.build_generator(4, 8, conditioning="batchnorm", output="conv")
    # The same network without the mixing, weight for weight (its layers in the same order).
    unmixed = [layer for layer in generator.layers if layer.weights and "class_mixing" not in layer.name]
    for mine, theirs in zip([layer for layer in plain.layers if layer.weights], unmixed, strict=True):
        mine.set_weights(theirs.get_weights())
    noise = tf.random.stateless_normal([4, 4], seed=[0, 1])
    labels = tf.constant([3, 3, 5, 5])
    before = plain([noise, labels], training=False).numpy()
    np.testing.assert_allclose(generator([noise, labels], training=False).numpy(), before, atol=1e-6)
    # Class 3's own matrix at 14x14 set: the 3s change, the 5s are as they were.
    mixing = kernels["norm_14x14"]
    mixing.kernel.assign(tf.tensor_scatter_nd_update(mixing.kernel, [[3]], tf.fill([1, 64], 0.5)))
    after = generator([noise, labels], training=False).numpy()
    assert np.abs(after[:2] - before[:2]).max() > 1e-3
    np.testing.assert_allclose(after[2:], before[2:], atol=1e-6)
    # With the class beside the noise only ('input'), the first block's mixing follows its reshape.
    flat = networks.build_generator(4, 8, class_mixing=True)
    assert flat.get_layer("norm_7x7_class_mixing").output.shape[1:] == (7, 7, 16)


def test_critic_blocks_at_7x7_are_3x3_convolutions_after_the_second_stride() -> None:
    deeper = networks.build_critic(8, 10, blocks=1, blocks_7x7=2)
    convs = [layer for layer in deeper.layers if isinstance(layer, SNConv2D)]
    shapes = [(layer.kernel_size, layer.strides, layer.output.shape[1:]) for layer in convs]
    assert shapes == [
        ((4, 4), (2, 2), (14, 14, 8)),
        ((3, 3), (1, 1), (14, 14, 8)),
        ((4, 4), (2, 2), (7, 7, 16)),
        ((3, 3), (1, 1), (7, 7, 16)),
        ((3, 3), (1, 1), (7, 7, 16)),
    ]
    digits = tf.zeros([3, 28, 28, 1])
    assert deeper([digits, tf.constant([0, 4, 9])]).shape == (3, 1)


def test_critic_class_bias_gives_each_class_its_own_bias_on_the_first_feature_maps() -> None:
    critic = networks.build_critic(8, 10, blocks=1, embedding="plain", spectral=False, class_bias=True)
    bias = critic.get_layer("class_bias_14x14")
    assert bias.kernel.shape == (10, 8) and not np.any(bias.kernel.numpy())  # zero at the start
    assert critic.get_layer("class_bias_14x14_add").output.shape[1:] == (14, 14, 8)
    plain = networks.build_critic(8, 10, blocks=1, embedding="plain", spectral=False)
    # The same network without the bias, weight for weight (its layers in the same order).
    unbiased = [layer for layer in critic.layers if layer.weights and "class_bias" not in layer.name]
    for mine, theirs in zip([layer for layer in plain.layers if layer.weights], unbiased, strict=True):
        mine.set_weights(theirs.get_weights())
    digits = tf.random.stateless_uniform([4, 28, 28, 1], seed=[0, 2], minval=-1.0, maxval=1.0)
    labels = tf.constant([3, 3, 5, 5])
    before = plain([digits, labels]).numpy()
    np.testing.assert_allclose(critic([digits, labels]).numpy(), before, atol=1e-6)
    # Class 3's bias set: the 3s' scores change, the 5s' are as they were.
    bias.kernel.assign(tf.tensor_scatter_nd_update(bias.kernel, [[3]], tf.fill([1, 8], 0.5)))
    after = critic([digits, labels]).numpy()
    assert np.abs(after[:2] - before[:2]).max() > 1e-3
    np.testing.assert_allclose(after[2:], before[2:], atol=1e-6)
    cfg = config.defaults(configs.GanConfig)
    assert cfg.critic_class_bias  # the default since 2026-12-07 (README, Quality)
    assert networks.critic_for(cfg).get_layer("class_bias_14x14").kernel.shape == (10, cfg.critic_width)
    plain_default = networks.critic_for(cfg.replace(critic_class_bias=False))
    assert not any("class_bias" in layer.name for layer in plain_default.layers)


def _flat(variables: list[tf.Variable]) -> np.ndarray:
    return np.concatenate([v.numpy().ravel() for v in variables])


def test_two_replicas_agree_in_bfloat16(tiny_dataset: Path) -> None:
    # bfloat16 keeps 8 mantissa bits and oneDNN blocks a batch of 4 differently from one of
    # 8, so the two runs agree only to rounding: the same losses to 0.5 % (or 1e-3), the same
    # update direction. A replica that saw the wrong half or scaled its loss wrongly misses both.
    # The generator's loss, a mean of scores near zero, to 5e-3: with seeds 1-6, with the
    # mode-seeking term and without, it came up to 2.6e-3 apart (1e-3 held for this seed
    # until the term, on by default for a day, changed its draws); the others within 1e-3 or
    # 0.5 %. The term's own reading, when it is on, to 5e-3 too.
    one = _trainer(_mirrored(1), tiny_dataset, mixed_precision="bfloat16")
    two = _trainer(_mirrored(2), tiny_dataset, mixed_precision="bfloat16")
    assert one.generator.layers[-1].compute_dtype == "float32"  # the output layer stays exact
    assert any(layer.compute_dtype == "bfloat16" for layer in one.generator.layers)
    assert keras.mixed_precision.global_policy().name == "float32"  # models built later: float32
    weights = [m.trainable_variables for m in (one.generator, one.critic, two.generator, two.critic)]
    start = _flat(weights[0] + weights[1])
    m1 = one.train(tf.constant(3))
    m2 = two.train(tf.constant(3))
    bounds = dict.fromkeys(("critic_loss", "gradient_penalty", "wasserstein"), 1e-3)
    bounds["generator_loss"] = 5e-3
    if one.cfg.gen_mode_seeking > 0:
        bounds["mode_seeking"] = 5e-3
    assert ("mode_seeking" in m1) == (one.cfg.gen_mode_seeking > 0)
    for key, atol in bounds.items():
        np.testing.assert_allclose(float(m1[key]), float(m2[key]), rtol=5e-3, atol=atol, err_msg=key)
    u1, u2 = _flat(weights[0] + weights[1]) - start, _flat(weights[2] + weights[3]) - start
    # Measured: 0.15-0.28 of the update's norm apart (seeds, machines; 0.28 on an AVX2-only CPU
    # with oneDNN on), against 0.96-1.42 for a second run fed other digits (twice the batch,
    # another seed): 0.5 tells them apart with room on both sides.
    assert np.linalg.norm(u1 - u2) < 0.5 * np.linalg.norm(u1)
    for v in two.generator.variables + two.critic.variables:
        copies = [c.numpy() for c in two.strategy.experimental_local_results(v.value)]
        np.testing.assert_array_equal(copies[0], copies[1], err_msg=v.path)


@pytest.mark.parametrize(
    "extra",
    [{}, {"gen_mode_seeking": 0.5, "gen_mode_seeking_space": "critic"}],
    ids=["defaults", "mode-seeking-critic"],
)
def test_float16_scales_its_losses_and_makes_the_float32_update(tiny_dataset: Path, extra: dict) -> None:
    # What a GPU trains in: float16 with a dynamic loss scale (2**15 to start). The loss must
    # be scaled where the tape records it (it was not: every gradient came out None and the
    # first step failed), and the scale divided out of every gradient, the penalty's inner
    # one included. The defaults' step (consistency on, the critic free) on two replicas
    # against the same step in float32 on one: the same readings to float16's rounding, the
    # same update direction.
    # Also with the mode-seeking term in the critic's float16 features, summed across replicas.
    cfg = dict(crit_steps=1, gp_every=1, **extra)
    half = _trainer(_mirrored(2), tiny_dataset, mixed_precision="float16", **cfg)
    full = _trainer(_mirrored(1), tiny_dataset, mixed_precision="off", **cfg)
    assert isinstance(half.critic_opt, keras.optimizers.LossScaleOptimizer)
    assert isinstance(half.gen_opt, keras.optimizers.LossScaleOptimizer)
    assert any(layer.compute_dtype == "float16" for layer in half.critic.layers)
    assert half.cfg.critic_consistency > 0 and not half.cfg.critic_spectral_norm  # the defaults
    weights = [m.trainable_variables for m in (half.generator, half.critic, full.generator, full.critic)]
    start = _flat(weights[0] + weights[1])
    m16 = half.train(tf.constant(3))
    m32 = full.train(tf.constant(3))
    for key in (
        "critic_loss",
        "generator_loss",
        "gradient_penalty",
        "wasserstein",
        "consistency",
        *m32.keys() & {"mode_seeking"},
    ):
        assert np.isfinite(float(m16[key])), key
        np.testing.assert_allclose(float(m16[key]), float(m32[key]), rtol=0.05, atol=2e-3, err_msg=key)
    u16, u32 = _flat(weights[0] + weights[1]) - start, _flat(weights[2] + weights[3]) - start
    assert np.all(np.isfinite(u16)) and np.linalg.norm(u16 - u32) < 0.5 * np.linalg.norm(u32)
    for opt in (half.critic_opt, half.gen_opt):  # no update skipped for an overflow: all applied
        assert float(opt.dynamic_scale.numpy()) == 2.0**15


def test_linear_decay_ends_at_the_share_asked_for(tiny_dataset: Path) -> None:
    trainer = _trainer(
        tf.distribute.get_strategy(),
        tiny_dataset,
        lr_decay="linear",
        lr_decay_to=0.25,
        mixed_precision="off",
        gen_lr_early_factor=3.0,
        gen_lr_early_steps=2,
    )
    cfg = trainer.cfg
    # The generator's first 2 steps at its early rate, on the same decay; the critic's at its own.
    early = trainer.train(tf.constant(1))
    np.testing.assert_allclose(float(early["gen_lr"]), 3 * cfg.gen_lr * (1 - 0.75 * 0.1), rtol=1e-6)
    np.testing.assert_allclose(float(early["critic_lr"]), cfg.critic_lr * (1 - 0.75 * 0.1), rtol=1e-6)
    halfway = trainer.train(tf.constant(4))  # of the 10 steps the trainer was built for
    np.testing.assert_allclose(float(halfway["gen_lr"]), cfg.gen_lr * (1 - 0.75 * 0.5), rtol=1e-6)
    np.testing.assert_allclose(float(halfway["critic_lr"]), cfg.critic_lr * (1 - 0.75 * 0.5), rtol=1e-6)
    end = trainer.train(tf.constant(5))
    np.testing.assert_allclose(float(end["gen_lr"]), 0.25 * cfg.gen_lr, rtol=1e-6)


def _adam_reference(grads: list[float], betas: list[float], lr: float = 0.1, beta_2: float = 0.9) -> float:
    """Keras's Adam in float64, with update t's beta_1 (its bias correction included) given."""
    x = m = v = 0.0
    for t, (g, b1) in enumerate(zip(grads, betas), start=1):
        m += (g - m) * (1 - b1)
        v += (g * g - v) * (1 - beta_2)
        x -= lr * np.sqrt(1 - beta_2**t) / (1 - b1**t) * m / (np.sqrt(v) + 1e-7)
    return x


def test_early_beta_1_is_adam_with_one_beta_then_the_other() -> None:
    grads = [1.0, 3.0, -2.0, 5.0, 0.5]
    x = tf.Variable(0.0)
    opt = optimizers.EarlyAdam(0.1, beta_1=0.0, beta_2=0.9, early_beta_1=0.5, early_updates=2)
    for g in grads:
        opt.apply_gradients([(tf.constant(g), x)])
    np.testing.assert_allclose(float(x.numpy()), _adam_reference(grads, [0.5, 0.5, 0, 0, 0]), rtol=1e-5)
    # Not plain Adam with either beta: the switch is what this checks.
    for beta in (0.0, 0.5):
        assert not np.isclose(float(x.numpy()), _adam_reference(grads, [beta] * len(grads)), rtol=1e-3)


@pytest.mark.parametrize("replicas", [1, 2])
def test_fused_adam_is_kerass_adam_on_one_or_two_replicas(replicas: int) -> None:
    rng = np.random.default_rng(0)
    start = rng.standard_normal((40, 30)).astype("float32")
    grads = [rng.standard_normal((40, 30)).astype("float32") for _ in range(5)]
    strategy = _mirrored(replicas)
    with strategy.scope():
        fused_x, plain_x = keras.Variable(start, name="x"), keras.Variable(start, name="x")
        fused = optimizers.FusedAdam(0.01, beta_1=0.5, beta_2=0.9)
        plain = keras.optimizers.Adam(0.01, beta_1=0.5, beta_2=0.9)
        fused.build([fused_x])
        plain.build([plain_x])

    @tf.function
    def update(g: tf.Tensor) -> None:
        def each_replica() -> None:  # every replica's gradient g / replicas: the sum is g
            share = g / replicas
            fused.apply([share], [fused_x])
            plain.apply([share], [plain_x])

        strategy.run(each_replica)

    for g in grads:
        update(tf.constant(g))
    moved = np.abs(plain_x.numpy() - start).max()
    assert moved > 0.04  # five updates of about the rate each
    np.testing.assert_allclose(fused_x.numpy(), plain_x.numpy(), atol=1e-6)
    # The same moments, which a checkpoint holds under the same names.
    assert [v.name for v in fused.variables] == [v.name for v in plain.variables]
    np.testing.assert_allclose(fused.variables[2].numpy(), plain.variables[2].numpy(), atol=1e-6)


def test_early_rate_is_the_factor_then_the_rate_with_plain_adams_variables() -> None:
    x, y = tf.Variable(0.0), tf.Variable(0.0)
    opt = optimizers.EarlyAdam(0.1, beta_1=0.0, beta_2=0.9, rate_factor=2.0, rate_updates=3)
    plain = keras.optimizers.Adam(0.1, beta_1=0.0, beta_2=0.9)
    rates = []
    for _ in range(5):
        rates.append(float(opt.learning_rate))
        opt.apply_gradients([(tf.constant(1.0), x)])
        plain.apply_gradients([(tf.constant(1.0), y)])
    np.testing.assert_allclose(rates, [0.2, 0.2, 0.2, 0.1, 0.1], rtol=1e-6)
    # What a checkpoint holds is plain Adam's, so it does not depend on the option.
    assert [v.name for v in opt.variables] == [v.name for v in plain.variables]
    assert float(x.numpy()) < float(y.numpy())  # the early steps went twice as far


@pytest.mark.parametrize("decay", ["none", "linear"])
def test_a_run_resumes_with_its_early_rate_off(tiny_dataset: Path, tmp_path: Path, decay: str) -> None:
    # The checkpoint holds the same objects whatever the rate options: a plain rate would be
    # saved as a variable that a schedule lacks.
    same = dict(lr_decay=decay, mixed_precision="off")
    on = _trainer(tf.distribute.get_strategy(), tiny_dataset, gen_lr_early_steps=2, **same)
    on.train(tf.constant(1))
    path = on.checkpoint.save(str(tmp_path / "ckpt"))
    off = _trainer(tf.distribute.get_strategy(), tiny_dataset, gen_lr_early_steps=0, **same)
    checkpoints.restore(off.checkpoint, path)  # a CheckpointError if the objects differ
    assert int(off.gen_opt.iterations.numpy()) == 1
    gen_lr, critic_lr = float(off.gen_opt.learning_rate), float(off.critic_opt.learning_rate)
    np.testing.assert_allclose(gen_lr, critic_lr, rtol=1e-6)  # off: the generator's own rate


def test_early_beta_1_lasts_its_generator_steps(tiny_dataset: Path) -> None:
    # Two critic updates a step: the critic's switch comes after 2 x 2 of its updates.
    trainer = _trainer(
        tf.distribute.get_strategy(),
        tiny_dataset,
        beta_1=0.0,
        beta_1_early=0.5,
        beta_1_early_steps=2,
        mixed_precision="off",
    )
    for steps, expected in ((1, 0.5), (1, 0.0)):
        assert float(trainer.gen_opt.beta_1) == float(trainer.critic_opt.beta_1) == 0.5
        trainer.train(tf.constant(steps))
        assert float(trainer.gen_opt.beta_1) == float(trainer.critic_opt.beta_1) == expected


def test_training_changes_the_weights(tiny_dataset: Path) -> None:
    trainer = _trainer(tf.distribute.get_strategy(), tiny_dataset)
    before = [v.numpy().copy() for v in trainer.generator.trainable_variables]
    metrics = trainer.train(tf.constant(2))
    after = [v.numpy() for v in trainer.generator.trainable_variables]
    assert all(np.isfinite(float(v)) for v in metrics.values())
    assert sum(not np.array_equal(a, b) for a, b in zip(before, after)) == len(before)


def test_checkpoint_restore_gives_identical_generator(tiny_dataset: Path, tmp_path: Path) -> None:
    trainer = _trainer(tf.distribute.get_strategy(), tiny_dataset)
    trainer.train(tf.constant(2))
    path = trainer.checkpoint.save(str(tmp_path / "ckpt"))
    z, y = tf.random.normal((10, 8), seed=1), tf.range(10)
    expected = trainer.generator([z, y], training=False).numpy()
    fresh = _trainer(tf.distribute.get_strategy(), tiny_dataset, seed=99)
    assert not np.allclose(fresh.generator([z, y], training=False).numpy(), expected)
    fresh.checkpoint.restore(path).assert_consumed()
    np.testing.assert_array_equal(fresh.generator([z, y], training=False).numpy(), expected)
    assert int(fresh.step.numpy()) == 2


TINY_FLAGS = TINY_GAN_FLAGS


@pytest.fixture(scope="module")
def tiny_run(
    tmp_path_factory: pytest.TempPathFactory, sample_dir: Path, trained_classifier: Path
) -> dict[str, object]:
    """A 4-step train.py run on real digits with evaluation, then a resume to 6 steps."""
    root = tmp_path_factory.mktemp("gan")
    common = ["--classifier-dir", str(trained_classifier), *TINY_FLAGS]
    first = run_train(sample_dir, root, *common, "--steps", "4", "--eval-every", "2", "--save-every", "2")
    second = run_train(
        sample_dir,
        root,
        *common,
        "--steps",
        "6",
        "--eval-every",
        "2",
        "--save-every",
        "2",
        "--keep-checkpoints",
        "2",
    )
    return {"root": root, "data": sample_dir, "first": first, "second": second, "common": common}


def test_run_reports_scores_and_writes_outputs(tiny_run: dict) -> None:
    first = tiny_run["first"]
    assert first.returncode == 0, first.stderr[-3000:]
    assert re.search(r"recognised as asked: [\d.]+%; FID [\d.]+ \(real-data floor [\d.]+\)", first.stdout)
    ckpt = tiny_run["root"] / "ckpt"
    # --keep-checkpoints 2 in the resumed run: ckpt-2 went out of the rotation.
    assert sorted(p.name for p in ckpt.glob("ckpt-*.index")) == ["ckpt-4.index", "ckpt-6.index"]
    saved = config.load(configs.GanConfig, ckpt / "config-gan.yaml")
    assert saved.steps == 6 and saved.gen_width == 8  # the config of the newest run (the resume)
    # The default precision "auto" is saved as what it resolved to on this machine.
    expected, _ = precision.resolve("auto")
    assert saved.mixed_precision == expected
    assert f"precision: {precision.POLICIES[expected]}; auto: " in first.stdout


def test_event_files_hold_scalars_and_image(tiny_run: dict) -> None:
    log_dir = Path(printed(r"logs: (\S+)", tiny_run["first"].stdout))
    assert (log_dir / "config-gan.yaml").is_file()
    tags: dict[str, list[int]] = {}
    for event_file in log_dir.glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            for value in event.summary.value:
                tags.setdefault(value.tag, []).append(event.step)
    for name in (
        "critic_loss",
        "generator_loss",
        "gradient_penalty",
        "wasserstein",
        "gen_lr",
        "critic_lr",
        "images_per_second",
    ):
        assert tags.get(f"train/{name}") == [2, 4], name
    for name in ("fid", "fid_floor", "accuracy"):
        assert tags.get(f"eval/{name}") == [2, 4], name
    assert tags.get("samples") == [2, 4]
    # The same grids as PNG, and an animation of them, for a look without TensorBoard.
    pngs = sorted(p.name for p in (log_dir / "samples").glob("*.png"))
    assert pngs == ["step-0000002.png", "step-0000004.png"]
    assert Image.open(log_dir / "samples" / pngs[0]).size == (12 + 302, 302)  # rows labelled on the left
    gif = Image.open(log_dir / "progress.gif")
    assert getattr(gif, "n_frames", 1) == 2
    assert gif.size == (12 + 302, 14 + 302)  # a caption strip naming the step on top


def test_rerun_resumes_from_checkpoint(tiny_run: dict) -> None:
    second = tiny_run["second"]
    assert second.returncode == 0, second.stderr[-3000:]
    assert "resumed from step 4 in " in second.stdout and "; training to step 6 (--steps)" in second.stdout
    assert (tiny_run["root"] / "ckpt" / "ckpt-6.index").is_file()


def test_other_architecture_checkpoint_refused(tiny_run: dict) -> None:
    result = run_train(
        tiny_run["data"], tiny_run["root"], *tiny_run["common"], "--steps", "8", "--gen-width", "16"
    )
    assert result.returncode == 2
    assert "cannot be continued with this data or architecture (gen_width 8 -> 16)" in result.stderr
    assert result.stdout == ""  # found after the data is read, and still the only line
    # Networks alone: the flags that continue it as it was (after a change of defaults, say).
    assert result.stderr.rstrip().endswith("or continue it as it was: --gen-width 8")


def test_missing_classifier_says_what_to_run(sample_dir: Path, tmp_path: Path) -> None:
    result = run_train(
        sample_dir, tmp_path, "--classifier-dir", str(tmp_path / "nothing"), *TINY_FLAGS, "--steps", "2"
    )
    assert result.returncode == 2
    assert "no trained classifier here; run ./classifier.py first" in result.stderr
    assert result.stderr.rstrip().endswith("or train without in-training scores (--no-eval)")
    assert not (tmp_path / "ckpt").exists()


def test_indivisible_batch_refused(tiny_dataset: Path, tmp_path: Path) -> None:
    result = run_train(tiny_dataset, tmp_path, "--no-eval", "--batch-size", "15", "--cpu-replicas", "2")
    assert result.returncode == 2
    assert "batch size 15 does not divide by the 2 replicas" in result.stderr


def test_mode_seeking_with_an_odd_batch_per_replica_refused(tiny_dataset: Path, tmp_path: Path) -> None:
    # The term (off by default) pairs digits: the user is told the batches that work, or to turn it off.
    flags = ("--no-eval", "--batch-size", "6", "--cpu-replicas", "2")
    result = run_train(tiny_dataset, tmp_path, *flags, "--gen-mode-seeking", "0.005")
    assert result.returncode == 2 and result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1
    assert "--gen-mode-seeking pairs the digits of each replica's batch, which holds 3" in result.stderr
    assert "--batch-size 4" in result.stderr and "--gen-mode-seeking 0 to train" in result.stderr
    assert not (tmp_path / "ckpt").exists()
    # Without it (the default), the same odd batch per replica trains (the tiny networks' batch overridden).
    off = run_train(tiny_dataset, tmp_path, *TINY_GAN_FLAGS, *flags, "--steps", "2")
    assert off.returncode == 0, off.stderr[-3000:]


def test_two_replica_run_without_eval(tiny_dataset: Path, tmp_path: Path) -> None:
    result = run_train(
        tiny_dataset, tmp_path, "--no-eval", *TINY_FLAGS, "--steps", "2", "--cpu-replicas", "2"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "MirroredStrategy, 2 replicas" in result.stdout
    assert (tmp_path / "ckpt" / "ckpt-2.index").is_file()


def test_best_checkpoint_by_fid_kept_apart(tiny_run: dict) -> None:
    from mnist_gan import generation

    ckpt = tiny_run["root"] / "ckpt"
    fids = {
        int(step): float(fid)
        for run in ("first", "second")
        for step, fid in re.findall(
            r"step (\d+) \([\d.]+ min of training\): fid ([\d.e+-]+)", tiny_run[run].stdout
        )
    }
    assert sorted(fids) == [2, 4, 6], fids
    best_step = min(fids, key=lambda k: fids[k])
    saved = yaml.safe_load((ckpt / "best" / "best.yaml").read_text())
    assert saved["step"] == best_step and saved["fid"] == pytest.approx(fids[best_step], rel=1e-3)
    assert sorted(p.name for p in (ckpt / "best").glob("*.index")) == [f"ckpt-{best_step}.index"]
    path = generation.load_generator(ckpt, "best").path
    assert path == str(ckpt / "best" / f"ckpt-{best_step}")


def test_a_critic_metric_reported_but_not_named_stops_the_trace(tiny_dataset: Path) -> None:
    # The step's metric sums are set up from _critic_metrics before the loop; a name added to
    # critic_update alone would be dropped without a word.
    trainer = _trainer(tf.distribute.get_strategy(), tiny_dataset)
    plain = trainer.critic_update

    def more(
        batch: dict[str, tf.Tensor], update: tf.Tensor, p: tf.Tensor | None = None
    ) -> dict[str, tf.Tensor]:
        return {**plain(batch, update, p), "new_metric": tf.constant(1.0)}

    trainer.critic_update = more  # type: ignore[method-assign]
    with pytest.raises(ValueError, match=r"critic_update reports .*new_metric"):
        trainer.train(tf.constant(1))


def test_epochs_over_a_given_steps_is_noted() -> None:
    from mnist_gan.configs import GanConfig
    from mnist_gan.runtime.config import defaults
    from mnist_gan.training.gan import length_note, total_steps

    cfg = defaults(GanConfig).replace(epochs=0.5, batch_size=10)
    assert total_steps(cfg, 1000) == 50 and length_note(cfg, 50) is None  # --steps left at its default
    given = cfg.replace(steps=40)
    assert total_steps(given, 1000) == 50
    assert length_note(given, 50) == "note: --epochs 0.5 sets the length (50 steps); --steps 40 is unused"
    assert length_note(given.replace(epochs=0), 40) is None
    # Less than a step asked for: one step, said (it was trained without a word).
    tiny = cfg.replace(epochs=0.001, batch_size=64)
    assert total_steps(tiny, 4000) == 1
    assert length_note(tiny, 1, 4000) == (
        "note: --epochs 0.001 is less than a step: the run's length is 1 step of 64 images "
        "(0.016 pass over the 4,000 training images)"
    )
    assert length_note(cfg.replace(epochs=0.01), 1, 1000) is None  # 10 of a step of 10: a step
