"""Decoding untrusted image bytes safely, and declared preprocessing recipes.

Every check names the image's index in the request. Limits apply before the pixels are
decoded: the encoded size first, then the dimensions read from the header, so a
decompression bomb (a small file that claims a huge canvas) is refused without
allocating it.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from modelport.serving.errors import InvalidArgument

from .settings import PreprocessOptions

FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int
    max_pixels: int


def decode(data: bytes, limits: ImageLimits, field: str) -> Image.Image:
    """An RGB image with EXIF orientation applied, or InvalidArgument naming `field`."""
    if not data:
        raise InvalidArgument(field, "is empty")
    if len(data) > limits.max_bytes:
        raise InvalidArgument(field, f"is {len(data)} bytes; at most {limits.max_bytes}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data), formats=FORMATS)
            width, height = opened.size
            if width * height > limits.max_pixels:
                raise InvalidArgument(
                    field, f"is {width}x{height} pixels; at most {limits.max_pixels} pixels"
                )
            opened.seek(0)  # GIF and other animations: the first frame
            opened.load()
            return _to_rgb(ImageOps.exif_transpose(opened))
    except InvalidArgument:
        raise
    except UnidentifiedImageError as exc:
        raise InvalidArgument(field, f"is not a supported image ({', '.join(FORMATS)})") from exc
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise InvalidArgument(field, "claims too many pixels (decompression bomb)") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidArgument(field, "is truncated or corrupt") from exc


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


class Recipe:
    """Preprocessing for plain torch modules, declared in the model config
    (`options.preprocess`, see `PreprocessOptions`): resize the shorter side, centre-crop,
    scale, normalise."""

    def __init__(self, options: PreprocessOptions) -> None:
        self.options = options
        self.crop = options.crop

    def resized(self, width: int, height: int) -> tuple[int, int]:
        """The size an image of `width` x `height` is resized to before the crop."""
        factor = self.options.resize / min(width, height)
        crop = self.crop
        return max(crop, round(width * factor)), max(crop, round(height * factor))

    def crop_origin(self, resized: tuple[int, int]) -> tuple[int, int]:
        """(left, top) of the centre crop of an image resized to `resized`."""
        return (resized[0] - self.crop) // 2, (resized[1] - self.crop) // 2

    def apply(self, image: Image.Image) -> np.ndarray:
        """`[3, crop, crop]` float32, channels first."""
        o = self.options
        size = self.resized(*image.size)
        image = image.resize(size, Image.Resampling.BILINEAR)
        left, top = self.crop_origin(size)
        image = image.crop((left, top, left + o.crop, top + o.crop))
        pixels = np.asarray(image, dtype=np.float32) * np.float32(o.scale)
        if o.channels == "BGR":
            pixels = pixels[:, :, ::-1]
        normalised = (pixels - np.array(o.mean, np.float32)) / np.array(o.std, np.float32)
        return np.ascontiguousarray(normalised.transpose(2, 0, 1), dtype=np.float32)
