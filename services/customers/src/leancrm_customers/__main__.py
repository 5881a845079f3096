"""`python -m leancrm_customers`: run the customers service."""

from leancrm_customers.app import SPEC
from leancrm_servicekit.command_service import run_service

if __name__ == "__main__":
    run_service(SPEC)
