/**
 * Certificates for protected settings (issue 17, item 5). The goal state names a folder of
 * certificates; a HandlerUtil-style Python extension decrypts its protectedSettings (encrypted
 * with a self-made certificate, `openssl smime`, as the agent's own tests do) with
 * /var/lib/waagent/<thumbprint>.crt and .prv. It all runs in a private mount namespace with a
 * tmpfs over /var/lib, so the host's /var/lib is untouched.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Workspace, handlerEntry } from '../helpers/handlers.js';
import { CLI } from '../helpers/cli.js';
import { dirFlags } from '../helpers/daemon.js';
import { killLeftovers } from '../helpers/fleet.js';

const run = promisify(execFile);
const FIXTURE = fileURLToPath(new URL('../fixtures/handlers/handlerutil-decrypt.py', import.meta.url));
const SECRET = `echo the-secret-${process.pid}-${Date.now()}`;

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...await walk(p)); else if (e.isFile()) out.push(p);
  }
  return out;
}

describe('certificates for protected settings', () => {
  let ws: Workspace;
  let thumbprint: string;
  let keyLine: string;
  const outputs: Record<string, string> = {};
  before(async () => {
    ws = await Workspace.create('exts-certs-');
    const certs = join(ws.root, 'certs');
    await mkdir(certs);
    await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(certs, 'k.prv'), '-out', join(certs, 'k.crt'),
      '-subj', '/CN=ext-supervisor-test', '-days', '1']);
    const fp = (await run('openssl', ['x509', '-in', join(certs, 'k.crt'), '-noout', '-fingerprint', '-sha1'])).stdout;
    thumbprint = fp.split('=')[1]!.trim().replace(/:/g, '').toUpperCase();
    await run('mv', [join(certs, 'k.crt'), join(certs, `${thumbprint}.crt`)]);
    await run('mv', [join(certs, 'k.prv'), join(certs, `${thumbprint}.prv`)]);
    keyLine = (await readFile(join(certs, `${thumbprint}.prv`), 'utf8')).split('\n')[5]!;
    await writeFile(join(ws.root, 'protected.json'), JSON.stringify({ commandToExecute: SECRET }));
    const der = (await run('sh', ['-c', `openssl smime -encrypt -binary -aes256 -outform DER ${certs}/${thumbprint}.crt < ${ws.root}/protected.json | base64 -w0`])).stdout;

    const pkg = await ws.package({ name: 'Contoso.Decrypt', version: '1.0', manifest: { enableCommand: 'handlerutil-decrypt.py enable' },
      files: { 'handlerutil-decrypt.py': await readFile(FIXTURE, 'utf8') } });
    // The first apply names the folder on the command line, the second in the goal state.
    const doc = (state: string, inGoal: boolean) => ({ ...(inGoal ? { certificatesFolder: certs } : {}), handlers: [handlerEntry('Contoso.Decrypt', [pkg], { state,
      extensions: [{ name: 'default', sequenceNumber: 1, publicSettings: {}, protectedSettings: der, protectedSettingsCertThumbprint: thumbprint }] })] });
    const on = await ws.goalState(doc('enabled', false), 'on.json');
    const off = await ws.goalState(doc('uninstall', true), 'off.json');
    const flags = dirFlags(ws).join(' ');
    const out = (n: string) => join(ws.root, n);
    // One namespace for both applies: what the first puts in /var/lib/waagent, the second must take away.
    const script = `set -e
mount -t tmpfs -o mode=0755 tmpfs /var/lib
"${process.execPath}" "${CLI}" apply --goal-state ${on} --certificates-folder ${certs} ${flags} > ${out('apply-on.out')} 2>&1 || echo "exit $?" >> ${out('apply-on.out')}
stat -c '%a %n' /var/lib/waagent /var/lib/waagent/* > ${out('placed.txt')}
cp ${ws.libDir}/Contoso.Decrypt-1.0/decrypted.txt ${out('decrypted.txt')} || true
"${process.execPath}" "${CLI}" apply --goal-state ${off} ${flags} > ${out('apply-off.out')} 2>&1 || echo "exit $?" >> ${out('apply-off.out')}
ls -A /var/lib/waagent > ${out('left.txt')}`;
    await run('unshare', ['-m', 'sh', '-c', script], { timeout: 120_000 });
    for (const n of ['apply-on.out', 'apply-off.out', 'placed.txt', 'left.txt']) outputs[n] = await readFile(out(n), 'utf8');
  });
  after(async () => { await killLeftovers(ws); await ws.dispose(); });

  test('the extension decrypted its protected settings with the certificate the goal state\'s folder held', async () => {
    assert.match(outputs['apply-on.out']!, /Contoso\.Decrypt +1\.0 +Enabled +Ready/, outputs['apply-on.out']);
    assert.equal(await readFile(join(ws.root, 'decrypted.txt'), 'utf8'), SECRET, 'what the extension decrypted (copied out before the uninstall)');
  });

  test('the certificate and key are in /var/lib/waagent with mode 0600 while a handler needs them', () => {
    const lines = outputs['placed.txt']!.trim().split('\n');
    assert.deepEqual(lines.slice(1).sort(), [`600 /var/lib/waagent/${thumbprint}.crt`, `600 /var/lib/waagent/${thumbprint}.prv`]);
  });

  test('they are removed when no handler needs them', () => {
    assert.match(outputs['apply-off.out']!, /Contoso\.Decrypt .*NotInstalled/, outputs['apply-off.out']);
    assert.equal(outputs['left.txt']!.trim(), '', 'nothing of ours is left in /var/lib/waagent');
  });

  test('neither the private key nor the decrypted secret is in any output, log, report or session', async () => {
    const files = [...await walk(ws.libDir), ...await walk(ws.logDir)].filter((f) => !f.endsWith('fixture.log'));
    const texts = [...Object.values(outputs), ...await Promise.all(files.map((f) => readFile(f, 'latin1')))];
    for (const t of texts) {
      assert.ok(!t.includes(keyLine), 'the private key is copied only to /var/lib/waagent');
      assert.ok(!t.includes(SECRET), 'the decrypted secret is nowhere');
    }
    assert.ok(files.some((f) => f.includes('sessions')), 'sessions were scanned');
  });
});
