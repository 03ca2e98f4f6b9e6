/**
 * A set that holds its members weakly: tools that list live instances (the
 * observer lists every open Registry and PubSub) must not keep one alive that
 * its program has dropped without closing.
 */

/**
 * Members are held through `WeakRef`s; collected ones drop out as the set is
 * read, and every so often as it grows, so a program that creates many and never
 * reads the set does not accumulate empty references.
 *
 * @example
 * const open = new LiveSet<Registry<unknown, unknown>>();
 * open.add(registry);
 * for (const r of open) console.log(r.name, r.count());
 */
export class LiveSet<T extends object> implements Iterable<T> {
  readonly #refs = new Set<WeakRef<T>>();
  readonly #byMember = new WeakMap<T, WeakRef<T>>();
  #pruneAbove = 64;

  /** Adds `member` unless present. */
  add(member: T): void {
    if (this.#byMember.has(member)) return;
    const ref = new WeakRef(member);
    this.#byMember.set(member, ref);
    this.#refs.add(ref);
    if (this.#refs.size > this.#pruneAbove) {
      this.#prune();
      this.#pruneAbove = Math.max(64, this.#refs.size * 2);
    }
  }

  /** Removes `member` if present. */
  delete(member: T): void {
    const ref = this.#byMember.get(member);
    if (ref === undefined) return;
    this.#byMember.delete(member);
    this.#refs.delete(ref);
  }

  /** The members still alive, in the order they were added. */
  *[Symbol.iterator](): Iterator<T> {
    for (const ref of this.#refs) {
      const member = ref.deref();
      if (member === undefined) this.#refs.delete(ref);
      else yield member;
    }
  }

  #prune(): void {
    for (const ref of this.#refs) if (ref.deref() === undefined) this.#refs.delete(ref);
  }
}
