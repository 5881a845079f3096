"""Alerts (contract sections 2.7 and 5): the rules of :mod:`leancrm_waste.domain.alerts`
evaluated every few seconds over the active store (:mod:`.queries`), raised and cleared
alerts kept in the service's own schema and published through its outbox
(:mod:`.evaluator`)."""
