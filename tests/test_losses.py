"""The gradient penalty and the spectral norm do what the papers say."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from mnist_gan.models import losses, networks
from mnist_gan.models.spectral_norm import SNConv2D, SNConv2DTranspose, SNDense


def _numeric_grad_norms(fn, x: np.ndarray, h: float = 1e-3) -> np.ndarray:
    """Central-difference ||grad_x fn(x_i)|| for every example i (float64)."""
    norms = []
    for i in range(x.shape[0]):
        xi = x[i : i + 1].astype(np.float64)
        grad = np.zeros_like(xi)
        flat, gflat = xi.reshape(-1), grad.reshape(-1)
        for j in range(flat.size):
            old = flat[j]
            flat[j] = old + h
            up = float(fn(xi.astype(np.float32))[0, 0])
            flat[j] = old - h
            down = float(fn(xi.astype(np.float32))[0, 0])
            flat[j] = old
            gflat[j] = (up - down) / (2 * h)
        norms.append(np.sqrt(np.sum(grad**2)))
    return np.array(norms)


def test_gradient_penalty_matches_numeric_gradient() -> None:
    keras.utils.set_random_seed(3)
    tiny = keras.Sequential(
        [keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(8, "tanh"), keras.layers.Dense(1)]
    )
    x = np.random.default_rng(0).standard_normal((3, 4, 4, 1)).astype(np.float32)
    gp = losses.gradient_penalty(lambda p: tiny(p), tf.constant(x)).numpy()
    norms = _numeric_grad_norms(lambda p: tiny(p).numpy(), x)
    np.testing.assert_allclose(gp, (norms - 1.0) ** 2, rtol=2e-3, atol=1e-5)
    # A loss scale (as used with float16) must not change the penalty.
    scaled = losses.gradient_penalty(lambda p: tiny(p), tf.constant(x), loss_scale=1024.0).numpy()
    np.testing.assert_allclose(scaled, gp, rtol=1e-5)
    # Zero-centred: the squared norm itself.
    zero = losses.gradient_penalty(lambda p: tiny(p), tf.constant(x), center=0.0).numpy()
    np.testing.assert_allclose(zero, norms**2, rtol=4e-3, atol=1e-5)


def test_interpolation_weight_per_example() -> None:
    real, fake = tf.zeros((2, 28, 28, 1)), tf.ones((2, 28, 28, 1))
    points = losses.interpolate(real, fake, tf.constant([0.25, 0.75])).numpy()
    np.testing.assert_allclose(points[0], 0.25)
    np.testing.assert_allclose(points[1], 0.75)


def test_wasserstein_losses_signs() -> None:
    real, fake = tf.constant([[2.0], [3.0]]), tf.constant([[1.0], [0.0]])
    np.testing.assert_allclose(losses.critic_loss(real, fake).numpy(), [-1.0, -3.0])
    np.testing.assert_allclose(losses.generator_loss(fake).numpy(), [-1.0, -0.0])
    # What the loss reports beside itself, under the names the trainer logs and shows.
    shown = losses.reported(real, fake)
    assert tuple(shown) == losses.REPORTED
    np.testing.assert_allclose(shown["wasserstein"].numpy(), [1.0, 3.0])


def test_consistency_is_the_squared_change_per_example() -> None:
    scores = tf.constant([[1.0], [2.0], [-1.0]], tf.bfloat16)
    shifted = tf.constant([[1.0], [0.5], [1.0]])
    out = losses.consistency(scores, shifted)
    assert out.dtype == tf.float32 and out.shape == (3,)
    np.testing.assert_allclose(out.numpy(), [0.0, 2.25, 4.0])


def test_mode_seeking_is_one_over_the_image_gap_per_noise_gap_of_each_pair() -> None:
    # Two pairs of 2x2 images: gaps 0.5 and 0.1 in the images, 1.0 and 0.5 in the noise.
    images = np.zeros((4, 2, 2, 1), np.float32)
    images[1] += 0.5
    images[3] += 0.1
    noise = np.array([[0.0, 0.0], [1.0, -1.0], [0.0, 0.0], [0.5, 0.5]], np.float32)
    out = losses.mode_seeking(tf.constant(images, tf.bfloat16), tf.constant(noise))
    assert out.dtype == tf.float32 and out.shape == (4,)
    eps = losses.MODE_SEEKING_EPSILON
    expected = [1 / (0.5 / 1.0 + eps)] * 2 + [1 / (0.1 / 0.5 + eps)] * 2
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-2)  # bfloat16 images: 0.1 to 3 digits
    # Minimising it pushes the images of a pair apart, the nearer pair the harder.
    x = tf.Variable(images)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(losses.mode_seeking(x, tf.constant(noise)))
    grad = tape.gradient(loss, x).numpy()
    assert np.all(grad[1] < 0) and np.all(grad[0] > 0)  # descent raises image 1, lowers image 0
    assert np.abs(grad[3]).max() > 10 * np.abs(grad[1]).max()


def test_mode_seeking_of_features_measures_them_in_their_spread() -> None:
    # Features (N, F): a pair's gap over the unit, then over its noise's gap.
    features = np.array([[0.0, 0.0], [2.0, 0.0], [1.0, 1.0], [1.0, 1.4]], np.float32)
    noise = np.array([[0.0], [1.0], [0.0], [2.0]], np.float32)
    unit = losses.mean_absolute_deviation(tf.constant(features), global_batch=4)
    expected_unit = np.abs(features - features.mean(axis=0)).mean()
    np.testing.assert_allclose(float(unit), expected_unit, rtol=1e-6)
    out = losses.mode_seeking(tf.constant(features), tf.constant(noise), unit).numpy()
    eps = losses.MODE_SEEKING_EPSILON
    gaps = np.array([1.0, 0.2]) / expected_unit / np.array([1.0, 2.0])
    np.testing.assert_allclose(out, np.repeat(1 / (gaps + eps), 2), rtol=1e-5)
    # The unit is a unit, not a target: no gradient flows through it.
    x = tf.Variable(features)
    with tf.GradientTape() as tape:
        spread = losses.mean_absolute_deviation(x, global_batch=4)
    assert tape.gradient(spread, x) is None
    # A batch collapsed onto one point: a floored unit, a large finite term, not 0 / 0.
    same = tf.zeros((4, 2))
    collapsed = losses.mode_seeking(same, tf.constant(noise), losses.mean_absolute_deviation(same, 4))
    assert np.all(np.isfinite(collapsed.numpy())) and np.all(collapsed.numpy() > 1e3)


def test_the_features_unit_is_the_global_batchs_on_any_number_of_replicas() -> None:
    features = tf.constant(np.random.default_rng(0).normal(size=(8, 5)), tf.float32)
    one = float(losses.mean_absolute_deviation(features, global_batch=8))
    strategy = tf.distribute.MirroredStrategy(
        ["/cpu:0", "/cpu:1"], cross_device_ops=tf.distribute.ReductionToOneDevice()
    )
    shares = strategy.experimental_distribute_values_from_function(
        lambda context: tf.split(features, 2)[context.replica_id_in_sync_group]
    )
    per_replica = strategy.run(lambda h: losses.mean_absolute_deviation(h, global_batch=8), args=(shares,))
    both = [float(v) for v in strategy.experimental_local_results(per_replica)]
    np.testing.assert_allclose(both, [one, one], rtol=1e-6)
    # Either half's own spread differs from the whole batch's: the sums cross the replicas.
    half = float(losses.mean_absolute_deviation(features[:4], global_batch=4))
    assert abs(half - one) > 1e-3


def test_spectral_norm_keeps_sigma_near_one() -> None:
    keras.utils.set_random_seed(0)
    critic = networks.build_critic(16)
    opt = keras.optimizers.Adam(2e-4, beta_1=0.5, beta_2=0.9)
    x = tf.random.normal((16, 28, 28, 1))
    y = tf.range(16) % 10
    sn_layers = [layer for layer in critic.layers if isinstance(layer, (SNConv2D, SNDense))]
    assert len(sn_layers) == 4  # two convolutions, the output and the label embedding
    for layer in sn_layers:  # scale the kernels far from sigma = 1 so normalising matters
        layer.kernel.assign(layer.kernel * 3.0)
    raw = [np.linalg.svd(_matrix(layer.kernel), compute_uv=False)[0] for layer in sn_layers]
    for _ in range(60):  # power iterations converge as training runs
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(critic([x, y], training=True))
        opt.apply_gradients(zip(tape.gradient(loss, critic.trainable_variables), critic.trainable_variables))
    for _ in range(10):  # a few more power iterations on the final kernels
        critic([x, y], training=True)
    for layer, sigma_raw in zip(sn_layers, raw):
        sigma = np.linalg.svd(_matrix(layer.normalized_kernel(training=False)), compute_uv=False)[0]
        # power iteration under-estimates sigma a little, never over: sigma lands just above 1
        assert 0.99 < sigma < 1.1, (layer.name, sigma)
        assert sigma_raw > 1.5  # the raw kernels are far from normalised


def test_spectral_transposed_convolution_is_the_plain_one_with_the_normalised_kernel() -> None:
    keras.utils.set_random_seed(0)
    x = tf.random.normal((2, 7, 7, 4), seed=1)
    spectral = SNConv2DTranspose(3, 4, strides=2, padding="same", bias_initializer="random_normal")
    plain = keras.layers.Conv2DTranspose(3, 4, strides=2, padding="same")
    spectral(x, training=True), plain(x)
    spectral.kernel.assign(spectral.kernel * 3.0)  # far from sigma = 1, so normalising matters
    for _ in range(30):  # power iterations
        spectral(x, training=True)
    out = spectral(x, training=False)
    kernel = spectral.normalized_kernel(training=False)
    plain.kernel.assign(kernel)
    plain.bias.assign(spectral.bias)
    assert out.shape == (2, 14, 14, 3)
    np.testing.assert_allclose(out.numpy(), plain(x).numpy(), rtol=1e-5, atol=1e-5)
    assert 0.99 < np.linalg.svd(_matrix(kernel), compute_uv=False)[0] < 1.02
    assert np.linalg.svd(_matrix(spectral.kernel), compute_uv=False)[0] > 1.5


def _matrix(kernel: object) -> np.ndarray:
    k = np.asarray(kernel)
    return k.reshape(-1, k.shape[-1])


def test_spectral_norm_gradient_flows_through_sigma() -> None:
    layer = SNDense(3, use_bias=False)
    x = tf.random.normal((4, 5), seed=0)
    layer(x, training=True)
    with tf.GradientTape() as tape:
        out = tf.reduce_sum(layer(x, training=False))
    grad = tape.gradient(out, layer.kernel)
    # The Keras wrapper's assign-based form would give d(x W)/dW = x^T 1 exactly; the
    # paper's W/sigma(W) gives something else.
    plain = tf.matmul(x, tf.ones((4, 3)), transpose_a=True) / float(
        np.linalg.svd(_matrix(layer.kernel), compute_uv=False)[0]
    )
    assert not np.allclose(grad.numpy(), plain.numpy(), atol=1e-4)
