"""Descriptor matching (ratio test + mutual check, folded over row blocks) against a brute-force
reference, and pair verification run in threads against the serial run."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geom.testing import make_camera_ring, make_points_in_view
from pipelines import matching
from pipelines.features import Features
from pipelines.matching import match_descriptors, match_pairs, verify_pairs


def _reference(d1, d2, ratio):
    """Full distance matrix, sorted rows and columns (float64, exact for integer descriptors)."""
    D = ((d1[:, None, :].astype(np.float64) - d2[None, :, :]) ** 2).sum(axis=2)

    def best(D):
        order = np.argsort(D, axis=1, kind="stable")
        two = np.take_along_axis(D, order[:, :2], axis=1)
        return np.where(two[:, 0] < ratio ** 2 * two[:, 1], order[:, 0], -1)

    fwd, bwd = best(D), best(D.T)
    return [(i, j) for i, j in enumerate(fwd) if j >= 0 and bwd[j] == i]


def _descriptors(seed, n1, n2, shared):
    """Integer-valued float32 descriptors (exact products): `shared` of d1's rows reappear in d2
    with one entry changed by one, among random others."""
    rng = np.random.default_rng(seed)
    d1 = rng.integers(0, 16, size=(n1, 32)).astype(np.float32)
    d2 = rng.integers(0, 16, size=(n2, 32)).astype(np.float32)
    shared = min(shared, n1, n2)
    src, dst = rng.choice(n1, shared, replace=False), rng.choice(n2, shared, replace=False)
    d2[dst] = d1[src]
    d2[dst, rng.integers(0, 32, shared)] += 1
    return d1, d2


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2 ** 16), st.integers(2, 90), st.integers(2, 90), st.integers(0, 60),
       st.sampled_from([0.6, 0.8, 0.95]))
def test_matches_equal_brute_force(seed, n1, n2, shared, ratio):
    d1, d2 = _descriptors(seed, n1, n2, shared)
    got = match_descriptors(d1, d2, ratio)
    assert got.dtype == np.int64 and got.shape[1] == 2
    assert [tuple(m) for m in got] == _reference(d1, d2, ratio)


@pytest.mark.parametrize("block", [1, 7, 64])
def test_row_blocks_fold_to_the_same_matches(monkeypatch, block):
    d1, d2 = _descriptors(3, 150, 120, 80)
    whole = match_descriptors(d1, d2)
    monkeypatch.setattr(matching, "MATCH_BLOCK_ROWS", block)
    assert np.array_equal(match_descriptors(d1, d2), whole)
    assert len(whole) > 40  # the planted matches are found


def test_too_few_descriptors_give_no_matches():
    d1, d2 = _descriptors(0, 5, 5, 5)
    assert match_descriptors(d1[:1], d2).shape == (0, 2)
    assert match_descriptors(d1, d2[:0]).shape == (0, 2)


def _ring_features(rng, n_views=4, outliers=0.0):
    """Features of a synthetic ring of `n_views` cameras, with `outliers` of the keypoints of
    each view moved to random places, and their Ks."""
    cams = make_camera_ring(rng, n_views, arc=np.pi / 3)
    X = make_points_in_view(rng, cams, 150)
    desc = rng.random((len(X), 128)).astype(np.float32)
    feats = []
    for c in cams:
        keep = rng.random(len(X)) < 0.8
        xy = c.project(X[keep]) + rng.normal(scale=0.3, size=(keep.sum(), 2))
        bad = rng.random(len(xy)) < outliers
        xy[bad] = rng.uniform(0, 300, (bad.sum(), 2))
        d = desc[keep] + rng.normal(scale=0.01, size=(keep.sum(), 128)).astype(np.float32)
        feats.append(Features(xy, d, np.zeros((keep.sum(), 3), np.uint8)))
    return feats, [c.K for c in cams]


def _match_and_verify(feats, Ks, pairs, workers=None, **kw):
    return verify_pairs(feats, Ks, match_pairs(feats, pairs, workers=workers), workers=workers,
                        **kw)


def test_a_pairs_result_depends_on_its_image_names_not_its_place_in_the_list():
    feats, Ks = _ring_features(np.random.default_rng(7), outliers=0.3)
    names = ["a.png", "b.png", "c.png", "d.png"]
    pairs = [(0, 1), (0, 2), (1, 3), (2, 3)]
    whole = {(p.i, p.j): p for p in _match_and_verify(feats, Ks, pairs, names=names)}
    alone = _match_and_verify(feats, Ks, pairs[::-1][:2], names=names)
    for p in alone:  # another subset, another order: the same samples for the same pair
        assert np.array_equal(p.matches, whole[(p.i, p.j)].matches)
        assert np.array_equal(p.R, whole[(p.i, p.j)].R)
    other_seed = _match_and_verify(feats, Ks, pairs, names=names, seed=1)
    assert any(not np.array_equal(p.R, whole[(p.i, p.j)].R) for p in other_seed)


def test_threaded_matching_equals_serial():
    feats, Ks = _ring_features(np.random.default_rng(5))
    pairs = [(i, j) for i in range(4) for j in range(i + 1, 4)]
    serial = _match_and_verify(feats, Ks, pairs, workers=1)
    threaded = _match_and_verify(feats, Ks, pairs, workers=3)
    assert [(p.i, p.j) for p in serial] == pairs  # every pair verifies
    assert [(p.i, p.j) for p in threaded] == pairs
    for a, b in zip(serial, threaded):
        assert np.array_equal(a.matches, b.matches) and np.array_equal(a.R, b.R)
        assert len(a.matches) > 80
