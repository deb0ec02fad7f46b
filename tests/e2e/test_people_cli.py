"""`people`, `search --face` / `--person` and `--no-faces` as a user types them, on real face photos."""

from __future__ import annotations

import json
import os

from tests.e2e.test_cli import run
from tests.faces import ASTRONAUT, BIDEN, OBAMA, face_library


def lines(out) -> list[dict]:
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_people_name_merge_and_search_by_face_and_person(cli_env, tmp_path):
    lib = face_library(tmp_path / "Pictures")
    other = face_library(tmp_path / "Other", ["obama2.jpg"])["obama2.jpg"]  # a copy of one, in another folder
    assert run(cli_env, "index", str(tmp_path / "Pictures"), str(tmp_path / "Other")).returncode == 0

    (person,) = lines(run(cli_env, "people", "--json"))
    assert person["name"] is None and person["faces"] == 4
    assert sorted(person["photos"]) == sorted([str(lib[n]) for n in OBAMA] + [str(other)])
    out = run(cli_env, "people", "name", person["id"], "Barack", "Obama")
    assert out.returncode == 0 and "Barack Obama" in out.stdout
    assert lines(run(cli_env, "people", "recluster", "--json"))[0]["name"] == "Barack Obama"

    # --face alone: the photos with that face, nearest first; the JSON hits carry their faces
    hits = lines(run(cli_env, "search", "--face", str(lib["obama.jpg"]), "-k", "10", "--json"))
    assert {h["path"] for h in hits} == {str(lib[n]) for n in OBAMA} | {str(other)}
    assert hits[0]["path"] == str(lib["obama.jpg"]) and hits[0]["faces"][0]["person"] == person["id"]
    assert len(hits[0]["faces"][0]["box"]) == 4
    # composed with a sentence and a filter: the sentence ranks that face's photos under the folder
    hits = lines(run(cli_env, "search", "--face", str(lib["obama3.jpg"]), "--text", "a man at a podium",
                     "--folder", str(tmp_path / "Pictures"), "--json"))
    assert {h["path"] for h in hits} == {str(lib[n]) for n in OBAMA}
    # --person is a filter with any other part and filter
    hits = lines(run(cli_env, "search", "--person", "barack obama", "--text", "a portrait", "--folder",
                     str(tmp_path / "Other"), "--json"))
    assert [h["path"] for h in hits] == [str(other)]
    hits = lines(run(cli_env, "search", "--person", person["id"], "--image", str(lib[BIDEN]), "--json"))
    assert len(hits) == 4 and str(lib[BIDEN]) not in {h["path"] for h in hits}

    # a face of a group of one is in no person
    everyone = run(cli_env, "search", "--image", str(lib[BIDEN]), "-k", "10", "--json")
    faces = {h["path"]: h["faces"] for h in lines(everyone)}
    assert faces[str(lib[BIDEN])][0]["person"] is None  # one face: not a person
    out = run(cli_env, "search", "--face", str(tmp_path / "nowhere.jpg"))
    assert out.returncode == 1 and "Traceback" not in out.stderr
    out = run(cli_env, "people", "name", "999", "Nobody")
    assert out.returncode == 2 and "no such person" in out.stderr
    # "not this person": the copy's face leaves Barack for good, through a re-cluster
    assert run(cli_env, "people", "not", person["id"], str(other)).returncode == 0
    (after,) = lines(run(cli_env, "people", "recluster", "--json"))
    assert after["id"] == person["id"] and after["faces"] == 3 and str(other) not in after["photos"]
    # "split": obama3's face and its look-alikes among Barack's faces become a new person (here: that face alone);
    # the re-cluster then places the copy's free face (not Barack's, by the user's word) with it: same person
    out = run(cli_env, "people", "split", person["id"], str(lib["obama3.jpg"]))
    assert out.returncode == 0 and f"from person {person['id']}" in out.stdout, out.stderr
    after = {p["id"]: p for p in lines(run(cli_env, "people", "recluster", "--json"))}
    assert after[person["id"]]["faces"] == 2 and str(lib["obama3.jpg"]) not in after[person["id"]]["photos"]
    (split,) = [p for i, p in after.items() if i != person["id"]]
    assert sorted(split["photos"]) == sorted([str(lib["obama3.jpg"]), str(other)])
    out = run(cli_env, "people", "split", person["id"])
    assert out.returncode == 2 and "people split ID PHOTO" in out.stderr


def test_faces_off_deletes_the_face_data(cli_env, tmp_path):
    lib = face_library(tmp_path / "Pictures", [*OBAMA, ASTRONAUT])
    assert run(cli_env, "index", str(tmp_path / "Pictures")).returncode == 0
    assert len(lines(run(cli_env, "people", "--json"))) == 1
    people_file = tmp_path / "app-home" / "data" / f"people-{cli_env['IMGSEARCH_INDEX']}.json"
    assert people_file.exists() and os.stat(people_file).st_mode & 0o077 == 0

    out = run(cli_env, "--no-faces", "index", str(tmp_path / "Pictures"))
    assert out.returncode == 0 and "face data of 4 photos deleted" in out.stderr
    assert not people_file.exists()
    hits = lines(run(cli_env, "search", "--image", str(lib[ASTRONAUT]), "-k", "10", "--json"))
    assert len(hits) == 4 and all(h["faces"] == [] for h in hits)
    out = run(cli_env, "--no-faces", "people")
    assert out.returncode == 2 and "faces are off" in out.stderr
    # on again: every photo analysed afresh
    assert run(cli_env, "index", str(tmp_path / "Pictures")).returncode == 0
    assert lines(run(cli_env, "people", "--json"))[0]["faces"] == 3
