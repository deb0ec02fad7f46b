"""The cheap tests, on what the index holds (and the colour test on what a file shows): written once, used by the
duplicate scan, the bursts and the search grid's labels."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from imgsearch_desktop.core import images
from imgsearch_desktop.core.dupes.tiers import COLOUR_DELTA, NEAR_BITS, NEAR_COSINE, Tier


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def near_match(phash_a: str | None, phash_b: str | None, score: float, near_bits: int = NEAR_BITS,
               near_cosine: float = NEAR_COSINE) -> bool:
    """The cheap same-picture test, on what the index holds: CLIP cosine and perceptual hashes close enough. The
    one place it is written; the strict check (``DupeFinder.same_picture``) then looks at the files."""
    return score >= near_cosine and bool(phash_a and phash_b) and hamming(phash_a, phash_b) <= near_bits


def relation_to_query(hit, query_sha256: str | None, query_phash: str | None, near_bits: int = NEAR_BITS,
                      near_cosine: float = NEAR_COSINE, alike: Callable[[Any], bool] | None = None) -> Tier:
    """How a search hit relates to the dropped photo: identical file, same picture, or similar shot (a label only:
    the strict same-picture check runs in a duplicate scan, before anything can be trashed). ``alike`` confirms a
    same-picture candidate on the files (``same_colours``: the hashes see brightness only); without it none is."""
    if query_sha256 and hit.sha256 == query_sha256:
        return Tier.EXACT
    if near_match(query_phash, hit.phash, hit.score, near_bits, near_cosine) and alike is not None and alike(hit):
        return Tier.SAME_PICTURE
    return Tier.SIMILAR


def same_colours(a: images.PictureViews | None, b: images.PictureViews | None,
                 delta: float = COLOUR_DELTA) -> bool:
    """Two files' colours agree as copies' do (unreadable: they do not): one design in two colourways hashes alike."""
    return a is not None and b is not None and images.colour_distance(a, b) <= delta
