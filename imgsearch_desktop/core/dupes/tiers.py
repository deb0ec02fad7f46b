"""The tier table: how sure a duplicate is (``Tier``: its CLI word, label, menu text, order, pre-tick), and the
defaults of the tiers' rules. A new tier is a new row here and its rule in ``finder.DupeFinder.relation``."""

from __future__ import annotations

from enum import StrEnum

# Defaults, and where they come from (README "Duplicates"):
NEAR_BITS = 24  # of 256: same-picture copies measured ≤ 6 bits apart, a 90% crop ≥ 50
NEAR_COSINE = 0.95  # CLIP confirmation for "same picture": resized/recompressed copies of real photos score ≥ 0.98
SIMILAR_COSINE = 0.9  # Immich flags duplicates at cosine distance ≤ 0.0155 (cos ≥ 0.985); similar shots go lower
MIN_SPREAD = 8.0  # grey levels (std of the 64×64 the hash sees): measured, near-black/near-white photos and mostly
# transparent icons sit at 0–7 and their hashes are noise or a blank page; ordinary photos 28–49
ASPECT_TOLERANCE = 0.02  # relative: a resize keeps the aspect ratio to a pixel's rounding
COLOUR_DELTA = 3.0  # mean ΔE of the colour grids (images.colour_distance): copies ≤ 1.2, recoloured pictures ≥ 5.4


class Tier(StrEnum):
    """How sure a duplicate is. The values are the CLI's ``--level`` words."""

    EXACT = "exact"
    SAME_PICTURE = "near"
    SIMILAR = "similar"
    BURST = "burst"  # not a duplicate tier: frames of one burst, around its best frame (core/bursts.py)

    @property
    def label(self) -> str:
        return _TIER_LABELS[self]

    @property
    def choice(self) -> str:
        """What the Duplicates window's "Find" menu calls a scan at this tier."""
        return _TIER_CHOICES[self]

    @property
    def pre_ticked(self) -> bool:
        """Members of this tier go to the trash by default: copies yes, similar shots only when the user says so."""
        return self is not Tier.SIMILAR

    @property
    def order(self) -> int:
        return _TIER_ORDER[self]

    @classmethod
    def parse(cls, value: str | Tier) -> Tier:
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"level must be one of {tuple(t.value for t in cls)}") from None


_TIER_LABELS = {Tier.EXACT: "identical file", Tier.SAME_PICTURE: "same picture", Tier.SIMILAR: "similar shot",
                Tier.BURST: "burst"}
_TIER_CHOICES = {Tier.EXACT: "Identical files", Tier.SAME_PICTURE: "Same picture (resized, converted, recompressed)",
                 Tier.SIMILAR: "Similar shots too", Tier.BURST: "Bursts (the best frame of each)"}
_TIER_ORDER = {Tier.EXACT: 0, Tier.SAME_PICTURE: 1, Tier.SIMILAR: 2, Tier.BURST: 3}
