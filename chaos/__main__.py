"""``python -m chaos --rounds 50``: see :mod:`chaos.harness`."""

from __future__ import annotations

import argparse
import logging

from chaos.harness import ChaosConfig, run


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--events-per-channel", type=int, default=30, help="events per channel per round")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--keep", action="store_true", help="keep the work directory and database")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    config = ChaosConfig(args.rounds, args.events_per_channel, args.seed, args.keep)
    report = run(config)
    print(report.render())
    return 0 if report.clean else 1


if __name__ == "__main__":
    raise SystemExit(main())
