import { useSyncExternalStore } from 'react';
import type { ViewSnapshot, ViewStore } from './view-store.js';

/** the store's latest snapshot; re-renders only when the store publishes a new one */
export function useViewSnapshot(store: ViewStore): ViewSnapshot {
  return useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot);
}
