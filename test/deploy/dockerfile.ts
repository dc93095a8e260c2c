/**
 * The Dockerfile read as Docker reads it, for tests that run its steps on a
 * machine without a container runtime. Only the instructions and flags the
 * Dockerfile uses are understood; anything else is an error, so the image
 * cannot grow a step the tests do not run.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface Instruction {
  /** upper case: FROM, RUN, ... */
  cmd: string;
  /** the rest of the (continued) line, trimmed */
  args: string;
  /** 1-based line where it starts */
  line: number;
}

export interface Stage {
  image: string;
  name: string;
  instructions: Instruction[];
}

const KNOWN = new Set(['FROM', 'WORKDIR', 'ENV', 'COPY', 'RUN', 'USER', 'VOLUME', 'EXPOSE', 'HEALTHCHECK', 'ENTRYPOINT', 'CMD']);

export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1;
    let line = lines[i];
    if (/^\s*(#|$)/.test(line)) continue;
    // a trailing backslash joins the next line to this one (both removed); comment lines inside are dropped, as Docker does
    while (/\\\s*$/.test(line) && i + 1 < lines.length) {
      line = line.replace(/\\\s*$/, '');
      i++;
      if (/^\s*#/.test(lines[i])) continue;
      line += lines[i];
    }
    const m = /^\s*([A-Za-z]+)\s+([\s\S]*)$/.exec(line);
    if (!m) throw new Error(`Dockerfile:${start}: cannot read ${JSON.stringify(line)}`);
    const cmd = m[1].toUpperCase();
    if (!KNOWN.has(cmd)) throw new Error(`Dockerfile:${start}: ${cmd} is not an instruction test/deploy knows how to run`);
    const args = m[2].trim();
    if (cmd === 'FROM') {
      const from = /^(\S+)\s+AS\s+(\S+)$/i.exec(args);
      if (!from) throw new Error(`Dockerfile:${start}: every stage is named (FROM image AS name)`);
      stages.push({ image: from[1], name: from[2], instructions: [] });
      continue;
    }
    if (stages.length === 0) throw new Error(`Dockerfile:${start}: ${cmd} before FROM`);
    stages[stages.length - 1].instructions.push({ cmd, args, line: start });
  }
  return stages;
}

export function readDockerfile(root: string): Stage[] {
  return parseDockerfile(fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8'));
}

/** `$NAME` and `${NAME}` from the stage's environment, as Docker substitutes them in ENV, WORKDIR, COPY, USER and VOLUME. */
export function substitute(value: string, env: Record<string, string>): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_, a: string | undefined, b: string | undefined) => env[(a ?? b)!] ?? '');
}

/** Words split on blanks, with double quotes grouping (and removed). */
function words(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]);
  return out;
}

/** ENV a=b c="d e": only the key=value form. */
export function envPairs(args: string): [string, string][] {
  const out: [string, string][] = [];
  for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("((?:[^"\\]|\\.)*)"|\S*)/g)) {
    out.push([m[1], m[3] !== undefined ? m[3].replace(/\\(.)/g, '$1') : m[2]]);
  }
  if (out.length === 0) throw new Error(`ENV ${args}: only the KEY=value form is understood`);
  return out;
}

export interface CopyArgs {
  from: string | null;
  sources: string[];
  dest: string;
}

export function copyArgs(args: string): CopyArgs {
  const parts = words(args);
  let from: string | null = null;
  while (parts[0]?.startsWith('--')) {
    const flag = parts.shift()!;
    const m = /^--from=(.+)$/.exec(flag);
    if (!m) throw new Error(`COPY ${flag}: only --from is understood`);
    from = m[1];
  }
  if (parts.length < 2) throw new Error(`COPY ${args}: needs a source and a destination`);
  return { from, sources: parts.slice(0, -1), dest: parts[parts.length - 1] };
}

/** An exec-form array (ENTRYPOINT, CMD, HEALTHCHECK's CMD); the shell form is refused: a shell as PID 1 keeps SIGTERM from node. */
export function execForm(args: string, what: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(args);
  } catch {
    throw new Error(`${what} ${args}: not in exec form (a JSON array)`);
  }
  if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((s) => typeof s === 'string')) {
    throw new Error(`${what} ${args}: not a JSON array of strings`);
  }
  return parsed as string[];
}

export interface Healthcheck {
  options: Record<string, string>;
  command: string[];
}

export function healthcheck(args: string): Healthcheck {
  const m = /^((?:--[a-z-]+=\S+\s+)*)CMD\s+([\s\S]+)$/.exec(args);
  if (!m) throw new Error(`HEALTHCHECK ${args}: expected [--option=value ...] CMD [...]`);
  const options: Record<string, string> = {};
  for (const o of m[1].matchAll(/--([a-z-]+)=(\S+)/g)) options[o[1]] = o[2];
  return { options, command: execForm(m[2].trim(), 'HEALTHCHECK CMD') };
}

/** The last instruction `cmd` of a stage, or null. */
export function last(stage: Stage, cmd: string): Instruction | null {
  return [...stage.instructions].reverse().find((i) => i.cmd === cmd) ?? null;
}

/** A stage's environment after all its ENV lines, substituted in order. */
export function stageEnv(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of stage.instructions) if (i.cmd === 'ENV') for (const [k, v] of envPairs(i.args)) env[k] = substitute(v, env);
  return env;
}

/**
 * .dockerignore as Docker applies it: patterns in order, the last one that
 * matches a path or one of its parent directories wins; `!` re-includes;
 * `*` and `?` stay within one path segment, `**` crosses them.
 */
export function dockerignore(text: string): (relPath: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const glob = (negate ? l.slice(1) : l).replace(/^\/+/, '').replace(/\/+$/, '');
      let re = '';
      for (let i = 0; i < glob.length; i++) {
        const c = glob[i];
        if (c === '*' && glob[i + 1] === '*') {
          re += '.*';
          i++;
        } else if (c === '*') re += '[^/]*';
        else if (c === '?') re += '[^/]';
        else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
      }
      return { negate, re: new RegExp(`^${re}$`) };
    });
  return (relPath: string) => {
    const segments = relPath.split('/');
    const candidates = segments.map((_, i) => segments.slice(0, i + 1).join('/'));
    let excluded = false;
    for (const rule of rules) if (candidates.some((c) => rule.re.test(c))) excluded = !rule.negate;
    return excluded;
  };
}
