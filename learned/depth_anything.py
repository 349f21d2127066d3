"""Depth Anything (V1 / V2) through Hugging Face `transformers`, as a depth plug-in:
`load_depth('depth-anything:<folder or hub id>')`.

Offline only: the model is read from a folder written by `save_pretrained` or from a hub id
already in the local Hugging Face cache (fetch it once, where there is a network, with
`huggingface-cli download depth-anything/Depth-Anything-V2-Small-hf`); nothing is downloaded.
The relative models predict inverse depth up to scale and shift (`output` 'affine', `inverse`
True); the metric ones (config `depth_estimation_type` 'metric') metric depth.

Images are resized to the area of a `working_size` square (518, the models' training
resolution; aspect kept), padded to the patch size, normalised with the ImageNet statistics, and the map
is resized back to the image size. Needs `pip install mvdepth[depth-anything]`.
"""
import torch

from .estimators import DepthEstimator, default_device

PREFIX = "depth-anything:"  # of the plug-in names `load_depth` sends here

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class DepthAnything(DepthEstimator):
    """A Depth Anything model of `transformers` (`DepthAnythingForDepthEstimation`)."""

    def __init__(self, model, device=None, working_size=518):
        self.device = default_device(device)
        self.model = model.to(self.device).eval()
        config = model.config
        self.stride = int(config.patch_size)
        self.working_size = working_size
        metric = getattr(config, "depth_estimation_type", "relative") == "metric"
        self.output, self.inverse = ("metric", False) if metric else ("affine", True)
        self._mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1)

    def _run(self, t):
        return self.model(pixel_values=(t - self._mean) / self._std).predicted_depth[:, None]


def load_depth_anything(ref, device=None, working_size=518):
    """The `DepthAnything` estimator of the local folder or cached hub id `ref`."""
    try:
        from transformers import AutoModelForDepthEstimation
    except ImportError as err:
        raise ImportError("depth-anything needs the package 'transformers': "
                          "pip install 'mvdepth[depth-anything]' (or: pip install transformers)") from err
    if not ref:
        raise ValueError(f"expected {PREFIX}<folder or hub id>, e.g. "
                         f"{PREFIX}depth-anything/Depth-Anything-V2-Small-hf")
    try:
        model = AutoModelForDepthEstimation.from_pretrained(ref, local_files_only=True)
    except (OSError, ValueError) as err:
        raise FileNotFoundError(
            f"Depth Anything model {ref!r} not found offline: give a folder written by save_pretrained, "
            f"or a hub id already in the Hugging Face cache (download it once with: "
            f"huggingface-cli download {ref}) ({err})") from err
    if model.config.model_type != "depth_anything":
        raise ValueError(f"{ref}: a {model.config.model_type!r} model, not Depth Anything")
    return DepthAnything(model, device, working_size)
