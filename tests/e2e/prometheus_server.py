"""A real Prometheus server for a test: loopback only, storage in a temporary folder, stopped on
exit; and its HTTP query API."""

import json
import subprocess
import time
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import yaml

from tests.e2e.metered_mesh import free_port
from tests.required_tools import program

START_SECONDS = 30.0
STOP_SECONDS = 10.0
SCRAPE_SECONDS = 1


class Prometheus:
    def __init__(self, url: str):
        self.url = url

    def _get(self, path: str, **params) -> dict:
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=10) as reply:
            body = json.loads(reply.read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        """The instant vector of `expr` now: [{"metric": labels, "value": float}]."""
        return [
            {"metric": r["metric"], "value": float(r["value"][1])}
            for r in self._get("/api/v1/query", query=expr)["result"]
        ]

    def query_range(self, expr: str, start: float, end: float) -> list[dict]:
        """Each series of `expr` over [start, end] at the scrape interval, its values as floats."""
        data = self._get("/api/v1/query_range", query=expr, start=start, end=end, step=SCRAPE_SECONDS)
        return [{"metric": r["metric"], "values": [float(v) for _, v in r["values"]]} for r in data["result"]]

    def rules(self) -> list[dict]:
        return [rule for group in self._get("/api/v1/rules")["groups"] for rule in group["rules"]]

    def alerts(self) -> list[dict]:
        return self._get("/api/v1/alerts")["alerts"]

    def wait_for(self, expr: str, accept, timeout: float = 30.0) -> list[dict]:
        """Polls `expr` until `accept(result)` holds; the last result, or AssertionError."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(expr)
            if accept(result):
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"{expr} still gives {result} after {timeout} s")
            time.sleep(SCRAPE_SECONDS / 2)


def scrape_config(targets: dict[str, dict[str, str]], rule_file: Path) -> dict:
    """`targets`: address -> the target labels a PodMonitor would give it (namespace, pod)."""
    return {
        "global": {"scrape_interval": f"{SCRAPE_SECONDS}s", "evaluation_interval": f"{SCRAPE_SECONDS}s"},
        "rule_files": [str(rule_file)],
        "scrape_configs": [
            {
                "job_name": "unclip-mesh",
                "static_configs": [
                    {"targets": [address], "labels": labels} for address, labels in targets.items()
                ],
            }
        ],
    }


@contextmanager
def running_prometheus(folder: Path, targets: dict[str, dict[str, str]], rules: dict):
    rule_file = folder / "rules.yaml"
    rule_file.write_text(yaml.safe_dump(rules))
    config = folder / "prometheus.yaml"
    config.write_text(yaml.safe_dump(scrape_config(targets, rule_file)))
    port = free_port()
    log = (folder / "prometheus.log").open("w")
    process = subprocess.Popen(
        [
            program("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _await_ready(url, process, folder / "prometheus.log")
        yield Prometheus(url)
    finally:
        process.terminate()
        try:
            process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _await_ready(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"prometheus not ready in {START_SECONDS} s:\n{log.read_text()[-3000:]}")
