"""``python -m supportable``: the command line (the same as the ``supportable`` command)."""
from supportable.cli import main

main()
