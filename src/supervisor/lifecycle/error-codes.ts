/** Handler error codes as the Azure agent reports them (WALinuxAgent ExtensionErrorCodes; CONTRACT section 4). */
import type { CommandName } from './steps.js';

export const ErrorCodes = Object.freeze({
  /** PluginProcessingError: the catch-all, also a failed uninstall. */
  processing: 1000,
  uninstall: 1000,
  /** PluginManifestDownloadError / PluginPackageDownloadFailed: no uri delivered a valid package. */
  download: 1001,
  /** PluginHandlerManifestNotFound. */
  manifestNotFound: 1002,
  /** PluginHandlerManifestDeserializationError. */
  manifest: 1003,
  /** PluginPackageExtractionFailed: a package that would not extract, or tried to escape its root. */
  extraction: 1005,
  install: 1007,
  update: 1008,
  enable: 1009,
  disable: 1010,
  timeout: 1011,
  malformedStatus: 1012,
  /** Ours (the agent has none): a command the kernel killed at the handler's limits.memoryMB. */
  memoryLimit: 1013,
});

export function commandFailureCode(op: CommandName): number {
  return ErrorCodes[op];
}
