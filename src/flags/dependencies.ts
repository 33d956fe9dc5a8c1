/**
 * Flag dependencies. Unleash allows one level: a parent that has parents of its own does not satisfy
 * its children, so evaluation never recurses more than one step and a cycle can only turn flags off.
 * Writing such a ruleset is refused earlier, with the cycle named (findDependencyCycle).
 */

export interface DependencyGraphFlag {
  name: string;
  dependencies?: readonly { feature: string }[] | undefined;
}

/**
 * The first dependency cycle among `flags`, as the flag names along it with the first repeated at the
 * end (`['a', 'b', 'a']`), or undefined when there is none. Dependencies on flags not in the list are
 * not cycles (they are reported elsewhere as missing).
 */
export function findDependencyCycle(flags: readonly DependencyGraphFlag[]): string[] | undefined {
  const parentsOf = new Map<string, string[]>();
  for (const flag of flags) parentsOf.set(flag.name, (flag.dependencies ?? []).map((dependency) => dependency.feature));
  const done = new Set<string>();
  const onPath = new Map<string, number>();
  const path: string[] = [];

  // Iterative depth-first search: a long chain of dependencies must not overflow the stack.
  for (const start of parentsOf.keys()) {
    if (done.has(start)) continue;
    const stack: { name: string; next: number }[] = [{ name: start, next: 0 }];
    onPath.set(start, 0);
    path.push(start);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const parents = parentsOf.get(top.name) ?? [];
      if (top.next < parents.length) {
        const parent = parents[top.next++]!;
        if (!parentsOf.has(parent) || done.has(parent)) continue;
        const position = onPath.get(parent);
        if (position !== undefined) return [...path.slice(position), parent];
        onPath.set(parent, path.length);
        path.push(parent);
        stack.push({ name: parent, next: 0 });
      } else {
        stack.pop();
        path.pop();
        onPath.delete(top.name);
        done.add(top.name);
      }
    }
  }
  return undefined;
}
