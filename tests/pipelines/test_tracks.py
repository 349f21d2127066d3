"""Feature tracks: the union-find over (image, keypoint) nodes against a plain one, and the
tracks it gives the reconstruction (ambiguous and single keypoints dropped)."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.features import Features
from pipelines.matching import PairMatches
from pipelines.tracks import build_tracks, connected_keypoints


def _reference_roots(sizes, pair_matches):
    """Union-find with path halving, the larger root under the smaller."""
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    parent = list(range(offsets[-1]))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for pm in pair_matches:
        for a, b in pm.matches + offsets[[pm.i, pm.j]]:
            ra, rb = find(a), find(b)
            parent[max(ra, rb)] = min(ra, rb)
    return [find(a) for a in range(offsets[-1])]


@st.composite
def _matched_images(draw):
    sizes = draw(st.lists(st.integers(0, 6), min_size=2, max_size=5))
    pairs = []
    for i in range(len(sizes)):
        for j in range(i + 1, len(sizes)):
            if sizes[i] and sizes[j]:
                m = draw(st.lists(st.tuples(st.integers(0, sizes[i] - 1),
                                            st.integers(0, sizes[j] - 1)), max_size=4))
                pairs.append(PairMatches(i, j, np.array(m, np.int64).reshape(-1, 2)))
    return sizes, pairs


@settings(max_examples=200, deadline=None)
@given(_matched_images())
def test_connected_keypoints_root_each_node_at_the_smallest_node_it_is_joined_to(case):
    sizes, pairs = case
    roots, offsets = connected_keypoints(sizes, pairs)
    assert roots.dtype == np.int64 and offsets.tolist() == np.cumsum([0] + sizes).tolist()
    assert roots.tolist() == _reference_roots(sizes, pairs)


def test_tracks_drop_single_keypoints_and_those_seen_twice_in_one_image():
    feats = [Features(np.arange(2 * n, dtype=float).reshape(n, 2) + 10 * k,
                      np.zeros((n, 128), np.float32), np.zeros((n, 3), np.uint8))
             for k, n in enumerate([3, 3, 2])]
    pairs = [PairMatches(0, 1, np.array([[0, 0], [1, 1]])),
             PairMatches(1, 2, np.array([[0, 0], [1, 1]])),
             PairMatches(0, 2, np.array([[2, 1]]))]  # joins keypoints 1 and 2 of image 0
    tracks = build_tracks(feats, pairs)
    assert tracks.count == 1  # image 1 keypoint 2 alone; the other track twice in image 0
    assert tracks.track.tolist() == [0, 0, 0]
    assert tracks.image.tolist() == [0, 1, 2] and tracks.keypoint.tolist() == [0, 0, 0]
    np.testing.assert_array_equal(tracks.xy, [feats[k].keypoints[0] for k in range(3)])
