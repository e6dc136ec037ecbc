/**
 * The Device Update work folder holds the package's files and the script runs from there, as the
 * Device Update agent's script handler does (issue 17, item 4): an install script that copies its
 * payload from "$workfolder/<file>", as the demo contoso-motor-installscript.sh does, works.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Workspace, handlerEntry } from '../../helpers/handlers.js';
import { applyDoc, killLeftovers, resultOf } from '../../helpers/fleet.js';
import { closePackagePool } from '../../../src/supervisor/packages/pool.js';

after(() => closePackagePool());

describe('script handlers: the work folder', () => {
  test('holds the script and every payload file; the script runs there and installs the payload', async () => {
    const ws = await Workspace.create('exts-workfolder-');
    try {
      const motor = join(ws.root, 'motor');
      await mkdir(motor);
      // As contoso-motor-installscript.sh: cp -f "$workfolder/$firmware_file" "$component_path/firmware.json".
      const install = `cp -f "$work/firmware/firmware.json" "${motor}/firmware.json" && pwd > "${motor}/cwd" && echo "$0" > "${motor}/script" \\
  && write_result 600 0 "" || write_result 0 1 "no firmware in $work"`;
      const pkg = (version: string, firmware: string) => ws.scriptPackage({ name: 'Contoso.Motor', version, behavior: { install },
        files: { 'firmware/firmware.json': firmware } });
      const v1 = await pkg('1.0', '{"version":"1.0"}');
      const s = await applyDoc(ws, { handlers: [handlerEntry('Contoso.Motor', [v1])] });
      assert.equal(resultOf(s, 'Contoso.Motor').reached, true, resultOf(s, 'Contoso.Motor').status.message);
      const work = join(ws.libDir, 'work', 'Contoso.Motor');
      assert.equal(await readFile(join(motor, 'firmware.json'), 'utf8'), '{"version":"1.0"}', 'the payload was read from the work folder');
      assert.equal((await readFile(join(motor, 'cwd'), 'utf8')).trim(), work, 'the script runs in the work folder');
      assert.equal((await readFile(join(motor, 'script'), 'utf8')).trim(), join(work, 'adu-script.sh'), 'the script itself is the work folder\'s copy');
      const entries = (await readdir(work)).sort();
      for (const f of ['HandlerManifest.json', 'adu-script.sh', 'behavior', 'firmware']) assert.ok(entries.includes(f), `${f} is in the work folder`);
      for (const f of ['HandlerEnvironment.json', 'config', 'status', '.supervisor']) assert.ok(!entries.includes(f), `${f} (the supervisor's) is not`);
      assert.equal((await stat(join(work, 'adu-script.sh'))).mode & 0o100, 0o100, 'the script stays executable');

      const v2 = await pkg('2.0', '{"version":"2.0"}');
      const up = await applyDoc(ws, { handlers: [handlerEntry('Contoso.Motor', [v1, v2], { version: '2.0' })] });
      assert.equal(resultOf(up, 'Contoso.Motor').reached, true, resultOf(up, 'Contoso.Motor').status.message);
      assert.equal(await readFile(join(motor, 'firmware.json'), 'utf8'), '{"version":"2.0"}', 'an upgrade brings its own payload');

      await applyDoc(ws, { handlers: [handlerEntry('Contoso.Motor', [v2], { version: '2.0', state: 'uninstall' })] });
      await assert.rejects(stat(work), { code: 'ENOENT' }, 'uninstall removes the work folder');
    } finally {
      await killLeftovers(ws);
      await ws.dispose();
    }
  });
});
