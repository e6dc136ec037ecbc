/**
 * chokidar for the goal-state file: one folder, rare events, and chokidar's `atomic` handling
 * of editors that save by delete + recreate is what is wanted there (the handler folders use
 * fs.watch instead, see folder-watcher.ts).
 */
import { watch, type FSWatcher } from 'chokidar';
import path from 'node:path';

export interface SingleFolderWatch {
  /** `onReady`: the watch is live (events before it are not seen: the caller looks once more then). */
  add(folder: string, listener: (event: { kind: string; path: string }) => void, onReady?: () => void): () => void;
  close(): Promise<void>;
}

export function chokidarFolderWatch(onError: (err: unknown) => void): SingleFolderWatch {
  const watchers: FSWatcher[] = [];
  return {
    add(folder, listener, onReady) {
      const w = watch(folder, { depth: 0, ignoreInitial: true, atomic: true, awaitWriteFinish: false, persistent: true });
      w.on('all', (event, p) => { if (event === 'add' || event === 'change' || event === 'unlink') listener({ kind: event, path: path.resolve(p) }); });
      w.on('error', onError);
      if (onReady) w.once('ready', onReady);
      watchers.push(w);
      return () => { void w.close(); };
    },
    async close() {
      await Promise.all(watchers.map((w) => w.close()));
    },
  };
}
