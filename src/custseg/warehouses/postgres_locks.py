"""Bounded lock waits on PostgreSQL: the timeout every connection sets, and who held the lock.

A dashboard or SQL client that leaves a transaction open after reading ``raw.online_sales`` or
``fct_customer_segments`` holds a lock that custseg's TRUNCATE of the raw tables and dbt's
replacement of the mart must wait for. Without a bound the run would wait forever without a
word; with ``lock_timeout`` (the run option, default 60 s) PostgreSQL cancels the statement, and
the run stops with a :class:`~custseg.errors.LockError` naming the table, the session that holds
it, and what to do. custseg's own connections set it as a connection option; dbt's inherit it
through libpq's ``PGOPTIONS`` (dbt-postgres sets no ``options`` of its own unless a profile sets
``search_path``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

#: Locks other sessions hold on tables and views of the given schemas (granted ones: the
#: holders, not the waiters), with who holds them.
_HOLDERS_SQL = """
select n.nspname, c.relname, l.mode, a.pid, coalesce(a.application_name, ''),
    coalesce(a.usename, ''), coalesce(a.state, ''),
    coalesce(extract(epoch from now() - coalesce(a.xact_start, a.backend_start)), 0)
from pg_locks as l
join pg_class as c on c.oid = l.relation
join pg_namespace as n on n.oid = c.relnamespace
left join pg_stat_activity as a on a.pid = l.pid
where l.granted and l.pid <> pg_backend_pid() and c.relkind in ('r', 'p', 'v', 'm', 'f')
    and n.nspname = any(%s)
order by n.nspname, c.relname, a.pid
"""


def timeout_milliseconds(seconds: float) -> int:
    """PostgreSQL's lock_timeout for ``seconds`` (at least 1 ms: 0 would mean no bound)."""
    return max(1, math.ceil(seconds * 1000))


def pgoptions(seconds: float, environ: Mapping[str, str]) -> str:
    """``PGOPTIONS`` for dbt: the user's own options, then the lock timeout (which wins)."""
    own = environ.get("PGOPTIONS", "").strip()
    return f"{own} -c lock_timeout={timeout_milliseconds(seconds)}".strip()


def lock_holders(cursor: Any, schemas: Sequence[str], tables: Sequence[str] = ()) -> list[str]:
    """Who holds a lock on a table of ``schemas`` (only ``tables`` when given: unqualified or
    ``schema.table`` names), one description per session and table."""
    cursor.execute(_HOLDERS_SQL, (list(schemas),))
    wanted = set(tables)
    seen: dict[tuple[str, int], str] = {}
    for schema, table, mode, pid, application, user, state, seconds in cursor.fetchall():
        if wanted and table not in wanted and f"{schema}.{table}" not in wanted:
            continue
        key = (f"{schema}.{table}", int(pid or 0))
        if key in seen:
            continue
        who = f"application '{application}'" if application else "no application name"
        seen[key] = (
            f"{schema}.{table} is held by pid {pid} ({who}, user {user}, {state or 'state unknown'}"
            f", transaction open for {int(float(seconds))} s, {mode})"
        )
    return list(seen.values())


def lock_wait_message(
    where: str, seconds: float, holders: Sequence[str], tables: Sequence[str] = ()
) -> str:
    """The sentence of a lock timeout: what was waited for, who holds it, what to do."""
    if holders:
        who = "; ".join(holders)
    else:
        what = ", ".join(tables) or "a table the run needs"
        who = f"another session held a lock on {what} (it has let go since)"
    return (
        f"Waited {seconds:g} s for a table lock in PostgreSQL {where} and stopped: {who}. "
        "A dashboard or SQL client with an open transaction on a table keeps custseg and dbt "
        "from replacing it: end that transaction (commit or roll back, close the session, or "
        "as an administrator `select pg_terminate_backend(<pid>)`), or wait longer with "
        f"--lock-timeout SECONDS (CUSTSEG_LOCK_TIMEOUT, lock_timeout in [run]; now {seconds:g}), "
        "then run again."
    )
