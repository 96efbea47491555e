// Which screen is showing. The three screens of the product; later issues fill the last two.
export type Screen = "connections" | "newMigration" | "runs";

export const screens: { id: Screen; label: string }[] = [
  { id: "connections", label: "Connections" },
  { id: "newMigration", label: "New migration" },
  { id: "runs", label: "Runs" },
];

export const navigation = $state<{ current: Screen }>({ current: "connections" });
