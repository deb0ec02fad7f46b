"""Composed queries on a real index: q = normalise(Σ wᵢ·vᵢ), ranked exactly as numpy's cosine says."""

from __future__ import annotations

import os

import numpy as np
import pytest

from imgsearch_desktop.core import images
from imgsearch_desktop.core.dupes import Tier
from imgsearch_desktop.core.pipeline import Indexer
from imgsearch_desktop.core.query import REGION_ZOOM, Part, Query, Stages, crop, part_vector, run_query
from imgsearch_desktop.core.store import path_from_source
from imgsearch_desktop.errors import UserError
from tests.photos import write_photo


@pytest.fixture
def indexed(store, embedder, tmp_path):
    root = tmp_path / "Pictures"
    paths = [write_photo(root / f"p{i}.jpg", seed=900 + i, size=(320, 240)) for i in range(8)]
    stats = Indexer(store, embedder, batch_size=4).run([root])
    assert stats.indexed == 8
    return paths


def stored_vectors(store) -> dict[str, np.ndarray]:
    out = {}
    for hit in store.scan_docs({"match_all": {}}, ["path", "path_b64", "image_embedding"]):
        v = np.asarray(hit["_source"]["image_embedding"], dtype=np.float64)
        out[path_from_source(hit["_source"])] = v / np.linalg.norm(v)
    return out


def unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def test_composed_ranking_is_numpys_exact_cosine_ranking(store, embedder, indexed):
    vectors = stored_vectors(store)
    a, b, c = (str(p) for p in indexed[:3])
    parts = [Part(path=a), Part(text="ein Hund am Strand", weight=0.5), Part(stored=b, weight=-1.0),
             Part(path=c, weight=-0.7)]
    q = unit(vectors[a] + 0.5 * unit(embedder.encode_texts(["ein Hund am Strand"])[0]) - vectors[b] - 0.7 * vectors[c])
    expected = sorted(vectors, key=lambda p: -float(vectors[p] @ q))
    result = run_query(embedder, store, Query(parts=parts, k=8))
    assert [h.path for h in result.hits] == expected
    for hit in result.hits:
        assert hit.score == pytest.approx(float(vectors[hit.path] @ q), abs=2e-3)


def test_a_negative_part_pushes_its_own_neighbours_down(store, embedder, indexed):
    a, b = str(indexed[0]), str(indexed[1])
    alone = run_query(embedder, store, Query(path=a, k=8)).hits
    minus = run_query(embedder, store, Query(parts=[Part(path=a), Part(stored=b, weight=-1.0)], k=8)).hits
    rank = {h.path: i for i, h in enumerate(alone)}
    rank_minus = {h.path: i for i, h in enumerate(minus)}
    score = {h.path: h.score for h in alone}
    score_minus = {h.path: h.score for h in minus}
    assert rank_minus[b] == 7 and rank_minus[b] >= rank[b]  # b itself goes to the bottom
    assert score_minus[b] < score[b]


def test_an_indexed_photo_is_its_own_first_hit_by_file_paste_and_whole_region(store, embedder, indexed):
    target = str(indexed[3])
    data = indexed[3].read_bytes()
    for query in (Query(path=target, k=3), Query(image_bytes=data, k=3),
                  Query(parts=[Part(path=target, region=(0.0, 0.0, 1.0, 1.0))], k=3)):
        hits = run_query(embedder, store, query).hits
        assert hits[0].path == target and hits[0].score > 0.9999, query.describe()


def test_a_region_query_embeds_the_crop(store, embedder, indexed):
    target = indexed[4]
    region = (0.1, 0.2, 0.6, 0.7)
    vector, _ = part_vector(embedder, store, Part(path=str(target), region=region))
    large = images.load_file(target, embedder.image_size * REGION_ZOOM).loaded  # cut from a larger decode
    expected = unit(embedder.encode_images([images.shrink(crop(large.image, region), embedder.image_size)])[0])
    whole = unit(embedder.encode_images([images.load_file(target, embedder.image_size).loaded.image])[0])
    assert float(vector @ expected) > 0.99999
    assert float(vector @ whole) < 0.9999  # not the whole photo's vector


def test_a_query_needs_a_positive_part_and_cannot_cancel_out(store, embedder, indexed):
    with pytest.raises(UserError, match="positive part"):
        run_query(embedder, store, Query(parts=[Part(text="a cat", weight=-1.0)]))
    a = str(indexed[0])
    with pytest.raises(UserError, match="cancel each other"):
        run_query(embedder, store, Query(parts=[Part(path=a), Part(stored=a, weight=-1.0)]))
    with pytest.raises(UserError, match="not in the index"):
        run_query(embedder, store, Query(parts=[Part(stored=a + ".missing.jpg")]))


@pytest.fixture
def counted(monkeypatch, embedder):
    """Every whole-file read, decode and image embedding a query makes (wrapped around the real ones)."""
    calls: list[str] = []

    def counting(name, real):
        def wrapper(*args, **kwargs):
            calls.append(name if name != "read" or not kwargs.get("header_only") else "header")
            return real(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(images, "read_file", counting("read", images.read_file))
    monkeypatch.setattr(images, "decode", counting("decode", images.decode))
    monkeypatch.setattr(embedder, "encode_images", counting("embed", embedder.encode_images))
    return calls


def test_an_indexed_photo_dropped_as_a_file_is_answered_without_reading_it(store, embedder, indexed, counted):
    """Same path, size and mtime as indexed: one document read answers; the file is not read, decoded or embedded."""
    target = str(indexed[2])
    result = run_query(embedder, store, Query(path=target, k=3))
    assert result.hits[0].path == target and result.hits[0].score > 0.9999
    assert counted == []
    assert result.relations[0] is Tier.EXACT  # copies are still labelled from the stored hashes
    assert list(result.stages) == ["lookup", "kNN", "labels"]  # the profile names what ran, and only that
    assert 0 < sum(result.stages.values()) <= result.seconds * 1000


def test_a_modified_indexed_photo_is_decoded_again(store, embedder, indexed, counted):
    target = indexed[5]
    before = stored_vectors(store)[str(target)]
    write_photo(target, seed=4242, size=(300, 200))  # same path, new content (and a new size/mtime)
    stages = Stages()
    vector, _ = part_vector(embedder, store, Part(path=str(target)), stages)
    assert counted == ["read", "decode", "embed"]
    assert list(stages) == ["lookup", "read + hash", "decode", "embed", "phash"]
    fresh = unit(embedder.encode_images([images.load_file(target, embedder.image_size).loaded.image])[0])
    assert float(vector @ fresh) > 0.99999 and float(vector @ before) < 0.9999


def test_a_touched_indexed_photo_is_answered_by_its_content_without_a_decode(store, embedder, indexed, counted):
    """Same content, new mtime (copied back, touched): read and hashed once, then its stored vector."""
    target = indexed[6]
    stat = target.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    result = run_query(embedder, store, Query(path=str(target), k=1))
    assert result.hits[0].path == str(target) and result.hits[0].score > 0.9999
    assert counted == ["read"]
    assert "read + hash" in result.stages and "decode" not in result.stages
