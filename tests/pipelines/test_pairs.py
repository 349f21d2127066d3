"""Pair selection: exhaustive, sequential and retrieval pairs; retrieval on a synthetic ring finds
the overlapping neighbours; the pipeline's --pairs option and bad input."""
import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geom import synth
from pipelines import cli
from pipelines.features import Features, extract_features
from pipelines.pairs import (EXHAUSTIVE_MAX_IMAGES, METHODS, exhaustive_pairs,
                             global_descriptors, resolve_method, retrieval_pairs, select_pairs,
                             sequence_order, sequential_pairs)
from pipelines.sfm.pipeline import match_images

RING_VIEWS = 36  # 10 degrees apart: each view overlaps several on either side


@pytest.fixture(scope="module")
def ring_features():
    """SIFT features of a full 36-view synthetic ring, 192x144."""
    seq = synth.render(synth.orbit_ring(RING_VIEWS, 0, 192, 144), antialias=1)
    return [extract_features(f.image) for f in seq.frames]


def _is_pair_list(pairs, n):
    return (pairs == sorted(set(pairs))
            and all(0 <= i < j < n and isinstance(i, int) and isinstance(j, int)
                    for i, j in pairs))


def test_retrieval_on_a_ring_includes_the_overlapping_neighbours(ring_features):
    n, k = RING_VIEWS, 4
    names = [f"view_{c}.png" for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"]  # not numbered
    pairs = select_pairs(ring_features, names, "retrieval", k=k)
    assert _is_pair_list(pairs, n)
    assert len(pairs) <= n * k < n * (n - 1) // 2
    for i in range(n):  # both ring neighbours on either side, across the wrap too
        assert (min(i, (i + 1) % n), max(i, (i + 1) % n)) in pairs
        assert (min(i, (i + 2) % n), max(i, (i + 2) % n)) in pairs
    gaps = [min(j - i, n - (j - i)) for i, j in pairs]
    assert np.median(gaps) <= 2  # mostly true neighbours, not spread over the ring


def test_global_descriptors_are_unit_rows_and_seeded(ring_features):
    sets = [f.descriptors for f in ring_features[:6]] + [np.zeros((0, 128), np.float32)]
    a = global_descriptors(sets, n_words=8, seed=3)
    assert a.shape == (7, 8 * 128) and a.dtype == np.float32
    assert np.allclose(np.linalg.norm(a[:6], axis=1), 1, atol=1e-5)
    assert not a[6].any()  # an image without features matches nothing in particular
    assert np.array_equal(a, global_descriptors(sets, n_words=8, seed=3))


def test_numbered_names_add_their_sequence_neighbours(ring_features):
    n = RING_VIEWS
    names = [f"img_{3 * i + 1}.jpg" for i in range(n)]  # numbers not zero-padded
    files = sorted(names)  # the order load_images gives: img_1, img_10, img_100, ...
    feats = [ring_features[names.index(f)] for f in files]
    order = sequence_order(files)
    assert [files[i] for i in order] == names
    pairs = select_pairs(feats, files, "retrieval", k=1, window=3)
    seq = sequential_pairs(order, 3)
    assert set(seq) <= set(pairs)
    assert select_pairs(feats, files, "sequential", window=3) == seq


def test_sequential_and_exhaustive_pairs():
    assert exhaustive_pairs(4) == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    assert sequential_pairs([2, 0, 1, 3], 2) == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3)]
    assert sequential_pairs(np.arange(3), 5) == [(0, 1), (0, 2), (1, 2)]
    assert sequence_order(["a_2.png", "a_10.png", "a_1.png"]).tolist() == [2, 0, 1]
    assert sequence_order(["a_2.png", "b_10.png"]) is None
    assert sequence_order(["a.png", "b.png"]) is None


def _fake_features(n, seed=0):
    rng = np.random.default_rng(seed)
    return [Features(np.zeros((40, 2)), rng.random((40, 16)).astype(np.float32),
                     np.zeros((40, 3), np.uint8)) for _ in range(n)]


def test_auto_is_exhaustive_up_to_the_limit_then_retrieval():
    n = EXHAUSTIVE_MAX_IMAGES
    names = [f"{c}.png" for c in range(n + 1)]
    assert select_pairs(_fake_features(n), names[:n]) == exhaustive_pairs(n)
    assert resolve_method("auto", n) == "exhaustive"
    assert resolve_method("auto", n + 1) == "retrieval"
    assert resolve_method("sequential", n + 1) == "sequential"
    pairs = select_pairs(_fake_features(n + 1), names, k=5, window=2)
    assert pairs == select_pairs(_fake_features(n + 1), names, "retrieval", k=5, window=2)
    assert len(pairs) <= (n + 1) * (5 + 2) < (n + 1) * n // 2


@settings(max_examples=30)
@given(n=st.integers(2, 40), k=st.integers(1, 12), seed=st.integers(0, 1000))
def test_retrieval_pairs_give_each_image_its_k_nearest(n, k, seed):
    rng = np.random.default_rng(seed)
    g = rng.normal(size=(n, 5))
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    pairs = retrieval_pairs(g, k)
    assert _is_pair_list(pairs, n) and len(pairs) <= n * min(k, n - 1)
    sim = g @ g.T
    for i in range(n):  # its k nearest are among its pairs
        partners = {j for p in pairs if i in p for j in p if j != i}
        nearest = np.argsort(-np.where(np.arange(n) == i, -np.inf, sim[i]))[:min(k, n - 1)]
        assert set(nearest.tolist()) <= partners


def test_bad_pair_method(tmp_path, capsys):
    with pytest.raises(ValueError, match="pairs: expected one of auto, exhaustive, retrieval, "
                                         "sequential, got 'all'"):
        select_pairs(_fake_features(3), ["a", "b", "c"], "all")
    with pytest.raises(ValueError, match=r"features: expected one per image \(3\), got 2"):
        select_pairs(_fake_features(2), ["a", "b", "c"])
    with pytest.raises(SystemExit) as exit_:
        cli.main(["sfm", str(tmp_path), "-o", str(tmp_path / "out"), "--pairs", "all"])
    assert exit_.value.code == 2 and "invalid choice: 'all'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_unknown_pair_method_fails_before_reading_images(tmp_path):
    with pytest.raises(ValueError, match="pairs: expected one of"):
        match_images(tmp_path / "missing", pair_method="nearest")


def test_cli_pair_choices_are_the_methods(capsys):
    with pytest.raises(SystemExit):
        cli.main(["sfm", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--pairs {" + ",".join(METHODS) + "}" in text
    assert f"exhaustive up to {EXHAUSTIVE_MAX_IMAGES} images" in text


def test_images_sharing_no_matches_are_refused(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png", "c.png"):  # independent noise: features, but no matches
        cv2.imwrite(str(tmp_path / name), rng.integers(0, 256, (120, 160, 3), dtype=np.uint8))
    out = tmp_path.parent / f"{tmp_path.name}_out"
    assert cli.main(["sfm", str(tmp_path), "-o", str(out), "--pairs", "sequential"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (f"mvdepth sfm: error: {tmp_path}: no pair of its 3 images shares enough "
                   "verified matches (3 pairs tried)")
    assert not out.exists()
    assert not [p for p in tmp_path.parent.iterdir() if p.name.startswith(f".{out.name}")]
