/** A clock that only moves when the code under test sleeps: waits are asserted, never waited. */
export function virtualTime() {
  let t = 1_000_000;
  const slept: number[] = [];
  return {
    now: () => t,
    sleep: async (ms: number) => {
      slept.push(ms);
      t += ms;
    },
    slept,
  };
}
