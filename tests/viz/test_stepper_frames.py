"""Frames and animations of the backward pass for slides: stepper.save_frames / save_animation."""

from __future__ import annotations

import io
import struct
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from hypothesis.extra import numpy as hnp
from tracegrad.engine import Value
from tracegrad.viz import BackpropStepper
from tracegrad.viz.frames import (
    FrameError,
    apng,
    chunks,
    decode_png,
    encode_png,
    png_size,
    same_size,
    write_file,
)
from tracegrad.viz.stepper import STEP_CURRENT_FILL

from tests.viz.helpers import lecture_221

LAVENDER = tuple(int(STEP_CURRENT_FILL[k:k + 2], 16) for k in (1, 3, 5))


@pytest.fixture(scope="module")
def stepper() -> BackpropStepper:
    C, _ = lecture_221()
    return BackpropStepper(C)


@pytest.fixture(scope="module")
def pngs(stepper: BackpropStepper) -> list[bytes]:
    return stepper.frame_pngs()


@pytest.fixture(scope="module")
def pixels(pngs: list[bytes]) -> list[np.ndarray]:
    return [decode_png(p) for p in pngs]


def current_box(px: np.ndarray) -> tuple[int, int, int, int]:
    """The bounding box (x0, y0, x1, y1) of the current gate's lavender fill in a frame."""
    ys, xs = np.nonzero(np.all(px[..., :3] == LAVENDER, axis=2))
    assert xs.size, "no current gate drawn"
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


def test_save_frames_writes_one_png_per_backward_step_all_one_size(stepper: BackpropStepper,
                                                                   tmp_path: Path) -> None:
    paths = stepper.save_frames(tmp_path)
    assert [p.name for p in paths] == [f"frame_{k:03d}.png" for k in range(1, len(stepper) + 1)]
    assert sorted(p.name for p in tmp_path.iterdir()) == [p.name for p in paths]  # no temp files
    sizes = {png_size(p.read_bytes()) for p in paths}
    assert len(sizes) == 1
    for p in paths:
        chunks(p.read_bytes())  # every chunk's CRC checks out


def test_frames_differ_where_the_current_gate_moves(stepper: BackpropStepper,
                                                    pixels: list[np.ndarray]) -> None:
    boxes = [current_box(p) for p in pixels]
    for i in range(len(stepper) - 1):
        a, b = pixels[i], pixels[i + 1]
        assert not np.array_equal(a, b), f"frames {i + 1} and {i + 2} are the same picture"
        if stepper[i].node_id != stepper[i + 1].node_id:
            assert boxes[i] != boxes[i + 1]
    # the layout is shared: the root's box (current at step 1) is where step 1 drew it in every frame
    x0, y0, x1, y1 = boxes[0]
    last = pixels[-1]
    assert not np.all(last[y0:y1, x0:x1, :3] == LAVENDER)  # no longer current, same place


def test_scale_2_doubles_the_frames_for_slides(stepper: BackpropStepper, pngs: list[bytes]) -> None:
    w, h = png_size(pngs[0])
    w2, h2 = png_size(stepper.frame(0).png(scale=2))
    assert abs(w2 - 2 * w) <= 4 and abs(h2 - 2 * h) <= 4


def apng_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    return chunks(data)  # raises on a bad CRC


def test_save_animation_writes_an_apng_with_every_step(stepper: BackpropStepper, tmp_path: Path) -> None:
    path = stepper.save_animation(tmp_path / "backprop.png", seconds_per_step=0.5, hold_last=2)
    parts = apng_chunks(path.read_bytes())
    kinds = [k for k, _ in parts]
    assert kinds[:2] == [b"IHDR", b"acTL"] and kinds[-1] == b"IEND"
    n = len(stepper)
    assert struct.unpack(">II", parts[1][1]) == (n, 0)  # n frames, loop forever
    assert kinds.count(b"fcTL") == n and kinds.count(b"fdAT") == n - 1 and b"IDAT" in kinds
    assert kinds.index(b"fcTL") < kinds.index(b"IDAT")  # frame 1 is the default image
    width, height = struct.unpack(">II", parts[0][1][:8])
    seqs, delays = [], []
    for kind, body in parts:
        if kind == b"fcTL":
            seq, w, h, x, y, num, den, dispose, blend = struct.unpack(">IIIIIHHBB", body)
            assert (w, h, x, y) == (width, height, 0, 0)
            seqs.append(seq)
            delays.append(num / den)
        elif kind == b"fdAT":
            seqs.append(struct.unpack(">I", body[:4])[0])
    assert seqs == list(range(2 * n - 1))  # fcTL and fdAT share one running sequence
    assert delays == [0.5] * (n - 1) + [2.0]
    pil = pytest.importorskip("PIL.Image")
    with pil.open(path) as im:  # an independent reader agrees
        assert im.format == "PNG" and getattr(im, "n_frames", 1) == n and im.size == (width, height)


def test_save_animation_writes_a_gif_with_pillow(stepper: BackpropStepper, tmp_path: Path) -> None:
    pil = pytest.importorskip("PIL.Image")
    path = stepper.save_animation(tmp_path / "backprop.gif", seconds_per_step=1)
    with pil.open(path) as im:
        assert im.format == "GIF" and im.n_frames == len(stepper)
        assert im.size == png_size(stepper.frame(0).png())


def test_gif_without_pillow_says_how_to_get_it(stepper: BackpropStepper, tmp_path: Path,
                                              monkeypatch: Any) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match=r"GIF needs Pillow: pip install 'tracegrad\[notebooks\]'"):
        stepper.save_animation(tmp_path / "backprop.gif")
    assert list(tmp_path.iterdir()) == []


def test_bad_paths_and_arguments_fail_clearly_and_write_nothing(stepper: BackpropStepper,
                                                                tmp_path: Path) -> None:
    a_file = tmp_path / "a.txt"
    a_file.write_text("x")
    with pytest.raises(FileNotFoundError, match="the folder .*nowhere does not exist"):
        stepper.save_frames(tmp_path / "nowhere")
    with pytest.raises(NotADirectoryError, match="needs a folder, got the file .*a.txt"):
        stepper.save_frames(a_file)
    with pytest.raises(ValueError, match="prefix"):
        stepper.save_frames(tmp_path, prefix="a/b")
    with pytest.raises(ValueError, match=r"unknown suffix '.mp4'.*\.png or \.apng.*\.gif"):
        stepper.save_animation(tmp_path / "x.mp4")
    with pytest.raises(ValueError, match="unknown suffix '\\(none\\)'"):
        stepper.save_animation(tmp_path / "x")
    with pytest.raises(FileNotFoundError, match="the folder .*nowhere does not exist"):
        stepper.save_animation(tmp_path / "nowhere" / "x.png")
    (tmp_path / "d.png").mkdir()
    with pytest.raises(IsADirectoryError):
        stepper.save_animation(tmp_path / "d.png")
    with pytest.raises(ValueError, match="seconds_per_step must be a number of seconds"):
        stepper.save_animation(tmp_path / "x.png", seconds_per_step=0)
    with pytest.raises(ValueError, match="loops must be an int"):
        stepper.save_animation(tmp_path / "x.png", loops=-1)
    with pytest.raises(ValueError, match="scale"):
        stepper.save_frames(tmp_path, scale=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "d.png"]
    with pytest.raises(ValueError, match="is a leaf"):
        BackpropStepper(Value(1.0, "x")).save_frames(tmp_path)


def test_a_failed_write_leaves_nothing_half_written(tmp_path: Path, monkeypatch: Any) -> None:
    target = tmp_path / "x.png"
    target.write_bytes(b"old")

    def broken(src: Any, dst: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", broken)
    with pytest.raises(OSError, match="disk full"):
        write_file(target, b"new")
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["x.png"]


images = hnp.arrays(np.uint8, hs.tuples(hs.integers(1, 12), hs.integers(1, 12), hs.just(4)))


@settings(max_examples=60, deadline=None)
@given(image=images, mode=hs.sampled_from(["RGBA", "RGB", "L", "LA"]))
def test_decode_png_undoes_every_filter_as_pillow_does(image: np.ndarray, mode: str) -> None:
    pil = pytest.importorskip("PIL.Image")
    buf = io.BytesIO()
    pil.fromarray(image, "RGBA").convert(mode).save(buf, format="PNG", optimize=True)
    want = np.asarray(pil.open(io.BytesIO(buf.getvalue())).convert("RGBA"))
    assert np.array_equal(decode_png(buf.getvalue()), want)


@settings(max_examples=60, deadline=None)
@given(a=images, b=images)
def test_same_size_pads_with_white_and_keeps_every_pixel(a: np.ndarray, b: np.ndarray) -> None:
    out = same_size([encode_png(a), encode_png(b)])
    w, h = max(a.shape[1], b.shape[1]), max(a.shape[0], b.shape[0])
    assert [png_size(p) for p in out] == [(w, h), (w, h)]
    for src, png in zip((a, b), out):
        px = decode_png(png)
        assert np.array_equal(px[:src.shape[0], :src.shape[1]], src)
        assert (px[src.shape[0]:] == 255).all() and (px[:, src.shape[1]:] == 255).all()


def test_apng_refuses_frames_of_different_sizes() -> None:
    small, big = encode_png(np.zeros((2, 2, 4), np.uint8)), encode_png(np.zeros((3, 2, 4), np.uint8))
    with pytest.raises(FrameError, match="same size"):
        apng([small, big], [1.0, 1.0])
    with pytest.raises(FrameError, match="one delay per frame"):
        apng([small], [1.0, 1.0])
    with pytest.raises(FrameError, match="CRC"):
        chunks(small[:-1] + bytes([small[-1] ^ 1]))
