"""What the command line accepts: the parser of every subcommand and option, and the rule that a first word
which is not a subcommand is a photo. What each subcommand does is in cli.py; the contract (subcommands, options,
exit codes) lives in DESIGN.md's CLI table and the README. Usage errors exit 2 with one line.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import NoReturn

from imgsearch_desktop import APP_NAME, __version__, checks

SUBCOMMANDS = ("gui", "index", "search", "dupes", "people", "watch", "es", "self-test")
VALUE_OPTIONS = ("--es-url", "--index", "--image-model", "--text-model", "--home", "--es-user", "--es-ca-cert",
                 "--device", "--batch-size")


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error (exit 2): a script reading stderr gets the reason, not a usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _global_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    g = parser.add_argument_group("global options")
    g.add_argument("--es-url", type=checks.es_url, default=default,
                   help="Elasticsearch URL (default: the managed local node)")
    g.add_argument("--es-user", default=default, help="user for basic auth (password from IMGSEARCH_ES_PASSWORD)")
    g.add_argument("--es-ca-cert", default=default, help="CA certificate for a TLS cluster")
    g.add_argument("--index", type=checks.index_name, default=default, help="index (alias) name, default imgsearch")
    g.add_argument("--image-model", default=default, help="image model: hub name or local folder")
    g.add_argument("--text-model", default=default, help="text model: hub name or local folder")
    g.add_argument("--device", type=checks.device, default=default, help=f"one of {', '.join(checks.DEVICES)}")
    g.add_argument("--batch-size", type=checks.batch_size, default=default, help="images per model batch")
    g.add_argument("--home", default=default, help="root for config, data and cache (IMGSEARCH_HOME)")
    g.add_argument("--no-faces", action="store_true", default=default,
                   help="no faces or people this run; indexing deletes the face data (setting: faces = false)")
    g.add_argument("--no-text", action="store_true", default=default,
                   help="do not read the text in photos this run, nor match it (setting: text = false)")


class TierWords:
    """``--level``'s choices: the words of dupes.Tier, imported only when they are needed (the CLI starts light)."""

    @staticmethod
    def _words() -> list[str]:
        from imgsearch_desktop.core.dupes import Tier

        return [t.value for t in Tier]

    def __iter__(self):
        return iter(self._words())

    def __contains__(self, word: object) -> bool:
        return word in self._words()


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog=APP_NAME, description="Find photos by similarity (CLIP + Elasticsearch).")
    parser.add_argument("--version", action="version", version=f"{APP_NAME} {__version__}")
    parser.add_argument("--self-test", action="store_true", help="same as the self-test subcommand")
    _global_options(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        _global_options(p, suppress=True)
        return p

    p = add("gui", "open the window; photos given open as queries")
    p.add_argument("photos", nargs="*", metavar="PHOTO")

    p = add("index", "index folders or files (re-runs only touch what changed)")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--exclude", action="append", default=[], help="folder name or path to skip (repeatable)")

    p = add("search", "nearest photos to photos and sentences (any language), minus what they should not be like")
    p.add_argument("--image", action="append", default=[], metavar="FILE", help="more like this photo (repeatable)")
    p.add_argument("--text", action="append", default=[], type=checks.sentence, metavar="TEXT",
                   help="more like this sentence (repeatable)")
    p.add_argument("--not-image", action="append", default=[], metavar="FILE", help="less like this photo")
    p.add_argument("--not-text", action="append", default=[], type=checks.sentence, metavar="TEXT",
                   help="less like this sentence")
    p.add_argument("--like", action="append", default=[], metavar="PATH",
                   help="more like this indexed photo (its stored vector, nothing decoded)")
    p.add_argument("--unlike", action="append", default=[], metavar="PATH", help="less like this indexed photo")
    p.add_argument("--face", metavar="FILE", help="photos with the largest face in FILE, nearest first")
    p.add_argument("--person", metavar="NAME_OR_ID", help="only photos of this person (see `people`)")
    p.add_argument("--words", type=checks.sentence, metavar="TEXT",
                   help='photos by the words read in them only ("quoted phrase" exact; prefixes, one typo match)')
    p.add_argument("--has-text", action="store_true", help="only photos with text in them")
    p.add_argument("-k", type=checks.result_count, default=10, metavar="N", help="number of results (default 10)")
    p.add_argument("--json", action="store_true", help="JSON Lines, one hit a line")
    p.add_argument("--min-score", type=checks.cosine, help="cosine similarity threshold")
    p.add_argument("--folder", action="append", default=[], help="only photos under this folder (repeatable)")
    p.add_argument("--from", dest="date_from", type=checks.iso_date, help="taken on or after (YYYY-MM-DD)")
    p.add_argument("--to", dest="date_to", type=checks.iso_date, help="taken on or before (YYYY-MM-DD)")
    p.add_argument("--format", action="append", default=[], help="only this format, e.g. JPEG (repeatable)")
    p.add_argument("--all-libraries", action="store_true",
                   help="also the photos of other computers sharing this index (default: this computer's only)")

    p = add("dupes", "duplicate groups: identical files, the same picture, or similar shots")
    p.add_argument("--level", choices=TierWords(), default="near",
                   help="exact, near (same picture), similar (shots), or burst (the best frame of each burst)")
    p.add_argument("--threshold", type=checks.cosine, default=None,
                   help="cosine similarity for --level similar (default 0.9)")
    p.add_argument("--folder", action="append", default=[], help="only photos under this folder (repeatable)")
    p.add_argument("--reference", action="append", default=[],
                   help="reference folder: its photos are always kept (repeatable)")
    p.add_argument("--keep-rules", metavar="RULES",
                   help="order of the keep-best rules, comma-separated (default: the order saved in Settings, else "
                        "reference,pixels,lossless,original,least-compressed,oldest,folder)")
    p.add_argument("--json", action="store_true", help="JSON Lines, one group a line")

    p = add("people", "the people found in the photos: list, name, merge, re-cluster")
    p.add_argument("action", nargs="?", choices=["list", "name", "merge", "not", "split", "recluster"],
                   default="list")
    p.add_argument("words", nargs="*", metavar="ARG",
                   help="name: ID NAME; merge: ID ID…; not: ID PHOTO; split: ID PHOTO")
    p.add_argument("--json", action="store_true", help="JSON Lines, one person a line")

    p = add("watch", "index, then keep the index in step with the folders until Ctrl+C")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--exclude", action="append", default=[])

    p = add("es", "the managed local Elasticsearch node")
    p.add_argument("action", choices=["install", "start", "stop", "status", "logs", "password"])
    p.add_argument("--from", dest="source", help="install from this archive path or URL (Elastic's .tar.gz/.zip)")
    p.add_argument("--sha512", help="expected SHA-512 of the archive (default: the published .sha512 / pinned)")
    p.add_argument("-n", "--lines", type=checks.positive_int, default=50, help="log lines to show")

    add("self-test", "load models, index 3 bundled samples into a throwaway index, search, clean up")
    return parser


def normalise_argv(argv: Sequence[str]) -> list[str]:
    """Any first word that is not a subcommand is a photo: ``imgsearch-desktop a.jpg`` = ``gui a.jpg``."""
    argv = list(argv)
    i = 0
    while i < len(argv):
        token = argv[i]
        if token == "--":
            return [*argv[:i], "gui", *argv[i + 1:]]
        if token.startswith("-"):
            i += 2 if token in VALUE_OPTIONS else 1
            continue
        return argv if token in SUBCOMMANDS else [*argv[:i], "gui", *argv[i:]]
    return argv
