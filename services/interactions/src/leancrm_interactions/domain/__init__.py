"""The interactions domain (pure: no I/O): interaction and agent streams."""

from leancrm_interactions.domain.decider import InteractionsDecider
from leancrm_interactions.domain.state import Agent, Interaction, NoStream, State, evolve

__all__ = ["Agent", "Interaction", "InteractionsDecider", "NoStream", "State", "evolve"]
