import { useCallback, useRef, useState } from 'react';

/**
 * UI state that key handlers can read back at once. Several keys can arrive in one stdin chunk
 * (a paste, a fast typist, tmux send-keys) and are handled before React re-renders, so each
 * handler must see what the previous one did: updates apply to a ref synchronously, then
 * schedule one render.
 */
export function useUiState<T extends object>(initial: () => T): [state: T, update: (patch: Partial<T> | ((s: T) => Partial<T>)) => void, latest: () => T] {
  const ref = useRef<T | undefined>(undefined);
  ref.current ??= initial();
  const [, setVersion] = useState(0);
  const update = useCallback((patch: Partial<T> | ((s: T) => Partial<T>)) => {
    const current = ref.current!;
    ref.current = { ...current, ...(typeof patch === 'function' ? patch(current) : patch) };
    setVersion((v) => v + 1);
  }, []);
  const latest = useCallback(() => ref.current!, []);
  return [ref.current, update, latest];
}
