"""`mvdepth stereo` on a synthetic rectified pair with known disparity."""
import numpy as np

from geom import synth
from pipelines import cli


def test_stereo_cli_disparity_and_depth(tmp_path, capsys):
    pair = synth.write_folder(synth.render(synth.stereo_rig(0, 320, 240)), tmp_path / "pair")
    out = tmp_path / "out"
    f = synth.stereo_rig(0, 320, 240).cameras[0].K[0, 0]
    assert cli.main(["stereo", str(pair / "frame_000.png"), str(pair / "frame_001.png"), "-o",
                     str(out), "--num-disparities", "48", "--focal", str(f), "--baseline",
                     "0.25"]) == 0
    assert "wrote" in capsys.readouterr().out
    disp = np.load(out / "disparity.npy")
    true = np.load(pair / "disparity" / "frame_000.npy")
    ok = np.isfinite(disp) & np.isfinite(true)
    assert ok.mean() > 0.7
    assert np.mean(np.abs(disp[ok] - true[ok]) < 1.0) > 0.9
    depth = np.load(out / "depth.npy")
    assert np.allclose(depth[ok], f * 0.25 / disp[ok], rtol=1e-5)
    assert (out / "disparity.png").is_file()


def test_stereo_cli_bad_input(tmp_path, capsys):
    assert cli.main(["stereo", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "-o",
                     str(tmp_path / "out")]) == 2
    assert "a.png: no such image file" in capsys.readouterr().err
    assert cli.main(["stereo", "a.png", "b.png", "-o", str(tmp_path / "out"), "--focal", "100"]) == 2
    assert "give both" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
