"""Random seeds derived from the work they serve (a pair's image names, an image's name), not
from its position in a list: a subset of the images, another order or a distributed run draws
the same samples for the same pair."""
import hashlib


def derive_seed(seed, *keys):
    """A seed in [0, 2**31) from the run's `seed` (int) and `keys` (e.g. image names), the same
    in every process and on every machine."""
    text = "\0".join([str(int(seed))] + [str(k) for k in keys])
    digest = hashlib.blake2b(text.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little") & 0x7FFFFFFF
