"""Image validation and conversion shared by the plug-ins.

Images are `(H, W)` or `(H, W, 3)` numpy arrays, uint8 or float32 in [0, 1] (DESIGN.md). Networks
take `(B, C, H, W)` float32 tensors in [0, 1] whose sides are padded to their stride.
"""
import cv2
import numpy as np
import torch
import torch.nn.functional as F


def check_image(img, name="img"):
    """Validate an image and return it as float32 `(H, W, C)` in [0, 1], `C` in {1, 3}."""
    if not isinstance(img, np.ndarray):
        raise ValueError(f"{name}: expected a numpy array (H, W) or (H, W, 3), got {type(img).__name__}")
    if not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 3)) or min(img.shape[:2]) < 1:
        raise ValueError(f"{name}: expected shape (H, W) or (H, W, 3), got {img.shape}")
    if img.dtype == np.uint8:
        out = img.astype(np.float32) / 255.0
    elif img.dtype == np.float32:
        if not np.isfinite(img).all() or img.min() < 0 or img.max() > 1:
            raise ValueError(f"{name}: float32 images must be finite and in [0, 1]")
        out = img
    else:
        raise ValueError(f"{name}: expected dtype uint8 or float32 in [0, 1], got {img.dtype}")
    return out[..., None] if out.ndim == 2 else out


def read_rgb(path):
    """An image file as uint8 `(H, W, 3)` RGB; a missing or unreadable file is a ValueError."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"{path}: cannot read the image (missing or not an image)")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def check_pair(img1, img2):
    """Validate two images of the same size; return both as float32 `(H, W, C)`."""
    a, b = check_image(img1, "img1"), check_image(img2, "img2")
    if a.shape[:2] != b.shape[:2]:
        raise ValueError(f"img1 and img2: different sizes {a.shape[:2]} and {b.shape[:2]}")
    return a, b


def to_uint8(img):
    """A validated float32 `(H, W, C)` image as uint8, keeping its channels (C=1 squeezed)."""
    out = np.round(img * 255.0).astype(np.uint8)
    return out[..., 0] if out.shape[2] == 1 else out


def to_gray_uint8(img):
    """A validated float32 `(H, W, C)` image as a uint8 grey image `(H, W)`."""
    u = to_uint8(img)
    return u if u.ndim == 2 else cv2.cvtColor(u, cv2.COLOR_RGB2GRAY)


def to_rgb_tensor(img, device):
    """A validated float32 `(H, W, C)` image as a `(1, 3, H, W)` tensor (grey repeated)."""
    t = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].to(device)
    return t.expand(1, 3, *t.shape[2:]) if t.shape[1] == 1 else t


def pad_to_multiple(x, multiple):
    """Pad `(B, C, H, W)` on the right and bottom (edge replication) to sides divisible by
    `multiple`; return the padded tensor and the original `(H, W)` for `crop`."""
    h, w = x.shape[-2:]
    ph, pw = -h % multiple, -w % multiple
    return (F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x), (h, w)


def crop(x, size):
    """Undo `pad_to_multiple`: keep the top-left `size = (H, W)` of `(..., H', W')`."""
    return x[..., :size[0], :size[1]]
