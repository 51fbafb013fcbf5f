"""Test-wide settings: in CI, property tests draw the same examples every run (a failure
there is reproducible, not a coin toss); locally they explore."""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
