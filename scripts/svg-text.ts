/**
 * Text that keeps the width Graphviz measured, whatever font the viewer has. Graphviz sizes every box
 * from its own Helvetica metrics; where Helvetica (or Arial, with the same widths) is not installed,
 * the viewer's sans-serif is often wider (DejaVu Sans by some 15 %) and the names ran out of their
 * boxes. Each `<text>` is given `textLength` (Graphviz's width for it) and
 * `lengthAdjust="spacingAndGlyphs"`, so any font is drawn exactly that wide.
 */

/** A piece of text as Graphviz laid it out (an xdot "T" operation), in its layout's coordinates (y up). */
export interface LaidOutText {
  x: number;
  y: number;
  width: number;
  text: string;
}

type DrawOp = { op: string; pt?: [number, number]; width?: number; text?: string };
type Drawn = { _ldraw_?: DrawOp[] };
/** The parts of Graphviz's `json` layout that carry text. */
export type Layout = Drawn & { objects?: Drawn[]; edges?: Drawn[] };

/** Every piece of text of `layout`: the graph's own label, the clusters', the nodes' and the edges'. */
export function laidOutTexts(layout: Layout): LaidOutText[] {
  return [layout, ...(layout.objects ?? []), ...(layout.edges ?? [])].flatMap((owner) =>
    (owner._ldraw_ ?? []).flatMap((op) => (op.op === "T" ? [{ x: op.pt![0], y: op.pt![1], width: op.width!, text: op.text ?? "" }] : [])),
  );
}

/** Where a text starts in the SVG: Graphviz writes y negated (its layout's y points up). */
const at = (x: number, y: number) => `${x.toFixed(2)},${(-y).toFixed(2)}`;

/** `svg` with every `<text>` drawn at the width Graphviz measured for it; throws on a text the layout does not have. */
export function withMeasuredText(svg: string, layout: Layout): string {
  const widths = new Map(laidOutTexts(layout).map((t) => [at(t.x, t.y), t.width]));
  return svg.replace(/<text ([^>]*)>/g, (whole, attributes: string) => {
    const x = Number(/\bx="([^"]+)"/.exec(attributes)?.[1]);
    const y = Number(/\by="([^"]+)"/.exec(attributes)?.[1]);
    const width = widths.get(`${x.toFixed(2)},${y.toFixed(2)}`);
    if (width === undefined) throw new Error(`Graphviz's layout has no text at ${x},${y}: ${whole}`);
    return `<text textLength="${width}" lengthAdjust="spacingAndGlyphs" ${attributes}>`;
  });
}
