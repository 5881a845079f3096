#!/bin/sh
# Run by the postgres image once, when it initialises an empty data directory:
# creates the Lean CRM database, the service roles, their schemas' owners and
# leancrm_ops (../leancrm-init.sql, mounted at /leancrm/leancrm-init.sql), with the
# passwords from the container's environment (no defaults: each must be set). To apply
# it to an existing volume, run
#   docker compose exec postgres sh /docker-entrypoint-initdb.d/10-leancrm.sh
set -e
psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
     -v db="${LEANCRM_DB:-leancrm}" \
     -v customers_password="${LEANCRM_CUSTOMERS_DB_PASSWORD:?}" \
     -v interactions_password="${LEANCRM_INTERACTIONS_DB_PASSWORD:?}" \
     -v feedback_password="${LEANCRM_FEEDBACK_DB_PASSWORD:?}" \
     -v waste_password="${LEANCRM_WASTE_DB_PASSWORD:?}" \
     -v ops_password="${LEANCRM_OPS_DB_PASSWORD:?}" \
     -v customers_owner_password="${LEANCRM_CUSTOMERS_OWNER_DB_PASSWORD:?}" \
     -v interactions_owner_password="${LEANCRM_INTERACTIONS_OWNER_DB_PASSWORD:?}" \
     -v feedback_owner_password="${LEANCRM_FEEDBACK_OWNER_DB_PASSWORD:?}" \
     -v waste_owner_password="${LEANCRM_WASTE_OWNER_DB_PASSWORD:?}" \
     -f /leancrm/leancrm-init.sql
