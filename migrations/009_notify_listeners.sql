-- History notifications only for stacks someone waits on. Migration 003 notified every history
-- row, and a transaction that notified takes a database-wide lock at commit to queue it, so every
-- event's commit serialised there whether or not anyone listened (docs/performance.md §2 measures
-- what that costs the State Manager). A waiting CLI now registers the
-- stack it LISTENs for, and the trigger notifies only stacks with a registered listener: with no
-- wait running, an event's transaction queues no notification.
--
-- The race a waiter must close itself: an event's transaction may check for listeners just before
-- a waiter registers and commit just after the waiter's first read. So a waiter, once registered,
-- waits for the transactions in progress at that moment to end before it reads
-- (packages/cli/src/watch/feed.ts); every later transaction sees the registration and notifies.

CREATE TABLE stack_listeners (
  stack_id text NOT NULL,
  -- The listening session (pg_backend_pid): its row outlives a crashed waiter only until the next
  -- registration, which drops rows of sessions that are gone.
  pid integer NOT NULL,
  since timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (stack_id, pid)
);

-- Registration runs as the owner (SECURITY DEFINER), so a waiting CLI needs no grant beyond
-- SELECT on stacks and history: it may add and drop only rows of its own session, for ids of the
-- message schema's shape (the only ones the trigger notifies). Their search_path (set below) is
-- this schema, then pg_catalog, then pg_temp last: otherwise a caller's temporary table named
-- like a relation they read would be searched first and stand in for it.
CREATE FUNCTION stackseam_listen(id text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
  IF id IS NULL OR id !~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' THEN
    RETURN false;
  END IF;
  DELETE FROM stack_listeners l
    WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a WHERE a.pid = l.pid);
  INSERT INTO stack_listeners (stack_id, pid) VALUES (id, pg_catalog.pg_backend_pid())
    ON CONFLICT DO NOTHING;
  RETURN true;
END
$$;

CREATE FUNCTION stackseam_unlisten(id text) RETURNS void
LANGUAGE sql SECURITY DEFINER AS $$
  DELETE FROM stack_listeners WHERE stack_id = id AND pid = pg_catalog.pg_backend_pid()
$$;

DO $$
BEGIN
  EXECUTE format('ALTER FUNCTION stackseam_listen(text) SET search_path = %I, pg_catalog, pg_temp', current_schema());
  EXECUTE format('ALTER FUNCTION stackseam_unlisten(text) SET search_path = %I, pg_catalog, pg_temp', current_schema());
END
$$;

CREATE OR REPLACE FUNCTION stackseam_history_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM stack_listeners WHERE stack_id = NEW.stack_id)
     AND NEW.stack_id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' THEN
    PERFORM pg_notify('stackseam.' || left(NEW.stack_id, 50), NEW.stack_id);
  END IF;
  RETURN NULL;
END
$$;
