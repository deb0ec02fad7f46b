"""core/dupes/ on fake photos: keep rules, star groups that never chain, tiers, "not a duplicate" marks, and a
whole similar-shot scan over a fake store."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from imgsearch_desktop.config import Settings
from imgsearch_desktop.core import dupes
from imgsearch_desktop.core.dupes import (
    DupeFinder,
    Group,
    KeepPolicy,
    KeepRule,
    Member,
    NotDuplicates,
    Photo,
    Tier,
    hamming,
    keep_policy,
    plural,
    relation_to_query,
    saved_keep_rules,
    webp_is_lossless,
)
from imgsearch_desktop.core.dupes import finder as finder_module
from tests.fast.fake_store import FakeStore


def unit(degrees: float, dims: int = 8) -> np.ndarray:
    """A unit vector at this angle in the first plane: cos(angle between two of them) = cos(difference)."""
    v = np.zeros(dims, dtype=np.float32)
    v[0], v[1] = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return v


def photo(name: str, *, width: int = 1000, height: int = 750, size: int = 100_000, fmt: str = "JPEG",
          mtime_ns: int = 1_000, angle: float = 0.0, sha256: str = "", folder: str = "/photos") -> Photo:
    path = f"{folder}/{name}"
    return Photo(doc_id="id-" + name, path=path, sha256=sha256 or "sha-" + name, size=size, width=width,
                 height=height, mtime_ns=mtime_ns, format=fmt, phash=None, vector=unit(angle), real=path)


# ---------------------------------------------------------------- tiers and words
def test_what_each_column_of_the_tier_table_decides():
    """Not the table read back, but what its columns do: the word is what ``dupes --level`` takes, the order makes
    a group what its loosest member is, the pre-tick is what one click suggests for the trash, the label names a
    member (an identical copy of a similar shot is an identical file, and pre-ticked like one)."""
    from imgsearch_desktop.cli_parser import build_parser

    parser = build_parser()
    for tier in Tier:
        assert Tier.parse(parser.parse_args(["dupes", "--level", tier.value]).level) is tier
    keep, same, similar, copy = photo("k.jpg"), photo("s.jpg", angle=5), photo("t.jpg", angle=20), photo("c.jpg")
    members = [Member(keep, 1.0), Member(same, 0.99, Tier.SAME_PICTURE), Member(similar, 0.93, Tier.SIMILAR),
               Member(copy, 0.93, Tier.SIMILAR, copy_of=similar)]
    assert Group(keep, members, Tier.SIMILAR).tier is Tier.SIMILAR
    assert Group(keep, members[:2], Tier.SIMILAR).tier is Tier.SAME_PICTURE  # the loosest member, not the scan
    assert Group(keep, members[:1], Tier.EXACT).tier is Tier.EXACT  # no member yet: the scan's level
    assert [m.relation for m in members] == ["keeper", Tier.SAME_PICTURE.label, Tier.SIMILAR.label, Tier.EXACT.label]
    assert [m.pre_ticked for m in members] == [False, True, False, True]


def test_tier_parse():
    assert Tier.parse("near") is Tier.SAME_PICTURE
    assert Tier.parse(Tier.SIMILAR) is Tier.SIMILAR
    with pytest.raises(ValueError, match="level must be one of"):
        Tier.parse("same")


@pytest.mark.parametrize(("args", "text"), [
    ((0, "group"), "0 groups"),
    ((1, "group"), "1 group"),
    ((2, "group"), "2 groups"),
    ((1, "copy", "copies"), "1 copy"),
    ((3, "copy", "copies"), "3 copies"),
    ((12_345, "photo"), "12,345 photos"),
])
def test_plural(args, text):
    assert plural(*args) == text


def test_hamming():
    assert hamming("ff00", "ff00") == 0
    assert hamming("ff00", "00ff") == 16
    assert hamming("0001", "0003") == 1


# ---------------------------------------------------------------- keep rules
def test_default_rules_keep_the_most_pixels_first():
    big_jpeg = photo("big.jpg", width=4000, height=3000)
    small_png = photo("small.png", width=1000, height=750, fmt="PNG")
    policy = KeepPolicy()
    assert policy.pick([small_png, big_jpeg]) is big_jpeg
    assert policy.explain(big_jpeg, small_png) == "most pixels"


def test_with_equal_pixels_lossless_wins():
    jpeg, png = photo("a.jpg"), photo("a.png", fmt="PNG")
    policy = KeepPolicy()
    assert policy.pick([jpeg, png]) is png
    assert policy.explain(png, jpeg) == "lossless before lossy"


def test_the_users_rule_order_decides():
    big_jpeg = photo("big.jpg", width=4000, height=3000)
    small_png = photo("small.png", fmt="PNG")
    policy = KeepPolicy(rules=["lossless", "pixels"])  # strings from settings.toml become rules
    assert policy.rules == (KeepRule.LOSSLESS, KeepRule.PIXELS)
    assert policy.pick([big_jpeg, small_png]) is small_png


def test_unknown_rule_is_refused():
    with pytest.raises(ValueError):
        KeepPolicy(rules=["biggest"])


def test_reference_folder_beats_everything(tmp_path):
    ref = tmp_path / "archive"
    ref.mkdir()
    kept = photo("a.jpg", folder=str(ref), width=100, height=75)
    bigger = photo("a.jpg", folder=str(tmp_path / "inbox"), width=4000, height=3000)
    policy = KeepPolicy(references=[str(ref)])
    assert policy.pick([bigger, kept]) is kept
    assert policy.explain(kept, bigger) == "in a reference folder"


@pytest.mark.parametrize(("rule", "better", "worse"), [
    (KeepRule.ORIGINAL, dict(name="a.heic", fmt="HEIF"), dict(name="a.jpg")),
    (KeepRule.ORIGINAL, dict(name="a.cr2", fmt="JPEG"), dict(name="b.jpg")),  # RAW by suffix (a JPEG preview)
    (KeepRule.LEAST_COMPRESSED, dict(name="a.jpg", size=900_000), dict(name="b.jpg", size=300_000)),
    (KeepRule.OLDEST, dict(name="b.jpg", mtime_ns=10), dict(name="a.jpg", mtime_ns=20)),
])
def test_each_rule_alone(rule, better, worse):
    good, bad = photo(**better), photo(**worse)
    policy = KeepPolicy(rules=[rule])
    assert policy.pick([bad, good]) is good and policy.pick([good, bad]) is good
    assert policy.explain(good, bad) == rule.label


def test_folder_priority(tmp_path):
    first, second = tmp_path / "best", tmp_path / "ok"
    a = photo("a.jpg", folder=str(second))
    b = photo("b.jpg", folder=str(first))
    c = photo("c.jpg", folder=str(tmp_path / "elsewhere"))
    policy = KeepPolicy(rules=[KeepRule.FOLDER], folders=[str(first), str(second)])
    assert sorted([a, b, c], key=policy.key, reverse=True) == [b, a, c]
    assert policy.explain(b, a) == "folder priority"


def test_a_full_tie_is_broken_by_the_path_the_same_way_every_time():
    a, b = photo("a.jpg"), photo("b.jpg")
    policy = KeepPolicy()
    assert policy.pick([a, b]) is policy.pick([b, a])
    assert policy.explain(a, b) == "first by name"


def test_unknown_or_missing_keep_rules_fall_back_to_their_default_places():
    rules = saved_keep_rules(["oldest", "no-such-rule", "pixels", "oldest"])
    assert rules == [KeepRule.OLDEST, KeepRule.PIXELS, *(r for r in KeepRule if r not in rules[:2])]
    assert saved_keep_rules(Settings().keep_rules) == list(KeepRule)


def test_the_keep_policy_comes_from_the_saved_settings_plus_the_clis_extras():
    s = Settings(folders=["/p/photos"], references=["/p/ref"], keep_rules=["oldest"], folder_priority=["/p/best"])
    policy = keep_policy(s)
    assert policy.rules[0] is KeepRule.OLDEST and set(policy.rules) == set(KeepRule)
    assert list(policy.references) == ["/p/ref"] and list(policy.folders) == ["/p/best", "/p/photos", "/p/ref"]
    cli = keep_policy(s, references=["/p/ref", "/p/more"], rules=[KeepRule.PIXELS])
    assert cli.rules == (KeepRule.PIXELS,) and list(cli.references) == ["/p/ref", "/p/more"]


def test_the_keep_policy_takes_search_hits_too():
    hit = SimpleNamespace(path="/p/big.jpg", width=4000, height=3000, size=1, format="JPEG", mtime_ns=1)
    other = SimpleNamespace(path="/p/small.jpg", width=10, height=10, size=1, format="JPEG", mtime_ns=1)
    assert KeepPolicy().key(hit) > KeepPolicy().key(other)


def riff(chunks: list[tuple[bytes, bytes]]) -> bytes:
    body = b"WEBP" + b"".join(tag + len(data).to_bytes(4, "little") + data + b"\0" * (len(data) & 1)
                              for tag, data in chunks)
    return b"RIFF" + len(body).to_bytes(4, "little") + body


def test_webp_lossless_is_read_from_the_bitstream(tmp_path: Path):
    lossless, lossy, odd, junk = (tmp_path / n for n in ("l.webp", "y.webp", "x.webp", "j.webp"))
    lossless.write_bytes(riff([(b"VP8X", b"\0" * 10), (b"VP8L", b"abc")]))  # extended header first
    lossy.write_bytes(riff([(b"VP8 ", b"abcd")]))
    odd.write_bytes(riff([(b"EXIF", b"abc")]))  # no image chunk at all
    junk.write_bytes(b"not a webp")
    assert webp_is_lossless(str(lossless))
    assert not webp_is_lossless(str(lossy))
    assert not webp_is_lossless(str(odd))
    assert not webp_is_lossless(str(junk))
    assert not webp_is_lossless(str(tmp_path / "missing.webp"))
    # and it ranks: a lossless WebP before a lossy one of the same size
    a = Photo("a", str(lossless), "s1", 10, 100, 100, 1, "WEBP", None, unit(0), real=str(lossless))
    b = Photo("b", str(lossy), "s2", 10, 100, 100, 1, "WEBP", None, unit(0), real=str(lossy))
    assert KeepPolicy(rules=[KeepRule.LOSSLESS]).pick([b, a]) is a


# ---------------------------------------------------------------- star groups
def finder(**kwargs) -> DupeFinder:
    return DupeFinder(store=None, **kwargs)  # the split never touches the store


def chain() -> list[Photo]:
    """A~B, B~C, C~D at cos 20° ≈ 0.94; A≁C, B≁D at cos 40° ≈ 0.77 (threshold 0.9). A is best, then C."""
    return [photo("a.jpg", angle=0, width=4000, height=3000), photo("b.jpg", angle=20, width=1000, height=750),
            photo("c.jpg", angle=40, width=3000, height=2250), photo("d.jpg", angle=60, width=800, height=600)]


def test_a_chain_is_split_into_stars_around_keepers():
    a, b, c, d = chain()
    f = finder()
    groups = f._split([d, c, b, a], Tier.SIMILAR, 0.9)
    assert [[m.photo for m in g.members] for g in groups] == [[a, b], [c, d]]
    for g in groups:
        keeper, *others = g.members
        assert keeper.is_keeper and keeper.score == 1.0 and keeper.why == "keep: most pixels"
        assert keeper.relation == "keeper"
        for m in others:
            assert m.tier is Tier.SIMILAR and m.relation == "similar shot"
            assert m.score == pytest.approx(math.cos(math.radians(20)), abs=1e-6) and m.score >= 0.9
            assert not m.ticked  # similar shots are never suggested for the trash by default
    assert f.stats.off_keeper == 2  # c and d fail the rule against a: union-find alone would have chained them
    assert groups[0].tier is Tier.SIMILAR and groups[0].why == "similar shot: 0.94"


def test_each_pair_is_judged_once_per_split(monkeypatch):
    """The set's statistics (off_keeper) and its star groups share one judgement per (keeper, photo) pair."""
    a, b, c, d = chain()
    f = finder()
    expected = f._split([d, c, b, a], Tier.SIMILAR, 0.9)
    judged: list[tuple[str, str]] = []
    relation = DupeFinder.relation

    def counting(self, keep, other, *args, **kwargs):
        judged.append((keep.path, other.path))
        return relation(self, keep, other, *args, **kwargs)

    monkeypatch.setattr(DupeFinder, "relation", counting)
    f = finder()
    groups = f._split([d, c, b, a], Tier.SIMILAR, 0.9)
    assert len(judged) == len(set(judged)) == 4  # a with b, c, d (statistics and first star); then c with d
    assert [[(m.photo, m.score, m.tier) for m in g.members] for g in groups] == \
        [[(m.photo, m.score, m.tier) for m in g.members] for g in expected]
    assert f.stats.off_keeper == 2


def test_a_lower_threshold_makes_one_star():
    a, b, c, d = chain()
    groups = finder()._split([a, b, c, d], Tier.SIMILAR, 0.7)  # cos 40° ≈ 0.77 passes, cos 60° = 0.5 does not
    assert [[m.photo for m in g.members] for g in groups] == [[a, b, c]]


def test_exact_level_groups_only_identical_content():
    a = photo("a.jpg", sha256="same", width=2000, height=1500)
    b = photo("b.jpg", sha256="same", angle=80)  # identical bytes, whatever the vectors say
    c = photo("c.jpg", angle=1)  # nearly the same vector, other content
    groups = finder()._split([a, b, c], Tier.EXACT, 0.9)
    assert len(groups) == 1
    keeper, copy = groups[0].members
    assert keeper.photo is a and copy.photo is b
    assert copy.tier is Tier.EXACT and copy.ticked and copy.why == "identical content"
    assert groups[0].ticked == [copy]


def test_a_photo_in_a_reference_folder_is_protected_not_ticked(tmp_path):
    ref = str(tmp_path / "ref")
    a = photo("a.jpg", sha256="same", width=4000, height=3000)
    b = photo("b.jpg", sha256="same", folder=ref)
    f = finder(references=[ref], keep_rules=[KeepRule.PIXELS])  # pixels first: the reference copy is not kept
    (group,) = f._split([a, b], Tier.EXACT, 0.9)
    member = group.members[1]
    assert member.photo is b and member.protected == "in a reference folder" and not member.ticked


def test_rekeep_judges_every_member_again():
    a, b, c, _ = chain()
    b.width, b.height = 8000, 6000  # b is best now: one star a, b, c around it
    f = finder()
    (group,) = f._split([a, b, c], Tier.SIMILAR, 0.9)
    assert group.keep is b and {m.photo for m in group.members} == {a, b, c}
    regrouped = f.rekeep(group, a)  # the user keeps a: c is 40° from a, no longer a similar shot of the keeper
    assert regrouped.keep is a and [m.photo for m in regrouped.members] == [a, b]
    assert regrouped.keep_why == "chosen by you" and regrouped.members[0].why == "keep: chosen by you"
    alone = f.rekeep(regrouped, photo("x.jpg", angle=90))
    assert [m.photo.path for m in alone.members] == ["/photos/x.jpg"]


def test_not_a_duplicate_marks_keep_photos_apart(tmp_path):
    a, b, c, _ = chain()
    marks = NotDuplicates(tmp_path / "not-dupes.json")
    marks.add(b.sha256, {a.sha256: a.path}, b.path)
    groups = finder(not_duplicates=marks)._split([a, b, c], Tier.SIMILAR, 0.7)
    assert [[m.photo for m in g.members] for g in groups] == [[a, c]]


def test_not_duplicates_persist_and_can_be_forgotten(tmp_path):
    path = tmp_path / "state" / "not-dupes.json"
    marks = NotDuplicates(path)
    marks.add("s1", ["s2", "s3", "s1"], "/p/one.jpg")  # s1 against itself is not kept
    assert marks.vetoes("s1", "s2") and marks.vetoes("s3", "s1") and ("s2", "s1") in marks
    assert not marks.vetoes("s2", "s3") and not marks.vetoes("s1", "s1")
    again = NotDuplicates(path)
    assert len(again) == 1 and again.vetoes("s2", "s1")
    assert again.list()[0].path == "/p/one.jpg"
    assert again.forget("s1") and not again.forget("s1")
    assert not NotDuplicates(path).vetoes("s1", "s2")


def test_an_unreadable_marks_file_is_set_aside(tmp_path):
    path = tmp_path / "not-dupes.json"
    path.write_text("{ not json")
    marks = NotDuplicates(path)
    assert len(marks) == 0 and marks.warning and "set aside" in marks.warning
    assert not path.exists()
    assert len(list(tmp_path.glob("not-dupes.json.corrupt-*"))) == 1


def test_version_1_marks_are_read(tmp_path):
    path = tmp_path / "marks.json"
    path.write_text(json.dumps([["s1", "s2"]]))
    marks = NotDuplicates(path)
    assert marks.vetoes("s2", "s1") and not marks.warning


def test_group_wasted_bytes_counts_each_file_once_and_never_the_keeper():
    keep = photo("k.jpg", size=500)
    keep.inode = (1, 1)
    copy, same_copy, keeper_alias = photo("x.jpg", size=100), photo("y.jpg", size=100), photo("z.jpg", size=500)
    copy.inode, same_copy.inode, keeper_alias.inode = (1, 2), (1, 2), (1, 1)
    group = Group(keep, [Member(keep, 1.0), Member(copy, 1.0, Tier.EXACT), Member(same_copy, 1.0, Tier.EXACT),
                         Member(keeper_alias, 1.0, Tier.EXACT)], Tier.EXACT)
    assert group.wasted_bytes == 100


def test_group_tier_and_why_come_from_the_weakest_member():
    keep = photo("k.jpg")
    group = Group(keep, [Member(keep, 1.0), Member(photo("a.jpg"), 1.0, Tier.EXACT),
                         Member(photo("b.jpg"), 0.98, Tier.SAME_PICTURE, bits=4),
                         Member(photo("c.jpg"), 0.97, Tier.SAME_PICTURE, bits=9)])
    assert group.tier is Tier.SAME_PICTURE
    assert group.why == "same picture: hashes 9 bits apart, similarity 0.97"
    assert group.as_json()["files"][0] == {"path": "/photos/k.jpg", "size": 100_000, "width": 1000, "height": 750,
                                           "score": 1.0}


def test_relation_to_query_labels():
    hit = SimpleNamespace(sha256="abc", phash="ffff0000", score=0.99)
    yes, no = (lambda h: True), (lambda h: False)  # the files' colours agree / differ
    assert relation_to_query(hit, "abc", None) is Tier.EXACT
    assert relation_to_query(hit, "other", "ffff0001", alike=yes) is Tier.SAME_PICTURE  # 1 bit apart
    assert relation_to_query(hit, "other", "ffff0001", alike=no) is Tier.SIMILAR  # another colourway
    assert relation_to_query(hit, "other", "ffff0001") is Tier.SIMILAR  # nothing confirmed it on the files
    assert relation_to_query(hit, "other", "0000ffff", alike=yes) is Tier.SIMILAR  # 32 bits apart: more than 24
    assert relation_to_query(hit, None, "ff00ff00", alike=yes) is Tier.SAME_PICTURE  # 16 bits: within 24…
    assert relation_to_query(hit, None, "ff00ff00", near_bits=8, alike=yes) is Tier.SIMILAR  # …not within 8
    close_but_unlike = SimpleNamespace(sha256="x", phash="ffff0000", score=0.9)  # CLIP below near_cosine
    assert relation_to_query(close_but_unlike, None, "ffff0000", alike=yes) is Tier.SIMILAR


# ---------------------------------------------------------------- a whole scan over a fake store
@pytest.mark.parametrize("join_max", [0, 1000], ids=["knn-per-photo", "exact-join"])
def test_a_similar_scan_over_a_fake_store(tmp_path, join_max):
    """The same groups whichever way the candidates come: a kNN query per photo (above the join's limit) or the
    exact in-memory join."""
    photos = []
    for p in chain():  # real files, so every photo resolves to an inode
        real = tmp_path / os.path.basename(p.path)
        real.write_bytes(p.doc_id.encode())
        p.path = p.real = str(real)
        photos.append(p)
    os.link(photos[1].path, tmp_path / "b-link.jpg")  # b reached by a second name: one photo, not a duplicate
    alias = photo("b-link.jpg", angle=20, folder=str(tmp_path), sha256=photos[1].sha256)
    alias.doc_id = "id-b-link"
    store = FakeStore()
    for p in [*photos, alias]:
        store.add(p.path, p.vector, doc=p.doc_id, sha256=p.sha256, size=p.size, width=p.width, height=p.height,
                  mtime_ns=p.mtime_ns, format=p.format, phash=p.phash)
    progress_calls = []
    f = DupeFinder(store, neighbours=3, exact_join_max=join_max)
    groups = f.scan("similar", 0.9, progress=lambda done, total, note: progress_calls.append(note) or True)
    named = [[os.path.basename(m.photo.path) for m in g.members] for g in groups]
    assert sorted(named) == [["a.jpg", "b.jpg"], ["c.jpg", "d.jpg"]]
    b_member = next(m for g in groups for m in g.members if m.photo.path.endswith("b.jpg"))
    assert b_member.photo.aliases == [str(tmp_path / "b-link.jpg")]
    assert [(field, k, floor) for _, field, k, _, floor in store.asked] == (
        [] if join_max else [("image_embedding", 3, 0.9)])
    assert f.stats.photos == 5 and f.stats.linked_sets == 1 and f.stats.groups == 2
    assert "comparing" in progress_calls and "checking groups" in progress_calls


def test_the_cosine_join_finds_exactly_the_pairs_at_or_above_the_floor():
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(300, 16)).astype(np.float32)
    vectors[150:] = vectors[:150] + 0.3 * rng.normal(size=(150, 16)).astype(np.float32)  # near copies
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    sims = vectors @ vectors.T
    expected = {(i, j) for i in range(300) for j in range(i + 1, 300) if sims[i, j] >= 0.8}
    seen = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(finder_module, "JOIN_BLOCK_FLOATS", 300 * 20)  # blocks of 20 rows: the triangle crosses block edges
        got = set(dupes.cosine_pairs(vectors, 0.8, progress=lambda done, total, note: seen.append(done) or True))
    assert got == expected and len(expected) >= 150
    assert seen[-1] == 300 and len(seen) == 15


def test_a_low_threshold_keeps_each_photos_best_partners_only():
    """At cosine ≥ -1 every pair qualifies: each row keeps its ``per_row`` best later partners, the best ones."""
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(200, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    got = list(dupes.cosine_pairs(vectors, -1.0, per_row=5))
    sims = vectors @ vectors.T
    by_row: dict[int, set[int]] = {}
    for i, j in got:
        assert i < j
        by_row.setdefault(i, set()).add(j)
    for i in range(195):
        best = set((np.argsort(-sims[i, i + 1:])[:5] + i + 1).tolist())
        assert by_row[i] == best
    assert len(got) == sum(min(5, 199 - i) for i in range(200))


def test_an_empty_library_has_no_duplicates_at_any_tier():
    finder = DupeFinder(FakeStore([]))
    assert [finder.scan(level, 0.9) for level in ("exact", "near", "similar")] == [[], [], []]
