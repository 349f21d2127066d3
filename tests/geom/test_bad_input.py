"""Fuzzing the public geom API with bad input: wrong shapes and dtypes, NaN and inf, huge (1e150,
1e200) and tiny (1e-200) magnitudes, degenerate configurations (all points equal, collinear,
identical views, no baseline) and badly typed options. Every call must end in a ValueError that
names the argument at fault, or in a finite valid result: never a numba or numpy error, a crash,
or a NaN returned without an error."""
import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from geom import (eightpoint, epipolar, homography, multimodel, rectify, refine, robust,
                  sevenpoint, triangulate)
from geom.camera import Camera, normalize_points
from geom.fivepoint import essential_five_point
from geom.planesweep import plane_sweep
from geom.testing import make_two_view, seeds

_FAST = {"max_iterations": 50}


def _calls(p):
    """name -> (call(x1, x2), names of the two point arguments as its messages give them).
    Each call feeds (possibly corrupted) correspondences x1, x2 of the problem p."""
    c1, c2, K1, K2 = p.cam1, p.cam2, p.K1, p.K2
    return {
        "estimate_fundamental": (lambda a, b: robust.estimate_fundamental(a, b, **_FAST), "x1 x2"),
        "estimate_essential": (lambda a, b: robust.estimate_essential(a, b, K1, K2, **_FAST),
                               "x1 x2"),
        "estimate_relative_pose": (
            lambda a, b: robust.estimate_relative_pose(a, b, K1, K2, **_FAST), "x1 x2"),
        "estimate_homography": (lambda a, b: robust.estimate_homography(a, b, **_FAST), "x1 x2"),
        "estimate_absolute_pose": (
            lambda a, b: robust.estimate_absolute_pose(p.X, b, K2, **_FAST), "X x"),
        "eight_point": (eightpoint.eight_point, "x1 x2"),
        "seven_point": (lambda a, b: sevenpoint.seven_point(a[:7], b[:7]), "x1 x2"),
        "essential_five_point": (lambda a, b: essential_five_point(a[:5], b[:5]),
                                 "q1 q2"),
        "sampson_distance": (lambda a, b: epipolar.sampson_distance(p.F, a, b), "x1 x2"),
        "symmetric_epipolar_distance": (
            lambda a, b: epipolar.symmetric_epipolar_distance(p.F, a, b), "x1 x2"),
        "algebraic_error": (lambda a, b: epipolar.algebraic_error(p.F, a, b), "x1 x2"),
        "pose_from_essential": (lambda a, b: epipolar.pose_from_essential(p.E, a, b, K1, K2),
                                "x1 x2"),
        "homography_dlt": (homography.homography_dlt, "x1 x2"),
        "transfer_error": (lambda a, b: homography.transfer_error(np.eye(3), a, b), "x1 x2"),
        "midpoint": (lambda a, b: triangulate.midpoint(c1, c2, a, b), "x1 x2"),
        "dlt": (lambda a, b: triangulate.dlt(c1, c2, a, b), "x1 x2"),
        "dlt_multiview": (lambda a, b: triangulate.dlt_multiview([c1, c2], [a, b]), "xs xs"),
        "refine_relative_pose": (lambda a, b: refine.refine_relative_pose(p.R, p.t, a, b, K1, K2),
                                 "x1 x2"),
        "refine_fundamental": (lambda a, b: refine.refine_fundamental(p.F, a, b), "x1 x2"),
        "fit_homographies": (
            lambda a, b: multimodel.fit_homographies(a, b, n_hypotheses=30, max_rounds=1),
            "x1 x2"),
        "normalize_points": (lambda a, b: normalize_points(a, K1), "x x"),
    }


_NAMES = sorted(_calls(make_two_view(0, 10)))


def _corrupt(x, kind, rng):
    """Bad versions of a points array x (N, 2)."""
    x = np.array(x, dtype=np.float64)
    if kind.startswith("scale"):
        return x * float(kind[5:])
    if kind == "equal":
        return np.tile(x[:1], (len(x), 1))
    if kind == "collinear":
        return np.c_[x[:, 0], 2.0 * x[:, 0] + 1.0]
    if kind in ("nan", "inf"):
        x[rng.integers(len(x)), rng.integers(2)] = np.nan if kind == "nan" else -np.inf
        return x
    if kind == "shape":
        return x[:, :1]
    if kind == "ndim":
        return x[None]
    if kind == "few":
        return x[:3]
    if kind == "strings":
        return x.astype(str).astype(object) + "px"
    if kind == "complex":
        return x + 1j
    if kind == "integers":  # a valid dtype: must give a result or a named ValueError
        return np.rint(x).astype(np.int64)
    raise AssertionError(kind)


_KINDS = ["scale1e200", "scale1e150", "scale1e140", "scale1e100", "scale1e75", "scale1e-200",
          "scale1e-150", "equal", "collinear", "nan",
          "inf", "shape", "ndim", "few", "strings", "complex", "integers"]


def _check_finite(out, name):
    """No NaN (nor inf, except in error arrays where inf is a documented value) in the result."""
    if isinstance(out, robust.RansacResult):
        assert out.success or (out.model is None and out.reason), (name, out)
        fields = [getattr(out, f.name) for f in dataclasses.fields(out)]
        return [_check_finite(v, name) for v in fields if isinstance(v, np.ndarray)]
    if isinstance(out, (tuple, list)):
        return [_check_finite(v, name) for v in out]
    if hasattr(out, "models"):  # MultiModelResult
        return _check_finite(out.models, name)
    a = np.asarray(out)
    if a.dtype.kind == "f":
        errors = name in ("sampson_distance", "symmetric_epipolar_distance", "transfer_error")
        ok = ~np.isnan(a) if errors else np.isfinite(a)
        assert ok.all(), f"{name} returned {a[~ok][:3]} without an error"


def _outcome(call, names, name):
    try:
        out = call()
    except ValueError as err:
        assert any(n in str(err) for n in names.split()), f"{name}: {err} names no argument"
        return
    _check_finite(out, name)


@pytest.mark.parametrize("name", _NAMES)
@given(seed=seeds(), kind=st.sampled_from(_KINDS), which=st.sampled_from([0, 1, 2]))
def test_bad_points_give_a_named_error_or_a_finite_result(name, seed, kind, which):
    """which: corrupt x1 (0), x2 (1) or both (2)."""
    p = make_two_view(seed, 20)
    rng = np.random.default_rng(seed)
    call, names = _calls(p)[name]
    x1 = _corrupt(p.x1, kind, rng) if which in (0, 2) else p.x1
    x2 = _corrupt(p.x2, kind, rng) if which in (1, 2) else p.x2
    _outcome(lambda: call(x1, x2), names, name)


@pytest.mark.parametrize("name", _NAMES)
@given(seed=seeds())
def test_identical_views_are_refused_or_solved(name, seed):
    """x2 = x1: no baseline. The two-view solvers must say so; nothing may return NaN."""
    p = make_two_view(seed, 20)
    call, names = _calls(p)[name]
    _outcome(lambda: call(p.x1, p.x1.copy()), names, name)


_ESTIMATORS = {
    "estimate_fundamental": lambda p, **kw: robust.estimate_fundamental(p.x1, p.x2, **kw),
    "estimate_essential": lambda p, **kw: robust.estimate_essential(p.x1, p.x2, p.K1, p.K2, **kw),
    "estimate_homography": lambda p, **kw: robust.estimate_homography(p.x1, p.x2, **kw),
    "estimate_absolute_pose": lambda p, **kw: robust.estimate_absolute_pose(p.X, p.x2, p.K2,
                                                                            **kw),
    "fit_fundamentals": lambda p, **kw: multimodel.fit_fundamentals(
        p.x1, p.x2, n_hypotheses=30, max_rounds=1, **kw),
    "refine_fundamental": lambda p, **kw: refine.refine_fundamental(p.F, p.x1, p.x2, **kw),
    "refine_absolute_pose": lambda p, **kw: refine.refine_absolute_pose(
        p.cam2.R, p.cam2.t, p.X, p.x2, p.K2, **kw),
}
_OPTIONS = {  # option -> the estimators that take it
    "seed": ["estimate_fundamental", "estimate_essential", "estimate_homography",
             "estimate_absolute_pose", "fit_fundamentals"],
    "threshold": ["estimate_fundamental", "estimate_essential", "estimate_homography",
                  "estimate_absolute_pose", "fit_fundamentals"],
    "confidence": ["estimate_fundamental", "estimate_essential", "estimate_homography",
                   "estimate_absolute_pose"],
    "max_iterations": list(_ESTIMATORS),
}
_OPTION_CASES = [(o, e) for o, es in _OPTIONS.items() for e in es]
_VALUES = st.one_of(st.none(), st.booleans(), st.text(max_size=3), st.sampled_from(["1", "0.5"]),
                    st.integers(-3, 3), st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from([2.5, 0.5, 1e300, 1e-200, np.float32(0.5), np.int64(2)]))


@pytest.mark.parametrize("option, estimator", _OPTION_CASES)
@given(value=_VALUES)
def test_bad_options_give_a_named_error(option, estimator, value):
    p = make_two_view(1, 30)
    kw = {option: value}
    if option != "max_iterations" and estimator.startswith("estimate"):
        kw["max_iterations"] = 50
    try:
        out = _ESTIMATORS[estimator](p, **kw)
    except ValueError as err:
        assert str(err).startswith(f"{option}: "), err
        return
    # accepted: only a value of the documented kind
    if option == "seed":
        assert isinstance(value, (int, np.integer)) and not isinstance(value, bool)
        if estimator == "fit_fundamentals":
            assert value >= 0
    elif option == "max_iterations":
        assert isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 0
    else:
        assert isinstance(value, (float, int, np.floating, np.integer))
        assert not isinstance(value, bool)
        assert 0 < value < 1 if option == "confidence" else 1e-150 <= value <= 1e150
    _check_finite(out, estimator)


@pytest.mark.parametrize("seed", range(4))
def test_zero_baseline_is_reported_by_the_two_view_estimators(seed):
    """Identical and purely rotated views: E, the relative pose and F are undetermined (before:
    success with every point an inlier and an arbitrary model)."""
    p = make_two_view(seed, 60)
    R = p.R  # the pair's rotation, without its translation
    h = np.c_[p.x1, np.ones(60)] @ (p.K2 @ R @ np.linalg.inv(p.K1)).T
    turned = h[:, :2] / h[:, 2:] + np.random.default_rng(seed).normal(scale=0.3, size=(60, 2))
    for x2, K2 in ((p.x1, p.K1), (turned, p.K2)):
        for res in (robust.estimate_essential(p.x1, x2, p.K1, K2),
                    robust.estimate_relative_pose(p.x1, x2, p.K1, K2)):
            assert not res.success and res.model is None and "no baseline" in res.reason
        res = robust.estimate_fundamental(p.x1, x2)
        assert not res.success and "no parallax" in res.reason
    # the same scene with its translation is solved
    assert robust.estimate_relative_pose(p.x1, p.x2, p.K1, p.K2).success


def test_plane_sweep_refuses_sources_without_baseline():
    p = make_two_view(3, 10, width=64, height=48)
    img = np.random.default_rng(0).random((48, 64)).astype(np.float32)
    turned = Camera(p.K1, p.cam2.R, -p.cam2.R @ p.cam1.center, 64, 48)  # cam1's centre
    for sources, bad in (([(img, p.cam1)], "sources[0]"),
                         ([(img, p.cam2), (img, turned)], "sources[1]")):
        with pytest.raises(ValueError, match=rf"{bad.replace('[', '.').replace(']', '.')}: no "
                                             rf"baseline to the reference camera"):
            plane_sweep(img, p.cam1, sources, depth_range=(1.0, 9.0), num_planes=4)


def test_rectify_pair_of_one_camera_is_refused():
    p = make_two_view(0, 10)
    with pytest.raises(ValueError, match="cam1, cam2"):
        rectify.rectify_pair(p.cam1, p.cam1, (640, 480))


def test_triangulation_that_overflows_says_so():
    """Focal lengths, pixels and world all at 1e100: each input is in range, the arithmetic is
    not (before: midpoint NaN everywhere without an error, dlt a SystemError from its kernel)."""
    p = make_two_view(0, 20)
    s = 1e100
    S = np.diag([s, s, 1.0])
    c1 = Camera(S @ p.K1, p.cam1.R, p.cam1.t * s)
    c2 = Camera(S @ p.K2, p.cam2.R, p.cam2.t * s)
    for f in (triangulate.midpoint, triangulate.dlt):
        with pytest.raises(ValueError, match="cam1, cam2, x1, x2: values too large"):
            f(c1, c2, p.x1 * s, p.x2 * s)


@pytest.mark.parametrize("error", [epipolar.sampson_distance,
                                   epipolar.symmetric_epipolar_distance,
                                   epipolar.algebraic_error])
def test_epipolar_errors_that_would_overflow_say_so(error):
    """F and the points each in range, F x not squarable (before: distances of 0 or NaN)."""
    x = np.random.default_rng(0).random((10, 2)) * 1e10
    with pytest.raises(ValueError, match="F, x1, x2: values too large"):
        error(np.eye(3) * 1e150, x, x + 1)
    assert np.isfinite(error(np.eye(3), x, x + 1)).all()
