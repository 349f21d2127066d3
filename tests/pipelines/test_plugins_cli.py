"""`mvdepth flow` and `mvdepth depth` on synthetic flying-layers frames."""
import cv2
import numpy as np
import pytest

from geom import synth
from pipelines import cli


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    return synth.write_folder(synth.render(synth.flying_layers(0, 128, 96)),
                              tmp_path_factory.mktemp("layers") / "frames")


def test_flow_cli_writes_flow_and_preview(frames, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["flow", str(frames / "frame_000.png"), str(frames / "frame_001.png"),
                     "-o", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    flow = np.load(out / "flow.npy")
    assert flow.shape == (96, 128, 2) and flow.dtype == np.float32
    true = np.load(frames / "flow" / "frame_000_frame_001.npy")  # rendered truth
    ok = np.isfinite(true).all(axis=2)
    # median end-point error 0.41 px measured (median true motion 1.70 px)
    assert np.median(np.linalg.norm(flow[ok] - true[ok], axis=1)) < 0.8
    png = cv2.imread(str(out / "flow.png"))
    assert png is not None and png.shape == (96, 128, 3)


def test_depth_cli_writes_depth_per_image(frames, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["depth", str(frames / "frame_000.png"), str(frames / "frame_001.png"),
                     "-o", str(out)]) == 0
    printed = capsys.readouterr()
    summary = printed.out.strip()
    assert "\n" not in summary and "output scale" in summary
    lines = printed.err.splitlines()  # plain lines (stderr is no terminal here), the rate after
    assert [ln.split(" (")[0] for ln in lines] == ["depth maps: 1/2", "depth maps: 2/2"]
    for stem in ("frame_000", "frame_001"):
        depth = np.load(out / "depth" / f"{stem}.npy")
        assert depth.shape == (96, 128) and depth.dtype == np.float32
        assert np.isfinite(depth).mean() > 0.9 and np.nanmin(depth) > 0
        assert (out / "depth" / f"{stem}.png").is_file()


def _fails(argv, message, out, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err
    assert not out.exists()


def test_bad_input_one_line_error_no_output(frames, tmp_path, capsys):
    out = tmp_path / "out"
    img1, img2 = str(frames / "frame_000.png"), str(frames / "frame_001.png")
    _fails(["flow", img1, img2, "-o", str(out), "--method", "nope"],
           "unknown flow plug-in 'nope'", out, capsys)
    _fails(["depth", img1, "-o", str(out), "--model", "nope"],
           "unknown depth plug-in 'nope'", out, capsys)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    _fails(["flow", img1, str(junk), "-o", str(out)], "junk.png: not a readable image", out, capsys)
    _fails(["depth", str(junk), "-o", str(out)], "junk.png: not a readable image", out, capsys)
    _fails(["depth", str(tmp_path / "missing.png"), "-o", str(out)],
           "missing.png: no such image file", out, capsys)
    small = synth.write_folder(synth.render(synth.flying_layers(0, 64, 48)), tmp_path / "small")
    _fails(["flow", img1, str(small / "frame_001.png"), "-o", str(out)],
           "differs from frame_000.png (128x96)", out, capsys)
    _fails(["depth", img1, str(small / "frame_000.png"), "-o", str(out)],
           "file names (without suffix) must be distinct", out, capsys)
    assert not list(tmp_path.glob(".out.*"))  # no temporary folder left behind either
