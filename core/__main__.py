"""`python -m core …` — see core/cli.py."""

import os
import sys

# Before torch loads its OpenMP runtime, which reads this once: a thread waiting for the others spins
# for at most ~10k iterations (GNU's default is 300k), then sleeps. On an idle machine this costs
# nothing; when another program shares the cores, a spinning thread no longer holds a core the
# others need (benchmarks/train_speed.py on 2 cores, one taken: 148 → 84 ms/iteration at 2 threads).
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "10000")

from core.cli import main  # noqa: E402

sys.exit(main())
