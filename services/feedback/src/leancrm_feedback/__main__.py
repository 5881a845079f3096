"""`python -m leancrm_feedback`: run the feedback service."""

from leancrm_feedback.app import SPEC
from leancrm_servicekit.command_service import run_service

if __name__ == "__main__":
    run_service(SPEC)
