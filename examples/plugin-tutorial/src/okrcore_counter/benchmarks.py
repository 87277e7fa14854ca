"""An example benchmark plugin: typical ranges for the Counter metrics, for the Achievable check.

A plan loads it with ``plugins: [okrcore_counter.benchmarks]``; a key result whose ``metric`` is
one of these and which has no history yet then has its target compared with the range
(``SMART-A003`` when it is far outside). The figures are illustrative, made up for this tutorial
like the Counter API itself: a real benchmark plugin cites the study each range comes from in
its ``source``, and findings repeat it.
"""

from __future__ import annotations

from collections.abc import Callable

from okrcore.benchmarks import Benchmark
from okrcore.hookspecs import hookimpl

SOURCE = "okrcore tutorial, illustrative figures (not a study)"

BENCHMARKS = (
    Benchmark("counter-signup-rate:search", "counter_signup_rate_search", 2.0, 6.0, SOURCE,
              unit="%", title="sign-up rate of search visitors"),
    Benchmark("counter-signup-rate:social", "counter_signup_rate_social", 0.5, 2.0, SOURCE,
              unit="%", title="sign-up rate of social visitors"),
    Benchmark("counter-bounce-rate", "counter_bounce_rate", 35.0, 60.0, SOURCE,
              unit="%", title="bounce rate of Counter-tracked pages"),
)  # fmt: skip


@hookimpl
def okrcore_register_benchmarks(register: Callable[[Benchmark], None]) -> None:
    """Tell okrcore about the example ranges."""
    for benchmark in BENCHMARKS:
        register(benchmark)
