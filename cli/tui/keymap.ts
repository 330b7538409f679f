/**
 * Every key of the terminal UI, as data: the help bar shows the bindings of the current view,
 * `?` lists them all, and App dispatches on `action`. Keys follow k9s where k9s has one
 * (`/` filter, `?` help, `esc` back, `j`/`k`, `q` quit, single letters for actions).
 */
import type { Key } from 'ink';

export const VIEWS = ['services', 'graph', 'traffic', 'rules', 'logs', 'faults', 'traces'] as const;
export type ViewName = (typeof VIEWS)[number];

export const VIEW_TITLES: Record<ViewName, string> = {
  services: 'Services',
  graph: 'Graph',
  traffic: 'Traffic',
  rules: 'Rules',
  logs: 'Logs',
  faults: 'Faults',
  traces: 'Traces',
};

export type Action =
  | 'view-1'
  | 'view-2'
  | 'view-3'
  | 'view-4'
  | 'view-5'
  | 'view-6'
  | 'view-7'
  | 'open-trace'
  | 'next-view'
  | 'prev-view'
  | 'up'
  | 'down'
  | 'page-up'
  | 'page-down'
  | 'top'
  | 'bottom'
  | 'open'
  | 'back'
  | 'filter'
  | 'pause'
  | 'delay'
  | 'abort'
  | 'network'
  | 'remove-fault'
  | 'clear-faults'
  | 'kill'
  | 'pause-instance'
  | 'restart'
  | 'load'
  | 'load-faster'
  | 'load-slower'
  | 'help'
  | 'quit';

export interface KeyBinding {
  /** key names as keyName() gives them; the first is the one shown */
  keys: string[];
  action: Action;
  /** in the help bar */
  label: string;
  /** in the `?` list */
  description: string;
  /** views where the binding applies; everywhere when absent */
  views?: readonly ViewName[];
  /** shown in the help bar (else only in `?`) */
  bar?: boolean;
  group: 'navigate' | 'traffic' | 'faults' | 'workloads' | 'load' | 'general';
}

export const KEYMAP: readonly KeyBinding[] = [
  { keys: ['1'], action: 'view-1', label: 'services', description: 'services: health, RPS, success, latency per service, version and instance', group: 'navigate' },
  { keys: ['2'], action: 'view-2', label: 'graph', description: 'mesh graph: who calls whom, traffic split and errors per edge', group: 'navigate' },
  { keys: ['3'], action: 'view-3', label: 'traffic', description: 'live traffic (tap): one line per hop', group: 'navigate' },
  { keys: ['4'], action: 'view-4', label: 'rules', description: 'rules: loaded resources and validation findings', group: 'navigate' },
  { keys: ['5'], action: 'view-5', label: 'logs', description: 'logs: every instance’s output and meshbox’s own events', group: 'navigate' },
  { keys: ['6'], action: 'view-6', label: 'faults', description: 'faults: active faults, from rule files and from here', group: 'navigate' },
  { keys: ['7'], action: 'view-7', label: 'traces', description: 'traces: recent traces and the waterfall of one (spans, attempts, faults)', group: 'navigate' },
  { keys: ['tab'], action: 'next-view', label: 'next view', description: 'next view', group: 'navigate' },
  { keys: ['shift-tab'], action: 'prev-view', label: 'previous view', description: 'previous view', group: 'navigate' },
  { keys: ['up', 'k'], action: 'up', label: 'select', description: 'move up (in traffic: pause and select a request)', group: 'navigate' },
  { keys: ['down', 'j'], action: 'down', label: 'select', description: 'move down', group: 'navigate' },
  { keys: ['pageup'], action: 'page-up', label: 'page up', description: 'one page up', group: 'navigate' },
  { keys: ['pagedown'], action: 'page-down', label: 'page down', description: 'one page down', group: 'navigate' },
  { keys: ['home', 'g'], action: 'top', label: 'top', description: 'first row', group: 'navigate' },
  { keys: ['end', 'G'], action: 'bottom', label: 'bottom', description: 'last row (in traffic and logs: follow again)', group: 'navigate' },
  { keys: ['enter'], action: 'open', label: 'detail', description: 'traffic: the selected request in detail (headers, route and why, faults, retries); services: that instance’s logs; traces: the waterfall of the selected trace', views: ['traffic', 'services', 'traces'], bar: true, group: 'traffic' },
  { keys: ['escape'], action: 'back', label: 'back', description: 'close the detail, help or prompt; clear the filter', group: 'navigate' },
  { keys: ['/'], action: 'filter', label: 'filter', description: 'filter rows by text (`!text` excludes; `5xx`, `FI`, `v1` work)', views: ['traffic', 'logs'], bar: true, group: 'traffic' },
  { keys: ['space'], action: 'pause', label: 'pause', description: 'pause / follow the stream', views: ['traffic', 'logs'], bar: true, group: 'traffic' },
  { keys: ['t'], action: 'open-trace', label: 'trace', description: 'traffic: the trace of the selected request, as a waterfall (Traces view)', views: ['traffic'], bar: true, group: 'traffic' },
  { keys: ['d'], action: 'delay', label: 'delay', description: 'inject a delay into the selected service/version (percent, ms)', bar: true, views: ['services', 'graph', 'traffic', 'faults'], group: 'faults' },
  { keys: ['a'], action: 'abort', label: 'abort', description: 'inject an abort (HTTP status) into the selected service/version (percent, status)', bar: true, views: ['services', 'graph', 'traffic', 'faults'], group: 'faults' },
  { keys: ['n'], action: 'network', label: 'network fault', description: 'add a network fault (toxic: latency, bandwidth, reset_peer, ...) on connections to the selected service/version', bar: true, views: ['services', 'graph', 'traffic', 'faults'], group: 'faults' },
  { keys: ['x'], action: 'remove-fault', label: 'remove', description: 'remove the selected runtime fault', views: ['faults'], bar: true, group: 'faults' },
  { keys: ['c'], action: 'clear-faults', label: 'clear faults', description: 'remove every runtime fault', bar: true, views: ['services', 'graph', 'traffic', 'faults'], group: 'faults' },
  { keys: ['K'], action: 'kill', label: 'kill', description: 'kill the selected instance (SIGKILL; meshbox restarts it with back-off)', views: ['services'], bar: true, group: 'workloads' },
  { keys: ['p'], action: 'pause-instance', label: 'pause/resume', description: 'freeze / thaw the selected instance (SIGSTOP / SIGCONT)', views: ['services'], bar: true, group: 'workloads' },
  { keys: ['r'], action: 'restart', label: 'restart', description: 'restart the selected instance gracefully', views: ['services'], bar: true, group: 'workloads' },
  { keys: ['l'], action: 'load', label: 'load', description: 'start load against the ingress at a chosen rate (open loop), or stop it', bar: true, group: 'load' },
  { keys: ['+', '='], action: 'load-faster', label: 'rate x2', description: 'double the load rate', group: 'load' },
  { keys: ['-'], action: 'load-slower', label: 'rate /2', description: 'halve the load rate', group: 'load' },
  { keys: ['?'], action: 'help', label: 'help', description: 'all keys', bar: true, group: 'general' },
  { keys: ['q', 'ctrl-c'], action: 'quit', label: 'quit', description: 'quit: stop the load, every workload and sidecar, and restore the terminal', bar: true, group: 'general' },
];

/** A canonical name for a key press: `up`, `enter`, `escape`, `shift-tab`, `ctrl-c`, `space`, or the character. */
export function keyName(input: string, key: Key): string {
  if (key.upArrow) return 'up';
  if (key.downArrow) return 'down';
  if (key.leftArrow) return 'left';
  if (key.rightArrow) return 'right';
  if (key.pageUp) return 'pageup';
  if (key.pageDown) return 'pagedown';
  if (key.home) return 'home';
  if (key.end) return 'end';
  if (key.return) return 'enter';
  if (key.escape) return 'escape';
  if (key.tab) return key.shift ? 'shift-tab' : 'tab';
  if (key.backspace) return 'backspace';
  if (key.delete) return 'delete';
  if (key.ctrl && input) return `ctrl-${input.toLowerCase()}`;
  if (input === ' ') return 'space';
  return input;
}

export function bindingFor(name: string, view: ViewName): KeyBinding | undefined {
  return KEYMAP.find((b) => b.keys.includes(name) && (!b.views || b.views.includes(view)));
}

/** what a key looks like in the help: `↑/k`, `⏎`, `esc` */
export function keyLabel(name: string): string {
  const labels: Record<string, string> = {
    up: '↑',
    down: '↓',
    left: '←',
    right: '→',
    enter: '⏎',
    escape: 'esc',
    space: 'space',
    pageup: 'pgup',
    pagedown: 'pgdn',
    'shift-tab': 'S-tab',
  };
  return labels[name] ?? name;
}
