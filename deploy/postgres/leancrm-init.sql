-- Lean CRM on a real PostgreSQL (14 or later; compose uses 16): the database, one
-- login role per service owning its schemas, and leancrm_ops, which reads the public
-- views of schema waste (contract section 6) and nothing else, and writes nothing.
--
-- Run once, and again whenever you like (it is idempotent), as a superuser or a role
-- with CREATEDB and CREATEROLE:
--
--   psql "postgresql://admin@db-host/postgres" -v ON_ERROR_STOP=1 \
--        -v db=leancrm \
--        -v customers_password=... -v interactions_password=... \
--        -v feedback_password=... -v improvements_password=... \
--        -v waste_password=... -v ops_password=... \
--        -f deploy/postgres/leancrm-init.sql
--
-- A password variable left out leaves that role's password as it is (useful with
-- certificate or peer authentication). In compose, initdb.d/10-leancrm.sh runs this
-- file with the passwords from the environment.
--
-- Why each grant:
-- * every service runs `CREATE SCHEMA IF NOT EXISTS <schema>` and its migrations at
--   start-up, and PostgreSQL checks CREATE on the database even when the schema
--   exists: each service role gets CREATE on the database;
-- * the waste projector keeps its tables in private "store" schemas it creates, one per
--   build (waste_service_store_0, then one per `rebuild`), and (re)defines the public
--   views of schema waste over the active store; the views run with their owner's
--   rights, so leancrm_ops needs rights on schema waste only;
-- * the projector also tries to manage leancrm_ops itself (its roles.sql): without the
--   right to ALTER ROLE it logs the warning `ops_role_not_managed` at start-up and
--   carries on, which is expected with this script.

\set ON_ERROR_STOP on
\if :{?db}
\else
\set db leancrm
\endif

-- -- roles ----------------------------------------------------------------------------
SELECT format('CREATE ROLE %I LOGIN', r)
FROM unnest(ARRAY['customers', 'interactions', 'feedback', 'improvements', 'waste',
                    'leancrm_ops']) AS r
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r)
\gexec

\if :{?customers_password}
ALTER ROLE customers PASSWORD :'customers_password';
\endif
\if :{?interactions_password}
ALTER ROLE interactions PASSWORD :'interactions_password';
\endif
\if :{?feedback_password}
ALTER ROLE feedback PASSWORD :'feedback_password';
\endif
\if :{?improvements_password}
ALTER ROLE improvements PASSWORD :'improvements_password';
\endif
\if :{?waste_password}
ALTER ROLE waste PASSWORD :'waste_password';
\endif
\if :{?ops_password}
ALTER ROLE leancrm_ops PASSWORD :'ops_password';
\endif
-- a session of leancrm_ops starts read-only (its privileges already forbid writes)
ALTER ROLE leancrm_ops SET default_transaction_read_only = on;

-- -- the database ---------------------------------------------------------------------
SELECT format('CREATE DATABASE %I', :'db')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')
\gexec

REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO customers, interactions, feedback, improvements, waste,
    leancrm_ops;
GRANT CREATE, TEMPORARY ON DATABASE :"db" TO customers, interactions, feedback, improvements,
    waste;

\connect :"db"

-- nobody but its owner uses schema public
REVOKE ALL ON SCHEMA public FROM PUBLIC;

-- -- one schema per command service, owned by its role -------------------------------
CREATE SCHEMA IF NOT EXISTS customers AUTHORIZATION customers;
CREATE SCHEMA IF NOT EXISTS interactions AUTHORIZATION interactions;
CREATE SCHEMA IF NOT EXISTS feedback AUTHORIZATION feedback;
CREATE SCHEMA IF NOT EXISTS improvements AUTHORIZATION improvements;
REVOKE ALL ON SCHEMA customers, interactions, feedback, improvements FROM PUBLIC;

-- -- the waste projector: its own schema, and the public read model -------------------
CREATE SCHEMA IF NOT EXISTS waste_service AUTHORIZATION waste;
CREATE SCHEMA IF NOT EXISTS waste AUTHORIZATION waste;
REVOKE ALL ON SCHEMA waste_service, waste FROM PUBLIC;

-- leancrm_ops: the views of schema waste, read only — those that exist and those the
-- projector creates later
GRANT USAGE ON SCHEMA waste TO leancrm_ops;
GRANT SELECT ON ALL TABLES IN SCHEMA waste TO leancrm_ops;
ALTER DEFAULT PRIVILEGES FOR ROLE waste IN SCHEMA waste GRANT SELECT ON TABLES TO leancrm_ops;
