"""Corrupt, odd and degenerate input: one line that names the file and the true cause (issue 15)."""
import cv2
import numpy as np
import pytest

from pipelines import cli
from pipelines import features, matching
from pipelines.images import load_images, read_image
from pipelines.intrinsics import load_intrinsics, resolve_intrinsics


@pytest.fixture(scope="module")
def view(make_ring):
    """One rendered 320x240 view (RGB) of the synthetic ring."""
    images, _, _ = make_ring(2, 30)
    return read_image(images / "frame_000.png")


def _fails_with(capsys, argv, message):
    """The run exits 2 and its last line, the only one after the progress lines, is the error."""
    assert cli.main(argv) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f"mvdepth {argv[0]}: error: ") and message in last, last


def test_a_truncated_jpeg_is_refused_by_name(tmp_path, view, capsys):
    ok, data = cv2.imencode(".jpg", view[:, :, ::-1])
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.jpg").write_bytes(data.tobytes())
    (tmp_path / "photos" / "b.jpg").write_bytes(data.tobytes()[:len(data) * 2 // 3])
    assert read_image(tmp_path / "photos" / "a.jpg").shape == view.shape
    _fails_with(capsys, ["sfm", str(tmp_path / "photos"), "-o", str(tmp_path / "out")],
                "b.jpg: truncated JPEG")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos"]


def test_a_jpeg_with_data_after_its_end_is_read(tmp_path, view):
    ok, data = cv2.imencode(".jpg", view[:, :, ::-1])
    (tmp_path / "motion.jpg").write_bytes(data.tobytes() + b"\x00\x00\x00\x18ftypmp42" * 100)
    assert read_image(tmp_path / "motion.jpg").shape == view.shape


@pytest.mark.parametrize("argv, message", [
    (["sfm", "{d}/tiny", "-o", "{d}/o"], "1x1 pixels, too small for feature matching"),
    (["multibody", "{d}/tiny", "-o", "{d}/o"], "1x1 pixels, too small for feature matching"),
    (["flow", "{d}/tiny/a.png", "{d}/tiny/b.png", "-o", "{d}/o"],
     "flow 'dis-medium' needs images of at least 32x32 pixels, got 1x1"),
    (["flow", "{d}/tiny/a.png", "{d}/tiny/b.png", "-o", "{d}/o", "--method", "rlof"],
     "flow 'rlof' needs images of at least 64x64 pixels"),
    (["sfm", "{d}/tiny/a.png", "-o", "{d}/o"], "tiny/a.png: a file, expected a folder of images"),
    (["two-view", "{d}/tiny", "{d}/tiny/a.png", "-o", "{d}/o"],
     "tiny: a folder, expected an image file"),
])
def test_odd_images_and_paths_get_a_message_that_says_what_is_wrong(tmp_path, capsys, argv,
                                                                   message):
    (tmp_path / "tiny").mkdir()
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(tmp_path / "tiny" / name), np.full((1, 1, 3), 128, np.uint8))
    _fails_with(capsys, [a.format(d=tmp_path) for a in argv], message)
    assert not (tmp_path / "o").exists()


def test_an_image_listed_twice_in_an_intrinsics_file_names_the_line(tmp_path):
    path = tmp_path / "K.txt"
    path.write_text("a.png 500 0 160 0 500 120 0 0 1\n# comment\n"
                    "a.png 600 0 160 0 600 120 0 0 1\n")
    with pytest.raises(ValueError, match="K.txt: line 3: a.png is listed again "
                                         r"\(first on line 1\)"):
        load_intrinsics(path, ["a.png"])


def test_a_principal_point_far_outside_the_image_is_a_warning(tmp_path, make_ring):
    images, _, _ = make_ring(2, 30)
    path = tmp_path / "K.txt"
    path.write_text("500 0 2000\n0 500 120\n0 0 1\n")  # cx = 2000 in a 320-pixel wide image
    Ks, _, notes = resolve_intrinsics(load_images(images), path)
    assert Ks[0][0, 2] == 2000
    assert len(notes) == 1 and "principal point of frame_000.png and 1 more lies far outside "\
                                "the 320x240 image" in notes[0]


def test_two_identical_images_say_there_is_no_baseline(tmp_path, view, capsys):
    (tmp_path / "same").mkdir()
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(tmp_path / "same" / name), view[:, :, ::-1])
    for command in ("sfm", "multibody"):
        _fails_with(capsys, [command, str(tmp_path / "same"), "-o", str(tmp_path / "o")],
                    "the images show the same view (matches stay at the same pixels): no "
                    "baseline")


def test_a_rotation_about_the_camera_centre_is_named_as_no_parallax(view):
    h, w = view.shape[:2]
    K = np.array([[300.0, 0, (w - 1) / 2], [0, 300.0, (h - 1) / 2], [0, 0, 1]])
    c, s = np.cos(0.15), np.sin(0.15)
    H = K @ np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]) @ np.linalg.inv(K)
    turned = cv2.warpPerspective(view, H, (w, h))
    feats = features.extract_all([view, turned])
    candidates = matching.match_pairs(feats, [(0, 1)])
    assert len(candidates[0].matches) > 50
    assert "no parallax" in matching.lack_of_motion(feats, candidates)


def test_a_moving_camera_is_not_called_motionless(make_ring):
    images, _, _ = make_ring(2, 30)
    imgs = load_images(images)
    feats = features.extract_all(imgs.images)
    assert matching.lack_of_motion(feats, matching.match_pairs(feats, [(0, 1)])) is None
