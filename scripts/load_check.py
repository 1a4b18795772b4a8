"""A bounded load check of a served model: concurrent clients on loopback, latency and errors.

    make serve-model &                      # the champion on 127.0.0.1:5001
    python scripts/load_check.py            # 4 clients x 200 requests of one review each

Prints p50/p99 latency, requests per second and the error count (non-200 answers or failed
connections). A measurement, not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

BODY = {"dataframe_records": [{"text": "The pasta was superb and the staff friendly."}]}


def one_client(url: str, requests: int, body: bytes) -> tuple[list[float], int]:
    """Latencies in seconds of ``requests`` sequential requests, and the number that failed."""
    latencies, errors = [], 0
    for _ in range(requests):
        request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                response.read()
                errors += response.status != 200
        except (urllib.error.URLError, OSError):
            errors += 1
        latencies.append(time.perf_counter() - started)
    return latencies, errors


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:5001/invocations")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=200, help="per client")
    args = parser.parse_args(argv)
    body = json.dumps(BODY).encode()
    started = time.perf_counter()
    with ThreadPoolExecutor(args.clients) as pool:
        results = list(
            pool.map(lambda _: one_client(args.url, args.requests, body), range(args.clients))
        )
    elapsed = time.perf_counter() - started
    latencies = sorted(latency for client, _ in results for latency in client)
    errors = sum(failed for _, failed in results)
    centiles = statistics.quantiles(latencies, n=100)
    print(
        f"{args.clients} clients x {args.requests} requests: p50 {centiles[49] * 1000:.1f} ms, "
        f"p99 {centiles[98] * 1000:.1f} ms, {len(latencies) / elapsed:.1f} requests/s, "
        f"{errors} errors"
    )


if __name__ == "__main__":
    main()
