"""EXIF of JPEG and PNG files, read without PIL: orientation and the focal length in pixels.

The EXIF block is a TIFF structure (byte order mark, IFD0, a pointer to the Exif IFD) stored in
a JPEG APP1 segment (`Exif\\0\\0` + TIFF) or a PNG `eXIf` chunk. Only the few tags below are
decoded, the first value of each:

    Make, Model, Orientation (IFD0), FocalLength, FocalLengthIn35mmFilm, FocalPlaneXResolution,
    FocalPlaneResolutionUnit, PixelXDimension (Exif IFD)

Make and Model (ASCII) are strings, the others numbers.

Orientation is applied by `cv2.imread` itself (JPEG and PNG); it matters here because the
EXIF pixel sizes refer to the stored (unrotated) image.
"""
import struct
from pathlib import Path

import numpy as np

TAGS = {0x010F: "Make", 0x0110: "Model", 0x0112: "Orientation", 0x920A: "FocalLength",
        0xA405: "FocalLengthIn35mmFilm", 0xA20E: "FocalPlaneXResolution", 0xA210: "FocalPlaneResolutionUnit",
        0xA002: "PixelXDimension"}
EXIF_IFD_POINTER = 0x8769
FILM_35MM_DIAGONAL = float(np.hypot(36.0, 24.0))  # mm; equal angle of view along the diagonal
MM_PER_UNIT = {1: None, 2: 25.4, 3: 10.0, 4: 1.0, 5: 1e-3}  # FocalPlaneResolutionUnit; 1: none
# TIFF field type -> (struct format, size); RATIONAL types are two of the integer type
_TYPES = {1: ("B", 1), 2: ("s", 1), 3: ("H", 2), 4: ("I", 4), 5: ("I", 8), 7: ("B", 1),
          9: ("i", 4), 10: ("i", 8)}


def read_exif(path):
    """The tags of `TAGS` found in the EXIF of an image file -> dict tag name -> float (str for
    Make and Model).

    {} for a file without EXIF (or another format); ValueError naming the file when an EXIF
    block is there but malformed."""
    path = Path(path)
    block = exif_block(path.read_bytes())
    if block is None:
        return {}
    try:
        return parse_tiff(block)
    except ValueError as err:
        raise ValueError(f"{path}: malformed EXIF ({err})") from None


def jpeg_segments(data):
    """The marker segments of JPEG file bytes before its first scan -> (marker, position, body)
    each; the last is the start of scan (0xDA) or end of image (0xD9), with the position of its
    marker, when the file gets that far."""
    pos = 2  # after the start-of-image marker FF D8
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker in (0xD9, 0xDA):
            yield marker, pos, b""
            return
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        yield marker, pos, data[pos + 4:pos + 2 + length]
        pos += 2 + length


def exif_block(data):
    """The TIFF structure of the EXIF in JPEG or PNG file bytes, or None where there is none."""
    if data[:2] == b"\xff\xd8":
        for marker, _, body in jpeg_segments(data):
            if marker == 0xE1 and body.startswith(b"Exif\x00\x00"):
                return body[6:]
        return None
    if data[:8] == b"\x89PNG\r\n\x1a\n":  # PNG: length, type, data, CRC per chunk
        pos = 8
        while pos + 8 <= len(data):
            length, kind = struct.unpack(">I4s", data[pos:pos + 8])
            if kind == b"eXIf":
                return data[pos + 8:pos + 8 + length]
            if kind in (b"IDAT", b"IEND"):  # eXIf must come before the image data
                return None
            pos += 12 + length
    return None


def parse_tiff(block):
    """The `TAGS` of a TIFF/EXIF structure (bytes) -> dict name -> float or str (ValueError if
    malformed: bad byte order mark, offsets outside the block, unknown field types)."""
    if block[:4] not in (b"II*\x00", b"MM\x00*"):
        raise ValueError("no TIFF header")
    order = "<" if block[:2] == b"II" else ">"
    out = {}
    exif_ifd = _read_ifd(block, order, _unpack(block, order + "I", 4), out)
    if exif_ifd is not None:
        _read_ifd(block, order, exif_ifd, out)
    return out


def _read_ifd(block, order, offset, out):
    """Decode the wanted tags of the IFD at `offset` into `out`; returns the Exif IFD offset
    when this IFD points to one."""
    exif_ifd = None
    count = _unpack(block, order + "H", offset)
    for k in range(count):
        entry = offset + 2 + 12 * k
        tag, kind, n = struct.unpack(order + "HHI", _slice(block, entry, 8))
        if tag != EXIF_IFD_POINTER and tag not in TAGS:
            continue
        if kind not in _TYPES or n < 1:
            raise ValueError(f"tag 0x{tag:04x} has field type {kind}, count {n}")
        fmt, size = _TYPES[kind]
        where = entry + 8 if size * n <= 4 else _unpack(block, order + "I", entry + 8)
        if kind == 2:  # ASCII: n bytes, NUL-terminated
            value = _slice(block, where, n).split(b"\0")[0].decode("latin-1").strip()
        elif kind in (5, 10):
            num, den = struct.unpack(order + fmt * 2, _slice(block, where, 8))
            value = num / den if den else float("nan")
        else:
            value = float(_unpack(block, order + fmt, where))
        if tag == EXIF_IFD_POINTER:
            exif_ifd = int(value)
        else:
            out[TAGS[tag]] = value
    return exif_ifd


def _slice(block, start, size):
    if start < 0 or start + size > len(block):
        raise ValueError(f"offset {start} outside the {len(block)}-byte block")
    return block[start:start + size]


def _unpack(block, fmt, start):
    return struct.unpack(fmt, _slice(block, start, struct.calcsize(fmt)))[0]


def focal_length_pixels(exif, width, height):
    """Focal length in pixels of an image of `width` x `height` (as loaded, upright) from its
    EXIF tags (`read_exif`) -> (f, None), or (None, why not).

    In this order: FocalLengthIn35mmFilm (f = f35 * image diagonal / 43.27 mm, the 35 mm film
    diagonal); FocalLength (mm) x FocalPlaneXResolution (pixels per FocalPlaneResolutionUnit,
    default inch), rescaled by width / PixelXDimension where the file was resized after capture
    (widths of the stored image: height when Orientation turns it by 90 degrees)."""
    f35 = exif.get("FocalLengthIn35mmFilm", 0.0)
    if f35 > 0:
        return f35 * np.hypot(width, height) / FILM_35MM_DIAGONAL, None
    f_mm = exif.get("FocalLength", float("nan"))
    if not f_mm > 0:
        return None, "no EXIF focal length" if exif else "no EXIF"
    resolution = exif.get("FocalPlaneXResolution", float("nan"))
    mm = MM_PER_UNIT.get(int(exif.get("FocalPlaneResolutionUnit", 2)))
    if not resolution > 0 or mm is None:
        return None, (f"EXIF FocalLength {f_mm:g} mm without a sensor size "
                      "(FocalPlaneXResolution) or FocalLengthIn35mmFilm")
    stored_width = height if exif.get("Orientation", 1) in (5, 6, 7, 8) else width
    f = f_mm * resolution / mm
    if exif.get("PixelXDimension", 0) > 0:
        f *= stored_width / exif["PixelXDimension"]
    return f, None
