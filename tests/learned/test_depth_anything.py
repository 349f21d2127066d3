import sys

import numpy as np
import pytest
import torch

transformers = pytest.importorskip("transformers")

import learned  # noqa: E402
from learned.depth_anything import IMAGENET_MEAN, IMAGENET_STD  # noqa: E402
from learned.synthetic import random_texture  # noqa: E402


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    """A randomly initialised Depth Anything of the real architecture (DINOv2 backbone, DPT neck
    and head), a few tens of thousands of parameters, written with save_pretrained."""
    backbone = transformers.Dinov2Config(hidden_size=16, num_hidden_layers=4, num_attention_heads=2,
                                         mlp_ratio=2, image_size=56, patch_size=14,
                                         out_features=["stage1", "stage2", "stage3", "stage4"],
                                         reshape_hidden_states=False)
    config = transformers.DepthAnythingConfig(backbone_config=backbone, reassemble_hidden_size=16,
                                              neck_hidden_sizes=[8, 8, 16, 16], fusion_hidden_size=8,
                                              head_hidden_size=8)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("depth_anything")
    transformers.DepthAnythingForDepthEstimation(config).save_pretrained(path)
    return path


def test_loads_offline_and_predicts_relative_inverse_depth(tiny_model_dir):
    est = learned.load_depth(f"depth-anything:{tiny_model_dir}", device="cpu")
    assert (est.output, est.inverse, est.stride) == ("affine", True, 14)
    img = random_texture(np.random.default_rng(0), 45, 61)
    depth = est(img)
    assert depth.shape == (45, 61) and depth.dtype == np.float32 and np.isfinite(depth).all()
    grey = est((img.mean(-1) * 255).astype(np.uint8))
    assert grey.shape == (45, 61)


def test_same_map_as_the_transformers_model_on_its_own_input(tiny_model_dir):
    """At the working size and a multiple of the patch size, no resizing or padding: the map is
    the model's `predicted_depth` on the ImageNet-normalised image."""
    est = learned.load_depth(f"depth-anything:{tiny_model_dir}", device="cpu")
    est.working_size = (42 * 70) ** 0.5  # the image size: no resizing
    img = random_texture(np.random.default_rng(1), 42, 70)
    model = transformers.AutoModelForDepthEstimation.from_pretrained(tiny_model_dir).eval()
    x = torch.from_numpy(img).permute(2, 0, 1)[None]
    x = (x - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        want = model(pixel_values=x).predicted_depth[0].numpy()
    np.testing.assert_allclose(est(img), want, rtol=1e-5, atol=1e-6)


def test_metric_model_says_metric(tiny_model_dir, tmp_path):
    config = transformers.AutoConfig.from_pretrained(tiny_model_dir)
    config.depth_estimation_type, config.max_depth = "metric", 20
    transformers.DepthAnythingForDepthEstimation(config).save_pretrained(tmp_path)
    est = learned.load_depth(f"depth-anything:{tmp_path}", device="cpu")
    assert (est.output, est.inverse) == ("metric", False)


def test_missing_model_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="not found offline.*huggingface-cli download"):
        learned.load_depth(f"depth-anything:{tmp_path / 'absent'}")
    with pytest.raises(FileNotFoundError, match="huggingface-cli download nobody/no-such-model"):
        learned.load_depth("depth-anything:nobody/no-such-model")
    with pytest.raises(ValueError, match="expected depth-anything:<folder or hub id>"):
        learned.load_depth("depth-anything:")


def test_without_transformers_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(ImportError, match=r"pip install 'mvdepth\[depth-anything\]'"):
        learned.load_depth("depth-anything:depth-anything/Depth-Anything-V2-Small-hf")
