"""``python -m nlu parse|evaluate``: see :mod:`nlu.cli`."""

import sys

from nlu.cli import main

sys.exit(main())
