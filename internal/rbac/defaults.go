package rbac

// Permissions of the default roles (SPEC Appendix A). Each role inherits the
// one before it.
const (
	PermDocumentsRead    = "documents:read"
	PermReviewsRead      = "reviews:read"
	PermReviewsWrite     = "reviews:write"
	PermReviewsApprove   = "reviews:approve"
	PermReviewsAssign    = "reviews:assign"
	PermReviewsOverride  = "reviews:override"
	PermUsersRead        = "users:read"
	PermAuditRead        = "audit:read"
	PermUsersManage      = "users:manage"
	PermRolesManage      = "roles:manage"
	PermKeysManage       = "keys:manage"
	PermClientsManage    = "clients:manage"
	PermProvidersManage  = "providers:manage"
	PermSettingsManage   = "settings:manage"
	PermTokensIntrospect = "tokens:introspect"
)

// Names of the default roles and groups.
const (
	RoleViewer       = "viewer"
	RoleReviewer     = "reviewer"
	RoleLeadReviewer = "lead_reviewer"
	RoleAdmin        = "admin"
	GroupAdmin       = "admin"
	GroupUser        = "user"
)

// DefaultRoles returns the default role hierarchy viewer < reviewer <
// lead_reviewer < admin.
func DefaultRoles() []Role {
	return []Role{
		{Name: RoleViewer, Description: "Reads documents and reviews", BuiltIn: true,
			Permissions: []string{PermDocumentsRead, PermReviewsRead}},
		{Name: RoleReviewer, Description: "Writes and approves reviews", BuiltIn: true, Inherits: []string{RoleViewer},
			Permissions: []string{PermReviewsWrite, PermReviewsApprove}},
		{Name: RoleLeadReviewer, Description: "Assigns and overrides reviews, reads users and the audit log", BuiltIn: true, Inherits: []string{RoleReviewer},
			Permissions: []string{PermReviewsAssign, PermReviewsOverride, PermUsersRead, PermAuditRead}},
		{Name: RoleAdmin, Description: "Manages Gatehouse", BuiltIn: true, Inherits: []string{RoleLeadReviewer},
			Permissions: []string{PermUsersManage, PermRolesManage, PermKeysManage, PermClientsManage,
				PermProvidersManage, PermSettingsManage, PermTokensIntrospect}},
	}
}

// DefaultGroups returns the default groups: admin → admin, user → viewer.
func DefaultGroups() []Group {
	return []Group{
		{Name: GroupAdmin, Description: "Administrators", Roles: []string{RoleAdmin}, BuiltIn: true},
		{Name: GroupUser, Description: "Everyone", Roles: []string{RoleViewer}, BuiltIn: true},
	}
}
