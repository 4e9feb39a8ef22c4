"""Progress on stderr for long operator commands, so stdout carries only the result."""

import sys
import time


class StderrProgress:
    def __init__(self, label: str):
        self.label = label
        self.started = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        elapsed = time.monotonic() - self.started
        sys.stderr.write(f"\r{self.label}: chunk {done}/{total} ({elapsed:.1f} s)")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()
