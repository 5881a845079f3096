-- The operations role: reads the public views of schema waste and nothing else,
-- writes nothing. The views run with their owner's rights, so leancrm_ops needs
-- no right on the private store schemas.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'leancrm_ops') THEN
        CREATE ROLE leancrm_ops LOGIN;
    END IF;
END
$$;
ALTER ROLE leancrm_ops SET default_transaction_read_only = on;
REVOKE ALL ON SCHEMA waste FROM PUBLIC;
GRANT USAGE ON SCHEMA waste TO leancrm_ops;
GRANT SELECT ON ALL TABLES IN SCHEMA waste TO leancrm_ops;
