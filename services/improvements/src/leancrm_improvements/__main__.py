"""`python -m leancrm_improvements`: run the improvements service."""

from leancrm_improvements.app import SPEC
from leancrm_servicekit.command_service import run_service

if __name__ == "__main__":
    run_service(SPEC)
