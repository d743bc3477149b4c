"""`sightline placement solve` on instance files: answers, and errors naming file and key/row."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.cli import main

SIGHTLINE = str(Path(sys.executable).with_name("sightline"))

INSTANCE = {
    "demand": {"d1": 3, "d2": 1, "d3": 2, "d4": 5, "lonely": 0.5},
    "candidates": {"c1": ["d1", "d2"], "c2": ["d2", "d3"], "c3": ["d4"], "c4": ["d1", "d3"]},
}


def _write(tmp_path: Path, name: str, content: str | dict) -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def _solve(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict, str]:
    code = main(["placement", "solve", *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 and "--json" in args else {}), out + err


def test_json_instance_end_to_end_in_a_real_process(tmp_path: Path) -> None:
    f = _write(tmp_path, "city.json", INSTANCE)
    out = subprocess.run(
        [SIGHTLINE, "placement", "solve", "--instance", str(f), "--p", "2", "--method", "ilp",
         "--json"], capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)  # stdout is the JSON and nothing else (no solver banner)
    assert data["selected"] == ["c3", "c4"]
    assert data["covered_weight"] == 10 and data["lp_bound"] == 10 and data["gap"] == 0
    assert data["status"] == "optimal"
    assert data["uncoverable"] == ["lonely"] and data["curve"] == [0, 5, 10]


def test_greedy_cover_all_and_text_output(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    f = _write(tmp_path, "city.json", INSTANCE)
    code, data, _ = _solve(capsys, "--instance", str(f), "--cover-all", "--json")
    assert code == 0 and data["status"] == "heuristic" and len(data["selected"]) == 3
    assert data["covered_weight"] == data["coverable_weight"] == 11
    code, data, _ = _solve(capsys, "--instance", str(f), "--cover-all", "--method", "ilp",
                           "--json")  # fmt: skip
    assert code == 0 and data["status"] == "optimal" and data["n_selected"] == 3
    code, _, text = _solve(capsys, "--instance", str(f), "--p", "1")
    assert code == 0 and "selected: c3" in text and "gap" in text


def test_rules_from_file_and_flags(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    inst = {**INSTANCE, "groups": {"c3": "north", "c4": "north"}, "group_budget": {"north": 1}}
    f = _write(tmp_path, "rules.json", inst)
    code, data, _ = _solve(capsys, "--instance", str(f), "--p", "2", "--method", "ilp", "--json")
    assert code == 0 and sorted(data["selected"]) in (["c1", "c3"], ["c2", "c3"])
    code, data, _ = _solve(capsys, "--instance", str(f), "--p", "1", "--fixed", "c3", "--forbid",
                           "c4", "--method", "ilp", "--json")  # fmt: skip
    assert code == 0 and data["fixed"] == ["c3"] and data["selected"] in (["c1"], ["c2"])
    assert data["covered_weight"] == 9


def test_csv_instance_with_weights(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pairs = _write(tmp_path, "pairs.csv", "candidate_id,demand_id\nc1,d1\nc1,d2\nc2,d2\nc3,d3\n")
    code, data, _ = _solve(capsys, "--instance", str(pairs), "--p", "1", "--json")
    assert code == 0 and data["selected"] == ["c1"] and data["total_weight"] == 3
    weights = _write(tmp_path, "w.csv", "demand_id,weight\nd1,1\nd2,1\nd3,5\nd4,2\n")
    code, data, _ = _solve(capsys, "--instance", str(pairs), "--weights", str(weights), "--p",
                           "1", "--json")  # fmt: skip
    assert code == 0 and data["selected"] == ["c3"] and data["uncoverable"] == ["d4"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.json", {"demand": {"d1": 1}, "candidates": {"c1": ["d1", "d9"]}},
         r"bad.json: candidates 'c1': unknown demand id 'd9'"),
        ("neg.json", {"demand": {"d1": -1}, "candidates": {"c1": ["d1"]}},
         r"neg.json: demand 'd1': weight -1 is not a finite number >= 0"),
        ("str.json", {"demand": {"d1": "3"}, "candidates": {"c1": ["d1"]}},
         r"str.json: demand 'd1': weight '3' is not a number"),
        ("empty.json", "", r"empty.json: the file is empty"),
        ("nodemand.json", {"demand": {}, "candidates": {"c1": []}},
         r"nodemand.json: key 'demand': is empty"),
        ("missing.json", {"demand": {"d1": 1}}, r"missing.json: key 'candidates': missing"),
        ("text.json", "demand: 1", r"text.json: line 1 column 1: not JSON"),
        ("dup.json", '{"demand": {"d": 1, "d": 2}, "candidates": {"c": ["d"]}}',
         r"dup.json: key 'd': appears more than once"),
        ("typo.json", {"demand": {"d": 1}, "candidates": {"c": ["d"]}, "fixd": ["c"]},
         r"typo.json: key 'fixd': unknown"),
        ("list.json", {"demand": {"d": 1}, "candidates": {"c": "d"}},
         r"list.json: candidates 'c': must be a list of ids"),
        ("fixed.json", {"demand": {"d": 1}, "candidates": {"c": ["d"]}, "fixed": ["x"]},
         r"fixed.json: key 'fixed': 'x' is not a candidate"),
        ("pairs.csv", "candidate_id,demand_id\nc1,d1\nc2\n", r"pairs.csv: row 3: expected two"),
        ("head.csv", "cand,dem\nc1,d1\n", r"head.csv: row 1: expected the header"),
        ("hollow.csv", "candidate_id,demand_id\n", r"hollow.csv: no data rows"),
        ("model.txt", "x", r"model.txt: expected a .json or .csv"),
    ],
)  # fmt: skip
def test_bad_instance_files_name_file_and_place(
    tmp_path: Path, capsys: pytest.CaptureFixture, name: str, content: str | dict, message: str
) -> None:
    f = _write(tmp_path, name, content)
    code, _, text = _solve(capsys, "--instance", str(f), "--p", "1", "--json")
    assert code == 1
    assert text.startswith("sightline: error: ")
    assert re.search(message, text), text


def test_bad_weights_file_names_its_row(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pairs = _write(tmp_path, "pairs.csv", "candidate_id,demand_id\nc1,d1\nc1,d7\n")
    weights = _write(tmp_path, "w.csv", "demand_id,weight\nd1,1\nd2,heavy\n")
    code, _, text = _solve(capsys, "--instance", str(pairs), "--weights", str(weights), "--p", "1")
    assert code == 1 and "w.csv: row 3: weight 'heavy' is not a number" in text
    weights.write_text("demand_id,weight\nd1,1\n", encoding="utf-8")
    code, _, text = _solve(capsys, "--instance", str(pairs), "--weights", str(weights), "--p", "1")
    assert code == 1 and "pairs.csv: row 3: unknown demand id 'd7' (not in w.csv)" in text


def test_goal_is_required_and_exclusive(tmp_path: Path) -> None:
    f = _write(tmp_path, "city.json", INSTANCE)
    for goal in ([], ["--p", "1", "--cover-all"]):
        with pytest.raises(SystemExit) as exc:
            main(["placement", "solve", "--instance", str(f), *goal])
        assert exc.value.code == 2
