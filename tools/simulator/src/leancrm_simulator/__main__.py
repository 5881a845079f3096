"""``python -m leancrm_simulator --help``."""

from .cli import main

main()
