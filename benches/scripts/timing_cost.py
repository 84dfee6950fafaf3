#!/usr/bin/env python3
"""What the lanes' latency timing costs `best`, measured in pairs.

Runs the e2e bench's server once, then alternates single client runs of
`best` with timing on (one message in 64, the default) and off, rotating
which goes first, and a `baseline` run each round; prints each round's
throughputs and the ratio timed / untimed, then the median and mean.
Pairs taken seconds apart see the same machine, which separate e2e
invocations (minutes apart) on a shared VM do not.

    cargo build --release -p hypersockets-bench --bin e2e
    python3 benches/scripts/timing_cost.py [--rounds 20] [--n 1000000]
"""

import argparse
import json
import statistics
import subprocess
import sys


def client(e2e, port, kind, n, timing):
    args = [e2e, "client", "--kind", kind, "--lanes", "default", "--port", str(port),
            "--n", str(n), "--rate", "0"]
    if timing is not None:
        args += ["--timing", str(timing)]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("REPORT "))
    report = json.loads(line[len("REPORT "):])
    return report["messages"] / (report["elapsed_ns"] / 1e9)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--e2e", default="target/release/e2e")
    options = parser.parse_args()
    server = subprocess.Popen([options.e2e, "serve", "--n", "100000"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    line = server.stdout.readline().split()
    assert line[0] == "LISTENING", line
    port = int(line[1])
    ratios, timed_all, untimed_all = [], [], []
    try:
        for round_ in range(options.rounds):
            order = [64, 0] if round_ % 2 == 0 else [0, 64]
            figures = {}
            baseline = client(options.e2e, port, "baseline", options.n, None)
            for timing in order:
                figures[timing] = client(options.e2e, port, "best", options.n, timing)
            ratio = figures[64] / figures[0]
            ratios.append(ratio)
            timed_all.append(figures[64] / baseline)
            untimed_all.append(figures[0] / baseline)
            print(f"round {round_ + 1:2}: baseline {baseline:>10,.0f}/s  best timed "
                  f"{figures[64]:>10,.0f}/s  untimed {figures[0]:>10,.0f}/s  "
                  f"timed/untimed {ratio:.3f}", flush=True)
    finally:
        server.stdin.close()
        server.wait()
    print(f"timed/untimed: median {statistics.median(ratios):.3f}, "
          f"mean {statistics.mean(ratios):.3f}, "
          f"stdev {statistics.stdev(ratios):.3f} over {len(ratios)} rounds")
    print(f"best/baseline: timed median {statistics.median(timed_all):.3f}, "
          f"untimed median {statistics.median(untimed_all):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
