"""Request metrics in the Prometheus text format (version 0.0.4): request counts by route, method and
status, a latency histogram by route, and a histogram of micro-batch sizes. Updated on the event loop
thread only, so plain dictionaries suffice."""

from __future__ import annotations

import bisect
from collections import defaultdict

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


class Histogram:
    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)  # the last is +Inf
        self.total = 0.0
        self.n = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.n += 1

    def lines(self, name: str, labels: str) -> list[str]:
        sep = "," if labels else ""
        out, cumulative = [], 0
        for bound, count in zip((*self.buckets, float("inf")), self.counts, strict=True):
            cumulative += count
            le = "+Inf" if bound == float("inf") else repr(bound)
            out.append(f'{name}_bucket{{{labels}{sep}le="{le}"}} {cumulative}')
        braces = f"{{{labels}}}" if labels else ""
        out += [f"{name}_sum{braces} {self.total:.6f}", f"{name}_count{braces} {self.n}"]
        return out


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class ServerMetrics:
    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.latency: dict[str, Histogram] = {}
        self.batch_sizes = Histogram(BATCH_BUCKETS)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests[(route, method, status)] += 1
        if route not in self.latency:
            self.latency[route] = Histogram(LATENCY_BUCKETS)
        self.latency[route].observe(seconds)

    def observe_batch(self, n_queries: int) -> None:
        self.batch_sizes.observe(n_queries)

    def render(self) -> str:
        lines = [
            "# HELP biobridge_requests_total HTTP requests answered, by route template, method and status.",
            "# TYPE biobridge_requests_total counter",
        ]
        for (route, method, status), n in sorted(self.requests.items()):
            lines.append(
                f'biobridge_requests_total{{route="{_escape(route)}",method="{method}",status="{status}"}} {n}'
            )
        lines += [
            "# HELP biobridge_request_duration_seconds Time from request to response, by route template.",
            "# TYPE biobridge_request_duration_seconds histogram",
        ]
        for route, hist in sorted(self.latency.items()):
            lines += hist.lines("biobridge_request_duration_seconds", f'route="{_escape(route)}"')
        lines += [
            "# HELP biobridge_retrieve_batch_queries Queries answered per micro-batched retrieve call.",
            "# TYPE biobridge_retrieve_batch_queries histogram",
            *self.batch_sizes.lines("biobridge_retrieve_batch_queries", ""),
        ]
        return "\n".join(lines) + "\n"
