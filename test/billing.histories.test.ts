import { describeBillingProperty } from "./support/billing-property.js";

/**
 * A few runs of the Billing property (test/support/billing-property.ts) for `npm test`'s quick feedback, with
 * another fixed seed than test/billing.property.test.ts's many runs in `npm run test:slow`.
 */
await describeBillingProperty({ seed: 4_2026_12, numRuns: 15, maxPayers: 3, expectGroupCommit: false });
