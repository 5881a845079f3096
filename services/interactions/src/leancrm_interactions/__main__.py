"""`python -m leancrm_interactions`: run the interactions service."""

from leancrm_interactions.app import SPEC
from leancrm_servicekit.command_service import run_service

if __name__ == "__main__":
    run_service(SPEC)
