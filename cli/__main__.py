"""``python -m supportable.cli``: the command line."""
from supportable.cli import main

main()
