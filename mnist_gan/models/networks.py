"""The three networks: the evaluator classifier, the conditional generator and critic.

All take images as (N, 28, 28, 1) in [-1, 1] and labels as ints 0 to ``num_classes`` - 1
(the class count comes from the data: 10 for digits). Under mixed
precision the last layer of each runs in float32 so losses and scores stay exact.
"""

from __future__ import annotations

from functools import partial

import keras
import numpy as np
from keras import layers

from mnist_gan.configs import (
    CRITIC_EMBEDDING,
    GEN_CONDITIONING,
    GEN_NOISE_WEIGHTS,
    GEN_OUTPUT,
    WEIGHT_INIT,
    GanConfig,
)
from mnist_gan.models.spectral_norm import SNConv2D, SNConv2DTranspose, SNDense

DIGIT_CLASSES = 10  # MNIST's, and the default of every network
IMAGE_SHAPE = (28, 28, 1)
# The layer whose output a network's features are: the classifier's that the scores read
# (:func:`feature_extractor`), the critic's that its score and projection read
# (:func:`critic_with_features`).
FEATURES = "features"


def _initializer(init: str) -> str:
    """The Keras kernel initializer a ``weight_init`` value names."""
    if init not in WEIGHT_INIT:
        raise ValueError(f"unknown weight init {init!r}")
    return "glorot_uniform" if init == "glorot" else "orthogonal"


def fixed_noise(seed: int, count: int, noise_dim: int) -> np.ndarray:
    """Generator noise that depends only on ``seed``: the same digits at every call and resume.

    NumPy's, for the training grids and the scored digits (in training and ``evaluate.py``);
    ``generate.py`` and the SavedModel draw theirs in the graph
    (:func:`mnist_gan.generation.seeded_noise`), so one ``--seed`` gives other noise there."""
    return np.random.default_rng(seed).standard_normal((count, noise_dim)).astype(np.float32)


def _conv_bn_relu(x: keras.KerasTensor, filters: int) -> keras.KerasTensor:
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    # Synchronized: with several replicas the moving statistics would otherwise drift apart.
    # Momentum 0.9: the 5k-digit sample trains for only a few hundred steps, too few for
    # the default 0.99 to forget the initial statistics.
    x = layers.BatchNormalization(synchronized=True, momentum=0.9)(x)
    return layers.ReLU()(x)


def build_classifier(
    width: int, feature_dim: int, dropout: float, num_classes: int = DIGIT_CLASSES
) -> keras.Model:
    """A small VGG-style CNN: image -> one logit per class, with a ``features`` layer for FID."""
    images = keras.Input(IMAGE_SHAPE, name="images")
    x = _conv_bn_relu(images, width)
    x = _conv_bn_relu(x, width)
    x = layers.MaxPooling2D()(x)
    x = _conv_bn_relu(x, 2 * width)
    x = _conv_bn_relu(x, 2 * width)
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dense(feature_dim, activation="relu", name=FEATURES)(x)
    x = layers.Dropout(dropout)(x)
    logits = layers.Dense(num_classes, name="logits", dtype="float32")(x)
    return keras.Model(images, logits, name="classifier")


def feature_extractor(classifier: keras.Model) -> keras.Model:
    """The classifier seen as image -> (features, logits), sharing its weights."""
    return keras.Model(
        classifier.input,
        [classifier.get_layer(FEATURES).output, classifier.output],
        name="classifier_features",
    )


def _class_norm(x: keras.KerasTensor, condition: keras.KerasTensor, name: str) -> keras.KerasTensor:
    """Batch norm over channels with a scale and shift per class (conditional batch norm,
    de Vries et al. 2017): the class then shapes every block, not only the input. Given the
    one-hot label and the noise side by side, the scale and shift are linear in both
    (BigGAN-deep, Brock et al. 2019), so the noise too reaches every block.

    The normalisation itself stays a top-level BatchNormalization layer, so the weight
    average finds it and recomputes its statistics (:mod:`mnist_gan.training.ema`).
    """
    x = layers.BatchNormalization(synchronized=True, center=False, scale=False, name=name)(x)
    channels = x.shape[-1]
    # Zero-initialised: training starts from plain batch norm (scale 1, shift 0) for every class.
    gain = layers.Dense(channels, use_bias=False, kernel_initializer="zeros", name=f"{name}_gain")(condition)
    bias = layers.Dense(channels, use_bias=False, kernel_initializer="zeros", name=f"{name}_bias")(condition)
    return layers.Lambda(
        lambda t: t[0] * (1.0 + t[1][:, None, None, :]) + t[2][:, None, None, :],
        output_shape=tuple(x.shape[1:]),
        name=f"{name}_affine",
    )([x, gain, bias])


def _noise_through_class_weights(
    noise: keras.KerasTensor, onehot: keras.KerasTensor, channels: int, maps: int
) -> keras.KerasTensor:
    """V_y z: the noise z through first-layer weights V_y of its class y's own, into the
    first ``maps`` of the ``channels`` 7x7 feature maps (flattened as the shared layer's
    output is; zero in the others).

    Added to the shared layer W [z, y], each class can send the noise into directions of
    the 7x7 feature maps of its own, rather than all classes sharing one map of it.
    V is one bias-free Dense on z's outer product with the one-hot label (V_y its rows
    y, y + classes, ...), zero-initialised, so training starts from the shared layer alone,
    and left free under spectral normalisation, as the class's scales and shifts are.
    Fewer maps make V smaller: the optimiser and the weight average pass over every one of
    its numbers each step.
    """
    noise_dim, classes = noise.shape[-1], onehot.shape[-1]
    outer = layers.Lambda(
        lambda t: keras.ops.reshape(t[0][:, :, None] * t[1][:, None, :], (-1, noise_dim * classes)),
        output_shape=(noise_dim * classes,),
        name="noise_by_class",
    )([noise, onehot])
    own = layers.Dense(7 * 7 * maps, use_bias=False, kernel_initializer="zeros", name="class_noise_weights")(
        outer
    )
    if maps == channels:
        return own
    return layers.Lambda(
        lambda t: keras.ops.reshape(
            keras.ops.pad(keras.ops.reshape(t, (-1, 7 * 7, maps)), ((0, 0), (0, 0), (0, channels - maps))),
            (-1, 7 * 7 * channels),
        ),
        output_shape=(7 * 7 * channels,),
        name="class_noise_maps",
    )(own)


def _class_mixing(x: keras.KerasTensor, onehot: keras.KerasTensor, name: str) -> keras.KerasTensor:
    """x + x M_y: a 1x1 convolution of the class y's own over the feature maps.

    Conditional batch norm gives each class a scale per feature map, a diagonal M_y; this
    lets a class also combine the maps, so the features a block hands on can differ by class
    in direction, not only in size. M_y is a bias-free Dense on the one-hot label (its row
    y), zero-initialised, so training starts from the block without it; channels^2 weights
    a class, few beside the first layer's.
    """
    channels = x.shape[-1]
    kernel = layers.Dense(
        channels * channels, use_bias=False, kernel_initializer="zeros", name=f"{name}_kernel"
    )(onehot)
    return layers.Lambda(
        lambda t: (
            t[0] + keras.ops.einsum("bhwc,bcd->bhwd", t[0], keras.ops.reshape(t[1], (-1, channels, channels)))
        ),
        output_shape=tuple(x.shape[1:]),
        name=name,
    )([x, kernel])


def _norm_relu(x: keras.KerasTensor, condition: keras.KerasTensor | None, name: str) -> keras.KerasTensor:
    """Batch norm (its scale and shift set by ``condition`` when given), then ReLU."""
    if condition is None:
        return layers.ReLU()(layers.BatchNormalization(synchronized=True)(x))
    return layers.ReLU()(_class_norm(x, condition, name))


def build_generator(
    noise_dim: int,
    width: int,
    num_classes: int = DIGIT_CLASSES,
    conditioning: str = "input",
    blocks: int = 0,
    output: str = "transposed",
    init: str = "glorot",
    spectral: bool = False,
    noise_weights: str = "shared",
    noise_weights_maps: int = 0,
    class_mixing: bool = False,
) -> keras.Model:
    """Conditional DCGAN generator at native 28x28: (noise, label) -> image in [-1, 1].

    The label enters as a one-hot vector beside the noise; two stride-2 transposed
    convolutions take 7x7 to 28x28, with ``blocks`` more 3x3 convolutions at 14x14.
    ``conditioning`` 'batchnorm' also gives every batch norm a scale and shift per class
    (:func:`_class_norm`), 'noise' one computed from the class and the noise; 'input' is the
    original network, whose first batch norm works per feature before the reshape. ``output``
    'transposed' draws the image with the last transposed convolution; 'conv' makes it
    ``width // 2`` feature maps at 28x28 and draws the image from them with a 3x3
    convolution, so neighbouring pixels of a stroke come from shared features rather than
    from alternating kernel taps. ``init`` names how the kernels start
    (:data:`~mnist_gan.configs.WEIGHT_INIT`). ``spectral`` normalises every dense and
    convolution kernel as the critic's are (SAGAN, BigGAN); the per-class scales and shifts
    stay free (they start at zero, whose largest singular value is zero). ``noise_weights``
    'per_class' gives the first layer, beside its weights shared by every class, a set of
    weights on the noise for each class (:func:`_noise_through_class_weights`), into the
    first ``noise_weights_maps`` of its ``2 * width`` feature maps (0, or more than there
    are: all of them). ``class_mixing`` follows every block's batch norm and ReLU with a 1x1
    convolution of the class's own (:func:`_class_mixing`).
    """
    if conditioning not in GEN_CONDITIONING:
        raise ValueError(f"unknown generator conditioning {conditioning!r}")
    if noise_weights not in GEN_NOISE_WEIGHTS:
        raise ValueError(f"unknown generator noise weights {noise_weights!r}")
    if noise_weights_maps < 0:
        raise ValueError(f"noise_weights_maps must be >= 0, got {noise_weights_maps}")
    if output not in GEN_OUTPUT:
        raise ValueError(f"unknown generator output {output!r}")
    kinds = (
        (SNDense, SNConv2D, SNConv2DTranspose)
        if spectral
        else (layers.Dense, layers.Conv2D, layers.Conv2DTranspose)
    )
    k = _initializer(init)
    dense, conv, up = (partial(kind, kernel_initializer=k) for kind in kinds)
    noise = keras.Input((noise_dim,), name="noise")
    labels = keras.Input((), dtype="int32", name="labels")
    onehot = layers.Lambda(lambda y: keras.ops.one_hot(y, num_classes), output_shape=(num_classes,))(labels)
    condition = None  # what sets every batch norm's scale and shift; None: nothing does
    if conditioning == "batchnorm":
        condition = onehot
    elif conditioning == "noise":
        condition = layers.Concatenate(name="class_and_noise")([onehot, noise])
    x = layers.Concatenate()([noise, onehot])
    x = dense(7 * 7 * 2 * width, use_bias=False)(x)
    if noise_weights == "per_class":
        maps = min(noise_weights_maps or 2 * width, 2 * width)
        x = layers.Add(name="first_layer")([x, _noise_through_class_weights(noise, onehot, 2 * width, maps)])

    def mixed(x: keras.KerasTensor, name: str) -> keras.KerasTensor:
        """``x`` through the class's own 1x1 convolution, if asked (``class_mixing``)."""
        return _class_mixing(x, onehot, f"{name}_class_mixing") if class_mixing else x

    def block_end(x: keras.KerasTensor, name: str) -> keras.KerasTensor:
        """A block's batch norm (its scale and shift set by ``condition``) and ReLU, then ``mixed``."""
        return mixed(_norm_relu(x, condition, name), name)

    if condition is None:  # the original network: its first batch norm per feature, before the reshape
        x = mixed(layers.Reshape((7, 7, 2 * width))(_norm_relu(x, None, "")), "norm_7x7")
    else:
        x = block_end(layers.Reshape((7, 7, 2 * width))(x), "norm_7x7")
    x = up(width, 4, strides=2, padding="same", use_bias=False)(x)
    x = block_end(x, "norm_14x14")
    for i in range(blocks):
        x = block_end(conv(width, 3, padding="same", use_bias=False)(x), f"norm_14x14_{i + 1}")
    if output == "transposed":
        x = up(1, 4, strides=2, padding="same")(x)
    else:
        x = up(max(width // 2, 1), 4, strides=2, padding="same", use_bias=False)(x)
        x = block_end(x, "norm_28x28")
        x = conv(1, 3, padding="same")(x)
    images = layers.Activation("tanh", dtype="float32", name="images")(x)
    return keras.Model([noise, labels], images, name="generator")


def _minibatch_stddev(x: keras.KerasTensor, group: int) -> keras.KerasTensor:
    """One more feature map: how much the features vary within each group of ``group``
    consecutive samples (Karras et al. 2018). A critic that sees it can tell a batch of
    near-identical digits from a varied real one, which pushes the generator to vary.

    Groups are consecutive, so a batch split across replicas in consecutive shares (as
    ``tf.distribute`` splits it) forms the same groups on 1 or N replicas.
    """

    def stddev(t: keras.KerasTensor) -> keras.KerasTensor:
        shape = keras.ops.shape(t)
        grouped = keras.ops.reshape(keras.ops.cast(t, "float32"), (-1, group, *t.shape[1:]))
        spread = keras.ops.sqrt(keras.ops.var(grouped, axis=1) + 1e-8)  # per group, feature
        per_group = keras.ops.mean(spread, axis=(1, 2, 3), keepdims=True)  # (groups, 1, 1, 1)
        tiled = keras.ops.repeat(per_group, group, axis=0)
        stat = keras.ops.broadcast_to(tiled, (shape[0], shape[1], shape[2], 1))
        return keras.ops.concatenate([t, keras.ops.cast(stat, t.dtype)], axis=-1)

    return layers.Lambda(stddev, output_shape=(*x.shape[1:-1], x.shape[-1] + 1), name="minibatch_stddev")(x)


def _class_bias(
    x: keras.KerasTensor, labels: keras.KerasTensor, num_classes: int, name: str
) -> keras.KerasTensor:
    """x + b_y: a bias per feature map of the class y's own, before the LeakyReLU.

    Otherwise the class enters the critic only at its projection head, as one direction
    over features computed alike for every class; a bias of the class's own moves where
    each feature's LeakyReLU bends, so the first features can already differ by class, at
    no cost in FLOPs. A bias-free Dense on the one-hot label (its row y), zero-initialised
    so training starts from the critic without it, and left free as the class embedding is.
    """
    # A one-hot of its own, not the projection head's: that one is made after the convolutions,
    # and moving it would reorder the layers of every critic built without the bias.
    onehot = layers.Lambda(
        lambda y: keras.ops.one_hot(y, num_classes), output_shape=(num_classes,), name=f"{name}_onehot"
    )(labels)
    bias = layers.Dense(x.shape[-1], use_bias=False, kernel_initializer="zeros", name=name)(onehot)
    return layers.Lambda(
        lambda t: t[0] + keras.ops.cast(t[1], t[0].dtype)[:, None, None, :],
        output_shape=tuple(x.shape[1:]),
        name=f"{name}_add",
    )([x, bias])


def build_critic(
    width: int,
    num_classes: int = DIGIT_CLASSES,
    blocks: int = 0,
    embedding: str = "spectral",
    stddev_group: int = 0,
    blocks_7x7: int = 0,
    init: str = "glorot",
    spectral: bool = True,
    class_bias: bool = False,
) -> keras.Model:
    """Conditional critic with a projection head (Miyato & Koyama 2018), as first built
    (these arguments' defaults); :func:`critic_for` builds the configured one.

    score(x, y) = w . h(x) + <E y_onehot, h(x)>, every convolution and w spectrally
    normalised, no batch norm (it would couple the samples the gradient penalty treats one
    by one); ``blocks`` more 3x3 convolutions at 14x14, ``blocks_7x7`` at 7x7. The label
    embedding E is a bias-free Dense on a one-hot vector (spectral normalisation of an Embedding layer
    receives no gradient in Keras 3), spectrally normalised with ``embedding`` 'spectral',
    left free with 'plain': one largest singular value then no longer caps how far the
    ten class directions may grow (the gradient penalty still bounds the critic).
    ``stddev_group`` > 0 adds the minibatch standard deviation over groups of that many
    samples before the second stride (:func:`_minibatch_stddev`); every batch the critic
    sees must then divide by it. ``init`` names how the kernels start. ``spectral`` False
    leaves the convolutions and w free (the gradient penalty alone bounds the critic); the
    embedding follows ``embedding`` either way. ``class_bias`` adds a bias of each class's
    own to the first convolution's feature maps (:func:`_class_bias`).
    """
    if embedding not in CRITIC_EMBEDDING:
        raise ValueError(f"unknown critic embedding {embedding!r}")
    k = _initializer(init)
    kinds = (SNConv2D, SNDense) if spectral else (layers.Conv2D, layers.Dense)
    embed_kind = SNDense if embedding == "spectral" else layers.Dense
    conv, dense, embed = (partial(kind, kernel_initializer=k) for kind in (*kinds, embed_kind))
    images = keras.Input(IMAGE_SHAPE, name="images")
    labels = keras.Input((), dtype="int32", name="labels")
    x = conv(width, 4, strides=2, padding="same")(images)
    if class_bias:
        x = _class_bias(x, labels, num_classes, "class_bias_14x14")
    x = layers.LeakyReLU(0.2)(x)
    for _ in range(blocks):  # more 3x3 convolutions at 14x14
        x = layers.LeakyReLU(0.2)(conv(width, 3, padding="same")(x))
    if stddev_group:
        x = _minibatch_stddev(x, stddev_group)
    x = conv(2 * width, 4, strides=2, padding="same")(x)
    x = layers.LeakyReLU(0.2)(x)
    for _ in range(blocks_7x7):
        x = layers.LeakyReLU(0.2)(conv(2 * width, 3, padding="same")(x))
    h = layers.Flatten(name=FEATURES)(x)
    unconditional = dense(1)(h)
    onehot = layers.Lambda(
        lambda y: keras.ops.one_hot(y, num_classes, dtype=h.dtype), output_shape=(num_classes,)
    )(labels)
    embedded = embed(h.shape[-1], use_bias=False, name="label_embedding")(onehot)
    # A product summed over features rather than layers.Dot: Dot runs as a batch of (1 x n)
    # by (n x 1) matmuls, a visible share of a bfloat16 step's op time for next to no FLOPs.
    # float32, as the score it is part of: a sum of 6,272 terms needs more than 8 bits.
    projection = layers.Lambda(
        lambda t: keras.ops.sum(t[0] * t[1], axis=-1, keepdims=True),
        output_shape=(1,),
        dtype="float32",
        name="projection",
    )([embedded, h])
    score = layers.Add(dtype="float32", name="score")([unconditional, projection])
    return keras.Model([images, labels], score, name="critic")


def critic_with_features(critic: keras.Model) -> keras.Model:
    """``critic`` (its layers shared, not copied) returning [score, features]: the features
    its score and projection are computed from."""
    return keras.Model(critic.inputs, [critic.output, critic.get_layer(FEATURES).output])


def generator_for(cfg: GanConfig, num_classes: int = DIGIT_CLASSES) -> keras.Model:
    """The generator ``cfg`` describes."""
    return build_generator(
        cfg.noise_dim,
        cfg.gen_width,
        num_classes,
        conditioning=cfg.gen_conditioning,
        blocks=cfg.gen_blocks,
        output=cfg.gen_output,
        init=cfg.weight_init,
        spectral=cfg.gen_spectral_norm,
        noise_weights=cfg.gen_noise_weights,
        noise_weights_maps=cfg.gen_noise_weights_maps,
        class_mixing=cfg.gen_class_mixing,
    )


def critic_for(cfg: GanConfig, num_classes: int = DIGIT_CLASSES) -> keras.Model:
    """The critic ``cfg`` describes."""
    return build_critic(
        cfg.critic_width,
        num_classes,
        blocks=cfg.critic_blocks,
        embedding=cfg.critic_embedding,
        stddev_group=cfg.critic_stddev_group,
        blocks_7x7=cfg.critic_blocks_7x7,
        init=cfg.weight_init,
        spectral=cfg.critic_spectral_norm,
        class_bias=cfg.critic_class_bias,
    )
