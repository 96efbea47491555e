// placeholder until ts-rs regenerates it
export type OperatingSettings = { concurrency: number | null, requestTimeoutSecs: number | null, requestsPerMinute: number | null, };
