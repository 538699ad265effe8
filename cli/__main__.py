"""`python -m cli` runs the `assay` command."""

import sys

from cli.main import main

sys.exit(main())
