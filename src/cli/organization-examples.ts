/** A Clerk webhook event as Clerk sends it. */
export interface ClerkExampleEvent {
  type: string;
  object: "event";
  timestamp: number;
  data: Record<string, unknown>;
  [field: string]: unknown;
}

/**
 * Clerk's published example events for organizations and memberships, copied verbatim from its OpenAPI webhook
 * spec (`webhooks/2025-04-15.yml`); a test compares them with the fixtures they came from.
 */

/** The `organization.created` example of Clerk's OpenAPI webhook spec. */
export const ORGANIZATION_CREATED: ClerkExampleEvent = {
  event_attributes: {
    http_request: {
      client_ip: "192.168.1.100",
      user_agent:
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36",
    },
  },
  object: "event",
  type: "organization.created",
  instance_id: "ins_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
  timestamp: 1716883200,
  data: {
    object: "organization",
    id: "org_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
    name: "Acme Corp",
    slug: "acme-corp",
    image_url: "https://img.clerk.com/xxxxxx",
    has_image: true,
    members_count: 1,
    missing_member_with_elevated_permissions: false,
    pending_invitations_count: 0,
    max_allowed_memberships: 5,
    admin_delete_enabled: true,
    public_metadata: {},
    private_metadata: {},
    created_by: "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
    created_at: 1716883200000,
    updated_at: 1716883200000,
  },
};

/** The `organization.updated` example of Clerk's OpenAPI webhook spec. */
export const ORGANIZATION_UPDATED: ClerkExampleEvent = {
  event_attributes: {
    http_request: {
      client_ip: "192.168.1.100",
      user_agent:
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36",
    },
  },
  object: "event",
  type: "organization.updated",
  instance_id: "ins_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
  timestamp: 1716883200,
  data: {
    object: "organization",
    id: "org_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
    name: "Acme Corp Updated",
    slug: "acme-corp-updated",
    image_url: "https://img.clerk.com/yyyyyy",
    has_image: true,
    members_count: 3,
    missing_member_with_elevated_permissions: false,
    pending_invitations_count: 1,
    max_allowed_memberships: 10,
    admin_delete_enabled: true,
    public_metadata: {
      department: "engineering",
    },
    private_metadata: {
      internal_id: "ORG-123",
    },
    created_by: "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
    created_at: 1716883200000,
    updated_at: 1716883500000,
  },
};

/** The `organization.deleted` example of Clerk's OpenAPI webhook spec. */
export const ORGANIZATION_DELETED: ClerkExampleEvent = {
  event_attributes: {
    http_request: {
      client_ip: "192.168.1.100",
      user_agent:
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36",
    },
  },
  object: "event",
  type: "organization.deleted",
  instance_id: "ins_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
  timestamp: 1716883200,
  data: {
    object: "organization",
    id: "org_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
    slug: "acme-corp",
    deleted: true,
  },
};

/** The `organizationMembership.created` example of Clerk's OpenAPI webhook spec. */
export const MEMBERSHIP_CREATED: ClerkExampleEvent = {
  event_attributes: {
    http_request: {
      client_ip: "192.168.1.100",
      user_agent:
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36",
    },
  },
  object: "event",
  type: "organizationMembership.created",
  instance_id: "ins_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
  timestamp: 1716883200,
  data: {
    object: "organization_membership",
    id: "orgmem_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
    role: "org:member",
    role_name: "Member",
    permissions: ["org:posts:read", "org:posts:write"],
    public_metadata: {},
    private_metadata: {},
    organization: {
      object: "organization",
      id: "org_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
      name: "Acme Corp",
      slug: "acme-corp",
      image_url: "https://img.clerk.com/xxxxxx",
      has_image: true,
      members_count: 2,
      missing_member_with_elevated_permissions: false,
      pending_invitations_count: 0,
      max_allowed_memberships: 5,
      admin_delete_enabled: true,
      public_metadata: {},
      private_metadata: {},
      created_by: "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
      created_at: 1716883200000,
      updated_at: 1716883200000,
    },
    public_user_data: {
      user_id: "user_2h8op3Isl1QR7tKu5FGNfaLKEoU",
      first_name: "Jane",
      last_name: "Doe",
      profile_image_url: "https://img.clerk.com/yyyyy",
      image_url: "https://img.clerk.com/yyyyy",
      has_image: true,
      identifier: "jane.doe@acme.com",
    },
    created_at: 1716883200000,
    updated_at: 1716883200000,
  },
};

/** The `organizationMembership.updated` example of Clerk's OpenAPI webhook spec. */
export const MEMBERSHIP_UPDATED: ClerkExampleEvent = {
  event_attributes: {
    http_request: {
      client_ip: "192.168.1.100",
      user_agent:
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36",
    },
  },
  object: "event",
  type: "organizationMembership.updated",
  instance_id: "ins_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
  timestamp: 1716883200,
  data: {
    object: "organization_membership",
    id: "orgmem_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
    role: "org:admin",
    role_name: "Admin",
    permissions: ["org:posts:read", "org:posts:write", "org:posts:delete", "org:members:manage"],
    public_metadata: {},
    private_metadata: {},
    organization: {
      object: "organization",
      id: "org_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
      name: "Acme Corp",
      slug: "acme-corp",
      image_url: "https://img.clerk.com/xxxxxx",
      has_image: true,
      members_count: 2,
      missing_member_with_elevated_permissions: false,
      pending_invitations_count: 0,
      max_allowed_memberships: 5,
      admin_delete_enabled: true,
      public_metadata: {},
      private_metadata: {},
      created_by: "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
      created_at: 1716883200000,
      updated_at: 1716883500000,
    },
    public_user_data: {
      user_id: "user_2h8op3Isl1QR7tKu5FGNfaLKEoU",
      first_name: "Jane",
      last_name: "Doe",
      profile_image_url: "https://img.clerk.com/yyyyy",
      image_url: "https://img.clerk.com/yyyyy",
      has_image: true,
      identifier: "jane.doe@acme.com",
    },
    created_at: 1716883200000,
    updated_at: 1716883500000,
  },
};

/** The `organizationMembership.deleted` example of Clerk's OpenAPI webhook spec. */
export const MEMBERSHIP_DELETED: ClerkExampleEvent = {
  event_attributes: {
    http_request: {
      client_ip: "192.168.1.100",
      user_agent:
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36",
    },
  },
  object: "event",
  type: "organizationMembership.deleted",
  instance_id: "ins_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
  timestamp: 1716883200,
  data: {
    object: "organization_membership",
    id: "orgmem_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
    role: "org:member",
    role_name: "Member",
    permissions: ["org:posts:read", "org:posts:write"],
    public_metadata: {},
    private_metadata: {},
    organization: {
      object: "organization",
      id: "org_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
      name: "Acme Corp",
      slug: "acme-corp",
      image_url: "https://img.clerk.com/xxxxxx",
      has_image: true,
      members_count: 1,
      missing_member_with_elevated_permissions: false,
      pending_invitations_count: 0,
      max_allowed_memberships: 5,
      admin_delete_enabled: true,
      public_metadata: {},
      private_metadata: {},
      created_by: "user_2g7np7Hrk0SN6kj5EDMLDaKNL0S",
      created_at: 1716883200000,
      updated_at: 1716883200000,
    },
    public_user_data: {
      user_id: "user_2h8op3Isl1QR7tKu5FGNfaLKEoU",
      first_name: "Jane",
      last_name: "Doe",
      profile_image_url: "https://img.clerk.com/yyyyy",
      image_url: "https://img.clerk.com/yyyyy",
      has_image: true,
      identifier: "jane.doe@acme.com",
    },
    created_at: 1716883200000,
    updated_at: 1716883200000,
  },
};

/** The example for each organization and membership event type. */
export const ORGANIZATION_EXAMPLES = {
  "organization.created": ORGANIZATION_CREATED,
  "organization.updated": ORGANIZATION_UPDATED,
  "organization.deleted": ORGANIZATION_DELETED,
  "organizationMembership.created": MEMBERSHIP_CREATED,
  "organizationMembership.updated": MEMBERSHIP_UPDATED,
  "organizationMembership.deleted": MEMBERSHIP_DELETED,
} as const;
