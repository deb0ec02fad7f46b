"""Duplicates and similar shots: candidate pairs from the vectors, then rules that decide.

Three tiers (``Tier``), each including the one before:
  exact         "identical file": same sha256.
  same picture  the picture resized, recompressed, converted or rotated through EXIF: indexed perceptual hashes
                within ``near_bits``, CLIP cosine ≥ ``near_cosine``, the same aspect ratio, and a strict re-check of
                the files on disk (hashes on a white and on a black background, so transparency counts; never for an
                image too flat for a hash to mean anything).
  similar       "similar shot": CLIP cosine ≥ ``threshold``: the same scene, crops.
A fourth tier stands apart: ``burst`` (core/bursts.py), frames one camera took seconds apart, grouped around the
best frame; their frames are left out of the same-picture and similar-shot groups (``DupeFinder.relation``).

Candidate pairs come from an exact cosine join of the library's vectors in memory (blocked matrix products: at
100,000 photos 2–4× quicker than a kNN query per photo, and exact up to 50 partners a photo), or above
``EXACT_JOIN_MAX`` photos, where its N² cost overtakes them, from one kNN query per photo (batched with
``_msearch``). Union-find links the pairs into sets; each set is then split into star groups around keepers (best
photo first), so every member meets its tier's rule against its group's keeper — never A~B~C with A≁C. One file on
disk (``(st_dev, st_ino)``, reached by any name) is one photo, listed once and counted once. Files the user marked
"not a duplicate" are never grouped again with the photos they were taken out of.

One module a part:
  tiers       the tier table (``Tier``: CLI word, label, menu text, order, pre-tick) and the rules' defaults
  groups      what a scan finds: ``Photo``, ``Relation``, ``Member``, ``Group``
  similarity  the cheap tests: ``hamming``, ``near_match``, ``relation_to_query``, ``same_colours``
  keep        the keep rules: ``KeepRule``, ``KeepPolicy``, ``keep_policy(settings)``, ``mark_derived``
  marks       the "not a duplicate" marks: ``NotDuplicates``
  finder      the scan: ``DupeFinder``, ``ScanStats``, ``cosine_pairs``
Every name importable from ``imgsearch_desktop.core.dupes`` before the split still is (re-exported here).
"""

from __future__ import annotations

from imgsearch_desktop.core.dupes.finder import (
    EXACT_JOIN_MAX,
    JOIN_BLOCK_FLOATS,
    JOIN_PER_ROW,
    DupeFinder,
    ScanStats,
    cosine_pairs,
)
from imgsearch_desktop.core.dupes.groups import Group, Member, Photo, Relation, megabytes, plural
from imgsearch_desktop.core.dupes.keep import (
    DECODE_MEAN,
    DECODE_P99,
    DEFAULT_KEEP_RULES,
    DERIVED_LABEL,
    KeepPolicy,
    KeepRule,
    folder_priority,
    is_lossless,
    is_original,
    keep_policy,
    mark_derived,
    saved_keep_rules,
    webp_is_lossless,
)
from imgsearch_desktop.core.dupes.marks import NotDuplicate, NotDuplicates
from imgsearch_desktop.core.dupes.similarity import hamming, near_match, relation_to_query, same_colours
from imgsearch_desktop.core.dupes.tiers import (
    ASPECT_TOLERANCE,
    COLOUR_DELTA,
    MIN_SPREAD,
    NEAR_BITS,
    NEAR_COSINE,
    SIMILAR_COSINE,
    Tier,
)

__all__ = [
    "ASPECT_TOLERANCE", "COLOUR_DELTA", "DECODE_MEAN", "DECODE_P99", "DEFAULT_KEEP_RULES", "DERIVED_LABEL",
    "EXACT_JOIN_MAX", "JOIN_BLOCK_FLOATS", "JOIN_PER_ROW", "MIN_SPREAD", "NEAR_BITS", "NEAR_COSINE", "SIMILAR_COSINE",
    "DupeFinder", "Group", "KeepPolicy", "KeepRule", "Member", "NotDuplicate", "NotDuplicates", "Photo", "Relation",
    "ScanStats", "Tier", "cosine_pairs", "folder_priority", "hamming", "is_lossless", "is_original", "keep_policy",
    "mark_derived", "megabytes", "near_match", "plural", "relation_to_query", "same_colours", "saved_keep_rules",
    "webp_is_lossless",
]
