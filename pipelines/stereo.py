"""`mvdepth stereo`: disparity (and depth, when calibrated) of a rectified stereo pair."""
import cv2
import numpy as np

from geom.io import check_output, output_folder
from geom.stereo import stereo_disparity

from .depthmaps import depth_preview
from .images import load_images


def run(left, right, output, num_disparities=64, min_disparity=0, focal=None, baseline=None,
        overwrite=False):
    """Write `disparity.npy` (float32 pixels, NaN: none, left pixel (x, y) matches right
    (x - d, y)), `disparity.png` (preview) and, given `focal` (pixels) and `baseline`,
    `depth.npy` (Z = f b / d) into `output`."""
    if num_disparities < 1:
        raise ValueError(f"--num-disparities: expected a positive integer, got {num_disparities}")
    if (focal is None) != (baseline is None):
        raise ValueError("--focal and --baseline: give both (depth = focal * baseline / disparity)")
    if focal is not None and not (0 < focal < np.inf and 0 < baseline < np.inf):
        raise ValueError(f"--focal, --baseline: must be finite and positive, got {focal} and "
                         f"{baseline}")
    check_output(output, overwrite, [left, right])
    imgs = load_images([left, right])
    disp = stereo_disparity(imgs.images[0], imgs.images[1], num_disparities=num_disparities,
                            min_disparity=min_disparity).disparity
    with output_folder(output, overwrite, [left, right]) as tmp:
        np.save(tmp / "disparity.npy", disp.astype(np.float32))
        with np.errstate(divide="ignore"):
            cv2.imwrite(str(tmp / "disparity.png"),
                        depth_preview(np.where(disp > 0, 1.0 / disp, np.nan))[:, :, ::-1])
        if focal is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                np.save(tmp / "depth.npy", np.where(disp > 0, focal * baseline / disp,
                                                    np.nan).astype(np.float32))
    valid = np.isfinite(disp)
    print(f"wrote {output}: disparity of {valid.mean():.0%} of the pixels "
          f"(range {np.nanmin(disp) if valid.any() else 0:.1f}..."
          f"{np.nanmax(disp) if valid.any() else 0:.1f} px)")
