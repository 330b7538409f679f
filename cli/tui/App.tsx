/**
 * The terminal UI: layout, view switching and the keyboard. Data comes from the ViewStore's
 * snapshots (never from events); actions go to the SandboxController.
 *
 *   ┌ Header: sandbox state, faults, load, runtime, seed / rules version + last reload, ingress, admin
 *   ├ TabBar: 1 Services  2 Graph  3 Traffic  4 Rules  5 Logs  6 Faults
 *   │ the current view (or a request's detail, or the key list)
 *   ├ StatusLine: the last action's result, a notice, or the `/` filter being typed
 *   └ HelpBar: the current view's keys (or the form of an action key)
 */
import { Box, useInput, type Key } from 'ink';
import { useMemo, type ReactNode } from 'react';
import { MeshError } from '../../sandbox/errors.js';
import type { RequestEvent } from '../../sandbox/events.js';
import { Block } from './Block.js';
import type { SandboxController } from './controller.js';
import { FaultsView } from './FaultsView.js';
import { abortForm, backspace, delayForm, faultSpec, faultTargets, loadForm, loadOptions, networkForm, typeInto, updateField, type FormState } from './forms.js';
import { rps } from './format.js';
import { GraphView } from './GraphView.js';
import { Header } from './Header.js';
import { HelpBar } from './HelpBar.js';
import { helpLines, HelpOverlay } from './HelpOverlay.js';
import { bindingFor, keyName, VIEWS, type Action, type ViewName } from './keymap.js';
import { logText, LogsView } from './LogsView.js';
import { line } from './lines.js';
import { Prompt } from './Prompt.js';
import { detailScreenLines, RequestDetail } from './RequestDetail.js';
import { TracesView } from './TracesView.js';
import { rulesLines, RulesView } from './RulesView.js';
import { rowTarget, serviceListRows, ServicesView, type ServiceListRow } from './ServicesView.js';
import { StatusLine, type StatusMessage } from './StatusLine.js';
import { TabBar } from './TabBar.js';
import { theme, ThemeContext } from './theme.js';
import { filterMatcher, filterTraffic } from './traffic.js';
import { TrafficView } from './TrafficView.js';
import { useTerminalSize, type TerminalSize } from './use-terminal-size.js';
import { useUiState } from './use-ui-state.js';
import { useViewSnapshot } from './use-view-snapshot.js';
import type { LogLine, ViewSnapshot, ViewStore } from './view-store.js';

export interface AppProps {
  store: ViewStore;
  controller: SandboxController;
  /** called once when the user quits (q, Ctrl-C); the caller stops the sandbox */
  onQuit: () => void;
  /** colours (false with NO_COLOR); @default true */
  color?: boolean;
  /** a fixed size (tests); default: the terminal's, following resizes */
  size?: TerminalSize;
  initialView?: ViewName;
  /** whether keyboard input is available (raw mode); @default true */
  interactive?: boolean;
}

interface UiState {
  view: ViewName;
  /** key of the selected Services row */
  serviceSel: string | undefined;
  faultSel: string | undefined;
  trafficSel: RequestEvent | undefined;
  /** the tap as it was when paused; undefined while following */
  trafficFrozen: readonly RequestEvent[] | undefined;
  logsFrozen: readonly LogLine[] | undefined;
  /** lines scrolled up from the tail */
  logsScroll: number;
  rulesScroll: number;
  detail: RequestEvent | undefined;
  detailScroll: number;
  /** Traces view: the selected trace, the one whose waterfall is open, its scroll */
  traceSel: string | undefined;
  traceOpen: string | undefined;
  traceScroll: number;
  help: boolean;
  helpScroll: number;
  filters: { traffic: string; logs: string };
  editingFilter: boolean;
  form: FormState | undefined;
  status: StatusMessage | undefined;
  quitting: boolean;
}

const MIN_COLUMNS = 40;
/** traces the Traces view lists */
const TRACE_ROWS = 200;
const MIN_ROWS = 8;
/** below this height the header and the bottom lines shrink to one line each */
const COMPACT_ROWS = 18;

function errorText(e: unknown): string {
  if (e instanceof MeshError) return `${e.message} (${e.hint})`;
  return e instanceof Error ? e.message : String(e);
}

/** `callme-service/v2` for the version a hop ended at */
function hopTarget(e: RequestEvent | undefined): string | undefined {
  if (!e || e.destination.serviceName === 'unknown') return undefined;
  const version = e.destination.version !== 'unknown' ? e.destination.version : e.destination.subset;
  return version ? `${e.destination.serviceName}/${version}` : e.destination.serviceName;
}

/** a plain character's Key: no arrow, no modifier */
const NO_KEY: Key = {
  upArrow: false,
  downArrow: false,
  leftArrow: false,
  rightArrow: false,
  pageDown: false,
  pageUp: false,
  home: false,
  end: false,
  return: false,
  escape: false,
  ctrl: false,
  shift: false,
  tab: false,
  backspace: false,
  delete: false,
  meta: false,
  super: false,
  hyper: false,
  capsLock: false,
  numLock: false,
};

const clamp = (n: number, min: number, max: number): number => Math.max(min, Math.min(max, n));

export function App(props: AppProps) {
  const t = useMemo(() => theme(props.color ?? true), [props.color]);
  return (
    <ThemeContext.Provider value={t}>
      <Screen {...props} />
    </ThemeContext.Provider>
  );
}

/** what the views show for a UI state and a snapshot */
function derive(ui: UiState, snapshot: ViewSnapshot, store: ViewStore) {
  const serviceRows = serviceListRows(snapshot.services);
  const selectedService: ServiceListRow | undefined = serviceRows.find((r) => r.key === ui.serviceSel) ?? serviceRows[0];
  const upstream = (e: RequestEvent): RequestEvent[] => store.upstreamEvents(e);
  const trafficAll = ui.trafficFrozen ?? snapshot.traffic.events;
  const trafficRows = filterTraffic(trafficAll, ui.filters.traffic, upstream);
  const logMatch = filterMatcher(ui.filters.logs);
  const logsAll = ui.logsFrozen ?? snapshot.logs;
  const logRows = logMatch ? logsAll.filter((l) => logMatch(logText(l))) : logsAll;
  const faults = snapshot.faults.list;
  const selectedFault = faults.find((f) => f.name === ui.faultSel) ?? faults[0];
  return { serviceRows, selectedService, upstream, trafficAll, trafficRows, logsAll, logRows, faults, selectedFault };
}

function Screen({ store, controller, onQuit, size, initialView = 'services', interactive = true }: AppProps) {
  const snapshot = useViewSnapshot(store);
  const { columns, rows } = useTerminalSize(size);
  const [ui, update, latest] = useUiState<UiState>(() => ({
    view: initialView,
    serviceSel: undefined,
    faultSel: undefined,
    trafficSel: undefined,
    trafficFrozen: undefined,
    logsFrozen: undefined,
    logsScroll: 0,
    rulesScroll: 0,
    detail: undefined,
    detailScroll: 0,
    traceSel: undefined,
    traceOpen: undefined,
    traceScroll: 0,
    help: false,
    helpScroll: 0,
    filters: { traffic: '', logs: '' },
    editingFilter: false,
    form: undefined,
    status: undefined,
    quitting: false,
  }));

  const tooSmall = columns < MIN_COLUMNS || rows < MIN_ROWS;
  const compact = rows < COMPACT_ROWS;
  const headerHeight = compact ? 1 : 2;
  const bottomHeight = compact ? 1 : 2;
  // one row short of the terminal, so Ink redraws in place instead of clearing the screen
  const height = rows - 1;
  const viewHeight = Math.max(1, height - headerHeight - 1 - bottomHeight);
  const page = Math.max(1, viewHeight - 2);

  const say = (level: StatusMessage['level'], text: string): void => update({ status: { level, text, time: Date.now() } });

  /** runs an action, reporting its outcome in the status line and the logs view */
  const act = (pending: string, run: () => Promise<string> | string): void => {
    say('info', `${pending}…`);
    void (async () => {
      try {
        const done = await run();
        say('ok', done);
        store.note('info', done);
      } catch (e) {
        say('error', errorText(e));
        store.note('error', errorText(e));
      }
      store.touch();
    })();
  };

  // ── actions; every handler reads the latest state (several keys can come in one chunk) ──

  const openFaultForm = (kind: 'delay' | 'abort' | 'network'): void => {
    if (!controller.faults) return say('error', 'runtime faults are not available in this sandbox');
    const s = latest();
    const snap = store.getSnapshot();
    const targets = faultTargets(snap.services);
    if (targets.length === 0) return say('warn', 'no service yet: wait for the mesh to start');
    const d = derive(s, snap, store);
    const target = s.view === 'traffic' && s.trafficSel ? hopTarget(s.trafficSel) : rowTarget(d.selectedService);
    update({ form: kind === 'delay' ? delayForm(target, targets) : kind === 'abort' ? abortForm(target, targets) : networkForm(target, targets) });
  };

  const submitForm = (f: FormState): void => {
    try {
      if (f.id === 'load') {
        const o = loadOptions(f);
        controller.load.start(o);
        const target = controller.load.target();
        update({ form: undefined });
        say('ok', `load: ${o.rate} req/s, GET ${o.path} with Host ${target?.host ?? '-'} to ${target?.baseUrl ?? 'the ingress'}`);
        store.note('info', `load started: ${o.rate} req/s, GET ${o.path}`);
        store.touch();
        return;
      }
      const spec = faultSpec(f);
      const api = controller.faults;
      if (!api) throw new Error('runtime faults are not available in this sandbox');
      const record = api.add(spec);
      update({ form: undefined, faultSel: record.name });
      say('ok', `fault ${record.name} added (6 lists faults, c clears them)`);
      store.touch();
    } catch (e) {
      update({ form: { ...f, error: errorText(e) } });
    }
  };

  const instanceAction = (verb: 'kill' | 'pause' | 'restart'): void => {
    const s = latest();
    const row = derive(s, store.getSnapshot(), store).selectedService;
    if (s.view !== 'services' || row?.kind !== 'instance') return say('warn', `select an instance row in Services (1, then ↑↓) to ${verb} it`);
    const inst = row.row;
    const w = controller.workloads;
    if (verb === 'kill') return act(`killing ${inst.id}`, async () => (await w.kill(inst.id), `${inst.id} killed (SIGKILL): meshbox restarts it with back-off`));
    if (verb === 'restart') return act(`restarting ${inst.id}`, async () => (await w.restart(inst.id), `${inst.id} restarted`));
    if (inst.paused) return act(`resuming ${inst.id}`, async () => (await w.resume(inst.id), `${inst.id} resumed (SIGCONT)`));
    return act(`pausing ${inst.id}`, async () => (await w.pause(inst.id), `${inst.id} paused (SIGSTOP): p resumes it`));
  };

  const loadKey = (): void => {
    const current = controller.load.status();
    if (current?.running) {
      return act('stopping the load', async () => {
        await controller.load.stop();
        return `load stopped after ${current.sent} requests (${current.completed} answered, ${current.errors} failed)`;
      });
    }
    const target = controller.load.target();
    if (!target) return say('warn', 'no Gateway-bound host to send load to (yet): the sandbox may still be starting');
    update({ form: loadForm(current?.rate ?? 100, current?.path ?? target.path) });
  };

  const rerate = (factor: number): void => {
    const current = controller.load.status();
    if (!current?.running) return say('warn', 'no load running: press l to start it');
    const rate = clamp(Math.round(current.rate * factor), 1, 100_000);
    try {
      controller.load.start({ rate, path: current.path });
      say('ok', `load rate ${rps(rate)} req/s`);
      store.touch();
    } catch (e) {
      say('error', errorText(e));
    }
  };

  const quit = (): void => {
    if (latest().quitting) return;
    update({ quitting: true, form: undefined, editingFilter: false, status: { level: 'info', text: 'stopping the load, the workloads and the sidecars…', time: Date.now() } });
    store.setPhase('stopping', 'stopping');
    onQuit();
  };

  const followTraffic = (): void => update({ trafficFrozen: undefined, trafficSel: undefined });

  const move = (delta: number): void => {
    const s = latest();
    const snap = store.getSnapshot();
    if (s.detail) {
      const n = detailScreenLines(s.detail, store.requestEvents(s.detail.requestId), columns, controller.explainRequest?.(s.detail)).length;
      return update({ detailScroll: clamp(s.detailScroll + delta, 0, Math.max(0, n - 1)) });
    }
    if (s.help) return update({ helpScroll: clamp(s.helpScroll + delta, 0, helpLines(columns).length - 1) });
    const d = derive(s, snap, store);
    switch (s.view) {
      case 'services': {
        if (d.serviceRows.length === 0) return;
        const i = Math.max(0, d.serviceRows.findIndex((r) => r.key === d.selectedService?.key));
        return update({ serviceSel: d.serviceRows[clamp(i + delta, 0, d.serviceRows.length - 1)]!.key });
      }
      case 'traffic': {
        const list = d.trafficRows;
        if (list.length === 0) return;
        const index = s.trafficSel ? list.indexOf(s.trafficSel) : -1;
        const from = index >= 0 ? index : list.length;
        // moving in the tap pauses it, so the rows hold still under the cursor
        return update({ trafficFrozen: d.trafficAll, trafficSel: list[clamp(from + delta, 0, list.length - 1)] });
      }
      case 'logs':
        return update({ logsFrozen: d.logsAll, logsScroll: clamp(s.logsScroll - delta, 0, Math.max(0, d.logRows.length - 1)) });
      case 'rules':
        return update({ rulesScroll: clamp(s.rulesScroll + delta, 0, rulesLines(snap, columns).length - 1) });
      case 'faults': {
        if (d.faults.length === 0) return;
        const i = Math.max(0, d.faults.findIndex((f) => f.name === d.selectedFault?.name));
        return update({ faultSel: d.faults[clamp(i + delta, 0, d.faults.length - 1)]!.name });
      }
      case 'traces': {
        if (s.traceOpen) return update({ traceScroll: Math.max(0, s.traceScroll + delta) });
        const list = controller.traces?.recent(TRACE_ROWS) ?? [];
        if (list.length === 0) return;
        const i = Math.max(0, list.findIndex((t) => t.traceId === s.traceSel));
        return update({ traceSel: list[clamp(i + delta, 0, list.length - 1)]!.traceId });
      }
      case 'graph':
        return;
    }
  };

  /** the trace of a request (Traffic's `t`), opened as a waterfall in the Traces view */
  const openTrace = (e: RequestEvent | undefined): void => {
    if (!e) return say('warn', 'select a request first (↑ in Traffic)');
    if (!controller.traces) return say('warn', 'tracing is off in this sandbox');
    const t = controller.traces.byRequestId(e.requestId);
    if (!t) return say('warn', e.trace && !e.trace.sampled ? `request ${e.requestId} was not sampled (--trace-sampling)` : `no trace for request ${e.requestId} (not kept, or tracing off)`);
    update({ view: 'traces', traceSel: t.traceId, traceOpen: t.traceId, traceScroll: 0, detail: undefined });
  };

  const dispatch = (action: Action): void => {
    const s = latest();
    const snap = store.getSnapshot();
    switch (action) {
      case 'view-1':
      case 'view-2':
      case 'view-3':
      case 'view-4':
      case 'view-5':
      case 'view-6':
      case 'view-7':
        return update({ view: VIEWS[Number(action.slice(5)) - 1]!, detail: undefined, help: false });
      case 'next-view':
      case 'prev-view': {
        const i = VIEWS.indexOf(s.view);
        return update({ view: VIEWS[(i + (action === 'next-view' ? 1 : VIEWS.length - 1)) % VIEWS.length]!, detail: undefined, help: false });
      }
      case 'up':
        return move(-1);
      case 'down':
        return move(1);
      case 'page-up':
        return move(-page);
      case 'page-down':
        return move(page);
      case 'top': {
        const d = derive(s, snap, store);
        if (s.view === 'traffic' && !s.detail && !s.help) return d.trafficRows[0] ? update({ trafficFrozen: d.trafficAll, trafficSel: d.trafficRows[0] }) : undefined;
        if (s.view === 'logs' && !s.detail && !s.help) return update({ logsFrozen: d.logsAll, logsScroll: Math.max(0, d.logRows.length - 1) });
        return move(-1_000_000);
      }
      case 'bottom':
        if (s.view === 'traffic' && !s.detail && !s.help) return followTraffic();
        if (s.view === 'logs' && !s.detail && !s.help) return update({ logsFrozen: undefined, logsScroll: 0 });
        return move(1_000_000);
      case 'open': {
        const d = derive(s, snap, store);
        if (s.view === 'traffic') {
          const e = s.trafficSel ?? d.trafficRows[d.trafficRows.length - 1];
          if (!e) return say('warn', 'no request to show yet');
          return update({ trafficFrozen: d.trafficAll, trafficSel: e, detail: e, detailScroll: 0 });
        }
        if (s.view === 'traces') {
          const list = controller.traces?.recent(TRACE_ROWS) ?? [];
          const t = list.find((x) => x.traceId === s.traceSel) ?? list[0];
          if (!t) return say('warn', 'no trace yet');
          return update({ traceSel: t.traceId, traceOpen: t.traceId, traceScroll: 0 });
        }
        if (s.view === 'services' && d.selectedService?.kind === 'instance') {
          return update({ view: 'logs', filters: { ...s.filters, logs: d.selectedService.row.id }, logsFrozen: undefined, logsScroll: 0 });
        }
        return;
      }
      case 'open-trace':
        return openTrace(s.detail ?? s.trafficSel ?? derive(s, snap, store).trafficRows.at(-1));
      case 'back':
        if (s.detail) return update({ detail: undefined });
        if (s.view === 'traces' && s.traceOpen) return update({ traceOpen: undefined, traceScroll: 0 });
        if (s.help) return update({ help: false });
        if (s.view === 'traffic' || s.view === 'logs') {
          if (s.filters[s.view]) return update({ filters: { ...s.filters, [s.view]: '' }, trafficSel: undefined });
          if (s.view === 'traffic' && s.trafficFrozen) return followTraffic();
        }
        return;
      case 'filter':
        // a new filter each time (esc while typing it clears it, ⏎ keeps it)
        return update({ editingFilter: true, trafficSel: undefined, filters: { ...s.filters, [s.view === 'logs' ? 'logs' : 'traffic']: '' } });
      case 'pause':
        if (s.view === 'traffic') return s.trafficFrozen ? followTraffic() : update({ trafficFrozen: snap.traffic.events });
        if (s.view === 'logs') return s.logsFrozen ? update({ logsFrozen: undefined, logsScroll: 0 }) : update({ logsFrozen: snap.logs });
        return;
      case 'delay':
      case 'abort':
      case 'network':
        return openFaultForm(action);
      case 'remove-fault': {
        const f = derive(s, snap, store).selectedFault;
        const api = controller.faults;
        if (!f || !api) return say('warn', 'no fault selected');
        return act(`removing ${f.name}`, () => (api.remove(f.name) ? `fault ${f.name} removed` : `fault ${f.name} was already gone`));
      }
      case 'clear-faults': {
        const api = controller.faults;
        if (!api) return say('error', 'runtime faults are not available in this sandbox');
        return act('clearing faults', () => {
          const n = api.clear();
          return n ? `${n} runtime fault${n === 1 ? '' : 's'} cleared` : 'no runtime fault to clear';
        });
      }
      case 'kill':
        return instanceAction('kill');
      case 'pause-instance':
        return instanceAction('pause');
      case 'restart':
        return instanceAction('restart');
      case 'load':
        return loadKey();
      case 'load-faster':
        return rerate(2);
      case 'load-slower':
        return rerate(0.5);
      case 'help':
        return update({ help: !s.help, helpScroll: 0 });
      case 'quit':
        return quit();
    }
  };

  const editForm = (form: FormState, name: string, input: string, key: Key): void => {
    const field = form.fields[form.active]!;
    if (name === 'escape') return update({ form: undefined });
    if (name === 'enter') return submitForm(form);
    if (name === 'tab' || name === 'down') return update({ form: { ...form, active: (form.active + 1) % form.fields.length } });
    if (name === 'shift-tab' || name === 'up') return update({ form: { ...form, active: (form.active + form.fields.length - 1) % form.fields.length } });
    if (field.kind === 'choice') {
      if (name !== 'left' && name !== 'right' && name !== 'space') return;
      const choices = field.choices ?? [];
      const i = choices.indexOf(field.value);
      const next = choices[(i + (name === 'left' ? choices.length - 1 : 1)) % choices.length];
      if (next !== undefined) update({ form: updateField(form, form.active, next) });
      return;
    }
    if (name === 'backspace' || name === 'delete') return update({ form: backspace(form, form.active) });
    if (key.ctrl || key.meta || input.length === 0 || (name.length > 1 && name !== input)) return;
    const next = typeInto(form, form.active, input);
    if (next !== form) update({ form: next });
  };

  const editFilter = (s: UiState, name: string, input: string, key: Key): void => {
    const which = s.view === 'logs' ? 'logs' : 'traffic';
    if (name === 'escape') return update({ editingFilter: false, filters: { ...s.filters, [which]: '' } });
    if (name === 'enter') return update({ editingFilter: false });
    if (name === 'backspace' || name === 'delete') return update({ filters: { ...s.filters, [which]: s.filters[which].slice(0, -1) } });
    if (key.ctrl || key.meta || input.length === 0 || (name.length > 1 && name !== input && name !== 'space')) return;
    update({ trafficSel: undefined, filters: { ...s.filters, [which]: s.filters[which] + input } });
  };

  const onKey = (input: string, key: Key): void => {
    const name = keyName(input, key);
    if (name === 'ctrl-c') return quit();
    const s = latest();
    if (s.quitting) return;
    if (s.form) return editForm(s.form, name, input, key);
    if (s.editingFilter) return editFilter(s, name, input, key);
    if (s.help && (name === '?' || name === 'escape')) return update({ help: false });
    const binding = bindingFor(name, s.view);
    if (binding) dispatch(binding.action);
  };

  useInput(
    (input, key) => {
      // keys that arrive together (a paste, a busy event loop) come as one string: one key each
      if (input.length > 1 && !key.ctrl && !key.meta) {
        for (const ch of input) {
          // Backspace arrives as DEL (0x7f) or BS (0x08): each one is a Backspace, not a character
          if (ch === '\u007f' || ch === '\b') onKey('', { ...NO_KEY, backspace: true });
          else onKey(ch, { ...NO_KEY, return: ch === '\r' || ch === '\n', tab: ch === '\t', shift: /[A-Z]/.test(ch) });
        }
        return;
      }
      onKey(input, key);
    },
    { isActive: interactive },
  );

  if (tooSmall) {
    const message = [`meshbox: the terminal is ${columns}x${rows};`, `make it at least ${MIN_COLUMNS}x${MIN_ROWS}`, '(or run with --headless)', 'q quits'];
    return <Block lines={message.map((m) => line(m))} width={columns} height={Math.max(1, rows - 1)} />;
  }

  const d = derive(ui, snapshot, store);
  const width = columns;
  const filter = ui.view === 'logs' ? ui.filters.logs : ui.filters.traffic;
  let body: ReactNode;
  if (ui.help) body = <HelpOverlay width={width} height={viewHeight} scroll={ui.helpScroll} />;
  else if (ui.detail) body = <RequestDetail event={ui.detail} chain={store.requestEvents(ui.detail.requestId)} why={controller.explainRequest?.(ui.detail)} scroll={ui.detailScroll} width={width} height={viewHeight} />;
  else {
    switch (ui.view) {
      case 'services':
        body = <ServicesView snapshot={snapshot} width={width} height={viewHeight} selected={d.selectedService?.key} />;
        break;
      case 'graph':
        body = <GraphView snapshot={snapshot} width={width} height={viewHeight} />;
        break;
      case 'traffic':
        body = (
          <TrafficView
            events={d.trafficRows}
            total={d.trafficAll.length}
            hopRps={snapshot.traffic.hopRps}
            ingressRps={snapshot.traffic.ingressRps}
            paused={ui.trafficFrozen !== undefined}
            filter={ui.filters.traffic}
            selected={ui.trafficSel}
            upstream={d.upstream}
            open={snapshot.traffic.open}
            width={width}
            height={viewHeight}
          />
        );
        break;
      case 'rules':
        body = <RulesView snapshot={snapshot} scroll={ui.rulesScroll} width={width} height={viewHeight} />;
        break;
      case 'logs':
        body = <LogsView lines={d.logRows} total={d.logsAll.length} paused={ui.logsFrozen !== undefined} filter={ui.filters.logs} scroll={ui.logsScroll} width={width} height={viewHeight} />;
        break;
      case 'traces': {
        const traces = controller.traces?.recent(TRACE_ROWS) ?? [];
        const open = ui.traceOpen ? controller.traces?.get(ui.traceOpen) : undefined;
        body = <TracesView traces={traces} selected={ui.traceSel ?? traces[0]?.traceId} open={open} scroll={ui.traceScroll} width={width} height={viewHeight} enabled={controller.traces !== undefined} stats={controller.traceStats?.()} />;
        break;
      }
      case 'faults':
        body = <FaultsView snapshot={snapshot} selected={d.selectedFault?.name} width={width} height={viewHeight} />;
        break;
    }
  }

  const status = <StatusLine status={ui.status} snapshot={snapshot} controller={controller} editing={ui.editingFilter} filter={filter} width={width} />;
  let bottom: ReactNode;
  if (ui.form) bottom = <Prompt form={ui.form} width={width} compact={compact} />;
  else if (compact) bottom = ui.editingFilter || ui.status ? status : <HelpBar view={ui.view} width={width} />;
  else
    bottom = (
      <>
        {status}
        <HelpBar view={ui.view} width={width} />
      </>
    );
  return (
    <Box flexDirection="column" width={width} height={height}>
      <Header snapshot={snapshot} width={width} compact={compact} />
      <TabBar view={ui.view} width={width} badges={d.faults.length ? { faults: `(${d.faults.length})` } : undefined} />
      {body}
      {bottom}
    </Box>
  );
}

