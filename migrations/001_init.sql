-- Stackseam schema, version 1: stacks, their event history, and the task-message outbox.
-- Applied by `stackseam migrate` (never by the Lambda); each file runs in one transaction.

-- One row per live stack. A stack row is deleted when its terminal state is satisfied; its
-- history stays, and the id can start a new stack.
CREATE TABLE stacks (
  id          text        PRIMARY KEY,
  machine     text        NOT NULL,
  state       text        NOT NULL,
  -- Flat metadata merged from every event (string, number, boolean values).
  metadata    jsonb       NOT NULL DEFAULT '{}'::jsonb,
  -- The current state's tasks: [{name, status, token, attempt, description?}].
  tasks       jsonb       NOT NULL DEFAULT '[]'::jsonb,
  -- Increments on every state entry; part of what makes dispatch tokens unique.
  entry       integer     NOT NULL DEFAULT 0,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX stacks_machine_state ON stacks (machine, state);

-- Every event the State Manager saw for a stack: applied, ignored (stale, duplicate) or refused.
-- It doubles as the idempotency record: the first row for (stack_id, event_key) is the event's
-- processing; a redelivery adds a row with duplicate = true and changes nothing else.
CREATE TABLE history (
  id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  stack_id    text        NOT NULL,
  machine     text,
  event       text,
  -- The publisher's eventId, else the SQS message id.
  event_key   text        NOT NULL,
  outcome     text        NOT NULL CHECK (outcome IN ('applied', 'refused', 'ignored')),
  reason      text,
  from_state  text,
  to_state    text,
  -- States entered in order (advances and NEXT firings).
  path        text[],
  -- Reports only: the task and the dispatch token they name.
  task        text,
  token       text,
  duplicate   boolean     NOT NULL DEFAULT false,
  -- Anything else worth reading later: dispatched tasks, removal, error descriptions, metadata keys.
  detail      jsonb,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX history_stack ON history (stack_id, id);
CREATE UNIQUE INDEX history_event_key ON history (stack_id, event_key) WHERE duplicate = false;
CREATE INDEX history_created_at ON history (created_at);

-- Task messages written in the event's transaction and sent after commit.
CREATE TABLE outbox (
  id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  stack_id    text        NOT NULL,
  task        text        NOT NULL,
  token       text        NOT NULL UNIQUE,
  body        text        NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  sent_at     timestamptz,
  message_id  text
);

CREATE INDEX outbox_unsent ON outbox (stack_id, id) WHERE sent_at IS NULL;
CREATE INDEX outbox_sent_at ON outbox (sent_at) WHERE sent_at IS NOT NULL;
