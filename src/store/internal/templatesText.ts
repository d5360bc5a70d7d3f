/**
 * A claim template list's text, made once per list: Jobs passes the same
 * (frozen) list on every claim until its memo changes, so each store renders
 * what it sends for that list once, not per claim.
 */
import type { ClaimTemplate } from "../JobStore.js"

export const renderedOncePerList = (render: (templates: ReadonlyArray<ClaimTemplate>) => string) => {
  const rendered = new WeakMap<ReadonlyArray<ClaimTemplate>, string>()
  return (templates: ReadonlyArray<ClaimTemplate>): string => {
    let text = rendered.get(templates)
    if (text === undefined) {
      text = render(templates)
      rendered.set(templates, text)
    }
    return text
  }
}
