// "Copy what is missing": how many objects a validation names missing (what the button offers to
// copy) and the sentence that reports a copy and the validation after it.
import type { CopyMissingView } from "./bindings/CopyMissingView";
import type { ValidationView } from "./bindings/ValidationView";

/** Objects the validation found missing in the target, over every kind. */
export function missingCount(v: ValidationView | null): number {
  return (v?.entities ?? []).reduce((n, e) => n + e.missingCount, 0);
}

/** What a copy of the missing objects did, in one sentence. */
export function copyMissingText(m: CopyMissingView): string {
  const gone = m.notFound > 0 ? ` (${m.notFound} no longer at the source)` : "";
  const refused = m.failed > 0 ? `; the target refused ${m.failed}` : "";
  const after = m.validation.clean ? "clean" : `${m.validation.discrepancyCount} discrepanc${m.validation.discrepancyCount === 1 ? "y" : "ies"}`;
  return `Copied ${m.copied} object${m.copied === 1 ? "" : "s"} for the ${m.asked} missing${gone}${refused}. Validation after the copy: ${after}.`;
}
