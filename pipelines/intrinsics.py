"""The calibration of the images: an intrinsics file, EXIF focal lengths, or a guess.

Intrinsics file (`--intrinsics K.txt`), `#` starts a comment, one of two forms:

- one matrix for every image: three rows of three numbers (`fx 0 cx`, `0 fy cy`, `0 0 1`);
- one line per image: `name k11 k12 k13 k21 k22 k23 k31 k32 k33` (row-major K); every image of
  the folder must be listed.

Pixels follow the house convention (origin at the centre of the top-left pixel), of the upright
image (`images.read_image`). Where the intrinsics come from (`resolve_intrinsics`), in this
order: the file; else per image its EXIF focal length (`exif.focal_length_pixels`) with the
principal point at the image centre; else the guess of `default_intrinsics`,
`f = 1.2 max(W, H)`, centred, flagged in the report.
"""
from pathlib import Path

import numpy as np

from geom import _checks

from .exif import focal_length_pixels, read_exif

GUESS_FOCAL_FACTOR = 1.2


def default_intrinsics(width, height):
    """The documented guess when no calibration is given: f = 1.2 max(W, H), centred."""
    f = GUESS_FOCAL_FACTOR * max(width, height)
    return np.array([[f, 0.0, (width - 1) / 2], [0.0, f, (height - 1) / 2], [0.0, 0.0, 1.0]])


def resolve_intrinsics(imgs, intrinsics=None):
    """Intrinsics of every image of `imgs` (an `ImageSet`) -> (list of K (3, 3), per image its
    source "file", "EXIF" or "guess", notes for the report): from the file `intrinsics` when
    given, else from each image's EXIF focal length, else the guess of `default_intrinsics` (the
    note names the images guessed and why; a principal point from the file far outside the
    image is a warning)."""
    w, h = imgs.size
    if intrinsics is not None:
        table = load_intrinsics(intrinsics, imgs.names)
        outside = [n for n in imgs.names
                   if not (-0.5 * w <= table[n][0, 2] <= 1.5 * w
                           and -0.5 * h <= table[n][1, 2] <= 1.5 * h)]
        notes = [f"warning: {intrinsics}: the principal point of {outside[0]}"
                 + (f" and {len(outside) - 1} more" if len(outside) > 1 else "")
                 + f" lies far outside the {w}x{h} image: is the file for these images?"
                 ] if outside else []
        return [table[n] for n in imgs.names], ["file"] * len(imgs.names), notes
    guess = default_intrinsics(w, h)
    Ks, sources, guessed, from_exif = [], [], [], []
    for name, path in zip(imgs.names, imgs.paths):
        try:
            f, why = focal_length_pixels(read_exif(path), w, h)
        except ValueError as err:
            f, why = None, str(err).removeprefix(f"{path}: ")
        if f is None:
            Ks.append(guess)
            sources.append("guess")
            guessed.append(f"{name} ({why})")
        else:
            Ks.append(np.array([[f, 0.0, guess[0, 2]], [0.0, f, guess[1, 2]], [0.0, 0.0, 1.0]]))
            sources.append("EXIF")
            from_exif.append(f)
    notes = []
    if from_exif:
        notes.append(f"focal length from EXIF for {len(from_exif)} of {len(Ks)} images "
                     f"({min(from_exif):.0f} to {max(from_exif):.0f} px)")
    if guessed:
        shown = ", ".join(guessed[:3]) + (f" and {len(guessed) - 3} more" if len(guessed) > 3
                                          else "")
        notes.append(f"warning: no intrinsics file and no usable EXIF focal length for {shown}: "
                     f"focal length guessed as {GUESS_FOCAL_FACTOR} x max(W, H) = "
                     f"{guess[0, 0]:.0f} px; pass --intrinsics for accurate results")
    return Ks, sources, notes


def load_intrinsics(path, names):
    """Read an intrinsics file (see the module docstring) -> dict image name -> K (3, 3)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such intrinsics file")
    lines = [(k, line.split("#")[0].split())
             for k, line in enumerate(path.read_text().splitlines(), 1)]
    lines = [(k, r) for k, r in lines if r]
    rows = [r for _, r in lines]
    try:
        if rows and all(len(r) == 3 for r in rows):
            if len(rows) != 3:
                raise ValueError(f"expected three rows of a 3x3 matrix, got {len(rows)}")
            K = _parse_K([v for r in rows for v in r])
            return {n: K for n in names}
        if not rows or any(len(r) != 10 for r in rows):
            raise ValueError("expected a 3x3 matrix or lines 'name k11 ... k33'")
        table, line_of = {}, {}
        for k, r in lines:
            if r[0] in table:
                raise ValueError(f"line {k}: {r[0]} is listed again (first on line "
                                 f"{line_of[r[0]]})")
            table[r[0]], line_of[r[0]] = _parse_K(r[1:]), k
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    missing = [n for n in names if n not in table]
    if missing:
        raise ValueError(f"{path}: no intrinsics for {missing[0]}"
                         + (f" and {len(missing) - 1} more" if len(missing) > 1 else ""))
    return {n: table[n] for n in names}


def _parse_K(values):
    try:
        K = np.array([float(v) for v in values]).reshape(3, 3)
    except ValueError:
        raise ValueError(f"not a number in {' '.join(values)}") from None
    return _checks.intrinsics(K)


def save_intrinsics(path, Ks):
    """Write an intrinsics file: dict image name -> K (3, 3), one line per image."""
    Path(path).write_text("".join(f"{name} {' '.join(repr(float(v)) for v in np.ravel(K))}\n"
                                  for name, K in Ks.items()))
