"""``python -m leancrm_chaos``: see cli.py."""

from .cli import main

if __name__ == "__main__":
    main()
