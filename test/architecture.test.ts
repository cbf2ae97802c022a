/**
 * The import graph of src/: no module reaches itself through imports (a cycle hidden behind a
 * dynamic `await import('…')` counts: it still ties the two modules together), and the layers of
 * /work/shared/DESIGN.md "Layers" point one way: cli -> domains -> store.
 *
 * Edges: `import … from`, `export … from` and `import('…')` with a literal path. Type-only imports
 * (`import type`, `import { type A }` only, `typeof import('…')`) are erased by the compiler and
 * load nothing, so they are not edges.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

/** The module specifiers a file loads at run time. */
function runtimeImports(file: string): string[] {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const specs: string[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier)) {
      const c = n.importClause;
      const named = c?.namedBindings && ts.isNamedImports(c.namedBindings) ? c.namedBindings.elements : undefined;
      const typeOnly = !!c && (c.isTypeOnly || (!c.name && !!named && named.length > 0 && named.every((e) => e.isTypeOnly)));
      if (!typeOnly) specs.push(n.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(n) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) {
      if (!n.isTypeOnly) specs.push(n.moduleSpecifier.text);
    } else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = n.arguments;
      if (arg && ts.isStringLiteralLike(arg)) specs.push(arg.text);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return specs;
}

/** src-relative path ('messaging/ops.ts') -> the src modules it loads. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const unresolved: string[] = [];
  for (const file of sourceFiles(SRC)) {
    const deps = new Set<string>();
    for (const spec of runtimeImports(file)) {
      if (!spec.startsWith('.')) continue; // a package or node: built-in
      const base = resolve(dirname(file), spec);
      const target = [base.replace(/\.js$/, '.ts'), `${base}.ts`, join(base, 'index.ts')].find((t) => t.endsWith('.ts') && existsSync(t));
      if (target) deps.add(rel(target));
      else unresolved.push(`${rel(file)}: ${spec}`);
    }
    graph.set(rel(file), [...deps].sort());
  }
  expect(unresolved, 'relative imports that name no file under src/').toEqual([]);
  return graph;
}

const rel = (f: string) => relative(SRC, f).split(sep).join('/');

/** One cycle per strongly connected component (Tarjan), each the shortest through its first module. */
function cycles(graph: Map<string, string[]>): string[] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const connect = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const c: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      c.push(w);
    } while (w !== v);
    if (c.length > 1 || (graph.get(v) ?? []).includes(v)) components.push(c.sort());
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) connect(v);
  return components.map((c) => {
    const inside = new Set(c);
    const start = c[0]!;
    // Breadth-first from start back to start, inside the component.
    const from = new Map<string, string>();
    const queue = [start];
    while (queue.length) {
      const v = queue.shift()!;
      for (const w of graph.get(v) ?? []) {
        if (!inside.has(w)) continue;
        if (w === start) {
          const path = [v];
          while (path[0] !== start) path.unshift(from.get(path[0]!)!);
          return [...path, start].join(' -> ');
        }
        if (!from.has(w)) {
          from.set(w, v);
          queue.push(w);
        }
      }
    }
    return c.join(' <-> ');
  });
}

/** The edges from modules under one of `from` to modules under one of `to` (top-level folders or files of src/). */
function edges(graph: Map<string, string[]>, from: string[], to: string[]): string[] {
  const under = (f: string, areas: string[]) => areas.some((a) => f === a || f.startsWith(`${a}/`));
  return [...graph].flatMap(([f, deps]) => (under(f, from) ? deps.filter((d) => under(d, to) && !under(d, from)).map((d) => `${f} -> ${d}`) : []));
}

describe('the import graph of src/', () => {
  const graph = importGraph();

  it('sees the modules and their imports, dynamic ones included', () => {
    expect(graph.size).toBeGreaterThan(50);
    // A static and a lazy edge the graph must hold, or the reading above is broken.
    expect(graph.get('cli/program.ts')).toContain('cli/commands/index.ts');
    expect(graph.get('store/open.ts')).toContain('store/postgres/backend.ts');
  });

  it('has no cycle', () => {
    const found = cycles(graph);
    expect(found, `import cycles:\n${found.join('\n')}`).toEqual([]);
  });

  it('points down the layers: nothing below the CLI imports it, the store imports no domain', () => {
    expect(edges(graph, ['store', 'common'], ['cli', 'index.ts', 'hive.ts', 'messaging', 'scheduling', 'health', 'tasks', 'presence', 'maintenance', 'hooks', 'mcp', 'demo', 'config'])).toEqual([]);
    const belowCli = [...new Set([...graph.keys()].map((f) => f.split('/')[0]!))].filter((a) => a !== 'cli');
    expect(edges(graph, belowCli, ['cli'])).toEqual([]);
    expect(edges(graph, ['messaging', 'scheduling', 'health', 'tasks'], ['index.ts', 'routing-signals.ts', 'mcp', 'hooks', 'demo', 'maintenance'])).toEqual([]);
  });

  it('keeps the domains on the storage interface: no file store, lock, offset or file system in src/<domain>', () => {
    const domains = ['messaging', 'scheduling', 'health', 'tasks', 'presence'];
    // The interface (types, open, copy) and the hive owner check `scale --exec` makes before running a command.
    const allowed = new Set(['store/types.ts', 'store/open.ts', 'store/copy.ts', 'store/locate.ts']);
    expect(edges(graph, domains, ['store']).filter((e) => !allowed.has(e.split(' -> ')[1]!))).toEqual([]);
    const files = [...graph.keys()].filter((f) => domains.some((d) => f.startsWith(`${d}/`)));
    expect(files.length).toBeGreaterThan(30);
    const found = files.flatMap((f) => {
      const text = readFileSync(join(SRC, f), 'utf8');
      return [/from 'node:fs'/, /\bctx\.store\.(?!warn\b)/, /\bwithLock\b|\bappendHeld\b|\bstore\.read(Since|Json|Text)\b/].filter((re) => re.test(text)).map((re) => `${f}: ${re}`);
    });
    expect(found).toEqual([]);
  });

  it('orders the domains: scheduling reads no other domain, messaging none, health only messaging', () => {
    expect(edges(graph, ['scheduling'], ['messaging', 'health', 'tasks', 'presence'])).toEqual([]);
    expect(edges(graph, ['messaging'], ['scheduling', 'health', 'tasks'])).toEqual([]);
    expect(edges(graph, ['health'], ['scheduling', 'tasks'])).toEqual([]);
  });
});
