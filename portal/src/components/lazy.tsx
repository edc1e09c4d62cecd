import type { ComponentType } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ErrorBox, Loading } from './ui';

/**
 * A view whose code is a separate chunk (`import()`), fetched when it is first shown and kept
 * from then on. A chunk that cannot be fetched (the gateway was upgraded: its old file names are
 * gone) asks for a reload instead of a blank page.
 */
export function lazyView<P extends object>(load: () => Promise<ComponentType<P>>): ComponentType<P> {
  let loaded: ComponentType<P> | undefined;
  let pending: Promise<ComponentType<P>> | undefined;
  return function LazyView(props: P) {
    const [, setReady] = useState(loaded !== undefined);
    const [error, setError] = useState<unknown>(undefined);
    useEffect(() => {
      if (loaded) return;
      let live = true;
      pending ??= load();
      pending.then(
        (view) => {
          loaded = view;
          if (live) setReady(true);
        },
        (err: unknown) => {
          pending = undefined;
          if (live) setError(err);
        },
      );
      return () => void (live = false);
    }, []);
    if (loaded) {
      const View = loaded;
      return <View {...props} />;
    }
    if (error !== undefined) return <ErrorBox error={error}>This part of the portal could not be loaded (was the gateway updated?). Reload the page.</ErrorBox>;
    return <Loading />;
  };
}
