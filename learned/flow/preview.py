"""Colour preview of optical flow: the standard colour wheel of the Middlebury benchmark (Baker et
al., "A Database and Evaluation Methodology for Optical Flow", 2011): hue = direction, saturation
= magnitude (white: no motion)."""
import numpy as np

# hue segments of the wheel, in its order: red-yellow, yellow-green, green-cyan, cyan-blue,
# blue-magenta, magenta-red
_SEGMENTS = (15, 6, 4, 11, 13, 6)


def _color_wheel():
    """(55, 3) float64 RGB in [0, 255]: the wheel's colours, evenly spaced in angle."""
    ramps = []
    for i, n in enumerate(_SEGMENTS):
        up = np.arange(n) / n
        rgb = np.zeros((n, 3))
        main, nxt = (i // 2) % 3, (i // 2 + 1) % 3  # channel held at 255 over the two segments
        if i % 2 == 0:  # full `main` channel, the next one rising
            rgb[:, main], rgb[:, nxt] = 1.0, up
        else:  # full next channel, `main` falling
            rgb[:, main], rgb[:, nxt] = 1.0 - up, 1.0
        ramps.append(rgb)
    return 255.0 * np.concatenate(ramps)


_WHEEL = _color_wheel()


def flow_to_color(flow, max_norm=None):
    """(H, W, 2) flow (u right, v down, pixels) -> (H, W, 3) uint8 RGB preview.

    `max_norm`: the magnitude shown fully saturated (default: the largest finite magnitude).
    Non-finite vectors are black."""
    flow = np.asarray(flow, np.float64)
    if flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"flow: expected shape (H, W, 2), got {flow.shape}")
    if max_norm is not None and not max_norm > 0:
        raise ValueError(f"max_norm: expected a positive number, got {max_norm}")
    valid = np.isfinite(flow).all(axis=2)
    u, v = np.where(valid, flow[..., 0], 0.0), np.where(valid, flow[..., 1], 0.0)
    mag = np.hypot(u, v)
    if max_norm is None:
        max_norm = mag.max() if mag.max() > 0 else 1.0
    r = np.minimum(mag / max_norm, 1.0)
    n = len(_WHEEL)
    pos = (np.arctan2(-v, -u) / np.pi + 1) / 2 * (n - 1)  # 0..n-1, as in the reference code
    k0 = np.floor(pos).astype(int)
    k1 = (k0 + 1) % n
    w = (pos - k0)[..., None]
    col = ((1 - w) * _WHEEL[k0] + w * _WHEEL[k1]) / 255.0
    col = 1 - r[..., None] * (1 - col)  # desaturate towards white with decreasing magnitude
    out = np.round(255 * col).astype(np.uint8)
    out[~valid] = 0
    return out
