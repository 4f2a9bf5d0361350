"""What is left of the caller's deadline, handed to every hop."""

import time

from services.runtime.errors import DeadlineExceeded


class Deadline:
    def __init__(self, seconds: float | None):
        self._end = None if seconds is None else time.monotonic() + seconds

    def remaining(self, stage: str) -> float | None:
        """Seconds left for a call to `stage`; raises once the deadline has passed."""
        if self._end is None:
            return None
        left = self._end - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded(f"deadline passed before the {stage} stage")
        return left
