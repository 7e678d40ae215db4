"""The GAN's optimizers: Adam with an optional linear learning-rate decay and an early beta_1."""

from __future__ import annotations

from typing import Any

import keras

from mnist_gan.configs import GanConfig


class EarlyBetaAdam(keras.optimizers.Adam):
    """Adam whose beta_1 is ``early_beta_1`` for its first ``early_updates`` updates, then
    ``beta_1``.

    The switch follows the optimizer's own update count, which every checkpoint holds, so a
    resumed run switches at the same update as an uninterrupted one. Keras 3's Adam reads
    ``self.beta_1`` in every update but takes no schedule for it: hence the property.
    """

    def __init__(
        self, learning_rate: Any, *, beta_1: float, beta_2: float, early_beta_1: float, early_updates: int
    ) -> None:
        super().__init__(learning_rate, beta_1=beta_1, beta_2=beta_2)
        self._early_beta_1 = early_beta_1
        self._early_updates = early_updates

    @property
    def beta_1(self) -> Any:
        early = keras.ops.less(self.iterations, self._early_updates)
        return keras.ops.where(early, self._early_beta_1, self._final_beta_1)

    @beta_1.setter
    def beta_1(self, value: float) -> None:
        self._final_beta_1 = value

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(
            beta_1=self._final_beta_1, early_beta_1=self._early_beta_1, early_updates=self._early_updates
        )
        return config


def adam(
    cfg: GanConfig, lr: float, steps: int, updates_per_step: int, loss_scaling: bool
) -> keras.optimizers.Optimizer:
    """Adam for one network over a run of ``steps`` generator steps, ``updates_per_step`` of
    its updates in each (the unit of ``cfg.beta_1_early_steps``)."""
    schedule: float | keras.optimizers.schedules.LearningRateSchedule = lr
    if cfg.lr_decay == "linear":
        updates = max(steps * updates_per_step, 1)
        schedule = keras.optimizers.schedules.PolynomialDecay(lr, updates, lr * cfg.lr_decay_to)
    opt: keras.optimizers.Optimizer
    if cfg.beta_1_early_steps:
        opt = EarlyBetaAdam(
            schedule,
            beta_1=cfg.beta_1,
            beta_2=cfg.beta_2,
            early_beta_1=cfg.beta_1_early,
            early_updates=cfg.beta_1_early_steps * updates_per_step,
        )
    else:
        opt = keras.optimizers.Adam(schedule, beta_1=cfg.beta_1, beta_2=cfg.beta_2)
    if loss_scaling:
        opt = keras.optimizers.LossScaleOptimizer(opt)
    return opt
