"""The indexing job: scan → read+hash → decode (parallel, bounded lookahead) → embed (batched) → bulk write.

One writer: embedding and Elasticsearch writes happen on the thread that calls ``run``; decoding runs ahead of it
on a small thread pool (Pillow releases the GIL while decoding). Work is written batch by batch, so a crash or a
cancel loses at most the batch in flight and the next run skips everything already written (``(size, mtime_ns)``
unchanged). A file whose content is already indexed (moved, renamed, copied, touched) reuses its stored vector.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from imgsearch_desktop.core import images
from imgsearch_desktop.core.ahead import ahead
from imgsearch_desktop.core.analyses import Analysis
from imgsearch_desktop.core.analyses.backfill import backfill
from imgsearch_desktop.core.embedder import Embedder
from imgsearch_desktop.core.paths import readable_path, root_of, under
from imgsearch_desktop.core.progress import Progress, no_progress
from imgsearch_desktop.core.scanner import FileEntry, Plan, Probe, plan, probe, scan
from imgsearch_desktop.core.store import IndexedFile, PhotoDoc, doc_id
from imgsearch_desktop.core.thumbs import ThumbCache
from imgsearch_desktop.core.vector_store import VectorStore
from imgsearch_desktop.core.watcher import ChangeSet


@dataclass
class IndexStats:
    indexed: int = 0  # documents written for new or changed files
    unchanged: int = 0
    moved: int = 0  # re-pointed to a new path, vector reused
    removed: int = 0
    skipped: int = 0
    embedded: int = 0  # images that went through the model
    reused: int = 0  # vectors taken from an indexed copy with the same content
    copied: int = 0  # documents copied from the previous schema's index (same model, file unchanged): not embedded
    failed: int = 0  # documents Elasticsearch rejected
    unreachable: int = 0  # folders that could not be read: their entries are kept, not removed
    cancelled: bool = False
    seconds: float = 0.0
    skipped_files: list[tuple[str, str]] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    unreachable_folders: list[tuple[str, str]] = field(default_factory=list)  # (folder, reason)
    switch_refused: str = ""  # why a model change left the alias on the old index (a folder was unreachable)
    analysed: int = 0  # photos the other analyses (faces) processed after CLIP made them searchable

    @property
    def rate(self) -> float:
        return (self.indexed + self.moved) / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        return (f"indexed {self.indexed}, unchanged {self.unchanged}, moved {self.moved}, removed {self.removed}, "
                f"skipped {self.skipped}" + (f", unreachable {self.unreachable}" if self.unreachable else "")
                + (f", failed {self.failed}" if self.failed else "")
                + (f", copied {self.copied} from the previous index" if self.copied else "")
                + f" · {self.rate:.1f} img/s" + (" · cancelled" if self.cancelled else ""))


@dataclass
class _Item:
    entry: FileEntry
    sha256: str = ""
    loaded: images.LoadedImage | None = None  # None when the content is already indexed (vector reused)
    phash: str | None = None
    skip: str | None = None


class Indexer:
    """Runs index jobs against one store with one embedder."""

    copy_batch = 500  # documents a schema migration copies per bulk request (and per progress report)

    def __init__(self, store: VectorStore, embedder: Embedder, decode_workers: int | None = None,
                 batch_size: int | None = None, lookahead: int | None = None,
                 thumbnails: ThumbCache | None = None, analyses: Sequence[Analysis] = ()) -> None:
        self.store = store
        self.analyses = list(analyses)  # run after CLIP, on photos lacking them: searchable first, faces follow
        self.embedder = embedder
        self.thumbnails = thumbnails  # filled from each photo's decode: the grid never decodes an indexed photo
        self.decode_workers = decode_workers or min(4, os.cpu_count() or 2)
        self.batch_size = batch_size or embedder.batch_size
        self.lookahead = lookahead or 4 * self.batch_size

    # ----- public -----
    def run(self, roots: Iterable[str], excluded: Iterable[str] = (), progress: Progress | None = None) -> IndexStats:
        """Bring the index in line with the files under ``roots``.

        An entry the walk did not see is removed only when its file is known to be gone: one under a folder that
        could not be read, a missing root (an unplugged drive) or a dangling symlink is kept and reported as
        unreachable. During a model change, the old index's files outside ``roots`` are re-embedded too, and the
        alias moves to the new index only once nothing of the old one is left behind.
        """
        progress = progress or no_progress
        started = time.perf_counter()
        roots = [os.path.abspath(os.fspath(r)) for r in roots]
        scanned = scan(roots, excluded)
        stats = IndexStats(skipped=len(scanned.skipped), skipped_files=list(scanned.skipped))
        unreachable = dict(scanned.unreachable)
        indexed = self.store.indexed_files(roots)
        unreachable.update(_emptied_mount_points(roots, indexed))
        unlisted = list(unreachable)
        work = plan(scanned.files, indexed)
        # An entry the walk did not see stays while its file may still be there: under a folder the walk could not
        # list (with chmod 111 stat() still works, so probe alone cannot tell), or unreachable by probe. A file that
        # exists but was not walked (now excluded or hidden, a second link to a listed file) goes, as before.
        gone = [doc for doc in work.gone if not any(under(doc.path, f) for f in unlisted)
                and not _probe(doc.path, roots, unreachable).unreachable]
        todo, dropped, blocked = work.todo, 0, []
        stats.unchanged = work.unchanged
        if self.store.migrate_from:
            carried, dropped, blocked = self._carry_over(roots, {f.path for f in scanned.files}, unlisted,
                                                         unreachable)
            todo = todo + carried.todo
            stats.unchanged += carried.unchanged
        known_shas = {doc.sha256 for doc in indexed.values() if doc.sha256}
        gone_by_sha = _by_sha(gone)
        total = len(todo) + len(gone)
        if not progress(0, total, "scanned"):
            stats.cancelled = True
        else:
            todo = self._copy_previous(todo, stats, progress, total)
            if not stats.cancelled:
                self._process(todo, known_shas, gone_by_sha, stats, progress, total)
        if not stats.cancelled:
            self._remove_gone(gone_by_sha, stats)
            progress(total, total, "done")
            if blocked:
                names = ", ".join(readable_path(f) for f in blocked[:3]) + (f" and {len(blocked) - 3} more"
                                                                        if len(blocked) > 3 else "")
                stats.switch_refused = (f"model change not finished: search stays on the previous model's index "
                                        f"until {names} can be read and re-embedded (index them again then)")
            elif self.store.migrate_from:
                self.store.finish_migration()
                stats.removed += dropped  # the old index's entries of files that are gone went with it
        self.store.refresh()
        _note_unreachable(stats, unreachable)
        stats.seconds = time.perf_counter() - started
        self._analyse(stats, progress)
        return stats

    def _analyse(self, stats: IndexStats, progress: Progress) -> None:
        """The slower analyses, once CLIP's documents are written and searchable (``seconds`` excludes them)."""
        if self.analyses and not stats.cancelled:
            done = backfill(self.store, self.analyses, progress, self.embedder.yield_to_queries)
            stats.analysed, stats.cancelled = done.analysed, done.cancelled

    def _carry_over(self, roots: Sequence[str], seen: set[str], unlisted: Sequence[str],
                    unreachable: dict[str, str]) -> tuple[Plan, int, list[str]]:
        """During a model change: what of the old index this run's walk did not cover, so that switching the alias
        loses nothing. Returns the plan for the files to re-embed (unchanged = already carried by an earlier,
        interrupted run), how many old entries are of files known to be gone, and the unreachable folders that
        hold old entries (the switch must wait for them)."""
        entries: list[FileEntry] = []
        dropped = 0
        blocked: dict[str, None] = {}
        for path, root in self.store.files_to_migrate():
            if path in seen:
                continue
            hidden = next((f for f in unlisted if under(path, f)), None)
            if hidden is not None:
                blocked.setdefault(hidden)
                continue
            found = _probe(path, [root], unreachable)
            if found.unreachable:
                blocked.setdefault(found.unreachable[0])
            elif found.stat is not None and not any(under(path, r) for r in roots):
                entries.append(FileEntry(path, root, found.stat.st_size, found.stat.st_mtime_ns))
            else:  # gone, or inside this run's roots yet not walked (excluded): a normal run drops it too
                dropped += 1
        return plan(entries, self.store.files_at([e.path for e in entries])), dropped, list(blocked)

    def _copy_previous(self, todo: list[FileEntry], stats: IndexStats, progress: Progress,
                       total: int) -> list[FileEntry]:
        """A migration that keeps the model (a schema change): copy the old index's documents of unchanged files
        (same size and mtime) as they are, vector, phash and all — nothing is read, decoded or embedded. Returns
        the entries still to index the usual way."""
        if not (self.store.migrate_from and self.store.migrate_same_model):
            return todo
        rest: list[FileEntry] = []
        for start in range(0, len(todo), self.copy_batch):
            chunk = todo[start:start + self.copy_batch]
            previous = self.store.previous_sources([e.path for e in chunk])
            docs = []
            for entry in chunk:
                src = previous.get(entry.path)
                if (src is None or (src.get("size"), src.get("mtime_ns")) != (entry.size, entry.mtime_ns)
                        or not src.get("image_embedding") or not src.get("sha256")):
                    rest.append(entry)
                    continue
                docs.append(PhotoDoc.from_stored(src, path=entry.path, root=entry.root, library=self.store.library,
                                                 size=entry.size, mtime_ns=entry.mtime_ns))
            failed = {i for i, _ in self._record_errors(self.store.write(docs), stats, _names(docs))}
            stats.copied += sum(1 for d in docs if d.doc_id not in failed)
            if not progress(start + len(chunk) - len(rest), total, "copied from the previous index"):
                stats.cancelled = True
                return rest + todo[start + len(chunk):]
        return rest

    def index_files(self, entries: Sequence[FileEntry], progress: Progress | None = None,
                    gone: Sequence[IndexedFile] = ()) -> IndexStats:
        """Index these files now (the watcher's created/modified events).

        ``gone``: documents of files just deleted. A new file with the content of one of them is that file moved
        (a move the watcher saw as delete + create): it takes over the document's vector instead of re-embedding.
        The rest of ``gone`` is removed.
        """
        started = time.perf_counter()
        stats = IndexStats()
        known = self.store.files_at([e.path for e in entries])
        work = plan(list(entries), known)  # work.gone is empty: every known path is among the entries
        stats.unchanged = work.unchanged
        gone_by_sha = _by_sha(gone)
        progress = progress or no_progress
        total = len(work.todo) + len(gone)  # _process counts the gone documents as still to do
        self._process(work.todo, set(gone_by_sha), gone_by_sha, stats, progress, total)
        self._remove_gone(gone_by_sha, stats)
        if not stats.cancelled:
            progress(total, total, "done")
        self.store.refresh()
        stats.seconds = time.perf_counter() - started
        self._analyse(stats, progress)
        return stats

    def apply(self, change: ChangeSet, roots: Sequence[str] = (), progress: Progress | None = None) -> IndexStats:
        """Apply a watcher change set: re-point moves, drop deletions, (re)index created/modified files.

        ``progress`` as for ``run``: the window shows it and pauses or cancels through it."""
        started = time.perf_counter()
        moved = 0
        changed, deleted = set(change.changed), set(change.deleted)
        for src, dest in change.moved:
            if self._repoint(src, dest, roots):
                moved += 1
                # A folder created just before the move is walked by the watcher too, which reports the file
                # as new as well: its entry is already current (size and mtime checked), so no second embed.
                changed.discard(dest)
            else:  # not indexed as it is now (new, changed before the move, or gone again): index afresh
                changed.add(dest)
                deleted.add(src)
        entries = []
        for path in sorted(changed):
            try:
                st = os.stat(path)
            except OSError:
                continue  # gone again before we got to it
            if not stat.S_ISREG(st.st_mode):
                deleted.add(path)  # a folder took the file's name: its entry goes; its files come as events
                continue
            entries.append(FileEntry(path, _root_of(path, roots), st.st_size, st.st_mtime_ns))
        # Events arrive out of order within a burst, and a reported path may now be a folder, or be unreadable:
        # an entry goes only when its file is known to be gone.
        unreachable: dict[str, str] = {}
        gone = [d for d in self.store.indexed_files(sorted(deleted)).values()
                if _probe(d.path, roots, unreachable).gone] if deleted else []
        stats = self.index_files(entries, progress=progress, gone=gone)
        stats.moved += moved
        _note_unreachable(stats, unreachable)
        stats.seconds = time.perf_counter() - started
        return stats

    def _repoint(self, src: str, dest: str, roots: Sequence[str]) -> bool:
        """Give a moved file's document its new path, keeping the vector. False if there was nothing to move."""
        old = self.store.source_of(doc_id(src, self.store.library))
        try:
            st = os.stat(dest)
        except OSError:
            return False
        if old is None or (old.get("size"), old.get("mtime_ns")) != (st.st_size, st.st_mtime_ns):
            return False  # a rename keeps size and mtime; anything else means the content may have changed
        doc = PhotoDoc.from_stored(old, path=dest, root=_root_of(dest, roots), library=self.store.library,
                                   size=st.st_size, mtime_ns=st.st_mtime_ns)
        return not self.store.write([doc], [doc_id(src, self.store.library)])

    def remove_paths(self, paths: Sequence[str], refresh: bool = True, keep: Sequence[str] = ()) -> int:
        """Delete the documents of these files (and of files under these folders), except those a folder in
        ``keep`` (the library's remaining folders) still covers: with folders /p and /p/sub, removing either one
        leaves the photos the other holds."""
        removed = {os.path.abspath(p) for p in paths}
        staying = [f for f in map(os.path.abspath, keep) if f not in removed]
        gone = [doc.doc_id for doc in self.store.indexed_files(paths).values()
                if not any(under(doc.path, folder) for folder in staying)]
        self.store.write([], gone)
        if refresh:
            self.store.refresh()
        return len(gone)

    # ----- the pipeline -----
    def _prepare(self, entry: FileEntry, known_shas: set[str], target: int) -> _Item:
        """Worker thread: read once, hash, and decode unless the same content is already indexed."""
        self.embedder.yield_to_queries()  # a query in flight has the cores first
        item = _Item(entry)
        try:
            data = images.read_file(entry.path)
            item.sha256 = hashlib.sha256(data).hexdigest()
            if item.sha256 in known_shas:
                return item
            item.loaded = images.decode(data, target, name=entry.path,
                                        thumb_px=self.thumbnails.px if self.thumbnails else 0)
            item.phash = images.perceptual_hash(item.loaded.image)
            self._keep_thumbnail(entry, item.loaded)
        except images.ImageSkipped as exc:
            item.skip = str(exc)
        return item

    def _keep_thumbnail(self, entry: FileEntry, loaded: images.LoadedImage) -> None:
        if self.thumbnails is None or loaded.thumbnail is None:
            return
        with contextlib.suppress(OSError):  # a full or read-only cache only costs the grid a decode later
            self.thumbnails.put_image(entry.path, entry.mtime_ns, entry.size, loaded.thumbnail)
        loaded.thumbnail = None  # the batch keeps the model's image only

    def _prepared(self, todo: Sequence[FileEntry], known_shas: set[str]) -> Iterator[_Item]:
        """Items in order, decoded ``lookahead`` ahead of the consumer by a thread pool (bounded memory)."""
        target = self.embedder.image_size
        return ahead(lambda entry: self._prepare(entry, known_shas, target), todo, self.decode_workers,
                     self.lookahead, "decode")

    def _process(self, todo: Sequence[FileEntry], known_shas: set[str], gone_by_sha: dict,
                 stats: IndexStats, progress: Progress, total: int) -> None:
        done = total - len(todo) - sum(len(v) for v in gone_by_sha.values())
        batch: list[_Item] = []
        for item in self._prepared(todo, known_shas):
            if item.skip is not None:
                stats.skipped += 1
                stats.skipped_files.append((item.entry.path, item.skip))
                done += 1
                continue
            batch.append(item)
            if len(batch) >= self.batch_size:
                done += self._write_batch(batch, gone_by_sha, stats)
                batch = []
                if not progress(done, total, readable_path(item.entry.path)):
                    stats.cancelled = True
                    return
        if batch:
            done += self._write_batch(batch, gone_by_sha, stats)
            progress(done, total, readable_path(batch[-1].entry.path))

    def _write_batch(self, batch: list[_Item], gone_by_sha: dict, stats: IndexStats) -> int:
        """Embed what needs it, reuse stored vectors for known content, write, and drop moved-from documents."""
        reuse = [it for it in batch if it.loaded is None]
        stored = self.store.by_sha256([it.sha256 for it in reuse]) if reuse else {}
        for it in reuse:  # content vanished from the index meanwhile: decode here after all
            if it.sha256 not in stored:
                try:
                    it.loaded = images.load_file(it.entry.path, self.embedder.image_size).loaded
                    it.phash = images.perceptual_hash(it.loaded.image)
                except images.ImageSkipped as exc:
                    it.skip = str(exc)
                    stats.skipped += 1
                    stats.skipped_files.append((it.entry.path, it.skip))
        fresh = [it for it in batch if it.loaded is not None and it.skip is None]
        vectors = self.embedder.encode_images([it.loaded.image for it in fresh]) if fresh else []
        stats.embedded += len(fresh)
        docs, deletes = [], []
        for it, vec in zip(fresh, vectors, strict=True):
            li, e = it.loaded, it.entry
            docs.append(PhotoDoc(path=e.path, root=e.root, library=self.store.library, sha256=it.sha256,
                                 vector=[float(x) for x in vec], size=e.size, mtime_ns=e.mtime_ns, phash=it.phash,
                                 width=li.width, height=li.height, format=li.format, taken_at=li.taken_at))
        moved_ids = set()
        for it in batch:
            if it.loaded is not None or it.skip is not None:
                continue
            e = it.entry
            docs.append(PhotoDoc.from_stored(stored[it.sha256], path=e.path, root=e.root, library=self.store.library,
                                             size=e.size, mtime_ns=e.mtime_ns))
            olds = gone_by_sha.get(it.sha256)
            if olds:
                deletes.append(olds.pop().doc_id)
                moved_ids.add(doc_id(it.entry.path, self.store.library))
                if not olds:
                    del gone_by_sha[it.sha256]
            else:
                stats.reused += 1
        names = _names(docs) | {d.doc_id: d.path for olds in gone_by_sha.values() for d in olds}
        # The node builds each vector's graph links as it takes the bulk write, on the cores a query's kNN needs
        # (benchmarks/drop_to_grid.py: kNN p95 163 ms while indexing with torch, 28 idle): a query goes first.
        self.embedder.yield_to_queries()
        failed = {i for i, _ in self._record_errors(self.store.write(docs, deletes), stats, names)}
        written = [d for d in docs if d.doc_id not in failed]
        stats.moved += sum(1 for d in written if d.doc_id in moved_ids)
        stats.indexed += sum(1 for d in written if d.doc_id not in moved_ids)
        return len(batch) + len(deletes)

    def _remove_gone(self, gone_by_sha: dict[str, list[IndexedFile]], stats: IndexStats) -> None:
        """Delete the documents of files that are gone and were not found again under a new name."""
        leftover = [doc.doc_id for docs in gone_by_sha.values() for doc in docs]
        if leftover:
            names = {doc.doc_id: doc.path for docs in gone_by_sha.values() for doc in docs}
            self._record_errors(self.store.write([], leftover), stats, names)
            stats.removed += len(leftover)

    @staticmethod
    def _record_errors(errors: list[tuple[str, str]], stats: IndexStats,
                       names: dict[str, str]) -> list[tuple[str, str]]:
        """Count the write errors; the report names files, not document ids. Returns the errors (by id)."""
        stats.failed += len(errors)
        stats.failures.extend((names.get(doc, doc), reason) for doc, reason in errors)
        return errors


def _emptied_mount_points(roots: Sequence[str], indexed: dict[str, IndexedFile]) -> dict[str, str]:
    """Roots that are empty folders now while photos were indexed under them: an unplugged drive whose mount point
    stays behind as an empty folder looks exactly like this. Their entries are kept (deleting every photo of a
    folder, folder kept, costs a re-index of nothing later; losing a drive's entries costs its whole re-embedding)."""
    out = {}
    for root in roots:
        try:
            empty = os.path.isdir(root) and not os.listdir(root)
        except OSError:
            continue  # unreadable: the walk reports it already
        if empty:
            count = sum(1 for path in indexed if under(path, root))
            if count:
                out[root] = f"empty now, but {count} indexed photos were there (a drive not mounted?); entries kept"
    return out


def _names(docs: Iterable[PhotoDoc]) -> dict[str, str]:
    return {d.doc_id: d.path for d in docs}


def _by_sha(docs: Iterable[IndexedFile]) -> dict[str, list[IndexedFile]]:
    out: dict[str, list[IndexedFile]] = {}
    for doc in docs:
        out.setdefault(doc.sha256, []).append(doc)
    return out


def _root_of(path: str, roots: Sequence[str]) -> str:
    """The watched folder a path belongs to (the deepest one), for its relative_path."""
    return root_of(os.path.dirname(path), roots) or os.path.dirname(path)


def _probe(path: str, roots: Sequence[str], unreachable: dict[str, str]) -> Probe:
    """``probe`` under the path's root, noting an unreachable folder (once) in ``unreachable``."""
    found = probe(path, _root_of(path, roots))
    if found.unreachable:
        unreachable.setdefault(*found.unreachable)
    return found


def _note_unreachable(stats: IndexStats, unreachable: dict[str, str]) -> None:
    stats.unreachable_folders = sorted(unreachable.items())
    stats.unreachable = len(unreachable)
