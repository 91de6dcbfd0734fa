"""A case that outlives the per-module timeout."""

import time


def case_sleeps():
    time.sleep(60)
