"""``python -m strigil.cli`` is the ``strigil`` command."""

import sys

from strigil.cli import main

sys.exit(main())
