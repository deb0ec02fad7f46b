"""core/store/: the pure helpers (filters, paths, ids) and a few reads against a fake Elasticsearch client."""

from __future__ import annotations

import os

import numpy as np
import pytest
from elasticsearch import ConnectionError as EsConnectionError

from imgsearch_desktop.core.store import (
    DEFAULT_LIBRARY,
    SCHEMA_VERSION,
    UNDATED,
    Connection,
    Filters,
    Hit,
    Store,
    concrete_name,
    cosine_from_score,
    doc_id,
    path_b64,
    path_from_source,
    readable_path,
    root_from_source,
)
from imgsearch_desktop.core.store.connection import _version_tuple
from imgsearch_desktop.errors import ElasticsearchUnavailable

LATIN1 = os.fsdecode(b"/photos/caf\xe9")  # a folder whose name is not UTF-8
OTHER = os.fsdecode(b"/photos/caf\xe8")  # another one with the same display form


# ---------------------------------------------------------------- Filters
def test_no_filters_no_clauses():
    assert Filters().clauses() == []
    assert Filters(include_undated=True).clauses() == []  # "include undated" only widens a date range


def test_folder_filter_is_one_prefix_per_folder():
    clauses = Filters(folders=["/a/b/", "/c"]).clauses()
    assert clauses == [{"bool": {"should": [{"prefix": {"path": "/a/b/"}}, {"prefix": {"path": "/c/"}}],
                                 "minimum_should_match": 1}}]


def test_folder_filter_uses_the_display_form():
    (clause,) = Filters(folders=[LATIN1]).clauses()
    assert clause["bool"]["should"] == [{"prefix": {"path": "/photos/caf\ufffd/"}}]


@pytest.mark.parametrize(("date_from", "date_to", "rng"), [
    ("2023-01-01", None, {"gte": "2023-01-01"}),
    (None, "2023-12-31", {"lte": "2023-12-31"}),
    ("2023-01-01", "2023-12-31", {"gte": "2023-01-01", "lte": "2023-12-31"}),
])
def test_date_range(date_from, date_to, rng):
    assert Filters(date_from=date_from, date_to=date_to).clauses() == [{"range": {"taken_at": rng}}]


def test_date_range_with_undated_photos():
    (clause,) = Filters(date_from="2023-01-01", include_undated=True).clauses()
    assert clause == {"bool": {"should": [{"range": {"taken_at": {"gte": "2023-01-01"}}}, UNDATED],
                               "minimum_should_match": 1}}
    assert UNDATED == {"bool": {"must_not": {"exists": {"field": "taken_at"}}}}


def test_formats_are_upper_case_terms_and_all_clauses_combine():
    clauses = Filters(folders=["/p"], date_to="2020-01-01", formats=["jpeg", "Png"]).clauses()
    assert len(clauses) == 3
    assert "bool" in clauses[0] and "range" in clauses[1]
    assert clauses[2] == {"terms": {"format": ["JPEG", "PNG"]}}


# ---------------------------------------------------------------- paths and ids
def test_doc_id_hashes_library_and_exact_path():
    a = doc_id("/p/a.jpg")
    assert len(a) == 40 and int(a, 16) >= 0
    assert a == doc_id("/p/a.jpg", DEFAULT_LIBRARY) == doc_id("/p/a.jpg")
    assert doc_id("/p/a.jpg", "anna-laptop") != a
    assert doc_id("/p/a.jpg", "anna-laptop") != doc_id("/p/a.jpg", "ben-desktop")
    assert doc_id(LATIN1 + "/x.jpg") != doc_id(OTHER + "/x.jpg")
    assert readable_path(LATIN1) == readable_path(OTHER)


def test_path_survives_the_round_trip_through_a_document():
    path = LATIN1 + "/x.jpg"
    source = {"path": readable_path(path), "path_b64": path_b64(path)}
    assert path_from_source(source) == path
    assert path_from_source({"path": "/old/doc.jpg"}) == "/old/doc.jpg"  # written before path_b64 existed


def test_root_from_source():
    assert root_from_source({"root": "/photos", "relative_path": "a/b.jpg", "path": "/photos/a/b.jpg"}) == "/photos"
    path = LATIN1 + "/2024/x.jpg"
    source = {"root": readable_path(LATIN1), "relative_path": "2024/x.jpg", "path": readable_path(path),
              "path_b64": path_b64(path)}
    assert root_from_source(source) == LATIN1
    flat = {"root": readable_path(LATIN1), "relative_path": "x.jpg", "path_b64": path_b64(LATIN1 + "/x.jpg"),
            "path": readable_path(LATIN1 + "/x.jpg")}
    assert root_from_source(flat) == LATIN1


def test_scores_and_versions_and_names():
    assert cosine_from_score(1.0) == 1.0 and cosine_from_score(0.5) == 0.0 and cosine_from_score(0.0) == -1.0
    assert _version_tuple("8.19.7") == (8, 19) and _version_tuple("9.0.0-SNAPSHOT") == (9, 0)
    assert _version_tuple("nonsense") == (0, 0)
    name = concrete_name("imgsearch", "sentence-transformers/clip-ViT-B-32", 512)
    assert name.startswith(f"imgsearch-s{SCHEMA_VERSION}-clip-vit-b-32-") and name.endswith("-512d")
    assert name != concrete_name("imgsearch", "other/clip-ViT-B-32", 512)  # same basename, other model
    assert name != concrete_name("imgsearch", "sentence-transformers/clip-ViT-B-32", 256)


def test_connection_redacts_credentials():
    conn = Connection("https://elastic:s3cret@search.example:9243/base?x=1")
    assert conn.redacted() == "https://search.example:9243/base"
    assert "s3cret" not in conn.redacted()
    assert Connection("http://localhost").redacted() == "http://localhost"


def test_hit_as_json():
    hit = Hit(path=LATIN1 + "/x.jpg", score=0.123456789, image_id="i", image_name="x.jpg",
              relative_path="x.jpg", width=3, height=2)
    assert hit.as_json() == {"path": "/photos/caf\ufffd/x.jpg", "score": 0.123457, "image_id": "i",
                             "image_name": "x.jpg", "relative_path": "x.jpg", "width": 3, "height": 2}


# ---------------------------------------------------------------- reads against a fake client
class FakeClient:
    """The few Elasticsearch calls the reads below make, served from a list of sources; every call is recorded.

    Queries are not evaluated: a search returns every document (a superset), which is exactly what the store
    must cope with for display-form path queries."""

    def __init__(self, sources: list[dict], scores: list[float] | None = None) -> None:
        self.hits = [{"_id": f"doc{i}", "_source": s, "_score": (scores or [1.0] * len(sources))[i], "sort": [i]}
                     for i, s in enumerate(sources)]
        self.calls: list[tuple[str, dict]] = []
        self.open_pits = 0

    def open_point_in_time(self, **kwargs):
        self.calls.append(("open_point_in_time", kwargs))
        self.open_pits += 1
        return {"id": "pit-1"}

    def close_point_in_time(self, **kwargs):
        self.calls.append(("close_point_in_time", kwargs))
        self.open_pits -= 1

    def search(self, **kwargs):
        self.calls.append(("search", kwargs))
        if "pit" in kwargs:
            after = kwargs.get("search_after", [-1])[0]
            page = [h for h in self.hits if h["sort"][0] > after][:kwargs["size"]]
            return {"hits": {"hits": page}, "pit_id": "pit-1"}
        return {"hits": {"hits": self.hits[:kwargs.get("size", 10)]}}


def source(path: str, size: int = 1, mtime_ns: int = 2, sha256: str = "s") -> dict:
    return {"path": readable_path(path), "path_b64": path_b64(path), "size": size, "mtime_ns": mtime_ns,
            "sha256": sha256}


def test_indexed_files_pages_through_and_keeps_exact_matches_only():
    sources = [source(LATIN1 + f"/{i}.jpg", size=i) for i in range(5)] + [source(OTHER + "/9.jpg")]
    client = FakeClient(sources)
    store = Store(client, "idx", library="anna")
    found = store.indexed_files([LATIN1])
    assert sorted(found) == sorted(LATIN1 + f"/{i}.jpg" for i in range(5))  # not OTHER's, though it came back
    assert found[LATIN1 + "/3.jpg"].size == 3 and found[LATIN1 + "/3.jpg"].doc_id == "doc3"
    searches = [kw for name, kw in client.calls if name == "search"]
    assert len(searches) == 2  # one page of 6, then an empty page ends it
    assert client.open_pits == 0  # the point in time is always closed
    scope = searches[0]["query"]["bool"]["filter"][0]
    assert {"term": {"library": "anna"}} in scope["bool"]["should"]


def test_scan_docs_pages_with_search_after():
    client = FakeClient([source(f"/p/{i}.jpg") for i in range(5)])
    hits = list(Store(client, "idx").scan_docs({"match_all": {}}, ["path"], page=2))
    assert [h["_id"] for h in hits] == [f"doc{i}" for i in range(5)]
    searches = [kw for name, kw in client.calls if name == "search"]
    assert [kw.get("search_after") for kw in searches] == [None, [1], [3], [4]]
    assert client.open_pits == 0


def test_knn_returns_cosines_and_sends_filters_scope_and_threshold():
    client = FakeClient([source("/p/a.jpg"), source("/p/b.jpg")], scores=[0.95, 0.6])
    store = Store(client, "idx", library="anna")
    store.server_version = (8, 19)
    hits = store.knn(np.ones(4, dtype=np.float32), k=2, filters=Filters(formats=["png"]), min_score=0.5)
    assert [h.path for h in hits] == ["/p/a.jpg"]  # b's cosine 0.2 passed ES's slack, not the exact threshold
    assert [h.score for h in hits] == pytest.approx([0.9])
    assert [name for name, _ in client.calls] == ["search"]
    knn = client.calls[0][1]["knn"]
    assert knn["k"] == 2 and knn["num_candidates"] >= 100
    assert knn["similarity"] == pytest.approx(0.5 - Store.SIMILARITY_SLACK)  # slack for the int8 estimate
    assert knn["query_vector"] == [1.0] * 4
    assert knn["filter"][0] == {"terms": {"format": ["PNG"]}}
    assert {"term": {"library": "anna"}} in knn["filter"][1]["bool"]["should"]
    assert knn["rescore_vector"] == {"oversample": 3.0}


def test_knn_for_all_libraries_on_an_older_server():
    client = FakeClient([])
    store = Store(client, "idx")
    store.server_version = (8, 12)
    assert store.knn(np.ones(2), filters=Filters(all_libraries=True)) == []
    knn = client.calls[0][1]["knn"]
    assert "filter" not in knn and "rescore_vector" not in knn and "similarity" not in knn


def test_printable_paths_cannot_forge_output_lines():
    from imgsearch_desktop.core.paths import printable

    assert printable("/p/a\nindexed 999.jpg") == "/p/a\\nindexed 999.jpg"
    assert printable("/p/tab\there\x1b[31m.jpg") == "/p/tab\\there\\x1b[31m.jpg"
    assert printable(os.fsdecode(b"/p/caf\xe9.jpg")) == "/p/caf\ufffd.jpg"
    assert printable("/p/été.jpg") == "/p/été.jpg"


def test_write_failures_are_reported_by_file_not_by_document_id():
    from imgsearch_desktop.core.pipeline import Indexer, IndexStats

    stats = IndexStats()
    errors = [("0f3a9c", "index failed (400): mapper_parsing_exception"), ("unknown-id", "delete failed (500)")]
    assert Indexer._record_errors(errors, stats, {"0f3a9c": "/photos/a.jpg"}) == errors
    assert stats.failed == 2
    assert stats.failures == [("/photos/a.jpg", errors[0][1]), ("unknown-id", errors[1][1])]


class FlakyClient(FakeClient):
    """Refuses the first ``failures`` searches as an unreachable node does, then answers."""

    def __init__(self, sources: list[dict], failures: int) -> None:
        super().__init__(sources)
        self.failures = failures

    def search(self, **kwargs):
        if self.failures:
            self.failures -= 1
            raise EsConnectionError("connection refused")
        return super().search(**kwargs)


def test_reads_wait_for_an_unreachable_node_like_writes_then_say_so_plainly(monkeypatch):
    monkeypatch.setattr("imgsearch_desktop.core.store.connection.time.sleep", lambda s: None)
    waits = []
    store = Store(FlakyClient([source("/p/a.jpg")], failures=2), "idx", on_wait=waits.append)
    assert list(store.files_at(["/p/a.jpg"])) == ["/p/a.jpg"]  # answered once the node is back
    assert len(waits) == 2 and "retrying read" in waits[0]
    gone = Store(FlakyClient([], failures=100), "idx", retry_for=3)
    with pytest.raises(ElasticsearchUnavailable, match="unavailable during read"):
        gone.by_sha256(["abc"])


def test_a_scan_that_fails_says_why_even_when_its_point_in_time_cannot_be_closed(monkeypatch):
    monkeypatch.setattr("imgsearch_desktop.core.store.connection.time.sleep", lambda s: None)

    class DeadMidScan(FlakyClient):
        def close_point_in_time(self, **kwargs):
            raise EsConnectionError("connection refused")

    store = Store(DeadMidScan([source("/p/a.jpg")], failures=100), "idx", retry_for=1)
    with pytest.raises(ElasticsearchUnavailable, match="unavailable during read"):
        list(store.scan_docs({"match_all": {}}, ["path"]))
