import json

import numpy as np
import pytest
from hypothesis import given, settings

from geom.camera import Camera
from geom.io import load_cameras_json, save_cameras_json
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
