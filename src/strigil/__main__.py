"""``python -m strigil`` is the ``strigil`` command."""

import sys

from strigil.cli import main

sys.exit(main())
