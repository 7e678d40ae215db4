"""The GAN's optimizers: Adam with an optional linear learning-rate decay, an early rate and an
early beta_1."""

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


class EarlyRate(keras.optimizers.schedules.LearningRateSchedule):
    """``schedule`` (a rate, or a schedule of one) times ``factor`` for the first
    ``early_updates`` updates, then ``schedule``.

    Like :class:`EarlyBetaAdam`, it follows the optimizer's update count, which checkpoints
    hold, so a resumed run changes rate where an uninterrupted one would.
    """

    def __init__(self, schedule: Any, factor: float, early_updates: int) -> None:
        self.schedule, self.factor, self.early_updates = schedule, factor, early_updates

    def __call__(self, step: Any) -> Any:
        rate = self.schedule(step) if callable(self.schedule) else self.schedule
        return rate * keras.ops.where(keras.ops.less(step, self.early_updates), self.factor, 1.0)

    def get_config(self) -> dict[str, Any]:
        schedule = self.schedule
        if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
            schedule = keras.optimizers.schedules.serialize(schedule)
        return {"schedule": schedule, "factor": self.factor, "early_updates": self.early_updates}


def adam(
    cfg: GanConfig,
    lr: float,
    steps: int,
    updates_per_step: int,
    loss_scaling: bool,
    early_lr: float | None = None,
    early_steps: int = 0,
) -> keras.optimizers.Optimizer:
    """Adam for one network over a run of ``steps`` generator steps, ``updates_per_step`` of
    its updates in each (the unit of ``cfg.beta_1_early_steps`` and ``early_steps``). For its
    first ``early_steps`` steps the rate is ``early_lr`` instead of ``lr``, on the same decay."""
    schedule: float | keras.optimizers.schedules.LearningRateSchedule = lr
    if cfg.lr_decay == "linear":
        updates = max(steps * updates_per_step, 1)
        schedule = keras.optimizers.schedules.PolynomialDecay(lr, updates, lr * cfg.lr_decay_to)
    if early_steps and early_lr is not None and early_lr != lr:
        schedule = EarlyRate(schedule, early_lr / lr, early_steps * updates_per_step)
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
