/** Server processes that tests start themselves (redis-server, s3rver): started, awaited, killed. */
import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';

/**
 * Spawns `command` and resolves with the process and the match once a line of
 * its stdout matches `ready`. Its output is read to the end (a full pipe
 * stalls a chatty server), and it is killed if the test process exits first.
 */
export async function spawnUntilReady(
  label: string,
  command: string,
  args: string[],
  ready: RegExp,
  timeoutMs: number,
  options: {
    /** the stream the ready line comes on (PostgreSQL logs to stderr) */
    readyOn?: 'stdout' | 'stderr';
    /** run as this user (the tests run as root; PostgreSQL refuses to) */
    uid?: number;
    gid?: number;
  } = {},
): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const readyOn = options.readyOn ?? 'stdout';
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], uid: options.uid, gid: options.gid });
  const orphanGuard = () => child.kill('SIGKILL');
  process.on('exit', orphanGuard);
  child.once('exit', () => process.off('exit', orphanGuard));
  const output: string[] = [];
  const other = readyOn === 'stdout' ? child.stderr! : child.stdout!;
  other.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
  const lines = readline.createInterface({ input: readyOn === 'stdout' ? child.stdout! : child.stderr! });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`${label} did not start in ${timeoutMs} ms`)), timeoutMs);
    const fail = (err: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${err.message}\n${output.join('\n')}`));
    };
    const early = (code: number | null) => fail(new Error(`${label} exited with ${code}`));
    child.once('exit', early);
    let started = false;
    lines.on('line', (line) => {
      if (started) return;
      output.push(line);
      const match = ready.exec(line);
      if (!match) return;
      started = true;
      clearTimeout(timer);
      child.off('exit', early);
      resolve({ child, match });
    });
  });
}

/** SIGKILL, and wait until it is gone. */
export async function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}
