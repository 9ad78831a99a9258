import type { BirdNumber, BirdSender, BirdWorkspace } from "../../src/api/v1alpha1/index.js";
import { RecordStore } from "../../src/ownership/records.js";
import { UsageBook } from "../../src/ownership/usage.js";
import type { Informer, InformerHandler } from "../../src/runtime/informer.js";
import type { ResourceClient } from "../../src/runtime/resource-client.js";

export type HandInformer<T extends { metadata?: { name?: string } }> = Informer<T> & {
  put: (o: T) => void;
  drop: (name: string) => void;
  all: () => T[];
};

/** An informer cache the test changes by hand, telling its handlers as a real one does. */
export function handInformer<T extends { metadata?: { name?: string } }>(): HandInformer<T> {
  const objects = new Map<string, T>();
  const handlers: InformerHandler<T>[] = [];
  return {
    on: (h: InformerHandler<T>) => handlers.push(h),
    get: (name: string) => objects.get(name),
    all: () => [...objects.values()],
    put(o: T) {
      const old = objects.get(o.metadata?.name ?? "");
      objects.set(o.metadata?.name ?? "", o);
      for (const h of handlers) h(old ? "update" : "add", o, old, o.metadata?.name ?? "");
    },
    drop(name: string) {
      const old = objects.get(name);
      if (!old) return;
      objects.delete(name);
      for (const h of handlers) h("delete", old, undefined, name);
    },
  } as unknown as HandInformer<T>;
}

/**
 * A UsageBook over hand-filled record caches (workspaces `ws` and `other` exist), counting how often it walks a
 * workspace's number records.
 */
export function handBook(): {
  records: HandInformer<BirdNumber>;
  workspaces: HandInformer<BirdWorkspace>;
  book: UsageBook;
  walks: () => number;
} {
  const records = handInformer<BirdNumber>();
  const workspaces = handInformer<BirdWorkspace>();
  // The workspaces the tests' records name exist: a deleted one is counted, but nothing is kept for it.
  for (const name of ["ws", "other"]) workspaces.put({ metadata: { name } } as BirdWorkspace);
  const store = new RecordStore<BirdNumber>({} as ResourceClient<BirdNumber>, records);
  let walks = 0;
  const inWorkspace = store.inWorkspace.bind(store);
  store.inWorkspace = (ws: string) => (walks++, inWorkspace(ws));
  const senders = new RecordStore<BirdSender>({} as ResourceClient<BirdSender>, handInformer());
  const book = new UsageBook(store, senders, workspaces);
  return { records, workspaces, book, walks: () => walks };
}
