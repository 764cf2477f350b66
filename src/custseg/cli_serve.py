"""``custseg serve``: the scoring service on uvicorn, a thin layer over :mod:`custseg.serve`.

Registered on the ``custseg`` group by :mod:`custseg.cli`. FastAPI and uvicorn come with the
``custseg[serve]`` extra and are imported only when the command runs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import ipaddress
import json
import socket
from pathlib import Path
from typing import Any

import click

from custseg.cli_errors import errors_reported, exit_with
from custseg.cli_options import (
    CONFIG_OPTION,
    EXIT_CODES_HELP,
    QUIET_OPTION,
    options,
)
from custseg.cli_options import setting as setting_option
from custseg.live.scoring import DEFAULT_CHECK_INTERVAL
from custseg.live.state_store import DEFAULT_PREFIX, REDIS_URL_ENV
from custseg.settings.layout import SEGMENTS_FILE

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
#: The exit code of a bad option or config (see EXIT_CODES_HELP): the extra is missing.
CONFIG_EXIT_CODE = 2


@click.command(epilog=EXIT_CODES_HELP)
@options(
    CONFIG_OPTION,
    setting_option("project_dir"),
    click.option(
        "--model",
        "model_path",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="The published model file to serve (default: the project's "
        "ml_pipeline/models/segment_model.json). The customer_segments.csv beside it answers "
        "lookups. A new model published there is picked up without a restart.",
    ),
    click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address to listen on."),
    click.option(
        "--port",
        type=click.IntRange(1, 65535),
        default=DEFAULT_PORT,
        show_default=True,
        help="Port to listen on.",
    ),
    click.option(
        "--max-body-bytes",
        type=click.IntRange(min=1),
        default=None,
        help="Largest request body; a larger one gets 413 before it is parsed (default 1 MiB).",
    ),
    click.option(
        "--max-batch",
        type=click.IntRange(min=1),
        default=None,
        help="Most customers in one scoring request; more get 413 (default 10,000).",
    ),
    click.option(
        "--redis-url",
        envvar=REDIS_URL_ENV,
        default=None,
        help="Redis URL of the state store `custseg consume` keeps (redis://host:6379/0); "
        f"lookups read live segments there first (env {REDIS_URL_ENV}: put a URL with a "
        "password there, not on the command line). Default: no state store.",
    ),
    click.option(
        "--redis-prefix",
        default=DEFAULT_PREFIX,
        show_default=True,
        help="Key prefix of the state store (as `custseg consume` writes it).",
    ),
    click.option(
        "--as-of-date",
        "as_of_date",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        default=None,
        help="As-of date of the order form when a request gives none: orders before it count "
        "(default: tomorrow in UTC, so that orders up to and including today count).",
    ),
    click.option(
        "--reload-interval",
        type=click.FloatRange(min=0),
        default=DEFAULT_CHECK_INTERVAL,
        show_default=True,
        help="Seconds between looks at the model file for a new publication.",
    ),
    click.option(
        "--json",
        "as_json",
        is_flag=True,
        help="Print the start-up summary (url, model version, token required) as one JSON "
        "line, and errors as JSON.",
    ),
    QUIET_OPTION,
)
def serve(
    config_file: Path | None,
    model_path: Path | None,
    host: str,
    port: int,
    as_of_date: dt.datetime | None,
    as_json: bool,
    quiet: bool,
    **given: Any,
) -> None:
    """Serve the published model over HTTP: segments in milliseconds for a web shop.

    POST /v1/score scores customers from their totals or their orders; GET
    /v1/customers/{customer_id} returns a customer's latest segment (the stream consumer's,
    else the last run's); GET /health and GET /ready for probes; the OpenAPI schema at
    /openapi.json and /docs. The bearer token comes only from the environment variable
    CUSTSEG_SERVE_TOKEN (at least 16 characters): when it is set, /v1 requests need
    `Authorization: Bearer <token>`. Without it anyone who reaches the port can score, so
    keep the default loopback --host or set a token. Stops on Ctrl-C or SIGTERM (exit 0).

    \b
    Example, in a published project:
        export CUSTSEG_SERVE_TOKEN="$(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        custseg serve --port 8000
        curl -H "Authorization: Bearer $CUSTSEG_SERVE_TOKEN" localhost:8000/v1/customers/12346
    """
    try:
        import uvicorn

        from custseg.serve.app import create_app
        from custseg.serve.config import ServeConfig, token_from_environment
    except ImportError as missing:
        exit_with(
            f"custseg serve needs the serve extra ({missing.name} is missing): "
            "pip install 'custseg[serve]'.",
            CONFIG_EXIT_CODE,
        )
        return
    with errors_reported():
        project_dir = given.pop("project_dir")
        from custseg.config_file import project_model_path

        model = model_path or project_model_path(config_file, {"project_dir": project_dir})
        config = ServeConfig(
            model_path=model,
            segments_path=model.parent / SEGMENTS_FILE,
            token=token_from_environment(),
            as_of_date=as_of_date.date() if as_of_date else None,
            **{name: value for name, value in given.items() if value is not None},
        )
        app = create_app(config)
    problem = _cannot_listen(host, port)
    if problem:
        exit_with(
            f"Cannot listen on {host}:{port}: {problem}. Choose another --port or --host.",
            CONFIG_EXIT_CODE,
        )
    version = app.state.model.current().version
    summary = {
        "url": f"http://{host}:{port}",
        "model_path": str(config.model_path),
        "model_version": version,
        "token_required": config.token is not None,
        "state_store": config.redis_url is not None,
    }
    if as_json:
        click.echo(json.dumps(summary), nl=True)
    elif not quiet:
        click.echo(
            f"Serving model {version[:12]} from {config.model_path} on {summary['url']} "
            f"({'bearer token required' if config.token else 'no token: anyone who reaches it'})"
        )
    if config.token is None and not _loopback(host):
        click.secho(
            f"Warning: {host} is not a loopback address and CUSTSEG_SERVE_TOKEN is not set: "
            "anyone who reaches this port can score and look up customers.",
            fg="yellow",
            err=True,
        )
    # Everything loaded so far lives as long as the process: out of the garbage collector's
    # sight, a full collection no longer walks it (a pause in the middle of a request).
    gc.freeze()
    # Ctrl-C or SIGTERM reach here after uvicorn's graceful shutdown: a normal stop.
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.run(
            app,
            host=host,
            port=port,
            access_log=False,
            log_level="warning" if quiet or as_json else "info",
            server_header=False,
        )


def _cannot_listen(host: str, port: int) -> str | None:
    """Why the service could not listen on ``host:port`` (taken, not an address here), or None."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind(address)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
