import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geom.epipolar import sampson_distance
from geom.homography import homography_dlt, transfer_error
from geom.multimodel import (_hypotheses, _kernels_for, fit_fundamentals, fit_homographies,
                             misclassification_error)
from geom.robust._models import HOMOGRAPHY
from geom.testing import make_two_view, seeds
from pipelines.datasets.adelaidermf import load_sequence

WIDTH, HEIGHT = 640, 480


# where each structure lies, as a fraction of the image: objects occupy overlapping regions
REGION_SCALE = 0.6
REGION_OFFSETS = [(0.0, 0.0), (0.4, 0.4), (0.4, 0.0), (0.0, 0.4)]


def multi_structure(seed, n_models, n_per_model=60, n_outliers=40, noise=0.5, planar=False):
    """Correspondences of `n_models` independent two-view problems (rigid motions, or planes
    when `planar`) in one image pair, plus uniform random outlier pairs; labels 0 = outlier.

    Like objects, each structure covers its own (overlapping) region of both images: its
    problem's pixels are scaled by REGION_SCALE and shifted, the same in both images, which is
    the same two-view geometry seen through other intrinsics. Planes whose homography the
    noise makes ill-defined (seen at a grazing angle, or strongly magnified: the least-squares
    H leaves a median transfer error above twice the noise) are redrawn."""
    rng = np.random.default_rng(seed)
    x1, x2, labels = [], [], []
    for k in range(1, n_models + 1):
        p = make_two_view(rng, n_per_model, noise=noise / REGION_SCALE, planar=planar)
        while planar and _ill_defined(p.x1, p.x2, noise / REGION_SCALE):
            p = make_two_view(rng, n_per_model, noise=noise / REGION_SCALE, planar=planar)
        offset = np.multiply(REGION_OFFSETS[k - 1], [WIDTH, HEIGHT])
        x1.append(REGION_SCALE * p.x1 + offset)
        x2.append(REGION_SCALE * p.x2 + offset)
        labels.append(np.full(n_per_model, k))
    size = [WIDTH, HEIGHT]
    x1.append(rng.random((n_outliers, 2)) * size - 0.5)
    x2.append(rng.random((n_outliers, 2)) * size - 0.5)
    labels.append(np.zeros(n_outliers, np.int64))
    order = rng.permutation(n_models * n_per_model + n_outliers)
    return np.concatenate(x1)[order], np.concatenate(x2)[order], np.concatenate(labels)[order]


def _ill_defined(x1, x2, noise):
    return np.median(transfer_error(homography_dlt(x1, x2), x1, x2)) > 2 * noise


def assert_models_fit_their_points(residual, result, x1, x2, bound):
    for k in range(1, result.n_models + 1):
        mine = result.labels == k
        assert mine.sum() == result.inlier_counts[k - 1]
        r = residual(result.models[k - 1], x1[mine], x2[mine])
        assert np.median(r) < bound, (k, np.median(r))


# ---------------------------------------------------------------------------- fundamentals

@pytest.mark.parametrize("n_models", [1, 2, 3])
def test_fundamentals_finds_each_motion(n_models):
    x1, x2, truth = multi_structure(n_models, n_models)
    result = fit_fundamentals(x1, x2, seed=0)
    assert result.n_models == n_models
    assert misclassification_error(truth, result.labels) < 0.05
    assert result.models.shape == (n_models, 3, 3)
    np.testing.assert_allclose(np.linalg.norm(result.models, axis=(1, 2)), 1.0, rtol=1e-9)
    assert np.all(np.diff(result.inlier_counts) <= 0)  # largest support first
    assert_models_fit_their_points(sampson_distance, result, x1, x2, bound=1.0)


@settings(max_examples=6)
@given(seeds(), st.integers(1, 3))
def test_fundamentals_two_motions_with_outliers(problem_seed, seed):
    x1, x2, truth = multi_structure(problem_seed, 2, n_outliers=60)
    result = fit_fundamentals(x1, x2, seed=seed)
    assert result.n_models == 2
    assert misclassification_error(truth, result.labels) < 0.06
    assert result.inlier_counts.min() >= 12  # the default min_support for N = 180


def test_fundamentals_many_points_clusters_a_subset():
    # 1200 correspondences: the preference analysis runs on a random subset, the final
    # assignment and refits on all of them
    x1, x2, truth = multi_structure(5, 3, n_per_model=300, n_outliers=300)
    result = fit_fundamentals(x1, x2, seed=0)
    assert result.n_models == 3
    assert misclassification_error(truth, result.labels) < 0.03


def test_fundamentals_same_seed_same_result():
    x1, x2, _ = multi_structure(7, 2)
    a = fit_fundamentals(x1, x2, seed=3)
    b = fit_fundamentals(x1, x2, seed=3)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.models, b.models)


@pytest.mark.parametrize("n", [8, 200])
def test_fundamentals_all_outliers_gives_no_model(n):
    rng = np.random.default_rng(n)
    x1 = rng.random((n, 2)) * [WIDTH, HEIGHT]
    x2 = rng.random((n, 2)) * [WIDTH, HEIGHT]
    result = fit_fundamentals(x1, x2)
    assert result.n_models == 0
    assert result.models.shape == (0, 3, 3)
    assert result.inlier_counts.shape == (0,)
    np.testing.assert_array_equal(result.labels, np.zeros(n, np.int64))


# ---------------------------------------------------------------------------- homographies

@pytest.mark.parametrize("n_models", [2, 3])
def test_homographies_finds_each_plane(n_models):
    x1, x2, truth = multi_structure(10 + n_models, n_models, planar=True)
    result = fit_homographies(x1, x2, seed=0)
    assert result.n_models == n_models
    assert misclassification_error(truth, result.labels) < 0.05
    assert_models_fit_their_points(transfer_error, result, x1, x2, bound=1.5)


@settings(max_examples=6)
@given(seeds())
def test_homographies_same_seed_same_result(seed):
    x1, x2, _ = multi_structure(seed, 2, planar=True)
    a = fit_homographies(x1, x2, seed=seed)
    b = fit_homographies(x1, x2, seed=seed)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.models, b.models)


@pytest.mark.parametrize("fit", [fit_fundamentals, fit_homographies])
def test_coincident_points_give_no_model(fit):
    x = np.tile([[10.0, 20.0]], (30, 1))
    result = fit(x, x + 1.0)
    assert result.n_models == 0
    assert not result.labels.any()


def test_homographies_all_outliers_gives_no_model():
    rng = np.random.default_rng(1)
    result = fit_homographies(rng.random((150, 2)) * WIDTH, rng.random((150, 2)) * WIDTH)
    assert result.n_models == 0
    assert not result.labels.any()


# ---------------------------------------------------------------------------- real data

@pytest.mark.parametrize("kind, name, bound", [
    ("fundamental", "biscuitbook", 0.06),
    ("fundamental", "breadcubechips", 0.08),
    ("homography", "hartley", 0.06),
])
def test_adelaidermf(dataset, kind, name, bound):
    s = load_sequence(dataset("adelaidermf"), kind, name)
    fit = fit_fundamentals if kind == "fundamental" else fit_homographies
    result = fit(s.x1, s.x2, seed=0)
    assert result.n_models == s.n_models
    assert misclassification_error(s.labels, result.labels) < bound


# ---------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("fit", [fit_fundamentals, fit_homographies])
def test_bad_input(fit):
    x1, x2, _ = multi_structure(0, 1, n_per_model=20, n_outliers=0)
    with pytest.raises(ValueError, match="x1: expected shape"):
        fit(x1[:, :1], x2)
    with pytest.raises(ValueError, match="different lengths"):
        fit(x1, x2[:-1])
    bad = x2.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="x2: contains NaN"):
        fit(x1, bad)
    with pytest.raises(ValueError, match="need at least"):
        fit(x1[:3], x2[:3])
    for t in (0.0, -1.0, np.inf):
        with pytest.raises(ValueError, match="threshold: must be a positive"):
            fit(x1, x2, threshold=t)
    with pytest.raises(ValueError, match="n_hypotheses: expected an integer"):
        fit(x1, x2, n_hypotheses=0)
    with pytest.raises(ValueError, match="min_support: expected an integer"):
        fit(x1, x2, min_support=2.5)
    with pytest.raises(ValueError, match="seed: expected an integer >= 0"):
        fit(x1, x2, seed=-1)
    with pytest.raises(ValueError, match="coherence: expected at most 8"):
        fit(x1, x2, coherence=9)
    with pytest.raises(ValueError, match="neighbours: expected an integer"):
        fit(x1, x2, neighbours="many")
    with pytest.raises(TypeError, match="positional argument"):
        fit(x1, x2, 3.0)


@pytest.mark.parametrize("fit, n", [(fit_fundamentals, 8), (fit_homographies, 5)])
def test_needs_the_points_of_a_refit(fit, n):
    x1, x2, _ = multi_structure(0, 1, n_per_model=n - 1, n_outliers=0)
    with pytest.raises(ValueError, match=f"x1: need at least {n} points, got {n - 1}"):
        fit(x1, x2)


def test_homography_sample_with_a_repeated_point_gives_no_hypothesis():
    # two matches of one image-2 point (common in real matches): the DLT of such a sample is a
    # singular matrix, no homography; the RANSAC engine's degeneracy test skips it
    kernels = _kernels_for(HOMOGRAPHY)
    x1 = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 100.0], [100.0, 120.0]])
    x2 = 1.1 * x1 + 5.0
    sample = np.array([[0, 1, 2, 3]])
    assert _hypotheses(kernels, x1, x2, sample).shape == (1, 3, 4)
    x2[3] = x2[2]
    assert _hypotheses(kernels, x1, x2, sample).shape == (0, 3, 4)


# ---------------------------------------------------------------------------- the error measure

@given(seeds())
def test_misclassification_is_invariant_to_relabelling(seed):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 4, 50)
    noisy = np.where(rng.random(50) < 0.2, rng.integers(0, 4, 50), truth)
    err = misclassification_error(truth, noisy)
    assert 0.0 <= err <= (noisy != truth).mean()
    perm = rng.permutation(4)
    assert misclassification_error(truth, perm[noisy]) == pytest.approx(err)
    assert misclassification_error(truth, perm[truth]) == 0.0


def test_misclassification_counts_unmatched_labels():
    truth = np.array([0, 0, 1, 1, 1, 2])
    assert misclassification_error(truth, np.array([0, 0, 1, 1, 1, 1])) == pytest.approx(1 / 6)
    assert misclassification_error(truth, np.array([5, 5, 5, 5, 5, 5])) == pytest.approx(3 / 6)
    with pytest.raises(ValueError, match="non-negative integer"):
        misclassification_error(truth, truth - 1)
    with pytest.raises(ValueError, match=r"expected two \(N,\) arrays"):
        misclassification_error(truth, truth[:-1])
