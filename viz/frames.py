"""Frames for slides: PNGs of one size, and an animation of them (APNG, or GIF with Pillow).

Graphviz writes each frame as a PNG.  Frames of different sizes are padded
with white to the largest (right and bottom), which means decoding them:
:func:`decode_png` undoes the PNG filters with numpy, one anti-diagonal of
pixels at a time (each pixel needs its left, upper and upper-left
neighbours, which all lie on earlier diagonals).  :func:`write_apng` writes
an animated PNG in pure Python (chunks ``acTL``, ``fcTL``, ``fdAT``: the
APNG spec, https://wiki.mozilla.org/APNG_Specification); every browser and
slide program that shows GIFs shows it.  :func:`write_gif` needs Pillow (the
``notebooks`` extra).  Every write goes through a temporary file, so a
failed write leaves nothing half-written.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> samples per pixel (8-bit, no palette)
WHITE = 255


class FrameError(ValueError):
    """The frames cannot be written as asked (bad PNG data, no frames, a bad delay)."""


def chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """The ``(type, body)`` chunks of a PNG, each CRC checked (:class:`FrameError` if broken)."""
    if not data.startswith(SIGNATURE):
        raise FrameError("not a PNG: the data does not start with the PNG signature")
    out, i = [], len(SIGNATURE)
    while i < len(data):
        if i + 8 > len(data):
            raise FrameError("truncated PNG: a chunk header is cut off")
        (n,) = struct.unpack(">I", data[i:i + 4])
        kind, body = data[i + 4:i + 8], data[i + 8:i + 8 + n]
        if len(body) != n or i + 12 + n > len(data):
            raise FrameError(f"truncated PNG: chunk {kind!r} is cut off")
        (crc,) = struct.unpack(">I", data[i + 8 + n:i + 12 + n])
        if crc != zlib.crc32(kind + body):
            raise FrameError(f"corrupt PNG: chunk {kind!r} fails its CRC check")
        out.append((kind, body))
        i += 12 + n
    return out


def chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk: length, type, body, CRC-32 of type and body."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_header(data: bytes) -> tuple[int, int, int, int]:
    """``(width, height, bit depth, colour type)`` from a PNG's IHDR."""
    kind, body = chunks(data)[0]
    if kind != b"IHDR":
        raise FrameError("not a PNG: its first chunk is not IHDR")
    width, height, depth, colour = struct.unpack(">IIBB", body[:10])
    return width, height, depth, colour


def png_size(data: bytes) -> tuple[int, int]:
    """``(width, height)`` of a PNG in pixels."""
    return png_header(data)[:2]


def image_data(data: bytes) -> bytes:
    """A PNG's compressed pixel data: its IDAT chunks joined."""
    return b"".join(body for kind, body in chunks(data) if kind == b"IDAT")


def decode_png(data: bytes) -> np.ndarray:
    """An 8-bit, non-interlaced PNG as an RGBA ``uint8`` array of shape (height, width, 4).

    The filters (PNG spec 9.2: None, Sub, Up, Average, Paeth) are undone
    along anti-diagonals: pixel (y, x) needs (y, x−1), (y−1, x) and (y−1, x−1).
    """
    width, height, depth, colour = png_header(data)
    interlace = chunks(data)[0][1][12]
    if depth != 8 or colour not in _CHANNELS or interlace:
        raise FrameError(f"can only read 8-bit non-interlaced grey/RGB(A) PNGs, got bit depth {depth}, "
                         f"colour type {colour}, interlace {interlace}")
    bpp = _CHANNELS[colour]
    raw = np.frombuffer(zlib.decompress(image_data(data)), dtype=np.uint8)
    if raw.size != height * (width * bpp + 1):
        raise FrameError("corrupt PNG: the pixel data does not match its width and height")
    rows = raw.reshape(height, width * bpp + 1)
    kinds = rows[:, 0].astype(np.int32)
    if kinds.max(initial=0) > 4:
        raise FrameError(f"corrupt PNG: unknown filter type {int(kinds.max())}")
    filtered = rows[:, 1:].reshape(height, width, bpp).astype(np.int32)
    out = np.zeros((height + 1, width + 1, bpp), dtype=np.int32)  # row 0, column 0: the zeros outside
    for d in range(height + width - 1):
        ys = np.arange(max(0, d - width + 1), min(height, d + 1))
        xs = d - ys
        a, b, c = out[ys + 1, xs], out[ys, xs + 1], out[ys, xs]  # left, up, up-left
        k = kinds[ys][:, None]
        p = a + b - c
        pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
        paeth = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
        pred = np.select([k == 1, k == 2, k == 3, k == 4], [a, b, (a + b) // 2, paeth], 0)
        out[ys + 1, xs + 1] = (filtered[ys, xs] + pred) & 0xFF
    pixels = out[1:, 1:].astype(np.uint8)
    if bpp == 4:
        return pixels
    opaque = np.full(pixels.shape[:2] + (1,), WHITE, dtype=np.uint8)
    if bpp == 3:
        return np.concatenate([pixels, opaque], axis=2)
    alpha = pixels[..., 1:2] if bpp == 2 else opaque
    return np.concatenate([np.repeat(pixels[..., :1], 3, axis=2), alpha], axis=2)


def encode_png(pixels: np.ndarray) -> bytes:
    """An RGBA ``uint8`` array (height, width, 4) as PNG bytes (filter None, zlib level 6)."""
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 4:
        raise FrameError(f"encode_png needs an RGBA uint8 array (h, w, 4), got {pixels.dtype} "
                         f"{pixels.shape}")
    height, width = pixels.shape[:2]
    raw = np.concatenate([np.zeros((height, 1), dtype=np.uint8), pixels.reshape(height, -1)], axis=1)
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw.tobytes(), 6))
            + chunk(b"IEND", b""))


def pad_pixels(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """``pixels`` on a white canvas of ``width`` × ``height``, at the top left."""
    canvas = np.full((height, width, 4), WHITE, dtype=np.uint8)
    canvas[:pixels.shape[0], :pixels.shape[1]] = pixels
    return canvas


def same_size(frames: Sequence[bytes]) -> list[bytes]:
    """The PNG ``frames`` padded with white (right, bottom) to the largest width and height.

    Frames that already have that size, and the same pixel format as the
    first, are kept byte for byte; the others are decoded, padded and
    written as 8-bit RGBA.
    """
    if not frames:
        raise FrameError("there are no frames")
    headers = [png_header(f) for f in frames]
    width, height = max(h[0] for h in headers), max(h[1] for h in headers)
    if all(h == (width, height, headers[0][2], headers[0][3]) for h in headers):
        return list(frames)
    out = []
    for f, h in zip(frames, headers):
        same = h[:2] == (width, height) and h[2:] == (8, 6)
        out.append(f if same else encode_png(pad_pixels(decode_png(f), width, height)))
    return out


def apng(frames: Sequence[bytes], delays: Sequence[float], loops: int = 0) -> bytes:
    """An animated PNG of same-sized, same-format PNG ``frames``, frame k shown ``delays[k]`` s.

    ``loops``: how often it plays (0: forever).  A viewer without APNG
    support shows the first frame.
    """
    if not frames:
        raise FrameError("there are no frames")
    if len(delays) != len(frames):
        raise FrameError(f"need one delay per frame: {len(frames)} frames, {len(delays)} delays")
    if any(not (0.0 < d <= 655.0) for d in delays):
        raise FrameError(f"every delay must be in (0, 655] seconds, got {list(delays)}")
    head = chunks(frames[0])[0][1]
    if any(chunks(f)[0][1] != head for f in frames[1:]):
        raise FrameError("all frames must have the same size and pixel format (pad them first: "
                         "frames.same_size)")
    width, height = struct.unpack(">II", head[:8])
    parts = [SIGNATURE, chunk(b"IHDR", head), chunk(b"acTL", struct.pack(">II", len(frames), loops))]
    seq = 0
    for k, (f, delay) in enumerate(zip(frames, delays)):
        # delay as a fraction of a second: delay_num / 100
        control = struct.pack(">IIIIIHHBB", seq, width, height, 0, 0, round(delay * 100), 100, 0, 0)
        parts.append(chunk(b"fcTL", control))
        seq += 1
        data = image_data(f)
        if k == 0:
            parts.append(chunk(b"IDAT", data))
        else:
            parts.append(chunk(b"fdAT", struct.pack(">I", seq) + data))
            seq += 1
    parts.append(chunk(b"IEND", b""))
    return b"".join(parts)


def pillow() -> Any:
    """Pillow's ``PIL.Image``, or an ``ImportError`` that says how to get it."""
    try:
        from PIL import Image
    except ImportError as exc:
        raise ImportError(
            "a GIF needs Pillow: pip install 'tracegrad[notebooks]' (or pip install pillow); "
            "an animated PNG (.png / .apng) needs nothing extra"
        ) from exc
    return Image


def gif(frames: Sequence[bytes], delays: Sequence[float], loops: int = 0) -> bytes:
    """An animated GIF of PNG ``frames`` (same size), through Pillow (the ``notebooks`` extra)."""
    Image = pillow()

    if len(delays) != len(frames) or not frames:
        raise FrameError(f"need one delay per frame: {len(frames)} frames, {len(delays)} delays")
    images: list[Any] = []
    for f in frames:
        with Image.open(io.BytesIO(f)) as im:
            rgb = Image.new("RGB", im.size, "white")
            rgb.paste(im.convert("RGBA"), mask=im.convert("RGBA").getchannel("A"))
            images.append(rgb.quantize(colors=255, method=Image.Quantize.MEDIANCUT))
    out = io.BytesIO()
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:],
                   duration=[round(d * 1000) for d in delays], loop=loops, disposal=1)
    return out.getvalue()


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all (through a temporary file beside it)."""
    if path.is_dir():
        raise IsADirectoryError(f"needs a file path, got the directory {path}")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write {path}: the folder {path.parent} does not exist")
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
