-- Wake-ups for `stackseam wait`, `stacks history --follow` and `stacks show --watch`: every history
-- row (and every change to a stack writes one, in the same statement) notifies the stack's channel.
-- Listeners sleep on LISTEN instead of polling, so a waiting CLI costs the database no queries until
-- its stack changes. The notification is part of the inserting transaction: it is delivered at
-- commit, never for a rolled-back event, and Postgres folds identical ones of a transaction into one.
--
-- Channel: "stackseam." || the first 50 characters of the stack id (a channel name has at most 63
-- bytes); payload: the whole stack id, so listeners of two ids sharing a prefix tell them apart.
-- Only ids of the message schema's shape are notified (ASCII, so 50 characters are 50 bytes): an
-- over-long channel name would make pg_notify raise and fail the event's transaction.

CREATE FUNCTION stackseam_history_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.stack_id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' THEN
    PERFORM pg_notify('stackseam.' || left(NEW.stack_id, 50), NEW.stack_id);
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER history_notify AFTER INSERT ON history
  FOR EACH ROW EXECUTE FUNCTION stackseam_history_notify();
