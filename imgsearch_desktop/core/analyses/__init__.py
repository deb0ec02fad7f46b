"""Per-photo analyses: one module each, run on a photo's decode, each writing its own fields into the photo's document.

CLIP's embedding is the first analysis and keeps its own batched path in core/pipeline (it is what makes a photo
searchable, so it comes first). Every other analysis (faces, text in photos) follows the same small protocol,
``Analysis``: a name, a version, the mapping of the fields it adds, the shortest side of the decode it needs, and
``analyse(image, original size, larger) -> fields``; one that can start on a smaller decode (the text probe) says so
(``first_side``) and calls ``larger()`` for the photos where it needs its ``decode_side``. A document records
``analyses: {name: version}``, so a new or changed analysis processes only the photos that lack it at its version
(``backfill``), and never re-embeds CLIP.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from PIL import Image


class Analysis(Protocol):
    name: str  # also the key under the document's ``analyses``
    version: int  # bump when its output changes: every photo is analysed again, nothing else redone
    decode_side: int  # the shortest side of the decode it needs (never upscaled)
    # Optional ``first_side: int``: the shortest side it can start on (backfill.first_side).

    def mapping(self) -> dict:
        """The Elasticsearch properties of the fields it writes (added to an existing index by put_mapping)."""
        ...

    def analyse(self, image: Image.Image, original: tuple[int, int],
                larger: Callable[[], Image.Image] | None = None) -> dict:
        """The fields to write for a photo: ``image`` is RGB, oriented; ``original`` its (width, height) in pixels;
        ``larger()``, where given, the photo at ``decode_side`` when ``image`` is a smaller first decode."""
        ...


class ClipAnalysis:
    """CLIP declared as an analysis (its field and version) for the record; the pipeline embeds it in batches."""

    name = "clip"
    version = 1
    decode_side = 224

    def mapping(self) -> dict:
        return {}  # image_embedding is part of the base mapping (its dims depend on the model)

    def analyse(self, image: Image.Image, original: tuple[int, int],
                larger: Callable[[], Image.Image] | None = None) -> dict:
        raise NotImplementedError("CLIP runs batched in core/pipeline")


def analyses_mapping(analyses: list[Analysis]) -> dict:
    """The properties every analysis in ``analyses`` adds, plus the ``analyses`` record itself."""
    props: dict = {"analyses": {"properties": {a.name: {"type": "integer"} for a in analyses}}}
    for a in analyses:
        props.update(a.mapping())
    return props


def switched_on(settings, built: dict[str, Analysis] | None = None) -> list[Analysis]:
    """The analyses after CLIP that the settings switch on, in order: faces, then text in photos (when RapidOCR
    is installed). ``built`` keeps each one made, by name, so a caller that asks again reuses its loaded model."""
    from imgsearch_desktop.core.analyses import text
    from imgsearch_desktop.core.analyses.faces import FacesAnalysis

    built = {} if built is None else built
    makers = {"faces": FacesAnalysis, "text": text.TextAnalysis}
    names = (["faces"] if settings.faces else []) + (["text"] if settings.text and text.available() else [])
    for name in names:
        if name not in built:
            built[name] = makers[name]()
    return [built[name] for name in names]
