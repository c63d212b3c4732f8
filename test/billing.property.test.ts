import { describeBillingProperty } from "./support/billing-property.js";

/**
 * Clerk Billing histories against the model (test/support/billing-histories.ts), many runs with a fixed seed so that
 * a failure replays; change it to explore other orders. test/billing.histories.test.ts runs a few in `npm test`.
 */
await describeBillingProperty({ seed: 20261204, numRuns: 60, maxPayers: 3, expectGroupCommit: true });
