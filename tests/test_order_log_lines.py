"""Order logs are read as order logs: free lines are skipped, repeat purchases are kept.

A small log (customer, day, quantity, amount; no transaction id, no SKU) with planted lines is
run through the real command line on a real DuckDB file, and each customer's orders and revenue
are compared with values computed by hand from the kept lines:

- lines with 0 in quantity or amount are skipped and counted in the summary's repairs; with
  ``--strict-amounts`` the run stops naming file, line and column, before anything is loaded;
  a log of free lines only stops the run naming the file (nothing would be left to segment);
- identical lines of a file without transaction ids or SKUs are separate purchases (noted);
  with a transaction id or a SKU they remain a double export and one copy is dropped (checked
  on the load stage alone, on a real in-memory DuckDB: the rest of the run is the same).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner, Result

from custseg.cli import cli
from custseg.config_file import load_config_file
from custseg.errors import InputDataError
from custseg.ingest.staging import read_and_check
from custseg.sql import quote_identifier
from tests.support import CLEAN_ENV, copy_project

HEADER = "customer,day,units,dollars"
#: (customer, day, units, dollars), in file order: line 2 is the first.
PLANTED = [
    ("Z1", "2023-03-01", 1, "10.00"),
    ("Z1", "2023-03-02", 2, "0"),  # line 3: a free item (amount 0), skipped
    ("Z1", "2023-03-03", 0, "5.00"),  # line 4: no unit sold (quantity 0), skipped
    ("Z2", "2023-03-04", 1, "0.00"),  # line 5: Z2's only line is free: no segment
    ("R1", "2023-04-01", 1, "25.00"),
    ("R1", "2023-04-01", 1, "25.00"),  # line 7: same as line 6, a second purchase
    ("R1", "2023-04-05", 2, "30.00"),
]
CONFIG = (
    '[run]\ndata_dir = "data"\nk = 2\n\n'
    '[inputs.sales]\nfile = "orders.csv"\ndate_format = "YYYY-MM-DD"\n\n'
    '[inputs.sales.columns]\ncustomerid = "customer"\ntransaction_date = "day"\n'
    'quantity = "units"\namount = "dollars"\n'
)


def background() -> list[tuple[str, str, int, str]]:
    """30 customers with 1 to 4 orders of different amounts, none free, none repeated."""
    lines = []
    for i in range(30):
        for j in range(1 + i % 4):
            day = f"2023-{1 + (i + j) % 12:02d}-{1 + (3 * i + j) % 28:02d}"
            lines.append((f"B{i:02d}", day, 1 + j, f"{(i + 1) * (j + 2) * 7.5:.2f}"))
    return lines


def write_log(folder: Path, lines) -> Path:
    data = folder / "data"
    data.mkdir(parents=True)
    text = HEADER + "\n" + "".join(f"{c},{d},{q},{a}\n" for c, d, q, a in lines)
    (data / "orders.csv").write_text(text)
    config = folder / "custseg.toml"
    config.write_text(CONFIG)
    return config


def run(config: Path, project: Path, *extra: str) -> Result:
    return CliRunner().invoke(
        cli,
        ["run", "--config", str(config), "--project-dir", str(project), "--json", *extra],
        env=CLEAN_ENV,
    )


def test_free_lines_are_skipped_and_identical_lines_are_repeat_purchases(tmp_path: Path) -> None:
    lines = PLANTED + background()
    config = write_log(tmp_path, lines)
    project = copy_project(tmp_path / "project")

    result = run(config, project, "--allow-unsupported-names")

    assert result.exit_code == 0, result.output
    repairs = json.loads(result.stdout)["repairs"]
    assert any(
        r.startswith(
            "orders.csv: skipped 3 line(s) worth nothing (1 with quantity 0, 2 with amount 0; "
            "lines 3, 4, 5): a free item or promotion is no purchase"
        )
        for r in repairs
    ), repairs
    assert any(
        r.startswith(
            "orders.csv: kept 1 line(s) identical to an earlier line (line 7): the file has no "
            "transaction_id or product_sku"
        )
        for r in repairs
    ), repairs
    assert not any("dropped" in r for r in repairs), repairs
    # By hand: every line but the three free ones is one order worth its amount.
    expected: dict[str, tuple[int, Decimal]] = {}
    for customer, _, units, dollars in lines:
        if units == 0 or Decimal(dollars) == 0:
            continue
        orders, revenue = expected.get(customer, (0, Decimal(0)))
        expected[customer] = (orders + 1, revenue + Decimal(dollars))
    assert expected["Z1"] == (1, Decimal("10.00"))
    assert expected["R1"] == (3, Decimal("80.00"))
    assert "Z2" not in expected
    with duckdb.connect(str(project / "dbt_pipeline/custseg.duckdb"), read_only=True) as con:
        found = con.execute(
            "select customer_id, count(*), sum(order_revenue) "
            "from int_sales_lines_aggregated_to_orders group by customer_id"
        ).fetchall()
        ((raw_lines,),) = con.execute("select count(*) from raw.online_sales").fetchall()
        segmented = {
            c for (c,) in con.execute("select customer_id from fct_customer_segments").fetchall()
        }
    assert {c: (int(n), Decimal(v)) for c, n, v in found} == expected
    assert raw_lines == len(lines) - 3
    assert "Z2" not in segmented and {"Z1", "R1"} <= segmented


def test_strict_amounts_stops_at_a_free_line_naming_file_line_and_column(tmp_path: Path) -> None:
    config = write_log(tmp_path, PLANTED + background())
    project = copy_project(tmp_path / "project")

    result = run(config, project, "--strict-amounts")

    assert result.exit_code == 3, result.output
    assert (
        f"{tmp_path / 'data' / 'orders.csv'} line 4, column quantity: '0' must be greater than "
        "0, and strict_amounts stops the run at a line worth nothing. 1 line breaks this rule."
    ) in result.stderr, result.stderr
    assert "run without strict_amounts" in result.stderr
    assert (
        "Also broken:\n  orders.csv line 3, column amount: '0' must be greater than 0"
    ) in result.stderr, result.stderr
    assert "(2 lines)" in result.stderr
    assert result.stderr.rstrip().endswith(
        "Nothing was loaded or published: the previous raw "
        "tables, seeds, model and mart are unchanged."
    )


@pytest.mark.parametrize(
    ("identity", "kept_lines", "repair"),
    [
        ((), 3, "kept 1 line(s) identical to an earlier line (line 3)"),
        (("transaction_id",), 2, "dropped 1 exact duplicate line(s) (line 3)"),
        (("product_sku",), 2, "dropped 1 exact duplicate line(s) (line 3)"),
    ],
)
def test_identical_lines_are_a_double_export_only_with_a_line_identity(
    tmp_path: Path, identity: tuple[str, ...], kept_lines: int, repair: str
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    extra = "".join(f",{column}" for column in identity)
    values = "".join(",T1" for _ in identity)
    (data / "orders.csv").write_text(
        f"customerid,transaction_date,amount{extra}\n"
        f"a,1/5/2019,12.50{values}\n"
        f"a,1/5/2019,12.50{values}\n"
        f"b,1/6/2019,3.00{values}\n"
    )
    (tmp_path / "custseg.toml").write_text('[inputs.sales]\nfile = "orders.csv"\n')
    inputs = load_config_file(tmp_path / "custseg.toml").inputs

    with duckdb.connect() as con:
        checked = read_and_check(
            con,
            data,
            inputs,
            relation_for=lambda table: quote_identifier(f"staged_{table.table_name}"),
        )
        sales = next(item for item in checked if item.table.table_name == "online_sales")
        ((rows,),) = con.execute(f"select count(*) from {sales.relation}").fetchall()

    assert rows == kept_lines
    assert any(f"orders.csv: {repair}" in r for r in sales.loaded.repairs), sales.loaded.repairs


def test_a_log_of_free_lines_only_stops_the_run_naming_the_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "orders.csv").write_text(
        "customerid,transaction_date,amount\na,1/5/2019,0\nb,1/6/2019,0.00\n"
    )
    (tmp_path / "custseg.toml").write_text('[inputs.sales]\nfile = "orders.csv"\n')
    inputs = load_config_file(tmp_path / "custseg.toml").inputs

    with duckdb.connect() as con, pytest.raises(InputDataError) as raised:
        read_and_check(con, data, inputs, relation_for=lambda table: f"staged_{table.table_name}")

    assert str(raised.value).startswith(
        f"{data / 'orders.csv'}: every line (2) has 0 in quantity, avg_price or amount "
        "(2 with amount 0)"
    ), raised.value
