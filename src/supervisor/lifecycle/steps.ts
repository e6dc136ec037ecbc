/** The vocabulary of a handler plan: data, so that a session can checkpoint each step. */
export type CommandName = 'install' | 'enable' | 'disable' | 'update' | 'uninstall';

export interface DroppedExtension {
  readonly name: string;
  readonly sequenceNumber: number;
}

export interface PackageSpec {
  readonly version: string;
  readonly sha256: string;
  readonly uris: readonly string[];
}

export type PlanStep =
  /** Download, verify and stage the package of `version` (an existing complete dir is reused). */
  | { readonly kind: 'fetch'; readonly version: string; readonly pkg: PackageSpec }
  /** Folders, HandlerEnvironment.json and settings files of `version`, before any command. */
  | { readonly kind: 'prepare'; readonly version: string }
  /** One lifecycle command of the handler installed as `version`; enable/disable name their extensions. */
  | { readonly kind: 'command'; readonly op: CommandName; readonly version: string; readonly role: 'current' | 'old' | 'new'; readonly extensions: readonly string[];
    /** A disable of extensions the goal dropped (multi-config): their last sequence numbers; their files go after it. */
    readonly dropped?: readonly DroppedExtension[] }
  /** Upgrade: copy mrseq and status/* from the old dir to the new one. */
  | { readonly kind: 'copyState'; readonly from: string; readonly to: string }
  /** Delete a version's handler dir (after its uninstall, or a failed upgrade being abandoned). */
  | { readonly kind: 'removeDir'; readonly version: string; readonly uninstalled?: boolean };

export interface HandlerPlan {
  /** What the plan does, for logs and `ps`: install, enable, upgrade, downgrade, disable, uninstall, none. */
  readonly action: 'install' | 'enable' | 'upgrade' | 'downgrade' | 'disable' | 'uninstall' | 'rollback' | 'none';
  readonly steps: readonly PlanStep[];
  /** The version the handler will be at when the plan succeeds (null when uninstalled). */
  readonly targetVersion: string | null;
  /** Upgrade only: the version being replaced. */
  readonly fromVersion: string | null;
  readonly reason: string;
}

/** Human text for one step, used in logs and operation records. */
export function describeStep(step: PlanStep): string {
  switch (step.kind) {
    case 'fetch': return `fetch ${step.version}`;
    case 'prepare': return `prepare ${step.version}`;
    case 'command': return `${step.op} ${step.version}${step.role === 'current' ? '' : ` (${step.role})`}${step.dropped ? ` (removed: ${step.extensions.join(', ')})` : ''}`;
    case 'copyState': return `copy state ${step.from} -> ${step.to}`;
    case 'removeDir': return `remove ${step.version}`;
  }
}
