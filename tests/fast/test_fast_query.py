"""core/query.py: a query's parts and how it reads, regions, and run_query with a fake embedder and store."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from PIL import Image

from imgsearch_desktop.core.dupes import Tier
from imgsearch_desktop.core.query import Part, Query, QueryResult, _whole, crop, fuse, run_query
from imgsearch_desktop.core.store import Filters, Hit, WordsHit
from imgsearch_desktop.errors import UsageError, UserError
from tests.fast.fake_store import FakeStore


# ---------------------------------------------------------------- parts
def test_a_single_photo_text_or_paste_is_one_part():
    assert Query(text="a red car").all_parts() == [Part(text="a red car")]
    assert Query(path="/p/cat.jpg").all_parts() == [Part(path="/p/cat.jpg")]
    assert Query(image_bytes=b"").all_parts() == [Part(image_bytes=b"")]  # empty data is still a (bad) part
    assert Query().all_parts() == []


def test_parts_follow_the_single_part():
    extra = [Part(stored="/p/dog.jpg"), Part(text="snow", weight=-1.0)]
    q = Query(path="/p/cat.jpg", parts=extra)
    assert q.all_parts() == [Part(path="/p/cat.jpg"), *extra]
    assert Query(parts=extra).all_parts() == extra
    assert q.all_parts() is not q.parts  # a copy: the caller's list is not changed through it


def test_is_text():
    assert Query(text="beach").is_text
    assert not Query(path="/p/a.jpg").is_text
    assert not Query(parts=[Part(text="beach"), Part(text="sunset")]).is_text
    assert Query(parts=[Part(text="beach")]).is_text


@pytest.mark.parametrize(("query", "text"), [
    (Query(path="/photos/2024/cat.jpg"), "cat.jpg"),
    (Query(text="a cat"), "“a cat”"),
    (Query(image_bytes=b"png..."), "pasted image"),
    (Query(parts=[Part(stored="/p/dog.jpg")]), "dog.jpg"),
    (Query(parts=[Part(path="/p/cat.jpg", region=(0.1, 0.1, 0.5, 0.5))]), "cat.jpg (region)"),
    (Query(path="/p/cat.jpg", parts=[Part(text="snow", weight=-1.0)]), "cat.jpg − “snow”"),
    (Query(text="beach", parts=[Part(text="sunset"), Part(path="/p/x.png", weight=-0.5)]),
     "“beach” + “sunset” − x.png"),
])
def test_describe(query, text):
    assert query.describe() == text


# ---------------------------------------------------------------- regions
@pytest.mark.parametrize(("region", "whole"), [
    ((0.0, 0.0, 1.0, 1.0), True),
    ((0.0005, 0.0, 0.9995, 1.0), True),  # a drag to the very edge
    ((-0.1, -0.1, 1.2, 1.1), True),
    ((0.01, 0.0, 1.0, 1.0), False),
    ((0.0, 0.0, 1.0, 0.99), False),
])
def test_whole(region, whole):
    assert _whole(region) is whole


def test_crop():
    image = Image.new("RGB", (100, 50))
    assert crop(image, (0.1, 0.2, 0.5, 1.0)).size == (40, 40)
    assert crop(image, (-0.5, -1.0, 2.0, 3.0)).size == (100, 50)  # clamped to the photo
    assert crop(image, (0.001, 0.001, 0.002, 0.002)).size == (1, 1)  # never less than a pixel
    image.putpixel((99, 49), (255, 0, 0))
    assert crop(image, (0.5, 0.5, 1.0, 1.0)).getpixel((49, 24)) == (255, 0, 0)  # the bottom-right corner


@pytest.mark.parametrize("region", [(0.5, 0.0, 0.5, 1.0), (0.0, 0.7, 1.0, 0.2), (1.2, 0.0, 1.5, 1.0)])
def test_an_empty_region_is_refused(region):
    with pytest.raises(UserError, match="empty"):
        crop(Image.new("RGB", (10, 10)), region)


# ---------------------------------------------------------------- run_query with fakes
WORDS = {"cat": [1.0, 0.0, 0.0], "snow": [0.0, 1.0, 0.0], "dog": [0.0, 0.0, 1.0], "tac": [-1.0, 0.0, 0.0]}


class FakeEmbedder:
    """Text → a fixed vector per word (twice unit length: the query path must normalise); records what was encoded
    and whether it ran inside ``query()``."""

    def __init__(self) -> None:
        self.encoded: list[str] = []
        self.in_query = False

    @contextlib.contextmanager
    def query(self):
        self.in_query = True
        try:
            yield
        finally:
            self.in_query = False

    def encode_texts(self, texts, priority=False):
        assert self.in_query and priority
        self.encoded += texts
        return np.array([[2 * x for x in WORDS[t]] for t in texts], dtype=np.float32)  # not unit: _unit


def test_run_query_combines_the_parts_into_one_unit_vector():
    embedder, store = FakeEmbedder(), FakeStore()
    filters = Filters(formats=["jpeg"])
    query = Query(text="cat", parts=[Part(text="snow", weight=-1.0)], k=7, filters=filters, min_score=0.3)
    result = run_query(embedder, store, query)
    assert embedder.encoded == ["cat", "snow"] and not embedder.in_query
    (method, vector, k, sent_filters, min_score), words = store.asked
    assert method == "knn" and vector == pytest.approx(np.array([1.0, -1.0, 0.0]) / np.sqrt(2))
    assert (k, sent_filters, min_score) == (7, filters, 0.3)
    assert isinstance(result, QueryResult) and result.hits == [] and result.seconds >= 0
    assert result.relations == []  # a sentence has no copies to label
    assert words[0] == "words_search" and words[1].words == "cat"  # the positive sentence also matches words


def hit(ident: str, score: float = 0.5) -> Hit:
    return Hit(path=f"/p/{ident}.jpg", score=score, image_id=ident, image_name=f"{ident}.jpg",
               relative_path=f"{ident}.jpg", width=1, height=1)


def test_fusion_every_word_first_then_reciprocal_rank():
    knn = [hit("a", 0.9), hit("b", 0.8), hit("c", 0.7)]
    for h in knn:
        h.matched = "meaning"
    q = np.array([1.0, 0.0, 0.0])
    words = [WordsHit(hit("d", 7.0), every_word=True, vector=[0.0, 2.0, 0.0]),  # by its words alone
             WordsHit(hit("c", 5.0), every_word=False, vector=[1.0, 0.0, 0.0]),
             WordsHit(hit("b", 4.0), every_word=False, vector=[1.0, 0.0, 0.0])]
    fused = fuse(knn, words, q, k=3)
    # d holds every word: first. b (ranks 2 and 3) and c (3 and 2) tie at 1/62 + 1/63, in kNN order; both beat a,
    # first by meaning only (1/61), which k=3 leaves out.
    assert [h.image_id for h in fused] == ["d", "b", "c"]
    assert [h.matched for h in fused] == ["text", "both", "both"]
    assert fused[0].score == pytest.approx(0.0) and fused[1].score == 0.8  # cosines: d's from its stored vector


def test_a_stored_part_uses_the_indexed_vector():
    store = FakeStore()
    store.add("/p/dog.jpg", [0.0, 0.0, 5.0], sha256="s", phash=None)
    run_query(FakeEmbedder(), store, Query(parts=[Part(stored="/p/dog.jpg"), Part(text="cat", weight=0.5)]))
    vector = store.asked[0][1]
    assert vector == pytest.approx(np.array([0.5, 0.0, 1.0]) / np.linalg.norm([0.5, 0.0, 1.0]))


def test_a_single_stored_photo_labels_its_copies():
    store = FakeStore()
    store.add("/p/a.jpg", [1.0, 0.0, 0.0], sha256="s", width=100, height=100)
    store.add("/p/b.jpg", [0.99, np.sqrt(1 - 0.99**2), 0.0], sha256="s", width=4000, height=3000)  # cosine 0.99
    store.add("/p/c.jpg", [0.5, 0.0, np.sqrt(0.75)], sha256="t", width=100, height=100)  # cosine 0.5
    result = run_query(FakeEmbedder(), store, Query(parts=[Part(stored="/p/a.jpg")]))
    assert [h.path for h in result.hits] == ["/p/a.jpg", "/p/b.jpg", "/p/c.jpg"]
    assert result.relations == [Tier.EXACT, Tier.EXACT, Tier.SIMILAR]
    assert result.copies == [0, 1]
    assert result.best == 1  # the bigger copy


def test_copies_are_the_hits_whose_tier_is_not_a_similar_shot():
    """"Copy or not" is decided by the tier, not by comparing a label's words."""
    result = QueryResult(Query(), [], 0.0, relations=[Tier.EXACT, Tier.SIMILAR, Tier.SAME_PICTURE, Tier.SIMILAR])
    assert result.copies == [0, 2]


def test_a_query_without_a_positive_part_is_a_usage_error():
    store = FakeStore()
    with pytest.raises(UsageError, match="at least one positive part"):
        run_query(FakeEmbedder(), store, Query(parts=[Part(text="snow", weight=-1.0)]))
    with pytest.raises(UsageError):
        run_query(FakeEmbedder(), store, Query())
    assert store.asked == []


def test_parts_that_cancel_out_are_refused():
    store = FakeStore()
    with pytest.raises(UserError, match="cancel each other out"):
        run_query(FakeEmbedder(), store, Query(text="cat", parts=[Part(text="tac")]))
    assert store.asked == []


def test_a_stored_part_that_is_not_indexed_is_a_user_error():
    with pytest.raises(UserError, match=r"not in the index: /p/missing\.jpg"):
        run_query(FakeEmbedder(), FakeStore(), Query(parts=[Part(stored="/p/missing.jpg")]))
