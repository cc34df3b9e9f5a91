-- Events without a transaction block: an event reads its stack (one statement), is decided, and is
-- written by ONE statement that checks, under the row lock, that the stack is still the one it read
-- (see packages/state-manager/src/decision-writes.ts). Each statement commits on its own, so an
-- event is two round trips instead of four (BEGIN, SELECT … FOR UPDATE, write, COMMIT).
--
-- The one case a single statement cannot settle by itself — a new stack inserted while a history
-- row with the event's key appeared since the statement began — must undo the whole statement: it
-- calls this function, whose error rolls the statement back; the State Manager recognises the code
-- and handles the event as a possible duplicate, under a lock.

CREATE FUNCTION stackseam_roll_back(reason text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'stackseam: %', reason USING ERRCODE = 'SS409';
END
$$;
