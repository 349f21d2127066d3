"""Stage 1: read an image folder (or a list of image files).

Images are read by `cv2.imread`, which turns them upright by their EXIF orientation (JPEG and
PNG); sizes and pixels are those of the upright image.
"""
from dataclasses import dataclass
from pathlib import Path

import cv2

from .exif import jpeg_segments

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass
class ImageSet:
    """Images of a folder: names (file names, sorted), their paths, images (H, W, 3) uint8 RGB
    (upright), one size."""

    folder: Path
    names: list
    images: list
    paths: list

    @property
    def size(self):
        """(width, height) shared by every image."""
        h, w = self.images[0].shape[:2]
        return w, h


def image_files(folder):
    """Sorted image files (JPEG, PNG) of `folder`; raises on a missing folder or fewer than two."""
    folder = Path(folder)
    if folder.is_file():
        raise ValueError(f"{folder}: a file, expected a folder of images")
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such image folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"{folder}: no JPEG or PNG images")
    if len(files) < 2:
        raise ValueError(f"{folder}: only one image ({files[0].name}), need at least two")
    return files


def input_paths(source, *files):
    """The paths a run reads, for `check_output`: `source` (a folder, or a list of image files)
    and those of `files` (an intrinsics file, a plug-in's weights, or a name) that exist."""
    paths = [source] if isinstance(source, (str, Path)) else list(source)
    return paths + [f for f in files if f is not None and Path(f).exists()]


def read_image(path):
    """One image file -> (H, W, 3) uint8 RGB, upright by its EXIF orientation; raises naming the
    file when it is missing or unreadable."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path}: a folder, expected an image file")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such image file")
    data = path.read_bytes()
    if data[:2] == b"\xff\xd8" and not jpeg_complete(data):
        raise ValueError(f"{path}: truncated JPEG (no end-of-image marker after its image data); "
                         "copy it again or leave it out")
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"{path}: not a readable image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def jpeg_complete(data):
    """Whether JPEG file bytes reach an end-of-image marker after the first scan begins (the
    entropy-coded data cannot hold FF D9; data appended after the end, as in motion photos,
    is allowed)."""
    last = None
    for last in jpeg_segments(data):
        pass
    return last is not None and last[0] == 0xDA and data.find(b"\xff\xd9", last[1]) >= 0


def load_images(source):
    """Read an image folder (or a list of image files) -> `ImageSet`.

    EXIF orientation is applied (OpenCV's default read mode turns the image upright). Raises
    ValueError naming the file on an unreadable image or one whose size differs from the first.
    """
    if isinstance(source, (str, Path)):
        files = image_files(source)
        folder = Path(source)
    else:
        files = [Path(f) for f in source]
        if len(files) < 2:
            raise ValueError("need at least two images")
        folder = files[0].parent
    images = []
    for f in files:
        img = read_image(f)
        if images and img.shape != images[0].shape:
            raise ValueError(f"{f}: size {img.shape[1]}x{img.shape[0]} differs from "
                             f"{files[0].name} ({images[0].shape[1]}x{images[0].shape[0]})")
        images.append(img)
    names = [f.name for f in files]
    if len(set(names)) != len(names):
        raise ValueError("image file names must be distinct")
    return ImageSet(folder, names, images, files)


def require_size(imgs, side, purpose):
    """Raise ValueError naming the images when those of `imgs` (an `ImageSet`) are smaller than
    `side` pixels in width or height, too small for `purpose`."""
    w, h = imgs.size
    if min(w, h) < side:
        raise ValueError(f"{imgs.paths[0]} and the others: {w}x{h} pixels, too small for "
                         f"{purpose} (at least {side} pixels a side)")
