"""The front door: ``imgsearch-desktop [gui] [PHOTO...] | index | search | watch | es | self-test``.

The contract (subcommands, options, JSON Lines fields, exit codes) lives in DESIGN.md's CLI table and the README;
the parser is cli_parser.py, one function per subcommand here.
Exit codes: 0 done, 1 failed, 2 usage, 3 Elasticsearch unreachable, 4 model not found.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from imgsearch_desktop import APP_NAME, checks
from imgsearch_desktop.cli_parser import build_parser, normalise_argv
from imgsearch_desktop.config import AppDirs
from imgsearch_desktop.context import Context
from imgsearch_desktop.errors import UsageError, UserError
from imgsearch_desktop.frozen import restore_child_environment
from imgsearch_desktop.redact import redact, reexec_without_password, split_password

if TYPE_CHECKING:
    from imgsearch_desktop.core.pipeline import IndexStats


# ---------------------------------------------------------------- commands
def cmd_index(ctx: Context, paths: Sequence[str], excluded: Sequence[str]) -> int:
    from tqdm import tqdm

    missing = [p for p in paths if not os.path.lexists(p)]
    if missing:
        raise UsageError(f"no such file or folder: {missing[0]}")
    from imgsearch_desktop.core.filekind import special_kind
    from imgsearch_desktop.core.paths import printable

    for path in paths:
        if (kind := special_kind(path)) is not None:
            raise UsageError(f"cannot index {printable(path)}: it is {kind}, not a photo or a folder")
    from imgsearch_desktop.core.locks import index_lock
    from imgsearch_desktop.core.pipeline import Indexer

    embedder = ctx.embedder
    store = ctx.store(on_wait=lambda msg: print(msg, file=sys.stderr))
    store.use_index(embedder.model_id, embedder.dims)
    bar = tqdm(total=0, unit="img", file=sys.stderr, dynamic_ncols=True, disable=None)

    def progress(done: int, total: int, note: str) -> bool:
        bar.total = total
        bar.n = done
        bar.set_postfix_str(Path(note).name[-40:], refresh=True)
        return True

    try:
        with index_lock(ctx.dirs.data, ctx.settings.index, on_wait=lambda msg: print(msg, file=sys.stderr)):
            stats = Indexer(store, embedder, thumbnails=ctx.thumbnails(), analyses=ctx.analyses()).run(
                paths, excluded=list(excluded) + ctx.settings.excluded, progress=progress)
            if not stats.cancelled:
                keep_people(ctx, store)
    finally:
        bar.close()
    print_report(stats)
    print(stats.summary())
    return 1 if stats.failed else 0


def keep_people(ctx: Context, store) -> None:
    """After indexing: place the new faces among the people; with faces off, delete every face and person."""
    if ctx.settings.faces:
        placed = ctx.people().update(store)
        if placed:
            print(f"faces: {placed} new faces placed among the people", file=sys.stderr)
        return
    cleared = store.clear_analysis("faces", ["faces"])
    ctx.people().forget()
    if cleared:
        print(f"faces are off: the face data of {cleared} photos deleted", file=sys.stderr)


def print_report(stats: IndexStats) -> None:
    """Skipped files, unreachable folders (their entries kept) and failed writes, one a line, then why a model
    change waits."""
    from imgsearch_desktop.core.paths import printable

    for path, reason in stats.skipped_files:
        print(f"skipped {printable(path)}: {reason}")
    for path, reason in stats.unreachable_folders:
        print(f"unreachable {printable(path)}: {reason} (its entries are kept)")
    for path, reason in stats.failures:  # named by file (the pipeline maps document ids back to paths)
        print(f"failed {printable(path)}: {reason}")
    if stats.switch_refused:
        print(stats.switch_refused)


def search_parts(args: argparse.Namespace) -> list:
    """The query's parts from --image/--text/--like (positive) and --not-image/--not-text/--unlike (negative)."""
    from imgsearch_desktop.core.query import Part

    parts = [Part(path=os.path.abspath(f)) for f in args.image] + [Part(text=t) for t in args.text]
    parts += [Part(stored=os.path.abspath(f)) for f in args.like]
    parts += [Part(path=os.path.abspath(f), weight=-1.0) for f in args.not_image]
    parts += [Part(text=t, weight=-1.0) for t in args.not_text]
    parts += [Part(stored=os.path.abspath(f), weight=-1.0) for f in args.unlike]
    if not any(p.weight > 0 for p in parts) and not getattr(args, "face", None) and not getattr(args, "words", None):
        raise UsageError("search needs at least one of --image, --text, --like, --face or --words (what to look for)")
    return parts


def cmd_search(ctx: Context, args: argparse.Namespace) -> int:
    from imgsearch_desktop.core.paths import printable
    from imgsearch_desktop.core.query import Query, check_parts, run_query
    from imgsearch_desktop.core.store import Filters

    checks.date_range(args.date_from, args.date_to)
    parts = search_parts(args)
    embedder = ctx.embedder
    check_parts(embedder, parts)
    store = ctx.store()
    store.use_index(embedder.model_id, embedder.dims, create=False)
    filters = Filters(folders=[os.path.abspath(f) for f in args.folder], date_from=args.date_from,
                      date_to=args.date_to, formats=args.format, all_libraries=args.all_libraries,
                      has_text=args.has_text)
    people = ctx.people() if ctx.settings.faces else None
    if args.person or args.face:
        from imgsearch_desktop.core.people_search import face_filter

        filters, face_hits = face_filter(store, people, filters, args.person, args.face, args.k, bool(parts))
    if args.face and not parts and not args.words:
        hits = face_hits
    else:
        hits = run_query(embedder, store, Query(parts=parts, k=args.k, min_score=args.min_score, filters=filters,
                                                words=args.words, match_text=ctx.settings.text)).hits
    for hit in hits:
        if args.json:
            print(json.dumps(hit_json(hit, people), ensure_ascii=False))
        else:
            whose = f"  (library {hit.library})" if hit.library not in (None, store.library) else ""
            print(f"{hit.score:7.4f}  {printable(hit.path)}{whose}")
    if not hits and not args.json:
        print("no matching photos", file=sys.stderr)
    return 0


def hit_json(hit, people) -> dict:
    """A search hit's JSON line; with faces on, its faces: box in the photo's pixels, person id or null."""
    from imgsearch_desktop.core.analyses.text import text_in_photo

    out = hit.as_json()
    out["text_in_photo"] = text_in_photo(hit.text_lines)
    out["matched"] = hit.matched or "meaning"
    if people is not None:
        from imgsearch_desktop.core.people import face_key

        person_of = people.person_of()
        out["faces"] = [{"box": f["box"], "person": person_of.get(face_key(hit.image_id, f["box"]))}
                        for f in hit.faces or []]
    return out


def cmd_people(ctx: Context, args: argparse.Namespace) -> int:
    from imgsearch_desktop.core.paths import printable

    if not ctx.settings.faces:
        raise UsageError("faces are off (setting faces = false, or --no-faces): there are no people")
    store = ctx.store()
    store.attach()
    people = ctx.people()
    words = args.words
    if args.action == "name":
        if len(words) < 2:
            raise UsageError("people name needs an id and a name: people name ID NAME")
        person = people.name(words[0], " ".join(words[1:]))
        print(f"person {person.id} is {person.name}")
        return 0
    if args.action == "merge":
        if len(words) < 2:
            raise UsageError("people merge needs two or more ids: people merge ID ID…")
        person = people.merge(words)
        print(f"merged into person {person.id} ({len(person.faces)} faces)")
        return 0
    if args.action in ("not", "split"):
        if len(words) != 2:
            raise UsageError(f"people {args.action} needs a person's id and one of their photos: "
                             f"people {args.action} ID PHOTO")
        from imgsearch_desktop.core.store import doc_id

        person, photo = people.resolve(words[0]), doc_id(os.path.abspath(words[1]), store.library)
        face = next((k for k in person.faces if k.startswith(photo + "/")), None)
        if face is None:
            raise UsageError(f"person {person.id} has no face in {words[1]}")
        if args.action == "split":
            new = people.split(store, person.id, face)
            print(f"split off person {new.id} ({len(new.faces)} faces) from person {person.id}")
            return 0
        people.not_this_person(face, person.id)
        print(f"that face is not person {person.id} any more")
        return 0
    placed = people.recluster(store) if args.action == "recluster" else people.update(store)
    shown = people.people()
    paths = store.paths_of([d for p in shown for d in p.photos])
    for person in shown:
        photos = [paths[d] for d in person.photos if d in paths]
        if args.json:
            print(json.dumps({"id": person.id, "name": person.name, "faces": len(person.faces),
                              "photos": photos}, ensure_ascii=False))
        else:
            print(f"{person.id:>5}  {person.name or '(unnamed)'}  {len(person.faces)} faces  "
                  + ", ".join(printable(p) for p in photos[:3]) + (" …" if len(photos) > 3 else ""))
    if not args.json and args.action == "recluster":
        print(f"re-clustered {placed} faces into {len(shown)} people", file=sys.stderr)
    return 0


def cmd_dupes(ctx: Context, args: argparse.Namespace) -> int:
    from imgsearch_desktop.core.dupes import (
        SIMILAR_COSINE,
        DupeFinder,
        KeepRule,
        NotDuplicates,
        keep_policy,
        megabytes,
        plural,
    )
    from imgsearch_desktop.core.paths import printable
    from imgsearch_desktop.core.trash import default_plan, dry_run

    try:
        rules = [KeepRule(r.strip()) for r in args.keep_rules.split(",")] if args.keep_rules else None
    except ValueError:
        raise UsageError(f"--keep-rules: use some of {', '.join(KeepRule)}") from None
    store = ctx.store()
    store.attach()
    memory = NotDuplicates(ctx.dirs.data / "not-duplicates.json")
    if memory.warning:
        print(f"warning: {memory.warning}", file=sys.stderr)
    # The window's keeper decision: saved keep rules, reference folders and folder priority (--keep-rules and
    # --reference on top).
    from imgsearch_desktop.core.bursts import BurstPicks

    finder = DupeFinder(store, not_duplicates=memory, policy=keep_policy(ctx.settings, args.reference, rules),
                        burst_picks=BurstPicks(ctx.dirs.data / "burst-picks.json"))
    threshold = args.threshold if args.threshold is not None else SIMILAR_COSINE
    groups = finder.scan(args.level, threshold, folders=args.folder)
    for group in groups:
        if args.json:
            print(json.dumps(group.as_json(), ensure_ascii=False))
            continue
        print(f"{group.tier.label} · {plural(len(group.members), 'file')} · {megabytes(group.wasted_bytes)} to free"
              f" · {group.why}")
        for m in group.members:
            mark = "keep" if m.is_keeper else ("[x]" if m.ticked else "[ ]")
            note = f"  ({m.why})" if m.is_keeper or m.quality is not None else (
                f"  ({m.protected})" if m.protected else "")
            print(f"  {mark:<4}  {m.score:7.4f}  {m.relation:<14}  {printable(m.photo.path)}{note}")
    if not args.json:
        wasted = megabytes(sum(g.wasted_bytes for g in groups))
        print(f"{plural(len(groups), 'group')}, {wasted} in copies; the suggested clean-up "
              f"{dry_run(default_plan(groups))}", file=sys.stderr)
        if finder.stats.off_keeper:
            print(f"({plural(finder.stats.linked_sets, 'linked set')} split into {plural(len(groups), 'group')} "
                  "so that every file matches its keeper)", file=sys.stderr)
    return 0


@contextlib.contextmanager
def _download_bar():
    """A progress function for a download (the engine's archive) drawing a byte bar on stderr, shown once used."""
    from tqdm import tqdm

    bar = None

    def progress(done: int, total: int, note: str) -> bool:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total or None, unit="B", unit_scale=True, desc=note, file=sys.stderr,
                       dynamic_ncols=True, disable=None)
        bar.update(done - bar.n)
        return True

    try:
        yield progress
    finally:
        if bar is not None:
            bar.close()


def cmd_es(ctx: Context, args: argparse.Namespace) -> int:
    from imgsearch_desktop.core.node import LocalNode

    node = LocalNode(ctx.dirs)
    if args.action == "install":
        with _download_bar() as progress:
            home = node.install(args.source, args.sha512, progress=progress)
        print(f"installed Elasticsearch at {home}")
    elif args.action == "start":
        with _download_bar() as progress:
            url, _ = split_password(node.start(source=args.source, progress=progress))
        # The password stays off the URL (a command line that uses it would show it in `ps`): scripts read it.
        print(f"password: {APP_NAME} es password (the file {node.password_file}); "
              f"e.g. export IMGSEARCH_ES_PASSWORD=\"$({APP_NAME} es password)\"", file=sys.stderr)
        print(url)
    elif args.action == "password":
        if not node.password_file.exists():
            raise UserError(f"the local node has no password yet: start it first ({APP_NAME} es start)")
        print(node.password())
    elif args.action == "stop":
        print("stopped" if node.stop() else "not running")
    elif args.action == "status":
        st = node.status()
        if not st.running:
            print(f"not running ({'installed' if st.installed else 'not installed'})")
            return 1
        used = (st.disk_total or 0) - (st.disk_free or 0)
        print(f"running: Elasticsearch {st.version} on {node.url(st.port, with_password=False)} · health {st.health}"
              f" · disk {used / 1e9:.1f} / {(st.disk_total or 0) / 1e9:.1f} GB used · pid {st.pid}")
        print(f"user elastic, password in {node.password_file} ({APP_NAME} es password)")
    elif args.action == "logs":
        print(node.logs(args.lines))
    return 0


def cmd_gui(ctx: Context, photos: Sequence[str]) -> int:
    try:
        from imgsearch_desktop.app.main import run_app
    except ImportError as exc:
        raise UserError(f"the window needs PySide6 ({exc}); install the app's GUI dependencies") from exc
    return run_app(ctx, list(photos))


def cmd_watch(ctx: Context, paths: Sequence[str], excluded: Sequence[str]) -> NoReturn:
    """Index, then apply the watcher's change sets until Ctrl+C (this thread is the one writer)."""
    import queue

    from imgsearch_desktop.core.locks import index_lock
    from imgsearch_desktop.core.node.health import PROBE_EVERY, NodeKeeper
    from imgsearch_desktop.core.pipeline import Indexer
    from imgsearch_desktop.core.sync import FolderSync

    roots = [os.path.abspath(p) for p in paths]
    excluded_all = list(excluded) + ctx.settings.excluded
    changes: queue.Queue = queue.Queue()
    sync = FolderSync(changes.put, on_error=lambda msg: print(msg, file=sys.stderr),
                      lock=lambda: index_lock(ctx.dirs.data, ctx.settings.index))
    sync.watch(roots)  # before the first index: a change made meanwhile is queued, not missed

    def connect():
        store = ctx.store(on_wait=lambda msg: print(msg, file=sys.stderr))
        store.use_index(ctx.embedder.model_id, ctx.embedder.dims)
        return store

    try:
        cmd_index(ctx, paths, excluded)
        sys.stdout.flush()  # line by line from here on, also into a pipe (`watch … | tee log`)
        store = connect()
        # Its own node stopped (`es stop`, a crash): started again, as the window does; a remote one is waited for.
        keeper = NodeKeeper(store, connect, on_note=lambda msg: print(msg, file=sys.stderr)) \
            if getattr(store.connection, "node", None) is not None else None
        sync.indexer = Indexer(store, ctx.embedder, thumbnails=ctx.thumbnails(), analyses=ctx.analyses())
        print("watching for changes (Ctrl+C to stop)…", file=sys.stderr)
        while True:
            try:
                change = changes.get(timeout=PROBE_EVERY)
            except queue.Empty:
                change = None
            if keeper is not None and keeper.check() is not sync.indexer.store:
                sync.indexer = Indexer(keeper.store, ctx.embedder, thumbnails=ctx.thumbnails(),
                                       analyses=ctx.analyses())
            if change is None:
                continue
            stats = sync.apply(change, roots, excluded_all)
            if stats is not None:
                print_report(stats)
                print(stats.summary(), flush=True)
    finally:
        sync.stop()


def main(argv: Sequence[str] | None = None) -> int:
    restore_child_environment()
    if argv is None:
        reexec_without_password()  # before anything runs: the password leaves the command line (`ps`)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(normalise_argv(argv))
    command = "self-test" if args.self_test else (args.command or "gui")
    try:
        ctx = Context(args)
        if command == "index":
            return cmd_index(ctx, args.paths, args.exclude)
        if command == "search":
            return cmd_search(ctx, args)
        if command == "dupes":
            return cmd_dupes(ctx, args)
        if command == "people":
            return cmd_people(ctx, args)
        if command == "es":
            return cmd_es(ctx, args)
        if command == "self-test":
            from imgsearch_desktop import selftest

            return selftest.run(ctx)
        if command == "watch":
            return cmd_watch(ctx, args.paths, args.exclude)
        return cmd_gui(ctx, getattr(args, "photos", []))
    except UserError as exc:
        print(f"error: {redact(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted: everything written so far is kept; run again to continue", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line for the user, the traceback in the log for the report
        log = _log_crash(args)
        print(f"error: unexpected {type(exc).__name__}: {redact(str(exc))[:300]} (details: {log})", file=sys.stderr)
        return 1


def _log_crash(args: argparse.Namespace) -> Path:
    import shlex
    import traceback

    from imgsearch_desktop.core import private

    path = AppDirs.resolve(getattr(args, "home", None)).data / "logs" / "errors.log"
    try:
        private.append_text(path, redact(f"--- {shlex.join(sys.argv)}\n{traceback.format_exc()}\n"))
    except OSError:
        return Path("(not logged: the data dir is not writable)")
    return path
