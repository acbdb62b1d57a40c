/** What `KeyHeap` needs from an entry: its due time and its own slot, so moves are O(log n) without a lookup. */
export interface HeapMember {
  /** Position in the heap holding it, -1 when in none. An entry is in at most one heap at a time. */
  heapIndex: number;
  /** The instant (scheduler ms) the heap orders by. */
  dueAt: number;
  /** Insertion order, breaking ties between equal `dueAt`s: first scheduled, first served. */
  heapSeq: number;
}

/**
 * A binary min-heap of entries ordered by `dueAt`, ties broken by the order they were
 * (re)scheduled in, so equal instants are served deterministically and FIFO. Each entry
 * carries its own index, so re-aiming or removing one is O(log n).
 */
export class KeyHeap<E extends HeapMember> {
  private items: E[] = [];
  private nextSeq = 0;

  get size(): number {
    return this.items.length;
  }

  peek(): E | undefined {
    return this.items[0];
  }

  has(entry: E): boolean {
    return entry.heapIndex >= 0 && this.items[entry.heapIndex] === entry;
  }

  /** Inserts `entry` due at `dueAt`, or moves it there if it is already in this heap. */
  set(entry: E, dueAt: number): void {
    entry.dueAt = dueAt;
    entry.heapSeq = this.nextSeq++;
    if (this.has(entry)) {
      this.siftUp(entry.heapIndex);
      this.siftDown(entry.heapIndex);
      return;
    }
    entry.heapIndex = this.items.length;
    this.items.push(entry);
    this.siftUp(entry.heapIndex);
  }

  /** Removes `entry` if it is in this heap; returns whether it was. */
  remove(entry: E): boolean {
    if (!this.has(entry)) return false;
    const index = entry.heapIndex;
    const last = this.items.pop()!;
    entry.heapIndex = -1;
    if (last !== entry) {
      this.items[index] = last;
      last.heapIndex = index;
      this.siftUp(index);
      this.siftDown(last.heapIndex);
    }
    this.releaseIfEmpty();
    return true;
  }

  pop(): E | undefined {
    const top = this.items[0];
    if (top !== undefined) this.remove(top);
    return top;
  }

  /** The entries in no particular order (a copy). */
  toArray(): E[] {
    return this.items.slice();
  }

  /** A heap that held a million keys keeps its backing store until replaced: let it go once empty. */
  private releaseIfEmpty(): void {
    if (this.items.length === 0) this.items = [];
  }

  private before(a: E, b: E): boolean {
    return a.dueAt < b.dueAt || (a.dueAt === b.dueAt && a.heapSeq < b.heapSeq);
  }

  private siftUp(index: number): void {
    const items = this.items;
    const entry = items[index]!;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = items[parentIndex]!;
      if (!this.before(entry, parent)) break;
      items[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    items[index] = entry;
    entry.heapIndex = index;
  }

  private siftDown(index: number): void {
    const items = this.items;
    const length = items.length;
    const entry = items[index]!;
    for (;;) {
      const leftIndex = 2 * index + 1;
      if (leftIndex >= length) break;
      const rightIndex = leftIndex + 1;
      let childIndex = leftIndex;
      if (rightIndex < length && this.before(items[rightIndex]!, items[leftIndex]!)) childIndex = rightIndex;
      const child = items[childIndex]!;
      if (!this.before(child, entry)) break;
      items[index] = child;
      child.heapIndex = index;
      index = childIndex;
    }
    items[index] = entry;
    entry.heapIndex = index;
  }
}
