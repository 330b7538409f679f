/**
 * Runtime faults: added from the admin API, the CLI, the terminal UI or a scenario, layered on
 * top of the faults declared in rule files, each with an optional time to live. Every change is
 * an event and reaches the data plane in the next snapshot.
 */
import { validateAgainst } from '../config/schema-validator.js';
import { faultSpecSchema } from '../config/schemas/fault.js';
import { MeshError } from '../errors.js';
import type { EventBus } from '../events.js';
import type { FaultRecord, FaultSpec } from './fault-spec.js';
import { describeFault } from './describe-fault.js';

export class FaultStore {
  private readonly runtime = new Map<string, FaultRecord>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly listeners = new Set<() => void>();
  private counter = 0;

  /**
   * `fileFaults` gives the faults declared in the applied rule files (they change on reload);
   * `services` the mesh's services and the version labels of their instances, to refuse faults
   * that could never fire.
   */
  constructor(
    private readonly bus: EventBus,
    private readonly fileFaults: () => readonly FaultRecord[] = () => [],
    private readonly services?: () => Map<string, Set<string>>,
  ) {}

  private checkTarget(spec: FaultSpec): void {
    const known = this.services?.();
    if (!known) return;
    const versions = known.get(spec.target.service);
    if (!versions) {
      throw new MeshError('MESH_ERR_USAGE', [`no service ${spec.target.service} in the mesh`], { hint: `services: ${[...known.keys()].join(', ')}` });
    }
    if (spec.target.subset && !versions.has(spec.target.subset)) {
      throw new MeshError('MESH_ERR_USAGE', [`${spec.target.service} has no subset or version ${spec.target.subset}`], {
        hint: `versions: ${[...versions].join(', ')} (or a subset name from its DestinationRule)`,
      });
    }
  }

  /** validates a spec with the Fault schema; throws MESH_ERR_USAGE with every problem */
  static validate(spec: unknown): FaultSpec {
    const errors = validateAgainst(faultSpecSchema, spec);
    if (errors.length > 0) {
      const problems = errors.map((e) => `${e.instancePath || '(spec)'} ${e.message ?? 'is invalid'}`).join('; ');
      throw new MeshError('MESH_ERR_USAGE', [`invalid fault: ${problems}`], {
        hint: 'a fault needs `target.service` and `http` (delay/abort/reset/slowBody) or `toxics`; see README "Faults"',
      });
    }
    return spec as FaultSpec;
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }

  add(input: unknown): FaultRecord {
    const spec = FaultStore.validate(input);
    this.checkTarget(spec);
    const name = spec.name ?? this.nextName(spec);
    const existing = this.runtime.get(name);
    if (existing) this.drop(name, 'replaced', false);
    const now = Date.now();
    const record: FaultRecord = { name, spec: { ...spec, name }, origin: 'runtime', createdAt: now };
    if (spec.ttlMs !== undefined) {
      record.expiresAt = now + spec.ttlMs;
      const timer = setTimeout(() => this.drop(name, 'expired'), spec.ttlMs);
      timer.unref();
      this.timers.set(name, timer);
    }
    this.runtime.set(name, record);
    this.bus.emit({ type: 'mesh:fault:added', time: now, name, origin: 'runtime', summary: describeFault(record.spec) });
    this.changed();
    return record;
  }

  private nextName(spec: FaultSpec): string {
    let name: string;
    do {
      this.counter++;
      const kind = spec.http ? Object.keys(spec.http)[0] : spec.toxics?.[0]?.type;
      name = `${spec.target.service}${spec.target.subset ? `-${spec.target.subset}` : ''}-${kind ?? 'fault'}-${this.counter}`;
    } while (this.runtime.has(name));
    return name;
  }

  private drop(name: string, reason: 'deleted' | 'expired' | 'cleared' | 'replaced', notify = true): boolean {
    const record = this.runtime.get(name);
    if (!record) return false;
    this.runtime.delete(name);
    const timer = this.timers.get(name);
    if (timer) clearTimeout(timer);
    this.timers.delete(name);
    this.bus.emit({ type: 'mesh:fault:removed', time: Date.now(), name, origin: 'runtime', summary: describeFault(record.spec), reason });
    if (notify) this.changed();
    return true;
  }

  /** removes a runtime fault; faults from rule files are removed by editing the file */
  remove(name: string): boolean {
    const declared = this.fileFaults().find((x) => x.name === name);
    if (!this.runtime.has(name) && declared) {
      const f = declared;
      throw new MeshError('MESH_ERR_USAGE', [`fault ${name} is declared in ${f.source ?? 'a rule file'}`], {
        hint: 'remove it from the rule file (the file is the source of truth)',
      });
    }
    return this.drop(name, 'deleted');
  }

  /** removes every runtime fault; returns how many */
  clear(): number {
    const names = [...this.runtime.keys()];
    for (const n of names) this.drop(n, 'cleared', false);
    if (names.length) this.changed();
    return names.length;
  }

  runtimeFaults(): FaultRecord[] {
    return [...this.runtime.values()];
  }

  /** every active fault: from rule files, then runtime ones */
  list(): FaultRecord[] {
    return [...this.fileFaults(), ...this.runtime.values()];
  }

  close(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
