/** `supervisor status NAME [--json]`: everything about one handler. */
import type { HandlerDetail } from '../supervisor/monitor/handler-detail.js';
import { EXIT, type CliIO } from './io.js';
import { existingDirsOf, noDaemonNote, tryConnect, type DirFlags } from './connect.js';
import { exitForRows } from './health.js';
import { colorStatus, formatBytes, formatDuration, formatPids } from './format.js';
import { renderTable } from './table.js';

export function renderDetail(d: HandlerDetail, tty: boolean): string {
  const r = d.row;
  const out: string[] = [];
  out.push(`${r.name} ${r.version ?? ''}`.trimEnd());
  out.push(`  state:      ${r.state} (goal: ${r.desiredState})`);
  out.push(`  status:     ${colorStatus(r.status, r.status, tty)} code ${r.code}`);
  if (r.message) out.push(`  message:    ${r.message.split('\n').join('\n              ')}`);
  out.push(`  processes:  ${formatPids(r.pids, 10)}  cpu ${r.cpuPercent.toFixed(1)}%  mem ${formatBytes(r.memoryBytes)}  uptime ${formatDuration(r.uptimeSeconds)}`);
  out.push(`  restarts:   ${r.restarts}`);
  out.push(`  limits:     ${d.limits}`);
  if (d.isolation) out.push(`  isolation:  ${d.isolation}${d.throttled ? `; cpu throttled ${d.throttled.count} times, ${(d.throttled.ms / 1000).toFixed(1)} s in all` : ''}`);
  if (d.heartbeat) {
    out.push(`  heartbeat:  ${d.heartbeat.watched ? `${r.heartbeatAgeSeconds === null ? 'not yet written' : `${formatDuration(r.heartbeatAgeSeconds)} ago`}, timeout ${d.heartbeat.timeoutSeconds} s` : 'not reported (manifest reportHeartbeat is false or the handler is not enabled)'}`);
    if (r.heartbeat) out.push(`              ${r.heartbeat.status} code ${r.heartbeat.code}${r.heartbeat.message ? `: ${r.heartbeat.message}` : ''}`);
  }
  out.push('', 'Operations:');
  if (d.operations.length === 0) out.push('  (none recorded)');
  else {
    out.push(renderTable(['OPERATION', 'VERSION', 'RESULT', 'EXIT', 'CODE', 'STARTED', 'ENDED'], d.operations.map((o) => [
      `${o.name}${o.extension ? `(${o.extension})` : ''}`, o.version, o.result, o.exitCode === null ? '-' : String(o.exitCode), String(o.code),
      o.startedAt, o.endedAt ?? '-',
    ])).trimEnd().split('\n').map((l) => `  ${l}`).join('\n'));
  }
  out.push('', 'Extensions:');
  if (r.extensions.length === 0) out.push('  (no status yet)');
  for (const e of r.extensions) {
    out.push(`  ${e.name} (sequence ${e.sequenceNumber}): ${e.status} code ${e.code}${e.message ? `: ${e.message}` : ''}`);
    for (const s of e.substatus) out.push(`    - ${s.name ?? '(unnamed)'}: ${s.status} code ${s.code}${s.message ? `: ${s.message}` : ''}`);
  }
  out.push('', 'Processes:');
  if (d.processes.length === 0) out.push('  (none)');
  else out.push(renderTable(['PID', 'PPID', 'PGID', 'STATE', 'RSS', 'COMMAND'], d.processes.map((p) =>
    [String(p.pid), String(p.ppid), String(p.pgid), p.state, formatBytes(p.rssBytes), p.comm])).trimEnd().split('\n').map((l) => `  ${l}`).join('\n'));
  out.push('', 'Paths:');
  for (const [k, v] of Object.entries(d.paths)) out.push(`  ${k.padEnd(14)} ${v}`);
  return `${out.join('\n')}\n`;
}

/** Exit code as `systemctl status`: 0 at its goal, 1 Failed, 3 not running as it should, 4 no such handler. */
export async function statusCommand(name: string, flags: DirFlags & { json?: boolean }, io: CliIO): Promise<number> {
  const dirs = existingDirsOf(flags);
  const client = await tryConnect(dirs);
  let detail: HandlerDetail | null;
  if (client) {
    try {
      detail = (await client.call('status', { name })) as HandlerDetail;
    } catch (err) {
      io.stderr(`supervisor status: ${(err as Error).message}\n`);
      return (err as { code?: string }).code === 'E_UNKNOWN_HANDLER' ? EXIT.unknownHandler : EXIT.usage;
    } finally {
      await client.close();
    }
  } else {
    io.stderr(noDaemonNote('status', dirs));
    const [{ offlineDetail }, { closestName }] = await Promise.all([import('../supervisor/monitor/offline-view.js'), import('../supervisor/monitor/handler-detail.js')]);
    const got = await offlineDetail(dirs, name);
    if (!got.detail) {
      const guess = closestName(name, got.names);
      io.stderr(`supervisor status: no handler named "${name}"${guess ? `; did you mean "${guess}"?` : ''}\n`);
      return EXIT.unknownHandler;
    }
    detail = got.detail;
  }
  io.stdout(flags.json ? `${JSON.stringify(detail, null, 2)}\n` : renderDetail(detail, io.isTTY));
  return exitForRows([detail.row]);
}
