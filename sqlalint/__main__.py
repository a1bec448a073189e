import sys

from sqlalint.cli import main

sys.exit(main())
