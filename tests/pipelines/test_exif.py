"""EXIF: the self-written reader against EXIF blocks written here byte by byte, upright loading
by the orientation tag, and the intrinsics order --intrinsics > EXIF > guess."""
import struct
import zlib

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geom import synth
from geom.io import load_cameras_json
from pipelines import cli
from pipelines.exif import FILM_35MM_DIAGONAL, focal_length_pixels, read_exif
from pipelines.images import load_images
from pipelines.intrinsics import resolve_intrinsics, save_intrinsics

SHORT, LONG, RATIONAL = 3, 4, 5


def tiff_block(ifd0, exif_ifd=(), order="<"):
    """A TIFF/EXIF structure: IFD0 entries and Exif IFD entries, each (tag, type, value); a
    RATIONAL value is (numerator, denominator), stored after the IFDs."""
    ifd0 = list(ifd0) + ([(0x8769, LONG, None)] if exif_ifd else [])
    start0 = 8
    start_exif = start0 + 2 + 12 * len(ifd0) + 4
    data_at = start_exif + (2 + 12 * len(exif_ifd) + 4 if exif_ifd else 0)
    data = b""

    def ifd(entries, next_data):
        nonlocal data
        out = struct.pack(order + "H", len(entries))
        for tag, kind, value in sorted(entries, key=lambda e: e[0]):
            if tag == 0x8769:
                field = struct.pack(order + "I", start_exif)
            elif kind == RATIONAL:
                field = struct.pack(order + "I", next_data + len(data))
                data += struct.pack(order + "II", *value)
            elif kind == SHORT:
                field = struct.pack(order + "HH", value, 0)
            else:
                field = struct.pack(order + "I", value)
            out += struct.pack(order + "HHI", tag, kind, 1) + field
        return out + struct.pack(order + "I", 0)

    head = (b"II*\x00" if order == "<" else b"MM\x00*") + struct.pack(order + "I", start0)
    body = ifd(ifd0, data_at) + (ifd(exif_ifd, data_at) if exif_ifd else b"")
    return head + body + data


def jpeg_with_exif(path, bgr, block):
    """Write `bgr` as a JPEG whose APP1 segment (right after SOI) holds the EXIF `block`."""
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
    payload = b"Exif\x00\x00" + block
    data = buf.tobytes()
    path.write_bytes(data[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
                     + data[2:])
    return path


def png_with_exif(path, bgr, block):
    """Write `bgr` as a PNG with an eXIf chunk (after IHDR) holding `block`."""
    ok, buf = cv2.imencode(".png", bgr)
    data = buf.tobytes()
    chunk = (struct.pack(">I", len(block)) + b"eXIf" + block
             + struct.pack(">I", zlib.crc32(b"eXIf" + block)))
    path.write_bytes(data[:33] + chunk + data[33:])  # signature 8 + IHDR 25 bytes
    return path


def _test_image(h=48, w=64):
    """An image with no symmetry: a gradient and a bright block near the top-left corner."""
    img = np.zeros((h, w, 3), np.uint8)
    img[:, :, 0] = np.linspace(0, 200, w)[None, :]
    img[:, :, 1] = np.linspace(0, 200, h)[:, None]
    img[4:14, 6:22] = 255
    return img


# what a viewer does to the stored image for each EXIF orientation (the EXIF 2.3 table)
UPRIGHT = {1: lambda a: a, 2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1],
           4: lambda a: a[::-1], 5: lambda a: a.transpose(1, 0, 2),
           6: lambda a: np.rot90(a, -1), 7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
           8: lambda a: np.rot90(a, 1)}


@pytest.mark.parametrize("orientation", sorted(UPRIGHT))
@pytest.mark.parametrize("writer", [jpeg_with_exif, png_with_exif])
def test_images_load_upright_by_their_orientation_tag(tmp_path, orientation, writer):
    img = _test_image()
    suffix = ".jpg" if writer is jpeg_with_exif else ".png"
    plain = writer(tmp_path / f"plain{suffix}", img, tiff_block([(0x0112, SHORT, 1)]))
    (tmp_path / "photos").mkdir()
    block = tiff_block([(0x0112, SHORT, orientation)])
    tagged = [writer(tmp_path / "photos" / f"{n}{suffix}", img, block) for n in "ab"]
    imgs = load_images(tmp_path / "photos")
    stored = cv2.cvtColor(cv2.imread(str(plain)), cv2.COLOR_BGR2RGB)  # same compressed pixels
    assert np.array_equal(imgs.images[0], UPRIGHT[orientation](stored))
    assert imgs.size == ((48, 64) if orientation >= 5 else (64, 48))
    assert read_exif(tagged[0]) == {"Orientation": orientation}


@settings(max_examples=30)
@given(order=st.sampled_from("<>"), orientation=st.integers(1, 8),
       f_num=st.integers(1, 10 ** 6), f_den=st.integers(1, 1000), f35=st.integers(0, 2000),
       res=st.integers(1, 10 ** 7), unit=st.sampled_from([2, 3, 4]),
       pixel_x=st.integers(1, 10 ** 5))
def test_read_exif_returns_the_written_tags(tmp_path_factory, order, orientation, f_num, f_den,
                                            f35, res, unit, pixel_x):
    block = tiff_block([(0x0112, SHORT, orientation)],
                       [(0x920A, RATIONAL, (f_num, f_den)), (0xA405, SHORT, f35),
                        (0xA20E, RATIONAL, (res, 1)), (0xA210, SHORT, unit),
                        (0xA002, LONG, pixel_x), (0xA001, SHORT, 1)], order)  # 0xA001: not read
    path = jpeg_with_exif(tmp_path_factory.mktemp("exif") / "a.jpg", _test_image(), block)
    assert read_exif(path) == {"Orientation": orientation, "FocalLength": f_num / f_den,
                               "FocalLengthIn35mmFilm": f35, "FocalPlaneXResolution": res,
                               "FocalPlaneResolutionUnit": unit, "PixelXDimension": pixel_x}


def test_focal_length_in_pixels_from_each_tag_set():
    w, h = 640, 480
    f, why = focal_length_pixels({"FocalLengthIn35mmFilm": 35.0, "FocalLength": 5.0}, w, h)
    assert why is None and f == pytest.approx(35 * 800 / FILM_35MM_DIAGONAL)  # 35 mm first
    # 4.8 mm on a sensor of 1000 px per cm, the image resized from 1280 to 640 px wide
    tags = {"FocalLength": 4.8, "FocalPlaneXResolution": 1000.0, "FocalPlaneResolutionUnit": 3,
            "PixelXDimension": 1280}
    assert focal_length_pixels(tags, w, h) == (pytest.approx(4.8 * 100 * 0.5), None)
    # turned by 90 degrees: the stored image is 480 wide, the loaded one 480 high
    f, _ = focal_length_pixels({**tags, "Orientation": 6}, h, w)
    assert f == pytest.approx(4.8 * 100 * 0.5)
    assert focal_length_pixels({"FocalLength": 4.8, "FocalPlaneXResolution": 2540.0}, w, h)[0] \
        == pytest.approx(4.8 * 100)  # default unit: inch
    assert focal_length_pixels({}, w, h) == (None, "no EXIF")
    assert focal_length_pixels({"Orientation": 1}, w, h) == (None, "no EXIF focal length")
    f, why = focal_length_pixels({"FocalLength": 4.8}, w, h)
    assert f is None and "FocalLength 4.8 mm without a sensor size" in why
    f, why = focal_length_pixels({"FocalLength": 4.8, "FocalPlaneXResolution": 10.0,
                                  "FocalPlaneResolutionUnit": 1}, w, h)
    assert f is None and "without a sensor size" in why  # unit 1: no absolute unit


def test_malformed_or_missing_exif(tmp_path):
    img = _test_image()
    assert read_exif(jpeg_with_exif(tmp_path / "ok.jpg", img, tiff_block([]))) == {}
    cv2.imwrite(str(tmp_path / "none.png"), img)
    assert read_exif(tmp_path / "none.png") == {}
    (tmp_path / "text.jpg").write_text("not an image")
    assert read_exif(tmp_path / "text.jpg") == {}
    block = tiff_block([], [(0x920A, RATIONAL, (48, 10))])
    bad = jpeg_with_exif(tmp_path / "bad.jpg", img, block[:-6])  # rational cut off
    with pytest.raises(ValueError, match=r"bad.jpg: malformed EXIF \(offset \d+ outside"):
        read_exif(bad)
    wrong = jpeg_with_exif(tmp_path / "wrong.jpg", img, b"XX*\x00" + block[4:])
    with pytest.raises(ValueError, match="wrong.jpg: malformed EXIF \\(no TIFF header\\)"):
        read_exif(wrong)


def test_intrinsics_order_file_then_exif_then_guess(tmp_path):
    img = _test_image()  # 64 x 48
    focal = tiff_block([], [(0x920A, RATIONAL, (4, 1)), (0xA20E, RATIONAL, (2540, 1))])  # 400 px
    jpeg_with_exif(tmp_path / "a.jpg", img, focal)
    jpeg_with_exif(tmp_path / "b.jpg", img, tiff_block([], [(0xA405, SHORT, 50)]))
    jpeg_with_exif(tmp_path / "c.jpg", img, tiff_block([], [(0x920A, RATIONAL, (4, 1))]))
    jpeg_with_exif(tmp_path / "d.jpg", img, focal[:-4])  # malformed: no usable focal length
    imgs = load_images(tmp_path)
    Ks, sources, notes = resolve_intrinsics(imgs)
    assert Ks[0][0, 0] == Ks[0][1, 1] == pytest.approx(400.0)
    assert Ks[1][0, 0] == pytest.approx(50 * 80 / FILM_35MM_DIAGONAL)
    assert all(K[0, 2] == 31.5 and K[1, 2] == 23.5 for K in Ks)  # centre of a 64 x 48 image
    assert Ks[2][0, 0] == Ks[3][0, 0] == pytest.approx(1.2 * 64)  # the guess
    assert sources == ["EXIF", "EXIF", "guess", "guess"]
    assert notes[0].startswith("focal length from EXIF for 2 of 4 images")
    assert "c.jpg (EXIF FocalLength 4 mm without a sensor size" in notes[1]
    assert "d.jpg (malformed EXIF (offset" in notes[1] and "guessed as 1.2 x max(W, H)" in notes[1]
    K_file = tmp_path / "K.txt"
    save_intrinsics(K_file, {n: np.diag([90.0, 90.0, 1.0]) for n in imgs.names})
    Ks, sources, notes = resolve_intrinsics(imgs, K_file)  # the file wins over EXIF
    assert notes == [] and all(K[0, 0] == 90.0 for K in Ks) and sources == ["file"] * 4


def test_two_view_uses_the_exif_focal_length(tmp_path, capsys):
    scene = synth.orbit_ring(3, 0, 320, 240, arc=np.radians(20))
    truth_dir = synth.write_folder(synth.render(scene), tmp_path / "ring")
    truth = load_cameras_json(truth_dir / "cameras.json")
    f = truth["frame_000.png"].K[0, 0]
    block = tiff_block([(0x0112, SHORT, 1)], [(0x920A, RATIONAL, (4, 1)),  # f mm * px per inch
                                              (0xA20E, RATIONAL, (round(f * 25.4 / 4 * 1e4),
                                                                  10 ** 4))])
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("frame_000.png", "frame_001.png"):
        jpeg_with_exif(photos / name.replace(".png", ".jpg"), cv2.imread(str(truth_dir / name)),
                       block)
    out = tmp_path / "out"
    assert cli.main(["two-view", str(photos / "frame_000.jpg"), str(photos / "frame_001.jpg"),
                     "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "focal length from EXIF for 2 of 2 images" in err and "warning" not in err
    cams = load_cameras_json(out / "cameras.json")
    assert all(c.K[0, 0] == pytest.approx(f, rel=1e-5) for c in cams.values())
    assert "focal length from EXIF for 2 of 2 images" in (out / "report.html").read_text()
