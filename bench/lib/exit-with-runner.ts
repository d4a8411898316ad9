/**
 * Preloaded (`--import`) into every server the runner starts, Herald included: when the runner
 * goes away (even killed with SIGKILL), its IPC channel closes and the server gets the SIGTERM
 * it would get from the runner, so no server outlives a run. Changes nothing else.
 */
process.on("disconnect", () => process.kill(process.pid, "SIGTERM"));
