import type { ClusterPolicy, NetworkRule } from '@palisade/protocol';
import { DEFAULT_PROTECTED_PATHS } from './defaults.js';
import type { ContainerPolicy, FileId, NetAllow, PolicyGeneration, ProtectedFile } from './enforcement.js';
import { formatCidr, parseCidr } from './ip.js';
import { type ContainerFacts, type EffectiveGroup, selectGroup } from './select.js';

export interface ResolvedFile extends FileId {
  isDir: boolean;
}

/**
 * The only I/O compilation needs, injected by the caller. Paths are inside the container; the agent's
 * implementation must resolve symlinks against the container's root (not the host's), follow the
 * final symlink like stat(2), and return the kernel dev encoding (major << 20 | minor).
 */
export interface PathResolver {
  stat(pathInsideContainer: string): ResolvedFile | undefined;
  /** Entry names of a directory. Needed only to carve an allowed file out of a protected directory. */
  list?(dirInsideContainer: string): string[];
}

export interface ContainerTarget extends ContainerFacts {
  /** Inode of the container's cgroup v2 directory. */
  cgroupId: bigint;
  /** Host path of the container's root filesystem, e.g. /proc/<pid>/root. */
  rootPath: string;
}

export interface CompileOptions {
  /** Most netAllow entries per container (the kernel map has a fixed size). */
  maxNetEntries?: number;
}

export const DEFAULT_MAX_NET_ENTRIES = 4096;

export interface CompiledContainer {
  policy: ContainerPolicy;
  /** Rules that could not be compiled as written, one sentence each; the result is still enforceable. */
  warnings: string[];
}

/** Compiles one container's group into the plain data the enforcement back-ends take. */
export function compileContainer(
  group: EffectiveGroup,
  container: ContainerTarget,
  resolver: PathResolver,
  options: CompileOptions = {},
): CompiledContainer {
  const warnings: string[] = [];
  const policy: ContainerPolicy = {
    cgroupId: container.cgroupId,
    rootPath: container.rootPath,
    modes: { ...group.modes },
    execAllow: compileExec(group, resolver, warnings),
    fileProtect: compileFiles(group, resolver, warnings),
    netAllow: compileNetwork(group.network, options.maxNetEntries ?? DEFAULT_MAX_NET_ENTRIES, warnings),
  };
  return { policy, warnings };
}

const idKey = (id: FileId) => `${id.dev}:${id.ino}`;

function compileExec(group: EffectiveGroup, resolver: PathResolver, warnings: string[]) {
  // Exec identity is the inode, so a deny also removes allowed paths that are the same file (links).
  const denied = new Map<string, string>();
  for (const rule of group.process) {
    if (rule.action !== 'deny') continue;
    const id = resolver.stat(rule.path);
    if (id && !id.isDir) denied.set(idKey(id), rule.path);
  }
  const allowed = new Map<string, FileId & { path: string }>();
  for (const rule of group.process) {
    if (rule.action !== 'allow') continue;
    const id = resolver.stat(rule.path);
    if (!id) {
      warnings.push(`process: ${rule.path} does not exist in the container; rule skipped`);
      continue;
    }
    if (id.isDir) {
      warnings.push(`process: ${rule.path} is a directory, not an executable; rule skipped`);
      continue;
    }
    const key = idKey(id);
    const deniedAs = denied.get(key);
    if (deniedAs !== undefined) {
      warnings.push(`process: ${rule.path} is the same file as denied ${deniedAs}; not allowed`);
      continue;
    }
    if (!allowed.has(key)) allowed.set(key, { dev: id.dev, ino: id.ino, path: rule.path });
  }
  return [...allowed.values()];
}

/** A protected-path spec resolved to what the kernel can match: one inode, or a directory's children. */
interface FileSpec {
  path: string;
  /** For children: the directory in the container and the name prefix ("" = every child). */
  dir?: { path: string; prefix: string };
  /** For a single file: its name and parent directory, so a directory rule can be checked against it. */
  parent?: string;
  name?: string;
}

function parseSpec(path: string): FileSpec {
  if (path.endsWith('/')) return { path, dir: { path: path.slice(0, -1) || '/', prefix: '' } };
  const slash = path.lastIndexOf('/');
  const parent = path.slice(0, slash) || '/';
  const name = path.slice(slash + 1);
  if (name.endsWith('*')) return { path, dir: { path: parent, prefix: name.slice(0, -1) } };
  return { path, parent, name };
}

const childPath = (dir: string, name: string) => (dir === '/' ? `/${name}` : `${dir}/${name}`);

/** Resolves a spec; undefined (with a warning) when the path does not exist in the container. */
function resolveSpec(spec: FileSpec, resolver: PathResolver, warnings: string[]): ProtectedFile | undefined {
  if (spec.dir) {
    const id = resolver.stat(spec.dir.path);
    if (!id) {
      warnings.push(
        `file: directory ${spec.dir.path} of ${spec.path} does not exist in the container; skipped`,
      );
      return undefined;
    }
    if (!id.isDir) {
      warnings.push(`file: ${spec.dir.path} of ${spec.path} is not a directory; skipped`);
      return undefined;
    }
    const entry: ProtectedFile = { id: { dev: id.dev, ino: id.ino }, dir: true, path: spec.dir.path };
    if (spec.dir.prefix !== '') entry.namePrefix = spec.dir.prefix;
    return entry;
  }
  const id = resolver.stat(spec.path);
  if (!id) {
    warnings.push(`file: ${spec.path} does not exist in the container; skipped`);
    return undefined;
  }
  // Nothing opens a directory for writing; a directory named without "/" means its children.
  return { id: { dev: id.dev, ino: id.ino }, dir: id.isDir, path: spec.path };
}

const entryKey = (e: ProtectedFile) => `${idKey(e.id)}:${e.dir ? 'd' : 'f'}:${e.namePrefix ?? ''}`;

/** Children a resolved allow rule exempts, keyed by the directory's inode. */
interface Exemption {
  rule: string;
  dirKey: string;
  /** Exempt children: exact name, or every name starting with prefix. */
  name?: string;
  prefix?: string;
  /** The exact file, when the rule names one. */
  fileKey?: string;
}

function exemptionFor(path: string, resolver: PathResolver): Exemption | undefined {
  const spec = parseSpec(path);
  if (spec.dir) {
    const id = resolver.stat(spec.dir.path);
    if (!id?.isDir) return undefined;
    return { rule: path, dirKey: idKey(id), prefix: spec.dir.prefix };
  }
  const id = resolver.stat(path);
  if (id?.isDir) return { rule: path, dirKey: idKey(id), prefix: '' };
  const parent = spec.parent === undefined ? undefined : resolver.stat(spec.parent);
  if (!parent?.isDir && !id) return undefined;
  const exemption: Exemption = { rule: path, dirKey: parent?.isDir ? idKey(parent) : '' };
  if (spec.name !== undefined) exemption.name = spec.name;
  if (id) exemption.fileKey = idKey(id);
  return exemption;
}

function exempts(x: Exemption, childName: string): boolean {
  if (x.prefix !== undefined) return childName.startsWith(x.prefix);
  return childName === x.name;
}

/** Whether an exemption can touch any child a directory entry with this name prefix covers. */
function overlaps(x: Exemption, prefix: string): boolean {
  if (x.prefix !== undefined) return x.prefix.startsWith(prefix) || prefix.startsWith(x.prefix);
  return (x.name ?? '').startsWith(prefix);
}

/**
 * Protected = (defaults minus the group's allow rules) plus the group's deny rules. An allow rule
 * inside a protected directory (e.g. allow /usr/bin/pip with /usr/bin/ protected) replaces that
 * directory by the files it holds now, minus the allowed ones; new files there are then not covered,
 * which the warnings say.
 */
function compileFiles(group: EffectiveGroup, resolver: PathResolver, warnings: string[]): ProtectedFile[] {
  const allowPaths = new Set(group.file.filter((r) => r.action === 'allow').map((r) => r.path));
  const exemptions: Exemption[] = [];
  for (const path of allowPaths) {
    const x = exemptionFor(path, resolver);
    if (x) exemptions.push(x);
  }

  const result = new Map<string, ProtectedFile>();
  const add = (e: ProtectedFile) => {
    const key = entryKey(e);
    if (!result.has(key)) result.set(key, e);
  };

  const handledDirs = new Set<string>();
  const used = new Set<string>();
  for (const path of DEFAULT_PROTECTED_PATHS) {
    if (allowPaths.has(path)) {
      used.add(path);
      continue;
    }
    const spec = parseSpec(path);
    const entry = resolveSpec(spec, resolver, warnings);
    if (!entry) continue;
    if (!entry.dir) {
      const key = idKey(entry.id);
      const parent = spec.parent === undefined ? undefined : resolver.stat(spec.parent);
      const parentKey = parent ? idKey(parent) : undefined;
      const exempting = exemptions.filter(
        (x) => x.fileKey === key || (x.dirKey === parentKey && exempts(x, spec.name ?? '')),
      );
      for (const x of exempting) used.add(x.rule);
      if (exempting.length === 0) add(entry);
      continue;
    }
    // Two defaults can be one directory (merged /usr: /bin is /usr/bin); handle it once.
    if (handledDirs.has(entryKey(entry))) continue;
    handledDirs.add(entryKey(entry));
    const dirKey = idKey(entry.id);
    const prefix = entry.namePrefix ?? '';
    const touching = exemptions.filter((x) => x.dirKey === dirKey && overlaps(x, prefix));
    if (touching.length === 0) {
      add(entry);
      continue;
    }
    // A directory-wide allow whose prefix is no longer than ours exempts every child we cover.
    const wholeDir = touching.filter((x) => x.prefix !== undefined && prefix.startsWith(x.prefix));
    for (const x of wholeDir.length > 0 ? wholeDir : touching) used.add(x.rule);
    if (wholeDir.length > 0) continue;
    const dirPath = spec.dir?.path ?? path;
    const rules = touching.map((x) => x.rule).join(', ');
    if (!resolver.list) {
      warnings.push(
        `file: cannot exempt ${rules} from ${path} (directory cannot be listed); ${path} stays protected`,
      );
      add(entry);
      continue;
    }
    for (const name of resolver.list(dirPath)) {
      if (!name.startsWith(prefix) || touching.some((x) => exempts(x, name))) continue;
      const child = childPath(dirPath, name);
      const id = resolver.stat(child);
      if (id && !id.isDir) add({ id: { dev: id.dev, ino: id.ino }, dir: false, path: child });
    }
    warnings.push(
      `file: ${path} is protected file by file because of ${rules}; files created there later are not covered`,
    );
  }

  for (const path of allowPaths) {
    if (!used.has(path))
      warnings.push(`file: allow ${path} matches no default protected path; it has no effect`);
  }

  for (const rule of group.file) {
    if (rule.action !== 'deny') continue;
    const entry = resolveSpec(parseSpec(rule.path), resolver, warnings);
    if (entry) add(entry);
  }
  return [...result.values()];
}

function expandPorts(ports: NetworkRule['ports']): number[] {
  if (ports === 'any') return [0];
  const out: number[] = [];
  for (const p of ports) {
    if (typeof p === 'number') out.push(p);
    else if (p.from === 1 && p.to === 65535) out.push(0);
    else for (let port = p.from; port <= p.to; port++) out.push(port);
  }
  return out;
}

function compileNetwork(rules: NetworkRule[], max: number, warnings: string[]): NetAllow[] {
  const out = new Map<string, NetAllow>();
  let dropped = 0;
  for (const rule of rules) {
    const targets = rule.to === 'any' ? ['0.0.0.0/0', '::/0'] : [rule.to];
    for (const target of targets) {
      const cidr = parseCidr(target);
      if (!cidr) {
        warnings.push(`network: ${target} is not a CIDR; rule skipped`);
        continue;
      }
      const addr = formatCidr(cidr).split('/')[0] ?? '';
      for (const port of expandPorts(rule.ports)) {
        const entry: NetAllow = {
          family: cidr.family,
          addr,
          prefixLen: cidr.prefixLen,
          port,
          protocol: rule.protocol,
        };
        const key = `${entry.family}|${addr}/${entry.prefixLen}|${port}|${entry.protocol}`;
        if (out.has(key)) continue;
        if (out.size >= max) {
          dropped++;
          continue;
        }
        out.set(key, entry);
      }
    }
  }
  if (dropped > 0) {
    warnings.push(
      `network: ${dropped} allow entries beyond the limit of ${max} were dropped; those connections are not allowed`,
    );
  }
  return [...out.values()];
}

/**
 * One generation from compiled containers, in cgroup id order. Throws on a generation that is not a
 * positive integer or on two entries for one cgroup: both are caller bugs, never half-applied.
 */
export function compileGeneration(
  generation: number,
  entries: ReadonlyArray<ContainerPolicy | CompiledContainer>,
): PolicyGeneration {
  if (!Number.isSafeInteger(generation) || generation < 1) {
    throw new RangeError(`generation must be a positive integer, got ${generation}`);
  }
  const containers = entries.map((e) => ('policy' in e ? e.policy : e));
  const seen = new Set<bigint>();
  for (const c of containers) {
    if (seen.has(c.cgroupId))
      throw new Error(`cgroup ${c.cgroupId} appears twice in generation ${generation}`);
    seen.add(c.cgroupId);
  }
  containers.sort((a, b) => (a.cgroupId < b.cgroupId ? -1 : a.cgroupId > b.cgroupId ? 1 : 0));
  return { generation, containers };
}

export interface NodeContainer extends ContainerTarget {
  resolver: PathResolver;
}

export interface CompiledNode {
  generation: PolicyGeneration;
  /** Per container id: the group it got and the compile warnings. */
  containers: Record<string, { group: string; warnings: string[] }>;
}

/** Select and compile every container of a node in one go: the agent's whole step. */
export function compileNode(
  policy: ClusterPolicy,
  generation: number,
  containers: readonly NodeContainer[],
  options: CompileOptions = {},
): CompiledNode {
  const compiled: CompiledContainer[] = [];
  const report: CompiledNode['containers'] = {};
  for (const c of containers) {
    const group = selectGroup(policy, c);
    const result = compileContainer(group, c, c.resolver, options);
    compiled.push(result);
    report[c.id] = { group: group.name, warnings: result.warnings };
  }
  return { generation: compileGeneration(generation, compiled), containers: report };
}
