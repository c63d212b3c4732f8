import type { ClerkExampleEvent } from "./organization-examples.js";

/**
 * Clerk's published Billing example events, copied verbatim from its OpenAPI webhook spec
 * (`webhooks/2025-04-15.yml`); a test compares them with the fixtures they came from.
 */

/** The `subscription.created` example of Clerk's OpenAPI webhook spec. */
export const SUBSCRIPTION_CREATED: ClerkExampleEvent = {
  event_attributes: {
    http_request: {
      client_ip: "192.168.1.100",
      user_agent:
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36",
    },
  },
  object: "event",
  type: "subscription.created",
  instance_id: "ins_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
  timestamp: 1716883200,
  data: {
    object: "commerce_subscription",
    id: "csub_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
    status: "active",
    active_at: 1716883200000,
    canceled_at: null,
    created_at: 1716883200000,
    ended_at: null,
    past_due_at: null,
    updated_at: 1716883200000,
    latest_payment_id: "cpa_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
    payer_id: "cpayer_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
    payer: {
      object: "commerce_payer",
      id: "cpayer_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
      user_id: "user_34D368EufHwugfYh4yyGNEheM0S",
      first_name: "Test",
      last_name: "User",
      email: "test@example.com",
      organization_id: "",
      organization_name: "",
      image_url: "https://img.clerk.com/xxxxxx",
      created_at: 1716883200000,
      updated_at: 1716883200000,
    },
    payment_source_id: "cps_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
    items: [
      {
        object: "commerce_subscription_item",
        id: "csub_item_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
        status: "active",
        is_free_trial: false,
        created_at: 1716883200000,
        updated_at: 1716883200000,
        period_start: 1716883200000,
        period_end: 1719561600000,
        interval: "month",
        plan_id: "cplan_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
        plan: {
          id: "cplan_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
          slug: "pro-plan",
          name: "Pro Plan",
          is_recurring: true,
          amount: 2000,
          currency: "USD",
          unit_prices: [
            {
              name: "seats",
              block_size: 1,
              tiers: [
                {
                  starts_at_block: 1,
                  ends_after_block: 5,
                  amount_per_block: 0,
                  currency: "USD",
                },
              ],
            },
          ],
        },
        seats: {
          quantity: 5,
        },
        subscription_id: null,
      },
    ],
  },
};

/** The `subscriptionItem.active` example of Clerk's OpenAPI webhook spec. */
export const SUBSCRIPTION_ITEM_ACTIVE: ClerkExampleEvent = {
  event_attributes: {
    http_request: {
      client_ip: "192.168.1.100",
      user_agent:
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36",
    },
  },
  object: "event",
  type: "subscriptionItem.active",
  instance_id: "ins_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
  timestamp: 1716883200,
  data: {
    object: "subscription_item",
    id: "csub_item_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
    status: "active",
    is_free_trial: false,
    created_at: 1716883200000,
    updated_at: 1716883200000,
    period_start: 1716883200000,
    period_end: null,
    interval: "month",
    plan_id: "cplan_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
    plan: {
      id: "cplan_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
      slug: "free-plan",
      name: "Free Plan",
      is_recurring: false,
      amount: 0,
      currency: "USD",
      unit_prices: [
        {
          name: "seats",
          block_size: 1,
          tiers: [
            {
              starts_at_block: 1,
              ends_after_block: 5,
              amount_per_block: 0,
              currency: "USD",
            },
          ],
        },
      ],
    },
    seats: {
      quantity: 5,
    },
    payer: {
      object: "commerce_payer",
      id: "cpayer_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
      user_id: "user_34D368EufHwugfYh4yyGNEheM0S",
      first_name: "Test",
      last_name: "User",
      email: "test@example.com",
      organization_id: "",
      organization_name: "",
      image_url: "https://img.clerk.com/xxxxxx",
      created_at: 1716883200000,
      updated_at: 1716883200000,
    },
    subscription_id: "csub_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
  },
};

/** The `subscriptionItem.canceled` example of Clerk's OpenAPI webhook spec. */
export const SUBSCRIPTION_ITEM_CANCELED: ClerkExampleEvent = {
  event_attributes: {
    http_request: {
      client_ip: "192.168.1.100",
      user_agent:
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36",
    },
  },
  object: "event",
  type: "subscriptionItem.canceled",
  instance_id: "ins_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
  timestamp: 1716883200,
  data: {
    object: "subscription_item",
    id: "csub_item_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
    status: "canceled",
    is_free_trial: false,
    created_at: 1716883200000,
    updated_at: 1716969600000,
    period_start: 1716883200000,
    period_end: 1719561600000,
    interval: "month",
    plan_id: "cplan_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
    plan: {
      id: "cplan_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
      slug: "pro-plan",
      name: "Pro Plan",
      is_recurring: true,
      amount: 2000,
      currency: "USD",
    },
    payer: {
      object: "commerce_payer",
      id: "cpayer_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
      user_id: "user_34D368EufHwugfYh4yyGNEheM0S",
      first_name: "Test",
      last_name: "User",
      email: "test@example.com",
      organization_id: "",
      organization_name: "",
      image_url: "https://img.clerk.com/xxxxxx",
      created_at: 1716883200000,
      updated_at: 1716883200000,
    },
    subscription_id: "csub_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
  },
};

/** The `subscriptionItem.ended` example of Clerk's OpenAPI webhook spec. */
export const SUBSCRIPTION_ITEM_ENDED: ClerkExampleEvent = {
  event_attributes: {
    http_request: {
      client_ip: "192.168.1.100",
      user_agent:
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36",
    },
  },
  object: "event",
  type: "subscriptionItem.ended",
  instance_id: "ins_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
  timestamp: 1716883200,
  data: {
    object: "subscription_item",
    id: "csub_item_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
    status: "ended",
    is_free_trial: false,
    created_at: 1716883200000,
    updated_at: 1719561600000,
    period_start: 1716883200000,
    period_end: null,
    interval: "month",
    plan_id: "cplan_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
    plan: {
      id: "cplan_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
      slug: "pro-plan",
      name: "Pro Plan",
      is_recurring: true,
      amount: 2000,
      currency: "USD",
    },
    payer: {
      object: "commerce_payer",
      id: "cpayer_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
      user_id: "user_34D368EufHwugfYh4yyGNEheM0S",
      first_name: "Test",
      last_name: "User",
      email: "test@example.com",
      organization_id: "",
      organization_name: "",
      image_url: "https://img.clerk.com/xxxxxx",
      created_at: 1716883200000,
      updated_at: 1716883200000,
    },
    subscription_id: "csub_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
  },
};

/** The `paymentAttempt.created` example of Clerk's OpenAPI webhook spec. */
export const PAYMENT_ATTEMPT_CREATED: ClerkExampleEvent = {
  event_attributes: {
    http_request: {
      client_ip: "192.168.1.100",
      user_agent:
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36",
    },
  },
  object: "event",
  type: "paymentAttempt.created",
  instance_id: "ins_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
  timestamp: 1716883200,
  data: {
    id: "pa_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
    instance_id: "ins_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
    payment_id: "cpa_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
    statement_id: "stmt_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
    gateway_external_id: "pi_1A2B3C4D5E6F7G8H9I0J1K2L",
    status: "pending",
    created_at: 1716883200000,
    updated_at: 1716883200000,
    paid_at: null,
    failed_at: null,
    failed_reason: null,
    billing_date: 1716883200000,
    charge_type: "recurring",
    payee: {
      id: "cpayee_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
      gateway_type: "stripe",
      gateway_external_id: "acct_1A2B3C4D5E6F7G8H",
      gateway_status: "active",
    },
    payer: {
      id: "cpayer_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
      image_url: "https://img.clerk.com/xxxxxx",
      user_id: "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
      first_name: "John",
      last_name: "Doe",
      email: "john.doe@acme.com",
    },
    totals: {
      subtotal: {
        amount: 2000,
        amount_formatted: "$20.00",
        currency: "USD",
        currency_symbol: "$",
      },
      tax_total: {
        amount: 200,
        amount_formatted: "$2.00",
        currency: "USD",
        currency_symbol: "$",
      },
      grand_total: {
        amount: 2200,
        amount_formatted: "$22.00",
        currency: "USD",
        currency_symbol: "$",
      },
    },
    payment_source: {
      id: "cps_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
      gateway: "stripe",
      gateway_external_id: "pm_1A2B3C4D5E6F7G8H9I0J1K2L",
      gateway_external_account_id: "acct_1A2B3C4D5E6F7G8H",
      payment_method: "card",
      status: "active",
      card_type: "visa",
      last4: "4242",
    },
    subscription_items: [
      {
        id: "csub_item_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
        status: "active",
        credit: {
          amount: {
            amount: 500,
            amount_formatted: "$5.00",
            currency: "USD",
            currency_symbol: "$",
          },
          cycle_days_remaining: 15,
          cycle_days_total: 30,
          cycle_remaining_percent: 0.5,
        },
        credits: {
          proration: {
            amount: {
              amount: 300,
              amount_formatted: "$3.00",
              currency: "USD",
              currency_symbol: "$",
            },
            cycle_days_remaining: 15,
            cycle_days_total: 30,
            cycle_remaining_percent: 0.5,
          },
          payer: {
            applied_amount: {
              amount: 200,
              amount_formatted: "$2.00",
              currency: "USD",
              currency_symbol: "$",
            },
            remaining_balance: {
              amount: 800,
              amount_formatted: "$8.00",
              currency: "USD",
              currency_symbol: "$",
            },
          },
          total: {
            amount: 500,
            amount_formatted: "$5.00",
            currency: "USD",
            currency_symbol: "$",
          },
        },
        proration_date: "2024-05-01",
        plan_period: "month",
        period_start: 1716883200000,
        period_end: 1719561600000,
        canceled_at: null,
        past_due_at: null,
        lifetime_paid: 10000,
        next_payment_amount: 2000,
        next_payment_date: 1719561600000,
        amount: {
          amount: 2000,
          amount_formatted: "$20.00",
          currency: "USD",
          currency_symbol: "$",
        },
        plan: {
          id: "cplan_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
          instance_id: "ins_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
          product_id: "cprd_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
          name: "Pro Plan",
          slug: "pro-plan",
          description: "Professional plan with advanced features",
          is_default: false,
          is_recurring: true,
          is_prorated: true,
          amount: 2000,
          period: "month",
          interval: 1,
          has_base_fee: true,
          currency: "USD",
          annual_monthly_amount: 1800,
          publicly_visible: true,
        },
        plan_id: "cplan_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
      },
    ],
  },
};

/** The Billing examples, by event type. */
export const BILLING_EXAMPLES = {
  "subscription.created": SUBSCRIPTION_CREATED,
  "subscriptionItem.active": SUBSCRIPTION_ITEM_ACTIVE,
  "subscriptionItem.canceled": SUBSCRIPTION_ITEM_CANCELED,
  "subscriptionItem.ended": SUBSCRIPTION_ITEM_ENDED,
  "paymentAttempt.created": PAYMENT_ATTEMPT_CREATED,
} as const;
