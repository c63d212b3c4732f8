/**
 * Clerk's published example events, copied verbatim from its docs and specs: the package ships no fixture files,
 * and `trigger` should send what Clerk sends. A test compares them with the fixtures they came from.
 */

import { BILLING_EXAMPLES } from "./billing-examples.js";
import { type ClerkExampleEvent, ORGANIZATION_EXAMPLES } from "./organization-examples.js";

export type { ClerkExampleEvent };

/** The `user.created` example of Clerk's webhook docs. */
export const USER_CREATED: ClerkExampleEvent = {
  data: {
    birthday: "",
    created_at: 1654012591514,
    email_addresses: [
      {
        email_address: "example@example.org",
        id: "idn_29w83yL7CwVlJXylYLxcslromF1",
        linked_to: [],
        object: "email_address",
        verification: {
          status: "verified",
          strategy: "ticket",
        },
      },
    ],
    external_accounts: [],
    external_id: "567772",
    first_name: "Example",
    gender: "",
    id: "user_29w83sxmDNGwOuEthce5gg56FcC",
    image_url: "https://img.clerk.com/xxxxxx",
    last_name: "Example",
    last_sign_in_at: 1654012591514,
    object: "user",
    password_enabled: true,
    phone_numbers: [],
    primary_email_address_id: "idn_29w83yL7CwVlJXylYLxcslromF1",
    primary_phone_number_id: null,
    primary_web3_wallet_id: null,
    private_metadata: {},
    profile_image_url: "https://www.gravatar.com/avatar?d=mp",
    public_metadata: {},
    two_factor_enabled: false,
    unsafe_metadata: {},
    updated_at: 1654012591835,
    username: null,
    web3_wallets: [],
  },
  instance_id: "ins_123",
  object: "event",
  timestamp: 1654012591835,
  type: "user.created",
};

/** The `user.updated` example of Clerk's OpenAPI spec (webhooks/2025-04-15.yml). */
export const USER_UPDATED: ClerkExampleEvent = {
  event_attributes: {
    http_request: {
      client_ip: "192.168.1.100",
      user_agent:
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36",
    },
  },
  object: "event",
  type: "user.updated",
  instance_id: "ins_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
  timestamp: 1716883200,
  data: {
    object: "user",
    id: "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
    external_id: null,
    primary_email_address_id: "idn_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
    primary_phone_number_id: null,
    primary_web3_wallet_id: null,
    username: "johndoe",
    first_name: "John",
    last_name: "Doe Updated",
    profile_image_url: "https://img.clerk.com/yyyyy",
    image_url: "https://img.clerk.com/yyyyy",
    has_image: true,
    public_metadata: {
      department: "engineering",
    },
    private_metadata: null,
    unsafe_metadata: {},
    email_addresses: [],
    phone_numbers: [],
    web3_wallets: [],
    passkeys: [],
    password_enabled: true,
    two_factor_enabled: true,
    totp_enabled: true,
    backup_code_enabled: false,
    mfa_enabled_at: 1716883200000,
    mfa_disabled_at: null,
    external_accounts: [],
    saml_accounts: [],
    enterprise_accounts: [],
    last_sign_in_at: 1716883400000,
    banned: false,
    locked: false,
    lockout_expires_in_seconds: null,
    verification_attempts_remaining: null,
    updated_at: 1716883500000,
    created_at: 1716883200000,
    delete_self_enabled: true,
    create_organization_enabled: true,
    create_organizations_limit: null,
    last_active_at: 1716883500000,
    legal_accepted_at: 1716883200000,
  },
};

/** The `user.deleted` example of Clerk's event catalog. */
export const USER_DELETED: ClerkExampleEvent = {
  data: {
    deleted: true,
    id: "user_29wBMCtzATuFJut8jO2VNTVekS4",
    object: "user",
  },
  event_attributes: {
    http_request: {
      client_ip: "0.0.0.0",
      user_agent:
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36",
    },
  },
  object: "event",
  timestamp: 1661861640000,
  type: "user.deleted",
};

/**
 * The example for each event type this package writes. Shared constants: clone before changing one.
 *
 * @example
 * ```ts
 * const event = structuredClone(EXAMPLES["user.created"]);
 * ```
 */
export const EXAMPLES = {
  "user.created": USER_CREATED,
  "user.updated": USER_UPDATED,
  "user.deleted": USER_DELETED,
  ...ORGANIZATION_EXAMPLES,
  ...BILLING_EXAMPLES,
} as const;

/** The event types `trigger` can send. */
export type ExampleType = keyof typeof EXAMPLES;
