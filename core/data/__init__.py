"""Task streams (benchmarks) and the raw data sources they are built from."""
