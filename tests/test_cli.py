import subprocess
import sys

from mlmon_tui import __version__


def test_version_flag_prints_version():
    out = subprocess.run(
        [sys.executable, "-m", "mlmon_tui", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0
    assert out.stdout.strip() == f"mlmon-tui {__version__}"
