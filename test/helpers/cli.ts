/** The `imagegate` command in a child process, from the TypeScript sources, in any directory. */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(ROOT, 'src/cli/bin.ts');
// resolved here: a scratch directory in /tmp has no node_modules to find tsx in
export const TSX = import.meta.resolve('tsx');

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `imagegate ARGS…` in `cwd`; `env` is laid over this process's environment (undefined removes a variable). */
export function imagegate(cwd: string, args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...env })) if (v !== undefined) childEnv[k] = v;
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', TSX, BIN, ...args], { cwd, env: childEnv, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * `imagegate edit|generate ARGS…` in this process (the function bin.ts
 * calls), for cases where a child process would only cost time. Relative
 * paths are made absolute against `cwd`, since this process's own stays put.
 */
export async function inProcess(cwd: string, command: 'edit' | 'generate', args: string[], env: Record<string, string | undefined>): Promise<Run> {
  const { runClient } = await import('../../src/cli/client/index.js');
  let stdout = '';
  let stderr = '';
  const code = await runClient(command, args, {
    stdout: (line) => (stdout += `${line}\n`),
    stderr: { write: (text: string) => (stderr += text) },
    env,
    cwd,
  });
  return { code, stdout, stderr };
}
