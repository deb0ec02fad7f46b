"""The library's timeline: newest first, one page at a time, in a point-in-time snapshot of the index."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from elasticsearch import ApiError, NotFoundError, TransportError

from imgsearch_desktop.core.store.queries import UNDATED_PHOTO, Filters, Reads
from imgsearch_desktop.core.store.schema import SOURCE_FIELDS, Hit, _hit, path_from_source
from imgsearch_desktop.errors import UserError

UNDATED_MONTH = ""  # the timeline's group of photos with no date at all (sorted last)
TIMELINE_KEEP_ALIVE = "10m"  # a snapshot outlives a pause of this long between two scrolls
MAX_WINDOW = 10_000  # ES's index.max_result_window: from + size of one search
# Newest first; photos without a date last; the path breaks ties, the snapshot's _shard_doc after it. Reversed:
# the same order read backwards, for the page above a known one (a missing date is Long.MIN_VALUE in both).
TIMELINE_SORT = [{"photo_date": {"order": "desc", "missing": "_last", "unmapped_type": "date"}},
                 {"path": {"order": "asc"}}, {"_shard_doc": {"order": "asc"}}]
TIMELINE_REVERSED = [{"photo_date": {"order": "asc", "missing": "_first", "unmapped_type": "date"}},
                     {"path": {"order": "desc"}}, {"_shard_doc": {"order": "desc"}}]


class SnapshotExpired(UserError):
    """The timeline's point in time is gone (kept alive TIMELINE_KEEP_ALIVE after its last use)."""


@dataclass
class Timeline:
    """A snapshot (point in time) of the library as the timeline shows it, and its photos per month."""

    pit: str
    filters: Filters
    months: list[tuple[str, int]]  # ("YYYY-MM" or UNDATED_MONTH, photos), newest first, the undated last
    total: int


@dataclass
class TimelinePage:
    hits: list[Hit]
    after: list | None  # the last hit's sort values: where the next page starts
    before: list | None = None  # the first hit's: where the page above it ends


def _from_month(month: str) -> dict:
    """Photos from the start of ``month`` on in timeline order: dated before the month after it, or undated."""
    if month == UNDATED_MONTH:
        return UNDATED_PHOTO
    year, mon = (int(x) for x in month.split("-"))
    end = f"{year + mon // 12:04d}-{mon % 12 + 1:02d}-01"
    return {"bool": {"should": [{"range": {"photo_date": {"lt": end}}}, UNDATED_PHOTO], "minimum_should_match": 1}}


class TimelineReads(Reads):
    """The timeline's reads of ``Store``: ``timeline`` opens a snapshot, ``timeline_page`` and the rest read it."""

    def _timeline_query(self, filters: Filters, *extra: dict) -> dict:
        clauses = [*filters.clauses(), *extra]
        return {"bool": {"filter": clauses}} if filters.all_libraries else self._scoped(*clauses)

    def timeline(self, filters: Filters | None = None, keep_alive: str = TIMELINE_KEEP_ALIVE) -> Timeline:
        """Open a snapshot of the photos the filters let through and count them per month (newest first, the
        undated last): what the timeline's group headers and scrubber show, and how it finds a month's rows."""
        filters = filters or Filters()
        pit = self._retrying(lambda: self.client.open_point_in_time(index=self.index, keep_alive=keep_alive),
                             "read")["id"]
        aggs = {"months": {"date_histogram": {"field": "photo_date", "calendar_interval": "month",
                                              "format": "yyyy-MM", "min_doc_count": 1, "order": {"_key": "desc"}}},
                "undated": {"missing": {"field": "photo_date"}}}
        resp = self._retrying(lambda: self.client.search(
            pit={"id": pit, "keep_alive": keep_alive}, query=self._timeline_query(filters), size=0, aggs=aggs,
            track_total_hits=True), "read")
        months = [(b["key_as_string"], b["doc_count"]) for b in resp["aggregations"]["months"]["buckets"]]
        undated = resp["aggregations"]["undated"]["doc_count"]
        if undated:
            months.append((UNDATED_MONTH, undated))
        return Timeline(resp.get("pit_id", pit), filters, months, resp["hits"]["total"]["value"])

    def timeline_page(self, timeline: Timeline, after: list | None = None, size: int = 200, month: str | None = None,
                      skip: int = 0, before: list | None = None) -> TimelinePage:
        """``size`` photos of the snapshot in timeline order: those after the sort values ``after`` (the previous
        page's last), or the ``size`` just before ``before`` (the next page's first: scrolling up), or from the
        ``skip``-th photo on counted from the start of ``month`` ("YYYY-MM", or UNDATED_MONTH; skip + size at most
        MAX_WINDOW: ES's result window)."""
        if before:
            resp = self._timeline_search(timeline, None, size, {"search_after": before}, source=SOURCE_FIELDS,
                                         sort=TIMELINE_REVERSED)
            hits = resp["hits"]["hits"][::-1]
        else:
            kwargs: dict = {"search_after": after} if after else {"from_": skip} if skip else {}
            hits = self._timeline_search(timeline, month, size, kwargs, source=SOURCE_FIELDS)["hits"]["hits"]
        return TimelinePage([_hit(h, score=0.0) for h in hits], hits[-1]["sort"] if hits else None,
                            hits[0]["sort"] if hits else None)

    def timeline_seek(self, timeline: Timeline, count: int, after: list | None = None,
                      month: str | None = None) -> list | None:
        """The sort values of the ``count``-th photo after ``after`` (or from the start of ``month``), read
        MAX_WINDOW at a time without their documents: how a page deep inside a huge month is reached."""
        while count > 0:
            step = min(count, MAX_WINDOW)
            kwargs = {"search_after": after} if after else {}
            hits = self._timeline_search(timeline, None if after else month, step, kwargs, source=False,
                                         filter_path="pit_id,hits.hits.sort")["hits"]["hits"]
            if not hits:
                return after
            after, count = hits[-1]["sort"], count - len(hits)
        return after

    def timeline_paths(self, timeline: Timeline, page: int = MAX_WINDOW) -> list[str]:
        """The path of every photo in the snapshot, in timeline order, read ``page`` at a time with no other field:
        what an action on the whole timeline (Ctrl+A) acts on, without a page of documents held for each."""
        paths: list[str] = []
        after = None
        while True:
            kwargs = {"search_after": after} if after else {}
            resp = self._timeline_search(timeline, None, page, kwargs, source=["path", "path_b64"],
                                         filter_path="pit_id,hits.hits._source,hits.hits.sort")
            hits = resp.get("hits", {}).get("hits", [])  # filter_path leaves out an empty list altogether
            if not hits:
                return paths
            paths += [path_from_source(h["_source"]) for h in hits]
            after = hits[-1]["sort"]

    def _timeline_search(self, timeline: Timeline, month: str | None, size: int, kwargs: dict,
                         sort: list = TIMELINE_SORT, **more) -> dict:
        extra = [] if month is None else [_from_month(month)]
        try:
            resp = self._retrying(lambda: self.client.search(
                pit={"id": timeline.pit, "keep_alive": TIMELINE_KEEP_ALIVE},
                query=self._timeline_query(timeline.filters, *extra), sort=sort, size=size,
                track_total_hits=False, **kwargs, **more), "read")
        except NotFoundError as exc:  # the snapshot expired (nobody scrolled for a while): open a new one
            raise SnapshotExpired("the timeline's snapshot expired") from exc
        timeline.pit = resp.get("pit_id", timeline.pit)
        return resp

    def close_timeline(self, timeline: Timeline) -> None:
        with contextlib.suppress(ApiError, TransportError):  # it expires by itself anyway
            self.client.close_point_in_time(id=timeline.pit)
