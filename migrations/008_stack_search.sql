-- The dashboard's text search (a case-insensitive substring of a stack's id or of any of its
-- metadata values) reads two trigram indexes instead of every stack: at 100,000 stacks the scan
-- took 290 ms (docs/performance.md). pg_trgm ships with PostgreSQL's contrib modules (RDS, Aurora,
-- Cloud SQL, Debian and the official images have it) and is a trusted extension, so the role that
-- runs migrations needs only CREATE on the database. Where it is missing or may not be installed,
-- the migration still applies without the indexes and the search scans, as before: a NOTICE says so.

-- A stack's metadata values as one text, for the index below. IMMUTABLE: it reads only its
-- argument. The search still checks each value on its own (dashboard-queries.ts), so a pattern
-- cannot match across two values.
CREATE FUNCTION stackseam_metadata_text(metadata jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT string_agg(value, E'\n') FROM jsonb_each_text(metadata)
$$;

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
    RAISE NOTICE 'pg_trgm is not available on this server: the stack text search will scan stacks';
    RETURN;
  END IF;
  BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
  EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'pg_trgm may not be installed by this role: the stack text search will scan stacks';
    RETURN;
  END;
  CREATE INDEX stacks_id_trgm ON stacks USING gin (id gin_trgm_ops);
  CREATE INDEX stacks_metadata_trgm ON stacks USING gin (stackseam_metadata_text(metadata) gin_trgm_ops);
END
$$;
