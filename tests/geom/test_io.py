import json

import numpy as np
import pytest
from hypothesis import given, settings

from geom.camera import Camera
from geom.io import MANIFEST, check_output, load_cameras_json, output_folder, save_cameras_json
from geom.testing import cameras


@settings(max_examples=20)
@given(cameras(), cameras(width=320, height=200))
def test_cameras_json_round_trip(tmp_path_factory, cam1, cam2):
    path = tmp_path_factory.mktemp("io") / "cameras.json"
    save_cameras_json(path, {"a.png": cam1, "b.jpg": cam2})
    loaded = load_cameras_json(path)
    assert list(loaded) == ["a.png", "b.jpg"]
    for cam, back in zip((cam1, cam2), loaded.values()):
        np.testing.assert_array_equal(back.K, cam.K)
        np.testing.assert_array_equal(back.R, cam.R)
        np.testing.assert_array_equal(back.t, cam.t)
        assert back.image_size == cam.image_size
    entry = json.loads(path.read_text())["b.jpg"]
    assert sorted(entry) == ["K", "R", "height", "t", "width"] and entry["width"] == 320


def test_save_needs_cameras_with_an_image_size(tmp_path):
    with pytest.raises(ValueError, match="'x.png'.*image size"):
        save_cameras_json(tmp_path / "c.json", {"x.png": Camera(np.eye(3), np.eye(3), np.zeros(3))})
    with pytest.raises(ValueError, match="'y.png'"):
        save_cameras_json(tmp_path / "c.json", {"y.png": "not a camera"})


@pytest.mark.parametrize("text, message", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "JSON object"),
    ('{"a.png": {"K": [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "R": [[1, 0, 0], [0, 1, 0], [0, 0, 1]],'
     ' "t": [0, 0, 0], "width": 10}}', "'a.png'.*height"),
    ('{"a.png": {"K": [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "R": [[2, 0, 0], [0, 1, 0], [0, 0, 1]],'
     ' "t": [0, 0, 0], "width": 10, "height": 5}}', "'a.png'.*rotation"),
    ('{"a.png": {"K": [1, 2], "R": [[1, 0, 0], [0, 1, 0], [0, 0, 1]],'
     ' "t": [0, 0, 0], "width": 10, "height": 5}}', "'a.png'.*K"),
])
def test_malformed_cameras_json_names_the_file_and_entry(tmp_path, text, message):
    path = tmp_path / "cameras.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as err:
        load_cameras_json(path)
    assert str(path) in str(err.value)


# ------------------------------------------------------------------ output folders: no file lost

def _write(folder, overwrite=False, inputs=(), text="new"):
    with output_folder(folder, overwrite, inputs) as tmp:
        (tmp / "sub").mkdir()
        (tmp / "sub" / "a.txt").write_text(text)
    return folder


def _snapshot(root):
    return {p.relative_to(root): (p.read_bytes() if p.is_file() else None)
            for p in sorted(root.rglob("*"))}


def test_output_folder_replaces_only_what_mvdepth_wrote(tmp_path):
    out = _write(tmp_path / "out", text="first")
    assert (out / MANIFEST).is_file()
    _write(out, overwrite=True, text="second")
    assert (out / "sub" / "a.txt").read_text() == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary left


@pytest.mark.parametrize("stranger", ["thesis.tex", "sub/notes.txt", "extra/"])
def test_overwrite_refuses_a_folder_holding_a_file_mvdepth_did_not_write(tmp_path, stranger):
    out = _write(tmp_path / "out")
    path = out / stranger
    path.mkdir() if stranger.endswith("/") else path.write_text("mine")
    before = _snapshot(tmp_path)
    with pytest.raises(ValueError, match=f"holds {stranger.rstrip('/')}, which mvdepth did not"):
        _write(out, overwrite=True)
    assert _snapshot(tmp_path) == before


def test_overwrite_refuses_a_folder_without_manifest_and_a_file(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.jpg").write_bytes(b"jpeg")
    (tmp_path / "file").write_text("mine")
    before = _snapshot(tmp_path)
    with pytest.raises(ValueError, match="photos: not an mvdepth output folder"):
        check_output(tmp_path / "photos", overwrite=True)
    with pytest.raises(ValueError, match="file: exists and is not a folder"):
        check_output(tmp_path / "file", overwrite=True)
    assert _snapshot(tmp_path) == before


def test_output_may_not_equal_contain_or_lie_inside_an_input(tmp_path, monkeypatch):
    photos = tmp_path / "sandbox" / "photos"
    photos.mkdir(parents=True)
    (photos / "a.jpg").write_bytes(b"jpeg")
    with pytest.raises(ValueError, match="is an input"):
        check_output(photos, True, [photos])
    with pytest.raises(ValueError, match="contains the input"):
        check_output(tmp_path / "sandbox", True, [photos])
    with pytest.raises(ValueError, match="contains the input"):
        check_output(tmp_path / "sandbox", True, [photos / "a.jpg"])
    with pytest.raises(ValueError, match="lies inside the input folder"):
        check_output(photos / "out", False, [photos])
    monkeypatch.chdir(photos)  # relative paths and '.'
    with pytest.raises(ValueError, match="is an input"):
        check_output(".", True, ["."])
    with pytest.raises(ValueError, match="contains the input"):
        check_output("..", True, ["a.jpg"])
    with pytest.raises(ValueError, match="current folder"):
        check_output(".", True, [])
    link = tmp_path / "link"
    link.symlink_to(photos)
    with pytest.raises(ValueError, match="is an input"):
        check_output(link, True, [photos])
    with pytest.raises(ValueError, match="contains the input"):
        check_output(tmp_path / "sandbox", True, [link / "a.jpg"])


def test_output_may_not_be_a_symbolic_link(tmp_path):
    target = _write(tmp_path / "out")
    (tmp_path / "link").symlink_to(target)
    with pytest.raises(ValueError, match="symbolic link"):
        check_output(tmp_path / "link", True)


@pytest.mark.parametrize("where, message", [
    ("file/out", "file: not a folder"),
    ("/proc/mvdepth-out", "/proc: cannot write the output here"),
])
def test_an_unusable_output_location_fails_at_once_and_leaves_nothing(tmp_path, where, message):
    (tmp_path / "file").write_text("mine")
    before = _snapshot(tmp_path)
    with pytest.raises(OSError, match=message):
        check_output(tmp_path / where if not where.startswith("/") else where)
    assert _snapshot(tmp_path) == before



def test_an_interrupt_while_writing_leaves_the_old_folder_and_no_temporary(tmp_path):
    out = _write(tmp_path / "out", text="first")
    before = _snapshot(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        with output_folder(out, overwrite=True) as tmp:
            (tmp / "half.txt").write_text("half")
            raise KeyboardInterrupt
    assert _snapshot(tmp_path) == before
