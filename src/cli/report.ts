/** `supervisor report`: the status report, from the daemon or as last written on disk. */
import { EXIT, type CliIO } from './io.js';
import { existingDirsOf, noDaemonNote, tryConnect, type DirFlags } from './connect.js';

export async function reportCommand(flags: DirFlags, io: CliIO): Promise<number> {
  const dirs = existingDirsOf(flags);
  const client = await tryConnect(dirs);
  if (client) {
    try {
      io.stdout(`${JSON.stringify(await client.call('report', {}), null, 2)}\n`);
    } finally {
      await client.close();
    }
    return EXIT.ok;
  }
  io.stderr(noDaemonNote('report', dirs));
  const { offlineReport } = await import('../supervisor/monitor/offline-view.js');
  const report = await offlineReport(dirs);
  if (report === null) {
    io.stderr(`supervisor report: no status report has been written in ${dirs.libDir} yet\n`);
    return EXIT.noDaemon;
  }
  io.stdout(`${JSON.stringify(report, null, 2)}\n`);
  return EXIT.ok;
}
