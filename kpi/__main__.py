import sys

from kpi.cli import run

sys.exit(run())
