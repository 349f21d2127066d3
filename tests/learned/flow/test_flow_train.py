import pytest
import torch

import learned
from learned.flow.train import main

TINY = ["--size", "tiny", "--steps", "3", "--batch-size", "1", "--height", "32", "--width", "32",
        "--val-pairs", "1", "--log-every", "1"]


def test_training_script_writes_loadable_weights(tmp_path, capsys):
    out = tmp_path / "raft_tiny.pt"
    main(["--out", str(out)] + TINY)
    printed = capsys.readouterr().out
    assert "step 3/3" in printed and "evaluation: epe" in printed
    est = learned.load_flow(out)
    assert est.meta["command"] == f"python -m learned.flow.train --out {out} " + " ".join(TINY)
    assert est.meta["steps"] == 3 and est.meta["complete"] and est.meta["evaluation"]["epe"] > 0
    assert not (tmp_path / "raft_tiny.pt.state").exists()


def test_a_run_split_over_several_commands_gives_the_same_weights(tmp_path, capsys):
    whole, split = tmp_path / "whole.pt", tmp_path / "split.pt"
    main(["--out", str(whole)] + TINY)
    main(["--out", str(split), "--time-limit", "0"] + TINY)  # stops after one step
    assert "continue with: python -m learned.flow.train" in capsys.readouterr().out
    assert learned.load_flow(split).meta["complete"] is False
    with pytest.raises(SystemExit, match="pass --resume"):
        main(["--out", str(split)] + TINY)
    main(["--out", str(split), "--resume", "--time-limit", "0"] + TINY)
    main(["--out", str(split), "--resume"] + TINY)
    a, b = learned.load_flow(whole), learned.load_flow(split)
    assert b.meta["complete"] and b.meta["command"] == a.meta["command"].replace("whole", "split")
    for (name, x), y in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(x, y), name


def test_a_further_stage_starts_from_the_given_weights(tmp_path):
    first, second = tmp_path / "first.pt", tmp_path / "second.pt"
    main(["--out", str(first)] + TINY)
    main(["--out", str(second), "--init", str(first), "--lr", "0", "--colour-jitter", "--seed", "1"]
         + TINY)  # zero learning rate: the parameters stay those of the first stage
    a, b = learned.load_flow(first), learned.load_flow(second)
    assert b.meta["init_command"] == a.meta["command"]
    for (name, x), y in zip(a.model.named_parameters(), b.model.parameters()):
        assert torch.equal(x, y), name
    with pytest.raises(SystemExit, match="not the raft"):
        main(["--out", str(tmp_path / "third.pt"), "--init", str(first), "--size", "small"] + TINY[2:])


def test_training_on_rendered_scenes_reports_their_held_out_error(tmp_path, capsys):
    out = tmp_path / "raft_tiny.pt"
    main(["--out", str(out), "--scene-pairs", "2", "--cache-dir", str(tmp_path)] + TINY)
    assert "scene_epe" in capsys.readouterr().out
    assert learned.load_flow(out).meta["evaluation"]["scene_epe"] > 0
    assert len(list(tmp_path.glob("flow_scenes_*.npz"))) == 2  # training and held-out pairs
