"""Side-by-side benchmarks. Run ``make bench`` or ``python -m benchmarks --help``; never asserted in tests."""
