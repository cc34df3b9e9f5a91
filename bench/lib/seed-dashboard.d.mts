import type pg from "pg";

export declare const SEED_STATES: readonly string[];

export interface SeededStack {
  id: string;
  machine: string;
  state: string;
  failed: boolean;
  owner: string;
  updatedAt: Date;
}

export declare function seededStack(i: number, base: Date): SeededStack;

export declare function seedDashboard(
  client: pg.Client | pg.PoolClient,
  opts: {
    stacks: number;
    historyPerStack?: number;
    base: Date;
    versions: Record<string, string>;
    spread?: boolean;
  },
): Promise<void>;
