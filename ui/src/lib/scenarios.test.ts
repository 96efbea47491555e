// The scenario cards' claims: a card may say "no data-loss risk" only when nothing is written
// into a Langfuse project.
import { describe, expect, it } from "vitest";
import { scenarios } from "./scenarios";

describe("scenario cards", () => {
  it("claim no data-loss risk only when the target is an archive folder", () => {
    for (const s of scenarios) {
      // The SDK check moves nothing: it reads an application's folder and a health endpoint.
      const writesIntoLangfuse = s.target !== "archive" && !s.moves.startsWith("Nothing");
      if (writesIntoLangfuse) expect(s.risk, s.title).not.toMatch(/^none/i);
    }
  });
});
