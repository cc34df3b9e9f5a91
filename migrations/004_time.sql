-- Time: the due times of every stack (task timeouts and retries, TTLs and their warnings) and the
-- machines' schedules. A stack's timers are written in the same statement as the stack itself, so
-- they always equal what core derives from it (timersOf); the tick fires what is due.

CREATE TABLE timers (
  stack_id       text        NOT NULL,
  -- timeout:<task>, retry:<task>, ttl or ttl-warning.
  name           text        NOT NULL,
  due_at         timestamptz NOT NULL,
  -- Set by the tick that claimed the timer: another tick leaves it alone until then.
  claimed_until  timestamptz,
  PRIMARY KEY (stack_id, name)
);

-- The tick reads only what is due: its cost follows the due timers, not the number of stacks.
CREATE INDEX timers_due ON timers (due_at);

-- One row per schedule of a machine's current spec: the next occurrence to fire, and how far the
-- firing of the current one got (the last stack id it reached), so a tick that runs out of time
-- or dies hands the rest to the next one.
CREATE TABLE schedules (
  machine        text        NOT NULL,
  name           text        NOT NULL,
  -- What the row was computed from; a change of the spec recomputes next_at.
  cron           text        NOT NULL,
  timezone       text        NOT NULL,
  event          text        NOT NULL,
  states         text[]      NOT NULL,
  next_at        timestamptz NOT NULL,
  cursor         text,
  claimed_until  timestamptz,
  PRIMARY KEY (machine, name)
);

CREATE INDEX schedules_due ON schedules (next_at);

-- What a stack carries beyond its state and tasks (all NULL until first set):
ALTER TABLE stacks
  -- When the current state was entered, and when an event from outside was last applied (the
  -- idle TTL counts from it).
  ADD COLUMN entered_at     timestamptz,
  ADD COLUMN active_at      timestamptz,
  -- Task outputs by task: {"<task>": {"<name>": {"value": …, "sensitive": false} | {"sensitive": true}}}.
  ADD COLUMN outputs        jsonb,
  -- Events deferred by the states the stack passed, oldest first: [{name, key, metadata?, at}].
  ADD COLUMN deferred       jsonb,
  -- A per-stack TTL override ({"until": …} or {"exempt": true}), and the TTL due times a warning
  -- was sent for and the TTL fired for (each happens once).
  ADD COLUMN ttl            jsonb,
  ADD COLUMN ttl_warned_for timestamptz,
  ADD COLUMN ttl_fired_for  timestamptz;

-- "Idle longer than" filters (dashboard, CLI) read this.
CREATE INDEX stacks_active_at ON stacks (active_at);
