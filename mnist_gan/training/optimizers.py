"""The GAN's optimizers: Adam with an optional linear learning-rate decay, an early beta_1 and
an early rate, its update made by TensorFlow's fused kernel."""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from mnist_gan.configs import GanConfig


def _handle(variable: Any) -> Any:
    """The resource handle of a Keras or TensorFlow variable (inside ``strategy.extended.update``,
    a mirrored variable's handle is its copy on the device being updated)."""
    return (variable.value if isinstance(variable, keras.Variable) else variable).handle


class FusedAdam(keras.optimizers.Adam):
    """Keras's Adam, each variable updated by TensorFlow's fused ``ResourceApplyAdam`` kernel.

    The same update as Keras's (m += (g - m)(1 - beta_1), v += (g^2 - v)(1 - beta_2),
    x -= alpha m / (sqrt(v) + epsilon)), to within float32 rounding, and the same variables
    in a checkpoint; but one pass over a variable and its two moments where Keras's update
    makes about a dozen elementwise passes, which is most of the cost of a large, cheap
    layer such as the generator's per-class first-layer weights.
    """

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> None:
        if self.amsgrad:
            super().update_step(gradient, variable, learning_rate)
            return
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        index = self._get_variable_index(variable)
        tf.raw_ops.ResourceApplyAdam(
            var=_handle(variable),
            m=_handle(self._momentums[index]),
            v=_handle(self._velocities[index]),
            beta1_power=tf.pow(beta_1, step),
            beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype),
            beta1=beta_1,
            beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(gradient, dtype),
        )


class EarlyAdam(FusedAdam):
    """Adam whose beta_1 is ``early_beta_1`` for its first ``early_updates`` updates, then
    ``beta_1``, and whose learning rate is ``rate_factor`` times its own for its first
    ``rate_updates`` updates.

    Both switches follow the optimizer's own update count, which every checkpoint holds, so a
    resumed run switches at the same update as an uninterrupted one. Keras 3's Adam reads
    ``self.beta_1`` and its current rate in every update but takes no schedule for beta_1 and
    saves a plain rate as a variable that a schedule lacks: hence the property and the rate
    scaled where it is read, which leave what a checkpoint holds as plain Adam's.
    """

    def __init__(
        self,
        learning_rate: Any,
        *,
        beta_1: float,
        beta_2: float,
        early_beta_1: float | None = None,
        early_updates: int = 0,
        rate_factor: float = 1.0,
        rate_updates: int = 0,
    ) -> None:
        super().__init__(learning_rate, beta_1=beta_1, beta_2=beta_2)
        self._early_beta_1 = beta_1 if early_beta_1 is None else early_beta_1
        self._early_updates = early_updates
        self._rate_factor = rate_factor
        self._rate_updates = rate_updates

    @property
    def beta_1(self) -> Any:
        early = keras.ops.less(self.iterations, self._early_updates)
        return keras.ops.where(early, self._early_beta_1, self._final_beta_1)

    @beta_1.setter
    def beta_1(self, value: float) -> None:
        self._final_beta_1 = value

    def _get_current_learning_rate(self) -> Any:
        rate = super()._get_current_learning_rate()
        early = keras.ops.less(self.iterations, self._rate_updates)
        return rate * keras.ops.where(early, self._rate_factor, 1.0)

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(
            beta_1=self._final_beta_1,
            early_beta_1=self._early_beta_1,
            early_updates=self._early_updates,
            rate_factor=self._rate_factor,
            rate_updates=self._rate_updates,
        )
        return config


def adam(
    cfg: GanConfig,
    lr: float,
    steps: int,
    updates_per_step: int,
    loss_scaling: bool,
    early_factor: float = 1.0,
    early_steps: int = 0,
) -> keras.optimizers.Optimizer:
    """Adam for one network over a run of ``steps`` generator steps, ``updates_per_step`` of
    its updates in each (the unit of ``cfg.beta_1_early_steps`` and ``early_steps``). For its
    first ``early_steps`` steps the rate is ``early_factor`` times ``lr``, on the same decay."""
    schedule: float | keras.optimizers.schedules.LearningRateSchedule = lr
    if cfg.lr_decay == "linear":
        updates = max(steps * updates_per_step, 1)
        schedule = keras.optimizers.schedules.PolynomialDecay(lr, updates, lr * cfg.lr_decay_to)
    opt: keras.optimizers.Optimizer
    if cfg.beta_1_early_steps or early_steps:
        opt = EarlyAdam(
            schedule,
            beta_1=cfg.beta_1,
            beta_2=cfg.beta_2,
            early_beta_1=cfg.beta_1_early,
            early_updates=cfg.beta_1_early_steps * updates_per_step,
            rate_factor=early_factor,
            rate_updates=early_steps * updates_per_step,
        )
    else:
        opt = FusedAdam(schedule, beta_1=cfg.beta_1, beta_2=cfg.beta_2)
    if loss_scaling:
        opt = keras.optimizers.LossScaleOptimizer(opt)
    return opt
