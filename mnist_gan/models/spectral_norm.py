"""Spectrally normalised convolution, transposed convolution and dense layers (Miyato et al.
2018), as in the paper.

``keras.layers.SpectralNormalization`` *assigns* W/sigma to the kernel on every training
call, so no gradient flows through sigma and the kernel is rescaled between updates; on
this project's critic that trained markedly worse. Here the kernel stays as trained and
the forward pass uses W/sigma(W), with sigma from one power iteration per training call and
the gradient flowing through it, as the paper does.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import layers, ops


def _l2_normalize(x: Any) -> Any:
    return x / (ops.sqrt(ops.sum(ops.square(x))) + 1e-12)


class _SpectralNorm:
    """Mixin: a power-iteration vector ``u``, the normalised kernel, and the layer's bias and
    activation applied after the convolution or product."""

    kernel: Any
    u: Any
    bias: Any
    use_bias: bool
    activation: Any
    compute_dtype: Any

    def _add_u(self, layer: layers.Layer, units: int) -> None:
        self.u = layer.add_weight(
            shape=(1, units),
            initializer=keras.initializers.RandomNormal(),
            trainable=False,
            name="sn_u",
            # Every replica computes the same u from the same kernel: keep the first.
            aggregation="only_first_replica",
        )

    def normalized_kernel(self, training: bool | None) -> Any:
        """W / sigma(W), sigma estimated by one power iteration (which updates u in training)."""
        kernel = ops.cast(self.kernel, "float32")
        w = ops.reshape(kernel, (-1, kernel.shape[-1]))
        u = ops.cast(self.u, "float32")
        v = _l2_normalize(ops.matmul(u, ops.transpose(w)))
        u = _l2_normalize(ops.matmul(v, w))
        u, v = ops.stop_gradient(u), ops.stop_gradient(v)
        if training:
            self.u.assign(u)
        sigma = ops.sum(ops.matmul(v, w) * u)
        return kernel / sigma

    def _bias_and_activation(self, out: Any) -> Any:
        """``out`` plus the bias (if any), through the activation (if any)."""
        if self.use_bias:
            out = out + ops.cast(self.bias, self.compute_dtype)
        return self.activation(out) if self.activation is not None else out


class SNConv2D(_SpectralNorm, layers.Conv2D):
    """``Conv2D`` whose kernel is divided by its largest singular value."""

    def build(self, input_shape: Any) -> None:
        super().build(input_shape)
        self._add_u(self, self.filters)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        kernel = ops.cast(self.normalized_kernel(training), self.compute_dtype)
        out = ops.conv(
            inputs, kernel, strides=self.strides, padding=self.padding, data_format=self.data_format
        )
        return self._bias_and_activation(out)


class SNDense(_SpectralNorm, layers.Dense):
    """``Dense`` whose kernel is divided by its largest singular value."""

    def build(self, input_shape: Any) -> None:
        super().build(input_shape)
        self._add_u(self, self.units)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        kernel = ops.cast(self.normalized_kernel(training), self.compute_dtype)
        out = ops.matmul(inputs, kernel)
        return self._bias_and_activation(out)


class SNConv2DTranspose(_SpectralNorm, layers.Conv2DTranspose):
    """``Conv2DTranspose`` whose kernel is divided by its largest singular value.

    The kernel is (height, width, outputs, inputs); the power iteration runs on it as a
    (height * width * outputs, inputs) matrix: the matrix of the strided convolution this
    layer transposes, whose largest singular value is the transposed one's too.
    """

    def build(self, input_shape: Any) -> None:
        super().build(input_shape)
        self._add_u(self, self.kernel.shape[-1])

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        kernel = ops.cast(self.normalized_kernel(training), self.compute_dtype)
        out = ops.conv_transpose(
            inputs,
            kernel,
            strides=self.strides,
            padding=self.padding,
            output_padding=self.output_padding,
            data_format=self.data_format,
            dilation_rate=self.dilation_rate,
        )
        return self._bias_and_activation(out)
