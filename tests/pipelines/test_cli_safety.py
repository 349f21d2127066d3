"""The CLI never deletes or replaces a user's file, checks the output location before any work,
and ends an interrupted run with one line and nothing written (issue 15)."""
import cv2
import numpy as np
import pytest

from pipelines import cli
from pipelines import images


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """sandbox/photos/{a,b}.png and sandbox/thesis/chapter1.tex; the cwd is tmp_path. Reading
    an image fails the test: every refusal here must come before any work."""
    photos = tmp_path / "sandbox" / "photos"
    photos.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(photos / name), rng.integers(0, 255, (24, 32, 3), dtype=np.uint8))
    (tmp_path / "sandbox" / "thesis").mkdir()
    (tmp_path / "sandbox" / "thesis" / "chapter1.tex").write_text("years of work")
    monkeypatch.chdir(tmp_path)

    def no_work(*args, **kwargs):
        raise AssertionError("work started before the output was checked")
    monkeypatch.setattr(images, "read_image", no_work)
    return tmp_path


def _snapshot(root):
    return {p.relative_to(root): (p.read_bytes() if p.is_file() else None)
            for p in sorted(root.rglob("*"))}


@pytest.mark.parametrize("argv, message", [
    (["sfm", "sandbox/photos", "-o", "sandbox/photos", "--overwrite"], "is an input"),
    (["sfm", "sandbox/photos", "-o", "sandbox", "--overwrite"], "contains the input"),
    (["sfm", "sandbox/photos", "-o", "sandbox/photos/out"], "lies inside the input folder"),
    (["sfm", "sandbox/photos", "-o", ".", "--overwrite"], "contains the input"),
    (["sfm", "sandbox/photos", "-o", "sandbox/thesis", "--overwrite"],
     "not an mvdepth output folder"),
    (["two-view", "sandbox/photos/a.png", "sandbox/photos/b.png", "-o", "sandbox/photos",
      "--overwrite"], "contains the input"),
    (["multibody", "sandbox/photos", "-o", "sandbox", "--overwrite"], "contains the input"),
    (["stereo", "sandbox/photos/a.png", "sandbox/photos/b.png", "-o", "sandbox/photos/a.png",
      "--overwrite"], "is an input"),
    (["depth", "sandbox/photos/a.png", "-o", "sandbox", "--overwrite"], "contains the input"),
    (["flow", "sandbox/photos/a.png", "sandbox/photos/b.png", "-o", "sandbox/photos",
      "--overwrite"], "contains the input"),
    (["sfm", "sandbox/photos", "-o", "sandbox/thesis/chapter1.tex/out"],
     "chapter1.tex: not a folder"),
    (["sfm", "sandbox/photos", "-o", "/proc/mvdepth-out"], "cannot write the output here"),
])
def test_a_risky_output_is_refused_with_one_line_and_nothing_touched(sandbox, capsys, argv,
                                                                    message):
    before = _snapshot(sandbox)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert _snapshot(sandbox) == before


def test_a_symlinked_input_is_still_protected(sandbox, capsys):
    (sandbox / "link").symlink_to(sandbox / "sandbox" / "photos")
    before = _snapshot(sandbox / "sandbox")
    assert cli.main(["sfm", "link", "-o", "sandbox", "--overwrite"]) == 2
    assert "contains the input" in capsys.readouterr().err
    assert _snapshot(sandbox / "sandbox") == before


def test_an_interrupt_prints_one_line_exits_130_and_writes_nothing(tmp_path, monkeypatch, capsys):
    from pipelines.sfm import pipeline

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(pipeline, "match_images", interrupted)
    assert cli.main(["sfm", "-o", str(tmp_path / "out")]) == 130
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == "mvdepth sfm: interrupted; nothing was written"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv, option", [
    (["demo", "--noise", "nan"], "--noise"),
    (["demo", "--noise", "-1"], "--noise"),
    (["demo", "--seed", "abc"], "--seed"),
    (["sfm", "-o", "x", "--seed", "-3"], "--seed"),
    (["stereo", "l.png", "r.png", "-o", "x", "--focal", "nan", "--baseline", "1"], "--focal"),
])
def test_a_bad_option_value_names_the_option(capsys, argv, option):
    with pytest.raises(SystemExit) as ex:
        cli.main(argv)
    assert ex.value.code == 2
    assert f"argument {option}" in capsys.readouterr().err
