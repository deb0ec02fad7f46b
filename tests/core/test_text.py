"""Text in photos with the real PP-OCRv4 models (RapidOCR) on real photographs with words drawn on them, searched on
a real node: boxes, exact / prefix / one-typo / phrase matches, folded accents, fusion with CLIP, the background pass
and a photo rotated on disk."""

from __future__ import annotations

import os
import uuid

import pytest
from PIL import Image

from imgsearch_desktop.core.analyses.backfill import Decoded, backfill, decoded
from imgsearch_desktop.core.analyses.text import TextAnalysis, default_reader, text_fields
from imgsearch_desktop.core.pipeline import Indexer
from imgsearch_desktop.core.query import BOTH, MEANING, TEXT, Part, Query, run_query
from imgsearch_desktop.core.store import Filters, Store, doc_id
from imgsearch_desktop.core.textfold import fold, words_query
from tests.text_photos import background, draw_words, need_photos, text_photo

WORDS = {"receipt.jpg": "Lidl receipt 12.99", "station.jpg": "ZURICH Hauptbahnhof",
         "venice/bridge.jpg": "Ponte di Rialto", "wifi.jpg": "WIFI guest"}
PLAIN = ["plain1.jpg", "plain2.jpg"]


@pytest.fixture(scope="session")
def text_analysis() -> TextAnalysis:
    need_photos()
    return TextAnalysis(default_reader())  # the models load once per session


def decoded_photo(analysis: TextAnalysis, path) -> Decoded:
    """``path`` decoded as the background pass decodes it for the text analysis (a JPEG at its first size)."""
    [(_, _, photo)] = list(decoded([(0, str(path))], [analysis]))
    return photo


def analyse(analysis: TextAnalysis, path) -> list[dict]:
    return decoded_photo(analysis, path).analyse([analysis])["text_lines"]


class Probes:
    """The reader, recording how many lines each detection finds."""

    def __init__(self, reader) -> None:
        self.reader, self.found = reader, []

    def detect(self, rgb):
        self.found.append(len(quads := self.reader.detect(rgb)))
        return quads

    def recognise(self, rgb, quads):
        return self.reader.recognise(rgb, quads)


def test_a_jpeg_is_probed_on_a_small_decode_and_decoded_larger_only_for_text(text_analysis, tmp_path):
    """A 12 MP JPEG is probed on its quarter-size decode (1000 × 750). Without text, or where the probe finds a tall
    "line" that reads as nothing (a wallpaper's texture), that is all it costs; text, low (26 px there) or tall
    (75 px), makes the pass decode the photo at 1440 × 1080 once and read it there."""
    probes = Probes(text_analysis.reader)
    analysis = TextAnalysis(probes)
    cases = {"plain": (2, None), "texture": (5, None), "low": (2, 0.035), "tall": (2, 0.1)}
    for name, (index, height) in cases.items():
        image = background(index, (4000, 3000))
        drawn = draw_words(image, "HARBOUR 4711", at=(0.1, 0.3), height=height) if height else None
        image.save(tmp_path / f"{name}.jpg", quality=90)
        photo = decoded_photo(analysis, tmp_path / f"{name}.jpg")
        assert photo.loaded.image.size == (1000, 750) and (photo.loaded.width, photo.loaded.height) == (4000, 3000)
        asked: list = []
        photo.larger = lambda larger=photo.larger, asked=asked: asked.append(larger()) or asked[-1]
        probes.found.clear()
        lines = photo.analyse([analysis])["text_lines"]
        assert [image.size for image in asked] == ([(1440, 1080)] if drawn else []), name
        assert probes.found[0] == 0 if name == "plain" else probes.found[0] > 0, name
        if drawn:
            assert [fold(line["text"]) for line in lines] == ["harbour 4711"], name
            assert overlap(lines[0]["box"], drawn) > 0.8, name  # in the photo's own pixels
        else:
            assert lines == [], name


def overlap(a, b) -> float:
    """Intersection over the smaller box's area."""
    left, top = max(a[0], b[0]), max(a[1], b[1])
    right, bottom = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0, right - left) * max(0, bottom - top)
    return inter / min(a[2] * a[3], b[2] * b[3])


def test_words_read_with_their_boxes_in_the_photos_pixels(text_analysis, tmp_path):
    image = background(0, (2560, 1600))  # decoded at 1728 × 1080: boxes come back in 2560 × 1600
    drawn = draw_words(image, "INVOICE 2024-03", at=(0.1, 0.2), height=0.06)
    below = draw_words(image, "Hotel Adler", at=(0.4, 0.7), height=0.05, font="DejaVuSerif.ttf", fill="yellow")
    image.save(tmp_path / "invoice.jpg", quality=90)
    lines = analyse(text_analysis, tmp_path / "invoice.jpg")
    assert [fold(line["text"]) for line in lines] == ["invoice 2024-03", "hotel adler"]  # reading order
    assert overlap(lines[0]["box"], drawn) > 0.8 and overlap(lines[1]["box"], below) > 0.8
    assert lines[0]["box"][2] < 2 * drawn[2] and all(line["score"] > 0.8 for line in lines)
    plain = text_photo(tmp_path / "plain.jpg", "", index=0, size=(1600, 1000))
    assert analyse(text_analysis, plain) == []


def test_text_upside_down_and_sideways_is_read(text_analysis, tmp_path):
    image = background(3, (1200, 800))
    draw_words(image, "TIMETABLE", at=(0.2, 0.4), height=0.1)
    for angle in (90, 180):
        image.rotate(angle, expand=True).save(tmp_path / f"turned{angle}.jpg", quality=90)
        assert [fold(line["text"]) for line in analyse(text_analysis, tmp_path / f"turned{angle}.jpg")] == \
            ["timetable"]


def test_fold_is_one_rule_for_index_and_query():
    assert fold("Zürich") == fold("ZURICH") == "zurich"
    assert fold("Straße Øresund Ærø Łódź") == "strasse oresund aero lodz"
    q = words_query('Lidl "Grüße aus Köln" rec')
    assert q.words == "lidl rec" and q.phrases == ("grusse aus koln",)
    assert not words_query('  "" ')


@pytest.fixture(scope="module")
def library(tmp_path_factory, es_client, embedder, text_analysis):
    """Six photographs, four with words on them, indexed with the text analysis into one index for this module."""
    root = tmp_path_factory.mktemp("text-lib")
    paths = {}
    for i, (name, words) in enumerate(WORDS.items()):
        paths[name] = text_photo(root / name, words, index=i, height=0.08)
    for i, name in enumerate(PLAIN):
        paths[name] = text_photo(root / name, "", index=6 + i)
    store = Store(es_client, f"test-{uuid.uuid4().hex[:10]}", retry_for=5)
    store.use_index(embedder.image_model_name, embedder.dims)
    stats = Indexer(store, embedder, analyses=[text_analysis]).run([str(root)])
    assert stats.indexed == 6 and stats.analysed == 6
    yield store, root, paths
    for name in es_client.indices.get(index=f"{store.alias}-*"):
        es_client.indices.delete(index=name)


def names(hits, root) -> list[str]:
    return [os.path.relpath(h.path, root) for h in hits]


def words(store, text, **filters) -> list:
    return [w.hit for w in store.words_search(words_query(text), k=10, filters=Filters(**filters))]


def test_exact_prefix_typo_and_phrase_queries(library):
    store, root, _ = library
    assert names(words(store, "receipt"), root) == ["receipt.jpg"]
    assert names(words(store, "LIDL Receipt"), root) == ["receipt.jpg"]
    assert names(words(store, "rial"), root) == ["venice/bridge.jpg"]  # a prefix of the word
    assert names(words(store, "hauptbahn"), root) == ["station.jpg"]
    assert names(words(store, "recaipt"), root) == ["receipt.jpg"]  # one letter off
    assert names(words(store, "Hauptbanhof"), root) == ["station.jpg"]  # two letters swapped
    assert words(store, "rxcxipt") == []  # two letters off: no match
    assert names(words(store, '"ponte di rialto"'), root) == ["venice/bridge.jpg"]
    assert words(store, '"rialto ponte"') == []  # a phrase is exact: words in its order
    assert names(words(store, '"lidl receipt" 12.99'), root) == ["receipt.jpg"]


def test_accents_fold_both_ways(library):
    store, root, paths = library
    assert names(words(store, "Zürich"), root) == ["station.jpg"]  # read "ZURICH", searched with the umlaut
    # Read with the accent (another recognition model keeps them): found without it.
    ident = doc_id(str(paths["plain2.jpg"]), store.library)
    lines = [{"text": "Café Zürich", "box": [0, 0, 10, 10], "score": 0.9}]
    assert store.update_fields({ident: text_fields(lines)}) == []
    store.refresh()
    try:
        assert set(names(words(store, "ZURICH"), root)) == {"station.jpg", "plain2.jpg"}
        assert names(words(store, "cafe"), root) == ["plain2.jpg"]
    finally:
        store.update_fields({ident: text_fields([])})
        store.refresh()


def test_every_word_ranks_first_and_filters_compose(library):
    store, root, _ = library
    found = store.words_search(words_query("wifi receipt"), k=10)
    assert {os.path.relpath(w.hit.path, root) for w in found} == {"wifi.jpg", "receipt.jpg"}
    assert not any(w.every_word for w in found)
    found = store.words_search(words_query("lidl receipt"), k=10)
    assert [w.every_word for w in found] == [True]
    # A sentence's words all have to be there (its "a", "of", "the" alone would match most photos with text):
    # "wifi receipt" typed as a sentence finds no photo by its words, as --words it finds both.
    sentence = Query(text="wifi receipt", k=10).words_query()
    assert sentence.every and store.words_search(sentence, k=10) == []
    lidl = store.words_search(Query(text="lidl receipt").words_query(), k=10)
    assert names([w.hit for w in lidl], root) == ["receipt.jpg"]
    assert words(store, "rialto", folders=[str(root / "venice")]) != []
    assert words(store, "rialto", folders=[str(root / "nowhere")]) == []
    assert words(store, "receipt", formats=["PNG"]) == []


def test_has_text_filter_with_any_search(library, embedder):
    store, root, paths = library
    query = Query(parts=[Part(stored=str(paths["plain1.jpg"]))], k=10, filters=Filters(has_text=True))
    hits = run_query(embedder, store, query).hits
    assert sorted(names(hits, root)) == sorted(WORDS)
    assert len(run_query(embedder, store, Query(parts=[Part(stored=str(paths["plain1.jpg"]))], k=10)).hits) == 6


def test_fusion_ranks_a_text_match_above_a_meaning_only_match(library, embedder):
    store, root, paths = library
    # By meaning alone, the query photo itself is the nearest (cosine 1): the photo showing the words ranks above it.
    query = Query(parts=[Part(stored=str(paths["plain1.jpg"]))], words="Rialto", k=6)
    meaning = run_query(embedder, store, Query(parts=query.parts, k=6)).hits
    assert names(meaning, root)[0] == "plain1.jpg" and all(h.matched == MEANING for h in meaning)
    hits = run_query(embedder, store, query).hits
    assert names(hits, root)[:2] == ["venice/bridge.jpg", "plain1.jpg"]
    assert hits[0].matched == BOTH and hits[1].matched == MEANING and len(hits) == 6
    # A sentence matches meaning and words: with k=1 the kNN list holds one photo, the words one another.
    hits = run_query(embedder, store, Query(text="lidl receipt", k=2)).hits
    assert names(hits, root)[0] == "receipt.jpg" and hits[0].matched in (TEXT, BOTH)
    assert -1.0 <= hits[0].score <= 1.0  # a cosine, also for a photo found by its words alone
    off = run_query(embedder, store, Query(text="lidl receipt", k=2, match_text=False)).hits
    assert all(h.matched == MEANING for h in off)
    # Words only: no vector involved
    hits = run_query(embedder, store, Query(words="ponte", k=5)).hits
    assert names(hits, root) == ["venice/bridge.jpg"] and hits[0].matched == TEXT


def test_background_pass_fills_text_without_re_embedding(store, embedder, counting, text_analysis, tmp_path):
    text_photo(tmp_path / "pics" / "sign.jpg", "Rialto", index=2, height=0.1)
    text_photo(tmp_path / "pics" / "plain.jpg", "", index=7)
    assert Indexer(store, embedder).run([str(tmp_path / "pics")]).indexed == 2  # text off
    assert words(store, "rialto") == [] and sum(counting) == 2
    vectors = {i: s["image_embedding"] for i, s in store.documents(None, ["image_embedding"])}
    stats = backfill(store, [text_analysis])
    assert stats.analysed == 2 and sum(counting) == 2  # nothing went through CLIP again
    assert [os.path.basename(h.path) for h in words(store, "rialto")] == ["sign.jpg"]
    assert {i: s["image_embedding"] for i, s in store.documents(None, ["image_embedding"])} == vectors
    assert backfill(store, [text_analysis]).analysed == 0  # recorded: nothing left


def test_a_photo_rotated_on_disk_is_read_again(store, embedder, text_analysis, tmp_path):
    path = text_photo(tmp_path / "pics" / "sign.jpg", "TIMETABLE", index=4, size=(960, 640), height=0.1)
    Indexer(store, embedder, analyses=[text_analysis]).run([str(tmp_path / "pics")])
    before = store.source_of(doc_id(str(path), store.library))["text_lines"]
    with Image.open(path) as im:
        im.rotate(90, expand=True).save(path, quality=90)  # turned in an image viewer: portrait now
    stats = Indexer(store, embedder, analyses=[text_analysis]).run([str(tmp_path / "pics")])
    assert stats.indexed == 1 and stats.analysed == 1
    after = store.source_of(doc_id(str(path), store.library))["text_lines"]
    assert [fold(line["text"]) for line in before] == [fold(line["text"]) for line in after] == ["timetable"]
    (_, _, w, h), (_, _, w2, h2) = before[0]["box"], after[0]["box"]
    assert w > h and h2 > w2  # the line stands upright in the rotated photo, and was read all the same
