-- Notifications: written in the same statement as the event that gives rise to them (an outbox),
-- sent after commit, retried with backoff by the tick on a 5xx or a timeout, never on a 4xx.

CREATE TABLE notifications (
  id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  stack_id         text        NOT NULL,
  -- The event that gave rise to it: with target and kind, what makes a notification unique, so a
  -- redelivered event never notifies twice.
  event_key        text        NOT NULL,
  target           text        NOT NULL,
  kind             text        NOT NULL,
  -- Where to: the target's webhook / sns / eventbridge settings from the spec.
  destination      jsonb       NOT NULL,
  -- What: the notification body (core NotificationBody).
  body             jsonb       NOT NULL,
  attempts         integer     NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  sent_at          timestamptz,
  -- Given up: the target refused it (4xx), or it failed too often.
  failed_at        timestamptz,
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (stack_id, event_key, target, kind)
);

-- What a sender or the tick looks for: unsent, not given up, due.
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;
