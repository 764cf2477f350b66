"""Segments over time on PostgreSQL: backfill, transitions, drift and the at-risk list.

A real server (the session's, tests/postgres_server.py) in a schema of its own. One module
fixture runs the CLI as a user does on 300 generated customers: `custseg run`, a monthly
`custseg backfill` of four month starts, `custseg moves` and `custseg drift`; the tests read the
history models back from the server.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from click.testing import CliRunner

from custseg.cli import cli
from custseg.sample import generate_sample_data
from tests.postgres_server import PostgresServer
from tests.support import copy_project

SCHEMA = "custseg_history"
MONTH_STARTS = [
    dt.date(2019, 10, 1),
    dt.date(2019, 11, 1),
    dt.date(2019, 12, 1),
    dt.date(2020, 1, 1),
]


@dataclass(frozen=True)
class PostgresHistory:
    server: PostgresServer
    root: Path
    moves: dict[str, Any]
    drift: dict[str, Any]
    drift_exit_code: int


def rows(server: PostgresServer, sql: str) -> list[tuple[Any, ...]]:
    con = psycopg2.connect(**server.connect_args())
    try:
        with con.cursor() as cur:
            cur.execute(f"set search_path to {SCHEMA}")
            cur.execute(sql)
            return cur.fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def history(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> PostgresHistory:
    base = tmp_path_factory.mktemp("postgres_history")
    data = base / "data"
    generate_sample_data(data, n_customers=300, seed=3)
    root = copy_project(base / "project")
    env = {**postgres_server.libpq_env(), "CUSTSEG_SCHEMA": SCHEMA}
    common = ["--project-dir", str(root), "--target", "postgres"]

    def invoke(*args: str) -> Any:
        return CliRunner().invoke(cli, [*args, *common, "--json"], env=env)

    run = invoke("run", "--data-dir", str(data))
    assert run.exit_code == 0, run.output
    backfill = invoke("backfill", "--from", "2019-10-01", "--to", "2020-01-01", "--every", "month")
    assert backfill.exit_code == 0, backfill.output
    moves = invoke("moves")
    assert moves.exit_code == 0, moves.output
    drift = invoke("drift")
    return PostgresHistory(
        server=postgres_server,
        root=root,
        moves=json.loads(moves.stdout),
        drift=json.loads(drift.stdout),
        drift_exit_code=drift.exit_code,
    )


def test_the_backfill_adds_every_month_with_the_customers_who_had_ordered(
    history: PostgresHistory,
) -> None:
    counted = dict(
        rows(history.server, "select as_of_date, count(*) from segment_memberships group by 1")
    )
    assert sorted(counted) == MONTH_STARTS
    assert counted[dt.date(2020, 1, 1)] == 300
    assert all(
        counted[a] <= counted[b] for a, b in zip(MONTH_STARTS, MONTH_STARTS[1:], strict=False)
    )
    runs = rows(history.server, "select as_of_date, count_customers from segment_runs order by 1")
    assert runs == sorted(counted.items())


def test_three_transition_matrices_whose_rows_sum_to_one(history: PostgresHistory) -> None:
    totals = rows(
        history.server,
        "select transition_kind, from_as_of_date, from_segment_id, sum(probability) "
        "from fct_segment_transitions group by 1, 2, 3",
    )
    periods = {start for kind, start, _, _ in totals if kind == "period"}
    assert periods == set(MONTH_STARTS[:-1])
    assert all(float(total) == pytest.approx(1.0, abs=1e-9) for *_, total in totals)
    shares = rows(
        history.server,
        "select sum(customer_share), sum(projected_share) from fct_segment_mix_projection",
    )
    assert [float(value) for value in shares[0]] == pytest.approx([1.0, 1.0], abs=1e-9)


def test_drift_models_agree_with_custseg_drift_on_postgres(history: PostgresHistory) -> None:
    psi = dict(
        rows(
            history.server,
            "select feature_name, psi from fct_feature_drift "
            "where as_of_date = date '2020-01-01' and compared_with = 'previous as-of date'",
        )
    )
    expected = {
        item["feature"]: item["psi"] for item in history.drift["against_previous"]["feature_psi"]
    }
    assert {name: float(value) for name, value in psi.items()} == pytest.approx(expected, abs=1e-9)
    assert all(
        float(value) >= 0 for (value,) in rows(history.server, "select psi from fct_feature_drift")
    )
    assert history.drift_exit_code == (8 if history.drift["alarms"] else 0)


def test_the_at_risk_list_is_scored_in_postgres_sql(history: PostgresHistory) -> None:
    """`custseg moves` compared the SQL list with Python for every customer before it committed;
    here the list is on the server, ranked, without the customers already At-Risk."""
    listed = rows(
        history.server,
        "select at_risk_rank, segment_id, at_risk_probability from fct_at_risk_candidates "
        "order by at_risk_rank",
    )
    assert listed, "the at-risk list is empty"
    assert [rank for rank, _, _ in listed] == list(range(1, len(listed) + 1))
    assert all(segment != 1 for _, segment, _ in listed)
    probabilities = [float(p) for *_, p in listed]
    assert probabilities == sorted(probabilities, reverse=True)
    evaluation = history.moves["evaluation"]
    assert evaluation["model_log_loss"] > 0 and evaluation["baseline_log_loss"] > 0
