"""Numba kernels of the ray caster: solid noise textures, ray/shape intersection, rendering, flow.

Packed scene layout (see `render._pack`): per shape `kind` (S,) int64 (index into
`scene.SHAPE_KINDS`), `size` (S, 3), `label` (S,) int64, `texi` (S, 3) int64 (seed, octaves,
pattern), `texf` (S, 2) (scale, contrast), `colors` (S, 3, 3); per frame poses `Rs` (S, 3, 3),
`ts` (S, 3) body -> world. A camera is packed as `cam` (14,): fx, fy, cx, cy, skew, R (9, row
major), then `t` separately. `light` (5,): direction (3, unit), ambient, diffuse.
"""
import numpy as np
from numba import njit, prange

_PLANE, _BOX, _SPHERE, _ROOM = 0, 1, 2, 3
_NOISE, _CHECKER, _STRIPES = 0, 1, 2
_EPS = 1e-9


@njit(cache=True, inline="always")
def _hash(ix, iy, iz, seed):
    """Integer lattice point -> pseudo-random 32-bit integer."""
    h = (ix * 374761393 + iy * 668265263 + iz * 1274126177 + seed * 2246822519) & 0xFFFFFFFF
    h = ((h ^ (h >> 13)) * 1274126177) & 0xFFFFFFFF
    h = ((h ^ (h >> 16)) * 668265261) & 0xFFFFFFFF
    return h ^ (h >> 15)


@njit(cache=True, inline="always")
def _fade(t):
    return t * t * t * (t * (t * 6.0 - 15.0) + 10.0)


@njit(cache=True, inline="always")
def _grad(h, x, y, z):
    """Dot product of (x, y, z) with one of Perlin's 12 edge gradients picked by `h`."""
    h = (h >> 7) & 15
    u = x if h < 8 else y
    v = y if h < 4 else (x if h == 12 or h == 14 else z)
    return (u if h & 1 == 0 else -u) + (v if h & 2 == 0 else -v)


@njit(cache=True)
def _noise(x, y, z, seed):
    """Perlin gradient noise at a 3D point (lattice spacing 1): smooth, zero mean, about [-1, 1]."""
    fx, fy, fz = np.floor(x), np.floor(y), np.floor(z)
    ix, iy, iz = np.int64(fx), np.int64(fy), np.int64(fz)
    x, y, z = x - fx, y - fy, z - fz
    ux, uy, uz = _fade(x), _fade(y), _fade(z)
    a = _grad(_hash(ix, iy, iz, seed), x, y, z)
    b = _grad(_hash(ix + 1, iy, iz, seed), x - 1, y, z)
    a += ux * (b - a)
    c = _grad(_hash(ix, iy + 1, iz, seed), x, y - 1, z)
    d = _grad(_hash(ix + 1, iy + 1, iz, seed), x - 1, y - 1, z)
    c += ux * (d - c)
    e = _grad(_hash(ix, iy, iz + 1, seed), x, y, z - 1)
    f = _grad(_hash(ix + 1, iy, iz + 1, seed), x - 1, y, z - 1)
    e += ux * (f - e)
    g = _grad(_hash(ix, iy + 1, iz + 1, seed), x, y - 1, z - 1)
    h = _grad(_hash(ix + 1, iy + 1, iz + 1, seed), x - 1, y - 1, z - 1)
    g += ux * (h - g)
    a += uy * (c - a)
    e += uy * (g - e)
    return a + uz * (e - a)


@njit(cache=True, inline="always")
def _lod(wavelength, footprint):
    """Weight of a texture component of `wavelength` seen with a pixel `footprint` (both in scene
    units): 1 above 3 pixels per wavelength, fading to 0 at 1.5 (band-limits the texture)."""
    return min(max((wavelength / footprint - 1.5) / 1.5, 0.0), 1.0)


_PERSISTENCE = 0.85  # amplitude ratio of successive octaves: a flat-ish spectrum
_SMOOTH = 8.0  # octaves of at least this many pixels per wavelength are smooth within a pixel


@njit(cache=True)
def _fbm(x, y, z, seed, scale, footprint, first, last):
    """Sum of the noise octaves `first..last-1` (octave o has wavelength scale / 2^o and
    amplitude _PERSISTENCE^o); octaves too fine for the pixel `footprint` fade out."""
    total = 0.0
    amp = _PERSISTENCE ** first
    wl = scale * 0.5 ** first
    for o in range(first, last):
        w = _lod(wl, footprint)
        # a per-octave shift and seed decorrelate the lattices of successive octaves
        if w > 0.0:
            total += amp * w * _noise(x / wl + 0.37 * o, y / wl + 0.71 * o, z / wl + 0.13 * o,
                                      seed + 7919 * o)
        amp *= _PERSISTENCE
        wl *= 0.5
    return total


@njit(cache=True)
def _smooth_part(p, shape, texi, texf, footprint):
    """The slowly varying part of a texture at body point `p`: (colour mix m in [0, 1], sum of
    the smooth octaves, their count). Constant to second order within a pixel, so it is
    evaluated once per pixel and shared by the sub-pixel samples on the same shape."""
    seed, octaves = texi[shape, 0], texi[shape, 1]
    scale = texf[shape, 0]
    m = _noise(p[0] / (2 * scale) + 11.3, p[1] / (2 * scale) + 5.1, p[2] / (2 * scale) + 3.7,
               seed + 101)
    n_smooth = 0
    wl = scale
    while n_smooth < octaves and wl >= _SMOOTH * footprint:
        n_smooth += 1
        wl *= 0.5
    smooth = _fbm(p[0], p[1], p[2], seed, scale, footprint, 0, n_smooth)
    return min(max(1.2 * m + 0.5, 0.0), 1.0), smooth, n_smooth


@njit(cache=True)
def _texture(p, shape, texi, texf, colors, footprint, m, smooth, n_smooth, out):
    """Albedo (3,) into `out` at body point `p` (3,) of `shape`, given its `_smooth_part`.

    Luminance: 1 + 1.6 contrast * (multi-octave noise of std ~0.27), times a soft checker or
    stripes pattern; colour: a quadratic Bezier through the three colours driven by `m`."""
    seed, octaves, pattern = texi[shape, 0], texi[shape, 1], texi[shape, 2]
    scale, contrast = texf[shape, 0], texf[shape, 1]
    noise = smooth + _fbm(p[0], p[1], p[2], seed, scale, footprint, n_smooth, octaves)
    norm2 = (1.0 - _PERSISTENCE ** (2 * octaves)) / (1.0 - _PERSISTENCE ** 2)
    lum = 1.0 + 1.6 * contrast * noise / np.sqrt(norm2)
    if pattern != _NOISE:
        if pattern == _CHECKER:
            v = (np.cos(np.pi * p[0] / scale) * np.cos(np.pi * p[1] / scale)
                 * np.cos(np.pi * p[2] / scale + 0.5))
        else:
            v = np.sin(2 * np.pi * (0.8 * p[0] + 0.5 * p[1] + 0.33 * p[2]) / scale)
        lum *= 1.0 + 0.3 * _lod(scale, footprint) * np.tanh(3.0 * v)
    lum = max(lum, 0.05)
    for c in range(3):
        out[c] = lum * ((1 - m) * (1 - m) * colors[shape, 0, c]
                        + 2 * m * (1 - m) * colors[shape, 1, c] + m * m * colors[shape, 2, c])


@njit(cache=True, inline="always")
def _slab(o, d, half, axis, t_near, ax_near, t_far, ax_far):
    """One axis of the slab test: the ray `o + s d` between the planes at -half and +half.
    Returns the updated entry/exit parameters and axes; t_near = inf flags a miss."""
    if abs(d) < _EPS:
        if abs(o) > half:
            return np.inf, ax_near, t_far, ax_far
        return t_near, ax_near, t_far, ax_far
    inv = 1.0 / d
    t1 = (-half - o) * inv
    t2 = (half - o) * inv
    if t1 > t2:
        t1, t2 = t2, t1
    if t1 > t_near:
        t_near, ax_near = t1, axis
    if t2 < t_far:
        t_far, ax_far = t2, axis
    return t_near, ax_near, t_far, ax_far


@njit(cache=True)
def _intersect(kind, sx, sy, sz, ox, oy, oz, dx, dy, dz):
    """First hit `s > 0` of the ray `o + s d` with a shape of half extents (sx, sy, sz) in its
    own coordinates, and the outward (for a room: inward) unit normal there.
    Returns (s, nx, ny, nz); s = inf when missed."""
    inf = np.inf
    if kind == _PLANE:
        if abs(dz) < _EPS:
            return inf, 0.0, 0.0, 0.0
        s = -oz / dz
        if s <= _EPS or abs(ox + s * dx) > sx or abs(oy + s * dy) > sy:
            return inf, 0.0, 0.0, 0.0
        return s, 0.0, 0.0, 1.0
    if kind == _SPHERE:
        b = ox * dx + oy * dy + oz * dz
        a = dx * dx + dy * dy + dz * dz
        c = ox * ox + oy * oy + oz * oz - sx * sx
        disc = b * b - a * c
        if disc < 0:
            return inf, 0.0, 0.0, 0.0
        s = (-b - np.sqrt(disc)) / a
        if s <= _EPS:
            return inf, 0.0, 0.0, 0.0
        return s, (ox + s * dx) / sx, (oy + s * dy) / sx, (oz + s * dz) / sx
    # box or room: slab method
    t_near, ax_near, t_far, ax_far = -inf, -1, inf, -1
    t_near, ax_near, t_far, ax_far = _slab(ox, dx, sx, 0, t_near, ax_near, t_far, ax_far)
    t_near, ax_near, t_far, ax_far = _slab(oy, dy, sy, 1, t_near, ax_near, t_far, ax_far)
    t_near, ax_near, t_far, ax_far = _slab(oz, dz, sz, 2, t_near, ax_near, t_far, ax_far)
    if t_near > t_far:
        return inf, 0.0, 0.0, 0.0
    if kind == _BOX:
        if t_near <= _EPS:
            return inf, 0.0, 0.0, 0.0
        s, ax = t_near, ax_near
    else:
        if t_far <= _EPS or t_near > _EPS:  # a room is seen from inside only
            return inf, 0.0, 0.0, 0.0
        s, ax = t_far, ax_far
    # entering a box or leaving a room through the face normal to `ax`: the normal opposes d
    sign = -1.0 if (dx if ax == 0 else (dy if ax == 1 else dz)) > 0 else 1.0
    return s, sign * (ax == 0), sign * (ax == 1), sign * (ax == 2)


@njit(cache=True)
def _cast(o, d, kind, size, Rs, ts, p_body, n_world):
    """Nearest hit of the world ray `o + s d` over all shapes: returns (s, shape) with shape = -1
    when nothing is hit; fills the body coordinates `p_body` and world normal `n_world` of the hit."""
    best_s = np.inf
    best = -1
    for k in range(kind.shape[0]):
        # the ray in body coordinates: R^T (o - t), R^T d (plain scalars: no temporaries per ray)
        ex, ey, ez = o[0] - ts[k, 0], o[1] - ts[k, 1], o[2] - ts[k, 2]
        ox = Rs[k, 0, 0] * ex + Rs[k, 1, 0] * ey + Rs[k, 2, 0] * ez
        oy = Rs[k, 0, 1] * ex + Rs[k, 1, 1] * ey + Rs[k, 2, 1] * ez
        oz = Rs[k, 0, 2] * ex + Rs[k, 1, 2] * ey + Rs[k, 2, 2] * ez
        dx = Rs[k, 0, 0] * d[0] + Rs[k, 1, 0] * d[1] + Rs[k, 2, 0] * d[2]
        dy = Rs[k, 0, 1] * d[0] + Rs[k, 1, 1] * d[1] + Rs[k, 2, 1] * d[2]
        dz = Rs[k, 0, 2] * d[0] + Rs[k, 1, 2] * d[1] + Rs[k, 2, 2] * d[2]
        s, nx, ny, nz = _intersect(kind[k], size[k, 0], size[k, 1], size[k, 2],
                                   ox, oy, oz, dx, dy, dz)
        if s < best_s:
            best_s = s
            best = k
            p_body[0] = ox + s * dx
            p_body[1] = oy + s * dy
            p_body[2] = oz + s * dz
            for a in range(3):
                n_world[a] = Rs[k, a, 0] * nx + Rs[k, a, 1] * ny + Rs[k, a, 2] * nz
    return best_s, best


@njit(cache=True, inline="always")
def _pixel_ray(cam, t, u, v, o, d):
    """World ray through pixel (u, v): origin `o` = camera centre, direction `d` with unit camera
    z (so the ray parameter is the depth)."""
    y = (v - cam[3]) / cam[1]
    x = (u - cam[2] - cam[4] * y) / cam[0]
    for a in range(3):  # d = R^T (x, y, 1), o = -R^T t
        d[a] = cam[5 + a] * x + cam[8 + a] * y + cam[11 + a]
        o[a] = -(cam[5 + a] * t[0] + cam[8 + a] * t[1] + cam[11 + a] * t[2])


@njit(cache=True)
def _footprint(d, s, n, pixel_angle):
    """Size in scene units of a pixel seen along `d` at ray parameter (= depth) `s` on a surface
    of normal `n`; turns `n` towards the viewer (planes are two-sided)."""
    dn = np.sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2])
    cos = (n[0] * d[0] + n[1] * d[1] + n[2] * d[2]) / dn
    if cos > 0:
        cos = -cos
        for a in range(3):
            n[a] = -n[a]
    return s * dn * pixel_angle / max(-cos, 0.2)


@njit(cache=True, inline="always")
def _lambert(albedo, n, light, out):
    k = light[3] + light[4] * max(-(n[0] * light[0] + n[1] * light[1] + n[2] * light[2]), 0.0)
    for c in range(3):
        out[c] = albedo[c] * k


@njit(cache=True, inline="always")
def _sky(d, out):
    z = d[2] / np.sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2])
    out[0] = 0.55 + 0.2 * z
    out[1] = 0.68 + 0.2 * z
    out[2] = 0.85 + 0.1 * z


@njit(cache=True, parallel=True)
def render(height, width, cam, t, kind, size, label, texi, texf, colors, Rs, ts, light, offsets):
    """Render one frame: image (H, W, 3) float32 in [0, 1] averaged over the sub-pixel `offsets`
    (A, 2), and depth (H, W) float64 (inf on no hit) and labels (H, W) uint8 of the centre ray."""
    image = np.empty((height, width, 3), np.float32)
    depth = np.empty((height, width))
    labels = np.empty((height, width), np.uint8)
    pixel_angle = 2.0 / (cam[0] + cam[1])
    for v in prange(height):
        o = np.empty(3)
        d = np.empty(3)
        p = np.empty(3)
        n = np.empty(3)
        albedo = np.empty(3)
        rgb = np.empty(3)
        for u in range(width):
            _pixel_ray(cam, t, u, v, o, d)
            s, centre = _cast(o, d, kind, size, Rs, ts, p, n)
            depth[v, u] = s
            labels[v, u] = 0 if centre < 0 else label[centre]
            m, smooth, n_smooth = 0.0, 0.0, 0
            if centre >= 0:
                m, smooth, n_smooth = _smooth_part(p, centre, texi, texf,
                                                   _footprint(d, s, n, pixel_angle))
            acc0 = acc1 = acc2 = 0.0
            for a in range(offsets.shape[0]):
                _pixel_ray(cam, t, u + offsets[a, 0], v + offsets[a, 1], o, d)
                s, k = _cast(o, d, kind, size, Rs, ts, p, n)
                if k < 0:
                    _sky(d, rgb)
                else:
                    footprint = _footprint(d, s, n, pixel_angle)
                    if k == centre:
                        _texture(p, k, texi, texf, colors, footprint, m, smooth, n_smooth, albedo)
                    else:  # the sample is on another shape than the pixel centre
                        mk, smooth_k, n_k = _smooth_part(p, k, texi, texf, footprint)
                        _texture(p, k, texi, texf, colors, footprint, mk, smooth_k, n_k, albedo)
                    _lambert(albedo, n, light, rgb)
                acc0 += rgb[0]
                acc1 += rgb[1]
                acc2 += rgb[2]
            na = offsets.shape[0]
            image[v, u, 0] = min(acc0 / na, 1.0)
            image[v, u, 1] = min(acc1 / na, 1.0)
            image[v, u, 2] = min(acc2 / na, 1.0)
    return image, depth, labels


@njit(cache=True, parallel=True)
def flow(depth, labels, cam_i, t_i, cam_j, t_j, motion_R, motion_t, kind, size, label, Rs_j, ts_j,
         rel_tol):
    """Ground-truth flow from frame i to frame j and occlusion.

    depth (H, W), labels (H, W) of frame i; motion_R (L, 3, 3), motion_t (L, 3): world motion of
    each label from frame i to frame j (`X_j = motion_R X_i + motion_t`); the shapes at their
    frame-j poses (`Rs_j`, `ts_j`) for the visibility test: a pixel is visible in j when the ray
    through its projection hits the same label at the predicted depth (relative `rel_tol`).
    Points at infinity (depth inf) move with the camera rotation only. Returns flow (H, W, 2)
    float32 (NaN where the point is behind camera j) and occluded (H, W) bool.
    """
    height, width = depth.shape
    out = np.empty((height, width, 2), np.float32)
    occluded = np.empty((height, width), np.bool_)
    for v in prange(height):
        o = np.empty(3)
        d = np.empty(3)
        X = np.empty(3)
        Y = np.empty(3)
        Xc = np.empty(3)
        p = np.empty(3)
        n = np.empty(3)
        for u in range(width):
            _pixel_ray(cam_i, t_i, u, v, o, d)
            z = depth[v, u]
            lab = labels[v, u]
            at_infinity = not np.isfinite(z)
            for a in range(3):
                X[a] = d[a] if at_infinity else o[a] + z * d[a]
            M = motion_R[lab]
            for a in range(3):
                Y[a] = M[a, 0] * X[0] + M[a, 1] * X[1] + M[a, 2] * X[2]
                if not at_infinity:
                    Y[a] += motion_t[lab, a]
            for a in range(3):  # camera j coordinates: R_j Y (+ t_j for finite points)
                Xc[a] = (cam_j[5 + 3 * a] * Y[0] + cam_j[6 + 3 * a] * Y[1] + cam_j[7 + 3 * a] * Y[2])
                if not at_infinity:
                    Xc[a] += t_j[a]
            if Xc[2] <= 0:
                out[v, u, 0] = np.nan
                out[v, u, 1] = np.nan
                occluded[v, u] = True
                continue
            y = Xc[1] / Xc[2]
            x2 = cam_j[0] * Xc[0] / Xc[2] + cam_j[4] * y + cam_j[2]
            y2 = cam_j[1] * y + cam_j[3]
            out[v, u, 0] = x2 - u
            out[v, u, 1] = y2 - v
            if not (-0.5 <= x2 < width - 0.5 and -0.5 <= y2 < height - 0.5):
                occluded[v, u] = True
                continue
            _pixel_ray(cam_j, t_j, x2, y2, o, d)
            s, k = _cast(o, d, kind, size, Rs_j, ts_j, p, n)
            if at_infinity:
                occluded[v, u] = k >= 0
            else:
                occluded[v, u] = k < 0 or label[k] != lab or abs(s - Xc[2]) > rel_tol * Xc[2]
    return out, occluded
