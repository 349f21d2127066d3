import pytest
import torch

from learned import checkpoint
from learned.depth.unet import UNet
from learned.flow.raft import RAFT


def test_raft_save_and_reload_give_identical_outputs(tmp_path):
    torch.manual_seed(1)
    model = RAFT.from_size("tiny").eval()
    x1, x2 = torch.rand(1, 3, 64, 72), torch.rand(1, 3, 64, 72)
    checkpoint.save(tmp_path / "sub" / "raft.pt", model, command="cmd")
    loaded, meta = checkpoint.load(tmp_path / "sub" / "raft.pt")
    assert meta == {"command": "cmd"} and loaded.config == model.config
    with torch.no_grad():
        assert torch.equal(model(x1, x2)[-1], loaded(x1, x2)[-1])


def test_unet_save_and_reload_give_identical_outputs(tmp_path):
    torch.manual_seed(2)
    model = UNet.from_size("tiny")
    model.train()
    model(torch.rand(2, 3, 16, 16))  # moves the batch-norm running statistics off their init
    model.eval()
    x = torch.rand(1, 3, 32, 48)
    checkpoint.save(tmp_path / "unet.pt", model)
    loaded, _ = checkpoint.load(tmp_path / "unet.pt")
    with torch.no_grad():
        for a, b in zip(model(x), loaded(x)):
            assert torch.equal(a, b)


def test_load_rejects_other_files(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_text("not a checkpoint")
    with pytest.raises(ValueError, match="bad.pt: not a readable torch weights file"):
        checkpoint.load(bad)
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not an mvdepth weights file"):
        checkpoint.load(tmp_path / "other.pt")
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        checkpoint.load(tmp_path / "missing.pt")


def test_unknown_architecture():
    with pytest.raises(ValueError, match="unknown architecture 'vit'"):
        checkpoint.architecture("vit")
