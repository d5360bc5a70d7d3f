/** Runs a bench script's `main`: a failure prints its error and exits 1, as a script should. */
export const runMain = (main: () => Promise<void>): void => {
  main().catch((error: unknown) => {
    console.error(error)
    process.exit(1)
  })
}
