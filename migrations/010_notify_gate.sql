-- The history trigger runs its function only for stacks some waiter holds a gate on. Since 009 the
-- function ran for every history row, to look the stack up in stack_listeners: a PL/pgSQL call
-- and a query per event, which cost the State Manager about 7 % of its events per second at one
-- worker (docs/performance.md §2 measures it). Now a registered waiter also holds a shared,
-- session-level advisory lock on the stack's key while it waits, and the trigger's WHEN clause
-- takes that key exclusively for the writing transaction: it gets it, and skips the function,
-- unless a waiter holds it. The function still checks stack_listeners, so two ids that share a key
-- cost a lookup, never a notification for the wrong stack. Key: class 1397968468 ('SSNT'),
-- hashtext(stack id).
--
-- The race: a writer that took the key before a waiter holds it skipped the function, and keeps
-- the key until it commits; stackseam_listen waits for it (up to lock_timeout, 10 s, then it fails
-- with 55P03 and the CLI polls instead). The waiter's own race with writers that start while it
-- registers is closed as since 009: it waits for the transactions in progress once registered.

DROP TRIGGER history_notify ON history;
CREATE TRIGGER history_notify AFTER INSERT ON history FOR EACH ROW
  WHEN (NOT pg_catalog.pg_try_advisory_xact_lock(1397968468, pg_catalog.hashtext(NEW.stack_id)))
  EXECUTE FUNCTION stackseam_history_notify();

-- As 009's, and then the gate: held by this session until stackseam_unlisten or its end.
CREATE OR REPLACE FUNCTION stackseam_listen(id text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
  IF id IS NULL OR id !~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' THEN
    RETURN false;
  END IF;
  DELETE FROM stack_listeners l
    WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a WHERE a.pid = l.pid);
  INSERT INTO stack_listeners (stack_id, pid) VALUES (id, pg_catalog.pg_backend_pid())
    ON CONFLICT DO NOTHING;
  PERFORM pg_catalog.pg_advisory_lock_shared(1397968468, pg_catalog.hashtext(id));
  RETURN true;
END
$$;

CREATE OR REPLACE FUNCTION stackseam_unlisten(id text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
  DELETE FROM stack_listeners WHERE stack_id = id AND pid = pg_catalog.pg_backend_pid();
  -- A gate this session does not hold (it never registered the id) is no error.
  IF id IS NOT NULL AND EXISTS (
    SELECT 1 FROM pg_catalog.pg_locks
    WHERE locktype = 'advisory' AND pid = pg_catalog.pg_backend_pid() AND mode = 'ShareLock'
      AND classid = 1397968468::oid AND objid = (pg_catalog.hashtext(id)::bigint & 4294967295)::oid
      AND objsubid = 2
  ) THEN
    PERFORM pg_catalog.pg_advisory_unlock_shared(1397968468, pg_catalog.hashtext(id));
  END IF;
END
$$;

-- CREATE OR REPLACE clears a function's settings: the search_path of 009, and the lock wait.
DO $$
BEGIN
  EXECUTE format('ALTER FUNCTION stackseam_listen(text) SET search_path = %I, pg_catalog, pg_temp', current_schema());
  EXECUTE format('ALTER FUNCTION stackseam_unlisten(text) SET search_path = %I, pg_catalog, pg_temp', current_schema());
END
$$;
ALTER FUNCTION stackseam_listen(text) SET lock_timeout = '10s';
