"""``manage.py bench``: the benchmark of issue 7 (``make bench``). See README, "Benchmark"."""

import os
from pathlib import Path

import psycopg
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from bench import runner
from bench.processes import free_port
from bench.scales import SCALES, scale_named


class Command(BaseCommand):
    help = (
        "Generate the benchmark data set in the configured PostgreSQL database and measure "
        "ingestion, the daily job, the monthly close, worker memory and page latency against "
        "PostgreSQL's own floor. Progress on stderr, the figures table on stdout, JSON and "
        "markdown in bench/results/."
    )
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("--scale", default="small", choices=sorted(SCALES))
        parser.add_argument(
            "--fresh",
            action="store_true",
            help="drop and recreate the database first (its name must contain 'bench')",
        )
        parser.add_argument("--port", type=int, help="port of the gunicorn server (default: free)")
        parser.add_argument("--results", default=str(runner.RESULTS), help="directory for JSON")
        parser.add_argument("--name", default="latest", help="file name of the results")
        parser.add_argument("--work", default="bench-output", help="directory for event files")
        parser.add_argument("--no-http", action="store_true", help="skip the HTTP measurements")
        parser.add_argument("--profile", action="store_true", help="py-spy the daily job")
        parser.add_argument("--keep-files", action="store_true", help="keep the event files")

    def handle(self, *args, scale, fresh, port, results, name, work, no_http, profile, **opts):
        db = settings.DATABASES["default"]
        if db["ENGINE"] != "django.db.backends.postgresql":
            raise CommandError("the benchmark needs PostgreSQL: set DATABASE_URL")
        if not settings.CELERY_BROKER_URL:
            raise CommandError("the benchmark needs a Celery broker: set CELERY_BROKER_URL")
        if fresh:
            self._recreate(db)
            call_command("migrate", verbosity=0, interactive=False)
        chosen = scale_named(scale)
        work_dir = Path(work) / chosen.name
        bench = runner.Bench(
            chosen,
            work=work_dir,
            port=port or free_port(),
            results=Path(results),
            http=not no_http,
            profile=profile,
        )
        report = bench.run()
        json_path, md_path = runner.write(report, Path(results), name)
        if not opts["keep_files"]:
            for leftover in ("events.copy", "sample.copy", "sample.jsonl"):
                (work_dir / leftover).unlink(missing_ok=True)
        self.stderr.write(f"figures written to {json_path} and {md_path}")
        self.stdout.write(runner.markdown(report))

    def _recreate(self, db: dict) -> None:
        name = db["NAME"]
        if "bench" not in name:
            raise CommandError(f"--fresh drops the database; {name!r} does not look like one")
        connection.close()
        params = {
            "host": db.get("HOST") or "127.0.0.1",
            "port": db.get("PORT") or 5432,
            "user": db.get("USER") or os.environ.get("USER"),
            "dbname": "postgres",
            "autocommit": True,
        }
        if db.get("PASSWORD"):
            params["password"] = db["PASSWORD"]
        with psycopg.connect(**params) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')
