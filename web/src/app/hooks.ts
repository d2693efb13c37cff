import { useSyncExternalStore } from 'react';
import type { Observable } from '../core/emitter';

/** Renders a core's Observable view: the only bridge from framework-free cores to React. */
export function useObservable<T>(observable: Observable<T>): T {
  return useSyncExternalStore(
    (listener) => observable.subscribe(listener),
    () => observable.get(),
  );
}
