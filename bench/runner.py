"""One benchmark run: load the data set, then measure each figure of issue 7 beside the floor
PostgreSQL sets with the same rows, and write them out (JSON and a markdown table).

Progress goes to stderr; the caller prints the table to stdout."""

import datetime as dt
import json
import os
import platform
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import django
from celery.result import AsyncResult
from django.db import connection, transaction
from django.test import Client
from django.urls import Resolver404, resolve

from accounts.models import Account
from accounts.services import api_key_create
from billing import tasks
from billing.calendar import month_start
from billing.models import Application, Invoice, PrepaidTerm, ResourcePack, UsageEvent
from billing.services import jobs

from . import dataset, history
from .http_load import load_page, post_usage, read_batches
from .processes import CeleryWorker, Gunicorn, child_env, peak_rss_mb
from .scales import BENCH_DAY, Scale

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
JOB_TIMEOUT = 1800

# The floor of the daily job: PostgreSQL's own GROUP BY of the day (issue 7).
BARE_AGGREGATE = """
SELECT application_id, metric, count(*), sum(value), max(value),
       count(DISTINCT dimension) FILTER (WHERE metric = 'im.login') AS users
FROM billing_usageevent
WHERE billing_day = %s
GROUP BY application_id, metric
"""

TARGETS = {
    "api_events_per_second": 50_000,
    "api_share_of_copy": 0.25,
    "daily_job_ratio": 3.0,
    "memory_ratio": 1.2,
    "invoices_per_second": 2_000,
    "p95_ms": 50.0,
}


def endpoint_available(path: str) -> bool:
    try:
        resolve(path)
    except Resolver404:
        return False
    return True


class Bench:
    def __init__(
        self,
        scale: Scale,
        *,
        work: Path,
        port: int,
        results: Path = RESULTS,
        http: bool = True,
        profile: bool = False,
        day: dt.date = BENCH_DAY,
    ):
        self.scale = scale
        self.day = day
        self.work = work
        self.port = port
        self.results_dir = results
        self.http = http
        self.profile = profile
        self.started = time.monotonic()
        chunking = {}
        if scale.chunk_applications:
            chunking["BILLING_CHUNK_APPLICATIONS"] = str(scale.chunk_applications)
        self.env = child_env(**chunking)
        self.figures: dict = {}
        self.notes: list[str] = []
        self.loaded_term_id = 0
        self.apps: list[dataset.App] = []

    # ------------------------------------------------------------------------------------
    def log(self, message: str) -> None:
        elapsed = time.monotonic() - self.started
        sys.stderr.write(f"[bench {elapsed:7.1f}s] {message}\n")
        sys.stderr.flush()

    def note(self, message: str) -> None:
        self.notes.append(message)
        self.log(f"NOTE: {message}")

    @contextmanager
    def step(self, label: str):
        self.log(f"{label} ...")
        started = time.monotonic()
        yield
        self.log(f"{label}: {time.monotonic() - started:.1f} s")

    def sql(self, query: str, params=None, *, fetch: bool = False):
        with connection.cursor() as cursor:
            cursor.execute(query, params)
            return cursor.fetchall() if fetch else None

    # ------------------------------------------------------------------------------------
    def run(self) -> dict:
        self.work.mkdir(parents=True, exist_ok=True)
        self.log(
            f"scale {self.scale.name}: {self.scale.accounts:,} accounts, "
            f"{self.scale.applications:,} applications, {self.scale.events:,} events on "
            f"{self.day}"
        )
        machine = describe_machine()
        self.load()
        self.ingestion()
        self.aggregate()
        self.daily_jobs()
        self.pages()
        report = {
            "scale": self.scale.name,
            "sizes": {
                "accounts": self.scale.accounts,
                "applications": self.scale.applications,
                "events": self.scale.events,
                "billing_day": str(self.day),
            },
            "machine": machine,
            "command": f"make bench BENCH_SCALE={self.scale.name}",
            "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "total_seconds": round(time.monotonic() - self.started, 1),
            "figures": self.figures,
            "targets": targets_met(self.figures),
            "notes": self.notes,
        }
        return report

    # ------------------------------------------------------------------------------------
    def load(self) -> None:
        rng = dataset.random.Random(self.scale.seed)
        with self.step("accounts, applications, editions, add-ons, terms and packs (COPY)"):
            self.apps = dataset.load_entities(self.scale, self.day, rng, self.log)
        self.loaded_term_id = PrepaidTerm.objects.order_by("-pk").values_list("pk", flat=True)[0]
        with self.step(f"writing {self.scale.events:,} events to {self.work}"):
            self.files = dataset.write_events(
                self.scale, self.day, self.apps, rng, self.work, self.log
            )
        self.log(f"events per metric: {self.files.metrics}")
        rows = self.files.bulk_rows
        started = time.monotonic()
        with self.step(f"COPY of {rows:,} events"):
            dataset.copy_file(
                self.files.bulk, "billing_usageevent", dataset.EVENT_COLUMNS, progress=self.log
            )
        seconds = time.monotonic() - started
        self.figures["bulk_copy"] = {
            "events": rows,
            "seconds": round(seconds, 2),
            "events_per_second": round(rows / seconds),
        }
        with self.step(
            "VACUUM ANALYZE of the usage table, ANALYZE of the rest (as autovacuum would)"
        ):
            self.sql("VACUUM ANALYZE billing_usageevent")
            self.sql("ANALYZE")

    # ------------------------------------------------------------------------------------
    def ingestion(self) -> None:
        sample = self.files.sample_rows
        figures = {"events": sample, "batch_size": 1000}
        started = time.monotonic()
        columns = dataset.EVENT_COLUMNS
        with (
            self.step(f"raw COPY of the {sample:,} sample events (rolled back)"),
            transaction.atomic(),
        ):
            dataset.copy_file(self.files.sample_copy, "billing_usageevent", columns)
            transaction.set_rollback(True)
        copy_seconds = time.monotonic() - started
        figures["copy_seconds"] = round(copy_seconds, 3)
        figures["copy_events_per_second"] = round(sample / copy_seconds)

        path = "/api/v1/usage-events"
        if not self.http or not endpoint_available(path):
            reason = "HTTP measurements off" if not self.http else "endpoint not available yet"
            self.note(f"ingestion through the API skipped: {path} {reason}; sample loaded by COPY")
            figures["api_skipped"] = f"{path}: {reason}"
            dataset.copy_file(self.files.sample_copy, "billing_usageevent", dataset.EVENT_COLUMNS)
            self.figures["ingestion"] = figures
            return
        _, key = api_key_create(account=None, is_service=True, name="bench")
        bodies = read_batches(self.files.sample_json, 1000)
        workers = self.scale.server_workers
        with (
            Gunicorn(self.port, workers, self.work / "gunicorn.log", self.env),
            self.step(
                f"{len(bodies)} batches through POST {path}, {self.scale.api_clients} clients, "
                f"gunicorn with {workers} workers"
            ),
        ):
            posted = post_usage(self.port, key, bodies, self.scale.api_clients)
        if posted["failures"] or posted["accepted"] != sample:
            raise RuntimeError(
                f"ingestion through the API failed: {posted['failures']} failed batches, "
                f"{posted['accepted']} of {sample} accepted; first error: "
                f"{posted['first_error']}"
            )
        figures.update(
            {
                "api_seconds": round(posted["seconds"], 3),
                "api_events_per_second": round(sample / posted["seconds"]),
                "api_clients": self.scale.api_clients,
                "server_workers": workers,
                "batch_p50_ms": round(posted["batch_p50_ms"], 1),
                "batch_p95_ms": round(posted["batch_p95_ms"], 1),
            }
        )
        figures["api_share_of_copy"] = round(
            figures["api_events_per_second"] / figures["copy_events_per_second"], 3
        )
        self.figures["ingestion"] = figures

    # ------------------------------------------------------------------------------------
    def aggregate(self) -> None:
        total = UsageEvent.objects.filter(billing_day=self.day).count()
        if total != self.scale.events:
            raise RuntimeError(f"{total} events stored for the day, expected {self.scale.events}")
        self.sql("ANALYZE billing_usageevent")
        timings = []
        for _ in range(2):  # the first run warms the cache, as the daily job finds it warm
            started = time.monotonic()
            rows = self.sql(BARE_AGGREGATE, [self.day], fetch=True)
            timings.append(time.monotonic() - started)
        plan = self.sql("EXPLAIN (ANALYZE, BUFFERS) " + BARE_AGGREGATE, [self.day], fetch=True)
        (self.work / "aggregate-plan.txt").write_text("\n".join(r[0] for r in plan) + "\n")
        self.figures["aggregate"] = {
            "seconds": round(min(timings), 3),
            "groups": len(rows),
            "events": total,
        }
        self.log(f"bare GROUP BY of the day: {min(timings):.2f} s, {len(rows):,} groups")

    # ------------------------------------------------------------------------------------
    def reset_day(self) -> None:
        """Remove what a daily job wrote, so the next run does the same work."""
        self.sql(
            "TRUNCATE billing_chargecoverage, billing_charge, billing_ratedday, billing_jobrun, "
            "billing_invoiceline, billing_invoice, billing_auditrecord CASCADE"
        )
        new_terms = PrepaidTerm.objects.filter(pk__gt=self.loaded_term_id)
        ResourcePack.objects.filter(term__in=new_terms).delete()
        new_terms.delete()

    def worker(self, concurrency: int) -> CeleryWorker:
        return CeleryWorker(concurrency, self.work / "celery.log", self.env)

    def run_daily(self, worker: CeleryWorker, account_ids: list[int] | None, label: str) -> dict:
        """The daily job through the real task (a chord over the worker's processes)."""
        concurrency = worker.concurrency
        applications = Application.objects.filter(
            **({"account_id__in": account_ids} if account_ids is not None else {})
        ).count()
        profiler = self._start_profiler(worker, label)
        started = time.monotonic()
        chord_id = tasks.bill_day.delay(str(self.day), account_ids).get(timeout=JOB_TIMEOUT)
        totals = AsyncResult(chord_id).get(timeout=JOB_TIMEOUT)
        seconds = time.monotonic() - started
        self._stop_profiler(profiler)
        rss = worker.peak_rss_mb()
        self.log(
            f"daily job, {label}: {seconds:.1f} s, {applications:,} applications, "
            f"{totals.get('charges_written', 0):,} charges, peak RSS {rss:.0f} MiB"
        )
        return {
            "seconds": round(seconds, 2),
            "applications": applications,
            "charges_written": totals.get("charges_written", 0),
            "peak_rss_mib": round(rss, 1),
            "worker_processes": concurrency,
        }

    def _start_profiler(self, worker: CeleryWorker, label: str):
        if not self.profile:
            return None
        pid = worker.process.pid
        name = label.replace(",", "").replace(" ", "-")
        target = self.results_dir / "profiles" / f"{self.scale.name}-{name}.speedscope"
        target.parent.mkdir(parents=True, exist_ok=True)
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid),
             "--subprocesses", "-r", "100", "-f", "speedscope", "-o", str(target),
             "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(1)
        return process

    def _stop_profiler(self, process) -> None:
        if process is not None:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)

    def daily_jobs(self) -> None:
        # The smaller run: the first chunks of the job (whole chunks, as the job cuts them),
        # until they hold memory_applications applications.
        subset, covered = [], 0
        counts = dict(
            Application.objects.values_list("account_id").annotate(n=models_count()).order_by()
        )
        for chunk in jobs.account_chunks(applications_per_chunk=self.scale.chunk_applications):
            if covered >= self.scale.memory_applications:
                break
            subset += chunk
            covered += sum(counts[account_id] for account_id in chunk)
        # Each memory figure from a fresh worker: peak RSS only ever grows in a process.
        self.reset_day()
        with self.worker(1) as worker:
            small = self.run_daily(worker, subset, f"1 worker, {covered:,} applications")
        self.reset_day()
        with self.worker(1) as worker:
            one = self.run_daily(worker, None, "1 worker")
        self.reset_day()
        with self.worker(2) as worker:
            two = self.run_daily(worker, None, "2 workers")
            self.monthly_close(worker)
        if one["charges_written"] != two["charges_written"]:
            raise RuntimeError("the 1-worker and 2-worker runs wrote different charges")
        aggregate = self.figures["aggregate"]["seconds"]
        self.figures["daily_job"] = {
            "one_worker": one,
            "two_workers": two,
            "ratio_one_worker": round(one["seconds"] / aggregate, 2),
            "ratio_two_workers": round(two["seconds"] / aggregate, 2),
        }
        self.figures["worker_memory"] = {
            "small": {"applications": small["applications"], "peak_rss_mib": small["peak_rss_mib"]},
            "full": {"applications": one["applications"], "peak_rss_mib": one["peak_rss_mib"]},
            "ratio": round(one["peak_rss_mib"] / small["peak_rss_mib"], 3),
        }

    # ------------------------------------------------------------------------------------
    def monthly_close(self, worker: CeleryWorker) -> None:
        """The monthly close through the real task (a chord), on the 2-process worker."""
        month = month_start(self.day)
        drafts = Invoice.objects.filter(month=month, state=Invoice.State.DRAFT).count()
        profiler = self._start_profiler(worker, "monthly close")
        started = time.monotonic()
        chord_id = tasks.close_month_fan_out.delay(str(month)).get(timeout=JOB_TIMEOUT)
        totals = AsyncResult(chord_id).get(timeout=JOB_TIMEOUT)
        seconds = time.monotonic() - started
        self._stop_profiler(profiler)
        finalized = totals.get("invoices_finalized", 0)
        still_draft = Invoice.objects.filter(month=month, state=Invoice.State.DRAFT).count()
        if still_draft:
            raise RuntimeError(f"{still_draft} invoices of {month:%Y-%m} are still drafts")
        self.figures["monthly_close"] = {
            "seconds": round(seconds, 2),
            "accounts": self.scale.accounts,
            "drafts_before": drafts,
            "invoices_finalized": finalized,
            "invoices_per_second": round(finalized / seconds),
            "worker_processes": worker.concurrency,
        }
        self.log(f"monthly close: {finalized:,} invoices in {seconds:.1f} s")

    # ------------------------------------------------------------------------------------
    def pages(self) -> None:
        added = history.ensure_invoices(self.scale.invoices, before=month_start(self.day))
        invoices = Invoice.objects.count()
        figures: dict = {"invoices_in_database": invoices, "history_invoices_added": added}
        self.figures["pages"] = figures
        if not self.http:
            self.note("page latencies skipped: HTTP measurements off")
            return
        # A typical customer (the median number of applications) for the figures, and the
        # largest one (the most applications) for its dashboard.
        accounts = list(
            Account.objects.annotate(n=models_count("applications")).order_by("n", "pk")
        )
        typical, largest = accounts[len(accounts) // 2], accounts[-1]
        key = api_key_create(account=typical, name="bench")[1]
        figures["account"] = {
            "applications": typical.n,
            "invoices": Invoice.objects.filter(account=typical).count(),
            "largest_account_applications": largest.n,
        }
        pages = {
            "invoice_list": ("/api/v1/invoices", {"Authorization": f"Bearer {key}"}),
            "dashboard": ("/", {"Cookie": f"sessionid={session_of(typical)}"}),
            "dashboard_largest_account": ("/", {"Cookie": f"sessionid={session_of(largest)}"}),
        }
        with Gunicorn(self.port, self.scale.server_workers, self.work / "gunicorn.log", self.env):
            for name, (path, headers) in pages.items():
                if not endpoint_available(path):
                    self.note(f"{name} latency skipped: {path} endpoint not available yet")
                    figures[name] = {"skipped": f"{path}: endpoint not available yet"}
                    continue
                warm_up(self.port, "GET", path, headers, self.scale.server_workers)
                with self.step(f"{name}: GET {path}, {self.scale.http_clients} clients"):
                    result = load_page(
                        self.port,
                        path,
                        headers,
                        clients=self.scale.http_clients,
                        seconds=self.scale.http_seconds,
                    )
                if result["errors"]:
                    raise RuntimeError(
                        f"{name}: {result['errors']} errors: {result['first_error']}"
                    )
                figures[name] = {k: round(v, 1) if isinstance(v, float) else v
                                 for k, v in result.items()}  # fmt: skip
                self.log(
                    f"{name}: p50 {result['p50_ms']:.1f} ms, p95 {result['p95_ms']:.1f} ms, "
                    f"{result['requests_per_second']:.0f} req/s"
                )


def session_of(account: Account) -> str:
    """A logged-in session of the account's owner (as the login page would make it)."""
    client = Client()
    client.force_login(account.memberships.get(role="owner").user)
    return client.cookies["sessionid"].value


def warm_up(port: int, method: str, path: str, headers: dict, workers: int) -> None:
    """A few requests per server process before anything is timed: each gunicorn worker
    imports the views on its first request."""
    import http.client

    body = b'{"events": []}' if method == "POST" else None
    for _ in range(3 * workers):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        connection.request(
            method, path, body=body, headers={**headers, "Content-Type": "application/json"}
        )
        connection.getresponse().read()
        connection.close()


def models_count(*args):
    from django.db.models import Count

    return Count(*args) if args else Count("pk")


def describe_machine() -> dict:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory_kib = int(line.split()[1])
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
        cursor.execute("SHOW shared_buffers")
        shared_buffers = cursor.fetchone()[0]
        cursor.execute("SHOW max_parallel_workers_per_gather")
        parallel = cursor.fetchone()[0]
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "postgresql": postgres,
        "shared_buffers": shared_buffers,
        "max_parallel_workers_per_gather": parallel,
        "python": platform.python_version(),
        "django": django.get_version(),
        "kernel": platform.release(),
    }


def targets_met(figures: dict) -> list[dict]:
    rows = []

    def add(name, value, target, *, at_least: bool):
        met = None if value is None else (value >= target if at_least else value <= target)
        rows.append({"target": name, "value": value, "goal": target, "met": met})

    ingestion = figures.get("ingestion", {})
    add("API ingestion, events/s", ingestion.get("api_events_per_second"),
        TARGETS["api_events_per_second"], at_least=True)  # fmt: skip
    add("API ingestion / raw COPY", ingestion.get("api_share_of_copy"),
        TARGETS["api_share_of_copy"], at_least=True)  # fmt: skip
    daily = figures.get("daily_job", {})
    add("daily job (1 worker) / bare aggregate", daily.get("ratio_one_worker"),
        TARGETS["daily_job_ratio"], at_least=False)  # fmt: skip
    add("daily job (2 workers) / bare aggregate", daily.get("ratio_two_workers"),
        TARGETS["daily_job_ratio"], at_least=False)  # fmt: skip
    if daily:
        faster = daily["two_workers"]["seconds"] < daily["one_worker"]["seconds"]
        rows.append({"target": "2 workers faster than 1", "value": faster, "goal": True,
                     "met": faster})  # fmt: skip
    memory = figures.get("worker_memory", {})
    add("worker peak RSS, full / small", memory.get("ratio"), TARGETS["memory_ratio"],
        at_least=False)  # fmt: skip
    close = figures.get("monthly_close", {})
    add("monthly close, invoices/s", close.get("invoices_per_second"),
        TARGETS["invoices_per_second"], at_least=True)  # fmt: skip
    pages = figures.get("pages", {})
    for name in ("invoice_list", "dashboard"):
        add(f"{name} p95 ms", pages.get(name, {}).get("p95_ms"), TARGETS["p95_ms"],
            at_least=False)  # fmt: skip
    return rows


def markdown(report: dict) -> str:
    f = report["figures"]
    m = report["machine"]

    def get(*path, default="skipped"):
        value = f
        for key in path:
            if not isinstance(value, dict) or key not in value:
                return default
            value = value[key]
        return value

    def num(value, digits=0):
        if isinstance(value, int | float):
            return f"{value:,.{digits}f}"
        return str(value)

    ing, daily, mem = get("ingestion", default={}), get("daily_job", default={}), {}
    mem = get("worker_memory", default={})
    lines = [
        f"Scale `{report['scale']}`: {report['sizes']['accounts']:,} accounts, "
        f"{report['sizes']['applications']:,} applications, {report['sizes']['events']:,} "
        f"events on {report['sizes']['billing_day']}. Machine: {m['cpu']}, {m['cores']} cores, "
        f"{m['memory_gib']} GiB, PostgreSQL {m['postgresql']} (shared_buffers "
        f"{m['shared_buffers']}), Python {m['python']}, load average at start "
        f"{', '.join(str(x) for x in m['load_average_at_start'])}. "
        f"`{report['command']}`, {report['total_seconds']:,.0f} s in all.",
        "",
        "| measure | ours | PostgreSQL floor | ratio | target | met |",
        "|---|---|---|---|---|---|",
    ]
    targets = {row["target"]: row for row in report["targets"]}

    def met(name):
        row = targets.get(name)
        if row is None or row["met"] is None:
            return "n/a"
        return "yes" if row["met"] else "**no**"

    lines.append(
        "| ingestion, events/s (batches of 1000) | "
        f"{num(ing.get('api_events_per_second', 'skipped'))} | "
        f"{num(ing.get('copy_events_per_second'))} (COPY) | "
        f"{num(ing.get('api_share_of_copy', 'n/a'), 2)} | >= 50,000 and >= 0.25 | "
        f"{met('API ingestion, events/s')} / {met('API ingestion / raw COPY')} |"
    )
    aggregate = get("aggregate", "seconds")
    for label, key, ratio in (
        ("1 worker", "one_worker", "ratio_one_worker"),
        ("2 workers", "two_workers", "ratio_two_workers"),
    ):
        lines.append(
            f"| daily job, s ({label}) | {num(daily.get(key, {}).get('seconds'), 1)} | "
            f"{num(aggregate, 2)} (GROUP BY) | {num(daily.get(ratio), 2)} | <= 3 | "
            f"{met(f'daily job ({label}) / bare aggregate')} |"
        )
    close = get("monthly_close", default={})
    lines.append(
        f"| monthly close, invoices/s ({num(close.get('invoices_finalized'))} invoices) | "
        f"{num(close.get('invoices_per_second'))} | | | >= 2,000 | "
        f"{met('monthly close, invoices/s')} |"
    )
    lines.append(
        f"| worker peak RSS, MiB ({num(get('worker_memory', 'small', 'applications'))} / "
        f"{num(get('worker_memory', 'full', 'applications'))} applications) | "
        f"{num(get('worker_memory', 'small', 'peak_rss_mib'))} / "
        f"{num(get('worker_memory', 'full', 'peak_rss_mib'))} | | "
        f"{num(mem.get('ratio', 'n/a'), 2)} | <= 1.2 | {met('worker peak RSS, full / small')} |"
    )
    account = get("pages", "account", default={})
    typical_apps = account.get("applications")
    largest_apps = account.get("largest_account_applications")
    for name, label in (
        (
            "invoice_list",
            f"GET /api/v1/invoices, typical account ({account.get('applications')} apps)",
        ),
        ("dashboard", f"GET / (dashboard), typical account ({typical_apps} apps)"),
        (
            "dashboard_largest_account",
            f"GET / (dashboard), largest account ({largest_apps} apps)",
        ),
    ):
        page = get("pages", name, default={})
        if "p95_ms" in page:
            figure = (
                f"p50 {num(page['p50_ms'], 1)} ms, p95 {num(page['p95_ms'], 1)} ms, "
                f"{num(page['requests_per_second'])} req/s"
            )
        else:
            figure = page.get("skipped", "skipped")
        goal = "p95 <= 50 ms" if name != "dashboard_largest_account" else "(not a target)"
        lines.append(
            f"| {label}, 10 clients, {num(get('pages', 'invoices_in_database'))} invoices | "
            f"{figure} | | | {goal} | {met(f'{name} p95 ms')} |"
        )
    if report["notes"]:
        lines.append("")
        lines += [f"- {note}" for note in report["notes"]]
    return "\n".join(lines) + "\n"


def write(report: dict, directory: Path, name: str) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / f"{name}.json"
    md_path = directory / f"{name}.md"
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    md_path.write_text(markdown(report))
    return json_path, md_path


__all__ = ["Bench", "markdown", "write", "peak_rss_mb"]
