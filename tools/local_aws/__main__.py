"""``python tools/local_aws ARGS`` (or ``python -m local_aws ARGS`` from tools/): the local AWS's command line."""

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a directory: import the package from tools/, not its files as top level
    here = str(Path(__file__).resolve().parent)
    sys.path = [p for p in sys.path if str(Path(p or ".").resolve()) != here]
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from local_aws.server import main  # noqa: E402

sys.exit(main())
