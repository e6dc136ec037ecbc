/** What a plan's execution is given and gives back: the goal's parts it needs, its collaborators, its outcome. */
import type { Spawner } from '../process/spawner.js';
import type { HandlerLimits } from '../process/cgroup/index.js';
import type { Clock } from '../../core/clock.js';
import type { Gate } from './gate.js';
import type { HandlerEvent, OperationResult } from './events.js';
import type { SupervisorDirs } from '../../storage/layout.js';
import type { HandlerRecord } from './record.js';
import type { ExtensionSettings } from './settings-hash.js';
import type { CommandName } from './steps.js';

export interface ExecutionGoal {
  readonly name: string;
  readonly extensions: readonly ExtensionSettings[];
  readonly timeouts: Readonly<Record<CommandName, number>>;
  /** Script form: override the manifest's arguments and installedCriteria. */
  readonly handlerProperties: { readonly arguments?: string; readonly installedCriteria?: string };
  /** Script form: the Device Update component the placeholders are filled from. */
  readonly component: Readonly<Record<string, string>> | null;
  /** Enforced on the handler's group where cgroups are writable (process/cgroup). */
  readonly limits?: HandlerLimits | null;
  /** Folder of `<thumbprint>.crt`/`.prv` to put where HandlerUtil reads them (lifecycle/certificates.ts). */
  readonly certificatesFolder?: string | null;
}

export interface ExecutorDeps {
  readonly dirs: SupervisorDirs;
  readonly libId: string;
  readonly gates: { readonly install: Gate; readonly enable: Gate; readonly fetch: Gate };
  readonly graceMs: number;
  readonly clock: Clock;
  readonly signal: AbortSignal;
  /** Forks through this helper process (the daemon's); from this process otherwise. */
  readonly spawner?: Spawner;
  readonly saveRecord: (record: HandlerRecord) => Promise<void>;
  readonly emit: (event: HandlerEvent) => void;
  /** What cut short the checkpointed plan being resumed, for its messages (default: a supervisor restart). */
  readonly interruptedBy?: string;
}

export interface PlanOutcome {
  readonly ok: boolean;
  readonly record: HandlerRecord;
  readonly operations: readonly OperationResult[];
  readonly failure: OperationResult | null;
  /** What happened to a command a supervisor restart interrupted, or one that could not run (an uninstalled handler's dir was gone). */
  readonly recovery: string | null;
}
