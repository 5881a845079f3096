-- Lean CRM on a real PostgreSQL (14 or later; compose uses 16): the database, and for
-- each service two login roles — an owner that owns its schemas and runs its migrations
-- (and, for waste, rebuilds), and the role the service runs as, which may read and
-- write the rows of its own schemas and nothing else — plus leancrm_ops, which reads
-- the public views of schema waste (contract section 6), writes nothing, and has a
-- statement timeout and a connection limit.
--
-- Run once, and again whenever you like (it is idempotent), as a superuser or a role
-- with CREATEDB and CREATEROLE that may act as the roles it creates:
--
--   psql "postgresql://admin@db-host/postgres" -v ON_ERROR_STOP=1 \
--        -v db=leancrm \
--        -v customers_password=... -v interactions_password=... \
--        -v feedback_password=... -v waste_password=... -v ops_password=... \
--        -v customers_owner_password=... -v interactions_owner_password=... \
--        -v feedback_owner_password=... -v waste_owner_password=... \
--        -f deploy/postgres/leancrm-init.sql
--
-- A password variable left out leaves that role's password as it is (useful with
-- certificate or peer authentication). In compose, initdb.d/10-leancrm.sh runs this
-- file with the passwords from the environment. Optional: -v ops_connection_limit=5
-- -v ops_statement_timeout=30s.
--
-- Why each grant (deploy/README.md, "PostgreSQL: roles and grants"):
-- * <service>_owner owns schema <service> (waste_owner: waste_service, waste and the
--   store schemas a rebuild makes, hence CREATE on the database); `python -m
--   leancrm_<service> migrate` runs as it, before the service starts;
-- * <service> — the service at run time — has USAGE on its schemas and SELECT, INSERT,
--   UPDATE, DELETE on their tables (USAGE on their sequences), now and later: the owner's
--   default privileges give it every table a migration or a rebuild adds. It cannot
--   create, alter or drop anything, and no other role can write its tables — not its
--   relay's lease (relay_lease) either, so no role can stop another service's relay;
-- * the views of schema waste run with their owner's rights, so leancrm_ops needs
--   rights on schema waste only; its settings bound what a person's session can hold.

\set ON_ERROR_STOP on
\if :{?db}
\else
\set db leancrm
\endif
\if :{?ops_connection_limit}
\else
\set ops_connection_limit 5
\endif
\if :{?ops_statement_timeout}
\else
\set ops_statement_timeout 30s
\endif

-- -- roles ----------------------------------------------------------------------------
SELECT format('CREATE ROLE %I LOGIN', r)
FROM unnest(ARRAY['customers', 'interactions', 'feedback', 'waste', 'leancrm_ops',
                  'customers_owner', 'interactions_owner', 'feedback_owner', 'waste_owner']) AS r
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
\if :{?waste_password}
ALTER ROLE waste PASSWORD :'waste_password';
\endif
\if :{?ops_password}
ALTER ROLE leancrm_ops PASSWORD :'ops_password';
\endif
\if :{?customers_owner_password}
ALTER ROLE customers_owner PASSWORD :'customers_owner_password';
\endif
\if :{?interactions_owner_password}
ALTER ROLE interactions_owner PASSWORD :'interactions_owner_password';
\endif
\if :{?feedback_owner_password}
ALTER ROLE feedback_owner PASSWORD :'feedback_owner_password';
\endif
\if :{?waste_owner_password}
ALTER ROLE waste_owner PASSWORD :'waste_owner_password';
\endif

-- leancrm_ops: a person's read-only sessions, bounded — a forgotten query or an open
-- transaction ends by itself, and a few sessions at most (its settings are defaults a
-- session may change; the connection limit is not)
ALTER ROLE leancrm_ops CONNECTION LIMIT :ops_connection_limit;
ALTER ROLE leancrm_ops SET default_transaction_read_only = on;
ALTER ROLE leancrm_ops SET statement_timeout = :'ops_statement_timeout';
ALTER ROLE leancrm_ops SET lock_timeout = '5s';
ALTER ROLE leancrm_ops SET idle_in_transaction_session_timeout = '60s';

-- -- the database ---------------------------------------------------------------------
SELECT format('CREATE DATABASE %I', :'db')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')
\gexec

REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO customers, interactions, feedback, waste, leancrm_ops,
      customers_owner, interactions_owner, feedback_owner, waste_owner;
-- the roles the services run as create nothing (an earlier version of this script let
-- them, when they ran their own migrations)
REVOKE CREATE, TEMPORARY ON DATABASE :"db" FROM customers, interactions, feedback, waste;
-- a rebuild makes a store schema of its own
GRANT CREATE ON DATABASE :"db" TO waste_owner;

\connect :"db"

-- nobody but its owner uses schema public
REVOKE ALL ON SCHEMA public FROM PUBLIC;

-- -- upgrading: an earlier version made the service's own role own its schemas --------
SELECT format('REASSIGN OWNED BY %I TO %I', r, r || '_owner')
FROM unnest(ARRAY['customers', 'interactions', 'feedback', 'waste']) AS r
WHERE EXISTS (SELECT FROM pg_namespace n JOIN pg_roles o ON o.oid = n.nspowner WHERE o.rolname = r)
   OR EXISTS (SELECT FROM pg_class c JOIN pg_roles o ON o.oid = c.relowner WHERE o.rolname = r)
\gexec

-- -- one schema per command service, owned by its owner role --------------------------
CREATE SCHEMA IF NOT EXISTS customers AUTHORIZATION customers_owner;
CREATE SCHEMA IF NOT EXISTS interactions AUTHORIZATION interactions_owner;
CREATE SCHEMA IF NOT EXISTS feedback AUTHORIZATION feedback_owner;
REVOKE ALL ON SCHEMA customers, interactions, feedback FROM PUBLIC;

-- -- the waste projector: its own schema, and the public read model -------------------
CREATE SCHEMA IF NOT EXISTS waste_service AUTHORIZATION waste_owner;
CREATE SCHEMA IF NOT EXISTS waste AUTHORIZATION waste_owner;
REVOKE ALL ON SCHEMA waste_service, waste FROM PUBLIC;

-- -- each service's role: the rows of its own schemas, now and later -----------------
-- (for waste: every schema waste_owner owns — waste_service, waste, the stores)
SELECT format('GRANT USAGE ON SCHEMA %1$I TO %2$I; '
              'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %1$I TO %2$I; '
              'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %1$I TO %2$I', n.nspname,
              replace(o.rolname, '_owner', ''))
FROM pg_namespace n JOIN pg_roles o ON o.oid = n.nspowner
WHERE o.rolname = 'waste_owner'
   OR (o.rolname, n.nspname) IN (('customers_owner', 'customers'), ('interactions_owner', 'interactions'),
                                 ('feedback_owner', 'feedback'))
\gexec
SELECT format('ALTER DEFAULT PRIVILEGES FOR ROLE %1$I IN SCHEMA %2$I '
              'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %2$I; '
              'ALTER DEFAULT PRIVILEGES FOR ROLE %1$I IN SCHEMA %2$I '
              'GRANT USAGE, SELECT ON SEQUENCES TO %2$I', s || '_owner', s)
FROM unnest(ARRAY['customers', 'interactions', 'feedback']) AS s
\gexec

-- the stores a rebuild will make: their schema, tables and sequences, for the waste role
ALTER DEFAULT PRIVILEGES FOR ROLE waste_owner GRANT USAGE ON SCHEMAS TO waste;
ALTER DEFAULT PRIVILEGES FOR ROLE waste_owner GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO waste;
ALTER DEFAULT PRIVILEGES FOR ROLE waste_owner GRANT USAGE, SELECT ON SEQUENCES TO waste;

-- leancrm_ops: the views of schema waste, read only — those that exist and those the
-- projector creates later
GRANT USAGE ON SCHEMA waste TO leancrm_ops;
GRANT SELECT ON ALL TABLES IN SCHEMA waste TO leancrm_ops;
ALTER DEFAULT PRIVILEGES FOR ROLE waste_owner IN SCHEMA waste GRANT SELECT ON TABLES TO leancrm_ops;
