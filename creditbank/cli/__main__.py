"""``python -m creditbank.cli``: the same as the ``creditbank`` command."""

import sys

from creditbank.cli import main

sys.exit(main())
