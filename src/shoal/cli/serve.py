"""`shoal serve` (the assessment service) and `shoal worker` (a Celery worker for it).

Wiring only: settings from the TOML file / environment, overridden by the flags; the
work is `shoal.service.runtime`. Logs are structured, one JSON object per line on
stderr (`--log-format text` for key=value lines); they never carry a secret (database
URLs are shown without their password, keys and registry credentials never).
Exit codes: 0 stopped cleanly, 2 it could not start (bad settings, address in use, a
database it cannot migrate, a bad credentials key).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from shoal.config import Settings, load_settings
from shoal.errors import ShoalError

ConfigOpt = Annotated[Path | None, typer.Option(help="TOML settings file.")]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL of the service database (default: SQLite under the data dir; "
        "$SHOAL_DATABASE_URL).",
    ),
]
DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Service state: SQLite DB, credentials key file."),
]
BrokerUrl = Annotated[
    str | None, typer.Option("--broker-url", help="Celery broker (Redis URL) for --queue celery.")
]
QueueName = Annotated[str | None, typer.Option("--queue-name", help="Celery queue name.")]
LogFormat = Annotated[str, typer.Option("--log-format", help="json (default) or text.")]

# LogRecord attributes that are not "extra" fields
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's message with terminal colours
}


class JsonLines(logging.Formatter):
    """One JSON object per record: time, level, logger, message, then the `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for k, v in record.__dict__.items():
            if k not in _STANDARD and not k.startswith("_"):
                doc[k] = v if isinstance(v, str | int | float | bool | None) else str(v)
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


class KeyValue(logging.Formatter):
    """`ts=... level=info logger=... msg="..." key=value ...`"""

    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        parts = [
            f"ts={ts}",
            f"level={record.levelname.lower()}",
            f"logger={record.name}",
            f"msg={json.dumps(record.getMessage(), ensure_ascii=False)}",
        ]
        for k, v in record.__dict__.items():
            if k not in _STANDARD and not k.startswith("_"):
                text = str(v)
                parts.append(
                    f"{k}={text if text.isprintable() and ' ' not in text and text else json.dumps(text)}"
                )
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(fmt: str) -> None:
    if fmt not in ("json", "text"):
        raise typer.BadParameter(f"--log-format {fmt!r}: json or text")
    root = logging.getLogger()
    level = logging.DEBUG if root.level == logging.DEBUG else logging.INFO  # --verbose
    for h in list(root.handlers):
        root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines() if fmt == "json" else KeyValue())
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def service_settings(config: Path | None, **service: Any) -> Settings:
    """Settings from the file/environment with the given `service` fields overridden
    (None: not given)."""
    settings = load_settings(config)
    given = {k: v for k, v in service.items() if v is not None}
    if not given:
        return settings
    merged = settings.model_dump()
    merged["service"].update(given)
    try:
        return Settings.model_validate(merged)
    except ValueError as e:
        from shoal.errors import ConfigError

        raise ConfigError(f"invalid settings: {_first_error(e)}") from e


def _first_error(e: ValueError) -> str:
    errors = getattr(e, "errors", None)
    if callable(errors):
        first = errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"{where}: {first.get('msg', '')}"
    return str(e).splitlines()[0]


def _fail(e: BaseException) -> typer.Exit:
    first = (str(e).strip().splitlines() or [type(e).__name__])[0]
    typer.echo(f"error: {first}", err=True)
    return typer.Exit(2)


def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (default 127.0.0.1).")] = None,
    port: Annotated[
        int | None, typer.Option(help="Listen port (default 8080; 0: any free port).")
    ] = None,
    database_url: DatabaseUrl = None,
    workers: Annotated[
        int | None, typer.Option(help="In-process worker threads (0: queue only).")
    ] = None,
    queue: Annotated[
        str | None, typer.Option(help="inprocess (default) or celery (run `shoal worker`).")
    ] = None,
    broker_url: BrokerUrl = None,
    queue_name: QueueName = None,
    data_dir: DataDir = None,
    public_url: Annotated[
        str | None, typer.Option(help="Base URL registries reach this service at.")
    ] = None,
    scheduler: Annotated[
        bool | None,
        typer.Option("--scheduler/--no-scheduler", help="Run the periodic scheduler here."),
    ] = None,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log every HTTP request.")
    ] = True,
    log_format: LogFormat = "json",
    config: ConfigOpt = None,
) -> None:
    """Run the assessment service: REST API, webhook receivers, scheduler and workers."""
    from shoal.api import create_app
    from shoal.service.runtime import Runtime

    configure_logging(log_format)
    try:
        settings = service_settings(
            config,
            host=host,
            port=port,
            database_url=database_url,
            workers=workers,
            queue=queue,
            broker_url=broker_url,
            celery_queue=queue_name,
            data_dir=data_dir,
            public_url=public_url,
            scheduler=scheduler,
        )
    except ShoalError as e:
        raise _fail(e) from None

    def listening(url: str) -> None:
        typer.echo(f"shoal serve: listening on {url} (API {url}/api/v1, docs {url}/docs)")
        sys.stdout.flush()

    runtime = Runtime(settings, app_factory=create_app)
    try:
        runtime.serve(on_listening=listening, access_log=access_log)
    except (ShoalError, OSError) as e:  # OSError: a data dir it cannot create or write
        raise _fail(e) from None
    except KeyboardInterrupt:  # a second Ctrl-C while stopping
        typer.echo("shoal serve: stopped (forced)", err=True)
        raise typer.Exit(130) from None
    typer.echo("shoal serve: stopped")


def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(help="Worker processes/threads (default: settings service.workers)."),
    ] = None,
    pool: Annotated[
        str, typer.Option(help="Celery pool: prefork (default), threads or solo.")
    ] = "prefork",
    database_url: DatabaseUrl = None,
    broker_url: BrokerUrl = None,
    queue_name: QueueName = None,
    data_dir: DataDir = None,
    log_format: LogFormat = "json",
    config: ConfigOpt = None,
) -> None:
    """Run a Celery worker for `shoal serve --queue celery` (same database and broker)."""
    from shoal.service.celery_queue import create_celery_app

    configure_logging(log_format)
    if pool not in ("prefork", "threads", "solo"):
        raise _fail(ValueError(f"--pool {pool!r}: prefork, threads or solo"))
    try:
        settings = service_settings(
            config,
            database_url=database_url,
            broker_url=broker_url,
            celery_queue=queue_name,
            data_dir=data_dir,
            queue="celery",
        )
    except ShoalError as e:
        raise _fail(e) from None
    n = concurrency if concurrency is not None else max(1, settings.service.workers)
    if n < 1 or n > 256:
        raise _fail(ValueError(f"--concurrency {n}: between 1 and 256"))
    app = create_celery_app(settings)
    level = "DEBUG" if logging.getLogger().level == logging.DEBUG else "INFO"
    typer.echo(
        f"shoal worker: queue {settings.service.celery_queue!r}, {pool} pool, concurrency {n}"
    )
    sys.stdout.flush()
    app.worker_main(
        [
            "worker",
            f"--pool={pool}",
            f"--concurrency={n}",
            f"--queues={settings.service.celery_queue}",
            f"--loglevel={level}",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
    )
