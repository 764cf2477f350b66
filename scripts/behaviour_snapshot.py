"""Fingerprint what custseg does, to prove that a refactoring changed nothing a user sees.

Runs the command line, in this process, on the real Marketing Insights data and on generated
samples, in fixed folders under ``--work`` (so paths in messages are the same on every run), and
writes one JSON document: the SHA-256 of every published file (the model JSON also without the
library versions it records), the rows of the mart, the ``--json`` summaries without their
timings, the human-readable summaries, and the exit code and message of every case of the
bad-input suite (``tests/test_bad_input.py``). Run it before and after a change and diff the two
documents::

    python scripts/behaviour_snapshot.py --out before.json
    ... change the code ...
    python scripts/behaviour_snapshot.py --out after.json
    diff before.json after.json

It takes a few minutes (about 60 runs of the whole flow on DuckDB).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import duckdb
from click.testing import CliRunner

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from custseg.cli import cli  # noqa: E402
from tests import test_bad_input  # noqa: E402

REAL_DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "marketing_insights"
CLEAN_ENV = {"CUSTSEG_DUCKDB_PATH": None, "CUSTSEG_TARGET": None}
_TIMER = re.compile(r"\[\s*\d+\.\d+s\]")
_MART_QUERY = "select * exclude (updated_at) from fct_customer_segments order by customer_id"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def model_without_versions(data: bytes) -> str:
    document = json.loads(data)
    document.pop("integrity", None)
    document.pop("custseg_version", None)
    document.get("metadata", {}).pop("library_versions", None)
    return sha256(json.dumps(document, sort_keys=True).encode())


def project(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    shutil.copytree(
        REPO_ROOT / "dbt_pipeline",
        folder / "dbt_pipeline",
        ignore=shutil.ignore_patterns(
            "target", "logs", "dbt_packages", "*.duckdb*", ".user.yml", "published"
        ),
    )
    return folder


def invoke(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, list(args), env=CLEAN_ENV)
    stdout = result.stdout
    if "--json" in args and result.exit_code == 0:
        payload = json.loads(stdout)
        payload.pop("stage_seconds", None)
        stdout = payload
    return {
        "exit_code": result.exit_code,
        "stdout": stdout,
        "stderr": _TIMER.sub("[t]", result.stderr),
    }


def published(root: Path) -> dict[str, str]:
    files = {}
    for folder in ("ml_pipeline/models", "dbt_pipeline/seeds/published"):
        for path in sorted((root / folder).glob("*")):
            if path.is_file() and not path.name.startswith("."):
                data = path.read_bytes()
                files[f"{folder}/{path.name}"] = sha256(data)
                if path.name == "segment_model.json":
                    files[f"{folder}/{path.name} (without versions)"] = model_without_versions(data)
    database = root / "dbt_pipeline" / "custseg.duckdb"
    if database.exists():
        with duckdb.connect(str(database)) as con:
            rows = con.execute(_MART_QUERY).fetchall()
        files["fct_customer_segments rows"] = sha256(repr(rows).encode())
    return files


def scenario_real(work: Path) -> dict[str, Any]:
    root = project(work / "real")
    first = invoke("run", "--data-dir", str(REAL_DATA_DIR), "--project-dir", str(root), "--json")
    after_first = published(root)
    second = invoke("run", "--data-dir", str(REAL_DATA_DIR), "--project-dir", str(root))
    evaluate = invoke("evaluate", "--project-dir", str(root), "--json")
    report_path = work / "real_report.html"
    report = invoke("report", "--project-dir", str(root), "--out", str(report_path), "--json")
    return {
        "first_run": first,
        "first_run_files": after_first,
        "second_run": second,
        "second_run_files": published(root),
        "evaluate": evaluate,
        "report": report,
        "report_sha256": sha256(report_path.read_bytes()),
    }


def scenario_sample(work: Path, name: str, *generate: str, run: tuple[str, ...] = ()) -> dict:
    data = work / f"{name}_data"
    shutil.rmtree(data, ignore_errors=True)
    generated = invoke("generate-sample", "--out", str(data), "--json", *generate)
    root = project(work / name)
    result = invoke("run", "--data-dir", str(data), "--project-dir", str(root), "--json", *run)
    return {"generate": generated, "run": result, "files": published(root)}


def scenario_bad_input(work: Path) -> dict[str, Any]:
    base = work / "bad_input"
    shutil.rmtree(base, ignore_errors=True)
    data = base / "data"
    test_bad_input.generate_sample_data(data, n_customers=300, seed=3)
    (data / "planted_segments.csv").unlink()
    template = project(base / "template")
    first = invoke("run", "--data-dir", str(data), "--project-dir", str(template), "--json")
    outcomes: dict[str, Any] = {"template": first}
    for name in sorted(test_bad_input.CASES):
        # A folder per case: DuckDB keeps a database open in this process while a connection
        # to it lives (dbt's, say), so a reused path could show the previous case's tables.
        case_data = base / name / "data"
        case_project = base / name / "project"
        shutil.copytree(data, case_data)
        test_bad_input.copy_project_state(template, case_project)
        test_bad_input.CASES[name].mutate(case_data)
        result = invoke(
            "run", "--data-dir", str(case_data), "--project-dir", str(case_project), "--json"
        )
        outcomes[name] = {**result, "files": published(case_project)}
    return outcomes


SCENARIOS = {
    "real": scenario_real,
    "sample_csv": lambda work: scenario_sample(work, "sample_csv", "--customers", "2000"),
    "sample_parquet": lambda work: scenario_sample(
        work, "sample_parquet", "--customers", "500", "--seed", "7", "--format", "parquet"
    ),
    "sample_k_auto": lambda work: scenario_sample(
        work, "sample_k_auto", "--customers", "1500", "--seed", "9", run=("--k", "auto")
    ),
    "bad_input": scenario_bad_input,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write.")
    parser.add_argument(
        "--work", type=Path, default=Path("/tmp/custseg-behaviour-snapshot"), help="Scratch folder."
    )
    parser.add_argument(
        "--only", choices=sorted(SCENARIOS), action="append", help="Run only these scenarios."
    )
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    snapshot = {
        name: scenario(args.work)
        for name, scenario in SCENARIOS.items()
        if not args.only or name in args.only
    }
    args.out.write_text(json.dumps(snapshot, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"Snapshot written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
