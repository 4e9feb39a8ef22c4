"""The real processes the benchmark drives: Celery workers (prefork, Redis broker) and a
gunicorn server, each started fresh with the benchmark's environment and stopped after use,
and their peak memory read from /proc."""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def child_env(**extra) -> dict:
    """The environment of a worker or server process: the same database and broker as this
    process, production settings (DEBUG off: no query log, no debug pages)."""
    db = connection.settings_dict
    user = quote(db.get("USER") or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{user}{password}@{host}:{port}/{db['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_RESULT_BACKEND": settings.CELERY_RESULT_BACKEND or settings.CELERY_BROKER_URL,
        "DJANGO_DEBUG": "false",
        # The same key as this process: the sessions it creates log the clients in there.
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
        # The per-key API throttles would turn a load test into a test of the throttle.
        "API_THROTTLE_USAGE": "100000000/min",
        "API_THROTTLE_DEFAULT": "100000000/min",
        "PYTHONPATH": str(ROOT),
    }
    env.update(extra)
    return env


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may contain spaces, so split after the last ')'.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set size) of a process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class CeleryWorker:
    """``celery -A portal worker`` with ``concurrency`` prefork processes."""

    def __init__(self, concurrency: int, log: Path, env: dict):
        self.concurrency = concurrency
        self.name = f"bench-{uuid.uuid4().hex[:8]}@%h"
        self.log = log
        self.env = env
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "CeleryWorker":
        from portal.celery import app

        app.control.purge()
        log = self.log.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "portal", "worker",
                "--concurrency", str(self.concurrency), "--pool", "prefork",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
                "--loglevel", "WARNING", "-n", self.name,
            ],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + 90
        hostname = self.name.replace("%h", socket.gethostname())
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the Celery worker exited; see {self.log}")
            answered = app.control.ping(destination=[hostname], timeout=0.5)
            if answered and len(self.pool_pids()) >= self.concurrency:
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the Celery worker did not answer within 90 s; see {self.log}")

    def pool_pids(self) -> list[int]:
        return _children(self.process.pid) if self.process else []

    def peak_rss_mb(self) -> float:
        """The highest peak RSS among the pool processes (they run the tasks)."""
        return max((peak_rss_mb(pid) for pid in self.pool_pids()), default=0.0)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __exit__(self, *exc) -> None:
        self.stop()


class Gunicorn:
    """``gunicorn portal.wsgi`` on 127.0.0.1:``port`` with ``workers`` sync processes."""

    def __init__(self, port: int, workers: int, log: Path, env: dict):
        self.port = port
        self.workers = workers
        self.log = log
        self.env = env
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "Gunicorn":
        log = self.log.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "portal.wsgi",
                "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers),
                "--worker-class", "sync", "--backlog", "256", "--timeout", "120",
                "--log-level", "warning",
            ],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    if len(_children(self.process.pid)) >= self.workers:
                        return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn did not listen on port {self.port} within 60 s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __exit__(self, *exc) -> None:
        self.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
