import json

import numpy as np
import pytest

from geom.io import load_cameras_json
from pipelines.cli import main


def test_synth_writes_a_folder(tmp_path, capsys):
    out = tmp_path / "bodies"
    assert main(["synth", "bodies2", "-o", str(out), "--seed", "1", "--frames", "3", "--size", "64x48"]) == 0
    assert "wrote 3 64x48 frames" in capsys.readouterr().out
    cams = load_cameras_json(out / "cameras.json")
    assert list(cams) == ["frame_000.png", "frame_001.png", "frame_002.png"]
    assert all(c.image_size == (64, 48) for c in cams.values())
    assert len(json.loads((out / "bodies.json").read_text())["bodies"]) == 2
    assert np.load(out / "depth" / "frame_002.npy").shape == (48, 64)


def test_synth_same_seed_same_images(tmp_path):
    for name in ("a", "b"):
        assert main(["synth", "layers", "-o", str(tmp_path / name), "--seed", "4", "--size", "48x32"]) == 0
    assert (tmp_path / "a" / "frame_001.png").read_bytes() == (tmp_path / "b" / "frame_001.png").read_bytes()


@pytest.mark.parametrize("args, message", [
    (["stereo", "--frames", "3"], "--frames: a stereo pair has 2 frames"),
    (["ring", "--size", "640"], "--size: expected WIDTHxHEIGHT"),
    (["ring", "--size", "4x4"], "at least 8"),
    (["bodies1", "--seed", "-2"], "--seed"),
    (["bodies1", "--frames", "0"], "--frames"),
])
def test_synth_bad_arguments_give_one_line_errors(tmp_path, capsys, args, message):
    assert main(["synth", args[0], "-o", str(tmp_path / "x"), *args[1:]]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "x").exists()


def test_synth_refuses_an_existing_folder_unless_overwrite(tmp_path, capsys):
    out = tmp_path / "ring"
    out.mkdir()
    assert main(["synth", "ring", "-o", str(out), "--frames", "2", "--size", "32x24"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert list(out.iterdir()) == []
    assert main(["synth", "ring", "-o", str(out), "--frames", "2", "--size", "32x24", "--overwrite"]) == 0
    assert (out / "cameras.json").exists()


def test_synth_unknown_kind_is_rejected(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["synth", "teapot", "-o", str(tmp_path / "x")])
    assert exc.value.code == 2
    assert "invalid choice: 'teapot'" in capsys.readouterr().err
