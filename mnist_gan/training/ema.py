"""An exponential moving average of a model's weights, the copy a GAN is sampled from.

Averaging the generator's weights over the last few hundred updates smooths out the
oscillation of adversarial training (Yazıcı et al. 2019; the practice of BigGAN and the
StyleGAN family). The raw model keeps training; only the average is drawn from.

Batch norm needs care: the raw model's moving statistics describe the raw weights' activations,
not the average's. The average's statistics are recomputed from its own activations on a
fixed batch of inputs ("standing statistics", Brock et al. 2019), one batch-norm layer at a
time in inference mode, so each layer sees its input as inference will produce it.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf
from keras import layers


class WeightAverage:
    """Keeps ``average`` (a model built like ``model``) at the moving average of its weights.

    Both methods run in cross-replica context (inside ``tf.function``, outside
    ``strategy.run``): every replica holds the same weights after a synchronised update,
    so the average is computed once and written to every copy. Spectral normalisation's
    power-iteration vectors are copied from the model, not averaged.
    """

    def __init__(
        self, model: keras.Model, average: keras.Model, decay: float, inputs: Sequence[tf.Tensor]
    ) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {decay}")
        shapes = [tuple(v.shape) for v in model.variables]
        if shapes != [tuple(v.shape) for v in average.variables]:
            raise ValueError("the average must be built like the model (the same variables in order)")
        self.model = model
        self.average = average
        self.decay = decay
        self.inputs = list(inputs)
        # Spectral normalisation's power-iteration vectors follow the model's weights, which the
        # average stays close to: copied, not averaged, so its sigma estimate is as converged.
        self._power_vectors = [
            (a, w)
            for a, w in zip(average.non_trainable_variables, model.non_trainable_variables)
            if a.path.endswith("sn_u")
        ]
        self._norms = [layer for layer in average.layers if isinstance(layer, layers.BatchNormalization)]
        # The input of every batch-norm layer, as the averaged model computes it in inference.
        self._probe = keras.Model(average.inputs, [n.input for n in self._norms]) if self._norms else None

    def copy_weights(self) -> None:
        """Make the average equal to the model (at the start, or for a checkpoint without one)."""
        for a, w in zip(self.average.variables, self.model.variables):
            a.assign(w)

    def update(self, updates: tf.Tensor) -> None:
        """Fold in the model's current weights after its ``updates``-th update.

        The decay ramps up as min(decay, (1 + t) / (10 + t)), as TensorFlow's
        ExponentialMovingAverage does, so the first updates are not outweighed by the
        random initial weights.
        """
        t = tf.cast(updates, tf.float32)
        decay = tf.minimum(self.decay, (1.0 + t) / (10.0 + t))
        for a, w in zip(self.average.trainable_variables, self.model.trainable_variables):
            a.assign_sub((a - w) * (1.0 - decay))  # = decay a + (1 - decay) w, in fewer passes
        for a, w in self._power_vectors:
            a.assign(w)

    def refresh_statistics(self) -> None:
        """Recompute the average's batch-norm statistics from its own activations."""
        if self._probe is None:
            return
        for i, norm in enumerate(self._norms):
            # Later layers' inputs depend on earlier layers' statistics: one pass per layer.
            outputs = self._probe(self.inputs, training=False)
            x = tf.cast(outputs[i] if len(self._norms) > 1 else outputs, tf.float32)
            mean, variance = tf.nn.moments(x, axes=list(range(len(x.shape) - 1)))
            norm.moving_mean.assign(mean)
            norm.moving_variance.assign(variance)
