"""The read side for operations: the JSON API and the dashboard over the public views
of schema ``waste`` (contract section 6), and nothing else — what operations see is
exactly what ``leancrm_ops`` can read.

Every data route needs an operations token with ``waste:read`` (name and email also
``personal:read``; see ``leancrm_servicekit.auth``) and reads on the API's own pool.

Modules:
  api          the HTTP routes: the views, the summary, the lag, OpenAPI and the dashboard
  catalogue    the views the API serves (time column, filters, stable order), the summary's filters
  querystring  the raw query string and the checks every request passes first (BadRequest)
  params       each parameter's value and bounds: times, days, filters, paging, the summary's scope
  views        the read SQL over the views, for the API, the dashboard and the huddle
  improvements each improvement's target as a daily series, judged (domain/improvements)
  shaping      JSON values, rates, the Pareto by cost and the summary's body (no I/O)
  costs        what each waste means and what a unit of it costs in seconds
  dashboard/   the dashboard's page and static files (served at ``/`` and ``/dashboard``)
"""
