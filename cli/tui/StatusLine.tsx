/**
 * The line above the key hints: the `/` filter being typed, else the newest of the last action's
 * result and the sandbox's last notice, else a hint (how to curl the ingress, or start-up).
 */
import { Block } from './Block.js';
import type { SandboxController } from './controller.js';
import { line, span, type Line } from './lines.js';
import type { ColorName } from './theme.js';
import type { ViewSnapshot } from './view-store.js';

export interface StatusMessage {
  level: 'info' | 'ok' | 'warn' | 'error';
  text: string;
  time: number;
}

export interface StatusLineProps {
  status: StatusMessage | undefined;
  snapshot: ViewSnapshot;
  controller: SandboxController;
  /** the `/` filter is being typed */
  editing: boolean;
  filter: string;
  width: number;
}

const COLOR: Record<StatusMessage['level'], ColorName> = { info: 'gray', ok: 'green', warn: 'yellow', error: 'red' };

export function statusLine({ status, snapshot, controller, editing, filter }: Omit<StatusLineProps, 'width'>): Line {
  if (editing) return [span(`/${filter}▏`, { color: 'cyan', bold: true }), span(' ⏎ keep  esc clear  (!text excludes)', { color: 'gray' })];
  const notice = snapshot.lastNotice;
  if (notice && (!status || notice.time > status.time)) return line(`${notice.message}${notice.hint ? ` (hint: ${notice.hint})` : ''}`, { color: COLOR[notice.level] });
  if (status) return line(`${status.level === 'ok' ? '✓ ' : status.level === 'error' ? '✗ ' : ''}${status.text}`, { color: COLOR[status.level] });
  const target = snapshot.sandbox.phase === 'running' ? controller.load.target() : undefined;
  if (target) return line(`try: curl -H 'Host: ${target.host}' ${target.baseUrl}${target.path}   or press l to send load`, { color: 'gray' });
  return line(snapshot.sandbox.phase === 'starting' ? 'starting the mesh: workloads appear as they come up' : '', { color: 'gray' });
}

export function StatusLine(props: StatusLineProps) {
  return <Block lines={[statusLine(props)]} width={props.width} height={1} />;
}
