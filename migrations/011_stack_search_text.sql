-- One trigram index for the dashboard's text search instead of 008's two, over text that costs
-- less to make. A stack row changes with nearly every event, and a GIN index gains entries for
-- every new row version: 008's two indexes, one of them over a SQL function that runs
-- jsonb_each_text and string_agg, were about as much of the server's work per event as the rest
-- of the stack's UPDATE (docs/performance.md §1 measures the event path). The new index is over
-- the id and the metadata's values as a JSON array (jsonpath and jsonb's own output, no SQL
-- function call), joined by a newline; keys are left out, as 008 left them out, so a search for a
-- key name still narrows to the stacks whose values hold it. Values appear in that text escaped as
-- JSON strings, so the search (dashboard-queries.ts) looks for the text both as typed and escaped
-- the same way, then checks the id and each value on its own as before: the index only narrows
-- the rows, it never decides a match.
--
-- Where 008 made no indexes (pg_trgm missing or not installable), this makes none either, and the
-- search scans stacks as before.

CREATE FUNCTION stackseam_search_text(id text, metadata jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT id || E'\n' || jsonb_path_query_array(metadata, '$.*')::text
$$;

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
    RAISE NOTICE 'pg_trgm is not installed: the stack text search will scan stacks';
    RETURN;
  END IF;
  CREATE INDEX IF NOT EXISTS stacks_search_trgm ON stacks USING gin (stackseam_search_text(id, metadata) gin_trgm_ops);
  DROP INDEX IF EXISTS stacks_id_trgm;
  DROP INDEX IF EXISTS stacks_metadata_trgm;
END
$$;
