"""Digit images as pictures: grids and PNG files."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from mnist_gan.runtime.files import atomic_write_bytes


def grid(images: np.ndarray, rows: int, cols: int, pad: int = 2) -> np.ndarray:
    """Tile uint8 images (rows*cols, H, W[, 1]) row by row into one (rows*(H+pad)+pad, ...) image.

    The padding is mid-grey so that black digit backgrounds stay apart.
    """
    images = np.asarray(images)
    if images.ndim == 4:
        images = images[..., 0]
    if images.shape[0] != rows * cols:
        raise ValueError(f"grid of {rows}x{cols} needs {rows * cols} images, got {images.shape[0]}")
    h, w = images.shape[1:3]
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad), 128, dtype=np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, cols)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        out[top : top + h, left : left + w] = image
    return out


def pairs(left: np.ndarray, right: np.ndarray, per_row: int) -> np.ndarray:
    """uint8 images side by side in pairs, ``per_row`` pairs to a row, a wider gap between pairs.

    ``left[i]`` and ``right[i]`` (N, H, W[, 1]) make pair i; pairs fill rows in order.
    """
    left, right = np.asarray(left), np.asarray(right)
    if left.shape != right.shape or len(left) == 0:
        raise ValueError(f"need two equal, non-empty stacks of images, got {left.shape} and {right.shape}")
    tiles = np.stack([grid(np.stack([a, b]), 1, 2, pad=1) for a, b in zip(left, right)])
    rows = -(-len(tiles) // per_row)
    blank = np.full((rows * per_row - len(tiles), *tiles.shape[1:]), 128, dtype=np.uint8)
    return grid(np.concatenate([tiles, blank]), rows, per_row, pad=6)


def _text(canvas: np.ndarray, xy: tuple[int, int], text: str) -> np.ndarray:
    """``text`` drawn in white at ``xy`` (top-left) with PIL's built-in font."""
    picture = Image.fromarray(canvas, mode="L")
    ImageDraw.Draw(picture).text(xy, text, fill=255, font=ImageFont.load_default(size=10))
    return np.asarray(picture, dtype=np.uint8)


def label_rows(picture: np.ndarray, labels: list[str], row_height: int, pad: int = 2) -> np.ndarray:
    """A :func:`grid` with a margin on the left naming each row (e.g. the digit asked for)."""
    margin = 6 * max(len(s) for s in labels) + 6
    out = np.concatenate([np.zeros((picture.shape[0], margin), np.uint8), picture], axis=1)
    for r, label in enumerate(labels):
        out = _text(out, (2, pad + r * (row_height + pad) + row_height // 2 - 6), label)
    return out


def caption(picture: np.ndarray, text: str, height: int = 14) -> np.ndarray:
    """``picture`` with a black strip on top carrying ``text`` (e.g. the training step)."""
    out = np.concatenate([np.zeros((height, picture.shape[1]), np.uint8), picture], axis=0)
    return _text(out, (2, 1), text)


def upscale(images: np.ndarray, factor: int) -> np.ndarray:
    """Images (..., H, W) enlarged ``factor`` times by repeating pixels (no blur)."""
    return np.repeat(np.repeat(images, factor, axis=-2), factor, axis=-1)


def png_bytes(image: np.ndarray) -> bytes:
    """A greyscale uint8 (H, W) array as PNG bytes (no timestamp: same pixels, same bytes)."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def save_png(path: str | Path, image: np.ndarray) -> Path:
    """Write a greyscale uint8 (H, W) array as PNG, atomically."""
    atomic_write_bytes(Path(path), png_bytes(image))
    return Path(path)


def gif_bytes(frames: np.ndarray, frame_ms: int = 80) -> bytes:
    """Greyscale uint8 frames (T, H, W) as an endlessly looping animated GIF."""
    pictures = [Image.fromarray(np.asarray(f, dtype=np.uint8), mode="L") for f in frames]
    buffer = io.BytesIO()
    pictures[0].save(
        buffer, format="GIF", save_all=True, append_images=pictures[1:], duration=frame_ms, loop=0
    )
    return buffer.getvalue()


def save_gif(path: str | Path, frames: np.ndarray, frame_ms: int = 80) -> Path:
    """Write frames as an animated GIF, atomically."""
    atomic_write_bytes(Path(path), gif_bytes(frames, frame_ms))
    return Path(path)
