"""``python -m longroll`` (what torchrun starts for ``longroll batch --backend torchrun``)."""

import sys

from longroll.cli import main

if __name__ == "__main__":
    sys.exit(main())
