"""HTTP clients of the benchmark: usage batches posted by several client processes, and a
fixed number of concurrent clients loading one page for a while, timing every request."""

import http.client
import json
import multiprocessing
import threading
import time
from pathlib import Path


def read_batches(sample: Path, size: int) -> list[bytes]:
    """The sample's events as request bodies of ``size`` events, in file order."""
    lines = sample.read_bytes().splitlines()
    return [
        b'{"events":[' + b",".join(lines[i : i + size]) + b"]}" for i in range(0, len(lines), size)
    ]


def _post_batches(port: int, key: str, bodies: list[bytes], queue) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    accepted = duplicates = failures = 0
    first_error = ""
    latencies = []
    started = time.monotonic()
    for body in bodies:
        sent = time.perf_counter()
        try:
            connection.request("POST", "/api/v1/usage-events", body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            failures += 1
            first_error = first_error or repr(error)
            continue
        latencies.append(time.perf_counter() - sent)
        if response.status == 200:
            answer = json.loads(payload)
            accepted += answer.get("accepted", 0)
            duplicates += answer.get("duplicates", 0)
        else:
            failures += 1
            first_error = first_error or f"{response.status}: {payload[:300]!r}"
    queue.put(
        {
            "started": started,
            "finished": time.monotonic(),
            "accepted": accepted,
            "duplicates": duplicates,
            "failures": failures,
            "first_error": first_error,
            "latencies": latencies,
        }
    )


def post_usage(port: int, key: str, bodies: list[bytes], clients: int) -> dict:
    """Post every body once, spread over ``clients`` processes; wall time from the first
    request to the last answer."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    processes = [
        context.Process(target=_post_batches, args=(port, key, bodies[n::clients], queue))
        for n in range(clients)
    ]
    for process in processes:
        process.start()
    results = [queue.get() for _ in processes]
    for process in processes:
        process.join()
    latencies = sorted(x for r in results for x in r["latencies"])
    return {
        "seconds": max(r["finished"] for r in results) - min(r["started"] for r in results),
        "accepted": sum(r["accepted"] for r in results),
        "duplicates": sum(r["duplicates"] for r in results),
        "failures": sum(r["failures"] for r in results),
        "first_error": next((r["first_error"] for r in results if r["first_error"]), ""),
        "batch_p50_ms": _percentile(latencies, 50) * 1000,
        "batch_p95_ms": _percentile(latencies, 95) * 1000,
    }


def _percentile(sorted_values: list[float], percent: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(percent / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def load_page(
    port: int, path: str, headers: dict, *, clients: int, seconds: float, warmup: float = 1.0
) -> dict:
    """``clients`` threads request ``path`` back to back for ``warmup + seconds``; requests
    that start after the warm-up are timed."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    begin = time.monotonic()
    measure_from = begin + warmup
    stop_at = measure_from + seconds

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        while (now := time.monotonic()) < stop_at:
            sent = time.perf_counter()
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                with lock:
                    errors.append(repr(error))
                continue
            elapsed = time.perf_counter() - sent
            if response.status != 200:
                with lock:
                    errors.append(f"{response.status} for {path}")
            elif now >= measure_from:
                mine.append(elapsed)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies.sort()
    return {
        "requests": len(latencies),
        "requests_per_second": len(latencies) / seconds,
        "p50_ms": _percentile(latencies, 50) * 1000,
        "p95_ms": _percentile(latencies, 95) * 1000,
        "p99_ms": _percentile(latencies, 99) * 1000,
        "errors": len(errors),
        "first_error": errors[0] if errors else "",
        "clients": clients,
    }
