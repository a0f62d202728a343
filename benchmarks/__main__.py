"""``python -m benchmarks [--events N] [--only NAME,...]``: run the side-by-side benchmarks."""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import tempfile
from dataclasses import asdict
from pathlib import Path

import benchmarks
from benchmarks.harness import BenchContext, format_table, measure


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--only", default="", help="comma-separated benchmark names (e.g. backfill,load)")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the measurements as JSON")
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="sample every thread of every case; write DIR/<case>.txt (where the time went)",
    )
    args = parser.parse_args()
    only = {n.strip() for n in args.only.split(",") if n.strip()}
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="cardflow-bench-"))
    ctx = BenchContext(events=args.events, seed=args.seed, workdir=workdir)
    (workdir / "bench_results.json").unlink(missing_ok=True)  # baselines are this run's own
    if args.profile:
        ctx.extra["profile_dir"] = str(args.profile.resolve())
    rows = []
    for info in sorted(pkgutil.iter_modules(benchmarks.__path__), key=lambda m: m.name):
        if not info.name.startswith("bench_"):
            continue
        name = info.name.removeprefix("bench_")
        if only and name not in only:
            continue
        module = importlib.import_module(f"benchmarks.{info.name}")
        for case in module.cases(ctx):
            m = measure(case, ctx)
            print(format_table([m]).splitlines()[-1], flush=True)
            rows.append(m)
    print()
    print(f"{args.events:,} events, seed {args.seed}, workdir {workdir}")
    print(format_table(rows))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=2, default=str))


if __name__ == "__main__":
    main()
