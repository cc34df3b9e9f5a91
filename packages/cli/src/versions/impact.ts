import {
  changeAffects,
  type Machine,
  type MachineChange,
  type MachineDiff,
  type Stack,
  upgradeProblems,
} from "@stackseam/core";
import type { StackGroup } from "@stackseam/state-manager";

/** One group of alike live stacks, and whether they could move to the new version. */
export interface GroupImpact {
  group: StackGroup;
  /** Why these stacks could not move to the new version (empty: they could, or already run it). */
  problems: string[];
  /** The group already runs the new version. */
  onTarget: boolean;
}

/** What a new version of a machine means for its live stacks. */
export interface Impact {
  to: Machine;
  live: number;
  /** Each change of the diff with how many live stacks it touches (see changeAffects). */
  changes: { change: MachineChange; stacks: number }[];
  groups: GroupImpact[];
  /** Pinned stacks that could not move to the new version. */
  stranded: number;
  /**
   * Stacks from before versions (no version recorded): they run whatever is current from their
   * next event, so the ones that could not move are stranded by the push itself.
   */
  unpinnedStranded: number;
  /** The new version moves stacks on its own (`upgrade: on-state-entry`). */
  autoUpgrade: boolean;
  /** A push must be forced: it strands stacks under auto-upgrade, or strands unpinned stacks. */
  mustForce: boolean;
}

/** A stack with the shape of a group, for the compatibility check (which reads state and tasks). */
function groupStack(machine: string, g: StackGroup): Stack {
  return {
    id: g.sample[0] ?? "(stack)",
    machine,
    version: g.version ?? "",
    state: g.state,
    metadata: {},
    tasks: g.tasks.map((t) => ({ ...t, token: "", attempt: 1 })),
    entry: 0,
    createdAt: "",
    updatedAt: "",
  };
}

/** Weighs a diff against the live stacks of the machine (grouped by version, state and tasks). */
export function assessImpact(to: Machine, diff: MachineDiff | null, groups: readonly StackGroup[]): Impact {
  const assessed: GroupImpact[] = groups.map((group) => {
    const onTarget = group.version === to.version;
    return {
      group,
      onTarget,
      problems: onTarget ? [] : upgradeProblems(groupStack(to.name, group), to),
    };
  });
  const count = (pick: (g: GroupImpact) => boolean) =>
    assessed.filter(pick).reduce((n, g) => n + g.group.count, 0);
  const stranded = count((g) => g.problems.length > 0 && g.group.version !== null);
  const unpinnedStranded = count((g) => g.problems.length > 0 && g.group.version === null);
  const autoUpgrade = to.spec.upgrade === "on-state-entry";
  return {
    to,
    live: count(() => true),
    changes: (diff?.changes ?? []).map((change) => ({
      change,
      stacks: groups
        .filter((g) => changeAffects(change, { state: g.state, tasks: groupStack(to.name, g).tasks }))
        .reduce((n, g) => n + g.count, 0),
    })),
    groups: assessed,
    stranded,
    unpinnedStranded,
    autoUpgrade,
    mustForce: (autoUpgrade && stranded > 0) || unpinnedStranded > 0,
  };
}
