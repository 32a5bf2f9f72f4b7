/**
 * A persistent map from string keys: a 16-way trie on the key's hash, copied along one path on each
 * `set` (at most 8 small arrays), never in whole. The codec's state is replaced, not mutated, and a
 * turn's tool calls were a Map copied per tool event: 100,000 calls made that quadratic.
 */
export class CallMap<V> {
  static empty<V>(): CallMap<V> {
    return new CallMap<V>(undefined, 0);
  }

  private constructor(
    private readonly root: Slot<V>,
    readonly size: number,
  ) {}

  get(key: string): V | undefined {
    const hash = hashOf(key);
    let slot = this.root;
    for (let shift = 0; slot !== undefined; shift += BITS) {
      if (slot instanceof Bucket) return slot.hash === hash ? slot.entries.find(([k]) => k === key)?.[1] : undefined;
      slot = slot[(hash >>> shift) & MASK];
    }
    return undefined;
  }

  set(key: string, value: V): CallMap<V> {
    const hash = hashOf(key);
    const added = this.get(key) === undefined ? 1 : 0;
    return new CallMap(insert(this.root, hash, key, value, 0), this.size + added);
  }
}

const BITS = 4;
const MASK = (1 << BITS) - 1;

/** The entries of one hash (two keys may share one). */
class Bucket<V> {
  constructor(
    readonly hash: number,
    readonly entries: ReadonlyArray<readonly [string, V]>,
  ) {}
}

type Slot<V> = Bucket<V> | ReadonlyArray<Slot<V>> | undefined;

function insert<V>(slot: Slot<V>, hash: number, key: string, value: V, shift: number): Slot<V> {
  if (slot === undefined) return new Bucket(hash, [[key, value]]);
  if (slot instanceof Bucket) {
    if (slot.hash === hash || shift >= 32) {
      const others = slot.entries.filter(([k]) => k !== key);
      return new Bucket(slot.hash, [...others, [key, value]]);
    }
    // Two hashes meet here: a branch takes both, one level down.
    const branch: Slot<V>[] = new Array<Slot<V>>(1 << BITS).fill(undefined);
    branch[(slot.hash >>> shift) & MASK] = slot;
    return insert(branch, hash, key, value, shift);
  }
  const branch = slot.slice();
  const at = (hash >>> shift) & MASK;
  branch[at] = insert(branch[at], hash, key, value, shift + BITS);
  return branch;
}

/** FNV-1a over the key's UTF-16 units: call ids are short ASCII. */
function hashOf(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}
