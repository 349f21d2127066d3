import learned
from learned.flow.train import main


def test_training_script_writes_loadable_weights(tmp_path, capsys):
    out = tmp_path / "raft_tiny.pt"
    main(["--out", str(out), "--size", "tiny", "--steps", "2", "--batch-size", "1",
          "--height", "64", "--width", "64", "--log-every", "1", "--val-pairs", "2"])
    printed = capsys.readouterr().out
    assert "step 2/2" in printed and "held-out synthetic EPE" in printed
    est = learned.load_flow(out)
    assert est.meta["command"].startswith("python -m learned.flow.train --out")
    assert est.meta["steps"] == 2
