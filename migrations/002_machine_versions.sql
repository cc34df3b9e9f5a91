-- Machine versions: every spec version a stack has run, so a stack keeps the machine it started
-- with whatever the current spec says (and a broken push cannot stop it).

CREATE TABLE machine_versions (
  machine        text        NOT NULL,
  -- The content hash of the spec as the engine reads it (core machineVersion).
  version        text        NOT NULL,
  -- The spec text as it was loaded, and where from (s3://bucket/key or a file path).
  source         text        NOT NULL,
  origin         text,
  first_used_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (machine, version)
);

-- The version each stack runs. NULL: the stack was created before versions existed; it is pinned
-- to the machine's current version by its next event.
ALTER TABLE stacks ADD COLUMN version text;

CREATE INDEX stacks_machine_version ON stacks (machine, version);
