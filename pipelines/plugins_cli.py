"""`mvdepth flow` and `mvdepth depth`: run a learned (or classical) plug-in of `learned` on
image files and write its maps."""
from pathlib import Path

import cv2
import numpy as np

from geom.io import check_output, output_folder
from geom.progress import STDERR, counter

from .depthmaps import monocular_depths, write_depths
from .images import input_paths, load_images, read_image

# what the numbers of a depth plug-in's map mean, by its `output` (learned.plugins)
OUTPUT_MEANING = {"metric": "metric depth", "scale": "depth up to a scale factor",
                  "affine": "depth up to a scale and a shift"}


def run_flow(image1, image2, output, method="dis-medium", overwrite=False):
    """Write `flow.npy` ((H, W, 2) float32, pixels from image 1 to image 2) and `flow.png`
    (colour-wheel preview) of the flow plug-in `method` (`learned.load_flow` name or path)."""
    import learned
    from learned.flow.preview import flow_to_color
    inputs = input_paths([image1, image2], method)
    check_output(output, overwrite, inputs)
    estimator = learned.load_flow(method)
    imgs = load_images([image1, image2])
    flow = np.asarray(estimator(*imgs.images), np.float32)
    with output_folder(output, overwrite, inputs) as tmp:
        np.save(tmp / "flow.npy", flow)
        if not cv2.imwrite(str(tmp / "flow.png"), flow_to_color(flow)[:, :, ::-1]):
            raise OSError(f"{tmp / 'flow.png'}: could not write the image")
    mag = np.hypot(flow[..., 0], flow[..., 1])
    print(f"wrote {output}: flow by {method} of {flow.shape[1]}x{flow.shape[0]} pixels "
          f"(median {np.nanmedian(mag):.1f} px, max {np.nanmax(mag):.1f} px)")


def run_depth(images, output, model="unet-synth", overwrite=False, progress=STDERR):
    """Write `depth/<image stem>.npy` (float32 depth; inverse-depth plug-ins inverted; NaN where
    none) and `depth/<image stem>.png` (preview) of the depth plug-in `model` for each image
    file of `images` (any sizes); the summary says what the numbers mean (metric, up to scale,
    up to scale and shift)."""
    import learned
    inputs = input_paths(images, model)
    check_output(output, overwrite, inputs)
    paths = [Path(p) for p in images]
    stems = [p.stem for p in paths]
    if len(set(stems)) != len(stems):
        raise ValueError("IMAGES: file names (without suffix) must be distinct")
    estimator = learned.load_depth(model)
    depths = monocular_depths(estimator, [read_image(p) for p in paths],
                              counter(progress, "depth maps"))
    with output_folder(output, overwrite, inputs) as tmp:
        write_depths(tmp / "depth", {p.name: d for p, d in zip(paths, depths)})
    print(f"wrote {output}: depth of {len(paths)} image(s) by {model}, output "
          f"{estimator.output} ({OUTPUT_MEANING[estimator.output]})")
