"""The read side for operations: the JSON API and the dashboard over the public views
of schema ``waste`` (contract section 6), and nothing else — what operations see is
exactly what ``leancrm_ops`` can read.

Modules:
  api        the HTTP routes: the views, the summary, the lag, OpenAPI and the dashboard
  dashboard/ the dashboard's page and static files (served at ``/`` and ``/dashboard``)
"""
