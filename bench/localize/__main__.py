"""`python -m bench.localize --repos-dir DIR [--aider-python PATH]`: see README.md."""

import sys

from bench.localize.run import main

sys.exit(main())
