"""Stage 1: correspondences between every pair of the (few, unordered) input views.

SIFT matches between every pair (`pipelines.matching`), optionally augmented with dense
matches from a flow plug-in (`pipelines.flowmatches.add_flow_matches`).
"""
from pipelines import matching


def all_pairs(n_images):
    """Every pair (i, j), i < j, of `n_images` views."""
    return [(i, j) for i in range(n_images) for j in range(i + 1, n_images)]


def sift_matches(feats, ratio=0.8):
    """Mutual ratio-test SIFT matches of every pair -> list of `PairMatches`."""
    return matching.match_pairs(feats, all_pairs(len(feats)), ratio)
