"""Reading one image file as MNIST does: 28x28 8-bit grayscale, light strokes on black.

* colour is reduced to luma by Pillow (ITU-R 601-2: L = 0.299 R + 0.587 G + 0.114 B);
* 16-bit grayscale is scaled to 8 bits (Pillow's own conversion would clip it at 255), its
  transparency (rare) ignored; 32-bit ('I') and float ('F') pixels are clipped to 0-255;
* transparency is flattened onto black, the MNIST background (MNIST digits are white on black):
  a transparent pixel becomes 0, a half-transparent one half its brightness;
* other sizes are resized with Pillow's LANCZOS filter (antialiased when shrinking), stretched
  to 28x28 without keeping the aspect ratio (as Keras does by default);
* an animated GIF gives its first frame.

What had to be done is counted in a :class:`Tally` and reported as notes.
"""

from __future__ import annotations

import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from mnist_gan.runtime import progress
from mnist_gan.runtime.errors import DataError

SIZE = 28
PROGRESS_ABOVE = 2000  # a progress bar only when reading takes more than a moment
LIGHT_BORDER = 191  # mean border level above which a background counts as light (paper)
_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "F"} | {"I;16", "I;16B", "I;16L", "I;16N"})
_ALPHA_MODES = frozenset({"LA", "La", "PA", "RGBA", "RGBa"})
# What Pillow's decoders raise for a damaged or foreign file.
_UNREADABLE = (OSError, SyntaxError, ValueError, EOFError, struct.error, Image.DecompressionBombError)


@dataclass
class Tally:
    """What the conversion had to do, for the notes."""

    colour: int = 0
    deep: int = 0
    alpha: int = 0
    animated: int = 0
    resized: int = 0
    resized_example: str = ""
    ignored: list[Path] = field(default_factory=list)  # files that are not images
    loose: list[Path] = field(default_factory=list)  # images outside any class folder


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _reason(error: Exception) -> str:
    if isinstance(error, UnidentifiedImageError):  # its message repeats the path
        return "not an image format Pillow recognises"
    return str(error) or type(error).__name__


def _open(path: Path) -> tuple[Image.Image, bool]:
    """Decode ``path`` (its first frame) and say whether it is animated; refuse it by name."""
    try:
        with Image.open(path) as image:
            animated = bool(getattr(image, "is_animated", False))
            if animated:
                image.seek(0)
            image.load()  # decode now, inside the try: a truncated file fails here
            return image, animated
    except PermissionError as e:
        raise DataError(f"{path}: cannot read this image (permission denied); check its permissions") from e
    except _UNREADABLE as e:
        raise DataError(f"{path}: cannot read this image ({_reason(e)}); remove or replace it") from e


def _is_colour(image: Image.Image) -> bool:
    """Stored in a colour mode: RGB(A), CMYK, … or a palette holding a colour (a GIF of gray is not)."""
    if image.mode in _GRAY_MODES:
        return False
    if image.mode in ("P", "PA"):
        palette = np.asarray(image.getpalette() or [0, 0, 0], dtype=np.uint8).reshape(-1, 3)
        return bool(np.any(palette != palette[:, :1]))
    return True


def _to_gray(image: Image.Image, tally: Tally) -> Image.Image:
    """8-bit grayscale: luma for colour, transparency flattened onto black, 16 bits scaled."""
    tally.colour += _is_colour(image)
    if image.mode.startswith("I;16"):  # before transparency: Pillow has no I;16 -> RGBA
        tally.deep += 1  # Pillow's convert("L") would clip everything above 255 to white
        wide = np.asarray(image, dtype=np.uint32)
        return Image.fromarray(((wide * 255 + 32767) // 65535).astype(np.uint8))
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        tally.alpha += 1
        black = Image.new("RGBA", image.size, (0, 0, 0, 255))  # MNIST's background
        return Image.alpha_composite(black, image.convert("RGBA")).convert("L")
    return image if image.mode == "L" else image.convert("L")


def _read_image(path: Path, tally: Tally) -> np.ndarray:
    """One file as a (28, 28) uint8 array."""
    image, animated = _open(path)
    tally.animated += animated
    gray = _to_gray(image, tally)
    if gray.size != (SIZE, SIZE):
        tally.resized += 1
        tally.resized_example = tally.resized_example or f"{gray.size[0]}x{gray.size[1]}"
        gray = gray.resize((SIZE, SIZE), Image.Resampling.LANCZOS)
    return np.asarray(gray, dtype=np.uint8)


def read_all(paths: list[Path], tally: Tally) -> np.ndarray:
    """All files, in order, into one (N, 28, 28) array; a progress bar on stderr for many."""
    images = np.empty((len(paths), SIZE, SIZE), dtype=np.uint8)
    few = len(paths) <= PROGRESS_ABOVE
    shown = progress.bar(len(paths), desc="reading images", unit="image", disable=few)
    # A very large image is read all the same; Pillow's warning about it is noise here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            for i, path in enumerate(paths):
                images[i] = _read_image(path, tally)
                shown.update(1)
        finally:  # a refused image's error line starts on a line of its own
            shown.close()
    return images


def light_backgrounds(images: np.ndarray) -> int:
    """How many images have a light border (dark strokes on light paper, unlike MNIST's black)."""
    border = np.concatenate(
        [images[:, 0, :], images[:, -1, :], images[:, 1:-1, 0], images[:, 1:-1, -1]], axis=1
    )
    return int(np.count_nonzero(border.mean(axis=1) > LIGHT_BORDER))


def _example(paths: list[Path], root: Path) -> str:
    return str(paths[0].relative_to(root))


def conversion_notes(tally: Tally, root: Path) -> list[str]:
    """What had to be done to the images, and what was left out, one line each."""
    candidates = [
        (tally.colour, f"converted {plural(tally.colour, 'colour image')} to grayscale"),
        (tally.deep, f"scaled {plural(tally.deep, '16-bit grayscale image')} to 8 bits"),
        (tally.alpha, f"flattened {plural(tally.alpha, 'image')} with transparency onto black"),
        (tally.animated, f"used the first frame of {plural(tally.animated, 'animated GIF')}"),
        (
            tally.resized,
            f"resized {plural(tally.resized, 'image')} from other sizes to {SIZE}x{SIZE} "
            f"(e.g. {tally.resized_example})",
        ),
    ]
    if tally.ignored:
        n = len(tally.ignored)
        what = f"{plural(n, 'file')} that {'is not an image' if n == 1 else 'are not images'}"
        candidates.append((1, f"ignored {what} (e.g. {_example(tally.ignored, root)})"))
    if tally.loose:
        what = f"{plural(len(tally.loose), 'image')} outside any class folder"
        candidates.append((1, f"ignored {what} (e.g. {_example(tally.loose, root)})"))
    return [note for count, note in candidates if count]
